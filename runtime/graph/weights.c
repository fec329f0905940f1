/* Uploading a model's weights to one device, tensor by tensor through the
 * staging path, reporting progress as bytes arrive. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

/* Where one tensor lives on the host and on the device. */
typedef struct slot {
    size_t host;    /* offset of a vkl_host_tensor */
    size_t gpu;     /* offset of the matching vkl_tensor */
} slot;

#define LAYER_SLOT(f) {offsetof(vkl_layer_weights, f), offsetof(vkl_layer_gpu, f)}
#define MODEL_SLOT(f) {offsetof(vkl_model_weights, f), offsetof(vkl_model_gpu, f)}

static const slot layer_slots[] = {
    LAYER_SLOT(attn_norm), LAYER_SLOT(attn_norm_bias), LAYER_SLOT(wq), LAYER_SLOT(wk),
    LAYER_SLOT(wv), LAYER_SLOT(wo), LAYER_SLOT(bq), LAYER_SLOT(bk), LAYER_SLOT(bv),
    LAYER_SLOT(bo), LAYER_SLOT(ffn_norm), LAYER_SLOT(ffn_norm_bias), LAYER_SLOT(w_gate),
    LAYER_SLOT(w_down), LAYER_SLOT(w_up), LAYER_SLOT(b_up), LAYER_SLOT(b_down),
};

/* The classifier is not here: when tied it shares the embedding's pieces. */
static const slot model_slots[] = {
    MODEL_SLOT(token_embd), MODEL_SLOT(pos_embd), MODEL_SLOT(output_norm),
    MODEL_SLOT(output_norm_bias),
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

typedef struct upload {
    vkl_model_gpu *model;
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

/* Uploads one tensor if the file has it; an absent one stays empty. */
static vkllm_status upload_tensor(upload *u, const vkl_host_tensor *src, vkl_tensor *dst)
{
    if (src->data == NULL)
        return VKLLM_OK;
    vkllm_status status = vkl_tensor_upload(&u->model->arena, src, dst, u->err);
    u->done += vkl_host_tensor_bytes(src);
    if (u->progress != NULL)
        u->progress(u->done, u->total, u->progress_user);
    return status;
}

static uint64_t weight_bytes(const vkl_model_file *file)
{
    const vkl_model_weights *w = &file->weights;
    uint64_t total = file->config.tied_output ? 0 : vkl_host_tensor_bytes(&w->output);
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
        s = upload_tensor(u, host_at(w, &model_slots[i]), gpu_at(model, &model_slots[i]));
    for (int l = 0; l < file->config.n_layers && s == VKLLM_OK; l++) {
        for (size_t i = 0; i < COUNT(layer_slots) && s == VKLLM_OK; i++)
            s = upload_tensor(u, host_at(&w->layers[l], &layer_slots[i]),
                              gpu_at(&model->layers[l], &layer_slots[i]));
    }
    if (s != VKLLM_OK || file->config.tied_output)
        return s;
    return upload_tensor(u, &w->output, &model->output);
}

vkllm_status vkl_model_gpu_upload(vkl_gpu_device *dev, const vkl_model_file *file,
                                  vkl_progress_fn progress, void *progress_user,
                                  vkl_model_gpu *out, vkl_error *err)
{
    memset(out, 0, sizeof *out);
    out->config = file->config;
    out->dev = dev;
    vkl_arena_init(&out->arena, dev, false);
    out->layers = calloc((size_t)file->config.n_layers, sizeof *out->layers);
    if (out->layers == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for layers");

    upload u = {out, progress, progress_user, 0, weight_bytes(file), err};
    vkllm_status status = upload_all(&u, file);
    if (status != VKLLM_OK) {
        vkl_model_gpu_free(out);
        return status;
    }
    /* A tied classifier binds the embedding's pieces; it owns nothing. */
    if (file->config.tied_output)
        out->output = out->token_embd;
    return VKLLM_OK;
}

void vkl_model_gpu_free(vkl_model_gpu *model)
{
    for (int l = 0; model->layers != NULL && l < model->config.n_layers; l++) {
        for (size_t i = 0; i < COUNT(layer_slots); i++)
            vkl_tensor_free(gpu_at(&model->layers[l], &layer_slots[i]));
    }
    free(model->layers);
    if (!model->config.tied_output)
        vkl_tensor_free(&model->output);
    for (size_t i = 0; i < COUNT(model_slots); i++)
        vkl_tensor_free(gpu_at(model, &model_slots[i]));
    if (model->dev != NULL)
        vkl_arena_free(&model->arena);
    memset(model, 0, sizeof *model);
}
