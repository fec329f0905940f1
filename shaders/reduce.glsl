// Workgroup-wide sum and max through shared memory. WG (the workgroup size,
// specialization constant 0) must be a power of two; the host ensures it.
// Every invocation of the workgroup must call these.

layout(constant_id = 0) const uint WG = 64;
shared float reduce_scratch[WG];

float workgroup_sum(float value)
{
    uint lid = gl_LocalInvocationID.x;
    reduce_scratch[lid] = value;
    barrier();
    for (uint half_size = WG / 2; half_size > 0; half_size /= 2) {
        if (lid < half_size)
            reduce_scratch[lid] += reduce_scratch[lid + half_size];
        barrier();
    }
    float total = reduce_scratch[0];
    barrier();
    return total;
}

float workgroup_max(float value)
{
    uint lid = gl_LocalInvocationID.x;
    reduce_scratch[lid] = value;
    barrier();
    for (uint half_size = WG / 2; half_size > 0; half_size /= 2) {
        if (lid < half_size)
            reduce_scratch[lid] = max(reduce_scratch[lid], reduce_scratch[lid + half_size]);
        barrier();
    }
    float result = reduce_scratch[0];
    barrier();
    return result;
}
