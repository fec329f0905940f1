/* vkllm-gguf's pieces: the quantizers round-trip within their stated error
 * and exactly on values they can represent; synthesized models open in the
 * GGUF reader and the model loader with the shapes, types and metadata
 * written; and a converted stories260K matches llama.cpp's own GGUF files
 * tensor for tensor, byte for byte. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_convert.h"
#include "model/gguf.h"
#include "model/gguf_vocab.h"
#include "model/model_file.h"
#include "quantize.h"
#include "test.h"
#include "text/tokenizer.h"

#define STORIES_DIR VKLLM_MODELS_DIR "/stories260K"
#define STORIES_BIN STORIES_DIR "/stories260K.bin"
#define STORIES_TOK STORIES_DIR "/tok512.bin"
#define STORIES_GGUF STORIES_DIR "/stories260K.gguf"
#define STORIES_F16_GGUF STORIES_DIR "/stories260K-f16.gguf"
#define STORIES_Q8_0_GGUF STORIES_DIR "/stories260K-q8_0.gguf"
#define GPT2_VOCAB VKLLM_MODELS_DIR "/vocab/ggml-vocab-gpt-2.gguf"

#define ROW 1024                    /* a whole number of blocks of every type */

static const vkl_dtype all_types[] = {
    VKL_DTYPE_F32, VKL_DTYPE_F16, VKL_DTYPE_BF16, VKL_DTYPE_Q8_0,
    VKL_DTYPE_Q4_0, VKL_DTYPE_Q4_K, VKL_DTYPE_Q6_K,
};
#define TYPE_COUNT (sizeof all_types / sizeof *all_types)

/* Where generated models go; made in main. */
static char temp_dir[] = "/tmp/vkllm_test_gguf_writer_XXXXXX";

static void temp_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", temp_dir, name);
}

/* ------------------------------------------------------------------------ */
/* Quantizers                                                                */

static uint64_t test_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Uniform in [-1, 1). */
static float test_uniform(uint64_t *state)
{
    return (float)(test_random(state) >> 40) / 8388608.0f - 1.0f;
}

/* Rows that stress different parts of a quantizer: symmetric, one-sided,
 * an outlier per block, tiny values, a constant. */
static void fill_row(int kind, uint64_t *state, float *x)
{
    for (int i = 0; i < ROW; i++) {
        float u = test_uniform(state);
        switch (kind) {
        case 0: x[i] = u; break;
        case 1: x[i] = 3.0f + u; break;
        case 2: x[i] = -0.5f + 0.25f * u; break;
        case 3: x[i] = i % 32 == 5 ? 40.0f * u : 0.1f * u; break;
        case 4: x[i] = 1e-4f * u; break;
        default: x[i] = -0.75f; break;
        }
    }
}
#define ROW_KINDS 6

/* Largest |x|, and the span of x with zero included, over n values. */
static void block_extent(const float *x, int n, float *amax, float *span)
{
    float lo = 0.0f, hi = 0.0f;
    *amax = 0.0f;
    for (int i = 0; i < n; i++) {
        *amax = fmaxf(*amax, fabsf(x[i]));
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    *span = hi - lo;
}

/* The largest error allowed on x[i]; block holds the whole block around it.
 *   F16: half an ulp, 2^-11 relative (2^-25 absolute below 2^-14).
 *   BF16: half an ulp, 2^-8 relative.
 *   Q8_0: d = amax / 127; rounding costs d / 2 and storing d as a half up to
 *         127 * d * 2^-11 more: 0.57 d.
 *   Q4_0: d = amax / 8; the far end of the range can clip by up to d.
 *   Q4_K: steps of at most span / 15 grown by the rounded-up 6-bit scales
 *         and mins (a factor under 1.04); half a step is under span / 28.
 *   Q6_K: steps of at most amax / 31 grown by under 1 %; half a step is
 *         under amax / 61.
 * A scale below 2^-14 is a subnormal half, off by up to 2^-25 absolute
 * rather than relative; each code multiplies that, hence the slack terms. */
static float error_bound(vkl_dtype type, const float *block, int n, float x)
{
    float amax, span;
    block_extent(block, n, &amax, &span);
    switch (type) {
    case VKL_DTYPE_F32: return 0.0f;
    case VKL_DTYPE_F16: return fmaxf(fabsf(x) * 0x1p-11f, 0x1p-25f);
    case VKL_DTYPE_BF16: return fabsf(x) * 0x1p-8f;
    case VKL_DTYPE_Q8_0: return 0.57f * amax / 127.0f + 127.0f * 0x1p-25f;
    case VKL_DTYPE_Q4_0: return 1.01f * amax / 8.0f + 8.0f * 0x1p-25f;
    case VKL_DTYPE_Q4_K: return span / 28.0f + 0x1p-24f;
    default: return amax / 61.0f + 0x1p-25f;
    }
}

static int block_of(vkl_dtype type)
{
    uint32_t weights, bytes;
    vkl_dtype_layout(type, &weights, &bytes);
    return (int)weights;
}

/* Quantizes and dequantizes x; the worst error over bound (0 when within). */
static float round_trip_excess(vkl_dtype type, const float *x, float *back)
{
    static uint8_t encoded[ROW * sizeof(float)];
    CHECK(quantize_row(type, x, encoded, ROW));
    dequantize_row(type, encoded, back, ROW);

    int block = type == VKL_DTYPE_F32 || type == VKL_DTYPE_F16 || type == VKL_DTYPE_BF16
                    ? 1 : block_of(type);
    float excess = 0.0f;
    for (int i = 0; i < ROW; i++) {
        const float *start = x + i / block * block;
        float error = fabsf(back[i] - x[i]) - error_bound(type, start, block, x[i]);
        excess = fmaxf(excess, error);
    }
    return excess;
}

static void test_round_trip_within_bounds(void)
{
    static float x[ROW], back[ROW];
    uint64_t state = 0x1234567887654321u;

    for (size_t t = 0; t < TYPE_COUNT; t++) {
        for (int kind = 0; kind < ROW_KINDS; kind++) {
            fill_row(kind, &state, x);
            float excess = round_trip_excess(all_types[t], x, back);
            CHECK_MSG(excess <= 1e-7f, "%s, rows of kind %d: an error exceeds its bound by %g",
                      vkl_dtype_name(all_types[t]), kind, excess);
        }
    }
}

/* Fills x with step * code, codes cycling through lo .. hi so that every
 * block of `block` values holds both ends. */
static void fill_codes(float *x, float step, int lo, int hi, int block)
{
    for (int i = 0; i < ROW; i++) {
        int k = i % block;
        int code = k == 0 ? lo : k == 1 ? hi : lo + (k * 7) % (hi - lo + 1);
        x[i] = step * (float)code;
    }
}

static void check_exact(vkl_dtype type, const float *x, const char *what)
{
    static float back[ROW];
    static uint8_t encoded[ROW * sizeof(float)];
    CHECK(quantize_row(type, x, encoded, ROW));
    dequantize_row(type, encoded, back, ROW);

    int wrong = 0;
    for (int i = 0; i < ROW; i++)
        wrong += back[i] != x[i];
    CHECK_MSG(wrong == 0, "%s, %s: %d values changed", vkl_dtype_name(type), what, wrong);
}

/* Each type reproduces exactly what its grid holds: the steps below are
 * ones the quantizer itself picks for those ranges. */
static void test_round_trip_exact_on_grid(void)
{
    static float x[ROW];

    memset(x, 0, sizeof x);
    for (size_t t = 0; t < TYPE_COUNT; t++)
        check_exact(all_types[t], x, "zeros");

    for (int i = 0; i < ROW; i++)
        x[i] = (float)(i % 64 - 32) / 256.0f + (float)(i % 3);
    check_exact(VKL_DTYPE_F32, x, "any values");
    check_exact(VKL_DTYPE_F16, x, "eleven-bit values");

    fill_codes(x, 0x1p-7f, -255, 255, 64);
    check_exact(VKL_DTYPE_BF16, x, "eight-bit values");

    fill_codes(x, 0x1p-7f, -127, 127, 32);
    check_exact(VKL_DTYPE_Q8_0, x, "int8 multiples of d");
    fill_codes(x, 0x1p-4f, -8, 7, 32);
    check_exact(VKL_DTYPE_Q4_0, x, "-8 .. 7 times d");

    /* Q4_K: step 63/128 and min 63/16 are 63 times the halves 1/128, 1/16. */
    fill_codes(x, 63.0f / 128.0f, -8, 7, 32);
    check_exact(VKL_DTYPE_Q4_K, x, "codes with a min");
    fill_codes(x, 63.0f / 128.0f, 0, 15, 32);
    check_exact(VKL_DTYPE_Q4_K, x, "codes without a min");

    /* Q6_K: step 127/128 is the scale 127 times the half 1/128. */
    fill_codes(x, 127.0f / 128.0f, -31, 31, 16);
    check_exact(VKL_DTYPE_Q6_K, x, "six-bit codes");
}

static void test_quantize_refuses_partial_blocks(void)
{
    static float x[ROW];
    static uint8_t out[ROW * sizeof(float)];
    CHECK(!quantize_row(VKL_DTYPE_Q8_0, x, out, 48));
    CHECK(!quantize_row(VKL_DTYPE_Q4_K, x, out, 128));
    CHECK(!quantize_row((vkl_dtype)99, x, out, 32));
    CHECK(quantize_row(VKL_DTYPE_F16, x, out, 3));
}

/* ------------------------------------------------------------------------ */
/* Synthesized models                                                        */

static vkl_dtype expected_type(vkl_dtype wanted, int64_t cols)
{
    return vkl_dtype_row_bytes(wanted, (uint64_t)cols) != 0 ? wanted : VKL_DTYPE_F32;
}

static vkllm_status synth(const char *shape, vkl_dtype type, vkl_dtype output_type,
                          int32_t layers, uint64_t seed, const char *vocab, const char *path)
{
    gguf_synth_options o = {.shape = shape, .out_path = path, .vocab_path = vocab,
                            .type = type, .output_type = output_type, .seed = seed,
                            .layers = layers};
    vkl_error err = {0};
    vkllm_status s = gguf_synth(&o, &err);
    CHECK_MSG(s == VKLLM_OK || vocab != NULL, "synth %s: %s", shape, err.message);
    return s;
}

static bool u32_is(const vkl_gguf *g, const char *key, uint32_t want)
{
    uint32_t got = 0;
    return vkl_gguf_get_u32(g, key, &got) && got == want;
}

static void check_tiny_metadata(const vkl_gguf *g)
{
    vkl_gguf_string s;
    float eps = 0.0f, theta = 0.0f;
    CHECK(g->version == 3 && g->alignment == 32);
    CHECK(vkl_gguf_get_string(g, "general.architecture", &s) && vkl_gguf_string_is(s, "llama"));
    CHECK(u32_is(g, "llama.embedding_length", 128) && u32_is(g, "llama.block_count", 2));
    CHECK(u32_is(g, "llama.attention.head_count", 8));
    CHECK(u32_is(g, "llama.attention.head_count_kv", 2));
    CHECK(u32_is(g, "llama.feed_forward_length", 352));
    CHECK(u32_is(g, "llama.context_length", 256));
    CHECK(vkl_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps) && eps == 1e-5f);
    CHECK(vkl_gguf_get_f32(g, "llama.rope.freq_base", &theta) && theta == 10000.0f);
    CHECK(u32_is(g, "tokenizer.ggml.bos_token_id", 1));
    CHECK(u32_is(g, "tokenizer.ggml.eos_token_id", 2));
    CHECK(vkl_gguf_get_string(g, "tokenizer.ggml.model", &s) && vkl_gguf_string_is(s, "llama"));
}

/* The synthetic vocabulary: specials, byte tokens, then unique pieces. */
static void check_synth_vocab(const vkl_gguf *g, uint64_t count)
{
    const vkl_gguf_array *tokens = vkl_gguf_get_array(g, "tokenizer.ggml.tokens");
    const vkl_gguf_array *types = vkl_gguf_get_array(g, "tokenizer.ggml.token_type");
    CHECK(tokens != NULL && tokens->count == count && types != NULL && types->count == count);
    if (tokens == NULL || types == NULL || types->type != VKL_GGUF_INT32)
        return;

    const int32_t *t = types->data;
    CHECK(vkl_gguf_string_is(tokens->strings[0], "<unk>") && t[0] == VKL_TOKEN_UNKNOWN);
    CHECK(vkl_gguf_string_is(tokens->strings[1], "<s>") && t[1] == VKL_TOKEN_CONTROL);
    CHECK(vkl_gguf_string_is(tokens->strings[3 + 0x41], "<0x41>") && t[3 + 0x41] == 6);
    CHECK(vkl_gguf_string_is(tokens->strings[259], "\xe2\x96\x81") && t[259] == 1);

    int duplicates = 0;
    for (uint64_t i = 0; i < count; i++) {
        for (uint64_t j = i + 1; j < count; j++) {
            vkl_gguf_string a = tokens->strings[i], b = tokens->strings[j];
            duplicates += a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        }
    }
    CHECK(duplicates == 0);
}

static void check_tiny_config(const vkl_model_config *c)
{
    CHECK(strcmp(c->arch_name, "llama") == 0 && c->norm == VKL_NORM_RMS);
    CHECK(c->dim == 128 && c->hidden_dim == 352 && c->n_layers == 2);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 2 && c->head_size == 16);
    CHECK(c->vocab_size == 512 && c->context_length == 256 && !c->tied_output);
    CHECK(c->norm_eps == 1e-5f && c->rope_theta == 10000.0f);
}

/* Every value finite and in its range: norms near 1, biases small, matrices
 * within 1/sqrt(row length) plus the rounding. */
static bool values_in_range(const vkl_host_tensor *t, bool norm)
{
    float *row = malloc((size_t)t->cols * sizeof *row);
    uint64_t row_bytes = vkl_dtype_row_bytes(t->type, (uint64_t)t->cols);
    float limit = 1.1f / sqrtf((float)t->cols);
    bool ok = row != NULL;

    for (int64_t r = 0; ok && r < t->rows; r++) {
        dequantize_row(t->type, (const uint8_t *)t->data + r * row_bytes, row, t->cols);
        for (int64_t i = 0; ok && i < t->cols; i++)
            ok = isfinite(row[i]) && (norm ? fabsf(row[i] - 1.0f) <= 0.11f
                                           : fabsf(row[i]) <= limit);
    }
    free(row);
    return ok;
}

static void check_tiny_weights(const vkl_model_file *f, vkl_dtype type)
{
    const vkl_model_weights *w = &f->weights;
    CHECK(w->token_embd.type == expected_type(type, 128));
    CHECK(w->output.type == expected_type(type, 128) && w->output.data != w->token_embd.data);
    CHECK(w->output_norm.type == VKL_DTYPE_F32 && values_in_range(&w->output_norm, true));

    for (int l = 0; l < 2; l++) {
        const vkl_layer_weights *layer = &w->layers[l];
        CHECK(layer->wq.rows == 128 && layer->wk.rows == 32 && layer->wv.rows == 32);
        CHECK(layer->wq.type == expected_type(type, 128));
        CHECK(layer->w_gate.type == expected_type(type, 128));
        CHECK(layer->w_down.type == expected_type(type, 352) && layer->w_down.cols == 352);
        CHECK(layer->attn_norm.type == VKL_DTYPE_F32 && layer->bq.data == NULL);
        CHECK(values_in_range(&layer->wk, false) && values_in_range(&layer->w_down, false));
        CHECK(values_in_range(&layer->ffn_norm, true));
    }
}

static void check_tiny_file(const char *path, vkl_dtype type)
{
    vkl_error err = {0};
    vkl_gguf *g = NULL;
    CHECK_MSG(vkl_gguf_open(path, &g, &err) == VKLLM_OK, "%s", err.message);
    if (g != NULL) {
        check_tiny_metadata(g);
        CHECK(g->tensor_count == 21);
        CHECK(vkl_gguf_find_tensor(g, "blk.1.ffn_gate.weight") != NULL);
        check_synth_vocab(g, 512);
    }
    vkl_gguf_close(g);

    vkl_model_file *f = NULL;
    CHECK_MSG(vkl_model_file_open_gguf(path, &f, &err) == VKLLM_OK, "%s", err.message);
    if (f != NULL) {
        check_tiny_config(&f->config);
        check_tiny_weights(f, type);
    }
    vkl_model_file_close(f);
}

static void test_synth_tiny_in_each_type(void)
{
    for (size_t t = 0; t < TYPE_COUNT; t++) {
        char path[256];
        temp_path("tiny.gguf", path, sizeof path);
        if (synth("llama-tiny-gqa", all_types[t], all_types[t], 0, 7, NULL, path) == VKLLM_OK)
            check_tiny_file(path, all_types[t]);
        unlink(path);
    }
}

/* Rewrites the u32 value of a metadata key in a GGUF file in place: the key's
 * string is followed by its type (4 bytes) and then the value. */
static bool patch_u32(const char *path, const char *key, uint32_t value)
{
    FILE *f = fopen(path, "r+b");
    if (f == NULL)
        return false;
    char head[4096];
    size_t n = fread(head, 1, sizeof head, f);
    size_t len = strlen(key);
    bool patched = false;
    for (size_t i = 0; !patched && i + len + 8 <= n; i++) {
        if (memcmp(head + i, key, len) == 0) {
            unsigned char bytes[4] = {value & 255, value >> 8 & 255, value >> 16 & 255,
                                      value >> 24};
            patched = fseek(f, (long)(i + len + 4), SEEK_SET) == 0 &&
                      fwrite(bytes, 1, 4, f) == 4;
        }
    }
    fclose(f);
    return patched;
}

/* Rotary embeddings over part of each head are refused, not computed as if
 * they covered the whole head (16 elements in llama-tiny-gqa). */
static void test_partial_rotary_refused(void)
{
    char path[256];
    temp_path("partial_rope.gguf", path, sizeof path);
    if (synth("llama-tiny-gqa", VKL_DTYPE_F32, VKL_DTYPE_F32, 0, 7, NULL, path) != VKLLM_OK)
        return;
    CHECK(patch_u32(path, "llama.rope.dimension_count", 8));

    vkl_model_file *f = NULL;
    vkl_error err = {0};
    CHECK(vkl_model_file_open_gguf(path, &f, &err) == VKLLM_ERROR_UNSUPPORTED);
    CHECK_MSG(strstr(err.message, "rotary embeddings over 8 of each head's 16") != NULL, "%s",
              err.message);
    vkl_model_file_close(f);
    unlink(path);
}

/* A .gguf file whose magic is damaged is reported as a bad GGUF file, not
 * read as a llama2.c checkpoint. */
static void test_damaged_magic_named_gguf(void)
{
    char path[256];
    temp_path("damaged.gguf", path, sizeof path);
    if (synth("llama-tiny-gqa", VKL_DTYPE_F32, VKL_DTYPE_F32, 0, 7, NULL, path) != VKLLM_OK)
        return;
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL && fwrite("GGUX", 1, 4, f) == 4);
    if (f != NULL)
        fclose(f);

    vkl_model_file *file = NULL;
    vkl_error err = {0};
    CHECK(vkl_model_file_open(path, &file, &err) != VKLLM_OK);
    CHECK_MSG(strstr(err.message, "not a GGUF file") != NULL, "%s", err.message);
    vkl_model_file_close(file);
    unlink(path);
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa != NULL && fb != NULL;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa != NULL) fclose(fa);
    if (fb != NULL) fclose(fb);
    return same;
}

static void test_synth_is_deterministic(void)
{
    char a[256], b[256], c[256];
    temp_path("seed7a.gguf", a, sizeof a);
    temp_path("seed7b.gguf", b, sizeof b);
    temp_path("seed8.gguf", c, sizeof c);

    synth("llama-tiny-gqa", VKL_DTYPE_Q8_0, VKL_DTYPE_Q8_0, 0, 7, NULL, a);
    synth("llama-tiny-gqa", VKL_DTYPE_Q8_0, VKL_DTYPE_Q8_0, 0, 7, NULL, b);
    synth("llama-tiny-gqa", VKL_DTYPE_Q8_0, VKL_DTYPE_Q8_0, 0, 8, NULL, c);
    CHECK(same_file(a, b));
    CHECK(!same_file(a, c));
    unlink(a);
    unlink(b);
    unlink(c);
}

/* Any text encodes with the synthetic vocabulary and decodes back. */
static void test_synth_vocab_tokenizes_anything(void)
{
    static const char text[] = "Hello, wörld! 42 \xe6\x97\xa5\xe6\x9c\xac {x}";
    char path[256];
    temp_path("vocab.gguf", path, sizeof path);
    synth("llama-tiny-gqa", VKL_DTYPE_F16, VKL_DTYPE_F16, 1, 1, NULL, path);

    vkl_error err = {0};
    vkl_gguf *g = NULL;
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_gguf_open(path, &g, &err) == VKLLM_OK);
    CHECK_MSG(g != NULL && vkl_gguf_vocab_load(g, &tok, &err) == VKLLM_OK, "%s", err.message);

    int32_t ids[128];
    size_t count = 0;
    char decoded[256] = "";
    CHECK(tok != NULL && vkl_tokenizer_encode(tok, text, strlen(text), true, ids, 128, &count,
                                              &err) == VKLLM_OK);
    for (size_t i = 1; tok != NULL && i < count; i++) {
        size_t len = 0;
        const char *piece = vkl_tokenizer_piece(tok, ids[i - 1], ids[i], &len);
        if (piece != NULL && strlen(decoded) + len < sizeof decoded)
            strncat(decoded, piece, len);
    }
    CHECK_MSG(strcmp(decoded, text) == 0, "decoded '%s'", decoded);
    vkl_tokenizer_free(tok);
    vkl_gguf_close(g);
    unlink(path);
}

/* A real width, where the K-quants apply, with a distinct classifier type. */
static void test_synth_wide_k_quants(void)
{
    char path[256];
    vkl_error err = {0};
    vkl_model_file *f = NULL;
    temp_path("llama110m.gguf", path, sizeof path);
    synth("llama-110m", VKL_DTYPE_Q4_K, VKL_DTYPE_Q6_K, 1, 3, NULL, path);

    CHECK_MSG(vkl_model_file_open_gguf(path, &f, &err) == VKLLM_OK, "%s", err.message);
    if (f != NULL) {
        const vkl_layer_weights *layer = &f->weights.layers[0];
        CHECK(f->config.dim == 768 && f->config.n_layers == 1 && f->config.vocab_size == 32000);
        CHECK(f->weights.token_embd.type == VKL_DTYPE_Q4_K);
        CHECK(f->weights.output.type == VKL_DTYPE_Q6_K);
        CHECK(layer->wq.type == VKL_DTYPE_Q4_K && layer->w_down.type == VKL_DTYPE_Q4_K);
        CHECK(values_in_range(&layer->wv, false) && values_in_range(&f->weights.output, false));
    }
    vkl_model_file_close(f);
    unlink(path);
}

static void check_gpt2_model(const vkl_model_file *f)
{
    const vkl_model_config *c = &f->config;
    const vkl_layer_weights *layer = &f->weights.layers[0];
    CHECK(strcmp(c->arch_name, "gpt2") == 0 && c->norm == VKL_NORM_LAYER);
    CHECK(c->dim == 768 && c->n_layers == 1 && c->vocab_size == 50257);
    CHECK(c->context_length == 1024 && c->hidden_dim == 3072 && c->tied_output);
    CHECK(f->weights.pos_embd.rows == 1024 && f->weights.output_norm_bias.data != NULL);
    CHECK(layer->wq.rows == 768 && layer->wv.rows == 768 && layer->bv.data != NULL);
    CHECK(layer->attn_norm_bias.data != NULL && layer->b_up.cols == 3072);
    CHECK(layer->wq.type == VKL_DTYPE_Q8_0 && layer->w_gate.data == NULL);
}

/* GPT-2's shape with llama.cpp's GPT-2 vocabulary copied in. */
static void test_synth_gpt2_with_vocab(void)
{
    char path[256];
    vkl_error err = {0};
    vkl_model_file *f = NULL;
    temp_path("gpt2.gguf", path, sizeof path);
    CHECK(synth("gpt2-124m", VKL_DTYPE_Q8_0, VKL_DTYPE_Q8_0, 1, 1, GPT2_VOCAB, path) ==
          VKLLM_OK);

    CHECK_MSG(vkl_model_file_open_gguf(path, &f, &err) == VKLLM_OK, "%s", err.message);
    if (f != NULL) {
        const vkl_gguf_array *merges = vkl_gguf_get_array(f->gguf, "tokenizer.ggml.merges");
        vkl_gguf_string model;
        check_gpt2_model(f);
        CHECK(merges != NULL && merges->count == 50000);
        CHECK(vkl_gguf_get_string(f->gguf, "tokenizer.ggml.model", &model) &&
              vkl_gguf_string_is(model, "gpt2"));
        CHECK(u32_is(f->gguf, "tokenizer.ggml.eos_token_id", 50256));
    }
    vkl_model_file_close(f);
    unlink(path);
}

static void test_synth_refuses_a_vocab_of_another_size(void)
{
    char path[256];
    temp_path("mismatch.gguf", path, sizeof path);
    CHECK(synth("llama-tiny-gqa", VKL_DTYPE_F16, VKL_DTYPE_F16, 0, 1, GPT2_VOCAB, path) ==
          VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(access(path, F_OK) != 0);
    CHECK(synth("no-such-shape", VKL_DTYPE_F16, VKL_DTYPE_F16, 0, 1, GPT2_VOCAB, path) ==
          VKLLM_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Converting stories260K                                                    */

static vkllm_status convert(vkl_dtype type, const char *path)
{
    gguf_convert_options o = {.model_path = STORIES_BIN, .tokenizer_path = STORIES_TOK,
                              .out_path = path, .type = type, .output_type = type};
    vkl_error err = {0};
    vkllm_status s = gguf_convert_llama2c(&o, &err);
    CHECK_MSG(s == VKLLM_OK, "convert: %s", err.message);
    return s;
}

static bool same_tensor(const vkl_gguf_tensor *a, const vkl_gguf_tensor *b)
{
    return a != NULL && b != NULL && a->n_dims == b->n_dims && a->type == b->type &&
           memcmp(a->dims, b->dims, sizeof a->dims) == 0 && a->bytes == b->bytes &&
           memcmp(a->data, b->data, (size_t)a->bytes) == 0;
}

/* Every tensor written equals the reference's tensor of that name. */
static void check_tensors_match(const vkl_gguf *mine, const vkl_gguf *ref)
{
    for (uint64_t i = 0; i < mine->tensor_count; i++) {
        const vkl_gguf_tensor *t = &mine->tensors[i];
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.data);
        CHECK_MSG(same_tensor(t, vkl_gguf_find_tensor(ref, name)), "tensor %s differs", name);
    }

    /* The reference writes the tied classifier out; it is the embedding. */
    const vkl_gguf_tensor *out = vkl_gguf_find_tensor(ref, "output.weight");
    const vkl_gguf_tensor *embd = vkl_gguf_find_tensor(mine, "token_embd.weight");
    CHECK(embd != NULL && out != NULL && embd->bytes == out->bytes &&
          memcmp(embd->data, out->data, (size_t)out->bytes) == 0);
    CHECK(vkl_gguf_find_tensor(mine, "output.weight") == NULL);
    CHECK(mine->tensor_count + 1 == ref->tensor_count);
}

static bool same_array(const vkl_gguf *a, const vkl_gguf *b, const char *key)
{
    const vkl_gguf_array *x = vkl_gguf_get_array(a, key), *y = vkl_gguf_get_array(b, key);
    if (x == NULL || y == NULL || x->type != y->type || x->count != y->count)
        return false;
    if (x->type != VKL_GGUF_STRING)
        return memcmp(x->data, y->data, (size_t)x->count * 4) == 0;
    for (uint64_t i = 0; i < x->count; i++) {
        if (x->strings[i].len != y->strings[i].len ||
            memcmp(x->strings[i].data, y->strings[i].data, x->strings[i].len) != 0)
            return false;
    }
    return true;
}

static void check_configs_agree(const vkl_model_config *a, const vkl_model_config *b)
{
    CHECK(a->dim == b->dim && a->hidden_dim == b->hidden_dim && a->n_layers == b->n_layers);
    CHECK(a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads);
    CHECK(a->head_size == b->head_size && a->vocab_size == b->vocab_size);
    CHECK(a->norm_eps == b->norm_eps && a->rope_theta == b->rope_theta);
    CHECK(a->rope == b->rope && a->norm == b->norm && a->ffn == b->ffn);
}

/* Both hyperparameter sets: the reference GGUF's, and the checkpoint's
 * (whose context of 512 the reference replaced with a default of 2048). */
static void check_hparams(const char *path, const char *ref_path)
{
    vkl_error err = {0};
    vkl_model_file *mine = NULL, *ref = NULL, *bin = NULL;
    CHECK_MSG(vkl_model_file_open_gguf(path, &mine, &err) == VKLLM_OK, "%s", err.message);
    CHECK(vkl_model_file_open_gguf(ref_path, &ref, &err) == VKLLM_OK);
    CHECK(vkl_model_file_open_llama2c(STORIES_BIN, &bin, &err) == VKLLM_OK);

    if (mine != NULL && ref != NULL && bin != NULL) {
        check_configs_agree(&mine->config, &ref->config);
        check_configs_agree(&mine->config, &bin->config);
        CHECK(mine->config.context_length == bin->config.context_length);
        CHECK(mine->config.tied_output);
    }
    vkl_model_file_close(mine);
    vkl_model_file_close(ref);
    vkl_model_file_close(bin);
}

/* Converts at type and compares with llama.cpp's file of that type. */
static void check_conversion(vkl_dtype type, const char *ref_path, const char *name)
{
    char path[256];
    temp_path(name, path, sizeof path);
    if (convert(type, path) != VKLLM_OK)
        return;

    vkl_error err = {0};
    vkl_gguf *mine = NULL, *ref = NULL;
    CHECK(vkl_gguf_open(path, &mine, &err) == VKLLM_OK);
    CHECK(vkl_gguf_open(ref_path, &ref, &err) == VKLLM_OK);
    if (mine != NULL && ref != NULL) {
        check_tensors_match(mine, ref);
        CHECK(same_array(mine, ref, "tokenizer.ggml.tokens"));
        CHECK(same_array(mine, ref, "tokenizer.ggml.scores"));
        CHECK(same_array(mine, ref, "tokenizer.ggml.token_type"));
    }
    vkl_gguf_close(mine);
    vkl_gguf_close(ref);

    check_hparams(path, ref_path);
    unlink(path);
}

static void test_convert_f32_matches_reference(void)
{
    check_conversion(VKL_DTYPE_F32, STORIES_GGUF, "stories-f32.gguf");
}

static void test_convert_f16_matches_llama_cpp(void)
{
    check_conversion(VKL_DTYPE_F16, STORIES_F16_GGUF, "stories-f16.gguf");
}

static bool tensor_type_is(const vkl_gguf *g, int layer, const char *what, uint32_t type)
{
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, what);
    const vkl_gguf_tensor *t = vkl_gguf_find_tensor(g, name);
    return t != NULL && t->type == type;
}

/* Q8_0 rounds as llama.cpp does, and rows of 172 stay F32. */
static void test_convert_q8_0_matches_llama_cpp(void)
{
    check_conversion(VKL_DTYPE_Q8_0, STORIES_Q8_0_GGUF, "stories-q8_0.gguf");

    char path[256];
    vkl_error err = {0};
    vkl_gguf *g = NULL;
    temp_path("stories-q8_0-types.gguf", path, sizeof path);
    if (convert(VKL_DTYPE_Q8_0, path) == VKLLM_OK &&
        vkl_gguf_open(path, &g, &err) == VKLLM_OK) {
        for (int l = 0; l < 5; l++) {
            CHECK(tensor_type_is(g, l, "ffn_down", VKL_GGML_F32));
            CHECK(tensor_type_is(g, l, "ffn_up", VKL_GGML_Q8_0));
        }
    }
    vkl_gguf_close(g);
    unlink(path);
}

/* The embedded vocabulary encodes as the llama2.c tokenizer does. */
static void test_convert_vocab_encodes_like_llama2c(void)
{
    static const char text[] = "Once upon a time, there was a little girl named Lily.";
    char path[256];
    vkl_error err = {0};
    vkl_gguf *g = NULL;
    vkl_tokenizer *from_gguf = NULL, *from_bin = NULL;
    temp_path("stories-vocab.gguf", path, sizeof path);
    if (convert(VKL_DTYPE_F16, path) != VKLLM_OK)
        return;

    CHECK(vkl_gguf_open(path, &g, &err) == VKLLM_OK);
    CHECK_MSG(g != NULL && vkl_gguf_vocab_load(g, &from_gguf, &err) == VKLLM_OK, "%s",
              err.message);
    CHECK(vkl_tokenizer_load_llama2c(STORIES_TOK, 512, &from_bin, &err) == VKLLM_OK);

    int32_t a[64], b[64];
    size_t na = 0, nb = 0;
    if (from_gguf != NULL && from_bin != NULL) {
        vkl_tokenizer_encode(from_gguf, text, strlen(text), true, a, 64, &na, &err);
        vkl_tokenizer_encode(from_bin, text, strlen(text), true, b, 64, &nb, &err);
        CHECK(na == nb && na > 1 && memcmp(a, b, na * sizeof *a) == 0);
    }
    vkl_tokenizer_free(from_gguf);
    vkl_tokenizer_free(from_bin);
    vkl_gguf_close(g);
    unlink(path);
}

int main(void)
{
    if (mkdtemp(temp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(test_round_trip_within_bounds);
    RUN(test_round_trip_exact_on_grid);
    RUN(test_quantize_refuses_partial_blocks);
    RUN(test_synth_tiny_in_each_type);
    RUN(test_partial_rotary_refused);
    RUN(test_damaged_magic_named_gguf);
    RUN(test_synth_is_deterministic);
    RUN(test_synth_vocab_tokenizes_anything);
    RUN(test_synth_wide_k_quants);
    RUN(test_synth_gpt2_with_vocab);
    RUN(test_synth_refuses_a_vocab_of_another_size);
    RUN(test_convert_f32_matches_reference);
    RUN(test_convert_f16_matches_llama_cpp);
    RUN(test_convert_q8_0_matches_llama_cpp);
    RUN(test_convert_vocab_encodes_like_llama2c);

    rmdir(temp_dir);
    TEST_MAIN_END();
}
