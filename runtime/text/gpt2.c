#include "text/gpt2.h"

#include <stdbool.h>
#include <string.h>

#include "text/unicode_tables.h"

/* ------------------------------------------------------------------------ */
/* Bytes as characters                                                        */

/* Bytes GPT-2 spells as themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF. */
static bool is_printable_byte(uint32_t byte)
{
    return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
           (byte >= 0xAE && byte <= 0xFF);
}

/* The other 68 bytes take U+0100 onwards in byte order: 0x00..0x20 (33 of
 * them), then 0x7F..0xA0 (34), then 0xAD. */
#define SHIFTED_BASE 0x100u
#define LOW_COUNT 33u
#define HIGH_COUNT 34u

uint32_t vkl_gpt2_byte_char(unsigned char byte)
{
    if (is_printable_byte(byte))
        return byte;
    if (byte <= 0x20)
        return SHIFTED_BASE + byte;
    if (byte <= 0xA0)
        return SHIFTED_BASE + LOW_COUNT + (byte - 0x7Fu);
    return SHIFTED_BASE + LOW_COUNT + HIGH_COUNT;
}

int vkl_gpt2_char_byte(uint32_t cp)
{
    if (cp < SHIFTED_BASE)
        return is_printable_byte(cp) ? (int)cp : -1;
    if (cp < SHIFTED_BASE + LOW_COUNT)
        return (int)(cp - SHIFTED_BASE);
    if (cp < SHIFTED_BASE + LOW_COUNT + HIGH_COUNT)
        return (int)(cp - SHIFTED_BASE - LOW_COUNT + 0x7Fu);
    if (cp == SHIFTED_BASE + LOW_COUNT + HIGH_COUNT)
        return 0xAD;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                      */

/* The length a lead byte announces, with its payload bits and the smallest
 * code point that length may carry; 0 for a byte that leads nothing. */
static size_t lead_length(unsigned char lead, uint32_t *bits, uint32_t *smallest)
{
    if (lead >= 0xC2 && lead <= 0xDF) {
        *bits = lead & 0x1Fu;
        *smallest = 0x80;
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        *bits = lead & 0x0Fu;
        *smallest = 0x800;
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        *bits = lead & 0x07u;
        *smallest = 0x10000;
        return 4;
    }
    return 0;
}

size_t vkl_utf8_decode(const unsigned char *text, size_t len, uint32_t *cp)
{
    *cp = VKL_UTF8_INVALID;
    if (text[0] < 0x80) {
        *cp = text[0];
        return 1;
    }

    uint32_t value = 0;
    uint32_t smallest = 0;
    size_t need = lead_length(text[0], &value, &smallest);
    if (need == 0 || need > len)
        return 1;

    for (size_t i = 1; i < need; i++) {
        if ((text[i] & 0xC0) != 0x80)
            return 1;
        value = (value << 6) | (text[i] & 0x3Fu);
    }

    bool surrogate = value >= 0xD800 && value <= 0xDFFF;
    if (value < smallest || value > 0x10FFFF || surrogate)
        return 1;
    *cp = value;
    return need;
}

size_t vkl_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Pre-tokens                                                                 */

typedef enum char_class {
    CLASS_LETTER,       /* \p{L} */
    CLASS_NUMBER,       /* \p{N} */
    CLASS_SPACE,        /* \s */
    CLASS_OTHER,        /* everything else, invalid bytes included */
} char_class;

static char_class ascii_class(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return CLASS_LETTER;
    if (c >= '0' && c <= '9')
        return CLASS_NUMBER;
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return CLASS_SPACE;
    return CLASS_OTHER;
}

static char_class class_at(const unsigned char *text, size_t len, size_t pos, size_t *char_len)
{
    if (text[pos] < 0x80) {
        *char_len = 1;
        return ascii_class(text[pos]);
    }

    uint32_t cp = 0;
    *char_len = vkl_utf8_decode(text + pos, len - pos, &cp);
    if (cp == VKL_UTF8_INVALID)
        return CLASS_OTHER;
    if (vkl_unicode_is_letter(cp))
        return CLASS_LETTER;
    if (vkl_unicode_is_number(cp))
        return CLASS_NUMBER;
    return vkl_unicode_is_space(cp) ? CLASS_SPACE : CLASS_OTHER;
}

/* The end of the run of characters of one class from pos; pos if none. */
static size_t run_end(const unsigned char *text, size_t len, size_t pos, char_class cls)
{
    size_t char_len = 0;
    while (pos < len && class_at(text, len, pos, &char_len) == cls)
        pos += char_len;
    return pos;
}

/* 's|'t|'re|'ve|'m|'ll|'d, case-sensitive as in GPT-2. */
static size_t contraction_end(const unsigned char *text, size_t len, size_t start)
{
    static const char *const SUFFIXES[] = { "s", "t", "re", "ve", "m", "ll", "d" };
    if (text[start] != '\'')
        return start;

    size_t left = len - start - 1;
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        size_t suffix_len = strlen(SUFFIXES[i]);
        if (left >= suffix_len && memcmp(text + start + 1, SUFFIXES[i], suffix_len) == 0)
            return start + 1 + suffix_len;
    }
    return start;
}

/* ` ?X+`: an optional plain space, then a run of class X. Without a run the
 * space cannot be taken alone, and X+ cannot start at a space either. */
static size_t prefixed_run_end(const unsigned char *text, size_t len, size_t start,
                               char_class cls)
{
    size_t pos = text[start] == ' ' ? start + 1 : start;
    size_t end = run_end(text, len, pos, cls);
    return end > pos ? end : start;
}

/* \s+(?!\S)|\s+ : the whole run of white space at the end of the text;
 * before anything else, the run less its last character (which then leads
 * the next pre-token), unless that would leave nothing. */
static size_t space_run_end(const unsigned char *text, size_t len, size_t start)
{
    size_t pos = start;
    size_t last = start;
    size_t char_len = 0;
    while (pos < len && class_at(text, len, pos, &char_len) == CLASS_SPACE) {
        last = pos;
        pos += char_len;
    }
    return pos == len || last == start ? pos : last;
}

/* The alternatives in the pattern's order; the first that matches wins.
 * Every character is a letter, number, space or other, so one always does. */
size_t vkl_gpt2_pretoken_end(const unsigned char *text, size_t len, size_t start)
{
    size_t end = contraction_end(text, len, start);
    if (end > start)
        return end;

    static const char_class PREFIXED[] = { CLASS_LETTER, CLASS_NUMBER, CLASS_OTHER };
    for (size_t i = 0; i < sizeof PREFIXED / sizeof PREFIXED[0]; i++) {
        end = prefixed_run_end(text, len, start, PREFIXED[i]);
        if (end > start)
            return end;
    }
    return space_run_end(text, len, start);
}
