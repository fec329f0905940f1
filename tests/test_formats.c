/* One model, five files: the llama2.c checkpoint, llama.cpp's GGUF of it, a
 * GGUF written by vkllm-gguf's converter, and Hugging Face folders written
 * here, whole and in two shards (safetensors, with q and k permuted to the
 * halves layout Hugging Face uses). All must give the same logits on the
 * device; the converted file, with its own tokenizer, reproduces the
 * reference output token for token.
 *
 * Tolerance: |a - b| <= 1e-4 + 1e-4 |b| per logit; the files hold the same
 * F32 values and differ only in how rotary pairs are laid out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_convert.h"
#include "gpu_fixture.h"
#include "st_writer.h"
#include "test.h"
#include "test_files.h"

#define MODELS VKLLM_MODELS_DIR
#define STORIES MODELS "/stories260K/stories260K.bin"
#define POSITIONS 24

static gpu_fixture fx;
static char temp_dir[] = "/tmp/vkllm_test_formats_XXXXXX";
static int32_t tokens[POSITIONS];

/* Logits of every position of `tokens` from a model file. */
static float *logits_of(const char *path, int vocab)
{
    vkllm_model *model;
    vkllm_session *s;
    vkllm_session_options so = {.logits_all = true, .batch_size = 7};
    if (vkllm_model_load(fx.rt, path, NULL, &model) != VKLLM_OK) {
        CHECK_MSG(false, "%s: %s", path, vkllm_runtime_error(fx.rt));
        return NULL;
    }
    float *out = malloc((size_t)POSITIONS * vocab * sizeof *out);
    CHECK(vkllm_session_create(model, &so, &s) == VKLLM_OK);
    CHECK(vkllm_session_eval(s, tokens, POSITIONS) == VKLLM_OK);
    for (int p = 0; p < POSITIONS; p++)
        memcpy(out + (size_t)p * vocab, vkllm_session_logits(s, p), vocab * sizeof *out);
    vkllm_session_destroy(s);
    vkllm_model_destroy(model);
    return out;
}

static void expect_same(const char *what, const float *a, const float *b, int vocab)
{
    if (a == NULL || b == NULL)
        return;
    double error = max_scaled_error(a, b, (size_t)POSITIONS * vocab, 1e-4, 1e-4);
    CHECK_MSG(error <= 1.0, "%s: logits differ by %.3g of tolerance", what, error);
}

/* ------------------------------------------------------------------------ */
/* A Hugging Face folder from the checkpoint                                 */

/* Meta's layout rotates pairs (2i, 2i+1); Hugging Face's rotates (i, i + h/2):
 * within each head, row 2i + j moves to j * h/2 + i. */
static float *permute_rows(const vkl_host_tensor *t, int heads)
{
    int64_t head = t->rows / heads, half = head / 2, cols = t->cols;
    const float *src = t->data;
    float *dst = malloc((size_t)(t->rows * cols) * sizeof *dst);
    for (int64_t h = 0; h < heads; h++) {
        for (int64_t i = 0; i < half; i++) {
            for (int64_t j = 0; j < 2; j++)
                memcpy(dst + (h * head + j * half + i) * cols, src + (h * head + 2 * i + j) * cols,
                       (size_t)cols * sizeof *dst);
        }
    }
    return dst;
}

typedef struct hf_tensors {
    st_entry entries[128];
    void *owned[64];
    int count;
    int owned_count;
} hf_tensors;

static void add(hf_tensors *h, const char *name, const vkl_host_tensor *t, const void *data)
{
    st_entry *e = &h->entries[h->count++];
    e->name = strdup(name);
    e->dtype = "F32";
    e->n_dims = t->rows == 1 ? 1 : 2;
    e->shape[0] = t->rows == 1 ? t->cols : t->rows;
    e->shape[1] = t->cols;
    e->data = data != NULL ? data : t->data;
    e->bytes = (uint64_t)(t->rows * t->cols) * sizeof(float);
}

static void add_layer(hf_tensors *h, const vkl_model_file *f, int l)
{
    const vkl_layer_weights *w = &f->weights.layers[l];
    const char *names[] = {"input_layernorm", "self_attn.v_proj", "self_attn.o_proj",
                           "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                           "mlp.down_proj"};
    const vkl_host_tensor *tensors[] = {&w->attn_norm, &w->wv, &w->wo, &w->ffn_norm,
                                        &w->w_gate, &w->w_up, &w->w_down};
    char name[128];
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, names[i]);
        add(h, name, tensors[i], NULL);
    }
    float *q = permute_rows(&w->wq, f->config.n_heads);
    float *k = permute_rows(&w->wk, f->config.n_kv_heads);
    h->owned[h->owned_count++] = q;
    h->owned[h->owned_count++] = k;
    snprintf(name, sizeof name, "model.layers.%d.self_attn.q_proj.weight", l);
    add(h, name, &w->wq, q);
    snprintf(name, sizeof name, "model.layers.%d.self_attn.k_proj.weight", l);
    add(h, name, &w->wk, k);
}

static void write_config(const char *folder, const vkl_model_config *c)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", folder);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model_type\": \"llama\", \"hidden_size\": %d, \"num_hidden_layers\": %d, "
            "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, "
            "\"intermediate_size\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, "
            "\"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": true}\n", c->dim, c->n_layers,
            c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size, c->context_length);
    fclose(f);
}

static const char *const shard_names[2] = {"model-00001-of-00002.safetensors",
                                            "model-00002-of-00002.safetensors"};

/* Two shards, split at the middle tensor, and the index naming them. */
static void write_shards(const char *folder, const hf_tensors *h)
{
    char path[1024];
    int half = h->count / 2;
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", folder, shard_names[s]);
        CHECK(st_write(path, h->entries + (s ? half : 0), s ? h->count - half : half) == 0);
    }

    snprintf(path, sizeof path, "%s/model.safetensors.index.json", folder);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < h->count; i++)
        fprintf(f, "%s\"%s\": \"%s\"", i ? ", " : "", h->entries[i].name,
                shard_names[i >= half]);
    fprintf(f, "}}\n");
    fclose(f);
}

static void write_hf_folder(const char *folder, bool sharded)
{
    vkl_model_file *f;
    vkl_error err = {0};
    CHECK(vkl_model_file_open_llama2c(STORIES, &f, &err) == VKLLM_OK);
    hf_tensors h = {0};
    add(&h, "model.embed_tokens.weight", &f->weights.token_embd, NULL);
    add(&h, "model.norm.weight", &f->weights.output_norm, NULL);
    for (int l = 0; l < f->config.n_layers; l++)
        add_layer(&h, f, l);

    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    if (sharded)
        write_shards(folder, &h);
    else
        CHECK(st_write(path, h.entries, h.count) == 0);
    write_config(folder, &f->config);
    for (int i = 0; i < h.count; i++)
        free((void *)h.entries[i].name);
    for (int i = 0; i < h.owned_count; i++)
        free(h.owned[i]);
    vkl_model_file_close(f);
}

/* ------------------------------------------------------------------------ */

static void remove_folder(const char *folder)
{
    const char *names[] = {"model.safetensors", "config.json", "model.safetensors.index.json",
                           shard_names[0], shard_names[1]};
    char path[1024];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        unlink(path);
    }
    rmdir(folder);
}

static void test_same_logits_from_every_format(void)
{
    char converted[256], folder[256], sharded[256];
    snprintf(converted, sizeof converted, "%s/converted.gguf", temp_dir);
    snprintf(folder, sizeof folder, "%s/hf", temp_dir);
    snprintf(sharded, sizeof sharded, "%s/hf-sharded", temp_dir);
    mkdir(folder, 0700);
    mkdir(sharded, 0700);

    gguf_convert_options co = {.model_path = STORIES,
                               .tokenizer_path = MODELS "/stories260K/tok512.bin",
                               .out_path = converted, .type = VKL_DTYPE_F32,
                               .output_type = VKL_DTYPE_F32};
    vkl_error err = {0};
    CHECK_MSG(gguf_convert_llama2c(&co, &err) == VKLLM_OK, "%s", err.message);
    write_hf_folder(folder, false);
    write_hf_folder(sharded, true);

    float *bin = logits_of(STORIES, 512);
    float *gguf = logits_of(MODELS "/stories260K/stories260K.gguf", 512);
    float *own = logits_of(converted, 512);
    float *hf = logits_of(folder, 512);
    float *shards = logits_of(sharded, 512);
    expect_same("llama.cpp's GGUF", gguf, bin, 512);
    expect_same("the converted GGUF", own, bin, 512);
    expect_same("the Hugging Face folder", hf, bin, 512);
    expect_same("the sharded Hugging Face folder", shards, bin, 512);
    free(bin); free(gguf); free(own); free(hf); free(shards);

    remove_folder(folder);
    remove_folder(sharded);
    unlink(converted);
}

static void collect_id(int32_t id, void *user)
{
    int32_t *ids = user;
    if (ids[0] < 256)
        ids[1 + ids[0]++] = id;
}

/* The converted file carries the tokenizer too: with it alone, greedy
 * generation reproduces llama2.c's reference token for token. */
static void test_converted_gguf_reproduces_the_reference(void)
{
    char converted[256];
    snprintf(converted, sizeof converted, "%s/converted-q8_0.gguf", temp_dir);
    gguf_convert_options co = {.model_path = STORIES,
                               .tokenizer_path = MODELS "/stories260K/tok512.bin",
                               .out_path = converted, .type = VKL_DTYPE_Q8_0,
                               .output_type = VKL_DTYPE_Q8_0};
    vkl_error err = {0};
    vkllm_model *model;
    vkllm_session *s;
    CHECK_MSG(gguf_convert_llama2c(&co, &err) == VKLLM_OK, "%s", err.message);
    if (vkllm_model_load(fx.rt, converted, NULL, &model) != VKLLM_OK) {
        CHECK_MSG(false, "%s", vkllm_runtime_error(fx.rt));
        return;
    }
    CHECK(vkllm_session_create(model, NULL, &s) == VKLLM_OK);

    int32_t got[257] = {0};     /* count, then the ids */
    vkllm_generate_options go = vkllm_generate_default_options();
    go.max_tokens = 64;
    go.sampler.temperature = 0.0f;
    go.on_token = collect_id;
    go.user = got;
    CHECK(vkllm_generate(s, vkllm_model_tokenizer(model), "Once upon a time", &go, NULL) ==
          VKLLM_OK);

    int32_t want[64];
    int count = read_ids(MODELS "/reference/stories260K-q8_0_gguf_llamacpp_t0_ouat_n64.ids",
                         want, 64);
    CHECK_MSG(got[0] == count && memcmp(got + 1, want, sizeof want) == 0,
              "%d ids, the reference has %d", got[0], count);
    vkllm_session_destroy(s);
    vkllm_model_destroy(model);
    unlink(converted);
}

int main(void)
{
    tokens[0] = 1;
    int count = read_ids(MODELS "/reference/stories260K_run_t0_default.ids", tokens + 1,
                         POSITIONS - 1);
    if (mkdtemp(temp_dir) == NULL || count != POSITIONS - 1 || !gpu_fixture_open(&fx))
        return 1;
    RUN(test_same_logits_from_every_format);
    RUN(test_converted_gguf_reproduces_the_reference);
    gpu_fixture_close(&fx);
    rmdir(temp_dir);
    TEST_MAIN_END();
}
