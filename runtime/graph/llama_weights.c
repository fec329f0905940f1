/* Uploading a Llama model's weights to one device. */
#include <stdlib.h>
#include <string.h>

#include "graph/llama.h"

#define LAYER_TENSOR_COUNT 9

/* The layer's tensors as an array, in one order for upload and free. */
static void layer_tensors(vkl_llama_layer_gpu *layer, vkl_tensor **out)
{
    vkl_tensor *list[LAYER_TENSOR_COUNT] = {
        &layer->attn_norm, &layer->wq, &layer->wk, &layer->wv, &layer->wo,
        &layer->ffn_norm, &layer->w_gate, &layer->w_up, &layer->w_down,
    };
    memcpy(out, list, sizeof list);
}

static vkllm_status upload_layer(vkl_arena *arena, const vkl_llama_layer *src,
                                 vkl_llama_layer_gpu *dst, vkl_error *err)
{
    const vkl_host_tensor *sources[LAYER_TENSOR_COUNT] = {
        &src->attn_norm, &src->wq, &src->wk, &src->wv, &src->wo,
        &src->ffn_norm, &src->w_gate, &src->w_up, &src->w_down,
    };
    vkl_tensor *targets[LAYER_TENSOR_COUNT];
    layer_tensors(dst, targets);

    for (int i = 0; i < LAYER_TENSOR_COUNT; i++) {
        vkllm_status status = vkl_tensor_upload(arena, sources[i], targets[i], err);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

static vkllm_status upload_all(vkl_llama_gpu *model, const vkl_model_file *file, vkl_error *err)
{
    const vkl_llama_weights *w = &file->weights;
    vkllm_status status = vkl_tensor_upload(&model->arena, &w->token_embd, &model->token_embd,
                                            err);
    for (int l = 0; l < file->config.n_layers && status == VKLLM_OK; l++)
        status = upload_layer(&model->arena, &w->layers[l], &model->layers[l], err);
    if (status == VKLLM_OK)
        status = vkl_tensor_upload(&model->arena, &w->output_norm, &model->output_norm, err);
    if (status != VKLLM_OK || file->config.tied_output)
        return status;
    return vkl_tensor_upload(&model->arena, &w->output, &model->output, err);
}

vkllm_status vkl_llama_gpu_upload(vkl_gpu_device *dev, const vkl_model_file *file,
                                  vkl_llama_gpu *out, vkl_error *err)
{
    memset(out, 0, sizeof *out);
    out->config = file->config;
    out->dev = dev;
    vkl_arena_init(&out->arena, dev, false);
    out->layers = calloc((size_t)file->config.n_layers, sizeof *out->layers);
    if (out->layers == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for layers");

    vkllm_status status = upload_all(out, file, err);
    if (status != VKLLM_OK) {
        vkl_llama_gpu_free(out);
        return status;
    }
    /* A tied classifier binds the embedding's pieces; it owns nothing. */
    if (file->config.tied_output)
        out->output = out->token_embd;
    return VKLLM_OK;
}

void vkl_llama_gpu_free(vkl_llama_gpu *model)
{
    for (int l = 0; model->layers != NULL && l < model->config.n_layers; l++) {
        vkl_tensor *tensors[LAYER_TENSOR_COUNT];
        layer_tensors(&model->layers[l], tensors);
        for (int i = 0; i < LAYER_TENSOR_COUNT; i++)
            vkl_tensor_free(tensors[i]);
    }
    free(model->layers);
    if (!model->config.tied_output)
        vkl_tensor_free(&model->output);
    vkl_tensor_free(&model->token_embd);
    vkl_tensor_free(&model->output_norm);
    if (model->dev != NULL)
        vkl_arena_free(&model->arena);
    memset(model, 0, sizeof *model);
}
