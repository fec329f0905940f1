/* The runtime handle: log sink, Vulkan instance, device listing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"

const char *vkllm_status_string(vkllm_status status)
{
    switch (status) {
    case VKLLM_OK: return "success";
    case VKLLM_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case VKLLM_ERROR_IO: return "file error";
    case VKLLM_ERROR_BAD_MODEL: return "bad model file";
    case VKLLM_ERROR_BAD_TOKENIZER: return "bad tokenizer file";
    case VKLLM_ERROR_NO_DEVICE: return "no Vulkan device";
    case VKLLM_ERROR_VULKAN: return "Vulkan error";
    case VKLLM_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VKLLM_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VKLLM_ERROR_CONTEXT_FULL: return "context full";
    case VKLLM_ERROR_UNSUPPORTED: return "unsupported";
    case VKLLM_ERROR_DEVICE_LOST: return "device lost";
    }
    return "unknown status";
}

vkllm_status vkl_api_record(vkl_error *slot, const vkl_error *err)
{
    *slot = *err;
    return err->status;
}

vkllm_runtime_options vkllm_runtime_default_options(void)
{
    return (vkllm_runtime_options){.log_level = VKLLM_LOG_WARN};
}

vkllm_status vkllm_runtime_create(const vkllm_runtime_options *options, vkllm_runtime **out)
{
    if (out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    vkllm_runtime *rt = calloc(1, sizeof *rt);
    *out = rt;
    if (rt == NULL)
        return VKLLM_ERROR_OUT_OF_HOST_MEMORY;

    vkllm_runtime_options defaults = vkllm_runtime_default_options();
    if (options == NULL)
        options = &defaults;
    rt->logger = (vkl_logger){options->log, options->log_user, options->log_level};

    vkl_error err = {0};
    vkllm_status status = vkl_gpu_instance_create(&rt->gpu, &rt->logger, options->validation,
                                                  options->pipeline_cache_dir, &err);
    if (status != VKLLM_OK)
        return vkl_api_record(&rt->error, &err);
    rt->gpu_ready = true;
    return VKLLM_OK;
}

void vkllm_runtime_destroy(vkllm_runtime *rt)
{
    if (rt == NULL)
        return;
    vkl_gpu_instance_destroy(&rt->gpu);
    free(rt);
}

const char *vkllm_runtime_error(const vkllm_runtime *rt)
{
    if (rt == NULL)
        return "no runtime (out of host memory)";
    return rt->error.message;
}

uint32_t vkllm_runtime_device_count(const vkllm_runtime *rt)
{
    return rt != NULL && rt->gpu_ready ? rt->gpu.device_count : 0;
}

vkllm_status vkllm_runtime_device_info(const vkllm_runtime *rt, uint32_t index,
                                       vkllm_device_info *info)
{
    if (info == NULL || index >= vkllm_runtime_device_count(rt))
        return VKLLM_ERROR_INVALID_ARGUMENT;
    *info = rt->gpu.infos[index];
    return VKLLM_OK;
}

uint32_t vkllm_runtime_default_device(const vkllm_runtime *rt)
{
    return vkllm_runtime_device_count(rt) > 0 ? vkl_gpu_default_device(&rt->gpu) : 0;
}

static bool contains_ignoring_case(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = haystack; *h != '\0'; h++) {
        size_t i = 0;
        while (i < n && h[i] != '\0' &&
               tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* All digits: an index (UINT32_MAX when too large for one, which no
 * device has). */
static bool parse_index(const char *text, uint32_t *index)
{
    if (*text == '\0')
        return false;
    for (const char *c = text; *c != '\0'; c++) {
        if (!isdigit((unsigned char)*c))
            return false;
    }
    unsigned long long value = strtoull(text, NULL, 10);
    *index = value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
    return true;
}

vkllm_status vkllm_runtime_find_device(vkllm_runtime *rt, const char *spec, uint32_t *index)
{
    if (rt == NULL || spec == NULL || index == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;

    uint32_t count = vkllm_runtime_device_count(rt);
    if (*spec == '\0')
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT,
                        "an empty device name matches nothing (see 'vkllm devices')");
    if (parse_index(spec, index)) {
        if (*index < count)
            return VKLLM_OK;
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT,
                        "device %s does not exist: %u device%s, numbered from 0 (see "
                        "'vkllm devices')", spec, count, count == 1 ? "" : "s");
    }
    for (uint32_t i = 0; i < count; i++) {
        if (contains_ignoring_case(rt->gpu.infos[i].name, spec)) {
            *index = i;
            return VKLLM_OK;
        }
    }
    return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT,
                    "no device's name contains '%s' (see 'vkllm devices')", spec);
}
