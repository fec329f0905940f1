/* Choosing the cooperative-matrix extension and tile of a device
 * (gpu/coopmat.h). */
#include <stdlib.h>
#include <string.h>

#include "gpu/coopmat.h"
#include "shader_ids.h"

uint32_t vkl_coopmat_shared_bytes(const uint32_t tile[3])
{
    uint32_t rows = 4 * tile[0], tokens = 2 * tile[1], stride = 2 * tile[2] + 8;
    return (rows + tokens) * stride * 2 + rows * tokens * 4;
}

static bool usable(const vkl_coopmat_shape *s, uint32_t max_shared)
{
    /* The shader's staging strides and offsets stay multiples of 16 bytes,
     * as cooperative-matrix loads and stores require, for these shapes. */
    bool shape_fits = s->m > 0 && s->m % 4 == 0 && s->n > 0 && s->n % 4 == 0 && s->k > 0 &&
                      s->k % 8 == 0 && s->m <= 256 && s->n <= 256 && s->k <= 256;
    if (!s->f16_inputs || !s->f32_sums || !s->subgroup_scope || !shape_fits)
        return false;
    uint32_t tile[3] = {s->m, s->n, s->k};
    return vkl_coopmat_shared_bytes(tile) <= max_shared;
}

bool vkl_coopmat_pick(const vkl_coopmat_shape *shapes, uint32_t count, uint32_t max_shared,
                      uint32_t tile[3])
{
    uint64_t best_volume = 0;
    memset(tile, 0, 3 * sizeof *tile);
    for (uint32_t i = 0; i < count; i++) {
        const vkl_coopmat_shape *s = &shapes[i];
        uint64_t volume = (uint64_t)s->m * s->n * s->k;
        if (!usable(s, max_shared) || volume <= best_volume)
            continue;
        best_volume = volume;
        tile[0] = s->m;
        tile[1] = s->n;
        tile[2] = s->k;
    }
    return best_volume > 0;
}

const char *vkl_coopmat_extension(vkllm_coopmat_kind kind)
{
    switch (kind) {
    case VKLLM_COOPMAT_KHR: return VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
    case VKLLM_COOPMAT_NV: return VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
    default: return NULL;
    }
}

static bool has_extension(VkPhysicalDevice physical, const char *name)
{
    uint32_t count = 0;
    if (vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL) != VK_SUCCESS ||
        count == 0)
        return false;
    VkExtensionProperties *extensions = calloc(count, sizeof *extensions);
    if (extensions == NULL)
        return false;
    bool found = false;
    if (vkEnumerateDeviceExtensionProperties(physical, NULL, &count, extensions) == VK_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(extensions[i].extensionName, name) == 0;
    }
    free(extensions);
    return found;
}

/* F16 arithmetic, the Vulkan memory model, the extension's own feature and,
 * for KHR, maintenance4 (workgroup sizes given by LocalSizeId). */
static bool features_allow(VkPhysicalDevice physical, vkllm_coopmat_kind kind)
{
    VkPhysicalDeviceMaintenance4Features maintenance4 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR khr = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR,
        .pNext = &maintenance4};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV nv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES,
        .pNext = kind == VKLLM_COOPMAT_KHR ? (void *)&khr : (void *)&nv};
    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .pNext = &memory_model};
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &float16};
    vkGetPhysicalDeviceFeatures2(physical, &features);

    bool coopmat = kind == VKLLM_COOPMAT_KHR ? khr.cooperativeMatrix && maintenance4.maintenance4
                                             : nv.cooperativeMatrix;
    return coopmat && float16.shaderFloat16 && memory_model.vulkanMemoryModel;
}

/* Whether the extension's matrices may be used in compute shaders. */
static bool compute_stage_allowed(VkPhysicalDevice physical, vkllm_coopmat_kind kind)
{
    VkPhysicalDeviceCooperativeMatrixPropertiesKHR khr = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR};
    VkPhysicalDeviceCooperativeMatrixPropertiesNV nv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV};
    VkPhysicalDeviceProperties2 properties = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = kind == VKLLM_COOPMAT_KHR ? (void *)&khr : (void *)&nv};
    vkGetPhysicalDeviceProperties2(physical, &properties);

    VkShaderStageFlags stages = kind == VKLLM_COOPMAT_KHR ? khr.cooperativeMatrixSupportedStages
                                                          : nv.cooperativeMatrixSupportedStages;
    return (stages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
}

/* A zeroed array of count Vulkan output structures of size bytes each, with
 * every one's sType (the first member of every such structure) set. */
static void *output_array(uint32_t count, size_t size, VkStructureType type)
{
    uint8_t *array = calloc(count, size);
    for (uint32_t i = 0; array != NULL && i < count; i++)
        memcpy(array + i * size, &type, sizeof type);
    return array;
}

/* A list query's second call succeeded (possibly with fewer entries). */
static bool listed(VkResult result)
{
    return result == VK_SUCCESS || result == VK_INCOMPLETE;
}

static vkl_coopmat_shape shape_from_khr(const VkCooperativeMatrixPropertiesKHR *p)
{
    return (vkl_coopmat_shape){
        .m = p->MSize, .n = p->NSize, .k = p->KSize,
        .f16_inputs = p->AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                      p->BType == VK_COMPONENT_TYPE_FLOAT16_KHR,
        .f32_sums = p->CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                    p->ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR && !p->saturatingAccumulation,
        .subgroup_scope = p->scope == VK_SCOPE_SUBGROUP_KHR,
    };
}

static vkl_coopmat_shape shape_from_nv(const VkCooperativeMatrixPropertiesNV *p)
{
    return (vkl_coopmat_shape){
        .m = p->MSize, .n = p->NSize, .k = p->KSize,
        .f16_inputs = p->AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                      p->BType == VK_COMPONENT_TYPE_FLOAT16_NV,
        .f32_sums = p->CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                    p->DType == VK_COMPONENT_TYPE_FLOAT32_NV,
        .subgroup_scope = p->scope == VK_SCOPE_SUBGROUP_NV,
    };
}

/* The KHR list as shapes; NULL (count 0) when there is none. The two
 * extensions' queries differ only in their types. */
static vkl_coopmat_shape *list_khr(VkInstance instance, VkPhysicalDevice physical,
                                   uint32_t *count)
{
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get_list =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
            instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    VkCooperativeMatrixPropertiesKHR *list = NULL;
    vkl_coopmat_shape *shapes = NULL;
    *count = 0;
    if (get_list != NULL && get_list(physical, count, NULL) == VK_SUCCESS && *count > 0)
        list = output_array(*count, sizeof *list,
                            VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR);
    if (list != NULL && listed(get_list(physical, count, list)))
        shapes = calloc(*count, sizeof *shapes);
    for (uint32_t i = 0; shapes != NULL && i < *count; i++)
        shapes[i] = shape_from_khr(&list[i]);
    free(list);
    if (shapes == NULL)
        *count = 0;
    return shapes;
}

/* The NV list as shapes; NULL (count 0) when there is none. */
static vkl_coopmat_shape *list_nv(VkInstance instance, VkPhysicalDevice physical,
                                  uint32_t *count)
{
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get_list =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    VkCooperativeMatrixPropertiesNV *list = NULL;
    vkl_coopmat_shape *shapes = NULL;
    *count = 0;
    if (get_list != NULL && get_list(physical, count, NULL) == VK_SUCCESS && *count > 0)
        list = output_array(*count, sizeof *list,
                            VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV);
    if (list != NULL && listed(get_list(physical, count, list)))
        shapes = calloc(*count, sizeof *shapes);
    for (uint32_t i = 0; shapes != NULL && i < *count; i++)
        shapes[i] = shape_from_nv(&list[i]);
    free(list);
    if (shapes == NULL)
        *count = 0;
    return shapes;
}

/* Whether the device offers `kind` with a usable tile, which is put in info. */
static bool try_kind(VkInstance instance, VkPhysicalDevice physical, vkllm_coopmat_kind kind,
                     vkllm_device_info *info)
{
    if (!has_extension(physical, vkl_coopmat_extension(kind)) ||
        !features_allow(physical, kind) || !compute_stage_allowed(physical, kind))
        return false;

    uint32_t count;
    vkl_coopmat_shape *shapes = kind == VKLLM_COOPMAT_KHR ? list_khr(instance, physical, &count)
                                                          : list_nv(instance, physical, &count);
    bool found = vkl_coopmat_pick(shapes, count, info->max_shared_memory, info->coopmat_tile);
    free(shapes);
    if (found)
        info->coopmat = kind;
    return found;
}

void vkl_coopmat_query(VkInstance instance, VkPhysicalDevice physical, uint32_t version,
                       vkllm_device_info *info)
{
    info->coopmat = VKLLM_COOPMAT_NONE;
    memset(info->coopmat_tile, 0, sizeof info->coopmat_tile);
    if (version < VK_API_VERSION_1_2)
        return;
    if (VKLLM_HAVE_COOPMAT && version >= VK_API_VERSION_1_3 &&
        try_kind(instance, physical, VKLLM_COOPMAT_KHR, info))
        return;
    try_kind(instance, physical, VKLLM_COOPMAT_NV, info);
}
