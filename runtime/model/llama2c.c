/* Reads llama2.c checkpoints by mapping the whole file read-only and pointing
 * every tensor into the mapping. Nothing is trusted: the header is checked for
 * sense and its implied sizes against the file before any pointer is taken. */
#include "core/mapped_file.h"
#include "model/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HEADER_DIM,
    HEADER_HIDDEN_DIM,
    HEADER_N_LAYERS,
    HEADER_N_HEADS,
    HEADER_N_KV_HEADS,
    HEADER_VOCAB_SIZE,
    HEADER_SEQ_LEN,
    HEADER_FIELDS,
};

#define HEADER_BYTES ((uint64_t)HEADER_FIELDS * sizeof(int32_t))

/* Far beyond any real model: a field above it is a corrupt header, reported
 * as such rather than as a size mismatch. The size arithmetic is checked for
 * overflow regardless. */
#define MAX_EXTENT (1 << 20)

static const char *const header_field_names[HEADER_FIELDS] = {
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
};

/* Where the regions after the header lie, as the header implies them. The
 * rotary tables are optional: a file may hold them or not, nothing else. */
typedef struct l2c_layout {
    uint64_t weights_end;       /* header + token embedding through final norm */
    uint64_t rope_bytes;        /* freq_cis_real and freq_cis_imag, skipped */
    uint64_t classifier_bytes;  /* wcls; zero when the classifier is tied */
    uint64_t size_without_rope;
    uint64_t size_with_rope;
} l2c_layout;


/* Checks one header field on its own: positive and not absurd. vocab_size may
 * be negative (its sign only marks an untied classifier). */
static vkllm_status check_header_field(const char *path, int field, int32_t value,
                                       vkl_error *err)
{
    int64_t magnitude = field == HEADER_VOCAB_SIZE ? llabs((long long)value) : value;

    if (magnitude <= 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: header field %s is %d; it must be %s (is this a llama2.c "
                        "checkpoint, a GGUF file or a Hugging Face folder?)",
                        path, header_field_names[field], (int)value,
                        field == HEADER_VOCAB_SIZE ? "non-zero" : "positive");

    if (magnitude > MAX_EXTENT)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: header field %s is %d, out of range (this reader accepts "
                        "at most %d; is this a llama2.c checkpoint?)",
                        path, header_field_names[field], (int)value, MAX_EXTENT);
    return VKLLM_OK;
}

/* Checks that the fields fit together as a Llama model. */
static vkllm_status check_header_shape(const char *path, const int32_t *header, vkl_error *err)
{
    int32_t dim = header[HEADER_DIM];
    int32_t n_heads = header[HEADER_N_HEADS];
    int32_t n_kv_heads = header[HEADER_N_KV_HEADS];

    if (dim % n_heads != 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: n_heads %d does not divide dim %d", path, n_heads, dim);

    if (n_heads % n_kv_heads != 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: n_kv_heads %d does not divide n_heads %d", path, n_kv_heads,
                        n_heads);

    /* Rotary embeddings turn adjacent pairs, so a head needs an even width. */
    if ((dim / n_heads) % 2 != 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: head size %d (dim %d / n_heads %d) is odd", path, dim / n_heads,
                        dim, n_heads);
    return VKLLM_OK;
}

static vkllm_status read_config(const char *path, vkl_model_file *file, vkl_error *err)
{
    int32_t header[HEADER_FIELDS];
    vkl_model_config *config = &file->config;

    memcpy(header, file->mapping, sizeof header);

    for (int field = 0; field < HEADER_FIELDS; field++) {
        vkllm_status status = check_header_field(path, field, header[field], err);
        if (status != VKLLM_OK)
            return status;
    }
    vkllm_status status = check_header_shape(path, header, err);
    if (status != VKLLM_OK)
        return status;

    /* llama2.c models are Llama 2: RMSNorm, SwiGLU, rotary on adjacent pairs. */
    snprintf(config->arch_name, sizeof config->arch_name, "llama");
    config->norm = VKL_NORM_RMS;
    config->ffn = VKL_FFN_SWIGLU;
    config->rope = VKL_ROPE_ADJACENT;
    config->dim = header[HEADER_DIM];
    config->hidden_dim = header[HEADER_HIDDEN_DIM];
    config->n_layers = header[HEADER_N_LAYERS];
    config->n_heads = header[HEADER_N_HEADS];
    config->n_kv_heads = header[HEADER_N_KV_HEADS];
    config->head_size = config->dim / config->n_heads;
    config->vocab_size = abs(header[HEADER_VOCAB_SIZE]);
    config->context_length = header[HEADER_SEQ_LEN];
    config->norm_eps = 1e-5f;
    config->rope_theta = 10000.0f;
    config->tied_output = header[HEADER_VOCAB_SIZE] > 0;
    return VKLLM_OK;
}

/* *total += bytes; false if that overflows. */
static bool add_bytes(uint64_t *total, uint64_t bytes)
{
    if (*total > UINT64_MAX - bytes)
        return false;
    *total += bytes;
    return true;
}

/* *total += the bytes of a * b * c floats; false if any step overflows. */
static bool add_floats(uint64_t *total, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t bytes = sizeof(float);

    if (b != 0 && a > UINT64_MAX / b)
        return false;
    if (a * b != 0 && bytes > UINT64_MAX / (a * b))
        return false;
    bytes *= a * b;
    if (c != 0 && bytes > UINT64_MAX / c)
        return false;
    return add_bytes(total, bytes * c);
}

/* Adds the bytes of every tensor before the rotary tables, in file order. */
static bool add_weight_bytes(uint64_t *total, const vkl_model_config *c)
{
    uint64_t layers = (uint64_t)c->n_layers;
    uint64_t dim = (uint64_t)c->dim;
    uint64_t hidden = (uint64_t)c->hidden_dim;
    uint64_t q_dim = (uint64_t)c->n_heads * (uint64_t)c->head_size;
    uint64_t kv_dim = (uint64_t)c->n_kv_heads * (uint64_t)c->head_size;

    return add_floats(total, (uint64_t)c->vocab_size, dim, 1) &&  /* token embedding */
           add_floats(total, layers, dim, 1) &&                   /* attention norms */
           add_floats(total, layers, q_dim, dim) &&               /* wq */
           add_floats(total, layers, kv_dim, dim) &&              /* wk */
           add_floats(total, layers, kv_dim, dim) &&              /* wv */
           add_floats(total, layers, dim, q_dim) &&               /* wo */
           add_floats(total, layers, dim, 1) &&                   /* ffn norms */
           add_floats(total, layers, hidden, dim) &&              /* w1 */
           add_floats(total, layers, dim, hidden) &&              /* w2 */
           add_floats(total, layers, hidden, dim) &&              /* w3 */
           add_floats(total, 1, dim, 1);                          /* final norm */
}

static vkllm_status plan_layout(const char *path, const vkl_model_config *c,
                                l2c_layout *layout, vkl_error *err)
{
    bool fits = true;

    memset(layout, 0, sizeof *layout);
    layout->weights_end = HEADER_BYTES;
    fits = fits && add_weight_bytes(&layout->weights_end, c);

    /* Two tables of seq_len * head_size / 2 floats each. */
    fits = fits && add_floats(&layout->rope_bytes, (uint64_t)c->context_length,
                              (uint64_t)c->head_size, 1);
    if (!c->tied_output)
        fits = fits && add_floats(&layout->classifier_bytes, (uint64_t)c->vocab_size,
                                  (uint64_t)c->dim, 1);

    layout->size_without_rope = layout->weights_end;
    fits = fits && add_bytes(&layout->size_without_rope, layout->classifier_bytes);
    layout->size_with_rope = layout->size_without_rope;
    fits = fits && add_bytes(&layout->size_with_rope, layout->rope_bytes);

    if (!fits)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: the header's sizes overflow (dim %d, hidden_dim %d, n_layers %d, "
                        "vocab_size %d)", path, c->dim, c->hidden_dim, c->n_layers,
                        c->vocab_size);
    return VKLLM_OK;
}

/* Matches the file's size to the layout; *has_rope says whether it holds the
 * rotary tables. */
static vkllm_status check_file_size(const char *path, const l2c_layout *layout,
                                    uint64_t file_size, bool *has_rope, vkl_error *err)
{
    *has_rope = file_size == layout->size_with_rope;
    if (*has_rope || file_size == layout->size_without_rope)
        return VKLLM_OK;

    if (file_size < layout->size_without_rope)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: the header implies %llu bytes of weights, the file has %llu "
                        "(truncated, or a header that does not belong to it)", path,
                        (unsigned long long)(layout->size_without_rope - HEADER_BYTES),
                        (unsigned long long)(file_size - HEADER_BYTES));

    return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                    "%s: the file is %llu bytes, but its header implies %llu (with the rotary "
                    "tables) or %llu (without); the size is inconsistent with the header",
                    path, (unsigned long long)file_size,
                    (unsigned long long)layout->size_with_rope,
                    (unsigned long long)layout->size_without_rope);
}

/* Takes the next rows * cols floats of the file as a tensor. */
static vkl_host_tensor take_tensor(const float **cursor, int64_t rows, int64_t cols)
{
    vkl_host_tensor t = {.data = *cursor, .type = VKL_DTYPE_F32, .rows = rows, .cols = cols};

    *cursor += rows * cols;
    return t;
}

/* llama2.c stores each kind of tensor for all layers together: every wq,
 * then every wk, and so on. */
static void take_layers(const float **cursor, const vkl_model_config *c,
                        vkl_layer_weights *layers)
{
    int64_t q_dim = (int64_t)c->n_heads * c->head_size;
    int64_t kv_dim = (int64_t)c->n_kv_heads * c->head_size;
    int n = c->n_layers;

    for (int l = 0; l < n; l++)
        layers[l].attn_norm = take_tensor(cursor, 1, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].wq = take_tensor(cursor, q_dim, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].wk = take_tensor(cursor, kv_dim, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].wv = take_tensor(cursor, kv_dim, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].wo = take_tensor(cursor, c->dim, q_dim);
    for (int l = 0; l < n; l++)
        layers[l].ffn_norm = take_tensor(cursor, 1, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].w_gate = take_tensor(cursor, c->hidden_dim, c->dim);
    for (int l = 0; l < n; l++)
        layers[l].w_down = take_tensor(cursor, c->dim, c->hidden_dim);
    for (int l = 0; l < n; l++)
        layers[l].w_up = take_tensor(cursor, c->hidden_dim, c->dim);
}

/* Points every weight into the mapping, whose size has been checked. */
static vkllm_status take_weights(const char *path, vkl_model_file *file, bool has_rope,
                                 vkl_error *err)
{
    const vkl_model_config *c = &file->config;
    vkl_model_weights *w = &file->weights;
    const float *cursor = (const float *)((const char *)file->mapping + HEADER_BYTES);

    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (w->layers == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory for %d layers", path, c->n_layers);

    w->token_embd = take_tensor(&cursor, c->vocab_size, c->dim);
    take_layers(&cursor, c, w->layers);
    w->output_norm = take_tensor(&cursor, 1, c->dim);

    if (has_rope)
        cursor += (int64_t)c->context_length * c->head_size;
    w->output = c->tied_output ? w->token_embd : take_tensor(&cursor, c->vocab_size, c->dim);
    return VKLLM_OK;
}

/* Reads the checkpoint in file->mapping, which the caller has set. */
static vkllm_status parse(const char *path, vkl_model_file *file, vkl_error *err)
{
    l2c_layout layout;
    bool has_rope = false;

    if (file->mapping_size < HEADER_BYTES)
        return vkl_fail(err, VKLLM_ERROR_BAD_MODEL,
                        "%s: the file is %zu bytes, shorter than the %zu-byte header",
                        path, file->mapping_size, (size_t)HEADER_BYTES);
    vkllm_status status = read_config(path, file, err);
    if (status == VKLLM_OK)
        status = plan_layout(path, &file->config, &layout, err);
    if (status == VKLLM_OK)
        status = check_file_size(path, &layout, file->mapping_size, &has_rope, err);
    if (status == VKLLM_OK)
        status = take_weights(path, file, has_rope, err);
    return status;
}

vkllm_status vkl_model_file_parse_llama2c(const void *bytes, size_t size, const char *name,
                                          vkl_model_file **out, vkl_error *err)
{
    *out = NULL;
    vkl_model_file *file = calloc(1, sizeof *file);
    if (file == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", name);

    file->mapping = bytes;
    file->mapping_size = size;
    vkllm_status status = parse(name, file, err);
    if (status != VKLLM_OK) {
        vkl_model_file_close(file);
        return status;
    }
    *out = file;
    return VKLLM_OK;
}

vkllm_status vkl_model_file_open_llama2c(const char *path, vkl_model_file **out,
                                         vkl_error *err)
{
    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "no model path or no output given");
    *out = NULL;

    vkl_mapped_file map;
    vkllm_status status = vkl_mapped_file_open(path, &map, err);
    if (status != VKLLM_OK)
        return status;
    status = vkl_model_file_parse_llama2c(map.data, map.size, path, out, err);
    if (status != VKLLM_OK) {
        vkl_mapped_file_close(&map);
        return status;
    }
    (*out)->map = map;      /* the file now owns the mapping */
    return VKLLM_OK;
}
