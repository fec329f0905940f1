/* The model and tokenizer handles: read a file, check it, put it on a device. */
#include <stdlib.h>

#include "api/handles.h"
#include "model/gguf.h"
#include "model/gguf_vocab.h"
#include "model/tokenizer_file.h"

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
    if (requested == -1) {
        *index = vkl_gpu_default_device(&rt->gpu);
        return VKLLM_OK;
    }
    if (requested < 0 || (uint32_t)requested >= rt->gpu.device_count)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "device %d does not exist (%u devices)",
                        requested, rt->gpu.device_count);
    *index = (uint32_t)requested;
    return VKLLM_OK;
}

/* Every id a tokenizer can produce must have a row in the model. */
static vkllm_status check_fits_model(const vkl_tokenizer *tok, int32_t model_vocab,
                                     const char *what, vkl_error *err)
{
    int32_t size = vkl_tokenizer_vocab_size(tok);
    if (size > model_vocab)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s has %d tokens, more than the model's %d", what, size, model_vocab);
    return VKLLM_OK;
}

/* A GGUF file's own tokenizer stays with the model after the file closes. */
static vkllm_status keep_vocabulary(const vkl_model_file *file, vkllm_model *model,
                                    vkl_error *err)
{
    if (file->gguf == NULL || vkl_gguf_find(file->gguf, "tokenizer.ggml.model") == NULL)
        return VKLLM_OK;
    model->vocab = calloc(1, sizeof *model->vocab);
    if (model->vocab == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    vkllm_status status = vkl_gguf_vocab_load(file->gguf, &model->vocab->impl, err);
    if (status == VKLLM_OK)
        status = check_fits_model(model->vocab->impl, file->config.vocab_size,
                                  "the file's vocabulary", err);
    if (status != VKLLM_OK) {
        vkllm_tokenizer_destroy(model->vocab);
        model->vocab = NULL;
    }
    return status;
}

static vkllm_status load_onto_device(vkllm_runtime *rt, const char *path,
                                     const vkllm_model_options *options, vkllm_model *model,
                                     vkl_error *err)
{
    vkl_gpu_device *dev;
    vkllm_status status = vkl_gpu_device_get(&rt->gpu, model->device, &dev, err);
    if (status != VKLLM_OK)
        return status;

    vkl_model_file *file;
    status = vkl_model_file_open(path, &file, err);
    if (status != VKLLM_OK)
        return status;
    status = vkl_model_gpu_upload(dev, file, options->progress, options->progress_user,
                                  &model->weights, err);
    if (status == VKLLM_OK)
        status = keep_vocabulary(file, model, err);
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
        status = load_onto_device(rt, path, options, model, &err);
    if (status != VKLLM_OK) {
        vkllm_model_destroy(model);     /* frees whatever part was loaded */
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
    vkllm_tokenizer_destroy(model->vocab);
    vkl_model_gpu_free(&model->weights);
    free(model);
}

void vkllm_model_get_info(const vkllm_model *model, vkllm_model_info *info)
{
    if (model == NULL || info == NULL) {
        if (info != NULL)
            *info = (vkllm_model_info){0};
        return;
    }
    const vkl_model_config *c = &model->weights.config;
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

const vkllm_tokenizer *vkllm_model_tokenizer(const vkllm_model *model)
{
    return model != NULL ? model->vocab : NULL;
}

vkllm_status vkllm_tokenizer_load(vkllm_runtime *rt, const char *path, const vkllm_model *model,
                                  vkllm_tokenizer **out)
{
    if (rt == NULL || out == NULL)
        return VKLLM_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (path == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_INVALID_ARGUMENT, "no tokenizer path given");

    vkllm_tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL)
        return vkl_fail(&rt->error, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    vkl_error err = {0};
    int32_t vocab_size = model != NULL ? model->weights.config.vocab_size : 0;
    vkllm_status status = vkl_tokenizer_open(path, vocab_size, &tok->impl, &err);
    if (status == VKLLM_OK && model != NULL) {
        status = check_fits_model(tok->impl, model->weights.config.vocab_size, path, &err);
        if (status != VKLLM_OK)
            vkl_tokenizer_free(tok->impl);
    }
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
    return tok != NULL ? vkl_tokenizer_vocab_size(tok->impl) : 0;
}

int32_t vkllm_tokenizer_bos(const vkllm_tokenizer *tok)
{
    return tok != NULL ? vkl_tokenizer_bos(tok->impl) : -1;
}

int32_t vkllm_tokenizer_eos(const vkllm_tokenizer *tok)
{
    return tok != NULL ? vkl_tokenizer_eos(tok->impl) : -1;
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
    size_t ignored;
    if (tok == NULL)
        return NULL;
    return vkl_tokenizer_piece(tok->impl, prev, id, len != NULL ? len : &ignored);
}
