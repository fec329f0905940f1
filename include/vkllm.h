/*
 * vkllm: transformer inference on any GPU through Vulkan compute.
 *
 * The public C API. Four handles, each with a create/destroy pair:
 *
 *   vkllm_runtime    the Vulkan instance and every device it can see
 *   vkllm_model      weights loaded onto one device
 *   vkllm_session    a KV cache and a position: one conversation with a model
 *   vkllm_tokenizer  text <-> token ids
 *
 * plus a small value type, vkllm_sampler, that turns logits into a token.
 *
 * Every fallible call returns a vkllm_status (VKLLM_OK or a negative code) and
 * leaves a readable message on the handle it was given: vkllm_runtime_error(),
 * vkllm_session_error(). The library never prints, never exits and never aborts
 * on bad input; diagnostics go to the log callback set in vkllm_runtime_options.
 *
 * A runtime, model or tokenizer may be shared between threads once created. A
 * session must be used by one thread at a time.
 *
 * Destroy in the reverse order of creation: sessions before the model they
 * were made from, models and tokenizers before their runtime. A handle is
 * not usable after what it was made from is destroyed.
 *
 * Models load from llama2.c checkpoints, GGUF files (llama, mistral, qwen2,
 * gpt2; F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K weights, kept in their
 * type on the device) and Hugging Face folders (config.json, safetensors).
 *
 * Example: generate 64 tokens after a prompt.
 *
 *   vkllm_runtime *rt;
 *   vkllm_model *model;
 *   vkllm_tokenizer *tok;
 *   vkllm_session *s;
 *   vkllm_runtime_options ro = vkllm_runtime_default_options();
 *   if (vkllm_runtime_create(&ro, &rt) != VKLLM_OK) { puts(vkllm_runtime_error(rt)); ... }
 *   vkllm_model_load(rt, "model.bin", NULL, &model);
 *   vkllm_tokenizer_load(rt, "tok512.bin", model, &tok);
 *   vkllm_session_create(model, NULL, &s);
 *   vkllm_generate_options go = vkllm_generate_default_options();
 *   go.on_text = print_text;  // void print_text(const char *utf8, size_t len, void *user)
 *   vkllm_generate(s, tok, "Once upon a time", &go, NULL);
 *   vkllm_session_destroy(s); vkllm_tokenizer_destroy(tok);
 *   vkllm_model_destroy(model); vkllm_runtime_destroy(rt);
 */
#ifndef VKLLM_H
#define VKLLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(VKLLM_SHARED)
#  ifdef VKLLM_BUILD
#    define VKLLM_API __declspec(dllexport)
#  else
#    define VKLLM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && defined(VKLLM_SHARED)
#  define VKLLM_API __attribute__((visibility("default")))
#else
#  define VKLLM_API
#endif

#define VKLLM_VERSION_MAJOR 0
#define VKLLM_VERSION_MINOR 1
#define VKLLM_VERSION_PATCH 0

/* Status codes. Values are fixed once released; new codes are appended. */
typedef enum vkllm_status {
    VKLLM_OK = 0,
    VKLLM_ERROR_INVALID_ARGUMENT = -1,   /* a caller passed a bad value */
    VKLLM_ERROR_IO = -2,                 /* a file could not be opened or read */
    VKLLM_ERROR_BAD_MODEL = -3,          /* a model file is malformed or inconsistent */
    VKLLM_ERROR_BAD_TOKENIZER = -4,      /* a tokenizer file is malformed */
    VKLLM_ERROR_NO_DEVICE = -5,          /* no usable Vulkan device was found */
    VKLLM_ERROR_VULKAN = -6,             /* a Vulkan call failed */
    VKLLM_ERROR_OUT_OF_HOST_MEMORY = -7,
    VKLLM_ERROR_OUT_OF_DEVICE_MEMORY = -8,
    VKLLM_ERROR_CONTEXT_FULL = -9,       /* the session has no room for more tokens */
    VKLLM_ERROR_UNSUPPORTED = -10,       /* the device or file needs a feature we lack */
    VKLLM_ERROR_DEVICE_LOST = -11,
} vkllm_status;

/* A short, static description of a status code ("bad model file", ...). */
VKLLM_API const char *vkllm_status_string(vkllm_status status);

typedef enum vkllm_log_level {
    VKLLM_LOG_DEBUG = 0,
    VKLLM_LOG_INFO = 1,
    VKLLM_LOG_WARN = 2,
    VKLLM_LOG_ERROR = 3,
} vkllm_log_level;

/* Where a log message comes from: the library itself, or the Khronos
 * validation layer when vkllm_runtime_options.validation is set. */
typedef enum vkllm_log_source {
    VKLLM_LOG_SOURCE_LIBRARY = 0,
    VKLLM_LOG_SOURCE_VALIDATION = 1,
} vkllm_log_source;

typedef void (*vkllm_log_fn)(vkllm_log_level level, vkllm_log_source source,
                             const char *message, void *user);

typedef struct vkllm_runtime vkllm_runtime;
typedef struct vkllm_model vkllm_model;
typedef struct vkllm_session vkllm_session;
typedef struct vkllm_tokenizer vkllm_tokenizer;

/* ------------------------------------------------------------------------ */
/* Runtime and devices                                                       */

typedef struct vkllm_runtime_options {
    vkllm_log_fn log;             /* NULL: messages are dropped */
    void *log_user;
    vkllm_log_level log_level;    /* messages below this level are not sent */
    bool validation;              /* enable VK_LAYER_KHRONOS_validation */
    /* A folder where compiled pipelines are kept between runs, one file per
     * device and driver; NULL keeps them in memory only. The folder must
     * exist. */
    const char *pipeline_cache_dir;
} vkllm_runtime_options;

VKLLM_API vkllm_runtime_options vkllm_runtime_default_options(void);

/* Creates the Vulkan instance and enumerates devices. No device is opened
 * until a model is loaded onto it. As with sqlite3_open, *out is set even on
 * failure (unless the host is out of memory) so that vkllm_runtime_error() can
 * say what went wrong; destroy it either way. */
VKLLM_API vkllm_status vkllm_runtime_create(const vkllm_runtime_options *options,
                                            vkllm_runtime **out);
VKLLM_API void vkllm_runtime_destroy(vkllm_runtime *rt);

/* The message of the last failure of a call that took this runtime (or a
 * model or tokenizer created from it). Never NULL. */
VKLLM_API const char *vkllm_runtime_error(const vkllm_runtime *rt);

typedef enum vkllm_device_type {
    VKLLM_DEVICE_OTHER = 0,
    VKLLM_DEVICE_INTEGRATED_GPU = 1,
    VKLLM_DEVICE_DISCRETE_GPU = 2,
    VKLLM_DEVICE_VIRTUAL_GPU = 3,
    VKLLM_DEVICE_CPU = 4,
} vkllm_device_type;

/* Which Vulkan extension the prompt matrix multiply uses for matrix units. */
typedef enum vkllm_coopmat_kind {
    VKLLM_COOPMAT_NONE = 0,
    VKLLM_COOPMAT_KHR = 1,           /* VK_KHR_cooperative_matrix */
    VKLLM_COOPMAT_NV = 2,            /* VK_NV_cooperative_matrix, where KHR is not usable */
} vkllm_coopmat_kind;

#define VKLLM_MAX_HEAPS 16

typedef struct vkllm_device_heap {
    uint64_t size;
    bool device_local;
} vkllm_device_heap;

/* What the runtime knows of one device: identity and the limits it uses. */
typedef struct vkllm_device_info {
    char name[256];
    char driver_name[256];
    char driver_info[256];
    vkllm_device_type type;
    uint32_t vendor_id;
    uint32_t device_id;
    uint32_t api_version;            /* VK_MAKE_API_VERSION encoding */
    uint32_t subgroup_size;
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_size[3];
    uint32_t max_workgroup_count[3];
    uint32_t max_shared_memory;      /* bytes of workgroup-shared memory */
    uint64_t max_storage_buffer_range;
    uint64_t max_allocation_size;
    uint32_t min_storage_offset_alignment;
    uint32_t max_texel_buffer_elements;
    uint32_t min_texel_offset_alignment;
    uint32_t max_push_constants;
    float timestamp_period;          /* nanoseconds per timestamp tick */
    bool shader_float16;
    bool storage_16bit;
    bool subgroup_arithmetic;        /* subgroupAdd and the like in compute shaders */
    vkllm_coopmat_kind coopmat;      /* matrix units the prompt matrix multiply uses */
    uint32_t coopmat_tile[3];        /* their M, N, K (F16 x F16 + F32); zeros for none */
    uint32_t heap_count;
    vkllm_device_heap heaps[VKLLM_MAX_HEAPS];
} vkllm_device_info;

VKLLM_API uint32_t vkllm_runtime_device_count(const vkllm_runtime *rt);
VKLLM_API vkllm_status vkllm_runtime_device_info(const vkllm_runtime *rt, uint32_t index,
                                                 vkllm_device_info *info);

/* The device the runtime picks when asked for none: the first discrete GPU,
 * else integrated, else virtual, else CPU, else other. */
VKLLM_API uint32_t vkllm_runtime_default_device(const vkllm_runtime *rt);

/* Resolves a user's choice of device: a decimal index ("1") or a
 * case-insensitive part of the device name ("llvmpipe"). */
VKLLM_API vkllm_status vkllm_runtime_find_device(vkllm_runtime *rt, const char *spec,
                                                 uint32_t *index);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */

/* Called while weights are copied to the device: bytes done of total. */
typedef void (*vkllm_progress_fn)(uint64_t done, uint64_t total, void *user);

typedef struct vkllm_model_options {
    int32_t device;               /* device index; -1 picks the default */
    vkllm_progress_fn progress;   /* NULL: no progress reports */
    void *progress_user;
} vkllm_model_options;

VKLLM_API vkllm_model_options vkllm_model_default_options(void);

/* Loads a model onto a device: a llama2.c checkpoint, a GGUF file, or a
 * Hugging Face folder. The shape and architecture come from the file. */
VKLLM_API vkllm_status vkllm_model_load(vkllm_runtime *rt, const char *path,
                                        const vkllm_model_options *options,
                                        vkllm_model **out);
VKLLM_API void vkllm_model_destroy(vkllm_model *model);

typedef struct vkllm_model_info {
    int32_t dim;
    int32_t hidden_dim;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t vocab_size;
    int32_t context_length;      /* the longest context the model was built for */
    uint32_t device;             /* the index of the device holding the weights */
    uint64_t weight_bytes;       /* bytes of weights on the device */
} vkllm_model_info;

VKLLM_API void vkllm_model_get_info(const vkllm_model *model, vkllm_model_info *info);

/* The tokenizer the model file carries (GGUF metadata), owned by the model
 * and valid as long as it is; NULL when the file has none (llama2.c
 * checkpoints and Hugging Face folders: load one with vkllm_tokenizer_load). */
VKLLM_API const vkllm_tokenizer *vkllm_model_tokenizer(const vkllm_model *model);

/* ------------------------------------------------------------------------ */
/* Inspecting a model file without loading it                                */

typedef struct vkllm_tensor_info {
    const char *name;             /* valid during the callback */
    const char *type;             /* "F32", "Q8_0", ... */
    uint64_t rows;
    uint64_t cols;                /* weights per row */
    uint64_t bytes;
} vkllm_tensor_info;

typedef struct vkllm_inspect_callbacks {
    /* Each metadata entry as text (arrays shortened); may be NULL. */
    void (*on_metadata)(const char *key, const char *value, void *user);
    /* Each tensor the runtime would upload, under GGUF's names; may be NULL. */
    void (*on_tensor)(const vkllm_tensor_info *tensor, void *user);
    void *user;
} vkllm_inspect_callbacks;

typedef struct vkllm_inspection {
    char format[16];              /* "gguf", "llama2c" or "safetensors" */
    char architecture[32];
    vkllm_model_info shape;       /* weight_bytes as the file stores them; a CPU
                                     device keeps block-type matrices in a layout up
                                     to 1.5 times larger (vkllm_model_get_info says
                                     what a loaded model holds) */
    uint64_t context_bytes;       /* KV cache and activations at the full context */
} vkllm_inspection;

VKLLM_API vkllm_status vkllm_inspect(vkllm_runtime *rt, const char *path,
                                     const vkllm_inspect_callbacks *callbacks,
                                     vkllm_inspection *out);

/* ------------------------------------------------------------------------ */
/* Tokenizers                                                                */

/* Loads a tokenizer file: a llama2.c tokenizer (the model fixes the
 * vocabulary size it must hold), a GGUF file's vocabulary, or a Hugging Face
 * tokenizer.json (or the folder holding one). */
VKLLM_API vkllm_status vkllm_tokenizer_load(vkllm_runtime *rt, const char *path,
                                            const vkllm_model *model,
                                            vkllm_tokenizer **out);
VKLLM_API void vkllm_tokenizer_destroy(vkllm_tokenizer *tok);

VKLLM_API int32_t vkllm_tokenizer_vocab_size(const vkllm_tokenizer *tok);
VKLLM_API int32_t vkllm_tokenizer_bos(const vkllm_tokenizer *tok);
VKLLM_API int32_t vkllm_tokenizer_eos(const vkllm_tokenizer *tok);

/* Encodes UTF-8 text (any bytes are accepted). Writes at most capacity ids
 * and sets *count to the number the text needs; VKLLM_ERROR_INVALID_ARGUMENT
 * when that exceeds capacity. */
VKLLM_API vkllm_status vkllm_tokenizer_encode(const vkllm_tokenizer *tok, const char *text,
                                              size_t text_len, bool add_bos,
                                              int32_t *ids, size_t capacity, size_t *count);

/* The bytes token `id` stands for when it follows token `prev` (a leading
 * space is dropped right after BOS, byte tokens give their byte). The bytes
 * may be a partial UTF-8 character. Returns NULL for an id out of range. */
VKLLM_API const char *vkllm_tokenizer_piece(const vkllm_tokenizer *tok, int32_t prev,
                                            int32_t id, size_t *len);

/* ------------------------------------------------------------------------ */
/* Sampling                                                                  */

typedef struct vkllm_sampler_options {
    float temperature;    /* 0: greedy (argmax); must not be negative */
    int32_t top_k;        /* 0 (or the vocabulary size and above): off */
    float top_p;          /* in 0 .. 1; 0 and 1 are off, as in llama2.c */
    uint64_t seed;
} vkllm_sampler_options;

VKLLM_API vkllm_sampler_options vkllm_sampler_default_options(void);

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

typedef struct vkllm_session_options {
    int32_t context_length;   /* 0: the model's own */
    int32_t batch_size;       /* tokens evaluated per prompt step; 0: chosen */
    bool logits_all;          /* keep logits for every evaluated token, not the last */
} vkllm_session_options;

VKLLM_API vkllm_session_options vkllm_session_default_options(void);

VKLLM_API vkllm_status vkllm_session_create(vkllm_model *model,
                                            const vkllm_session_options *options,
                                            vkllm_session **out);
VKLLM_API void vkllm_session_destroy(vkllm_session *s);
VKLLM_API const char *vkllm_session_error(const vkllm_session *s);

/* Runs `count` tokens through the model at the session's position and
 * advances it. Afterwards vkllm_session_logits() holds the logits of the last
 * token (or of all of them with logits_all). */
VKLLM_API vkllm_status vkllm_session_eval(vkllm_session *s, const int32_t *tokens,
                                          size_t count);

/* Logits of the i-th token of the last eval (i counts from 0; without
 * logits_all only the last token's, at i = count - 1, are kept). */
VKLLM_API const float *vkllm_session_logits(const vkllm_session *s, size_t i);

VKLLM_API int32_t vkllm_session_position(const vkllm_session *s);
VKLLM_API int32_t vkllm_session_context_length(const vkllm_session *s);

/* Forgets every token: the next eval starts at position 0. */
VKLLM_API void vkllm_session_reset(vkllm_session *s);

/* ------------------------------------------------------------------------ */
/* Generation                                                                */

typedef void (*vkllm_text_fn)(const char *utf8, size_t len, void *user);
typedef void (*vkllm_token_fn)(int32_t id, void *user);

typedef struct vkllm_generate_options {
    int32_t max_tokens;          /* positions after BOS, prompt included (llama2.c's -n) */
    vkllm_sampler_options sampler;
    vkllm_text_fn on_text;       /* whole UTF-8 characters, as they are produced */
    vkllm_token_fn on_token;     /* each token after BOS, prompt included */
    void *user;
} vkllm_generate_options;

VKLLM_API vkllm_generate_options vkllm_generate_default_options(void);

typedef struct vkllm_generate_stats {
    int32_t prompt_tokens;       /* including BOS */
    int32_t generated_tokens;
    double prompt_seconds;
    double generate_seconds;
} vkllm_generate_stats;

/* Resets the session, evaluates BOS + the prompt, then samples until
 * max_tokens positions, BOS or EOS, or the end of the context. The prompt
 * must fit in the context (VKLLM_ERROR_CONTEXT_FULL otherwise). */
VKLLM_API vkllm_status vkllm_generate(vkllm_session *s, const vkllm_tokenizer *tok,
                                      const char *prompt,
                                      const vkllm_generate_options *options,
                                      vkllm_generate_stats *stats);

/* ------------------------------------------------------------------------ */
/* Kernel timings                                                            */

typedef struct vkllm_op_timing {
    const char *op;               /* "matvec", "matmul", "rmsnorm", ... */
    const char *type;             /* weight type, or "F32" */
    uint32_t rows;                /* output rows (weight rows for products) */
    uint32_t cols;                /* weights per row, or row length */
    uint32_t tokens;
    double seconds;               /* one dispatch, the median of the repetitions */
    double gflops;                /* arithmetic rate */
    double gbytes;                /* memory rate: every byte read and written once */
} vkllm_op_timing;

typedef void (*vkllm_op_timing_fn)(const vkllm_op_timing *timing, void *user);

/* Times each kernel at model-like shapes (TinyLlama's, and attention over a
 * 512-position context) on a device (-1: the default) with timestamp
 * queries, calling on_timing for each; last a 64 MiB buffer copy ("copy"),
 * whose rate is the memory bandwidth a generation step is measured
 * against. Weights are zeros: the time of a kernel does not depend on the
 * values. */
VKLLM_API vkllm_status vkllm_bench_ops(vkllm_runtime *rt, int32_t device,
                                       vkllm_op_timing_fn on_timing, void *user);

#ifdef __cplusplus
}
#endif

#endif /* VKLLM_H */
