/* The lanes layout: how CPU devices keep weight matrices, so that the
 * matmul_lanes kernel reads them as 16-byte texels (see that shader for
 * why). A row is a run of chunks, each 64 bytes (four texels, one cache
 * line) of codes, then for block types the scale of every group of codes,
 * four floats a texel, and for Q4_K the offset of every group likewise.
 * The last chunk is padded with zero codes and its missing groups with zero
 * scales.
 *
 *   type     codes                               group  chunk
 *   F32      the weights as stored               -      16 weights
 *   F16      the weights as stored               -      32
 *   BF16     the weights as stored               -      32
 *   Q8_0     signed bytes                        32     64
 *   Q6_K     signed bytes (6-bit code - 32)      16     64
 *   Q4_0     nibbles, as stored (code 8 is 0)    32    128
 *   Q4_K     nibbles, with offsets               32    128
 *
 * A weight is code * scale (+ offset), except Q4_0's, (code - 8) * scale:
 * unsigned nibbles let matmul_lanes use a code where it lies in its word
 * (see there).
 * Nibbles come 32 to a texel: byte j holds code j in its low half and code
 * j + 16 in its high half. Scales and offsets are computed in float exactly
 * as the block kernels compute them, so both layouts hold the same values. */
#ifndef VKL_OPS_LANES_H
#define VKL_OPS_LANES_H

#include <stdint.h>

#include "model/model_file.h"

/* Bytes of one row of cols weights in the lanes layout, a multiple of 16;
 * 0 when the type has no lanes form or cols is not a multiple of 4 (X's
 * rows must start on whole texels) or of the type's block. */
uint64_t vkl_lanes_row_bytes(vkl_dtype type, uint64_t cols);

/* Chunks of codes in one row of cols weights (what matmul_lanes loops
 * over); 0 when the row has no lanes form. */
uint64_t vkl_lanes_row_chunks(vkl_dtype type, uint64_t cols);

/* Rewrites one row stored as the type stores it (src) into the lanes
 * layout (dst, vkl_lanes_row_bytes bytes); the type must have a lanes form. */
void vkl_lanes_pack_row(vkl_dtype type, uint64_t cols, const void *src, void *dst);

#endif
