// Weight element access for binding 1, by storage type. F16 weights are read
// as packed 32-bit words so no 16-bit storage feature is needed.

#if defined(WEIGHT_F32)
layout(std430, binding = 1) readonly buffer Weights { float w[]; };
float weight(uint i) { return w[i]; }
#elif defined(WEIGHT_F16)
layout(std430, binding = 1) readonly buffer Weights { uint w[]; };
float weight(uint i) { return unpackHalf2x16(w[i >> 1])[i & 1u]; }
#else
#error "define WEIGHT_F32 or WEIGHT_F16"
#endif
