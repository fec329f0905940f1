/* Command-line parsing for the vkllm tool: strict number parsing and a
 * cursor over argv that knows which options take a value. */
#ifndef VKLLM_CLI_ARGS_H
#define VKLLM_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cli_args {
    int argc;
    char **argv;
    int next;               /* index of the next unread argument */
    const char *error;      /* set when parsing failed */
    char error_text[256];
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv, int first);

/* True while arguments remain; *name receives the next one. */
bool cli_next(cli_args *a, const char **name);

/* The value after option `name`, or NULL (with a->error set) if none. */
const char *cli_value(cli_args *a, const char *name);

bool cli_parse_int(cli_args *a, const char *name, const char *text, long min, long max,
                   int32_t *out);
bool cli_parse_float(cli_args *a, const char *name, const char *text, float min, float max,
                     float *out);
bool cli_parse_u64(cli_args *a, const char *name, const char *text, uint64_t *out);

/* Records an error message on the cursor and returns false. */
bool cli_fail(cli_args *a, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
