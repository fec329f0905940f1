/* Pipelines keyed by (shader, specialization constants), made on first use
 * from the embedded SPIR-V and kept for the device's lifetime. */
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "gpu/gpu.h"

static vkllm_status get_module(vkl_gpu_device *dev, vkl_shader_id shader, VkShaderModule *out,
                               vkl_error *err)
{
    if (dev->modules[shader] == VK_NULL_HANDLE) {
        VkShaderModuleCreateInfo info = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = vkl_shader_table[shader].size,
            .pCode = vkl_shader_table[shader].words,
        };
        VKL_VK_CHECK(err, dev->vk.vkCreateShaderModule(dev->device, &info, NULL,
                                                       &dev->modules[shader]));
    }
    *out = dev->modules[shader];
    return VKLLM_OK;
}

static VkPipeline find_pipeline(const vkl_gpu_device *dev, vkl_shader_id shader,
                                const uint32_t *spec)
{
    for (uint32_t i = 0; i < dev->pipeline_count; i++) {
        const vkl_pipeline_entry *e = &dev->pipelines[i];
        if (e->shader == shader && memcmp(e->spec, spec, sizeof e->spec) == 0)
            return e->pipeline;
    }
    return VK_NULL_HANDLE;
}

static vkllm_status create_pipeline(vkl_gpu_device *dev, vkl_shader_id shader,
                                    const uint32_t *spec, VkPipeline *out, vkl_error *err)
{
    VkShaderModule module = VK_NULL_HANDLE;
    vkllm_status status = get_module(dev, shader, &module, err);
    if (status != VKLLM_OK)
        return status;

    VkSpecializationMapEntry entries[VKL_MAX_SPEC_CONSTANTS];
    for (uint32_t i = 0; i < VKL_MAX_SPEC_CONSTANTS; i++)
        entries[i] = (VkSpecializationMapEntry){
            .constantID = i, .offset = i * sizeof(uint32_t), .size = sizeof(uint32_t)};
    VkSpecializationInfo specialization = {
        .mapEntryCount = VKL_MAX_SPEC_CONSTANTS,
        .pMapEntries = entries,
        .dataSize = VKL_MAX_SPEC_CONSTANTS * sizeof(uint32_t),
        .pData = spec,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = module,
            .pName = "main",
            .pSpecializationInfo = &specialization,
        },
        .layout = dev->pipeline_layout,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1,
                                                       &info, NULL, out));
    return VKLLM_OK;
}

static vkllm_status remember_pipeline(vkl_gpu_device *dev, vkl_shader_id shader,
                                      const uint32_t *spec, VkPipeline pipeline, vkl_error *err)
{
    vkllm_status status = vkl_array_reserve_one((void **)&dev->pipelines, dev->pipeline_count,
                                                &dev->pipeline_capacity, sizeof *dev->pipelines,
                                                err);
    if (status != VKLLM_OK)
        return status;

    vkl_pipeline_entry *e = &dev->pipelines[dev->pipeline_count++];
    e->shader = shader;
    memcpy(e->spec, spec, sizeof e->spec);
    e->pipeline = pipeline;
    return VKLLM_OK;
}

static vkllm_status get_pipeline_locked(vkl_gpu_device *dev, vkl_shader_id shader,
                                        const uint32_t *spec, VkPipeline *out, vkl_error *err)
{
    *out = find_pipeline(dev, shader, spec);
    if (*out != VK_NULL_HANDLE)
        return VKLLM_OK;

    vkllm_status status = create_pipeline(dev, shader, spec, out, err);
    if (status != VKLLM_OK)
        return status;
    status = remember_pipeline(dev, shader, spec, *out, err);
    if (status != VKLLM_OK)
        dev->vk.vkDestroyPipeline(dev->device, *out, NULL);
    return status;
}

vkllm_status vkl_gpu_pipeline(vkl_gpu_device *dev, vkl_shader_id shader, const uint32_t *spec,
                              uint32_t spec_count, VkPipeline *out, vkl_error *err)
{
    /* Unused constants are zero so that equal keys compare equal. */
    uint32_t key[VKL_MAX_SPEC_CONSTANTS] = {0};
    memcpy(key, spec, spec_count * sizeof *spec);

    mtx_lock(&dev->pipeline_lock);
    vkllm_status status = get_pipeline_locked(dev, shader, key, out, err);
    mtx_unlock(&dev->pipeline_lock);
    return status;
}
