/* The llama2.c tokenizer: encoding that matches run.c id for id, decoding
 * that gives back the exact bytes, and loading that survives hostile files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "text_helpers.h"
#include "text/tokenizer.h"

#define STORIES_TOKENIZER VKLLM_MODELS_DIR "/stories260K/tok512.bin"
#define AIDREAMS_TOKENIZER VKLLM_MODELS_DIR "/aidreams260K/tok512.bin"
#define REFERENCE_DIR VKLLM_MODELS_DIR "/reference"
#define VOCAB_SIZE 512

static vkl_tokenizer *load_tokenizer(const char *path)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = vkl_tokenizer_load_llama2c(path, VOCAB_SIZE, &tok, &err);
    CHECK_MSG(status == VKLLM_OK, "%s: %s", path, err.message);
    return tok;
}


static void test_once_upon_a_time_matches_llama2c(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    if (tok == NULL)
        return;

    static const int32_t expected[] = { 1, 403, 407, 261, 378 };
    int32_t ids[64];
    const char *text = "Once upon a time";
    long count = test_encode(tok, text, strlen(text), true, ids, 64);
    CHECK_MSG(count == 5, "got %ld ids", count);
    CHECK(count == 5 && memcmp(ids, expected, sizeof expected) == 0);

    count = test_encode(tok, text, strlen(text), false, ids, 64);
    CHECK(count == 4 && memcmp(ids, expected + 1, 4 * sizeof ids[0]) == 0);
    vkl_tokenizer_free(tok);
}

static void test_special_ids_and_pieces(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    if (tok == NULL)
        return;

    CHECK(vkl_tokenizer_vocab_size(tok) == VOCAB_SIZE);
    CHECK(vkl_tokenizer_bos(tok) == 1);
    CHECK(vkl_tokenizer_eos(tok) == 2);

    size_t len = 0;
    const char *piece = vkl_tokenizer_piece(tok, 0, 1, &len);
    CHECK(piece != NULL && len == 5 && memcmp(piece, "\n<s>\n", 5) == 0);

    /* Byte tokens come back as the raw byte, NUL included. */
    piece = vkl_tokenizer_piece(tok, 0, 3 + 0xE6, &len);
    CHECK(piece != NULL && len == 1 && (unsigned char)piece[0] == 0xE6);
    piece = vkl_tokenizer_piece(tok, 0, 3, &len);
    CHECK(piece != NULL && len == 1 && piece[0] == '\0');

    CHECK(vkl_tokenizer_piece(tok, 0, -1, &len) == NULL);
    CHECK(vkl_tokenizer_piece(tok, 0, VOCAB_SIZE, &len) == NULL);
    vkl_tokenizer_free(tok);
}

static void test_empty_text(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    if (tok == NULL)
        return;

    int32_t ids[4] = { -7, -7, -7, -7 };
    CHECK(test_encode(tok, "", 0, true, ids, 4) == 1);
    CHECK(ids[0] == 1 && ids[1] == -7);

    CHECK(test_encode(tok, "", 0, false, ids, 4) == 0);
    CHECK(test_encode(tok, NULL, 0, false, NULL, 0) == 0);
    vkl_tokenizer_free(tok);
}

static void test_capacity_too_small(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    if (tok == NULL)
        return;

    vkl_error err = { 0 };
    int32_t ids[3];
    size_t count = 0;
    const char *text = "Once upon a time";
    vkllm_status status = vkl_tokenizer_encode(tok, text, strlen(text), true, ids, 3, &count,
                                               &err);
    CHECK(status == VKLLM_ERROR_INVALID_ARGUMENT);
    CHECK(count == 5);
    CHECK(err.message[0] != '\0');

    /* Asking for the count alone is the same failure, with the same answer. */
    count = 0;
    status = vkl_tokenizer_encode(tok, text, strlen(text), true, NULL, 0, &count, &err);
    CHECK(status == VKLLM_ERROR_INVALID_ARGUMENT && count == 5);
    vkl_tokenizer_free(tok);
}

static const text_case ROUND_TRIP_CASES[] = {
    TEXT_CASE("ascii", "Once upon a time, there was a little girl named Lily."),
    TEXT_CASE("newlines", "one\ntwo\n\nthree\n"),
    TEXT_CASE("leading spaces", "  two spaces first"),
    TEXT_CASE("repeated spaces", "a    b\t\tc   "),
    TEXT_CASE("digits", "0123456789 3.14159 2024"),
    TEXT_CASE("accents", "caf\xC3\xA9 na\xC3\xAFve"),
    TEXT_CASE("cjk", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"),
    TEXT_CASE("emoji", "\xF0\x9F\x99\x82"),
    TEXT_CASE("invalid bytes", "\xFF\xFE"),
    TEXT_CASE("lone continuation", "\x80"),
    TEXT_CASE("continuations after ascii", "a\x80\x80\x80\x80\x80z"),
    TEXT_CASE("truncated character", "ok \xE6\x97"),
    TEXT_CASE("embedded nul", "a\0b"),
    TEXT_CASE("single space", " "),
    TEXT_CASE("special look-alikes", "<s> </s> <0x41> <unk>"),
};

static void check_round_trip(const vkl_tokenizer *tok, const char *file, const text_case *test)
{
    int32_t ids[512];
    char decoded[512];
    long count = test_encode(tok, test->bytes, test->len, true, ids, 512);
    if (count < 0)
        return;

    CHECK_MSG(count >= 1 && ids[0] == 1, "%s: %s: no BOS", file, test->name);
    long len = test_decode(tok, ids + 1, (size_t)count - 1, decoded, sizeof decoded);
    CHECK_MSG(len == (long)test->len && memcmp(decoded, test->bytes, test->len) == 0,
              "%s: %s: decoded %ld bytes, want %zu", file, test->name, len, test->len);
}

static void round_trip_all(const char *path)
{
    vkl_tokenizer *tok = load_tokenizer(path);
    if (tok == NULL)
        return;

    size_t case_count = sizeof ROUND_TRIP_CASES / sizeof ROUND_TRIP_CASES[0];
    for (size_t i = 0; i < case_count; i++)
        check_round_trip(tok, path, &ROUND_TRIP_CASES[i]);
    vkl_tokenizer_free(tok);
}

static void test_round_trip_stories(void)
{
    round_trip_all(STORIES_TOKENIZER);
}

static void test_round_trip_aidreams(void)
{
    round_trip_all(AIDREAMS_TOKENIZER);
}

static void test_byte_fallback_ids(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    if (tok == NULL)
        return;

    /* Not a character of the vocabulary: each byte becomes byte + 3. */
    int32_t ids[8];
    long count = test_encode(tok, "\xFF\xFE", 2, false, ids, 8);
    CHECK(count == 3);
    CHECK(count == 3 && ids[1] == 0xFF + 3 && ids[2] == 0xFE + 3);
    vkl_tokenizer_free(tok);
}

static char *read_text_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    CHECK_MSG(file != NULL, "cannot open %s", path);
    if (file == NULL)
        return NULL;

    char *text = calloc(1, 1 << 16);
    *len = text != NULL ? fread(text, 1, (1 << 16) - 1, file) : 0;
    fclose(file);
    return text;
}

/* Parses whitespace-separated ids; returns how many there were. */
static size_t parse_ids(const char *text, int32_t *ids, size_t capacity)
{
    size_t count = 0;
    char *end = NULL;
    while (count < capacity) {
        long id = strtol(text, &end, 10);
        if (end == text)
            break;
        ids[count++] = (int32_t)id;
        text = end;
    }
    return count;
}

/* The ids of a llama2.c reference run decode to its printed text (which has
 * one newline more, printed at the end of the run). */
static void test_decodes_reference_output(void)
{
    vkl_tokenizer *tok = load_tokenizer(STORIES_TOKENIZER);
    size_t ids_len = 0;
    size_t text_len = 0;
    char *ids_text = read_text_file(REFERENCE_DIR "/stories260K_run_t0_default.ids", &ids_len);
    char *expected = read_text_file(REFERENCE_DIR "/stories260K_run_t0_default.txt", &text_len);
    if (tok == NULL || ids_text == NULL || expected == NULL)
        goto done;

    static int32_t ids[4096];
    size_t count = parse_ids(ids_text, ids, 4096);
    CHECK(count > 200);

    static char decoded[1 << 16];
    long len = test_decode(tok, ids, count, decoded, sizeof decoded);
    CHECK(len + 1 == (long)text_len && memcmp(decoded, expected, (size_t)len) == 0);

done:
    free(ids_text);
    free(expected);
    vkl_tokenizer_free(tok);
}

/* ------------------------------------------------------------------------ */
/* Hostile files                                                              */

static char temp_dir[64];

static void write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *file = fopen(path, "wb");
    CHECK_MSG(file != NULL, "cannot create %s", path);
    if (file == NULL)
        return;
    CHECK(fwrite(bytes, 1, len, file) == len);
    fclose(file);
}

/* A little tokenizer file built in memory, one field at a time. */
typedef struct file_image {
    unsigned char bytes[4096];
    size_t len;
} file_image;

static void put_i32(file_image *image, int32_t value)
{
    memcpy(image->bytes + image->len, &value, sizeof value);
    image->len += sizeof value;
}

static void put_token(file_image *image, float score, int32_t len, const char *piece)
{
    memcpy(image->bytes + image->len, &score, sizeof score);
    image->len += sizeof score;
    put_i32(image, len);
    size_t piece_len = strlen(piece);
    memcpy(image->bytes + image->len, piece, piece_len);
    image->len += piece_len;
}

/* Loads the image with the given vocab_size and expects that status, with a
 * message, and no tokenizer. */
static void expect_load_failure(const char *name, const void *bytes, size_t len,
                                int32_t vocab_size, vkllm_status expected)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    write_bytes(path, bytes, len);

    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = vkl_tokenizer_load_llama2c(path, vocab_size, &tok, &err);
    CHECK_MSG(status == expected, "%s: status %d, message '%s'", name, status, err.message);
    CHECK_MSG(err.message[0] != '\0', "%s: no message", name);
    CHECK_MSG(tok == NULL, "%s: a tokenizer came back", name);
    vkl_tokenizer_free(tok);
    unlink(path);
}

/* Three good tokens, then whatever the case puts in the fourth. */
static file_image three_tokens(int32_t max_token_length)
{
    file_image image = { .len = 0 };
    put_i32(&image, max_token_length);
    put_token(&image, 0.0f, 5, "<unk>");
    put_token(&image, 0.0f, 5, "\n<s>\n");
    put_token(&image, 0.0f, 6, "\n</s>\n");
    return image;
}

static void test_missing_file(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/does-not-exist.bin", temp_dir);

    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_tokenizer_load_llama2c(path, VOCAB_SIZE, &tok, &err) == VKLLM_ERROR_IO);
    CHECK(tok == NULL);
    CHECK(strstr(err.message, "does-not-exist.bin") != NULL);
}

static void test_malformed_headers(void)
{
    expect_load_failure("empty", "", 0, VOCAB_SIZE, VKLLM_ERROR_BAD_TOKENIZER);
    expect_load_failure("short header", "\x07\x00", 2, VOCAB_SIZE, VKLLM_ERROR_BAD_TOKENIZER);

    file_image zero_max = three_tokens(0);
    expect_load_failure("max length 0", zero_max.bytes, zero_max.len, 3,
                        VKLLM_ERROR_BAD_TOKENIZER);
    file_image negative_max = three_tokens(-5);
    expect_load_failure("max length negative", negative_max.bytes, negative_max.len, 3,
                        VKLLM_ERROR_BAD_TOKENIZER);
    file_image huge_max = three_tokens(INT32_MAX);
    expect_load_failure("max length huge", huge_max.bytes, huge_max.len, 3,
                        VKLLM_ERROR_BAD_TOKENIZER);

    file_image good = three_tokens(8);
    expect_load_failure("vocab negative", good.bytes, good.len, -1, VKLLM_ERROR_BAD_TOKENIZER);
    expect_load_failure("vocab too big", good.bytes, good.len, 4, VKLLM_ERROR_BAD_TOKENIZER);
    expect_load_failure("vocab absurd", good.bytes, good.len, INT32_MAX,
                        VKLLM_ERROR_BAD_TOKENIZER);
}

/* Without a model to say how many tokens there are, the file's own whole
 * records count. */
static void test_vocab_size_from_the_file(void)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_tokenizer_load_llama2c(STORIES_TOKENIZER, 0, &tok, &err) == VKLLM_OK);
    CHECK(tok != NULL && vkl_tokenizer_vocab_size(tok) == 512);
    vkl_tokenizer_free(tok);
}

static void test_malformed_tokens(void)
{
    file_image negative = three_tokens(8);
    put_token(&negative, 0.0f, -1, "");
    put_i32(&negative, 0);
    expect_load_failure("negative length", negative.bytes, negative.len, 4,
                        VKLLM_ERROR_BAD_TOKENIZER);

    file_image beyond_file = three_tokens(8);
    put_token(&beyond_file, 0.0f, 7, "abc");
    expect_load_failure("length beyond file", beyond_file.bytes, beyond_file.len, 4,
                        VKLLM_ERROR_BAD_TOKENIZER);

    file_image beyond_max = three_tokens(4);
    expect_load_failure("length beyond max", beyond_max.bytes, beyond_max.len, 3,
                        VKLLM_ERROR_BAD_TOKENIZER);

    file_image nan_score = three_tokens(8);
    put_token(&nan_score, NAN, 1, "a");
    expect_load_failure("nan score", nan_score.bytes, nan_score.len, 4,
                        VKLLM_ERROR_BAD_TOKENIZER);
}

static void test_truncated_real_file(void)
{
    size_t len = 0;
    char *bytes = read_text_file(STORIES_TOKENIZER, &len);
    if (bytes == NULL)
        return;

    /* Inside the bytes of token 0, and inside the last token. */
    expect_load_failure("cut in token 0", bytes, 4 + 8 + 3, VOCAB_SIZE,
                        VKLLM_ERROR_BAD_TOKENIZER);
    expect_load_failure("cut near the end", bytes, len - 9, VOCAB_SIZE,
                        VKLLM_ERROR_BAD_TOKENIZER);
    expect_load_failure("more tokens than the file", bytes, len, VOCAB_SIZE + 88,
                        VKLLM_ERROR_BAD_TOKENIZER);
    free(bytes);
}

/* xorshift, so the fuzz cases are the same on every run. */
static uint32_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 32);
}

/* Whatever loads must also encode and decode without crashing. */
static void exercise(const vkl_tokenizer *tok, uint64_t *rng)
{
    char text[64];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)next_random(rng);

    int32_t ids[80];
    size_t count = 0;
    vkl_error err = { 0 };
    vkllm_status status = vkl_tokenizer_encode(tok, text, sizeof text, true, ids, 80, &count,
                                               &err);
    CHECK(status == VKLLM_OK);

    /* No piece can be longer than the file it came from. */
    static char decoded[80 * 8192];
    CHECK(status != VKLLM_OK || test_decode(tok, ids, count, decoded, sizeof decoded) >= 0);
}

/* Flips random bytes of the real file: any outcome but a crash is fine. */
static void test_mutated_files_never_crash(void)
{
    size_t len = 0;
    char *original = read_text_file(STORIES_TOKENIZER, &len);
    char *mutated = malloc(len);
    char path[128];
    snprintf(path, sizeof path, "%s/mutated.bin", temp_dir);

    uint64_t rng = 0x1234567887654321ull;
    for (int round = 0; original != NULL && mutated != NULL && round < 300; round++) {
        memcpy(mutated, original, len);
        for (int flip = 0; flip < 1 + round % 8; flip++)
            mutated[next_random(&rng) % len] = (char)next_random(&rng);
        write_bytes(path, mutated, len - (round % 3 == 0 ? next_random(&rng) % len : 0));

        vkl_error err = { 0 };
        vkl_tokenizer *tok = NULL;
        vkllm_status status = vkl_tokenizer_load_llama2c(path, VOCAB_SIZE, &tok, &err);
        CHECK(status == VKLLM_OK || err.message[0] != '\0');
        if (tok != NULL)
            exercise(tok, &rng);
        vkl_tokenizer_free(tok);
    }

    unlink(path);
    free(mutated);
    free(original);
}

/* ------------------------------------------------------------------------ */
/* Vocabularies built in memory                                               */

/* A tiny SPM vocabulary: specials, two byte tokens, and ▁ a b ▁a ab ▁ab. */
#define META "\xE2\x96\x81"
static const char *const SPM_TEXTS[] = { "<unk>", "<s>", "</s>", "<0x0A>", "<0xC3>", META,
                                         "a", "b", META "a", "ab", META "ab" };
static const float SPM_SCORES[] = { 0, 0, 0, 0, 0, -1, -1, -1, -2, -3, -4 };
static const int32_t SPM_TYPES[] = { 2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1 };
#define SPM_COUNT 11

static vkl_vocab_source spm_source(size_t *lengths)
{
    for (size_t i = 0; i < SPM_COUNT; i++)
        lengths[i] = strlen(SPM_TEXTS[i]);
    return (vkl_vocab_source){
        .kind = VKL_TOKENIZER_SPM,
        .count = SPM_COUNT,
        .texts = SPM_TEXTS,
        .lengths = lengths,
        .scores = SPM_SCORES,
        .types = SPM_TYPES,
        .bos = 1,
        .eos = 2,
        .unk = 0,
        .add_space_prefix = true,
    };
}

/* "ab\n" is ▁ a b \n: ▁a (-2) first, then ▁ab (-4); "\n" falls back to its
 * byte token and a byte without one to <unk>. */
static void test_create_spm(void)
{
    size_t lengths[SPM_COUNT];
    vkl_vocab_source source = spm_source(lengths);
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    CHECK_MSG(vkl_tokenizer_create(&source, &tok, &err) == VKLLM_OK, "%s", err.message);
    if (tok == NULL)
        return;

    int32_t ids[16];
    static const int32_t expected[] = { 1, 10, 3, 0 };
    long count = test_encode(tok, "ab\n\xFF", 4, true, ids, 16);
    CHECK(count == 4 && memcmp(ids, expected, sizeof expected) == 0);

    /* ▁ decodes as a space, dropped after BOS; bytes and control tokens. */
    size_t len = 0;
    const char *piece = vkl_tokenizer_piece(tok, 1, 10, &len);
    CHECK(piece != NULL && len == 2 && memcmp(piece, "ab", 2) == 0);
    piece = vkl_tokenizer_piece(tok, 5, 10, &len);
    CHECK(piece != NULL && len == 3 && memcmp(piece, " ab", 3) == 0);
    piece = vkl_tokenizer_piece(tok, 1, 3, &len);
    CHECK(piece != NULL && len == 1 && piece[0] == '\n');
    CHECK(vkl_tokenizer_piece(tok, 0, 2, &len) != NULL && len == 0);
    CHECK(vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_SPM);
    vkl_tokenizer_free(tok);
}

/* The tokenizer keeps its own copy: the source may change or go away. */
static void test_create_copies_the_source(void)
{
    size_t lengths[SPM_COUNT];
    vkl_vocab_source source = spm_source(lengths);
    char texts[SPM_COUNT][16];
    const char *pointers[SPM_COUNT];
    for (size_t i = 0; i < SPM_COUNT; i++) {
        memcpy(texts[i], SPM_TEXTS[i], lengths[i]);
        pointers[i] = texts[i];
    }
    source.texts = pointers;

    vkl_tokenizer *tok = NULL;
    CHECK(vkl_tokenizer_create(&source, &tok, NULL) == VKLLM_OK);
    memset(texts, 'x', sizeof texts);

    int32_t ids[16];
    CHECK(tok != NULL && test_encode(tok, "ab", 2, false, ids, 16) == 1 && ids[0] == 10);
    vkl_tokenizer_free(tok);
}

static void expect_create_failure(const char *name, const vkl_vocab_source *source,
                                  vkllm_status expected)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = vkl_tokenizer_create(source, &tok, &err);
    CHECK_MSG(status == expected, "%s: status %d, message '%s'", name, status, err.message);
    CHECK_MSG(err.message[0] != '\0', "%s: no message", name);
    CHECK_MSG(tok == NULL, "%s: a tokenizer came back", name);
    vkl_tokenizer_free(tok);
}

static void test_create_rejects_bad_sources(void)
{
    size_t lengths[SPM_COUNT];
    const vkl_vocab_source good = spm_source(lengths);
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_tokenizer_create(NULL, &tok, NULL) == VKLLM_ERROR_INVALID_ARGUMENT);

    vkl_vocab_source bad = good;
    bad.texts = NULL;
    expect_create_failure("no texts", &bad, VKLLM_ERROR_INVALID_ARGUMENT);
    bad = good;
    bad.count = 0;
    expect_create_failure("no tokens", &bad, VKLLM_ERROR_BAD_TOKENIZER);
    bad = good;
    bad.bos = SPM_COUNT;
    expect_create_failure("bos out of range", &bad, VKLLM_ERROR_BAD_TOKENIZER);
    bad = good;
    bad.unk = -2;
    expect_create_failure("unk negative", &bad, VKLLM_ERROR_BAD_TOKENIZER);
    bad = good;
    bad.scores = NULL;
    expect_create_failure("spm without scores or merges", &bad, VKLLM_ERROR_BAD_TOKENIZER);
    bad = good;
    bad.merge_count = -1;
    expect_create_failure("negative merge count", &bad, VKLLM_ERROR_BAD_TOKENIZER);

    float nan_scores[SPM_COUNT];
    memcpy(nan_scores, SPM_SCORES, sizeof nan_scores);
    nan_scores[7] = NAN;
    bad = good;
    bad.scores = nan_scores;
    expect_create_failure("nan score", &bad, VKLLM_ERROR_BAD_TOKENIZER);
}

#define GPT2_SPACE "\xC4\xA0"     /* "Ġ", the character GPT-2 spells ' ' with */

/* A tiny byte-level vocabulary: the characters of "a", "b" and " " (Ġ),
 * "ab" and "Ġab", merged by rank; no BOS, so add_bos adds nothing. */
static void test_create_bpe(void)
{
    static const char *const texts[] = { "a", "b", GPT2_SPACE, "ab", GPT2_SPACE "ab" };
    static const size_t lengths[] = { 1, 1, 2, 2, 4 };
    static const char *const merges[] = { "a b", GPT2_SPACE " ab" };
    static const size_t merge_lengths[] = { 3, 5 };
    vkl_vocab_source source = {
        .kind = VKL_TOKENIZER_BPE,
        .count = 5,
        .texts = texts,
        .lengths = lengths,
        .merge_count = 2,
        .merges = merges,
        .merge_lengths = merge_lengths,
        .bos = -1,
        .eos = -1,
        .unk = -1,
    };
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_tokenizer_create(&source, &tok, NULL) == VKLLM_OK);
    if (tok == NULL)
        return;

    /* "ab ab b": "ab", " ab", " b"; the last has no merge. */
    int32_t ids[16];
    static const int32_t expected[] = { 3, 4, 2, 1 };
    long count = test_encode(tok, "ab ab b", 7, true, ids, 16);
    CHECK(count == 4 && memcmp(ids, expected, sizeof expected) == 0);

    size_t len = 0;
    const char *piece = vkl_tokenizer_piece(tok, -1, 4, &len);
    CHECK(piece != NULL && len == 3 && memcmp(piece, " ab", 3) == 0);
    CHECK(vkl_tokenizer_bos(tok) == -1 && vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_BPE);
    vkl_tokenizer_free(tok);
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/vkllm_tokenizer_XXXXXX");
    if (mkdtemp(temp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(test_once_upon_a_time_matches_llama2c);
    RUN(test_special_ids_and_pieces);
    RUN(test_empty_text);
    RUN(test_capacity_too_small);
    RUN(test_round_trip_stories);
    RUN(test_round_trip_aidreams);
    RUN(test_byte_fallback_ids);
    RUN(test_decodes_reference_output);
    RUN(test_missing_file);
    RUN(test_malformed_headers);
    RUN(test_vocab_size_from_the_file);
    RUN(test_malformed_tokens);
    RUN(test_truncated_real_file);
    RUN(test_mutated_files_never_crash);
    RUN(test_create_spm);
    RUN(test_create_copies_the_source);
    RUN(test_create_rejects_bad_sources);
    RUN(test_create_bpe);

    rmdir(temp_dir);
    TEST_MAIN_END();
}
