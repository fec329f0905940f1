/* Weights on a device: a matrix is uploaded in row pieces no larger than
 * one storage-buffer binding may span (lavapipe allows 128 MiB), so a tensor
 * of any size can be bound, one dispatch per piece. */
#include <stdlib.h>

#include "ops/ops.h"

static uint32_t rows_per_piece(const vkl_arena *arena, const vkl_host_tensor *src)
{
    /* A piece is rounded up to whole words, hence the 4 bytes kept spare. */
    uint64_t row_bytes = vkl_dtype_row_bytes(src->type, (uint64_t)src->cols);
    uint64_t rows = (arena->piece_limit - 4) / row_bytes;
    return rows > (uint64_t)src->rows ? (uint32_t)src->rows : (uint32_t)rows;
}

static vkllm_status check_shape(const vkl_arena *arena, const vkl_host_tensor *src,
                                vkl_error *err)
{
    uint64_t row_bytes = vkl_dtype_row_bytes(src->type, (uint64_t)src->cols);
    if (src->rows <= 0 || src->cols <= 0 || src->rows > UINT32_MAX || src->cols > UINT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "a tensor of %lld x %lld is empty "
                        "or too large", (long long)src->rows, (long long)src->cols);
    if (row_bytes == 0)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "a %s tensor's rows of %lld weights are not whole blocks of its type",
                        vkl_dtype_name(src->type), (long long)src->cols);
    if (row_bytes + 4 > arena->piece_limit)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "one row of %llu bytes exceeds the %llu bytes a binding may span",
                        (unsigned long long)row_bytes, (unsigned long long)arena->piece_limit);
    return VKLLM_OK;
}

vkllm_status vkl_tensor_upload(vkl_arena *arena, const vkl_host_tensor *src, vkl_tensor *out,
                               vkl_error *err)
{
    *out = (vkl_tensor){.type = src->type};
    vkllm_status status = check_shape(arena, src, err);
    if (status != VKLLM_OK)
        return status;

    uint32_t per_piece = rows_per_piece(arena, src);
    uint32_t count = ((uint32_t)src->rows + per_piece - 1) / per_piece;
    out->pieces = calloc(count, sizeof *out->pieces);
    if (out->pieces == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for a tensor");
    out->rows = (uint32_t)src->rows;
    out->cols = (uint32_t)src->cols;

    size_t row_bytes = vkl_dtype_row_bytes(src->type, (uint64_t)src->cols);
    for (uint32_t i = 0; i < count && status == VKLLM_OK; i++) {
        vkl_tensor_piece *piece = &out->pieces[i];
        piece->row0 = i * per_piece;
        piece->rows = out->rows - piece->row0 < per_piece ? out->rows - piece->row0 : per_piece;
        size_t bytes = row_bytes * piece->rows;
        status = vkl_arena_alloc(arena, bytes, &piece->view, err);
        if (status == VKLLM_OK)
            status = vkl_gpu_upload(arena->dev, &piece->view,
                                    (const char *)src->data + row_bytes * piece->row0, bytes, err);
        out->piece_count = i + 1;
    }
    return status;
}

void vkl_tensor_free(vkl_tensor *t)
{
    free(t->pieces);
    *t = (vkl_tensor){0};
}
