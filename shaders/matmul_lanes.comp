#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) for CPU devices, both the
// matrix-vector product of generation (one token) and the matrix-matrix
// product of prompts.
//
// On a CPU device the invocations of a workgroup are the SIMD lanes of one
// core. A storage-buffer read there becomes a loop over the lanes, one
// bounds-checked scalar load each, which caps every kernel near 2 GFLOP/s.
// A texel fetch from a uniform texel buffer is a plain 16-byte load per lane
// instead, so this kernel reads the weights and X only through texel
// buffers: W in the lanes layout (runtime/ops/lanes.c) as RGBA32UI texels, X
// as RGBA32F texels. Each lane takes ROWS weight rows and TOKENS tokens at a
// time, so one fetch of X serves ROWS rows and one fetch of W serves TOKENS
// tokens; no shared memory and no barrier are used.
//
// The lanes layout of a row: its codes, CODE_TEXELS texels per group of
// GROUP weights, then for block types one (scale, offset) pair of floats per
// group, two pairs to a texel; a weight is code * scale + offset. Plain
// types (F32, F16, BF16) have no pairs: the codes are the weights.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(constant_id = 1) const uint ROWS = 4;
layout(constant_id = 2) const uint TOKENS = 1;
layout(local_size_x_id = 0) in;

layout(binding = 6) uniform usamplerBuffer weights;
layout(binding = 7) uniform samplerBuffer xs;
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint last_only;   // 1: only the step's last token, written as row 0 of Y
} p;

// The four signed bytes of a word.
vec4 signed_bytes(uint word)
{
    return vec4((ivec4(word) << ivec4(24, 16, 8, 0)) >> 24);
}

// A four-bit field of each byte of a word.
vec4 nibbles(uint word, int shift)
{
    return vec4(bitfieldExtract(word, shift, 4), bitfieldExtract(word, shift + 8, 4),
                bitfieldExtract(word, shift + 16, 4), bitfieldExtract(word, shift + 24, 4));
}

#if defined(WEIGHT_F32)
const uint GROUP = 4;
const uint CODE_TEXELS = 1;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i) { return uintBitsToFloat(q[0]); }
#elif defined(WEIGHT_F16)
const uint GROUP = 8;
const uint CODE_TEXELS = 1;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i)
{
    return vec4(unpackHalf2x16(q[0][2 * i]), unpackHalf2x16(q[0][2 * i + 1]));
}
#elif defined(WEIGHT_BF16)
const uint GROUP = 8;
const uint CODE_TEXELS = 1;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i)
{
    uint a = q[0][2 * i], b = q[0][2 * i + 1];
    return uintBitsToFloat(uvec4(a << 16, a & 0xffff0000u, b << 16, b & 0xffff0000u));
}
#elif defined(WEIGHT_Q8_0)
// Signed byte codes, 32 to a group.
#define AFFINE
const uint GROUP = 32;
const uint CODE_TEXELS = 2;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i) { return signed_bytes(q[i / 4][i % 4]); }
#elif defined(WEIGHT_Q6_K)
// Signed byte codes, 16 to a group.
#define AFFINE
const uint GROUP = 16;
const uint CODE_TEXELS = 1;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i) { return signed_bytes(q[0][i]); }
#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_K)
// Four-bit codes, 32 to a group: byte j holds code j in its low nibble and
// code j + 16 in its high one.
#define AFFINE
const uint GROUP = 32;
const uint CODE_TEXELS = 1;
vec4 quad_codes(uvec4 q[CODE_TEXELS], uint i) { return nibbles(q[0][i % 4], int(i / 4) * 4); }
#endif

const uint QUADS = GROUP / 4;   // X texels per group

void main()
{
    uint row0 = (linear_group() * WG + gl_LocalInvocationID.x) * ROWS;
    if (row0 >= p.N)
        return;     // no barrier follows, so lanes may leave on their own

    uint groups = p.K / GROUP;
#if defined(AFFINE)
    uint row_texels = groups * CODE_TEXELS + (groups + 1) / 2;
#else
    uint row_texels = groups * CODE_TEXELS;
#endif
    // The last lane's rows past the piece's end repeat its last row and
    // are never written.
    int row_base[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++)
        row_base[r] = int(min(row0 + r, p.N - 1) * row_texels);

    uint t_end = step.n_tokens;
    uint t_begin = p.last_only != 0 ? t_end - 1 : 0;
    for (uint t0 = t_begin; t0 < t_end; t0 += TOKENS) {
        float acc[ROWS][TOKENS];
        [[unroll]] for (uint r = 0; r < ROWS; r++)
            [[unroll]] for (uint t = 0; t < TOKENS; t++)
                acc[r][t] = 0.0;

        for (uint g = 0; g < groups; g++) {
            uvec4 codes[ROWS][CODE_TEXELS];
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                [[unroll]] for (uint c = 0; c < CODE_TEXELS; c++)
                    codes[r][c] = texelFetch(weights, row_base[r] + int(g * CODE_TEXELS + c));
#if defined(AFFINE)
            vec2 affine[ROWS];
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                vec4 pairs = uintBitsToFloat(
                    texelFetch(weights, row_base[r] + int(groups * CODE_TEXELS + g / 2)));
                affine[r] = (g & 1u) != 0u ? pairs.zw : pairs.xy;
            }
#endif
            [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                // Tokens past the step's end read row 0 and are never written.
                uint token = t0 + t < t_end ? t0 + t : 0;
                int x_base = int((token * p.K + g * GROUP) / 4);
                float dots[ROWS];
                [[unroll]] for (uint r = 0; r < ROWS; r++)
                    dots[r] = 0.0;
                float x_sum = 0.0;
                [[unroll]] for (uint i = 0; i < QUADS; i++) {
                    vec4 xq = texelFetch(xs, x_base + int(i));
                    x_sum += xq.x + xq.y + xq.z + xq.w;
                    [[unroll]] for (uint r = 0; r < ROWS; r++)
                        dots[r] += dot(quad_codes(codes[r], i), xq);
                }
                [[unroll]] for (uint r = 0; r < ROWS; r++) {
#if defined(AFFINE)
                    acc[r][t] += affine[r].x * dots[r] + affine[r].y * x_sum;
#else
                    acc[r][t] += dots[r];
#endif
                }
            }
        }

        for (uint t = 0; t < TOKENS && t0 + t < t_end; t++) {
            uint y_row = p.last_only != 0 ? 0 : t0 + t;
            for (uint r = 0; r < ROWS && row0 + r < p.N; r++)
                y[y_row * p.y_stride + p.col0 + row0 + r] = acc[r][t];
        }
    }
}
