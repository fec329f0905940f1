#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
// y[y_offset + r] = dot(W[r, :], x) for the rows r of one weight piece: the
// matrix-vector product of token generation on GPUs. One workgroup per row;
// the workgroup splits the row and reduces the partial sums (reduce.glsl:
// through subgroups where the device can, else through shared memory).

#include "common.glsl"
#include "weights.glsl"
#include "reduce.glsl"

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
    uint row = linear_group();
    if (row >= p.N)
        return;     // uniform across the workgroup

    // Each invocation takes whole groups of weights, so a quantized block's
    // scales are read once per group rather than once per weight.
    uint x_base = p.x_last_row != 0 ? (step.n_tokens - 1) * p.K : 0;
    float sum = 0.0;
    for (uint g = gl_LocalInvocationID.x; g < p.K / WEIGHT_GROUP; g += WG) {
        float v[WEIGHT_GROUP];
        weight_group(row, g, p.K, v);
        uint k0 = x_base + g * WEIGHT_GROUP;
        for (uint i = 0; i < WEIGHT_GROUP; i++)
            sum += v[i] * x[k0 + i];
    }

    float total = workgroup_sum(sum);
    if (gl_LocalInvocationID.x == 0)
        y[p.y_offset + row] = p.add != 0 ? y[p.y_offset + row] + total : total;
}
