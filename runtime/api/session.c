/* The session handle: a KV cache and a position, fed tokens in batches. */
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"

vkllm_session_options vkllm_session_default_options(void)
{
    return (vkllm_session_options){0};
}

static vkllm_status check_options(const vkllm_model *model, const vkllm_session_options *o,
                                  vkl_error *err)
{
    int32_t model_context = model->weights.config.context_length;
    if (o->context_length < 0 || o->context_length > model_context)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "context length %d is outside 1 .. %d (the model's)",
                        o->context_length, model_context);
    if (o->batch_size < 0 || o->batch_size > 4096)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "batch size %d is outside 1 .. 4096", o->batch_size);
    return VKLLM_OK;
}

vkllm_status vkllm_session_create(vkllm_model *model, const vkllm_session_options *options,
                                  vkllm_session **out)
{
    if (model == NULL || out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    vkllm_session_options defaults = vkllm_session_default_options();
    if (options == NULL)
        options = &defaults;

    vkl_error err = {0};
    vkllm_status status = check_options(model, options, &err);
    if (status != VKLLM_OK)
        return vkl_api_record(&model->rt->error, &err);

    uint32_t context = options->context_length > 0 ? (uint32_t)options->context_length
                                                   : (uint32_t)model->weights.config.context_length;
    uint32_t batch = options->batch_size > 0 ? (uint32_t)options->batch_size : VKL_DEFAULT_BATCH;
    if (batch > context)
        batch = context;

    vkllm_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return vkl_fail(&model->rt->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    s->model = model;
    status = vkl_runner_create(&model->weights, context, batch, options->logits_all,
                                     &s->runner, &err);
    if (status != VKLLM_OK) {
        free(s);
        return vkl_api_record(&model->rt->error, &err);
    }
    *out = s;
    return VKLLM_OK;
}

void vkllm_session_destroy(vkllm_session *s)
{
    if (s == NULL)
        return;
    vkl_runner_free(&s->runner);
    free(s->kept_logits);
    free(s);
}

const char *vkllm_session_error(const vkllm_session *s)
{
    return s != NULL ? s->error.message : "no session";
}

static vkllm_status check_tokens(vkllm_session *s, const int32_t *tokens, size_t count)
{
    if (count > s->runner.context - (uint32_t)s->position)
        return vkl_fail(&s->error, VKLLM_ERROR_CONTEXT_FULL,
                        "%zu more tokens do not fit: %d of the context's %u are used",
                        count, s->position, s->runner.context);

    int32_t vocab = s->model->weights.config.vocab_size;
    for (size_t i = 0; i < count; i++) {
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return vkl_fail(&s->error, VKLLM_ERROR_INVALID_ARGUMENT,
                            "token %zu is %d, outside the vocabulary of %d", i, tokens[i], vocab);
    }
    return VKLLM_OK;
}

/* With logits_all, each step's rows are copied out before the next step
 * overwrites them. The buffer only grows, so steady decoding allocates
 * nothing. */
static vkllm_status reserve_kept_logits(vkllm_session *s, size_t rows)
{
    if (rows <= s->kept_capacity)
        return VKLLM_OK;
    size_t vocab = (size_t)s->model->weights.config.vocab_size;
    float *grown = realloc(s->kept_logits, rows * vocab * sizeof *grown);
    if (grown == NULL)
        return vkl_fail(&s->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for logits");
    s->kept_logits = grown;
    s->kept_capacity = rows;
    return VKLLM_OK;
}

static void keep_logits(vkllm_session *s, size_t first_row, uint32_t rows)
{
    size_t vocab = (size_t)s->model->weights.config.vocab_size;
    memcpy(s->kept_logits + first_row * vocab, vkl_runner_logits(&s->runner, 0),
           rows * vocab * sizeof(float));
}

vkllm_status vkllm_session_eval(vkllm_session *s, const int32_t *tokens, size_t count)
{
    if (s == NULL || (tokens == NULL && count > 0))
        return VKLLM_ERROR_INVALID_ARGUMENT;
    vkllm_status status = check_tokens(s, tokens, count);
    if (status == VKLLM_OK && s->runner.logits_all)
        status = reserve_kept_logits(s, count);
    if (status != VKLLM_OK)
        return status;

    s->last_count = 0;
    for (size_t done = 0; done < count;) {
        uint32_t n = count - done < s->runner.batch ? (uint32_t)(count - done) : s->runner.batch;
        vkl_error err = {0};
        status = vkl_runner_step(&s->runner, tokens + done, n, (uint32_t)s->position, &err);
        if (status != VKLLM_OK)
            return vkl_api_record(&s->error, &err);
        if (s->runner.logits_all)
            keep_logits(s, done, n);
        s->position += (int32_t)n;
        done += n;
    }
    s->last_count = count;
    return VKLLM_OK;
}

const float *vkllm_session_logits(const vkllm_session *s, size_t i)
{
    if (s == NULL || i >= s->last_count)
        return NULL;
    if (s->runner.logits_all)
        return s->kept_logits + i * (size_t)s->model->weights.config.vocab_size;
    return i == s->last_count - 1 ? vkl_runner_logits(&s->runner, 0) : NULL;
}

int32_t vkllm_session_position(const vkllm_session *s)
{
    return s != NULL ? s->position : 0;
}

int32_t vkllm_session_context_length(const vkllm_session *s)
{
    return s != NULL ? (int32_t)s->runner.context : 0;
}

void vkllm_session_reset(vkllm_session *s)
{
    if (s == NULL)
        return;
    s->position = 0;
    s->last_count = 0;
}
