#include "text/utf8_stream.h"

#include <stdbool.h>
#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER. */
static const char REPLACEMENT[] = "\xEF\xBF\xBD";
#define REPLACEMENT_LEN 3

/* The most one step can append: a whole four-byte character. */
#define MAX_STEP_OUTPUT 4

/* Output gathered during one push, so that the callback runs once per push
 * unless a long push fills the buffer. */
typedef struct vkl_utf8_output {
    vkl_utf8_stream *stream;
    char data[512];
    size_t len;
} vkl_utf8_output;

static void flush_output(vkl_utf8_output *out)
{
    if (out->len > 0 && out->stream->emit != NULL)
        out->stream->emit(out->data, out->len, out->stream->user);
    out->len = 0;
}

static void append_output(vkl_utf8_output *out, const void *bytes, size_t len)
{
    if (out->len + MAX_STEP_OUTPUT > sizeof out->data)
        flush_output(out);

    memcpy(out->data + out->len, bytes, len);
    out->len += len;
}

/* The length of the character a lead byte starts, or 0 if the byte cannot
 * start one: continuation bytes, the overlong leads C0 and C1, and F5..FF,
 * which would encode beyond U+10FFFF. */
static size_t sequence_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

/* Whether byte may follow the held-back bytes. The second byte's range
 * depends on the lead, which rules out overlong forms, UTF-16 surrogates
 * and code points above U+10FFFF. */
static bool continues(const unsigned char *pending, size_t pending_len, unsigned char byte)
{
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (pending_len == 1) {
        switch (pending[0]) {
        case 0xE0: low = 0xA0; break;
        case 0xED: high = 0x9F; break;
        case 0xF0: low = 0x90; break;
        case 0xF4: high = 0x8F; break;
        default: break;
        }
    }
    return byte >= low && byte <= high;
}

/* Starts a character with byte: passes ASCII on, holds a lead byte back, and
 * replaces a byte that cannot start anything. */
static void start_character(vkl_utf8_output *out, unsigned char byte)
{
    vkl_utf8_stream *stream = out->stream;
    size_t length = sequence_length(byte);
    if (length == 0)
        append_output(out, REPLACEMENT, REPLACEMENT_LEN);
    else if (length == 1)
        append_output(out, &byte, 1);
    else
        stream->pending[stream->pending_len++] = byte;
}

/* Feeds one byte; returns false when the byte broke the held-back sequence
 * and must be fed again as the start of a new character. */
static bool feed_byte(vkl_utf8_output *out, unsigned char byte)
{
    vkl_utf8_stream *stream = out->stream;
    if (stream->pending_len == 0) {
        start_character(out, byte);
        return true;
    }

    /* One replacement stands for the whole broken prefix. */
    if (!continues(stream->pending, stream->pending_len, byte)) {
        append_output(out, REPLACEMENT, REPLACEMENT_LEN);
        stream->pending_len = 0;
        return false;
    }

    stream->pending[stream->pending_len++] = byte;
    if (stream->pending_len == sequence_length(stream->pending[0])) {
        append_output(out, stream->pending, stream->pending_len);
        stream->pending_len = 0;
    }
    return true;
}

void vkl_utf8_stream_init(vkl_utf8_stream *stream, vkllm_text_fn emit, void *user)
{
    stream->pending_len = 0;
    stream->emit = emit;
    stream->user = user;
}

void vkl_utf8_stream_push(vkl_utf8_stream *stream, const char *bytes, size_t len)
{
    vkl_utf8_output out = { .stream = stream, .len = 0 };
    const unsigned char *input = (const unsigned char *)bytes;

    size_t i = 0;
    while (i < len) {
        if (feed_byte(&out, input[i]))
            i++;
    }
    flush_output(&out);
}

void vkl_utf8_stream_finish(vkl_utf8_stream *stream)
{
    if (stream->pending_len == 0)
        return;

    stream->pending_len = 0;
    if (stream->emit != NULL)
        stream->emit(REPLACEMENT, REPLACEMENT_LEN, stream->user);
}
