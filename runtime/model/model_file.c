#include "model/model_file.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/array.h"
#include "model/gguf.h"

/* The types vkllm computes with; their block layouts are ggml's, as the
 * GGUF reader's table has them. */
static const vkl_dtype supported[] = {
    VKL_DTYPE_F32, VKL_DTYPE_F16, VKL_DTYPE_BF16, VKL_DTYPE_Q8_0,
    VKL_DTYPE_Q4_0, VKL_DTYPE_Q4_K, VKL_DTYPE_Q6_K,
};

static bool is_supported(vkl_dtype type)
{
    for (size_t i = 0; i < sizeof supported / sizeof *supported; i++) {
        if (supported[i] == type)
            return true;
    }
    return false;
}

bool vkl_dtype_layout(vkl_dtype type, uint32_t *block_weights, uint32_t *block_bytes)
{
    return is_supported(type) && vkl_ggml_type_layout(type, block_weights, block_bytes);
}

const char *vkl_dtype_name(vkl_dtype type)
{
    return vkl_ggml_type_name(type);
}

uint64_t vkl_dtype_row_bytes(vkl_dtype type, uint64_t cols)
{
    uint32_t block_weights, block_bytes;
    if (!vkl_dtype_layout(type, &block_weights, &block_bytes) || cols % block_weights != 0)
        return 0;
    return cols / block_weights * block_bytes;
}

int64_t vkl_model_extent(const vkl_model_config *c, char code)
{
    switch (code) {
    case 'd': return c->dim;
    case 'h': return c->hidden_dim;
    case 'q': return (int64_t)c->n_heads * c->head_size;
    case 'k': return (int64_t)c->n_kv_heads * c->head_size;
    default: return 1;
    }
}

uint64_t vkl_host_tensor_bytes(const vkl_host_tensor *t)
{
    /* A negative extent is a bug elsewhere; report no bytes rather than a
     * huge wrapped-around count. */
    if (t->rows < 0 || t->cols < 0)
        return 0;

    return (uint64_t)t->rows * vkl_dtype_row_bytes(t->type, (uint64_t)t->cols);
}

/* ------------------------------------------------------------------------ */
/* Opening any format                                                        */

static bool starts_with_gguf_magic(const char *path)
{
    /* Only a regular file is read here: opening a FIFO would wait for a
     * writer. The reader that follows reports anything else. */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, "GGUF", 4) == 0;
}

vkllm_status vkl_model_file_open(const char *path, vkl_model_file **out, vkl_error *err)
{
    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "no model path or no output given");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return vkl_model_file_open_hf(path, out, err);
    if (starts_with_gguf_magic(path))
        return vkl_model_file_open_gguf(path, out, err);
    /* A file named .gguf is one whose header is damaged, not a checkpoint. */
    size_t len = strlen(path);
    if (len >= 5 && strcmp(path + len - 5, ".gguf") == 0)
        return vkl_model_file_open_gguf(path, out, err);
    return vkl_model_file_open_llama2c(path, out, err);
}

void vkl_model_file_close(vkl_model_file *file)
{
    if (file == NULL)
        return;

    if (file->format_close != NULL)
        file->format_close(file->format_state);
    if (file->gguf != NULL)
        vkl_gguf_close(file->gguf);
    vkl_mapped_file_close(&file->map);
    for (uint32_t i = 0; i < file->owned_count; i++)
        free(file->owned[i]);
    free(file->owned);
    free(file->weights.layers);
    free(file);
}

vkllm_status vkl_model_file_keep(vkl_model_file *file, void *buffer, vkl_error *err)
{
    vkllm_status status = vkl_array_reserve_one((void **)&file->owned, file->owned_count,
                                                &file->owned_capacity, sizeof *file->owned, err);
    if (status != VKLLM_OK) {
        free(buffer);
        return status;
    }
    file->owned[file->owned_count++] = buffer;
    return VKLLM_OK;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float vkl_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int32_t exponent = (h >> 10) & 31;
    uint32_t mantissa = h & 1023;
    float magnitude;
    if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else if (exponent == 0)
        magnitude = ldexpf((float)mantissa, -24);     /* zero or subnormal */
    else
        magnitude = ldexpf((float)(mantissa | 1024), exponent - 25);
    uint32_t bits;
    memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

vkllm_status vkl_model_file_widen(vkl_model_file *file, vkl_dtype type, const void *src,
                                  int64_t n, const float **out, vkl_error *err)
{
    float *wide = malloc((size_t)n * sizeof *wide);
    if (wide == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    const unsigned char *bytes = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(bytes[2 * i] | bytes[2 * i + 1] << 8);
        wide[i] = type == VKL_DTYPE_F16 ? vkl_f16_to_f32(h) : bf16_to_f32(h);
    }
    *out = wide;
    return vkl_model_file_keep(file, wide, err);
}

/* ------------------------------------------------------------------------ */
/* Naming                                                                    */

typedef struct named_slot {
    const char *name;
    size_t offset;      /* of a vkl_host_tensor in vkl_layer_weights */
} named_slot;

#define LAYER_NAME(name, field) {name, offsetof(vkl_layer_weights, field)}

static const named_slot layer_names[] = {
    LAYER_NAME("attn_norm.weight", attn_norm), LAYER_NAME("attn_norm.bias", attn_norm_bias),
    LAYER_NAME("attn_q.weight", wq), LAYER_NAME("attn_k.weight", wk),
    LAYER_NAME("attn_v.weight", wv), LAYER_NAME("attn_output.weight", wo),
    LAYER_NAME("attn_q.bias", bq), LAYER_NAME("attn_k.bias", bk),
    LAYER_NAME("attn_v.bias", bv), LAYER_NAME("attn_output.bias", bo),
    LAYER_NAME("ffn_norm.weight", ffn_norm), LAYER_NAME("ffn_norm.bias", ffn_norm_bias),
    LAYER_NAME("ffn_gate.weight", w_gate), LAYER_NAME("ffn_down.weight", w_down),
    LAYER_NAME("ffn_up.weight", w_up), LAYER_NAME("ffn_up.bias", b_up),
    LAYER_NAME("ffn_down.bias", b_down),
};

static void visit(const char *name, const vkl_host_tensor *t, vkl_tensor_visit_fn fn, void *user)
{
    if (t->data != NULL)
        fn(name, t, user);
}

void vkl_model_file_for_each_tensor(const vkl_model_file *file, vkl_tensor_visit_fn fn,
                                    void *user)
{
    const vkl_model_weights *w = &file->weights;
    visit("token_embd.weight", &w->token_embd, fn, user);
    visit("position_embd.weight", &w->pos_embd, fn, user);
    for (int l = 0; l < file->config.n_layers; l++) {
        for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", l, layer_names[i].name);
            visit(name, (const vkl_host_tensor *)((const char *)&w->layers[l] +
                                                  layer_names[i].offset), fn, user);
        }
    }
    visit("output_norm.weight", &w->output_norm, fn, user);
    visit("output_norm.bias", &w->output_norm_bias, fn, user);
    if (!file->config.tied_output)
        visit("output.weight", &w->output, fn, user);
}
