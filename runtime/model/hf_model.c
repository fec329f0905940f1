/* Hugging Face model folders: config.json for the shape, safetensors files
 * (one, or shards listed by model.safetensors.index.json) for the weights.
 * Hugging Face's Llama-family checkpoints rotate the two halves of each head
 * (NeoX style), and GPT-2's Conv1D layers store matrices as [in, out], so
 * those four matrices per layer are transposed on load. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/mapped_file.h"
#include "model/model_file.h"
#include "model/safetensors.h"

#define MAX_SHARDS 256

/* What stays open while the weights are in use. */
typedef struct hf_shards {
    vkl_mapped_file maps[MAX_SHARDS];
    vkl_safetensors *parsed[MAX_SHARDS];
    char *names[MAX_SHARDS];        /* file names, as the index spells them */
    int count;
} hf_shards;

typedef struct hf_loader {
    const char *folder;
    vkl_model_file *file;
    hf_shards *shards;
    bool gpt2;
    const char *prefix;             /* "model." or "transformer." or "" */
    vkl_error *err;
} hf_loader;

static void close_shards(void *state)
{
    hf_shards *shards = state;
    for (int i = 0; i < shards->count; i++) {
        vkl_safetensors_free(shards->parsed[i]);
        vkl_mapped_file_close(&shards->maps[i]);
        free(shards->names[i]);
    }
    free(shards);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static vkllm_status read_json(const char *folder, const char *name, cJSON **out,
                              vkl_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    vkl_mapped_file map;
    vkllm_status status = vkl_mapped_file_open(path, &map, err);
    if (status != VKLLM_OK)
        return status;

    *out = cJSON_ParseWithLength(map.data, map.size);
    vkl_mapped_file_close(&map);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL, "%s is not a JSON object", path);
    }
    return VKLLM_OK;
}

static vkllm_status open_shard(hf_loader *ld, const char *name)
{
    hf_shards *shards = ld->shards;
    if (shards->count == MAX_SHARDS)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s: more than %d shards", ld->folder,
                        MAX_SHARDS);
    if (strchr(name, '/') != NULL || strcmp(name, "..") == 0)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s: shard '%s' is outside the folder",
                        ld->folder, name);

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ld->folder, name);
    int i = shards->count;
    vkllm_status status = vkl_mapped_file_open(path, &shards->maps[i], ld->err);
    shards->names[i] = strdup(name);
    shards->count++;
    if (status == VKLLM_OK && shards->names[i] == NULL)
        status = vkl_fail(ld->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    if (status == VKLLM_OK)
        status = vkl_safetensors_parse(shards->maps[i].data, shards->maps[i].size, path,
                                       &shards->parsed[i], ld->err);
    return status;
}

static bool shard_open(const hf_shards *shards, const char *name)
{
    for (int i = 0; i < shards->count; i++) {
        if (strcmp(shards->names[i], name) == 0)
            return true;
    }
    return false;
}

/* Opens every shard the index names (once each), or model.safetensors. */
static vkllm_status open_weights(hf_loader *ld)
{
    cJSON *index = NULL;
    char index_path[4096];
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", ld->folder);
    if (access(index_path, F_OK) != 0)
        return open_shard(ld, "model.safetensors");
    vkllm_status read = read_json(ld->folder, "model.safetensors.index.json", &index, ld->err);
    if (read != VKLLM_OK)
        return read;

    const cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    const cJSON *entry;
    vkllm_status status = cJSON_IsObject(map) ? VKLLM_OK
        : vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s: the index has no weight_map",
                   ld->folder);
    cJSON_ArrayForEach(entry, map) {
        if (status != VKLLM_OK)
            break;
        if (!cJSON_IsString(entry))
            status = vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                              "%s: weight_map entry '%s' is not a file name", ld->folder,
                              entry->string);
        else if (!shard_open(ld->shards, entry->valuestring))
            status = open_shard(ld, entry->valuestring);
    }
    cJSON_Delete(index);
    return status;
}

static const vkl_st_tensor *find_tensor(const hf_loader *ld, const char *name)
{
    for (int i = 0; i < ld->shards->count; i++) {
        const vkl_st_tensor *t = vkl_safetensors_find(ld->shards->parsed[i], name);
        if (t != NULL)
            return t;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                               */

/* A whole number from 1 to 2^24; false when absent or anything else. */
static bool json_int(const cJSON *config, const char *key, int32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!cJSON_IsNumber(item) || item->valuedouble < 1 || item->valuedouble > (1 << 24) ||
        item->valuedouble != (double)(int32_t)item->valuedouble)
        return false;
    *out = (int32_t)item->valuedouble;
    return true;
}

/* A number, when the key is there; false when it is there but not one. */
static bool json_float(const cJSON *config, const char *key, float *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, key);
    if (item == NULL || cJSON_IsNull(item))
        return true;
    if (!cJSON_IsNumber(item))
        return false;
    *out = (float)item->valuedouble;
    return true;
}

/* An optional whole number: absent or null keeps *out; anything but a
 * whole number from 1 to 2^24 is refused. */
static bool json_optional_int(const cJSON *config, const char *key, int32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, key);
    return item == NULL || cJSON_IsNull(item) || json_int(config, key, out);
}

/* The config keys of the two families, in the same order. */
static const char *const llama_keys[] = {"hidden_size", "num_hidden_layers",
                                         "num_attention_heads", "vocab_size",
                                         "max_position_embeddings"};
static const char *const gpt2_keys[] = {"n_embd", "n_layer", "n_head", "vocab_size",
                                        "n_positions"};

static vkllm_status read_sizes(hf_loader *ld, const cJSON *config, vkl_model_config *c)
{
    const char *const *keys = ld->gpt2 ? gpt2_keys : llama_keys;
    int32_t *fields[] = {&c->dim, &c->n_layers, &c->n_heads, &c->vocab_size,
                         &c->context_length};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!json_int(config, keys[i], fields[i]))
            return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                            "%s/config.json: no usable '%s'", ld->folder, keys[i]);
    }

    c->n_kv_heads = c->n_heads;
    c->hidden_dim = 4 * c->dim;     /* GPT-2's n_inner: null means four times the width */
    const char *hidden_key = ld->gpt2 ? "n_inner" : "intermediate_size";
    if (!json_optional_int(config, "num_key_value_heads", &c->n_kv_heads) ||
        !json_optional_int(config, hidden_key, &c->hidden_dim))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s/config.json: num_key_value_heads or %s is not a usable number",
                        ld->folder, hidden_key);
    if (c->n_layers > 4096)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s/config.json: %d layers is absurd",
                        ld->folder, c->n_layers);
    if (c->n_heads % c->n_kv_heads != 0 || c->dim % c->n_heads != 0 ||
        (c->dim / c->n_heads) % 2 != 0)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s/config.json: %d heads, %d key/value heads and width %d do not fit",
                        ld->folder, c->n_heads, c->n_kv_heads, c->dim);
    c->head_size = c->dim / c->n_heads;
    return VKLLM_OK;
}

static vkllm_status read_config(hf_loader *ld, const cJSON *config)
{
    vkl_model_config *c = &ld->file->config;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model_type");
    const char *name = cJSON_IsString(type) ? type->valuestring : "";
    bool llama_family = !strcmp(name, "llama") || !strcmp(name, "mistral") ||
                        !strcmp(name, "qwen2");
    ld->gpt2 = strcmp(name, "gpt2") == 0;
    if (!llama_family && !ld->gpt2)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED,
                        "%s: model_type '%.40s' is not supported (llama, mistral, qwen2, gpt2 "
                        "are)", ld->folder, name);

    snprintf(c->arch_name, sizeof c->arch_name, "%s", name);
    c->norm = ld->gpt2 ? VKL_NORM_LAYER : VKL_NORM_RMS;
    c->ffn = ld->gpt2 ? VKL_FFN_GELU : VKL_FFN_SWIGLU;
    c->rope = ld->gpt2 ? VKL_ROPE_NONE : VKL_ROPE_NEOX;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    if (!json_float(config, ld->gpt2 ? "layer_norm_epsilon" : "rms_norm_eps", &c->norm_eps) ||
        !json_float(config, "rope_theta", &c->rope_theta) ||
        !(c->norm_eps > 0.0f && c->norm_eps < 1.0f) ||
        !(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s/config.json: the norm epsilon or rope_theta is out of range",
                        ld->folder);
    return read_sizes(ld, config, c);
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */

static vkllm_status lookup(hf_loader *ld, const char *name, bool required, int64_t rows,
                           int64_t cols, const vkl_st_tensor **out)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", ld->prefix, name);
    *out = find_tensor(ld, full);
    if (*out == NULL)
        return required ? vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                                   "%s: tensor '%s' is missing", ld->folder, full)
                        : VKLLM_OK;

    const vkl_st_tensor *t = *out;
    int64_t got_rows = t->n_dims == 2 ? t->shape[0] : 1;
    int64_t got_cols = t->n_dims >= 1 ? t->shape[t->n_dims - 1] : 1;
    if (!t->supported)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED, "%s: tensor '%s' has dtype %s",
                        ld->folder, full, t->dtype_name);
    if (t->n_dims > 2 || got_rows != rows || got_cols != cols)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: tensor '%s' is not %lld x %lld as config.json implies", ld->folder,
                        full, (long long)rows, (long long)cols);
    return VKLLM_OK;
}

static vkllm_status take_matrix(hf_loader *ld, const char *name, bool required, int64_t rows,
                                int64_t cols, vkl_host_tensor *out)
{
    const vkl_st_tensor *t;
    *out = (vkl_host_tensor){0};
    vkllm_status status = lookup(ld, name, required, rows, cols, &t);
    if (status == VKLLM_OK && t != NULL)
        *out = (vkl_host_tensor){t->data, t->type, rows, cols};
    return status;
}

static vkllm_status take_vector(hf_loader *ld, const char *name, bool required, int64_t n,
                                vkl_host_tensor *out)
{
    const vkl_st_tensor *t;
    *out = (vkl_host_tensor){0};
    vkllm_status status = lookup(ld, name, required, 1, n, &t);
    if (status != VKLLM_OK || t == NULL)
        return status;

    const float *data = t->data;
    if (t->type != VKL_DTYPE_F32)
        status = vkl_model_file_widen(ld->file, t->type, t->data, n, &data, ld->err);
    if (status == VKLLM_OK)
        *out = (vkl_host_tensor){data, VKL_DTYPE_F32, 1, n};
    return status;
}

/* A Conv1D weight stored [cols, rows], turned into [rows, cols]. */
static vkllm_status take_transposed(hf_loader *ld, const char *name, int64_t rows, int64_t cols,
                                    vkl_host_tensor *out)
{
    const vkl_st_tensor *t;
    vkllm_status status = lookup(ld, name, true, cols, rows, &t);
    if (status != VKLLM_OK)
        return status;

    size_t size = t->type == VKL_DTYPE_F32 ? 4 : 2;
    unsigned char *turned = malloc((size_t)(rows * cols) * size);
    if (turned == NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    const unsigned char *src = t->data;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            memcpy(turned + (size_t)(r * cols + c) * size, src + (size_t)(c * rows + r) * size,
                   size);
    }
    *out = (vkl_host_tensor){turned, t->type, rows, cols};
    return vkl_model_file_keep(ld->file, turned, ld->err);
}

/* One row of the Llama family's per-layer table: the tensor's name after
 * "layers.N.", its slot, its shape in the config's terms, and kind. */
typedef struct hf_layer_tensor {
    const char *suffix;
    size_t slot;                /* offset of a vkl_host_tensor in vkl_layer_weights */
    char rows, cols;            /* vkl_model_extent letters */
    bool vector;
    bool required;
} hf_layer_tensor;

#define HF_SLOT(field) offsetof(vkl_layer_weights, field)

static const hf_layer_tensor llama_layer_tensors[] = {
    {"input_layernorm.weight", HF_SLOT(attn_norm), '1', 'd', true, true},
    {"self_attn.q_proj.weight", HF_SLOT(wq), 'q', 'd', false, true},
    {"self_attn.k_proj.weight", HF_SLOT(wk), 'k', 'd', false, true},
    {"self_attn.v_proj.weight", HF_SLOT(wv), 'k', 'd', false, true},
    {"self_attn.o_proj.weight", HF_SLOT(wo), 'd', 'q', false, true},
    {"self_attn.q_proj.bias", HF_SLOT(bq), '1', 'q', true, false},
    {"self_attn.k_proj.bias", HF_SLOT(bk), '1', 'k', true, false},
    {"self_attn.v_proj.bias", HF_SLOT(bv), '1', 'k', true, false},
    {"post_attention_layernorm.weight", HF_SLOT(ffn_norm), '1', 'd', true, true},
    {"mlp.gate_proj.weight", HF_SLOT(w_gate), 'h', 'd', false, true},
    {"mlp.up_proj.weight", HF_SLOT(w_up), 'h', 'd', false, true},
    {"mlp.down_proj.weight", HF_SLOT(w_down), 'd', 'h', false, true},
};

static vkllm_status take_llama_layer(hf_loader *ld, int l, vkl_layer_weights *layer)
{
    const vkl_model_config *c = &ld->file->config;
    vkllm_status s = VKLLM_OK;
    size_t count = sizeof llama_layer_tensors / sizeof *llama_layer_tensors;
    for (size_t i = 0; i < count && s == VKLLM_OK; i++) {
        const hf_layer_tensor *t = &llama_layer_tensors[i];
        vkl_host_tensor *slot = (vkl_host_tensor *)((char *)layer + t->slot);
        char name[128];
        snprintf(name, sizeof name, "layers.%d.%s", l, t->suffix);
        int64_t rows = vkl_model_extent(c, t->rows), cols = vkl_model_extent(c, t->cols);
        s = t->vector ? take_vector(ld, name, t->required, cols, slot)
                      : take_matrix(ld, name, t->required, rows, cols, slot);
    }
    return s;
}

/* GPT-2's c_attn holds q, k and v: transposed once, then split by rows. */
static vkllm_status take_gpt2_attention(hf_loader *ld, int l, vkl_layer_weights *layer)
{
    int64_t d = ld->file->config.dim;
    char name[128];
    vkl_host_tensor qkv, bias;

    snprintf(name, sizeof name, "h.%d.attn.c_attn.weight", l);
    vkllm_status s = take_transposed(ld, name, 3 * d, d, &qkv);
    snprintf(name, sizeof name, "h.%d.attn.c_attn.bias", l);
    if (s == VKLLM_OK)
        s = take_vector(ld, name, true, 3 * d, &bias);
    if (s != VKLLM_OK)
        return s;

    size_t row_bytes = (size_t)vkl_dtype_row_bytes(qkv.type, (uint64_t)d);
    const char *rows = qkv.data;
    const float *b = bias.data;
    layer->wq = (vkl_host_tensor){rows, qkv.type, d, d};
    layer->wk = (vkl_host_tensor){rows + d * row_bytes, qkv.type, d, d};
    layer->wv = (vkl_host_tensor){rows + 2 * d * row_bytes, qkv.type, d, d};
    layer->bq = (vkl_host_tensor){b, VKL_DTYPE_F32, 1, d};
    layer->bk = (vkl_host_tensor){b + d, VKL_DTYPE_F32, 1, d};
    layer->bv = (vkl_host_tensor){b + 2 * d, VKL_DTYPE_F32, 1, d};
    return VKLLM_OK;
}

static vkllm_status take_gpt2_layer(hf_loader *ld, int l, vkl_layer_weights *layer)
{
    int64_t d = ld->file->config.dim, h = ld->file->config.hidden_dim;
    char n[128];
    vkllm_status s = take_gpt2_attention(ld, l, layer);

#define NAME(suffix) (snprintf(n, sizeof n, "h.%d.%s", l, suffix), n)
    if (s == VKLLM_OK) s = take_vector(ld, NAME("ln_1.weight"), true, d, &layer->attn_norm);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("ln_1.bias"), true, d, &layer->attn_norm_bias);
    if (s == VKLLM_OK) s = take_transposed(ld, NAME("attn.c_proj.weight"), d, d, &layer->wo);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("attn.c_proj.bias"), true, d, &layer->bo);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("ln_2.weight"), true, d, &layer->ffn_norm);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("ln_2.bias"), true, d, &layer->ffn_norm_bias);
    if (s == VKLLM_OK) s = take_transposed(ld, NAME("mlp.c_fc.weight"), h, d, &layer->w_up);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("mlp.c_fc.bias"), true, h, &layer->b_up);
    if (s == VKLLM_OK) s = take_transposed(ld, NAME("mlp.c_proj.weight"), d, h, &layer->w_down);
    if (s == VKLLM_OK) s = take_vector(ld, NAME("mlp.c_proj.bias"), true, d, &layer->b_down);
#undef NAME
    return s;
}

static vkllm_status take_ends(hf_loader *ld)
{
    const vkl_model_config *c = &ld->file->config;
    vkl_model_weights *w = &ld->file->weights;
    int64_t d = c->dim, v = c->vocab_size;

    if (ld->gpt2) {
        vkllm_status s = take_matrix(ld, "wte.weight", true, v, d, &w->token_embd);
        if (s == VKLLM_OK)
            s = take_matrix(ld, "wpe.weight", true, c->context_length, d, &w->pos_embd);
        if (s == VKLLM_OK) s = take_vector(ld, "ln_f.weight", true, d, &w->output_norm);
        if (s == VKLLM_OK) s = take_vector(ld, "ln_f.bias", true, d, &w->output_norm_bias);
        return s;
    }
    vkllm_status s = take_matrix(ld, "embed_tokens.weight", true, v, d, &w->token_embd);
    if (s == VKLLM_OK) s = take_vector(ld, "norm.weight", true, d, &w->output_norm);
    return s;
}

/* lm_head sits outside the "model." prefix; a tied model has none. */
static vkllm_status take_classifier(hf_loader *ld)
{
    vkl_model_config *c = &ld->file->config;
    vkl_model_weights *w = &ld->file->weights;
    const char *prefix = ld->prefix;
    ld->prefix = "";
    vkllm_status s = take_matrix(ld, "lm_head.weight", false, c->vocab_size, c->dim,
                                 &w->output);
    ld->prefix = prefix;
    c->tied_output = w->output.data == NULL;
    if (c->tied_output)
        w->output = w->token_embd;
    return s;
}

/* GPT-2 checkpoints name tensors with or without "transformer."; the
 * Llama family puts everything but lm_head under "model.". */
static void choose_prefix(hf_loader *ld)
{
    ld->prefix = ld->gpt2 ? "" : "model.";
    if (ld->gpt2 && find_tensor(ld, "transformer.wte.weight") != NULL)
        ld->prefix = "transformer.";
}

/* A folder with more layers than config.json says is not what it claims. */
static vkllm_status check_no_extra_layer(const hf_loader *ld)
{
    char name[128];
    snprintf(name, sizeof name, ld->gpt2 ? "%sh.%d.ln_1.weight"
                                         : "%slayers.%d.input_layernorm.weight",
             ld->prefix, ld->file->config.n_layers);
    if (find_tensor(ld, name) != NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: tensor %s lies past the %d layers config.json names", ld->folder,
                        name, ld->file->config.n_layers);
    return VKLLM_OK;
}

static vkllm_status take_weights(hf_loader *ld)
{
    vkl_model_weights *w = &ld->file->weights;
    int n_layers = ld->file->config.n_layers;
    w->layers = calloc((size_t)n_layers, sizeof *w->layers);
    if (w->layers == NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    choose_prefix(ld);
    vkllm_status s = check_no_extra_layer(ld);
    if (s == VKLLM_OK)
        s = take_ends(ld);
    for (int l = 0; s == VKLLM_OK && l < n_layers; l++)
        s = ld->gpt2 ? take_gpt2_layer(ld, l, &w->layers[l])
                     : take_llama_layer(ld, l, &w->layers[l]);
    if (s == VKLLM_OK)
        s = take_classifier(ld);
    return s;
}

static vkllm_status load(hf_loader *ld)
{
    cJSON *config = NULL;
    vkllm_status status = read_json(ld->folder, "config.json", &config, ld->err);
    if (status == VKLLM_OK)
        status = read_config(ld, config);
    cJSON_Delete(config);
    if (status == VKLLM_OK)
        status = open_weights(ld);
    if (status == VKLLM_OK)
        status = take_weights(ld);
    return status;
}

vkllm_status vkl_model_file_open_hf(const char *folder, vkl_model_file **out, vkl_error *err)
{
    *out = NULL;
    vkl_model_file *file = calloc(1, sizeof *file);
    hf_shards *shards = calloc(1, sizeof *shards);
    if (file == NULL || shards == NULL) {
        free(file);
        free(shards);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    }
    file->format_state = shards;
    file->format_close = close_shards;

    hf_loader ld = {.folder = folder, .file = file, .shards = shards, .err = err};
    vkllm_status status = load(&ld);
    if (status != VKLLM_OK) {
        vkl_model_file_close(file);
        return status;
    }
    *out = file;
    return VKLLM_OK;
}
