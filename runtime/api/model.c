/* The model and tokenizer handles: read a file, check it, put it on a device. */
#include <stdlib.h>

#include "api/handles.h"

vkllm_model_options vkllm_model_default_options(void)
{
    return (vkllm_model_options){.device = -1};
}

static vkllm_status choose_device(vkllm_runtime *rt, int32_t requested, uint32_t *index,
                                  vkl_error *err)
{
    if (!rt->gpu_ready)
        return vkl_fail(err, VKLLM_ERROR_NO_DEVICE, "the runtime has no Vulkan device: %s",
                        rt->error.message);
    if (requested < 0) {
        *index = vkl_gpu_default_device(&rt->gpu);
        return VKLLM_OK;
    }
    if ((uint32_t)requested >= rt->gpu.device_count)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "device %d does not exist (%u devices)",
                        requested, rt->gpu.device_count);
    *index = (uint32_t)requested;
    return VKLLM_OK;
}

static vkllm_status load_onto_device(vkllm_runtime *rt, const char *path, uint32_t device,
                                     vkllm_model *model, vkl_error *err)
{
    vkl_gpu_device *dev;
    vkllm_status status = vkl_gpu_device_get(&rt->gpu, device, &dev, err);
    if (status != VKLLM_OK)
        return status;

    vkl_model_file *file;
    status = vkl_model_file_open_llama2c(path, &file, err);
    if (status != VKLLM_OK)
        return status;
    status = vkl_llama_gpu_upload(dev, file, &model->weights, err);
    vkl_model_file_close(file);
    return status;
}

vkllm_status vkllm_model_load(vkllm_runtime *rt, const char *path,
                              const vkllm_model_options *options, vkllm_model **out)
{
    if (rt == NULL || out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    vkl_error err = {0};
    if (path == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT, "no model path given");

    vkllm_model_options defaults = vkllm_model_default_options();
    if (options == NULL)
        options = &defaults;
    vkllm_model *model = calloc(1, sizeof *model);
    if (model == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    model->rt = rt;

    vkllm_status status = choose_device(rt, options->device, &model->device, &err);
    if (status == VKLLM_OK)
        status = load_onto_device(rt, path, model->device, model, &err);
    if (status != VKLLM_OK) {
        free(model);
        return vkl_api_record(&rt->error, &err);
    }
    VKL_INFO(&rt->logger, "loaded %s onto device %u", path, model->device);
    *out = model;
    return VKLLM_OK;
}

void vkllm_model_destroy(vkllm_model *model)
{
    if (model == NULL)
        return;
    vkl_llama_gpu_free(&model->weights);
    free(model);
}

void vkllm_model_get_info(const vkllm_model *model, vkllm_model_info *info)
{
    const vkl_llama_config *c = &model->weights.config;
    *info = (vkllm_model_info){
        .dim = c->dim,
        .hidden_dim = c->hidden_dim,
        .n_layers = c->n_layers,
        .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads,
        .vocab_size = c->vocab_size,
        .context_length = c->context_length,
        .device = model->device,
        .weight_bytes = model->weights.arena.allocated,
    };
}

vkllm_status vkllm_tokenizer_load(vkllm_runtime *rt, const char *path, const vkllm_model *model,
                                  vkllm_tokenizer **out)
{
    if (rt == NULL || out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (path == NULL || model == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT,
                        "a llama2.c tokenizer needs a path and the model it belongs to");

    vkllm_tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    vkl_error err = {0};
    vkllm_status status = vkl_tokenizer_load_llama2c(path, model->weights.config.vocab_size,
                                                     &tok->impl, &err);
    if (status != VKLLM_OK) {
        free(tok);
        return vkl_api_record(&rt->error, &err);
    }
    *out = tok;
    return VKLLM_OK;
}

void vkllm_tokenizer_destroy(vkllm_tokenizer *tok)
{
    if (tok == NULL)
        return;
    vkl_tokenizer_free(tok->impl);
    free(tok);
}

int32_t vkllm_tokenizer_vocab_size(const vkllm_tokenizer *tok)
{
    return vkl_tokenizer_vocab_size(tok->impl);
}

int32_t vkllm_tokenizer_bos(const vkllm_tokenizer *tok)
{
    return vkl_tokenizer_bos(tok->impl);
}

int32_t vkllm_tokenizer_eos(const vkllm_tokenizer *tok)
{
    return vkl_tokenizer_eos(tok->impl);
}

vkllm_status vkllm_tokenizer_encode(const vkllm_tokenizer *tok, const char *text,
                                    size_t text_len, bool add_bos, int32_t *ids,
                                    size_t capacity, size_t *count)
{
    if (tok == NULL || (text == NULL && text_len > 0) || count == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    return vkl_tokenizer_encode(tok->impl, text == NULL ? "" : text, text_len, add_bos, ids,
                                capacity, count, NULL);
}

const char *vkllm_tokenizer_piece(const vkllm_tokenizer *tok, int32_t prev, int32_t id,
                                  size_t *len)
{
    return vkl_tokenizer_piece(tok->impl, prev, id, len);
}
