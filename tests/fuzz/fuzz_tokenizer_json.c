/* A libFuzzer target for the tokenizer.json reader: any bytes must load or
 * fail with a message, and whatever loads must encode a fixed text and
 * decode every id it gives. Build with
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iruntime \
 *       runtime/core/error.c runtime/text/[a-z]*.c runtime/model/mapped_file.c \
 *       runtime/model/hf_tokenizer.c tests/fuzz/fuzz_tokenizer_json.c \
 *       -lcjson -lm -o fuzz_tokenizer_json
 * and run as ./fuzz_tokenizer_json CORPUS_DIR. */
#include <stdint.h>
#include <stdlib.h>

#include "model/hf_tokenizer.h"

/* Both kinds' hard cases: spaces, digits, accents, CJK, emoji, bad bytes. */
static const char TEXT[] = "Hello,  world!\n\t123 caf\xC3\xA9 \xE6\x97\xA5\xF0\x9F\x99\x82 \xFF"
                           "<s>'re";

/* Room for the worst case: three byte tokens per byte, a prefix and BOS. */
#define MAX_IDS (3 * sizeof TEXT + 4)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sums bytes so that every read is real and cannot be optimised away; ASan
 * then catches any pointer that strays outside its piece. */
static volatile unsigned sink;

static void decode_all(const vkl_tokenizer *tok, const int32_t *ids, size_t count)
{
    int32_t prev = vkl_tokenizer_bos(tok);
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        const unsigned char *piece =
            (const unsigned char *)vkl_tokenizer_piece(tok, prev, ids[i], &len);
        if (piece == NULL)
            abort();
        if (len > 0)
            sink += piece[0] + piece[len - 1];
        prev = ids[i];
    }

    /* Ids outside the vocabulary have no piece. */
    if (vkl_tokenizer_piece(tok, prev, vkl_tokenizer_vocab_size(tok), NULL) != NULL)
        abort();
}

static void exercise(const vkl_tokenizer *tok)
{
    int32_t ids[MAX_IDS];
    size_t count = 0;
    vkl_error err;
    vkl_error_clear(&err);
    if (vkl_tokenizer_encode(tok, TEXT, sizeof TEXT - 1, true, ids, MAX_IDS, &count, &err) !=
        VKLLM_OK)
        abort();

    for (size_t i = 0; i < count; i++) {
        if (ids[i] < 0 || ids[i] >= vkl_tokenizer_vocab_size(tok))
            abort();
    }
    decode_all(tok, ids, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkl_tokenizer *tok = NULL;
    vkl_error err;
    vkl_error_clear(&err);

    if (vkl_hf_tokenizer_parse((const char *)data, size, &tok, &err) != VKLLM_OK) {
        /* A failure must always say why. */
        if (err.message[0] == '\0')
            abort();
        return 0;
    }

    exercise(tok);
    vkl_tokenizer_free(tok);
    return 0;
}
