#version 450
#extension GL_GOOGLE_include_directive : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) for t < step.n_tokens and the rows n
// of one weight piece: the matrix-matrix product of prompt processing. Each
// workgroup computes a TILE x TILE block of Y, staging slices of X and W
// through shared memory, 4 TILE columns of K at a time: each invocation
// loads four consecutive weights, so a quantized block's scales are read
// once per four weights.

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint TILE = 16;
layout(local_size_x_id = 0, local_size_y_id = 1) in;   // both TILE

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint add;         // 1: Y += X W^T instead of Y = X W^T
} p;

const uint SLICE = 4 * TILE;                // columns of K per round
shared float x_tile[TILE][SLICE + 1];       // [token][k]; +1 avoids bank conflicts
shared float w_tile[TILE][SLICE + 1];       // [row of W][k]

// X[t, k .. k + 3], zero past the row or the step.
vec4 x_quad(uint t, uint k)
{
    vec4 v = vec4(0.0);
    for (uint i = 0; i < 4 && k + i < p.K && t < step.n_tokens; i++)
        v[i] = x[t * p.K + k + i];
    return v;
}

void store_quad(uint tile_row, uint column, vec4 xs, vec4 ws)
{
    for (uint i = 0; i < 4; i++) {
        x_tile[tile_row][column + i] = xs[i];
        w_tile[tile_row][column + i] = ws[i];
    }
}

void main()
{
    uint n0 = gl_WorkGroupID.x * TILE;
    uint t0 = gl_WorkGroupID.y * TILE;
    if (t0 >= step.n_tokens)
        return;     // uniform across the workgroup

    uint lx = gl_LocalInvocationID.x;
    uint ly = gl_LocalInvocationID.y;
    float acc = 0.0;
    for (uint k0 = 0; k0 < p.K; k0 += SLICE) {
        uint k = k0 + lx * 4;
        vec4 ws = n0 + ly < p.N ? weight_quad(n0 + ly, k, p.K) : vec4(0.0);
        store_quad(ly, lx * 4, x_quad(t0 + ly, k), ws);
        barrier();

        for (uint kk = 0; kk < SLICE; kk++)
            acc += x_tile[ly][kk] * w_tile[lx][kk];
        barrier();
    }

    uint t = t0 + ly;
    uint n = n0 + lx;
    if (t < step.n_tokens && n < p.N) {
        uint i = t * p.y_stride + p.col0 + n;
        y[i] = p.add != 0 ? y[i] + acc : acc;
    }
}
