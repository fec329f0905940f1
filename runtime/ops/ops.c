/* One recording function per kernel. Each mirrors its shader's push-constant
 * block in a struct whose size is checked at compile time, fills the
 * bindings in the shader's order (binding 0 is always the step) and sizes
 * the dispatch for the recorded batch. */
#include <math.h>
#include <string.h>

#include "ops/lanes.h"
#include "ops/ops.h"

#define MAX_WORKGROUP 128u

static uint32_t floor_pow2(uint32_t v)
{
    uint32_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

/* matmul.comp's workgroup is WG_X x WG_Y invocations of 4 x 4 sums, staging
 * BK columns of 4 WG_X weight rows and 4 WG_Y tokens as floats. From 16 x 16
 * and BK 16 (8 KiB of shared memory), the sizes halve until the device's
 * limits allow them; every device allows 8 x 8 and BK 4. */
static uint32_t matmul_shared_bytes(const uint32_t wg[2], uint32_t bk)
{
    return bk * (4 * wg[0] + 1 + 4 * wg[1] + 1) * 4;
}

static bool matmul_shape_fits(const uint32_t wg[2], uint32_t bk, const vkllm_device_info *info)
{
    return wg[0] * wg[1] <= info->max_workgroup_invocations &&
           wg[0] <= info->max_workgroup_size[0] && wg[1] <= info->max_workgroup_size[1] &&
           matmul_shared_bytes(wg, bk) <= info->max_shared_memory;
}

static void choose_matmul_shape(vkl_ops *ops, const vkllm_device_info *info)
{
    uint32_t wg[2] = {16, 16}, bk = 16;
    while (!matmul_shape_fits(wg, bk, info) && (wg[0] > 1 || bk > 4)) {
        if (matmul_shared_bytes(wg, bk) > info->max_shared_memory && bk > 4)
            bk /= 2;
        else if (wg[1] >= wg[0] && wg[1] > 1)
            wg[1] /= 2;
        else
            wg[0] /= 2;
    }
    ops->matmul_wg[0] = wg[0];
    ops->matmul_wg[1] = wg[1];
    ops->matmul_bk = bk;
}

void vkl_ops_init(vkl_ops *ops, vkl_recorder *rec, const vkl_buffer_view *step, uint32_t batch)
{
    const vkllm_device_info *info = rec->dev->info;
    bool cpu = rec->dev->cpu_kernels;
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
    if (cpu && info->subgroup_size > 0 && info->subgroup_size < ops->wg)
        ops->row_wg = floor_pow2(info->subgroup_size);
    /* On a CPU device the matrix-vector product gives each lane a whole row,
     * four subgroups' worth of rows to a workgroup. */
    uint32_t four_subgroups = ops->row_wg * 4 < ops->wg ? ops->row_wg * 4 : ops->wg;
    if (cpu)
        ops->rows_per_workgroup = four_subgroups;
    /* matmul_lanes, as measured on lavapipe: for one token of block-type
     * weights eight rows a lane, so that one X fetch serves eight rows (a
     * quarter faster than four on Llama 110M); float weights, two to four
     * times the bytes a weight, stream faster with four (TinyLlama F16 tg
     * 4.9 -> 6.9 tokens/s, Llama 110M F32 25 -> 30, BF16 39 -> 41). For
     * many tokens, four rows and four tokens, whose sixteen sums stay in
     * registers. */
    ops->lanes_wg = four_subgroups;
    ops->lanes_rows[0] = 8;
    ops->lanes_tokens[0] = 1;
    ops->lanes_rows[1] = 4;
    ops->lanes_tokens[1] = 4;
    ops->lanes_float_rows = 4;
    ops->texel_reads = vkl_ops_matrix_layout(rec->dev) == VKL_LAYOUT_LANES;
    ops->wide_attention = !cpu;
    ops->subgroup_reduce = info->subgroup_arithmetic;
    choose_matmul_shape(ops, info);

    /* Four subgroups share a block of the cooperative-matrix product; the
     * shader divides the tiles among however many subgroups there are. */
    ops->coopmat = info->coopmat;
    memcpy(ops->coopmat_tile, info->coopmat_tile, sizeof ops->coopmat_tile);
    ops->coopmat_wg = info->subgroup_size * 4;
    while (ops->coopmat_wg > info->subgroup_size &&
           (ops->coopmat_wg > info->max_workgroup_invocations ||
            ops->coopmat_wg > info->max_workgroup_size[0]))
        ops->coopmat_wg /= 2;
    if (ops->coopmat_wg == 0)
        ops->coopmat = VKLLM_COOPMAT_NONE;
}

vkl_weight_layout vkl_ops_matrix_layout(const vkl_gpu_device *dev)
{
    /* X of a prompt batch is viewed as texels too: [512, 14336] floats is
     * under 2^21 texels, far below what CPU drivers allow (2^27 on lavapipe). */
    bool texels_suffice = dev->info->max_texel_buffer_elements >= (1u << 24);
    return dev->cpu_kernels && texels_suffice ? VKL_LAYOUT_LANES : VKL_LAYOUT_BLOCKS;
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

/* The kernels that read a weight matrix, by its storage type. */
typedef struct weight_kernels {
    vkl_dtype type;
    vkl_shader_id matvec;
    vkl_shader_id matvec_subgroup;
    vkl_shader_id matvec_rows;
    vkl_shader_id matmul;
    vkl_shader_id matmul_coopmat;   /* VK_KHR_cooperative_matrix; VKL_SHADER_COUNT: none */
    vkl_shader_id matmul_coopmat_nv;    /* VK_NV_cooperative_matrix; likewise */
    vkl_shader_id matmul_rows;
    vkl_shader_id matmul_lanes;
    vkl_shader_id embed;
    vkl_shader_id add_positions;
} weight_kernels;

/* cmake/shaders.cmake names each variant <kernel>_<type>. The cooperative-
 * matrix kernel stages weights as F16, so it serves only the types whose
 * dequantized values F16 holds without overflow (not F32 or BF16); its KHR
 * form exists only in builds whose shader compiler could make it. */
#define WEIGHT_KERNELS(T, KHR, NV)                                                           \
    {VKL_DTYPE_##T, VKL_SHADER_MATVEC_##T, VKL_SHADER_MATVEC_SUBGROUP_##T,                   \
     VKL_SHADER_MATVEC_ROWS_##T, VKL_SHADER_MATMUL_##T, KHR, NV, VKL_SHADER_MATMUL_ROWS_##T, \
     VKL_SHADER_MATMUL_LANES_##T, VKL_SHADER_EMBED_##T, VKL_SHADER_ADD_POSITIONS_##T}
#define NO_KERNEL VKL_SHADER_COUNT
#if VKLLM_HAVE_COOPMAT
#define COOPMAT_KHR(T) VKL_SHADER_MATMUL_COOPMAT_##T
#else
#define COOPMAT_KHR(T) NO_KERNEL
#endif

static const weight_kernels weight_kernel_table[] = {
    WEIGHT_KERNELS(F32, NO_KERNEL, NO_KERNEL),
    WEIGHT_KERNELS(F16, COOPMAT_KHR(F16), VKL_SHADER_MATMUL_COOPMAT_NV_F16),
    WEIGHT_KERNELS(BF16, NO_KERNEL, NO_KERNEL),
    WEIGHT_KERNELS(Q8_0, COOPMAT_KHR(Q8_0), VKL_SHADER_MATMUL_COOPMAT_NV_Q8_0),
    WEIGHT_KERNELS(Q4_0, COOPMAT_KHR(Q4_0), VKL_SHADER_MATMUL_COOPMAT_NV_Q4_0),
    WEIGHT_KERNELS(Q4_K, COOPMAT_KHR(Q4_K), VKL_SHADER_MATMUL_COOPMAT_NV_Q4_K),
    WEIGHT_KERNELS(Q6_K, COOPMAT_KHR(Q6_K), VKL_SHADER_MATMUL_COOPMAT_NV_Q6_K),
};

/* The kernels for a tensor's type, or NULL after failing the recording:
 * only a tensor that bypassed vkl_tensor_upload can have another type. */
static const weight_kernels *kernels_for(vkl_ops *ops, const vkl_tensor *w)
{
    size_t count = sizeof weight_kernel_table / sizeof *weight_kernel_table;
    for (size_t i = 0; i < count; i++) {
        if (weight_kernel_table[i].type == w->type)
            return &weight_kernel_table[i];
    }
    if (ops->rec->status == VKLLM_OK)
        ops->rec->status = vkl_fail(ops->rec->err, VKLLM_ERROR_UNSUPPORTED,
                                    "no kernels read %s weights", vkl_dtype_name(w->type));
    return NULL;
}

typedef struct table_push {
    uint32_t dim, row0, rows;
} table_push;
_Static_assert(sizeof(table_push) == 12, "embed and add_positions push constants");

/* One dispatch per piece of a table whose rows are picked per token (embed,
 * add_positions): the piece is binding 1, then the others. */
static void record_table_rows(vkl_ops *ops, vkl_shader_id shader, const vkl_tensor *table,
                              const vkl_buffer_view *others, uint32_t other_count)
{
    vkl_buffer_view bindings[VKL_MAX_BINDINGS - 1];
    for (uint32_t i = 0; i < other_count; i++)
        bindings[i + 1] = others[i];

    for (uint32_t i = 0; i < table->piece_count; i++) {
        const vkl_tensor_piece *piece = &table->pieces[i];
        table_push push = {table->cols, piece->row0, piece->rows};
        bindings[0] = piece->view;
        dispatch_1d(ops, shader, ops->wg, bindings, other_count + 1, &push, sizeof push,
                    div_up((uint64_t)ops->batch * table->cols, ops->wg));
    }
}

void vkl_op_embed(vkl_ops *ops, const vkl_tensor *table, const vkl_buffer_view *tokens,
                  const vkl_buffer_view *x)
{
    const weight_kernels *kernels = kernels_for(ops, table);
    if (kernels == NULL)
        return;
    vkl_buffer_view others[] = {*tokens, *x};
    record_table_rows(ops, kernels->embed, table, others, 2);
}

void vkl_op_add_positions(vkl_ops *ops, const vkl_tensor *table, const vkl_buffer_view *x)
{
    const weight_kernels *kernels = kernels_for(ops, table);
    if (kernels == NULL)
        return;
    record_table_rows(ops, kernels->add_positions, table, x, 1);
}

/* Matrix products take plain matrices: a paired one (gate and up) is read
 * only by vkl_op_swiglu_product. */
static bool product_kernels(vkl_ops *ops, const vkl_tensor *w, const weight_kernels **out)
{
    *out = kernels_for(ops, w);
    if (*out != NULL && w->paired) {
        if (ops->rec->status == VKLLM_OK)
            ops->rec->status = vkl_fail(ops->rec->err, VKLLM_ERROR_INVALID_ARGUMENT,
                                        "a paired gate and up matrix is read only by the "
                                        "SwiGLU product");
        *out = NULL;
    }
    return *out != NULL;
}

/* lavapipe (llvmpipe) ends every loop of an invocation, silently, once all
 * their iterations together reach 65535, its guard against endless loops.
 * The CPU-device products walk a prompt's tokens in a loop, so they take
 * the tokens in slices, one layer of workgroups (z) each, small enough that
 * an invocation stays under half of that. */
#define LOOP_ITERATION_BUDGET 32768u
#define LOOP_ITERATION_CAP 65535u

/* The longest rows the row kernels (matvec_rows, matmul_rows) take. Their
 * loops cost lavapipe more iterations than they appear to: the one-token
 * kernel failed from F32 rows of 49152 weights, and a prompt's pass walks
 * each row nine times. They serve only matrices without a lanes form (F32,
 * F16 or BF16 rows not a multiple of 4 long), which models never have this
 * long. */
#define ROW_KERNEL_MAX_COLS 16384u

/* A row too long to walk in one pass under the cap would silently give
 * wrong sums, so it is refused while the step is recorded. */
static bool refuse_long_rows(vkl_ops *ops, uint32_t cols)
{
    if (ops->rec->status == VKLLM_OK)
        ops->rec->status = vkl_fail(ops->rec->err, VKLLM_ERROR_UNSUPPORTED,
                                    "rows of %u weights are too long for this device's "
                                    "kernels: lavapipe ends an invocation's loops after "
                                    "%u iterations", cols, LOOP_ITERATION_CAP);
    return false;
}

/* matmul_lanes' passes: its loops are counted exactly (the near-cap test). */
static bool lanes_pass_fits(vkl_ops *ops, uint64_t pass_iterations, uint32_t cols)
{
    return pass_iterations <= LOOP_ITERATION_CAP || refuse_long_rows(ops, cols);
}

static bool row_kernel_fits(vkl_ops *ops, uint32_t cols)
{
    return cols <= ROW_KERNEL_MAX_COLS || refuse_long_rows(ops, cols);
}

/* Tokens a slice may hold when an invocation loops once per pass of
 * tokens_per_pass tokens at a cost of pass_iterations iterations. */
static uint32_t token_slice(const vkl_ops *ops, uint32_t tokens_per_pass,
                            uint64_t pass_iterations)
{
    uint64_t passes = LOOP_ITERATION_BUDGET / pass_iterations;
    uint64_t slice = (passes > 0 ? passes : 1) * tokens_per_pass;
    return slice < ops->batch ? (uint32_t)slice : ops->batch;
}

typedef struct lanes_push {
    uint32_t K, N, y_stride, col0, last_only, add, glu, token_slice;
} lanes_push;
_Static_assert(sizeof(lanes_push) == 32, "matmul_lanes push constants");

/* Weight rows a matmul_lanes invocation takes for a matrix of this type:
 * float weights are the types stored a weight to a block. */
static uint32_t lanes_rows(const vkl_ops *ops, vkl_dtype type, bool many)
{
    uint32_t block_weights, block_bytes;
    bool float_weights = vkl_dtype_layout(type, &block_weights, &block_bytes) &&
                         block_weights == 1;
    return !many && float_weights ? ops->lanes_float_rows : ops->lanes_rows[many];
}

/* A lanes-layout matrix times X's rows (many) or its last or only row; a
 * paired matrix (gate and up) gives SwiGLU of its pairs. */
static void record_lanes(vkl_ops *ops, const weight_kernels *kernels, const vkl_tensor *w,
                         const vkl_buffer_view *x, const vkl_buffer_view *y, bool many,
                         unsigned options)
{
    VkBufferView x_texels = vkl_recorder_texel_view(ops->rec, x,
                                                    VK_FORMAT_R32G32B32A32_SFLOAT);
    if (x_texels == VK_NULL_HANDLE)
        return;
    uint32_t rows = lanes_rows(ops, w->type, many);
    uint32_t tokens = ops->lanes_tokens[many];
    /* A pass of tokens loops over the row's chunks, then writes its sums;
     * one token (generation, or a prompt's last) is a single pass. */
    uint64_t pass_iterations = vkl_lanes_row_chunks(w->type, w->cols) + tokens * (rows + 1) + 1;
    if (!lanes_pass_fits(ops, pass_iterations, w->cols))
        return;
    uint32_t slice = many ? token_slice(ops, tokens, pass_iterations) : ops->batch;
    for (uint32_t i = 0; i < w->piece_count; i++) {
        const vkl_tensor_piece *piece = &w->pieces[i];
        lanes_push push = {w->cols, piece->rows, w->paired ? w->rows / 2 : w->rows,
                           piece->row0, (options & VKL_PRODUCT_LAST_ROW) != 0,
                           (options & VKL_PRODUCT_ADD) != 0, w->paired, slice};
        vkl_dispatch d = {
            .shader = kernels->matmul_lanes,
            .spec = {ops->lanes_wg, rows, tokens},
            .spec_count = 3,
            .bindings = {ops->step, *y},
            .binding_count = 2,
            .texels = {piece->texels, x_texels},
            .texel_count = 2,
            .push = &push,
            .push_size = sizeof push,
        };
        vkl_groups_2d(ops->rec->dev, div_up(piece->rows, ops->lanes_wg * rows), d.groups);
        d.groups[2] = div_up(ops->batch, slice);
        vkl_record_dispatch(ops->rec, &d);
    }
}

typedef struct matvec_push {
    uint32_t K, N, y_offset, x_last_row, add;
} matvec_push;
_Static_assert(sizeof(matvec_push) == 20, "matvec push constants");

void vkl_op_matvec(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y, unsigned options)
{
    const weight_kernels *kernels;
    if (!product_kernels(ops, w, &kernels))
        return;
    if (w->layout == VKL_LAYOUT_LANES) {
        record_lanes(ops, kernels, w, x, y, false, options);
        return;
    }
    if (ops->rows_per_workgroup > 0 && !row_kernel_fits(ops, w->cols))
        return;
    for (uint32_t i = 0; i < w->piece_count; i++) {
        const vkl_tensor_piece *piece = &w->pieces[i];
        matvec_push push = {w->cols, piece->rows, piece->row0,
                            (options & VKL_PRODUCT_LAST_ROW) != 0, (options & VKL_PRODUCT_ADD) != 0};
        vkl_buffer_view bindings[] = {piece->view, *x, *y};
        if (ops->rows_per_workgroup > 0)
            dispatch_1d(ops, kernels->matvec_rows, ops->rows_per_workgroup, bindings, 3, &push,
                        sizeof push, div_up(piece->rows, ops->rows_per_workgroup));
        else
            dispatch_1d(ops, ops->subgroup_reduce ? kernels->matvec_subgroup : kernels->matvec,
                        ops->row_wg, bindings, 3, &push, sizeof push, piece->rows);
    }
}

typedef struct matmul_push {
    uint32_t K, N, y_stride, col0, add;
    uint32_t token_slice;           /* matmul_rows only */
} matmul_push;
_Static_assert(sizeof(matmul_push) == 24, "matmul push constants");

/* matmul_rows.comp takes 8 tokens a pass; a pass loops over the row's quads
 * (and groups) once per token and once more. */
#define MATMUL_ROWS_TOKENS 8u

static void record_matmul_rows(vkl_ops *ops, const weight_kernels *kernels,
                               const vkl_tensor_piece *piece, uint32_t cols,
                               const vkl_buffer_view *x, const vkl_buffer_view *y,
                               matmul_push *push)
{
    uint64_t pass_iterations =
        ((uint64_t)cols / 4 + 4) * (MATMUL_ROWS_TOKENS + 1) + cols / 16 + MATMUL_ROWS_TOKENS + 1;
    push->token_slice = token_slice(ops, MATMUL_ROWS_TOKENS, pass_iterations);
    vkl_dispatch d = {
        .shader = kernels->matmul_rows,
        .spec = {ops->rows_per_workgroup},
        .spec_count = 1,
        .bindings = {ops->step, piece->view, *x, *y},
        .binding_count = 4,
        .push = push,
        .push_size = sizeof *push,
    };
    vkl_groups_2d(ops->rec->dev, div_up(piece->rows, ops->rows_per_workgroup), d.groups);
    d.groups[2] = div_up(ops->batch, push->token_slice);
    vkl_record_dispatch(ops->rec, &d);
}

/* matmul.comp over `rows` weight rows: its blocks are 4 matmul_wg[0] rows by
 * 4 WG_Y tokens, WG_Y narrowed for a batch smaller than the device's block. */
static void shape_matmul(const vkl_ops *ops, const weight_kernels *kernels, uint32_t rows,
                         vkl_dispatch *d)
{
    uint32_t wg_y = ops->matmul_wg[1];
    while (wg_y > 1 && 4 * (wg_y / 2) >= ops->batch)
        wg_y /= 2;
    d->shader = kernels->matmul;
    d->spec[0] = ops->matmul_wg[0];
    d->spec[1] = wg_y;
    d->spec[2] = ops->matmul_bk;
    d->spec_count = 3;
    d->groups[0] = div_up(rows, 4 * ops->matmul_wg[0]);
    d->groups[1] = div_up(ops->batch, 4 * wg_y);
    d->groups[2] = 1;
}

/* The cooperative-matrix kernel for the device's extension and the weight
 * type, or VKL_SHADER_COUNT for none. */
static vkl_shader_id coopmat_kernel(const vkl_ops *ops, const weight_kernels *kernels)
{
    switch (ops->coopmat) {
    case VKLLM_COOPMAT_KHR: return kernels->matmul_coopmat;
    case VKLLM_COOPMAT_NV: return kernels->matmul_coopmat_nv;
    default: return VKL_SHADER_COUNT;
    }
}

/* matmul_coopmat.comp: blocks of 4 M weight rows by 2 N tokens. */
static void shape_coopmat(const vkl_ops *ops, vkl_shader_id shader, uint32_t rows,
                          vkl_dispatch *d)
{
    d->shader = shader;
    d->spec[0] = ops->coopmat_wg;
    memcpy(&d->spec[1], ops->coopmat_tile, sizeof ops->coopmat_tile);
    d->spec_count = 4;
    d->groups[0] = div_up(rows, 4 * ops->coopmat_tile[0]);
    d->groups[1] = div_up(ops->batch, 2 * ops->coopmat_tile[1]);
    d->groups[2] = 1;
}

void vkl_op_matmul(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y, unsigned options)
{
    const weight_kernels *kernels;
    if (!product_kernels(ops, w, &kernels))
        return;
    if (w->layout == VKL_LAYOUT_LANES) {
        record_lanes(ops, kernels, w, x, y, true, options & VKL_PRODUCT_ADD);
        return;
    }
    if (ops->rows_per_workgroup > 0 && !row_kernel_fits(ops, w->cols))
        return;
    for (uint32_t i = 0; i < w->piece_count; i++) {
        const vkl_tensor_piece *piece = &w->pieces[i];
        matmul_push push = {w->cols, piece->rows, w->rows, piece->row0,
                            (options & VKL_PRODUCT_ADD) != 0, 0};
        if (ops->rows_per_workgroup > 0) {
            record_matmul_rows(ops, kernels, piece, w->cols, x, y, &push);
            continue;
        }
        vkl_dispatch d = {
            .bindings = {ops->step, piece->view, *x, *y},
            .binding_count = 4,
            .push = &push,
            .push_size = sizeof push,
        };
        vkl_shader_id coopmat = coopmat_kernel(ops, kernels);
        if (coopmat != VKL_SHADER_COUNT)
            shape_coopmat(ops, coopmat, piece->rows, &d);
        else
            shape_matmul(ops, kernels, piece->rows, &d);
        vkl_record_dispatch(ops->rec, &d);
    }
}

void vkl_op_swiglu_product(vkl_ops *ops, const vkl_tensor *gate_up, const vkl_buffer_view *x,
                           const vkl_buffer_view *y)
{
    const weight_kernels *kernels = kernels_for(ops, gate_up);
    if (kernels == NULL)
        return;
    /* A lane's rows must hold whole (gate, up) pairs. */
    bool many = ops->batch > 1;
    if (!gate_up->paired || gate_up->layout != VKL_LAYOUT_LANES || lanes_rows(ops, gate_up->type, many) % 2 != 0) {
        if (ops->rec->status == VKLLM_OK)
            ops->rec->status = vkl_fail(ops->rec->err, VKLLM_ERROR_INVALID_ARGUMENT,
                                        "SwiGLU's product needs gate and up paired in the "
                                        "lanes layout and an even number of rows a lane");
        return;
    }
    record_lanes(ops, kernels, gate_up, x, y, many, 0);
}

typedef struct norm_push {
    uint32_t n;
    float eps;
} norm_push;
_Static_assert(sizeof(norm_push) == 8, "rmsnorm and layernorm push constants");

void vkl_op_rmsnorm(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *weight,
                    const vkl_buffer_view *y, uint32_t n, float eps)
{
    norm_push push = {n, eps};
    vkl_buffer_view bindings[] = {*x, *weight, *y};
    dispatch_1d(ops, VKL_SHADER_RMSNORM, ops->row_wg, bindings, 3, &push, sizeof push,
                ops->batch);
}

void vkl_op_layernorm(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *weight,
                      const vkl_buffer_view *bias, const vkl_buffer_view *y, uint32_t n,
                      float eps)
{
    norm_push push = {n, eps};
    vkl_buffer_view bindings[] = {*x, *weight, *bias, *y};
    dispatch_1d(ops, VKL_SHADER_LAYERNORM, ops->row_wg, bindings, 4, &push, sizeof push,
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
    uint32_t n_heads, head_size, dst_at_position, halves;
} rope_push;
_Static_assert(sizeof(rope_push) == 16, "rope push constants");

void vkl_op_rope(vkl_ops *ops, const vkl_buffer_view *table, const vkl_buffer_view *src,
                 const vkl_buffer_view *dst, uint32_t n_heads, uint32_t head_size,
                 vkl_rope_style style, bool at_position)
{
    rope_push push = {n_heads, head_size, at_position, style == VKL_ROPE_HALVES};
    vkl_buffer_view bindings[] = {*table, *src, *dst};
    uint64_t pairs = (uint64_t)ops->batch * n_heads * head_size / 2;
    dispatch_1d(ops, VKL_SHADER_ROPE, ops->wg, bindings, 3, &push, sizeof push,
                div_up(pairs, ops->wg));
}

#define ATTENTION_SPLIT_POSITIONS 512u
#define ATTENTION_MAX_SPLITS 32u

uint32_t vkl_attention_splits(uint32_t context)
{
    uint32_t splits = (context + ATTENTION_SPLIT_POSITIONS - 1) / ATTENTION_SPLIT_POSITIONS;
    if (splits < 1)
        splits = 1;
    return splits < ATTENTION_MAX_SPLITS ? splits : ATTENTION_MAX_SPLITS;
}

uint64_t vkl_attention_parts_floats(const vkl_attention_shape *shape, uint32_t batch)
{
    if (shape->splits <= 1)
        return 0;
    return (uint64_t)batch * shape->n_heads * shape->splits * (shape->head_size + 2);
}

typedef struct attention_push {
    uint32_t n_heads, n_kv_heads, split_len;
    float scale;
} attention_push;
_Static_assert(sizeof(attention_push) == 16, "attention push constants");

typedef struct combine_push {
    uint32_t n_heads;
} combine_push;

void vkl_op_attention(vkl_ops *ops, const vkl_attention_shape *shape, const vkl_buffer_view *q,
                      const vkl_buffer_view *k_cache, const vkl_buffer_view *v_cache,
                      const vkl_buffer_view *parts, const vkl_buffer_view *out)
{
    uint32_t splits = shape->splits > 1 ? shape->splits : 1;
    attention_push push = {shape->n_heads, shape->n_kv_heads, div_up(shape->context, splits),
                           1.0f / sqrtf((float)shape->head_size)};
    vkl_dispatch d = {
        .shader = VKL_SHADER_ATTENTION,
        .spec = {ops->row_wg, shape->head_size, splits},
        .spec_count = 3,
        .bindings = {ops->step, *q, splits > 1 ? *parts : *out, *k_cache, *v_cache},
        .binding_count = 5,
        .push = &push,
        .push_size = sizeof push,
        .groups = {div_up((uint64_t)ops->batch * shape->n_heads, ops->row_wg), splits, 1},
    };
    if (ops->wide_attention) {
        /* A workgroup per (token, head) over x and y, the splits over z. */
        d.shader = ops->subgroup_reduce ? VKL_SHADER_ATTENTION_WIDE_SUBGROUP
                                        : VKL_SHADER_ATTENTION_WIDE;
        vkl_groups_2d(ops->rec->dev, ops->batch * shape->n_heads, d.groups);
        d.groups[2] = splits;
    } else if (ops->texel_reads && shape->head_size % 4 == 0) {
        /* Whole texels of a head's row: each row starts on one. */
        d.shader = VKL_SHADER_ATTENTION_TEXELS;
        d.binding_count = 3;
        d.texels[0] = vkl_recorder_texel_view(ops->rec, k_cache, VK_FORMAT_R32G32B32A32_SFLOAT);
        d.texels[1] = vkl_recorder_texel_view(ops->rec, v_cache, VK_FORMAT_R32G32B32A32_SFLOAT);
        d.texel_count = 2;
    }
    vkl_record_dispatch(ops->rec, &d);
    if (splits == 1)
        return;

    combine_push combine = {shape->n_heads};
    vkl_dispatch merge = {
        .shader = VKL_SHADER_ATTENTION_COMBINE,
        .spec = {ops->wg, shape->head_size, splits},
        .spec_count = 3,
        .bindings = {ops->step, *parts, *out},
        .binding_count = 3,
        .push = &combine,
        .push_size = sizeof combine,
    };
    vkl_groups_2d(ops->rec->dev,
                  div_up((uint64_t)ops->batch * shape->n_heads * shape->head_size, ops->wg),
                  merge.groups);
    vkl_record_dispatch(ops->rec, &merge);
}

typedef struct elementwise_push {
    uint32_t n;
} elementwise_push;

/* A kernel over step.n_tokens rows of n elements, one invocation each. */
static void dispatch_elementwise(vkl_ops *ops, vkl_shader_id shader,
                                 const vkl_buffer_view *bindings, uint32_t binding_count,
                                 uint32_t n)
{
    elementwise_push push = {n};
    dispatch_1d(ops, shader, ops->wg, bindings, binding_count, &push, sizeof push,
                div_up((uint64_t)ops->batch * n, ops->wg));
}

void vkl_op_swiglu(vkl_ops *ops, const vkl_buffer_view *gate, const vkl_buffer_view *up,
                   const vkl_buffer_view *out, uint32_t n)
{
    vkl_buffer_view bindings[] = {*gate, *up, *out};
    dispatch_elementwise(ops, VKL_SHADER_SWIGLU, bindings, 3, n);
}

void vkl_op_gelu(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *out,
                 uint32_t n)
{
    vkl_buffer_view bindings[] = {*x, *out};
    dispatch_elementwise(ops, VKL_SHADER_GELU, bindings, 2, n);
}

void vkl_op_add_bias(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *bias,
                     uint32_t n)
{
    vkl_buffer_view bindings[] = {*x, *bias};
    dispatch_elementwise(ops, VKL_SHADER_ADD_BIAS, bindings, 2, n);
}

void vkl_op_copy_rows(vkl_ops *ops, const vkl_buffer_view *src, const vkl_buffer_view *dst,
                      uint32_t n)
{
    vkl_buffer_view bindings[] = {*src, *dst};
    dispatch_elementwise(ops, VKL_SHADER_COPY_ROWS, bindings, 2, n);
}
