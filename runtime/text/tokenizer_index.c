/* The tokenizer's two hash tables: token text -> id, and pair of ids ->
 * merge. Both use open addressing with linear probing at a load of at most
 * one half, built once at create and read-only afterwards. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: short keys, and good enough spread for linear probing. */
static uint64_t hash_bytes(const char *bytes, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)bytes[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* splitmix64's finalizer: ids are small and sequential, so mix them well. */
static uint64_t hash_pair(int32_t left, int32_t right)
{
    uint64_t x = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Twice the entries, rounded up to a power of two. */
static size_t slot_count_for(size_t entries)
{
    size_t slots = 16;
    while (slots < 2 * entries)
        slots *= 2;
    return slots;
}

/* Tokens that text can become; see vkl_text_index. llama2.c's format has
 * no types and llama2.c looks every token up, its byte tokens included. */
static bool is_matchable(const vkl_tokenizer *tok, int32_t type)
{
    if (tok->llama2c)
        return true;
    return type != VKL_TOKEN_CONTROL && type != VKL_TOKEN_UNKNOWN &&
           type != VKL_TOKEN_UNUSED && type != VKL_TOKEN_BYTE;
}

static bool text_equals(const vkl_tokenizer *tok, int32_t id, const char *bytes, size_t len)
{
    const vkl_token_entry *entry = &tok->tokens[id];
    return entry->text_len == len && memcmp(tok->texts + entry->text, bytes, len) == 0;
}

/* The slot holding this text, or the empty slot where it would go. */
static size_t text_slot(const vkl_tokenizer *tok, const char *bytes, size_t len)
{
    const vkl_text_index *index = &tok->text_index;
    size_t slot = (size_t)hash_bytes(bytes, len) & index->mask;
    while (index->slots[slot] >= 0 && !text_equals(tok, index->slots[slot], bytes, len))
        slot = (slot + 1) & index->mask;
    return slot;
}

vkllm_status vkl_text_index_build(vkl_tokenizer *tok, vkl_error *err)
{
    size_t slots = slot_count_for((size_t)tok->count);
    tok->text_index.slots = malloc(slots * sizeof *tok->text_index.slots);
    if (tok->text_index.slots == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for a token index");
    memset(tok->text_index.slots, 0xFF, slots * sizeof *tok->text_index.slots);
    tok->text_index.mask = slots - 1;

    /* In id order, and a text already there stays: duplicates give the
     * lowest id, as llama2.c's sorted lookup does. */
    for (int32_t id = 0; id < tok->count; id++) {
        const vkl_token_entry *entry = &tok->tokens[id];
        if (!is_matchable(tok, entry->type))
            continue;

        size_t slot = text_slot(tok, tok->texts + entry->text, entry->text_len);
        if (tok->text_index.slots[slot] < 0)
            tok->text_index.slots[slot] = id;
    }
    return VKLLM_OK;
}

int32_t vkl_text_index_find(const vkl_tokenizer *tok, const char *bytes, size_t len)
{
    return tok->text_index.slots[text_slot(tok, bytes, len)];
}

size_t vkl_longest_merge(const vkl_vocab_source *source)
{
    size_t longest = 1;
    for (int32_t rank = 0; rank < source->merge_count; rank++) {
        if (source->merge_lengths[rank] > longest)
            longest = source->merge_lengths[rank];
    }
    return longest;
}

bool vkl_split_merge(const vkl_tokenizer *tok, const char *merge, size_t len, char *buffer,
                     int32_t *left, int32_t *right, int32_t *result)
{
    for (size_t space = 0; space < len; space++) {
        if (merge[space] != ' ')
            continue;

        *left = vkl_text_index_find(tok, merge, space);
        *right = vkl_text_index_find(tok, merge + space + 1, len - space - 1);
        if (*left < 0 || *right < 0)
            continue;

        memcpy(buffer, merge, space);
        memcpy(buffer + space, merge + space + 1, len - space - 1);
        *result = vkl_text_index_find(tok, buffer, len - 1);
        if (*result >= 0)
            return true;
    }
    return false;
}

static size_t merge_slot(const vkl_merge_index *index, int32_t left, int32_t right)
{
    size_t slot = (size_t)hash_pair(left, right) & index->mask;
    while (index->slots[slot].left >= 0 &&
           (index->slots[slot].left != left || index->slots[slot].right != right))
        slot = (slot + 1) & index->mask;
    return slot;
}

/* In rank order, so that a pair listed twice keeps its lowest rank. */
static void insert_merges(vkl_tokenizer *tok, const vkl_vocab_source *source, char *buffer)
{
    for (int32_t rank = 0; rank < source->merge_count; rank++) {
        vkl_merge_rule rule = { .rank = rank };
        if (!vkl_split_merge(tok, source->merges[rank], source->merge_lengths[rank], buffer,
                             &rule.left, &rule.right, &rule.result))
            continue;

        vkl_merge_rule *slot = &tok->merge_index.slots[merge_slot(&tok->merge_index,
                                                                  rule.left, rule.right)];
        if (slot->left < 0)
            *slot = rule;
    }
}

/* Merges whose parts or result are no tokens can never apply to ids, so
 * they are left out. */
vkllm_status vkl_merge_index_build(vkl_tokenizer *tok, const vkl_vocab_source *source,
                                   vkl_error *err)
{
    size_t slots = slot_count_for((size_t)source->merge_count);
    tok->merge_index.slots = malloc(slots * sizeof *tok->merge_index.slots);
    char *buffer = malloc(vkl_longest_merge(source));
    if (tok->merge_index.slots == NULL || buffer == NULL) {
        free(buffer);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for %d merges",
                        source->merge_count);
    }
    memset(tok->merge_index.slots, 0xFF, slots * sizeof *tok->merge_index.slots);
    tok->merge_index.mask = slots - 1;

    insert_merges(tok, source, buffer);
    free(buffer);
    return VKLLM_OK;
}

const vkl_merge_rule *vkl_merge_index_find(const vkl_tokenizer *tok, int32_t left,
                                           int32_t right)
{
    const vkl_merge_index *index = &tok->merge_index;
    if (index->slots == NULL)
        return NULL;

    const vkl_merge_rule *rule = &index->slots[merge_slot(index, left, right)];
    return rule->left >= 0 ? rule : NULL;
}
