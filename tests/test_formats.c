/* One model, four files: the llama2.c checkpoint, llama.cpp's GGUF of it, a
 * GGUF written by vkllm-gguf's converter, and a Hugging Face folder written
 * here (safetensors, with q and k permuted to the halves layout Hugging Face
 * uses). All four must give the same logits on the device.
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
    const vkl_llama_layer *w = &f->weights.layers[l];
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

static void write_config(const char *folder, const vkl_llama_config *c)
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

static void write_hf_folder(const char *folder)
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
    CHECK(st_write(path, h.entries, h.count) == 0);
    write_config(folder, &f->config);
    for (int i = 0; i < h.count; i++)
        free((void *)h.entries[i].name);
    for (int i = 0; i < h.owned_count; i++)
        free(h.owned[i]);
    vkl_model_file_close(f);
}

/* ------------------------------------------------------------------------ */

static void test_same_logits_from_every_format(void)
{
    char converted[256], folder[256];
    snprintf(converted, sizeof converted, "%s/converted.gguf", temp_dir);
    snprintf(folder, sizeof folder, "%s/hf", temp_dir);
    mkdir(folder, 0700);

    gguf_convert_options co = {.model_path = STORIES,
                               .tokenizer_path = MODELS "/stories260K/tok512.bin",
                               .out_path = converted, .type = VKL_DTYPE_F32,
                               .output_type = VKL_DTYPE_F32};
    vkl_error err = {0};
    CHECK_MSG(gguf_convert_llama2c(&co, &err) == VKLLM_OK, "%s", err.message);
    write_hf_folder(folder);

    float *bin = logits_of(STORIES, 512);
    float *gguf = logits_of(MODELS "/stories260K/stories260K.gguf", 512);
    float *own = logits_of(converted, 512);
    float *hf = logits_of(folder, 512);
    expect_same("llama.cpp's GGUF", gguf, bin, 512);
    expect_same("the converted GGUF", own, bin, 512);
    expect_same("the Hugging Face folder", hf, bin, 512);
    free(bin); free(gguf); free(own); free(hf);

    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", folder);
    unlink(path);
    rmdir(folder);
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
    gpu_fixture_close(&fx);
    rmdir(temp_dir);
    TEST_MAIN_END();
}
