/* Row quantizers for the weight types vkllm computes with, writing ggml's
 * block layouts byte for byte (little-endian, no padding), and the matching
 * dequantizers, which the tests use to measure the rounding error. */
#ifndef VKLLM_TOOLS_QUANTIZE_H
#define VKLLM_TOOLS_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model_file.h"

/* Encodes cols floats as one row of type into out, which must hold
 * vkl_dtype_row_bytes(type, cols) bytes. False (and nothing written) when
 * the type is unknown or cols is not a whole number of its blocks. */
bool quantize_row(vkl_dtype type, const float *x, void *out, int64_t cols);

/* Decodes one row written by quantize_row (or by ggml) back to floats. */
void dequantize_row(vkl_dtype type, const void *in, float *out, int64_t cols);

#endif
