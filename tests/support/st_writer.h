/* Writes safetensors files and Hugging Face folders for the tests. */
#ifndef VKLLM_ST_WRITER_H
#define VKLLM_ST_WRITER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct st_entry {
    const char *name;
    const char *dtype;          /* "F32", "F16", "BF16" */
    int n_dims;
    int64_t shape[4];
    const void *data;
    uint64_t bytes;
} st_entry;

/* Writes entries (in order) as one safetensors file; 0 on success. */
int st_write(const char *path, const st_entry *entries, int count);

#endif
