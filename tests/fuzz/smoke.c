/* Runs a fuzz target without libFuzzer, as a ctest smoke test: for each file
 * named on the command line, the whole file, every truncation (at a step
 * that keeps the count near 2,000) and 2,000 copies with random bytes
 * corrupted, all from a fixed seed. A crash or sanitizer report fails it;
 * the target itself aborts on a failure without a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CORRUPTED_COPIES 2000
#define MAX_PREFIXES 2000

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* Each prefix gets an exact-size copy, so a read past its end is seen. */
static void run_prefix(const unsigned char *bytes, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    memcpy(copy, bytes, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

static void run_truncations(const unsigned char *bytes, size_t size)
{
    size_t step = size / MAX_PREFIXES + 1;
    for (size_t len = 0; len < size; len += len < 256 ? 1 : step)
        run_prefix(bytes, len);
}

static void run_corruptions(const unsigned char *bytes, size_t size, uint64_t *seed)
{
    unsigned char *copy = malloc(size);
    for (int i = 0; i < CORRUPTED_COPIES && size > 0; i++) {
        memcpy(copy, bytes, size);
        int flips = 1 + (int)(next_random(seed) % 8);
        for (int f = 0; f < flips; f++) {
            /* Corrupt the front more often: headers and directories live there. */
            size_t span = next_random(seed) % 2 ? size : (size < 4096 ? size : 4096);
            copy[next_random(seed) % span] = (unsigned char)next_random(seed);
        }
        LLVMFuzzerTestOneInput(copy, size);
    }
    free(copy);
}

int main(int argc, char **argv)
{
    uint64_t seed = 20261204;
    for (int i = 1; i < argc; i++) {
        size_t size = 0;
        unsigned char *bytes = read_file(argv[i], &size);
        if (bytes == NULL) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(bytes, size);
        run_truncations(bytes, size);
        run_corruptions(bytes, size, &seed);
        free(bytes);
        fprintf(stderr, "ok   %s\n", argv[i]);
    }
    return 0;
}
