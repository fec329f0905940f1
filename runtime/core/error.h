/* Error reporting inside the library: a status code plus a message that the
 * API layer copies onto the handle the caller holds. */
#ifndef VKL_CORE_ERROR_H
#define VKL_CORE_ERROR_H

#include "vkllm.h"

#define VKL_ERROR_MESSAGE_SIZE 512

typedef struct vkl_error {
    vkllm_status status;
    char message[VKL_ERROR_MESSAGE_SIZE];
} vkl_error;

/* Records a failure in err (which may be NULL) and returns status, so that a
 * failing path reads `return vkl_fail(err, VKLLM_ERROR_IO, "...", ...);`. */
vkllm_status vkl_fail(vkl_error *err, vkllm_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to "no error". */
void vkl_error_clear(vkl_error *err);

#endif
