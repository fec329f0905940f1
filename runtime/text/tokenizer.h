/* SentencePiece-style BPE over a llama2.c tokenizer file: a vocabulary of
 * pieces with merge scores, 256 byte-fallback tokens, BOS and EOS. */
#ifndef VKL_TEXT_TOKENIZER_H
#define VKL_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct vkl_tokenizer vkl_tokenizer;

/* Reads a llama2.c tokenizer: int32 max_token_length, then per token a
 * float32 score, an int32 byte length and the bytes. vocab_size is how many
 * tokens the file must hold (the model says so; the format does not). */
vkllm_status vkl_tokenizer_load_llama2c(const char *path, int32_t vocab_size,
                                        vkl_tokenizer **out, vkl_error *err);
void vkl_tokenizer_free(vkl_tokenizer *tok);

int32_t vkl_tokenizer_vocab_size(const vkl_tokenizer *tok);
int32_t vkl_tokenizer_bos(const vkl_tokenizer *tok);
int32_t vkl_tokenizer_eos(const vkl_tokenizer *tok);

/* Encodes text as llama2.c does: a space in front of non-empty text, each
 * UTF-8 character looked up whole or spelled as byte tokens, then the
 * highest-scoring adjacent merges until none applies. *count receives the
 * number of ids the text needs (BOS included); at most capacity are written,
 * and VKLLM_ERROR_INVALID_ARGUMENT is returned when they do not fit. */
vkllm_status vkl_tokenizer_encode(const vkl_tokenizer *tok, const char *text, size_t len,
                                  bool add_bos, int32_t *ids, size_t capacity, size_t *count,
                                  vkl_error *err);

/* The bytes of token id after token prev; NULL for an id out of range. */
const char *vkl_tokenizer_piece(const vkl_tokenizer *tok, int32_t prev, int32_t id,
                                size_t *len);

#endif
