#version 450
#extension GL_GOOGLE_include_directive : require
// y[y_offset + r] = dot(W[r, :], x), one row per invocation: the
// matrix-vector product for CPU devices. There a workgroup's invocations run
// as SIMD lanes and a barrier is a software switch, so a whole row per lane
// (no reduction, no barrier) and many rows per workgroup beat the GPU layout
// of one workgroup per row.

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(local_size_x_id = 0) in;

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length
    uint N;           // rows in this piece
    uint y_offset;    // first output element this piece writes
    uint x_last_row;  // 1: x is the last of step.n_tokens rows of length K
    uint add;         // 1: y += W x instead of y = W x
} p;

void main()
{
    uint row = linear_group() * WG + gl_LocalInvocationID.x;
    if (row >= p.N)
        return;     // no barrier follows, so lanes may leave on their own

    uint x_base = p.x_last_row != 0 ? (step.n_tokens - 1) * p.K : 0;
    float sum = 0.0;
#if defined(WEIGHT_F32) || defined(WEIGHT_F16) || defined(WEIGHT_BF16)
    // Plain weights four at a time, then the row's last few one by one.
    uint whole = p.K & ~3u;
    for (uint k = 0; k < whole; k += 4) {
        uint xk = x_base + k;
        sum += dot(weight_quad(row, k, p.K), vec4(x[xk], x[xk + 1], x[xk + 2], x[xk + 3]));
    }
    for (uint k = whole; k < p.K; k++)
        sum += weight(row, k, p.K) * x[x_base + k];
#else
    // Blocks a group at a time, each group's scales read once.
    for (uint g = 0; g < p.K / WEIGHT_GROUP; g++) {
        float v[WEIGHT_GROUP];
        weight_group(row, g, p.K, v);
        uint k0 = x_base + g * WEIGHT_GROUP;
        for (uint i = 0; i < WEIGHT_GROUP; i++)
            sum += v[i] * x[k0 + i];
    }
#endif
    y[p.y_offset + row] = p.add != 0 ? y[p.y_offset + row] + sum : sum;
}
