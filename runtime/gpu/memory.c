/* The suballocator: device memory comes in large blocks, each bound to one
 * storage buffer, and tensors get aligned ranges of a block. Blocks respect
 * maxMemoryAllocationSize; ranges respect maxStorageBufferRange, so that any
 * range can be bound whole. Larger tensors are split by their owners. */
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "gpu/gpu.h"

#define DEFAULT_BLOCK_SIZE ((VkDeviceSize)64 << 20)

void vkl_arena_init(vkl_arena *arena, vkl_gpu_device *dev, bool host_visible)
{
    memset(arena, 0, sizeof *arena);
    arena->dev = dev;
    arena->host_visible = host_visible;
    arena->block_size = DEFAULT_BLOCK_SIZE;
    if (arena->block_size > dev->max_binding)
        arena->block_size = dev->max_binding;
    arena->piece_limit = dev->max_binding;
}

static void free_block(vkl_gpu_device *dev, vkl_memory_block *block)
{
    if (block->mapped != NULL)
        dev->vk.vkUnmapMemory(dev->device, block->memory);
    dev->vk.vkDestroyBuffer(dev->device, block->buffer, NULL);
    dev->vk.vkFreeMemory(dev->device, block->memory, NULL);
}

void vkl_arena_free(vkl_arena *arena)
{
    for (uint32_t i = 0; i < arena->view_count; i++)
        arena->dev->vk.vkDestroyBufferView(arena->dev->device, arena->views[i], NULL);
    free(arena->views);
    arena->views = NULL;
    arena->view_count = arena->view_capacity = 0;
    for (uint32_t i = 0; i < arena->block_count; i++)
        free_block(arena->dev, &arena->blocks[i]);
    free(arena->blocks);
    arena->blocks = NULL;
    arena->block_count = arena->block_capacity = 0;
    arena->allocated = 0;
}

static vkllm_status memory_failure(vkl_arena *arena, VkResult result, VkDeviceSize size,
                                   vkl_error *err)
{
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_DEVICE_MEMORY,
                        "device '%s' is out of memory: could not allocate %llu MiB more "
                        "(%llu MiB already in use by this owner)",
                        arena->dev->info->name, (unsigned long long)(size >> 20),
                        (unsigned long long)(arena->allocated >> 20));
    return vkl_vk_fail(err, result, "vkAllocateMemory");
}

static vkllm_status create_block(vkl_arena *arena, VkDeviceSize size, vkl_memory_block *block,
                                 vkl_error *err)
{
    vkl_gpu_device *dev = arena->dev;
    memset(block, 0, sizeof *block);
    block->size = size;

    VkBufferCreateInfo buffer_info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateBuffer(dev->device, &buffer_info, NULL, &block->buffer));

    VkMemoryRequirements needs;
    dev->vk.vkGetBufferMemoryRequirements(dev->device, block->buffer, &needs);
    uint32_t type = arena->host_visible ? dev->memory_types.host : dev->memory_types.device;
    if (!(needs.memoryTypeBits & (1u << type)))
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "storage buffers cannot live in memory type %u", type);

    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = needs.size,
        .memoryTypeIndex = type,
    };
    VkResult result = dev->vk.vkAllocateMemory(dev->device, &alloc, NULL, &block->memory);
    if (result != VK_SUCCESS)
        return memory_failure(arena, result, needs.size, err);
    VKL_VK_CHECK(err, dev->vk.vkBindBufferMemory(dev->device, block->buffer, block->memory, 0));
    if (arena->host_visible)
        VKL_VK_CHECK(err, dev->vk.vkMapMemory(dev->device, block->memory, 0, VK_WHOLE_SIZE, 0,
                                              &block->mapped));
    return VKLLM_OK;
}

static vkllm_status add_block(vkl_arena *arena, VkDeviceSize min_size, vkl_error *err)
{
    vkllm_status status = vkl_array_reserve_one((void **)&arena->blocks, arena->block_count,
                                                &arena->block_capacity, sizeof *arena->blocks,
                                                err);
    if (status != VKLLM_OK)
        return status;

    VkDeviceSize size = min_size > arena->block_size ? min_size : arena->block_size;
    vkl_memory_block *block = &arena->blocks[arena->block_count];
    status = create_block(arena, size, block, err);
    if (status != VKLLM_OK) {
        free_block(arena->dev, block);
        return status;
    }
    arena->block_count++;
    return VKLLM_OK;
}

static VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

vkllm_status vkl_arena_alloc(vkl_arena *arena, VkDeviceSize size, vkl_buffer_view *out,
                             vkl_error *err)
{
    /* Every range may be viewed as a storage buffer or as 16-byte texels. */
    const vkllm_device_info *info = arena->dev->info;
    VkDeviceSize alignment = info->min_storage_offset_alignment;
    if (alignment < info->min_texel_offset_alignment)
        alignment = info->min_texel_offset_alignment;
    if (alignment < 16)
        alignment = 16;
    size = align_up(size == 0 ? 16 : size, 16);
    if (size > arena->dev->max_binding)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "a buffer of %llu bytes exceeds the %llu bytes one binding may span "
                        "on '%s'", (unsigned long long)size,
                        (unsigned long long)arena->dev->max_binding, arena->dev->info->name);

    vkl_memory_block *block = NULL;
    VkDeviceSize offset = 0;
    if (arena->block_count > 0) {
        block = &arena->blocks[arena->block_count - 1];
        offset = align_up(block->used, alignment);
    }
    if (block == NULL || offset + size > block->size) {
        vkllm_status status = add_block(arena, size, err);
        if (status != VKLLM_OK)
            return status;
        block = &arena->blocks[arena->block_count - 1];
        offset = 0;
    }

    block->used = offset + size;
    arena->allocated += size;
    *out = (vkl_buffer_view){
        .buffer = block->buffer,
        .offset = offset,
        .size = size,
        .mapped = block->mapped ? (char *)block->mapped + offset : NULL,
    };
    return VKLLM_OK;
}

vkllm_status vkl_gpu_texel_view(vkl_gpu_device *dev, const vkl_buffer_view *range,
                                VkFormat format, VkBufferView *out, vkl_error *err)
{
    /* Both formats used are 16 bytes a texel; a partial last texel is not
     * part of the view. */
    VkDeviceSize texels = range->size / 16;
    if (texels == 0 || texels > dev->info->max_texel_buffer_elements)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "a texel view of %llu bytes is outside what '%s' allows (1 to %u "
                        "texels of 16 bytes)", (unsigned long long)range->size,
                        dev->info->name, dev->info->max_texel_buffer_elements);

    VkBufferViewCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = range->buffer,
        .format = format,
        .offset = range->offset,
        .range = texels * 16,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateBufferView(dev->device, &info, NULL, out));
    return VKLLM_OK;
}

vkllm_status vkl_arena_texel_view(vkl_arena *arena, const vkl_buffer_view *range,
                                  VkFormat format, VkBufferView *out, vkl_error *err)
{
    vkllm_status status = vkl_array_reserve_one((void **)&arena->views, arena->view_count,
                                                &arena->view_capacity, sizeof *arena->views,
                                                err);
    if (status == VKLLM_OK)
        status = vkl_gpu_texel_view(arena->dev, range, format, out, err);
    if (status == VKLLM_OK)
        arena->views[arena->view_count++] = *out;
    return status;
}
