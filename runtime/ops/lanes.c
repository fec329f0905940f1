/* Packing weight rows into the lanes layout (lanes.h). The block decoders
 * here follow ggml's block layouts, as shaders/weights.glsl does. */
#include <stdbool.h>
#include <string.h>

#include "ops/lanes.h"

/* One group of a block: its codes (code_bytes bytes, in the lanes order)
 * and the two factors that turn a code into a weight. */
typedef void (*group_decoder)(const uint8_t *block, uint32_t group, uint8_t *codes,
                              float *scale, float *offset);

typedef struct lanes_format {
    vkl_dtype type;
    uint32_t group;             /* weights per group; for plain types, per texel */
    uint32_t code_bytes;        /* bytes of codes per group */
    group_decoder decode;       /* NULL for plain types, stored as they are */
    bool offsets;               /* groups have offsets besides scales */
} lanes_format;

static uint16_t load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Packs 32 four-bit codes so that byte j holds code j and code j + 16. */
static void pack_nibbles(const uint8_t code[32], uint8_t *out)
{
    for (uint32_t j = 0; j < 16; j++)
        out[j] = (uint8_t)(code[j] | code[j + 16] << 4);
}

/* Q8_0: f16 d, int8 q[32]; w = d * q. */
static void decode_q8_0(const uint8_t *block, uint32_t group, uint8_t *codes, float *scale,
                        float *offset)
{
    (void)group;
    memcpy(codes, block + 2, 32);
    *scale = vkl_f16_to_f32(load_u16(block));
    *offset = 0.0f;
}

/* Q4_0: f16 d, 16 bytes of nibbles already in the lanes order; w = d (nibble
 * - 8). The nibbles are kept as they are; matmul_lanes takes off the 8. */
static void decode_q4_0(const uint8_t *block, uint32_t group, uint8_t *codes, float *scale,
                        float *offset)
{
    (void)group;
    memcpy(codes, block + 2, 16);
    *scale = vkl_f16_to_f32(load_u16(block));
    *offset = 0.0f;
}

/* Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of
 * nibbles. Sub-block j (32 weights) takes the low (even j) or high (odd j)
 * nibbles of bytes 32 (j / 2) .. 32 (j / 2) + 31; w = d sc nibble - dmin m. */
static void decode_q4_k(const uint8_t *block, uint32_t j, uint8_t *codes, float *scale,
                        float *offset)
{
    const uint8_t *scales = block + 4;
    uint32_t sc, m;
    if (j < 4) {
        sc = scales[j] & 63u;
        m = scales[j + 4] & 63u;
    } else {
        sc = (scales[j + 4] & 15u) | (uint32_t)(scales[j - 4] >> 6) << 4;
        m = (uint32_t)(scales[j + 4] >> 4) | (uint32_t)(scales[j] >> 6) << 4;
    }
    *scale = vkl_f16_to_f32(load_u16(block)) * (float)sc;
    *offset = -(vkl_f16_to_f32(load_u16(block + 2)) * (float)m);

    const uint8_t *qs = block + 16 + (j / 2) * 32;
    uint8_t code[32];
    for (uint32_t l = 0; l < 32; l++)
        code[l] = (uint8_t)((qs[l] >> ((j % 2) * 4)) & 15u);
    pack_nibbles(code, codes);
}

/* Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Group s (16 weights) is
 * quarter k = (s / 2) % 4 of half h = s / 8, from l = 16 (s % 2): its code
 * is the low (k < 2) or high nibble of ql[64 h + 32 (k % 2) + l] with bits
 * 2k, 2k + 1 of qh[32 h + l] above; w = d scale[s] (code - 32). */
static void decode_q6_k(const uint8_t *block, uint32_t s, uint8_t *codes, float *scale,
                        float *offset)
{
    uint32_t h = s / 8, k = (s / 2) % 4;
    for (uint32_t i = 0; i < 16; i++) {
        uint32_t l = (s % 2) * 16 + i;
        uint32_t low = (block[64 * h + 32 * (k % 2) + l] >> (k / 2 * 4)) & 15u;
        uint32_t high = (block[128 + 32 * h + l] >> (2 * k)) & 3u;
        codes[i] = (uint8_t)(int8_t)((int)(low | high << 4) - 32);
    }
    *scale = vkl_f16_to_f32(load_u16(block + 208)) * (float)(int8_t)block[192 + s];
    *offset = 0.0f;
}

/* One chunk is four texels of codes. */
#define CHUNK_BYTES 64

static const lanes_format formats[] = {
    {VKL_DTYPE_F32, 4, 16, NULL, false},
    {VKL_DTYPE_F16, 8, 16, NULL, false},
    {VKL_DTYPE_BF16, 8, 16, NULL, false},
    {VKL_DTYPE_Q8_0, 32, 32, decode_q8_0, false},
    {VKL_DTYPE_Q4_0, 32, 16, decode_q4_0, false},
    {VKL_DTYPE_Q4_K, 32, 16, decode_q4_k, true},
    {VKL_DTYPE_Q6_K, 16, 16, decode_q6_k, false},
};

static const lanes_format *format_of(vkl_dtype type)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
        if (formats[i].type == type)
            return &formats[i];
    }
    return NULL;
}

typedef struct row_shape {
    uint64_t groups;            /* groups of codes holding real weights */
    uint64_t code_bytes;        /* whole chunks of codes */
    uint64_t factor_bytes;      /* scales, and again for offsets */
} row_shape;

static row_shape shape_of(const lanes_format *f, uint64_t cols)
{
    row_shape shape = {0};
    uint64_t groups_per_chunk = CHUNK_BYTES / f->code_bytes;
    shape.groups = (cols + f->group - 1) / f->group;
    uint64_t chunks = (shape.groups + groups_per_chunk - 1) / groups_per_chunk;
    shape.code_bytes = chunks * CHUNK_BYTES;
    if (f->decode != NULL)
        shape.factor_bytes = (chunks * groups_per_chunk + 3) / 4 * 16;
    return shape;
}

static uint64_t shape_bytes(const lanes_format *f, const row_shape *shape)
{
    return shape->code_bytes + shape->factor_bytes * (f->offsets ? 2 : 1);
}

uint64_t vkl_lanes_row_bytes(vkl_dtype type, uint64_t cols)
{
    const lanes_format *f = format_of(type);
    if (f == NULL || cols == 0 || cols % 4 != 0 || vkl_dtype_row_bytes(type, cols) == 0)
        return 0;
    row_shape shape = shape_of(f, cols);
    return shape_bytes(f, &shape);
}

uint64_t vkl_lanes_row_chunks(vkl_dtype type, uint64_t cols)
{
    if (vkl_lanes_row_bytes(type, cols) == 0)
        return 0;
    row_shape shape = shape_of(format_of(type), cols);
    return shape.code_bytes / CHUNK_BYTES;
}

void vkl_lanes_pack_row(vkl_dtype type, uint64_t cols, const void *src, void *dst)
{
    const lanes_format *f = format_of(type);
    row_shape shape = shape_of(f, cols);
    uint8_t *out = dst;
    memset(out, 0, shape_bytes(f, &shape));
    if (f->decode == NULL) {
        memcpy(out, src, vkl_dtype_row_bytes(type, cols));
        return;
    }

    uint32_t block_weights, block_bytes;
    vkl_dtype_layout(type, &block_weights, &block_bytes);
    uint32_t groups_per_block = block_weights / f->group;
    uint8_t *scales = out + shape.code_bytes;
    uint8_t *offsets = scales + shape.factor_bytes;
    for (uint64_t g = 0; g < shape.groups; g++) {
        const uint8_t *block = (const uint8_t *)src + g / groups_per_block * block_bytes;
        float scale, offset;
        f->decode(block, (uint32_t)(g % groups_per_block), out + g * f->code_bytes, &scale,
                  &offset);
        memcpy(scales + g * sizeof scale, &scale, sizeof scale);
        if (f->offsets)
            memcpy(offsets + g * sizeof offset, &offset, sizeof offset);
    }
}
