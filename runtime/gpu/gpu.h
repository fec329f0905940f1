/* The device layer: the Vulkan instance, every physical device it can see,
 * the logical devices opened on demand, device memory and buffers, uploads,
 * and submission. It knows nothing of models or tokens.
 *
 * Vulkan is reached through volk. Instance-level entry points are loaded
 * into volk's globals (they dispatch on the handle, so several instances
 * coexist); each logical device keeps its own function table, so two devices
 * or two runtimes never share device state. */
#ifndef VKL_GPU_GPU_H
#define VKL_GPU_GPU_H

#include <stdbool.h>
#include <stdint.h>
#include <threads.h>

#include <volk.h>

#include "core/error.h"
#include "core/log.h"
#include "ops/shader_table.h"

typedef struct vkl_gpu_device vkl_gpu_device;

typedef struct vkl_gpu_instance {
    VkInstance instance;
    uint32_t api_version;                   /* the instance's; devices use at most this */
    VkDebugUtilsMessengerEXT messenger;     /* VK_NULL_HANDLE without validation */
    /* Extension entry points are per instance: volk's globals hold those of
     * the instance loaded last, which may not have the extension. */
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    const vkl_logger *logger;
    uint32_t device_count;
    VkPhysicalDevice *physical;             /* [device_count] */
    vkllm_device_info *infos;               /* [device_count] */
    vkl_gpu_device **opened;                /* [device_count], NULL until opened */
    mtx_t open_lock;                        /* guards opened[] */
    char pipeline_cache_dir[1024];          /* empty: no cache on disk */
} vkl_gpu_instance;

/* pipeline_cache_dir: where compiled pipelines are kept between runs, or
 * NULL for nowhere. */
vkllm_status vkl_gpu_instance_create(vkl_gpu_instance *gi, const vkl_logger *logger,
                                     bool validation, const char *pipeline_cache_dir,
                                     vkl_error *err);
void vkl_gpu_instance_destroy(vkl_gpu_instance *gi);

/* Index of the best device: discrete, integrated, virtual, CPU, other. */
uint32_t vkl_gpu_default_device(const vkl_gpu_instance *gi);

/* Opens (once) and returns the logical device for physical device index. */
vkllm_status vkl_gpu_device_get(vkl_gpu_instance *gi, uint32_t index, vkl_gpu_device **out,
                                vkl_error *err);

/* ------------------------------------------------------------------------ */
/* Logical devices                                                           */

#define VKL_MAX_SPEC_CONSTANTS 4
#define VKL_MAX_BINDINGS 6          /* storage buffers in the one descriptor-set layout */
#define VKL_MAX_TEXEL_BINDINGS 2    /* uniform texel buffers after them (bindings 6, 7) */
#define VKL_PUSH_CONSTANT_BYTES 64

typedef struct vkl_pipeline_entry {
    vkl_shader_id shader;
    uint32_t spec[VKL_MAX_SPEC_CONSTANTS];
    VkPipeline pipeline;
} vkl_pipeline_entry;

typedef struct vkl_memory_types {
    uint32_t device;        /* device-local: weights and activations */
    uint32_t host;          /* host-visible and coherent: staging, step data, readback */
} vkl_memory_types;

struct vkl_gpu_device {
    const vkllm_device_info *info;
    const vkl_logger *logger;
    VkPhysicalDevice physical;
    VkDevice device;
    struct VolkDeviceTable vk;
    uint32_t queue_family;
    VkQueue queue;
    mtx_t queue_lock;                       /* vkQueueSubmit needs external sync */
    vkl_memory_types memory_types;
    VkDeviceSize nonatomic_size;            /* for flushing non-coherent host memory */
    uint64_t max_binding;                   /* bytes one storage-buffer binding may span */
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    VkPipelineCache pipeline_cache;
    char pipeline_cache_path[1200];         /* empty: not kept on disk */
    VkShaderModule modules[VKL_SHADER_COUNT];
    vkl_pipeline_entry *pipelines;
    uint32_t pipeline_count;
    uint32_t pipeline_capacity;
    mtx_t pipeline_lock;                    /* guards modules[] and pipelines */
    struct vkl_transfer *transfer;          /* staging for uploads and reads */
    bool cpu_kernels;                       /* kernels chosen for a CPU device (lanes layout,
                                               row kernels); tests clear it to run a CPU
                                               driver through the GPU kernels */
};

/* Returns the pipeline for a shader with the given specialization constants
 * (ids 0..spec_count-1; id 0 is always the workgroup's x size), creating it
 * on first use. Never called per token: graphs ask while recording. */
vkllm_status vkl_gpu_pipeline(vkl_gpu_device *dev, vkl_shader_id shader, const uint32_t *spec,
                              uint32_t spec_count, VkPipeline *out, vkl_error *err);

/* Turns a failed VkResult into a status and message naming the call. */
vkllm_status vkl_vk_fail(vkl_error *err, VkResult result, const char *call);

#define VKL_VK_CHECK(err, call)                                 \
    do {                                                        \
        VkResult vkl_result_ = (call);                          \
        if (vkl_result_ != VK_SUCCESS)                          \
            return vkl_vk_fail((err), vkl_result_, #call);      \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Memory: a bump arena of large blocks, each one VkDeviceMemory bound to one
 * VkBuffer, handing out aligned ranges. Everything is freed together. */

typedef struct vkl_buffer_view {
    VkBuffer buffer;
    VkDeviceSize offset;
    VkDeviceSize size;
    void *mapped;                           /* host pointer to offset, or NULL */
} vkl_buffer_view;

typedef struct vkl_memory_block {
    VkDeviceMemory memory;
    VkBuffer buffer;
    VkDeviceSize size;
    VkDeviceSize used;
    void *mapped;
} vkl_memory_block;

typedef struct vkl_arena {
    vkl_gpu_device *dev;
    bool host_visible;
    VkDeviceSize block_size;
    vkl_memory_block *blocks;
    uint32_t block_count;
    uint32_t block_capacity;
    uint64_t allocated;                     /* bytes handed out */
    uint64_t piece_limit;                   /* most bytes a tensor piece may take:
                                               the device's binding limit, lowered
                                               only by tests of the splitting */
    VkBufferView *views;                    /* texel views of ranges, freed with it */
    uint32_t view_count;
    uint32_t view_capacity;
} vkl_arena;

void vkl_arena_init(vkl_arena *arena, vkl_gpu_device *dev, bool host_visible);
void vkl_arena_free(vkl_arena *arena);

/* A range of size bytes (rounded up to 16) that one descriptor can bind,
 * as a storage buffer or as a texel buffer. */
vkllm_status vkl_arena_alloc(vkl_arena *arena, VkDeviceSize size, vkl_buffer_view *out,
                             vkl_error *err);

/* A view of a range as texels of a 16-byte format, kept until the arena is
 * freed. The range's offset must suit texel views (arena ranges do). */
vkllm_status vkl_arena_texel_view(vkl_arena *arena, const vkl_buffer_view *range,
                                  VkFormat format, VkBufferView *out, vkl_error *err);

/* The same view, owned by the caller: fails when the range holds more
 * texels than the device's maxTexelBufferElements. */
vkllm_status vkl_gpu_texel_view(vkl_gpu_device *dev, const vkl_buffer_view *range,
                                VkFormat format, VkBufferView *out, vkl_error *err);

/* ------------------------------------------------------------------------ */
/* One-off work: uploads and reads through a staging buffer, and submitting a
 * recorded command buffer and waiting for it. */

vkllm_status vkl_gpu_upload(vkl_gpu_device *dev, const vkl_buffer_view *dst, const void *data,
                            VkDeviceSize size, vkl_error *err);
vkllm_status vkl_gpu_download(vkl_gpu_device *dev, const vkl_buffer_view *src, void *data,
                              VkDeviceSize size, vkl_error *err);
vkllm_status vkl_gpu_submit_wait(vkl_gpu_device *dev, VkCommandBuffer cmd, VkFence fence,
                                 vkl_error *err);

/* Command buffers from a pool of their own, and a fence to wait on them:
 * what every owner of recorded work holds. */
#define VKL_MAX_COMMAND_BUFFERS 2

typedef struct vkl_commands {
    VkCommandPool pool;
    VkCommandBuffer cmd[VKL_MAX_COMMAND_BUFFERS];
    VkFence fence;
} vkl_commands;

/* count buffers (at most VKL_MAX_COMMAND_BUFFERS); resettable ones may be
 * recorded again, the others are recorded once and replayed. */
vkllm_status vkl_commands_create(vkl_gpu_device *dev, uint32_t count, bool resettable,
                                 vkl_commands *out, vkl_error *err);
void vkl_commands_destroy(vkl_gpu_device *dev, vkl_commands *c);

#endif
