/* Pieces of the device layer shared between its own files only. */
#ifndef VKL_GPU_DEVICE_INTERNAL_H
#define VKL_GPU_DEVICE_INTERNAL_H

#include "gpu/gpu.h"

vkllm_status vkl_gpu_device_open(vkl_gpu_instance *gi, uint32_t index, vkl_gpu_device **out,
                                 vkl_error *err);
void vkl_gpu_device_close(vkl_gpu_device *dev);

vkllm_status vkl_transfer_create(vkl_gpu_device *dev, vkl_error *err);
void vkl_transfer_destroy(vkl_gpu_device *dev);

#endif
