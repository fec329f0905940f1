/* A model as read from disk, before it touches a device: the architecture's
 * shape and host pointers to every weight (into a read-only file mapping). */
#ifndef VKL_MODEL_MODEL_FILE_H
#define VKL_MODEL_MODEL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Weight storage types, numbered as ggml numbers them so that GGUF tensor
 * types map across unchanged. Quantized types store rows as blocks. */
typedef enum vkl_dtype {
    VKL_DTYPE_F32 = 0,
    VKL_DTYPE_F16 = 1,
    VKL_DTYPE_Q4_0 = 2,     /* 32 weights: f16 scale, 16 bytes of 4-bit values */
    VKL_DTYPE_Q8_0 = 8,     /* 32 weights: f16 scale, 32 int8 values */
    VKL_DTYPE_Q4_K = 12,    /* 256 weights in 8 sub-blocks with 6-bit scales and mins */
    VKL_DTYPE_Q6_K = 14,    /* 256 weights in 16 sub-blocks with 8-bit scales */
    VKL_DTYPE_BF16 = 30,
} vkl_dtype;

/* A row-major matrix [rows, cols] (a vector is one row) in host memory. */
typedef struct vkl_host_tensor {
    const void *data;
    vkl_dtype type;
    int64_t rows;
    int64_t cols;
} vkl_host_tensor;

/* True for a type vkllm can compute with; sets its block size in weights
 * and in bytes (1 and the element size for unquantized types). */
bool vkl_dtype_layout(vkl_dtype type, uint32_t *block_weights, uint32_t *block_bytes);
const char *vkl_dtype_name(vkl_dtype type);

/* Bytes of one row of cols weights; 0 when the type is unknown or cols is
 * not a whole number of blocks. */
uint64_t vkl_dtype_row_bytes(vkl_dtype type, uint64_t cols);
uint64_t vkl_host_tensor_bytes(const vkl_host_tensor *t);

typedef struct vkl_llama_config {
    int32_t dim;            /* width of the residual stream */
    int32_t hidden_dim;     /* width of the feed-forward layer */
    int32_t n_layers;
    int32_t n_heads;        /* query heads */
    int32_t n_kv_heads;     /* key/value heads; n_heads is a multiple of it */
    int32_t head_size;      /* dim / n_heads */
    int32_t vocab_size;
    int32_t context_length;
    float norm_eps;         /* RMSNorm epsilon */
    float rope_theta;       /* rotary base frequency */
    bool tied_output;       /* the classifier is the token embedding */
} vkl_llama_config;

typedef struct vkl_llama_layer {
    vkl_host_tensor attn_norm;  /* [1, dim] */
    vkl_host_tensor wq;         /* [n_heads * head_size, dim] */
    vkl_host_tensor wk;         /* [n_kv_heads * head_size, dim] */
    vkl_host_tensor wv;         /* [n_kv_heads * head_size, dim] */
    vkl_host_tensor wo;         /* [dim, n_heads * head_size] */
    vkl_host_tensor ffn_norm;   /* [1, dim] */
    vkl_host_tensor w_gate;     /* [hidden_dim, dim]  (llama2.c's w1) */
    vkl_host_tensor w_down;     /* [dim, hidden_dim]  (w2) */
    vkl_host_tensor w_up;       /* [hidden_dim, dim]  (w3) */
} vkl_llama_layer;

typedef struct vkl_llama_weights {
    vkl_host_tensor token_embd; /* [vocab_size, dim] */
    vkl_llama_layer *layers;    /* [n_layers] */
    vkl_host_tensor output_norm;/* [1, dim] */
    vkl_host_tensor output;     /* [vocab_size, dim]; same data as token_embd when tied */
} vkl_llama_weights;

typedef struct vkl_model_file {
    vkl_llama_config config;
    vkl_llama_weights weights;
    const void *mapping;        /* the whole file, read-only */
    size_t mapping_size;
} vkl_model_file;

/* Opens a llama2.c checkpoint: seven int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an
 * untied classifier), then the fp32 tensors in llama2.c's order. Every size
 * is checked against the file before a pointer is taken. */
vkllm_status vkl_model_file_open_llama2c(const char *path, vkl_model_file **out,
                                         vkl_error *err);
void vkl_model_file_close(vkl_model_file *file);

#endif
