#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary position embedding of every head: dst[row, :] = rotate(src[t, :],
// position pos0 + t). Pair i of a head (frequency index i) is the adjacent
// elements (2i, 2i + 1) in the PAIRS style (llama2.c, GGUF Llama) and the
// elements (i, i + head_size / 2) in the HALVES style (NeoX, Hugging Face).
// With dst_at_position the destination row is the position itself, which
// writes keys straight into the KV cache; otherwise row t (queries, in
// place). The cosines and sines come from a table the host computes in
// double precision, so the result does not depend on a driver's fast
// transcendentals.

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
    uint halves;        // 1: the HALVES style
} p;

void main()
{
    uint half_size = p.head_size / 2;
    uint pairs = p.n_heads * half_size;
    uint index = LINEAR_INVOCATION();
    uint t = index / pairs;
    if (t >= step.n_tokens)
        return;

    uint head = (index % pairs) / half_size;
    uint i = index % half_size;
    uint first = head * p.head_size + (p.halves != 0 ? i : 2 * i);
    uint second = first + (p.halves != 0 ? half_size : 1);

    uint position = step.pos0 + t;
    vec2 rotation = cos_sin[position * half_size + i];
    float c = rotation.x;
    float s = rotation.y;

    uint width = p.n_heads * p.head_size;
    float v0 = src[t * width + first];
    float v1 = src[t * width + second];
    uint row = p.dst_at_position != 0 ? position : t;
    dst[row * width + first] = v0 * c - v1 * s;
    dst[row * width + second] = v0 * s + v1 * c;
}
