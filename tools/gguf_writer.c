/* The GGUF v3 layout this writes: a 24-byte header (magic, version, tensor
 * count, entry count), the metadata entries, the tensor directory, padding to
 * the alignment, then each tensor's data at its aligned offset. Everything
 * before the data is serialized into buffers as it is added, so writing is
 * two copies and then the stream of rows. */
#include "gguf_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/array.h"
#include "quantize.h"

#define GGUF_VERSION 3
#define HEADER_BYTES 24

typedef struct byte_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} byte_buffer;

/* A tensor waiting for its data: where it goes and where its rows come from. */
typedef struct pending_tensor {
    char *name;
    vkl_dtype type;
    int64_t rows;
    int64_t cols;
    uint64_t offset;            /* from the start of the data section */
    uint64_t bytes;
    gguf_row_fn source;
    const void *ctx;
} pending_tensor;

struct gguf_writer {
    byte_buffer kvs;            /* serialized metadata entries */
    uint64_t kv_count;
    byte_buffer infos;          /* serialized tensor directory */
    pending_tensor *tensors;
    uint32_t tensor_count;
    uint32_t tensor_capacity;
    uint64_t data_bytes;        /* the data section so far, padding included */
    bool out_of_memory;         /* an add failed; writing will say so */
};

/* ------------------------------------------------------------------------ */
/* Serializing                                                               */

static void put_bytes(gguf_writer *w, byte_buffer *b, const void *bytes, size_t n)
{
    if (w->out_of_memory)
        return;

    if (b->size + n > b->capacity) {
        size_t capacity = (b->size + n) * 2 + 256;
        uint8_t *grown = realloc(b->data, capacity);
        if (grown == NULL) {
            w->out_of_memory = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    if (n > 0)
        memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

/* GGUF is little-endian whatever the host is. */
static void put_le(gguf_writer *w, byte_buffer *b, uint64_t value, unsigned bytes)
{
    uint8_t le[8];
    for (unsigned i = 0; i < bytes; i++)
        le[i] = (uint8_t)(value >> (8 * i));
    put_bytes(w, b, le, bytes);
}

static void put_string(gguf_writer *w, byte_buffer *b, const char *text, uint64_t len)
{
    put_le(w, b, len, 8);
    put_bytes(w, b, text, (size_t)len);
}

/* Every entry starts with its key and its value type. */
static void put_key(gguf_writer *w, const char *key, vkl_gguf_type type)
{
    put_string(w, &w->kvs, key, strlen(key));
    put_le(w, &w->kvs, (uint64_t)type, 4);
    w->kv_count++;
}


static uint32_t f32_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                  */

gguf_writer *gguf_writer_create(void)
{
    gguf_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;

    gguf_writer_add_u32(w, "general.alignment", GGUF_WRITER_ALIGNMENT);
    return w;
}

void gguf_writer_destroy(gguf_writer *w)
{
    if (w == NULL)
        return;

    for (uint32_t i = 0; i < w->tensor_count; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    free(w->kvs.data);
    free(w->infos.data);
    free(w);
}

void gguf_writer_add_string(gguf_writer *w, const char *key, const char *value)
{
    put_key(w, key, VKL_GGUF_STRING);
    put_string(w, &w->kvs, value, strlen(value));
}

void gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value)
{
    put_key(w, key, VKL_GGUF_UINT32);
    put_le(w, &w->kvs, value, 4);
}

void gguf_writer_add_f32(gguf_writer *w, const char *key, float value)
{
    put_key(w, key, VKL_GGUF_FLOAT32);
    put_le(w, &w->kvs, f32_bits(value), 4);
}

void gguf_writer_add_bool(gguf_writer *w, const char *key, bool value)
{
    put_key(w, key, VKL_GGUF_BOOL);
    put_le(w, &w->kvs, value ? 1 : 0, 1);
}

static void put_string_array(gguf_writer *w, const char *const *texts, const size_t *lengths,
                             uint64_t count)
{
    put_le(w, &w->kvs, VKL_GGUF_STRING, 4);
    put_le(w, &w->kvs, count, 8);
    for (uint64_t i = 0; i < count; i++)
        put_string(w, &w->kvs, texts[i], lengths[i]);
}

void gguf_writer_add_string_array(gguf_writer *w, const char *key, const char *const *texts,
                                  const size_t *lengths, uint64_t count)
{
    put_key(w, key, VKL_GGUF_ARRAY);
    put_string_array(w, texts, lengths, count);
}

void gguf_writer_add_array(gguf_writer *w, const char *key, vkl_gguf_type type,
                           const void *values, uint64_t count)
{
    put_key(w, key, VKL_GGUF_ARRAY);
    put_le(w, &w->kvs, (uint64_t)type, 4);
    put_le(w, &w->kvs, count, 8);
    put_bytes(w, &w->kvs, values, (size_t)(count * vkl_gguf_value_size(type)));
}

/* A scalar as the reader widened it, narrowed back to its own size. */
static void put_scalar(gguf_writer *w, const vkl_gguf_kv *kv)
{
    uint64_t raw = kv->value.u64;
    if (kv->type == VKL_GGUF_FLOAT32)
        raw = f32_bits((float)kv->value.f64);
    else if (kv->type == VKL_GGUF_FLOAT64)
        memcpy(&raw, &kv->value.f64, sizeof raw);
    else if (kv->type == VKL_GGUF_INT8 || kv->type == VKL_GGUF_INT16 ||
             kv->type == VKL_GGUF_INT32 || kv->type == VKL_GGUF_INT64)
        raw = (uint64_t)kv->value.i64;     /* two's complement: the low bytes are the value */
    put_le(w, &w->kvs, raw, vkl_gguf_value_size(kv->type));
}

static void put_copied_array(gguf_writer *w, const vkl_gguf_array *arr)
{
    if (arr->type != VKL_GGUF_STRING) {
        put_le(w, &w->kvs, (uint64_t)arr->type, 4);
        put_le(w, &w->kvs, arr->count, 8);
        put_bytes(w, &w->kvs, arr->data,
                  (size_t)(arr->count * vkl_gguf_value_size(arr->type)));
        return;
    }

    put_le(w, &w->kvs, VKL_GGUF_STRING, 4);
    put_le(w, &w->kvs, arr->count, 8);
    for (uint64_t i = 0; i < arr->count; i++)
        put_string(w, &w->kvs, arr->strings[i].data, arr->strings[i].len);
}

void gguf_writer_copy_kv(gguf_writer *w, const vkl_gguf_kv *kv)
{
    put_string(w, &w->kvs, kv->key.data, kv->key.len);
    put_le(w, &w->kvs, (uint64_t)kv->type, 4);
    w->kv_count++;

    if (kv->type == VKL_GGUF_STRING)
        put_string(w, &w->kvs, kv->value.str.data, kv->value.str.len);
    else if (kv->type == VKL_GGUF_ARRAY)
        put_copied_array(w, &kv->value.arr);
    else
        put_scalar(w, kv);
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */

static uint64_t align_up(uint64_t n)
{
    return (n + GGUF_WRITER_ALIGNMENT - 1) / GGUF_WRITER_ALIGNMENT * GGUF_WRITER_ALIGNMENT;
}

static void put_tensor_info(gguf_writer *w, const gguf_tensor_spec *spec, uint64_t offset)
{
    put_string(w, &w->infos, spec->name, strlen(spec->name));
    put_le(w, &w->infos, spec->n_dims, 4);
    put_le(w, &w->infos, (uint64_t)spec->cols, 8);
    if (spec->n_dims == 2)
        put_le(w, &w->infos, (uint64_t)spec->rows, 8);
    put_le(w, &w->infos, (uint64_t)spec->type, 4);
    put_le(w, &w->infos, offset, 8);
}

bool gguf_writer_add_tensor(gguf_writer *w, const gguf_tensor_spec *spec)
{
    uint64_t row_bytes = vkl_dtype_row_bytes(spec->type, (uint64_t)spec->cols);
    bool vector = spec->n_dims == 1 && spec->rows == 1;
    if (row_bytes == 0 || spec->rows <= 0 || !(vector || spec->n_dims == 2))
        return false;

    if (vkl_array_reserve_one((void **)&w->tensors, w->tensor_count, &w->tensor_capacity,
                              sizeof *w->tensors, NULL) != VKLLM_OK) {
        w->out_of_memory = true;
        return true;
    }
    char *name = malloc(strlen(spec->name) + 1);
    if (name == NULL) {
        w->out_of_memory = true;
        return true;
    }
    strcpy(name, spec->name);

    /* Every tensor starts on an aligned offset, so the reader can map it. */
    uint64_t offset = align_up(w->data_bytes);
    uint64_t bytes = row_bytes * (uint64_t)spec->rows;
    w->tensors[w->tensor_count++] = (pending_tensor){
        name, spec->type, spec->rows, spec->cols, offset, bytes, spec->source, spec->ctx};
    w->data_bytes = offset + bytes;
    put_tensor_info(w, spec, offset);
    return true;
}

static uint64_t data_start(const gguf_writer *w)
{
    return align_up(HEADER_BYTES + w->kvs.size + w->infos.size);
}

uint64_t gguf_writer_file_size(const gguf_writer *w)
{
    return data_start(w) + w->data_bytes;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

/* The open output file and what it costs to fill one row. */
typedef struct sink {
    FILE *f;
    const char *path;
    uint64_t written;           /* bytes so far */
    float *row;                 /* [widest row] */
    uint8_t *encoded;           /* [its bytes in the widest type] */
} sink;

static bool put_file(sink *s, const void *bytes, size_t n)
{
    if (n > 0 && fwrite(bytes, 1, n, s->f) != n)
        return false;
    s->written += n;
    return true;
}

static bool pad_file(sink *s, uint64_t to)
{
    static const uint8_t zeros[GGUF_WRITER_ALIGNMENT];
    return put_file(s, zeros, (size_t)(to - s->written));
}

static bool write_head(const gguf_writer *w, sink *s)
{
    uint8_t header[HEADER_BYTES] = {'G', 'G', 'U', 'F'};
    uint64_t fields[3] = {GGUF_VERSION, w->tensor_count, w->kv_count};
    unsigned widths[3] = {4, 8, 8};
    size_t at = 4;

    for (int f = 0; f < 3; f++) {
        for (unsigned i = 0; i < widths[f]; i++)
            header[at++] = (uint8_t)(fields[f] >> (8 * i));
    }
    return put_file(s, header, sizeof header) && put_file(s, w->kvs.data, w->kvs.size) &&
           put_file(s, w->infos.data, w->infos.size) && pad_file(s, data_start(w));
}

static bool write_tensor(const gguf_writer *w, const pending_tensor *t, sink *s)
{
    uint64_t row_bytes = t->bytes / (uint64_t)t->rows;
    if (!pad_file(s, data_start(w) + t->offset))
        return false;

    for (int64_t r = 0; r < t->rows; r++) {
        t->source(t->ctx, r, t->cols, s->row);
        quantize_row(t->type, s->row, s->encoded, t->cols);
        if (!put_file(s, s->encoded, (size_t)row_bytes))
            return false;
    }
    return true;
}

static void report_progress(const gguf_writer *w, uint32_t index, const sink *s)
{
    const pending_tensor *t = &w->tensors[index];
    fprintf(stderr, "[%4u/%u] %-28s %-4s %6lld x %-6lld %8.1f MiB\n", index + 1,
            w->tensor_count, t->name, vkl_dtype_name(t->type), (long long)t->rows,
            (long long)t->cols, (double)s->written / (1024.0 * 1024.0));
}

/* The row buffers, sized for the widest row (F32 is the widest encoding). */
static bool alloc_rows(const gguf_writer *w, sink *s)
{
    int64_t widest = 1;
    for (uint32_t i = 0; i < w->tensor_count; i++) {
        if (w->tensors[i].cols > widest)
            widest = w->tensors[i].cols;
    }
    s->row = malloc((size_t)widest * sizeof *s->row);
    s->encoded = malloc((size_t)widest * sizeof(float));
    return s->row != NULL && s->encoded != NULL;
}

static vkllm_status write_all(const gguf_writer *w, sink *s, bool progress, vkl_error *err)
{
    if (!alloc_rows(w, s))
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for row buffers");
    if (!write_head(w, s))
        return vkl_fail(err, VKLLM_ERROR_IO, "cannot write %s: %s", s->path, strerror(errno));

    for (uint32_t i = 0; i < w->tensor_count; i++) {
        if (!write_tensor(w, &w->tensors[i], s))
            return vkl_fail(err, VKLLM_ERROR_IO, "cannot write %s: %s", s->path,
                            strerror(errno));
        if (progress)
            report_progress(w, i, s);
    }
    return VKLLM_OK;
}

vkllm_status gguf_writer_write(gguf_writer *w, const char *path, bool progress,
                               vkl_error *err)
{
    if (w->out_of_memory)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "out of memory while building the metadata of %s", path);

    /* The file is written beside its final name and renamed at the end: a
     * partial file never looks like a model, and the input being converted
     * (which may be the same path) stays intact while it is read. */
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.partial", path);
    sink s = {.path = path, .f = fopen(temporary, "wb")};
    if (s.f == NULL)
        return vkl_fail(err, VKLLM_ERROR_IO, "cannot create %s: %s", temporary,
                        strerror(errno));

    /* Rows are small; a large buffer keeps the writes few. */
    setvbuf(s.f, NULL, _IOFBF, 1 << 20);
    vkllm_status status = write_all(w, &s, progress, err);
    if (fclose(s.f) != 0 && status == VKLLM_OK)
        status = vkl_fail(err, VKLLM_ERROR_IO, "cannot finish %s: %s", path, strerror(errno));
    if (status == VKLLM_OK && rename(temporary, path) != 0)
        status = vkl_fail(err, VKLLM_ERROR_IO, "cannot rename %s to %s: %s", temporary, path,
                          strerror(errno));
    free(s.row);
    free(s.encoded);
    if (status != VKLLM_OK)
        unlink(temporary);
    return status;
}
