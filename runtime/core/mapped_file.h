/* A whole file mapped read-only: the one way model readers reach file
 * bytes, so that weights stream from the page cache to the device without
 * a copy in host memory. */
#ifndef VKL_CORE_MAPPED_FILE_H
#define VKL_CORE_MAPPED_FILE_H

#include <stddef.h>

#include "core/error.h"

typedef struct vkl_mapped_file {
    const void *data;
    size_t size;
} vkl_mapped_file;

/* Maps a regular file (VKLLM_ERROR_IO when it cannot be opened or is not a
 * regular file, naming it). An empty file gives size 0 and no mapping. */
vkllm_status vkl_mapped_file_open(const char *path, vkl_mapped_file *out, vkl_error *err);
void vkl_mapped_file_close(vkl_mapped_file *map);

#endif
