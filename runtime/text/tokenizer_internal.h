/* What the tokenizer's source files share: the tokenizer itself, its lookup
 * tables and the merge loop both kinds of BPE run. Private to runtime/text. */
#ifndef VKL_TEXT_TOKENIZER_INTERNAL_H
#define VKL_TEXT_TOKENIZER_INTERNAL_H

#include "text/tokenizer.h"

/* SentencePiece's space, U+2581 "▁". */
#define VKL_META_SPACE "\xE2\x96\x81"
#define VKL_META_SPACE_LEN 3

/* llama2.c only merges pairs scoring above this, and SPM does the same. */
#define VKL_NO_MERGE_SCORE (-1e10f)

/* Bounds no real vocabulary comes near; beyond them a source is hostile.
 * Ranks stay below 2^24 so that a float holds every one exactly. */
#define VKL_MAX_TOKENS (1 << 24)
#define VKL_MAX_MERGES (1 << 24)
#define VKL_MAX_TOKEN_TEXT (1 << 20)

/* Text longer than this is refused, so that symbol indices fit an int32. */
#define VKL_MAX_ENCODE_BYTES ((size_t)1 << 28)

typedef struct vkl_token_entry {
    size_t text;            /* offset of the text in tok->texts */
    size_t piece;           /* offset of the decoded bytes in tok->pieces */
    uint32_t text_len;
    uint32_t piece_len;
    float score;
    int32_t type;           /* VKL_TOKEN_*; BYTE also for llama2.c's "<0xHH>" */
} vkl_token_entry;

/* Open addressing from a token text to the lowest id spelling it. Only
 * tokens that text can turn into are there: not control, unknown, unused or
 * byte tokens (SentencePiece never produces those by merging), except in
 * llama2.c's untyped vocabularies, where llama2.c looks up every token. */
typedef struct vkl_text_index {
    int32_t *slots;         /* ids; -1 marks an empty slot */
    size_t mask;            /* slot count - 1, a power of two */
} vkl_text_index;

typedef struct vkl_merge_rule {
    int32_t left;           /* -1 marks an empty slot */
    int32_t right;
    int32_t rank;
    int32_t result;
} vkl_merge_rule;

/* Open addressing from a pair of ids to their merge of lowest rank. */
typedef struct vkl_merge_index {
    vkl_merge_rule *slots;
    size_t mask;
} vkl_merge_index;

struct vkl_tokenizer {
    vkl_tokenizer_kind kind;
    bool llama2c;           /* plain spaces and llama2.c's character rule */
    bool add_space_prefix;
    int32_t count;
    int32_t bos;
    int32_t eos;
    int32_t unk;
    int32_t space;          /* SPM: the piece the space prefix uses, or -1 */
    size_t max_text_len;
    vkl_token_entry *tokens;    /* [count] */
    char *texts;            /* every token text, back to back */
    char *pieces;           /* every decoded piece, back to back */
    vkl_text_index text_index;
    vkl_merge_index merge_index;
    int32_t byte_tokens[256];   /* SPM: "<0xHH>"; BPE: the byte's character; or -1 */
};

/* Builds a tokenizer from a source that passed validation; llama2c selects
 * llama2.c's quirks (the llama2.c loader is the only caller that sets it). */
vkllm_status vkl_tokenizer_build(const vkl_vocab_source *source, bool llama2c,
                                 vkl_tokenizer **out, vkl_error *err);

static inline const char *vkl_token_text(const vkl_tokenizer *tok, int32_t id)
{
    return tok->texts + tok->tokens[id].text;
}

/* Lookup tables (tokenizer_index.c). */
vkllm_status vkl_text_index_build(vkl_tokenizer *tok, vkl_error *err);
int32_t vkl_text_index_find(const vkl_tokenizer *tok, const char *bytes, size_t len);
vkllm_status vkl_merge_index_build(vkl_tokenizer *tok, const vkl_vocab_source *source,
                                   vkl_error *err);
const vkl_merge_rule *vkl_merge_index_find(const vkl_tokenizer *tok, int32_t left,
                                           int32_t right);

/* The length of the longest merge text (at least 1, a buffer size). */
size_t vkl_longest_merge(const vkl_vocab_source *source);

/* Splits a "left right" merge at the space that leaves two tokens whose
 * concatenation is a token too; false when no space does. buffer holds
 * len bytes. */
bool vkl_split_merge(const vkl_tokenizer *tok, const char *merge, size_t len, char *buffer,
                     int32_t *left, int32_t *right, int32_t *result);

/* Scratch for one encode call, sized by vkl_encode_work_create. */
typedef struct vkl_symbol {
    int32_t id;
    int32_t prev;           /* symbol index, -1 at the start */
    int32_t next;           /* symbol index, -1 at the end */
} vkl_symbol;

typedef struct vkl_candidate {
    float priority;         /* higher merges first */
    int32_t left;           /* symbol indices */
    int32_t right;
    int32_t left_id;        /* the ids when queued: a change makes it stale */
    int32_t right_id;
    int32_t result;
} vkl_candidate;

typedef struct vkl_encode_work {
    int32_t *ids;           /* the result, BOS included */
    vkl_symbol *symbols;
    size_t symbol_count;
    vkl_candidate *heap;
    size_t heap_len;
    unsigned char *text;    /* SPM: the text with its spaces escaped */
    char *pair;             /* SPM: two token texts side by side */
} vkl_encode_work;

vkllm_status vkl_encode_work_create(const vkl_tokenizer *tok, size_t text_len,
                                    vkl_encode_work *work, vkl_error *err);
void vkl_encode_work_free(vkl_encode_work *work);

/* Appends a symbol for id to work->symbols. */
void vkl_push_symbol(vkl_encode_work *work, int32_t id);

/* Appends the symbol of a byte: tok->byte_tokens, else unk, else none. */
void vkl_push_byte(const vkl_tokenizer *tok, vkl_encode_work *work, unsigned char byte);

/* Merges work's symbols until no adjacent pair merges, then writes the ids
 * that are left to ids and returns how many (tokenizer_merge.c). */
size_t vkl_merge_symbols(const vkl_tokenizer *tok, vkl_encode_work *work, int32_t *ids);

/* The two kinds' encoders: they fill ids and return the count. */
size_t vkl_spm_encode(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                      vkl_encode_work *work, int32_t *ids);
size_t vkl_bpe_encode(const vkl_tokenizer *tok, const unsigned char *text, size_t len,
                      vkl_encode_work *work, int32_t *ids);

#endif
