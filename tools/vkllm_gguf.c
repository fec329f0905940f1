/* vkllm-gguf: writes GGUF files, from a llama2.c checkpoint (convert) or
 * with random weights in the shape of a real model (synth). Progress and
 * errors go to stderr; any error exits with status 1. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "gguf_convert.h"

static const char usage[] =
    "usage: vkllm-gguf convert MODEL.bin OUT.gguf [options]\n"
    "       vkllm-gguf synth SHAPE OUT.gguf [options]\n"
    "\n"
    "convert: a llama2.c checkpoint to GGUF v3 (architecture llama)\n"
    "  --tokenizer PATH     embed this llama2.c tokenizer as the vocabulary\n"
    "  --type T             type of the 2-D weights (default f32)\n"
    "  --output-type T      type of the classifier (output.weight, or token_embd\n"
    "                       when tied; default: --type)\n"
    "\n"
    "synth: a model of a real shape with deterministic random weights\n"
    "  --type T             type of the 2-D weights (default f16)\n"
    "  --output-type T      type of the classifier (default: --type)\n"
    "  --seed S             random seed (default 1)\n"
    "  --layers N           layer count instead of the shape's\n"
    "  --vocab VOCAB.gguf   copy its tokenizer.* entries (its vocabulary must have\n"
    "                       the shape's size); default: a synthetic SentencePiece one\n"
    "\n"
    "common:\n"
    "  -q, --quiet          no progress lines\n"
    "\n"
    "types: f32 f16 bf16 q8_0 q4_0 q4_k q6_k. A matrix whose rows are not whole\n"
    "blocks of the type stays f32; norms and biases are always f32.\n"
    "\n"
    "shapes (qwen2-0.5b is written with context 4096, not its trained 32768,\n"
    "to keep caches small):\n";

typedef struct type_name {
    const char *name;
    vkl_dtype type;
} type_name;

static const type_name type_names[] = {
    {"f32", VKL_DTYPE_F32},   {"f16", VKL_DTYPE_F16},   {"bf16", VKL_DTYPE_BF16},
    {"q8_0", VKL_DTYPE_Q8_0}, {"q4_0", VKL_DTYPE_Q4_0}, {"q4_k", VKL_DTYPE_Q4_K},
    {"q6_k", VKL_DTYPE_Q6_K},
};

/* Everything either command may be given; each takes what applies. */
typedef struct options {
    const char *positional[2];
    int positional_count;
    const char *tokenizer;
    const char *vocab;
    vkl_dtype type;
    vkl_dtype output_type;
    bool output_type_set;
    uint64_t seed;
    int32_t layers;
    bool quiet;
} options;

static void print_usage(FILE *f)
{
    char shapes[2048];
    gguf_synth_describe_shapes(shapes, sizeof shapes);
    fprintf(f, "%s%s", usage, shapes);
}

static bool parse_type(cli_args *a, const char *option, const char *text, vkl_dtype *out)
{
    if (text == NULL)
        return false;
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++) {
        if (strcmp(type_names[i].name, text) == 0) {
            *out = type_names[i].type;
            return true;
        }
    }
    return cli_fail(a, "%s takes one of f32 f16 bf16 q8_0 q4_0 q4_k q6_k, not '%s'", option,
                    text);
}

static bool parse_option(cli_args *a, const char *arg, options *o)
{
    if (!strcmp(arg, "--tokenizer"))
        return (o->tokenizer = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "--vocab"))
        return (o->vocab = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "--type"))
        return parse_type(a, arg, cli_value(a, arg), &o->type);
    if (!strcmp(arg, "--output-type"))
        return o->output_type_set = parse_type(a, arg, cli_value(a, arg), &o->output_type);
    if (!strcmp(arg, "--seed"))
        return cli_parse_u64(a, arg, cli_value(a, arg), &o->seed);
    if (!strcmp(arg, "--layers"))
        return cli_parse_int(a, arg, cli_value(a, arg), 1, 4096, &o->layers);
    if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet"))
        return o->quiet = true;
    if (arg[0] == '-' && arg[1] != '\0')
        return cli_fail(a, "unknown option '%s' (see 'vkllm-gguf --help')", arg);
    if (o->positional_count == 2)
        return cli_fail(a, "one argument too many: '%s'", arg);
    o->positional[o->positional_count++] = arg;
    return true;
}

/* Options that only one command takes. */
static const char *const convert_only[] = {"--tokenizer", NULL};
static const char *const synth_only[] = {"--vocab", "--seed", "--layers", NULL};

static bool is_listed(const char *arg, const char *const *list)
{
    for (; *list != NULL; list++) {
        if (!strcmp(arg, *list))
            return true;
    }
    return false;
}

/* Parses what follows the command, refusing the other command's options. */
static bool parse(cli_args *a, options *o, const char *what, const char *const *refused)
{
    const char *arg;
    while (cli_next(a, &arg)) {
        if (is_listed(arg, refused))
            return cli_fail(a, "%s is not an option of %s", arg, what);
        parse_option(a, arg, o);
    }
    if (a->error == NULL && o->positional_count != 2)
        cli_fail(a, "two arguments are needed (see 'vkllm-gguf --help')");
    if (!o->output_type_set)
        o->output_type = o->type;
    return a->error == NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int finish(vkllm_status status, const vkl_error *err, const char *path, double start)
{
    if (status != VKLLM_OK) {
        fprintf(stderr, "vkllm-gguf: %s\n", err->message);
        return 1;
    }
    fprintf(stderr, "wrote %s in %.2f s\n", path, now_seconds() - start);
    return 0;
}

static int command_convert(cli_args *a)
{
    options o = {.type = VKL_DTYPE_F32};
    if (!parse(a, &o, "convert", synth_only)) {
        fprintf(stderr, "vkllm-gguf: convert: %s\n", a->error);
        return 1;
    }

    gguf_convert_options co = {
        .model_path = o.positional[0], .out_path = o.positional[1],
        .tokenizer_path = o.tokenizer, .type = o.type, .output_type = o.output_type,
        .progress = !o.quiet};
    vkl_error err = {0};
    double start = now_seconds();
    return finish(gguf_convert_llama2c(&co, &err), &err, co.out_path, start);
}

static int command_synth(cli_args *a)
{
    options o = {.type = VKL_DTYPE_F16, .seed = 1};
    if (!parse(a, &o, "synth", convert_only)) {
        fprintf(stderr, "vkllm-gguf: synth: %s\n", a->error);
        return 1;
    }

    gguf_synth_options so = {
        .shape = o.positional[0], .out_path = o.positional[1], .vocab_path = o.vocab,
        .type = o.type, .output_type = o.output_type, .seed = o.seed, .layers = o.layers,
        .progress = !o.quiet};
    vkl_error err = {0};
    double start = now_seconds();
    return finish(gguf_synth(&so, &err), &err, so.out_path, start);
}

int main(int argc, char **argv)
{
    const char *command = argc > 1 ? argv[1] : "";
    cli_args args;
    cli_args_init(&args, argc, argv, 2);

    if (!strcmp(command, "convert"))
        return command_convert(&args);
    if (!strcmp(command, "synth"))
        return command_synth(&args);
    if (!strcmp(command, "-h") || !strcmp(command, "--help")) {
        print_usage(stdout);
        return 0;
    }
    if (command[0] != '\0')
        fprintf(stderr, "vkllm-gguf: unknown command '%s'\n\n", command);
    print_usage(stderr);
    return 1;
}
