/* SentencePiece-style encoding, as llama2.c and llama.cpp do it: spaces
 * escaped as "▁", a prefix space, one symbol per character (or per byte for
 * a character the vocabulary lacks), then merges by score. */
#include "text/tokenizer_internal.h"

#include <string.h>

#include "text/gpt2.h"

/* llama2.c's rule: the byte and the continuation bytes after it, four at
 * most. It does not check the lead byte, and neither may we, or ids would
 * differ from llama2.c's. */
static size_t llama2c_char_length(const unsigned char *text, size_t len, size_t start)
{
    size_t end = start + 1;
    while (end < len && end - start < 4 && (text[end] & 0xC0) == 0x80)
        end++;
    return end - start;
}

/* Elsewhere a character is a whole valid UTF-8 sequence, and any other byte
 * stands alone (and so falls back to its byte token). */
static size_t char_length(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                          size_t start)
{
    if (tok->llama2c)
        return llama2c_char_length(text, len, start);

    uint32_t cp = 0;
    return vkl_utf8_decode(text + start, len - start, &cp);
}

static void push_characters(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                            vkl_encode_work *work)
{
    size_t start = 0;
    while (start < len) {
        size_t char_len = char_length(tok, text, len, start);
        int32_t id = vkl_text_index_find(tok, (const char *)text + start, char_len);
        if (id >= 0) {
            vkl_push_symbol(work, id);
        } else {
            for (size_t i = 0; i < char_len; i++)
                vkl_push_byte(tok, work, text[start + i]);
        }
        start += char_len;
    }
}

/* llama2.c pushes its space piece when it has one and nothing otherwise; a
 * "▁" vocabulary without "▁" spells the prefix in bytes, as llama.cpp does. */
static void push_prefix(const vkl_tokenizer *tok, vkl_encode_work *work)
{
    if (tok->space >= 0) {
        vkl_push_symbol(work, tok->space);
    } else if (!tok->llama2c) {
        for (size_t i = 0; i < VKL_META_SPACE_LEN; i++)
            vkl_push_byte(tok, work, (unsigned char)VKL_META_SPACE[i]);
    }
}

static size_t escape_spaces(const unsigned char *text, size_t len, unsigned char *out)
{
    size_t out_len = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(out + out_len, VKL_META_SPACE, VKL_META_SPACE_LEN);
            out_len += VKL_META_SPACE_LEN;
        } else {
            out[out_len++] = text[i];
        }
    }
    return out_len;
}

size_t vkl_spm_encode(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                      vkl_encode_work *work, int32_t *ids)
{
    work->symbol_count = 0;
    if (len > 0 && tok->add_space_prefix)
        push_prefix(tok, work);

    /* The prefix stays a symbol of its own: llama2.c's character rule would
     * otherwise join it to continuation bytes at the start of the text. */
    if (tok->llama2c)
        push_characters(tok, text, len, work);
    else
        push_characters(tok, work->text, escape_spaces(text, len, work->text), work);
    return vkl_merge_symbols(tok, work, ids);
}
