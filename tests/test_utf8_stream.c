/* The UTF-8 stream: whole characters out, broken bytes as U+FFFD. */
#include <string.h>

#include "test.h"
#include "text/utf8_stream.h"

#define FFFD "\xEF\xBF\xBD"

/* Everything the stream emitted, and how many callbacks it took. */
typedef struct collected {
    char text[1024];
    size_t len;
    int calls;
    size_t last_call_len;
} collected;

static void collect(const char *utf8, size_t len, void *user)
{
    collected *out = user;
    if (out->len + len <= sizeof out->text) {
        memcpy(out->text + out->len, utf8, len);
        out->len += len;
    }
    out->calls++;
    out->last_call_len = len;
}

static void push_string(vkl_utf8_stream *stream, const char *bytes)
{
    vkl_utf8_stream_push(stream, bytes, strlen(bytes));
}

static bool collected_equals(const collected *out, const char *expected)
{
    return out->len == strlen(expected) && memcmp(out->text, expected, out->len) == 0;
}

static void test_ascii_passes_through_in_one_call(void)
{
    collected out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, collect, &out);

    push_string(&stream, "Hello, world!\n");
    CHECK(collected_equals(&out, "Hello, world!\n"));
    CHECK(out.calls == 1);

    vkl_utf8_stream_finish(&stream);
    CHECK(out.calls == 1);
}

static void test_three_byte_character_split_in_three(void)
{
    collected out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, collect, &out);

    /* U+65E5, a CJK character, one byte per push. */
    push_string(&stream, "\xE6");
    push_string(&stream, "\x97");
    CHECK(out.calls == 0);

    push_string(&stream, "\xA5");
    CHECK(out.calls == 1);
    CHECK(out.last_call_len == 3);
    CHECK(collected_equals(&out, "\xE6\x97\xA5"));
}

static void test_emoji_split_across_pushes(void)
{
    collected out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, collect, &out);

    /* U+1F642 after some ASCII: the ASCII goes out at once, the emoji waits. */
    push_string(&stream, "hi \xF0\x9F");
    CHECK(collected_equals(&out, "hi "));

    push_string(&stream, "\x99");
    CHECK(out.calls == 1);

    push_string(&stream, "\x82!");
    CHECK(collected_equals(&out, "hi \xF0\x9F\x99\x82!"));
    CHECK(out.calls == 2);
}

static void test_finish_replaces_incomplete_tail(void)
{
    collected out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, collect, &out);

    push_string(&stream, "ab\xE6\x97");
    CHECK(collected_equals(&out, "ab"));

    vkl_utf8_stream_finish(&stream);
    CHECK(collected_equals(&out, "ab" FFFD));

    /* The stream starts over clean after finish. */
    push_string(&stream, "c");
    vkl_utf8_stream_finish(&stream);
    CHECK(collected_equals(&out, "ab" FFFD "c"));
}

typedef struct stream_case {
    const char *input;
    const char *expected;
} stream_case;

static const stream_case STREAM_CASES[] = {
    { "", "" },
    { "plain", "plain" },
    { "caf\xC3\xA9", "caf\xC3\xA9" },
    { "\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC" },
    { "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF" },          /* U+10FFFF, the last one */
    { "\x80", FFFD },                                    /* stray continuation */
    { "a\x80\xBF" "b", "a" FFFD FFFD "b" },
    { "\xC0\xAF", FFFD FFFD },                           /* overlong '/' */
    { "\xC1\xBF", FFFD FFFD },
    { "\xF5\x80\x80\x80", FFFD FFFD FFFD FFFD },         /* beyond U+10FFFF */
    { "\xFF\xFE", FFFD FFFD },
    { "\xC3" "A", FFFD "A" },                            /* lead, then no continuation */
    { "\xE6\x97" "A", FFFD "A" },                        /* one FFFD for the prefix */
    { "\xE6\xE6\x97\xA5", FFFD "\xE6\x97\xA5" },         /* the breaking byte starts anew */
    { "\xE0\x80\x80", FFFD FFFD FFFD },                  /* overlong three-byte form */
    { "\xED\xA0\x80", FFFD FFFD FFFD },                  /* a UTF-16 surrogate */
    { "\xF0\x80\x80\x80", FFFD FFFD FFFD FFFD },         /* overlong four-byte form */
    { "\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD },         /* above U+10FFFF */
    { "x\xF0\x9F\x99", "x" FFFD },                       /* tail flushed by finish */
};

/* Feeds a case whole, then byte by byte; both must give the same text. */
static void check_stream_case(const stream_case *test_case, size_t chunk)
{
    collected out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, collect, &out);

    size_t len = strlen(test_case->input);
    for (size_t start = 0; start < len; start += chunk) {
        size_t piece = len - start < chunk ? len - start : chunk;
        vkl_utf8_stream_push(&stream, test_case->input + start, piece);
    }
    vkl_utf8_stream_finish(&stream);

    CHECK_MSG(collected_equals(&out, test_case->expected), "case %zu, chunk %zu",
              (size_t)(test_case - STREAM_CASES), chunk);
}

static void test_concatenated_output_matches(void)
{
    size_t case_count = sizeof STREAM_CASES / sizeof STREAM_CASES[0];
    for (size_t i = 0; i < case_count; i++) {
        check_stream_case(&STREAM_CASES[i], 1);
        check_stream_case(&STREAM_CASES[i], 2);
        check_stream_case(&STREAM_CASES[i], 64);
    }
}

/* Counts bytes instead of keeping them, and notes whether any callback
 * ended inside a character: the input is three-byte characters, then 'z'. */
typedef struct counted {
    size_t total;
    int calls;
    bool split_character;
} counted;

static void count_bytes(const char *utf8, size_t len, void *user)
{
    counted *out = user;
    if (len % 3 != 0 && utf8[len - 1] != 'z')
        out->split_character = true;
    out->total += len;
    out->calls++;
}

static void test_long_push_is_split_on_characters(void)
{
    static char input[4000];
    for (size_t i = 0; i < 3999; i += 3)
        memcpy(input + i, "\xE6\x97\xA5", 3);
    input[3999] = 'z';

    counted out = { 0 };
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, count_bytes, &out);
    vkl_utf8_stream_push(&stream, input, sizeof input);

    CHECK(out.total == sizeof input);
    CHECK(out.calls > 1);
    CHECK(!out.split_character);
}

static void test_no_callback_is_allowed(void)
{
    vkl_utf8_stream stream;
    vkl_utf8_stream_init(&stream, NULL, NULL);
    push_string(&stream, "abc\xE6\x97");
    vkl_utf8_stream_finish(&stream);
    CHECK(stream.pending_len == 0);
}

int main(void)
{
    RUN(test_ascii_passes_through_in_one_call);
    RUN(test_three_byte_character_split_in_three);
    RUN(test_emoji_split_across_pushes);
    RUN(test_finish_replaces_incomplete_tail);
    RUN(test_concatenated_output_matches);
    RUN(test_long_push_is_split_on_characters);
    RUN(test_no_callback_is_allowed);
    TEST_MAIN_END();
}
