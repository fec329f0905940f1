/* Writes GGUF v3 files. Metadata and the tensor directory are built in
 * memory; tensor data is not: each tensor names a source that produces its
 * rows as floats, and writing pulls them one row at a time, converts each to
 * the tensor's type and streams it out, so a file of any size is written in
 * memory for one row.
 *
 *   gguf_writer *w = gguf_writer_create();
 *   gguf_writer_add_string(w, "general.architecture", "llama");
 *   gguf_writer_add_tensor(w, &(gguf_tensor_spec){"output_norm.weight", ...});
 *   status = gguf_writer_write(w, "out.gguf", true, &err);
 *   gguf_writer_destroy(w);
 *
 * The add functions cannot fail visibly: running out of memory marks the
 * writer, and gguf_writer_write then reports it. */
#ifndef VKLLM_TOOLS_GGUF_WRITER_H
#define VKLLM_TOOLS_GGUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/gguf.h"
#include "model/model_file.h"

/* The data alignment this writer uses, written as general.alignment. */
#define GGUF_WRITER_ALIGNMENT 32

typedef struct gguf_writer gguf_writer;

/* Fills out[cols] with row `row` of a tensor. ctx is the spec's. */
typedef void (*gguf_row_fn)(const void *ctx, int64_t row, int64_t cols, float *out);

typedef struct gguf_tensor_spec {
    const char *name;           /* copied */
    vkl_dtype type;             /* stored type; cols must be whole blocks of it */
    uint32_t n_dims;            /* 1 (a vector: rows must be 1) or 2 */
    int64_t rows;
    int64_t cols;               /* the row length, ggml's dims[0] */
    gguf_row_fn source;
    const void *ctx;            /* must stay valid until the file is written */
} gguf_tensor_spec;

/* NULL when out of memory. The new writer already holds general.alignment. */
gguf_writer *gguf_writer_create(void);
void gguf_writer_destroy(gguf_writer *w);

void gguf_writer_add_string(gguf_writer *w, const char *key, const char *value);
void gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value);
void gguf_writer_add_f32(gguf_writer *w, const char *key, float value);
void gguf_writer_add_bool(gguf_writer *w, const char *key, bool value);

/* An array of count strings: texts[i] holds lengths[i] bytes (any bytes). */
void gguf_writer_add_string_array(gguf_writer *w, const char *key, const char *const *texts,
                                  const size_t *lengths, uint64_t count);

/* An array of count packed little-endian values of a fixed-size type. */
void gguf_writer_add_array(gguf_writer *w, const char *key, vkl_gguf_type type,
                           const void *values, uint64_t count);

/* Copies one entry, value and type unchanged, from a file being read. */
void gguf_writer_copy_kv(gguf_writer *w, const vkl_gguf_kv *kv);

/* False (nothing added) when the shape does not fit the type's blocks. */
bool gguf_writer_add_tensor(gguf_writer *w, const gguf_tensor_spec *spec);

/* Bytes the file will take, once every entry and tensor is added. */
uint64_t gguf_writer_file_size(const gguf_writer *w);

/* Writes the file; with progress, one line per tensor goes to stderr. On
 * failure the partial file is removed. */
vkllm_status gguf_writer_write(gguf_writer *w, const char *path, bool progress,
                               vkl_error *err);

#endif
