/* Choosing the cooperative-matrix tile of a device (gpu/coopmat.h). */
#include <stdlib.h>
#include <string.h>

#include "gpu/coopmat.h"
#include "shader_ids.h"

uint32_t vkl_coopmat_shared_bytes(const uint32_t tile[3])
{
    uint32_t rows = 4 * tile[0], tokens = 2 * tile[1], stride = 2 * tile[2] + 8;
    return (rows + tokens) * stride * 2 + rows * tokens * 4;
}

static bool usable(const VkCooperativeMatrixPropertiesKHR *p, uint32_t max_shared)
{
    bool f16_in_f32_out = p->AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                          p->BType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                          p->CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                          p->ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR;
    /* The shader's staging strides and offsets stay multiples of 16 bytes,
     * as loads and stores of cooperative matrices require, for these. */
    bool shape_fits = p->MSize > 0 && p->MSize % 4 == 0 && p->NSize > 0 && p->NSize % 4 == 0 &&
                      p->KSize > 0 && p->KSize % 8 == 0 && p->MSize <= 256 &&
                      p->NSize <= 256 && p->KSize <= 256;
    if (!f16_in_f32_out || !shape_fits || p->scope != VK_SCOPE_SUBGROUP_KHR ||
        p->saturatingAccumulation)
        return false;
    uint32_t tile[3] = {p->MSize, p->NSize, p->KSize};
    return vkl_coopmat_shared_bytes(tile) <= max_shared;
}

bool vkl_coopmat_pick(const VkCooperativeMatrixPropertiesKHR *list, uint32_t count,
                      uint32_t max_shared, uint32_t tile[3])
{
    uint64_t best_volume = 0;
    memset(tile, 0, 3 * sizeof *tile);
    for (uint32_t i = 0; i < count; i++) {
        const VkCooperativeMatrixPropertiesKHR *p = &list[i];
        uint64_t volume = (uint64_t)p->MSize * p->NSize * p->KSize;
        if (!usable(p, max_shared) || volume <= best_volume)
            continue;
        best_volume = volume;
        tile[0] = p->MSize;
        tile[1] = p->NSize;
        tile[2] = p->KSize;
    }
    return best_volume > 0;
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

/* The device's list of cooperative-matrix shapes, or NULL (count 0). */
static VkCooperativeMatrixPropertiesKHR *list_shapes(VkInstance instance,
                                                     VkPhysicalDevice physical, uint32_t *count)
{
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get_shapes =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
            instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    *count = 0;
    if (get_shapes == NULL || get_shapes(physical, count, NULL) != VK_SUCCESS || *count == 0)
        return NULL;

    VkCooperativeMatrixPropertiesKHR *shapes = calloc(*count, sizeof *shapes);
    if (shapes == NULL) {
        *count = 0;
        return NULL;
    }
    for (uint32_t i = 0; i < *count; i++)
        shapes[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    VkResult result = get_shapes(physical, count, shapes);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
        free(shapes);
        *count = 0;
        return NULL;
    }
    return shapes;
}

void vkl_coopmat_query(VkInstance instance, VkPhysicalDevice physical, vkllm_device_info *info)
{
    memset(info->coopmat_tile, 0, sizeof info->coopmat_tile);
    if (!VKLLM_HAVE_COOPMAT || info->api_version < VK_API_VERSION_1_3 || !info->shader_float16 ||
        !has_extension(physical, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME))
        return;

    VkPhysicalDeviceCooperativeMatrixFeaturesKHR coopmat = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &coopmat};
    vkGetPhysicalDeviceFeatures2(physical, &features);
    if (!coopmat.cooperativeMatrix)
        return;

    uint32_t count;
    VkCooperativeMatrixPropertiesKHR *shapes = list_shapes(instance, physical, &count);
    vkl_coopmat_pick(shapes, count, info->max_shared_memory, info->coopmat_tile);
    free(shapes);
}
