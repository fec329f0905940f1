/* GPT-2 byte-level BPE: the text cut into pre-tokens, each pre-token one
 * symbol per byte (the token of the byte's character), then merges by rank
 * within the pre-token. */
#include "text/tokenizer_internal.h"

#include "text/gpt2.h"

static size_t encode_pretoken(const vkl_tokenizer *tok, const unsigned char *bytes, size_t len,
                              vkl_encode_work *work, int32_t *ids)
{
    work->symbol_count = 0;
    for (size_t i = 0; i < len; i++)
        vkl_push_byte(tok, work, bytes[i]);
    return vkl_merge_symbols(tok, work, ids);
}

size_t vkl_bpe_encode(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                      vkl_encode_work *work, int32_t *ids)
{
    size_t count = 0;
    size_t start = 0;
    while (start < len) {
        size_t end = vkl_gpt2_pretoken_end(text, len, start);
        count += encode_pretoken(tok, text + start, end - start, work, ids + count);
        start = end;
    }
    return count;
}
