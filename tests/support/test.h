/* A small test harness: each test program runs its cases with RUN() and
 * exits non-zero if any CHECK failed. */
#ifndef VKLLM_TEST_H
#define VKLLM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int test_failures;

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

/* Runs one case and reports it by name. */
#define RUN(test_fn)                                                            \
    do {                                                                        \
        int failures_before = test_failures;                                    \
        test_fn();                                                              \
        fprintf(stderr, "%s %s\n", test_failures == failures_before ? "ok  " : "FAIL", #test_fn); \
    } while (0)

#define TEST_MAIN_END() return test_failures == 0 ? 0 : 1

/* Where the shared model files live: VKLLM_MODELS_DIR, set by CMake. */
#ifndef VKLLM_MODELS_DIR
#define VKLLM_MODELS_DIR "../shared/models"
#endif

#endif
