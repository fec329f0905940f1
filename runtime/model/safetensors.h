/* The safetensors format: an 8-byte header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the data. Parsed in place
 * over a mapped file; every range is checked against the data it points at. */
#ifndef VKL_MODEL_SAFETENSORS_H
#define VKL_MODEL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_file.h"

#define VKL_ST_MAX_DIMS 4

typedef struct vkl_st_tensor {
    char *name;                     /* owned */
    bool supported;                 /* dtype is F32, F16 or BF16 */
    vkl_dtype type;                 /* when supported */
    char dtype_name[16];            /* as the header spells it */
    int n_dims;
    int64_t shape[VKL_ST_MAX_DIMS]; /* outermost first: shape[n_dims - 1] is the row length */
    const void *data;               /* into the image */
    uint64_t bytes;
} vkl_st_tensor;

typedef struct vkl_safetensors {
    vkl_st_tensor *tensors;
    size_t count;
} vkl_safetensors;

/* name is for messages. The result points into bytes, which must outlive it. */
vkllm_status vkl_safetensors_parse(const void *bytes, size_t size, const char *name,
                                   vkl_safetensors **out, vkl_error *err);
void vkl_safetensors_free(vkl_safetensors *st);
const vkl_st_tensor *vkl_safetensors_find(const vkl_safetensors *st, const char *name);

#endif
