/* Reads GGUF files (versions 2 and 3) by mapping them read-only and pointing
 * every string, array and tensor into the mapping. Nothing is trusted: every
 * count is bounded by the bytes left before anything is allocated for it, and
 * every length, offset and size is checked against the image before a pointer
 * is taken, so a hostile file costs at most a few times its own size. */
#include "model/gguf.h"
#include "core/mapped_file.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES 24             /* magic, version, tensor count, kv count */
#define DEFAULT_ALIGNMENT 32
#define ALIGNMENT_KEY "general.alignment"
#define VALUE_TYPE_COUNT 13         /* UINT8 .. FLOAT64 */

/* The fewest bytes one metadata entry can take (an empty key, the value type
 * and a one-byte value) and one tensor info (an empty name, one dimension,
 * the type and the offset). Counts are bounded by these before allocating. */
#define MIN_KV_BYTES (8 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 4 + 8 + 4 + 8)
#define MIN_STRING_BYTES 8

/* Names in messages are cut to this many bytes. */
#define PRINTABLE_NAME_BYTES 64

/* ------------------------------------------------------------------------ */
/* Type tables                                                               */

typedef struct ggml_layout {
    uint32_t type;
    const char *name;
    uint32_t block_elements;
    uint32_t block_bytes;
} ggml_layout;

static const ggml_layout ggml_layouts[] = {
    {VKL_GGML_F32, "F32", 1, 4},
    {VKL_GGML_F16, "F16", 1, 2},
    {VKL_GGML_BF16, "BF16", 1, 2},
    {VKL_GGML_Q4_0, "Q4_0", 32, 18},
    {VKL_GGML_Q4_1, "Q4_1", 32, 20},
    {VKL_GGML_Q5_0, "Q5_0", 32, 22},
    {VKL_GGML_Q5_1, "Q5_1", 32, 24},
    {VKL_GGML_Q8_0, "Q8_0", 32, 34},
    {VKL_GGML_Q8_1, "Q8_1", 32, 36},
    {VKL_GGML_Q2_K, "Q2_K", 256, 84},
    {VKL_GGML_Q3_K, "Q3_K", 256, 110},
    {VKL_GGML_Q4_K, "Q4_K", 256, 144},
    {VKL_GGML_Q5_K, "Q5_K", 256, 176},
    {VKL_GGML_Q6_K, "Q6_K", 256, 210},
    {VKL_GGML_Q8_K, "Q8_K", 256, 292},
};

static const ggml_layout *find_layout(uint32_t type)
{
    for (size_t i = 0; i < sizeof ggml_layouts / sizeof *ggml_layouts; i++) {
        if (ggml_layouts[i].type == type)
            return &ggml_layouts[i];
    }
    return NULL;
}

bool vkl_ggml_type_layout(uint32_t type, uint32_t *block_elements, uint32_t *block_bytes)
{
    const ggml_layout *layout = find_layout(type);
    if (layout == NULL)
        return false;
    *block_elements = layout->block_elements;
    *block_bytes = layout->block_bytes;
    return true;
}

const char *vkl_ggml_type_name(uint32_t type)
{
    const ggml_layout *layout = find_layout(type);
    return layout != NULL ? layout->name : "unknown";
}

static const char *const value_type_names[VALUE_TYPE_COUNT] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

static const char *value_type_name(uint32_t type)
{
    return type < VALUE_TYPE_COUNT ? value_type_names[type] : "unknown";
}

/* Bytes of one value of a fixed-size type; 0 for STRING and ARRAY, whose
 * size varies, and for a type GGUF does not define. */
uint32_t vkl_gguf_value_size(uint32_t type)
{
    switch (type) {
    case VKL_GGUF_UINT8:
    case VKL_GGUF_INT8:
    case VKL_GGUF_BOOL:
        return 1;
    case VKL_GGUF_UINT16:
    case VKL_GGUF_INT16:
        return 2;
    case VKL_GGUF_UINT32:
    case VKL_GGUF_INT32:
    case VKL_GGUF_FLOAT32:
        return 4;
    case VKL_GGUF_UINT64:
    case VKL_GGUF_INT64:
    case VKL_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading the image                                                         */

/* Every vkl_gguf is the first member of one of these, so that close knows
 * whether the mapping is its own to unmap (open) or the caller's (parse:
 * map stays empty). */
typedef struct gguf_file {
    vkl_gguf g;
    vkl_mapped_file map;
} gguf_file;

typedef struct reader {
    const uint8_t *bytes;
    size_t size;
    size_t pos;
    const char *name;           /* the file, for messages */
    char where[160];            /* what is being read, for messages */
    vkl_error *err;
} reader;

static void set_where(reader *r, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void set_where(reader *r, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(r->where, sizeof r->where, format, args);
    va_end(args);
}

static vkllm_status fail_at(reader *r, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Fails with BAD_MODEL as "file: where: detail". */
static vkllm_status fail_at(reader *r, const char *format, ...)
{
    char detail[VKL_ERROR_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    return vkl_fail(r->err, VKLLM_ERROR_BAD_MODEL, "%s: %s: %s", r->name, r->where, detail);
}

/* Copies the start of s into buf for a message, with every byte that is not
 * printable ASCII (names may hold any bytes) shown as '?'. */
static const char *printable(vkl_gguf_string s, char buf[PRINTABLE_NAME_BYTES + 4])
{
    size_t n = s.len < PRINTABLE_NAME_BYTES ? (size_t)s.len : PRINTABLE_NAME_BYTES;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.data[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    strcpy(buf + n, s.len > n ? "..." : "");
    return buf;
}

static size_t remaining(const reader *r)
{
    return r->size - r->pos;
}

/* Takes the next n bytes of the image. */
static vkllm_status take(reader *r, uint64_t n, const uint8_t **out)
{
    if (n > remaining(r))
        return fail_at(r, "truncated: %llu bytes needed at byte %zu, but the file ends at %zu",
                       (unsigned long long)n, r->pos, r->size);

    *out = r->bytes + r->pos;
    r->pos += (size_t)n;
    return VKLLM_OK;
}

static uint64_t decode_le(const uint8_t *p, unsigned bytes)
{
    uint64_t value = 0;

    for (unsigned i = bytes; i > 0; i--)
        value = value << 8 | p[i - 1];
    return value;
}

static vkllm_status read_u32(reader *r, uint32_t *out)
{
    const uint8_t *p = NULL;
    vkllm_status status = take(r, 4, &p);

    if (status == VKLLM_OK)
        *out = (uint32_t)decode_le(p, 4);
    return status;
}

static vkllm_status read_u64(reader *r, uint64_t *out)
{
    const uint8_t *p = NULL;
    vkllm_status status = take(r, 8, &p);

    if (status == VKLLM_OK)
        *out = decode_le(p, 8);
    return status;
}

/* A string: a 64-bit length, then that many bytes of any value. */
static vkllm_status read_string(reader *r, vkl_gguf_string *out)
{
    uint64_t len;
    const uint8_t *p = NULL;
    vkllm_status status = read_u64(r, &len);

    if (status == VKLLM_OK && len > remaining(r))
        return fail_at(r, "a string of %llu bytes at byte %zu runs past the file's %zu bytes",
                       (unsigned long long)len, r->pos - 8, r->size);
    if (status == VKLLM_OK)
        status = take(r, len, &p);
    if (status == VKLLM_OK) {
        out->data = (const char *)p;
        out->len = len;
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* Header and metadata                                                       */

static vkllm_status check_version(reader *r, uint32_t version)
{
    if (version == 2 || version == 3)
        return VKLLM_OK;

    if (version == 1)
        return fail_at(r, "GGUF version 1 is not supported (it used 32-bit counts); "
                          "only versions 2 and 3 are read; convert the file anew");

    /* A big-endian file's version reads byte-swapped here. */
    if (version == 0x02000000u || version == 0x03000000u)
        return fail_at(r, "the file is big-endian GGUF, which is not supported");

    return fail_at(r, "unknown GGUF version %u (only 2 and 3 are read)", version);
}

/* Reads the header and bounds both counts by what the rest could hold. */
static vkllm_status parse_header(reader *r, uint64_t *kv_count, uint64_t *tensor_count,
                                 uint32_t *version)
{
    const uint8_t *magic = NULL;
    vkllm_status status;

    set_where(r, "header");
    status = take(r, 4, &magic);
    if (status != VKLLM_OK)
        return status;
    if (memcmp(magic, "GGUF", 4) != 0)
        return fail_at(r, "not a GGUF file (it starts %02x %02x %02x %02x, not 'GGUF')",
                       magic[0], magic[1], magic[2], magic[3]);

    status = read_u32(r, version);
    if (status == VKLLM_OK)
        status = check_version(r, *version);
    if (status == VKLLM_OK)
        status = read_u64(r, tensor_count);
    if (status == VKLLM_OK)
        status = read_u64(r, kv_count);
    if (status != VKLLM_OK)
        return status;

    /* Each bound alone keeps the sum below from overflowing. */
    uint64_t left = remaining(r);
    if (*kv_count > left / MIN_KV_BYTES || *tensor_count > left / MIN_TENSOR_INFO_BYTES ||
        *kv_count * MIN_KV_BYTES + *tensor_count * MIN_TENSOR_INFO_BYTES > left)
        return fail_at(r, "%llu metadata entries and %llu tensors cannot fit in the %llu "
                          "bytes after the header",
                       (unsigned long long)*kv_count, (unsigned long long)*tensor_count,
                       (unsigned long long)left);
    return VKLLM_OK;
}

/* Widens one fixed-size scalar into kv->value. The narrowing casts of the
 * signed types rely on two's complement, as every supported compiler has. */
static void decode_scalar(uint32_t type, const uint8_t *p, vkl_gguf_kv *kv)
{
    uint64_t raw = decode_le(p, vkl_gguf_value_size(type));

    switch (type) {
    case VKL_GGUF_INT8:
        kv->value.i64 = (int8_t)raw;
        break;
    case VKL_GGUF_INT16:
        kv->value.i64 = (int16_t)raw;
        break;
    case VKL_GGUF_INT32:
        kv->value.i64 = (int32_t)raw;
        break;
    case VKL_GGUF_INT64:
        kv->value.i64 = (int64_t)raw;
        break;
    case VKL_GGUF_FLOAT32: {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, sizeof f);
        kv->value.f64 = f;
        break;
    }
    case VKL_GGUF_FLOAT64:
        memcpy(&kv->value.f64, &raw, sizeof kv->value.f64);
        break;
    default:
        kv->value.u64 = raw;
        break;
    }
}

/* The strings of a STRING array, indexed in one allocation. */
static vkllm_status parse_string_array(reader *r, uint64_t count, vkl_gguf_array *arr)
{
    vkl_gguf_string *strings;

    if (count > remaining(r) / MIN_STRING_BYTES)
        return fail_at(r, "an array of %llu strings cannot fit in the %zu bytes left",
                       (unsigned long long)count, remaining(r));
    if (count == 0)
        return VKLLM_OK;

    strings = calloc((size_t)count, sizeof *strings);
    if (strings == NULL)
        return vkl_fail(r->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: %s: no memory for %llu strings", r->name, r->where,
                        (unsigned long long)count);
    arr->strings = strings;

    for (uint64_t i = 0; i < count; i++) {
        vkllm_status status = read_string(r, &strings[i]);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

static vkllm_status parse_array(reader *r, vkl_gguf_array *arr)
{
    uint32_t type;
    uint64_t count;
    vkllm_status status = read_u32(r, &type);

    if (status == VKLLM_OK)
        status = read_u64(r, &count);
    if (status != VKLLM_OK)
        return status;

    if (type == VKL_GGUF_ARRAY)
        return fail_at(r, "an array of arrays, which GGUF readers do not support");
    if (type != VKL_GGUF_STRING && vkl_gguf_value_size(type) == 0)
        return fail_at(r, "an array of unknown value type %u", type);

    arr->type = (vkl_gguf_type)type;
    arr->count = count;
    if (type == VKL_GGUF_STRING)
        return parse_string_array(r, count, arr);

    if (count > remaining(r) / vkl_gguf_value_size(type))
        return fail_at(r, "an array of %llu %s values cannot fit in the %zu bytes left",
                       (unsigned long long)count, value_type_name(type), remaining(r));
    arr->data = r->bytes + r->pos;
    r->pos += (size_t)(count * vkl_gguf_value_size(type));
    return VKLLM_OK;
}

static vkllm_status parse_value(reader *r, uint32_t type, vkl_gguf_kv *kv)
{
    const uint8_t *p = NULL;
    vkllm_status status;

    if (type == VKL_GGUF_ARRAY) {
        kv->type = VKL_GGUF_ARRAY;
        return parse_array(r, &kv->value.arr);
    }
    if (type == VKL_GGUF_STRING) {
        kv->type = VKL_GGUF_STRING;
        return read_string(r, &kv->value.str);
    }
    if (vkl_gguf_value_size(type) == 0)
        return fail_at(r, "unknown value type %u", type);

    status = take(r, vkl_gguf_value_size(type), &p);
    if (status != VKLLM_OK)
        return status;
    kv->type = (vkl_gguf_type)type;
    decode_scalar(type, p, kv);
    return VKLLM_OK;
}

static vkllm_status parse_kv(reader *r, uint64_t index, vkl_gguf_kv *kv)
{
    char key[PRINTABLE_NAME_BYTES + 4];
    uint32_t type;
    vkllm_status status;

    set_where(r, "metadata entry %llu", (unsigned long long)index);
    status = read_string(r, &kv->key);
    if (status != VKLLM_OK)
        return status;

    set_where(r, "metadata entry %llu '%s'", (unsigned long long)index,
              printable(kv->key, key));
    status = read_u32(r, &type);
    if (status != VKLLM_OK)
        return status;
    return parse_value(r, type, kv);
}

static vkllm_status parse_kvs(reader *r, vkl_gguf *g, uint64_t count)
{
    /* calloc(0) may give NULL; an empty table needs no memory. */
    if (count == 0)
        return VKLLM_OK;

    g->kvs = calloc((size_t)count, sizeof *g->kvs);
    if (g->kvs == NULL)
        return vkl_fail(r->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory for %llu metadata entries", r->name,
                        (unsigned long long)count);
    g->kv_count = count;

    for (uint64_t i = 0; i < count; i++) {
        vkllm_status status = parse_kv(r, i, &g->kvs[i]);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

static vkllm_status read_alignment(reader *r, vkl_gguf *g)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, ALIGNMENT_KEY);

    g->alignment = DEFAULT_ALIGNMENT;
    if (kv == NULL)
        return VKLLM_OK;

    set_where(r, "metadata '%s'", ALIGNMENT_KEY);
    if (kv->type != VKL_GGUF_UINT32)
        return fail_at(r, "its type is %s; it must be UINT32", value_type_name(kv->type));

    uint64_t alignment = kv->value.u64;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return fail_at(r, "it is %llu; it must be a power of two",
                       (unsigned long long)alignment);
    g->alignment = alignment;
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Duplicates                                                                */

static int compare_names(const void *a, const void *b)
{
    const vkl_gguf_string *x = *(const vkl_gguf_string *const *)a;
    const vkl_gguf_string *y = *(const vkl_gguf_string *const *)b;
    size_t common = (size_t)(x->len < y->len ? x->len : y->len);
    int order = common > 0 ? memcmp(x->data, y->data, common) : 0;

    if (order != 0)
        return order;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Refuses two equal names among count; sorting keeps a hostile count from
 * taking quadratic time. */
static vkllm_status check_sorted_unique(reader *r, const vkl_gguf_string **names,
                                        uint64_t count, const char *what)
{
    char name[PRINTABLE_NAME_BYTES + 4];

    qsort(names, (size_t)count, sizeof *names, compare_names);

    set_where(r, "%s", what);
    for (uint64_t i = 1; i < count; i++) {
        if (compare_names(&names[i - 1], &names[i]) == 0)
            return fail_at(r, "'%s' appears twice (duplicates are refused)",
                           printable(*names[i], name));
    }
    return VKLLM_OK;
}

static vkllm_status check_unique_keys(reader *r, const vkl_gguf *g)
{
    const vkl_gguf_string **names;
    vkllm_status status;

    if (g->kv_count < 2)
        return VKLLM_OK;
    names = malloc((size_t)g->kv_count * sizeof *names);
    if (names == NULL)
        return vkl_fail(r->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory to check the metadata keys", r->name);

    for (uint64_t i = 0; i < g->kv_count; i++)
        names[i] = &g->kvs[i].key;
    status = check_sorted_unique(r, names, g->kv_count, "metadata keys");
    free(names);
    return status;
}

static vkllm_status check_unique_tensor_names(reader *r, const vkl_gguf *g)
{
    const vkl_gguf_string **names;
    vkllm_status status;

    if (g->tensor_count < 2)
        return VKLLM_OK;
    names = malloc((size_t)g->tensor_count * sizeof *names);
    if (names == NULL)
        return vkl_fail(r->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory to check the tensor names", r->name);

    for (uint64_t i = 0; i < g->tensor_count; i++)
        names[i] = &g->tensors[i].name;
    status = check_sorted_unique(r, names, g->tensor_count, "tensor names");
    free(names);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */

/* Fills t->bytes from the shape and type, refusing partial blocks and any
 * count that overflows (ggml keeps counts in int64, so that is the limit). */
static vkllm_status size_tensor(reader *r, vkl_gguf_tensor *t)
{
    const ggml_layout *layout = find_layout(t->type);
    uint64_t elements = 1;

    if (layout == NULL)
        return fail_at(r, "unknown ggml type %u", t->type);
    if (t->dims[0] % layout->block_elements != 0)
        return fail_at(r, "its rows of %llu elements are not whole %s blocks of %u",
                       (unsigned long long)t->dims[0], layout->name, layout->block_elements);

    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t dim = t->dims[d];
        if (dim > INT64_MAX || (dim != 0 && elements > INT64_MAX / dim))
            return fail_at(r, "its element count overflows (dimension %u is %llu)", d,
                           (unsigned long long)dim);
        elements *= dim;
    }

    uint64_t blocks = elements / layout->block_elements;
    if (blocks > UINT64_MAX / layout->block_bytes)
        return fail_at(r, "its size in bytes overflows (%llu elements of %s)",
                       (unsigned long long)elements, layout->name);
    t->bytes = blocks * layout->block_bytes;
    return VKLLM_OK;
}

static vkllm_status parse_tensor_info(reader *r, uint64_t index, vkl_gguf_tensor *t)
{
    char name[PRINTABLE_NAME_BYTES + 4];
    vkllm_status status;

    set_where(r, "tensor %llu", (unsigned long long)index);
    status = read_string(r, &t->name);
    if (status != VKLLM_OK)
        return status;

    set_where(r, "tensor %llu '%s'", (unsigned long long)index, printable(t->name, name));
    status = read_u32(r, &t->n_dims);
    if (status == VKLLM_OK && (t->n_dims == 0 || t->n_dims > VKL_GGUF_MAX_DIMS))
        return fail_at(r, "it has %u dimensions; GGUF allows 1 to %d", t->n_dims,
                       VKL_GGUF_MAX_DIMS);

    for (uint32_t d = 0; d < VKL_GGUF_MAX_DIMS; d++)
        t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims && status == VKLLM_OK; d++)
        status = read_u64(r, &t->dims[d]);

    if (status == VKLLM_OK)
        status = read_u32(r, &t->type);
    if (status == VKLLM_OK)
        status = read_u64(r, &t->offset);
    if (status == VKLLM_OK)
        status = size_tensor(r, t);
    return status;
}

static vkllm_status parse_tensor_infos(reader *r, vkl_gguf *g, uint64_t count)
{
    set_where(r, "tensor directory");
    if (count > remaining(r) / MIN_TENSOR_INFO_BYTES)
        return fail_at(r, "%llu tensors cannot fit in the %zu bytes left",
                       (unsigned long long)count, remaining(r));
    if (count == 0)
        return VKLLM_OK;

    g->tensors = calloc((size_t)count, sizeof *g->tensors);
    if (g->tensors == NULL)
        return vkl_fail(r->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory for %llu tensors", r->name, (unsigned long long)count);
    g->tensor_count = count;

    for (uint64_t i = 0; i < count; i++) {
        vkllm_status status = parse_tensor_info(r, i, &g->tensors[i]);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

/* Points one tensor into the data section, which must hold all of it. */
static vkllm_status place_tensor(reader *r, const vkl_gguf *g, uint64_t index,
                                 uint64_t data_start)
{
    char name[PRINTABLE_NAME_BYTES + 4];
    vkl_gguf_tensor *t = &g->tensors[index];

    set_where(r, "tensor %llu '%s'", (unsigned long long)index, printable(t->name, name));
    if (t->offset % g->alignment != 0)
        return fail_at(r, "its offset %llu is not a multiple of the alignment %llu",
                       (unsigned long long)t->offset, (unsigned long long)g->alignment);

    if (t->offset > r->size || t->bytes > r->size)
        return fail_at(r, "its %llu bytes at offset %llu of the data section lie past the "
                          "file's %zu bytes",
                       (unsigned long long)t->bytes, (unsigned long long)t->offset, r->size);

    /* Each term is now at most the file's size (the start exceeds it by less
     * than the alignment), so the sum cannot wrap around. */
    uint64_t end = data_start + t->offset + t->bytes;
    if (end > r->size)
        return fail_at(r, "it ends at byte %llu, past the file's %zu bytes",
                       (unsigned long long)end, r->size);

    t->data = r->bytes + data_start + t->offset;
    return VKLLM_OK;
}

/* The data section starts at the first aligned byte after the tensor infos. */
static vkllm_status place_tensors(reader *r, const vkl_gguf *g)
{
    uint64_t data_start = (uint64_t)r->pos;
    uint64_t misalignment = data_start % g->alignment;

    if (misalignment != 0)
        data_start += g->alignment - misalignment;

    for (uint64_t i = 0; i < g->tensor_count; i++) {
        vkllm_status status = place_tensor(r, g, i, data_start);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Parsing and opening                                                       */

static vkllm_status parse_all(reader *r, vkl_gguf *g)
{
    uint64_t kv_count = 0;
    uint64_t tensor_count = 0;
    vkllm_status status = parse_header(r, &kv_count, &tensor_count, &g->version);

    if (status == VKLLM_OK)
        status = parse_kvs(r, g, kv_count);
    if (status == VKLLM_OK)
        status = check_unique_keys(r, g);
    if (status == VKLLM_OK)
        status = read_alignment(r, g);
    if (status == VKLLM_OK)
        status = parse_tensor_infos(r, g, tensor_count);
    if (status == VKLLM_OK)
        status = check_unique_tensor_names(r, g);
    if (status == VKLLM_OK)
        status = place_tensors(r, g);
    return status;
}

vkllm_status vkl_gguf_parse(const void *bytes, size_t size, const char *name, vkl_gguf **out,
                            vkl_error *err)
{
    reader r = {.bytes = bytes, .size = size, .name = name != NULL ? name : "GGUF image",
                .err = err};
    gguf_file *file;
    vkllm_status status;

    if (out == NULL || bytes == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "no GGUF bytes or no output given");
    *out = NULL;

    file = calloc(1, sizeof *file);
    if (file == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", r.name);
    file->g.mapping = bytes;
    file->g.mapping_size = size;

    status = parse_all(&r, &file->g);
    if (status != VKLLM_OK) {
        vkl_gguf_close(&file->g);
        return status;
    }
    *out = &file->g;
    return VKLLM_OK;
}

vkllm_status vkl_gguf_open(const char *path, vkl_gguf **out, vkl_error *err)
{
    vkl_mapped_file map;
    vkllm_status status;

    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "no GGUF path or no output given");
    *out = NULL;

    status = vkl_mapped_file_open(path, &map, err);
    if (status != VKLLM_OK)
        return status;

    status = vkl_gguf_parse(map.data, map.size, path, out, err);
    if (status != VKLLM_OK) {
        vkl_mapped_file_close(&map);
        return status;
    }
    ((gguf_file *)*out)->map = map;
    return VKLLM_OK;
}

void vkl_gguf_close(vkl_gguf *g)
{
    gguf_file *file = (gguf_file *)g;

    if (g == NULL)
        return;

    for (uint64_t i = 0; i < g->kv_count; i++) {
        if (g->kvs[i].type == VKL_GGUF_ARRAY)
            free((void *)g->kvs[i].value.arr.strings);
    }
    free(g->kvs);
    free(g->tensors);

    vkl_mapped_file_close(&file->map);    /* nothing when parsed from caller's bytes */
    free(file);
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */

bool vkl_gguf_string_is(vkl_gguf_string s, const char *text)
{
    size_t len = strlen(text);
    return s.len == len && (len == 0 || memcmp(s.data, text, len) == 0);
}

const vkl_gguf_kv *vkl_gguf_find(const vkl_gguf *g, const char *key)
{
    if (g == NULL || key == NULL)
        return NULL;

    for (uint64_t i = 0; i < g->kv_count; i++) {
        if (vkl_gguf_string_is(g->kvs[i].key, key))
            return &g->kvs[i];
    }
    return NULL;
}

const vkl_gguf_tensor *vkl_gguf_find_tensor(const vkl_gguf *g, const char *name)
{
    if (g == NULL || name == NULL)
        return NULL;

    for (uint64_t i = 0; i < g->tensor_count; i++) {
        if (vkl_gguf_string_is(g->tensors[i].name, name))
            return &g->tensors[i];
    }
    return NULL;
}

static bool is_unsigned_type(vkl_gguf_type type)
{
    return type == VKL_GGUF_UINT8 || type == VKL_GGUF_UINT16 || type == VKL_GGUF_UINT32 ||
           type == VKL_GGUF_UINT64;
}

static bool is_signed_type(vkl_gguf_type type)
{
    return type == VKL_GGUF_INT8 || type == VKL_GGUF_INT16 || type == VKL_GGUF_INT32 ||
           type == VKL_GGUF_INT64;
}

bool vkl_gguf_get_u32(const vkl_gguf *g, const char *key, uint32_t *out)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, key);

    if (kv == NULL)
        return false;
    if (is_unsigned_type(kv->type) && kv->value.u64 <= UINT32_MAX) {
        *out = (uint32_t)kv->value.u64;
        return true;
    }
    if (is_signed_type(kv->type) && kv->value.i64 >= 0 && kv->value.i64 <= UINT32_MAX) {
        *out = (uint32_t)kv->value.i64;
        return true;
    }
    return false;
}

bool vkl_gguf_get_f32(const vkl_gguf *g, const char *key, float *out)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, key);

    if (kv == NULL)
        return false;
    if (is_unsigned_type(kv->type)) {
        *out = (float)kv->value.u64;
        return true;
    }
    if (is_signed_type(kv->type)) {
        *out = (float)kv->value.i64;
        return true;
    }
    if (kv->type != VKL_GGUF_FLOAT32 && kv->type != VKL_GGUF_FLOAT64)
        return false;

    /* A finite double beyond float's range does not fit; infinities and NaN
     * carry over as they are. */
    double v = kv->value.f64;
    if (isfinite(v) && (v > FLT_MAX || v < -FLT_MAX))
        return false;
    *out = (float)v;
    return true;
}

bool vkl_gguf_get_bool(const vkl_gguf *g, const char *key, bool *out)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, key);

    if (kv == NULL || kv->type != VKL_GGUF_BOOL)
        return false;
    *out = kv->value.u64 != 0;
    return true;
}

bool vkl_gguf_get_string(const vkl_gguf *g, const char *key, vkl_gguf_string *out)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, key);

    if (kv == NULL || kv->type != VKL_GGUF_STRING)
        return false;
    *out = kv->value.str;
    return true;
}

const vkl_gguf_array *vkl_gguf_get_array(const vkl_gguf *g, const char *key)
{
    const vkl_gguf_kv *kv = vkl_gguf_find(g, key);
    return kv != NULL && kv->type == VKL_GGUF_ARRAY ? &kv->value.arr : NULL;
}
