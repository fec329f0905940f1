/* A session's side of the forward pass: activations, KV cache, and the
 * recorded steps. Each step is written like llama2.c's forward(): one
 * comment and one call per stage, the layer kinds choosing the variant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static uint32_t kv_dim(const vkl_model_config *c)
{
    return (uint32_t)(c->n_kv_heads * c->head_size);
}

static uint32_t logit_rows(const vkl_runner *r)
{
    return r->logits_all ? r->batch : 1;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */

/* A device buffer of count floats; a failure names the buffer, since the
 * context length is what the caller can change. */
static vkllm_status alloc_floats(vkl_runner *r, uint64_t count, const char *name,
                                 vkl_buffer_view *out, vkl_error *err)
{
    vkllm_status status = vkl_arena_alloc(&r->device_arena, count * sizeof(float), out, err);
    if (status != VKLLM_OK && err != NULL) {
        char cause[VKL_ERROR_MESSAGE_SIZE];
        snprintf(cause, sizeof cause, "%s", err->message);
        vkl_fail(err, status, "the session's %s (context %u, batch %u): %s; a shorter "
                 "context needs less", name, r->context, r->batch, cause);
    }
    return status;
}

#define ACTIVATION_COUNT 10

static vkl_attention_shape attention_shape(const vkl_model_config *c, uint32_t context)
{
    return (vkl_attention_shape){(uint32_t)c->n_heads, (uint32_t)c->n_kv_heads,
                                 (uint32_t)c->head_size, context,
                                 vkl_attention_splits(context)};
}

/* The size in floats of every activation buffer, in the order of
 * activation_views; the one list serves allocation and estimates. */
static void activation_floats(const vkl_model_config *c, uint64_t context, uint64_t batch,
                              uint64_t logit_rows, uint64_t floats[ACTIVATION_COUNT])
{
    uint64_t q_dim = (uint64_t)c->n_heads * c->head_size;
    uint64_t kv = (uint64_t)c->n_kv_heads * c->head_size;
    vkl_attention_shape shape = attention_shape(c, (uint32_t)context);
    uint64_t sizes[ACTIVATION_COUNT] = {
        batch * c->dim, batch * c->dim,                         /* x, xb */
        batch * q_dim, batch * kv, batch * kv,                  /* q, k, v */
        vkl_attention_parts_floats(&shape, (uint32_t)batch),    /* att_parts */
        batch * q_dim,                                          /* att_out */
        batch * c->hidden_dim, batch * c->hidden_dim,           /* hb, hb2 */
        logit_rows * c->vocab_size,                             /* logits */
    };
    memcpy(floats, sizes, sizeof sizes);
}

static const char *const activation_names[ACTIVATION_COUNT] = {
    "residual stream", "normed input", "queries", "new keys",
    "new values", "attention partials", "attention output", "hidden layer", "hidden layer",
    "logits",
};

static void activation_views(vkl_activations *a, vkl_buffer_view *views[ACTIVATION_COUNT])
{
    vkl_buffer_view *list[ACTIVATION_COUNT] = {
        &a->x, &a->xb, &a->q, &a->k, &a->v, &a->att_parts, &a->att_out, &a->hb, &a->hb2,
        &a->logits,
    };
    memcpy(views, list, sizeof list);
}

uint64_t vkl_context_bytes(const vkl_model_config *c, uint32_t context, uint32_t batch)
{
    uint64_t floats[ACTIVATION_COUNT];
    activation_floats(c, context, batch, 1, floats);
    uint64_t total = 2ull * c->n_layers * context * c->n_kv_heads * c->head_size;
    total += (uint64_t)context * c->head_size;                  /* rotary table */
    for (int i = 0; i < ACTIVATION_COUNT; i++)
        total += floats[i];
    return total * sizeof(float);
}

static vkllm_status alloc_activations(vkl_runner *r, vkl_error *err)
{
    uint64_t floats[ACTIVATION_COUNT];
    vkl_buffer_view *views[ACTIVATION_COUNT];
    activation_floats(&r->model->config, r->context, r->batch, logit_rows(r), floats);
    activation_views(&r->act, views);

    vkllm_status s = VKLLM_OK;
    for (int i = 0; i < ACTIVATION_COUNT && s == VKLLM_OK; i++)
        s = alloc_floats(r, floats[i], activation_names[i], views[i], err);
    return s;
}

static vkllm_status alloc_kv_cache(vkl_runner *r, vkl_error *err)
{
    const vkl_model_config *c = &r->model->config;
    r->act.k_cache = calloc((size_t)c->n_layers, sizeof *r->act.k_cache);
    r->act.v_cache = calloc((size_t)c->n_layers, sizeof *r->act.v_cache);
    if (r->act.k_cache == NULL || r->act.v_cache == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for the KV cache");

    uint64_t layer_floats = (uint64_t)r->context * kv_dim(c);
    vkllm_status s = VKLLM_OK;
    for (int l = 0; l < c->n_layers && s == VKLLM_OK; l++) {
        s = alloc_floats(r, layer_floats, "key cache", &r->act.k_cache[l], err);
        if (s == VKLLM_OK)
            s = alloc_floats(r, layer_floats, "value cache", &r->act.v_cache[l], err);
    }
    return s;
}

static vkllm_status upload_rope_table(vkl_runner *r, vkl_error *err)
{
    const vkl_model_config *c = &r->model->config;
    uint64_t count = (uint64_t)r->context * c->head_size;     /* context x pairs x 2 */
    float *table = malloc(count * sizeof *table);
    if (table == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory for rotary angles");

    vkl_rope_table_fill(table, r->context, (uint32_t)c->head_size, c->rope_theta);
    vkllm_status s = alloc_floats(r, count, "rotary table", &r->act.rope, err);
    if (s == VKLLM_OK)
        s = vkl_gpu_upload(r->model->dev, &r->act.rope, table, count * sizeof *table, err);
    free(table);
    return s;
}

static vkllm_status alloc_host_buffers(vkl_runner *r, vkl_error *err)
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

/* out = W in (+ bias), or out += with VKL_PRODUCT_ADD: a matrix-vector
 * product for a single token, a matrix-matrix product for a batch. */
static void project(vkl_ops *ops, const vkl_tensor *w, const vkl_tensor *bias,
                    const vkl_buffer_view *in, const vkl_buffer_view *out, unsigned options)
{
    if (ops->batch == 1)
        vkl_op_matvec(ops, w, in, out, options);
    else
        vkl_op_matmul(ops, w, in, out, options);
    if (bias != NULL && vkl_tensor_present(bias))
        vkl_op_add_bias(ops, out, &bias->pieces[0].view, w->rows);
}

/* y = norm(x), RMSNorm or LayerNorm as the architecture says. */
static void normalize(vkl_ops *ops, const vkl_model_config *c, const vkl_tensor *weight,
                      const vkl_tensor *bias, const vkl_buffer_view *x,
                      const vkl_buffer_view *y)
{
    if (c->norm == VKL_NORM_RMS)
        vkl_op_rmsnorm(ops, x, &weight->pieces[0].view, y, c->dim, c->norm_eps);
    else
        vkl_op_layernorm(ops, x, &weight->pieces[0].view, &bias->pieces[0].view, y, c->dim,
                         c->norm_eps);
}

/* Keys go into the cache at their positions, rotated where the
 * architecture uses rotary embeddings; queries are rotated in place. */
static void store_keys(vkl_ops *ops, const vkl_runner *r, int l)
{
    const vkl_model_config *c = &r->model->config;
    const vkl_activations *a = &r->act;
    if (c->rope == VKL_ROPE_NONE) {
        vkl_op_copy_rows(ops, &a->k, &a->k_cache[l], kv_dim(c));
        return;
    }
    vkl_rope_style style = c->rope == VKL_ROPE_NEOX ? VKL_ROPE_HALVES : VKL_ROPE_PAIRS;
    vkl_op_rope(ops, &a->rope, &a->q, &a->q, c->n_heads, c->head_size, style, false);
    vkl_op_rope(ops, &a->rope, &a->k, &a->k_cache[l], c->n_kv_heads, c->head_size, style,
                true);
}

static void record_attention(vkl_ops *ops, const vkl_runner *r, int l)
{
    const vkl_model_config *c = &r->model->config;
    const vkl_layer_gpu *w = &r->model->layers[l];
    const vkl_activations *a = &r->act;
    vkl_attention_shape shape = attention_shape(c, r->context);

    /* attention norm */
    normalize(ops, c, &w->attn_norm, &w->attn_norm_bias, &a->x, &a->xb);

    /* q, k, v projections */
    project(ops, &w->wq, &w->bq, &a->xb, &a->q, 0);
    project(ops, &w->wk, &w->bk, &a->xb, &a->k, 0);
    project(ops, &w->wv, &w->bv, &a->xb, &a->v, 0);

    /* positions: rotary on q and k; k and v appended to the cache */
    store_keys(ops, r, l);
    vkl_op_copy_rows(ops, &a->v, &a->v_cache[l], kv_dim(c));

    /* causal attention over the cache */
    vkl_op_attention(ops, &shape, &a->q, &a->k_cache[l], &a->v_cache[l], &a->att_parts,
                     &a->att_out);

    /* output projection, added to the residual stream */
    project(ops, &w->wo, &w->bo, &a->att_out, &a->x, VKL_PRODUCT_ADD);
}

static void record_ffn(vkl_ops *ops, const vkl_runner *r, int l)
{
    const vkl_model_config *c = &r->model->config;
    const vkl_layer_gpu *w = &r->model->layers[l];
    const vkl_activations *a = &r->act;

    /* ffn norm */
    normalize(ops, c, &w->ffn_norm, &w->ffn_norm_bias, &a->x, &a->xb);

    /* the hidden layer: silu(W_gate x) * (W_up x), or gelu(W_up x + b) */
    if (vkl_tensor_present(&w->w_gate_up)) {
        vkl_op_swiglu_product(ops, &w->w_gate_up, &a->xb, &a->hb);
    } else {
        project(ops, &w->w_up, &w->b_up, &a->xb, &a->hb2, 0);
        if (c->ffn == VKL_FFN_SWIGLU) {
            project(ops, &w->w_gate, NULL, &a->xb, &a->hb, 0);
            vkl_op_swiglu(ops, &a->hb, &a->hb2, &a->hb, c->hidden_dim);
        } else {
            vkl_op_gelu(ops, &a->hb2, &a->hb, c->hidden_dim);
        }
    }

    /* down projection, added to the residual stream */
    project(ops, &w->w_down, &w->b_down, &a->hb, &a->x, VKL_PRODUCT_ADD);
}

static void record_classifier(vkl_ops *ops, const vkl_runner *r)
{
    const vkl_model_config *c = &r->model->config;
    const vkl_activations *a = &r->act;

    /* final norm */
    normalize(ops, c, &r->model->output_norm, &r->model->output_norm_bias, &a->x, &a->xb);

    /* logits of every token, or of the last one only */
    if (r->logits_all && ops->batch > 1)
        vkl_op_matmul(ops, &r->model->output, &a->xb, &a->logits, 0);
    else
        vkl_op_matvec(ops, &r->model->output, &a->xb, &a->logits, VKL_PRODUCT_LAST_ROW);

    uint64_t rows = r->logits_all ? ops->batch : 1;
    vkl_record_readback(ops->rec, &a->logits, &r->logits_host,
                        rows * c->vocab_size * sizeof(float));
}

static vkllm_status record_forward(vkl_runner *r, VkCommandBuffer cmd, uint32_t batch,
                                   vkl_error *err)
{
    vkl_recorder rec;
    vkl_ops ops;
    vkl_recorder_begin(&rec, r->model->dev, cmd, &r->descriptors, err);
    vkl_ops_init(&ops, &rec, &r->step, batch);

    /* token embedding, and learned position embedding where there is one */
    vkl_op_embed(&ops, &r->model->token_embd, &r->tokens, &r->act.x);
    if (vkl_tensor_present(&r->model->pos_embd))
        vkl_op_add_positions(&ops, &r->model->pos_embd, &r->act.x);

    for (int l = 0; l < r->model->config.n_layers; l++) {
        record_attention(&ops, r, l);
        record_ffn(&ops, r, l);
    }
    record_classifier(&ops, r);
    return vkl_recorder_end(&rec);
}

/* ------------------------------------------------------------------------ */
/* Lifetime and steps                                                        */


static vkllm_status build_runner(vkl_runner *r, vkl_error *err)
{
    vkllm_status s = alloc_activations(r, err);
    if (s == VKLLM_OK) s = alloc_kv_cache(r, err);
    if (s == VKLLM_OK && r->model->config.rope != VKL_ROPE_NONE)
        s = upload_rope_table(r, err);
    if (s == VKLLM_OK) s = alloc_host_buffers(r, err);
    if (s == VKLLM_OK) s = vkl_commands_create(r->model->dev, 2, false, &r->commands, err);
    if (s == VKLLM_OK) s = record_forward(r, r->commands.cmd[0], 1, err);
    if (s == VKLLM_OK && r->batch > 1) s = record_forward(r, r->commands.cmd[1], r->batch, err);
    return s;
}

vkllm_status vkl_runner_create(const vkl_model_gpu *model, uint32_t context,
                                     uint32_t batch, bool logits_all,
                                     vkl_runner *out, vkl_error *err)
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
        vkl_runner_free(out);
    return status;
}

void vkl_runner_free(vkl_runner *r)
{
    if (r->model == NULL)
        return;
    vkl_gpu_device *dev = r->model->dev;
    vkl_commands_destroy(dev, &r->commands);
    vkl_descriptor_pools_free(dev, &r->descriptors);
    free(r->act.k_cache);
    free(r->act.v_cache);
    vkl_arena_free(&r->device_arena);
    vkl_arena_free(&r->host_arena);
    memset(r, 0, sizeof *r);
}

vkllm_status vkl_runner_step(vkl_runner *r, const int32_t *tokens, uint32_t n,
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

    VkCommandBuffer cmd = r->commands.cmd[n == 1 ? 0 : 1];
    return vkl_gpu_submit_wait(r->model->dev, cmd, r->commands.fence, err);
}

const float *vkl_runner_logits(const vkl_runner *r, uint32_t i)
{
    return (const float *)r->logits_host.mapped + (uint64_t)i * r->model->config.vocab_size;
}
