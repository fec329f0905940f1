/* What the vkllm command's subcommands share. The command uses the public
 * API only. */
#ifndef VKLLM_CLI_H
#define VKLLM_CLI_H

#include <stdbool.h>

#include "cli_args.h"
#include "vkllm.h"

/* Prints "vkllm: what: message" to stderr and returns the exit status 1. */
int cli_report(const char *what, const char *message);

double cli_now_seconds(void);

/* Prints a cJSON value on stdout, formatted; out of memory, says so on
 * stderr instead. */
struct cJSON;
void cli_print_json(const struct cJSON *value);

/* A runtime whose log goes to stderr when verbose (or validating). */
vkllm_status cli_open_runtime(bool validation, bool verbose, vkllm_runtime **rt);

/* A progress bar on stderr while weights load, when stderr is a terminal. */
void cli_show_progress(uint64_t done, uint64_t total, void *user);

/* The tokenizer to use with a model: the file given with -z, else the one
 * the model file carries. *owned is what the caller must destroy. */
vkllm_status cli_tokenizer(vkllm_runtime *rt, const char *path, const vkllm_model *model,
                           const vkllm_tokenizer **tok, vkllm_tokenizer **owned);

int cli_run(int argc, char **argv);
int cli_devices(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_bench_ops(int argc, char **argv);

#endif
