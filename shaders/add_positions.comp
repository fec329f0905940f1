#version 450
#extension GL_GOOGLE_include_directive : require
// x[t, :] += table[pos0 + t, :] for the tokens whose position lies in this
// piece of a learned position-embedding table (rows row0 .. row0 + rows - 1).

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 2) buffer X { float x[]; };

layout(push_constant) uniform Push {
    uint dim;
    uint row0;
    uint rows;
} p;

void main()
{
    uint index = LINEAR_INVOCATION();
    uint t = index / p.dim;
    uint i = index % p.dim;
    if (t >= step.n_tokens)
        return;

    uint position = step.pos0 + t;
    if (position < p.row0 || position - p.row0 >= p.rows)
        return;
    x[t * p.dim + i] += weight(position - p.row0, i, p.dim);
}
