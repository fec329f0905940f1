#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary position embedding on adjacent pairs (2i, 2i+1) of every head:
// dst[row, :] = rotate(src[t, :], position pos0 + t). With dst_at_position the
// destination row is the position itself, which writes keys straight into
// the KV cache; otherwise row t (queries, in place). The cosines and sines
// come from a table the host computes in double precision, so the result
// does not depend on a driver's fast transcendentals.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer Table { vec2 cos_sin[]; };  // [position, head_size / 2]
layout(std430, binding = 2) readonly buffer Src { float src[]; };
layout(std430, binding = 3) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint head_size;
    uint dst_at_position;
} p;

void main()
{
    uint width = p.n_heads * p.head_size;
    uint pairs = width / 2;
    uint index = LINEAR_INVOCATION();
    uint t = index / pairs;
    if (t >= step.n_tokens)
        return;

    uint i = (index % pairs) * 2;
    uint position = step.pos0 + t;
    vec2 rotation = cos_sin[position * (p.head_size / 2) + (i % p.head_size) / 2];
    float c = rotation.x;
    float s = rotation.y;

    float v0 = src[t * width + i];
    float v1 = src[t * width + i + 1];
    uint row = p.dst_at_position != 0 ? position : t;
    dst[row * width + i] = v0 * c - v1 * s;
    dst[row * width + i + 1] = v0 * s + v1 * c;
}
