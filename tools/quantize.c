/* Quantizers that write ggml's block layouts. Q8_0 and Q4_0 round exactly as
 * llama.cpp's reference quantizers do (one scale per block from its largest
 * magnitude), so converting the same weights gives the same bytes. The
 * K-quants use a plain min/max scheme instead of llama.cpp's iterative
 * search: every scale is rounded up, never down, so no weight is clipped and
 * each error stays within half a quantization step. */
#include "quantize.h"

#include <math.h>
#include <string.h>

#define QK 32           /* weights per Q8_0 / Q4_0 block */
#define QK_K 256        /* weights per K-quant super-block */

/* ------------------------------------------------------------------------ */
/* Half-precision floats                                                     */

static uint32_t float_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* IEEE binary16, rounding to nearest even; overflow becomes infinity. */
static uint16_t f32_to_f16(float f)
{
    uint32_t bits = float_bits(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7fffffff;

    if (magnitude > 0x7f800000)
        return sign | 0x7e00;                       /* NaN stays NaN */
    if (magnitude >= 0x477ff000)
        return sign | 0x7c00;                       /* 65520 and up round to infinity */

    /* Below 2^-14 the result is subnormal: a count of 2^-24 units. Scaling
     * by a power of two is exact, and rintf rounds to nearest even. */
    if (magnitude < 0x38800000)
        return sign | (uint16_t)rintf(fabsf(f) * 16777216.0f);

    /* Rebias the exponent (127 -> 15) and drop 13 mantissa bits, rounding
     * half to even; a carry out of the mantissa correctly bumps the exponent. */
    uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
    return sign | (uint16_t)((rounded - (112u << 23)) >> 13);
}

static float f16_to_f32(uint16_t h)
{
    int exponent = (h >> 10) & 31;
    int mantissa = h & 1023;
    float magnitude;

    if (exponent == 31)
        magnitude = mantissa != 0 ? NAN : INFINITY;
    else if (exponent == 0)
        magnitude = ldexpf((float)mantissa, -24);
    else
        magnitude = ldexpf((float)(mantissa | 1024), exponent - 25);
    return (h & 0x8000) != 0 ? -magnitude : magnitude;
}

/* The smallest half at or above a non-negative v, so that a scale stored as
 * a half still covers the range it was computed for. */
static uint16_t f16_round_up(float v)
{
    uint16_t h = f32_to_f16(v);
    if (f16_to_f32(h) < v)
        h++;
    return h;
}

/* bfloat16: the top half of the float, rounded to nearest even. */
static uint16_t f32_to_bf16(float f)
{
    uint32_t bits = float_bits(f);
    if ((bits & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((bits >> 16) | 0x40);     /* keep NaN quiet, not infinity */
    return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ------------------------------------------------------------------------ */
/* Q8_0: f16 d, int8 q[32]; w = d * q                                        */

static void quantize_q8_0(const float *x, uint8_t *out)
{
    float amax = 0.0f;
    for (int i = 0; i < QK; i++)
        amax = fmaxf(amax, fabsf(x[i]));

    float d = amax / 127.0f;
    float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, f32_to_f16(d));
    for (int i = 0; i < QK; i++)
        out[2 + i] = (uint8_t)(int8_t)roundf(x[i] * inverse);
}

static void dequantize_q8_0(const uint8_t *in, float *out)
{
    float d = f16_to_f32(load_u16(in));
    for (int i = 0; i < QK; i++)
        out[i] = d * (float)(int8_t)in[2 + i];
}

/* ------------------------------------------------------------------------ */
/* Q4_0: f16 d, 16 bytes; w[i] = d * (lo(qs[i]) - 8), w[i + 16] = d * (hi - 8) */

static void quantize_q4_0(const float *x, uint8_t *out)
{
    /* The value of largest magnitude maps to -8, the one code with no
     * positive twin, which buys a little precision over a symmetric scale. */
    float extreme = 0.0f;
    for (int i = 0; i < QK; i++) {
        if (fabsf(x[i]) > fabsf(extreme))
            extreme = x[i];
    }

    float d = extreme / -8.0f;
    float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, f32_to_f16(d));
    for (int i = 0; i < QK / 2; i++) {
        int lo = clamp_int((int)floorf(x[i] * inverse + 8.5f), 0, 15);
        int hi = clamp_int((int)floorf(x[i + QK / 2] * inverse + 8.5f), 0, 15);
        out[2 + i] = (uint8_t)(lo | hi << 4);
    }
}

static void dequantize_q4_0(const uint8_t *in, float *out)
{
    float d = f16_to_f32(load_u16(in));
    for (int i = 0; i < QK / 2; i++) {
        out[i] = d * (float)((in[2 + i] & 15) - 8);
        out[i + QK / 2] = d * (float)((in[2 + i] >> 4) - 8);
    }
}

/* ------------------------------------------------------------------------ */
/* Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles */

#define Q4K_SUBS 8      /* sub-blocks of 32 weights */

/* ceil(v / unit) as a code of at most max_code; 0 when unit is 0. */
static int code_at_least(float v, float unit, int max_code)
{
    return unit > 0.0f ? clamp_int((int)ceilf(v / unit), 0, max_code) : 0;
}

/* Per sub-block: the offset that lifts its lowest value (or zero) to zero,
 * and its span above that. mins[j] >= 0, as the format requires. */
static void q4k_ranges(const float *x, float *lows, float *highs)
{
    for (int j = 0; j < Q4K_SUBS; j++) {
        float lo = 0.0f, hi = -INFINITY;
        for (int i = 0; i < 32; i++) {
            lo = fminf(lo, x[32 * j + i]);
            hi = fmaxf(hi, x[32 * j + i]);
        }
        lows[j] = -lo;
        highs[j] = hi;
    }
}

static float max_of(const float *v, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        m = fmaxf(m, v[i]);
    return m;
}

/* Packs 8 six-bit scales and mins into 12 bytes: the low four pairs whole
 * in bytes 0-7, the high four split into nibbles (bytes 8-11) and the top
 * two bits of bytes 0-7. */
static void q4k_pack_scales(const int *sc, const int *m, uint8_t *scales)
{
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

static void q4k_unpack_scale(const uint8_t *scales, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4;
        *m = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4;
    }
}

/* Chunk c of 64 weights shares 32 bytes: sub-block 2c in the low nibbles,
 * 2c + 1 in the high ones. */
static void q4k_pack_nibbles(const uint8_t *q, uint8_t *qs)
{
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
    }
}

static void quantize_q4_k(const float *x, uint8_t *out)
{
    float lows[Q4K_SUBS], highs[Q4K_SUBS], spans[Q4K_SUBS];
    int sc[Q4K_SUBS], m[Q4K_SUBS];
    uint8_t q[QK_K];

    /* Mins first, rounded up so that the lowest value still lands on code 0;
     * then the spans above those rounded mins, rounded up likewise. */
    q4k_ranges(x, lows, highs);
    uint16_t dmin_half = f16_round_up(max_of(lows, Q4K_SUBS) / 63.0f);
    float dmin = f16_to_f32(dmin_half);
    for (int j = 0; j < Q4K_SUBS; j++) {
        m[j] = code_at_least(lows[j], dmin, 63);
        spans[j] = (highs[j] + dmin * (float)m[j]) / 15.0f;
    }
    uint16_t d_half = f16_round_up(max_of(spans, Q4K_SUBS) / 63.0f);
    float d = f16_to_f32(d_half);

    for (int j = 0; j < Q4K_SUBS; j++) {
        sc[j] = code_at_least(spans[j], d, 63);
        float step = d * (float)sc[j], offset = dmin * (float)m[j];
        for (int i = 0; i < 32; i++) {
            float v = step > 0.0f ? (x[32 * j + i] + offset) / step : 0.0f;
            q[32 * j + i] = (uint8_t)clamp_int((int)roundf(v), 0, 15);
        }
    }

    store_u16(out, d_half);
    store_u16(out + 2, dmin_half);
    q4k_pack_scales(sc, m, out + 4);
    q4k_pack_nibbles(q, out + 16);
}

static void dequantize_q4_k(const uint8_t *in, float *out)
{
    float d = f16_to_f32(load_u16(in));
    float dmin = f16_to_f32(load_u16(in + 2));
    const uint8_t *qs = in + 16;

    for (int j = 0; j < Q4K_SUBS; j++) {
        int sc, m;
        q4k_unpack_scale(in + 4, j, &sc, &m);
        float step = d * (float)sc, offset = dmin * (float)m;
        int shift = (j & 1) * 4;
        for (int l = 0; l < 32; l++)
            out[32 * j + l] = step * (float)((qs[32 * (j / 2) + l] >> shift) & 15) - offset;
    }
}

/* ------------------------------------------------------------------------ */
/* Q6_K: ql[128], qh[64], int8 scales[16], f16 d; w = d * sc * (q - 32)       */

#define Q6K_SUBS 16     /* sub-blocks of 16 weights */

/* Half h holds weights 128h .. 128h + 127 as four runs of 32: the low four
 * bits of runs 0 and 2 share ql[l], of runs 1 and 3 ql[l + 32]; the top two
 * bits of all four share qh[l]. */
static void q6k_pack(const uint8_t *q, uint8_t *ql, uint8_t *qh)
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *r = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[64 * h + l] = (uint8_t)((r[l] & 15) | (r[l + 64] & 15) << 4);
            ql[64 * h + l + 32] = (uint8_t)((r[l + 32] & 15) | (r[l + 96] & 15) << 4);
            qh[32 * h + l] = (uint8_t)(r[l] >> 4 | (r[l + 32] >> 4) << 2 |
                                       (r[l + 64] >> 4) << 4 | (r[l + 96] >> 4) << 6);
        }
    }
}

static void q6k_unpack(const uint8_t *ql, const uint8_t *qh, uint8_t *q)
{
    for (int h = 0; h < 2; h++) {
        uint8_t *r = q + 128 * h;
        const uint8_t *lo = ql + 64 * h, *hi = qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            r[l] = (uint8_t)((lo[l] & 15) | (hi[l] & 3) << 4);
            r[l + 32] = (uint8_t)((lo[l + 32] & 15) | ((hi[l] >> 2) & 3) << 4);
            r[l + 64] = (uint8_t)((lo[l] >> 4) | ((hi[l] >> 4) & 3) << 4);
            r[l + 96] = (uint8_t)((lo[l + 32] >> 4) | ((hi[l] >> 6) & 3) << 4);
        }
    }
}

static void quantize_q6_k(const float *x, uint8_t *out)
{
    float steps[Q6K_SUBS];
    uint8_t q[QK_K];

    /* A symmetric step per sub-block (codes -31 .. 31 cover its largest
     * magnitude), each stored as an 8-bit multiple of one half d. */
    for (int j = 0; j < Q6K_SUBS; j++) {
        float amax = 0.0f;
        for (int i = 0; i < 16; i++)
            amax = fmaxf(amax, fabsf(x[16 * j + i]));
        steps[j] = amax / 31.0f;
    }
    uint16_t d_half = f16_round_up(max_of(steps, Q6K_SUBS) / 127.0f);
    float d = f16_to_f32(d_half);

    int8_t *scales = (int8_t *)(out + 192);
    for (int j = 0; j < Q6K_SUBS; j++) {
        int sc = code_at_least(steps[j], d, 127);
        float step = d * (float)sc;
        scales[j] = (int8_t)sc;
        for (int i = 0; i < 16; i++) {
            float v = step > 0.0f ? x[16 * j + i] / step : 0.0f;
            q[16 * j + i] = (uint8_t)(clamp_int((int)roundf(v), -32, 31) + 32);
        }
    }
    q6k_pack(q, out, out + 128);
    store_u16(out + 208, d_half);
}

static void dequantize_q6_k(const uint8_t *in, float *out)
{
    uint8_t q[QK_K];
    const int8_t *scales = (const int8_t *)(in + 192);
    float d = f16_to_f32(load_u16(in + 208));

    q6k_unpack(in, in + 128, q);
    for (int i = 0; i < QK_K; i++)
        out[i] = d * (float)scales[i / 16] * (float)((int)q[i] - 32);
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */

typedef void (*block_quantizer)(const float *x, uint8_t *out);
typedef void (*block_dequantizer)(const uint8_t *in, float *out);

typedef struct block_codec {
    vkl_dtype type;
    block_quantizer quantize;
    block_dequantizer dequantize;
} block_codec;

static const block_codec codecs[] = {
    {VKL_DTYPE_Q8_0, quantize_q8_0, dequantize_q8_0},
    {VKL_DTYPE_Q4_0, quantize_q4_0, dequantize_q4_0},
    {VKL_DTYPE_Q4_K, quantize_q4_k, dequantize_q4_k},
    {VKL_DTYPE_Q6_K, quantize_q6_k, dequantize_q6_k},
};

static const block_codec *find_codec(vkl_dtype type)
{
    for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++) {
        if (codecs[i].type == type)
            return &codecs[i];
    }
    return NULL;
}

/* The element-wise types: one value per weight. */
static bool convert_plain(vkl_dtype type, const float *x, uint8_t *out, int64_t cols)
{
    if (type == VKL_DTYPE_F32) {
        memcpy(out, x, (size_t)cols * sizeof *x);
        return true;
    }
    if (type != VKL_DTYPE_F16 && type != VKL_DTYPE_BF16)
        return false;
    for (int64_t i = 0; i < cols; i++)
        store_u16(out + 2 * i, type == VKL_DTYPE_F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]));
    return true;
}

bool quantize_row(vkl_dtype type, const float *x, void *out, int64_t cols)
{
    uint32_t block_weights, block_bytes;
    if (cols < 0 || !vkl_dtype_layout(type, &block_weights, &block_bytes) ||
        cols % block_weights != 0)
        return false;

    const block_codec *codec = find_codec(type);
    if (codec == NULL)
        return convert_plain(type, x, out, cols);

    uint8_t *bytes = out;
    for (int64_t b = 0; b < cols / block_weights; b++)
        codec->quantize(x + b * block_weights, bytes + b * block_bytes);
    return true;
}

static void dequantize_plain(vkl_dtype type, const uint8_t *in, float *out, int64_t cols)
{
    for (int64_t i = 0; i < cols; i++) {
        if (type == VKL_DTYPE_F32)
            memcpy(&out[i], in + 4 * i, sizeof *out);
        else if (type == VKL_DTYPE_F16)
            out[i] = f16_to_f32(load_u16(in + 2 * i));
        else
            out[i] = bf16_to_f32(load_u16(in + 2 * i));
    }
}

void dequantize_row(vkl_dtype type, const void *in, float *out, int64_t cols)
{
    const uint8_t *bytes = in;
    uint32_t block_weights, block_bytes;
    if (!vkl_dtype_layout(type, &block_weights, &block_bytes))
        return;

    const block_codec *codec = find_codec(type);
    if (codec == NULL) {
        dequantize_plain(type, bytes, out, cols);
        return;
    }
    for (int64_t b = 0; b < cols / block_weights; b++)
        codec->dequantize(bytes + b * block_bytes, out + b * block_weights);
}
