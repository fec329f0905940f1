/* Loading a llama2.c tokenizer file: the file is read whole, its records
 * become a vocabulary source, and the SPM tokenizer is built from that with
 * llama2.c's quirks (plain spaces, fixed special and byte ids). */
#include "core/mapped_file.h"
#include "text/tokenizer_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids fixed by the llama2.c format. */
enum { TOKEN_UNK = 0, TOKEN_BOS = 1, TOKEN_EOS = 2, FIRST_BYTE_TOKEN = 3 };

/* Limits that no real tokenizer comes near; beyond them the file is hostile. */
#define MAX_PIECE_LENGTH VKL_MAX_TOKEN_TEXT
#define MAX_FILE_SIZE (256L << 20)

/* The smallest token record: a score and a length with no bytes. */
#define MIN_TOKEN_RECORD 8

/* A cursor over the file image that never reads past its end. */
typedef struct vkl_reader {
    const unsigned char *data;
    size_t size;
    size_t offset;
} vkl_reader;

/* The file's tokens, pointing into its image, as the source wants them. */
typedef struct vkl_llama2c_vocab {
    int32_t max_token_length;
    const char **texts;
    size_t *lengths;
    float *scores;
} vkl_llama2c_vocab;


static bool read_bytes(vkl_reader *reader, void *out, size_t count)
{
    if (reader->size - reader->offset < count)
        return false;

    memcpy(out, reader->data + reader->offset, count);
    reader->offset += count;
    return true;
}

/* How many whole token records follow the header: the file's own count,
 * for a caller that has no model to say it. */
static int32_t count_records(const vkl_reader *reader)
{
    size_t offset = reader->offset;
    int32_t count = 0;
    while (reader->size - offset >= MIN_TOKEN_RECORD && count < INT32_MAX) {
        int32_t len;
        memcpy(&len, reader->data + offset + sizeof(float), sizeof len);
        if (len < 0 || (size_t)len > reader->size - offset - MIN_TOKEN_RECORD)
            break;
        offset += MIN_TOKEN_RECORD + (size_t)len;
        count++;
    }
    return count;
}

static vkllm_status read_header(vkl_reader *reader, const char *path, int32_t *vocab_size,
                                int32_t *max_token_length, vkl_error *err)
{
    if (!read_bytes(reader, max_token_length, sizeof *max_token_length))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: too short to hold max_token_length", path);

    if (*max_token_length <= 0 || *max_token_length > MAX_PIECE_LENGTH)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: impossible max_token_length %d (is this a llama2.c tokenizer?)",
                        path, *max_token_length);

    /* Checked before allocating per-token arrays, so that a hostile vocab_size
     * cannot ask for more memory than the file could ever describe. */
    if (*vocab_size == 0)
        *vocab_size = count_records(reader);
    size_t most_tokens = (reader->size - reader->offset) / MIN_TOKEN_RECORD;
    if ((size_t)*vocab_size > most_tokens || *vocab_size < FIRST_BYTE_TOKEN)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: %zu bytes cannot hold %d tokens", path, reader->size, *vocab_size);
    return VKLLM_OK;
}

static vkllm_status read_token(vkl_llama2c_vocab *vocab, vkl_reader *reader, const char *path,
                               int32_t id, vkl_error *err)
{
    float score = 0.0f;
    int32_t len = 0;
    if (!read_bytes(reader, &score, sizeof score) || !read_bytes(reader, &len, sizeof len))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: file ends inside token %d", path,
                        id);

    if (isnan(score))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: token %d has a NaN score", path,
                        id);

    if (len < 0 || len > vocab->max_token_length)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: token %d has length %d (max_token_length %d)", path, id, len,
                        vocab->max_token_length);

    if (reader->size - reader->offset < (size_t)len)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: token %d needs %d bytes but the file ends first", path, id, len);

    vocab->scores[id] = score;
    vocab->texts[id] = (const char *)reader->data + reader->offset;
    vocab->lengths[id] = (size_t)len;
    reader->offset += (size_t)len;
    return VKLLM_OK;
}

static vkllm_status parse_tokens(vkl_llama2c_vocab *vocab, vkl_reader *reader,
                                 const char *path, int32_t vocab_size, vkl_error *err)
{
    size_t count = (size_t)vocab_size;
    vocab->texts = malloc(count * sizeof *vocab->texts);
    vocab->lengths = malloc(count * sizeof *vocab->lengths);
    vocab->scores = malloc(count * sizeof *vocab->scores);
    if (vocab->texts == NULL || vocab->lengths == NULL || vocab->scores == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory for %d tokens",
                        path, vocab_size);

    /* Bytes after the last token are ignored, as llama2.c ignores them: the
     * model, not the file, says how many tokens there are. */
    for (int32_t id = 0; id < vocab_size; id++) {
        vkllm_status status = read_token(vocab, reader, path, id, err);
        if (status != VKLLM_OK)
            return status;
    }
    return VKLLM_OK;
}

static vkllm_status build_from(const vkl_llama2c_vocab *vocab, int32_t vocab_size,
                               vkl_tokenizer **out, vkl_error *err)
{
    vkl_vocab_source source = {
        .kind = VKL_TOKENIZER_SPM,
        .count = vocab_size,
        .texts = vocab->texts,
        .lengths = vocab->lengths,
        .scores = vocab->scores,
        .bos = TOKEN_BOS,
        .eos = TOKEN_EOS,
        .unk = TOKEN_UNK,
        .add_space_prefix = true,
    };
    return vkl_tokenizer_build(&source, true, out, err);
}

static vkllm_status load_from(const char *path, int32_t vocab_size, vkl_tokenizer **out,
                              vkl_error *err)
{
    vkl_mapped_file map;
    vkl_llama2c_vocab vocab = { 0 };
    vkllm_status status = vkl_mapped_file_open(path, &map, err);
    if (status == VKLLM_OK && map.size > MAX_FILE_SIZE)
        status = vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                          "%s: %zu bytes is too large for a tokenizer", path, map.size);

    vkl_reader reader = { map.data, map.size, 0 };
    if (status == VKLLM_OK)
        status = read_header(&reader, path, &vocab_size, &vocab.max_token_length, err);
    if (status == VKLLM_OK)
        status = parse_tokens(&vocab, &reader, path, vocab_size, err);
    if (status == VKLLM_OK)
        status = build_from(&vocab, vocab_size, out, err);

    free(vocab.scores);
    free(vocab.lengths);
    free(vocab.texts);
    vkl_mapped_file_close(&map);
    return status;
}

vkllm_status vkl_tokenizer_load_llama2c(const char *path, int32_t vocab_size,
                                        vkl_tokenizer **out, vkl_error *err)
{
    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "tokenizer path or output is NULL");
    *out = NULL;

    /* Below three there is no room for <unk>, BOS and EOS at their fixed ids;
     * 0 asks for every token the file holds. */
    if (vocab_size != 0 && vocab_size < FIRST_BYTE_TOKEN)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: impossible vocab_size %d", path,
                        vocab_size);
    return load_from(path, vocab_size, out, err);
}
