/* Every kernel against its CPU reference on lavapipe (or whatever device the
 * loader offers), with validation on. Sizes are deliberately not multiples
 * of any workgroup or tile size; a few are large, and one weight exceeds the
 * 128 MiB storage-buffer range so that it must be bound in pieces.
 *
 * Tolerances, as max |gpu - cpu| <= atol + rtol * |cpu|:
 *   products and attention (fp32 sums of up to ~1000 terms): 1e-4 + 1e-4
 *   elementwise, norms, rotary, softmax: 1e-5 + 1e-5 (transcendentals differ
 *   in the last bits between drivers) */
#include <stdlib.h>
#include <string.h>

#include "cpu_ref.h"
#include "gpu_fixture.h"
#include "test.h"

#define SUM_ATOL 1e-4
#define SUM_RTOL 1e-4
#define ELEM_ATOL 1e-5
#define ELEM_RTOL 1e-5

static gpu_fixture fx;
static uint64_t seed = 12345;
static uint64_t piece_limit;    /* when set, weights are split into pieces this small */

static float *random_floats(size_t count, float scale)
{
    float *data = malloc(count * sizeof *data);
    fill_random(data, count, scale, &seed);
    return data;
}

/* A host weight matrix of the given type with random values; for F16 the
 * floats it was rounded from are returned in *as_float. */
static vkl_host_tensor random_weights(vkl_dtype type, int64_t rows, int64_t cols)
{
    size_t count = (size_t)(rows * cols);
    float *values = random_floats(count, 1.0f);
    if (type == VKL_DTYPE_F32)
        return (vkl_host_tensor){values, type, rows, cols};

    uint16_t *halves = malloc(count * sizeof *halves);
    for (size_t i = 0; i < count; i++)
        halves[i] = cpu_f32_to_f16(values[i]);
    free(values);
    return (vkl_host_tensor){halves, type, rows, cols};
}

static vkl_tensor upload_weights(op_run *run, const vkl_host_tensor *host)
{
    vkl_tensor t;
    if (piece_limit != 0)
        run->device_arena.piece_limit = piece_limit;
    vkllm_status status = vkl_tensor_upload(&run->device_arena, host, &t, &run->err);
    CHECK_MSG(status == VKLLM_OK, "%s", run->err.message);
    return t;
}

static void expect_close(const char *what, const float *gpu, const float *cpu, size_t count,
                         double atol, double rtol)
{
    double error = max_scaled_error(gpu, cpu, count, atol, rtol);
    CHECK_MSG(error <= 1.0, "%s: worst error %.3g of tolerance", what, error);
}

/* ------------------------------------------------------------------------ */

static void check_matvec(vkl_dtype type, int N, int K, int rows_in_x)
{
    vkl_host_tensor w = random_weights(type, N, K);
    float *x = random_floats((size_t)rows_in_x * K, 1.0f);
    float *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    const float *last_x = x + (size_t)(rows_in_x - 1) * K;
    cpu_matmul(want, last_x, w.data, type, 1, N, K);

    op_run run;
    op_run_begin(&run, &fx, rows_in_x, 0, rows_in_x);
    vkl_tensor wt = upload_weights(&run, &w);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)rows_in_x * K);
    vkl_buffer_view yv = op_floats(&run, NULL, N);
    vkl_op_matvec(&run.ops, &wt, &xv, &yv, rows_in_x > 1);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, N);
        expect_close("matvec", got, want, N, SUM_ATOL, SUM_RTOL);
    }
    vkl_tensor_free(&wt);
    op_run_free(&run);
    free((void *)w.data); free(x); free(want); free(got);
}

static void test_matvec_f32(void) { check_matvec(VKL_DTYPE_F32, 37, 1001, 1); }
static void test_matvec_f16_odd_rows(void) { check_matvec(VKL_DTYPE_F16, 129, 257, 1); }
static void test_matvec_last_row(void) { check_matvec(VKL_DTYPE_F32, 50, 33, 3); }
static void test_matvec_large(void) { check_matvec(VKL_DTYPE_F16, 4099, 1031, 1); }

static void check_matmul(vkl_dtype type, int batch, int T, int N, int K)
{
    vkl_host_tensor w = random_weights(type, N, K);
    float *x = random_floats((size_t)batch * K, 1.0f);
    size_t out_count = (size_t)batch * N;
    float *want = calloc(out_count, sizeof *want), *got = malloc(out_count * sizeof *got);
    cpu_matmul(want, x, w.data, type, T, N, K);     /* rows T.. stay zero */

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    vkl_tensor wt = upload_weights(&run, &w);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)batch * K);
    vkl_buffer_view yv = op_floats(&run, NULL, out_count);
    vkl_op_matmul(&run.ops, &wt, &xv, &yv);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, out_count);
        expect_close("matmul", got, want, out_count, SUM_ATOL, SUM_RTOL);
    }
    vkl_tensor_free(&wt);
    op_run_free(&run);
    free((void *)w.data); free(x); free(want); free(got);
}

static void test_matmul_f32(void) { check_matmul(VKL_DTYPE_F32, 7, 5, 83, 61); }
static void test_matmul_f16(void) { check_matmul(VKL_DTYPE_F16, 7, 7, 83, 61); }
static void test_matmul_large(void) { check_matmul(VKL_DTYPE_F32, 40, 33, 517, 1023); }
static void test_matmul_one_token(void) { check_matmul(VKL_DTYPE_F16, 1, 1, 19, 3); }

static void check_embed(vkl_dtype type, int vocab, int dim, const uint32_t *tokens, int T)
{
    vkl_host_tensor table = random_weights(type, vocab, dim);
    float *want = malloc((size_t)T * dim * sizeof *want), *got = malloc((size_t)T * dim * 4);
    for (int t = 0; t < T; t++)
        cpu_weight_row(want + (size_t)t * dim, table.data, type, dim, tokens[t]);

    op_run run;
    op_run_begin(&run, &fx, T, 0, T);
    vkl_tensor tt = upload_weights(&run, &table);
    vkl_buffer_view tokv = op_uints(&run, tokens, T);
    vkl_buffer_view xv = op_floats(&run, NULL, (size_t)T * dim);
    vkl_op_embed(&run.ops, &tt, &tokv, &xv);
    if (op_run_execute(&run)) {
        op_read(&run, &xv, got, (size_t)T * dim);
        expect_close("embed", got, want, (size_t)T * dim, 0.0, 1e-30);
    }
    vkl_tensor_free(&tt);
    op_run_free(&run);
    free((void *)table.data); free(want); free(got);
}

static void test_embed(void)
{
    uint32_t tokens[] = {5, 0, 99, 42, 5};
    check_embed(VKL_DTYPE_F32, 100, 67, tokens, 5);
    check_embed(VKL_DTYPE_F16, 100, 67, tokens, 5);
}

/* With the binding limit lowered to a few rows, every weight op must give
 * the same answer from many pieces. */
static void test_pieces_small_limit(void)
{
    piece_limit = 1024;     /* 4 rows of 61 floats per piece */
    uint32_t tokens[] = {0, 99, 50, 3};
    check_embed(VKL_DTYPE_F32, 100, 61, tokens, 4);
    check_matvec(VKL_DTYPE_F32, 83, 61, 2);
    check_matmul(VKL_DTYPE_F16, 9, 9, 83, 61);
    piece_limit = 0;
}

/* A real weight above lavapipe's 128 MiB range: 33,000 x 1,024 floats. */
static void test_tensor_above_storage_range(void)
{
    const int N = 33000, K = 1024;
    CHECK((uint64_t)N * K * 4 > (128u << 20));
    check_matvec(VKL_DTYPE_F32, N, K, 1);
    uint32_t tokens[] = {0, 16000, 32999, 20000};
    check_embed(VKL_DTYPE_F32, N, K, tokens, 4);
}

/* ------------------------------------------------------------------------ */

static void test_rmsnorm(void)
{
    const int T = 3, batch = 4, n = 1001;
    float *x = random_floats((size_t)batch * n, 3.0f), *w = random_floats(n, 1.0f);
    float *want = calloc((size_t)batch * n, 4), *got = malloc((size_t)batch * n * 4);
    cpu_rmsnorm(want, x, w, T, n, 1e-5f);

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)batch * n), wv = op_floats(&run, w, n);
    vkl_buffer_view yv = op_floats(&run, NULL, (size_t)batch * n);
    vkl_op_rmsnorm(&run.ops, &xv, &wv, &yv, n, 1e-5f);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, (size_t)batch * n);
        expect_close("rmsnorm", got, want, (size_t)batch * n, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(w); free(want); free(got);
}

static void check_rope(int pos0, bool at_position)
{
    const int T = 4, heads = 5, head_size = 6, width = heads * head_size;
    const int context = pos0 + T + 5;
    float *x = random_floats((size_t)T * width, 1.0f);
    float *want = calloc((size_t)context * width, 4), *got = malloc((size_t)context * width * 4);
    memcpy(want + (at_position ? (size_t)pos0 * width : 0), x, (size_t)T * width * 4);
    cpu_rope(want + (at_position ? (size_t)pos0 * width : 0), T, heads, head_size, pos0,
             10000.0f);

    op_run run;
    op_run_begin(&run, &fx, T, pos0, T);
    float *angles = malloc((size_t)context * head_size * sizeof *angles);
    vkl_rope_table_fill(angles, context, head_size, 10000.0f);
    vkl_buffer_view table = op_floats(&run, angles, (size_t)context * head_size);
    vkl_buffer_view src = op_floats(&run, x, (size_t)T * width);
    vkl_buffer_view dst = at_position ? op_floats(&run, NULL, (size_t)context * width) : src;
    vkl_op_rope(&run.ops, &table, &src, &dst, heads, head_size, at_position);
    size_t count = (size_t)(at_position ? context : T) * width;
    if (op_run_execute(&run)) {
        op_read(&run, &dst, got, count);
        expect_close("rope", got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(angles); free(want); free(got);
}

static void test_rope_in_place(void) { check_rope(7, false); }
static void test_rope_into_cache(void) { check_rope(7, true); }
static void test_rope_far_position(void) { check_rope(4000, false); }

static void check_softmax(int T, int pos0, int rows_per_token, int cols, bool causal)
{
    size_t count = (size_t)T * rows_per_token * cols;
    float *x = random_floats(count, 5.0f);
    float *want = malloc(count * 4), *got = malloc(count * 4);
    memcpy(want, x, count * 4);
    for (int r = 0; r < T * rows_per_token; r++) {
        int len = causal ? pos0 + r / rows_per_token + 1 : cols;
        len = len < cols ? len : cols;
        cpu_softmax(want + (size_t)r * cols, len);
        memset(want + (size_t)r * cols + len, 0, (size_t)(cols - len) * 4);
    }

    op_run run;
    op_run_begin(&run, &fx, T, pos0, T);
    vkl_buffer_view xv = op_floats(&run, x, count);
    vkl_op_softmax(&run.ops, &xv, cols, rows_per_token, causal);
    if (op_run_execute(&run)) {
        op_read(&run, &xv, got, count);
        expect_close("softmax", got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(want); free(got);
}

static void test_softmax_causal(void) { check_softmax(4, 10, 3, 50, true); }
static void test_softmax_wide(void) { check_softmax(2, 0, 1, 5001, false); }

/* scores, causal softmax and the weighted sum together against the CPU's
 * grouped-query attention. */
static void check_attention(int T, int pos0, int heads, int kv_heads, int head_size, int context)
{
    int q_width = heads * head_size, kv_width = kv_heads * head_size;
    float *q = random_floats((size_t)T * q_width, 1.0f);
    float *k = random_floats((size_t)context * kv_width, 1.0f);
    float *v = random_floats((size_t)context * kv_width, 1.0f);
    float *want = malloc((size_t)T * q_width * 4), *got = malloc((size_t)T * q_width * 4);
    cpu_attention(want, q, k, v, T, pos0, heads, kv_heads, head_size);

    op_run run;
    op_run_begin(&run, &fx, T, pos0, T);
    vkl_attention_shape shape = {heads, kv_heads, head_size, context};
    vkl_buffer_view qv = op_floats(&run, q, (size_t)T * q_width);
    vkl_buffer_view kv = op_floats(&run, k, (size_t)context * kv_width);
    vkl_buffer_view vv = op_floats(&run, v, (size_t)context * kv_width);
    vkl_buffer_view att = op_floats(&run, NULL, (size_t)T * heads * context);
    vkl_buffer_view out = op_floats(&run, NULL, (size_t)T * q_width);
    vkl_op_attn_scores(&run.ops, &shape, &qv, &kv, &att);
    vkl_op_softmax(&run.ops, &att, context, heads, true);
    vkl_op_attn_values(&run.ops, &shape, &att, &vv, &out);
    if (op_run_execute(&run)) {
        op_read(&run, &out, got, (size_t)T * q_width);
        expect_close("attention", got, want, (size_t)T * q_width, SUM_ATOL, SUM_RTOL);
    }
    op_run_free(&run);
    free(q); free(k); free(v); free(want); free(got);
}

static void test_attention_gqa(void) { check_attention(3, 5, 6, 2, 10, 16); }
static void test_attention_decode_long(void) { check_attention(1, 999, 8, 8, 16, 1000); }
static void test_attention_prefill(void) { check_attention(37, 0, 4, 1, 8, 40); }

/* ------------------------------------------------------------------------ */

static void test_swiglu_add_copy(void)
{
    const int T = 3, batch = 5, n = 333, context = 9, pos0 = 4;
    float *g = random_floats((size_t)batch * n, 6.0f), *u = random_floats((size_t)batch * n, 2.0f);
    float *want = malloc((size_t)batch * n * 4), *got = malloc((size_t)context * n * 4);

    op_run run;
    op_run_begin(&run, &fx, batch, pos0, T);
    vkl_buffer_view gv = op_floats(&run, g, (size_t)batch * n);
    vkl_buffer_view uv = op_floats(&run, u, (size_t)batch * n);
    vkl_buffer_view out = op_floats(&run, NULL, (size_t)batch * n);
    vkl_buffer_view cache = op_floats(&run, NULL, (size_t)context * n);
    vkl_op_swiglu(&run.ops, &gv, &uv, &out, n);     /* out = silu(g) u */
    vkl_op_add(&run.ops, &out, &gv, n);             /* out += g */
    vkl_op_copy_rows(&run.ops, &out, &cache, n);    /* cache[pos0 + t] = out[t] */

    memset(want, 0, (size_t)batch * n * 4);
    cpu_swiglu(want, g, u, T * n);
    for (int i = 0; i < T * n; i++)
        want[i] += g[i];
    if (op_run_execute(&run)) {
        op_read(&run, &cache, got, (size_t)context * n);
        expect_close("copy_rows(swiglu + add)", got + (size_t)pos0 * n, want, (size_t)T * n,
                     ELEM_ATOL, ELEM_RTOL);
        float zeros[333] = {0};
        expect_close("rows outside the step", got, zeros, n, 0.0, 1e-30);
    }
    op_run_free(&run);
    free(g); free(u); free(want); free(got);
}

/* Every kernel, with the workgroup sizes chosen for this device. */
static void run_all(void)
{
    RUN(test_matvec_f32);
    RUN(test_matvec_f16_odd_rows);
    RUN(test_matvec_last_row);
    RUN(test_matvec_large);
    RUN(test_matmul_f32);
    RUN(test_matmul_f16);
    RUN(test_matmul_large);
    RUN(test_matmul_one_token);
    RUN(test_embed);
    RUN(test_pieces_small_limit);
    RUN(test_tensor_above_storage_range);
    RUN(test_rmsnorm);
    RUN(test_rope_in_place);
    RUN(test_rope_into_cache);
    RUN(test_rope_far_position);
    RUN(test_softmax_causal);
    RUN(test_softmax_wide);
    RUN(test_attention_gqa);
    RUN(test_attention_decode_long);
    RUN(test_attention_prefill);
    RUN(test_swiglu_add_copy);
}

int main(void)
{
    if (!gpu_fixture_open(&fx))
        return 1;
    run_all();

    /* Row-reducing kernels again with the wide workgroups a GPU gets, where
     * this device was given narrower ones. */
    fx.wide_rows = true;
    fprintf(stderr, "with wide row workgroups:\n");
    run_all();
    gpu_fixture_close(&fx);
    TEST_MAIN_END();
}
