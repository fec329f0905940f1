#version 450
#extension GL_GOOGLE_include_directive : require
// Softmax over each row of x, in place, one workgroup per row. Rows belong to
// tokens in groups of rows_per_token. With causal set, the row of token t
// covers only positions 0 .. pos0 + t: the rest of the row is set to zero.

#include "common.glsl"
#include "reduce.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 1) buffer X { float x[]; };

layout(push_constant) uniform Push {
    uint cols;
    uint rows_per_token;
    uint causal;
} p;

void main()
{
    uint row = linear_group();
    uint t = row / p.rows_per_token;
    if (t >= step.n_tokens)
        return;     // uniform across the workgroup

    uint base = row * p.cols;
    uint len = p.causal != 0 ? min(p.cols, step.pos0 + t + 1) : p.cols;
    uint lid = gl_LocalInvocationID.x;

    float local_max = -1.0 / 0.0;
    for (uint i = lid; i < len; i += WG)
        local_max = max(local_max, x[base + i]);
    float row_max = workgroup_max(local_max);

    float local_sum = 0.0;
    for (uint i = lid; i < len; i += WG) {
        float e = exp(x[base + i] - row_max);
        x[base + i] = e;
        local_sum += e;
    }
    float inv_sum = 1.0 / workgroup_sum(local_sum);

    for (uint i = lid; i < p.cols; i += WG)
        x[base + i] = i < len ? x[base + i] * inv_sum : 0.0;
}
