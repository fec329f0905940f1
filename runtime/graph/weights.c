/* Uploading a model's weights to one device, tensor by tensor through the
 * staging path, reporting progress as bytes arrive. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/lanes.h"

/* Where one tensor lives on the host and on the device, and whether the
 * matrix products read it (then it takes the device's matrix layout). */
typedef struct slot {
    size_t host;    /* offset of a vkl_host_tensor */
    size_t gpu;     /* offset of the matching vkl_tensor */
    bool matrix;
} slot;

#define LAYER_SLOT(f, m) {offsetof(vkl_layer_weights, f), offsetof(vkl_layer_gpu, f), m}
#define MODEL_SLOT(f) {offsetof(vkl_model_weights, f), offsetof(vkl_model_gpu, f), false}

static const slot layer_slots[] = {
    LAYER_SLOT(attn_norm, false), LAYER_SLOT(attn_norm_bias, false), LAYER_SLOT(wq, true),
    LAYER_SLOT(wk, true), LAYER_SLOT(wv, true), LAYER_SLOT(wo, true), LAYER_SLOT(bq, false),
    LAYER_SLOT(bk, false), LAYER_SLOT(bv, false), LAYER_SLOT(bo, false),
    LAYER_SLOT(ffn_norm, false), LAYER_SLOT(ffn_norm_bias, false), LAYER_SLOT(w_gate, true),
    LAYER_SLOT(w_down, true), LAYER_SLOT(w_up, true), LAYER_SLOT(b_up, false),
    LAYER_SLOT(b_down, false),
};

/* The classifier is not here: it is uploaded last, and when tied it shares
 * the embedding's pieces or, where the matrix layout differs, the
 * embedding's host data. */
static const slot model_slots[] = {
    MODEL_SLOT(token_embd), MODEL_SLOT(pos_embd), MODEL_SLOT(output_norm),
    MODEL_SLOT(output_norm_bias),
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

typedef struct upload {
    vkl_model_gpu *model;
    vkl_weight_layout matrix_layout;
    vkl_progress_fn progress;
    void *progress_user;
    uint64_t done;
    uint64_t total;
    vkl_error *err;
} upload;

static const vkl_host_tensor *host_at(const void *base, const slot *s)
{
    return (const vkl_host_tensor *)((const char *)base + s->host);
}

static vkl_tensor *gpu_at(void *base, const slot *s)
{
    return (vkl_tensor *)((char *)base + s->gpu);
}

static void report_progress(upload *u, uint64_t bytes)
{
    u->done += bytes;
    if (u->progress != NULL)
        u->progress(u->done, u->total, u->progress_user);
}

/* Uploads one tensor if the file has it; an absent one stays empty. */
static vkllm_status upload_tensor(upload *u, const vkl_host_tensor *src, bool matrix,
                                  vkl_tensor *dst)
{
    if (src->data == NULL)
        return VKLLM_OK;
    vkl_weight_layout layout = matrix ? u->matrix_layout : VKL_LAYOUT_BLOCKS;
    vkllm_status status = vkl_tensor_upload(&u->model->arena, src, layout, dst, u->err);
    report_progress(u, vkl_host_tensor_bytes(src));
    return status;
}

/* SwiGLU's gate and up go up paired, for one dispatch of both products
 * and the activation, where the matrices take the lanes layout. */
static bool pair_ffn(const upload *u, const vkl_model_file *file, const vkl_layer_weights *l)
{
    return u->matrix_layout == VKL_LAYOUT_LANES && file->config.ffn == VKL_FFN_SWIGLU &&
           l->b_up.data == NULL && vkl_tensor_can_pair(&l->w_gate, &l->w_up);
}

static vkllm_status upload_pair(upload *u, const vkl_host_tensor *gate,
                                const vkl_host_tensor *up, vkl_tensor *dst)
{
    vkllm_status status = vkl_tensor_upload_pairs(&u->model->arena, gate, up, dst, u->err);
    report_progress(u, vkl_host_tensor_bytes(gate) + vkl_host_tensor_bytes(up));
    return status;
}

/* A tied classifier gets its own copy when the matrix products want
 * another layout than the embedding lookup reads. */
static bool output_copied(const upload *u, const vkl_model_file *file)
{
    const vkl_host_tensor *embd = &file->weights.token_embd;
    return file->config.tied_output && u->matrix_layout == VKL_LAYOUT_LANES &&
           vkl_lanes_row_bytes(embd->type, (uint64_t)embd->cols) != 0;
}

static uint64_t weight_bytes(const upload *u, const vkl_model_file *file)
{
    const vkl_model_weights *w = &file->weights;
    uint64_t total = 0;
    if (!file->config.tied_output)
        total += vkl_host_tensor_bytes(&w->output);
    else if (output_copied(u, file))
        total += vkl_host_tensor_bytes(&w->token_embd);
    for (size_t i = 0; i < COUNT(model_slots); i++)
        total += vkl_host_tensor_bytes(host_at(w, &model_slots[i]));
    for (int l = 0; l < file->config.n_layers; l++) {
        for (size_t i = 0; i < COUNT(layer_slots); i++)
            total += vkl_host_tensor_bytes(host_at(&w->layers[l], &layer_slots[i]));
    }
    return total;
}

static vkllm_status upload_all(upload *u, const vkl_model_file *file)
{
    const vkl_model_weights *w = &file->weights;
    vkl_model_gpu *model = u->model;
    vkllm_status s = VKLLM_OK;

    for (size_t i = 0; i < COUNT(model_slots) && s == VKLLM_OK; i++)
        s = upload_tensor(u, host_at(w, &model_slots[i]), false, gpu_at(model, &model_slots[i]));
    for (int l = 0; l < file->config.n_layers && s == VKLLM_OK; l++) {
        const vkl_layer_weights *host = &w->layers[l];
        vkl_layer_gpu *gpu = &model->layers[l];
        bool paired = pair_ffn(u, file, host);
        for (size_t i = 0; i < COUNT(layer_slots) && s == VKLLM_OK; i++) {
            const slot *at = &layer_slots[i];
            if (paired && (at->gpu == offsetof(vkl_layer_gpu, w_gate) ||
                           at->gpu == offsetof(vkl_layer_gpu, w_up)))
                continue;
            s = upload_tensor(u, host_at(host, at), at->matrix, gpu_at(gpu, at));
        }
        if (paired && s == VKLLM_OK)
            s = upload_pair(u, &host->w_gate, &host->w_up, &gpu->w_gate_up);
    }
    if (s != VKLLM_OK)
        return s;
    if (output_copied(u, file))
        return upload_tensor(u, &w->token_embd, true, &model->output);
    if (file->config.tied_output)
        return VKLLM_OK;
    return upload_tensor(u, &w->output, true, &model->output);
}

vkllm_status vkl_model_gpu_upload(vkl_gpu_device *dev, const vkl_model_file *file,
                                  vkl_progress_fn progress, void *progress_user,
                                  vkl_model_gpu *out, vkl_error *err)
{
    memset(out, 0, sizeof *out);
    if (file->config.head_size > VKL_ATTENTION_MAX_HEAD)
        return vkl_fail(err, VKLLM_ERROR_UNSUPPORTED,
                        "attention heads of %d values are not supported (at most %d)",
                        file->config.head_size, VKL_ATTENTION_MAX_HEAD);
    out->config = file->config;
    out->dev = dev;
    vkl_arena_init(&out->arena, dev, false);
    out->layers = calloc((size_t)file->config.n_layers, sizeof *out->layers);
    if (out->layers == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for layers");

    upload u = {out, vkl_ops_matrix_layout(dev), progress, progress_user, 0, 0, err};
    u.total = weight_bytes(&u, file);
    out->output_owned = !file->config.tied_output || output_copied(&u, file);
    vkllm_status status = upload_all(&u, file);
    if (status != VKLLM_OK) {
        vkl_model_gpu_free(out);
        return status;
    }
    /* A tied classifier not copied binds the embedding's pieces. */
    if (!out->output_owned)
        out->output = out->token_embd;
    return VKLLM_OK;
}

void vkl_model_gpu_free(vkl_model_gpu *model)
{
    for (int l = 0; model->layers != NULL && l < model->config.n_layers; l++) {
        for (size_t i = 0; i < COUNT(layer_slots); i++)
            vkl_tensor_free(gpu_at(&model->layers[l], &layer_slots[i]));
        vkl_tensor_free(&model->layers[l].w_gate_up);
    }
    free(model->layers);
    if (model->output_owned)
        vkl_tensor_free(&model->output);
    for (size_t i = 0; i < COUNT(model_slots); i++)
        vkl_tensor_free(gpu_at(model, &model_slots[i]));
    if (model->dev != NULL)
        vkl_arena_free(&model->arena);
    memset(model, 0, sizeof *model);
}
