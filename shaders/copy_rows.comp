#version 450
#extension GL_GOOGLE_include_directive : require
// dst[pos0 + t, :] = src[t, :] for the tokens of the step: appends values to
// the KV cache at their positions.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Src { float src[]; };
layout(std430, binding = 2) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint i = LINEAR_INVOCATION();
    if (i >= step.n_tokens * p.n)
        return;
    uint t = i / p.n;
    dst[(step.pos0 + t) * p.n + i % p.n] = src[i];
}
