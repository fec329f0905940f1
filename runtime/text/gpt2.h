/* GPT-2's byte-level conventions: every byte stands for one printable
 * character in token texts, and text is cut into pre-tokens by GPT-2's
 * pattern before any merge, here matched by hand:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * Also the UTF-8 helpers these need. */
#ifndef VKL_TEXT_GPT2_H
#define VKL_TEXT_GPT2_H

#include <stddef.h>
#include <stdint.h>

/* What vkl_utf8_decode gives for a byte that starts no valid character. */
#define VKL_UTF8_INVALID UINT32_MAX

/* The character GPT-2 spells a byte with: the byte itself where that is
 * printable Latin-1, else U+0100 onwards in byte order. */
uint32_t vkl_gpt2_byte_char(unsigned char byte);

/* The byte a character spells, or -1 for a character no byte maps to. */
int vkl_gpt2_char_byte(uint32_t cp);

/* The end of the pre-token that starts at text[start] (start < len). */
size_t vkl_gpt2_pretoken_end(const unsigned char *text, size_t len, size_t start);

/* Decodes the character at text[0] (len > 0) and returns its length; an
 * invalid, overlong, surrogate or truncated sequence decodes as one byte of
 * VKL_UTF8_INVALID. */
size_t vkl_utf8_decode(const unsigned char *text, size_t len, uint32_t *cp);

/* Writes cp (at most U+10FFFF) as UTF-8 and returns the length. */
size_t vkl_utf8_encode(uint32_t cp, char out[4]);

#endif
