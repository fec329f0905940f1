/* Encoding and decoding helpers shared by the tokenizer tests. */
#ifndef VKLLM_TEXT_HELPERS_H
#define VKLLM_TEXT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* A named text for table-driven cases; TEXT_CASE keeps embedded NULs. */
typedef struct text_case {
    const char *name;
    const char *bytes;
    size_t len;
} text_case;

#define TEXT_CASE(name, literal) { name, literal, sizeof literal - 1 }

/* Encodes into ids[capacity]; returns the count, or -1 on failure (which
 * fails the current test). */
long test_encode(const vkl_tokenizer *tok, const char *text, size_t len, bool add_bos,
                 int32_t *ids, size_t capacity);

/* Decodes ids as the generator does, starting after BOS; returns the length
 * written to text, or -1 if it did not fit or a piece was missing. */
long test_decode(const vkl_tokenizer *tok, const int32_t *ids, size_t count, char *text,
                 size_t capacity);

#endif
