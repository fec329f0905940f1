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
// buffers: W in the lanes layout as RGBA32UI texels, X
// as RGBA32F texels. Each lane takes ROWS weight rows and TOKENS tokens at a
// time, so one fetch of X serves ROWS rows and one fetch of W serves TOKENS
// tokens; no shared memory and no barrier are used.
//
// A lane takes its rows a chunk (64 bytes, one cache line) at a time and
// fetches the whole chunk of every row before using any of it: lavapipe
// then keeps enough loads in flight to stream weights from memory at twice
// the rate of one texel at a time. The layout is described in
// runtime/ops/lanes.h.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(constant_id = 1) const uint ROWS = 4;
layout(constant_id = 2) const uint TOKENS = 1;
layout(local_size_x_id = 0) in;

layout(binding = 6) uniform usamplerBuffer weights;
layout(binding = 7) uniform samplerBuffer xs;
layout(std430, binding = 1) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint last_only;   // 1: only the step's last token, written as row 0 of Y
    uint add;         // 1: Y += X W^T instead of Y = X W^T
    uint glu;         // 1: rows alternate gate and up (ROWS even, col0 even):
                      // Y[t, (col0 + 2i) / 2] = silu(gate_i) up_i
    uint token_slice; // tokens a layer of workgroups (z) takes: lavapipe ends an
                      // invocation's loops after 65535 iterations in all
} p;

const uint CHUNK_TEXELS = 4;

// The four signed bytes of a word.
vec4 signed_bytes(uint word)
{
    return vec4((ivec4(word) << ivec4(24, 16, 8, 0)) >> 24);
}

// Nibble codes are unsigned, and a Q4_0 weight is (code - CODE_BIAS) scale.
// They are used in place: masked out of their word but not shifted down, so
// that a code reads as code 2^b, b the bit it starts at, and X's element is
// scaled by 2^-b to match (exactly, unless that takes it below 2^-126, where
// lavapipe flushes it to zero: X's elements would have to be under 2^-102).
// lavapipe spends an instruction on every lane for each shift or mask, so one
// mask instead of a shift pair, less the bias's cost (X's sum over each
// group), took 6-7% off the Q4_0 and Q4_K matrix-vector products. The bias
// costs precision where X's elements share a large mean, the code times X's
// sum cancelling against the codes' products: a few times the rounding of
// signed codes, well inside the products' tolerance for a bias of 8; bytes,
// with a bias of 128, stay signed. The code at the word's top is shifted down
// instead: in place it would not fit a positive int.

// The low (high = false) or high nibbles of a word's four bytes in place.
vec4 nibbles_in_place(uint word, bool high)
{
    if (high)
        return vec4(ivec4(word & 0xf0u, word & 0xf000u, word & 0xf00000u, word >> 28));
    return vec4(ivec4(word & 0xfu, word & 0xf00u, word & 0xf0000u, word & 0xf000000u));
}

vec4 nibble_places(bool high)
{
    return high ? vec4(1.0 / 16.0, 1.0 / 4096.0, 1.0 / 1048576.0, 1.0)
                : vec4(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);
}

// Per type: CHUNK weights a chunk, GROUP weights a scale (block types),
// quad_codes(chunk, i), the codes of weights 4i .. 4i + 3 of a chunk, and
// for codes used in place quad_places(i), the scale of their X elements.
#if defined(WEIGHT_F32)
const uint CHUNK = 16;
vec4 quad_codes(uvec4 c[CHUNK_TEXELS], uint i) { return uintBitsToFloat(c[i]); }
#elif defined(WEIGHT_F16)
const uint CHUNK = 32;
vec4 quad_codes(uvec4 c[CHUNK_TEXELS], uint i)
{
    uvec4 t = c[i / 2];
    return (i % 2) == 0 ? vec4(unpackHalf2x16(t.x), unpackHalf2x16(t.y))
                        : vec4(unpackHalf2x16(t.z), unpackHalf2x16(t.w));
}
#elif defined(WEIGHT_BF16)
const uint CHUNK = 32;
vec4 quad_codes(uvec4 c[CHUNK_TEXELS], uint i)
{
    uvec4 t = c[i / 2];
    uvec2 words = (i % 2) == 0 ? t.xy : t.zw;
    return uintBitsToFloat(uvec4(words.x << 16, words.x & 0xffff0000u, words.y << 16,
                                 words.y & 0xffff0000u));
}
#elif defined(WEIGHT_Q8_0) || defined(WEIGHT_Q6_K)
#define SCALED
const uint CHUNK = 64;
#if defined(WEIGHT_Q8_0)
const uint GROUP = 32;
#else
const uint GROUP = 16;
#endif
vec4 quad_codes(uvec4 c[CHUNK_TEXELS], uint i) { return signed_bytes(c[i / 4][i % 4]); }
#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_K)
// Byte j of a texel holds code j in its low nibble and code j + 16 in its
// high one.
#define SCALED
#define IN_PLACE
const uint CHUNK = 128;
const uint GROUP = 32;
#if defined(WEIGHT_Q4_0)
#define CODE_BIAS 8
#endif
// Quads 0-3 of a chunk are the low nibbles of its first texel, 4-7 the high.
bool high_quad(uint i) { return (i / 4) % 2 == 1; }
vec4 quad_codes(uvec4 c[CHUNK_TEXELS], uint i)
{
    return nibbles_in_place(c[i / 8][i % 4], high_quad(i));
}
vec4 quad_places(uint i) { return nibble_places(high_quad(i)); }
#endif

const uint QUADS = CHUNK / 4;   // X texels a chunk
#if defined(SCALED)
const uint GROUPS = CHUNK / GROUP;
const uint QUADS_PER_GROUP = GROUP / 4;
#else
const uint GROUPS = 1;
const uint QUADS_PER_GROUP = QUADS;
#endif

void main()
{
    uint row0 = (linear_group() * WG + gl_LocalInvocationID.x) * ROWS;
    if (row0 >= p.N)
        return;     // no barrier follows, so lanes may leave on their own

    uint chunks = (p.K + CHUNK - 1) / CHUNK;
    uint code_texels = chunks * CHUNK_TEXELS;
#if defined(SCALED)
    uint factor_texels = (chunks * GROUPS + 3) / 4;
    uint row_texels = code_texels + factor_texels;
#if defined(WEIGHT_Q4_K)
    row_texels += factor_texels;
#endif
#else
    uint row_texels = code_texels;
#endif
    // The last lane's rows past the piece's end repeat its last row and
    // are never written.
    int row_base[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++)
        row_base[r] = int(min(row0 + r, p.N - 1) * row_texels);

    uint t_begin = gl_WorkGroupID.z * p.token_slice;
    uint t_end = min(step.n_tokens, t_begin + p.token_slice);
    if (p.last_only != 0) {
        t_begin = step.n_tokens - 1;    // one layer of workgroups
        t_end = step.n_tokens;
    }
    for (uint t0 = t_begin; t0 < t_end; t0 += TOKENS) {
        float acc[ROWS][TOKENS];
        [[unroll]] for (uint r = 0; r < ROWS; r++)
            [[unroll]] for (uint t = 0; t < TOKENS; t++)
                acc[r][t] = 0.0;

        for (uint chunk = 0; chunk < chunks; chunk++) {
            uvec4 codes[ROWS][CHUNK_TEXELS];
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                [[unroll]] for (uint c = 0; c < CHUNK_TEXELS; c++)
                    codes[r][c] = texelFetch(weights, row_base[r] + int(chunk * CHUNK_TEXELS + c));
#if defined(SCALED)
            // A chunk's groups share one texel of scales (and of offsets).
            uint first_group = chunk * GROUPS;
            int factor = int(code_texels + first_group / 4);
            vec4 scales[ROWS];
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                scales[r] = uintBitsToFloat(texelFetch(weights, row_base[r] + factor));
#if defined(WEIGHT_Q4_K)
            vec4 offsets[ROWS];
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                offsets[r] = uintBitsToFloat(
                    texelFetch(weights, row_base[r] + factor + int(factor_texels)));
#endif
#endif
            [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                // Tokens past the step's end read row 0 and are never written.
                uint token = t0 + t < t_end ? t0 + t : 0;
                int x_base = int((token * p.K + chunk * CHUNK) / 4);
                uint quads_left = (p.K - chunk * CHUNK) / 4;
                [[unroll]] for (uint g = 0; g < GROUPS; g++) {
                    float dots[ROWS];
                    [[unroll]] for (uint r = 0; r < ROWS; r++)
                        dots[r] = 0.0;
                    float x_sum = 0.0;
                    [[unroll]] for (uint j = 0; j < QUADS_PER_GROUP; j++) {
                        uint i = g * QUADS_PER_GROUP + j;
                        // The last chunk's padding must not read past X's row.
                        vec4 xq = i < quads_left ? texelFetch(xs, x_base + int(i)) : vec4(0.0);
                        x_sum += xq.x + xq.y + xq.z + xq.w;
#if defined(IN_PLACE)
                        xq *= quad_places(i);
#endif
                        [[unroll]] for (uint r = 0; r < ROWS; r++)
                            dots[r] += dot(quad_codes(codes[r], i), xq);
                    }
                    [[unroll]] for (uint r = 0; r < ROWS; r++) {
#if defined(SCALED)
                        uint s = (first_group + g) % 4;
#if defined(CODE_BIAS)
                        dots[r] -= float(CODE_BIAS) * x_sum;
#endif
                        acc[r][t] += scales[r][s] * dots[r];
#if defined(WEIGHT_Q4_K)
                        acc[r][t] += offsets[r][s] * x_sum;
#endif
#else
                        acc[r][t] += dots[r];
#endif
                    }
                }
            }
        }

        for (uint t = 0; t < TOKENS && t0 + t < t_end; t++) {
            uint y_row = p.last_only != 0 ? 0 : t0 + t;
            if (p.glu != 0) {
                for (uint r = 0; r + 1 < ROWS && row0 + r < p.N; r += 2) {
                    float gate = acc[r][t];
                    uint i = y_row * p.y_stride + (p.col0 + row0 + r) / 2;
                    y[i] = gate / (1.0 + exp(-gate)) * acc[r + 1][t];
                }
                continue;
            }
            for (uint r = 0; r < ROWS && row0 + r < p.N; r++) {
                uint i = y_row * p.y_stride + p.col0 + row0 + r;
                y[i] = p.add != 0 ? y[i] + acc[r][t] : acc[r][t];
            }
        }
    }
}
