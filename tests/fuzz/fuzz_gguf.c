/* A libFuzzer target for the GGUF reader: any bytes must parse or fail with a
 * message, and whatever parses must be safe to walk. Build with
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iruntime \
 *       runtime/core/error.c runtime/model/gguf.c tests/fuzz/fuzz_gguf.c -o fuzz_gguf
 * and run as ./fuzz_gguf CORPUS_DIR. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"

#define MAX_LOOKUP_NAME 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sums bytes so that every read is real and cannot be optimised away; ASan
 * then catches any pointer that strays outside the input. */
static volatile unsigned sink;

static void touch(const void *bytes, uint64_t len)
{
    const unsigned char *p = bytes;
    if (len > 0)
        sink += p[0] + p[len - 1];
}

/* Copies s to a NUL-terminated name for the lookups, when it fits and holds
 * no NUL (such a name cannot be asked for by a C string). */
static bool lookup_name(vkl_gguf_string s, char name[MAX_LOOKUP_NAME])
{
    if (s.len >= MAX_LOOKUP_NAME || memchr(s.data, '\0', (size_t)s.len) != NULL)
        return false;
    memcpy(name, s.data, (size_t)s.len);
    name[s.len] = '\0';
    return true;
}

static void walk_array(const vkl_gguf_array *arr)
{
    if (arr->type == VKL_GGUF_STRING) {
        for (uint64_t i = 0; i < arr->count; i++)
            touch(arr->strings[i].data, arr->strings[i].len);
    } else if (arr->count > 0) {
        touch(arr->data, 1);
    }
}

static void walk_kv(const vkl_gguf *g, const vkl_gguf_kv *kv)
{
    char name[MAX_LOOKUP_NAME];
    uint32_t u = 0;
    float f = 0.0f;
    bool b = false;
    vkl_gguf_string s = {0};

    touch(kv->key.data, kv->key.len);
    if (kv->type == VKL_GGUF_STRING)
        touch(kv->value.str.data, kv->value.str.len);
    if (kv->type == VKL_GGUF_ARRAY)
        walk_array(&kv->value.arr);

    if (!lookup_name(kv->key, name))
        return;
    sink += vkl_gguf_find(g, name) != NULL;
    sink += vkl_gguf_get_u32(g, name, &u) + u;
    sink += vkl_gguf_get_f32(g, name, &f) + (f > 0.0f);
    sink += vkl_gguf_get_bool(g, name, &b) + b;
    sink += vkl_gguf_get_string(g, name, &s);
    sink += vkl_gguf_get_array(g, name) != NULL;
}

static void walk_tensor(const vkl_gguf *g, const vkl_gguf_tensor *t)
{
    char name[MAX_LOOKUP_NAME];
    uint32_t block_elements, block_bytes;

    touch(t->name.data, t->name.len);
    touch(t->data, t->bytes);
    sink += vkl_ggml_type_layout(t->type, &block_elements, &block_bytes);
    sink += (unsigned)strlen(vkl_ggml_type_name(t->type));
    if (lookup_name(t->name, name))
        sink += vkl_gguf_find_tensor(g, name) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkl_gguf *g = NULL;
    vkl_error err;
    vkl_error_clear(&err);

    if (vkl_gguf_parse(data, size, "fuzz", &g, &err) != VKLLM_OK) {
        /* A failure must always say why. */
        if (err.message[0] == '\0')
            abort();
        return 0;
    }

    for (uint64_t i = 0; i < g->kv_count; i++)
        walk_kv(g, &g->kvs[i]);
    for (uint64_t i = 0; i < g->tensor_count; i++)
        walk_tensor(g, &g->tensors[i]);
    vkl_gguf_close(g);
    return 0;
}
