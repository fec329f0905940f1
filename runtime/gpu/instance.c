/* The Vulkan instance and what it can see: loading the loader through volk,
 * the validation layer, and a description of every physical device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/coopmat.h"
#include "gpu/gpu.h"
#include "gpu/device_internal.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static once_flag volk_once = ONCE_FLAG_INIT;
static VkResult volk_result = VK_ERROR_INITIALIZATION_FAILED;

static void load_volk(void)
{
    volk_result = volkInitialize();
}

vkllm_status vkl_vk_fail(vkl_error *err, VkResult result, const char *call)
{
    vkllm_status status = VKLLM_ERROR_VULKAN;
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        status = VKLLM_ERROR_OUT_OF_DEVICE_MEMORY;
    else if (result == VK_ERROR_OUT_OF_HOST_MEMORY)
        status = VKLLM_ERROR_OUT_OF_HOST_MEMORY;
    else if (result == VK_ERROR_DEVICE_LOST)
        status = VKLLM_ERROR_DEVICE_LOST;
    return vkl_fail(err, status, "%s failed with VkResult %d", call, (int)result);
}

static VkBool32 VKAPI_PTR on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    const vkl_logger *logger = user;
    vkllm_log_level level = VKLLM_LOG_INFO;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
        level = VKLLM_LOG_ERROR;
    else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        level = VKLLM_LOG_WARN;

    vkl_log_raw(logger, level, VKLLM_LOG_SOURCE_VALIDATION, data->pMessage);
    return VK_FALSE;
}

static bool layer_available(const char *name)
{
    uint32_t count = 0;
    if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || count == 0)
        return false;

    VkLayerProperties *layers = calloc(count, sizeof *layers);
    if (layers == NULL)
        return false;
    bool found = false;
    if (vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(layers[i].layerName, name) == 0;
    }
    free(layers);
    return found;
}

static VkDebugUtilsMessengerCreateInfoEXT messenger_info(const vkl_logger *logger)
{
    return (VkDebugUtilsMessengerCreateInfoEXT){
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation_message,
        .pUserData = (void *)logger,
    };
}

/* The highest Vulkan version vkllm uses (1.3: the KHR cooperative-matrix
 * kernels) that the loader knows; a device is used at the lower of this and
 * its own version. */
static uint32_t instance_version(void)
{
    uint32_t loader = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion == NULL || vkEnumerateInstanceVersion(&loader) != VK_SUCCESS)
        return VK_API_VERSION_1_1;     /* a 1.0 loader: instance creation will say so */
    return loader < VK_API_VERSION_1_3 ? loader : VK_API_VERSION_1_3;
}

static vkllm_status create_instance(vkl_gpu_instance *gi, bool validation, vkl_error *err)
{
    gi->api_version = instance_version();
    if (validation && !layer_available(VALIDATION_LAYER))
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "validation was asked for but %s is not installed "
                        "(Debian: vulkan-validationlayers)", VALIDATION_LAYER);

    const char *layers[] = {VALIDATION_LAYER};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT messenger = messenger_info(gi->logger);
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkllm",
        .pEngineName = "vkllm",
        .apiVersion = gi->api_version,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &messenger : NULL,    /* also covers instance creation */
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };

    VkResult result = vkCreateInstance(&info, NULL, &gi->instance);
    if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vkl_fail(err, VKLLM_ERROR_NO_DEVICE,
                        "no Vulkan device found: no installed driver could be loaded "
                        "that supports Vulkan 1.1 (install one, e.g. Debian's "
                        "mesa-vulkan-drivers, or check VK_ICD_FILENAMES / VK_DRIVER_FILES)");
    if (result != VK_SUCCESS)
        return vkl_fail(err, VKLLM_ERROR_NO_DEVICE,
                        "the Vulkan loader could not start (vkCreateInstance gave VkResult %d): "
                        "a driver manifest may be broken (check VK_ICD_FILENAMES / "
                        "VK_DRIVER_FILES)", (int)result);
    volkLoadInstanceOnly(gi->instance);

    if (!validation)
        return VKLLM_OK;
    PFN_vkCreateDebugUtilsMessengerEXT create_messenger = (PFN_vkCreateDebugUtilsMessengerEXT)
        vkGetInstanceProcAddr(gi->instance, "vkCreateDebugUtilsMessengerEXT");
    gi->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)
        vkGetInstanceProcAddr(gi->instance, "vkDestroyDebugUtilsMessengerEXT");
    if (create_messenger == NULL || gi->destroy_messenger == NULL)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED, "VK_EXT_debug_utils is not available");
    VKL_VK_CHECK(err, create_messenger(gi->instance, &messenger, NULL, &gi->messenger));
    return VKLLM_OK;
}

static vkllm_device_type device_type(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return VKLLM_DEVICE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return VKLLM_DEVICE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return VKLLM_DEVICE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return VKLLM_DEVICE_CPU;
    default: return VKLLM_DEVICE_OTHER;
    }
}

static void copy_limits(vkllm_device_info *info, const VkPhysicalDeviceLimits *limits)
{
    info->max_workgroup_invocations = limits->maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++) {
        info->max_workgroup_size[i] = limits->maxComputeWorkGroupSize[i];
        info->max_workgroup_count[i] = limits->maxComputeWorkGroupCount[i];
    }
    info->max_shared_memory = limits->maxComputeSharedMemorySize;
    info->max_storage_buffer_range = limits->maxStorageBufferRange;
    info->min_storage_offset_alignment = (uint32_t)limits->minStorageBufferOffsetAlignment;
    info->max_texel_buffer_elements = limits->maxTexelBufferElements;
    info->min_texel_offset_alignment = (uint32_t)limits->minTexelBufferOffsetAlignment;
    info->max_push_constants = limits->maxPushConstantsSize;
    info->timestamp_period = limits->timestampPeriod;
}

static void copy_heaps(vkllm_device_info *info, VkPhysicalDevice physical)
{
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties(physical, &memory);
    info->heap_count = memory.memoryHeapCount < VKLLM_MAX_HEAPS ? memory.memoryHeapCount
                                                                 : VKLLM_MAX_HEAPS;
    for (uint32_t i = 0; i < info->heap_count; i++) {
        info->heaps[i].size = memory.memoryHeaps[i].size;
        info->heaps[i].device_local =
            (memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    }
}

/* Features and properties that need the 1.1/1.2 query chains; version is
 * the one the device is used at. */
static void query_extended(vkllm_device_info *info, VkPhysicalDevice physical, uint32_t version)
{
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties maintenance3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
        .pNext = version >= VK_API_VERSION_1_2 ? &driver : NULL};
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &maintenance3};
    VkPhysicalDeviceProperties2 properties = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &subgroup};
    vkGetPhysicalDeviceProperties2(physical, &properties);

    info->subgroup_size = subgroup.subgroupSize;
    info->subgroup_arithmetic =
        (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0 &&
        (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
    info->max_allocation_size = maintenance3.maxMemoryAllocationSize;
    if (version >= VK_API_VERSION_1_2) {
        snprintf(info->driver_name, sizeof info->driver_name, "%s", driver.driverName);
        snprintf(info->driver_info, sizeof info->driver_info, "%s", driver.driverInfo);
    }

    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .pNext = version >= VK_API_VERSION_1_2 ? &float16 : NULL};
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &storage16};
    vkGetPhysicalDeviceFeatures2(physical, &features);
    info->shader_float16 = float16.shaderFloat16;
    info->storage_16bit = storage16.storageBuffer16BitAccess;
}

static void describe_device(vkllm_device_info *info, const vkl_gpu_instance *gi,
                            VkPhysicalDevice physical)
{
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(physical, &properties);

    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", properties.deviceName);
    info->type = device_type(properties.deviceType);
    info->vendor_id = properties.vendorID;
    info->device_id = properties.deviceID;
    info->api_version = properties.apiVersion;
    copy_limits(info, &properties.limits);
    copy_heaps(info, physical);
    uint32_t version = properties.apiVersion < gi->api_version ? properties.apiVersion
                                                               : gi->api_version;
    if (version >= VK_API_VERSION_1_1)
        query_extended(info, physical, version);
    vkl_coopmat_query(gi->instance, physical, version, info);
}

static vkllm_status enumerate_devices(vkl_gpu_instance *gi, vkl_error *err)
{
    uint32_t count = 0;
    VKL_VK_CHECK(err, vkEnumeratePhysicalDevices(gi->instance, &count, NULL));
    if (count == 0)
        return vkl_fail(err, VKLLM_ERROR_NO_DEVICE,
                        "no Vulkan device found: the loader sees no driver "
                        "(install one, e.g. Debian's mesa-vulkan-drivers, or check "
                        "VK_ICD_FILENAMES / VK_DRIVER_FILES)");

    gi->physical = calloc(count, sizeof *gi->physical);
    gi->infos = calloc(count, sizeof *gi->infos);
    gi->opened = calloc(count, sizeof *gi->opened);
    if (gi->physical == NULL || gi->infos == NULL || gi->opened == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory listing devices");

    VkResult result = vkEnumeratePhysicalDevices(gi->instance, &count, gi->physical);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE)
        return vkl_vk_fail(err, result, "vkEnumeratePhysicalDevices");
    gi->device_count = count;

    for (uint32_t i = 0; i < count; i++)
        describe_device(&gi->infos[i], gi, gi->physical[i]);
    return VKLLM_OK;
}

vkllm_status vkl_gpu_instance_create(vkl_gpu_instance *gi, const vkl_logger *logger,
                                     bool validation, const char *pipeline_cache_dir,
                                     vkl_error *err)
{
    memset(gi, 0, sizeof *gi);
    gi->logger = logger;
    if (pipeline_cache_dir != NULL)
        snprintf(gi->pipeline_cache_dir, sizeof gi->pipeline_cache_dir, "%s",
                 pipeline_cache_dir);
    if (mtx_init(&gi->open_lock, mtx_plain) != thrd_success)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "cannot create a mutex");

    call_once(&volk_once, load_volk);
    if (volk_result != VK_SUCCESS)
        return vkl_fail(err, VKLLM_ERROR_NO_DEVICE,
                        "cannot load the Vulkan loader (libvulkan.so.1): is it installed?");

    vkllm_status status = create_instance(gi, validation, err);
    if (status != VKLLM_OK)
        return status;
    return enumerate_devices(gi, err);
}

void vkl_gpu_instance_destroy(vkl_gpu_instance *gi)
{
    for (uint32_t i = 0; i < gi->device_count; i++)
        vkl_gpu_device_close(gi->opened[i]);
    free(gi->opened);
    free(gi->infos);
    free(gi->physical);

    if (gi->messenger != VK_NULL_HANDLE)
        gi->destroy_messenger(gi->instance, gi->messenger, NULL);
    if (gi->instance != VK_NULL_HANDLE)
        vkDestroyInstance(gi->instance, NULL);
    mtx_destroy(&gi->open_lock);
    memset(gi, 0, sizeof *gi);
}

static int type_rank(vkllm_device_type type)
{
    switch (type) {
    case VKLLM_DEVICE_DISCRETE_GPU: return 0;
    case VKLLM_DEVICE_INTEGRATED_GPU: return 1;
    case VKLLM_DEVICE_VIRTUAL_GPU: return 2;
    case VKLLM_DEVICE_CPU: return 3;
    default: return 4;
    }
}

uint32_t vkl_gpu_default_device(const vkl_gpu_instance *gi)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < gi->device_count; i++) {
        if (type_rank(gi->infos[i].type) < type_rank(gi->infos[best].type))
            best = i;
    }
    return best;
}

vkllm_status vkl_gpu_device_get(vkl_gpu_instance *gi, uint32_t index, vkl_gpu_device **out,
                                vkl_error *err)
{
    if (index >= gi->device_count)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "device %u does not exist (%u devices)", index, gi->device_count);

    mtx_lock(&gi->open_lock);
    vkllm_status status = VKLLM_OK;
    if (gi->opened[index] == NULL)
        status = vkl_gpu_device_open(gi, index, &gi->opened[index], err);
    *out = gi->opened[index];
    mtx_unlock(&gi->open_lock);
    return status;
}
