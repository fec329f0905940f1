#version 450
#extension GL_GOOGLE_include_directive : require
// Merges the partials of attention split along the sequence: for each
// (token, head) with split s holding maximum m_s, sum l_s and weighted sum
// a_s, out = sum_s a_s exp(m_s - M) / sum_s l_s exp(m_s - M), M = max_s m_s.
// One invocation per (token, head, element of the head).

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HEAD = 64;
layout(constant_id = 2) const uint SPLITS = 2;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Parts { float parts[]; };
layout(std430, binding = 2) writeonly buffer Out { float dst[]; };

layout(push_constant) uniform Push {
    uint n_heads;
} p;

void main()
{
    uint i = LINEAR_INVOCATION();
    uint pair = i / HEAD;
    uint d = i % HEAD;
    if (pair / p.n_heads >= step.n_tokens)
        return;

    uint first = pair * SPLITS * (HEAD + 2);
    float top = parts[first];
    for (uint s = 1; s < SPLITS; s++)
        top = max(top, parts[first + s * (HEAD + 2)]);

    float sum = 0.0;
    float weighted = 0.0;
    for (uint s = 0; s < SPLITS; s++) {
        uint part = first + s * (HEAD + 2);
        float factor = exp(parts[part] - top);
        sum += parts[part + 1] * factor;
        weighted += parts[part + 2 + d] * factor;
    }
    dst[pair * HEAD + d] = weighted / sum;
}
