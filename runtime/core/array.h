/* Growing an array of items by doubling: the one place the library does it. */
#ifndef VKL_CORE_ARRAY_H
#define VKL_CORE_ARRAY_H

#include <stdint.h>

#include "core/error.h"

/* Makes room for at least one more item in *items when count has reached
 * *capacity, doubling it (or starting at 8). */
vkllm_status vkl_array_reserve_one(void **items, uint32_t count, uint32_t *capacity,
                                   size_t item_size, vkl_error *err);

#endif
