/* Turning a row of logits into a token: greedy, or temperature with top-k
 * and top-p (nucleus) filtering, from a seeded generator. */
#ifndef VKL_TEXT_SAMPLER_H
#define VKL_TEXT_SAMPLER_H

#include <stdint.h>

#include "vkllm.h"

typedef struct vkl_candidate {
    float prob;
    int32_t id;
} vkl_candidate;

typedef struct vkl_sampler {
    vkllm_sampler_options options;
    uint64_t rng_state;
    int32_t vocab_size;
    vkl_candidate *candidates;   /* [vocab_size] scratch, owned */
} vkl_sampler;

vkllm_status vkl_sampler_init(vkl_sampler *sampler, const vkllm_sampler_options *options,
                              int32_t vocab_size);
void vkl_sampler_free(vkl_sampler *sampler);

/* Picks a token from logits[vocab_size]; logits is used as scratch. */
int32_t vkl_sampler_sample(vkl_sampler *sampler, float *logits);

#endif
