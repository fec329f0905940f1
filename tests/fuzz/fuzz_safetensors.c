/* A libFuzzer target for the safetensors header parser: any bytes must
 * parse or be refused with a message, and every tensor found must lie
 * inside the input with the size its shape implies. */
#include <stdint.h>
#include <stdlib.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkl_safetensors *st;
    vkl_error err = {0};
    if (vkl_safetensors_parse(data, size, "fuzz input", &st, &err) != VKLLM_OK) {
        if (err.message[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < st->count; i++) {
        const vkl_st_tensor *t = &st->tensors[i];
        const uint8_t *first = t->data;
        if (first < data || first + t->bytes > data + size)
            abort();
        if (vkl_safetensors_find(st, t->name) == NULL)
            abort();
    }
    vkl_safetensors_free(st);
    return 0;
}
