#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef COOPMAT_NV
#extension GL_NV_cooperative_matrix : require
#else
#extension GL_KHR_cooperative_matrix : require
#endif
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
// Y[t, col0 + n] = dot(X[t, :], W[n, :]) for t < step.n_tokens and the rows n
// of one weight piece, on cooperative matrices: F16 products summed in F32.
// Used only on devices that list an F16 x F16 + F32 tile of TILE_M x TILE_N
// x TILE_K at subgroup scope (gpu/coopmat.c). The VK_KHR_cooperative_matrix
// build needs a shader compiler newer than Debian 12's (cmake/shaders.cmake
// probes for it); built with COOPMAT_NV, the same kernel uses the older
// VK_NV_cooperative_matrix, which every glslang since 2019 compiles, for
// drivers that offer only that.
//
// A workgroup computes a block of RM x RN tiles: BM = RM TILE_M rows of W by
// BN = RN TILE_N tokens. It stages BK = 2 TILE_K columns of W (dequantized)
// and of X as F16 in shared memory; the subgroups share the block's tiles,
// tile i going to subgroup i mod gl_NumSubgroups, so the code holds for any
// subgroup size. The sums leave through shared memory, which gives the
// bounds checks and the add option one place.
//
// F16 holds the dequantized weights of F16 and the block-quantized types up
// to rounding; activations above 65504 in magnitude would overflow it.

#include "common.glsl"
#include "weights.glsl"

// The two extensions' names for the same types and operations.
#ifdef COOPMAT_NV
#define W_TILE fcoopmatNV<16, gl_ScopeSubgroup, TILE_M, TILE_K>
#define X_TILE fcoopmatNV<16, gl_ScopeSubgroup, TILE_K, TILE_N>
#define SUM_TILE fcoopmatNV<32, gl_ScopeSubgroup, TILE_M, TILE_N>
#define load_row_major(tile, array, at, stride) coopMatLoadNV(tile, array, at, stride, false)
#define load_column_major(tile, array, at, stride) coopMatLoadNV(tile, array, at, stride, true)
#define store_column_major(tile, array, at, stride) coopMatStoreNV(tile, array, at, stride, true)
#define multiply_add(a, b, c) coopMatMulAddNV(a, b, c)
#else
#define W_TILE coopmat<float16_t, gl_ScopeSubgroup, TILE_M, TILE_K, gl_MatrixUseA>
#define X_TILE coopmat<float16_t, gl_ScopeSubgroup, TILE_K, TILE_N, gl_MatrixUseB>
#define SUM_TILE coopmat<float, gl_ScopeSubgroup, TILE_M, TILE_N, gl_MatrixUseAccumulator>
#define load_row_major(tile, array, at, stride) \
    coopMatLoad(tile, array, at, stride, gl_CooperativeMatrixLayoutRowMajor)
#define load_column_major(tile, array, at, stride) \
    coopMatLoad(tile, array, at, stride, gl_CooperativeMatrixLayoutColumnMajor)
#define store_column_major(tile, array, at, stride) \
    coopMatStore(tile, array, at, stride, gl_CooperativeMatrixLayoutColumnMajor)
#define multiply_add(a, b, c) coopMatMulAdd(a, b, c)
#endif

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint TILE_M = 16;
layout(constant_id = 2) const uint TILE_N = 16;
layout(constant_id = 3) const uint TILE_K = 16;
layout(local_size_x_id = 0) in;

const uint RM = 4;
const uint RN = 2;
const uint TILES = RM * RN;
const uint BM = RM * TILE_M;
const uint BN = RN * TILE_N;
const uint BK = 2 * TILE_K;
// Row stride of the staging arrays: a multiple of 8 halves (16 bytes), as
// cooperative-matrix loads require, padded so rows start on other banks.
const uint STRIDE = BK + 8;

layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint K;           // row length of X and W
    uint N;           // rows of W in this piece
    uint y_stride;    // row length of Y
    uint col0;        // first column of Y this piece writes
    uint add;         // 1: Y += X W^T instead of Y = X W^T
} p;

shared float16_t w_stage[BM * STRIDE];     // [row][k]
shared float16_t x_stage[BN * STRIDE];     // [token][k]
shared float y_stage[BN * BM];             // [token][row]

// BM rows x BK columns of W from column k0, as quads (a quantized block's
// scales serve four weights); zero past the piece's rows or the row's end.
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
            w_stage[row * STRIDE + k + i] = float16_t(ws[i]);
    }
}

// BN tokens x BK columns of X from column k0; zero past the step's tokens
// or the row's end.
void stage_tokens(uint t0, uint k0)
{
    for (uint e = gl_LocalInvocationIndex; e < BN * BK; e += WG) {
        uint token = e / BK;
        uint k = e % BK;
        float v = 0.0;
        if (t0 + token < step.n_tokens && k0 + k < p.K)
            v = x[(t0 + token) * p.K + k0 + k];
        x_stage[token * STRIDE + k] = float16_t(v);
    }
}

void main()
{
    uint n0 = gl_WorkGroupID.x * BM;
    uint t0 = gl_WorkGroupID.y * BN;
    if (t0 >= step.n_tokens)
        return;     // uniform across the workgroup

    SUM_TILE sums[TILES];
    for (uint i = 0; i < TILES; i++)
        sums[i] = SUM_TILE(0.0);

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
        stage_weights(n0, k0);
        stage_tokens(t0, k0);
        barrier();

        // A tile (i % RM, i / RM) multiplies W's rows, as a row-major
        // TILE_M x TILE_K matrix, by X's tokens, as a column-major
        // TILE_K x TILE_N one.
        for (uint i = 0; i < TILES; i++) {
            if (i % gl_NumSubgroups != gl_SubgroupID)
                continue;   // uniform across the subgroup
            uint rows = (i % RM) * TILE_M;
            uint tokens = (i / RM) * TILE_N;
            for (uint kk = 0; kk < BK; kk += TILE_K) {
                W_TILE ws;
                X_TILE xs;
                load_row_major(ws, w_stage, rows * STRIDE + kk, STRIDE);
                load_column_major(xs, x_stage, tokens * STRIDE + kk, STRIDE);
                sums[i] = multiply_add(ws, xs, sums[i]);
            }
        }
        barrier();
    }

    // Each tile's (row, token) sum lands at y_stage[token * BM + row].
    for (uint i = 0; i < TILES; i++) {
        if (i % gl_NumSubgroups != gl_SubgroupID)
            continue;
        uint rows = (i % RM) * TILE_M;
        uint tokens = (i / RM) * TILE_N;
        store_column_major(sums[i], y_stage, tokens * BM + rows, BM);
    }
    barrier();

    for (uint e = gl_LocalInvocationIndex; e < BN * BM; e += WG) {
        uint t = t0 + e / BM;
        uint n = n0 + e % BM;
        if (t < step.n_tokens && n < p.N) {
            uint at = t * p.y_stride + p.col0 + n;
            y[at] = p.add != 0 ? y[at] + y_stage[e] : y_stage[e];
        }
    }
}
