#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

void vkl_log_raw(const vkl_logger *logger, vkllm_log_level level, vkllm_log_source source,
                 const char *message)
{
    if (logger == NULL || logger->fn == NULL || level < logger->min_level)
        return;
    logger->fn(level, source, message, logger->user);
}

void vkl_log(const vkl_logger *logger, vkllm_log_level level, const char *format, ...)
{
    if (logger == NULL || logger->fn == NULL || level < logger->min_level)
        return;

    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    logger->fn(level, VKLLM_LOG_SOURCE_LIBRARY, message, logger->user);
}
