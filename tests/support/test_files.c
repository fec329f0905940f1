#include "test_files.h"

#include <stdio.h>
#include <stdlib.h>

unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;

    unsigned char *bytes = NULL;
    long length = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    if (length >= 0)
        bytes = malloc((size_t)length + 1);
    if (bytes != NULL && fread(bytes, 1, (size_t)length, f) != (size_t)length) {
        free(bytes);
        bytes = NULL;
    }
    if (bytes != NULL) {
        bytes[length] = '\0';
        *size = (size_t)length;
    }
    fclose(f);
    return bytes;
}

int write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;

    size_t written = size > 0 ? fwrite(bytes, 1, size, f) : 0;
    return fclose(f) == 0 && written == size ? 0 : -1;
}

int read_ids(const char *path, int32_t *ids, int capacity)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;

    int count = 0;
    while (count < capacity && fscanf(f, "%d", &ids[count]) == 1)
        count++;
    fclose(f);
    return count;
}
