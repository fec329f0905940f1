#include "cli_args.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cli_args_init(cli_args *a, int argc, char **argv, int first)
{
    *a = (cli_args){.argc = argc, .argv = argv, .next = first};
}

bool cli_next(cli_args *a, const char **name)
{
    if (a->error != NULL || a->next >= a->argc)
        return false;
    *name = a->argv[a->next++];
    return true;
}

bool cli_fail(cli_args *a, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(a->error_text, sizeof a->error_text, format, args);
    va_end(args);
    a->error = a->error_text;
    return false;
}

const char *cli_value(cli_args *a, const char *name)
{
    if (a->next >= a->argc) {
        cli_fail(a, "option %s needs a value", name);
        return NULL;
    }
    return a->argv[a->next++];
}

bool cli_parse_int(cli_args *a, const char *name, const char *text, long min, long max,
                   int32_t *out)
{
    if (text == NULL)
        return false;
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return cli_fail(a, "%s takes a whole number from %ld to %ld, not '%s'", name, min, max,
                        text);
    *out = (int32_t)value;
    return true;
}

bool cli_parse_float(cli_args *a, const char *name, const char *text, float min, float max,
                     float *out)
{
    if (text == NULL)
        return false;
    char *end;
    errno = 0;
    float value = strtof(text, &end);
    bool underflow = errno == ERANGE && fabsf(value) <= FLT_MIN;   /* a tiny number is fine */
    if ((errno != 0 && !underflow) || end == text || *end != '\0' || !isfinite(value) ||
        value < min ||
        value > max)
        return cli_fail(a, "%s takes a number from %g to %g, not '%s'", name, min, max, text);
    *out = value;
    return true;
}

bool cli_parse_u64(cli_args *a, const char *name, const char *text, uint64_t *out)
{
    if (text == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return cli_fail(a, "%s takes a non-negative whole number, not '%s'", name, text);
    *out = value;
    return true;
}
