/* A session's side of the Llama forward pass: activations, KV cache, and
 * the recorded steps. Each step is written like llama2.c's forward(): one
 * comment and one call per stage. */
#include <stdlib.h>
#include <string.h>

#include "graph/llama.h"

static uint32_t kv_dim(const vkl_llama_config *c)
{
    return (uint32_t)(c->n_kv_heads * c->head_size);
}

static uint32_t logit_rows(const vkl_llama_runner *r)
{
    return r->logits_all ? r->batch : 1;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */

static vkllm_status alloc_floats(vkl_llama_runner *r, uint64_t count, vkl_buffer_view *out,
                                 vkl_error *err)
{
    return vkl_arena_alloc(&r->device_arena, count * sizeof(float), out, err);
}

static vkllm_status alloc_activations(vkl_llama_runner *r, vkl_error *err)
{
    const vkl_llama_config *c = &r->model->config;
    vkl_llama_activations *a = &r->act;
    uint64_t b = r->batch;
    uint64_t q_dim = (uint64_t)c->n_heads * c->head_size;

    vkllm_status s = alloc_floats(r, b * c->dim, &a->x, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * c->dim, &a->xb, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * c->dim, &a->xb2, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * q_dim, &a->q, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * kv_dim(c), &a->k, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * kv_dim(c), &a->v, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * c->n_heads * r->context, &a->att, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * q_dim, &a->att_out, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * c->hidden_dim, &a->hb, err);
    if (s == VKLLM_OK) s = alloc_floats(r, b * c->hidden_dim, &a->hb2, err);
    if (s == VKLLM_OK) s = alloc_floats(r, (uint64_t)logit_rows(r) * c->vocab_size, &a->logits,
                                        err);
    return s;
}

static vkllm_status alloc_kv_cache(vkl_llama_runner *r, vkl_error *err)
{
    const vkl_llama_config *c = &r->model->config;
    r->act.k_cache = calloc((size_t)c->n_layers, sizeof *r->act.k_cache);
    r->act.v_cache = calloc((size_t)c->n_layers, sizeof *r->act.v_cache);
    if (r->act.k_cache == NULL || r->act.v_cache == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the KV cache");

    uint64_t layer_floats = (uint64_t)r->context * kv_dim(c);
    vkllm_status s = VKLLM_OK;
    for (int l = 0; l < c->n_layers && s == VKLLM_OK; l++) {
        s = alloc_floats(r, layer_floats, &r->act.k_cache[l], err);
        if (s == VKLLM_OK)
            s = alloc_floats(r, layer_floats, &r->act.v_cache[l], err);
    }
    return s;
}

static vkllm_status upload_rope_table(vkl_llama_runner *r, vkl_error *err)
{
    const vkl_llama_config *c = &r->model->config;
    uint64_t count = (uint64_t)r->context * c->head_size;     /* context x pairs x 2 */
    float *table = malloc(count * sizeof *table);
    if (table == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for rotary angles");

    vkl_rope_table_fill(table, r->context, (uint32_t)c->head_size, c->rope_theta);
    vkllm_status s = alloc_floats(r, count, &r->act.rope, err);
    if (s == VKLLM_OK)
        s = vkl_gpu_upload(r->model->dev, &r->act.rope, table, count * sizeof *table, err);
    free(table);
    return s;
}

static vkllm_status alloc_host_buffers(vkl_llama_runner *r, vkl_error *err)
{
    uint64_t logit_bytes = (uint64_t)logit_rows(r) * r->model->config.vocab_size * sizeof(float);
    vkllm_status s = vkl_arena_alloc(&r->host_arena, sizeof(vkl_step), &r->step, err);
    if (s == VKLLM_OK)
        s = vkl_arena_alloc(&r->host_arena, r->batch * sizeof(uint32_t), &r->tokens, err);
    if (s == VKLLM_OK)
        s = vkl_arena_alloc(&r->host_arena, logit_bytes, &r->logits_host, err);
    return s;
}

/* ------------------------------------------------------------------------ */
/* The recorded forward pass                                                 */

/* out = W in, as a matrix-vector product for a single token. */
static void project(vkl_ops *ops, const vkl_tensor *w, const vkl_buffer_view *in,
                    const vkl_buffer_view *out)
{
    if (ops->batch == 1)
        vkl_op_matvec(ops, w, in, out, false);
    else
        vkl_op_matmul(ops, w, in, out);
}

static void record_attention(vkl_ops *ops, const vkl_llama_runner *r, int l)
{
    const vkl_llama_config *c = &r->model->config;
    const vkl_llama_layer_gpu *w = &r->model->layers[l];
    const vkl_llama_activations *a = &r->act;
    vkl_attention_shape shape = {c->n_heads, c->n_kv_heads, c->head_size, r->context};

    /* attention rmsnorm */
    vkl_op_rmsnorm(ops, &a->x, &w->attn_norm.pieces[0].view, &a->xb, c->dim, c->norm_eps);

    /* q, k, v projections */
    project(ops, &w->wq, &a->xb, &a->q);
    project(ops, &w->wk, &a->xb, &a->k);
    project(ops, &w->wv, &a->xb, &a->v);

    /* rotary embedding: q in place, k straight into the cache at its position */
    vkl_op_rope(ops, &a->rope, &a->q, &a->q, c->n_heads, c->head_size, false);
    vkl_op_rope(ops, &a->rope, &a->k, &a->k_cache[l], c->n_kv_heads, c->head_size, true);
    vkl_op_copy_rows(ops, &a->v, &a->v_cache[l], kv_dim(c));

    /* causal attention over the cache */
    vkl_op_attn_scores(ops, &shape, &a->q, &a->k_cache[l], &a->att);
    vkl_op_softmax(ops, &a->att, r->context, c->n_heads, true);
    vkl_op_attn_values(ops, &shape, &a->att, &a->v_cache[l], &a->att_out);

    /* output projection and residual */
    project(ops, &w->wo, &a->att_out, &a->xb2);
    vkl_op_add(ops, &a->x, &a->xb2, c->dim);
}

static void record_ffn(vkl_ops *ops, const vkl_llama_runner *r, int l)
{
    const vkl_llama_config *c = &r->model->config;
    const vkl_llama_layer_gpu *w = &r->model->layers[l];
    const vkl_llama_activations *a = &r->act;

    /* ffn rmsnorm */
    vkl_op_rmsnorm(ops, &a->x, &w->ffn_norm.pieces[0].view, &a->xb, c->dim, c->norm_eps);

    /* silu(W_gate x) * (W_up x) */
    project(ops, &w->w_gate, &a->xb, &a->hb);
    project(ops, &w->w_up, &a->xb, &a->hb2);
    vkl_op_swiglu(ops, &a->hb, &a->hb2, &a->hb, c->hidden_dim);

    /* down projection and residual */
    project(ops, &w->w_down, &a->hb, &a->xb2);
    vkl_op_add(ops, &a->x, &a->xb2, c->dim);
}

static void record_classifier(vkl_ops *ops, const vkl_llama_runner *r)
{
    const vkl_llama_config *c = &r->model->config;
    const vkl_llama_activations *a = &r->act;

    /* final rmsnorm */
    vkl_op_rmsnorm(ops, &a->x, &r->model->output_norm.pieces[0].view, &a->xb, c->dim,
                   c->norm_eps);

    /* logits of every token, or of the last one only */
    if (r->logits_all && ops->batch > 1)
        vkl_op_matmul(ops, &r->model->output, &a->xb, &a->logits);
    else
        vkl_op_matvec(ops, &r->model->output, &a->xb, &a->logits, true);

    uint64_t rows = r->logits_all ? ops->batch : 1;
    vkl_record_readback(ops->rec, &a->logits, &r->logits_host,
                        rows * c->vocab_size * sizeof(float));
}

static vkllm_status record_forward(vkl_llama_runner *r, VkCommandBuffer cmd, uint32_t batch,
                                   vkl_error *err)
{
    vkl_recorder rec;
    vkl_ops ops;
    vkl_recorder_begin(&rec, r->model->dev, cmd, &r->descriptors, err);
    vkl_ops_init(&ops, &rec, &r->step, batch);

    /* token embedding */
    vkl_op_embed(&ops, &r->model->token_embd, &r->tokens, &r->act.x);

    for (int l = 0; l < r->model->config.n_layers; l++) {
        record_attention(&ops, r, l);
        record_ffn(&ops, r, l);
    }
    record_classifier(&ops, r);
    return vkl_recorder_end(&rec);
}

/* ------------------------------------------------------------------------ */
/* Lifetime and steps                                                        */

static vkllm_status create_commands(vkl_llama_runner *r, vkl_error *err)
{
    vkl_gpu_device *dev = r->model->dev;
    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = dev->queue_family,
    };
    VKL_VK_CHECK(err, dev->vk.vkCreateCommandPool(dev->device, &pool_info, NULL, &r->pool));

    VkCommandBuffer cmds[2];
    VkCommandBufferAllocateInfo cmd_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = r->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 2,
    };
    VKL_VK_CHECK(err, dev->vk.vkAllocateCommandBuffers(dev->device, &cmd_info, cmds));
    r->one_token_cmd = cmds[0];
    r->batch_cmd = cmds[1];

    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKL_VK_CHECK(err, dev->vk.vkCreateFence(dev->device, &fence_info, NULL, &r->fence));
    return VKLLM_OK;
}

static vkllm_status build_runner(vkl_llama_runner *r, vkl_error *err)
{
    vkllm_status s = alloc_activations(r, err);
    if (s == VKLLM_OK) s = alloc_kv_cache(r, err);
    if (s == VKLLM_OK) s = upload_rope_table(r, err);
    if (s == VKLLM_OK) s = alloc_host_buffers(r, err);
    if (s == VKLLM_OK) s = create_commands(r, err);
    if (s == VKLLM_OK) s = record_forward(r, r->one_token_cmd, 1, err);
    if (s == VKLLM_OK && r->batch > 1) s = record_forward(r, r->batch_cmd, r->batch, err);
    return s;
}

vkllm_status vkl_llama_runner_create(const vkl_llama_gpu *model, uint32_t context,
                                     uint32_t batch, bool logits_all,
                                     vkl_llama_runner *out, vkl_error *err)
{
    memset(out, 0, sizeof *out);
    out->model = model;
    out->context = context;
    out->batch = batch;
    out->logits_all = logits_all;
    vkl_arena_init(&out->device_arena, model->dev, false);
    vkl_arena_init(&out->host_arena, model->dev, true);

    vkllm_status status = build_runner(out, err);
    if (status != VKLLM_OK)
        vkl_llama_runner_free(out);
    return status;
}

void vkl_llama_runner_free(vkl_llama_runner *r)
{
    if (r->model == NULL)
        return;
    vkl_gpu_device *dev = r->model->dev;
    if (r->fence != VK_NULL_HANDLE)
        dev->vk.vkDestroyFence(dev->device, r->fence, NULL);
    if (r->pool != VK_NULL_HANDLE)
        dev->vk.vkDestroyCommandPool(dev->device, r->pool, NULL);
    vkl_descriptor_pools_free(dev, &r->descriptors);
    free(r->act.k_cache);
    free(r->act.v_cache);
    vkl_arena_free(&r->device_arena);
    vkl_arena_free(&r->host_arena);
    memset(r, 0, sizeof *r);
}

vkllm_status vkl_llama_runner_step(vkl_llama_runner *r, const int32_t *tokens, uint32_t n,
                                   uint32_t pos0, vkl_error *err)
{
    if (n == 0 || n > r->batch || pos0 + n > r->context)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "a step of %u tokens at position %u does not fit (batch %u, context %u)",
                        n, pos0, r->batch, r->context);

    vkl_step step = {.pos0 = pos0, .n_tokens = n};
    memcpy(r->step.mapped, &step, sizeof step);
    uint32_t *token_slots = r->tokens.mapped;
    for (uint32_t i = 0; i < n; i++)
        token_slots[i] = (uint32_t)tokens[i];

    VkCommandBuffer cmd = n == 1 ? r->one_token_cmd : r->batch_cmd;
    return vkl_gpu_submit_wait(r->model->dev, cmd, r->fence, err);
}

const float *vkl_llama_runner_logits(const vkl_llama_runner *r, uint32_t i)
{
    return (const float *)r->logits_host.mapped + (uint64_t)i * r->model->config.vocab_size;
}
