/* vkllm devices: every Vulkan device with the limits the runtime uses. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char *type_name(vkllm_device_type type)
{
    switch (type) {
    case VKLLM_DEVICE_DISCRETE_GPU: return "discrete GPU";
    case VKLLM_DEVICE_INTEGRATED_GPU: return "integrated GPU";
    case VKLLM_DEVICE_VIRTUAL_GPU: return "virtual GPU";
    case VKLLM_DEVICE_CPU: return "CPU";
    default: return "other";
    }
}

static void print_device_text(uint32_t index, const vkllm_device_info *d, bool is_default)
{
    printf("%u: %s%s\n", index, d->name, is_default ? "  (default)" : "");
    printf("   type %s, driver %s %s, Vulkan %u.%u.%u\n", type_name(d->type), d->driver_name,
           d->driver_info, d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
           d->api_version & 0xfff);
    for (uint32_t h = 0; h < d->heap_count; h++)
        printf("   heap %u: %.1f MiB%s\n", h, d->heaps[h].size / 1048576.0,
               d->heaps[h].device_local ? " device-local" : "");
    printf("   subgroup %u, workgroup max %u invocations, shared memory %u B\n",
           d->subgroup_size, d->max_workgroup_invocations, d->max_shared_memory);
    printf("   storage buffer range %llu B, allocation max %llu B, fp16 %s\n",
           (unsigned long long)d->max_storage_buffer_range,
           (unsigned long long)d->max_allocation_size, d->shader_float16 ? "yes" : "no");
    printf("   subgroup arithmetic %s, ", d->subgroup_arithmetic ? "yes" : "no");
    if (d->coopmat != VKLLM_COOPMAT_NONE)
        printf("cooperative matrix %s %u x %u x %u (F16, F32 sums)\n",
               d->coopmat == VKLLM_COOPMAT_KHR ? "KHR" : "NV", d->coopmat_tile[0],
               d->coopmat_tile[1], d->coopmat_tile[2]);
    else
        printf("cooperative matrix none\n");
}

static cJSON *device_json(uint32_t index, const vkllm_device_info *d, bool is_default)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", type_name(d->type));
    cJSON_AddBoolToObject(o, "default", is_default);
    cJSON_AddStringToObject(o, "driver", d->driver_name);
    cJSON_AddStringToObject(o, "driver_info", d->driver_info);
    cJSON_AddNumberToObject(o, "vendor_id", d->vendor_id);
    cJSON_AddNumberToObject(o, "device_id", d->device_id);
    cJSON_AddNumberToObject(o, "api_version", d->api_version);
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddNumberToObject(o, "max_workgroup_invocations", d->max_workgroup_invocations);
    cJSON_AddNumberToObject(o, "max_shared_memory", d->max_shared_memory);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddNumberToObject(o, "max_allocation_size", (double)d->max_allocation_size);
    cJSON_AddNumberToObject(o, "min_storage_offset_alignment", d->min_storage_offset_alignment);
    cJSON_AddBoolToObject(o, "shader_float16", d->shader_float16);
    cJSON_AddBoolToObject(o, "storage_16bit", d->storage_16bit);
    cJSON_AddBoolToObject(o, "subgroup_arithmetic", d->subgroup_arithmetic);
    const char *coopmat_names[] = {"none", "KHR", "NV"};
    cJSON_AddStringToObject(o, "coopmat", coopmat_names[d->coopmat]);
    cJSON *tile = cJSON_AddArrayToObject(o, "coopmat_tile");
    for (int i = 0; i < 3; i++)
        cJSON_AddItemToArray(tile, cJSON_CreateNumber(d->coopmat_tile[i]));
    cJSON *heaps = cJSON_AddArrayToObject(o, "heaps");
    for (uint32_t h = 0; h < d->heap_count; h++) {
        cJSON *heap = cJSON_CreateObject();
        cJSON_AddNumberToObject(heap, "size", (double)d->heaps[h].size);
        cJSON_AddBoolToObject(heap, "device_local", d->heaps[h].device_local);
        cJSON_AddItemToArray(heaps, heap);
    }
    return o;
}

int cli_devices(int argc, char **argv)
{
    bool json = argc > 2 && !strcmp(argv[2], "--json");
    if (argc > 2 + json)
        return cli_report("devices", "the only option is --json");

    vkllm_runtime *rt;
    if (vkllm_runtime_create(NULL, &rt) != VKLLM_OK) {
        int code = cli_report("cannot start Vulkan", vkllm_runtime_error(rt));
        vkllm_runtime_destroy(rt);
        return code;
    }

    uint32_t best = vkllm_runtime_default_device(rt);
    cJSON *list = cJSON_CreateArray();
    for (uint32_t i = 0; i < vkllm_runtime_device_count(rt); i++) {
        vkllm_device_info info;
        vkllm_runtime_device_info(rt, i, &info);
        if (json)
            cJSON_AddItemToArray(list, device_json(i, &info, i == best));
        else
            print_device_text(i, &info, i == best);
    }
    if (json)
        cli_print_json(list);
    cJSON_Delete(list);
    vkllm_runtime_destroy(rt);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_report("devices", "cannot write to standard output");
    return 0;
}
