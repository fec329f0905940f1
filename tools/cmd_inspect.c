/* vkllm inspect: a model file's metadata, tensors and the device memory it
 * would need, as text or JSON, without loading it onto a device. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct listing {
    bool json;
    cJSON *metadata;    /* object, with --json */
    cJSON *tensors;     /* array, with --json */
} listing;

static void on_metadata(const char *key, const char *value, void *user)
{
    listing *l = user;
    if (l->json)
        cJSON_AddStringToObject(l->metadata, key, value);
    else
        printf("  %-44s %s\n", key, value);
}

static void on_tensor(const vkllm_tensor_info *t, void *user)
{
    listing *l = user;
    if (!l->json) {
        printf("  %-32s %-5s %8llu x %-8llu %10.2f MiB\n", t->name, t->type,
               (unsigned long long)t->rows, (unsigned long long)t->cols,
               t->bytes / 1048576.0);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "type", t->type);
    cJSON_AddNumberToObject(o, "rows", (double)t->rows);
    cJSON_AddNumberToObject(o, "cols", (double)t->cols);
    cJSON_AddNumberToObject(o, "bytes", (double)t->bytes);
    cJSON_AddItemToArray(l->tensors, o);
}

static void print_summary(const vkllm_inspection *in)
{
    const vkllm_model_info *s = &in->shape;
    printf("format %s, architecture %s\n", in->format, in->architecture);
    printf("dim %d, hidden %d, layers %d, heads %d, key/value heads %d, vocabulary %d, "
           "context %d\n", s->dim, s->hidden_dim, s->n_layers, s->n_heads, s->n_kv_heads,
           s->vocab_size, s->context_length);
    printf("device memory: %.1f MiB of weights + %.1f MiB for a full context\n",
           s->weight_bytes / 1048576.0, in->context_bytes / 1048576.0);
    printf("(weights as the file stores them; a CPU device keeps block-type matrices "
           "in a layout up to 1.5 times larger)\n");
}

static void print_json(listing *l, const vkllm_inspection *in)
{
    const vkllm_model_info *s = &in->shape;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", in->format);
    cJSON_AddStringToObject(root, "architecture", in->architecture);
    cJSON_AddNumberToObject(root, "dim", s->dim);
    cJSON_AddNumberToObject(root, "hidden_dim", s->hidden_dim);
    cJSON_AddNumberToObject(root, "n_layers", s->n_layers);
    cJSON_AddNumberToObject(root, "n_heads", s->n_heads);
    cJSON_AddNumberToObject(root, "n_kv_heads", s->n_kv_heads);
    cJSON_AddNumberToObject(root, "vocab_size", s->vocab_size);
    cJSON_AddNumberToObject(root, "context_length", s->context_length);
    cJSON_AddNumberToObject(root, "weight_bytes", (double)s->weight_bytes);
    cJSON_AddNumberToObject(root, "context_bytes", (double)in->context_bytes);
    cJSON_AddItemToObject(root, "metadata", l->metadata);
    cJSON_AddItemToObject(root, "tensors", l->tensors);
    cli_print_json(root);
    cJSON_Delete(root);
}

int cli_inspect(int argc, char **argv)
{
    const char *path = argc > 2 ? argv[2] : NULL;
    bool json = argc > 3 && !strcmp(argv[3], "--json");
    if (path == NULL || argc > 3 + json)
        return cli_report("inspect", "usage: vkllm inspect MODEL [--json]");

    vkllm_runtime *rt;
    vkllm_runtime_create(NULL, &rt);    /* inspecting needs no device */
    listing l = {json, cJSON_CreateObject(), cJSON_CreateArray()};
    vkllm_inspect_callbacks cb = {on_metadata, on_tensor, &l};
    vkllm_inspection in;
    if (!json)
        printf("metadata and tensors of %s:\n", path);

    int code = 0;
    if (vkllm_inspect(rt, path, &cb, &in) != VKLLM_OK)
        code = cli_report("cannot inspect", vkllm_runtime_error(rt));
    else if (json)
        print_json(&l, &in);
    else
        print_summary(&in);
    if (!json || code != 0) {
        cJSON_Delete(l.metadata);
        cJSON_Delete(l.tensors);
    }
    vkllm_runtime_destroy(rt);
    return code;
}
