#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

vkllm_status vkl_fail(vkl_error *err, vkllm_status status, const char *format, ...)
{
    if (err == NULL)
        return status;

    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    err->status = status;
    return status;
}

void vkl_error_clear(vkl_error *err)
{
    err->status = VKLLM_OK;
    err->message[0] = '\0';
}
