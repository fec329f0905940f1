/* What vkllm-gguf does, callable without its command line: convert a
 * llama2.c checkpoint to GGUF, and write random-weight models of real shapes
 * (the shape table lives here so that tests can make the same files). */
#ifndef VKLLM_TOOLS_GGUF_CONVERT_H
#define VKLLM_TOOLS_GGUF_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/model_file.h"

typedef struct gguf_convert_options {
    const char *model_path;     /* llama2.c checkpoint */
    const char *tokenizer_path; /* llama2.c tokenizer, or NULL for no vocabulary */
    const char *out_path;
    vkl_dtype type;             /* 2-D weights whose rows are whole blocks of it */
    vkl_dtype output_type;      /* output.weight, or token_embd when the two are tied */
    bool progress;              /* a line per tensor on stderr */
} gguf_convert_options;

/* Writes the checkpoint as GGUF v3, architecture "llama". */
vkllm_status gguf_convert_llama2c(const gguf_convert_options *o, vkl_error *err);

typedef struct gguf_synth_options {
    const char *shape;          /* a name from the shape table */
    const char *out_path;
    const char *vocab_path;     /* a GGUF whose tokenizer.* entries are copied, or NULL */
    vkl_dtype type;
    vkl_dtype output_type;
    uint64_t seed;
    int32_t layers;             /* 0 keeps the shape's layer count */
    bool progress;
} gguf_synth_options;

/* Writes a model of a known shape with deterministic random weights. */
vkllm_status gguf_synth(const gguf_synth_options *o, vkl_error *err);

/* One line per shape ("name  arch, dim ..."), for --help. */
void gguf_synth_describe_shapes(char *out, size_t size);

#endif
