/* Recording compute work: one helper appends a dispatch (pipeline, buffers,
 * push constants, workgroup counts) and the barrier after it. Errors are
 * sticky, so that a graph records its steps as a flat list and checks once
 * at the end. Descriptor sets, and the texel views of activations some
 * kernels read, come from pools the recorder's owner keeps for as long as
 * the recording is replayed. */
#ifndef VKL_GPU_RECORDER_H
#define VKL_GPU_RECORDER_H

#include "gpu/gpu.h"

typedef struct vkl_texel_view {
    VkBuffer buffer;
    VkDeviceSize offset;
    VkDeviceSize size;
    VkFormat format;
    VkBufferView view;
} vkl_texel_view;

typedef struct vkl_descriptor_pools {
    VkDescriptorPool *pools;
    uint32_t count;
    uint32_t capacity;
    uint32_t sets_left;         /* in the newest pool */
    vkl_texel_view *views;      /* made once per range and format */
    uint32_t view_count;
    uint32_t view_capacity;
} vkl_descriptor_pools;

void vkl_descriptor_pools_free(vkl_gpu_device *dev, vkl_descriptor_pools *pools);

typedef struct vkl_recorder {
    vkl_gpu_device *dev;
    VkCommandBuffer cmd;
    vkl_descriptor_pools *pools;
    vkl_error *err;
    vkllm_status status;        /* the first failure, or VKLLM_OK */
    uint32_t dispatch_count;
} vkl_recorder;

typedef struct vkl_dispatch {
    vkl_shader_id shader;
    uint32_t spec[VKL_MAX_SPEC_CONSTANTS];  /* spec[0]: workgroup x size */
    uint32_t spec_count;
    vkl_buffer_view bindings[VKL_MAX_BINDINGS];
    uint32_t binding_count;
    VkBufferView texels[VKL_MAX_TEXEL_BINDINGS];   /* bindings VKL_MAX_BINDINGS + i */
    uint32_t texel_count;
    const void *push;
    uint32_t push_size;
    uint32_t groups[3];
} vkl_dispatch;

void vkl_recorder_begin(vkl_recorder *rec, vkl_gpu_device *dev, VkCommandBuffer cmd,
                        vkl_descriptor_pools *pools, vkl_error *err);
void vkl_record_dispatch(vkl_recorder *rec, const vkl_dispatch *d);
/* A texel view of range, made on first use and kept with the pools; on
 * failure VK_NULL_HANDLE, and the recording fails. */
VkBufferView vkl_recorder_texel_view(vkl_recorder *rec, const vkl_buffer_view *range,
                                     VkFormat format);
/* Copies device data to another device range, for the work after it. */
void vkl_record_copy(vkl_recorder *rec, const vkl_buffer_view *src, const vkl_buffer_view *dst,
                     VkDeviceSize size);
/* Copies device data for the host to read once the submission completes. */
void vkl_record_readback(vkl_recorder *rec, const vkl_buffer_view *src,
                         const vkl_buffer_view *dst, VkDeviceSize size);
vkllm_status vkl_recorder_end(vkl_recorder *rec);

/* Writes timestamp `index` of pool once all earlier work has finished. */
void vkl_record_timestamp(vkl_recorder *rec, VkQueryPool pool, uint32_t index);

/* Splits a count of workgroups over x and y when it exceeds the device's
 * x limit; shaders rebuild the linear index and skip the excess. */
void vkl_groups_2d(const vkl_gpu_device *dev, uint32_t total, uint32_t groups[3]);

#endif
