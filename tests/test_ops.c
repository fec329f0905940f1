/* Every kernel against its CPU reference on lavapipe (or whatever device the
 * loader offers), with validation on. Sizes are deliberately not multiples
 * of any workgroup or tile size; a few are large, and one weight exceeds the
 * 128 MiB storage-buffer range so that it must be bound in pieces.
 *
 * Weights of every type are made by cpu_quantize_row and dequantized by
 * cpu_weight_row from the same bytes the GPU reads, so a wrong block layout
 * on either side shows up as a mismatch; the dequantized weights themselves
 * are exact in float on both sides.
 *
 * Tolerances:
 *   matrix products (fp32 sums on the GPU, double on the CPU), per output:
 *     |gpu - cpu| <= 1e-4 |cpu| + 1e-5 sum_k |w_k x_k|, the second term
 *     bounding the rounding of a float sum of those terms; 2e-3 instead of
 *     1e-5 where a cooperative-matrix kernel rounds w and x to F16 (2^-11
 *     each) before multiplying
 *   embed (a copy of exact values): exact
 *   add_positions (one more float addition, which a compiler may reorder
 *   with the dequantization's): 1e-5 + 1e-5 |cpu|
 *   attention: max |gpu - cpu| <= 1e-4 + 1e-4 |cpu|
 *   elementwise, norms, rotary, GELU: 1e-5 + 1e-5 |cpu|
 *   (transcendentals differ in the last bits between drivers) */
#include <stdlib.h>
#include <string.h>

#include "cpu_ref.h"
#include "gpu_fixture.h"
#include "gpu/coopmat.h"
#include "ops/lanes.h"
#include "test.h"

#define PRODUCT_RTOL 1e-4
#define PRODUCT_MAGNITUDE_TOL 1e-5
#define F16_PRODUCT_MAGNITUDE_TOL 2e-3
#define SUM_ATOL 1e-4
#define SUM_RTOL 1e-4
#define ELEM_ATOL 1e-5
#define ELEM_RTOL 1e-5

static gpu_fixture fx;
static uint64_t seed = 12345;
static uint64_t piece_limit;    /* when set, weights are split into pieces this small */
static float x_center;          /* the mean of the products' X, 0 unless a test sets it */

static float *random_floats(size_t count, float scale)
{
    float *data = malloc(count * sizeof *data);
    fill_random(data, count, scale, &seed);
    return data;
}

/* X for a product: random values in x_center +- 1. */
static float *random_x(size_t count)
{
    float *x = random_floats(count, 1.0f);
    for (size_t i = 0; i < count; i++)
        x[i] += x_center;
    return x;
}

/* A host weight matrix of random values in [-1, 1), encoded as `type`. */
static vkl_host_tensor random_weights(vkl_dtype type, int64_t rows, int64_t cols)
{
    float *values = random_floats((size_t)(rows * cols), 1.0f);
    size_t row_bytes = (size_t)vkl_dtype_row_bytes(type, (uint64_t)cols);
    uint8_t *data = malloc(row_bytes * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        cpu_quantize_row(type, values + r * cols, data + (size_t)r * row_bytes, cols);
    free(values);
    return (vkl_host_tensor){data, type, rows, cols};
}

/* Uploads a table (blocks, what the lookups read) or a matrix (in the
 * layout this pass of the tests gives the products). */
static vkl_tensor upload_weights(op_run *run, const vkl_host_tensor *host, bool matrix)
{
    vkl_tensor t;
    if (piece_limit != 0)
        run->device_arena.piece_limit = piece_limit;
    vkl_weight_layout layout = matrix ? fx.matrix_layout : VKL_LAYOUT_BLOCKS;
    vkllm_status status = vkl_tensor_upload(&run->device_arena, host, layout, &t, &run->err);
    CHECK_MSG(status == VKLLM_OK, "%s", run->err.message);
    /* Only a matrix with no lanes form falls back to blocks. */
    bool has_lanes = vkl_lanes_row_bytes(host->type, (uint64_t)host->cols) != 0;
    CHECK(t.layout == (has_lanes ? layout : VKL_LAYOUT_BLOCKS));
    return t;
}

static void expect_close(const char *what, const float *gpu, const float *cpu, size_t count,
                         double atol, double rtol)
{
    double error = max_scaled_error(gpu, cpu, count, atol, rtol);
    CHECK_MSG(error <= 1.0, "%s: worst error %.3g of tolerance", what, error);
}

/* magnitude[t, n] = sum_k |x[t, k] w[n, k]| for t < T: how large a float
 * sum's rounding error can grow, whatever the order of its terms. */
static float *product_magnitudes(const float *x, const vkl_host_tensor *w, int T, int batch)
{
    int N = (int)w->rows, K = (int)w->cols;
    float *magnitude = calloc((size_t)batch * N, sizeof *magnitude);
    float *row = malloc((size_t)K * sizeof *row);
    for (int n = 0; n < N; n++) {
        cpu_weight_row(row, w->data, w->type, K, n);
        for (int t = 0; t < T; t++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++)
                sum += fabs((double)x[(size_t)t * K + k] * row[k]);
            magnitude[(size_t)t * N + n] = (float)sum;
        }
    }
    free(row);
    return magnitude;
}

/* Checks outputs y[batch, N] of a product with x of T tokens against the
 * CPU's; outputs past T must be untouched zeros. */
static void expect_product(const char *what, const float *gpu, const float *cpu, const float *x,
                           const vkl_host_tensor *w, int T, int batch, double magnitude_tol)
{
    float *magnitude = product_magnitudes(x, w, T, batch);
    double worst = 0.0;
    for (size_t i = 0; i < (size_t)batch * w->rows; i++) {
        double diff = fabs((double)gpu[i] - cpu[i]);
        double allowed = PRODUCT_RTOL * fabs(cpu[i]) + magnitude_tol * magnitude[i];
        double error = diff == 0.0 ? 0.0 : diff / allowed;
        if (!(error <= worst))
            worst = isnan(error) ? INFINITY : error;
    }
    CHECK_MSG(worst <= 1.0, "%s %s: worst error %.3g of tolerance", what,
              vkl_dtype_name(w->type), worst);
    free(magnitude);
}

/* ------------------------------------------------------------------------ */

/* y = W x for the last of rows_in_x rows of x; with add, y starts as
 * random values and the product is added to them. */
static void check_matvec_mode(vkl_dtype type, int N, int K, int rows_in_x, bool add)
{
    vkl_host_tensor w = random_weights(type, N, K);
    float *x = random_x((size_t)rows_in_x * K);
    float *y0 = random_floats(N, add ? 3.0f : 0.0f);
    float *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    const float *last_x = x + (size_t)(rows_in_x - 1) * K;
    cpu_matmul(want, last_x, w.data, type, 1, N, K);
    for (int n = 0; n < N; n++)
        want[n] += y0[n];

    op_run run;
    op_run_begin(&run, &fx, rows_in_x, 0, rows_in_x);
    vkl_tensor wt = upload_weights(&run, &w, true);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)rows_in_x * K);
    vkl_buffer_view yv = op_floats(&run, y0, N);
    unsigned options = (rows_in_x > 1 ? VKL_PRODUCT_LAST_ROW : 0) | (add ? VKL_PRODUCT_ADD : 0);
    vkl_op_matvec(&run.ops, &wt, &xv, &yv, options);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, N);
        expect_product(add ? "matvec (add)" : "matvec", got, want, last_x, &w, 1, 1,
                       PRODUCT_MAGNITUDE_TOL);
    }
    vkl_tensor_free(&wt);
    op_run_free(&run);
    free((void *)w.data); free(x); free(y0); free(want); free(got);
}

static void check_matvec(vkl_dtype type, int N, int K, int rows_in_x)
{
    check_matvec_mode(type, N, K, rows_in_x, false);
}

static void test_matvec_f32(void) { check_matvec(VKL_DTYPE_F32, 37, 1001, 1); }
static void test_matvec_f16_odd_rows(void) { check_matvec(VKL_DTYPE_F16, 129, 257, 1); }
static void test_matvec_last_row(void) { check_matvec(VKL_DTYPE_F32, 50, 33, 3); }
static void test_matvec_large(void) { check_matvec(VKL_DTYPE_F16, 4099, 1031, 1); }

/* Y = X W^T for the first T of batch rows of X; rows T.. of Y keep their
 * values (zeros, or with add random values the product is added to). */
static void check_matmul_mode(vkl_dtype type, int batch, int T, int N, int K, bool add)
{
    vkl_host_tensor w = random_weights(type, N, K);
    float *x = random_x((size_t)batch * K);
    size_t out_count = (size_t)batch * N;
    float *y0 = random_floats(out_count, add ? 3.0f : 0.0f);
    float *want = calloc(out_count, sizeof *want), *got = malloc(out_count * sizeof *got);
    cpu_matmul(want, x, w.data, type, T, N, K);     /* rows T.. stay zero */
    for (size_t i = 0; i < out_count; i++)
        want[i] += y0[i];

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    vkl_tensor wt = upload_weights(&run, &w, true);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)batch * K);
    vkl_buffer_view yv = op_floats(&run, y0, out_count);
    vkl_op_matmul(&run.ops, &wt, &xv, &yv, add ? VKL_PRODUCT_ADD : 0);
    bool f16_inputs = run.ops.coopmat != VKLLM_COOPMAT_NONE && wt.layout == VKL_LAYOUT_BLOCKS &&
                      type != VKL_DTYPE_F32 && type != VKL_DTYPE_BF16;
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, out_count);
        expect_product(add ? "matmul (add)" : "matmul", got, want, x, &w, T, batch,
                       f16_inputs ? F16_PRODUCT_MAGNITUDE_TOL : PRODUCT_MAGNITUDE_TOL);
    }
    free(y0);
    vkl_tensor_free(&wt);
    op_run_free(&run);
    free((void *)w.data); free(x); free(want); free(got);
}

static void check_matmul(vkl_dtype type, int batch, int T, int N, int K)
{
    check_matmul_mode(type, batch, T, N, K, false);
}

static void test_matmul_f32(void) { check_matmul(VKL_DTYPE_F32, 7, 5, 83, 61); }
static void test_matmul_f16(void) { check_matmul(VKL_DTYPE_F16, 7, 7, 83, 61); }
static void test_matmul_large(void) { check_matmul(VKL_DTYPE_F32, 40, 33, 517, 1023); }
static void test_matmul_one_token(void) { check_matmul(VKL_DTYPE_F16, 1, 1, 19, 3); }
static void test_matmul_many_tokens(void) { check_matmul(VKL_DTYPE_Q8_0, 150, 131, 75, 160); }
/* A long row times a long prompt: lavapipe ends every loop of an invocation
 * once their iterations reach 65535 together, so no invocation may walk all
 * of a prompt's tokens over all of so long a row. */
static void test_matmul_long_rows_many_tokens(void)
{
    check_matmul(VKL_DTYPE_F32, 512, 509, 9, 8200);
}

static void check_embed(vkl_dtype type, int vocab, int dim, const uint32_t *tokens, int T)
{
    vkl_host_tensor table = random_weights(type, vocab, dim);
    float *want = malloc((size_t)T * dim * sizeof *want), *got = malloc((size_t)T * dim * 4);
    for (int t = 0; t < T; t++)
        cpu_weight_row(want + (size_t)t * dim, table.data, type, dim, tokens[t]);

    op_run run;
    op_run_begin(&run, &fx, T, 0, T);
    vkl_tensor tt = upload_weights(&run, &table, false);
    vkl_buffer_view tokv = op_uints(&run, tokens, T);
    vkl_buffer_view xv = op_floats(&run, NULL, (size_t)T * dim);
    vkl_op_embed(&run.ops, &tt, &tokv, &xv);
    if (op_run_execute(&run)) {
        op_read(&run, &xv, got, (size_t)T * dim);
        char what[32];
        snprintf(what, sizeof what, "embed %s", vkl_dtype_name(type));
        expect_close(what, got, want, (size_t)T * dim, 0.0, 1e-30);
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

/* x[t, :] += table[pos0 + t, :] for the T tokens of a batch; the rows past
 * T keep their values. */
static void check_add_positions(vkl_dtype type, int positions, int dim, int pos0, int T,
                                int batch)
{
    vkl_host_tensor table = random_weights(type, positions, dim);
    size_t count = (size_t)batch * dim;
    float *x = random_floats(count, 2.0f);
    float *want = malloc(count * sizeof *want), *got = malloc(count * sizeof *got);
    float *row = malloc((size_t)dim * sizeof *row);
    memcpy(want, x, count * sizeof *want);
    for (int t = 0; t < T; t++) {
        cpu_weight_row(row, table.data, type, dim, pos0 + t);
        for (int i = 0; i < dim; i++)
            want[(size_t)t * dim + i] += row[i];
    }

    op_run run;
    op_run_begin(&run, &fx, batch, pos0, T);
    vkl_tensor tt = upload_weights(&run, &table, false);
    vkl_buffer_view xv = op_floats(&run, x, count);
    vkl_op_add_positions(&run.ops, &tt, &xv);
    if (op_run_execute(&run)) {
        op_read(&run, &xv, got, count);
        char what[32];
        snprintf(what, sizeof what, "add_positions %s", vkl_dtype_name(type));
        expect_close(what, got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    vkl_tensor_free(&tt);
    op_run_free(&run);
    free((void *)table.data); free(x); free(want); free(got); free(row);
}

/* ------------------------------------------------------------------------ */
/* Every weight type through every kernel that reads weights. */

/* The CPU codecs the kernels are checked against agree with each other:
 * decoding what was encoded gives the values back within each type's
 * rounding (a misplaced field gives errors near 1). */
static void test_codec_round_trip(void)
{
    const struct {
        vkl_dtype type;
        double max_error;   /* for values in [-1, 1) */
    } cases[] = {
        {VKL_DTYPE_F32, 0.0},
        {VKL_DTYPE_F16, 1e-3},      /* half an ulp below 1: 2^-12 */
        {VKL_DTYPE_BF16, 4e-3},     /* 2^-9 */
        {VKL_DTYPE_Q8_0, 5e-3},     /* half a step of max / 127 */
        {VKL_DTYPE_Q4_0, 0.13},     /* a step of max / 8 where +max clamps to code 15 */
        {VKL_DTYPE_Q4_K, 0.1},      /* half a step of range / 15, plus 6-bit scales */
        {VKL_DTYPE_Q6_K, 0.04},     /* a step of max / 32, plus 8-bit scales */
    };
    const int cols = 1024;
    float *x = random_floats(cols, 1.0f), *back = malloc(cols * sizeof *back);
    uint8_t *bytes = malloc(cols * sizeof(float));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cpu_quantize_row(cases[i].type, x, bytes, cols);
        cpu_weight_row(back, bytes, cases[i].type, cols, 0);
        double worst = 0.0;
        for (int k = 0; k < cols; k++)
            worst = fmax(worst, fabs((double)back[k] - x[k]));
        CHECK_MSG(worst <= cases[i].max_error, "%s: error %.3g", vkl_dtype_name(cases[i].type),
                  worst);
    }
    free(x); free(back); free(bytes);
}

/* The cooperative-matrix tile chosen from a device's list: F16 inputs with
 * F32 sums at subgroup scope, shapes the shader's staging allows, the
 * largest that fits the shared memory. */
static void test_coopmat_pick(void)
{
    vkl_coopmat_shape shapes[] = {
        {16, 8, 16, true, false, true},     /* F16 sums */
        {16, 8, 8, true, true, true},
        {16, 16, 16, true, true, true},
        {32, 32, 16, true, true, true},
        {16, 16, 12, true, true, true},     /* K not a multiple of 8 */
        {64, 64, 16, true, true, false},    /* workgroup scope */
        {64, 64, 32, false, true, true},    /* 8-bit integer inputs */
    };
    uint32_t tile[3];
    /* 32 x 32 x 16 needs 47 KiB; 16 x 16 x 16 needs 15.5 KiB. */
    CHECK(vkl_coopmat_pick(shapes, 7, 32768, tile));
    CHECK(tile[0] == 16 && tile[1] == 16 && tile[2] == 16);
    CHECK(vkl_coopmat_pick(shapes, 7, 65536, tile));
    CHECK(tile[0] == 32 && tile[1] == 32 && tile[2] == 16);
    CHECK(vkl_coopmat_pick(shapes, 2, 32768, tile));
    CHECK(tile[0] == 16 && tile[1] == 8 && tile[2] == 8);
    CHECK(!vkl_coopmat_pick(shapes, 1, 32768, tile));
    CHECK(tile[0] == 0 && tile[1] == 0 && tile[2] == 0);
    CHECK(!vkl_coopmat_pick(NULL, 0, 32768, tile));
}

/* Row lengths of whole blocks that leave a matvec workgroup's last round
 * partly idle (for K-quants, whose rows are multiples of 256, only with
 * workgroups wider than 16). */
static int odd_row_length(vkl_dtype type)
{
    uint32_t block_weights, block_bytes;
    CHECK(vkl_dtype_layout(type, &block_weights, &block_bytes));
    if (block_weights == 1)
        return 97;
    return block_weights == 32 ? 288 : 768;
}

static void check_weight_type(vkl_dtype type)
{
    int K = odd_row_length(type);
    uint32_t tokens[] = {5, 0, 98, 42, 5, 77};

    check_matvec(type, 37, K, 1);
    check_matvec(type, 53, K, 3);
    check_matmul(type, 7, 7, 83, K);
    check_matmul(type, 9, 5, 83, K);
    check_embed(type, 99, K, tokens, 6);
    check_add_positions(type, 41, K, 30, 5, 6);
}

static void test_weights_f32(void) { check_weight_type(VKL_DTYPE_F32); }
static void test_weights_f16(void) { check_weight_type(VKL_DTYPE_F16); }
static void test_weights_bf16(void) { check_weight_type(VKL_DTYPE_BF16); }
static void test_weights_q8_0(void) { check_weight_type(VKL_DTYPE_Q8_0); }
static void test_weights_q4_0(void) { check_weight_type(VKL_DTYPE_Q4_0); }
static void test_weights_q4_k(void) { check_weight_type(VKL_DTYPE_Q4_K); }
static void test_weights_q6_k(void) { check_weight_type(VKL_DTYPE_Q6_K); }

/* Rows whose last 64-byte chunk of the lanes layout is partly padding, and
 * outputs that leave the last lane's rows partly idle. */
static void test_weights_partial_chunks(void)
{
    const vkl_dtype types[] = {VKL_DTYPE_F32, VKL_DTYPE_F16, VKL_DTYPE_BF16};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_matvec(types[i], 131, 100, 1);
        check_matvec(types[i], 131, 36, 4);
        check_matmul(types[i], 11, 9, 131, 100);
    }
}

/* Products added to what the output holds (the residual stream), in the
 * lanes layout (rows of 64) and where it does not apply (rows of 61). */
static void test_products_add(void)
{
    check_matvec_mode(VKL_DTYPE_F32, 45, 64, 1, true);
    check_matvec_mode(VKL_DTYPE_F32, 45, 61, 3, true);
    check_matvec_mode(VKL_DTYPE_Q8_0, 45, 96, 2, true);
    check_matmul_mode(VKL_DTYPE_F16, 9, 7, 45, 64, true);
    check_matmul_mode(VKL_DTYPE_F32, 9, 7, 45, 61, true);
    check_matmul_mode(VKL_DTYPE_Q4_0, 9, 9, 45, 160, true);
}

/* X whose elements share a large mean. The lanes layout keeps Q4_0's codes
 * unsigned and takes their bias off through X's sum over each group, which
 * then cancels against the codes' products: rounding must stay within the
 * products' tolerance all the same. */
static void test_products_x_mean(void)
{
    const vkl_dtype types[] = {VKL_DTYPE_Q8_0, VKL_DTYPE_Q4_0, VKL_DTYPE_Q4_K,
                               VKL_DTYPE_Q6_K};
    x_center = 100.0f;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_matvec(types[i], 37, 512, 1);
        check_matmul(types[i], 9, 7, 37, 512);
    }
    x_center = 0.0f;
}

/* SwiGLU's gate and up paired in one lanes-layout matrix: silu(G x) (U x)
 * for one token and for a batch, as one piece and as many. */
static void check_swiglu_product(vkl_dtype type, int batch, int T, int N, int K)
{
    vkl_host_tensor gate = random_weights(type, N, K), up = random_weights(type, N, K);
    float *x = random_floats((size_t)batch * K, 1.0f);
    size_t count = (size_t)batch * N;
    float *g = calloc(count, sizeof *g), *u = calloc(count, sizeof *u);
    float *want = calloc(count, sizeof *want), *got = malloc(count * sizeof *got);
    cpu_matmul(g, x, gate.data, type, T, N, K);
    cpu_matmul(u, x, up.data, type, T, N, K);
    cpu_swiglu(want, g, u, T * N);
    /* Rounding in each product, carried through silu(g) u: silu' <= 1.1. */
    float *g_size = product_magnitudes(x, &gate, T, batch);
    float *u_size = product_magnitudes(x, &up, T, batch);

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    if (piece_limit != 0)
        run.device_arena.piece_limit = piece_limit;
    vkl_tensor paired;
    CHECK(vkl_tensor_upload_pairs(&run.device_arena, &gate, &up, &paired, &run.err) == VKLLM_OK);
    vkl_buffer_view xv = op_floats(&run, x, (size_t)batch * K);
    vkl_buffer_view yv = op_floats(&run, NULL, count);
    vkl_op_swiglu_product(&run.ops, &paired, &xv, &yv);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, count);
        double worst = 0.0;
        for (size_t i = 0; i < count; i++) {
            double allowed = PRODUCT_RTOL * fabs(want[i]) + 1e-6 +
                             PRODUCT_MAGNITUDE_TOL * (1.1 * g_size[i] * fabs(u[i]) +
                                                      fabs(g[i]) * u_size[i]);
            worst = fmax(worst, fabs((double)got[i] - want[i]) / allowed);
        }
        CHECK_MSG(worst <= 1.0, "swiglu product %s: worst error %.3g of tolerance",
                  vkl_dtype_name(type), worst);
    }
    vkl_tensor_free(&paired);
    op_run_free(&run);
    free((void *)gate.data); free((void *)up.data); free(x); free(g); free(u);
    free(want); free(got); free(g_size); free(u_size);
}

/* A paired matrix is refused by the plain products, not read as one matrix. */
static void check_paired_refused(void)
{
    vkl_host_tensor gate = random_weights(VKL_DTYPE_F32, 8, 64);
    vkl_host_tensor up = random_weights(VKL_DTYPE_F32, 8, 64);
    op_run run;
    op_run_begin(&run, &fx, 1, 0, 1);
    vkl_tensor paired;
    CHECK(vkl_tensor_upload_pairs(&run.device_arena, &gate, &up, &paired, &run.err) == VKLLM_OK);
    vkl_buffer_view xv = op_floats(&run, NULL, 64);
    vkl_buffer_view yv = op_floats(&run, NULL, 16);
    vkl_op_matvec(&run.ops, &paired, &xv, &yv, 0);
    CHECK(vkl_recorder_end(&run.rec) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(run.err.message, "SwiGLU") != NULL, "%s", run.err.message);
    vkl_tensor_free(&paired);
    op_run_free(&run);
    free((void *)gate.data); free((void *)up.data);
}

/* A row longer than a CPU device's kernels can walk under lavapipe's loop
 * cap (65535 iterations an invocation) is refused when recorded, not summed
 * short. */
static void check_row_refused(int K, bool prompt)
{
    vkl_host_tensor w = random_weights(VKL_DTYPE_F32, 2, K);
    int batch = prompt ? 9 : 1;
    op_run run;
    op_run_begin(&run, &fx, batch, 0, batch);
    vkl_tensor wt = upload_weights(&run, &w, true);
    vkl_buffer_view xv = op_floats(&run, NULL, (size_t)batch * K);
    vkl_buffer_view yv = op_floats(&run, NULL, (size_t)batch * 2);
    if (prompt)
        vkl_op_matmul(&run.ops, &wt, &xv, &yv, 0);
    else
        vkl_op_matvec(&run.ops, &wt, &xv, &yv, 0);
    CHECK(vkl_recorder_end(&run.rec) == VKLLM_ERROR_UNSUPPORTED);
    CHECK_MSG(strstr(run.err.message, "too long") != NULL, "%s", run.err.message);
    vkl_tensor_free(&wt);
    op_run_free(&run);
    free((void *)w.data);
}

static void test_rows_near_loop_cap(void)
{
    if (!fx.dev->cpu_kernels)
        return;     /* GPU kernels split a row across a workgroup */
    /* The longest rows each kernel takes: 65000 chunks of 16 F32 weights in
     * the lanes layout, ROW_KERNEL_MAX_COLS (ops.c) in the row kernels. */
    bool lanes = fx.matrix_layout == VKL_LAYOUT_LANES;
    check_matvec(VKL_DTYPE_F32, 2, lanes ? 1040000 : 16384, 1);
    check_matmul(VKL_DTYPE_F32, 9, 9, 2, lanes ? 65536 : 16384);
    for (int prompt = 0; prompt <= 1; prompt++) {
        check_row_refused(1 << 20, prompt);
        check_row_refused((1 << 14) + 2, prompt);   /* no lanes form: the row kernels */
    }
}

static void test_swiglu_product(void)
{
    if (fx.matrix_layout != VKL_LAYOUT_LANES)
        return;     /* pairs exist only in the lanes layout */
    check_swiglu_product(VKL_DTYPE_F32, 1, 1, 37, 64);
    check_swiglu_product(VKL_DTYPE_F16, 7, 5, 37, 100);
    check_swiglu_product(VKL_DTYPE_Q8_0, 1, 1, 45, 96);
    check_swiglu_product(VKL_DTYPE_Q4_K, 6, 6, 19, 256);
    piece_limit = 1000;     /* one pair of Q6_K rows (320 bytes each) a piece */
    check_swiglu_product(VKL_DTYPE_Q6_K, 1, 1, 23, 256);
    check_swiglu_product(VKL_DTYPE_Q4_0, 9, 9, 23, 128);
    piece_limit = 0;
    check_paired_refused();
}

/* A model-sized matrix of each type. */
static void test_weights_large(void)
{
    const vkl_dtype types[] = {VKL_DTYPE_F32, VKL_DTYPE_F16, VKL_DTYPE_BF16, VKL_DTYPE_Q8_0,
                               VKL_DTYPE_Q4_0, VKL_DTYPE_Q4_K, VKL_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_matvec(types[i], 1000, 2048, 1);
        check_matmul(types[i], 16, 11, 1000, 2048);
    }
}

/* A row must be whole blocks: 172 weights are 5.375 blocks of Q8_0. */
static void test_upload_partial_block(void)
{
    uint8_t data[1024] = {0};
    vkl_host_tensor host = {data, VKL_DTYPE_Q8_0, 3, 172};
    vkl_arena arena;
    vkl_arena_init(&arena, fx.dev, false);
    vkl_tensor t;
    vkl_error err = {0};
    for (int layout = VKL_LAYOUT_BLOCKS; layout <= VKL_LAYOUT_LANES; layout++) {
        CHECK(vkl_tensor_upload(&arena, &host, layout, &t, &err) == VKLLM_ERROR_UNSUPPORTED);
        CHECK_MSG(strstr(err.message, "Q8_0") != NULL, "%s", err.message);
        vkl_tensor_free(&t);
    }
    vkl_arena_free(&arena);
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

/* Quantized rows split into pieces whose sizes are not whole words: Q8_0
 * rows of 96 weights are 102 bytes, 9 to a piece (918 bytes); Q6_K rows of
 * 256 are 210 bytes, 4 to a piece; Q4_K rows of 512 are 288 bytes, 3. */
static void test_pieces_quantized(void)
{
    piece_limit = 1000;
    uint32_t tokens[] = {0, 60, 31, 3, 59};
    const vkl_dtype types[] = {VKL_DTYPE_Q8_0, VKL_DTYPE_Q6_K, VKL_DTYPE_Q4_K};
    const int lengths[] = {96, 256, 512};
    for (int i = 0; i < 3; i++) {
        check_embed(types[i], 61, lengths[i], tokens, 5);
        check_add_positions(types[i], 61, lengths[i], 50, 7, 8);
        check_matvec(types[i], 61, lengths[i], 2);
        check_matmul(types[i], 9, 9, 61, lengths[i]);
    }
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

/* Rows far from zero mean, so that a one-pass variance would cancel. */
static void test_layernorm(void)
{
    const int T = 3, batch = 4, n = 1001;
    size_t count = (size_t)batch * n;
    float *x = random_floats(count, 3.0f), *w = random_floats(n, 1.0f);
    float *b = random_floats(n, 1.0f);
    float *want = calloc(count, 4), *got = malloc(count * 4);
    for (size_t i = 0; i < count; i++)
        x[i] += 20.0f;
    cpu_layernorm(want, x, w, b, T, n, 1e-5f);

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    vkl_buffer_view xv = op_floats(&run, x, count), wv = op_floats(&run, w, n);
    vkl_buffer_view bv = op_floats(&run, b, n), yv = op_floats(&run, NULL, count);
    vkl_op_layernorm(&run.ops, &xv, &wv, &bv, &yv, n, 1e-5f);
    if (op_run_execute(&run)) {
        op_read(&run, &yv, got, count);
        expect_close("layernorm", got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(w); free(b); free(want); free(got);
}

static void check_rope(int pos0, bool at_position, vkl_rope_style style)
{
    const int T = 4, heads = 5, head_size = 6, width = heads * head_size;
    const int context = pos0 + T + 5;
    float *x = random_floats((size_t)T * width, 1.0f);
    float *want = calloc((size_t)context * width, 4), *got = malloc((size_t)context * width * 4);
    float *want_rows = want + (at_position ? (size_t)pos0 * width : 0);
    memcpy(want_rows, x, (size_t)T * width * 4);
    if (style == VKL_ROPE_HALVES)
        cpu_rope_halves(want_rows, T, heads, head_size, pos0, 10000.0f);
    else
        cpu_rope(want_rows, T, heads, head_size, pos0, 10000.0f);

    op_run run;
    op_run_begin(&run, &fx, T, pos0, T);
    float *angles = malloc((size_t)context * head_size * sizeof *angles);
    vkl_rope_table_fill(angles, context, head_size, 10000.0f);
    vkl_buffer_view table = op_floats(&run, angles, (size_t)context * head_size);
    vkl_buffer_view src = op_floats(&run, x, (size_t)T * width);
    vkl_buffer_view dst = at_position ? op_floats(&run, NULL, (size_t)context * width) : src;
    vkl_op_rope(&run.ops, &table, &src, &dst, heads, head_size, style, at_position);
    size_t count = (size_t)(at_position ? context : T) * width;
    if (op_run_execute(&run)) {
        op_read(&run, &dst, got, count);
        expect_close("rope", got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(angles); free(want); free(got);
}

static void test_rope_in_place(void) { check_rope(7, false, VKL_ROPE_PAIRS); }
static void test_rope_into_cache(void) { check_rope(7, true, VKL_ROPE_PAIRS); }
static void test_rope_far_position(void) { check_rope(4000, false, VKL_ROPE_PAIRS); }
static void test_rope_halves_in_place(void) { check_rope(9, false, VKL_ROPE_HALVES); }
static void test_rope_halves_into_cache(void) { check_rope(9, true, VKL_ROPE_HALVES); }
static void test_rope_halves_far_position(void) { check_rope(3001, false, VKL_ROPE_HALVES); }



/* Fused attention against the CPU's grouped-query attention, its sequence
 * in `splits` parts. */
static void check_attention(int T, int pos0, int heads, int kv_heads, int head_size, int context,
                            int splits)
{
    int q_width = heads * head_size, kv_width = kv_heads * head_size;
    float *q = random_floats((size_t)T * q_width, 1.0f);
    float *k = random_floats((size_t)context * kv_width, 1.0f);
    float *v = random_floats((size_t)context * kv_width, 1.0f);
    float *want = malloc((size_t)T * q_width * 4), *got = malloc((size_t)T * q_width * 4);
    cpu_attention(want, q, k, v, T, pos0, heads, kv_heads, head_size);

    op_run run;
    op_run_begin(&run, &fx, T, pos0, T);
    vkl_attention_shape shape = {heads, kv_heads, head_size, context, splits};
    vkl_buffer_view qv = op_floats(&run, q, (size_t)T * q_width);
    vkl_buffer_view kv = op_floats(&run, k, (size_t)context * kv_width);
    vkl_buffer_view vv = op_floats(&run, v, (size_t)context * kv_width);
    vkl_buffer_view parts = op_floats(&run, NULL, vkl_attention_parts_floats(&shape, T) + 1);
    vkl_buffer_view out = op_floats(&run, NULL, (size_t)T * q_width);
    vkl_op_attention(&run.ops, &shape, &qv, &kv, &vv, &parts, &out);
    if (op_run_execute(&run)) {
        op_read(&run, &out, got, (size_t)T * q_width);
        expect_close("attention", got, want, (size_t)T * q_width, SUM_ATOL, SUM_RTOL);
    }
    op_run_free(&run);
    free(q); free(k); free(v); free(want); free(got);
}

/* Head sizes of 10 (not whole texels), 16 and 8; one part or several. */
static void test_attention_gqa(void) { check_attention(3, 5, 6, 2, 10, 16, 1); }
static void test_attention_decode_long(void) { check_attention(1, 999, 8, 8, 16, 1000, 1); }
static void test_attention_prefill(void) { check_attention(37, 0, 4, 1, 8, 40, 1); }
static void test_attention_split(void) { check_attention(5, 13, 6, 2, 16, 19, 4); }
static void test_attention_split_odd_head(void) { check_attention(3, 5, 6, 3, 10, 16, 3); }
/* Heads wider than a GPU workgroup's 128 invocations, and positions that
 * end just past a 256-position chunk of the GPU kernel. */
static void test_attention_head_128_split(void) { check_attention(1, 4095, 8, 2, 128, 4096, 8); }
static void test_attention_head_256(void) { check_attention(2, 1030, 4, 1, 256, 1032, 3); }
static void test_attention_head_96(void) { check_attention(3, 700, 6, 2, 96, 703, 1); }
static void test_attention_chunk_edges(void) { check_attention(3, 254, 2, 1, 32, 257, 1); }
static void test_attention_split_long(void)
{
    check_attention(2, 1998, 8, 2, 64, 2000, vkl_attention_splits(2000));
}

/* ------------------------------------------------------------------------ */

static void test_swiglu_copy(void)
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
    vkl_op_copy_rows(&run.ops, &out, &cache, n);    /* cache[pos0 + t] = out[t] */

    memset(want, 0, (size_t)batch * n * 4);
    cpu_swiglu(want, g, u, T * n);
    if (op_run_execute(&run)) {
        op_read(&run, &cache, got, (size_t)context * n);
        expect_close("copy_rows(swiglu)", got + (size_t)pos0 * n, want, (size_t)T * n,
                     ELEM_ATOL, ELEM_RTOL);
        float zeros[333] = {0};
        expect_close("rows outside the step", got, zeros, n, 0.0, 1e-30);
    }
    op_run_free(&run);
    free(g); free(u); free(want); free(got);
}

/* out = gelu(x), in place or not, then out += bias; rows past the step keep
 * what they held. */
static void check_gelu_bias(bool in_place)
{
    const int T = 3, batch = 5, n = 333;
    size_t count = (size_t)batch * n;
    float *x = random_floats(count, 6.0f), *bias = random_floats(n, 1.0f);
    float *want = malloc(count * 4), *got = malloc(count * 4);
    if (in_place)
        memcpy(want, x, count * 4);
    else
        memset(want, 0, count * 4);
    cpu_gelu(want, x, T * n);
    for (int i = 0; i < T * n; i++)
        want[i] += bias[i % n];

    op_run run;
    op_run_begin(&run, &fx, batch, 0, T);
    vkl_buffer_view xv = op_floats(&run, x, count), bv = op_floats(&run, bias, n);
    vkl_buffer_view out = in_place ? xv : op_floats(&run, NULL, count);
    vkl_op_gelu(&run.ops, &xv, &out, n);
    vkl_op_add_bias(&run.ops, &out, &bv, n);
    if (op_run_execute(&run)) {
        op_read(&run, &out, got, count);
        expect_close("gelu + bias", got, want, count, ELEM_ATOL, ELEM_RTOL);
    }
    op_run_free(&run);
    free(x); free(bias); free(want); free(got);
}

static void test_gelu_bias_in_place(void) { check_gelu_bias(true); }
static void test_gelu_bias_apart(void) { check_gelu_bias(false); }

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
    RUN(test_matmul_many_tokens);
    RUN(test_matmul_long_rows_many_tokens);
    RUN(test_embed);
    RUN(test_weights_f32);
    RUN(test_weights_f16);
    RUN(test_weights_bf16);
    RUN(test_weights_q8_0);
    RUN(test_weights_q4_0);
    RUN(test_weights_q4_k);
    RUN(test_weights_q6_k);
    RUN(test_weights_partial_chunks);
    RUN(test_products_add);
    RUN(test_products_x_mean);
    RUN(test_rows_near_loop_cap);
    RUN(test_swiglu_product);
    RUN(test_weights_large);
    RUN(test_upload_partial_block);
    RUN(test_pieces_small_limit);
    RUN(test_pieces_quantized);
    RUN(test_tensor_above_storage_range);
    RUN(test_rmsnorm);
    RUN(test_layernorm);
    RUN(test_rope_in_place);
    RUN(test_rope_into_cache);
    RUN(test_rope_far_position);
    RUN(test_rope_halves_in_place);
    RUN(test_rope_halves_into_cache);
    RUN(test_rope_halves_far_position);
    RUN(test_attention_gqa);
    RUN(test_attention_decode_long);
    RUN(test_attention_prefill);
    RUN(test_attention_split);
    RUN(test_attention_split_odd_head);
    RUN(test_attention_split_long);
    RUN(test_attention_head_128_split);
    RUN(test_attention_head_256);
    RUN(test_attention_head_96);
    RUN(test_attention_chunk_edges);
    RUN(test_swiglu_copy);
    RUN(test_gelu_bias_in_place);
    RUN(test_gelu_bias_apart);
}

int main(void)
{
    RUN(test_codec_round_trip);
    RUN(test_coopmat_pick);
    if (!gpu_fixture_open(&fx))
        return 1;
    fx.matrix_layout = vkl_ops_matrix_layout(fx.dev);
    run_all();

    /* The products again with matrices as blocks, read by the row kernels a
     * CPU device gets where the lanes layout does not apply. */
    if (fx.matrix_layout != VKL_LAYOUT_BLOCKS) {
        fx.matrix_layout = VKL_LAYOUT_BLOCKS;
        fprintf(stderr, "with matrices as blocks:\n");
        run_all();
    }

    /* Every kernel again as a GPU gets it (the same pass again on a GPU): wide
     * row workgroups, one matrix-vector row a workgroup, shared-memory tiles,
     * caches read as storage buffers. */
    bool cpu_kernels = fx.dev->cpu_kernels;
    fx.dev->cpu_kernels = false;
    fprintf(stderr, "with the GPU kernels:\n");
    run_all();

    /* And with the shapes of a device with small limits and no subgroup
     * arithmetic: shared-memory reductions, the smallest matmul blocks. */
    fx.small_gpu = true;
    fprintf(stderr, "with small GPU shapes:\n");
    run_all();
    fx.dev->cpu_kernels = cpu_kernels;
    gpu_fixture_close(&fx);
    TEST_MAIN_END();
}
