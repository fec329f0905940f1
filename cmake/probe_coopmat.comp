#version 450
// Configure-time probe (cmake/shaders.cmake): does glslangValidator compile
// GL_KHR_cooperative_matrix with 16-bit float inputs and fp32 sums?
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

layout(local_size_x = 32) in;

layout(std430, binding = 0) readonly buffer A { float16_t a[]; };
layout(std430, binding = 1) buffer C { float c[]; };

void main()
{
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> left;
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> right;
    coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> sums =
        coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
    coopMatLoad(left, a, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(right, a, 0, 16, gl_CooperativeMatrixLayoutColumnMajor);
    sums = coopMatMulAdd(left, right, sums);
    coopMatStore(sums, c, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
}
