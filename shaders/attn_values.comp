#version 450
#extension GL_GOOGLE_include_directive : require
// The weighted sum of causal grouped-query attention:
// out[t, h, :] = sum over j <= pos0 + t of att[t, h, j] * v[j, h / group, :],
// where v is the KV cache of one layer. One workgroup per (head, token).

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Att { float att[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint head_size;
    uint context;     // row length of att
} p;

void main()
{
    uint h = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    if (t >= step.n_tokens)
        return;

    uint kv_head = h / (p.n_heads / p.n_kv_heads);
    uint kv_width = p.n_kv_heads * p.head_size;
    uint att_base = (t * p.n_heads + h) * p.context;
    uint out_base = t * p.n_heads * p.head_size + h * p.head_size;
    uint len = step.pos0 + t + 1;

    for (uint d = gl_LocalInvocationID.x; d < p.head_size; d += WG) {
        float sum = 0.0;
        for (uint j = 0; j < len; j++)
            sum += att[att_base + j] * v[j * kv_width + kv_head * p.head_size + d];
        o[out_base + d] = sum;
    }
}
