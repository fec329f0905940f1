#include "cpu_ref.h"

#include "quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Half precision                                                            */

#define F16_EXP_MASK 0x7C00u
#define F16_MANTISSA_MASK 0x03FFu
#define F16_QUIET_BIT 0x0200u

float cpu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h & F16_EXP_MASK) >> 10;
    uint32_t mantissa = h & F16_MANTISSA_MASK;
    uint32_t bits;
    float f;

    if (exponent == 0) {
        /* Zero or subnormal: mantissa units of 2^-24, exact in a float. */
        f = ldexpf((float)mantissa, -24);
        return sign ? -f : f;
    }

    if (exponent == 31)
        bits = sign | 0x7F800000u | (mantissa << 13);     /* inf, or NaN with its payload */
    else
        bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* value >> shift, rounded to nearest with ties to even; shift in 1..31. */
static uint32_t shift_right_rounded(uint32_t value, int shift)
{
    uint32_t kept = value >> shift;
    uint32_t dropped = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);

    if (dropped > half || (dropped == half && (kept & 1)))
        kept++;
    return kept;
}

uint16_t cpu_f32_to_f16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    int exponent = (int)((bits >> 23) & 0xFF);
    uint32_t mantissa = bits & 0x7FFFFFu;

    /* Keep a NaN a NaN even when its payload lies in the dropped bits. */
    if (exponent == 0xFF)
        return sign | (uint16_t)(F16_EXP_MASK | (mantissa ? F16_QUIET_BIT | (mantissa >> 13) : 0));

    int half_exponent = exponent - 127 + 15;
    if (half_exponent >= 31)
        return sign | F16_EXP_MASK;

    if (half_exponent <= 0) {
        /* Subnormal half: the full significand in units of 2^-24. Anything
         * below a quarter unit (and every float subnormal) rounds to zero. */
        int shift = 126 - exponent;
        if (exponent == 0 || shift > 24)
            return sign;
        return sign | (uint16_t)shift_right_rounded(mantissa | 0x800000u, shift);
    }

    /* A carry out of the mantissa bumps the exponent, up to inf if need be. */
    uint32_t half = ((uint32_t)half_exponent << 10) | (mantissa >> 13);
    uint32_t dropped = mantissa & 0x1FFFu;
    if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1)))
        half++;
    return sign | (uint16_t)half;
}

/* ------------------------------------------------------------------------ */
/* Weight rows: the block codecs of tools/quantize.c, shared with vkllm-gguf */

void cpu_weight_row(float *out, const void *weights, vkl_dtype type, int64_t cols, int64_t r)
{
    uint64_t row_bytes = vkl_dtype_row_bytes(type, (uint64_t)cols);
    if (row_bytes == 0)
        abort();    /* a test asked for a type or shape that cannot be */
    dequantize_row(type, (const uint8_t *)weights + (uint64_t)r * row_bytes, out, cols);
}

void cpu_quantize_row(vkl_dtype type, const float *x, void *out, int64_t cols)
{
    if (!quantize_row(type, x, out, cols))
        abort();
}

void cpu_matmul(float *y, const float *x, const void *w, vkl_dtype type, int T, int N, int K)
{
    float *row = malloc((size_t)K * sizeof *row);
    if (row == NULL)
        abort();

    for (int n = 0; n < N; n++) {
        cpu_weight_row(row, w, type, K, n);
        for (int t = 0; t < T; t++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++)
                sum += (double)x[(int64_t)t * K + k] * row[k];
            y[(int64_t)t * N + n] = (float)sum;
        }
    }
    free(row);
}

/* ------------------------------------------------------------------------ */
/* Kernels                                                                   */

void cpu_rmsnorm(float *y, const float *x, const float *weight, int T, int n, float eps)
{
    for (int t = 0; t < T; t++) {
        const float *row = x + (int64_t)t * n;
        double sum_squares = 0.0;
        for (int i = 0; i < n; i++)
            sum_squares += (double)row[i] * row[i];

        double scale = 1.0 / sqrt(sum_squares / n + eps);
        for (int i = 0; i < n; i++)
            y[(int64_t)t * n + i] = (float)(weight[i] * (row[i] * scale));
    }
}

/* Rotates pair i of each head, the elements (i, i + head_size / 2) with
 * halves and (2i, 2i + 1) without, by the angle pos * theta^(-2i / head_size). */
static void rope(float *x, int T, int n_heads, int head_size, int pos0, float theta, bool halves)
{
    int half = head_size / 2;
    for (int t = 0; t < T; t++) {
        double pos = pos0 + t;
        for (int h = 0; h < n_heads; h++) {
            float *head = x + ((int64_t)t * n_heads + h) * head_size;
            for (int i = 0; i < half; i++) {
                double angle = pos * pow(theta, -2.0 * i / head_size);
                double c = cos(angle);
                double s = sin(angle);
                float *a = halves ? &head[i] : &head[2 * i];
                float *b = halves ? &head[i + half] : &head[2 * i + 1];
                double v0 = *a;
                double v1 = *b;
                *a = (float)(v0 * c - v1 * s);
                *b = (float)(v0 * s + v1 * c);
            }
        }
    }
}

void cpu_rope(float *x, int T, int n_heads, int head_size, int pos0, float theta)
{
    rope(x, T, n_heads, head_size, pos0, theta, false);
}

void cpu_rope_halves(float *x, int T, int n_heads, int head_size, int pos0, float theta)
{
    rope(x, T, n_heads, head_size, pos0, theta, true);
}

void cpu_layernorm(float *y, const float *x, const float *weight, const float *bias, int T,
                   int n, float eps)
{
    for (int t = 0; t < T; t++) {
        const float *row = x + (int64_t)t * n;
        double sum = 0.0;
        for (int i = 0; i < n; i++)
            sum += row[i];

        double mean = sum / n;
        double squares = 0.0;
        for (int i = 0; i < n; i++)
            squares += (row[i] - mean) * (row[i] - mean);

        double scale = 1.0 / sqrt(squares / n + eps);
        for (int i = 0; i < n; i++)
            y[(int64_t)t * n + i] = (float)((row[i] - mean) * scale * weight[i] + bias[i]);
    }
}

void cpu_gelu(float *out, const float *x, int n)
{
    const double sqrt_2_over_pi = 0.79788456080286535588;
    for (int i = 0; i < n; i++) {
        double v = x[i];
        out[i] = (float)(0.5 * v * (1.0 + tanh(sqrt_2_over_pi * (v + 0.044715 * v * v * v))));
    }
}

void cpu_softmax(float *x, int n)
{
    /* Subtracting the maximum keeps exp() from overflowing. */
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;

    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] = (float)(x[i] / sum);
}

void cpu_swiglu(float *out, const float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) {
        double g = gate[i];
        out[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
    }
}

static double dot(const float *a, const float *b, int n)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/* One query head over key/value rows 0..last of one key/value head; scores
 * has room for last + 1 floats. */
static void attend_head(float *out, float *scores, const float *q, const float *k_cache,
                        const float *v_cache, int last, int kv_stride, int head_size)
{
    double scale = 1.0 / sqrt((double)head_size);
    for (int p = 0; p <= last; p++)
        scores[p] = (float)(dot(q, k_cache + (int64_t)p * kv_stride, head_size) * scale);
    cpu_softmax(scores, last + 1);

    for (int i = 0; i < head_size; i++) {
        double sum = 0.0;
        for (int p = 0; p <= last; p++)
            sum += (double)scores[p] * v_cache[(int64_t)p * kv_stride + i];
        out[i] = (float)sum;
    }
}

void cpu_attention(float *out, const float *q, const float *k_cache, const float *v_cache,
                   int T, int pos0, int n_heads, int n_kv_heads, int head_size)
{
    int q_dim = n_heads * head_size;
    int kv_dim = n_kv_heads * head_size;
    int group = n_heads / n_kv_heads;

    /* The oracle has no way to report failure, and a test host without
     * memory for one row of scores cannot go on anyway. */
    float *scores = malloc((size_t)(pos0 + T) * sizeof *scores);
    if (scores == NULL)
        abort();

    for (int t = 0; t < T; t++) {
        for (int h = 0; h < n_heads; h++) {
            int64_t q_offset = (int64_t)t * q_dim + (int64_t)h * head_size;
            int kv_offset = (h / group) * head_size;
            attend_head(out + q_offset, scores, q + q_offset, k_cache + kv_offset,
                        v_cache + kv_offset, pos0 + t, kv_dim, head_size);
        }
    }
    free(scores);
}

/* ------------------------------------------------------------------------ */
/* The whole model                                                           */

struct cpu_model {
    vkl_model_config config;
    const vkl_model_weights *weights;
    int context_length;
    float *x;           /* [dim] the residual stream */
    float *xb;          /* [dim] a normed copy of x */
    float *xb2;         /* [dim] a block's output before it joins x */
    float *q;           /* [n_heads * head_size] */
    float *att;         /* [n_heads * head_size] attention output */
    float *hb;          /* [hidden_dim] gate, then the hidden layer */
    float *hb2;         /* [hidden_dim] up */
    float *norm_weight; /* [dim] a norm's weights widened to float */
    float *norm_bias;   /* [dim] a LayerNorm's bias widened to float */
    float *vector;      /* [max(dim, hidden_dim, q_dim)] a bias or position row */
    float *key_cache;   /* [n_layers, context_length, n_kv_heads * head_size] */
    float *value_cache; /* [n_layers, context_length, n_kv_heads * head_size] */
    float *logits;      /* [vocab_size] */
};

static float *alloc_floats(int64_t count)
{
    return calloc((size_t)count, sizeof(float));
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
    int64_t ab = a > b ? a : b;
    return ab > c ? ab : c;
}

static bool allocate_buffers(cpu_model *m)
{
    const vkl_model_config *c = &m->config;
    int64_t q_dim = (int64_t)c->n_heads * c->head_size;
    int64_t cache = (int64_t)c->n_layers * m->context_length * c->n_kv_heads * c->head_size;

    m->x = alloc_floats(c->dim);
    m->xb = alloc_floats(c->dim);
    m->xb2 = alloc_floats(c->dim);
    m->q = alloc_floats(q_dim);
    m->att = alloc_floats(q_dim);
    m->hb = alloc_floats(c->hidden_dim);
    m->hb2 = alloc_floats(c->hidden_dim);
    m->norm_weight = alloc_floats(c->dim);
    m->norm_bias = alloc_floats(c->dim);
    m->vector = alloc_floats(max3(c->dim, c->hidden_dim, q_dim));
    m->key_cache = alloc_floats(cache);
    m->value_cache = alloc_floats(cache);
    m->logits = alloc_floats(c->vocab_size);

    return m->x && m->xb && m->xb2 && m->q && m->att && m->hb && m->hb2 && m->norm_weight &&
           m->norm_bias && m->vector && m->key_cache && m->value_cache && m->logits;
}

cpu_model *cpu_model_create(const vkl_model_file *file, int context_length)
{
    if (context_length <= 0)
        return NULL;

    cpu_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;

    m->config = file->config;
    m->weights = &file->weights;
    m->context_length = context_length;
    if (!allocate_buffers(m)) {
        cpu_model_free(m);
        return NULL;
    }
    return m;
}

void cpu_model_free(cpu_model *m)
{
    if (m == NULL)
        return;

    free(m->x);
    free(m->xb);
    free(m->xb2);
    free(m->q);
    free(m->att);
    free(m->hb);
    free(m->hb2);
    free(m->norm_weight);
    free(m->norm_bias);
    free(m->vector);
    free(m->key_cache);
    free(m->value_cache);
    free(m->logits);
    free(m);
}

/* y = norm(x): RMSNorm, or LayerNorm with its bias, as the architecture
 * says; the tensors may be of any type. */
static void apply_norm(cpu_model *m, float *y, const float *x, const vkl_host_tensor *norm,
                       const vkl_host_tensor *bias)
{
    const vkl_model_config *c = &m->config;
    cpu_weight_row(m->norm_weight, norm->data, norm->type, c->dim, 0);
    if (c->norm == VKL_NORM_RMS) {
        cpu_rmsnorm(y, x, m->norm_weight, 1, c->dim, c->norm_eps);
        return;
    }
    cpu_weight_row(m->norm_bias, bias->data, bias->type, c->dim, 0);
    cpu_layernorm(y, x, m->norm_weight, m->norm_bias, 1, c->dim, c->norm_eps);
}

static void matmul_one(float *y, const float *x, const vkl_host_tensor *w)
{
    cpu_matmul(y, x, w->data, w->type, 1, (int)w->rows, (int)w->cols);
}

static void add_into(float *x, const float *delta, int n)
{
    for (int i = 0; i < n; i++)
        x[i] += delta[i];
}

/* x += row r of t, when the file has t (biases and position embeddings
 * are optional). */
static void add_row(cpu_model *m, float *x, const vkl_host_tensor *t, int64_t r)
{
    if (t->data == NULL)
        return;
    cpu_weight_row(m->vector, t->data, t->type, t->cols, r);
    add_into(x, m->vector, (int)t->cols);
}

/* y = W x + b, the bias where the file has one. */
static void project(cpu_model *m, float *y, const float *x, const vkl_host_tensor *w,
                    const vkl_host_tensor *b)
{
    matmul_one(y, x, w);
    add_row(m, y, b, 0);
}

/* Rotary position embedding of n_heads heads of v, in the architecture's
 * style; none where positions come from a learned table. */
static void rotate(const vkl_model_config *c, float *v, int n_heads, int pos)
{
    if (c->rope == VKL_ROPE_ADJACENT)
        cpu_rope(v, 1, n_heads, c->head_size, pos, c->rope_theta);
    else if (c->rope == VKL_ROPE_NEOX)
        cpu_rope_halves(v, 1, n_heads, c->head_size, pos, c->rope_theta);
}

/* The attention half of layer l for the token at pos: its key and value go
 * into row pos of the layer's caches, and x gains the block's output. */
static void attention_block(cpu_model *m, int l, int pos)
{
    const vkl_model_config *c = &m->config;
    const vkl_layer_weights *layer = &m->weights->layers[l];
    int64_t kv_dim = (int64_t)c->n_kv_heads * c->head_size;
    float *layer_keys = m->key_cache + (int64_t)l * m->context_length * kv_dim;
    float *layer_values = m->value_cache + (int64_t)l * m->context_length * kv_dim;
    float *k = layer_keys + pos * kv_dim;
    float *v = layer_values + pos * kv_dim;

    apply_norm(m, m->xb, m->x, &layer->attn_norm, &layer->attn_norm_bias);
    project(m, m->q, m->xb, &layer->wq, &layer->bq);
    project(m, k, m->xb, &layer->wk, &layer->bk);
    project(m, v, m->xb, &layer->wv, &layer->bv);

    rotate(c, m->q, c->n_heads, pos);
    rotate(c, k, c->n_kv_heads, pos);

    cpu_attention(m->att, m->q, layer_keys, layer_values, 1, pos, c->n_heads, c->n_kv_heads,
                  c->head_size);
    project(m, m->xb2, m->att, &layer->wo, &layer->bo);
    add_into(m->x, m->xb2, c->dim);
}

/* The feed-forward half of layer l: x += down(silu(gate xn) * up xn) for
 * SwiGLU, x += down(gelu(up xn + b_up)) + b_down for GELU. */
static void ffn_block(cpu_model *m, int l)
{
    const vkl_model_config *c = &m->config;
    const vkl_layer_weights *layer = &m->weights->layers[l];

    apply_norm(m, m->xb, m->x, &layer->ffn_norm, &layer->ffn_norm_bias);
    project(m, m->hb2, m->xb, &layer->w_up, &layer->b_up);
    if (c->ffn == VKL_FFN_SWIGLU) {
        matmul_one(m->hb, m->xb, &layer->w_gate);
        cpu_swiglu(m->hb, m->hb, m->hb2, c->hidden_dim);
    } else {
        cpu_gelu(m->hb, m->hb2, c->hidden_dim);
    }
    project(m, m->xb2, m->hb, &layer->w_down, &layer->b_down);
    add_into(m->x, m->xb2, c->dim);
}

const float *cpu_model_forward(cpu_model *m, int32_t token, int pos)
{
    const vkl_model_config *c = &m->config;
    const vkl_model_weights *w = m->weights;

    if (token < 0 || token >= c->vocab_size || pos < 0 || pos >= m->context_length)
        return NULL;

    cpu_weight_row(m->x, w->token_embd.data, w->token_embd.type, c->dim, token);
    add_row(m, m->x, &w->pos_embd, pos);
    for (int l = 0; l < c->n_layers; l++) {
        attention_block(m, l, pos);
        ffn_block(m, l);
    }

    apply_norm(m, m->xb, m->x, &w->output_norm, &w->output_norm_bias);
    matmul_one(m->logits, m->xb, &w->output);
    return m->logits;
}

int32_t cpu_argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best])
            best = i;
    }
    return best;
}
