#include "model/model_file.h"

size_t vkl_dtype_size(vkl_dtype type)
{
    switch (type) {
    case VKL_DTYPE_F32:
        return 4;
    case VKL_DTYPE_F16:
        return 2;
    }
    return 0;
}

uint64_t vkl_host_tensor_bytes(const vkl_host_tensor *t)
{
    /* A negative extent is a bug elsewhere; report no bytes rather than a
     * huge wrapped-around count. */
    if (t->rows < 0 || t->cols < 0)
        return 0;

    return (uint64_t)t->rows * (uint64_t)t->cols * vkl_dtype_size(t->type);
}
