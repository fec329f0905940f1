#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Causal grouped-query attention in one pass over the KV cache, with an
// online softmax: for token t and head h,
//   out[t, h, :] = sum_j softmax_j(q[t, h, :] . k[j, :] * scale) v[j, :]
// over positions j <= pos0 + t, k and v being the cache rows of h's key and
// value head. No score row is stored: each invocation keeps a running
// maximum, the running sum of exponentials and the weighted sum of values,
// rescaling the sums whenever the maximum grows.
//
// One invocation per (token, head), so a workgroup needs no shared memory
// and no barrier. Workgroup row y takes positions [y * split_len,
// (y + 1) * split_len): with SPLITS > 1 a long context is split along the
// sequence across workgroups, each writing (maximum, sum, weighted sum) to
// the partials that attention_combine merges; with SPLITS = 1 the result
// is written normalized.
//
// KV_TEXELS reads the caches as RGBA32F texels (a CPU device's fast path,
// head sizes that are multiples of 4); otherwise they are storage buffers.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HEAD = 64;       // head size
layout(constant_id = 2) const uint SPLITS = 1;
layout(local_size_x_id = 0) in;

const uint QUADS = (HEAD + 3) / 4;
// Finite, so that no infinity meets another in a subtraction.
const float LOWEST = -3.0e38;

layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) writeonly buffer Out { float dst[]; };

#if defined(KV_TEXELS)
layout(binding = 6) uniform samplerBuffer k_texels;
layout(binding = 7) uniform samplerBuffer v_texels;

// Elements 4i .. 4i + 3 of a head's row starting at element base.
vec4 k_quad(uint base, uint i) { return texelFetch(k_texels, int(base / 4 + i)); }
vec4 v_quad(uint base, uint i) { return texelFetch(v_texels, int(base / 4 + i)); }
#else
layout(std430, binding = 3) readonly buffer K { float k[]; };
layout(std430, binding = 4) readonly buffer V { float v[]; };

vec4 k_quad(uint base, uint i)
{
    vec4 quad = vec4(0.0);
    [[unroll]] for (uint c = 0; c < 4; c++)
        if (4 * i + c < HEAD)
            quad[c] = k[base + 4 * i + c];
    return quad;
}

vec4 v_quad(uint base, uint i)
{
    vec4 quad = vec4(0.0);
    [[unroll]] for (uint c = 0; c < 4; c++)
        if (4 * i + c < HEAD)
            quad[c] = v[base + 4 * i + c];
    return quad;
}
#endif

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint split_len;   // positions a workgroup row takes
    float scale;      // 1 / sqrt(HEAD)
} p;

void main()
{
    uint pair = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    uint t = pair / p.n_heads;
    uint h = pair % p.n_heads;
    if (t >= step.n_tokens)
        return;     // no barrier follows, so invocations may leave on their own

    uint len = step.pos0 + t + 1;
    uint split = gl_WorkGroupID.y;
    uint begin = split * p.split_len;
    uint end = min(len, begin + p.split_len);
    uint kv_width = p.n_kv_heads * HEAD;
    uint kv_offset = (h / (p.n_heads / p.n_kv_heads)) * HEAD;
    uint q_base = (t * p.n_heads + h) * HEAD;

    // The query, scaled once instead of every score.
    vec4 query[QUADS];
    [[unroll]] for (uint i = 0; i < QUADS; i++) {
        query[i] = vec4(0.0);
        [[unroll]] for (uint c = 0; c < 4; c++)
            if (4 * i + c < HEAD)
                query[i][c] = q[q_base + 4 * i + c] * p.scale;
    }

    float running_max = LOWEST;
    float running_sum = 0.0;
    vec4 weighted[QUADS];
    [[unroll]] for (uint i = 0; i < QUADS; i++)
        weighted[i] = vec4(0.0);

    for (uint j = begin; j < end; j++) {
        uint row = j * kv_width + kv_offset;
        float score = 0.0;
        [[unroll]] for (uint i = 0; i < QUADS; i++)
            score += dot(query[i], k_quad(row, i));

        float new_max = max(running_max, score);
        float shrink = exp(running_max - new_max);
        float weight = exp(score - new_max);
        running_sum = running_sum * shrink + weight;
        [[unroll]] for (uint i = 0; i < QUADS; i++)
            weighted[i] = weighted[i] * shrink + weight * v_quad(row, i);
        running_max = new_max;
    }

    if (SPLITS == 1) {
        // Position 0 is always in the first split, so the sum is positive.
        [[unroll]] for (uint i = 0; i < QUADS; i++)
            [[unroll]] for (uint c = 0; c < 4; c++)
                if (4 * i + c < HEAD)
                    dst[q_base + 4 * i + c] = weighted[i][c] / running_sum;
        return;
    }

    // Partials: (maximum, sum, weighted sum) per (token, head, split); an
    // empty split leaves a zero sum, which the merge weighs by zero.
    uint part = ((t * p.n_heads + h) * SPLITS + split) * (HEAD + 2);
    dst[part] = running_max;
    dst[part + 1] = running_sum;
    [[unroll]] for (uint i = 0; i < QUADS; i++)
        [[unroll]] for (uint c = 0; c < 4; c++)
            if (4 * i + c < HEAD)
                dst[part + 2 + 4 * i + c] = weighted[i][c];
}
