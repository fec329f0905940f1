/* The vkllm command: generate text from a model, list devices, inspect a
 * model file, tokenize text. Generated text goes to stdout as it is
 * produced; timings, progress and errors go to stderr. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: vkllm run -m MODEL [-z TOKENIZER] [options]   generate text\n"
    "       vkllm devices [--json]                         list Vulkan devices\n"
    "       vkllm inspect MODEL [--json]                   what a model file holds\n"
    "       vkllm tokenize -m MODEL [-z TOKENIZER] [-p TEXT | -f FILE] [--ids] [--bos]\n"
    "                                                      the tokens of a text\n"
    "       vkllm bench -m MODEL [-p 512] [-n 128] [-r 3] [-b 512] [--json]\n"
    "                                                      prompt and generation speed\n"
    "       vkllm bench-ops [--device D] [--json]          each kernel's speed\n"
    "\n"
    "MODEL is a llama2.c checkpoint, a GGUF file or a Hugging Face folder;\n"
    "TOKENIZER a llama2.c tokenizer, a GGUF file or a tokenizer.json. A GGUF\n"
    "model carries its own tokenizer.\n"
    "\n"
    "run options:\n"
    "  -p, --prompt TEXT      prompt (default: empty, BOS alone)\n"
    "  -n, --steps N          positions after BOS, prompt included (default 256;\n"
    "                         0 = the whole context)\n"
    "  --temp T               temperature, 0 = greedy (default 1.0)\n"
    "  --top-k K              keep the K likeliest tokens, 0 = off (default 0)\n"
    "  --top-p P              nucleus sampling, 1 = off (default 0.9)\n"
    "  --seed S               sampling seed (default: from the clock)\n"
    "  --device D             device index or part of its name (default: best;\n"
    "                         also VKLLM_DEVICE)\n"
    "  --context N            context length (default: the model's)\n"
    "  --validation           enable the Khronos validation layer\n"
    "  -v, --verbose          log library messages to stderr\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vkllm %d.%d.%d\n", VKLLM_VERSION_MAJOR, VKLLM_VERSION_MINOR, VKLLM_VERSION_PATCH);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return cli_run(argc, argv);
    if (!strcmp(argv[1], "devices"))
        return cli_devices(argc, argv);
    if (!strcmp(argv[1], "inspect"))
        return cli_inspect(argc, argv);
    if (!strcmp(argv[1], "tokenize"))
        return cli_tokenize(argc, argv);
    if (!strcmp(argv[1], "bench"))
        return cli_bench(argc, argv);
    if (!strcmp(argv[1], "bench-ops"))
        return cli_bench_ops(argc, argv);
    fprintf(stderr, "vkllm: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
