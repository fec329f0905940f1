/* Encoding and decoding helpers shared by the tokenizer tests. */
#ifndef VKLLM_TEXT_HELPERS_H
#define VKLLM_TEXT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* Encodes into ids[capacity]; returns the count, or -1 on failure (which
 * fails the current test). */
long test_encode(const vkl_tokenizer *tok, const char *text, size_t len, bool add_bos,
                 int32_t *ids, size_t capacity);

/* Decodes ids as the generator does, starting after BOS; returns the length
 * written to text, or -1 if it did not fit or a piece was missing. */
long test_decode(const vkl_tokenizer *tok, const int32_t *ids, size_t count, char *text,
                 size_t capacity);

#endif
