#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

int cli_report(const char *what, const char *message)
{
    fprintf(stderr, "vkllm: %s: %s\n", what, message);
    return 1;
}

double cli_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_print_json(const cJSON *value)
{
    char *text = cJSON_Print(value);
    if (text == NULL) {
        cli_report("json", "out of memory printing the output");
        return;
    }
    puts(text);
    cJSON_free(text);
}

static void log_to_stderr(vkllm_log_level level, vkllm_log_source source, const char *message,
                          void *user)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    const char *origin = source == VKLLM_LOG_SOURCE_VALIDATION ? "validation " : "";
    fprintf(stderr, "vkllm: %s%s: %s\n", origin, names[level], message);
}

/* Where compiled pipelines are kept between runs: VKLLM_PIPELINE_CACHE (empty
 * turns it off), else $XDG_CACHE_HOME/vkllm, else ~/.cache/vkllm. NULL when
 * there is no such place and it cannot be made. */
static const char *pipeline_cache_dir(char *buffer, size_t size)
{
    const char *chosen = getenv("VKLLM_PIPELINE_CACHE");
    if (chosen != NULL)
        return chosen[0] != '\0' ? chosen : NULL;

    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg != NULL && xdg[0] != '\0')
        snprintf(buffer, size, "%s", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(buffer, size, "%s/.cache", home);
    else
        return NULL;
    mkdir(buffer, 0755);
    size_t len = strlen(buffer);
    snprintf(buffer + len, size - len, "/vkllm");
    mkdir(buffer, 0755);
    struct stat st;
    return stat(buffer, &st) == 0 && S_ISDIR(st.st_mode) ? buffer : NULL;
}

vkllm_status cli_open_runtime(bool validation, bool verbose, vkllm_runtime **rt)
{
    static char cache_dir[1024];
    vkllm_runtime_options ro = vkllm_runtime_default_options();
    ro.validation = validation;
    ro.pipeline_cache_dir = pipeline_cache_dir(cache_dir, sizeof cache_dir);
    if (verbose || validation) {
        ro.log = log_to_stderr;
        ro.log_level = verbose ? VKLLM_LOG_INFO : VKLLM_LOG_WARN;
    }
    return vkllm_runtime_create(&ro, rt);
}

void cli_show_progress(uint64_t done, uint64_t total, void *user)
{
    enum { WIDTH = 40 };
    if (!isatty(STDERR_FILENO) || total == 0)
        return;

    int filled = (int)(done * WIDTH / total);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rloading [%s] %3d%% %6.0f MiB", bar, (int)(done * 100 / total),
            done / 1048576.0);
    if (done == total)
        fputc('\n', stderr);
}

vkllm_status cli_tokenizer(vkllm_runtime *rt, const char *path, const vkllm_model *model,
                           const vkllm_tokenizer **tok, vkllm_tokenizer **owned)
{
    *owned = NULL;
    *tok = path == NULL ? vkllm_model_tokenizer(model) : NULL;
    if (*tok != NULL)
        return VKLLM_OK;
    if (path == NULL) {
        fprintf(stderr, "vkllm: the model file carries no tokenizer: give one with -z\n");
        return VKLLM_ERROR_INVALID_ARGUMENT;
    }

    vkllm_status status = vkllm_tokenizer_load(rt, path, model, owned);
    if (status != VKLLM_OK)
        cli_report("cannot load tokenizer", vkllm_runtime_error(rt));
    *tok = *owned;
    return status;
}
