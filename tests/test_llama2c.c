/* The llama2.c checkpoint reader and the CPU oracle: real models open with the
 * right shape, the oracle reproduces llama2.c's own greedy output, and hostile
 * files are refused with the right code and a message instead of a crash. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cpu_ref.h"
#include "model/model_file.h"
#include "test.h"
#include "test_files.h"

#define STORIES_PATH VKLLM_MODELS_DIR "/stories260K/stories260K.bin"
#define AIDREAMS_PATH VKLLM_MODELS_DIR "/aidreams260K/aidreams260K.bin"
#define STORIES_REFERENCE VKLLM_MODELS_DIR "/reference/stories260K_run_t0_ouat_n64.ids"

#define HEADER_FIELDS 7
#define HEADER_BYTES (HEADER_FIELDS * sizeof(int32_t))
#define BOS 1
#define REFERENCE_TOKENS 64

/* stories260K's header and the size of its rotary tables (512 * 8 floats). */
static const int32_t stories_header[HEADER_FIELDS] = {64, 172, 5, 8, 4, 512, 512};
#define STORIES_ROPE_BYTES (512 * 8 * sizeof(float))
#define STORIES_EMBEDDING_BYTES (512 * 64 * sizeof(float))

/* Where hostile files are written; made in main. */
static char temp_dir[] = "/tmp/vkllm_test_llama2c_XXXXXX";

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static void temp_path(char *path, size_t capacity, const char *name)
{
    snprintf(path, capacity, "%s/%s", temp_dir, name);
}

/* Opening path must fail with `expected`, a message naming the file, and no
 * model handed out. */
static void check_open_fails(const char *path, vkllm_status expected, const char *what)
{
    static vkl_model_file sentinel;
    vkl_model_file *file = &sentinel;   /* the reader must set it to NULL */
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = vkl_model_file_open_llama2c(path, &file, &err);
    CHECK_MSG(status == expected, "%s: status %d, expected %d (%s)", what, (int)status,
              (int)expected, err.message);
    CHECK_MSG(file == NULL, "%s: a model was handed out", what);
    CHECK_MSG(err.status == expected, "%s: err.status %d", what, (int)err.status);
    CHECK_MSG(strstr(err.message, path) != NULL, "%s: message does not name the file: '%s'",
              what, err.message);
    if (status == VKLLM_OK)
        vkl_model_file_close(file);
}

/* Writes bytes as a file in temp_dir, checks that opening it fails, removes it. */
static void check_bytes_rejected(const char *name, const void *bytes, size_t size,
                                 vkllm_status expected)
{
    char path[256];
    temp_path(path, sizeof path, name);

    CHECK_MSG(write_file(path, bytes, size) == 0, "cannot write %s", path);
    check_open_fails(path, expected, name);
    unlink(path);
}

/* Writes bytes as a file in temp_dir and opens it; NULL (after a failed
 * CHECK) if it does not open. The file is removed at once: the mapping keeps
 * the data. */
static vkl_model_file *open_bytes(const char *name, const void *bytes, size_t size)
{
    char path[256];
    vkl_model_file *file = NULL;
    vkl_error err;
    vkl_error_clear(&err);
    temp_path(path, sizeof path, name);

    CHECK_MSG(write_file(path, bytes, size) == 0, "cannot write %s", path);
    vkllm_status status = vkl_model_file_open_llama2c(path, &file, &err);
    CHECK_MSG(status == VKLLM_OK, "%s: %s", name, err.message);
    unlink(path);
    return file;
}

static vkl_model_file *open_model(const char *path)
{
    vkl_model_file *file = NULL;
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = vkl_model_file_open_llama2c(path, &file, &err);
    CHECK_MSG(status == VKLLM_OK, "%s", err.message);
    return file;
}

/* ------------------------------------------------------------------------ */
/* Real models                                                               */

static void test_open_stories260k(void)
{
    vkl_model_file *file = open_model(STORIES_PATH);
    if (file == NULL)
        return;
    const vkl_model_config *c = &file->config;

    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 4 && c->head_size == 8);
    CHECK(c->vocab_size == 512 && c->context_length == 512 && c->tied_output);
    CHECK(c->norm_eps == 1e-5f && c->rope_theta == 10000.0f);

    const vkl_model_weights *w = &file->weights;
    const float *base = (const float *)((const char *)file->mapping + HEADER_BYTES);
    CHECK(w->token_embd.data == base && w->token_embd.rows == 512 && w->token_embd.cols == 64);
    CHECK(w->output.data == w->token_embd.data);
    CHECK(w->layers[0].wk.rows == 32 && w->layers[0].wk.cols == 64);
    CHECK(w->layers[0].w_down.rows == 64 && w->layers[0].w_down.cols == 172);

    /* Each kind is stored for all layers in turn: layer 1's wq follows layer 0's. */
    CHECK((const float *)w->layers[1].wq.data == (const float *)w->layers[0].wq.data + 64 * 64);
    CHECK((const float *)w->output_norm.data + 64 + STORIES_ROPE_BYTES / sizeof(float) ==
          (const float *)((const char *)file->mapping + file->mapping_size));
    CHECK(vkl_host_tensor_bytes(&w->layers[0].w_up) == 172 * 64 * 4);
    vkl_model_file_close(file);
}

static void test_open_aidreams260k(void)
{
    vkl_model_file *file = open_model(AIDREAMS_PATH);
    if (file == NULL)
        return;
    const vkl_model_config *c = &file->config;

    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 4);
    CHECK(c->n_heads == 4 && c->n_kv_heads == 4 && c->head_size == 16);
    CHECK(c->vocab_size == 512 && c->context_length == 128 && c->tied_output);
    vkl_model_file_close(file);
}

/* Reads the reference ids; returns how many it read. */
/* llama2.c's loop: BOS, then the prompt forced, then argmax, 64 positions. */
static void generate_greedy(cpu_model *m, const int32_t *prompt, int prompt_len,
                            int32_t *out, int count)
{
    int32_t token = BOS;
    for (int pos = 0; pos < count; pos++) {
        const float *logits = cpu_model_forward(m, token, pos);
        CHECK(logits != NULL);
        if (logits == NULL)
            return;
        token = pos < prompt_len ? prompt[pos] : cpu_argmax(logits, 512);
        out[pos] = token;
    }
}

static void test_oracle_matches_llama2c(void)
{
    static const int32_t once_upon_a_time[] = {403, 407, 261, 378};
    int32_t expected[REFERENCE_TOKENS + 1];
    int32_t produced[REFERENCE_TOKENS] = {0};

    int expected_count = read_ids(STORIES_REFERENCE, expected, REFERENCE_TOKENS + 1);
    CHECK_MSG(expected_count == REFERENCE_TOKENS, "%s holds %d ids", STORIES_REFERENCE,
              expected_count);
    vkl_model_file *file = open_model(STORIES_PATH);
    cpu_model *m = file != NULL ? cpu_model_create(file, file->config.context_length) : NULL;
    CHECK(m != NULL);

    if (m != NULL && expected_count == REFERENCE_TOKENS) {
        generate_greedy(m, once_upon_a_time, 4, produced, REFERENCE_TOKENS);
        for (int i = 0; i < REFERENCE_TOKENS; i++)
            CHECK_MSG(produced[i] == expected[i], "position %d: %d, llama2.c says %d", i + 1,
                      produced[i], expected[i]);
        CHECK(cpu_model_forward(m, BOS, file->config.context_length) == NULL);
    }
    cpu_model_free(m);
    vkl_model_file_close(file);
}

/* ------------------------------------------------------------------------ */
/* Hostile files                                                             */

static void test_missing_and_short_files(void)
{
    char path[256];
    temp_path(path, sizeof path, "does_not_exist.bin");
    check_open_fails(path, VKLLM_ERROR_IO, "missing file");
    check_open_fails(temp_dir, VKLLM_ERROR_IO, "a directory");

    check_bytes_rejected("empty.bin", "", 0, VKLLM_ERROR_BAD_MODEL);
    check_bytes_rejected("short_header.bin", stories_header, HEADER_BYTES - 1,
                         VKLLM_ERROR_BAD_MODEL);
    check_bytes_rejected("header_only.bin", stories_header, HEADER_BYTES,
                         VKLLM_ERROR_BAD_MODEL);
}

static void test_wrong_file_sizes(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES_PATH, &size);
    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;

    check_bytes_rejected("half.bin", bytes, size / 2, VKLLM_ERROR_BAD_MODEL);
    check_bytes_rejected("rope_cut.bin", bytes, size - 4, VKLLM_ERROR_BAD_MODEL);
    check_bytes_rejected("weights_cut.bin", bytes, size - STORIES_ROPE_BYTES - 4,
                         VKLLM_ERROR_BAD_MODEL);

    unsigned char *longer = malloc(size + 4);
    CHECK(longer != NULL);
    if (longer != NULL) {
        memcpy(longer, bytes, size);
        memset(longer + size, 0, 4);
        check_bytes_rejected("trailing.bin", longer, size + 4, VKLLM_ERROR_BAD_MODEL);
    }
    free(longer);
    free(bytes);
}

/* A header to try on stories260K's weights, and why it must fail. */
typedef struct bad_header {
    const char *name;
    int32_t fields[HEADER_FIELDS]; /* dim, hidden, layers, heads, kv_heads, vocab, seq_len */
} bad_header;

static const bad_header bad_headers[] = {
    {"dim_128", {128, 172, 5, 8, 4, 512, 512}},
    {"dim_0", {0, 172, 5, 8, 4, 512, 512}},
    {"dim_negative", {-64, 172, 5, 8, 4, 512, 512}},
    {"hidden_0", {64, 0, 5, 8, 4, 512, 512}},
    {"layers_0", {64, 172, 0, 8, 4, 512, 512}},
    {"layers_negative", {64, 172, -1, 8, 4, 512, 512}},
    {"heads_0", {64, 172, 5, 0, 4, 512, 512}},
    {"kv_heads_0", {64, 172, 5, 8, 0, 512, 512}},
    {"vocab_0", {64, 172, 5, 8, 4, 0, 512}},
    {"vocab_untied_but_no_classifier", {64, 172, 5, 8, 4, -512, 512}},
    {"vocab_int_min", {64, 172, 5, 8, 4, INT32_MIN, 512}},
    {"seq_len_0", {64, 172, 5, 8, 4, 512, 0}},
    {"seq_len_negative", {64, 172, 5, 8, 4, 512, -512}},
    {"heads_not_dividing_dim", {64, 172, 5, 7, 7, 512, 512}},
    {"kv_heads_not_dividing_heads", {64, 172, 5, 8, 3, 512, 512}},
    {"odd_head_size", {64, 172, 5, 64, 4, 512, 512}},
    {"more_kv_heads_than_heads", {64, 172, 5, 8, 16, 512, 512}},
    {"dim_huge", {1 << 30, 172, 5, 8, 4, 512, 512}},
    {"hidden_int_max", {64, INT32_MAX, 5, 8, 4, 512, 512}},
    {"sizes_overflow", {1 << 20, 1 << 20, 1 << 20, 8, 4, 1 << 20, 1 << 20}},
};

static void test_bad_headers(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES_PATH, &size);
    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;

    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        memcpy(bytes, bad_headers[i].fields, HEADER_BYTES);
        check_bytes_rejected(bad_headers[i].name, bytes, size, VKLLM_ERROR_BAD_MODEL);
    }
    free(bytes);
}

/* ------------------------------------------------------------------------ */
/* Layout variants that must open                                            */

static void test_without_rope_tables(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES_PATH, &size);
    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;

    vkl_model_file *file = open_bytes("no_rope.bin", bytes, size - STORIES_ROPE_BYTES);
    if (file != NULL) {
        CHECK(file->config.tied_output);
        CHECK((const char *)file->weights.output_norm.data + 64 * sizeof(float) ==
              (const char *)file->mapping + file->mapping_size);
    }
    vkl_model_file_close(file);
    free(bytes);
}

/* An untied copy of stories260K: vocab_size negated and a classifier (here a
 * copy of the embedding) appended, with or without the rotary tables. */
static void check_untied(const char *name, const unsigned char *model, size_t size,
                         bool keep_rope)
{
    size_t body = keep_rope ? size : size - STORIES_ROPE_BYTES;
    unsigned char *bytes = malloc(body + STORIES_EMBEDDING_BYTES);
    CHECK(bytes != NULL);
    if (bytes == NULL)
        return;
    memcpy(bytes, model, body);
    memcpy(bytes + body, model + HEADER_BYTES, STORIES_EMBEDDING_BYTES);
    int32_t untied_vocab = -512;
    memcpy(bytes + 5 * sizeof(int32_t), &untied_vocab, sizeof untied_vocab);

    vkl_model_file *file = open_bytes(name, bytes, body + STORIES_EMBEDDING_BYTES);
    if (file != NULL) {
        const vkl_model_weights *w = &file->weights;
        CHECK(!file->config.tied_output && file->config.vocab_size == 512);
        CHECK((const char *)w->output.data == (const char *)file->mapping + body);
        CHECK(w->output.rows == 512 && w->output.cols == 64);
        CHECK(memcmp(w->output.data, w->token_embd.data, STORIES_EMBEDDING_BYTES) == 0);
    }
    vkl_model_file_close(file);
    free(bytes);
}

static void test_untied_classifier(void)
{
    size_t size = 0;
    unsigned char *model = read_file(STORIES_PATH, &size);
    CHECK(model != NULL);
    if (model == NULL)
        return;

    check_untied("untied.bin", model, size, true);
    check_untied("untied_no_rope.bin", model, size, false);
    free(model);
}

/* ------------------------------------------------------------------------ */
/* Half precision                                                            */

static void test_f16_conversion(void)
{
    CHECK(cpu_f32_to_f16(1.0f) == 0x3C00);
    CHECK(cpu_f32_to_f16(-2.0f) == 0xC000);
    CHECK(cpu_f32_to_f16(65504.0f) == 0x7BFF);
    CHECK(cpu_f32_to_f16(65520.0f) == 0x7C00);           /* rounds up past the largest */
    CHECK(cpu_f32_to_f16(1.0f + 0x1p-11f) == 0x3C00);    /* a tie goes to even */
    CHECK(cpu_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3C02);
    CHECK(cpu_f32_to_f16(1e-7f) == 0x0002);              /* subnormal: 1e-7 / 2^-24 = 1.68 */
    CHECK(cpu_f32_to_f16(0x1p-25f) == 0x0000);           /* half the least subnormal: even */
    CHECK(cpu_f32_to_f16(0x1p-14f) == 0x0400);           /* the least normal */
    CHECK(cpu_f32_to_f16(-0.0f) == 0x8000);
    CHECK(cpu_f32_to_f16(INFINITY) == 0x7C00);
    CHECK(cpu_f32_to_f16(-INFINITY) == 0xFC00);
    CHECK(isnan(cpu_f16_to_f32(cpu_f32_to_f16(NAN))));

    CHECK(cpu_f16_to_f32(0x3C00) == 1.0f);
    CHECK(cpu_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(cpu_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(cpu_f16_to_f32(0x0002) == 0x1p-23f);
    CHECK(cpu_f16_to_f32(0x7C00) == INFINITY);
    CHECK(cpu_f16_to_f32(0xFC00) == -INFINITY);
    CHECK(isnan(cpu_f16_to_f32(0x7E00)));

    /* Every finite half survives a trip through float and back. */
    for (uint32_t h = 0; h < 0x10000; h++)
        if ((h & 0x7C00) != 0x7C00)
            CHECK_MSG(cpu_f32_to_f16(cpu_f16_to_f32((uint16_t)h)) == h, "0x%04X", (unsigned)h);
}

int main(void)
{
    if (mkdtemp(temp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(test_open_stories260k);
    RUN(test_open_aidreams260k);
    RUN(test_oracle_matches_llama2c);
    RUN(test_missing_and_short_files);
    RUN(test_wrong_file_sizes);
    RUN(test_bad_headers);
    RUN(test_without_rope_tables);
    RUN(test_untied_classifier);
    RUN(test_f16_conversion);

    rmdir(temp_dir);
    TEST_MAIN_END();
}
