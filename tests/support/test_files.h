/* File helpers shared by the tests. */
#ifndef VKLLM_TEST_FILES_H
#define VKLLM_TEST_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a new buffer with a NUL after the last byte;
 * NULL if it cannot. */
unsigned char *read_file(const char *path, size_t *size);

/* Writes size bytes to path; 0 on success. */
int write_file(const char *path, const void *bytes, size_t size);

/* Reads whitespace-separated token ids; returns how many (at most capacity). */
int read_ids(const char *path, int32_t *ids, int capacity);

#endif
