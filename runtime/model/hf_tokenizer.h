/* A Hugging Face tokenizer.json with a BPE model, in one of two flavours:
 *
 * - byte-level (a "ByteLevel" pre-tokenizer or decoder, as GPT-2 has):
 *   VKL_TOKENIZER_BPE, merges by rank, GPT-2's pre-tokenizer pattern;
 * - "byte_fallback": true (Llama's): VKL_TOKENIZER_SPM. SentencePiece
 *   scores are not in the file, so a token scores minus the rank of the
 *   first merge that makes it; the merges then run in the same order as
 *   Hugging Face's wherever each token has one way to be made. A "Prepend"
 *   "▁" normalizer or a Metaspace pre-tokenizer that prepends gives the
 *   space prefix.
 *
 * model.vocab and added_tokens together give the ids (added tokens win on a
 * shared id: special ones become control tokens, others user-defined);
 * ids missing from both are unused tokens. BOS is the token "<s>", else
 * "<|endoftext|>"; EOS "</s>", else "<|endoftext|>" (GPT-2 uses one token
 * for both); the unknown token is model.unk_token. Anything else is
 * refused with VKLLM_ERROR_BAD_TOKENIZER. */
#ifndef VKL_MODEL_HF_TOKENIZER_H
#define VKL_MODEL_HF_TOKENIZER_H

#include <stddef.h>

#include "core/error.h"
#include "text/tokenizer.h"

vkllm_status vkl_hf_tokenizer_load(const char *path, vkl_tokenizer **out, vkl_error *err);

/* The same from the JSON text in memory (len bytes, no NUL needed). */
vkllm_status vkl_hf_tokenizer_parse(const char *json, size_t len, vkl_tokenizer **out,
                                    vkl_error *err);

#endif
