#version 450
#extension GL_GOOGLE_include_directive : require
// Attention scores of causal grouped-query attention:
// att[t, h, j] = dot(q[t, h, :], k[j, h / group, :]) * scale for j <= pos0 + t,
// where k is the KV cache of one layer. One workgroup per (head, token).

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer K { float k[]; };
layout(std430, binding = 3) writeonly buffer Att { float att[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint head_size;
    uint context;     // row length of att
    float scale;      // 1 / sqrt(head_size)
} p;

void main()
{
    uint h = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    if (t >= step.n_tokens)
        return;

    uint kv_head = h / (p.n_heads / p.n_kv_heads);
    uint kv_width = p.n_kv_heads * p.head_size;
    uint q_base = t * p.n_heads * p.head_size + h * p.head_size;
    uint att_base = (t * p.n_heads + h) * p.context;
    uint len = step.pos0 + t + 1;

    for (uint j = gl_LocalInvocationID.x; j < len; j += WG) {
        uint k_base = j * kv_width + kv_head * p.head_size;
        float dot_qk = 0.0;
        for (uint d = 0; d < p.head_size; d++)
            dot_qk += q[q_base + d] * k[k_base + d];
        att[att_base + j] = dot_qk * p.scale;
    }
}
