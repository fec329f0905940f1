/* Text <-> token ids for two kinds of vocabulary: SentencePiece-style BPE
 * (llama2.c's tokenizer files, llama's GGUF and Hugging Face vocabularies:
 * merges by score, byte fallback) and GPT-2's byte-level BPE (merges by
 * rank). Special tokens written in the text are encoded as plain text. */
#ifndef VKL_TEXT_TOKENIZER_H
#define VKL_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct vkl_tokenizer vkl_tokenizer;

typedef enum vkl_tokenizer_kind {
    VKL_TOKENIZER_SPM = 0,      /* SentencePiece-style: merges by score, byte fallback */
    VKL_TOKENIZER_BPE = 1,      /* GPT-2 byte-level BPE: merges by rank */
} vkl_tokenizer_kind;

/* Token types as GGUF's tokenizer.ggml.token_type numbers them. */
enum {
    VKL_TOKEN_NORMAL = 1,
    VKL_TOKEN_UNKNOWN = 2,
    VKL_TOKEN_CONTROL = 3,
    VKL_TOKEN_USER_DEFINED = 4,
    VKL_TOKEN_UNUSED = 5,
    VKL_TOKEN_BYTE = 6,
};

/* A vocabulary as a file format hands it over (GGUF metadata, a Hugging
 * Face tokenizer.json): the tokenizer copies what it needs, so the source
 * may go away after vkl_tokenizer_create. */
typedef struct vkl_vocab_source {
    vkl_tokenizer_kind kind;
    int32_t count;
    const char *const *texts;       /* [count] token text, as the format spells it */
    const size_t *lengths;          /* [count] bytes of each text */
    const float *scores;            /* [count] SPM merge scores; NULL for BPE, or
                                       for SPM to score by merge rank (below) */
    const int32_t *types;           /* [count] token types, or NULL: all normal,
                                       but SPM "<0xHH>" texts are byte tokens */
    int32_t merge_count;            /* merges in rank order, "left right"; for SPM
                                       without scores a token made by merge r
                                       scores -r, one no merge makes never merges */
    const char *const *merges;
    const size_t *merge_lengths;
    int32_t bos;                    /* -1 when the vocabulary has none */
    int32_t eos;
    int32_t unk;
    bool add_space_prefix;          /* SPM: a space in front of the text */
} vkl_vocab_source;

vkllm_status vkl_tokenizer_create(const vkl_vocab_source *source, vkl_tokenizer **out,
                                  vkl_error *err);

/* Reads a llama2.c tokenizer: int32 max_token_length, then per token a
 * float32 score, an int32 byte length and the bytes. vocab_size is how many
 * tokens the file must hold (the model says so; the format does not), or 0
 * for every whole token record in the file. */
vkllm_status vkl_tokenizer_load_llama2c(const char *path, int32_t vocab_size,
                                        vkl_tokenizer **out, vkl_error *err);
void vkl_tokenizer_free(vkl_tokenizer *tok);

int32_t vkl_tokenizer_vocab_size(const vkl_tokenizer *tok);
int32_t vkl_tokenizer_bos(const vkl_tokenizer *tok);
int32_t vkl_tokenizer_eos(const vkl_tokenizer *tok);

/* Which kind the vocabulary turned out to be (a tokenizer.json decides). */
vkl_tokenizer_kind vkl_tokenizer_kind_of(const vkl_tokenizer *tok);

/* Encodes text. SPM, as llama2.c does: spaces as "▁" (llama2.c's files keep
 * plain spaces), a space in front of non-empty text if the vocabulary says
 * so, each UTF-8 character looked up whole or spelled as byte tokens, then
 * the highest-scoring adjacent merges until none applies. BPE: GPT-2's
 * pre-tokens, each byte as its character, then merges by rank within each
 * pre-token. BOS goes first when add_bos is set and the vocabulary has one.
 * *count receives the number of ids the text needs (BOS included); at most
 * capacity are written, and VKLLM_ERROR_INVALID_ARGUMENT is returned when
 * they do not fit. */
vkllm_status vkl_tokenizer_encode(const vkl_tokenizer *tok, const char *text, size_t len,
                                  bool add_bos, int32_t *ids, size_t capacity, size_t *count,
                                  vkl_error *err);

/* The bytes of token id after token prev: "▁" as a space, byte tokens as
 * their byte, control tokens empty; for SPM the prefix space of the first
 * piece after BOS is dropped. NULL for an id out of range. */
const char *vkl_tokenizer_piece(const vkl_tokenizer *tok, int32_t prev, int32_t id,
                                size_t *len);

#endif
