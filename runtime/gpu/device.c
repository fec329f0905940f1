/* Logical devices: one compute queue, the descriptor-set layout and pipeline
 * layout every kernel shares, and pipelines made on first use. */
#include <stdlib.h>
#include <string.h>

#include "gpu/coopmat.h"
#include "gpu/device_internal.h"

static vkllm_status find_compute_queue(VkPhysicalDevice physical, uint32_t *family,
                                       vkl_error *err)
{
    VkQueueFamilyProperties families[32];
    uint32_t count = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families);

    /* One queue does all the work, so any family that computes will do. */
    for (uint32_t i = 0; i < count; i++) {
        if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            return VKLLM_OK;
        }
    }
    return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED, "the device has no compute queue");
}

static bool memory_type_has(const VkPhysicalDeviceMemoryProperties *memory, uint32_t type,
                            VkMemoryPropertyFlags flags)
{
    return (memory->memoryTypes[type].propertyFlags & flags) == flags;
}

/* The first memory type with all of `want`, preferring one that also has
 * `prefer`; UINT32_MAX if none. */
static uint32_t pick_memory_type(const VkPhysicalDeviceMemoryProperties *memory,
                                 VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer)
{
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < memory->memoryTypeCount; i++) {
        if (!memory_type_has(memory, i, want))
            continue;
        if (memory_type_has(memory, i, want | prefer))
            return i;
        if (found == UINT32_MAX)
            found = i;
    }
    return found;
}

static vkllm_status choose_memory_types(vkl_gpu_device *dev, vkl_error *err)
{
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties(dev->physical, &memory);

    dev->memory_types.device = pick_memory_type(&memory, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    if (dev->memory_types.device == UINT32_MAX)
        dev->memory_types.device = 0;
    dev->memory_types.host = pick_memory_type(
        &memory, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
        VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (dev->memory_types.host == UINT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "the device has no host-visible coherent memory");
    return VKLLM_OK;
}

static vkllm_status create_logical_device(vkl_gpu_device *dev, vkl_error *err)
{
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = dev->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
    };

    /* The cooperative-matrix kernels multiply F16 values under the Vulkan
     * memory model, and the KHR ones (SPIR-V 1.6) size their workgroups with
     * LocalSizeId; vkl_coopmat_query found the extension and the features. */
    const char *coopmat_extension = vkl_coopmat_extension(dev->info->coopmat);
    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = VK_TRUE};
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES,
        .pNext = &float16,
        .vulkanMemoryModel = VK_TRUE};
    VkPhysicalDeviceMaintenance4Features maintenance4 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES,
        .pNext = &memory_model,
        .maintenance4 = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR coopmat_khr = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR,
        .pNext = &maintenance4,
        .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat_nv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
        .pNext = &memory_model,
        .cooperativeMatrix = VK_TRUE};
    if (coopmat_extension != NULL) {
        info.pNext = dev->info->coopmat == VKLLM_COOPMAT_KHR ? (void *)&coopmat_khr
                                                             : (void *)&coopmat_nv;
        info.enabledExtensionCount = 1;
        info.ppEnabledExtensionNames = &coopmat_extension;
    }
    VKL_VK_CHECK(err, vkCreateDevice(dev->physical, &info, NULL, &dev->device));
    volkLoadDeviceTable(&dev->vk, dev->device);
    dev->vk.vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
    return VKLLM_OK;
}

/* Every kernel binds up to VKL_MAX_BINDINGS storage buffers in set 0, then
 * up to VKL_MAX_TEXEL_BINDINGS uniform texel buffers (the CPU-device matrix
 * kernels read through them), and takes up to VKL_PUSH_CONSTANT_BYTES of
 * push constants: one layout serves all pipelines, so descriptor sets are
 * interchangeable between them. */
static vkllm_status create_layouts(vkl_gpu_device *dev, vkl_error *err)
{
    VkDescriptorSetLayoutBinding bindings[VKL_MAX_BINDINGS + VKL_MAX_TEXEL_BINDINGS];
    for (uint32_t i = 0; i < VKL_MAX_BINDINGS + VKL_MAX_TEXEL_BINDINGS; i++) {
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = i < VKL_MAX_BINDINGS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                   : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = VKL_MAX_BINDINGS + VKL_MAX_TEXEL_BINDINGS,
        .pBindings = bindings,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateDescriptorSetLayout(dev->device, &set_info, NULL,
                                                          &dev->set_layout));

    VkPushConstantRange push = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = VKL_PUSH_CONSTANT_BYTES};
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &dev->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreatePipelineLayout(dev->device, &layout_info, NULL,
                                                     &dev->pipeline_layout));

    return vkl_pipeline_cache_open(dev, err);
}

static vkllm_status check_limits(const vkllm_device_info *info, vkl_error *err)
{
    if (info->api_version < VK_API_VERSION_1_1)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "device '%s' supports only Vulkan %u.%u; vkllm needs 1.1", info->name,
                        VK_API_VERSION_MAJOR(info->api_version),
                        VK_API_VERSION_MINOR(info->api_version));
    if (info->max_push_constants < VKL_PUSH_CONSTANT_BYTES)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "device '%s' allows %u bytes of push constants; vkllm needs %d",
                        info->name, info->max_push_constants, VKL_PUSH_CONSTANT_BYTES);
    return VKLLM_OK;
}

static vkllm_status init_device(vkl_gpu_device *dev, vkl_error *err)
{
    vkllm_status status = check_limits(dev->info, err);
    if (status == VKLLM_OK)
        status = find_compute_queue(dev->physical, &dev->queue_family, err);
    if (status == VKLLM_OK)
        status = choose_memory_types(dev, err);
    if (status == VKLLM_OK)
        status = create_logical_device(dev, err);
    if (status == VKLLM_OK)
        status = create_layouts(dev, err);
    if (status == VKLLM_OK)
        status = vkl_transfer_create(dev, err);
    return status;
}

vkllm_status vkl_gpu_device_open(vkl_gpu_instance *gi, uint32_t index, vkl_gpu_device **out,
                                 vkl_error *err)
{
    vkl_gpu_device *dev = calloc(1, sizeof *dev);
    if (dev == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory opening a device");

    dev->info = &gi->infos[index];
    dev->logger = gi->logger;
    dev->physical = gi->physical[index];
    if (gi->pipeline_cache_dir[0] != '\0')
        vkl_pipeline_cache_path(dev, gi->pipeline_cache_dir);
    dev->nonatomic_size = 1;
    dev->cpu_kernels = dev->info->type == VKLLM_DEVICE_CPU;
    /* A binding may span neither more than the storage range nor more than
     * one allocation; ranges are handed out in multiples of 4 bytes. */
    dev->max_binding = dev->info->max_storage_buffer_range;
    if (dev->info->max_allocation_size != 0 && dev->info->max_allocation_size < dev->max_binding)
        dev->max_binding = dev->info->max_allocation_size;
    dev->max_binding &= ~(uint64_t)3;
    mtx_init(&dev->queue_lock, mtx_plain);
    mtx_init(&dev->pipeline_lock, mtx_plain);

    vkllm_status status = init_device(dev, err);
    if (status != VKLLM_OK) {
        vkl_gpu_device_close(dev);
        return status;
    }
    VKL_INFO(gi->logger, "opened device %u: %s", index, dev->info->name);
    *out = dev;
    return VKLLM_OK;
}

void vkl_gpu_device_close(vkl_gpu_device *dev)
{
    if (dev == NULL)
        return;
    if (dev->device != VK_NULL_HANDLE) {
        dev->vk.vkDeviceWaitIdle(dev->device);
        vkl_transfer_destroy(dev);
        for (uint32_t i = 0; i < dev->pipeline_count; i++)
            dev->vk.vkDestroyPipeline(dev->device, dev->pipelines[i].pipeline, NULL);
        for (uint32_t i = 0; i < VKL_SHADER_COUNT; i++)
            dev->vk.vkDestroyShaderModule(dev->device, dev->modules[i], NULL);
        vkl_pipeline_cache_close(dev);
        dev->vk.vkDestroyPipelineLayout(dev->device, dev->pipeline_layout, NULL);
        dev->vk.vkDestroyDescriptorSetLayout(dev->device, dev->set_layout, NULL);
        dev->vk.vkDestroyDevice(dev->device, NULL);
    }
    free(dev->pipelines);
    mtx_destroy(&dev->queue_lock);
    mtx_destroy(&dev->pipeline_lock);
    free(dev);
}
