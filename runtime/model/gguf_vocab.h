/* The tokenizer a GGUF file carries in its tokenizer.ggml.* metadata:
 * model "llama" (SentencePiece-style, scores and token types) or "gpt2"
 * (byte-level BPE with merges). Added-BOS policy (add_bos_token) and the
 * pre-tokenizer name (tokenizer.ggml.pre) are not read: gpt2 vocabularies
 * always use GPT-2's own pattern. */
#ifndef VKL_MODEL_GGUF_VOCAB_H
#define VKL_MODEL_GGUF_VOCAB_H

#include "core/error.h"
#include "model/gguf.h"
#include "text/tokenizer.h"

/* Missing or ill-typed keys and special ids outside the vocabulary fail
 * with VKLLM_ERROR_BAD_TOKENIZER. A llama vocabulary without
 * bos/eos/unknown_token_id gets llama's 1, 2 and 0; a gpt2 one none. */
vkllm_status vkl_gguf_vocab_load(const vkl_gguf *g, vkl_tokenizer **out, vkl_error *err);

#endif
