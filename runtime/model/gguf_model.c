/* GGUF models: the architecture table, hyperparameters from metadata, and
 * every tensor mapped by name into the model's weight slots with its shape
 * and type checked. Matrices stay in their stored type (quantized ones too);
 * norm weights and biases, which are small, are widened to F32. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/model_file.h"

/* The architectures vkllm runs, as layer kinds. A new member of a family is
 * one more row here. */
typedef struct arch_info {
    const char *name;           /* general.architecture */
    vkl_norm_kind norm;
    vkl_ffn_kind ffn;
    vkl_rope_kind rope;
    bool fused_qkv;             /* one attn_qkv tensor instead of attn_q/k/v */
    bool learned_positions;     /* a position_embd tensor */
} arch_info;

static const arch_info archs[] = {
    {"llama", VKL_NORM_RMS, VKL_FFN_SWIGLU, VKL_ROPE_ADJACENT, false, false},
    {"mistral", VKL_NORM_RMS, VKL_FFN_SWIGLU, VKL_ROPE_ADJACENT, false, false},
    {"qwen2", VKL_NORM_RMS, VKL_FFN_SWIGLU, VKL_ROPE_NEOX, false, false},
    {"gpt2", VKL_NORM_LAYER, VKL_FFN_GELU, VKL_ROPE_NONE, true, true},
};

/* What a loader step needs: the file, where errors go, the model filled. */
typedef struct loader {
    const char *path;
    const vkl_gguf *g;
    const arch_info *arch;
    vkl_model_file *file;
    vkl_error *err;
} loader;

static const arch_info *find_arch(vkl_gguf_string name)
{
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        if (vkl_gguf_string_is(name, archs[i].name))
            return &archs[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Hyperparameters                                                           */

static bool arch_u32(const loader *ld, const char *suffix, uint32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", ld->arch->name, suffix);
    return vkl_gguf_get_u32(ld->g, key, out);
}

static bool arch_f32(const loader *ld, const char *suffix, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", ld->arch->name, suffix);
    return vkl_gguf_get_f32(ld->g, key, out);
}

static bool arch_has(const loader *ld, const char *suffix)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", ld->arch->name, suffix);
    return vkl_gguf_find(ld->g, key) != NULL;
}

static vkllm_status require_u32(const loader *ld, const char *suffix, uint32_t max,
                                int32_t *out)
{
    uint32_t value;
    if (!arch_u32(ld, suffix, &value))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, arch_has(ld, suffix)
                            ? "%s: %s.%s is not a whole number that fits 32 bits"
                            : "%s: no %s.%s in the metadata",
                        ld->path, ld->arch->name, suffix);
    if (value == 0 || value > max)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s: %s.%s is %u, outside 1 .. %u",
                        ld->path, ld->arch->name, suffix, value, max);
    *out = (int32_t)value;
    return VKLLM_OK;
}

/* Rotary embeddings turn every element of a head; a file that rotates only
 * part of each head (rope.dimension_count below the head size) is refused
 * rather than computed wrongly. */
static vkllm_status check_rotary_width(const loader *ld, const vkl_model_config *c)
{
    if (c->rope == VKL_ROPE_NONE || !arch_has(ld, "rope.dimension_count"))
        return VKLLM_OK;
    uint32_t width = 0;
    if (!arch_u32(ld, "rope.dimension_count", &width))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: rope.dimension_count is not an unsigned integer", ld->path);
    if (width != (uint32_t)c->head_size)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED,
                        "%s: rotary embeddings over %u of each head's %d elements are not "
                        "supported (only the whole head)", ld->path, width, c->head_size);
    return VKLLM_OK;
}

static vkllm_status read_shape(const loader *ld, vkl_model_config *c)
{
    const uint32_t limit = 1u << 20;
    vkllm_status s = require_u32(ld, "embedding_length", limit, &c->dim);
    if (s == VKLLM_OK) s = require_u32(ld, "block_count", 4096, &c->n_layers);
    if (s == VKLLM_OK) s = require_u32(ld, "feed_forward_length", limit, &c->hidden_dim);
    if (s == VKLLM_OK) s = require_u32(ld, "attention.head_count", 4096, &c->n_heads);
    if (s == VKLLM_OK) s = require_u32(ld, "context_length", limit, &c->context_length);
    if (s != VKLLM_OK)
        return s;

    /* Without a key/value head count, every head has its own. */
    c->n_kv_heads = c->n_heads;
    if (arch_has(ld, "attention.head_count_kv"))
        s = require_u32(ld, "attention.head_count_kv", 4096, &c->n_kv_heads);
    if (s != VKLLM_OK)
        return s;
    if (c->n_heads % c->n_kv_heads != 0 || c->dim % c->n_heads != 0)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: %d heads with %d key/value heads do not divide a width of %d",
                        ld->path, c->n_heads, c->n_kv_heads, c->dim);
    c->head_size = c->dim / c->n_heads;
    if (c->rope != VKL_ROPE_NONE && c->head_size % 2 != 0)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: rotary embeddings need an even head size, not %d", ld->path,
                        c->head_size);
    return check_rotary_width(ld, c);
}

static vkllm_status read_config(loader *ld)
{
    vkl_model_config *c = &ld->file->config;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", ld->arch->name);
    c->norm = ld->arch->norm;
    c->ffn = ld->arch->ffn;
    c->rope = ld->arch->rope;

    vkllm_status status = read_shape(ld, c);
    if (status != VKLLM_OK)
        return status;

    const char *eps_key = c->norm == VKL_NORM_RMS ? "attention.layer_norm_rms_epsilon"
                                                  : "attention.layer_norm_epsilon";
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;   /* the default when the file has no rope.freq_base */
    if ((arch_has(ld, eps_key) && !arch_f32(ld, eps_key, &c->norm_eps)) ||
        (arch_has(ld, "rope.freq_base") && !arch_f32(ld, "rope.freq_base", &c->rope_theta)))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: the epsilon or rotary base in the metadata is not a number",
                        ld->path);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f) ||
        !(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: epsilon %g or rotary base %g is out of range", ld->path,
                        c->norm_eps, c->rope_theta);
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */

static vkllm_status find_tensor(const loader *ld, const char *name, bool required,
                                const vkl_gguf_tensor **out)
{
    *out = vkl_gguf_find_tensor(ld->g, name);
    if (*out == NULL && required)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL, "%s: tensor '%s' is missing",
                        ld->path, name);
    return VKLLM_OK;
}

/* A 2-D view of a GGUF tensor: ggml's dims[0] is the row length. */
static bool tensor_shape(const vkl_gguf_tensor *t, int64_t *rows, int64_t *cols)
{
    uint64_t outer = 1;
    for (uint32_t d = 2; d < t->n_dims; d++)
        outer *= t->dims[d];
    *cols = (int64_t)t->dims[0];
    *rows = t->n_dims > 1 ? (int64_t)t->dims[1] : 1;
    return outer == 1;
}

static vkllm_status check_shape(const loader *ld, const char *name, const vkl_gguf_tensor *t,
                                int64_t rows, int64_t cols)
{
    int64_t got_rows, got_cols;
    if (!tensor_shape(t, &got_rows, &got_cols) || got_rows != rows || got_cols != cols)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: tensor '%s' is not %lld x %lld as the metadata implies",
                        ld->path, name, (long long)rows, (long long)cols);
    return VKLLM_OK;
}

/* A weight matrix [rows, cols] kept in its stored type. */
static vkllm_status take_matrix(loader *ld, const char *name, int64_t rows, int64_t cols,
                                bool required, vkl_host_tensor *out)
{
    const vkl_gguf_tensor *t;
    *out = (vkl_host_tensor){0};
    vkllm_status status = find_tensor(ld, name, required, &t);
    if (status != VKLLM_OK || t == NULL)
        return status;
    status = check_shape(ld, name, t, rows, cols);
    if (status != VKLLM_OK)
        return status;

    vkl_dtype type = (vkl_dtype)t->type;
    if (vkl_dtype_row_bytes(type, (uint64_t)cols) == 0)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED,
                        "%s: tensor '%s' has type %s, which vkllm cannot compute with",
                        ld->path, name, vkl_ggml_type_name(t->type));
    *out = (vkl_host_tensor){t->data, type, rows, cols};
    return VKLLM_OK;
}

/* Widens a vector of F16 or BF16 to F32 in a buffer the file keeps. */
static vkllm_status widen_vector(loader *ld, const char *name, const vkl_gguf_tensor *t,
                                 int64_t n, const float **out)
{
    if (t->type == VKL_GGML_F32) {
        *out = t->data;
        return VKLLM_OK;
    }
    if (t->type != VKL_GGML_F16 && t->type != VKL_GGML_BF16)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED, "%s: vector '%s' has type %s",
                        ld->path, name, vkl_ggml_type_name(t->type));
    return vkl_model_file_widen(ld->file, (vkl_dtype)t->type, t->data, n, out, ld->err);
}

/* A vector of n (a norm weight or a bias) as F32. */
static vkllm_status take_vector(loader *ld, const char *name, int64_t n, bool required,
                                vkl_host_tensor *out)
{
    const vkl_gguf_tensor *t;
    *out = (vkl_host_tensor){0};
    vkllm_status status = find_tensor(ld, name, required, &t);
    if (status != VKLLM_OK || t == NULL)
        return status;
    status = check_shape(ld, name, t, 1, n);
    if (status != VKLLM_OK)
        return status;

    const float *data = NULL;
    status = widen_vector(ld, name, t, n, &data);
    if (status == VKLLM_OK)
        *out = (vkl_host_tensor){data, VKL_DTYPE_F32, 1, n};
    return status;
}

/* Rows [first, first + count) of a matrix, as a matrix of their own. */
static vkl_host_tensor row_slice(const vkl_host_tensor *t, int64_t first, int64_t count)
{
    uint64_t row_bytes = vkl_dtype_row_bytes(t->type, (uint64_t)t->cols);
    vkl_host_tensor slice = *t;
    slice.data = (const char *)t->data + first * row_bytes;
    slice.rows = count;
    return slice;
}

/* GPT-2 keeps q, k and v as one matrix and one bias: split them by rows. */
static vkllm_status take_fused_qkv(loader *ld, int l, vkl_layer_weights *layer)
{
    const vkl_model_config *c = &ld->file->config;
    int64_t q = (int64_t)c->n_heads * c->head_size, kv = (int64_t)c->n_kv_heads * c->head_size;
    char name[96];
    vkl_host_tensor weight, bias;

    snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", l);
    vkllm_status s = take_matrix(ld, name, q + 2 * kv, c->dim, true, &weight);
    snprintf(name, sizeof name, "blk.%d.attn_qkv.bias", l);
    if (s == VKLLM_OK)
        s = take_vector(ld, name, q + 2 * kv, false, &bias);
    if (s != VKLLM_OK)
        return s;

    layer->wq = row_slice(&weight, 0, q);
    layer->wk = row_slice(&weight, q, kv);
    layer->wv = row_slice(&weight, q + kv, kv);
    if (bias.data != NULL) {
        const float *b = bias.data;
        layer->bq = (vkl_host_tensor){b, VKL_DTYPE_F32, 1, q};
        layer->bk = (vkl_host_tensor){b + q, VKL_DTYPE_F32, 1, kv};
        layer->bv = (vkl_host_tensor){b + q + kv, VKL_DTYPE_F32, 1, kv};
    }
    return VKLLM_OK;
}

static vkllm_status take_separate_qkv(loader *ld, int l, vkl_layer_weights *layer)
{
    const vkl_model_config *c = &ld->file->config;
    int64_t q = (int64_t)c->n_heads * c->head_size, kv = (int64_t)c->n_kv_heads * c->head_size;
    char name[96];
    vkllm_status s;

    snprintf(name, sizeof name, "blk.%d.attn_q.weight", l);
    s = take_matrix(ld, name, q, c->dim, true, &layer->wq);
    snprintf(name, sizeof name, "blk.%d.attn_k.weight", l);
    if (s == VKLLM_OK) s = take_matrix(ld, name, kv, c->dim, true, &layer->wk);
    snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
    if (s == VKLLM_OK) s = take_matrix(ld, name, kv, c->dim, true, &layer->wv);
    snprintf(name, sizeof name, "blk.%d.attn_q.bias", l);
    if (s == VKLLM_OK) s = take_vector(ld, name, q, false, &layer->bq);
    snprintf(name, sizeof name, "blk.%d.attn_k.bias", l);
    if (s == VKLLM_OK) s = take_vector(ld, name, kv, false, &layer->bk);
    snprintf(name, sizeof name, "blk.%d.attn_v.bias", l);
    if (s == VKLLM_OK) s = take_vector(ld, name, kv, false, &layer->bv);
    return s;
}

/* One entry of a layer's tensor table: name suffix, slot, shape, kind. */
typedef struct layer_tensor {
    const char *suffix;
    size_t slot;                /* offset of the vkl_host_tensor in vkl_layer_weights */
    char rows, cols;            /* vkl_model_extent letters */
    bool vector;
    bool required;
} layer_tensor;

#define SLOT(field) offsetof(vkl_layer_weights, field)

static const layer_tensor layer_tensors[] = {
    {"attn_norm.weight", SLOT(attn_norm), '1', 'd', true, true},
    {"attn_norm.bias", SLOT(attn_norm_bias), '1', 'd', true, false},
    {"attn_output.weight", SLOT(wo), 'd', 'q', false, true},
    {"attn_output.bias", SLOT(bo), '1', 'd', true, false},
    {"ffn_norm.weight", SLOT(ffn_norm), '1', 'd', true, true},
    {"ffn_norm.bias", SLOT(ffn_norm_bias), '1', 'd', true, false},
    {"ffn_up.weight", SLOT(w_up), 'h', 'd', false, true},
    {"ffn_up.bias", SLOT(b_up), '1', 'h', true, false},
    {"ffn_down.weight", SLOT(w_down), 'd', 'h', false, true},
    {"ffn_down.bias", SLOT(b_down), '1', 'd', true, false},
};

static vkllm_status take_layer(loader *ld, int l, vkl_layer_weights *layer)
{
    const vkl_model_config *c = &ld->file->config;
    vkllm_status s = ld->arch->fused_qkv ? take_fused_qkv(ld, l, layer)
                                         : take_separate_qkv(ld, l, layer);
    for (size_t i = 0; s == VKLLM_OK && i < sizeof layer_tensors / sizeof *layer_tensors; i++) {
        const layer_tensor *lt = &layer_tensors[i];
        vkl_host_tensor *slot = (vkl_host_tensor *)((char *)layer + lt->slot);
        char name[96];
        snprintf(name, sizeof name, "blk.%d.%s", l, lt->suffix);
        int64_t rows = vkl_model_extent(c, lt->rows), cols = vkl_model_extent(c, lt->cols);
        s = lt->vector ? take_vector(ld, name, cols, lt->required, slot)
                       : take_matrix(ld, name, rows, cols, lt->required, slot);
    }

    char gate[96];
    snprintf(gate, sizeof gate, "blk.%d.ffn_gate.weight", l);
    if (s == VKLLM_OK && c->ffn == VKL_FFN_SWIGLU)
        s = take_matrix(ld, gate, c->hidden_dim, c->dim, true, &layer->w_gate);
    return s;
}

static vkllm_status read_vocab_size(loader *ld)
{
    const vkl_gguf_tensor *t = vkl_gguf_find_tensor(ld->g, "token_embd.weight");
    int64_t rows, cols;
    if (t == NULL || !tensor_shape(t, &rows, &cols) || rows <= 0 || rows > (1 << 24))
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: no usable token_embd.weight tensor", ld->path);
    ld->file->config.vocab_size = (int32_t)rows;
    return VKLLM_OK;
}

/* A file with more blocks than its metadata says is not what it claims. */
static vkllm_status check_no_extra_layer(const loader *ld)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", ld->file->config.n_layers);
    if (vkl_gguf_find_tensor(ld->g, name) != NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_BAD_MODEL,
                        "%s: the file has a tensor %s past the %d blocks its metadata names",
                        ld->path, name, ld->file->config.n_layers);
    return VKLLM_OK;
}

static vkllm_status take_weights(loader *ld)
{
    vkl_model_config *c = &ld->file->config;
    vkl_model_weights *w = &ld->file->weights;
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (w->layers == NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    vkllm_status s = take_matrix(ld, "token_embd.weight", c->vocab_size, c->dim, true,
                                 &w->token_embd);
    if (s == VKLLM_OK && ld->arch->learned_positions)
        s = take_matrix(ld, "position_embd.weight", c->context_length, c->dim, true,
                        &w->pos_embd);
    for (int l = 0; s == VKLLM_OK && l < c->n_layers; l++)
        s = take_layer(ld, l, &w->layers[l]);
    if (s == VKLLM_OK) s = take_vector(ld, "output_norm.weight", c->dim, true, &w->output_norm);
    if (s == VKLLM_OK)
        s = take_vector(ld, "output_norm.bias", c->dim, false, &w->output_norm_bias);
    if (s == VKLLM_OK)
        s = take_matrix(ld, "output.weight", c->vocab_size, c->dim, false, &w->output);
    if (s != VKLLM_OK)
        return s;

    c->tied_output = w->output.data == NULL;
    if (c->tied_output)
        w->output = w->token_embd;
    return VKLLM_OK;
}

static vkllm_status load(loader *ld)
{
    vkl_gguf_string arch_name = {"", 0};
    vkl_gguf_get_string(ld->g, "general.architecture", &arch_name);
    ld->arch = find_arch(arch_name);
    if (ld->arch == NULL)
        return vkl_fail(ld->err, VKLLM_ERROR_UNSUPPORTED,
                        "%s: architecture '%.*s' is not supported (llama, mistral, qwen2, "
                        "gpt2 are)", ld->path, (int)(arch_name.len < 64 ? arch_name.len : 64),
                        arch_name.data);

    vkllm_status status = read_config(ld);
    if (status == VKLLM_OK)
        status = read_vocab_size(ld);
    if (status == VKLLM_OK)
        status = check_no_extra_layer(ld);
    if (status == VKLLM_OK)
        status = take_weights(ld);
    return status;
}

vkllm_status vkl_model_file_open_gguf(const char *path, vkl_model_file **out, vkl_error *err)
{
    *out = NULL;
    vkl_model_file *file = calloc(1, sizeof *file);
    if (file == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    vkllm_status status = vkl_gguf_open(path, &file->gguf, err);
    if (status == VKLLM_OK) {
        file->mapping = file->gguf->mapping;
        file->mapping_size = file->gguf->mapping_size;
        loader ld = {.path = path, .g = file->gguf, .file = file, .err = err};
        status = load(&ld);
    }
    if (status != VKLLM_OK) {
        vkl_model_file_close(file);
        return status;
    }
    *out = file;
    return VKLLM_OK;
}
