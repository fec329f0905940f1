/* Cooperative matrices: which extension and matrix tile, if any, the F16
 * matrix multiply (matmul_coopmat.comp) uses on a device. The KHR extension
 * is preferred; NVIDIA's older VK_NV_cooperative_matrix, which Debian 12's
 * shader compiler can build for, is the fallback.
 *
 * Debian 12's Vulkan headers (1.3.239) predate VK_KHR_cooperative_matrix;
 * where the headers lack it, the few declarations used here are given
 * below, with the values of the Vulkan registry. */
#ifndef VKL_GPU_COOPMAT_H
#define VKL_GPU_COOPMAT_H

#include <stdbool.h>
#include <stdint.h>

#include <volk.h>

#include "vkllm.h"

#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME "VK_KHR_cooperative_matrix"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR \
    ((VkStructureType)1000506000)
#define VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType)1000506001)
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR \
    ((VkStructureType)1000506002)

typedef enum VkComponentTypeKHR {
    VK_COMPONENT_TYPE_FLOAT16_KHR = 0,
    VK_COMPONENT_TYPE_FLOAT32_KHR = 1,
    VK_COMPONENT_TYPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkComponentTypeKHR;

typedef enum VkScopeKHR {
    VK_SCOPE_SUBGROUP_KHR = 3,
    VK_SCOPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkScopeKHR;

typedef struct VkCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize;
    uint32_t NSize;
    uint32_t KSize;
    VkComponentTypeKHR AType;
    VkComponentTypeKHR BType;
    VkComponentTypeKHR CType;
    VkComponentTypeKHR ResultType;
    VkBool32 saturatingAccumulation;
    VkScopeKHR scope;
} VkCooperativeMatrixPropertiesKHR;

typedef struct VkPhysicalDeviceCooperativeMatrixFeaturesKHR {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;

typedef struct VkPhysicalDeviceCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    VkShaderStageFlags cooperativeMatrixSupportedStages;
} VkPhysicalDeviceCooperativeMatrixPropertiesKHR;

typedef VkResult(VKAPI_PTR *PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)(
    VkPhysicalDevice physicalDevice, uint32_t *pPropertyCount,
    VkCooperativeMatrixPropertiesKHR *pProperties);
#endif

/* One matrix shape a device lists, in either extension's terms. */
typedef struct vkl_coopmat_shape {
    uint32_t m, n, k;
    bool f16_inputs;            /* A and B are 16-bit floats */
    bool f32_sums;              /* C and the result are 32-bit floats, not saturating */
    bool subgroup_scope;
} vkl_coopmat_shape;

/* Bytes of shared memory matmul_coopmat.comp needs for an M x N x K tile:
 * F16 staging of 4 M weight rows and 2 N tokens by 2 K (+8) columns, and the
 * 4 M x 2 N block of F32 results. */
uint32_t vkl_coopmat_shared_bytes(const uint32_t tile[3]);

/* Picks the shape matmul_coopmat.comp can use (F16 inputs, F32 sums,
 * subgroup scope; M and N multiples of 4, K of 8; within max_shared bytes of
 * shared memory), the largest M N K of those; false, with tile zeroed, if
 * none qualifies. */
bool vkl_coopmat_pick(const vkl_coopmat_shape *shapes, uint32_t count, uint32_t max_shared,
                      uint32_t tile[3]);

/* Fills info->coopmat and info->coopmat_tile from the device, used at Vulkan
 * `version`, or leaves them none. Both extensions need cooperative matrices
 * in compute shaders, F16 arithmetic and the Vulkan memory model (the
 * compiled kernels declare it). KHR needs Vulkan 1.3 (its kernels are
 * SPIR-V 1.6 and size their workgroups with LocalSizeId, which needs
 * maintenance4) and a build whose shader compiler could make its kernels;
 * NV needs Vulkan 1.2. */
void vkl_coopmat_query(VkInstance instance, VkPhysicalDevice physical, uint32_t version,
                       vkllm_device_info *info);

/* The device extension to enable for info->coopmat, or NULL for none. */
const char *vkl_coopmat_extension(vkllm_coopmat_kind kind);

#endif
