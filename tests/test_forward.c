/* The whole Vulkan forward pass against the CPU oracle: logits at every
 * position of the reference run, token by token (the matrix-vector path)
 * and as batched prompts (the matrix-matrix path), for two llama2.c models
 * of different shapes. Validation is on throughout.
 *
 * Tolerance: |gpu - cpu| <= 1e-4 + 1e-4 |cpu| for every logit. The oracle
 * sums in double and the shaders in float; on lavapipe the largest
 * difference seen over these runs is 2.3e-5. */
#include <stdlib.h>
#include <string.h>

#include "cpu_ref.h"
#include "gpu_fixture.h"
#include "test.h"
#include "test_files.h"

#define LOGIT_ATOL 1e-4
#define LOGIT_RTOL 1e-4
#define MAX_POSITIONS 512

typedef struct model_case {
    const char *path;
    const char *reference_ids;      /* tokens to feed after BOS; NULL: the oracle's greedy */
    int positions;
} model_case;

static const model_case stories = {
    VKLLM_MODELS_DIR "/stories260K/stories260K.bin",
    VKLLM_MODELS_DIR "/reference/stories260K_run_t0_default.ids", 256};
static const model_case aidreams = {
    VKLLM_MODELS_DIR "/aidreams260K/aidreams260K.bin", NULL, 128};

static gpu_fixture fx;

/* The oracle's logits for BOS followed by the reference tokens (or its own
 * greedy choices), one row per position, and the tokens fed. */
typedef struct oracle_run {
    int32_t tokens[MAX_POSITIONS];
    float *logits;                  /* [positions, vocab] */
    int positions;
    int vocab;
} oracle_run;

static bool run_oracle(const model_case *mc, oracle_run *out)
{
    vkl_model_file *file;
    vkl_error err = {0};
    if (vkl_model_file_open_llama2c(mc->path, &file, &err) != VKLLM_OK) {
        CHECK_MSG(false, "%s", err.message);
        return false;
    }
    int32_t reference[MAX_POSITIONS];
    int reference_count = mc->reference_ids ? read_ids(mc->reference_ids, reference,
                                                       MAX_POSITIONS) : 0;
    CHECK(mc->reference_ids == NULL || reference_count >= mc->positions - 1);

    out->positions = mc->positions;
    out->vocab = file->config.vocab_size;
    out->logits = malloc((size_t)mc->positions * out->vocab * sizeof(float));
    cpu_model *m = cpu_model_create(file, mc->positions);
    out->tokens[0] = 1;     /* BOS */
    for (int pos = 0; pos < mc->positions; pos++) {
        const float *logits = cpu_model_forward(m, out->tokens[pos], pos);
        memcpy(out->logits + (size_t)pos * out->vocab, logits, out->vocab * sizeof(float));
        int32_t next = mc->reference_ids ? reference[pos] : cpu_argmax(logits, out->vocab);
        if (pos + 1 < MAX_POSITIONS)
            out->tokens[pos + 1] = next;
    }
    cpu_model_free(m);
    vkl_model_file_close(file);
    return true;
}

static vkllm_model *load_model(const model_case *mc)
{
    vkllm_model *model = NULL;
    vkllm_status status = vkllm_model_load(fx.rt, mc->path, NULL, &model);
    CHECK_MSG(status == VKLLM_OK, "%s", vkllm_runtime_error(fx.rt));
    return model;
}

static vkllm_session *create_session(vkllm_model *model, const vkllm_session_options *so)
{
    vkllm_session *s = NULL;
    vkllm_status status = vkllm_session_create(model, so, &s);
    CHECK_MSG(status == VKLLM_OK, "%s", vkllm_runtime_error(fx.rt));
    return s;
}

static void expect_logits(const oracle_run *o, int pos, const float *gpu, const char *how)
{
    if (gpu == NULL) {
        CHECK_MSG(false, "%s: no logits at position %d", how, pos);
        return;
    }
    const float *cpu = o->logits + (size_t)pos * o->vocab;
    double error = max_scaled_error(gpu, cpu, o->vocab, LOGIT_ATOL, LOGIT_RTOL);
    CHECK_MSG(error <= 1.0, "%s: position %d off by %.3g of tolerance", how, pos, error);
}

/* One token per eval: the recorded single-token command buffer. */
static void check_token_by_token(vkllm_model *model, const oracle_run *o)
{
    vkllm_session *s = create_session(model, NULL);
    if (s == NULL)
        return;

    for (int pos = 0; pos < o->positions; pos++) {
        CHECK(vkllm_session_eval(s, &o->tokens[pos], 1) == VKLLM_OK);
        expect_logits(o, pos, vkllm_session_logits(s, 0), "token by token");
    }
    vkllm_session_destroy(s);
}

/* All positions in one eval, split into batches of batch_size, keeping
 * every token's logits: the recorded batch command buffer. */
static void check_batched(vkllm_model *model, const oracle_run *o, int batch_size)
{
    vkllm_session_options so = vkllm_session_default_options();
    so.batch_size = batch_size;
    so.logits_all = true;
    vkllm_session *s = create_session(model, &so);
    if (s == NULL)
        return;

    CHECK(vkllm_session_eval(s, o->tokens, o->positions) == VKLLM_OK);
    for (int pos = 0; pos < o->positions; pos++)
        expect_logits(o, pos, vkllm_session_logits(s, pos), "batched");
    vkllm_session_destroy(s);
}

/* A prompt in batches, then single tokens, then a batch again, with only
 * the last token's logits kept. */
static void check_mixed(vkllm_model *model, const oracle_run *o)
{
    vkllm_session_options so = vkllm_session_default_options();
    so.batch_size = 7;
    vkllm_session *s = create_session(model, &so);
    if (s == NULL)
        return;

    const int prompt = 20, singles = 5, tail = 11;
    CHECK(vkllm_session_eval(s, o->tokens, prompt) == VKLLM_OK);
    expect_logits(o, prompt - 1, vkllm_session_logits(s, prompt - 1), "prompt");
    CHECK(vkllm_session_logits(s, 0) == NULL);
    for (int pos = prompt; pos < prompt + singles; pos++) {
        CHECK(vkllm_session_eval(s, &o->tokens[pos], 1) == VKLLM_OK);
        expect_logits(o, pos, vkllm_session_logits(s, 0), "single");
    }
    CHECK(vkllm_session_eval(s, &o->tokens[prompt + singles], tail) == VKLLM_OK);
    expect_logits(o, prompt + singles + tail - 1, vkllm_session_logits(s, tail - 1), "tail");
    CHECK(vkllm_session_position(s) == prompt + singles + tail);
    vkllm_session_destroy(s);
}

static void check_model(const model_case *mc)
{
    oracle_run o = {0};
    vkllm_model *model = NULL;
    if (run_oracle(mc, &o) && (model = load_model(mc)) != NULL) {
        check_token_by_token(model, &o);
        check_batched(model, &o, 32);
        check_batched(model, &o, 13);
        check_mixed(model, &o);
    }
    vkllm_model_destroy(model);
    free(o.logits);
}

static void test_stories260k(void) { check_model(&stories); }
static void test_aidreams260k(void) { check_model(&aidreams); }

int main(void)
{
    if (!gpu_fixture_open(&fx))
        return 1;
    RUN(test_stories260k);
    RUN(test_aidreams260k);

    /* The whole forward pass again through the kernels a GPU gets (blocks
     * layout, subgroup-reduced matrix-vector product, tiled matrix multiply),
     * where this device is a CPU driver that gets others. */
    if (fx.dev->cpu_kernels) {
        fx.dev->cpu_kernels = false;
        fprintf(stderr, "with the GPU kernels:\n");
        RUN(test_stories260k);
        RUN(test_aidreams260k);
        fx.dev->cpu_kernels = true;
    }
    gpu_fixture_close(&fx);
    TEST_MAIN_END();
}
