/* The public API's contract: bad input gets a status and a message naming
 * the problem, handles are independent, devices can be chosen, and the log
 * callback hears the library. Validation is on throughout. */
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu_fixture.h"
#include "test.h"
#include "test_files.h"

#define STORIES VKLLM_MODELS_DIR "/stories260K/stories260K.bin"
#define STORIES_TOK VKLLM_MODELS_DIR "/stories260K/tok512.bin"
#define AIDREAMS VKLLM_MODELS_DIR "/aidreams260K/aidreams260K.bin"

static gpu_fixture fx;
static char temp_dir[] = "/tmp/vkllm_test_api_XXXXXX";

static void temp_file(char *path, size_t capacity, const char *name, const void *bytes,
                      size_t size)
{
    snprintf(path, capacity, "%s/%s", temp_dir, name);
    CHECK(write_file(path, bytes, size) == 0);
}

static void expect_model_failure(const char *path, vkllm_status want, const char *message_part)
{
    vkllm_model *model = (vkllm_model *)&fx;    /* must be reset to NULL */
    vkllm_status got = vkllm_model_load(fx.rt, path, NULL, &model);
    const char *message = vkllm_runtime_error(fx.rt);
    CHECK_MSG(got == want, "%s: status %d, want %d (%s)", path, got, want, message);
    CHECK(model == NULL);
    CHECK_MSG(strstr(message, message_part) != NULL, "'%s' lacks '%s'", message, message_part);
}

static void test_status_strings(void)
{
    for (int code = VKLLM_OK; code >= VKLLM_ERROR_DEVICE_LOST; code--)
        CHECK(strcmp(vkllm_status_string((vkllm_status)code), "unknown status") != 0);
    CHECK(strcmp(vkllm_status_string((vkllm_status)-999), "unknown status") == 0);
}

static void test_bad_model_files(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES, &size);
    char path[512];

    expect_model_failure(VKLLM_MODELS_DIR "/no/such/model.bin", VKLLM_ERROR_IO, "no/such");

    temp_file(path, sizeof path, "truncated.bin", bytes, size / 2);
    expect_model_failure(path, VKLLM_ERROR_BAD_MODEL, "truncated.bin");

    int32_t dim = 128;      /* the header no longer matches the tensors */
    memcpy(bytes, &dim, sizeof dim);
    temp_file(path, sizeof path, "wrong_header.bin", bytes, size);
    expect_model_failure(path, VKLLM_ERROR_BAD_MODEL, "wrong_header.bin");

    temp_file(path, sizeof path, "empty.bin", bytes, 0);
    expect_model_failure(path, VKLLM_ERROR_BAD_MODEL, "empty.bin");
    free(bytes);
}

/* A llama2.c checkpoint of zeros: one layer, one head as wide as the
 * model, a vocabulary of 4 and a context of 2. */
static void write_one_head_model(const char *path, int32_t dim)
{
    int32_t header[7] = {dim, 8, 1, 1, 1, 4, 2};
    size_t floats = 4 * (size_t)dim                 /* token embedding */
                    + 2 * (size_t)dim               /* the layer's two norms */
                    + 4 * (size_t)dim * dim         /* wq, wk, wv, wo */
                    + 3 * 8 * (size_t)dim           /* w1, w2, w3 */
                    + (size_t)dim                   /* final norm */
                    + 2 * (size_t)dim;              /* two rotary tables of 2 x dim / 2 */
    size_t bytes = sizeof header + floats * sizeof(float);
    unsigned char *file = calloc(1, bytes);
    memcpy(file, header, sizeof header);
    CHECK(write_file(path, file, bytes) == 0);
    free(file);
}

static void test_head_too_wide(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/wide_head.bin", temp_dir);
    write_one_head_model(path, 512);
    expect_model_failure(path, VKLLM_ERROR_UNSUPPORTED, "heads of 512 values");

    /* The widest head allowed loads. */
    write_one_head_model(path, 256);
    vkllm_model *model = NULL;
    CHECK_MSG(vkllm_model_load(fx.rt, path, NULL, &model) == VKLLM_OK, "%s",
              vkllm_runtime_error(fx.rt));
    vkllm_model_destroy(model);
}

static void test_bad_tokenizer(void)
{
    vkllm_model *model;
    CHECK(vkllm_model_load(fx.rt, STORIES, NULL, &model) == VKLLM_OK);
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES_TOK, &size);
    char path[512];

    int32_t impossible = 1 << 30;   /* the first token's length */
    memcpy(bytes + 8, &impossible, sizeof impossible);
    temp_file(path, sizeof path, "bad_tok.bin", bytes, size);

    vkllm_tokenizer *tok = (vkllm_tokenizer *)&fx;
    CHECK(vkllm_tokenizer_load(fx.rt, path, model, &tok) == VKLLM_ERROR_BAD_TOKENIZER);
    CHECK(tok == NULL);
    CHECK(strstr(vkllm_runtime_error(fx.rt), "bad_tok.bin") != NULL);
    CHECK(vkllm_tokenizer_load(fx.rt, "/no/such/tok.bin", model, &tok) == VKLLM_ERROR_IO);
    free(bytes);
    vkllm_model_destroy(model);
}

static void test_bad_arguments(void)
{
    vkllm_model *model;
    vkllm_session *s;
    CHECK(vkllm_model_load(fx.rt, NULL, NULL, &model) == VKLLM_ERROR_INVALID_ARGUMENT);
    vkllm_model_options mo = {.device = 99};
    CHECK(vkllm_model_load(fx.rt, STORIES, &mo, &model) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(vkllm_runtime_error(fx.rt), "99") != NULL);

    CHECK(vkllm_model_load(fx.rt, STORIES, NULL, &model) == VKLLM_OK);
    vkllm_session_options too_long = {.context_length = 513};
    CHECK(vkllm_session_create(model, &too_long, &s) == VKLLM_ERROR_INVALID_ARGUMENT);
    vkllm_session_options small = {.context_length = 4};
    CHECK(vkllm_session_create(model, &small, &s) == VKLLM_OK);

    int32_t bad_token = 512, tokens[5] = {1, 2, 3, 4, 5};
    CHECK(vkllm_session_eval(s, &bad_token, 1) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(vkllm_session_error(s), "vocabulary") != NULL);
    CHECK(vkllm_session_eval(s, tokens, 5) == VKLLM_ERROR_CONTEXT_FULL);
    CHECK(vkllm_session_eval(s, tokens, 4) == VKLLM_OK);
    CHECK(vkllm_session_eval(s, tokens, 1) == VKLLM_ERROR_CONTEXT_FULL);
    vkllm_session_reset(s);
    CHECK(vkllm_session_eval(s, tokens, 1) == VKLLM_OK);

    vkllm_session_destroy(s);
    vkllm_model_destroy(model);
    vkllm_session_destroy(NULL);
    vkllm_model_destroy(NULL);
    vkllm_tokenizer_destroy(NULL);
    vkllm_runtime_destroy(NULL);
}

static void test_device_choice(void)
{
    vkllm_device_info info;
    uint32_t index = 99;
    CHECK(vkllm_runtime_device_count(fx.rt) >= 1);
    CHECK(vkllm_runtime_device_info(fx.rt, 0, &info) == VKLLM_OK);
    CHECK(info.subgroup_size > 0 && info.max_storage_buffer_range > 0 && info.heap_count > 0);
    CHECK(vkllm_runtime_device_info(fx.rt, 99, &info) == VKLLM_ERROR_INVALID_ARGUMENT);

    CHECK(vkllm_runtime_find_device(fx.rt, "0", &index) == VKLLM_OK && index == 0);
    char part[8] = {0};
    vkllm_runtime_device_info(fx.rt, 0, &info);
    memcpy(part, info.name, 4);     /* any part of the name, in any case */
    part[0] = (char)(part[0] ^ 0x20);
    CHECK(vkllm_runtime_find_device(fx.rt, part, &index) == VKLLM_OK);
    CHECK(vkllm_runtime_find_device(fx.rt, "99", &index) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(vkllm_runtime_find_device(fx.rt, "no such device", &index) ==
          VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(vkllm_runtime_error(fx.rt), "no such device") != NULL);
}

/* Logits of `count` tokens evaluated alone in a fresh session. */
static void reference_logits(vkllm_model *model, const int32_t *tokens, int count, float *out)
{
    vkllm_session *s;
    CHECK(vkllm_session_create(model, NULL, &s) == VKLLM_OK);
    CHECK(vkllm_session_eval(s, tokens, count) == VKLLM_OK);
    memcpy(out, vkllm_session_logits(s, count - 1), 512 * sizeof(float));
    vkllm_session_destroy(s);
}

/* Two models and two sessions, interleaved token by token, each give what
 * they give alone: no state is shared between handles. */
static void test_independent_handles(void)
{
    vkllm_model *a, *b;
    CHECK(vkllm_model_load(fx.rt, STORIES, NULL, &a) == VKLLM_OK);
    CHECK(vkllm_model_load(fx.rt, AIDREAMS, NULL, &b) == VKLLM_OK);
    int32_t tokens[6] = {1, 403, 407, 261, 378, 432};
    float want_a[512], want_b[512];
    reference_logits(a, tokens, 6, want_a);
    reference_logits(b, tokens, 6, want_b);

    vkllm_session *sa, *sb;
    CHECK(vkllm_session_create(a, NULL, &sa) == VKLLM_OK);
    CHECK(vkllm_session_create(b, NULL, &sb) == VKLLM_OK);
    for (int i = 0; i < 6; i++) {
        CHECK(vkllm_session_eval(sa, &tokens[i], 1) == VKLLM_OK);
        CHECK(vkllm_session_eval(sb, &tokens[i], 1) == VKLLM_OK);
    }
    CHECK(max_scaled_error(vkllm_session_logits(sa, 0), want_a, 512, 1e-5, 1e-5) <= 1.0);
    CHECK(max_scaled_error(vkllm_session_logits(sb, 0), want_b, 512, 1e-5, 1e-5) <= 1.0);

    vkllm_session_destroy(sa);
    vkllm_session_destroy(sb);
    vkllm_model_destroy(a);
    vkllm_model_destroy(b);
}

static void count_info(vkllm_log_level level, vkllm_log_source source, const char *message,
                       void *user)
{
    if (level == VKLLM_LOG_INFO && source == VKLLM_LOG_SOURCE_LIBRARY)
        ++*(int *)user;
}

static void test_log_callback(void)
{
    int infos = 0;
    vkllm_runtime_options options = {.log = count_info, .log_user = &infos,
                                     .log_level = VKLLM_LOG_INFO};
    vkllm_runtime *rt;
    vkllm_model *model;
    CHECK(vkllm_runtime_create(&options, &rt) == VKLLM_OK);
    CHECK(vkllm_model_load(rt, STORIES, NULL, &model) == VKLLM_OK);
    CHECK(infos >= 2);      /* the device opened, the model loaded */
    vkllm_model_destroy(model);
    vkllm_runtime_destroy(rt);
}

static void first_token(int32_t id, void *user)
{
    int32_t *first = user;
    if (*first < 0)
        *first = id;
}

/* A vocabulary without BOS (a tokenizer.json of byte tokens): generation
 * needs a prompt, and its first token is text, not a start marker. */
static void test_tokenizer_without_bos(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/no_bos.json", temp_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, "
            "\"merges\": [\"A B\"], \"vocab\": {\"A\": 256, \"B\": 257, \"AB\": 258");
    for (int b = 0; b < 256; b++)
        fprintf(f, ", \"<0x%02X>\": %d", b, b);
    fprintf(f, "}}}\n");
    fclose(f);

    vkllm_model *model;
    vkllm_tokenizer *tok;
    vkllm_session *s;
    CHECK(vkllm_model_load(fx.rt, STORIES, NULL, &model) == VKLLM_OK);
    CHECK(vkllm_tokenizer_load(fx.rt, path, model, &tok) == VKLLM_OK);
    CHECK(vkllm_tokenizer_bos(tok) < 0);
    CHECK(vkllm_session_create(model, NULL, &s) == VKLLM_OK);

    int32_t first = -1;
    vkllm_generate_options go = vkllm_generate_default_options();
    go.max_tokens = 4;
    go.sampler.temperature = 0.0f;
    go.on_token = first_token;
    go.user = &first;
    CHECK(vkllm_generate(s, tok, "", &go, NULL) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(vkllm_session_error(s), "BOS") != NULL);
    CHECK_MSG(vkllm_generate(s, tok, "A", &go, NULL) == VKLLM_OK, "%s", vkllm_session_error(s));
    CHECK(first == 256);    /* "A", the prompt's first token, is emitted */

    vkllm_session_destroy(s);
    vkllm_tokenizer_destroy(tok);
    vkllm_model_destroy(model);
    unlink(path);
}

static void count_timing(const vkllm_op_timing *t, void *user)
{
    int *count = user;
    bool arithmetic = strcmp(t->op, "copy") != 0;    /* a copy does no arithmetic */
    CHECK_MSG(t->seconds > 0 && (t->gflops > 0) == arithmetic && t->gbytes > 0, "%s %s",
              t->op, t->type);
    ++*count;
}

/* Kernel timings come back for every case, positive, with validation on. */
static void test_bench_ops(void)
{
    int count = 0;
    CHECK_MSG(vkllm_bench_ops(fx.rt, -1, count_timing, &count) == VKLLM_OK, "%s",
              vkllm_runtime_error(fx.rt));
    CHECK(count == 11);
    CHECK(vkllm_bench_ops(fx.rt, 99, count_timing, &count) == VKLLM_ERROR_INVALID_ARGUMENT);
}

/* Names of the files in a folder that start with prefix; returns how many. */
static int count_files(const char *folder, const char *prefix, char *last, size_t size)
{
    DIR *dir = opendir(folder);
    int count = 0;
    for (struct dirent *e = dir ? readdir(dir) : NULL; e != NULL; e = readdir(dir)) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(last, size, "%s/%s", folder, e->d_name);
            count++;
        }
    }
    if (dir != NULL)
        closedir(dir);
    return count;
}

static void run_with_cache(const char *folder)
{
    vkllm_runtime_options options = gpu_fixture_runtime_options(&fx);
    options.pipeline_cache_dir = folder;
    vkllm_runtime *rt;
    vkllm_model *model;
    vkllm_session *s;
    int32_t token = 1;
    CHECK(vkllm_runtime_create(&options, &rt) == VKLLM_OK);
    CHECK(vkllm_model_load(rt, STORIES, NULL, &model) == VKLLM_OK);
    CHECK(vkllm_session_create(model, NULL, &s) == VKLLM_OK);
    CHECK(vkllm_session_eval(s, &token, 1) == VKLLM_OK);
    vkllm_session_destroy(s);
    vkllm_model_destroy(model);
    vkllm_runtime_destroy(rt);
}

/* The pipeline cache is written on close, read on the next open, and a file
 * that is not a cache for this device is ignored, not trusted. */
static void test_pipeline_cache_on_disk(void)
{
    char folder[256], path[512];
    snprintf(folder, sizeof folder, "%s/cache", temp_dir);
    mkdir(folder, 0700);

    run_with_cache(folder);
    CHECK(count_files(folder, "pipelines-", path, sizeof path) == 1);
    run_with_cache(folder);

    CHECK(write_file(path, "not a pipeline cache, just some bytes", 37) == 0);
    run_with_cache(folder);
    CHECK(count_files(folder, "pipelines-", path, sizeof path) == 1);
    unlink(path);
    rmdir(folder);
}

int main(void)
{
    if (mkdtemp(temp_dir) == NULL || !gpu_fixture_open(&fx))
        return 1;
    RUN(test_status_strings);
    RUN(test_bad_model_files);
    RUN(test_head_too_wide);
    RUN(test_bad_tokenizer);
    RUN(test_bad_arguments);
    RUN(test_device_choice);
    RUN(test_independent_handles);
    RUN(test_log_callback);
    RUN(test_pipeline_cache_on_disk);
    RUN(test_tokenizer_without_bos);
    RUN(test_bench_ops);
    gpu_fixture_close(&fx);

    const char *names[] = {"truncated.bin", "wrong_header.bin", "empty.bin", "bad_tok.bin"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", temp_dir, names[i]);
        unlink(path);
    }
    rmdir(temp_dir);
    TEST_MAIN_END();
}
