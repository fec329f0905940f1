// Weight access for binding 1, one variant per storage type: WEIGHT_F32,
// WEIGHT_F16, WEIGHT_BF16, WEIGHT_Q8_0, WEIGHT_Q4_0, WEIGHT_Q4_K or
// WEIGHT_Q6_K, in ggml's little-endian block layouts. Every variant gives
//
//   float weight(row, col, row_len)       one weight, widened to float
//   const uint WEIGHT_GROUP               how many weights weight_group gives
//   void weight_group(row, g, row_len, out float v[WEIGHT_GROUP])
//                                         weights g * WEIGHT_GROUP onwards of a
//                                         row, reading their scales only once
//   vec4 weight_quad(row, col, row_len)   weights col .. col + 3 of a row for
//                                         col a multiple of 4, zero past its end
//
// where row_len is the row length in weights, a whole number of blocks (the
// host refuses other tensors at upload). The buffer is read as 32-bit words:
// quantized blocks are 18, 34 or 210 bytes long, so their fields sit at any
// byte offset, and no 8- or 16-bit storage feature is needed.

layout(std430, binding = 1) readonly buffer Weights { uint w[]; };

uint weight_byte(uint offset)
{
    return bitfieldExtract(w[offset >> 2], int(offset & 3u) * 8, 8);
}

// Four bytes from any byte offset, the first in the low bits.
uint weight_word(uint offset)
{
    uint i = offset >> 2;
    uint shift = (offset & 3u) * 8u;
    // The next word is read only when the bytes reach into it, so a read of
    // a range's last four bytes stays inside the range.
    if (shift == 0u)
        return w[i];
    return (w[i] >> shift) | (w[i + 1u] << (32u - shift));
}

// An IEEE half at an even byte offset.
float weight_half(uint offset)
{
    uint word = w[offset >> 2];
    return unpackHalf2x16((offset & 2u) != 0u ? word >> 16 : word).x;
}

#if defined(WEIGHT_F32) || defined(WEIGHT_F16) || defined(WEIGHT_BF16)

// Plain types: element i of the matrix in row-major order.
#if defined(WEIGHT_F32)
float element(uint i) { return uintBitsToFloat(w[i]); }
#elif defined(WEIGHT_F16)
float element(uint i) { return weight_half(i * 2u); }
#else
// A bfloat16 is the upper half of a float.
float element(uint i)
{
    return uintBitsToFloat(bitfieldExtract(w[i >> 1], int(i & 1u) * 16, 16) << 16);
}
#endif

const uint WEIGHT_GROUP = 1;

float weight(uint row, uint col, uint row_len)
{
    return element(row * row_len + col);
}

void weight_group(uint row, uint g, uint row_len, out float v[WEIGHT_GROUP])
{
    v[0] = weight(row, g, row_len);
}

// Plain rows may be any length, so each element is checked; F16 quads that
// start on a whole word (every quad of an even-length row) take two loads.
vec4 weight_quad(uint row, uint col, uint row_len)
{
#if defined(WEIGHT_F16)
    uint first = row * row_len + col;
    if ((first & 1u) == 0u && col + 4u <= row_len)
        return vec4(unpackHalf2x16(w[first >> 1]), unpackHalf2x16(w[(first >> 1) + 1u]));
#endif
    vec4 v = vec4(0.0);
    for (uint i = 0u; i < 4u && col + i < row_len; i++)
        v[i] = weight(row, col + i, row_len);
    return v;
}

#else

// Block types. Each defines BLOCK_WEIGHTS and BLOCK_BYTES and, for group s
// (WEIGHT_GROUP consecutive weights that share one scale) of the block at
// byte offset b:
//   vec2 group_affine(b, s)     weight = code * .x + .y
//   vec4 group_codes(b, s, q)   the codes of weights 4q .. 4q + 3 of the group
const uint WEIGHT_GROUP = 16;

// The four bytes of a word, sign-extended.
vec4 signed_bytes(uint word)
{
    ivec4 bytes = ivec4(word) << ivec4(24, 16, 8, 0);
    return vec4(bytes >> 24);
}

// A bit field of each of the four bytes of a word.
uvec4 byte_fields(uint word, uint shift, uint bits)
{
    int s = int(shift);
    int n = int(bits);
    return uvec4(bitfieldExtract(word, s, n), bitfieldExtract(word, s + 8, n),
                 bitfieldExtract(word, s + 16, n), bitfieldExtract(word, s + 24, n));
}

#if defined(WEIGHT_Q8_0)
// f16 d, int8 q[32]; w = d * q.
const uint BLOCK_WEIGHTS = 32;
const uint BLOCK_BYTES = 34;

vec2 group_affine(uint b, uint s)
{
    return vec2(weight_half(b), 0.0);
}

vec4 group_codes(uint b, uint s, uint q)
{
    return signed_bytes(weight_word(b + 2u + s * 16u + q * 4u));
}

#elif defined(WEIGHT_Q4_0)
// f16 d, uint8 qs[16]; weights 0..15 are the low nibbles, 16..31 the high
// ones; w = d * (nibble - 8).
const uint BLOCK_WEIGHTS = 32;
const uint BLOCK_BYTES = 18;

vec2 group_affine(uint b, uint s)
{
    float d = weight_half(b);
    return vec2(d, -8.0 * d);
}

vec4 group_codes(uint b, uint s, uint q)
{
    return vec4(byte_fields(weight_word(b + 2u + q * 4u), s * 4u, 4u));
}

#elif defined(WEIGHT_Q4_K)
// f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]. Sub-block j (32
// weights, groups 2j and 2j + 1) has a 6-bit scale sc and min m;
// w = d * sc * nibble - dmin * m. Each 32 bytes of qs hold two sub-blocks:
// the even one in the low nibbles, the odd one in the high nibbles.
const uint BLOCK_WEIGHTS = 256;
const uint BLOCK_BYTES = 144;

vec2 group_affine(uint b, uint s)
{
    uint j = s / 2u;
    uint sc, m;
    if (j < 4u) {
        sc = weight_byte(b + 4u + j) & 63u;
        m = weight_byte(b + 8u + j) & 63u;
    } else {
        // The low four bits sit in bytes 8..11, the high two in the top
        // bits of the scale and min bytes of sub-block j - 4.
        uint low = weight_byte(b + 8u + j);
        sc = (low & 15u) | ((weight_byte(b + j) >> 6) << 4);
        m = (low >> 4) | ((weight_byte(b + 4u + j) >> 6) << 4);
    }
    return vec2(weight_half(b) * float(sc), -(weight_half(b + 2u) * float(m)));
}

vec4 group_codes(uint b, uint s, uint q)
{
    uint j = s / 2u;
    uint offset = b + 16u + (j / 2u) * 32u + (s % 2u) * 16u + q * 4u;
    return vec4(byte_fields(weight_word(offset), (j % 2u) * 4u, 4u));
}

#elif defined(WEIGHT_Q6_K)
// uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d; w = d * scale * (code
// - 32) with 6-bit codes. Each half h of 128 weights is four quarters k of
// 32: quarter k takes the low (k < 2) or high (k >= 2) nibbles of ql[64h +
// 32(k % 2) + l] and bits 2k, 2k + 1 of qh[32h + l] for l < 32. Group s is
// half s / 8, quarter (s / 2) % 4, l from 16 (s % 2), and has scale s.
const uint BLOCK_WEIGHTS = 256;
const uint BLOCK_BYTES = 210;

vec2 group_affine(uint b, uint s)
{
    int scale = bitfieldExtract(int(weight_byte(b + 192u + s)), 0, 8);
    float step_size = weight_half(b + 208u) * float(scale);
    return vec2(step_size, -32.0 * step_size);
}

vec4 group_codes(uint b, uint s, uint q)
{
    uint h = s / 8u;
    uint k = (s / 2u) % 4u;
    uint l = (s % 2u) * 16u + q * 4u;
    uint low = weight_word(b + h * 64u + (k % 2u) * 32u + l);
    uint high = weight_word(b + 128u + h * 32u + l);
    return vec4(byte_fields(low, (k / 2u) * 4u, 4u) | (byte_fields(high, k * 2u, 2u) << 4));
}

#else
#error "define one of the WEIGHT_* types"
#endif

uint block_offset(uint row, uint col, uint row_len)
{
    return (row * (row_len / BLOCK_WEIGHTS) + col / BLOCK_WEIGHTS) * BLOCK_BYTES;
}

// Block rows are whole blocks, so a quad that starts in the row ends in it.
vec4 weight_quad(uint row, uint col, uint row_len)
{
    if (col >= row_len)
        return vec4(0.0);
    uint b = block_offset(row, col, row_len);
    uint s = (col % BLOCK_WEIGHTS) / WEIGHT_GROUP;
    vec2 affine = group_affine(b, s);
    return group_codes(b, s, (col % WEIGHT_GROUP) / 4u) * affine.x + affine.y;
}

float weight(uint row, uint col, uint row_len)
{
    return weight_quad(row, col & ~3u, row_len)[col & 3u];
}

void weight_group(uint row, uint g, uint row_len, out float v[WEIGHT_GROUP])
{
    uint col = g * WEIGHT_GROUP;
    uint b = block_offset(row, col, row_len);
    uint s = (col % BLOCK_WEIGHTS) / WEIGHT_GROUP;
    vec2 affine = group_affine(b, s);
    for (uint q = 0u; q < WEIGHT_GROUP / 4u; q++) {
        vec4 values = group_codes(b, s, q) * affine.x + affine.y;
        v[q * 4u] = values.x;
        v[q * 4u + 1u] = values.y;
        v[q * 4u + 2u] = values.z;
        v[q * 4u + 3u] = values.w;
    }
}

#endif
