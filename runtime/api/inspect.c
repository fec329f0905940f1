/* vkllm_inspect: what a model file holds and what it would take on a device,
 * without a device: metadata as text, the tensors under their GGUF names,
 * and the memory the weights and a full context would need. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/handles.h"
#include "model/gguf.h"

#define ARRAY_PREVIEW 8

/* Copies file text for display: printable ASCII as it is, every other byte
 * as \xHH, so that neither a terminal nor a JSON printer sees raw bytes. */
static int escape_text(const char *text, uint64_t len, char *out, size_t size)
{
    size_t used = 0;
    for (uint64_t i = 0; i < len && used + 5 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f)
            out[used++] = (char)c;
        else
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", c);
    }
    out[used] = '\0';
    return (int)used;
}

static void format_scalar(const vkl_gguf_kv *kv, char *out, size_t size)
{
    switch (kv->type) {
    case VKL_GGUF_FLOAT32:
    case VKL_GGUF_FLOAT64:
        snprintf(out, size, "%g", kv->value.f64);
        break;
    case VKL_GGUF_BOOL:
        snprintf(out, size, "%s", kv->value.u64 ? "true" : "false");
        break;
    case VKL_GGUF_INT8: case VKL_GGUF_INT16: case VKL_GGUF_INT32: case VKL_GGUF_INT64:
        snprintf(out, size, "%" PRId64, kv->value.i64);
        break;
    case VKL_GGUF_STRING:
        escape_text(kv->value.str.data, kv->value.str.len < 200 ? kv->value.str.len : 200,
                    out, size);
        break;
    default:
        snprintf(out, size, "%" PRIu64, kv->value.u64);
        break;
    }
}

/* "[N strings: a, b, ...]" or "[N values]": arrays can hold 150,000 tokens. */
static void format_array(const vkl_gguf_array *arr, char *out, size_t size)
{
    int used = snprintf(out, size, "[%" PRIu64 " %s", arr->count,
                        arr->type == VKL_GGUF_STRING ? "strings" : "values");
    for (uint64_t i = 0; arr->type == VKL_GGUF_STRING && i < arr->count && i < ARRAY_PREVIEW;
         i++) {
        const vkl_gguf_string *s = &arr->strings[i];
        char piece[128];
        escape_text(s->data, s->len < 24 ? s->len : 24, piece, sizeof piece);
        used += snprintf(out + used, size - (size_t)used, "%s'%s'", i ? ", " : ": ", piece);
        if ((size_t)used >= size)
            return;
    }
    snprintf(out + used, size - (size_t)used, "%s]", arr->count > ARRAY_PREVIEW ? ", ..." : "");
}

static void report_gguf_metadata(const vkl_gguf *g, const vkllm_inspect_callbacks *cb)
{
    for (uint64_t i = 0; i < g->kv_count; i++) {
        const vkl_gguf_kv *kv = &g->kvs[i];
        char key[256], value[512];
        escape_text(kv->key.data, kv->key.len < 60 ? kv->key.len : 60, key, sizeof key);
        if (kv->type == VKL_GGUF_ARRAY)
            format_array(&kv->value.arr, value, sizeof value);
        else
            format_scalar(kv, value, sizeof value);
        cb->on_metadata(key, value, cb->user);
    }
}

typedef struct tensor_walk {
    const vkllm_inspect_callbacks *cb;
    uint64_t bytes;
} tensor_walk;

static void report_tensor(const char *name, const vkl_host_tensor *t, void *user)
{
    tensor_walk *walk = user;
    uint64_t bytes = vkl_host_tensor_bytes(t);
    walk->bytes += bytes;
    if (walk->cb->on_tensor == NULL)
        return;
    vkllm_tensor_info info = {name, vkl_dtype_name(t->type), (uint64_t)t->rows,
                              (uint64_t)t->cols, bytes};
    walk->cb->on_tensor(&info, walk->cb->user);
}

static const char *format_of(const vkl_model_file *file)
{
    if (file->gguf != NULL)
        return "gguf";
    return file->format_state != NULL ? "safetensors" : "llama2c";
}

static void describe(const vkl_model_file *file, vkllm_inspection *out)
{
    const vkl_model_config *c = &file->config;
    snprintf(out->format, sizeof out->format, "%s", format_of(file));
    snprintf(out->architecture, sizeof out->architecture, "%s", c->arch_name);
    out->shape = (vkllm_model_info){
        .dim = c->dim, .hidden_dim = c->hidden_dim, .n_layers = c->n_layers,
        .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .vocab_size = c->vocab_size,
        .context_length = c->context_length,
    };
    out->context_bytes = vkl_context_bytes(c, (uint32_t)c->context_length,
                                                 VKL_DEFAULT_BATCH);
}

vkllm_status vkllm_inspect(vkllm_runtime *rt, const char *path,
                           const vkllm_inspect_callbacks *callbacks, vkllm_inspection *out)
{
    if (rt == NULL || path == NULL || out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    vkllm_inspect_callbacks none = {0};
    if (callbacks == NULL)
        callbacks = &none;

    vkl_error err = {0};
    vkl_model_file *file;
    if (vkl_model_file_open(path, &file, &err) != VKLLM_OK)
        return vkl_api_record(&rt->error, &err);

    describe(file, out);
    if (file->gguf != NULL && callbacks->on_metadata != NULL)
        report_gguf_metadata(file->gguf, callbacks);
    tensor_walk walk = {callbacks, 0};
    vkl_model_file_for_each_tensor(file, report_tensor, &walk);
    out->shape.weight_bytes = walk.bytes;
    vkl_model_file_close(file);
    return VKLLM_OK;
}
