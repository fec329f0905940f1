/* A GGUF file (versions 2 and 3), memory-mapped and parsed without copying:
 * the metadata key/value pairs of every type, arrays included, and the
 * tensor directory with each tensor's data pointer into the mapping. Every
 * count, length, offset and size is checked against the file first. */
#ifndef VKL_MODEL_GGUF_H
#define VKL_MODEL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Metadata value types, as GGUF numbers them. */
typedef enum vkl_gguf_type {
    VKL_GGUF_UINT8 = 0,
    VKL_GGUF_INT8 = 1,
    VKL_GGUF_UINT16 = 2,
    VKL_GGUF_INT16 = 3,
    VKL_GGUF_UINT32 = 4,
    VKL_GGUF_INT32 = 5,
    VKL_GGUF_FLOAT32 = 6,
    VKL_GGUF_BOOL = 7,
    VKL_GGUF_STRING = 8,
    VKL_GGUF_ARRAY = 9,
    VKL_GGUF_UINT64 = 10,
    VKL_GGUF_INT64 = 11,
    VKL_GGUF_FLOAT64 = 12,
} vkl_gguf_type;

/* Tensor data types, as ggml numbers them (only those vkllm may meet). */
typedef enum vkl_ggml_type {
    VKL_GGML_F32 = 0,
    VKL_GGML_F16 = 1,
    VKL_GGML_Q4_0 = 2,
    VKL_GGML_Q4_1 = 3,
    VKL_GGML_Q5_0 = 6,
    VKL_GGML_Q5_1 = 7,
    VKL_GGML_Q8_0 = 8,
    VKL_GGML_Q8_1 = 9,
    VKL_GGML_Q2_K = 10,
    VKL_GGML_Q3_K = 11,
    VKL_GGML_Q4_K = 12,
    VKL_GGML_Q5_K = 13,
    VKL_GGML_Q6_K = 14,
    VKL_GGML_Q8_K = 15,
    VKL_GGML_BF16 = 30,
} vkl_ggml_type;

/* Elements per block and bytes per block of a ggml type (1 and the element
 * size for plain types); false for a type this table does not know. */
bool vkl_ggml_type_layout(uint32_t type, uint32_t *block_elements, uint32_t *block_bytes);
const char *vkl_ggml_type_name(uint32_t type);

/* Bytes of one scalar metadata value of a type; 0 for STRING and ARRAY,
 * whose size varies, and for a type GGUF does not define. */
uint32_t vkl_gguf_value_size(uint32_t type);

/* A string inside the mapping: not NUL-terminated. */
typedef struct vkl_gguf_string {
    const char *data;
    uint64_t len;
} vkl_gguf_string;

typedef struct vkl_gguf_array {
    vkl_gguf_type type;             /* element type; never ARRAY (nested arrays are refused) */
    uint64_t count;
    const void *data;               /* packed elements, for every type but STRING */
    const vkl_gguf_string *strings; /* [count] for STRING arrays, built at open */
} vkl_gguf_array;

typedef struct vkl_gguf_kv {
    vkl_gguf_string key;
    vkl_gguf_type type;
    union {
        uint64_t u64;               /* UINT8 .. UINT64 and BOOL, widened */
        int64_t i64;                /* INT8 .. INT64, widened */
        double f64;                 /* FLOAT32 and FLOAT64, widened */
        vkl_gguf_string str;
        vkl_gguf_array arr;
    } value;
} vkl_gguf_kv;

#define VKL_GGUF_MAX_DIMS 4

typedef struct vkl_gguf_tensor {
    vkl_gguf_string name;
    uint32_t n_dims;
    uint64_t dims[VKL_GGUF_MAX_DIMS];   /* ggml order: dims[0] is the row length */
    uint32_t type;                      /* vkl_ggml_type */
    uint64_t offset;                    /* from the start of the data section */
    const void *data;                   /* into the mapping */
    uint64_t bytes;
} vkl_gguf_tensor;

typedef struct vkl_gguf {
    uint32_t version;
    uint64_t alignment;             /* general.alignment, or 32 */
    vkl_gguf_kv *kvs;               /* [kv_count] */
    uint64_t kv_count;
    vkl_gguf_tensor *tensors;       /* [tensor_count] */
    uint64_t tensor_count;
    const void *mapping;
    size_t mapping_size;
} vkl_gguf;

vkllm_status vkl_gguf_open(const char *path, vkl_gguf **out, vkl_error *err);

/* Parses a GGUF image already in memory (the fuzzer's entry point); the
 * result points into bytes, which must outlive it. */
vkllm_status vkl_gguf_parse(const void *bytes, size_t size, const char *name, vkl_gguf **out,
                            vkl_error *err);
void vkl_gguf_close(vkl_gguf *g);

const vkl_gguf_kv *vkl_gguf_find(const vkl_gguf *g, const char *key);
const vkl_gguf_tensor *vkl_gguf_find_tensor(const vkl_gguf *g, const char *name);

/* Typed lookups: false when the key is absent or its value is not a number
 * (or string) that fits the asked type; *out is then left alone. */
bool vkl_gguf_get_u32(const vkl_gguf *g, const char *key, uint32_t *out);
bool vkl_gguf_get_f32(const vkl_gguf *g, const char *key, float *out);
bool vkl_gguf_get_bool(const vkl_gguf *g, const char *key, bool *out);
bool vkl_gguf_get_string(const vkl_gguf *g, const char *key, vkl_gguf_string *out);
const vkl_gguf_array *vkl_gguf_get_array(const vkl_gguf *g, const char *key);

/* True when s holds exactly the NUL-terminated text. */
bool vkl_gguf_string_is(vkl_gguf_string s, const char *text);

#endif
