/* The one upload path and the one read-back path: host data passes through a
 * small host-visible staging buffer in chunks, so a tensor of any size
 * reaches the device without a second full copy in host memory. */
#include <stdlib.h>
#include <string.h>

#include "gpu/device_internal.h"

#define STAGING_BYTES ((VkDeviceSize)8 << 20)

typedef struct vkl_transfer {
    vkl_arena staging_arena;
    vkl_buffer_view staging;
    vkl_commands commands;
    mtx_t lock;                 /* one transfer at a time per device */
} vkl_transfer;

static vkllm_status init_transfer(vkl_gpu_device *dev, vkl_transfer *t, vkl_error *err)
{
    VkDeviceSize size = STAGING_BYTES < dev->max_binding ? STAGING_BYTES : dev->max_binding;
    vkllm_status status = vkl_arena_alloc(&t->staging_arena, size, &t->staging, err);
    if (status != VKLLM_OK)
        return status;

    return vkl_commands_create(dev, 1, true, &t->commands, err);
}

vkllm_status vkl_transfer_create(vkl_gpu_device *dev, vkl_error *err)
{
    vkl_transfer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for staging");
    dev->transfer = t;
    vkl_arena_init(&t->staging_arena, dev, true);
    mtx_init(&t->lock, mtx_plain);
    return init_transfer(dev, t, err);
}

void vkl_transfer_destroy(vkl_gpu_device *dev)
{
    vkl_transfer *t = dev->transfer;
    if (t == NULL)
        return;
    vkl_commands_destroy(dev, &t->commands);
    vkl_arena_free(&t->staging_arena);
    mtx_destroy(&t->lock);
    free(t);
    dev->transfer = NULL;
}

vkllm_status vkl_gpu_submit_wait(vkl_gpu_device *dev, VkCommandBuffer cmd, VkFence fence,
                                 vkl_error *err)
{
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd,
    };
    mtx_lock(&dev->queue_lock);
    VkResult result = dev->vk.vkQueueSubmit(dev->queue, 1, &submit, fence);
    mtx_unlock(&dev->queue_lock);
    if (result != VK_SUCCESS)
        return vkl_vk_fail(err, result, "vkQueueSubmit");

    VKL_VK_CHECK(err, dev->vk.vkWaitForFences(dev->device, 1, &fence, VK_TRUE, UINT64_MAX));
    VKL_VK_CHECK(err, dev->vk.vkResetFences(dev->device, 1, &fence));
    return VKLLM_OK;
}

/* Copies size bytes between the staging buffer and a device range, in the
 * direction given, and waits. */
static vkllm_status copy_chunk(vkl_gpu_device *dev, const vkl_buffer_view *range,
                               VkDeviceSize offset, VkDeviceSize size, bool to_device,
                               vkl_error *err)
{
    vkl_transfer *t = dev->transfer;
    VkCommandBuffer cmd = t->commands.cmd[0];
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VKL_VK_CHECK(err, dev->vk.vkBeginCommandBuffer(cmd, &begin));

    /* Earlier compute work on the range must be finished and visible. */
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    dev->vk.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                 VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 0, 1, &barrier, 0, NULL, 0, NULL);

    VkBufferCopy region = {.size = size};
    if (to_device) {
        region.srcOffset = t->staging.offset;
        region.dstOffset = range->offset + offset;
        dev->vk.vkCmdCopyBuffer(cmd, t->staging.buffer, range->buffer, 1, &region);
    } else {
        region.srcOffset = range->offset + offset;
        region.dstOffset = t->staging.offset;
        dev->vk.vkCmdCopyBuffer(cmd, range->buffer, t->staging.buffer, 1, &region);
    }

    VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_HOST_READ_BIT,
    };
    dev->vk.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                 VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &after, 0, NULL, 0, NULL);
    VKL_VK_CHECK(err, dev->vk.vkEndCommandBuffer(cmd));
    return vkl_gpu_submit_wait(dev, cmd, t->commands.fence, err);
}

static vkllm_status transfer(vkl_gpu_device *dev, const vkl_buffer_view *range, void *host,
                             VkDeviceSize size, bool to_device, vkl_error *err)
{
    if (size > range->size)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "a transfer of %llu bytes does not fit a range of %llu",
                        (unsigned long long)size, (unsigned long long)range->size);

    vkl_transfer *t = dev->transfer;
    vkllm_status status = VKLLM_OK;
    mtx_lock(&t->lock);
    for (VkDeviceSize done = 0; done < size && status == VKLLM_OK;) {
        VkDeviceSize chunk = size - done < t->staging.size ? size - done : t->staging.size;
        /* vkCmdCopyBuffer takes any size, but keep chunks whole words. */
        VkDeviceSize copy_size = (chunk + 3) & ~(VkDeviceSize)3;
        if (copy_size > range->size - done)
            copy_size = chunk;
        if (to_device)
            memcpy(t->staging.mapped, (char *)host + done, chunk);
        status = copy_chunk(dev, range, done, copy_size, to_device, err);
        if (status == VKLLM_OK && !to_device)
            memcpy((char *)host + done, t->staging.mapped, chunk);
        done += chunk;
    }
    mtx_unlock(&t->lock);
    return status;
}

vkllm_status vkl_gpu_upload(vkl_gpu_device *dev, const vkl_buffer_view *dst, const void *data,
                            VkDeviceSize size, vkl_error *err)
{
    return transfer(dev, dst, (void *)data, size, true, err);
}

vkllm_status vkl_gpu_download(vkl_gpu_device *dev, const vkl_buffer_view *src, void *data,
                              VkDeviceSize size, vkl_error *err)
{
    return transfer(dev, src, (void *)data, size, false, err);
}

vkllm_status vkl_commands_create(vkl_gpu_device *dev, uint32_t count, bool resettable,
                                 vkl_commands *out, vkl_error *err)
{
    *out = (vkl_commands){0};
    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = resettable ? VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT : 0,
        .queueFamilyIndex = dev->queue_family,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateCommandPool(dev->device, &pool_info, NULL, &out->pool));
    VkCommandBufferAllocateInfo cmd_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = out->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = count,
    };
    VKL_VK_CHECK(err, dev->vk.vkAllocateCommandBuffers(dev->device, &cmd_info, out->cmd));
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKL_VK_CHECK(err, dev->vk.vkCreateFence(dev->device, &fence_info, NULL, &out->fence));
    return VKLLM_OK;
}

void vkl_commands_destroy(vkl_gpu_device *dev, vkl_commands *c)
{
    if (c->fence != VK_NULL_HANDLE)
        dev->vk.vkDestroyFence(dev->device, c->fence, NULL);
    if (c->pool != VK_NULL_HANDLE)
        dev->vk.vkDestroyCommandPool(dev->device, c->pool, NULL);
    *c = (vkl_commands){0};
}
