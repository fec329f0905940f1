/* The GGUF reader: real files open with the metadata and tensors llama.cpp
 * wrote, the typed getters convert only what fits, and hostile images (built
 * here byte by byte, or cut from a real file) are refused with a message
 * instead of a crash, a hang or a huge allocation. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gguf.h"
#include "test.h"
#include "test_files.h"

#define STORIES_GGUF VKLLM_MODELS_DIR "/stories260K/stories260K.gguf"
#define STORIES_F16_GGUF VKLLM_MODELS_DIR "/stories260K/stories260K-f16.gguf"
#define STORIES_Q8_0_GGUF VKLLM_MODELS_DIR "/stories260K/stories260K-q8_0.gguf"
#define STORIES_BIN VKLLM_MODELS_DIR "/stories260K/stories260K.bin"
#define GPT2_VOCAB_GGUF VKLLM_MODELS_DIR "/vocab/ggml-vocab-gpt-2.gguf"

#define LLAMA2C_HEADER_BYTES 28
#define STORIES_VOCAB 512
#define STORIES_DIM 64

/* Where files for the open tests are written; made in main. */
static char temp_dir[] = "/tmp/vkllm_test_gguf_XXXXXX";

/* ------------------------------------------------------------------------ */
/* Building images                                                           */

/* A GGUF image grown in memory. */
typedef struct image {
    unsigned char *bytes;
    size_t size;
    size_t capacity;
} image;

static void put(image *im, const void *bytes, size_t n)
{
    if (im->size + n > im->capacity) {
        size_t capacity = (im->size + n) * 2;
        unsigned char *grown = realloc(im->bytes, capacity);
        if (grown == NULL) {
            fprintf(stderr, "out of memory building a test image\n");
            exit(1);
        }
        im->bytes = grown;
        im->capacity = capacity;
    }
    if (n > 0)
        memcpy(im->bytes + im->size, bytes, n);
    im->size += n;
}

static void put_le(image *im, uint64_t value, unsigned bytes)
{
    unsigned char le[8];
    for (unsigned i = 0; i < bytes; i++)
        le[i] = (unsigned char)(value >> (8 * i));
    put(im, le, bytes);
}

static void put_u32(image *im, uint32_t value)
{
    put_le(im, value, 4);
}

static void put_u64(image *im, uint64_t value)
{
    put_le(im, value, 8);
}

static void put_zeros(image *im, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_le(im, 0, 1);
}

static void put_string(image *im, const char *text)
{
    put_u64(im, strlen(text));
    put(im, text, strlen(text));
}

static void put_header(image *im, uint32_t version, uint64_t tensor_count, uint64_t kv_count)
{
    put(im, "GGUF", 4);
    put_u32(im, version);
    put_u64(im, tensor_count);
    put_u64(im, kv_count);
}

/* A key and its value type; the caller writes the value. */
static void put_key(image *im, const char *key, vkl_gguf_type type)
{
    put_string(im, key);
    put_u32(im, type);
}

static void put_kv_u32(image *im, const char *key, uint32_t value)
{
    put_key(im, key, VKL_GGUF_UINT32);
    put_u32(im, value);
}

static void put_tensor_info(image *im, const char *name, uint32_t n_dims,
                            const uint64_t *dims, uint32_t type, uint64_t offset)
{
    put_string(im, name);
    put_u32(im, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        put_u64(im, dims[d]);
    put_u32(im, type);
    put_u64(im, offset);
}

static void pad_to(image *im, size_t alignment)
{
    put_zeros(im, (alignment - im->size % alignment) % alignment);
}

/* One tensor, described for the tensor tests. */
typedef struct tensor_spec {
    uint32_t n_dims;
    uint64_t dims[5];
    uint32_t type;
    uint64_t offset;
    size_t data_bytes;      /* bytes of data written after the padding */
} tensor_spec;

/* An image holding one tensor "t" and nothing else. */
static image tensor_image(const tensor_spec *spec)
{
    image im = {0};
    put_header(&im, 3, 1, 0);
    put_tensor_info(&im, "t", spec->n_dims, spec->dims, spec->type, spec->offset);
    pad_to(&im, 32);
    put_zeros(&im, spec->data_bytes);
    return im;
}

/* ------------------------------------------------------------------------ */
/* Parsing helpers                                                           */

/* Parses from an exact-size heap copy, so that ASan sees any read past the
 * end. The copy is handed back: the result points into it. */
static vkllm_status parse_copy(const void *bytes, size_t size, const char *name,
                               vkl_gguf **out, unsigned char **copy, vkl_error *err)
{
    *copy = malloc(size > 0 ? size : 1);
    if (*copy == NULL) {
        fprintf(stderr, "out of memory copying a test image\n");
        exit(1);
    }
    if (size > 0)
        memcpy(*copy, bytes, size);
    return vkl_gguf_parse(*copy, size, name, out, err);
}

/* Parsing must fail with BAD_MODEL, no result, and a message naming the
 * image and holding `needle` (when given). */
static void expect_rejected(const void *bytes, size_t size, const char *name,
                            const char *needle)
{
    static vkl_gguf sentinel;
    vkl_gguf *g = &sentinel;    /* the reader must set it to NULL */
    unsigned char *copy;
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = parse_copy(bytes, size, name, &g, &copy, &err);
    CHECK_MSG(status == VKLLM_ERROR_BAD_MODEL, "%s: status %d (%s)", name, (int)status,
              err.message);
    CHECK_MSG(g == NULL, "%s: a result was handed out", name);
    CHECK_MSG(strstr(err.message, name) != NULL, "%s: message does not name it: '%s'", name,
              err.message);
    CHECK_MSG(needle == NULL || strstr(err.message, needle) != NULL,
              "%s: message lacks '%s': '%s'", name, needle, err.message);
    if (status == VKLLM_OK)
        vkl_gguf_close(g);
    free(copy);
}

static void expect_image_rejected(image *im, const char *name, const char *needle)
{
    expect_rejected(im->bytes, im->size, name, needle);
    free(im->bytes);
    *im = (image){0};
}

static vkl_gguf *open_gguf(const char *path)
{
    vkl_gguf *g = NULL;
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = vkl_gguf_open(path, &g, &err);
    CHECK_MSG(status == VKLLM_OK, "%s", err.message);
    return g;
}

static bool get_u32_is(const vkl_gguf *g, const char *key, uint32_t expected)
{
    uint32_t value = 0;
    bool found = vkl_gguf_get_u32(g, key, &value);
    if (!found || value != expected)
        fprintf(stderr, "  %s: found %d, value %u, expected %u\n", key, (int)found,
                (unsigned)value, (unsigned)expected);
    return found && value == expected;
}

static bool get_string_is(const vkl_gguf *g, const char *key, const char *expected)
{
    vkl_gguf_string value = {0};
    return vkl_gguf_get_string(g, key, &value) && vkl_gguf_string_is(value, expected);
}

static bool dims_are(const vkl_gguf_tensor *t, uint32_t n_dims, uint64_t d0, uint64_t d1)
{
    return t != NULL && t->n_dims == n_dims && t->dims[0] == d0 && t->dims[1] == d1;
}

static bool has_substring(vkl_gguf_string s, const char *part)
{
    size_t n = strlen(part);
    for (uint64_t i = 0; i + n <= s.len; i++) {
        if (memcmp(s.data + i, part, n) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Real files                                                                */

static void check_stories_tokens(const vkl_gguf *g)
{
    const vkl_gguf_array *tokens = vkl_gguf_get_array(g, "tokenizer.ggml.tokens");
    const vkl_gguf_array *scores = vkl_gguf_get_array(g, "tokenizer.ggml.scores");

    CHECK(tokens != NULL && tokens->type == VKL_GGUF_STRING && tokens->count == 512);
    if (tokens != NULL && tokens->type == VKL_GGUF_STRING && tokens->count > 1) {
        vkl_gguf_string bos = tokens->strings[1];
        CHECK_MSG(vkl_gguf_string_is(bos, "<s>"), "token 1 is '%.*s'", (int)bos.len,
                  bos.data);
    }
    CHECK(scores != NULL && scores->type == VKL_GGUF_FLOAT32 && scores->count == 512);
}

static void test_stories_metadata(void)
{
    vkl_gguf *g = open_gguf(STORIES_GGUF);
    if (g == NULL)
        return;

    CHECK(g->version == 3 && g->alignment == 32);
    CHECK(get_string_is(g, "general.architecture", "llama"));
    CHECK(get_string_is(g, "tokenizer.ggml.model", "llama"));
    CHECK(get_u32_is(g, "llama.embedding_length", 64));
    CHECK(get_u32_is(g, "llama.block_count", 5));
    CHECK(get_u32_is(g, "llama.attention.head_count", 8));
    CHECK(get_u32_is(g, "llama.attention.head_count_kv", 4));
    CHECK(get_u32_is(g, "llama.context_length", 2048));

    float eps = 0.0f;
    CHECK(vkl_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps) && eps == 1e-5f);
    check_stories_tokens(g);
    vkl_gguf_close(g);
}

static void test_stories_tensors(void)
{
    vkl_gguf *g = open_gguf(STORIES_GGUF);
    if (g == NULL)
        return;

    CHECK(g->tensor_count == 48);
    CHECK(dims_are(vkl_gguf_find_tensor(g, "token_embd.weight"), 2, 64, 512));
    CHECK(dims_are(vkl_gguf_find_tensor(g, "blk.0.attn_q.weight"), 2, 64, 64));
    CHECK(dims_are(vkl_gguf_find_tensor(g, "output_norm.weight"), 1, 64, 1));
    CHECK(vkl_gguf_find_tensor(g, "no.such.tensor") == NULL);

    const char *end = (const char *)g->mapping + g->mapping_size;
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const vkl_gguf_tensor *t = &g->tensors[i];
        CHECK_MSG(t->type == VKL_GGML_F32, "tensor %llu is %s", (unsigned long long)i,
                  vkl_ggml_type_name(t->type));
        CHECK(t->bytes == t->dims[0] * t->dims[1] * sizeof(float));
        CHECK((const char *)t->data + t->bytes <= end);
    }
    vkl_gguf_close(g);
}

static void test_stories_f16(void)
{
    vkl_gguf *g = open_gguf(STORIES_F16_GGUF);
    if (g == NULL)
        return;

    int f16 = 0;
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const vkl_gguf_tensor *t = &g->tensors[i];
        uint32_t expected = t->n_dims == 2 ? VKL_GGML_F16 : VKL_GGML_F32;
        CHECK_MSG(t->type == expected, "tensor '%.*s' is %s", (int)t->name.len, t->name.data,
                  vkl_ggml_type_name(t->type));
        f16 += t->type == VKL_GGML_F16;
    }
    CHECK(f16 > 0);

    const vkl_gguf_tensor *embd = vkl_gguf_find_tensor(g, "token_embd.weight");
    CHECK(embd != NULL && embd->bytes == 64 * 512 * 2);
    vkl_gguf_close(g);
}

/* ffn_down's rows are 172 long, not whole Q8_0 blocks, so it stays F32. */
static void test_stories_q8_0(void)
{
    vkl_gguf *g = open_gguf(STORIES_Q8_0_GGUF);
    if (g == NULL)
        return;

    int q8_0 = 0;
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const vkl_gguf_tensor *t = &g->tensors[i];
        bool ffn_down = has_substring(t->name, "ffn_down");
        if (ffn_down)
            CHECK(t->type == VKL_GGML_F32 && t->dims[0] == 172);
        else if (t->n_dims == 2)
            CHECK(t->type == VKL_GGML_Q8_0);
        q8_0 += t->type == VKL_GGML_Q8_0;
    }
    CHECK(q8_0 > 0);

    const vkl_gguf_tensor *q = vkl_gguf_find_tensor(g, "blk.0.attn_q.weight");
    CHECK(q != NULL && q->bytes == 64 / 32 * 34 * 64);
    vkl_gguf_close(g);
}

static void test_gpt2_vocab(void)
{
    vkl_gguf *g = open_gguf(GPT2_VOCAB_GGUF);
    if (g == NULL)
        return;

    CHECK(g->tensor_count == 0);
    CHECK(get_string_is(g, "tokenizer.ggml.model", "gpt2"));

    const vkl_gguf_array *merges = vkl_gguf_get_array(g, "tokenizer.ggml.merges");
    CHECK(merges != NULL && merges->type == VKL_GGUF_STRING && merges->count > 0);
    if (merges != NULL && merges->type == VKL_GGUF_STRING && merges->count > 0)
        CHECK(merges->strings[0].len > 0);

    const vkl_gguf_array *tokens = vkl_gguf_get_array(g, "tokenizer.ggml.tokens");
    CHECK(tokens != NULL && tokens->type == VKL_GGUF_STRING && tokens->count == 50257);
    vkl_gguf_close(g);
}

/* The same model converted two ways: the embeddings must agree exactly. */
static void test_embedding_matches_llama2c(void)
{
    const size_t bytes = (size_t)STORIES_VOCAB * STORIES_DIM * sizeof(float);
    size_t bin_size = 0;
    unsigned char *bin = read_file(STORIES_BIN, &bin_size);
    vkl_gguf *g = open_gguf(STORIES_GGUF);
    const vkl_gguf_tensor *t = vkl_gguf_find_tensor(g, "token_embd.weight");

    CHECK(bin != NULL && bin_size >= LLAMA2C_HEADER_BYTES + bytes);
    CHECK(t != NULL && t->bytes == bytes);
    if (bin != NULL && bin_size >= LLAMA2C_HEADER_BYTES + bytes && t != NULL &&
        t->bytes == bytes)
        CHECK(memcmp(t->data, bin + LLAMA2C_HEADER_BYTES, bytes) == 0);

    vkl_gguf_close(g);
    free(bin);
}

/* ------------------------------------------------------------------------ */
/* Valid built images                                                        */

static void test_minimal_images(void)
{
    for (uint32_t version = 2; version <= 3; version++) {
        image im = {0};
        vkl_gguf *g = NULL;
        unsigned char *copy;
        vkl_error err;
        vkl_error_clear(&err);
        put_header(&im, version, 0, 0);

        vkllm_status status = parse_copy(im.bytes, im.size, "minimal", &g, &copy, &err);
        CHECK_MSG(status == VKLLM_OK, "version %u: %s", version, err.message);
        CHECK(g != NULL && g->version == version && g->kv_count == 0 && g->tensor_count == 0);
        CHECK(g != NULL && g->alignment == 32);
        CHECK(vkl_gguf_find(g, "anything") == NULL);
        vkl_gguf_close(g);
        free(copy);
        free(im.bytes);
    }
}

/* One entry of every scalar type, strings and arrays, for the getters. */
static void put_typed_kvs(image *im)
{
    put_key(im, "u8", VKL_GGUF_UINT8);
    put_le(im, 200, 1);
    put_key(im, "i8", VKL_GGUF_INT8);
    put_le(im, 0xFF, 1);                        /* -1 */
    put_key(im, "i32", VKL_GGUF_INT32);
    put_u32(im, 7);
    put_key(im, "u64", VKL_GGUF_UINT64);
    put_u64(im, 1ULL << 40);
    put_key(im, "f32", VKL_GGUF_FLOAT32);
    put_u32(im, 0x3F000000);                    /* 0.5f */
    put_key(im, "f64_big", VKL_GGUF_FLOAT64);
    put_u64(im, 0x7E37E43C8800759CULL);         /* 1e300 */
    put_key(im, "f64", VKL_GGUF_FLOAT64);
    put_u64(im, 0x3FD0000000000000ULL);         /* 0.25 */
    put_key(im, "flag", VKL_GGUF_BOOL);
    put_le(im, 1, 1);
    put_key(im, "bytes", VKL_GGUF_STRING);      /* a string with a NUL inside */
    put_u64(im, 3);
    put(im, "a\0b", 3);
}

static void put_array_kvs(image *im)
{
    put_key(im, "u16s", VKL_GGUF_ARRAY);
    put_u32(im, VKL_GGUF_UINT16);
    put_u64(im, 3);
    for (int i = 1; i <= 3; i++)
        put_le(im, (uint64_t)i, 2);

    put_key(im, "words", VKL_GGUF_ARRAY);
    put_u32(im, VKL_GGUF_STRING);
    put_u64(im, 3);
    put_string(im, "x");
    put_string(im, "");
    put_string(im, "yz");

    put_key(im, "none", VKL_GGUF_ARRAY);
    put_u32(im, VKL_GGUF_STRING);
    put_u64(im, 0);
}

#define TYPED_KVS 9
#define ARRAY_KVS 3

/* Every typed entry, two tensors and a 64-byte alignment. */
static image rich_image(void)
{
    static const uint64_t q_dims[] = {64, 2};
    static const uint64_t norm_dims[] = {16};
    image im = {0};

    put_header(&im, 3, 2, TYPED_KVS + ARRAY_KVS + 1);
    put_typed_kvs(&im);
    put_array_kvs(&im);
    put_kv_u32(&im, "general.alignment", 64);
    put_tensor_info(&im, "q", 2, q_dims, VKL_GGML_Q8_0, 0);
    put_tensor_info(&im, "norm", 1, norm_dims, VKL_GGML_F32, 192);
    pad_to(&im, 64);
    put_zeros(&im, 192 + 64);
    return im;
}

static void check_numeric_getters(const vkl_gguf *g)
{
    uint32_t u = 12345;
    float f = 0.0f;

    CHECK(vkl_gguf_get_u32(g, "u8", &u) && u == 200);
    CHECK(vkl_gguf_get_u32(g, "i32", &u) && u == 7);
    u = 12345;
    CHECK(!vkl_gguf_get_u32(g, "i8", &u) && u == 12345);    /* negative */
    CHECK(!vkl_gguf_get_u32(g, "u64", &u) && u == 12345);   /* too big */
    CHECK(!vkl_gguf_get_u32(g, "f32", &u) && !vkl_gguf_get_u32(g, "flag", &u));
    CHECK(!vkl_gguf_get_u32(g, "missing", &u) && u == 12345);

    CHECK(vkl_gguf_get_f32(g, "f32", &f) && f == 0.5f);
    CHECK(vkl_gguf_get_f32(g, "f64", &f) && f == 0.25f);
    CHECK(vkl_gguf_get_f32(g, "i8", &f) && f == -1.0f);
    CHECK(vkl_gguf_get_f32(g, "u64", &f) && f == 1099511627776.0f);
    f = 3.0f;
    CHECK(!vkl_gguf_get_f32(g, "f64_big", &f) && f == 3.0f);
    CHECK(!vkl_gguf_get_f32(g, "bytes", &f) && !vkl_gguf_get_f32(g, "flag", &f));
}

static void check_other_getters(const vkl_gguf *g)
{
    bool flag = false;
    vkl_gguf_string s = {0};

    CHECK(vkl_gguf_get_bool(g, "flag", &flag) && flag);
    CHECK(!vkl_gguf_get_bool(g, "u8", &flag));
    CHECK(vkl_gguf_get_string(g, "bytes", &s) && s.len == 3 && memcmp(s.data, "a\0b", 3) == 0);
    CHECK(!vkl_gguf_get_string(g, "u8", &s) && vkl_gguf_get_array(g, "u8") == NULL);

    const vkl_gguf_array *u16s = vkl_gguf_get_array(g, "u16s");
    const unsigned char *packed = u16s != NULL ? u16s->data : NULL;
    CHECK(u16s != NULL && u16s->type == VKL_GGUF_UINT16 && u16s->count == 3);
    CHECK(packed != NULL && packed[0] == 1 && packed[2] == 2 && packed[4] == 3);

    const vkl_gguf_array *words = vkl_gguf_get_array(g, "words");
    CHECK(words != NULL && words->type == VKL_GGUF_STRING && words->count == 3);
    if (words != NULL && words->count == 3) {
        CHECK(vkl_gguf_string_is(words->strings[0], "x"));
        CHECK(vkl_gguf_string_is(words->strings[1], ""));
        CHECK(vkl_gguf_string_is(words->strings[2], "yz"));
    }
    const vkl_gguf_array *none = vkl_gguf_get_array(g, "none");
    CHECK(none != NULL && none->type == VKL_GGUF_STRING && none->count == 0);
}

static void check_rich_tensors(const vkl_gguf *g)
{
    const vkl_gguf_tensor *q = vkl_gguf_find_tensor(g, "q");
    const vkl_gguf_tensor *norm = vkl_gguf_find_tensor(g, "norm");
    const char *base = g->mapping;

    CHECK(g->alignment == 64);
    CHECK(q != NULL && q->bytes == 2 * 2 * 34 && q->dims[2] == 1 && q->dims[3] == 1);
    CHECK(norm != NULL && norm->bytes == 64 && norm->n_dims == 1);
    if (q == NULL || norm == NULL)
        return;

    size_t data_start = (size_t)((const char *)q->data - base);
    CHECK(data_start % 64 == 0 && data_start > 0);
    CHECK((const char *)norm->data == base + data_start + 192);
    CHECK((const char *)norm->data + norm->bytes == base + g->mapping_size);
}

static void test_rich_image(void)
{
    image im = rich_image();
    vkl_gguf *g = NULL;
    unsigned char *copy;
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = parse_copy(im.bytes, im.size, "rich", &g, &copy, &err);
    CHECK_MSG(status == VKLLM_OK, "%s", err.message);
    if (g != NULL) {
        CHECK(g->kv_count == TYPED_KVS + ARRAY_KVS + 1 && g->tensor_count == 2);
        check_numeric_getters(g);
        check_other_getters(g);
        check_rich_tensors(g);
    }
    vkl_gguf_close(g);
    free(copy);
    free(im.bytes);
}

/* ------------------------------------------------------------------------ */
/* Opening files                                                             */

static void expect_open_fails(const char *path, vkllm_status expected, const char *needle)
{
    vkl_gguf *g = NULL;
    vkl_error err;
    vkl_error_clear(&err);

    vkllm_status status = vkl_gguf_open(path, &g, &err);
    CHECK_MSG(status == expected, "%s: status %d, expected %d (%s)", path, (int)status,
              (int)expected, err.message);
    CHECK(g == NULL);
    CHECK_MSG(strstr(err.message, path) != NULL, "message does not name %s: '%s'", path,
              err.message);
    CHECK_MSG(needle == NULL || strstr(err.message, needle) != NULL, "'%s' lacks '%s'",
              err.message, needle);
    vkl_gguf_close(g);
}

static void test_open_errors(void)
{
    char path[256];
    image im = {0};

    snprintf(path, sizeof path, "%s/missing.gguf", temp_dir);
    expect_open_fails(path, VKLLM_ERROR_IO, "No such file");
    expect_open_fails(temp_dir, VKLLM_ERROR_IO, "not a regular file");

    /* A FIFO must be refused, not waited on for a writer. */
    snprintf(path, sizeof path, "%s/fifo.gguf", temp_dir);
    CHECK(mkfifo(path, 0600) == 0);
    expect_open_fails(path, VKLLM_ERROR_IO, "not a regular file");
    unlink(path);
    expect_open_fails("/dev/null", VKLLM_ERROR_IO, "not a regular file");

    snprintf(path, sizeof path, "%s/empty.gguf", temp_dir);
    CHECK(write_file(path, "", 0) == 0);
    expect_open_fails(path, VKLLM_ERROR_BAD_MODEL, "empty");
    unlink(path);

    snprintf(path, sizeof path, "%s/v1.gguf", temp_dir);
    put_header(&im, 1, 0, 0);
    CHECK(write_file(path, im.bytes, im.size) == 0);
    expect_open_fails(path, VKLLM_ERROR_BAD_MODEL, "version 1");
    unlink(path);
    free(im.bytes);
}

/* A file opened and closed: the mapping is the reader's to release. */
static void test_open_built_file(void)
{
    char path[256];
    image im = rich_image();

    snprintf(path, sizeof path, "%s/rich.gguf", temp_dir);
    CHECK(write_file(path, im.bytes, im.size) == 0);
    vkl_gguf *g = open_gguf(path);
    unlink(path);
    if (g != NULL) {
        CHECK(g->mapping_size == im.size && g->tensor_count == 2);
        CHECK(memcmp(g->mapping, im.bytes, im.size) == 0);
        check_rich_tensors(g);
    }
    vkl_gguf_close(g);
    free(im.bytes);
}

/* ------------------------------------------------------------------------ */
/* Hostile images                                                            */

static void test_bad_headers(void)
{
    image im = {0};

    put(&im, "GGUX", 4);
    put_u32(&im, 3);
    put_zeros(&im, 16);
    expect_image_rejected(&im, "bad magic", "not a GGUF file");

    put_header(&im, 1, 0, 0);
    expect_image_rejected(&im, "version 1", "version 1");
    put_header(&im, 99, 0, 0);
    expect_image_rejected(&im, "version 99", "version 99");
    put_header(&im, 0x03000000, 0, 0);
    expect_image_rejected(&im, "big-endian", "big-endian");

    put_header(&im, 3, 0, 1ULL << 60);
    expect_image_rejected(&im, "huge kv count", "cannot fit");
    put_header(&im, 3, 1ULL << 60, 0);
    expect_image_rejected(&im, "huge tensor count", "cannot fit");
    put_header(&im, 3, UINT64_MAX, UINT64_MAX);
    expect_image_rejected(&im, "both counts maximal", "cannot fit");

    expect_rejected("", 0, "empty image", "truncated");
    expect_rejected("GGUF\3\0\0", 7, "short header", "truncated");
}

static void test_bad_strings_and_arrays(void)
{
    image im = {0};

    put_header(&im, 3, 0, 1);
    put_u64(&im, 1ULL << 62);
    put_zeros(&im, 16);
    expect_image_rejected(&im, "huge key length", "string of");

    put_header(&im, 3, 0, 1);
    put_key(&im, "k", VKL_GGUF_STRING);
    put_u64(&im, UINT64_MAX);
    put_zeros(&im, 16);
    expect_image_rejected(&im, "huge string value", "string of");

    put_header(&im, 3, 0, 1);
    put_key(&im, "a", VKL_GGUF_ARRAY);
    put_u32(&im, VKL_GGUF_UINT32);
    put_u64(&im, 1ULL << 61);
    expect_image_rejected(&im, "huge u32 array", "cannot fit");

    put_header(&im, 3, 0, 1);
    put_key(&im, "a", VKL_GGUF_ARRAY);
    put_u32(&im, VKL_GGUF_STRING);
    put_u64(&im, 1ULL << 61);
    put_zeros(&im, 64);
    expect_image_rejected(&im, "huge string array", "cannot fit");

    put_header(&im, 3, 0, 1);
    put_key(&im, "a", VKL_GGUF_ARRAY);
    put_u32(&im, VKL_GGUF_STRING);
    put_u64(&im, 4);
    put_string(&im, "one");
    put_u64(&im, 100);
    put_zeros(&im, 20);
    expect_image_rejected(&im, "string array cut short", "'a'");
}

static void test_bad_value_types(void)
{
    image im = {0};

    put_header(&im, 3, 0, 1);
    put_key(&im, "nest", VKL_GGUF_ARRAY);
    put_u32(&im, VKL_GGUF_ARRAY);
    put_u64(&im, 1);
    put_u32(&im, VKL_GGUF_UINT8);
    put_u64(&im, 1);
    put_zeros(&im, 1);
    expect_image_rejected(&im, "nested array", "array of arrays");

    put_header(&im, 3, 0, 1);
    put_key(&im, "odd", 13);
    put_zeros(&im, 8);
    expect_image_rejected(&im, "value type 13", "unknown value type 13");

    put_header(&im, 3, 0, 1);
    put_key(&im, "odd", (vkl_gguf_type)0xFFFFFFFFu);
    put_zeros(&im, 8);
    expect_image_rejected(&im, "value type max", "unknown value type 4294967295");

    put_header(&im, 3, 0, 1);
    put_key(&im, "odd", VKL_GGUF_ARRAY);
    put_u32(&im, 13);
    put_u64(&im, 1);
    put_zeros(&im, 8);
    expect_image_rejected(&im, "array of type 13", "unknown value type 13");

    put_header(&im, 3, 0, 2);
    put_kv_u32(&im, "same", 1);
    put_kv_u32(&im, "same", 2);
    expect_image_rejected(&im, "duplicate key", "'same' appears twice");
}

static void test_bad_alignment(void)
{
    image im = {0};

    put_header(&im, 3, 0, 1);
    put_kv_u32(&im, "general.alignment", 0);
    expect_image_rejected(&im, "alignment 0", "power of two");

    put_header(&im, 3, 0, 1);
    put_kv_u32(&im, "general.alignment", 3);
    expect_image_rejected(&im, "alignment 3", "power of two");

    put_header(&im, 3, 0, 1);
    put_key(&im, "general.alignment", VKL_GGUF_UINT64);
    put_u64(&im, 32);
    expect_image_rejected(&im, "alignment as UINT64", "UINT32");
}

static void expect_tensor_rejected(const tensor_spec *spec, const char *name,
                                   const char *needle)
{
    image im = tensor_image(spec);
    expect_image_rejected(&im, name, needle);
}

static void test_bad_tensor_shapes(void)
{
    const tensor_spec unknown_type = {1, {32}, 77, 0, 128};
    const tensor_spec removed_type = {1, {32}, 4, 0, 128};     /* ggml's retired Q4_2 */
    const tensor_spec no_dims = {0, {0}, VKL_GGML_F32, 0, 64};
    const tensor_spec five_dims = {5, {1, 1, 1, 1, 1}, VKL_GGML_F32, 0, 64};
    const tensor_spec elements_overflow = {3, {1ULL << 32, 1ULL << 32, 1ULL << 32},
                                           VKL_GGML_F32, 0, 64};
    const tensor_spec bytes_overflow = {1, {1ULL << 62}, VKL_GGML_F32, 0, 64};
    const tensor_spec huge_dim = {2, {0, UINT64_MAX}, VKL_GGML_F32, 0, 64};
    const tensor_spec partial_block = {2, {33, 2}, VKL_GGML_Q8_0, 0, 128};

    expect_tensor_rejected(&unknown_type, "ggml type 77", "unknown ggml type 77");
    expect_tensor_rejected(&unknown_type, "ggml type names tensor", "tensor 0 't'");
    expect_tensor_rejected(&removed_type, "ggml type 4", "unknown ggml type 4");
    expect_tensor_rejected(&no_dims, "n_dims 0", "0 dimensions");
    expect_tensor_rejected(&five_dims, "n_dims 5", "5 dimensions");
    expect_tensor_rejected(&elements_overflow, "element overflow", "overflows");
    expect_tensor_rejected(&bytes_overflow, "byte overflow", "overflows");
    expect_tensor_rejected(&huge_dim, "huge dimension", "overflows");
    expect_tensor_rejected(&partial_block, "partial block", "not whole Q8_0 blocks");
}

static void test_bad_tensor_placement(void)
{
    const tensor_spec unaligned = {1, {16}, VKL_GGML_F32, 4, 128};
    const tensor_spec past_end = {1, {16}, VKL_GGML_F32, 0, 60};
    const tensor_spec no_data = {1, {16}, VKL_GGML_F32, 0, 0};
    const tensor_spec far_offset = {1, {16}, VKL_GGML_F32, UINT64_MAX - 31, 64};
    const tensor_spec far_end = {1, {1ULL << 40}, VKL_GGML_F32, 0, 64};

    expect_tensor_rejected(&unaligned, "unaligned offset", "not a multiple");
    expect_tensor_rejected(&past_end, "tensor past the end", "past the file");
    expect_tensor_rejected(&no_data, "no data section", "past the file");
    expect_tensor_rejected(&far_offset, "offset near 2^64", "past the file");
    expect_tensor_rejected(&far_end, "size past any file", "past the file");

    static const uint64_t dims[] = {16};
    image im = {0};
    put_header(&im, 3, 2, 0);
    put_tensor_info(&im, "twin", 1, dims, VKL_GGML_F32, 0);
    put_tensor_info(&im, "twin", 1, dims, VKL_GGML_F32, 64);
    pad_to(&im, 32);
    put_zeros(&im, 128);
    expect_image_rejected(&im, "duplicate tensor", "'twin' appears twice");
}

static void expect_cut_rejected(const unsigned char *bytes, size_t size)
{
    char name[64];
    snprintf(name, sizeof name, "stories260K.gguf cut to %zu bytes", size);
    expect_rejected(bytes, size, name, NULL);
}

/* Every prefix of the real file must fail: densely through the header, the
 * metadata and the tensor directory, then at a few points in the data. */
static void test_truncated_stories(void)
{
    size_t size = 0;
    unsigned char *bytes = read_file(STORIES_GGUF, &size);
    vkl_gguf *g = open_gguf(STORIES_GGUF);

    CHECK(bytes != NULL && g != NULL && g->tensor_count > 0);
    if (bytes != NULL && g != NULL && g->tensor_count > 0) {
        size_t data_start = (size_t)((const char *)g->tensors[0].data -
                                     (const char *)g->mapping - g->tensors[0].offset);
        for (size_t cut = 0; cut < 64; cut++)
            expect_cut_rejected(bytes, cut);
        for (size_t cut = 64; cut < data_start + 64; cut += 7)
            expect_cut_rejected(bytes, cut);
        expect_cut_rejected(bytes, size / 2);
        expect_cut_rejected(bytes, size - 4096);
        expect_cut_rejected(bytes, size - 1);
    }
    vkl_gguf_close(g);
    free(bytes);
}

int main(void)
{
    if (mkdtemp(temp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(test_stories_metadata);
    RUN(test_stories_tensors);
    RUN(test_stories_f16);
    RUN(test_stories_q8_0);
    RUN(test_gpt2_vocab);
    RUN(test_embedding_matches_llama2c);
    RUN(test_minimal_images);
    RUN(test_rich_image);
    RUN(test_open_errors);
    RUN(test_open_built_file);
    RUN(test_bad_headers);
    RUN(test_bad_strings_and_arrays);
    RUN(test_bad_value_types);
    RUN(test_bad_alignment);
    RUN(test_bad_tensor_shapes);
    RUN(test_bad_tensor_placement);
    RUN(test_truncated_stories);

    rmdir(temp_dir);
    TEST_MAIN_END();
}
