#include "model/model_file.h"

typedef struct dtype_info {
    vkl_dtype type;
    const char *name;
    uint32_t block_weights;
    uint32_t block_bytes;
} dtype_info;

static const dtype_info dtypes[] = {
    {VKL_DTYPE_F32, "F32", 1, 4},
    {VKL_DTYPE_F16, "F16", 1, 2},
    {VKL_DTYPE_BF16, "BF16", 1, 2},
    {VKL_DTYPE_Q8_0, "Q8_0", 32, 34},
    {VKL_DTYPE_Q4_0, "Q4_0", 32, 18},
    {VKL_DTYPE_Q4_K, "Q4_K", 256, 144},
    {VKL_DTYPE_Q6_K, "Q6_K", 256, 210},
};

static const dtype_info *find_dtype(vkl_dtype type)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++) {
        if (dtypes[i].type == type)
            return &dtypes[i];
    }
    return NULL;
}

bool vkl_dtype_layout(vkl_dtype type, uint32_t *block_weights, uint32_t *block_bytes)
{
    const dtype_info *info = find_dtype(type);
    if (info == NULL)
        return false;
    *block_weights = info->block_weights;
    *block_bytes = info->block_bytes;
    return true;
}

const char *vkl_dtype_name(vkl_dtype type)
{
    const dtype_info *info = find_dtype(type);
    return info != NULL ? info->name : "unknown";
}

uint64_t vkl_dtype_row_bytes(vkl_dtype type, uint64_t cols)
{
    const dtype_info *info = find_dtype(type);
    if (info == NULL || cols % info->block_weights != 0)
        return 0;
    return cols / info->block_weights * info->block_bytes;
}

uint64_t vkl_host_tensor_bytes(const vkl_host_tensor *t)
{
    /* A negative extent is a bug elsewhere; report no bytes rather than a
     * huge wrapped-around count. */
    if (t->rows < 0 || t->cols < 0)
        return 0;

    return (uint64_t)t->rows * vkl_dtype_row_bytes(t->type, (uint64_t)t->cols);
}
