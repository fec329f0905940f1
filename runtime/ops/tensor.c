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

/* Where a stored matrix's rows come from: row r is row r / count of
 * parts[r % count], so two parts alternate their rows. */
typedef struct row_source {
    const vkl_host_tensor *parts[2];
    uint32_t count;
} row_source;

static const void *source_row(const row_source *src, uint64_t r)
{
    const vkl_host_tensor *part = src->parts[r % src->count];
    uint64_t row_bytes = vkl_dtype_row_bytes(part->type, (uint64_t)part->cols);
    return (const char *)part->data + r / src->count * row_bytes;
}

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

/* Rows of a piece: as many as fit, a multiple of the parts so that a
 * piece starts on a whole group of alternating rows. */
static uint32_t rows_per_piece(const vkl_arena *arena, vkl_weight_layout layout,
                               const row_source *src, uint64_t total_rows)
{
    /* A piece is rounded up to whole texels, hence the 16 bytes kept spare. */
    uint64_t rows = (piece_limit(arena, layout) - 16) / stored_row_bytes(layout, src->parts[0]);
    rows -= rows % src->count;
    return rows > total_rows ? (uint32_t)total_rows : (uint32_t)rows;
}

/* A piece must hold a row of each part. */
static vkllm_status check_shape(const vkl_arena *arena, vkl_weight_layout layout,
                                const vkl_host_tensor *src, uint32_t parts, vkl_error *err)
{
    if (src->rows <= 0 || src->cols <= 0 || src->rows > UINT32_MAX || src->cols > UINT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "a tensor of %lld x %lld is empty "
                        "or too large", (long long)src->rows, (long long)src->cols);
    uint64_t row_bytes = stored_row_bytes(layout, src);
    if (row_bytes == 0)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "a %s tensor's rows of %lld weights are not whole blocks of its type",
                        vkl_dtype_name(src->type), (long long)src->cols);
    if (row_bytes * parts + 16 > piece_limit(arena, layout))
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "one row of %llu bytes exceeds the %llu bytes a binding may span",
                        (unsigned long long)row_bytes,
                        (unsigned long long)piece_limit(arena, layout));
    return VKLLM_OK;
}

/* Packs rows [row0, row0 + rows) into the lanes layout a chunk at a time
 * and uploads them to dst. */
static vkllm_status upload_lanes(vkl_gpu_device *dev, const row_source *src, uint32_t row0,
                                 uint32_t rows, const vkl_buffer_view *dst, vkl_error *err)
{
    const vkl_host_tensor *shape = src->parts[0];
    uint64_t dst_row = vkl_lanes_row_bytes(shape->type, (uint64_t)shape->cols);
    uint64_t chunk_rows = PACK_CHUNK_BYTES / dst_row > 0 ? PACK_CHUNK_BYTES / dst_row : 1;
    void *packed = malloc(chunk_rows * dst_row);
    if (packed == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory packing weights");

    vkllm_status status = VKLLM_OK;
    for (uint64_t done = 0; done < rows && status == VKLLM_OK; done += chunk_rows) {
        uint64_t n = rows - done < chunk_rows ? rows - done : chunk_rows;
        for (uint64_t i = 0; i < n; i++)
            vkl_lanes_pack_row(shape->type, (uint64_t)shape->cols,
                               source_row(src, row0 + done + i), (char *)packed + i * dst_row);
        vkl_buffer_view part = *dst;
        part.offset += done * dst_row;
        part.size = n * dst_row;
        status = vkl_gpu_upload(dev, &part, packed, part.size, err);
    }
    free(packed);
    return status;
}

static vkllm_status upload_piece(vkl_arena *arena, const row_source *src,
                                 vkl_weight_layout layout, vkl_tensor_piece *piece,
                                 vkl_error *err)
{
    uint64_t row_bytes = stored_row_bytes(layout, src->parts[0]);
    vkllm_status status = vkl_arena_alloc(arena, row_bytes * piece->rows, &piece->view, err);
    if (status != VKLLM_OK)
        return status;
    /* Blocks come from one part, whose rows are contiguous. */
    if (layout == VKL_LAYOUT_BLOCKS)
        return vkl_gpu_upload(arena->dev, &piece->view, source_row(src, piece->row0),
                              row_bytes * piece->rows, err);

    status = upload_lanes(arena->dev, src, piece->row0, piece->rows, &piece->view, err);
    if (status == VKLLM_OK)
        status = vkl_arena_texel_view(arena, &piece->view, VK_FORMAT_R32G32B32A32_UINT,
                                      &piece->texels, err);
    return status;
}

static vkllm_status upload_rows(vkl_arena *arena, const row_source *src,
                                vkl_weight_layout layout, vkl_tensor *out, vkl_error *err)
{
    const vkl_host_tensor *shape = src->parts[0];
    *out = (vkl_tensor){.type = shape->type, .layout = layout, .paired = src->count == 2};
    vkllm_status status = check_shape(arena, layout, shape, src->count, err);
    if (status != VKLLM_OK)
        return status;

    uint64_t total_rows = (uint64_t)shape->rows * src->count;
    if (total_rows > UINT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "a tensor of %llu rows is too large",
                        (unsigned long long)total_rows);
    uint32_t per_piece = rows_per_piece(arena, layout, src, total_rows);
    uint32_t count = (uint32_t)((total_rows + per_piece - 1) / per_piece);
    out->pieces = calloc(count, sizeof *out->pieces);
    if (out->pieces == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for a tensor");
    out->rows = (uint32_t)total_rows;
    out->cols = (uint32_t)shape->cols;

    for (uint32_t i = 0; i < count && status == VKLLM_OK; i++) {
        vkl_tensor_piece *piece = &out->pieces[i];
        piece->row0 = i * per_piece;
        piece->rows = out->rows - piece->row0 < per_piece ? out->rows - piece->row0 : per_piece;
        status = upload_piece(arena, src, layout, piece, err);
        out->piece_count = i + 1;
    }
    return status;
}

vkllm_status vkl_tensor_upload(vkl_arena *arena, const vkl_host_tensor *src,
                               vkl_weight_layout layout, vkl_tensor *out, vkl_error *err)
{
    if (layout == VKL_LAYOUT_LANES && vkl_lanes_row_bytes(src->type, (uint64_t)src->cols) == 0)
        layout = VKL_LAYOUT_BLOCKS;
    row_source rows = {{src, NULL}, 1};
    return upload_rows(arena, &rows, layout, out, err);
}

bool vkl_tensor_can_pair(const vkl_host_tensor *even, const vkl_host_tensor *odd)
{
    return even->data != NULL && odd->data != NULL && even->type == odd->type &&
           even->rows == odd->rows && even->cols == odd->cols &&
           vkl_lanes_row_bytes(even->type, (uint64_t)even->cols) != 0;
}

vkllm_status vkl_tensor_upload_pairs(vkl_arena *arena, const vkl_host_tensor *even,
                                     const vkl_host_tensor *odd, vkl_tensor *out,
                                     vkl_error *err)
{
    if (!vkl_tensor_can_pair(even, odd)) {
        *out = (vkl_tensor){0};
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "two matrices paired row by row must share a type and shape that "
                        "the lanes layout holds");
    }
    row_source rows = {{even, odd}, 2};
    return upload_rows(arena, &rows, VKL_LAYOUT_LANES, out, err);
}

void vkl_tensor_free(vkl_tensor *t)
{
    free(t->pieces);
    *t = (vkl_tensor){0};
}
