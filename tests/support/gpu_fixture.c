#include "gpu_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static void count_validation(vkllm_log_level level, vkllm_log_source source,
                             const char *message, void *user)
{
    gpu_fixture *fx = user;
    if (source == VKLLM_LOG_SOURCE_VALIDATION) {
        fx->validation_messages++;
        fprintf(stderr, "validation: %s\n", message);
    }
}

vkllm_runtime_options gpu_fixture_runtime_options(gpu_fixture *fx)
{
    vkllm_runtime_options options = vkllm_runtime_default_options();
    options.validation = true;
    options.log = count_validation;
    options.log_user = fx;
    options.log_level = VKLLM_LOG_WARN;
    return options;
}

bool gpu_fixture_open(gpu_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    vkllm_runtime_options options = gpu_fixture_runtime_options(fx);
    if (vkllm_runtime_create(&options, &fx->rt) != VKLLM_OK) {
        fprintf(stderr, "no Vulkan runtime: %s\n", vkllm_runtime_error(fx->rt));
        test_failures++;
        return false;
    }
    vkl_error err = {0};
    if (vkl_gpu_device_get(&fx->rt->gpu, vkl_gpu_default_device(&fx->rt->gpu), &fx->dev,
                           &err) != VKLLM_OK) {
        fprintf(stderr, "cannot open a device: %s\n", err.message);
        test_failures++;
        return false;
    }
    return true;
}

void gpu_fixture_close(gpu_fixture *fx)
{
    CHECK_MSG(fx->validation_messages == 0, "%d validation messages", fx->validation_messages);
    vkllm_runtime_destroy(fx->rt);
    memset(fx, 0, sizeof *fx);
}

void op_run_begin(op_run *run, gpu_fixture *fx, uint32_t batch, uint32_t pos0, uint32_t n_tokens)
{
    memset(run, 0, sizeof *run);
    run->fx = fx;
    vkl_gpu_device *dev = fx->dev;
    vkl_arena_init(&run->device_arena, dev, false);
    vkl_arena_init(&run->host_arena, dev, true);
    CHECK(vkl_arena_alloc(&run->host_arena, sizeof(vkl_step), &run->step, &run->err) == VKLLM_OK);
    vkl_step step = {pos0, n_tokens};
    memcpy(run->step.mapped, &step, sizeof step);

    CHECK(vkl_commands_create(dev, 1, false, &run->commands, &run->err) == VKLLM_OK);

    vkl_recorder_begin(&run->rec, dev, run->commands.cmd[0], &run->pools, &run->err);
    vkl_ops_init(&run->ops, &run->rec, &run->step, batch);
    if (fx->small_gpu) {
        run->ops.row_wg = 32 < run->ops.wg ? 32 : run->ops.wg;
        run->ops.subgroup_reduce = false;
        run->ops.matmul_wg[0] = 8;
        run->ops.matmul_wg[1] = 4;
        run->ops.matmul_bk = 4;
    }
}

static vkl_buffer_view upload_bytes(op_run *run, const void *data, size_t bytes)
{
    vkl_buffer_view view = {0};
    vkllm_status status = vkl_arena_alloc(&run->device_arena, bytes, &view, &run->err);
    if (status == VKLLM_OK) {
        void *zeros = data == NULL ? calloc(1, bytes) : NULL;
        status = vkl_gpu_upload(run->fx->dev, &view, data ? data : zeros, bytes, &run->err);
        free(zeros);
    }
    CHECK_MSG(status == VKLLM_OK, "%s", run->err.message);
    return view;
}

vkl_buffer_view op_floats(op_run *run, const float *data, size_t count)
{
    return upload_bytes(run, data, count * sizeof(float));
}

vkl_buffer_view op_uints(op_run *run, const uint32_t *data, size_t count)
{
    return upload_bytes(run, data, count * sizeof(uint32_t));
}

bool op_run_execute(op_run *run)
{
    vkllm_status status = vkl_recorder_end(&run->rec);
    if (status == VKLLM_OK)
        status = vkl_gpu_submit_wait(run->fx->dev, run->commands.cmd[0], run->commands.fence,
                                     &run->err);
    CHECK_MSG(status == VKLLM_OK, "%s", run->err.message);
    return status == VKLLM_OK;
}

void op_read(op_run *run, const vkl_buffer_view *view, float *out, size_t count)
{
    vkllm_status status = vkl_gpu_download(run->fx->dev, view, out, count * sizeof(float),
                                           &run->err);
    CHECK_MSG(status == VKLLM_OK, "%s", run->err.message);
}

void op_run_free(op_run *run)
{
    vkl_gpu_device *dev = run->fx->dev;
    vkl_commands_destroy(dev, &run->commands);
    vkl_descriptor_pools_free(dev, &run->pools);
    vkl_arena_free(&run->device_arena);
    vkl_arena_free(&run->host_arena);
}

void fill_random(float *data, size_t count, float scale, uint64_t *seed)
{
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        double unit = (double)(*seed >> 11) / (double)(1ull << 53);
        data[i] = (float)((unit * 2.0 - 1.0) * scale);
    }
}

double max_scaled_error(const float *a, const float *b, size_t count, double atol, double rtol)
{
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        double e = diff == 0.0 ? 0.0 : diff / (atol + rtol * fabs((double)b[i]));
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}
