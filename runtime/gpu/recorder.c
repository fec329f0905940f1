#include <stdlib.h>

#include "core/array.h"
#include "gpu/recorder.h"

#define SETS_PER_POOL 256

void vkl_descriptor_pools_free(vkl_gpu_device *dev, vkl_descriptor_pools *pools)
{
    for (uint32_t i = 0; i < pools->count; i++)
        dev->vk.vkDestroyDescriptorPool(dev->device, pools->pools[i], NULL);
    for (uint32_t i = 0; i < pools->view_count; i++)
        dev->vk.vkDestroyBufferView(dev->device, pools->views[i].view, NULL);
    free(pools->views);
    free(pools->pools);
    *pools = (vkl_descriptor_pools){0};
}

static vkllm_status add_pool(vkl_gpu_device *dev, vkl_descriptor_pools *pools, vkl_error *err)
{
    vkllm_status status = vkl_array_reserve_one((void **)&pools->pools, pools->count,
                                                &pools->capacity, sizeof *pools->pools, err);
    if (status != VKLLM_OK)
        return status;

    VkDescriptorPoolSize sizes[] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VKL_MAX_BINDINGS},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * VKL_MAX_TEXEL_BINDINGS},
    };
    VkDescriptorPoolCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = 2,
        .pPoolSizes = sizes,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateDescriptorPool(dev->device, &info, NULL,
                                                     &pools->pools[pools->count]));
    pools->count++;
    pools->sets_left = SETS_PER_POOL;
    return VKLLM_OK;
}

static vkllm_status allocate_set(vkl_recorder *rec, VkDescriptorSet *set)
{
    vkl_gpu_device *dev = rec->dev;
    if (rec->pools->sets_left == 0) {
        vkllm_status status = add_pool(dev, rec->pools, rec->err);
        if (status != VKLLM_OK)
            return status;
    }

    VkDescriptorSetAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = rec->pools->pools[rec->pools->count - 1],
        .descriptorSetCount = 1,
        .pSetLayouts = &dev->set_layout,
    };
    VKL_VK_CHECK(rec->err, dev->vk.vkAllocateDescriptorSets(dev->device, &info, set));
    rec->pools->sets_left--;
    return VKLLM_OK;
}

static void write_set(vkl_gpu_device *dev, VkDescriptorSet set, const vkl_dispatch *d)
{
    VkDescriptorBufferInfo buffers[VKL_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VKL_MAX_BINDINGS + VKL_MAX_TEXEL_BINDINGS];
    for (uint32_t i = 0; i < d->binding_count; i++) {
        buffers[i] = (VkDescriptorBufferInfo){
            .buffer = d->bindings[i].buffer,
            .offset = d->bindings[i].offset,
            .range = d->bindings[i].size,
        };
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &buffers[i],
        };
    }
    for (uint32_t i = 0; i < d->texel_count; i++) {
        writes[d->binding_count + i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = VKL_MAX_BINDINGS + i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
            .pTexelBufferView = &d->texels[i],
        };
    }
    dev->vk.vkUpdateDescriptorSets(dev->device, d->binding_count + d->texel_count, writes, 0,
                                   NULL);
}

static bool same_view(const vkl_texel_view *v, const vkl_buffer_view *range, VkFormat format)
{
    return v->buffer == range->buffer && v->offset == range->offset &&
           v->size == range->size && v->format == format;
}

VkBufferView vkl_recorder_texel_view(vkl_recorder *rec, const vkl_buffer_view *range,
                                     VkFormat format)
{
    if (rec->status != VKLLM_OK)
        return VK_NULL_HANDLE;

    vkl_descriptor_pools *pools = rec->pools;
    for (uint32_t i = 0; i < pools->view_count; i++) {
        if (same_view(&pools->views[i], range, format))
            return pools->views[i].view;
    }

    rec->status = vkl_array_reserve_one((void **)&pools->views, pools->view_count,
                                        &pools->view_capacity, sizeof *pools->views, rec->err);
    VkBufferView view = VK_NULL_HANDLE;
    if (rec->status == VKLLM_OK)
        rec->status = vkl_gpu_texel_view(rec->dev, range, format, &view, rec->err);
    if (rec->status != VKLLM_OK)
        return VK_NULL_HANDLE;
    pools->views[pools->view_count++] = (vkl_texel_view){
        range->buffer, range->offset, range->size, format, view};
    return view;
}

/* Every dispatch may read what the one before wrote. A global barrier is
 * coarse, but the forward pass is a chain where nearly every step depends
 * on the previous one. */
static void compute_barrier(vkl_recorder *rec)
{
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    rec->dev->vk.vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier,
                                      0, NULL, 0, NULL);
}

void vkl_recorder_begin(vkl_recorder *rec, vkl_gpu_device *dev, VkCommandBuffer cmd,
                        vkl_descriptor_pools *pools, vkl_error *err)
{
    *rec = (vkl_recorder){.dev = dev, .cmd = cmd, .pools = pools, .err = err};
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VkResult result = dev->vk.vkBeginCommandBuffer(cmd, &begin);
    if (result != VK_SUCCESS)
        rec->status = vkl_vk_fail(err, result, "vkBeginCommandBuffer");
}

void vkl_record_dispatch(vkl_recorder *rec, const vkl_dispatch *d)
{
    if (rec->status != VKLLM_OK)
        return;

    vkl_gpu_device *dev = rec->dev;
    VkPipeline pipeline;
    VkDescriptorSet set;
    rec->status = vkl_gpu_pipeline(dev, d->shader, d->spec, d->spec_count, &pipeline, rec->err);
    if (rec->status == VKLLM_OK)
        rec->status = allocate_set(rec, &set);
    if (rec->status != VKLLM_OK)
        return;
    write_set(dev, set, d);

    dev->vk.vkCmdBindPipeline(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    dev->vk.vkCmdBindDescriptorSets(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                    dev->pipeline_layout, 0, 1, &set, 0, NULL);
    if (d->push_size > 0)
        dev->vk.vkCmdPushConstants(rec->cmd, dev->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT,
                                   0, d->push_size, d->push);
    dev->vk.vkCmdDispatch(rec->cmd, d->groups[0], d->groups[1], d->groups[2]);
    compute_barrier(rec);
    rec->dispatch_count++;
}

void vkl_record_copy(vkl_recorder *rec, const vkl_buffer_view *src, const vkl_buffer_view *dst,
                     VkDeviceSize size)
{
    if (rec->status != VKLLM_OK)
        return;

    vkl_gpu_device *dev = rec->dev;
    VkBufferCopy region = {.srcOffset = src->offset, .dstOffset = dst->offset, .size = size};
    dev->vk.vkCmdCopyBuffer(rec->cmd, src->buffer, dst->buffer, 1, &region);
    VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                         VK_ACCESS_SHADER_READ_BIT,
    };
    dev->vk.vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 VK_PIPELINE_STAGE_TRANSFER_BIT |
                                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                 0, 1, &after, 0, NULL, 0, NULL);
}

void vkl_record_readback(vkl_recorder *rec, const vkl_buffer_view *src,
                         const vkl_buffer_view *dst, VkDeviceSize size)
{
    if (rec->status != VKLLM_OK)
        return;

    vkl_gpu_device *dev = rec->dev;
    VkMemoryBarrier before = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
    };
    dev->vk.vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                 VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0, NULL, 0, NULL);
    VkBufferCopy region = {.srcOffset = src->offset, .dstOffset = dst->offset, .size = size};
    dev->vk.vkCmdCopyBuffer(rec->cmd, src->buffer, dst->buffer, 1, &region);

    VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    dev->vk.vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &after, 0, NULL, 0, NULL);
}

void vkl_record_timestamp(vkl_recorder *rec, VkQueryPool pool, uint32_t index)
{
    if (rec->status == VKLLM_OK)
        rec->dev->vk.vkCmdWriteTimestamp(rec->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool,
                                         index);
}

vkllm_status vkl_recorder_end(vkl_recorder *rec)
{
    VkResult result = rec->dev->vk.vkEndCommandBuffer(rec->cmd);
    if (rec->status == VKLLM_OK && result != VK_SUCCESS)
        rec->status = vkl_vk_fail(rec->err, result, "vkEndCommandBuffer");
    return rec->status;
}

void vkl_groups_2d(const vkl_gpu_device *dev, uint32_t total, uint32_t groups[3])
{
    uint32_t max_x = dev->info->max_workgroup_count[0];
    if (total <= max_x) {
        groups[0] = total == 0 ? 1 : total;
        groups[1] = 1;
    } else {
        groups[0] = max_x;
        groups[1] = (total + max_x - 1) / max_x;
    }
    groups[2] = 1;
}
