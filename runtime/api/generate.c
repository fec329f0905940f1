/* The generation loop, with llama2.c's conventions: BOS, then the prompt,
 * then sampled tokens until max_tokens positions (prompt included), BOS or
 * EOS, or the end of the context. Text streams out in whole characters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handles.h"
#include "text/sampler.h"
#include "text/utf8_stream.h"

typedef struct generation {
    vkllm_session *s;
    const vkl_tokenizer *tok;
    const vkllm_generate_options *options;
    vkl_utf8_stream text;
    int32_t prev;               /* the last token emitted */
    int32_t emitted;            /* tokens emitted after BOS */
    int32_t limit;              /* most tokens to emit */
} generation;

vkllm_generate_options vkllm_generate_default_options(void)
{
    return (vkllm_generate_options){
        .max_tokens = 256,
        .sampler = vkllm_sampler_default_options(),
    };
}

vkllm_sampler_options vkllm_sampler_default_options(void)
{
    return (vkllm_sampler_options){.temperature = 1.0f, .top_k = 0, .top_p = 0.9f, .seed = 0};
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit(generation *g, int32_t id)
{
    size_t len = 0;
    const char *piece = vkl_tokenizer_piece(g->tok, g->prev, id, &len);
    if (piece != NULL)
        vkl_utf8_stream_push(&g->text, piece, len);
    if (g->options->on_token != NULL)
        g->options->on_token(id, g->options->user);
    g->prev = id;
    g->emitted++;
}

/* BOS (when the vocabulary has one) and the prompt, as ids. The count comes
 * first: byte fallback can make several tokens of one byte. */
static vkllm_status encode_prompt(generation *g, const char *prompt, int32_t **ids, size_t *count)
{
    size_t len = strlen(prompt);
    bool bos = vkl_tokenizer_bos(g->tok) >= 0;
    *ids = NULL;
    if (!bos && len == 0)
        return vkl_fail(&g->s->error, VKLLM_ERROR_INVALID_ARGUMENT,
                        "this tokenizer has no BOS token to start from: give a prompt");

    vkl_tokenizer_encode(g->tok, prompt, len, bos, NULL, 0, count, NULL);
    *ids = malloc((*count + 1) * sizeof **ids);
    if (*ids == NULL)
        return vkl_fail(&g->s->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    return vkl_tokenizer_encode(g->tok, prompt, len, bos, *ids, *count, count, &g->s->error);
}

/* Evaluates BOS and the prompt, and emits the prompt's tokens. */
static vkllm_status run_prompt(generation *g, const char *prompt, vkllm_generate_stats *stats)
{
    int32_t *ids;
    size_t count = 0;
    vkllm_status status = encode_prompt(g, prompt, &ids, &count);
    if (status == VKLLM_OK && count == 0)
        status = vkl_fail(&g->s->error, VKLLM_ERROR_INVALID_ARGUMENT,
                          "the prompt encodes to no tokens with this tokenizer");
    if (status == VKLLM_OK && count > (size_t)vkllm_session_context_length(g->s))
        status = vkl_fail(&g->s->error, VKLLM_ERROR_CONTEXT_FULL,
                          "the prompt is %zu tokens; the context holds %d",
                          count, vkllm_session_context_length(g->s));

    double start = now_seconds();
    if (status == VKLLM_OK)
        status = vkllm_session_eval(g->s, ids, count);
    stats->prompt_seconds = now_seconds() - start;
    stats->prompt_tokens = (int32_t)count;

    size_t first = vkl_tokenizer_bos(g->tok) >= 0 ? 1 : 0;     /* BOS is not text */
    for (size_t i = first; status == VKLLM_OK && i < count && g->emitted < g->limit; i++)
        emit(g, ids[i]);
    free(ids);
    return status;
}

/* Logits that are not all finite come from weights holding NaN or infinity
 * (or overflowing them); sampling from them would emit garbage. */
static vkllm_status check_logits(generation *g, const float *logits, size_t vocab)
{
    for (size_t i = 0; i < vocab; i++) {
        if (!isfinite(logits[i]))
            return vkl_fail(&g->s->error, VKLLM_ERROR_BAD_MODEL,
                            "the model computed a logit of %g at position %d: its weights "
                            "hold a NaN or an infinity, or overflow a float",
                            (double)logits[i], (int)g->s->position);
    }
    return VKLLM_OK;
}

static vkllm_status run_sampling(generation *g, vkl_sampler *sampler,
                                 vkllm_generate_stats *stats)
{
    size_t vocab = (size_t)g->s->model->weights.config.vocab_size;
    float *logits = malloc(vocab * sizeof *logits);
    if (logits == NULL)
        return vkl_fail(&g->s->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    double start = now_seconds();
    vkllm_status status = VKLLM_OK;
    while (g->emitted < g->limit) {
        memcpy(logits, vkllm_session_logits(g->s, g->s->last_count - 1), vocab * sizeof *logits);
        status = check_logits(g, logits, vocab);
        if (status != VKLLM_OK)
            break;
        int32_t next = vkl_sampler_sample(sampler, logits);
        if (next == vkl_tokenizer_bos(g->tok) || next == vkl_tokenizer_eos(g->tok))
            break;
        emit(g, next);
        stats->generated_tokens++;
        if (g->emitted >= g->limit)
            break;
        status = vkllm_session_eval(g->s, &next, 1);
        if (status != VKLLM_OK)
            break;
    }
    stats->generate_seconds = now_seconds() - start;
    free(logits);
    return status;
}

/* The sampler tolerates anything; a caller's nonsense is still refused. */
static vkllm_status check_sampler_options(const vkllm_sampler_options *o, vkl_error *err)
{
    if (!(o->temperature >= 0.0f && o->temperature <= 1e6f))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "temperature %g is not a number from 0 (greedy) up", o->temperature);
    if (!(o->top_p >= 0.0f && o->top_p <= 1.0f))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "top_p %g is outside 0 .. 1",
                        o->top_p);
    if (o->top_k < 0)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "top_k %d is negative", o->top_k);
    return VKLLM_OK;
}

static int32_t emit_limit(const vkllm_session *s, int32_t max_tokens)
{
    /* Each emitted token but the last is evaluated at a position of its own,
     * after BOS at 0: the context bounds the count as llama2.c's -n is. */
    int32_t context = vkllm_session_context_length(s);
    return max_tokens <= 0 || max_tokens > context ? context : max_tokens;
}

vkllm_status vkllm_generate(vkllm_session *s, const vkllm_tokenizer *tok, const char *prompt,
                            const vkllm_generate_options *options, vkllm_generate_stats *stats)
{
    if (s == NULL || tok == NULL || prompt == NULL || options == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    vkllm_generate_stats ignored;
    if (stats == NULL)
        stats = &ignored;
    memset(stats, 0, sizeof *stats);

    vkllm_status status = check_sampler_options(&options->sampler, &s->error);
    if (status != VKLLM_OK)
        return status;
    vkl_sampler sampler;
    status = vkl_sampler_init(&sampler, &options->sampler, s->model->weights.config.vocab_size);
    if (status != VKLLM_OK)
        return vkl_fail(&s->error, status, "out of memory for the sampler");

    generation g = {.s = s, .tok = tok->impl, .options = options,
                    .prev = vkl_tokenizer_bos(tok->impl),
                    .limit = emit_limit(s, options->max_tokens)};
    vkl_utf8_stream_init(&g.text, options->on_text, options->user);
    vkllm_session_reset(s);

    status = run_prompt(&g, prompt, stats);
    if (status == VKLLM_OK)
        status = run_sampling(&g, &sampler, stats);
    vkl_utf8_stream_finish(&g.text);
    vkl_sampler_free(&sampler);
    return status;
}
