#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
// Causal grouped-query attention for GPUs, with the result and partials of
// attention.comp, but one workgroup per (token, head, split) instead of one
// invocation: a decode step has only as many (token, head) pairs as heads,
// far too few to fill a GPU one invocation each.
//
// The workgroup walks its positions CHUNK at a time. Its invocations score
// positions lid, lid + WG, ... of the chunk into shared memory; the
// workgroup reduces the chunk's maximum and sum of exponentials; then each
// invocation adds the chunk's weighted values into its own elements of the
// head (lid, lid + WG, ...). Across chunks an online softmax rescales the
// running sums when the maximum grows. Every loop bound is the same for the
// whole workgroup, so the reductions' barriers are in uniform control flow.

#include "common.glsl"
#include "reduce.glsl"      // WG, workgroup_sum, workgroup_max

layout(constant_id = 1) const uint HEAD = 64;       // head size
layout(constant_id = 2) const uint SPLITS = 1;
layout(local_size_x_id = 0) in;

const uint CHUNK = 256;
const uint ELEMENTS = (HEAD + WG - 1) / WG;   // elements of the head an invocation owns
// Finite, so that no infinity meets another in a subtraction.
const float LOWEST = -3.0e38;

layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) writeonly buffer Out { float dst[]; };
layout(std430, binding = 3) readonly buffer K { float k[]; };
layout(std430, binding = 4) readonly buffer V { float v[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint split_len;   // positions a split takes
    float scale;      // 1 / sqrt(HEAD)
} p;

shared float query[HEAD];       // scaled once instead of every score
shared float weights[CHUNK];    // the chunk's scores, then their exponentials

// Scores positions [first, last) of the chunk starting at first into
// weights[]; returns this invocation's largest.
float score_chunk(uint first, uint last, uint kv_width, uint kv_offset)
{
    float top = LOWEST;
    for (uint j = first + gl_LocalInvocationID.x; j < last; j += WG) {
        uint row = j * kv_width + kv_offset;
        float score = 0.0;
        for (uint d = 0; d < HEAD; d++)
            score += query[d] * k[row + d];
        weights[j - first] = score;
        top = max(top, score);
    }
    return top;
}

// Turns the chunk's scores into exp(score - top); returns this
// invocation's share of their sum. It visits the very slots score_chunk had
// this invocation write, which is why no barrier stands between the two.
float exponentiate_chunk(uint count, float top)
{
    float sum = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < count; i += WG) {
        weights[i] = exp(weights[i] - top);
        sum += weights[i];
    }
    return sum;
}

void main()
{
    uint pair = linear_group();
    uint t = pair / p.n_heads;
    uint h = pair % p.n_heads;
    if (t >= step.n_tokens)
        return;     // uniform across the workgroup

    uint lid = gl_LocalInvocationID.x;
    uint len = step.pos0 + t + 1;
    uint split = gl_WorkGroupID.z;
    uint begin = split * p.split_len;
    uint end = min(len, begin + p.split_len);
    uint kv_width = p.n_kv_heads * HEAD;
    uint kv_offset = (h / (p.n_heads / p.n_kv_heads)) * HEAD;
    uint q_base = (t * p.n_heads + h) * HEAD;

    for (uint d = lid; d < HEAD; d += WG)
        query[d] = q[q_base + d] * p.scale;
    barrier();

    float running_max = LOWEST;
    float running_sum = 0.0;
    float weighted[ELEMENTS];
    for (uint e = 0; e < ELEMENTS; e++)
        weighted[e] = 0.0;

    for (uint first = begin; first < end; first += CHUNK) {
        uint last = min(end, first + CHUNK);
        float chunk_max = workgroup_max(score_chunk(first, last, kv_width, kv_offset));
        float new_max = max(running_max, chunk_max);
        float shrink = exp(running_max - new_max);
        running_sum = running_sum * shrink +
                      workgroup_sum(exponentiate_chunk(last - first, new_max));
        running_max = new_max;

        for (uint e = 0; e < ELEMENTS; e++) {
            uint d = lid + e * WG;
            if (d >= HEAD)
                break;
            float sum = weighted[e] * shrink;
            for (uint j = first; j < last; j++)
                sum += weights[j - first] * v[j * kv_width + kv_offset + d];
            weighted[e] = sum;
        }
        barrier();      // weights[] is rewritten by the next chunk
    }

    if (SPLITS == 1) {
        // Position 0 is always in the first split, so the sum is positive.
        for (uint e = 0; e < ELEMENTS && lid + e * WG < HEAD; e++)
            dst[q_base + lid + e * WG] = weighted[e] / running_sum;
        return;
    }

    // Partials, laid out as attention.comp writes them: (maximum, sum,
    // weighted sum) per (token, head, split); an empty split has sum zero.
    uint part = ((t * p.n_heads + h) * SPLITS + split) * (HEAD + 2);
    if (lid == 0) {
        dst[part] = running_max;
        dst[part + 1] = running_sum;
    }
    for (uint e = 0; e < ELEMENTS && lid + e * WG < HEAD; e++)
        dst[part + 2 + lid + e * WG] = weighted[e];
}
