/* The tokenizer both kinds share: building it from a vocabulary source,
 * the encode entry point and decoding. Encoding itself is in
 * tokenizer_spm.c and tokenizer_bpe.c, over tokenizer_merge.c. */
#include "text/tokenizer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/gpt2.h"

/* ------------------------------------------------------------------------ */
/* Checking a source                                                          */

static vkllm_status check_shape(const vkl_vocab_source *source, vkl_error *err)
{
    if (source->kind != VKL_TOKENIZER_SPM && source->kind != VKL_TOKENIZER_BPE)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "unknown tokenizer kind %d",
                        (int)source->kind);
    if (source->texts == NULL || source->lengths == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "a vocabulary without texts");
    if (source->merge_count > 0 && (source->merges == NULL || source->merge_lengths == NULL))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "merges counted but not given");

    if (source->count < 1 || source->count > VKL_MAX_TOKENS)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "impossible vocabulary size %d",
                        source->count);
    if (source->merge_count < 0 || source->merge_count > VKL_MAX_MERGES)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "impossible merge count %d",
                        source->merge_count);
    if (source->kind == VKL_TOKENIZER_SPM && source->scores == NULL &&
        source->merge_count == 0)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "a SentencePiece vocabulary needs scores or merges");
    return VKLLM_OK;
}

static vkllm_status check_tokens(const vkl_vocab_source *source, vkl_error *err)
{
    for (int32_t id = 0; id < source->count; id++) {
        if (source->lengths[id] > VKL_MAX_TOKEN_TEXT)
            return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "token %d is %zu bytes long", id,
                            source->lengths[id]);
        if (source->texts[id] == NULL && source->lengths[id] > 0)
            return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "token %d has no text", id);
        if (source->scores != NULL && isnan(source->scores[id]))
            return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "token %d has a NaN score", id);
    }

    for (int32_t rank = 0; rank < source->merge_count; rank++) {
        if (source->merges[rank] == NULL && source->merge_lengths[rank] > 0)
            return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "merge %d has no text", rank);
        if (source->merge_lengths[rank] > 2 * (size_t)VKL_MAX_TOKEN_TEXT + 1)
            return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "merge %d is %zu bytes long",
                            rank, source->merge_lengths[rank]);
    }
    return VKLLM_OK;
}

static vkllm_status check_special(const char *name, int32_t id, int32_t count, vkl_error *err)
{
    if (id < -1 || id >= count)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s token %d is outside the vocabulary of %d", name, id, count);
    return VKLLM_OK;
}

static vkllm_status check_source(const vkl_vocab_source *source, vkl_error *err)
{
    vkllm_status status = check_shape(source, err);
    if (status == VKLLM_OK)
        status = check_tokens(source, err);
    if (status == VKLLM_OK)
        status = check_special("BOS", source->bos, source->count, err);
    if (status == VKLLM_OK)
        status = check_special("EOS", source->eos, source->count, err);
    if (status == VKLLM_OK)
        status = check_special("unknown", source->unk, source->count, err);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Copying the vocabulary                                                     */

static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* The byte a "<0xHH>" text stands for, or -1 if the text is anything else. */
static int byte_text_value(const char *text, size_t len)
{
    if (len != 6 || memcmp(text, "<0x", 3) != 0 || text[5] != '>')
        return -1;
    if (!is_hex_digit(text[3]) || !is_hex_digit(text[4]))
        return -1;
    return hex_value(text[3]) * 16 + hex_value(text[4]);
}

/* Without types, an SPM "<0xHH>" text is a byte token (llama2.c's rule). */
static int32_t type_of(const vkl_vocab_source *source, int32_t id)
{
    if (source->types != NULL)
        return source->types[id];
    bool byte = source->kind == VKL_TOKENIZER_SPM &&
                byte_text_value(source->texts[id], source->lengths[id]) >= 0;
    return byte ? VKL_TOKEN_BYTE : VKL_TOKEN_NORMAL;
}

static vkllm_status allocate_vocabulary(vkl_tokenizer *tok, const vkl_vocab_source *source,
                                        vkl_error *err)
{
    size_t total = 1;
    for (int32_t id = 0; id < source->count; id++)
        total += source->lengths[id];

    tok->tokens = calloc((size_t)source->count, sizeof *tok->tokens);
    tok->texts = malloc(total);
    tok->pieces = malloc(total);
    if (tok->tokens == NULL || tok->texts == NULL || tok->pieces == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "no memory for %d tokens of %zu bytes", source->count, total);
    return VKLLM_OK;
}

static void copy_vocabulary(vkl_tokenizer *tok, const vkl_vocab_source *source)
{
    size_t offset = 0;
    for (int32_t id = 0; id < source->count; id++) {
        size_t len = source->lengths[id];
        if (len > 0)
            memcpy(tok->texts + offset, source->texts[id], len);

        tok->tokens[id] = (vkl_token_entry){
            .text = offset,
            .text_len = (uint32_t)len,
            .score = source->scores != NULL ? source->scores[id] : -INFINITY,
            .type = type_of(source, id),
        };
        offset += len;
        if (len > tok->max_text_len)
            tok->max_text_len = len;
    }
}

/* Without scores, an SPM token scores minus the rank of the first merge
 * that makes it; tokens no merge makes stay at -inf and never merge. */
static vkllm_status scores_from_merges(vkl_tokenizer *tok, const vkl_vocab_source *source,
                                       vkl_error *err)
{
    char *buffer = malloc(vkl_longest_merge(source));
    if (buffer == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory to read merges");

    for (int32_t rank = source->merge_count - 1; rank >= 0; rank--) {
        int32_t left = -1;
        int32_t right = -1;
        int32_t result = -1;
        if (vkl_split_merge(tok, source->merges[rank], source->merge_lengths[rank], buffer,
                            &left, &right, &result))
            tok->tokens[result].score = -(float)rank;
    }
    free(buffer);
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Byte tokens and the space prefix                                           */

/* llama2.c fixes byte b at id 3 + b, or <unk> (0) if the vocabulary stops
 * before it. */
static void find_llama2c_bytes(vkl_tokenizer *tok)
{
    for (int byte = 0; byte < 256; byte++)
        tok->byte_tokens[byte] = 3 + byte < tok->count ? 3 + byte : 0;
}

/* The lowest id of each "<0xHH>" byte token. */
static void find_spm_bytes(vkl_tokenizer *tok)
{
    for (int32_t id = tok->count - 1; id >= 0; id--) {
        const vkl_token_entry *entry = &tok->tokens[id];
        int value = byte_text_value(tok->texts + entry->text, entry->text_len);
        if (entry->type == VKL_TOKEN_BYTE && value >= 0)
            tok->byte_tokens[value] = id;
    }
}

/* The token of each byte's GPT-2 character. */
static void find_bpe_bytes(vkl_tokenizer *tok)
{
    for (int byte = 0; byte < 256; byte++) {
        char text[4];
        size_t len = vkl_utf8_encode(vkl_gpt2_byte_char((unsigned char)byte), text);
        tok->byte_tokens[byte] = vkl_text_index_find(tok, text, len);
    }
}

static void find_byte_tokens(vkl_tokenizer *tok)
{
    for (int byte = 0; byte < 256; byte++)
        tok->byte_tokens[byte] = -1;

    if (tok->kind == VKL_TOKENIZER_BPE)
        find_bpe_bytes(tok);
    else if (tok->llama2c)
        find_llama2c_bytes(tok);
    else
        find_spm_bytes(tok);
}

static void find_space(vkl_tokenizer *tok)
{
    tok->space = -1;
    if (tok->kind == VKL_TOKENIZER_SPM && tok->llama2c)
        tok->space = vkl_text_index_find(tok, " ", 1);
    else if (tok->kind == VKL_TOKENIZER_SPM)
        tok->space = vkl_text_index_find(tok, VKL_META_SPACE, VKL_META_SPACE_LEN);
}

/* ------------------------------------------------------------------------ */
/* Decoded pieces                                                             */

/* SPM: "▁" is a space (llama2.c's texts have plain ones already), a byte
 * token its byte, a control token nothing; user-defined text stays as is. */
static size_t decode_spm(const vkl_tokenizer *tok, const vkl_token_entry *entry, char *out)
{
    const char *text = tok->texts + entry->text;
    size_t len = entry->text_len;
    int byte = byte_text_value(text, len);
    if (entry->type == VKL_TOKEN_CONTROL)
        return 0;
    if (entry->type == VKL_TOKEN_BYTE && byte >= 0) {
        out[0] = (char)byte;
        return 1;
    }
    if (tok->llama2c || entry->type == VKL_TOKEN_USER_DEFINED) {
        memcpy(out, text, len);
        return len;
    }

    size_t out_len = 0;
    size_t i = 0;
    while (i < len) {
        if (len - i >= VKL_META_SPACE_LEN &&
            memcmp(text + i, VKL_META_SPACE, VKL_META_SPACE_LEN) == 0) {
            out[out_len++] = ' ';
            i += VKL_META_SPACE_LEN;
        } else {
            out[out_len++] = text[i++];
        }
    }
    return out_len;
}

/* BPE: each character back to its byte; a character no byte maps to (in a
 * hand-added token, say) stays as it is. */
static size_t decode_bpe(const vkl_tokenizer *tok, const vkl_token_entry *entry, char *out)
{
    const unsigned char *text = (const unsigned char *)tok->texts + entry->text;
    size_t len = entry->text_len;
    if (entry->type == VKL_TOKEN_CONTROL)
        return 0;
    if (entry->type == VKL_TOKEN_USER_DEFINED) {
        memcpy(out, text, len);
        return len;
    }

    size_t out_len = 0;
    size_t start = 0;
    while (start < len) {
        uint32_t cp = 0;
        size_t char_len = vkl_utf8_decode(text + start, len - start, &cp);
        int byte = vkl_gpt2_char_byte(cp);
        if (byte >= 0) {
            out[out_len++] = (char)byte;
        } else {
            memcpy(out + out_len, text + start, char_len);
            out_len += char_len;
        }
        start += char_len;
    }
    return out_len;
}

/* Decoding never lengthens a text, so the pieces fit the texts' size. */
static void decode_pieces(vkl_tokenizer *tok)
{
    size_t offset = 0;
    for (int32_t id = 0; id < tok->count; id++) {
        vkl_token_entry *entry = &tok->tokens[id];
        char *out = tok->pieces + offset;
        size_t len = tok->kind == VKL_TOKENIZER_BPE ? decode_bpe(tok, entry, out)
                                                    : decode_spm(tok, entry, out);
        entry->piece = offset;
        entry->piece_len = (uint32_t)len;
        offset += len;
    }
}

/* ------------------------------------------------------------------------ */
/* Building                                                                   */

static vkllm_status fill_tokenizer(vkl_tokenizer *tok, const vkl_vocab_source *source,
                                   vkl_error *err)
{
    vkllm_status status = allocate_vocabulary(tok, source, err);
    if (status != VKLLM_OK)
        return status;

    copy_vocabulary(tok, source);
    status = vkl_text_index_build(tok, err);
    if (status == VKLLM_OK && tok->kind == VKL_TOKENIZER_SPM && source->scores == NULL)
        status = scores_from_merges(tok, source, err);
    if (status == VKLLM_OK && tok->kind == VKL_TOKENIZER_BPE)
        status = vkl_merge_index_build(tok, source, err);
    if (status != VKLLM_OK)
        return status;

    find_byte_tokens(tok);
    find_space(tok);
    decode_pieces(tok);
    return VKLLM_OK;
}

vkllm_status vkl_tokenizer_build(const vkl_vocab_source *source, bool llama2c,
                                 vkl_tokenizer **out, vkl_error *err)
{
    *out = NULL;
    vkl_tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for a tokenizer");

    *tok = (vkl_tokenizer){
        .kind = source->kind,
        .llama2c = llama2c,
        .add_space_prefix = source->kind == VKL_TOKENIZER_SPM && source->add_space_prefix,
        .count = source->count,
        .bos = source->bos,
        .eos = source->eos,
        .unk = source->unk,
    };
    vkllm_status status = fill_tokenizer(tok, source, err);
    if (status != VKLLM_OK) {
        vkl_tokenizer_free(tok);
        return status;
    }
    *out = tok;
    return VKLLM_OK;
}

vkllm_status vkl_tokenizer_create(const vkl_vocab_source *source, vkl_tokenizer **out,
                                  vkl_error *err)
{
    if (source == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "vocabulary or output is NULL");
    *out = NULL;

    vkllm_status status = check_source(source, err);
    if (status != VKLLM_OK)
        return status;
    return vkl_tokenizer_build(source, false, out, err);
}

void vkl_tokenizer_free(vkl_tokenizer *tok)
{
    if (tok == NULL)
        return;

    free(tok->merge_index.slots);
    free(tok->text_index.slots);
    free(tok->pieces);
    free(tok->texts);
    free(tok->tokens);
    free(tok);
}

int32_t vkl_tokenizer_vocab_size(const vkl_tokenizer *tok)
{
    return tok->count;
}

int32_t vkl_tokenizer_bos(const vkl_tokenizer *tok)
{
    return tok->bos;
}

int32_t vkl_tokenizer_eos(const vkl_tokenizer *tok)
{
    return tok->eos;
}

vkl_tokenizer_kind vkl_tokenizer_kind_of(const vkl_tokenizer *tok)
{
    return tok->kind;
}

/* ------------------------------------------------------------------------ */
/* Encoding and decoding                                                      */

static size_t encode_into(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                          bool add_bos, vkl_encode_work *work)
{
    size_t count = 0;
    if (add_bos && tok->bos >= 0)
        work->ids[count++] = tok->bos;

    if (tok->kind == VKL_TOKENIZER_BPE)
        return count + vkl_bpe_encode(tok, text, len, work, work->ids + count);
    return count + vkl_spm_encode(tok, text, len, work, work->ids + count);
}

vkllm_status vkl_tokenizer_encode(const vkl_tokenizer *tok, const char *text, size_t len,
                                  bool add_bos, int32_t *ids, size_t capacity, size_t *count,
                                  vkl_error *err)
{
    if (tok == NULL || count == NULL || (text == NULL && len > 0) ||
        (ids == NULL && capacity > 0))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "bad arguments to encode");

    vkl_encode_work work;
    vkllm_status status = vkl_encode_work_create(tok, len, &work, err);
    if (status != VKLLM_OK)
        return status;

    *count = encode_into(tok, (const unsigned char *)text, len, add_bos, &work);
    if (*count <= capacity && *count > 0)
        memcpy(ids, work.ids, *count * sizeof *ids);
    vkl_encode_work_free(&work);

    if (*count > capacity)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "the text needs %zu tokens but there is room for %zu", *count,
                        capacity);
    return VKLLM_OK;
}

const char *vkl_tokenizer_piece(const vkl_tokenizer *tok, int32_t prev, int32_t id,
                                size_t *len)
{
    if (tok == NULL || id < 0 || id >= tok->count)
        return NULL;

    const vkl_token_entry *entry = &tok->tokens[id];
    const char *bytes = tok->pieces + entry->piece;
    size_t piece_len = entry->piece_len;

    /* SentencePiece put a space in front of the text; after BOS it is ours,
     * not the user's. A byte token's space is the user's own. */
    bool prefixed = tok->add_space_prefix && prev == tok->bos;
    if (prefixed && entry->type != VKL_TOKEN_BYTE && piece_len > 0 && bytes[0] == ' ') {
        bytes++;
        piece_len--;
    }

    if (len != NULL)
        *len = piece_len;
    return bytes;
}
