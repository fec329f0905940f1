/* vkllm_bench_ops: each kernel at model-like shapes, timed on the device
 * with timestamp queries. One command buffer per case: a warm-up dispatch,
 * then REPETITIONS dispatches with a timestamp after each (the recorder's
 * barrier separates them), and the median of the intervals. */
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"
#include "gpu/device_internal.h"

#define REPETITIONS 5

typedef struct op_case {
    const char *op;
    vkl_dtype type;
    uint32_t rows;
    uint32_t cols;
    uint32_t tokens;
} op_case;

/* TinyLlama's shapes: dim 2048, ffn 5632, 32 heads of 64, 4 key/value heads. */
static const op_case cases[] = {
    {"matvec", VKL_DTYPE_F16, 2048, 2048, 1},
    {"matvec", VKL_DTYPE_F16, 5632, 2048, 1},
    {"matvec", VKL_DTYPE_Q8_0, 5632, 2048, 1},
    {"matvec", VKL_DTYPE_Q4_0, 5632, 2048, 1},
    {"matvec", VKL_DTYPE_Q4_K, 5632, 2048, 1},
    {"matmul", VKL_DTYPE_F16, 2048, 2048, 64},
    {"matmul", VKL_DTYPE_Q8_0, 5632, 2048, 64},
    {"matmul", VKL_DTYPE_F16, 5632, 2048, 512},
    {"rmsnorm", VKL_DTYPE_F32, 64, 2048, 64},
    {"attention", VKL_DTYPE_F32, 32, 512, 1},   /* 32 heads over 512 positions */
    {"copy", VKL_DTYPE_F32, 16384, 1024, 1},    /* 64 MiB: the memory bandwidth */
};

typedef struct bench {
    vkl_gpu_device *dev;
    vkl_arena device_arena;
    vkl_arena host_arena;
    vkl_buffer_view step;
    vkl_commands commands;
    VkQueryPool queries;
    vkl_descriptor_pools descriptors;
    vkl_error *err;
} bench;

static vkllm_status create_objects(bench *b)
{
    vkl_gpu_device *dev = b->dev;
    vkllm_status status = vkl_commands_create(dev, 1, true, &b->commands, b->err);
    if (status != VKLLM_OK)
        return status;
    VkQueryPoolCreateInfo query_info = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = REPETITIONS + 1,
    };
    VKL_VK_CHECK(b->err, dev->vk.vkCreateQueryPool(dev->device, &query_info, NULL, &b->queries));
    return vkl_arena_alloc(&b->host_arena, sizeof(vkl_step), &b->step, b->err);
}

static void destroy_objects(bench *b)
{
    vkl_gpu_device *dev = b->dev;
    if (b->queries != VK_NULL_HANDLE)
        dev->vk.vkDestroyQueryPool(dev->device, b->queries, NULL);
    vkl_commands_destroy(dev, &b->commands);
    vkl_descriptor_pools_free(dev, &b->descriptors);
    vkl_arena_free(&b->device_arena);
    vkl_arena_free(&b->host_arena);
}

static bool has_timestamps(const vkl_gpu_device *dev)
{
    VkQueueFamilyProperties families[32];
    uint32_t count = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(dev->physical, &count, families);
    return dev->queue_family < count && families[dev->queue_family].timestampValidBits > 0;
}

/* A zeroed device buffer of `bytes`. */
static vkl_buffer_view zeros(bench *b, uint64_t bytes, vkllm_status *status)
{
    vkl_buffer_view view = {0};
    void *host = *status == VKLLM_OK ? calloc(1, bytes) : NULL;
    if (*status == VKLLM_OK && host == NULL)
        *status = vkl_fail(b->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    if (*status == VKLLM_OK)
        *status = vkl_arena_alloc(&b->device_arena, bytes, &view, b->err);
    if (*status == VKLLM_OK)
        *status = vkl_gpu_upload(b->dev, &view, host, bytes, b->err);
    free(host);
    return view;
}

typedef struct case_data {
    vkl_tensor weights;             /* matrix products */
    vkl_buffer_view a, b, c, d, e;  /* the op's other buffers, in its argument order */
    double flops;
    double bytes;
} case_data;

static vkllm_status prepare_product(bench *b, const op_case *c, case_data *d)
{
    uint64_t row_bytes = vkl_dtype_row_bytes(c->type, c->cols);
    void *host = calloc(c->rows, row_bytes);
    if (host == NULL)
        return vkl_fail(b->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    vkl_host_tensor t = {host, c->type, c->rows, c->cols};
    vkllm_status s = vkl_tensor_upload(&b->device_arena, &t, vkl_ops_matrix_layout(b->dev),
                                       &d->weights, b->err);
    free(host);
    d->a = zeros(b, (uint64_t)c->tokens * c->cols * 4, &s);     /* x */
    d->b = zeros(b, (uint64_t)c->tokens * c->rows * 4, &s);     /* y */
    d->flops = 2.0 * c->rows * c->cols * c->tokens;
    d->bytes = (double)c->rows * row_bytes + 4.0 * c->tokens * (c->cols + c->rows);
    return s;
}

static const vkl_attention_shape attention_shape = {32, 4, 64, 512, 1};

static vkllm_status prepare_other(bench *b, const op_case *c, case_data *d)
{
    vkllm_status s = VKLLM_OK;
    if (strcmp(c->op, "copy") == 0) {
        uint64_t bytes = (uint64_t)c->rows * c->cols * 4;
        d->a = zeros(b, bytes, &s);
        d->b = zeros(b, bytes, &s);
        d->bytes = 2.0 * bytes;     /* each byte read and written */
        return s;
    }
    if (strcmp(c->op, "rmsnorm") == 0) {
        d->a = zeros(b, (uint64_t)c->tokens * c->cols * 4, &s);     /* x */
        d->b = zeros(b, (uint64_t)c->cols * 4, &s);                 /* weight */
        d->c = zeros(b, (uint64_t)c->tokens * c->cols * 4, &s);     /* y */
        d->flops = 4.0 * c->tokens * c->cols;
        d->bytes = 8.0 * c->tokens * c->cols;
        return s;
    }
    const vkl_attention_shape *a = &attention_shape;
    uint64_t kv_bytes = (uint64_t)a->context * a->n_kv_heads * a->head_size * 4;
    d->a = zeros(b, (uint64_t)a->n_heads * a->head_size * 4, &s);   /* q */
    d->b = zeros(b, kv_bytes, &s);                                  /* k cache */
    d->c = zeros(b, kv_bytes, &s);                                  /* v cache */
    d->d = zeros(b, vkl_attention_parts_floats(a, 1) * 4, &s);     /* partials */
    d->e = zeros(b, (uint64_t)a->n_heads * a->head_size * 4, &s);   /* output */
    d->flops = 4.0 * a->n_heads * a->head_size * a->context;
    d->bytes = 2.0 * kv_bytes;
    return s;
}

static void record_op(vkl_ops *ops, const op_case *c, case_data *d)
{
    if (strcmp(c->op, "matvec") == 0) {
        vkl_op_matvec(ops, &d->weights, &d->a, &d->b, 0);
    } else if (strcmp(c->op, "matmul") == 0) {
        vkl_op_matmul(ops, &d->weights, &d->a, &d->b, 0);
    } else if (strcmp(c->op, "copy") == 0) {
        vkl_record_copy(ops->rec, &d->a, &d->b, d->a.size);
    } else if (strcmp(c->op, "rmsnorm") == 0) {
        vkl_op_rmsnorm(ops, &d->a, &d->b, &d->c, c->cols, 1e-5f);
    } else {
        vkl_op_attention(ops, &attention_shape, &d->a, &d->b, &d->c, &d->d, &d->e);
    }
}

static int compare_doubles(const void *left, const void *right)
{
    double a = *(const double *)left, b = *(const double *)right;
    return (a > b) - (a < b);
}

/* The median interval between consecutive timestamps, in seconds. */
static vkllm_status median_seconds(bench *b, double *seconds)
{
    uint64_t stamps[REPETITIONS + 1];
    VKL_VK_CHECK(b->err, b->dev->vk.vkGetQueryPoolResults(
                             b->dev->device, b->queries, 0, REPETITIONS + 1, sizeof stamps,
                             stamps, sizeof *stamps,
                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    double intervals[REPETITIONS];
    for (int i = 0; i < REPETITIONS; i++)
        intervals[i] = (double)(stamps[i + 1] - stamps[i]) * b->dev->info->timestamp_period * 1e-9;
    qsort(intervals, REPETITIONS, sizeof *intervals, compare_doubles);
    *seconds = intervals[REPETITIONS / 2];
    return VKLLM_OK;
}

static vkllm_status run_case(bench *b, const op_case *c, vkllm_op_timing *out)
{
    case_data d = {0};
    bool product = strcmp(c->op, "matvec") == 0 || strcmp(c->op, "matmul") == 0;
    vkllm_status s = product ? prepare_product(b, c, &d) : prepare_other(b, c, &d);
    bool attention = strcmp(c->op, "attention") == 0;
    vkl_step step = {attention ? attention_shape.context - 1 : 0, c->tokens};
    memcpy(b->step.mapped, &step, sizeof step);

    vkl_recorder rec;
    vkl_ops ops;
    if (s == VKLLM_OK) {
        vkl_recorder_begin(&rec, b->dev, b->commands.cmd[0], &b->descriptors, b->err);
        b->dev->vk.vkCmdResetQueryPool(b->commands.cmd[0], b->queries, 0, REPETITIONS + 1);
        vkl_ops_init(&ops, &rec, &b->step, c->tokens);
        record_op(&ops, c, &d);                     /* warm-up */
        vkl_record_timestamp(&rec, b->queries, 0);
        for (uint32_t r = 1; r <= REPETITIONS; r++) {
            record_op(&ops, c, &d);
            vkl_record_timestamp(&rec, b->queries, r);
        }
        s = vkl_recorder_end(&rec);
    }
    if (s == VKLLM_OK)
        s = vkl_gpu_submit_wait(b->dev, b->commands.cmd[0], b->commands.fence, b->err);
    double seconds = 0.0;
    if (s == VKLLM_OK)
        s = median_seconds(b, &seconds);
    vkl_tensor_free(&d.weights);
    *out = (vkllm_op_timing){c->op, vkl_dtype_name(c->type), c->rows, c->cols, c->tokens,
                             seconds, seconds > 0 ? d.flops / seconds * 1e-9 : 0.0,
                             seconds > 0 ? d.bytes / seconds * 1e-9 : 0.0};
    return s;
}

static vkllm_status run_all(bench *b, vkllm_op_timing_fn on_timing, void *user)
{
    vkllm_status s = create_objects(b);
    for (size_t i = 0; s == VKLLM_OK && i < sizeof cases / sizeof *cases; i++) {
        vkllm_op_timing timing = {0};
        s = run_case(b, &cases[i], &timing);
        if (s == VKLLM_OK && on_timing != NULL)
            on_timing(&timing, user);
        /* Each case's buffers go before the next case's are made. */
        vkl_arena_free(&b->device_arena);
        vkl_descriptor_pools_free(b->dev, &b->descriptors);
    }
    return s;
}

vkllm_status vkllm_bench_ops(vkllm_runtime *rt, int32_t device, vkllm_op_timing_fn on_timing,
                             void *user)
{
    if (rt == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    vkl_error err = {0};
    if (!rt->gpu_ready || device < -1 || device >= (int32_t)rt->gpu.device_count)
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT, "no such device");

    bench b = {.err = &err};
    uint32_t index = device < 0 ? vkl_gpu_default_device(&rt->gpu) : (uint32_t)device;
    vkllm_status s = vkl_gpu_device_get(&rt->gpu, index, &b.dev, &err);
    if (s == VKLLM_OK && !has_timestamps(b.dev))
        s = vkl_fail(&err, VKLLM_ERROR_UNSUPPORTED, "the device's queue has no timestamps");
    if (s == VKLLM_OK) {
        vkl_arena_init(&b.device_arena, b.dev, false);
        vkl_arena_init(&b.host_arena, b.dev, true);
        s = run_all(&b, on_timing, user);
        destroy_objects(&b);
    }
    return s == VKLLM_OK ? s : vkl_api_record(&rt->error, &err);
}
