/* Kernels as recording calls: each vkl_op_* appends one op's dispatches (one
 * per weight piece where a weight is split) and barriers to a recorder. The
 * shapes of a recording are fixed; the step buffer (binding 0 of every
 * kernel) says at replay where the tokens start and how many there are, up
 * to the batch the recording was made for. */
#ifndef VKL_OPS_OPS_H
#define VKL_OPS_OPS_H

#include "gpu/recorder.h"
#include "model/model_file.h"

/* The step buffer's contents, as the shaders' Step block reads them. */
typedef struct vkl_step {
    uint32_t pos0;
    uint32_t n_tokens;
} vkl_step;

/* A weight matrix on a device, split by rows into pieces that one binding
 * can each span. */
typedef struct vkl_tensor_piece {
    vkl_buffer_view view;
    VkBufferView texels;            /* lanes layout: the piece as RGBA32UI texels */
    uint32_t row0;
    uint32_t rows;
} vkl_tensor_piece;

/* How a matrix's rows are stored on the device. */
typedef enum vkl_weight_layout {
    VKL_LAYOUT_BLOCKS = 0,          /* as the file stores them (every kernel) */
    VKL_LAYOUT_LANES = 1,           /* ops/lanes.h, for matmul_lanes on CPU devices */
} vkl_weight_layout;

typedef struct vkl_tensor {
    vkl_dtype type;
    vkl_weight_layout layout;
    bool paired;                    /* rows alternate between two matrices; only
                                       vkl_op_swiglu_product reads such a tensor */
    uint32_t rows;
    uint32_t cols;
    uint32_t piece_count;
    vkl_tensor_piece *pieces;       /* [piece_count], owned; memory is the arena's */
} vkl_tensor;

/* Copies a host matrix into arena memory, piece by piece, in the layout
 * asked for; a matrix with no lanes form (vkl_lanes_row_bytes) is stored
 * as blocks whatever the request. */
vkllm_status vkl_tensor_upload(vkl_arena *arena, const vkl_host_tensor *src,
                               vkl_weight_layout layout, vkl_tensor *out, vkl_error *err);
/* Two matrices of one type and shape as one in the lanes layout whose rows
 * alternate: row 2r is even's row r, row 2r + 1 odd's (SwiGLU's gate and up,
 * for vkl_op_swiglu_product). */
bool vkl_tensor_can_pair(const vkl_host_tensor *even, const vkl_host_tensor *odd);
vkllm_status vkl_tensor_upload_pairs(vkl_arena *arena, const vkl_host_tensor *even,
                                     const vkl_host_tensor *odd, vkl_tensor *out,
                                     vkl_error *err);
void vkl_tensor_free(vkl_tensor *t);

typedef struct vkl_ops {
    vkl_recorder *rec;
    vkl_buffer_view step;           /* vkl_step, host-written before each replay */
    uint32_t batch;                 /* most tokens one replay processes */
    uint32_t wg;                    /* elementwise workgroup size, a power of two */
    uint32_t row_wg;                /* workgroup size of kernels that reduce a row */
    uint32_t rows_per_workgroup;    /* weight rows a workgroup takes, one per invocation,
                                       in matrix products (CPU devices); 0: the GPU
                                       layouts (reduction, shared-memory tiles) */
    bool subgroup_reduce;           /* matvec reduces through subgroups */
    uint32_t matmul_wg[2];          /* matmul: invocations along rows and tokens, */
    uint32_t matmul_bk;             /* and columns of K staged at a time */
    vkllm_coopmat_kind coopmat;     /* matmul_coopmat's extension, */
    uint32_t coopmat_tile[3];       /* its M, N, K */
    uint32_t coopmat_wg;            /* its invocations a workgroup */
    uint32_t lanes_wg;              /* matmul_lanes: invocations a workgroup, */
    uint32_t lanes_rows[2];         /* weight rows an invocation takes, and */
    uint32_t lanes_tokens[2];       /* tokens it takes at a time, for one token [0]
                                       and for many [1] */
    uint32_t lanes_float_rows;      /* rows for one token of F32, F16 or BF16 weights */
    bool texel_reads;               /* caches may be read as texels (CPU devices) */
    bool wide_attention;            /* attention: a workgroup per (token, head), not an
                                       invocation (GPUs) */
} vkl_ops;

/* Picks workgroup sizes from the device's limits. */
void vkl_ops_init(vkl_ops *ops, vkl_recorder *rec, const vkl_buffer_view *step, uint32_t batch);

/* The layout matrix products read fastest on a device: lanes where the
 * device gets CPU kernels (dev->cpu_kernels) and its texel buffers can span
 * activations, blocks elsewhere. */
vkl_weight_layout vkl_ops_matrix_layout(const vkl_gpu_device *dev);

/* The matrix kernels (embed, matvec, matmul, add_positions) read weights of
 * every vkl_dtype as stored or in the lanes layout, dequantizing inside the
 * shader. */

/* x[t, :] = table[tokens[t], :] */
void vkl_op_embed(vkl_ops *ops, const vkl_tensor *table, const vkl_buffer_view *tokens,
                  const vkl_buffer_view *x);
/* Options of the matrix products. */
enum {
    VKL_PRODUCT_LAST_ROW = 1,       /* matvec: x is the last of the step's rows */
    VKL_PRODUCT_ADD = 2,            /* add the product to y instead of storing it */
};

/* y = W x, x being the single row of a one-token step or (LAST_ROW) the
 * last of the step's rows; y += W x with ADD. */
void vkl_op_matvec(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y, unsigned options);
/* y[t, :] = W x[t, :] (or += with ADD) for every token of the step. */
void vkl_op_matmul(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *x,
                   const vkl_buffer_view *y, unsigned options);
/* y[t, i] = silu(gate x[t, :])_i (up x[t, :])_i for every token of the step,
 * gate and up paired in one lanes-layout tensor (vkl_tensor_upload_pairs):
 * the two products and SwiGLU in one dispatch. */
void vkl_op_swiglu_product(vkl_ops *ops, const vkl_tensor *gate_up, const vkl_buffer_view *x,
                           const vkl_buffer_view *y);
/* x[t, :] += table[pos0 + t, :]: learned position embeddings. */
void vkl_op_add_positions(vkl_ops *ops, const vkl_tensor *table, const vkl_buffer_view *x);

/* Norm weights and biases are F32 buffers of n. */
void vkl_op_rmsnorm(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *weight,
                    const vkl_buffer_view *y, uint32_t n, float eps);
/* y[t, :] = (x[t, :] - mean) / sqrt(var + eps) * weight + bias per token row,
 * var being the biased variance. */
void vkl_op_layernorm(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *weight,
                      const vkl_buffer_view *bias, const vkl_buffer_view *y, uint32_t n,
                      float eps);
/* Fills table[positions, head_size / 2] with (cos, sin) pairs of the angle
 * position * theta^(-2i / head_size), computed in double precision. */
void vkl_rope_table_fill(float *table, uint32_t positions, uint32_t head_size, float theta);

/* Which elements of a head rotate together as pair i (frequency index i). */
typedef enum vkl_rope_style {
    VKL_ROPE_PAIRS = 0,     /* (2i, 2i + 1): llama2.c and GGUF Llama */
    VKL_ROPE_HALVES = 1,    /* (i, i + head_size / 2): NeoX and Hugging Face */
} vkl_rope_style;

/* Rotates src[t] into dst[t], or into dst[pos0 + t] with at_position, by
 * the angles of a table made by vkl_rope_table_fill. */
void vkl_op_rope(vkl_ops *ops, const vkl_buffer_view *table, const vkl_buffer_view *src,
                 const vkl_buffer_view *dst, uint32_t n_heads, uint32_t head_size,
                 vkl_rope_style style, bool at_position);
/* attention.comp keeps a head's query and weighted sum in registers, fully
 * unrolled: past this many values a head would take drivers minutes to
 * compile and spill on GPUs. Real models use 64 to 256. */
#define VKL_ATTENTION_MAX_HEAD 256

typedef struct vkl_attention_shape {
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t head_size;
    uint32_t context;               /* positions the KV cache holds */
    uint32_t splits;                /* parts the sequence is split into
                                       (vkl_attention_splits) */
} vkl_attention_shape;

/* How many parts attention splits a context's positions into: one up to
 * 512 positions, then enough that each part has at most 512, at most 32. */
uint32_t vkl_attention_splits(uint32_t context);

/* Floats of the partials attention needs beside its output for a batch;
 * 0 when it is not split. */
uint64_t vkl_attention_parts_floats(const vkl_attention_shape *shape, uint32_t batch);

/* out[t, h, :] = causal softmax(q[t, h, :] . k[j, :] / sqrt(head_size)) v[j, :]
 * over the cache rows j <= pos0 + t of h's key/value head, in one pass with
 * an online softmax; parts (vkl_attention_parts_floats) holds the partial
 * results of a split sequence. */
void vkl_op_attention(vkl_ops *ops, const vkl_attention_shape *shape, const vkl_buffer_view *q,
                      const vkl_buffer_view *k_cache, const vkl_buffer_view *v_cache,
                      const vkl_buffer_view *parts, const vkl_buffer_view *out);
void vkl_op_swiglu(vkl_ops *ops, const vkl_buffer_view *gate, const vkl_buffer_view *up,
                   const vkl_buffer_view *out, uint32_t n);
/* out = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), GPT-2's GELU, over
 * the step's rows of n; out may be x. */
void vkl_op_gelu(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *out, uint32_t n);
/* x[t, i] += bias[i] */
void vkl_op_add_bias(vkl_ops *ops, const vkl_buffer_view *x, const vkl_buffer_view *bias,
                     uint32_t n);
/* dst[pos0 + t, :] = src[t, :] */
void vkl_op_copy_rows(vkl_ops *ops, const vkl_buffer_view *src, const vkl_buffer_view *dst,
                      uint32_t n);

#endif
