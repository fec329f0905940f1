/* Finding and reading a tokenizer in any of the forms vkllm knows: a GGUF
 * file's vocabulary, a Hugging Face tokenizer.json (or the folder holding
 * one), or a llama2.c tokenizer file. */
#ifndef VKL_MODEL_TOKENIZER_FILE_H
#define VKL_MODEL_TOKENIZER_FILE_H

#include "core/error.h"
#include "text/tokenizer.h"

/* vocab_size is what a llama2.c tokenizer must hold (its format does not
 * say); 0 reads every token the file has. Other formats carry their size. */
vkllm_status vkl_tokenizer_open(const char *path, int32_t vocab_size, vkl_tokenizer **out,
                                vkl_error *err);

#endif
