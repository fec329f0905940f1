#version 450
#extension GL_GOOGLE_include_directive : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) with one weight row per invocation:
// the matrix-matrix product for CPU devices. Each lane decodes its row once
// per TOKENS tokens and keeps that many sums in registers, so no shared
// memory and no barrier is needed (both are costly where lanes are SIMD
// lanes of a CPU core).

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(local_size_x_id = 0) in;

const uint TOKENS = 8;     // MATMUL_ROWS_TOKENS in runtime/ops/ops.c

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint add;         // 1: Y += X W^T instead of Y = X W^T
    uint token_slice; // tokens a layer of workgroups (z) takes: lavapipe ends an
                      // invocation's loops after 65535 iterations in all
} p;

vec4 x_quad(uint t, uint k)
{
    uint i = t * p.K + k;
    return vec4(x[i], x[i + 1], x[i + 2], x[i + 3]);
}

// Sums for tokens t0 .. t0 + count - 1 (count <= TOKENS) against one row.
void row_sums(uint row, uint t0, uint count, out float acc[TOKENS])
{
    for (uint t = 0; t < TOKENS; t++)
        acc[t] = 0.0;
#if defined(WEIGHT_F32) || defined(WEIGHT_F16) || defined(WEIGHT_BF16)
    uint whole = p.K & ~3u;
    for (uint k = 0; k < whole; k += 4) {
        vec4 wq = weight_quad(row, k, p.K);
        for (uint t = 0; t < count; t++)
            acc[t] += dot(wq, x_quad(t0 + t, k));
    }
    for (uint k = whole; k < p.K; k++) {
        float wk = weight(row, k, p.K);
        for (uint t = 0; t < count; t++)
            acc[t] += wk * x[(t0 + t) * p.K + k];
    }
#else
    for (uint g = 0; g < p.K / WEIGHT_GROUP; g++) {
        float v[WEIGHT_GROUP];
        weight_group(row, g, p.K, v);
        uint k0 = g * WEIGHT_GROUP;
        for (uint q = 0; q < WEIGHT_GROUP; q += 4) {
            vec4 wq = vec4(v[q], v[q + 1], v[q + 2], v[q + 3]);
            for (uint t = 0; t < count; t++)
                acc[t] += dot(wq, x_quad(t0 + t, k0 + q));
        }
    }
#endif
}

void main()
{
    uint row = linear_group() * WG + gl_LocalInvocationID.x;
    if (row >= p.N)
        return;     // no barrier follows, so lanes may leave on their own

    uint t_begin = gl_WorkGroupID.z * p.token_slice;
    uint t_end = min(step.n_tokens, t_begin + p.token_slice);
    for (uint t0 = t_begin; t0 < t_end; t0 += TOKENS) {
        uint count = min(TOKENS, t_end - t0);
        float acc[TOKENS];
        row_sums(row, t0, count, acc);
        for (uint t = 0; t < count; t++) {
            uint i = (t0 + t) * p.y_stride + p.col0 + row;
            y[i] = p.add != 0 ? y[i] + acc[t] : acc[t];
        }
    }
}
