/* The sampler: greedy, temperature, top-k and top-p, seeded and repeatable. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "text/sampler.h"

#define VOCAB 8
#define DRAWS 2000

static const float LOGITS[VOCAB] = { 0.5f, 2.0f, -1.0f, 1.5f, 3.0f, 0.0f, 2.5f, -3.0f };
#define ARGMAX_ID 4

static vkllm_sampler_options options_with(float temperature, int32_t top_k, float top_p,
                                          uint64_t seed)
{
    vkllm_sampler_options options = { .temperature = temperature, .top_k = top_k,
                                      .top_p = top_p, .seed = seed };
    return options;
}

/* Samples once from a fresh copy of logits, which the sampler overwrites. */
static int32_t sample_from(vkl_sampler *sampler, const float *logits, int32_t count)
{
    float scratch[64];
    memcpy(scratch, logits, (size_t)count * sizeof *scratch);
    return vkl_sampler_sample(sampler, scratch);
}

static bool init_sampler(vkl_sampler *sampler, vkllm_sampler_options options, int32_t vocab)
{
    vkllm_status status = vkl_sampler_init(sampler, &options, vocab);
    CHECK(status == VKLLM_OK);
    return status == VKLLM_OK;
}

static void test_greedy_picks_argmax(void)
{
    vkl_sampler sampler;
    if (!init_sampler(&sampler, options_with(0.0f, 0, 1.0f, 1), VOCAB))
        return;

    for (int i = 0; i < 10; i++)
        CHECK(sample_from(&sampler, LOGITS, VOCAB) == ARGMAX_ID);

    /* Ties go to the first. The row fills the whole vocabulary: the
     * sampler reads vocab_size logits. */
    const float tied[VOCAB] = { 1.0f, 7.0f, 7.0f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f };
    CHECK(sample_from(&sampler, tied, VOCAB) == 1);
    vkl_sampler_free(&sampler);
}

/* Fills ids with DRAWS samples under options. */
static void draw_many(vkllm_sampler_options options, int32_t *ids)
{
    vkl_sampler sampler;
    if (!init_sampler(&sampler, options, VOCAB))
        return;

    for (int i = 0; i < DRAWS; i++)
        ids[i] = sample_from(&sampler, LOGITS, VOCAB);
    vkl_sampler_free(&sampler);
}

static void test_same_seed_same_sequence(void)
{
    static int32_t first[DRAWS];
    static int32_t second[DRAWS];
    static int32_t other_seed[DRAWS];
    draw_many(options_with(1.0f, 0, 1.0f, 42), first);
    draw_many(options_with(1.0f, 0, 1.0f, 42), second);
    draw_many(options_with(1.0f, 0, 1.0f, 43), other_seed);

    CHECK(memcmp(first, second, sizeof first) == 0);
    CHECK(memcmp(first, other_seed, sizeof first) != 0);
}

static void test_seed_zero_works(void)
{
    static int32_t ids[DRAWS];
    draw_many(options_with(1.0f, 0, 1.0f, 0), ids);

    /* A stuck generator would give one token over and over. */
    int seen[VOCAB] = { 0 };
    for (int i = 0; i < DRAWS; i++)
        seen[ids[i]] = 1;
    int distinct = 0;
    for (int id = 0; id < VOCAB; id++)
        distinct += seen[id];
    CHECK(distinct >= 4);
}

static void test_top_k_one_is_greedy(void)
{
    static int32_t ids[DRAWS];
    draw_many(options_with(1.5f, 1, 1.0f, 7), ids);
    for (int i = 0; i < DRAWS; i++)
        CHECK(ids[i] == ARGMAX_ID);
}

static void test_top_k_restricts_support(void)
{
    static int32_t ids[DRAWS];
    draw_many(options_with(2.0f, 3, 1.0f, 9), ids);

    /* The three highest logits are ids 4, 6 and 1; each should turn up. */
    int counts[VOCAB] = { 0 };
    for (int i = 0; i < DRAWS; i++)
        counts[ids[i]]++;
    CHECK(counts[4] + counts[6] + counts[1] == DRAWS);
    CHECK(counts[4] > 0 && counts[6] > 0 && counts[1] > 0);
}

static void test_small_top_p_is_greedy(void)
{
    static int32_t ids[DRAWS];
    draw_many(options_with(1.0f, 0, 0.01f, 11), ids);
    for (int i = 0; i < DRAWS; i++)
        CHECK(ids[i] == ARGMAX_ID);
}

static void test_top_p_keeps_the_nucleus(void)
{
    /* Probabilities 0.5, 0.3, 0.2: top_p 0.7 needs the first two only. */
    const float logits[3] = { logf(0.5f), logf(0.3f), logf(0.2f) };
    vkl_sampler sampler;
    if (!init_sampler(&sampler, options_with(1.0f, 0, 0.7f, 5), 3))
        return;

    int counts[3] = { 0 };
    for (int i = 0; i < DRAWS; i++)
        counts[sample_from(&sampler, logits, 3)]++;
    CHECK(counts[2] == 0);
    CHECK(counts[0] > counts[1] && counts[1] > 0);
    vkl_sampler_free(&sampler);
}

static void test_frequencies_follow_softmax(void)
{
    const float logits[3] = { logf(0.5f), logf(0.3f), logf(0.2f) };
    const double expected[3] = { 0.5, 0.3, 0.2 };
    vkl_sampler sampler;
    if (!init_sampler(&sampler, options_with(1.0f, 0, 1.0f, 2024), 3))
        return;

    const int draws = 20000;
    int counts[3] = { 0 };
    for (int i = 0; i < draws; i++)
        counts[sample_from(&sampler, logits, 3)]++;

    for (int id = 0; id < 3; id++) {
        double frequency = (double)counts[id] / draws;
        CHECK_MSG(fabs(frequency - expected[id]) < 0.02, "id %d: %.4f, want %.1f", id,
                  frequency, expected[id]);
    }
    vkl_sampler_free(&sampler);
}

static void test_tiny_temperature_is_greedy(void)
{
    static int32_t ids[DRAWS];
    draw_many(options_with(1e-4f, 0, 1.0f, 3), ids);
    for (int i = 0; i < DRAWS; i++)
        CHECK(ids[i] == ARGMAX_ID);

    /* Small enough that logit / temperature overflows to inf. */
    draw_many(options_with(1e-38f, 0, 1.0f, 3), ids);
    for (int i = 0; i < DRAWS; i++)
        CHECK(ids[i] == ARGMAX_ID);
}

static void test_non_finite_logits(void)
{
    vkl_sampler sampler;
    if (!init_sampler(&sampler, options_with(1.0f, 0, 0.9f, 8), 4))
        return;

    /* NaN is never picked; the finite ones still are. */
    const float with_nan[4] = { NAN, 1.0f, NAN, 0.5f };
    for (int i = 0; i < 200; i++) {
        int32_t id = sample_from(&sampler, with_nan, 4);
        CHECK(id == 1 || id == 3);
    }

    const float all_nan[4] = { NAN, NAN, NAN, NAN };
    CHECK(sample_from(&sampler, all_nan, 4) == 0);

    const float all_minus_inf[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    CHECK(sample_from(&sampler, all_minus_inf, 4) == 0);

    const float with_inf[4] = { 0.0f, INFINITY, 2.0f, INFINITY };
    CHECK(sample_from(&sampler, with_inf, 4) == 1);

    const float some_minus_inf[4] = { -INFINITY, -INFINITY, 0.0f, -INFINITY };
    CHECK(sample_from(&sampler, some_minus_inf, 4) == 2);
    vkl_sampler_free(&sampler);
}

static void test_bad_init_arguments(void)
{
    vkl_sampler sampler;
    vkllm_sampler_options options = options_with(1.0f, 0, 1.0f, 1);
    CHECK(vkl_sampler_init(&sampler, &options, 0) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(vkl_sampler_init(&sampler, NULL, 4) == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(vkl_sampler_init(NULL, &options, 4) == VKLLM_ERROR_INVALID_ARGUMENT);
    vkl_sampler_free(NULL);
}

int main(void)
{
    RUN(test_greedy_picks_argmax);
    RUN(test_same_seed_same_sequence);
    RUN(test_seed_zero_works);
    RUN(test_top_k_one_is_greedy);
    RUN(test_top_k_restricts_support);
    RUN(test_small_top_p_is_greedy);
    RUN(test_top_p_keeps_the_nucleus);
    RUN(test_frequencies_follow_softmax);
    RUN(test_tiny_temperature_is_greedy);
    RUN(test_non_finite_logits);
    RUN(test_bad_init_arguments);
    TEST_MAIN_END();
}
