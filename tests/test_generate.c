/* Generation through the public API reproduces the reference outputs token
 * for token, ids and text, and behaves at its edges: seeds, the context's
 * end, prompts that do not fit. Validation is on throughout. */
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cpu_ref.h"
#include "gpu_fixture.h"
#include "test.h"
#include "test_files.h"

#define MODELS VKLLM_MODELS_DIR
#define MAX_TOKENS 1024

static gpu_fixture fx;

typedef struct capture {
    int32_t ids[MAX_TOKENS];
    int count;
    char text[16384];
    size_t text_len;
} capture;

static void on_token(int32_t id, void *user)
{
    capture *c = user;
    if (c->count < MAX_TOKENS)
        c->ids[c->count++] = id;
}

static void on_text(const char *utf8, size_t len, void *user)
{
    capture *c = user;
    if (c->text_len + len < sizeof c->text) {
        memcpy(c->text + c->text_len, utf8, len);
        c->text_len += len;
        c->text[c->text_len] = '\0';
    }
}

typedef struct loaded {
    vkllm_model *model;
    vkllm_tokenizer *tok;
} loaded;

static bool load(const char *model_path, const char *tok_path, loaded *out)
{
    *out = (loaded){0};
    if (vkllm_model_load(fx.rt, model_path, NULL, &out->model) != VKLLM_OK ||
        vkllm_tokenizer_load(fx.rt, tok_path, out->model, &out->tok) != VKLLM_OK) {
        CHECK_MSG(false, "%s", vkllm_runtime_error(fx.rt));
        return false;
    }
    return true;
}

static void unload(loaded *l)
{
    vkllm_tokenizer_destroy(l->tok);
    vkllm_model_destroy(l->model);
}

static vkllm_status generate(const loaded *l, const vkllm_session_options *so, const char *prompt,
                             int max_tokens, const vkllm_sampler_options *sampler, capture *c)
{
    memset(c, 0, sizeof *c);
    vkllm_session *s;
    if (vkllm_session_create(l->model, so, &s) != VKLLM_OK) {
        CHECK_MSG(false, "%s", vkllm_runtime_error(fx.rt));
        return VKLLM_ERROR_INVALID_ARGUMENT;
    }
    vkllm_generate_options go = vkllm_generate_default_options();
    go.max_tokens = max_tokens;
    go.sampler = *sampler;
    go.on_token = on_token;
    go.on_text = on_text;
    go.user = c;
    vkllm_status status = vkllm_generate(s, l->tok, prompt, &go, NULL);
    CHECK_MSG(status == VKLLM_OK || status == VKLLM_ERROR_CONTEXT_FULL, "%s",
              vkllm_session_error(s));
    vkllm_session_destroy(s);
    return status;
}

static const vkllm_sampler_options greedy = {.temperature = 0.0f, .top_p = 1.0f};

/* ids and text (llama2.c ends its output with a newline) match the files. */
static void expect_reference(const capture *c, const char *name)
{
    char path[512];
    int32_t want[MAX_TOKENS];
    snprintf(path, sizeof path, "%s/reference/%s.ids", MODELS, name);
    int want_count = read_ids(path, want, MAX_TOKENS);
    CHECK_MSG(want_count > 0 && c->count == want_count, "%s: %d ids, reference has %d", name,
              c->count, want_count);
    for (int i = 0; i < want_count && i < c->count; i++)
        CHECK_MSG(c->ids[i] == want[i], "%s: id %d is %d, reference %d", name, i, c->ids[i],
                  want[i]);

    size_t size = 0;
    snprintf(path, sizeof path, "%s/reference/%s.txt", MODELS, name);
    char *text = (char *)read_file(path, &size);
    CHECK(text != NULL && size == c->text_len + 1 && text[size - 1] == '\n' &&
          memcmp(text, c->text, c->text_len) == 0);
    free(text);
}

static void test_stories_references(void)
{
    loaded l;
    if (!load(MODELS "/stories260K/stories260K.bin", MODELS "/stories260K/tok512.bin", &l))
        return;
    capture c;
    vkllm_session_options one_at_a_time = {.batch_size = 1};

    generate(&l, NULL, "", 256, &greedy, &c);
    expect_reference(&c, "stories260K_run_t0_default");
    generate(&l, NULL, "Once upon a time", 64, &greedy, &c);
    expect_reference(&c, "stories260K_run_t0_ouat_n64");
    generate(&l, &one_at_a_time, "Once upon a time", 64, &greedy, &c);
    expect_reference(&c, "stories260K_run_t0_ouat_n64");
    unload(&l);
}

/* aidreams260K has no published output: its greedy run must equal the
 * oracle's, over its whole 128-position context. */
static void test_aidreams_matches_oracle(void)
{
    const char *path = MODELS "/aidreams260K/aidreams260K.bin";
    loaded l;
    if (!load(path, MODELS "/aidreams260K/tok512.bin", &l))
        return;
    capture c;
    generate(&l, NULL, "", 0, &greedy, &c);

    vkl_model_file *file;
    vkl_error err = {0};
    CHECK(vkl_model_file_open_llama2c(path, &file, &err) == VKLLM_OK);
    cpu_model *m = cpu_model_create(file, 128);
    int32_t token = 1;
    int matched = 0;
    for (int pos = 0; pos < 128 && matched < c.count; pos++) {
        const float *logits = cpu_model_forward(m, token, pos);
        token = cpu_argmax(logits, 512);
        if (token == 1 || token == 2)
            break;
        CHECK_MSG(c.ids[matched] == token, "position %d: %d, oracle %d", pos, c.ids[matched],
                  token);
        matched++;
    }
    CHECK_MSG(matched == c.count && matched > 10, "matched %d of %d", matched, c.count);
    cpu_model_free(m);
    vkl_model_file_close(file);
    unload(&l);
}

static void test_sampling_follows_seed(void)
{
    loaded l;
    if (!load(MODELS "/stories260K/stories260K.bin", MODELS "/stories260K/tok512.bin", &l))
        return;
    vkllm_sampler_options sampler = {.temperature = 1.0f, .top_k = 40, .top_p = 0.9f,
                                     .seed = 42};
    capture a, b;
    generate(&l, NULL, "Once upon a time", 80, &sampler, &a);
    generate(&l, NULL, "Once upon a time", 80, &sampler, &b);
    CHECK(a.count == b.count && memcmp(a.ids, b.ids, a.count * sizeof *a.ids) == 0);

    sampler.seed = 43;
    generate(&l, NULL, "Once upon a time", 80, &sampler, &b);
    CHECK(a.count != b.count || memcmp(a.ids, b.ids, a.count * sizeof *a.ids) != 0);
    unload(&l);
}

/* A prompt that does not fit the context is refused before any work; one
 * that fits stops at the context's end. */
static void test_context_limits(void)
{
    loaded l;
    if (!load(MODELS "/stories260K/stories260K.bin", MODELS "/stories260K/tok512.bin", &l))
        return;
    vkllm_session_options small = {.context_length = 8};
    capture c;
    const char *long_prompt = "Once upon a time, there was a little girl named Lily.";

    memset(&c, 0, sizeof c);
    vkllm_session *s;
    CHECK(vkllm_session_create(l.model, &small, &s) == VKLLM_OK);
    vkllm_generate_options go = vkllm_generate_default_options();
    go.sampler = greedy;
    CHECK(vkllm_generate(s, l.tok, long_prompt, &go, NULL) == VKLLM_ERROR_CONTEXT_FULL);
    CHECK(strstr(vkllm_session_error(s), "context") != NULL);
    vkllm_session_destroy(s);

    generate(&l, &small, "Once", 1000, &greedy, &c);
    CHECK_MSG(c.count == 8, "%d tokens in a context of 8", c.count);
    unload(&l);
}

/* A model whose weights hold a NaN computes NaN logits: generation stops
 * with a message instead of emitting garbage. */
static void test_nan_weights_refused(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(MODELS "/stories260K/stories260K.bin", &size);
    CHECK(bytes != NULL && size > 7 * sizeof(int32_t));
    if (bytes == NULL)
        return;
    /* The header is dim, hidden_dim, n_layers, ..., vocab_size; the first
     * query weight follows the embedding table and the attention norms. */
    int32_t header[7];
    memcpy(header, bytes, sizeof header);
    size_t first_wq = sizeof header + ((size_t)header[5] * header[0] +
                                        (size_t)header[2] * header[0]) * sizeof(float);
    float nan = NAN;
    memcpy(bytes + first_wq, &nan, sizeof nan);
    char path[] = "/tmp/vkllm_test_nan_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write_file(path, bytes, size) == 0);
    free(bytes);

    loaded l;
    if (fd >= 0 && load(path, MODELS "/stories260K/tok512.bin", &l)) {
        vkllm_session *s;
        CHECK(vkllm_session_create(l.model, NULL, &s) == VKLLM_OK);
        vkllm_generate_options go = vkllm_generate_default_options();
        go.sampler = greedy;
        go.max_tokens = 8;
        CHECK(vkllm_generate(s, l.tok, "Once", &go, NULL) == VKLLM_ERROR_BAD_MODEL);
        CHECK_MSG(strstr(vkllm_session_error(s), "NaN") != NULL, "%s", vkllm_session_error(s));
        vkllm_session_destroy(s);
        unload(&l);
    }
    if (fd >= 0) {
        close(fd);
        remove(path);
    }
}

int main(void)
{
    if (!gpu_fixture_open(&fx))
        return 1;
    RUN(test_stories_references);
    RUN(test_aidreams_matches_oracle);
    RUN(test_sampling_follows_seed);
    RUN(test_context_limits);
    RUN(test_nan_weights_refused);
    gpu_fixture_close(&fx);
    TEST_MAIN_END();
}
