/* The forward pass on a device, for every architecture the model layer
 * describes (the Llama family and GPT-2: the config's layer kinds choose
 * each step's variant): weights uploaded once per model, and a runner per session holding the
 * activations, the KV cache and two recorded command buffers (one token, and
 * a batch of prompt tokens) that are replayed for every step with only the
 * step buffer rewritten. */
#ifndef VKL_GRAPH_GRAPH_H
#define VKL_GRAPH_GRAPH_H

#include "ops/ops.h"

/* A layer's weights on the device, slot for slot as vkl_layer_weights holds
 * them on the host. An absent optional tensor has no pieces. */
typedef struct vkl_layer_gpu {
    vkl_tensor attn_norm;       /* [1, dim] */
    vkl_tensor attn_norm_bias;  /* [1, dim], LayerNorm only */
    vkl_tensor wq;              /* [n_heads * head_size, dim] */
    vkl_tensor wk;              /* [kv_dim, dim] */
    vkl_tensor wv;              /* [kv_dim, dim] */
    vkl_tensor wo;              /* [dim, n_heads * head_size] */
    vkl_tensor bq;              /* [1, n_heads * head_size] */
    vkl_tensor bk;              /* [1, kv_dim] */
    vkl_tensor bv;              /* [1, kv_dim] */
    vkl_tensor bo;              /* [1, dim] */
    vkl_tensor ffn_norm;        /* [1, dim] */
    vkl_tensor ffn_norm_bias;   /* [1, dim], LayerNorm only */
    vkl_tensor w_gate;          /* [hidden_dim, dim], SwiGLU only */
    vkl_tensor w_down;          /* [dim, hidden_dim] */
    vkl_tensor w_up;            /* [hidden_dim, dim] */
    vkl_tensor w_gate_up;       /* [2 hidden_dim, dim]: w_gate and w_up paired row by row,
                                   in their place where the matrices are in the lanes
                                   layout (SwiGLU only) */
    vkl_tensor b_up;            /* [1, hidden_dim] */
    vkl_tensor b_down;          /* [1, dim] */
} vkl_layer_gpu;

typedef struct vkl_model_gpu {
    vkl_model_config config;
    vkl_gpu_device *dev;
    vkl_arena arena;                /* all weight memory */
    vkl_tensor token_embd;          /* [vocab_size, dim] */
    vkl_tensor pos_embd;            /* [context_length, dim], learned positions only */
    vkl_layer_gpu *layers;    /* [n_layers] */
    vkl_tensor output_norm;         /* [1, dim] */
    vkl_tensor output_norm_bias;    /* [1, dim], LayerNorm only */
    vkl_tensor output;              /* [vocab_size, dim]; token_embd's pieces when tied,
                                       unless the matrix layout needs a copy */
    bool output_owned;              /* output has pieces of its own */
} vkl_model_gpu;

/* Called as weights reach the device, with the bytes done and in all. */
typedef void (*vkl_progress_fn)(uint64_t done, uint64_t total, void *user);

vkllm_status vkl_model_gpu_upload(vkl_gpu_device *dev, const vkl_model_file *file,
                                  vkl_progress_fn progress, void *progress_user,
                                  vkl_model_gpu *out, vkl_error *err);
void vkl_model_gpu_free(vkl_model_gpu *model);

/* True when an optional tensor is present. */
static inline bool vkl_tensor_present(const vkl_tensor *t)
{
    return t->piece_count > 0;
}

/* Tokens one prompt step takes when the session does not say. */
#define VKL_DEFAULT_BATCH 32

/* Device bytes a session needs besides the weights: KV cache, activations
 * and the rotary table, for a context and batch. */
uint64_t vkl_context_bytes(const vkl_model_config *c, uint32_t context, uint32_t batch);

typedef struct vkl_activations {
    vkl_buffer_view x;          /* [batch, dim] the residual stream */
    vkl_buffer_view xb;         /* [batch, dim] normed input of a sublayer */
    vkl_buffer_view q;          /* [batch, n_heads * head_size] */
    vkl_buffer_view k;          /* [batch, kv_dim] before rotation */
    vkl_buffer_view v;          /* [batch, kv_dim] */
    vkl_buffer_view att_parts;  /* [batch, n_heads, splits, head_size + 2] partial
                                   attention of a split sequence, or unused */
    vkl_buffer_view att_out;    /* [batch, n_heads * head_size] */
    vkl_buffer_view hb;         /* [batch, hidden_dim] */
    vkl_buffer_view hb2;        /* [batch, hidden_dim] */
    vkl_buffer_view logits;     /* [logit_rows, vocab_size] */
    vkl_buffer_view rope;       /* [context, head_size / 2] (cos, sin) pairs */
    vkl_buffer_view *k_cache;   /* [n_layers] of [context, kv_dim] */
    vkl_buffer_view *v_cache;   /* [n_layers] of [context, kv_dim] */
} vkl_activations;

typedef struct vkl_runner {
    const vkl_model_gpu *model;
    uint32_t context;               /* positions the KV cache holds */
    uint32_t batch;                 /* most tokens one prompt step takes */
    bool logits_all;                /* keep every token's logits, not the last */
    vkl_arena device_arena;
    vkl_arena host_arena;
    vkl_buffer_view step;           /* vkl_step, host-visible */
    vkl_buffer_view tokens;         /* [batch] uint32, host-visible */
    vkl_buffer_view logits_host;    /* [logit_rows, vocab_size] floats, host-visible */
    vkl_activations act;
    vkl_commands commands;          /* [0] one token, [1] a batch */
    vkl_descriptor_pools descriptors;
} vkl_runner;

vkllm_status vkl_runner_create(const vkl_model_gpu *model, uint32_t context,
                                     uint32_t batch, bool logits_all,
                                     vkl_runner *out, vkl_error *err);
void vkl_runner_free(vkl_runner *r);

/* Runs n (1 .. batch) tokens at positions pos0 .. pos0 + n - 1 in one
 * submission and waits for it. Tokens must lie in the vocabulary and the
 * positions in the context; the caller checks both. */
vkllm_status vkl_runner_step(vkl_runner *r, const int32_t *tokens, uint32_t n,
                                   uint32_t pos0, vkl_error *err);

/* Logits of the i-th token of the last step (with logits_all), or of its
 * last token (i = 0 without). */
const float *vkl_runner_logits(const vkl_runner *r, uint32_t i);

#endif
