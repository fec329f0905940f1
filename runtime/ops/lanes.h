/* The lanes layout: how CPU devices keep weight matrices, so that the
 * matmul_lanes kernel reads them as 16-byte texels (see that shader for
 * why). A row is whole texels: its codes, then, for block types, one
 * (scale, offset) pair of floats per group of codes, two pairs a texel.
 *
 *   F32, F16, BF16   the weights as stored: 4, 8 or 8 a texel, no pairs
 *   Q8_0             signed byte codes, groups of 32 (two texels each)
 *   Q6_K             signed byte codes (6-bit code - 32), groups of 16
 *   Q4_0, Q4_K       4-bit codes, groups of 32 in one texel: byte j holds
 *                    code j in its low nibble and code j + 16 in its high
 *
 * Every weight is code * scale + offset with both factors computed in
 * float exactly as the block kernels compute them, so the two layouts hold
 * the same values. */
#ifndef VKL_OPS_LANES_H
#define VKL_OPS_LANES_H

#include <stdint.h>

#include "model/model_file.h"

/* Bytes of one row of cols weights in the lanes layout, a multiple of 16;
 * 0 when the type has no lanes form or cols is not a whole number of its
 * groups. */
uint64_t vkl_lanes_row_bytes(vkl_dtype type, uint64_t cols);

/* Rewrites rows of a matrix stored as the type stores them (src) into the
 * lanes layout (dst, rows * vkl_lanes_row_bytes bytes). */
void vkl_lanes_pack(vkl_dtype type, uint64_t cols, const void *src, uint64_t rows, void *dst);

#endif
