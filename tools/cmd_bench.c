/* vkllm bench: prompt processing (pp) and token generation (tg) speed, the
 * way llama-bench measures them: after a warm-up, each test repeated, the
 * mean and standard deviation of tokens per second reported as a table or
 * JSON. pp evaluates a prompt of P tokens in batches from an empty context;
 * tg generates N tokens one at a time from an empty context. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct bench_options {
    const char *model;
    const char *device;
    int32_t prompt;         /* -p */
    int32_t generate;       /* -n */
    int32_t repetitions;    /* -r */
    int32_t batch;
    bool json;
} bench_options;

typedef struct bench_result {
    char name[16];          /* "pp512", "tg128" */
    int32_t tokens;
    double mean;            /* tokens per second */
    double stddev;
} bench_result;

static bool parse(cli_args *a, bench_options *o)
{
    const char *arg;
    while (cli_next(a, &arg)) {
        if (!strcmp(arg, "-m") || !strcmp(arg, "--model"))
            o->model = cli_value(a, arg);
        else if (!strcmp(arg, "--device"))
            o->device = cli_value(a, arg);
        else if (!strcmp(arg, "-p"))
            cli_parse_int(a, arg, cli_value(a, arg), 0, 1 << 16, &o->prompt);
        else if (!strcmp(arg, "-n"))
            cli_parse_int(a, arg, cli_value(a, arg), 0, 1 << 16, &o->generate);
        else if (!strcmp(arg, "-r"))
            cli_parse_int(a, arg, cli_value(a, arg), 1, 1000, &o->repetitions);
        else if (!strcmp(arg, "-b") || !strcmp(arg, "--batch"))
            cli_parse_int(a, arg, cli_value(a, arg), 1, 4096, &o->batch);
        else if (!strcmp(arg, "--json"))
            o->json = true;
        else
            cli_fail(a, "unknown option '%s' (see 'vkllm --help')", arg);
    }
    if (a->error == NULL && o->model == NULL)
        cli_fail(a, "no model given (-m MODEL)");
    if (a->error == NULL && o->prompt == 0 && o->generate == 0)
        cli_fail(a, "nothing to measure: -p and -n are both 0");
    return a->error == NULL;
}

/* Deterministic tokens spread over the vocabulary, never BOS or EOS. */
static void fill_tokens(int32_t *tokens, int32_t count, int32_t vocab)
{
    for (int32_t i = 0; i < count; i++)
        tokens[i] = 3 + (int32_t)(((uint64_t)i * 2654435761u) % (uint64_t)(vocab - 3));
}

/* Seconds to evaluate `count` tokens from an empty context, `step` at a
 * time. */
static double time_eval(vkllm_session *s, const int32_t *tokens, int32_t count, int32_t step,
                        vkllm_status *status)
{
    vkllm_session_reset(s);
    double start = cli_now_seconds();
    for (int32_t done = 0; done < count && *status == VKLLM_OK; done += step) {
        int32_t n = count - done < step ? count - done : step;
        *status = vkllm_session_eval(s, tokens + done, (size_t)n);
    }
    return cli_now_seconds() - start;
}

static void summarize(const double *rates, int n, bench_result *r)
{
    double sum = 0, squares = 0;
    for (int i = 0; i < n; i++)
        sum += rates[i];
    r->mean = sum / n;
    for (int i = 0; i < n; i++)
        squares += (rates[i] - r->mean) * (rates[i] - r->mean);
    r->stddev = n > 1 ? sqrt(squares / (n - 1)) : 0.0;
}

static vkllm_status run_test(vkllm_session *s, const int32_t *tokens, int32_t count,
                             int32_t step, int reps, bench_result *r)
{
    vkllm_status status = VKLLM_OK;
    double *rates = calloc((size_t)reps, sizeof *rates);
    if (rates == NULL)
        return VKLLM_ERROR_OUT_OF_HOST_MEMORY;

    time_eval(s, tokens, count < step ? count : step, step, &status);     /* warm-up */
    for (int i = 0; i < reps && status == VKLLM_OK; i++)
        rates[i] = count / time_eval(s, tokens, count, step, &status);
    summarize(rates, reps, r);
    r->tokens = count;
    free(rates);
    return status;
}

static void print_table(const bench_options *o, const vkllm_model_info *info,
                        const vkllm_device_info *dev, const bench_result *results, int n)
{
    printf("| model | size | shape | device | test | t/s |\n");
    printf("| --- | ---: | --- | --- | ---: | ---: |\n");
    for (int i = 0; i < n; i++)
        printf("| %s | %.2f MiB | %d x %d layers | %s | %s | %.2f ± %.2f |\n", o->model,
               info->weight_bytes / 1048576.0, info->dim, info->n_layers, dev->name,
               results[i].name, results[i].mean, results[i].stddev);
}

static void print_json(const bench_options *o, const vkllm_model_info *info,
                       const vkllm_device_info *dev, const bench_result *results, int n)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "model", o->model);
        cJSON_AddNumberToObject(r, "model_bytes", (double)info->weight_bytes);
        cJSON_AddStringToObject(r, "device", dev->name);
        cJSON_AddStringToObject(r, "driver", dev->driver_name);
        cJSON_AddStringToObject(r, "test", results[i].name);
        cJSON_AddNumberToObject(r, "tokens", results[i].tokens);
        cJSON_AddNumberToObject(r, "batch", o->batch);
        cJSON_AddNumberToObject(r, "repetitions", o->repetitions);
        cJSON_AddNumberToObject(r, "tokens_per_second", results[i].mean);
        cJSON_AddNumberToObject(r, "stddev", results[i].stddev);
        cJSON_AddItemToArray(list, r);
    }
    cli_print_json(list);
    cJSON_Delete(list);
}

typedef struct bench_state {
    vkllm_runtime *rt;
    vkllm_model *model;
    vkllm_session *session;
} bench_state;

static int load(const bench_options *o, bench_state *st)
{
    if (cli_open_runtime(false, false, &st->rt) != VKLLM_OK)
        return cli_report("cannot start Vulkan", vkllm_runtime_error(st->rt));
    vkllm_model_options mo = vkllm_model_default_options();
    mo.progress = cli_show_progress;
    uint32_t index;
    if (o->device != NULL && vkllm_runtime_find_device(st->rt, o->device, &index) != VKLLM_OK)
        return cli_report("bad --device", vkllm_runtime_error(st->rt));
    mo.device = o->device != NULL ? (int32_t)index : -1;
    if (vkllm_model_load(st->rt, o->model, &mo, &st->model) != VKLLM_OK)
        return cli_report("cannot load model", vkllm_runtime_error(st->rt));

    vkllm_model_info info;
    vkllm_model_get_info(st->model, &info);
    int32_t needed = o->prompt > o->generate ? o->prompt : o->generate;
    vkllm_session_options so = {.context_length = needed, .batch_size = o->batch};
    if (needed > info.context_length)
        return cli_report("bench", "the tests need more positions than the model's context");
    if (vkllm_session_create(st->model, &so, &st->session) != VKLLM_OK)
        return cli_report("cannot create session", vkllm_runtime_error(st->rt));
    return 0;
}

static int run_all(const bench_options *o, bench_state *st)
{
    vkllm_model_info info;
    vkllm_device_info dev;
    vkllm_model_get_info(st->model, &info);
    vkllm_runtime_device_info(st->rt, info.device, &dev);

    int32_t longest = o->prompt > o->generate ? o->prompt : o->generate;
    int32_t *tokens = malloc((size_t)(longest > 0 ? longest : 1) * sizeof *tokens);
    if (tokens == NULL)
        return cli_report("bench", "out of memory");
    fill_tokens(tokens, longest, info.vocab_size);

    bench_result results[2];
    int n = 0;
    vkllm_status status = VKLLM_OK;
    if (o->prompt > 0) {
        snprintf(results[n].name, sizeof results[n].name, "pp%d", o->prompt);
        status = run_test(st->session, tokens, o->prompt, o->batch, o->repetitions, &results[n++]);
    }
    if (o->generate > 0 && status == VKLLM_OK) {
        snprintf(results[n].name, sizeof results[n].name, "tg%d", o->generate);
        status = run_test(st->session, tokens, o->generate, 1, o->repetitions, &results[n++]);
    }
    free(tokens);
    if (status != VKLLM_OK)
        return cli_report("bench", vkllm_session_error(st->session));
    if (o->json)
        print_json(o, &info, &dev, results, n);
    else
        print_table(o, &info, &dev, results, n);
    return 0;
}

int cli_bench(int argc, char **argv)
{
    bench_options o = {.prompt = 512, .generate = 128, .repetitions = 3, .batch = 512};
    cli_args args;
    cli_args_init(&args, argc, argv, 2);
    if (!parse(&args, &o))
        return cli_report("bench", args.error);

    bench_state st = {0};
    int code = load(&o, &st);
    if (code == 0)
        code = run_all(&o, &st);
    vkllm_session_destroy(st.session);
    vkllm_model_destroy(st.model);
    vkllm_runtime_destroy(st.rt);
    return code;
}

/* ------------------------------------------------------------------------ */
/* vkllm bench-ops                                                           */

typedef struct ops_listing {
    bool json;
    cJSON *list;
} ops_listing;

static void on_timing(const vkllm_op_timing *t, void *user)
{
    ops_listing *l = user;
    if (!l->json) {
        printf("| %s | %s | %u x %u | %u | %.1f | %.2f | %.2f |\n", t->op, t->type, t->rows,
               t->cols, t->tokens, t->seconds * 1e6, t->gflops, t->gbytes);
        fflush(stdout);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "op", t->op);
    cJSON_AddStringToObject(o, "type", t->type);
    cJSON_AddNumberToObject(o, "rows", t->rows);
    cJSON_AddNumberToObject(o, "cols", t->cols);
    cJSON_AddNumberToObject(o, "tokens", t->tokens);
    cJSON_AddNumberToObject(o, "seconds", t->seconds);
    cJSON_AddNumberToObject(o, "gflops", t->gflops);
    cJSON_AddNumberToObject(o, "gbytes_per_second", t->gbytes);
    cJSON_AddItemToArray(l->list, o);
}

int cli_bench_ops(int argc, char **argv)
{
    const char *device = NULL;
    ops_listing l = {.json = false};
    cli_args args;
    const char *arg;
    cli_args_init(&args, argc, argv, 2);
    while (cli_next(&args, &arg)) {
        if (!strcmp(arg, "--json"))
            l.json = true;
        else if (!strcmp(arg, "--device"))
            device = cli_value(&args, arg);
        else
            cli_fail(&args, "unknown option '%s' (see 'vkllm --help')", arg);
    }
    if (args.error != NULL)
        return cli_report("bench-ops", args.error);

    vkllm_runtime *rt;
    uint32_t index = 0;
    if (cli_open_runtime(false, false, &rt) != VKLLM_OK) {
        int code = cli_report("cannot start Vulkan", vkllm_runtime_error(rt));
        vkllm_runtime_destroy(rt);
        return code;
    }
    int code = 0;
    if (device != NULL && vkllm_runtime_find_device(rt, device, &index) != VKLLM_OK)
        code = cli_report("bad --device", vkllm_runtime_error(rt));
    l.list = cJSON_CreateArray();
    if (code == 0 && !l.json)
        printf("| op | weights | rows x cols | tokens | time (us) | GFLOP/s | GB/s |\n"
               "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    if (code == 0 && vkllm_bench_ops(rt, device ? (int32_t)index : -1, on_timing, &l) != VKLLM_OK)
        code = cli_report("bench-ops", vkllm_runtime_error(rt));
    if (code == 0 && l.json)
        cli_print_json(l.list);
    cJSON_Delete(l.list);
    vkllm_runtime_destroy(rt);
    return code;
}
