/* One recording function per kernel. Each mirrors its shader's push-constant
 * block in a struct whose size is checked at compile time, fills the
 * bindings in the shader's order (binding 0 is always the step) and sizes
 * the dispatch for the recorded batch. */
#include <math.h>

#include "ops/ops.h"

#define MAX_WORKGROUP 128u

static uint32_t floor_pow2(uint32_t v)
{
    uint32_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

void vkl_ops_init(vkl_ops *ops, vkl_recorder *rec, const vkl_buffer_view *step, uint32_t batch)
{
    const vkllm_device_info *info = rec->dev->info;
    uint32_t limit = info->max_workgroup_invocations;
    if (info->max_workgroup_size[0] < limit)
        limit = info->max_workgroup_size[0];
    /* reduce.glsl keeps one float per invocation in shared memory. */
    if (info->max_shared_memory / 4 < limit)
        limit = info->max_shared_memory / 4;

    *ops = (vkl_ops){.rec = rec, .step = *step, .batch = batch};
    ops->wg = floor_pow2(limit < MAX_WORKGROUP ? limit : MAX_WORKGROUP);
    /* A CPU device runs a workgroup's invocations a subgroup at a time and
     * pays for every barrier in between: there, a row-reducing workgroup is
     * one subgroup. A GPU hides those barriers and wants wider groups. */
    ops->row_wg = ops->wg;
    if (info->type == VKLLM_DEVICE_CPU && info->subgroup_size > 0 && info->subgroup_size < ops->wg)
        ops->row_wg = floor_pow2(info->subgroup_size);
    /* matmul: TILE^2 invocations and two TILE x (TILE + 1) float tiles. */
    ops->tile = 16;
    while (ops->tile > 1 && (ops->tile * ops->tile > info->max_workgroup_invocations ||
                             ops->tile > info->max_workgroup_size[1] ||
                             2 * ops->tile * (ops->tile + 1) * 4 > info->max_shared_memory))
        ops->tile /= 2;
}

static uint32_t div_up(uint64_t a, uint32_t b)
{
    return (uint32_t)((a + b - 1) / b);
}

/* A dispatch of one-dimensional kernels: `workgroups` groups of wg. */
static void dispatch_1d(vkl_ops *ops, vkl_shader_id shader, uint32_t wg,
                        const vkl_buffer_view *bindings, uint32_t binding_count,
                        const void *push, uint32_t push_size, uint32_t workgroups)
{
    vkl_dispatch d = {
        .shader = shader,
        .spec = {wg},
        .spec_count = 1,
        .bindings = {ops->step},
        .binding_count = binding_count + 1,
        .push = push,
        .push_size = push_size,
    };
    for (uint32_t i = 0; i < binding_count; i++)
        d.bindings[i + 1] = bindings[i];
    vkl_groups_2d(ops->rec->dev, workgroups, d.groups);
    vkl_record_dispatch(ops->rec, &d);
}

typedef struct embed_push {
    uint32_t dim, row0, rows;
} embed_push;
_Static_assert(sizeof(embed_push) == 12, "embed push constants");

void vkl_op_embed(vkl_ops *ops, const vkl_tensor *table, const vkl_buffer_view *tokens,
                  const vkl_buffer_view *x)
{
    vkl_shader_id shader = table->type == VKL_DTYPE_F16 ? VKL_SHADER_EMBED_F16
                                                        : VKL_SHADER_EMBED_F32;
    for (uint32_t i = 0; i < table->piece_count; i++) {
        const vkl_tensor_piece *piece = &table->pieces[i];
        embed_push push = {table->cols, piece->row0, piece->rows};
        vkl_buffer_view bindings[] = {piece->view, *tokens, *x};
        dispatch_1d(ops, shader, ops->wg, bindings, 3, &push, sizeof push,
                    div_up((uint64_t)ops->batch * table->cols, ops->wg));
    }
}

typedef struct matvec_push {
    uint32_t K, N, y_offset, x_last_row;
} matvec_push;
_Static_assert(sizeof(matvec_push) == 16, "matvec push constants");

void vkl_op_matvec(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y, bool last_row)
{
    vkl_shader_id shader = w->type == VKL_DTYPE_F16 ? VKL_SHADER_MATVEC_F16
                                                    : VKL_SHADER_MATVEC_F32;
    for (uint32_t i = 0; i < w->piece_count; i++) {
        const vkl_tensor_piece *piece = &w->pieces[i];
        matvec_push push = {w->cols, piece->rows, piece->row0, last_row};
        vkl_buffer_view bindings[] = {piece->view, *x, *y};
        dispatch_1d(ops, shader, ops->row_wg, bindings, 3, &push, sizeof push, piece->rows);
    }
}

typedef struct matmul_push {
    uint32_t K, N, y_stride, col0;
} matmul_push;
_Static_assert(sizeof(matmul_push) == 16, "matmul push constants");

void vkl_op_matmul(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y)
{
    vkl_shader_id shader = w->type == VKL_DTYPE_F16 ? VKL_SHADER_MATMUL_F16
                                                    : VKL_SHADER_MATMUL_F32;
    for (uint32_t i = 0; i < w->piece_count; i++) {
        const vkl_tensor_piece *piece = &w->pieces[i];
        matmul_push push = {w->cols, piece->rows, w->rows, piece->row0};
        vkl_dispatch d = {
            .shader = shader,
            .spec = {ops->tile, ops->tile},
            .spec_count = 2,
            .bindings = {ops->step, piece->view, *x, *y},
            .binding_count = 4,
            .push = &push,
            .push_size = sizeof push,
            .groups = {div_up(piece->rows, ops->tile), div_up(ops->batch, ops->tile), 1},
        };
        vkl_record_dispatch(ops->rec, &d);
    }
}

typedef struct rmsnorm_push {
    uint32_t n;
    float eps;
} rmsnorm_push;
_Static_assert(sizeof(rmsnorm_push) == 8, "rmsnorm push constants");

void vkl_op_rmsnorm(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *weight,
                    const vkl_buffer_view *y, uint32_t n, float eps)
{
    rmsnorm_push push = {n, eps};
    vkl_buffer_view bindings[] = {*x, *weight, *y};
    dispatch_1d(ops, VKL_SHADER_RMSNORM, ops->row_wg, bindings, 3, &push, sizeof push,
                ops->batch);
}

void vkl_rope_table_fill(float *table, uint32_t positions, uint32_t head_size, float theta)
{
    uint32_t pairs = head_size / 2;
    for (uint32_t pos = 0; pos < positions; pos++) {
        for (uint32_t i = 0; i < pairs; i++) {
            double angle = pos * pow(theta, -2.0 * i / head_size);
            table[2 * ((size_t)pos * pairs + i)] = (float)cos(angle);
            table[2 * ((size_t)pos * pairs + i) + 1] = (float)sin(angle);
        }
    }
}

typedef struct rope_push {
    uint32_t n_heads, head_size, dst_at_position;
} rope_push;
_Static_assert(sizeof(rope_push) == 12, "rope push constants");

void vkl_op_rope(vkl_ops *ops, const vkl_buffer_view *table, const vkl_buffer_view *src,
                 const vkl_buffer_view *dst, uint32_t n_heads, uint32_t head_size,
                 bool at_position)
{
    rope_push push = {n_heads, head_size, at_position};
    vkl_buffer_view bindings[] = {*table, *src, *dst};
    uint64_t pairs = (uint64_t)ops->batch * n_heads * head_size / 2;
    dispatch_1d(ops, VKL_SHADER_ROPE, ops->wg, bindings, 3, &push, sizeof push,
                div_up(pairs, ops->wg));
}

typedef struct softmax_push {
    uint32_t cols, rows_per_token, causal;
} softmax_push;
_Static_assert(sizeof(softmax_push) == 12, "softmax push constants");

void vkl_op_softmax(vkl_ops *ops, const vkl_buffer_view *x, uint32_t cols,
                    uint32_t rows_per_token, bool causal)
{
    softmax_push push = {cols, rows_per_token, causal};
    dispatch_1d(ops, VKL_SHADER_SOFTMAX, ops->row_wg, x, 1, &push, sizeof push,
                ops->batch * rows_per_token);
}

typedef struct attn_scores_push {
    uint32_t n_heads, n_kv_heads, head_size, context;
    float scale;
} attn_scores_push;
_Static_assert(sizeof(attn_scores_push) == 20, "attn_scores push constants");

/* Attention kernels run one workgroup per (head, token). */
static void dispatch_heads(vkl_ops *ops, vkl_shader_id shader, const vkl_attention_shape *shape,
                           const vkl_buffer_view *a, const vkl_buffer_view *b,
                           const vkl_buffer_view *c, const void *push, uint32_t push_size)
{
    vkl_dispatch d = {
        .shader = shader,
        .spec = {ops->row_wg},
        .spec_count = 1,
        .bindings = {ops->step, *a, *b, *c},
        .binding_count = 4,
        .push = push,
        .push_size = push_size,
        .groups = {shape->n_heads, ops->batch, 1},
    };
    vkl_record_dispatch(ops->rec, &d);
}

void vkl_op_attn_scores(vkl_ops *ops, const vkl_attention_shape *shape,
                        const vkl_buffer_view *q, const vkl_buffer_view *k_cache,
                        const vkl_buffer_view *att)
{
    attn_scores_push push = {shape->n_heads, shape->n_kv_heads, shape->head_size,
                             shape->context, 1.0f / sqrtf((float)shape->head_size)};
    dispatch_heads(ops, VKL_SHADER_ATTN_SCORES, shape, q, k_cache, att, &push, sizeof push);
}

typedef struct attn_values_push {
    uint32_t n_heads, n_kv_heads, head_size, context;
} attn_values_push;
_Static_assert(sizeof(attn_values_push) == 16, "attn_values push constants");

void vkl_op_attn_values(vkl_ops *ops, const vkl_attention_shape *shape,
                        const vkl_buffer_view *att, const vkl_buffer_view *v_cache,
                        const vkl_buffer_view *out)
{
    attn_values_push push = {shape->n_heads, shape->n_kv_heads, shape->head_size,
                             shape->context};
    dispatch_heads(ops, VKL_SHADER_ATTN_VALUES, shape, att, v_cache, out, &push, sizeof push);
}

typedef struct elementwise_push {
    uint32_t n;
} elementwise_push;

void vkl_op_swiglu(vkl_ops *ops, const vkl_buffer_view *gate, const vkl_buffer_view *up,
                   const vkl_buffer_view *out, uint32_t n)
{
    elementwise_push push = {n};
    vkl_buffer_view bindings[] = {*gate, *up, *out};
    dispatch_1d(ops, VKL_SHADER_SWIGLU, ops->wg, bindings, 3, &push, sizeof push,
                div_up((uint64_t)ops->batch * n, ops->wg));
}

void vkl_op_add(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *y, uint32_t n)
{
    elementwise_push push = {n};
    vkl_buffer_view bindings[] = {*x, *y};
    dispatch_1d(ops, VKL_SHADER_ADD, ops->wg, bindings, 2, &push, sizeof push,
                div_up((uint64_t)ops->batch * n, ops->wg));
}

void vkl_op_copy_rows(vkl_ops *ops, const vkl_buffer_view *src, const vkl_buffer_view *dst,
                      uint32_t n)
{
    elementwise_push push = {n};
    vkl_buffer_view bindings[] = {*src, *dst};
    dispatch_1d(ops, VKL_SHADER_COPY_ROWS, ops->wg, bindings, 2, &push, sizeof push,
                div_up((uint64_t)ops->batch * n, ops->wg));
}
