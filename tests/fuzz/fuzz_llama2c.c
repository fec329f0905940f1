/* A libFuzzer target for the llama2.c checkpoint reader: any bytes must be
 * read or refused with a message, and every tensor of what is read must lie
 * inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "model/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct bounds {
    const uint8_t *begin;
    const uint8_t *end;
} bounds;

static void check_inside(const char *name, const vkl_host_tensor *t, void *user)
{
    const bounds *b = user;
    const uint8_t *first = t->data;
    if (first < b->begin || first + vkl_host_tensor_bytes(t) > b->end)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkl_model_file *file;
    vkl_error err = {0};
    if (vkl_model_file_parse_llama2c(data, size, "fuzz input", &file, &err) != VKLLM_OK) {
        if (err.message[0] == '\0')
            abort();
        return 0;
    }
    bounds b = {data, data + size};
    vkl_model_file_for_each_tensor(file, check_inside, &b);
    vkl_model_file_close(file);
    return 0;
}
