/* The SPIR-V of every shader variant, embedded at build time. */
#ifndef VKL_OPS_SHADER_TABLE_H
#define VKL_OPS_SHADER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "shader_ids.h"

typedef struct vkl_shader_code {
    const char *name;
    const uint32_t *words;
    size_t size;            /* bytes */
} vkl_shader_code;

extern const vkl_shader_code vkl_shader_table[VKL_SHADER_COUNT];

#endif
