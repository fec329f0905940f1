#version 450
#extension GL_GOOGLE_include_directive : require
// x[t, i] += bias[i] over step.n_tokens rows of n.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint i = LINEAR_INVOCATION();
    if (i >= step.n_tokens * p.n)
        return;
    x[i] += bias[i % p.n];
}
