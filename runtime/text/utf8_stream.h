/* Detokenizing into whole characters: token pieces may split a UTF-8
 * character (byte-fallback tokens do), so bytes are held back until the
 * character they belong to is complete. Bytes that can never form a valid
 * character are passed on as U+FFFD. */
#ifndef VKL_TEXT_UTF8_STREAM_H
#define VKL_TEXT_UTF8_STREAM_H

#include <stddef.h>

#include "vkllm.h"

typedef struct vkl_utf8_stream {
    unsigned char pending[4];
    size_t pending_len;
    vkllm_text_fn emit;
    void *user;
} vkl_utf8_stream;

void vkl_utf8_stream_init(vkl_utf8_stream *stream, vkllm_text_fn emit, void *user);

/* Feeds bytes; emits every complete character (in as few calls as it can). */
void vkl_utf8_stream_push(vkl_utf8_stream *stream, const char *bytes, size_t len);

/* Emits what is still held back (as U+FFFD) at the end of the text. */
void vkl_utf8_stream_finish(vkl_utf8_stream *stream);

#endif
