#version 450
#extension GL_GOOGLE_include_directive : require
// out = gelu(x) in GPT-2's tanh form, 0.5 x (1 + tanh(sqrt(2 / pi) (x +
// 0.044715 x^3))), elementwise over step.n_tokens rows of n. out may be x.

#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

const float SQRT_2_OVER_PI = 0.7978845608;

void main()
{
    uint i = LINEAR_INVOCATION();
    if (i >= step.n_tokens * p.n)
        return;

    float v = x[i];
    // tanh rounds to +-1 in float beyond |u| of about 9; clamping keeps drivers
    // that compute tanh through exp(2u) from dividing infinity by infinity.
    float u = clamp(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v), -10.0, 10.0);
    o[i] = 0.5 * v * (1.0 + tanh(u));
}
