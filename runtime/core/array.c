#include "core/array.h"

#include <stdlib.h>

vkllm_status vkl_array_reserve_one(void **items, uint32_t count, uint32_t *capacity,
                                   size_t item_size, vkl_error *err)
{
    if (count < *capacity)
        return VKLLM_OK;

    uint32_t grown_capacity = *capacity ? *capacity * 2 : 8;
    void *grown = realloc(*items, (size_t)grown_capacity * item_size);
    if (grown == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    *items = grown;
    *capacity = grown_capacity;
    return VKLLM_OK;
}
