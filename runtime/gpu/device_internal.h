/* Pieces of the device layer shared between its own files only. */
#ifndef VKL_GPU_DEVICE_INTERNAL_H
#define VKL_GPU_DEVICE_INTERNAL_H

#include "gpu/gpu.h"

vkllm_status vkl_gpu_device_open(vkl_gpu_instance *gi, uint32_t index, vkl_gpu_device **out,
                                 vkl_error *err);
void vkl_gpu_device_close(vkl_gpu_device *dev);

vkllm_status vkl_transfer_create(vkl_gpu_device *dev, vkl_error *err);

/* The pipeline cache: created from the file at pipeline_cache_path when one
 * is there and was written for this device and driver, saved back on close. */
void vkl_pipeline_cache_path(vkl_gpu_device *dev, const char *folder);
vkllm_status vkl_pipeline_cache_open(vkl_gpu_device *dev, vkl_error *err);
void vkl_pipeline_cache_close(vkl_gpu_device *dev);
void vkl_transfer_destroy(vkl_gpu_device *dev);

#endif
