#version 450
#extension GL_GOOGLE_include_directive : require
// y[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w, one workgroup per token.

#include "common.glsl"
#include "reduce.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    float eps;
} p;

void main()
{
    uint t = linear_group();
    if (t >= step.n_tokens)
        return;     // uniform across the workgroup

    uint base = t * p.n;
    float squares = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG)
        squares += x[base + i] * x[base + i];

    float scale = inversesqrt(workgroup_sum(squares) / float(p.n) + p.eps);
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG)
        y[base + i] = w[i] * (scale * x[base + i]);
}
