/* A model as read from disk, before it touches a device: the architecture's
 * shape and host pointers to every weight (into a read-only file mapping). */
#ifndef VKL_MODEL_MODEL_FILE_H
#define VKL_MODEL_MODEL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mapped_file.h"

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

/* An IEEE half as a float, exactly. */
float vkl_f16_to_f32(uint16_t h);

/* The kinds of layer an architecture is built from: the forward pass is
 * one sequence of steps, and these choose the variant of each. */
typedef enum vkl_norm_kind {
    VKL_NORM_RMS = 0,       /* x / rms(x) * w */
    VKL_NORM_LAYER = 1,     /* (x - mean) / std * w + b */
} vkl_norm_kind;

typedef enum vkl_ffn_kind {
    VKL_FFN_SWIGLU = 0,     /* down(silu(gate(x)) * up(x)) */
    VKL_FFN_GELU = 1,       /* down(gelu(up(x) + b) ) + b */
} vkl_ffn_kind;

typedef enum vkl_rope_kind {
    VKL_ROPE_NONE = 0,      /* positions come from a learned embedding */
    VKL_ROPE_ADJACENT = 1,  /* rotate pairs (2i, 2i + 1): llama2.c, GGUF llama */
    VKL_ROPE_NEOX = 2,      /* rotate pairs (i, i + head_size / 2): Qwen2, HF layouts */
} vkl_rope_kind;

typedef struct vkl_model_config {
    char arch_name[32];     /* "llama", "qwen2", "gpt2", ... as the file names it */
    vkl_norm_kind norm;
    vkl_ffn_kind ffn;
    vkl_rope_kind rope;
    int32_t dim;            /* width of the residual stream */
    int32_t hidden_dim;     /* width of the feed-forward layer */
    int32_t n_layers;
    int32_t n_heads;        /* query heads */
    int32_t n_kv_heads;     /* key/value heads; n_heads is a multiple of it */
    int32_t head_size;      /* dim / n_heads */
    int32_t vocab_size;
    int32_t context_length;
    float norm_eps;         /* normalization epsilon */
    float rope_theta;       /* rotary base frequency */
    bool tied_output;       /* the classifier is the token embedding */
} vkl_model_config;

/* The extent a loader's tensor table names by a letter: 'd' dim, 'h'
 * hidden_dim, 'q' the query width (heads x head size), 'k' the key/value
 * width; any other letter is 1. */
int64_t vkl_model_extent(const vkl_model_config *c, char code);

/* Optional tensors (biases, gate, position embedding) have data NULL when
 * the architecture or file has none. Norm weights and biases are F32. */
typedef struct vkl_layer_weights {
    vkl_host_tensor attn_norm;      /* [1, dim] */
    vkl_host_tensor attn_norm_bias; /* [1, dim], LayerNorm only */
    vkl_host_tensor wq;             /* [n_heads * head_size, dim] */
    vkl_host_tensor wk;             /* [n_kv_heads * head_size, dim] */
    vkl_host_tensor wv;             /* [n_kv_heads * head_size, dim] */
    vkl_host_tensor wo;             /* [dim, n_heads * head_size] */
    vkl_host_tensor bq;             /* [1, n_heads * head_size] */
    vkl_host_tensor bk;             /* [1, kv_dim] */
    vkl_host_tensor bv;             /* [1, kv_dim] */
    vkl_host_tensor bo;             /* [1, dim] */
    vkl_host_tensor ffn_norm;       /* [1, dim] */
    vkl_host_tensor ffn_norm_bias;  /* [1, dim], LayerNorm only */
    vkl_host_tensor w_gate;         /* [hidden_dim, dim], SwiGLU only (llama2.c's w1) */
    vkl_host_tensor w_down;         /* [dim, hidden_dim] (w2) */
    vkl_host_tensor w_up;           /* [hidden_dim, dim] (w3) */
    vkl_host_tensor b_up;           /* [1, hidden_dim] */
    vkl_host_tensor b_down;         /* [1, dim] */
} vkl_layer_weights;

typedef struct vkl_model_weights {
    vkl_host_tensor token_embd;         /* [vocab_size, dim] */
    vkl_host_tensor pos_embd;           /* [context_length, dim], learned positions only */
    vkl_layer_weights *layers;            /* [n_layers] */
    vkl_host_tensor output_norm;        /* [1, dim] */
    vkl_host_tensor output_norm_bias;   /* [1, dim], LayerNorm only */
    vkl_host_tensor output;             /* [vocab_size, dim]; token_embd's data when tied */
} vkl_model_weights;

struct vkl_gguf;

typedef struct vkl_model_file {
    vkl_model_config config;
    vkl_model_weights weights;
    const void *mapping;        /* the whole (first) file, read-only */
    size_t mapping_size;
    vkl_mapped_file map;        /* a llama2.c checkpoint's own mapping */
    struct vkl_gguf *gguf;      /* the parsed GGUF (metadata, vocabulary), or NULL */
    void *format_state;         /* what another format's reader keeps open */
    void (*format_close)(void *format_state);
    void **owned;               /* host buffers made at load (vectors widened to F32) */
    uint32_t owned_count;
    uint32_t owned_capacity;
} vkl_model_file;

/* Opens a model of any supported format, told apart by its contents: a
 * GGUF file, a Hugging Face folder, or a llama2.c checkpoint. */
vkllm_status vkl_model_file_open(const char *path, vkl_model_file **out, vkl_error *err);
void vkl_model_file_close(vkl_model_file *file);

/* The file keeps a host buffer made while loading and frees it on close;
 * on failure the buffer is freed at once. */
vkllm_status vkl_model_file_keep(vkl_model_file *file, void *buffer, vkl_error *err);

/* Calls fn for every tensor the model has, under GGUF's names
 * ("blk.3.attn_q.weight"); absent optional tensors are skipped, and a tied
 * classifier is not listed twice. */
typedef void (*vkl_tensor_visit_fn)(const char *name, const vkl_host_tensor *t, void *user);
void vkl_model_file_for_each_tensor(const vkl_model_file *file, vkl_tensor_visit_fn fn,
                                    void *user);

/* Widens n F16 or BF16 values to F32 in a buffer the file keeps. */
vkllm_status vkl_model_file_widen(vkl_model_file *file, vkl_dtype type, const void *src,
                                  int64_t n, const float **out, vkl_error *err);

/* Opens a Hugging Face model folder: config.json, and model.safetensors or
 * the shards that model.safetensors.index.json names. */
vkllm_status vkl_model_file_open_hf(const char *folder, vkl_model_file **out, vkl_error *err);

/* Opens a GGUF model: the llama family (llama, mistral, qwen2) and gpt2. */
vkllm_status vkl_model_file_open_gguf(const char *path, vkl_model_file **out, vkl_error *err);

/* Opens a llama2.c checkpoint: seven int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an
 * untied classifier), then the fp32 tensors in llama2.c's order. Every size
 * is checked against the file before a pointer is taken. */
vkllm_status vkl_model_file_open_llama2c(const char *path, vkl_model_file **out,
                                         vkl_error *err);

/* The same over a checkpoint image in memory (the fuzzer's entry point); the
 * result points into bytes, which must outlive it. */
vkllm_status vkl_model_file_parse_llama2c(const void *bytes, size_t size, const char *name,
                                          vkl_model_file **out, vkl_error *err);

#endif
