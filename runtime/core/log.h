/* The library's one log sink: messages go to the embedder's callback, never
 * to stdout or stderr. */
#ifndef VKL_CORE_LOG_H
#define VKL_CORE_LOG_H

#include "vkllm.h"

typedef struct vkl_logger {
    vkllm_log_fn fn;
    void *user;
    vkllm_log_level min_level;
} vkl_logger;

void vkl_log(const vkl_logger *logger, vkllm_log_level level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Passes a message on unformatted, tagged with where it came from. */
void vkl_log_raw(const vkl_logger *logger, vkllm_log_level level, vkllm_log_source source,
                 const char *message);

#define VKL_DEBUG(lg, ...) vkl_log((lg), VKLLM_LOG_DEBUG, __VA_ARGS__)
#define VKL_INFO(lg, ...) vkl_log((lg), VKLLM_LOG_INFO, __VA_ARGS__)
#define VKL_WARN(lg, ...) vkl_log((lg), VKLLM_LOG_WARN, __VA_ARGS__)

#endif
