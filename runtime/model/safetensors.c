#include "model/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* No real header comes near this; a larger one is hostile. */
#define MAX_HEADER_BYTES (100u << 20)

typedef struct parse {
    const char *name;
    const unsigned char *data;      /* the data section */
    uint64_t data_size;
    vkl_error *err;
} parse;

typedef struct dtype_entry {
    const char *name;
    vkl_dtype type;
    uint32_t size;
} dtype_entry;

static const dtype_entry supported_dtypes[] = {
    {"F32", VKL_DTYPE_F32, 4},
    {"F16", VKL_DTYPE_F16, 2},
    {"BF16", VKL_DTYPE_BF16, 2},
};

/* Element sizes of the dtypes vkllm does not compute with, so their byte
 * ranges can still be checked. */
static uint32_t other_dtype_size(const char *name)
{
    static const char *const sizes[][2] = {
        {"F64", "8"}, {"I64", "8"}, {"U64", "8"}, {"I32", "4"}, {"U32", "4"},
        {"I16", "2"}, {"U16", "2"}, {"I8", "1"}, {"U8", "1"}, {"BOOL", "1"},
        {"F8_E4M3", "1"}, {"F8_E5M2", "1"},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        if (strcmp(name, sizes[i][0]) == 0)
            return (uint32_t)atoi(sizes[i][1]);
    }
    return 0;
}

static uint32_t classify_dtype(vkl_st_tensor *t, const char *name)
{
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", name);
    for (size_t i = 0; i < sizeof supported_dtypes / sizeof *supported_dtypes; i++) {
        if (strcmp(name, supported_dtypes[i].name) == 0) {
            t->supported = true;
            t->type = supported_dtypes[i].type;
            return supported_dtypes[i].size;
        }
    }
    return other_dtype_size(name);
}

static vkllm_status read_shape(parse *p, const char *tensor, const cJSON *shape,
                               vkl_st_tensor *t, uint64_t *elements)
{
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (n < 0 || n > VKL_ST_MAX_DIMS)
        return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL, "%s: tensor '%s' has no usable shape",
                        p->name, tensor);

    *elements = 1;
    t->n_dims = n;
    for (int d = 0; d < n; d++) {
        const cJSON *dim = cJSON_GetArrayItem(shape, d);
        double v = cJSON_IsNumber(dim) ? dim->valuedouble : -1;
        if (v < 0 || v > 4e12 || v != (double)(int64_t)v ||
            (v > 0 && *elements > UINT64_MAX / 8 / (uint64_t)v))
            return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL,
                            "%s: tensor '%s' has an impossible dimension", p->name, tensor);
        t->shape[d] = (int64_t)v;
        *elements *= (uint64_t)v;
    }
    return VKLLM_OK;
}

static vkllm_status read_range(parse *p, const char *tensor, const cJSON *offsets,
                               uint64_t expected, vkl_st_tensor *t)
{
    const cJSON *b = cJSON_GetArrayItem(offsets, 0), *e = cJSON_GetArrayItem(offsets, 1);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !cJSON_IsNumber(b) ||
        !cJSON_IsNumber(e) || b->valuedouble < 0 || e->valuedouble < b->valuedouble ||
        e->valuedouble > (double)p->data_size)
        return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: tensor '%s' has data_offsets outside the %llu bytes of data",
                        p->name, tensor, (unsigned long long)p->data_size);

    uint64_t begin = (uint64_t)b->valuedouble, end = (uint64_t)e->valuedouble;
    if (end - begin != expected)
        return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: tensor '%s' spans %llu bytes, its shape needs %llu", p->name,
                        tensor, (unsigned long long)(end - begin), (unsigned long long)expected);
    t->data = p->data + begin;
    t->bytes = expected;
    return VKLLM_OK;
}

static vkllm_status read_tensor(parse *p, const cJSON *entry, vkl_st_tensor *t)
{
    const char *tensor = entry->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    uint32_t size = cJSON_IsString(dtype) ? classify_dtype(t, dtype->valuestring) : 0;
    if (size == 0)
        return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL, "%s: tensor '%s' has an unknown dtype",
                        p->name, tensor);

    uint64_t elements = 0;
    vkllm_status status = read_shape(p, tensor, cJSON_GetObjectItemCaseSensitive(entry, "shape"),
                                     t, &elements);
    if (status == VKLLM_OK)
        status = read_range(p, tensor, cJSON_GetObjectItemCaseSensitive(entry, "data_offsets"),
                            elements * size, t);
    if (status != VKLLM_OK)
        return status;

    t->name = strdup(tensor);
    if (t->name == NULL)
        return vkl_fail(p->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    return VKLLM_OK;
}

static vkllm_status read_tensors(parse *p, const cJSON *header, vkl_safetensors *st)
{
    int entries = cJSON_GetArraySize(header);
    st->tensors = calloc(entries > 0 ? (size_t)entries : 1, sizeof *st->tensors);
    if (st->tensors == NULL)
        return vkl_fail(p->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    const cJSON *entry;
    cJSON_ArrayForEach(entry, header) {
        if (strcmp(entry->string, "__metadata__") == 0)
            continue;
        if (!cJSON_IsObject(entry))
            return vkl_fail(p->err, VKLLM_ERROR_BAD_MODEL, "%s: entry '%s' is not an object",
                            p->name, entry->string);
        vkllm_status status = read_tensor(p, entry, &st->tensors[st->count]);
        if (status != VKLLM_OK)
            return status;
        st->count++;
    }
    return VKLLM_OK;
}

static vkllm_status read_header_length(const unsigned char *bytes, size_t size, const char *name,
                                       uint64_t *length, vkl_error *err)
{
    if (size < 8)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL, "%s: too short for a safetensors file",
                        name);
    *length = 0;
    for (int i = 7; i >= 0; i--)
        *length = *length << 8 | bytes[i];
    if (*length < 2 || *length > size - 8 || *length > MAX_HEADER_BYTES)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: a header of %llu bytes does not fit a file of %zu", name,
                        (unsigned long long)*length, size);
    return VKLLM_OK;
}

vkllm_status vkl_safetensors_parse(const void *bytes, size_t size, const char *name,
                                   vkl_safetensors **out, vkl_error *err)
{
    *out = NULL;
    uint64_t length = 0;
    vkllm_status status = read_header_length(bytes, size, name, &length, err);
    if (status != VKLLM_OK)
        return status;

    const char *json = (const char *)bytes + 8;
    cJSON *header = cJSON_ParseWithLength(json, (size_t)length);
    if (!cJSON_IsObject(header)) {
        cJSON_Delete(header);
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL, "%s: the header is not a JSON object", name);
    }

    vkl_safetensors *st = calloc(1, sizeof *st);
    parse p = {name, (const unsigned char *)json + length, size - 8 - length, err};
    status = st != NULL ? read_tensors(&p, header, st)
                        : vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    cJSON_Delete(header);
    if (status != VKLLM_OK) {
        vkl_safetensors_free(st);
        return status;
    }
    *out = st;
    return VKLLM_OK;
}

void vkl_safetensors_free(vkl_safetensors *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->count; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    free(st);
}

const vkl_st_tensor *vkl_safetensors_find(const vkl_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->count; i++) {
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    }
    return NULL;
}
