/* vkllm run: load a model, generate from a prompt, stream the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct run_options {
    const char *model;
    const char *tokenizer;
    const char *prompt;
    const char *device;
    bool device_from_env;       /* the device came from VKLLM_DEVICE, not --device */
    int32_t context;
    bool validation;
    bool verbose;
    vkllm_generate_options generate;
} run_options;

static bool parse_run_option(cli_args *a, const char *arg, run_options *o)
{
    vkllm_sampler_options *s = &o->generate.sampler;
    if (!strcmp(arg, "-m") || !strcmp(arg, "--model"))
        return (o->model = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer"))
        return (o->tokenizer = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt"))
        return (o->prompt = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "--device")) {
        o->device_from_env = false;
        return (o->device = cli_value(a, arg)) != NULL;
    }
    if (!strcmp(arg, "-n") || !strcmp(arg, "--steps"))
        return cli_parse_int(a, arg, cli_value(a, arg), 0, 1 << 24, &o->generate.max_tokens);
    if (!strcmp(arg, "--context"))
        return cli_parse_int(a, arg, cli_value(a, arg), 1, 1 << 24, &o->context);
    if (!strcmp(arg, "--temp"))
        return cli_parse_float(a, arg, cli_value(a, arg), 0.0f, 100.0f, &s->temperature);
    if (!strcmp(arg, "--top-k"))
        return cli_parse_int(a, arg, cli_value(a, arg), 0, 1 << 24, &s->top_k);
    if (!strcmp(arg, "--top-p"))
        return cli_parse_float(a, arg, cli_value(a, arg), 0.0f, 1.0f, &s->top_p);
    if (!strcmp(arg, "--seed"))
        return cli_parse_u64(a, arg, cli_value(a, arg), &s->seed);
    if (!strcmp(arg, "--validation"))
        return o->validation = true;
    if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose"))
        return o->verbose = true;
    return cli_fail(a, "unknown option '%s' (see 'vkllm --help')", arg);
}

/* Fills o from the arguments after "run"; a->error says what was wrong. */
static bool parse_run(cli_args *a, run_options *o)
{
    *o = (run_options){.prompt = "", .device = getenv("VKLLM_DEVICE"),
                       .generate = vkllm_generate_default_options()};
    o->device_from_env = o->device != NULL;
    o->generate.sampler.seed = (uint64_t)time(NULL);

    const char *arg;
    while (cli_next(a, &arg))
        parse_run_option(a, arg, o);
    if (a->error == NULL && o->model == NULL)
        cli_fail(a, "no model given (-m MODEL)");
    return a->error == NULL;
}

typedef struct run_state {
    vkllm_runtime *rt;
    vkllm_model *model;
    const vkllm_tokenizer *tok;
    vkllm_tokenizer *owned_tok;     /* when loaded from -z */
    vkllm_session *session;
} run_state;

static int load(const run_options *o, run_state *st)
{
    if (cli_open_runtime(o->validation, o->verbose, &st->rt) != VKLLM_OK)
        return cli_report("cannot start Vulkan", vkllm_runtime_error(st->rt));

    vkllm_model_options mo = vkllm_model_default_options();
    mo.progress = cli_show_progress;
    if (o->device != NULL) {
        uint32_t index;
        if (vkllm_runtime_find_device(st->rt, o->device, &index) != VKLLM_OK)
            return cli_report(o->device_from_env ? "bad VKLLM_DEVICE" : "bad --device",
                              vkllm_runtime_error(st->rt));
        mo.device = (int32_t)index;
    }
    if (vkllm_model_load(st->rt, o->model, &mo, &st->model) != VKLLM_OK)
        return cli_report("cannot load model", vkllm_runtime_error(st->rt));
    if (cli_tokenizer(st->rt, o->tokenizer, st->model, &st->tok, &st->owned_tok) != VKLLM_OK)
        return 1;

    vkllm_session_options so = vkllm_session_default_options();
    so.context_length = o->context;
    if (vkllm_session_create(st->model, &so, &st->session) != VKLLM_OK)
        return cli_report("cannot create session", vkllm_runtime_error(st->rt));
    return 0;
}


static void write_text(const char *utf8, size_t len, void *user)
{
    bool *wrote = user;
    *wrote = true;
    fwrite(utf8, 1, len, stdout);
    fflush(stdout);
}

static void print_stats(double load_seconds, const vkllm_generate_stats *st)
{
    fprintf(stderr, "\nload: %.3f s\n", load_seconds);
    fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tokens/s)\n", st->prompt_tokens,
            st->prompt_seconds,
            st->prompt_seconds > 0 ? st->prompt_tokens / st->prompt_seconds : 0.0);
    fprintf(stderr, "generation: %d tokens in %.3f s (%.1f tokens/s)\n", st->generated_tokens,
            st->generate_seconds,
            st->generate_seconds > 0 ? st->generated_tokens / st->generate_seconds : 0.0);
}

/* Generates, then ends the text with a newline as llama2.c does. */
static int generate(run_options *o, run_state *st, double load_seconds)
{
    bool wrote = false;
    vkllm_generate_stats stats;
    o->generate.on_text = write_text;
    o->generate.user = &wrote;
    vkllm_status status = vkllm_generate(st->session, st->tok, o->prompt, &o->generate, &stats);
    if (wrote || status == VKLLM_OK)
        printf("\n");
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_report("run", "cannot write the text to standard output");
    if (status != VKLLM_OK)
        return cli_report("generation failed", vkllm_session_error(st->session));
    print_stats(load_seconds, &stats);
    return 0;
}

int cli_run(int argc, char **argv)
{
    run_options o;
    cli_args args;
    cli_args_init(&args, argc, argv, 2);
    if (!parse_run(&args, &o))
        return cli_report("run", args.error);

    run_state st = {0};
    double start = cli_now_seconds();
    int code = load(&o, &st);
    double load_seconds = cli_now_seconds() - start;

    if (code == 0)
        code = generate(&o, &st, load_seconds);
    vkllm_session_destroy(st.session);
    vkllm_tokenizer_destroy(st.owned_tok);
    vkllm_model_destroy(st.model);
    vkllm_runtime_destroy(st.rt);
    return code;
}
