/* Compiled pipelines kept on disk between runs, in a folder the embedder
 * names: one file per device and driver, named by the device's pipeline
 * cache UUID. A file is used only if its header says it was written for
 * this device (the header layout is Vulkan's own); it is replaced whole, by
 * renaming a temporary file, so a crash mid-write never leaves a torn file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/device_internal.h"

/* Vulkan's VkPipelineCacheHeaderVersionOne: length, version, vendor, device,
 * then the cache UUID. */
#define CACHE_HEADER_BYTES (16 + VK_UUID_SIZE)
#define MAX_CACHE_BYTES (256u << 20)

static void cache_uuid(const vkl_gpu_device *dev, uint8_t uuid[VK_UUID_SIZE])
{
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(dev->physical, &properties);
    memcpy(uuid, properties.pipelineCacheUUID, VK_UUID_SIZE);
}

void vkl_pipeline_cache_path(vkl_gpu_device *dev, const char *folder)
{
    uint8_t uuid[VK_UUID_SIZE];
    char hex[2 * VK_UUID_SIZE + 1];
    cache_uuid(dev, uuid);
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", uuid[i]);
    snprintf(dev->pipeline_cache_path, sizeof dev->pipeline_cache_path,
             "%s/pipelines-%04x-%04x-%s.bin", folder, dev->info->vendor_id,
             dev->info->device_id, hex);
}

static bool header_matches(const vkl_gpu_device *dev, const uint8_t *data, size_t size)
{
    uint32_t fields[4];
    uint8_t uuid[VK_UUID_SIZE];
    if (size < CACHE_HEADER_BYTES)
        return false;
    memcpy(fields, data, sizeof fields);
    cache_uuid(dev, uuid);
    return fields[0] >= CACHE_HEADER_BYTES && fields[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
           fields[2] == dev->info->vendor_id && fields[3] == dev->info->device_id &&
           memcmp(data + 16, uuid, VK_UUID_SIZE) == 0;
}

/* The bytes of an open file, read whole, or NULL when it is empty, larger
 * than any cache we write, or unreadable. */
static uint8_t *read_whole(FILE *f, size_t *size)
{
    if (fseek(f, 0, SEEK_END) != 0)
        return NULL;
    long length = ftell(f);
    if (length <= 0 || (unsigned long)length > MAX_CACHE_BYTES || fseek(f, 0, SEEK_SET) != 0)
        return NULL;
    uint8_t *data = malloc((size_t)length);
    if (data != NULL && fread(data, 1, (size_t)length, f) != (size_t)length) {
        free(data);
        return NULL;
    }
    *size = (size_t)length;
    return data;
}

/* The saved cache, or NULL when there is none fit for this device. */
static uint8_t *read_saved(const vkl_gpu_device *dev, size_t *size)
{
    FILE *f = dev->pipeline_cache_path[0] ? fopen(dev->pipeline_cache_path, "rb") : NULL;
    if (f == NULL)
        return NULL;
    uint8_t *data = read_whole(f, size);
    fclose(f);
    if (data == NULL || !header_matches(dev, data, *size)) {
        VKL_INFO(dev->logger, "ignoring the pipeline cache %s: not for this device",
                 dev->pipeline_cache_path);
        free(data);
        return NULL;
    }
    return data;
}

vkllm_status vkl_pipeline_cache_open(vkl_gpu_device *dev, vkl_error *err)
{
    size_t size = 0;
    uint8_t *saved = read_saved(dev, &size);
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = saved != NULL ? size : 0,
        .pInitialData = saved,
    };
    VkResult result = dev->vk.vkCreatePipelineCache(dev->device, &info, NULL,
                                                    &dev->pipeline_cache);
    free(saved);
    if (result != VK_SUCCESS)
        return vkl_vk_fail(err, result, "vkCreatePipelineCache");
    return VKLLM_OK;
}

static void save(const vkl_gpu_device *dev)
{
    size_t size = 0;
    if (dev->vk.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, NULL) !=
            VK_SUCCESS || size == 0 || size > MAX_CACHE_BYTES)
        return;
    uint8_t *data = malloc(size);
    if (data == NULL ||
        dev->vk.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, data) !=
            VK_SUCCESS) {
        free(data);
        return;
    }

    /* A temporary name of this process's own, so that processes saving at
     * once never write into one file. */
    char temporary[sizeof dev->pipeline_cache_path + 8];
    snprintf(temporary, sizeof temporary, "%s.XXXXXX", dev->pipeline_cache_path);
    int fd = mkstemp(temporary);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && f == NULL)
        close(fd);
    bool written = f != NULL && fwrite(data, 1, size, f) == size;
    if (f != NULL && fclose(f) != 0)
        written = false;
    if (!written || rename(temporary, dev->pipeline_cache_path) != 0) {
        VKL_WARN(dev->logger, "could not save the pipeline cache to %s",
                 dev->pipeline_cache_path);
        if (fd >= 0)
            remove(temporary);
    }
    free(data);
}

void vkl_pipeline_cache_close(vkl_gpu_device *dev)
{
    if (dev->pipeline_cache == VK_NULL_HANDLE)
        return;
    if (dev->pipeline_cache_path[0] != '\0' && dev->pipeline_count > 0)
        save(dev);
    dev->vk.vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
}
