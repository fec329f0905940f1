#version 450
#extension GL_GOOGLE_include_directive : require
// y[t, :] = (x[t, :] - mean) / sqrt(var + eps) * w + b, with the mean and the
// biased variance of the row, one workgroup per token.

#include "common.glsl"
#include "reduce.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) readonly buffer B { float b[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

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
    float sum = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG)
        sum += x[base + i];
    float mean = workgroup_sum(sum) / float(p.n);

    // A second pass over the centred values: the one-pass E[x^2] - mean^2
    // cancels badly when the mean is large against the spread.
    float squares = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) {
        float centred = x[base + i] - mean;
        squares += centred * centred;
    }
    float scale = inversesqrt(workgroup_sum(squares) / float(p.n) + p.eps);

    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG)
        y[base + i] = (x[base + i] - mean) * scale * w[i] + b[i];
}
