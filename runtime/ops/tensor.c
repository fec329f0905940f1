/* Weights on a device: a matrix is uploaded in row pieces no larger than
 * one storage-buffer binding may span (lavapipe allows 128 MiB), so a tensor
 * of any size can be bound, one dispatch per piece. In the lanes layout a
 * piece is also viewed as texels, and no larger than a texel view spans. */
#include <stdlib.h>

#include "ops/lanes.h"
#include "ops/ops.h"

/* Rows are packed into the lanes layout this many bytes at a time on their
 * way up, so that packing needs no copy of a whole piece. */
#define PACK_CHUNK_BYTES ((uint64_t)4 << 20)

static uint64_t stored_row_bytes(vkl_weight_layout layout, const vkl_host_tensor *src)
{
    if (layout == VKL_LAYOUT_LANES)
        return vkl_lanes_row_bytes(src->type, (uint64_t)src->cols);
    return vkl_dtype_row_bytes(src->type, (uint64_t)src->cols);
}

static uint64_t piece_limit(const vkl_arena *arena, vkl_weight_layout layout)
{
    uint64_t limit = arena->piece_limit;
    uint64_t texel_limit = (uint64_t)arena->dev->info->max_texel_buffer_elements * 16;
    if (layout == VKL_LAYOUT_LANES && texel_limit < limit)
        limit = texel_limit;
    return limit;
}

static uint32_t rows_per_piece(const vkl_arena *arena, vkl_weight_layout layout,
                               const vkl_host_tensor *src)
{
    /* A piece is rounded up to whole texels, hence the 16 bytes kept spare. */
    uint64_t rows = (piece_limit(arena, layout) - 16) / stored_row_bytes(layout, src);
    return rows > (uint64_t)src->rows ? (uint32_t)src->rows : (uint32_t)rows;
}

static vkllm_status check_shape(const vkl_arena *arena, vkl_weight_layout layout,
                                const vkl_host_tensor *src, vkl_error *err)
{
    if (src->rows <= 0 || src->cols <= 0 || src->rows > UINT32_MAX || src->cols > UINT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "a tensor of %lld x %lld is empty "
                        "or too large", (long long)src->rows, (long long)src->cols);
    uint64_t row_bytes = stored_row_bytes(layout, src);
    if (row_bytes == 0)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "a %s tensor's rows of %lld weights are not whole blocks of its type",
                        vkl_dtype_name(src->type), (long long)src->cols);
    if (row_bytes + 16 > piece_limit(arena, layout))
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "one row of %llu bytes exceeds the %llu bytes a binding may span",
                        (unsigned long long)row_bytes,
                        (unsigned long long)piece_limit(arena, layout));
    return VKLLM_OK;
}

/* Packs rows [row0, row0 + rows) into the lanes layout a chunk at a time
 * and uploads them to dst. */
static vkllm_status upload_lanes(vkl_gpu_device *dev, const vkl_host_tensor *src,
                                 uint32_t row0, uint32_t rows, const vkl_buffer_view *dst,
                                 vkl_error *err)
{
    uint64_t src_row = vkl_dtype_row_bytes(src->type, (uint64_t)src->cols);
    uint64_t dst_row = vkl_lanes_row_bytes(src->type, (uint64_t)src->cols);
    uint64_t chunk_rows = PACK_CHUNK_BYTES / dst_row > 0 ? PACK_CHUNK_BYTES / dst_row : 1;
    void *packed = malloc(chunk_rows * dst_row);
    if (packed == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory packing weights");

    vkllm_status status = VKLLM_OK;
    for (uint64_t done = 0; done < rows && status == VKLLM_OK; done += chunk_rows) {
        uint64_t n = rows - done < chunk_rows ? rows - done : chunk_rows;
        vkl_lanes_pack(src->type, (uint64_t)src->cols,
                       (const char *)src->data + (row0 + done) * src_row, n, packed);
        vkl_buffer_view part = *dst;
        part.offset += done * dst_row;
        part.size = n * dst_row;
        status = vkl_gpu_upload(dev, &part, packed, part.size, err);
    }
    free(packed);
    return status;
}

static vkllm_status upload_piece(vkl_arena *arena, const vkl_host_tensor *src,
                                 vkl_weight_layout layout, vkl_tensor_piece *piece,
                                 vkl_error *err)
{
    uint64_t row_bytes = stored_row_bytes(layout, src);
    vkllm_status status = vkl_arena_alloc(arena, row_bytes * piece->rows, &piece->view, err);
    if (status != VKLLM_OK)
        return status;
    if (layout == VKL_LAYOUT_BLOCKS)
        return vkl_gpu_upload(arena->dev, &piece->view,
                              (const char *)src->data + row_bytes * piece->row0,
                              row_bytes * piece->rows, err);

    status = upload_lanes(arena->dev, src, piece->row0, piece->rows, &piece->view, err);
    if (status == VKLLM_OK)
        status = vkl_arena_texel_view(arena, &piece->view, VK_FORMAT_R32G32B32A32_UINT,
                                      &piece->texels, err);
    return status;
}

vkllm_status vkl_tensor_upload(vkl_arena *arena, const vkl_host_tensor *src,
                               vkl_weight_layout layout, vkl_tensor *out, vkl_error *err)
{
    if (layout == VKL_LAYOUT_LANES && vkl_lanes_row_bytes(src->type, (uint64_t)src->cols) == 0)
        layout = VKL_LAYOUT_BLOCKS;
    *out = (vkl_tensor){.type = src->type, .layout = layout};
    vkllm_status status = check_shape(arena, layout, src, err);
    if (status != VKLLM_OK)
        return status;

    uint32_t per_piece = rows_per_piece(arena, layout, src);
    uint32_t count = ((uint32_t)src->rows + per_piece - 1) / per_piece;
    out->pieces = calloc(count, sizeof *out->pieces);
    if (out->pieces == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for a tensor");
    out->rows = (uint32_t)src->rows;
    out->cols = (uint32_t)src->cols;

    for (uint32_t i = 0; i < count && status == VKLLM_OK; i++) {
        vkl_tensor_piece *piece = &out->pieces[i];
        piece->row0 = i * per_piece;
        piece->rows = out->rows - piece->row0 < per_piece ? out->rows - piece->row0 : per_piece;
        status = upload_piece(arena, src, layout, piece, err);
        out->piece_count = i + 1;
    }
    return status;
}

void vkl_tensor_free(vkl_tensor *t)
{
    free(t->pieces);
    *t = (vkl_tensor){0};
}
