// Workgroup-wide sum and maximum. WG (the workgroup size, specialization
// constant 0) must be a power of two; the host ensures it. Every invocation
// of the workgroup must call them, and each ends with a barrier, so shared
// memory written before the call is visible to all after it.
//
// Built with SUBGROUP_REDUCE, each subgroup sums its lanes with subgroupAdd
// and the subgroups' sums meet in shared memory: one barrier instead of one
// per halving. The subgroup size is read at run time, never assumed; the
// host uses this variant only on devices with subgroup arithmetic in
// compute shaders. The including shader enables
// GL_KHR_shader_subgroup_arithmetic, as extensions must come first.

layout(constant_id = 0) const uint WG = 64;
shared float reduce_scratch[WG];

#ifdef SUBGROUP_REDUCE

float workgroup_sum(float value)
{
    float subgroup_total = subgroupAdd(value);
    if (subgroupElect())
        reduce_scratch[gl_SubgroupID] = subgroup_total;
    barrier();

    float total = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++)
        total += reduce_scratch[i];
    barrier();
    return total;
}

float workgroup_max(float value)
{
    float subgroup_top = subgroupMax(value);
    if (subgroupElect())
        reduce_scratch[gl_SubgroupID] = subgroup_top;
    barrier();

    float top = reduce_scratch[0];
    for (uint i = 1; i < gl_NumSubgroups; i++)
        top = max(top, reduce_scratch[i]);
    barrier();
    return top;
}

#else

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
    float top = reduce_scratch[0];
    barrier();
    return top;
}

#endif
