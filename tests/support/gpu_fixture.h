/* Vulkan test fixtures: a runtime with the Khronos validation layer on and
 * every validation message counted (a test fails on any), and a harness
 * that records a few ops into one command buffer and runs them. */
#ifndef VKLLM_GPU_FIXTURE_H
#define VKLLM_GPU_FIXTURE_H

#include "api/handles.h"
#include "ops/ops.h"

typedef struct gpu_fixture {
    vkllm_runtime *rt;
    vkl_gpu_device *dev;
    int validation_messages;
    bool small_gpu;     /* record the GPU kernels (dev->cpu_kernels false) at the shapes
                           of a device with small limits and no subgroup arithmetic */
    vkl_weight_layout matrix_layout;    /* how the product tests upload matrices */
} gpu_fixture;

/* Opens the default device with validation; false (and a message) if none. */
bool gpu_fixture_open(gpu_fixture *fx);

/* Fails the current test if validation said anything, then closes. */
void gpu_fixture_close(gpu_fixture *fx);

/* The runtime options every Vulkan test uses: validation on, messages
 * counted into fx. */
vkllm_runtime_options gpu_fixture_runtime_options(gpu_fixture *fx);

typedef struct op_run {
    gpu_fixture *fx;
    vkl_arena device_arena;
    vkl_arena host_arena;
    vkl_buffer_view step;
    vkl_commands commands;
    vkl_descriptor_pools pools;
    vkl_recorder rec;
    vkl_ops ops;
    vkl_error err;
} op_run;

/* Starts recording ops for a batch of `batch` tokens; the step buffer says
 * n_tokens tokens at position pos0. */
void op_run_begin(op_run *run, gpu_fixture *fx, uint32_t batch, uint32_t pos0, uint32_t n_tokens);

/* A device buffer of count floats holding data (or zeros when data is NULL). */
vkl_buffer_view op_floats(op_run *run, const float *data, size_t count);
/* A device buffer holding count uint32 values. */
vkl_buffer_view op_uints(op_run *run, const uint32_t *data, size_t count);

/* Ends the recording, submits it and waits; false on any failure. */
bool op_run_execute(op_run *run);

/* Reads count floats back from a device buffer. */
void op_read(op_run *run, const vkl_buffer_view *view, float *out, size_t count);

void op_run_free(op_run *run);

/* Fills data with uniform values in [-scale, scale) from a fixed seed. */
void fill_random(float *data, size_t count, float scale, uint64_t *seed);

/* The largest |a - b| / (atol + rtol * |b|) over count pairs: at most 1
 * means every pair is within tolerance. */
double max_scaled_error(const float *a, const float *b, size_t count, double atol, double rtol);

#endif
