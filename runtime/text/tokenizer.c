#include "text/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids fixed by the llama2.c format. */
enum { TOKEN_UNK = 0, TOKEN_BOS = 1, TOKEN_EOS = 2, FIRST_BYTE_TOKEN = 3 };

/* Limits that no real tokenizer comes near; beyond them the file is hostile. */
#define MAX_PIECE_LENGTH (1 << 20)
#define MAX_FILE_SIZE (256L << 20)

/* The smallest token record: a score and a length with no bytes. */
#define MIN_TOKEN_RECORD 8

/* llama2.c only merges pairs scoring above this, so neither do we. */
#define NO_MERGE_SCORE (-1e10f)

typedef struct vkl_piece {
    const unsigned char *bytes;   /* into the file image, not NUL-terminated */
    int32_t len;
    int32_t id;
} vkl_piece;

struct vkl_tokenizer {
    int32_t vocab_size;
    int32_t max_token_length;
    unsigned char *file_bytes;    /* the whole file; pieces point into it */
    float *scores;                /* [vocab_size] */
    vkl_piece *pieces;            /* [vocab_size], by id */
    vkl_piece *sorted;            /* [vocab_size], by bytes, for lookup */
    unsigned char byte_values[256];   /* what "<0xHH>" pieces decode to */
};

/* A cursor over the file image that never reads past its end. */
typedef struct vkl_reader {
    const unsigned char *data;
    size_t size;
    size_t offset;
} vkl_reader;

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */

static vkllm_status file_size_of(FILE *file, const char *path, long *size, vkl_error *err)
{
    if (fseek(file, 0, SEEK_END) != 0 || (*size = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0)
        return vkl_fail(err, VKLLM_ERROR_IO, "%s: cannot find the file size: %s", path,
                        strerror(errno));

    if (*size > MAX_FILE_SIZE)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: %ld bytes is too large for a tokenizer", path, *size);
    return VKLLM_OK;
}

/* Reads the whole file into a malloc'd buffer; an empty file gives size 0. */
static vkllm_status read_file(const char *path, unsigned char **data, size_t *size,
                              vkl_error *err)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return vkl_fail(err, VKLLM_ERROR_IO, "%s: %s", path, strerror(errno));

    long file_size = 0;
    vkllm_status status = file_size_of(file, path, &file_size, err);
    if (status != VKLLM_OK) {
        fclose(file);
        return status;
    }

    /* One extra byte so that an empty file still gets a real allocation. */
    *data = malloc((size_t)file_size + 1);
    if (*data == NULL) {
        fclose(file);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory for %ld bytes",
                        path, file_size);
    }

    *size = fread(*data, 1, (size_t)file_size, file);
    bool read_failed = ferror(file) != 0;
    fclose(file);
    if (read_failed || *size != (size_t)file_size)
        return vkl_fail(err, VKLLM_ERROR_IO, "%s: read %zu of %ld bytes", path, *size,
                        file_size);
    return VKLLM_OK;
}

static bool read_bytes(vkl_reader *reader, void *out, size_t count)
{
    if (reader->size - reader->offset < count)
        return false;

    memcpy(out, reader->data + reader->offset, count);
    reader->offset += count;
    return true;
}

static vkllm_status read_header(vkl_reader *reader, const char *path, int32_t vocab_size,
                                int32_t *max_token_length, vkl_error *err)
{
    if (!read_bytes(reader, max_token_length, sizeof *max_token_length))
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: too short to hold max_token_length", path);

    if (*max_token_length <= 0 || *max_token_length > MAX_PIECE_LENGTH)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: impossible max_token_length %d",
                        path, *max_token_length);

    /* Checked before allocating per-token arrays, so that a hostile vocab_size
     * cannot ask for more memory than the file could ever describe. */
    size_t most_tokens = (reader->size - reader->offset) / MIN_TOKEN_RECORD;
    if ((size_t)vocab_size > most_tokens)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: %zu bytes cannot hold %d tokens", path, reader->size, vocab_size);
    return VKLLM_OK;
}

static vkllm_status read_token(vkl_tokenizer *tok, vkl_reader *reader, const char *path,
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

    if (len < 0 || len > tok->max_token_length)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: token %d has length %d (max_token_length %d)", path, id, len,
                        tok->max_token_length);

    if (reader->size - reader->offset < (size_t)len)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: token %d needs %d bytes but the file ends first", path, id, len);

    tok->scores[id] = score;
    tok->pieces[id] = (vkl_piece){ reader->data + reader->offset, len, id };
    reader->offset += (size_t)len;
    return VKLLM_OK;
}

static int compare_bytes(const unsigned char *a, size_t a_len, const unsigned char *b,
                         size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int order = common > 0 ? memcmp(a, b, common) : 0;
    if (order != 0)
        return order;
    return (a_len > b_len) - (a_len < b_len);
}

/* Orders by bytes, then by id so that duplicate pieces resolve to the lowest. */
static int compare_pieces(const void *left, const void *right)
{
    const vkl_piece *a = left;
    const vkl_piece *b = right;
    int order = compare_bytes(a->bytes, (size_t)a->len, b->bytes, (size_t)b->len);
    if (order != 0)
        return order;
    return (a->id > b->id) - (a->id < b->id);
}

static bool is_hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* The byte a "<0xHH>" piece stands for, or -1 if the piece is anything else. */
static int byte_piece_value(const unsigned char *bytes, size_t len)
{
    if (len != 6 || memcmp(bytes, "<0x", 3) != 0 || bytes[5] != '>')
        return -1;
    if (!is_hex_digit(bytes[3]) || !is_hex_digit(bytes[4]))
        return -1;
    return hex_value(bytes[3]) * 16 + hex_value(bytes[4]);
}

static vkllm_status allocate_tables(vkl_tokenizer *tok, const char *path, vkl_error *err)
{
    size_t count = (size_t)tok->vocab_size;
    tok->scores = malloc(count * sizeof *tok->scores);
    tok->pieces = malloc(count * sizeof *tok->pieces);
    tok->sorted = malloc(count * sizeof *tok->sorted);
    if (tok->scores == NULL || tok->pieces == NULL || tok->sorted == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "%s: no memory for %d tokens", path, tok->vocab_size);
    return VKLLM_OK;
}

static vkllm_status parse_tokens(vkl_tokenizer *tok, vkl_reader *reader, const char *path,
                                 vkl_error *err)
{
    for (int32_t id = 0; id < tok->vocab_size; id++) {
        vkllm_status status = read_token(tok, reader, path, id, err);
        if (status != VKLLM_OK)
            return status;
    }

    memcpy(tok->sorted, tok->pieces, (size_t)tok->vocab_size * sizeof *tok->sorted);
    qsort(tok->sorted, (size_t)tok->vocab_size, sizeof *tok->sorted, compare_pieces);

    for (int value = 0; value < 256; value++)
        tok->byte_values[value] = (unsigned char)value;
    return VKLLM_OK;
}

static vkllm_status load_into(vkl_tokenizer *tok, const char *path, vkl_error *err)
{
    size_t size = 0;
    vkllm_status status = read_file(path, &tok->file_bytes, &size, err);
    if (status != VKLLM_OK)
        return status;

    vkl_reader reader = { tok->file_bytes, size, 0 };
    status = read_header(&reader, path, tok->vocab_size, &tok->max_token_length, err);
    if (status != VKLLM_OK)
        return status;

    status = allocate_tables(tok, path, err);
    if (status != VKLLM_OK)
        return status;

    /* Bytes after the last token are ignored, as llama2.c ignores them: the
     * model, not the file, says how many tokens there are. */
    return parse_tokens(tok, &reader, path, err);
}

vkllm_status vkl_tokenizer_load_llama2c(const char *path, int32_t vocab_size,
                                        vkl_tokenizer **out, vkl_error *err)
{
    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "tokenizer path or output is NULL");
    *out = NULL;

    /* Below three there is no room for <unk>, BOS and EOS at their fixed ids. */
    if (vocab_size < FIRST_BYTE_TOKEN)
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, "%s: impossible vocab_size %d", path,
                        vocab_size);

    vkl_tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for a tokenizer");
    tok->vocab_size = vocab_size;

    vkllm_status status = load_into(tok, path, err);
    if (status != VKLLM_OK) {
        vkl_tokenizer_free(tok);
        return status;
    }
    *out = tok;
    return VKLLM_OK;
}

void vkl_tokenizer_free(vkl_tokenizer *tok)
{
    if (tok == NULL)
        return;

    free(tok->sorted);
    free(tok->pieces);
    free(tok->scores);
    free(tok->file_bytes);
    free(tok);
}

int32_t vkl_tokenizer_vocab_size(const vkl_tokenizer *tok)
{
    return tok->vocab_size;
}

int32_t vkl_tokenizer_bos(const vkl_tokenizer *tok)
{
    return TOKEN_BOS;
}

int32_t vkl_tokenizer_eos(const vkl_tokenizer *tok)
{
    return TOKEN_EOS;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                   */

/* The id of the piece with exactly these bytes, or -1. A lower-bound search,
 * so that duplicates give the lowest id every time. */
static int32_t find_piece(const vkl_tokenizer *tok, const unsigned char *bytes, size_t len)
{
    size_t low = 0;
    size_t high = (size_t)tok->vocab_size;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const vkl_piece *piece = &tok->sorted[middle];
        if (compare_bytes(piece->bytes, (size_t)piece->len, bytes, len) < 0)
            low = middle + 1;
        else
            high = middle;
    }

    if (low == (size_t)tok->vocab_size)
        return -1;
    const vkl_piece *found = &tok->sorted[low];
    return compare_bytes(found->bytes, (size_t)found->len, bytes, len) == 0 ? found->id : -1;
}

/* How many bytes llama2.c takes as one character starting at text[start]:
 * the byte and the continuation bytes after it, four at most. It does not
 * check the lead byte, and neither may we, or ids would differ. */
static size_t character_length(const unsigned char *text, size_t len, size_t start)
{
    size_t end = start + 1;
    while (end < len && end - start < 4 && (text[end] & 0xC0) == 0x80)
        end++;
    return end - start;
}

/* The byte-fallback id of a byte; <unk> if the vocabulary is too small to
 * have byte tokens at all. */
static int32_t byte_token(const vkl_tokenizer *tok, unsigned char byte)
{
    int32_t id = FIRST_BYTE_TOKEN + byte;
    return id < tok->vocab_size ? id : TOKEN_UNK;
}

/* Appends one id per character, or one per byte for a character the
 * vocabulary lacks. */
static void split_characters(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                             int32_t *tokens, size_t *count)
{
    size_t start = 0;
    while (start < len) {
        size_t char_len = character_length(text, len, start);
        int32_t id = find_piece(tok, text + start, char_len);
        if (id >= 0) {
            tokens[(*count)++] = id;
        } else {
            for (size_t i = 0; i < char_len; i++)
                tokens[(*count)++] = byte_token(tok, text[start + i]);
        }
        start += char_len;
    }
}

/* The best merge of one adjacent pair: the id of their concatenation and its
 * score, or NO_MERGE_SCORE when the vocabulary has no such piece. */
typedef struct vkl_merge {
    float score;
    int32_t id;
} vkl_merge;

static vkl_merge merge_of(const vkl_tokenizer *tok, int32_t left, int32_t right,
                          unsigned char *buffer)
{
    const vkl_piece *a = &tok->pieces[left];
    const vkl_piece *b = &tok->pieces[right];
    memcpy(buffer, a->bytes, (size_t)a->len);
    memcpy(buffer + a->len, b->bytes, (size_t)b->len);

    int32_t id = find_piece(tok, buffer, (size_t)a->len + (size_t)b->len);
    if (id < 0)
        return (vkl_merge){ NO_MERGE_SCORE, -1 };
    return (vkl_merge){ tok->scores[id], id };
}

/* The first pair with the strictly highest score above NO_MERGE_SCORE, as
 * llama2.c picks it; -1 if none merges. */
static ptrdiff_t best_merge(const vkl_merge *merges, size_t pair_count)
{
    float best_score = NO_MERGE_SCORE;
    ptrdiff_t best = -1;
    for (size_t i = 0; i < pair_count; i++) {
        if (merges[i].id >= 0 && merges[i].score > best_score) {
            best_score = merges[i].score;
            best = (ptrdiff_t)i;
        }
    }
    return best;
}

/* Replaces the pair at index with its merged token, then refreshes the two
 * pair entries that now include the new token. */
static void apply_merge(const vkl_tokenizer *tok, int32_t *tokens, vkl_merge *merges,
                        size_t *count, size_t index, unsigned char *buffer)
{
    tokens[index] = merges[index].id;
    memmove(&tokens[index + 1], &tokens[index + 2], (*count - index - 2) * sizeof *tokens);
    memmove(&merges[index], &merges[index + 1], (*count - index - 2) * sizeof *merges);
    (*count)--;

    if (index > 0)
        merges[index - 1] = merge_of(tok, tokens[index - 1], tokens[index], buffer);
    if (index + 1 < *count)
        merges[index] = merge_of(tok, tokens[index], tokens[index + 1], buffer);
}

/* llama2.c rescans every pair after each merge; keeping each pair's merge in
 * merges gives the same result with two lookups per merge instead. */
static void merge_pairs(const vkl_tokenizer *tok, int32_t *tokens, vkl_merge *merges,
                        size_t *count, unsigned char *buffer)
{
    for (size_t i = 0; i + 1 < *count; i++)
        merges[i] = merge_of(tok, tokens[i], tokens[i + 1], buffer);

    ptrdiff_t index;
    while (*count > 1 && (index = best_merge(merges, *count - 1)) >= 0)
        apply_merge(tok, tokens, merges, count, (size_t)index, buffer);
}

/* Room for the worst case: BOS, the dummy space, and one id per byte. */
typedef struct vkl_encode_scratch {
    int32_t *tokens;
    vkl_merge *merges;
    unsigned char *buffer;        /* two pieces side by side */
} vkl_encode_scratch;

static void free_scratch(vkl_encode_scratch *scratch)
{
    free(scratch->tokens);
    free(scratch->merges);
    free(scratch->buffer);
}

static vkllm_status allocate_scratch(const vkl_tokenizer *tok, size_t text_len,
                                     vkl_encode_scratch *scratch, vkl_error *err)
{
    *scratch = (vkl_encode_scratch){ 0 };
    if (text_len > SIZE_MAX / sizeof(vkl_merge) - 2)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "text of %zu bytes is too long",
                        text_len);

    size_t most_tokens = text_len + 2;
    scratch->tokens = malloc(most_tokens * sizeof *scratch->tokens);
    scratch->merges = malloc(most_tokens * sizeof *scratch->merges);
    scratch->buffer = malloc(2 * (size_t)tok->max_token_length);
    if (scratch->tokens == NULL || scratch->merges == NULL || scratch->buffer == NULL) {
        free_scratch(scratch);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "no memory to encode %zu bytes of text", text_len);
    }
    return VKLLM_OK;
}

static void encode_into(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                        bool add_bos, vkl_encode_scratch *scratch, size_t *count)
{
    *count = 0;
    if (add_bos)
        scratch->tokens[(*count)++] = TOKEN_BOS;

    /* llama2.c pushes whatever the lookup gives, -1 included; a vocabulary
     * without " " simply gets no dummy prefix here. */
    int32_t space = find_piece(tok, (const unsigned char *)" ", 1);
    if (len > 0 && space >= 0)
        scratch->tokens[(*count)++] = space;

    split_characters(tok, text, len, scratch->tokens, count);
    merge_pairs(tok, scratch->tokens, scratch->merges, count, scratch->buffer);
}

vkllm_status vkl_tokenizer_encode(const vkl_tokenizer *tok, const char *text, size_t len,
                                  bool add_bos, int32_t *ids, size_t capacity, size_t *count,
                                  vkl_error *err)
{
    if (tok == NULL || count == NULL || (text == NULL && len > 0) ||
        (ids == NULL && capacity > 0))
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "bad arguments to encode");

    vkl_encode_scratch scratch;
    vkllm_status status = allocate_scratch(tok, len, &scratch, err);
    if (status != VKLLM_OK)
        return status;

    encode_into(tok, (const unsigned char *)text, len, add_bos, &scratch, count);
    if (*count <= capacity && *count > 0)
        memcpy(ids, scratch.tokens, *count * sizeof *ids);
    free_scratch(&scratch);

    if (*count > capacity)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT,
                        "the text needs %zu tokens but there is room for %zu", *count,
                        capacity);
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                   */

const char *vkl_tokenizer_piece(const vkl_tokenizer *tok, int32_t prev, int32_t id,
                                size_t *len)
{
    if (tok == NULL || id < 0 || id >= tok->vocab_size)
        return NULL;

    const unsigned char *bytes = tok->pieces[id].bytes;
    size_t piece_len = (size_t)tok->pieces[id].len;

    /* SentencePiece put a space in front of the text; after BOS it is ours,
     * not the user's. */
    if (prev == TOKEN_BOS && piece_len > 0 && bytes[0] == ' ') {
        bytes++;
        piece_len--;
    }

    int byte_value = byte_piece_value(bytes, piece_len);
    if (byte_value >= 0) {
        bytes = &tok->byte_values[byte_value];
        piece_len = 1;
    }

    if (len != NULL)
        *len = piece_len;
    return (const char *)bytes;
}
