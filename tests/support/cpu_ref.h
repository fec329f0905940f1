/* The CPU oracle: plain C versions of every shader and a whole forward
 * pass, written for clarity rather than speed. The GPU results are checked
 * against these. All matrices are row-major. */
#ifndef VKLLM_CPU_REF_H
#define VKLLM_CPU_REF_H

#include <stdint.h>

#include "model/model_file.h"

/* IEEE half <-> float, round to nearest even. */
float cpu_f16_to_f32(uint16_t h);
uint16_t cpu_f32_to_f16(float f);

/* Row r of a weight matrix [rows, cols] of any vkl_dtype, dequantized to
 * float. */
void cpu_weight_row(float *out, const void *weights, vkl_dtype type, int64_t cols, int64_t r);

/* Encodes cols floats (whole blocks) as one row of `type`, rounding to
 * nearest with simple per-block scales: valid blocks, not ggml's best. */
void cpu_quantize_row(vkl_dtype type, const float *x, void *out, int64_t cols);

/* y[T, N] = x[T, K] . W[N, K]^T, W of type `type`, accumulated in double. */
void cpu_matmul(float *y, const float *x, const void *w, vkl_dtype type, int T, int N, int K);

/* y[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight, for t < T. */
void cpu_rmsnorm(float *y, const float *x, const float *weight, int T, int n, float eps);

/* y[t, :] = (x[t, :] - mean) / sqrt(var + eps) * weight + bias, var the
 * biased variance, for t < T. */
void cpu_layernorm(float *y, const float *x, const float *weight, const float *bias, int T,
                   int n, float eps);

/* Rotates adjacent pairs (2i, 2i+1) of each head of x[T, n_heads * head_size]
 * in place, token t at position pos0 + t, frequency theta^(-2i / head_size). */
void cpu_rope(float *x, int T, int n_heads, int head_size, int pos0, float theta);
/* The same with pair i being (i, i + head_size / 2) (NeoX, Hugging Face). */
void cpu_rope_halves(float *x, int T, int n_heads, int head_size, int pos0, float theta);

/* x[0..n) = softmax(x[0..n)), in place. */
void cpu_softmax(float *x, int n);

/* out[i] = gelu(x[i]) in GPT-2's tanh approximation. */
void cpu_gelu(float *out, const float *x, int n);

/* out[i] = silu(gate[i]) * up[i]. */
void cpu_swiglu(float *out, const float *gate, const float *up, int n);

/* Causal grouped-query attention for T new tokens at positions pos0..pos0+T-1.
 * q: [T, n_heads * head_size]; k_cache, v_cache: [>= pos0 + T, n_kv_heads *
 * head_size] already holding the new tokens' keys and values; out like q.
 * Query head h reads key/value head h / (n_heads / n_kv_heads). */
void cpu_attention(float *out, const float *q, const float *k_cache, const float *v_cache,
                   int T, int pos0, int n_heads, int n_kv_heads, int head_size);

/* The index of the largest of x[0..n), the first one on ties. */
int32_t cpu_argmax(const float *x, int n);

/* A whole forward pass over a model file, one token at a time, in the
 * variant its config names: RMSNorm or LayerNorm, SwiGLU or GELU, rotary
 * embeddings in either style or learned positions, and biases where the
 * file has them (Llama, Qwen2, GPT-2). */
typedef struct cpu_model cpu_model;

cpu_model *cpu_model_create(const vkl_model_file *file, int context_length);
void cpu_model_free(cpu_model *m);

/* Runs token at position pos (positions must be fed in order from 0) and
 * returns the logits [vocab_size], valid until the next call. */
const float *cpu_model_forward(cpu_model *m, int32_t token, int pos);

#endif
