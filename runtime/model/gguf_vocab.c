/* Gathers GGUF's tokenizer.ggml.* arrays into a vocabulary source. Strings
 * point into the mapping; scores and types are copied out, since packed
 * arrays in a GGUF file need not be aligned for their element type. */
#include "model/gguf_vocab.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"
#define KEY_BOS "tokenizer.ggml.bos_token_id"
#define KEY_EOS "tokenizer.ggml.eos_token_id"
#define KEY_UNK "tokenizer.ggml.unknown_token_id"
#define KEY_SPACE_PREFIX "tokenizer.ggml.add_space_prefix"

/* llama's special ids, which llama.cpp assumes when a file leaves them out. */
enum { LLAMA_UNK = 0, LLAMA_BOS = 1, LLAMA_EOS = 2 };

/* What the source points at; freed together once the tokenizer is built. */
typedef struct vocab_arrays {
    const char **texts;
    size_t *lengths;
    float *scores;
    int32_t *types;
    const char **merges;
    size_t *merge_lengths;
} vocab_arrays;

static void free_arrays(vocab_arrays *arrays)
{
    free(arrays->texts);
    free(arrays->lengths);
    free(arrays->scores);
    free(arrays->types);
    free(arrays->merges);
    free(arrays->merge_lengths);
}

static vkllm_status no_memory(const char *key, vkl_error *err)
{
    return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory to read %s", key);
}

static vkllm_status read_kind(const vkl_gguf *g, vkl_tokenizer_kind *kind, vkl_error *err)
{
    vkl_gguf_string model;
    if (vkl_gguf_find(g, KEY_MODEL) == NULL)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "the file has no %s", KEY_MODEL);
    if (!vkl_gguf_get_string(g, KEY_MODEL, &model))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s is not a string", KEY_MODEL);

    if (vkl_gguf_string_is(model, "llama")) {
        *kind = VKL_TOKENIZER_SPM;
    } else if (vkl_gguf_string_is(model, "gpt2")) {
        *kind = VKL_TOKENIZER_BPE;
    } else {
        int shown = model.len > 64 ? 64 : (int)model.len;
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s '%.*s' is not supported (llama and gpt2 are)", KEY_MODEL, shown,
                        model.data);
    }
    return VKLLM_OK;
}

/* The element types find_array is asked for. */
static const char *element_name(vkl_gguf_type type)
{
    if (type == VKL_GGUF_STRING)
        return "strings";
    return type == VKL_GGUF_FLOAT32 ? "float32" : "int32";
}

/* The array under key with elements of the given type; *out stays NULL for
 * an absent key that is not required. */
static vkllm_status find_array(const vkl_gguf *g, const char *key, vkl_gguf_type type,
                               bool required, const vkl_gguf_array **out, vkl_error *err)
{
    *out = NULL;
    if (vkl_gguf_find(g, key) == NULL) {
        if (!required)
            return VKLLM_OK;
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "the file has no %s", key);
    }

    const vkl_gguf_array *array = vkl_gguf_get_array(g, key);
    if (array == NULL || array->type != type)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s is not an array of %s", key,
                        element_name(type));
    if (array->count > INT32_MAX)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s has %llu entries", key,
                        (unsigned long long)array->count);
    *out = array;
    return VKLLM_OK;
}

/* Pointers to each string and its length, as the source wants them. */
static vkllm_status spell_strings(const vkl_gguf_array *array, const char *key,
                                  const char ***texts, size_t **lengths, vkl_error *err)
{
    size_t count = (size_t)array->count;
    *texts = malloc((count + 1) * sizeof **texts);
    *lengths = malloc((count + 1) * sizeof **lengths);
    if (*texts == NULL || *lengths == NULL)
        return no_memory(key, err);

    for (size_t i = 0; i < count; i++) {
        if (array->strings[i].len > INT32_MAX)
            return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s[%zu] is too long", key, i);
        (*texts)[i] = array->strings[i].data;
        (*lengths)[i] = (size_t)array->strings[i].len;
    }
    return VKLLM_OK;
}

static vkllm_status read_tokens(const vkl_gguf *g, vkl_vocab_source *source,
                                vocab_arrays *arrays, vkl_error *err)
{
    const vkl_gguf_array *tokens = NULL;
    vkllm_status status = find_array(g, KEY_TOKENS, VKL_GGUF_STRING, true, &tokens, err);
    if (status != VKLLM_OK)
        return status;
    if (tokens->count == 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s is empty", KEY_TOKENS);

    source->count = (int32_t)tokens->count;
    status = spell_strings(tokens, KEY_TOKENS, &arrays->texts, &arrays->lengths, err);
    source->texts = arrays->texts;
    source->lengths = arrays->lengths;
    return status;
}

static vkllm_status check_per_token(const vkl_gguf_array *array, const char *key,
                                    int32_t count, vkl_error *err)
{
    if (array->count != (uint64_t)count)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s has %llu entries for %d tokens",
                        key, (unsigned long long)array->count, count);
    return VKLLM_OK;
}

static vkllm_status copy_scores(const vkl_gguf_array *array, int32_t count, float **out,
                                vkl_error *err)
{
    vkllm_status status = check_per_token(array, KEY_SCORES, count, err);
    if (status != VKLLM_OK)
        return status;

    *out = malloc((size_t)count * sizeof **out);
    if (*out == NULL)
        return no_memory(KEY_SCORES, err);
    memcpy(*out, array->data, (size_t)count * sizeof **out);
    return VKLLM_OK;
}

static vkllm_status copy_types(const vkl_gguf_array *array, int32_t count, int32_t **out,
                               vkl_error *err)
{
    vkllm_status status = check_per_token(array, KEY_TYPES, count, err);
    if (status != VKLLM_OK)
        return status;

    *out = malloc((size_t)count * sizeof **out);
    if (*out == NULL)
        return no_memory(KEY_TYPES, err);
    memcpy(*out, array->data, (size_t)count * sizeof **out);
    return VKLLM_OK;
}

static vkllm_status read_scores_and_types(const vkl_gguf *g, vkl_vocab_source *source,
                                          vocab_arrays *arrays, vkl_error *err)
{
    const vkl_gguf_array *scores = NULL;
    const vkl_gguf_array *types = NULL;
    bool spm = source->kind == VKL_TOKENIZER_SPM;
    vkllm_status status = find_array(g, KEY_SCORES, VKL_GGUF_FLOAT32, spm, &scores, err);
    if (status == VKLLM_OK)
        status = find_array(g, KEY_TYPES, VKL_GGUF_INT32, false, &types, err);

    /* BPE merges by rank: its scores, if any, mean nothing here. */
    if (status == VKLLM_OK && spm)
        status = copy_scores(scores, source->count, &arrays->scores, err);
    if (status == VKLLM_OK && types != NULL)
        status = copy_types(types, source->count, &arrays->types, err);
    source->scores = arrays->scores;
    source->types = arrays->types;
    return status;
}

static vkllm_status read_merges(const vkl_gguf *g, vkl_vocab_source *source,
                                vocab_arrays *arrays, vkl_error *err)
{
    if (source->kind != VKL_TOKENIZER_BPE)
        return VKLLM_OK;

    const vkl_gguf_array *merges = NULL;
    vkllm_status status = find_array(g, KEY_MERGES, VKL_GGUF_STRING, true, &merges, err);
    if (status != VKLLM_OK)
        return status;

    source->merge_count = (int32_t)merges->count;
    status = spell_strings(merges, KEY_MERGES, &arrays->merges, &arrays->merge_lengths, err);
    source->merges = arrays->merges;
    source->merge_lengths = arrays->merge_lengths;
    return status;
}

/* A special id: fallback when absent, an error when ill-typed or outside
 * the vocabulary. */
static vkllm_status read_special(const vkl_gguf *g, const char *key, int32_t count,
                                 int32_t fallback, int32_t *id, vkl_error *err)
{
    *id = fallback < count ? fallback : -1;
    if (vkl_gguf_find(g, key) == NULL)
        return VKLLM_OK;

    uint32_t value = 0;
    if (!vkl_gguf_get_u32(g, key, &value))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s is not an unsigned integer", key);
    if (value >= (uint32_t)count)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s %u is outside the vocabulary of %d tokens", key, value, count);
    *id = (int32_t)value;
    return VKLLM_OK;
}

static vkllm_status read_specials(const vkl_gguf *g, vkl_vocab_source *source, vkl_error *err)
{
    bool spm = source->kind == VKL_TOKENIZER_SPM;
    vkllm_status status = read_special(g, KEY_BOS, source->count, spm ? LLAMA_BOS : -1,
                                       &source->bos, err);
    if (status == VKLLM_OK)
        status = read_special(g, KEY_EOS, source->count, spm ? LLAMA_EOS : -1, &source->eos,
                              err);
    if (status == VKLLM_OK)
        status = read_special(g, KEY_UNK, source->count, spm ? LLAMA_UNK : -1, &source->unk,
                              err);
    if (status != VKLLM_OK)
        return status;

    source->add_space_prefix = spm;
    if (vkl_gguf_find(g, KEY_SPACE_PREFIX) != NULL &&
        !vkl_gguf_get_bool(g, KEY_SPACE_PREFIX, &source->add_space_prefix))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s is not a bool", KEY_SPACE_PREFIX);
    return VKLLM_OK;
}

static vkllm_status read_source(const vkl_gguf *g, vkl_vocab_source *source,
                                vocab_arrays *arrays, vkl_error *err)
{
    vkllm_status status = read_kind(g, &source->kind, err);
    if (status == VKLLM_OK)
        status = read_tokens(g, source, arrays, err);
    if (status == VKLLM_OK)
        status = read_scores_and_types(g, source, arrays, err);
    if (status == VKLLM_OK)
        status = read_merges(g, source, arrays, err);
    if (status == VKLLM_OK)
        status = read_specials(g, source, err);
    return status;
}

vkllm_status vkl_gguf_vocab_load(const vkl_gguf *g, vkl_tokenizer **out, vkl_error *err)
{
    if (g == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "GGUF file or output is NULL");
    *out = NULL;

    vkl_vocab_source source = { .bos = -1, .eos = -1, .unk = -1 };
    vocab_arrays arrays = { 0 };
    vkllm_status status = read_source(g, &source, &arrays, err);
    if (status == VKLLM_OK)
        status = vkl_tokenizer_create(&source, out, err);
    free_arrays(&arrays);
    return status;
}
