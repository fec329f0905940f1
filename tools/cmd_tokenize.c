/* vkllm tokenize: the tokens a model's tokenizer gives for a text, from
 * -p, a file (-f) or standard input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct tokenize_options {
    const char *model;
    const char *tokenizer;
    const char *text;
    const char *file;
    bool ids_only;
    bool bos;
} tokenize_options;

static bool parse(cli_args *a, tokenize_options *o)
{
    const char *arg;
    while (cli_next(a, &arg)) {
        if (!strcmp(arg, "-m") || !strcmp(arg, "--model"))
            o->model = cli_value(a, arg);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer"))
            o->tokenizer = cli_value(a, arg);
        else if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt"))
            o->text = cli_value(a, arg);
        else if (!strcmp(arg, "-f") || !strcmp(arg, "--file"))
            o->file = cli_value(a, arg);
        else if (!strcmp(arg, "--ids"))
            o->ids_only = true;
        else if (!strcmp(arg, "--bos"))
            o->bos = true;
        else
            cli_fail(a, "unknown option '%s' (see 'vkllm --help')", arg);
    }
    if (a->error == NULL && o->model == NULL && o->tokenizer == NULL)
        cli_fail(a, "give a model (-m) or a tokenizer (-z)");
    if (a->error == NULL && o->text != NULL && o->file != NULL)
        cli_fail(a, "give the text with -p or -f, not both");
    return a->error == NULL;
}

#define MAX_TEXT_BYTES ((size_t)64 << 20)

/* The whole of a stream, up to MAX_TEXT_BYTES; NULL (with *len 0) when it
 * cannot be read or is longer. */
static char *read_all(FILE *f, size_t *len)
{
    size_t capacity = 4096;
    char *text = malloc(capacity);
    *len = 0;
    while (text != NULL && !feof(f) && !ferror(f)) {
        if (*len == MAX_TEXT_BYTES) {
            free(text);
            return NULL;
        }
        if (*len == capacity) {
            char *grown = realloc(text, capacity *= 2);
            if (grown == NULL)
                free(text);
            text = grown;
            if (text == NULL)
                break;
        }
        *len += fread(text + *len, 1, capacity - *len, f);
    }
    if (text != NULL && ferror(f)) {
        free(text);
        text = NULL;
    }
    return text;
}

static char *input_text(const tokenize_options *o, size_t *len)
{
    if (o->text != NULL) {
        *len = strlen(o->text);
        char *copy = malloc(*len + 1);
        if (copy != NULL)
            memcpy(copy, o->text, *len + 1);
        return copy;
    }
    FILE *f = o->file != NULL ? fopen(o->file, "rb") : stdin;
    if (f == NULL)
        return NULL;
    char *text = read_all(f, len);
    if (f != stdin)
        fclose(f);
    return text;
}

static void print_tokens(const vkllm_tokenizer *tok, const int32_t *ids, size_t count,
                         bool ids_only)
{
    for (size_t i = 0; i < count; i++) {
        if (ids_only) {
            printf("%s%d", i ? " " : "", ids[i]);
            continue;
        }
        size_t len = 0;
        const char *piece = vkllm_tokenizer_piece(tok, -1, ids[i], &len);
        printf("%6d  '", ids[i]);
        for (size_t b = 0; b < len; b++) {
            unsigned char c = (unsigned char)piece[b];
            if (c < 0x20 || c == 0x7f)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
        printf("'\n");
    }
    if (ids_only)
        printf("\n");
}

static int tokenize(const vkllm_tokenizer *tok, const char *text, size_t len, bool bos,
                    bool ids_only)
{
    size_t count = 0;
    vkllm_tokenizer_encode(tok, text, len, bos, NULL, 0, &count);
    int32_t *ids = malloc((count + 1) * sizeof *ids);
    if (ids == NULL ||
        vkllm_tokenizer_encode(tok, text, len, bos, ids, count, &count) != VKLLM_OK) {
        free(ids);
        return cli_report("tokenize", "cannot encode the text");
    }
    print_tokens(tok, ids, count, ids_only);
    free(ids);
    return 0;
}

int cli_tokenize(int argc, char **argv)
{
    tokenize_options o = {0};
    cli_args args;
    cli_args_init(&args, argc, argv, 2);
    if (!parse(&args, &o))
        return cli_report("tokenize", args.error);

    size_t len = 0;
    char *text = input_text(&o, &len);
    if (text == NULL) {
        char why[512];
        snprintf(why, sizeof why, "cannot read %s (missing, unreadable, or over %zu MiB)",
                 o.file != NULL ? o.file : "standard input", MAX_TEXT_BYTES >> 20);
        return cli_report("tokenize", why);
    }

    /* The tokenizer comes from -z, else from the model file itself: a GGUF
     * file's vocabulary or a Hugging Face folder's tokenizer.json. */
    vkllm_runtime *rt;
    vkllm_runtime_create(NULL, &rt);
    vkllm_tokenizer *tok = NULL;
    int code;
    if (vkllm_tokenizer_load(rt, o.tokenizer ? o.tokenizer : o.model, NULL, &tok) != VKLLM_OK)
        code = cli_report("cannot load tokenizer", vkllm_runtime_error(rt));
    else
        code = tokenize(tok, text, len, o.bos, o.ids_only);
    vkllm_tokenizer_destroy(tok);
    vkllm_runtime_destroy(rt);
    free(text);
    return code;
}
