#include "text/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* splitmix64's finalizer: spreads any seed, 0 included, over all 64 bits. */
static uint64_t mix_seed(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xorshift64*: small, fast, and good enough for picking tokens. */
static uint32_t next_u32(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Uniform in [0, 1): 24 random bits, exactly what a float holds. */
static float next_unit_float(uint64_t *state)
{
    return (float)(next_u32(state) >> 8) / 16777216.0f;
}

vkllm_status vkl_sampler_init(vkl_sampler *sampler, const vkllm_sampler_options *options,
                              int32_t vocab_size)
{
    if (sampler == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;

    /* Set first, so that freeing a sampler whose init failed is safe. */
    sampler->candidates = NULL;
    if (options == NULL || vocab_size <= 0)
        return VKLLM_ERROR_INVALID_ARGUMENT;

    sampler->options = *options;
    sampler->vocab_size = vocab_size;
    sampler->candidates = malloc((size_t)vocab_size * sizeof *sampler->candidates);
    if (sampler->candidates == NULL)
        return VKLLM_ERROR_OUT_OF_HOST_MEMORY;

    /* xorshift never leaves the all-zero state, so that one is avoided. */
    sampler->rng_state = mix_seed(options->seed);
    if (sampler->rng_state == 0)
        sampler->rng_state = 0x9E3779B97F4A7C15ull;
    return VKLLM_OK;
}

void vkl_sampler_free(vkl_sampler *sampler)
{
    if (sampler == NULL)
        return;

    free(sampler->candidates);
    sampler->candidates = NULL;
}

/* NaN logits cannot be compared, so they become "never". */
static void replace_nan(float *logits, int32_t count)
{
    for (int32_t i = 0; i < count; i++) {
        if (isnan(logits[i]))
            logits[i] = -INFINITY;
    }
}

/* The first index holding the largest value. */
static int32_t argmax(const float *values, int32_t count)
{
    int32_t best = 0;
    for (int32_t i = 1; i < count; i++) {
        if (values[i] > values[best])
            best = i;
    }
    return best;
}

/* Descending probability; ids break ties so that qsort's order is fixed. */
static int compare_candidates(const void *left, const void *right)
{
    const vkl_candidate *a = left;
    const vkl_candidate *b = right;
    if (a->prob != b->prob)
        return a->prob > b->prob ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static void sort_candidates(vkl_candidate *candidates, int32_t count)
{
    qsort(candidates, (size_t)count, sizeof *candidates, compare_candidates);
}

/* Fills candidates with logit / temperature for every id, in id order. */
static void scale_into_candidates(vkl_sampler *sampler, const float *logits)
{
    /* A division, not a multiply by 1/temperature: a tiny temperature would
     * make that reciprocal inf, and 0 * inf is NaN. */
    float temperature = sampler->options.temperature;
    for (int32_t id = 0; id < sampler->vocab_size; id++) {
        sampler->candidates[id].prob = logits[id] / temperature;
        sampler->candidates[id].id = id;
    }
}

/* Turns the scaled logits held in prob into probabilities. The caller has
 * made sure the largest is finite, so no exp() sees inf - inf. */
static void softmax_candidates(vkl_candidate *candidates, int32_t count)
{
    float max_logit = candidates[0].prob;
    for (int32_t i = 1; i < count; i++) {
        if (candidates[i].prob > max_logit)
            max_logit = candidates[i].prob;
    }

    float sum = 0.0f;
    for (int32_t i = 0; i < count; i++) {
        candidates[i].prob = expf(candidates[i].prob - max_logit);
        sum += candidates[i].prob;
    }

    for (int32_t i = 0; i < count; i++)
        candidates[i].prob /= sum;
}

/* How many of the sorted candidates form the nucleus: the shortest prefix
 * whose probability reaches top_p, never empty. */
static int32_t nucleus_size(const vkl_candidate *candidates, int32_t count, float top_p)
{
    float cumulative = 0.0f;
    for (int32_t i = 0; i < count; i++) {
        cumulative += candidates[i].prob;
        if (cumulative >= top_p)
            return i + 1;
    }
    return count;
}

/* Draws by walking the cumulative sum; the threshold is scaled by the total
 * rather than renormalizing, and rounding that runs off the end lands on the
 * last candidate. */
static int32_t draw(const vkl_candidate *candidates, int32_t count, uint64_t *rng_state)
{
    float total = 0.0f;
    for (int32_t i = 0; i < count; i++)
        total += candidates[i].prob;

    float threshold = next_unit_float(rng_state) * total;
    float cumulative = 0.0f;
    for (int32_t i = 0; i < count; i++) {
        cumulative += candidates[i].prob;
        if (threshold < cumulative)
            return candidates[i].id;
    }
    return candidates[count - 1].id;
}

static bool top_p_active(float top_p)
{
    return top_p > 0.0f && top_p < 1.0f;
}

/* Temperature, then top-k, softmax, top-p, and a draw. */
static int32_t sample_filtered(vkl_sampler *sampler, const float *logits)
{
    const vkllm_sampler_options *options = &sampler->options;
    vkl_candidate *candidates = sampler->candidates;
    int32_t count = sampler->vocab_size;

    scale_into_candidates(sampler, logits);
    bool use_top_k = options->top_k > 0 && options->top_k < count;
    if (use_top_k || top_p_active(options->top_p))
        sort_candidates(candidates, count);
    if (use_top_k)
        count = options->top_k;

    softmax_candidates(candidates, count);
    if (top_p_active(options->top_p))
        count = nucleus_size(candidates, count, options->top_p);

    return draw(candidates, count, &sampler->rng_state);
}

int32_t vkl_sampler_sample(vkl_sampler *sampler, float *logits)
{
    replace_nan(logits, sampler->vocab_size);
    int32_t best = argmax(logits, sampler->vocab_size);

    /* NaN temperatures fail the comparison and count as greedy too. */
    float temperature = sampler->options.temperature;
    if (!(temperature > 0.0f) || sampler->options.top_k == 1)
        return best;

    /* With an infinite top logit (or all -inf) softmax has no meaning; the
     * same holds when a tiny temperature overflows the scaled maximum. */
    float scaled_max = logits[best] / temperature;
    if (!isfinite(scaled_max))
        return best;

    return sample_filtered(sampler, logits);
}
