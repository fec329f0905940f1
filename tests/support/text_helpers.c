#include "text_helpers.h"

#include <string.h>

#include "test.h"

long test_encode(const vkl_tokenizer *tok, const char *text, size_t len, bool add_bos,
                 int32_t *ids, size_t capacity)
{
    vkl_error err = { 0 };
    size_t count = 0;
    vkllm_status status = vkl_tokenizer_encode(tok, text, len, add_bos, ids, capacity, &count,
                                               &err);
    CHECK_MSG(status == VKLLM_OK, "encode: %s", err.message);
    return status == VKLLM_OK ? (long)count : -1;
}

long test_decode(const vkl_tokenizer *tok, const int32_t *ids, size_t count, char *text,
                 size_t capacity)
{
    size_t len = 0;
    int32_t prev = vkl_tokenizer_bos(tok);
    for (size_t i = 0; i < count; i++) {
        size_t piece_len = 0;
        const char *piece = vkl_tokenizer_piece(tok, prev, ids[i], &piece_len);
        if (piece == NULL || len + piece_len > capacity)
            return -1;

        memcpy(text + len, piece, piece_len);
        len += piece_len;
        prev = ids[i];
    }
    return (long)len;
}
