/* The vkllm command: generate text from a model, list devices. It uses the
 * public API only. Generated text goes to stdout as it is produced; timings
 * and errors go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli_args.h"
#include "vkllm.h"

static const char usage[] =
    "usage: vkllm run -m MODEL -z TOKENIZER [options]   generate text\n"
    "       vkllm devices [--json]                       list Vulkan devices\n"
    "\n"
    "run options:\n"
    "  -m, --model PATH       llama2.c checkpoint (.bin)\n"
    "  -z, --tokenizer PATH   llama2.c tokenizer (.bin)\n"
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

typedef struct run_options {
    const char *model;
    const char *tokenizer;
    const char *prompt;
    const char *device;
    int32_t context;
    bool validation;
    bool verbose;
    vkllm_generate_options generate;
} run_options;

static int fail(const char *what, const char *message)
{
    fprintf(stderr, "vkllm: %s: %s\n", what, message);
    return 1;
}

static void log_to_stderr(vkllm_log_level level, vkllm_log_source source, const char *message,
                          void *user)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    const char *origin = source == VKLLM_LOG_SOURCE_VALIDATION ? "validation " : "";
    fprintf(stderr, "vkllm: %s%s: %s\n", origin, names[level], message);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* vkllm run                                                                 */

static bool parse_run_option(cli_args *a, const char *arg, run_options *o)
{
    vkllm_sampler_options *s = &o->generate.sampler;
    if (!strcmp(arg, "-m") || !strcmp(arg, "--model"))
        return (o->model = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer"))
        return (o->tokenizer = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt"))
        return (o->prompt = cli_value(a, arg)) != NULL;
    if (!strcmp(arg, "--device"))
        return (o->device = cli_value(a, arg)) != NULL;
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
    o->generate.sampler.seed = (uint64_t)time(NULL);

    const char *arg;
    while (cli_next(a, &arg))
        parse_run_option(a, arg, o);
    if (a->error == NULL && o->model == NULL)
        cli_fail(a, "no model given (-m MODEL)");
    if (a->error == NULL && o->tokenizer == NULL)
        cli_fail(a, "no tokenizer given (-z TOKENIZER)");
    return a->error == NULL;
}

static void write_text(const char *utf8, size_t len, void *user)
{
    fwrite(utf8, 1, len, stdout);
    fflush(stdout);
}

static vkllm_status open_runtime(const run_options *o, vkllm_runtime **rt)
{
    vkllm_runtime_options ro = vkllm_runtime_default_options();
    ro.validation = o->validation;
    if (o->verbose || o->validation) {
        ro.log = log_to_stderr;
        ro.log_level = o->verbose ? VKLLM_LOG_INFO : VKLLM_LOG_WARN;
    }
    return vkllm_runtime_create(&ro, rt);
}

typedef struct run_state {
    vkllm_runtime *rt;
    vkllm_model *model;
    vkllm_tokenizer *tok;
    vkllm_session *session;
} run_state;

static int load(const run_options *o, run_state *st)
{
    if (open_runtime(o, &st->rt) != VKLLM_OK)
        return fail("no device", vkllm_runtime_error(st->rt));

    vkllm_model_options mo = vkllm_model_default_options();
    if (o->device != NULL) {
        uint32_t index;
        if (vkllm_runtime_find_device(st->rt, o->device, &index) != VKLLM_OK)
            return fail("bad --device", vkllm_runtime_error(st->rt));
        mo.device = (int32_t)index;
    }
    if (vkllm_model_load(st->rt, o->model, &mo, &st->model) != VKLLM_OK)
        return fail("cannot load model", vkllm_runtime_error(st->rt));
    if (vkllm_tokenizer_load(st->rt, o->tokenizer, st->model, &st->tok) != VKLLM_OK)
        return fail("cannot load tokenizer", vkllm_runtime_error(st->rt));

    vkllm_session_options so = vkllm_session_default_options();
    so.context_length = o->context;
    if (vkllm_session_create(st->model, &so, &st->session) != VKLLM_OK)
        return fail("cannot create session", vkllm_runtime_error(st->rt));
    return 0;
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

static int command_run(int argc, char **argv)
{
    run_options o;
    cli_args args;
    cli_args_init(&args, argc, argv, 2);
    if (!parse_run(&args, &o))
        return fail("run", args.error);

    run_state st = {0};
    double start = now_seconds();
    int code = load(&o, &st);
    double load_seconds = now_seconds() - start;

    if (code == 0) {
        vkllm_generate_stats stats;
        o.generate.on_text = write_text;
        vkllm_status status = vkllm_generate(st.session, st.tok, o.prompt, &o.generate, &stats);
        printf("\n");
        fflush(stdout);
        if (status != VKLLM_OK)
            code = fail("generation failed", vkllm_session_error(st.session));
        else
            print_stats(load_seconds, &stats);
    }
    vkllm_session_destroy(st.session);
    vkllm_tokenizer_destroy(st.tok);
    vkllm_model_destroy(st.model);
    vkllm_runtime_destroy(st.rt);
    return code;
}

/* ------------------------------------------------------------------------ */
/* vkllm devices                                                             */

static const char *type_name(vkllm_device_type type)
{
    switch (type) {
    case VKLLM_DEVICE_DISCRETE_GPU: return "discrete GPU";
    case VKLLM_DEVICE_INTEGRATED_GPU: return "integrated GPU";
    case VKLLM_DEVICE_VIRTUAL_GPU: return "virtual GPU";
    case VKLLM_DEVICE_CPU: return "CPU";
    default: return "other";
    }
}

static void print_device_text(uint32_t index, const vkllm_device_info *d, bool is_default)
{
    printf("%u: %s%s\n", index, d->name, is_default ? "  (default)" : "");
    printf("   type %s, driver %s %s, Vulkan %u.%u.%u\n", type_name(d->type), d->driver_name,
           d->driver_info, d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
           d->api_version & 0xfff);
    for (uint32_t h = 0; h < d->heap_count; h++)
        printf("   heap %u: %.1f MiB%s\n", h, d->heaps[h].size / 1048576.0,
               d->heaps[h].device_local ? " device-local" : "");
    printf("   subgroup %u, workgroup max %u invocations, shared memory %u B\n",
           d->subgroup_size, d->max_workgroup_invocations, d->max_shared_memory);
    printf("   storage buffer range %llu B, allocation max %llu B, fp16 %s\n",
           (unsigned long long)d->max_storage_buffer_range,
           (unsigned long long)d->max_allocation_size, d->shader_float16 ? "yes" : "no");
}

static cJSON *device_json(uint32_t index, const vkllm_device_info *d, bool is_default)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", type_name(d->type));
    cJSON_AddBoolToObject(o, "default", is_default);
    cJSON_AddStringToObject(o, "driver", d->driver_name);
    cJSON_AddStringToObject(o, "driver_info", d->driver_info);
    cJSON_AddNumberToObject(o, "vendor_id", d->vendor_id);
    cJSON_AddNumberToObject(o, "device_id", d->device_id);
    cJSON_AddNumberToObject(o, "api_version", d->api_version);
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddNumberToObject(o, "max_workgroup_invocations", d->max_workgroup_invocations);
    cJSON_AddNumberToObject(o, "max_shared_memory", d->max_shared_memory);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddNumberToObject(o, "max_allocation_size", (double)d->max_allocation_size);
    cJSON_AddNumberToObject(o, "min_storage_offset_alignment", d->min_storage_offset_alignment);
    cJSON_AddBoolToObject(o, "shader_float16", d->shader_float16);
    cJSON_AddBoolToObject(o, "storage_16bit", d->storage_16bit);
    cJSON *heaps = cJSON_AddArrayToObject(o, "heaps");
    for (uint32_t h = 0; h < d->heap_count; h++) {
        cJSON *heap = cJSON_CreateObject();
        cJSON_AddNumberToObject(heap, "size", (double)d->heaps[h].size);
        cJSON_AddBoolToObject(heap, "device_local", d->heaps[h].device_local);
        cJSON_AddItemToArray(heaps, heap);
    }
    return o;
}

static int command_devices(int argc, char **argv)
{
    bool json = argc > 2 && !strcmp(argv[2], "--json");
    if (argc > 2 + json)
        return fail("devices", "the only option is --json");

    vkllm_runtime *rt;
    if (vkllm_runtime_create(NULL, &rt) != VKLLM_OK) {
        int code = fail("no device", vkllm_runtime_error(rt));
        vkllm_runtime_destroy(rt);
        return code;
    }

    uint32_t best = vkllm_runtime_default_device(rt);
    cJSON *list = cJSON_CreateArray();
    for (uint32_t i = 0; i < vkllm_runtime_device_count(rt); i++) {
        vkllm_device_info info;
        vkllm_runtime_device_info(rt, i, &info);
        if (json)
            cJSON_AddItemToArray(list, device_json(i, &info, i == best));
        else
            print_device_text(i, &info, i == best);
    }
    if (json) {
        char *text = cJSON_Print(list);
        puts(text);
        cJSON_free(text);
    }
    cJSON_Delete(list);
    vkllm_runtime_destroy(rt);
    return 0;
}

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
        return command_run(argc, argv);
    if (!strcmp(argv[1], "devices"))
        return command_devices(argc, argv);
    fprintf(stderr, "vkllm: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
