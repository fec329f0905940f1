/* Tokenizers from GGUF and Hugging Face vocabularies: llama.cpp's own
 * conformance data (GPT-2 byte-level BPE, Llama SentencePiece), the
 * stories260K GGUF vocabulary against its reference run, tricky texts for
 * both kinds, tiny tokenizer.json files worked out by hand, and hostile
 * files that must fail cleanly. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/gguf_vocab.h"
#include "model/hf_tokenizer.h"
#include "test.h"
#include "text_helpers.h"
#include "test_files.h"
#include "text/gpt2.h"
#include "text/tokenizer.h"

#define VOCAB_DIR VKLLM_MODELS_DIR "/vocab"
#define GPT2_VOCAB VOCAB_DIR "/ggml-vocab-gpt-2.gguf"
#define LLAMA_VOCAB VOCAB_DIR "/ggml-vocab-llama-spm.gguf"
#define STORIES_GGUF VKLLM_MODELS_DIR "/stories260K/stories260K.gguf"
#define REFERENCE_DIR VKLLM_MODELS_DIR "/reference"

#define SEPARATOR "\n__ggml_vocab_test__\n"
#define META "\xE2\x96\x81"     /* U+2581, SentencePiece's space */
#define MAX_IDS 4096

/* Where the tokenizer.json files are written; made in main. */
static char temp_dir[] = "/tmp/vkllm_test_vocab_XXXXXX";

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static vkl_tokenizer *load_gguf_vocab(const char *path)
{
    vkl_error err = { 0 };
    vkl_gguf *g = NULL;
    vkllm_status status = vkl_gguf_open(path, &g, &err);
    CHECK_MSG(status == VKLLM_OK, "%s: %s", path, err.message);
    if (status != VKLLM_OK)
        return NULL;

    vkl_tokenizer *tok = NULL;
    status = vkl_gguf_vocab_load(g, &tok, &err);
    CHECK_MSG(status == VKLLM_OK, "%s: %s", path, err.message);
    vkl_gguf_close(g);
    return tok;
}


/* Encodes without BOS and checks that decoding gives the text back. */
static void check_round_trip(const vkl_tokenizer *tok, const char *name, const char *text,
                             size_t len)
{
    static int32_t ids[MAX_IDS];
    static char decoded[4 * MAX_IDS];
    long count = test_encode(tok, text, len, false, ids, MAX_IDS);
    if (count < 0)
        return;

    long decoded_len = test_decode(tok, ids, (size_t)count, decoded, sizeof decoded);
    CHECK_MSG(decoded_len == (long)len && memcmp(decoded, text, len) == 0,
              "%s: decoded %ld bytes, want %zu", name, decoded_len, len);
}

/* Parses whitespace-separated ids from text[0, len); returns the count. */
static size_t parse_ids(const char *text, size_t len, int32_t *ids, size_t capacity)
{
    size_t count = 0;
    size_t pos = 0;
    while (pos < len && count < capacity) {
        while (pos < len && (text[pos] == ' ' || text[pos] == '\r'))
            pos++;
        if (pos == len)
            break;

        ids[count++] = (int32_t)strtol(text + pos, NULL, 10);
        while (pos < len && text[pos] != ' ')
            pos++;
    }
    return count;
}

static bool same_ids(const int32_t *a, long a_count, const int32_t *b, size_t b_count)
{
    return a_count == (long)b_count && memcmp(a, b, b_count * sizeof *a) == 0;
}

static void print_ids(const char *label, const int32_t *ids, size_t count)
{
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < count && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------------ */
/* llama.cpp's conformance data                                               */

/* Checks one test string against one line of expected ids. */
static bool check_conformance_case(const vkl_tokenizer *tok, const char *text, size_t len,
                                   const char *line, size_t line_len, size_t index)
{
    static int32_t expected[MAX_IDS];
    static int32_t ids[MAX_IDS];
    size_t expected_count = parse_ids(line, line_len, expected, MAX_IDS);
    long count = test_encode(tok, text, len, false, ids, MAX_IDS);
    bool match = same_ids(ids, count, expected, expected_count);
    CHECK_MSG(match, "case %zu ('%.*s') encodes differently", index, (int)len, text);
    if (!match) {
        print_ids("want", expected, expected_count);
        print_ids("got ", ids, count > 0 ? (size_t)count : 0);
    }

    char name[32];
    snprintf(name, sizeof name, "case %zu", index);
    check_round_trip(tok, name, text, len);
    return match;
}

/* Walks X.inp (strings between separators; the first starts the file) and
 * X.out (one line of ids per string) side by side; returns cases passed. */
static size_t run_conformance(const vkl_tokenizer *tok, const char *inp, const char *out,
                              size_t *cases)
{
    size_t passed = 0;
    *cases = 0;
    const char *text = inp;
    const char *line = out;
    const char *separator;
    while ((separator = strstr(text, SEPARATOR)) != NULL) {
        const char *line_end = strchr(line, '\n');
        CHECK_MSG(line_end != NULL, "the .out file ends before case %zu", *cases);
        if (line_end == NULL)
            break;

        passed += check_conformance_case(tok, text, (size_t)(separator - text), line,
                                         (size_t)(line_end - line), *cases);
        (*cases)++;
        text = separator + strlen(SEPARATOR);
        line = line_end + 1;
    }
    return passed;
}

static void conformance(const char *vocab_path)
{
    char inp_path[256];
    char out_path[256];
    snprintf(inp_path, sizeof inp_path, "%s.inp", vocab_path);
    snprintf(out_path, sizeof out_path, "%s.out", vocab_path);

    size_t inp_size = 0;
    size_t out_size = 0;
    vkl_tokenizer *tok = load_gguf_vocab(vocab_path);
    unsigned char *inp = read_file(inp_path, &inp_size);
    unsigned char *out = read_file(out_path, &out_size);
    CHECK_MSG(inp != NULL && out != NULL, "cannot read %s or %s", inp_path, out_path);

    if (tok != NULL && inp != NULL && out != NULL) {
        size_t cases = 0;
        size_t passed = run_conformance(tok, (const char *)inp, (const char *)out, &cases);
        fprintf(stderr, "    %s: %zu of %zu lines match\n", vocab_path, passed, cases);
        CHECK(cases > 30 && passed == cases);
    }
    free(inp);
    free(out);
    vkl_tokenizer_free(tok);
}

static void test_gpt2_conformance(void)
{
    conformance(GPT2_VOCAB);
}

static void test_llama_spm_conformance(void)
{
    conformance(LLAMA_VOCAB);
}

/* ------------------------------------------------------------------------ */
/* stories260K's GGUF vocabulary                                              */

static void test_stories_gguf_once_upon_a_time(void)
{
    vkl_tokenizer *tok = load_gguf_vocab(STORIES_GGUF);
    if (tok == NULL)
        return;

    static const int32_t expected[] = { 1, 403, 407, 261, 378 };
    int32_t ids[MAX_IDS];
    const char *text = "Once upon a time";
    long count = test_encode(tok, text, strlen(text), true, ids, MAX_IDS);
    CHECK(same_ids(ids, count, expected, 5));
    CHECK(vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_SPM);
    CHECK(vkl_tokenizer_bos(tok) == 1 && vkl_tokenizer_eos(tok) == 2);
    vkl_tokenizer_free(tok);
}

/* The ids of llama.cpp's run decode to its printed text (which has one
 * newline more, printed at the end of the run). */
static void test_stories_gguf_decodes_reference(void)
{
    vkl_tokenizer *tok = load_gguf_vocab(STORIES_GGUF);
    size_t text_len = 0;
    unsigned char *expected = read_file(REFERENCE_DIR
                                        "/stories260K_gguf_llamacpp_t0_empty_n256.txt",
                                        &text_len);
    static int32_t ids[MAX_IDS];
    int count = read_ids(REFERENCE_DIR "/stories260K_gguf_llamacpp_t0_empty_n256.ids", ids,
                         MAX_IDS);
    CHECK(expected != NULL && count > 200);

    static char decoded[1 << 16];
    if (tok != NULL && expected != NULL) {
        long len = test_decode(tok, ids, (size_t)count, decoded, sizeof decoded);
        CHECK(len + 1 == (long)text_len && memcmp(decoded, expected, (size_t)len) == 0);
    }
    free(expected);
    vkl_tokenizer_free(tok);
}

/* ------------------------------------------------------------------------ */
/* Tricky texts                                                               */

static const text_case TRICKY_CASES[] = {
    TEXT_CASE("empty", ""),
    TEXT_CASE("single space", " "),
    TEXT_CASE("leading spaces", "   three spaces first"),
    TEXT_CASE("repeated spaces", "a    b     c      "),
    TEXT_CASE("newlines", "one\ntwo\n\nthree\n\n\n"),
    TEXT_CASE("tabs", "\tcol1\t\tcol2 \t end\t"),
    TEXT_CASE("carriage returns", "line\r\nnext\r\n"),
    TEXT_CASE("digits", "0123456789 3.14159 2024-12-04 1,000,000"),
    TEXT_CASE("accents", "caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m"),
    TEXT_CASE("combining accent", "e\xCC\x81t\xCC\x81"),
    TEXT_CASE("cjk", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x96\x87"),
    TEXT_CASE("ideographic space", "\xE4\xB8\x80\xE3\x80\x80\xE4\xBA\x8C"),
    TEXT_CASE("emoji", "\xF0\x9F\x99\x82 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"),
    TEXT_CASE("contractions", "I'm sure you'll see they've 'RE' and 'S"),
    TEXT_CASE("invalid bytes", "\xFF\xFE"),
    TEXT_CASE("lone continuation", "a\x80z"),
    TEXT_CASE("truncated character", "ok \xE6\x97"),
    TEXT_CASE("overlong nul", "\xC0\x80"),
    TEXT_CASE("surrogate", "\xED\xA0\x80x"),
    TEXT_CASE("embedded nul", "a\0b"),
    TEXT_CASE("special look-alikes", "<s> </s> <0x41> <unk> <|endoftext|>"),
    TEXT_CASE("control characters", "\x01\x02\x1B[0m\x7F"),
};

#define TRICKY_COUNT (sizeof TRICKY_CASES / sizeof TRICKY_CASES[0])

/* Every tricky text encodes and comes back byte for byte. */
static void round_trip_tricky(const char *path)
{
    vkl_tokenizer *tok = load_gguf_vocab(path);
    for (size_t i = 0; tok != NULL && i < TRICKY_COUNT; i++)
        check_round_trip(tok, TRICKY_CASES[i].name, TRICKY_CASES[i].bytes,
                         TRICKY_CASES[i].len);
    vkl_tokenizer_free(tok);
}

static void test_tricky_texts_gpt2(void)
{
    round_trip_tricky(GPT2_VOCAB);
}

static void test_tricky_texts_llama(void)
{
    round_trip_tricky(LLAMA_VOCAB);
}

static void test_tricky_texts_stories(void)
{
    round_trip_tricky(STORIES_GGUF);
}

/* SentencePiece cannot tell a "▁" of the text from a space: it decodes as
 * one, in llama.cpp as here. */
static void test_spm_meta_space_decodes_as_space(void)
{
    vkl_tokenizer *tok = load_gguf_vocab(LLAMA_VOCAB);
    if (tok == NULL)
        return;

    int32_t ids[MAX_IDS];
    char decoded[64];
    long count = test_encode(tok, "a" META "b", 5, false, ids, MAX_IDS);
    long len = count > 0 ? test_decode(tok, ids, (size_t)count, decoded, sizeof decoded) : -1;
    CHECK(len == 3 && memcmp(decoded, "a b", 3) == 0);
    vkl_tokenizer_free(tok);
}

/* Ids worked out from GPT-2's merges: the pre-tokens carry the spaces, a
 * run of spaces gives its last one to the next word, each invalid byte is
 * its own byte character. */
static void test_gpt2_known_ids(void)
{
    vkl_tokenizer *tok = load_gguf_vocab(GPT2_VOCAB);
    if (tok == NULL)
        return;

    int32_t ids[MAX_IDS];
    static const int32_t hello[] = { 15496, 995 };             /* "Hello", " world" */
    CHECK(same_ids(ids, test_encode(tok, "Hello world", 11, false, ids, MAX_IDS), hello, 2));

    static const int32_t space_hello[] = { 220, 18435 };       /* " ", " Hello" */
    CHECK(same_ids(ids, test_encode(tok, "  Hello", 7, false, ids, MAX_IDS), space_hello, 2));

    /* GPT-2's first 256 ids are the byte characters: the 188 printable
     * bytes in order ('ÿ', byte 0xFF, last of them), then U+0100 for 0x00. */
    static const int32_t bytes[] = { 187, 188, 187 };
    CHECK(same_ids(ids, test_encode(tok, "\xFF\x00\xFF", 3, false, ids, MAX_IDS), bytes, 3));

    /* "▁" is plain text to a byte-level vocabulary. */
    check_round_trip(tok, "meta space", META " " META, 7);

    CHECK(vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_BPE);
    CHECK(vkl_tokenizer_bos(tok) == 50256 && vkl_tokenizer_eos(tok) == 50256);

    /* BOS only on request, and the control token decodes to nothing. */
    CHECK(test_encode(tok, "Hello", 5, true, ids, MAX_IDS) == 2 && ids[0] == 50256 &&
          ids[1] == 15496);
    size_t len = 1;
    CHECK(vkl_tokenizer_piece(tok, -1, 50256, &len) != NULL && len == 0);
    vkl_tokenizer_free(tok);
}

/* Long runs merge in about n log n: a quadratic merge would take minutes. */
static void test_long_texts(void)
{
    vkl_tokenizer *gpt2 = load_gguf_vocab(GPT2_VOCAB);
    vkl_tokenizer *llama = load_gguf_vocab(LLAMA_VOCAB);
    size_t len = 200000;
    char *text = malloc(len);
    if (gpt2 != NULL && llama != NULL && text != NULL) {
        /* Words of a thousand letters: each is one pre-token and one run of
         * merges. */
        for (size_t i = 0; i < len; i++)
            text[i] = i % 1000 == 999 ? ' ' : "abdc"[i % 4];

        vkl_error err = { 0 };
        size_t count = 0;
        clock_t start = clock();
        CHECK(vkl_tokenizer_encode(gpt2, text, len, false, NULL, 0, &count, &err) ==
              VKLLM_ERROR_INVALID_ARGUMENT && count > 0);
        CHECK(vkl_tokenizer_encode(llama, text, len, false, NULL, 0, &count, &err) ==
              VKLLM_ERROR_INVALID_ARGUMENT && count > 0);
        double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
        CHECK_MSG(seconds < 20, "encoding 2 x %zu bytes took %.1f s", len, seconds);
    }
    free(text);
    vkl_tokenizer_free(gpt2);
    vkl_tokenizer_free(llama);
}

static void test_create_speed(void)
{
    clock_t start = clock();
    vkl_tokenizer *tok = load_gguf_vocab(GPT2_VOCAB);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    fprintf(stderr, "    GPT-2 vocabulary (50257 tokens, 50000 merges) in %.3f s\n", seconds);
    CHECK(tok != NULL);

    /* The budget is 0.5 s for three times this vocabulary, unsanitized. */
    CHECK(seconds < 0.5);
    vkl_tokenizer_free(tok);
}

/* ------------------------------------------------------------------------ */
/* Hostile GGUF vocabularies                                                  */

/* A GGUF v3 image with metadata only, written field by field. */
typedef struct gguf_image {
    unsigned char bytes[1 << 14];
    size_t len;
    uint64_t kv_count;
} gguf_image;

static void put_bytes(gguf_image *im, const void *bytes, size_t len)
{
    if (im->len + len > sizeof im->bytes) {
        fprintf(stderr, "test GGUF image overflows\n");
        exit(1);
    }
    memcpy(im->bytes + im->len, bytes, len);
    im->len += len;
}

static void put_u32(gguf_image *im, uint32_t value)
{
    put_bytes(im, &value, sizeof value);
}

static void put_u64(gguf_image *im, uint64_t value)
{
    put_bytes(im, &value, sizeof value);
}

static void put_string(gguf_image *im, const char *text)
{
    put_u64(im, strlen(text));
    put_bytes(im, text, strlen(text));
}

static void put_key(gguf_image *im, const char *key, vkl_gguf_type type)
{
    put_string(im, key);
    put_u32(im, type);
    im->kv_count++;
}

static void put_array_head(gguf_image *im, const char *key, vkl_gguf_type type, size_t count)
{
    put_key(im, key, VKL_GGUF_ARRAY);
    put_u32(im, type);
    put_u64(im, count);
}

static void put_strings(gguf_image *im, const char *key, const char *const *texts,
                        size_t count)
{
    put_array_head(im, key, VKL_GGUF_STRING, count);
    for (size_t i = 0; i < count; i++)
        put_string(im, texts[i]);
}

/* An array of count 4-byte values (float32, int32 or uint32). */
static void put_words(gguf_image *im, const char *key, vkl_gguf_type type, const void *values,
                      size_t count)
{
    put_array_head(im, key, type, count);
    put_bytes(im, values, 4 * count);
}

/* Each key of the vocabulary, in one of four versions. */
typedef enum variant { GOOD, MISSING, WRONG_TYPE, WRONG_VALUE } variant;

typedef struct vocab_spec {
    variant model;          /* "llama"; -; a u32; "bert" */
    variant tokens;         /* six tokens; -; a u32 array; an empty array */
    variant scores;         /* six; -; an int32 array; five */
    variant types;          /* six; - (allowed); a float32 array; five */
    variant bos;            /* 1; - (llama's 1); a string; 99 */
    variant space_prefix;   /* -; -; a u32; false */
} vocab_spec;

static const char *const TINY_TOKENS[] = { "<unk>", "<s>", "</s>", META, "a", META "a" };
static const float TINY_SCORES[] = { 0, 0, 0, -1, -2, -3 };
static const int32_t TINY_TYPES[] = { 2, 3, 3, 1, 1, 1 };
#define TINY_COUNT 6

static void put_model(gguf_image *im, variant v)
{
    if (v == WRONG_TYPE) {
        put_key(im, "tokenizer.ggml.model", VKL_GGUF_UINT32);
        put_u32(im, 7);
    } else if (v != MISSING) {
        put_key(im, "tokenizer.ggml.model", VKL_GGUF_STRING);
        put_string(im, v == GOOD ? "llama" : "bert");
    }
}

static void put_tokens(gguf_image *im, variant v)
{
    if (v == GOOD)
        put_strings(im, "tokenizer.ggml.tokens", TINY_TOKENS, TINY_COUNT);
    else if (v == WRONG_TYPE)
        put_words(im, "tokenizer.ggml.tokens", VKL_GGUF_UINT32, TINY_TYPES, TINY_COUNT);
    else if (v == WRONG_VALUE)
        put_strings(im, "tokenizer.ggml.tokens", TINY_TOKENS, 0);
}

static void put_per_token(gguf_image *im, const char *key, vkl_gguf_type type,
                          vkl_gguf_type wrong_type, const void *values, variant v)
{
    if (v == GOOD)
        put_words(im, key, type, values, TINY_COUNT);
    else if (v == WRONG_TYPE)
        put_words(im, key, wrong_type, values, TINY_COUNT);
    else if (v == WRONG_VALUE)
        put_words(im, key, type, values, TINY_COUNT - 1);
}

static void put_bos(gguf_image *im, variant v)
{
    if (v == WRONG_TYPE) {
        put_key(im, "tokenizer.ggml.bos_token_id", VKL_GGUF_STRING);
        put_string(im, "1");
    } else if (v != MISSING) {
        put_key(im, "tokenizer.ggml.bos_token_id", VKL_GGUF_UINT32);
        put_u32(im, v == GOOD ? 1 : 99);
    }
}

static void put_space_prefix(gguf_image *im, variant v)
{
    if (v == WRONG_TYPE) {
        put_key(im, "tokenizer.ggml.add_space_prefix", VKL_GGUF_UINT32);
        put_u32(im, 0);
    } else if (v == WRONG_VALUE) {
        put_key(im, "tokenizer.ggml.add_space_prefix", VKL_GGUF_BOOL);
        put_bytes(im, "", 1);
    }
}

/* Writes the vocabulary into im, the kv count patched in last. */
static void build_vocab_image(gguf_image *im, const vocab_spec *spec)
{
    im->len = 0;
    im->kv_count = 0;
    put_bytes(im, "GGUF", 4);
    put_u32(im, 3);
    put_u64(im, 0);
    put_u64(im, 0);

    put_model(im, spec->model);
    put_tokens(im, spec->tokens);
    put_per_token(im, "tokenizer.ggml.scores", VKL_GGUF_FLOAT32, VKL_GGUF_INT32, TINY_SCORES,
                  spec->scores);
    put_per_token(im, "tokenizer.ggml.token_type", VKL_GGUF_INT32, VKL_GGUF_FLOAT32,
                  TINY_TYPES, spec->types);
    put_bos(im, spec->bos);
    put_space_prefix(im, spec->space_prefix);
    memcpy(im->bytes + 16, &im->kv_count, sizeof im->kv_count);
}

/* Loads the vocabulary of spec; returns the status, the message in err. */
static vkllm_status load_spec(const vocab_spec *spec, vkl_tokenizer **tok, vkl_error *err)
{
    static gguf_image im;
    build_vocab_image(&im, spec);

    vkl_gguf *g = NULL;
    *tok = NULL;
    vkllm_status status = vkl_gguf_parse(im.bytes, im.len, "vocab", &g, err);
    CHECK_MSG(status == VKLLM_OK, "the test image does not parse: %s", err->message);
    if (status == VKLLM_OK)
        status = vkl_gguf_vocab_load(g, tok, err);
    vkl_gguf_close(g);
    return status;
}

static void expect_spec_failure(const char *name, vocab_spec spec, const char *key)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = load_spec(&spec, &tok, &err);
    CHECK_MSG(status == VKLLM_ERROR_BAD_TOKENIZER, "%s: status %d", name, status);
    CHECK_MSG(strstr(err.message, key) != NULL, "%s: message '%s' does not name %s", name,
              err.message, key);
    CHECK_MSG(tok == NULL, "%s: a tokenizer came back", name);
    vkl_tokenizer_free(tok);
}

/* The good vocabulary loads; with and without the space prefix "a a" is
 * "▁a▁a" (5 5) or "a▁a" (4 5). */
static void test_tiny_gguf_vocab(void)
{
    static const vocab_spec good = { GOOD, GOOD, GOOD, GOOD, GOOD, GOOD };
    vocab_spec defaults = good;
    defaults.types = MISSING;
    defaults.bos = MISSING;
    vocab_spec no_prefix = good;
    no_prefix.space_prefix = WRONG_VALUE;

    const vocab_spec *specs[] = { &good, &defaults, &no_prefix };
    static const int32_t expected[][2] = { { 5, 5 }, { 5, 5 }, { 4, 5 } };
    for (size_t i = 0; i < 3; i++) {
        vkl_error err = { 0 };
        vkl_tokenizer *tok = NULL;
        CHECK_MSG(load_spec(specs[i], &tok, &err) == VKLLM_OK, "spec %zu: %s", i,
                  err.message);

        int32_t ids[MAX_IDS];
        CHECK(tok != NULL &&
              same_ids(ids, test_encode(tok, "a a", 3, false, ids, MAX_IDS), expected[i], 2));
        CHECK(tok != NULL && vkl_tokenizer_bos(tok) == 1 && vkl_tokenizer_eos(tok) == 2);
        vkl_tokenizer_free(tok);
    }
}

static void test_hostile_gguf_vocab(void)
{
    /* Model, tokens, scores, types, BOS and space prefix, as in vocab_spec. */
    static const struct {
        const char *name;
        vocab_spec spec;
        const char *named;      /* what the message must contain */
    } cases[] = {
        { "no model", { MISSING, GOOD, GOOD, GOOD, GOOD, GOOD }, "tokenizer.ggml.model" },
        { "model a u32", { WRONG_TYPE, GOOD, GOOD, GOOD, GOOD, GOOD }, "not a string" },
        { "unknown model", { WRONG_VALUE, GOOD, GOOD, GOOD, GOOD, GOOD }, "bert" },
        { "no tokens", { GOOD, MISSING, GOOD, GOOD, GOOD, GOOD }, "tokenizer.ggml.tokens" },
        { "tokens u32", { GOOD, WRONG_TYPE, GOOD, GOOD, GOOD, GOOD }, "strings" },
        { "tokens empty", { GOOD, WRONG_VALUE, GOOD, GOOD, GOOD, GOOD }, "empty" },
        { "no scores", { GOOD, GOOD, MISSING, GOOD, GOOD, GOOD }, "tokenizer.ggml.scores" },
        { "scores int32", { GOOD, GOOD, WRONG_TYPE, GOOD, GOOD, GOOD }, "float32" },
        { "scores short", { GOOD, GOOD, WRONG_VALUE, GOOD, GOOD, GOOD }, "5 entries" },
        { "types float32", { GOOD, GOOD, GOOD, WRONG_TYPE, GOOD, GOOD }, "int32" },
        { "types short", { GOOD, GOOD, GOOD, WRONG_VALUE, GOOD, GOOD }, "token_type" },
        { "bos a string", { GOOD, GOOD, GOOD, GOOD, WRONG_TYPE, GOOD }, "bos_token_id" },
        { "bos too big", { GOOD, GOOD, GOOD, GOOD, WRONG_VALUE, GOOD }, "99" },
        { "prefix a u32", { GOOD, GOOD, GOOD, GOOD, GOOD, WRONG_TYPE }, "bool" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_spec_failure(cases[i].name, cases[i].spec, cases[i].named);
}

/* A gpt2 vocabulary needs its merges. */
static void test_gpt2_gguf_needs_merges(void)
{
    static gguf_image im;
    im.len = 0;
    im.kv_count = 0;
    put_bytes(&im, "GGUF", 4);
    put_u32(&im, 3);
    put_u64(&im, 0);
    put_u64(&im, 2);
    put_key(&im, "tokenizer.ggml.model", VKL_GGUF_STRING);
    put_string(&im, "gpt2");
    put_strings(&im, "tokenizer.ggml.tokens", TINY_TOKENS, TINY_COUNT);

    vkl_error err = { 0 };
    vkl_gguf *g = NULL;
    vkl_tokenizer *tok = NULL;
    CHECK(vkl_gguf_parse(im.bytes, im.len, "gpt2", &g, &err) == VKLLM_OK);
    CHECK(g != NULL && vkl_gguf_vocab_load(g, &tok, &err) == VKLLM_ERROR_BAD_TOKENIZER);
    CHECK(tok == NULL && strstr(err.message, "tokenizer.ggml.merges") != NULL);
    vkl_gguf_close(g);
}

/* ------------------------------------------------------------------------ */
/* Hugging Face tokenizer.json                                                */

/* JSON text grown by appending. */
typedef struct json_text {
    char *bytes;
    size_t len;
    size_t capacity;
} json_text;

static void append(json_text *json, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void append(json_text *json, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int needed = vsnprintf(NULL, 0, format, args);
    va_end(args);

    size_t want = json->len + (size_t)needed + 1;
    if (want > json->capacity) {
        json->capacity = 2 * want;
        json->bytes = realloc(json->bytes, json->capacity);
        if (json->bytes == NULL) {
            fprintf(stderr, "out of memory building JSON\n");
            exit(1);
        }
    }

    va_start(args, format);
    vsnprintf(json->bytes + json->len, json->capacity - json->len, format, args);
    va_end(args);
    json->len += (size_t)needed;
}

/* Each byte's GPT-2 character with its byte as id, ready for a vocab. */
static void append_byte_characters(json_text *json)
{
    for (int byte = 0; byte < 256; byte++) {
        char utf8[4];
        size_t len = vkl_utf8_encode(vkl_gpt2_byte_char((unsigned char)byte), utf8);
        bool escape = len == 1 && (utf8[0] == '"' || utf8[0] == '\\');
        append(json, "\"%s%.*s\": %d, ", escape ? "\\" : "", (int)len, utf8, byte);
    }
}

/* A GPT-2-style byte-level tokenizer: the 256 byte characters as ids
 * 0-255, seven merges, and <|endoftext|> added as 263. Merges are written
 * "a b" or, with arrays set, ["a", "b"]. */
static json_text byte_level_json(bool arrays)
{
    static const char *const MERGES[][2] = {
        { "h", "e" }, { "l", "l" }, { "ll", "o" }, { "he", "llo" },
        { "\xC4\xA0", "w" }, { "o", "r" }, { "\xC4\xA0w", "or" },
    };
    json_text json = { 0 };
    append(&json, "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 263, \"content\": "
           "\"<|endoftext|>\", \"special\": true}], \"normalizer\": null, "
           "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false}, "
           "\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
           "\"unk_token\": null, \"vocab\": {");
    append_byte_characters(&json);
    append(&json, "\"he\": 256, \"ll\": 257, \"llo\": 258, \"hello\": 259, "
           "\"\xC4\xA0w\": 260, \"or\": 261, \"\xC4\xA0wor\": 262}, \"merges\": [");
    for (size_t i = 0; i < 7; i++) {
        const char *comma = i + 1 < 7 ? ", " : "";
        if (arrays)
            append(&json, "[\"%s\", \"%s\"]%s", MERGES[i][0], MERGES[i][1], comma);
        else
            append(&json, "\"%s %s\"%s", MERGES[i][0], MERGES[i][1], comma);
    }
    append(&json, "]}}");
    return json;
}

/* Writes json into the temp dir and loads it from there. */
static vkl_tokenizer *load_json_file(const char *name, const json_text *json)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    CHECK(write_file(path, json->bytes, json->len) == 0);

    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = vkl_hf_tokenizer_load(path, &tok, &err);
    CHECK_MSG(status == VKLLM_OK, "%s: %s", name, err.message);
    unlink(path);
    return tok;
}

/* "hello" merges all the way: he, ll, llo, hello. " world" is Ġw, or, Ġwor
 * and then l, d unmerged; "!" and "\xFF" are their byte characters. */
static void check_byte_level(const vkl_tokenizer *tok)
{
    int32_t ids[MAX_IDS];
    static const int32_t hello_world[] = { 259, 262, 'l', 'd', '!' };
    CHECK(same_ids(ids, test_encode(tok, "hello world!", 12, false, ids, MAX_IDS),
                   hello_world, 5));

    static const int32_t hell[] = { 256, 257 };
    CHECK(same_ids(ids, test_encode(tok, "hell", 4, false, ids, MAX_IDS), hell, 2));

    static const int32_t with_bos[] = { 263, 259, 255 };
    CHECK(same_ids(ids, test_encode(tok, "hello\xFF", 6, true, ids, MAX_IDS), with_bos, 3));

    CHECK(vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_BPE);
    CHECK(vkl_tokenizer_bos(tok) == 263 && vkl_tokenizer_eos(tok) == 263);
    CHECK(vkl_tokenizer_vocab_size(tok) == 264);
    for (size_t i = 0; i < TRICKY_COUNT; i++)
        check_round_trip(tok, TRICKY_CASES[i].name, TRICKY_CASES[i].bytes,
                         TRICKY_CASES[i].len);
}

static void test_hf_byte_level(void)
{
    for (int arrays = 0; arrays < 2; arrays++) {
        json_text json = byte_level_json(arrays);
        vkl_tokenizer *tok = load_json_file("byte_level.json", &json);
        if (tok != NULL)
            check_byte_level(tok);
        vkl_tokenizer_free(tok);
        free(json.bytes);
    }
}

/* A Llama-style byte-fallback tokenizer: <unk>, <s>, </s>, the 256 byte
 * tokens (ids 3-258), then ▁ a b c ▁a ab ▁ab bc é (259-267) and four
 * merges, which score ▁a 0, ab -1, ▁ab -2, bc -3. The space prefix comes
 * from the pipeline given. */
static json_text byte_fallback_json(const char *pipeline)
{
    json_text json = { 0 };
    append(&json, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true}, "
           "{\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": "
           "\"</s>\", \"special\": true}], %s, \"model\": {\"type\": \"BPE\", "
           "\"unk_token\": \"<unk>\", \"byte_fallback\": true, \"fuse_unk\": true, "
           "\"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, ", pipeline);
    for (int byte = 0; byte < 256; byte++)
        append(&json, "\"<0x%02X>\": %d, ", byte, 3 + byte);
    append(&json, "\"" META "\": 259, \"a\": 260, \"b\": 261, \"c\": 262, \"" META "a\": 263, "
           "\"ab\": 264, \"" META "ab\": 265, \"bc\": 266, \"\xC3\xA9\": 267}, \"merges\": "
           "[\"" META " a\", \"a b\", \"" META "a b\", \"b c\"]}}");
    return json;
}

/* Prepend and Replace normalizers, as Llama's tokenizer.json has them. */
static const char PREPEND_PIPELINE[] =
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", "
    "\"prepend\": \"" META "\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, "
    "\"content\": \"" META "\"}]}, \"pre_tokenizer\": null, \"decoder\": {\"type\": "
    "\"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}";

/* The older Metaspace pre-tokenizer, prepending or not. */
static const char METASPACE_PIPELINE[] =
    "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": "
    "\"" META "\", \"add_prefix_space\": true}, \"decoder\": {\"type\": \"Metaspace\"}";
static const char NEVER_PIPELINE[] =
    "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": "
    "\"" META "\", \"prepend_scheme\": \"never\"}, \"decoder\": null";

/* "ab c": ▁ a b ▁ c; ▁a (0) first, then ▁ab (-2) beats nothing else.
 * "abc": ▁a, then ▁ab (-2) before bc (-3). "ü" has no token: its bytes
 * C3 BC are ids 3 + 0xC3 and 3 + 0xBC. */
static void check_byte_fallback(const vkl_tokenizer *tok)
{
    int32_t ids[MAX_IDS];
    static const int32_t ab_c[] = { 1, 265, 259, 262 };
    CHECK(same_ids(ids, test_encode(tok, "ab c", 4, true, ids, MAX_IDS), ab_c, 4));

    static const int32_t bc[] = { 259, 266 };
    CHECK(same_ids(ids, test_encode(tok, "bc", 2, false, ids, MAX_IDS), bc, 2));

    static const int32_t abc[] = { 265, 262 };
    CHECK(same_ids(ids, test_encode(tok, "abc", 3, false, ids, MAX_IDS), abc, 2));

    static const int32_t accents[] = { 259, 267, 3 + 0xC3, 3 + 0xBC };
    CHECK(same_ids(ids, test_encode(tok, "\xC3\xA9\xC3\xBC", 4, false, ids, MAX_IDS),
                   accents, 4));

    char text[64];
    long len = test_decode(tok, ab_c + 1, 3, text, sizeof text);
    CHECK(len == 4 && memcmp(text, "ab c", 4) == 0);
    CHECK(vkl_tokenizer_kind_of(tok) == VKL_TOKENIZER_SPM);
    CHECK(vkl_tokenizer_bos(tok) == 1 && vkl_tokenizer_eos(tok) == 2);
    for (size_t i = 0; i < TRICKY_COUNT; i++)
        check_round_trip(tok, TRICKY_CASES[i].name, TRICKY_CASES[i].bytes,
                         TRICKY_CASES[i].len);
}

static void test_hf_byte_fallback(void)
{
    const char *pipelines[] = { PREPEND_PIPELINE, METASPACE_PIPELINE };
    for (size_t i = 0; i < 2; i++) {
        json_text json = byte_fallback_json(pipelines[i]);
        vkl_tokenizer *tok = load_json_file("byte_fallback.json", &json);
        if (tok != NULL)
            check_byte_fallback(tok);
        vkl_tokenizer_free(tok);
        free(json.bytes);
    }
}

/* Without the prefix, "ab" is a b merged to ab. */
static void test_hf_no_space_prefix(void)
{
    json_text json = byte_fallback_json(NEVER_PIPELINE);
    vkl_tokenizer *tok = load_json_file("never.json", &json);
    int32_t ids[MAX_IDS];
    static const int32_t ab[] = { 264 };
    CHECK(tok != NULL && same_ids(ids, test_encode(tok, "ab", 2, false, ids, MAX_IDS), ab, 1));
    vkl_tokenizer_free(tok);
    free(json.bytes);
}

static void expect_json_failure(const char *name, const char *json, size_t len)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    vkllm_status status = vkl_hf_tokenizer_parse(json, len, &tok, &err);
    CHECK_MSG(status == VKLLM_ERROR_BAD_TOKENIZER, "%s: status %d", name, status);
    CHECK_MSG(err.message[0] != '\0', "%s: no message", name);
    CHECK_MSG(tok == NULL, "%s: a tokenizer came back", name);
    vkl_tokenizer_free(tok);
}

/* A byte-level model around the given vocab, merges and added tokens. */
static void expect_model_failure(const char *name, const char *model_fields,
                                 const char *added)
{
    json_text json = { 0 };
    append(&json, "{\"added_tokens\": %s, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
           "\"model\": {\"type\": \"BPE\", %s}}", added, model_fields);
    expect_json_failure(name, json.bytes, json.len);
    free(json.bytes);
}

static void test_hf_hostile_documents(void)
{
    static const char *const DOCUMENTS[][2] = {
        { "empty", "" },
        { "not json", "hello" },
        { "cut", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0" },
        { "array", "[]" },
        { "number", "42" },
        { "no model", "{}" },
        { "model a string", "{\"model\": \"BPE\"}" },
        { "wordpiece", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}" },
        { "type a number", "{\"model\": {\"type\": 3, \"vocab\": {\"a\": 0}}}" },
        { "plain bpe", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}" },
    };
    for (size_t i = 0; i < sizeof DOCUMENTS / sizeof DOCUMENTS[0]; i++)
        expect_json_failure(DOCUMENTS[i][0], DOCUMENTS[i][1], strlen(DOCUMENTS[i][1]));

    /* The first half of a good file, and a good file with more after it. */
    json_text json = byte_level_json(false);
    expect_json_failure("half a file", json.bytes, json.len / 2);
    append(&json, " }");
    expect_json_failure("trailing brace", json.bytes, json.len);
    free(json.bytes);
}

static void test_hf_hostile_vocabularies(void)
{
    static const char *const MODELS[][2] = {
        { "vocab an array", "\"vocab\": [\"a\"]" },
        { "vocab empty", "\"vocab\": {}" },
        { "id a string", "\"vocab\": {\"a\": \"0\"}" },
        { "id negative", "\"vocab\": {\"a\": -1}" },
        { "id fractional", "\"vocab\": {\"a\": 0.5}" },
        { "id huge", "\"vocab\": {\"a\": 1e300}" },
        { "id beyond the limit", "\"vocab\": {\"a\": 16777216}" },
        { "ids sparse", "\"vocab\": {\"a\": 0, \"b\": 100000}" },
        { "id twice", "\"vocab\": {\"a\": 0, \"b\": 0}" },
        { "merges a string", "\"vocab\": {\"a\": 0}, \"merges\": \"a a\"" },
        { "merge a number", "\"vocab\": {\"a\": 0}, \"merges\": [1]" },
        { "merge of one", "\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]" },
        { "merge of three", "\"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"a\", \"a\"]]" },
        { "merge half a number", "\"vocab\": {\"a\": 0}, \"merges\": [[\"a\", 1]]" },
        { "unk not a token", "\"vocab\": {\"a\": 0}, \"unk_token\": \"<unk>\"" },
        { "unk a number", "\"vocab\": {\"a\": 0}, \"unk_token\": 0" },
    };
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        expect_model_failure(MODELS[i][0], MODELS[i][1], "[]");

    static const char *const ADDED[][2] = {
        { "added an object", "{}" },
        { "added without id", "[{\"content\": \"x\"}]" },
        { "added id huge", "[{\"id\": 1e9, \"content\": \"x\"}]" },
        { "added content a number", "[{\"id\": 0, \"content\": 5}]" },
        { "added a string", "[\"x\"]" },
    };
    for (size_t i = 0; i < sizeof ADDED / sizeof ADDED[0]; i++)
        expect_model_failure(ADDED[i][0], "\"vocab\": {\"a\": 0}", ADDED[i][1]);
}

/* Big hostile inputs: a million bad merges, nesting past cJSON's limit. */
static void test_hf_huge_documents(void)
{
    json_text json = { 0 };
    append(&json, "\"vocab\": {\"a\": 0}, \"merges\": [");
    for (int i = 0; i < 1000000; i++)
        append(&json, "0,");
    append(&json, "0]");
    expect_model_failure("a million numbers", json.bytes, "[]");
    free(json.bytes);

    json = (json_text){ 0 };
    for (int i = 0; i < 100000; i++)
        append(&json, "[");
    expect_json_failure("deep nesting", json.bytes, json.len);
    free(json.bytes);
}

/* A million merges that name no token load, and are simply never used. */
static void test_hf_many_useless_merges(void)
{
    json_text json = byte_level_json(false);
    json.len -= 3;      /* reopen the merges: drop "]}}" */
    for (int i = 0; i < 1000000; i++)
        append(&json, ", \"x%d y\"", i);
    append(&json, "]}}");

    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    CHECK_MSG(vkl_hf_tokenizer_parse(json.bytes, json.len, &tok, &err) == VKLLM_OK, "%s",
              err.message);
    if (tok != NULL)
        check_byte_level(tok);
    vkl_tokenizer_free(tok);
    free(json.bytes);
}

static void test_hf_missing_file(void)
{
    vkl_error err = { 0 };
    vkl_tokenizer *tok = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/none.json", temp_dir);
    CHECK(vkl_hf_tokenizer_load(path, &tok, &err) == VKLLM_ERROR_IO && tok == NULL);
    CHECK(strstr(err.message, "none.json") != NULL);

    /* A failure inside the file names the file too. */
    snprintf(path, sizeof path, "%s/bad.json", temp_dir);
    CHECK(write_file(path, "{}", 2) == 0);
    CHECK(vkl_hf_tokenizer_load(path, &tok, &err) == VKLLM_ERROR_BAD_TOKENIZER);
    CHECK(strstr(err.message, "bad.json") != NULL && strstr(err.message, "model") != NULL);
    unlink(path);
}

int main(void)
{
    if (mkdtemp(temp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(test_gpt2_conformance);
    RUN(test_llama_spm_conformance);
    RUN(test_stories_gguf_once_upon_a_time);
    RUN(test_stories_gguf_decodes_reference);
    RUN(test_tricky_texts_gpt2);
    RUN(test_tricky_texts_llama);
    RUN(test_tricky_texts_stories);
    RUN(test_spm_meta_space_decodes_as_space);
    RUN(test_gpt2_known_ids);
    RUN(test_long_texts);
    RUN(test_create_speed);
    RUN(test_tiny_gguf_vocab);
    RUN(test_hostile_gguf_vocab);
    RUN(test_gpt2_gguf_needs_merges);
    RUN(test_hf_byte_level);
    RUN(test_hf_byte_fallback);
    RUN(test_hf_no_space_prefix);
    RUN(test_hf_hostile_documents);
    RUN(test_hf_hostile_vocabularies);
    RUN(test_hf_huge_documents);
    RUN(test_hf_many_useless_merges);
    RUN(test_hf_missing_file);

    rmdir(temp_dir);
    TEST_MAIN_END();
}
