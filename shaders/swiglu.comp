#version 450
#extension GL_GOOGLE_include_directive : require
// out = silu(gate) * up, elementwise over step.n_tokens rows of n.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Gate { float gate[]; };
layout(std430, binding = 2) readonly buffer Up { float up[]; };
layout(std430, binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint i = LINEAR_INVOCATION();
    if (i >= step.n_tokens * p.n)
        return;
    float g = gate[i];
    o[i] = g / (1.0 + exp(-g)) * up[i];
}
