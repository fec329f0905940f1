#version 450
#extension GL_GOOGLE_include_directive : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) for t < step.n_tokens and the rows n
// of one weight piece: the matrix-matrix product of prompt processing. Each
// workgroup computes a TILE x TILE block of Y, staging TILE-wide slices of X
// and W through shared memory.

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint TILE = 16;
layout(local_size_x_id = 0, local_size_y_id = 1) in;   // both TILE

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
} p;

shared float x_tile[TILE][TILE + 1];    // [token][k]; +1 avoids bank conflicts
shared float w_tile[TILE][TILE + 1];    // [row of W][k]

void main()
{
    uint n0 = gl_WorkGroupID.x * TILE;
    uint t0 = gl_WorkGroupID.y * TILE;
    if (t0 >= step.n_tokens)
        return;     // uniform across the workgroup

    uint lx = gl_LocalInvocationID.x;
    uint ly = gl_LocalInvocationID.y;
    float acc = 0.0;
    for (uint k0 = 0; k0 < p.K; k0 += TILE) {
        uint k = k0 + lx;
        bool k_in = k < p.K;
        x_tile[ly][lx] = (k_in && t0 + ly < step.n_tokens) ? x[(t0 + ly) * p.K + k] : 0.0;
        w_tile[ly][lx] = (k_in && n0 + ly < p.N) ? weight((n0 + ly) * p.K + k) : 0.0;
        barrier();

        for (uint kk = 0; kk < TILE; kk++)
            acc += x_tile[ly][kk] * w_tile[lx][kk];
        barrier();
    }

    uint t = t0 + ly;
    uint n = n0 + lx;
    if (t < step.n_tokens && n < p.N)
        y[t * p.y_stride + p.col0 + n] = acc;
}
