#version 450
#extension GL_GOOGLE_include_directive : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) for t < step.n_tokens and the rows n
// of one weight piece: the matrix-matrix product of prompt processing on
// GPUs. A workgroup computes a BM x BN block of Y (BM rows of W by BN
// tokens). It stages BK columns of W, dequantized, and of X through shared
// memory, and each invocation keeps a TM x TN block of sums in registers:
// every value read from shared memory feeds TN (or TM) multiply-adds.
//
// The workgroup is WG_X x WG_Y invocations; invocation (lx, ly) owns rows
// lx + i WG_X and tokens ly + j WG_Y of the block, so neighbouring
// invocations read neighbouring shared-memory words. The host chooses WG_X,
// WG_Y and BK from the device's limits.

#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint WG_X = 16;
layout(constant_id = 1) const uint WG_Y = 16;
layout(constant_id = 2) const uint BK = 16;     // a multiple of 4
layout(local_size_x_id = 0, local_size_y_id = 1) in;

const uint TM = 4;
const uint TN = 4;
const uint BM = WG_X * TM;
const uint BN = WG_Y * TN;
const uint WG = WG_X * WG_Y;

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint add;         // 1: Y += X W^T instead of Y = X W^T
} p;

// [k][row] and [k][token]: a k-slice is contiguous for the reads in the
// inner loop; +1 spreads the stores of one row's k-values over banks.
shared float w_tile[BK * (BM + 1)];
shared float x_tile[BK * (BN + 1)];

// BM rows x BK columns of W from column k0, as quads: one quantized block's
// scales serve four weights. Zero past the piece's rows or the row's end.
void stage_weights(uint n0, uint k0)
{
    const uint quads_per_row = BK / 4;
    for (uint q = gl_LocalInvocationIndex; q < BM * quads_per_row; q += WG) {
        uint row = q / quads_per_row;
        uint k = (q % quads_per_row) * 4;
        vec4 ws = vec4(0.0);
        if (n0 + row < p.N && k0 + k < p.K)
            ws = weight_quad(n0 + row, k0 + k, p.K);
        for (uint i = 0; i < 4; i++)
            w_tile[(k + i) * (BM + 1) + row] = ws[i];
    }
}

// BN tokens x BK columns of X from column k0; neighbouring invocations read
// neighbouring columns. Zero past the step's tokens or the row's end.
void stage_tokens(uint t0, uint k0)
{
    for (uint e = gl_LocalInvocationIndex; e < BN * BK; e += WG) {
        uint token = e / BK;
        uint k = e % BK;
        float v = 0.0;
        if (t0 + token < step.n_tokens && k0 + k < p.K)
            v = x[(t0 + token) * p.K + k0 + k];
        x_tile[k * (BN + 1) + token] = v;
    }
}

void main()
{
    uint n0 = gl_WorkGroupID.x * BM;
    uint t0 = gl_WorkGroupID.y * BN;
    if (t0 >= step.n_tokens)
        return;     // uniform across the workgroup

    uint lx = gl_LocalInvocationID.x;
    uint ly = gl_LocalInvocationID.y;
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
        stage_weights(n0, k0);
        stage_tokens(t0, k0);
        barrier();

        for (uint kk = 0; kk < BK; kk++) {
            float ws[TM], xs[TN];
            for (uint i = 0; i < TM; i++)
                ws[i] = w_tile[kk * (BM + 1) + lx + i * WG_X];
            for (uint j = 0; j < TN; j++)
                xs[j] = x_tile[kk * (BN + 1) + ly + j * WG_Y];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++)
                    acc[i][j] += ws[i] * xs[j];
        }
        barrier();
    }

    for (uint j = 0; j < TN; j++) {
        uint t = t0 + ly + j * WG_Y;
        for (uint i = 0; i < TM; i++) {
            uint n = n0 + lx + i * WG_X;
            if (t < step.n_tokens && n < p.N) {
                uint at = t * p.y_stride + p.col0 + n;
                y[at] = p.add != 0 ? y[at] + acc[i][j] : acc[i][j];
            }
        }
    }
}
