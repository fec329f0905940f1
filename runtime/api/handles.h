/* What the public handles hold. Only runtime/api sees these. */
#ifndef VKL_API_HANDLES_H
#define VKL_API_HANDLES_H

#include "vkllm.h"

#include "core/error.h"
#include "core/log.h"
#include "graph/graph.h"
#include "gpu/gpu.h"
#include "text/tokenizer.h"

struct vkllm_runtime {
    vkl_logger logger;
    vkl_gpu_instance gpu;
    bool gpu_ready;
    vkl_error error;            /* the last failure of a call that took this runtime */
};

struct vkllm_model {
    vkllm_runtime *rt;
    uint32_t device;
    vkl_model_gpu weights;      /* config and device tensors */
    vkllm_tokenizer *vocab;     /* the tokenizer the file carries, or NULL */
};

struct vkllm_session {
    vkllm_model *model;
    vkl_runner runner;
    int32_t position;           /* tokens in the KV cache */
    size_t last_count;          /* tokens in the last eval */
    float *kept_logits;         /* [capacity, vocab] with logits_all */
    size_t kept_capacity;       /* rows kept_logits holds */
    vkl_error error;
};

struct vkllm_tokenizer {
    vkl_tokenizer *impl;
};

/* Copies a failure onto a handle's error slot and returns its status. */
vkllm_status vkl_api_record(vkl_error *slot, const vkl_error *err);

#endif
