/* Both commands build the same thing: metadata for an architecture, a
 * vocabulary, and a plan of named tensors, each with a source of rows (the
 * checkpoint's floats, or a seeded random stream). The plan follows the names
 * and shapes runtime/model/gguf_model.c expects, so the files load there. */
#include "gguf_convert.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"
#include "model/gguf.h"
#include "text/tokenizer.h"

#define SPM_SPACE "\xe2\x96\x81"    /* U+2581, how SentencePiece vocabularies spell ' ' */
#define SPM_SPACE_BYTES 3
#define SPM_SPECIAL_TOKENS 259      /* <unk>, <s>, </s> and the 256 byte tokens */
#define MAX_TOKEN_BYTES 4096        /* a longer llama2.c piece is a corrupt file */

/* ------------------------------------------------------------------------ */
/* Architectures and shapes                                                  */

/* The optional parts of a layer, by architecture. A tensor needing several
 * is written only where all are present. */
enum {
    NEED_SPLIT_QKV = 1 << 0,    /* attn_q, attn_k, attn_v */
    NEED_FUSED_QKV = 1 << 1,    /* one attn_qkv */
    NEED_QKV_BIAS = 1 << 2,     /* biases on q, k and v only (Qwen2) */
    NEED_BIASES = 1 << 3,       /* a bias after every norm and matrix (GPT-2) */
    NEED_GATE = 1 << 4,         /* SwiGLU's ffn_gate */
    NEED_POSITIONS = 1 << 5,    /* a learned position_embd */
};

typedef struct family {
    const char *arch;           /* general.architecture */
    unsigned needs;
    vkl_norm_kind norm;
    vkl_ffn_kind ffn;
    vkl_rope_kind rope;
} family;

static const family families[] = {
    {"llama", NEED_SPLIT_QKV | NEED_GATE, VKL_NORM_RMS, VKL_FFN_SWIGLU, VKL_ROPE_ADJACENT},
    {"qwen2", NEED_SPLIT_QKV | NEED_QKV_BIAS | NEED_GATE, VKL_NORM_RMS, VKL_FFN_SWIGLU,
     VKL_ROPE_NEOX},
    {"gpt2", NEED_FUSED_QKV | NEED_BIASES | NEED_POSITIONS, VKL_NORM_LAYER, VKL_FFN_GELU,
     VKL_ROPE_NONE},
};

typedef struct shape {
    const char *name;
    const char *arch;
    int32_t dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, context_length;
    float norm_eps;
    float rope_theta;
    bool tied;
} shape;

/* Real models' shapes. Qwen2-0.5B was trained for 32768 positions; 4096 is
 * written so that sessions on these test files keep small caches. */
static const shape shapes[] = {
    {"gpt2-124m", "gpt2", 768, 12, 12, 12, 3072, 50257, 1024, 1e-5f, 10000.0f, true},
    {"tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 1e-5f, 10000.0f, false},
    {"llama2-7b", "llama", 4096, 32, 32, 32, 11008, 32000, 4096, 1e-5f, 10000.0f, false},
    {"qwen2-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 4096, 1e-6f, 1000000.0f, true},
    {"llama-110m", "llama", 768, 12, 12, 12, 2048, 32000, 1024, 1e-5f, 10000.0f, false},
    {"llama-tiny-gqa", "llama", 128, 2, 8, 2, 352, 512, 256, 1e-5f, 10000.0f, false},
};

#define COUNT_OF(a) (sizeof(a) / sizeof *(a))

static const family *find_family(const char *arch)
{
    for (size_t i = 0; i < COUNT_OF(families); i++) {
        if (strcmp(families[i].arch, arch) == 0)
            return &families[i];
    }
    return NULL;
}

static const shape *find_shape(const char *name)
{
    for (size_t i = 0; i < COUNT_OF(shapes); i++) {
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    }
    return NULL;
}

void gguf_synth_describe_shapes(char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < COUNT_OF(shapes) && used < size; i++) {
        const shape *s = &shapes[i];
        int n = snprintf(out + used, size - used,
                         "  %-15s %-5s dim %d, %d layers, %d/%d heads, ffn %d, vocab %d, "
                         "context %d, %s\n",
                         s->name, s->arch, s->dim, s->n_layers, s->n_heads, s->n_kv_heads,
                         s->hidden_dim, s->vocab_size, s->context_length,
                         s->tied ? "tied" : "untied");
        used += n > 0 ? (size_t)n : 0;
    }
}

/* ------------------------------------------------------------------------ */
/* The tensor plan                                                           */

typedef enum tensor_role {
    ROLE_MATRIX,                /* a 2-D weight: takes the chosen type */
    ROLE_EMBEDDING,             /* token or position embedding: a matrix too */
    ROLE_NORM,                  /* a norm's scale: 1-D, F32 */
    ROLE_BIAS,                  /* 1-D, F32 */
} tensor_role;

typedef struct plan_tensor {
    char name[64];
    tensor_role role;
    vkl_dtype type;
    int64_t rows, cols;
    const vkl_host_tensor *source;  /* F32 weights to copy, or NULL for random ones */
    uint64_t seed;                  /* the random stream of this tensor */
    float center, amplitude;        /* random values lie in center +- amplitude */
} plan_tensor;

/* What the plan is built from. */
typedef struct planner {
    const vkl_model_config *c;
    unsigned needs;
    const vkl_model_weights *weights;   /* NULL: random weights */
    vkl_dtype type;
    vkl_dtype output_type;
    uint64_t seed;
    plan_tensor *tensors;
    size_t count;
} planner;

#define NO_SLOT ((size_t)-1)
#define SLOT(field) offsetof(vkl_layer_weights, field)

typedef struct layer_tensor {
    const char *suffix;
    tensor_role role;
    char rows, cols;            /* 'd' dim, 'h' hidden, 'q' query width, 'k' key/value
                                   width, 'f' fused q + k + v, '1' one */
    unsigned needs;
    size_t slot;                /* where a checkpoint's layer holds it, or NO_SLOT */
} layer_tensor;

static const layer_tensor layer_tensors[] = {
    {"attn_norm.weight", ROLE_NORM, '1', 'd', 0, SLOT(attn_norm)},
    {"attn_norm.bias", ROLE_BIAS, '1', 'd', NEED_BIASES, NO_SLOT},
    {"attn_q.weight", ROLE_MATRIX, 'q', 'd', NEED_SPLIT_QKV, SLOT(wq)},
    {"attn_q.bias", ROLE_BIAS, '1', 'q', NEED_SPLIT_QKV | NEED_QKV_BIAS, NO_SLOT},
    {"attn_k.weight", ROLE_MATRIX, 'k', 'd', NEED_SPLIT_QKV, SLOT(wk)},
    {"attn_k.bias", ROLE_BIAS, '1', 'k', NEED_SPLIT_QKV | NEED_QKV_BIAS, NO_SLOT},
    {"attn_v.weight", ROLE_MATRIX, 'k', 'd', NEED_SPLIT_QKV, SLOT(wv)},
    {"attn_v.bias", ROLE_BIAS, '1', 'k', NEED_SPLIT_QKV | NEED_QKV_BIAS, NO_SLOT},
    {"attn_qkv.weight", ROLE_MATRIX, 'f', 'd', NEED_FUSED_QKV, NO_SLOT},
    {"attn_qkv.bias", ROLE_BIAS, '1', 'f', NEED_FUSED_QKV | NEED_BIASES, NO_SLOT},
    {"attn_output.weight", ROLE_MATRIX, 'd', 'q', 0, SLOT(wo)},
    {"attn_output.bias", ROLE_BIAS, '1', 'd', NEED_BIASES, NO_SLOT},
    {"ffn_norm.weight", ROLE_NORM, '1', 'd', 0, SLOT(ffn_norm)},
    {"ffn_norm.bias", ROLE_BIAS, '1', 'd', NEED_BIASES, NO_SLOT},
    {"ffn_gate.weight", ROLE_MATRIX, 'h', 'd', NEED_GATE, SLOT(w_gate)},
    {"ffn_up.weight", ROLE_MATRIX, 'h', 'd', 0, SLOT(w_up)},
    {"ffn_up.bias", ROLE_BIAS, '1', 'h', NEED_BIASES, NO_SLOT},
    {"ffn_down.weight", ROLE_MATRIX, 'd', 'h', 0, SLOT(w_down)},
    {"ffn_down.bias", ROLE_BIAS, '1', 'd', NEED_BIASES, NO_SLOT},
};

/* Tensors outside the layers, at most. */
#define GLOBAL_TENSORS 5

static int64_t extent(const vkl_model_config *c, char code)
{
    int64_t q = (int64_t)c->n_heads * c->head_size, kv = (int64_t)c->n_kv_heads * c->head_size;
    switch (code) {
    case 'd': return c->dim;
    case 'h': return c->hidden_dim;
    case 'q': return q;
    case 'k': return kv;
    case 'f': return q + 2 * kv;
    default: return 1;
    }
}

/* FNV-1a: gives each tensor name its own random stream. */
static uint64_t hash_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *p = name; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3u;
    return h;
}

/* Norms near 1, biases small, matrices uniform in +-1/sqrt(row length) so
 * that a product keeps roughly the scale of its input. */
static void set_random_range(plan_tensor *t)
{
    switch (t->role) {
    case ROLE_NORM:
        t->center = 1.0f;
        t->amplitude = 0.1f;
        break;
    case ROLE_BIAS:
        t->center = 0.0f;
        t->amplitude = 0.02f;
        break;
    default:
        t->center = 0.0f;
        t->amplitude = 1.0f / sqrtf((float)t->cols);
        break;
    }
}

/* A matrix takes the requested type where its rows are whole blocks of it
 * and stays F32 otherwise, as llama.cpp's converter does; vectors stay F32. */
static vkl_dtype pick_type(tensor_role role, vkl_dtype wanted, int64_t cols)
{
    if (role == ROLE_NORM || role == ROLE_BIAS)
        return VKL_DTYPE_F32;
    return vkl_dtype_row_bytes(wanted, (uint64_t)cols) != 0 ? wanted : VKL_DTYPE_F32;
}

static void plan_add(planner *p, const char *name, tensor_role role, int64_t rows,
                     int64_t cols, vkl_dtype wanted, const vkl_host_tensor *source)
{
    plan_tensor *t = &p->tensors[p->count++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->role = role;
    t->rows = rows;
    t->cols = cols;
    t->type = pick_type(role, wanted, cols);
    t->source = source;
    t->seed = hash_name(name) ^ p->seed * 0x9e3779b97f4a7c15u;
    set_random_range(t);
}

static void plan_layer(planner *p, int l)
{
    const vkl_layer_weights *layer = p->weights != NULL ? &p->weights->layers[l] : NULL;

    for (size_t i = 0; i < COUNT_OF(layer_tensors); i++) {
        const layer_tensor *lt = &layer_tensors[i];
        if ((lt->needs & p->needs) != lt->needs)
            continue;

        char name[64];
        snprintf(name, sizeof name, "blk.%d.%s", l, lt->suffix);
        const vkl_host_tensor *source = NULL;
        if (layer != NULL && lt->slot != NO_SLOT)
            source = (const vkl_host_tensor *)((const char *)layer + lt->slot);
        plan_add(p, name, lt->role, extent(p->c, lt->rows), extent(p->c, lt->cols), p->type,
                 source);
    }
}

/* Fills p->tensors (allocated here) in the order the file will hold them. */
static bool make_plan(planner *p)
{
    const vkl_model_config *c = p->c;
    const vkl_model_weights *w = p->weights;
    p->tensors = calloc(GLOBAL_TENSORS + (size_t)c->n_layers * COUNT_OF(layer_tensors),
                        sizeof *p->tensors);
    if (p->tensors == NULL)
        return false;

    /* A tied embedding is also the classifier, so it takes the output type. */
    vkl_dtype embd_type = c->tied_output ? p->output_type : p->type;
    plan_add(p, "token_embd.weight", ROLE_EMBEDDING, c->vocab_size, c->dim, embd_type,
             w != NULL ? &w->token_embd : NULL);
    if (p->needs & NEED_POSITIONS)
        plan_add(p, "position_embd.weight", ROLE_EMBEDDING, c->context_length, c->dim,
                 p->type, NULL);

    for (int l = 0; l < c->n_layers; l++)
        plan_layer(p, l);

    plan_add(p, "output_norm.weight", ROLE_NORM, 1, c->dim, VKL_DTYPE_F32,
             w != NULL ? &w->output_norm : NULL);
    if (p->needs & NEED_BIASES)
        plan_add(p, "output_norm.bias", ROLE_BIAS, 1, c->dim, VKL_DTYPE_F32, NULL);
    if (!c->tied_output)
        plan_add(p, "output.weight", ROLE_MATRIX, c->vocab_size, c->dim, p->output_type,
                 w != NULL ? &w->output : NULL);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Row sources                                                               */

static void copy_row(const void *ctx, int64_t row, int64_t cols, float *out)
{
    const plan_tensor *t = ctx;
    const float *data = t->source->data;
    memcpy(out, data + row * cols, (size_t)cols * sizeof *out);
}

/* splitmix64: a fast, well-mixed stream from any 64-bit state. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Each row seeds its own stream, so a row's values do not depend on the
 * order in which rows are produced. */
static void random_row(const void *ctx, int64_t row, int64_t cols, float *out)
{
    const plan_tensor *t = ctx;
    uint64_t state = t->seed ^ (uint64_t)row * 0xd1b54a32d192ed03u;
    next_random(&state);

    for (int64_t i = 0; i < cols; i++) {
        float unit = (float)(next_random(&state) >> 40) * (1.0f / 16777216.0f);
        out[i] = t->center + t->amplitude * (2.0f * unit - 1.0f);
    }
}

/* Adds every planned tensor; the name of one the writer refuses, or NULL. */
static const char *add_plan_tensors(gguf_writer *w, const plan_tensor *tensors, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const plan_tensor *t = &tensors[i];
        bool vector = t->role == ROLE_NORM || t->role == ROLE_BIAS;
        gguf_tensor_spec spec = {
            .name = t->name, .type = t->type, .n_dims = vector ? 1 : 2, .rows = t->rows,
            .cols = t->cols, .source = t->source != NULL ? copy_row : random_row, .ctx = t};
        if (!gguf_writer_add_tensor(w, &spec))
            return t->name;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Hyperparameters                                                           */

static void add_arch_u32(gguf_writer *w, const char *arch, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_add_u32(w, key, v);
}

static void add_arch_f32(gguf_writer *w, const char *arch, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_add_f32(w, key, v);
}

static void add_hparams(gguf_writer *w, const vkl_model_config *c, const char *name)
{
    const char *arch = c->arch_name;
    gguf_writer_add_string(w, "general.architecture", arch);
    gguf_writer_add_string(w, "general.name", name);

    add_arch_u32(w, arch, "context_length", (uint32_t)c->context_length);
    add_arch_u32(w, arch, "embedding_length", (uint32_t)c->dim);
    add_arch_u32(w, arch, "block_count", (uint32_t)c->n_layers);
    add_arch_u32(w, arch, "feed_forward_length", (uint32_t)c->hidden_dim);
    add_arch_u32(w, arch, "attention.head_count", (uint32_t)c->n_heads);
    add_arch_u32(w, arch, "attention.head_count_kv", (uint32_t)c->n_kv_heads);

    if (c->norm == VKL_NORM_RMS)
        add_arch_f32(w, arch, "attention.layer_norm_rms_epsilon", c->norm_eps);
    else
        add_arch_f32(w, arch, "attention.layer_norm_epsilon", c->norm_eps);
    if (c->rope != VKL_ROPE_NONE) {
        add_arch_f32(w, arch, "rope.freq_base", c->rope_theta);
        add_arch_u32(w, arch, "rope.dimension_count", (uint32_t)c->head_size);
    }
}

/* ------------------------------------------------------------------------ */
/* Vocabularies                                                              */

/* A SentencePiece-style vocabulary as GGUF stores it. */
typedef struct vocab {
    int32_t count;
    char **texts;               /* [count], each malloc'd */
    size_t *lengths;
    float *scores;
    int32_t *types;             /* VKL_TOKEN_* */
} vocab;

static bool vocab_alloc(vocab *v, int32_t count)
{
    v->count = count;
    v->texts = calloc((size_t)count, sizeof *v->texts);
    v->lengths = calloc((size_t)count, sizeof *v->lengths);
    v->scores = calloc((size_t)count, sizeof *v->scores);
    v->types = calloc((size_t)count, sizeof *v->types);
    return v->texts != NULL && v->lengths != NULL && v->scores != NULL && v->types != NULL;
}

static void vocab_free(vocab *v)
{
    for (int32_t i = 0; v->texts != NULL && i < v->count; i++)
        free(v->texts[i]);
    free(v->texts);
    free(v->lengths);
    free(v->scores);
    free(v->types);
}

static bool vocab_set(vocab *v, int32_t id, const char *text, size_t len, float score,
                      int32_t type)
{
    v->texts[id] = malloc(len + 1);
    if (v->texts[id] == NULL)
        return false;
    memcpy(v->texts[id], text, len);
    v->texts[id][len] = '\0';
    v->lengths[id] = len;
    v->scores[id] = score;
    v->types[id] = type;
    return true;
}

static void add_spm_vocab(gguf_writer *w, const vocab *v)
{
    gguf_writer_add_string(w, "tokenizer.ggml.model", "llama");
    gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", (const char *const *)v->texts,
                                 v->lengths, (uint64_t)v->count);
    gguf_writer_add_array(w, "tokenizer.ggml.scores", VKL_GGUF_FLOAT32, v->scores,
                          (uint64_t)v->count);
    gguf_writer_add_array(w, "tokenizer.ggml.token_type", VKL_GGUF_INT32, v->types,
                          (uint64_t)v->count);
    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true);
}

/* The ggml type of a llama2.c piece, which the format does not record:
 * SentencePiece's fixed layout puts <unk>, <s> and </s> first. */
static int32_t piece_type(int32_t id, const char *text, size_t len)
{
    if (id == 0)
        return VKL_TOKEN_UNKNOWN;
    if (id == 1 || id == 2)
        return VKL_TOKEN_CONTROL;
    unsigned byte;
    char tail;
    if (len == 6 && sscanf(text, "<0x%2X%c", &byte, &tail) == 2 && tail == '>')
        return VKL_TOKEN_BYTE;
    return VKL_TOKEN_NORMAL;
}

/* Respells a llama2.c piece as GGUF does: spaces as U+2581, and <s> and
 * </s> without the newlines llama2.c wraps them in for printing. */
static size_t respell_piece(int32_t id, const char *text, size_t len, char *out)
{
    if (id == 1 || id == 2) {
        while (len > 0 && (text[0] == '\n' || text[0] == ' ')) {
            text++;
            len--;
        }
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            len--;
    }

    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(out + n, SPM_SPACE, SPM_SPACE_BYTES);
            n += SPM_SPACE_BYTES;
        } else {
            out[n++] = text[i];
        }
    }
    return n;
}

typedef struct token_reader {
    FILE *f;
    const char *path;
    char raw[MAX_TOKEN_BYTES + 1];
    char spelled[MAX_TOKEN_BYTES * SPM_SPACE_BYTES + 1];
} token_reader;

static vkllm_status read_piece(token_reader *r, vocab *v, int32_t id, vkl_error *err)
{
    float score;
    int32_t len;
    if (fread(&score, sizeof score, 1, r->f) != 1 || fread(&len, sizeof len, 1, r->f) != 1)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: the file ends at token %d of %d", r->path, id, v->count);
    if (len < 0 || len > MAX_TOKEN_BYTES)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: token %d has a length of %d",
                        r->path, id, len);
    if (fread(r->raw, 1, (size_t)len, r->f) != (size_t)len)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: token %d is cut short",
                        r->path, id);
    r->raw[len] = '\0';

    size_t n = respell_piece(id, r->raw, (size_t)len, r->spelled);
    if (!vocab_set(v, id, r->spelled, n, score, piece_type(id, r->raw, (size_t)len)))
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    return VKLLM_OK;
}

/* A llama2.c tokenizer: int32 max_token_length, then per token a float32
 * score, an int32 length and the bytes. The model says how many tokens. */
static vkllm_status read_llama2c_vocab(const char *path, int32_t count, vocab *v,
                                       vkl_error *err)
{
    token_reader *r = malloc(sizeof *r);
    if (r == NULL || !vocab_alloc(v, count)) {
        free(r);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    }
    r->path = path;
    r->f = fopen(path, "rb");
    vkllm_status s = r->f != NULL ? VKLLM_OK
                                  : vkl_fail(err, VKLLM_ERROR_IO, "cannot open %s: %s", path,
                                             strerror(errno));

    int32_t max_len;
    if (s == VKLLM_OK && fread(&max_len, sizeof max_len, 1, r->f) != 1)
        s = vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: the file is empty", path);
    for (int32_t id = 0; s == VKLLM_OK && id < count; id++)
        s = read_piece(r, v, id, err);

    if (r->f != NULL)
        fclose(r->f);
    free(r);
    return s;
}

static bool synth_special_tokens(vocab *v)
{
    bool ok = vocab_set(v, 0, "<unk>", 5, 0.0f, VKL_TOKEN_UNKNOWN) &&
              vocab_set(v, 1, "<s>", 3, 0.0f, VKL_TOKEN_CONTROL) &&
              vocab_set(v, 2, "</s>", 4, 0.0f, VKL_TOKEN_CONTROL);
    for (int b = 0; ok && b < 256; b++) {
        char text[8];
        snprintf(text, sizeof text, "<0x%02X>", b);
        ok = vocab_set(v, 3 + b, text, 6, 0.0f, VKL_TOKEN_BYTE);
    }
    return ok;
}

/* The n-th string of len lowercase letters, after an optional U+2581. */
static size_t letter_piece(uint64_t n, int len, bool space, char *out)
{
    size_t at = 0;
    if (space) {
        memcpy(out, SPM_SPACE, SPM_SPACE_BYTES);
        at = SPM_SPACE_BYTES;
    }
    for (int i = len - 1; i >= 0; i--) {
        out[at + (size_t)i] = (char)('a' + n % 26);
        n /= 26;
    }
    return at + (size_t)len;
}

/* Adds the next piece; scores fall with the id, so that shorter, earlier
 * pieces merge first. */
static bool push_piece(vocab *v, int32_t *id, const char *text, size_t len)
{
    if (*id >= v->count)
        return true;
    bool ok = vocab_set(v, *id, text, len, -(float)(*id - SPM_SPECIAL_TOKENS), VKL_TOKEN_NORMAL);
    (*id)++;
    return ok;
}

/* After the specials: U+2581 and printable ASCII alone (what merges start
 * from), then letter strings of growing length with and without U+2581. */
static bool synth_pieces(vocab *v)
{
    int32_t id = SPM_SPECIAL_TOKENS;
    bool ok = push_piece(v, &id, SPM_SPACE, SPM_SPACE_BYTES);
    for (char c = '!'; ok && c <= '~'; c++)
        ok = push_piece(v, &id, &c, 1);

    uint64_t strings = 26;
    for (int len = 1; ok && id < v->count; len++, strings *= 26) {
        for (int space = 1; space >= (len == 1 ? 1 : 0); space--) {
            for (uint64_t n = 0; ok && n < strings && id < v->count; n++) {
                char text[SPM_SPACE_BYTES + 16];
                ok = push_piece(v, &id, text, letter_piece(n, len, space, text));
            }
        }
    }
    return ok;
}

static vkllm_status synth_vocab(int32_t count, vocab *v, vkl_error *err)
{
    if (count < SPM_SPECIAL_TOKENS + 1)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "a vocabulary of %d is too small to synthesize", count);
    if (!vocab_alloc(v, count) || !synth_special_tokens(v) || !synth_pieces(v))
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    return VKLLM_OK;
}

/* Copies every tokenizer.* entry of another GGUF, whose vocabulary must
 * have the model's size. */
static vkllm_status copy_vocab(gguf_writer *w, const char *path, int32_t count,
                               vkl_error *err)
{
    vkl_gguf *g;
    vkllm_status s = vkl_gguf_open(path, &g, err);
    if (s != VKLLM_OK)
        return s;

    const vkl_gguf_array *tokens = vkl_gguf_get_array(g, "tokenizer.ggml.tokens");
    if (tokens == NULL || tokens->count != (uint64_t)count)
        s = vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                     "%s: its vocabulary has %llu tokens; the model needs %d", path,
                     tokens != NULL ? (unsigned long long)tokens->count : 0ull, count);

    for (uint64_t i = 0; s == VKLLM_OK && i < g->kv_count; i++) {
        vkl_gguf_string key = g->kvs[i].key;
        if (key.len > 10 && memcmp(key.data, "tokenizer.", 10) == 0)
            gguf_writer_copy_kv(w, &g->kvs[i]);
    }
    vkl_gguf_close(g);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Writing a plan                                                            */

static vkllm_status check_types(vkl_dtype type, vkl_dtype output_type, vkl_error *err)
{
    uint32_t weights, bytes;
    if (!vkl_dtype_layout(type, &weights, &bytes) ||
        !vkl_dtype_layout(output_type, &weights, &bytes))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "unknown weight type %d or %d",
                        (int)type, (int)output_type);
    return VKLLM_OK;
}

/* Plans the tensors and writes the file the writer describes. */
static vkllm_status write_model(gguf_writer *w, planner *p, const char *path, bool progress,
                                vkl_error *err)
{
    if (!make_plan(p))
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");

    vkllm_status s = VKLLM_OK;
    const char *refused = add_plan_tensors(w, p->tensors, p->count);
    if (refused != NULL)
        s = vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "tensor %s: a shape of no whole blocks",
                     refused);
    if (s == VKLLM_OK && progress)
        fprintf(stderr, "writing %s: %zu tensors, %.1f MiB\n", path, p->count,
                (double)gguf_writer_file_size(w) / (1024.0 * 1024.0));
    if (s == VKLLM_OK)
        s = gguf_writer_write(w, path, progress, err);
    free(p->tensors);
    return s;
}

/* ------------------------------------------------------------------------ */
/* convert                                                                   */

/* The file's name without folders and extension, as general.name. */
static void model_name(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot != NULL && dot != out)
        *dot = '\0';
}

static vkllm_status convert_with(const gguf_convert_options *o, const vkl_model_file *file,
                                 gguf_writer *w, vkl_error *err)
{
    const vkl_model_config *c = &file->config;
    char name[128];
    model_name(o->model_path, name, sizeof name);
    add_hparams(w, c, name);

    if (o->tokenizer_path != NULL) {
        vocab v = {0};
        vkllm_status s = read_llama2c_vocab(o->tokenizer_path, c->vocab_size, &v, err);
        if (s == VKLLM_OK)
            add_spm_vocab(w, &v);
        vocab_free(&v);
        if (s != VKLLM_OK)
            return s;
    }

    planner p = {.c = c, .needs = find_family("llama")->needs, .weights = &file->weights,
                 .type = o->type, .output_type = o->output_type};
    return write_model(w, &p, o->out_path, o->progress, err);
}

vkllm_status gguf_convert_llama2c(const gguf_convert_options *o, vkl_error *err)
{
    vkllm_status s = check_types(o->type, o->output_type, err);
    if (s != VKLLM_OK)
        return s;

    vkl_model_file *file;
    s = vkl_model_file_open_llama2c(o->model_path, &file, err);
    if (s != VKLLM_OK)
        return s;

    gguf_writer *w = gguf_writer_create();
    s = w != NULL ? convert_with(o, file, w, err)
                  : vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    gguf_writer_destroy(w);
    vkl_model_file_close(file);
    return s;
}

/* ------------------------------------------------------------------------ */
/* synth                                                                     */

static void shape_config(const shape *s, const family *f, int32_t layers,
                         vkl_model_config *c)
{
    *c = (vkl_model_config){
        .norm = f->norm, .ffn = f->ffn, .rope = f->rope, .dim = s->dim,
        .hidden_dim = s->hidden_dim, .n_layers = layers > 0 ? layers : s->n_layers,
        .n_heads = s->n_heads, .n_kv_heads = s->n_kv_heads, .head_size = s->dim / s->n_heads,
        .vocab_size = s->vocab_size, .context_length = s->context_length,
        .norm_eps = s->norm_eps, .rope_theta = s->rope_theta, .tied_output = s->tied};
    snprintf(c->arch_name, sizeof c->arch_name, "%s", f->arch);
}

static vkllm_status add_vocab(gguf_writer *w, const char *vocab_path, int32_t count,
                              vkl_error *err)
{
    if (vocab_path != NULL)
        return copy_vocab(w, vocab_path, count, err);

    vocab v = {0};
    vkllm_status s = synth_vocab(count, &v, err);
    if (s == VKLLM_OK)
        add_spm_vocab(w, &v);
    vocab_free(&v);
    return s;
}

static vkllm_status synth_with(const gguf_synth_options *o, const shape *sh, gguf_writer *w,
                               vkl_error *err)
{
    const family *f = find_family(sh->arch);
    vkl_model_config c;
    shape_config(sh, f, o->layers, &c);
    add_hparams(w, &c, sh->name);

    vkllm_status s = add_vocab(w, o->vocab_path, c.vocab_size, err);
    if (s != VKLLM_OK)
        return s;

    planner p = {.c = &c, .needs = f->needs, .type = o->type,
                 .output_type = o->output_type, .seed = o->seed};
    return write_model(w, &p, o->out_path, o->progress, err);
}

vkllm_status gguf_synth(const gguf_synth_options *o, vkl_error *err)
{
    const shape *sh = find_shape(o->shape);
    if (sh == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "unknown shape '%s' (see vkllm-gguf --help)", o->shape);
    if (o->layers < 0 || o->layers > 4096)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "%d layers is outside 1 .. 4096", o->layers);
    vkllm_status s = check_types(o->type, o->output_type, err);
    if (s != VKLLM_OK)
        return s;

    gguf_writer *w = gguf_writer_create();
    s = w != NULL ? synth_with(o, sh, w, err)
                  : vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "out of memory");
    gguf_writer_destroy(w);
    return s;
}
