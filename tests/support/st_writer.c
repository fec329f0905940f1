#include "st_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static char *header_json(const st_entry *entries, int count)
{
    cJSON *root = cJSON_CreateObject();
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        cJSON *t = cJSON_AddObjectToObject(root, entries[i].name);
        cJSON_AddStringToObject(t, "dtype", entries[i].dtype);
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < entries[i].n_dims; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)entries[i].shape[d]));
        cJSON *range = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(range, cJSON_CreateNumber((double)offset));
        offset += entries[i].bytes;
        cJSON_AddItemToArray(range, cJSON_CreateNumber((double)offset));
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return json;
}

int st_write(const char *path, const st_entry *entries, int count)
{
    char *json = header_json(entries, count);
    FILE *f = fopen(path, "wb");
    if (json == NULL || f == NULL) {
        free(json);
        if (f != NULL)
            fclose(f);
        return -1;
    }

    uint64_t length = strlen(json);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(length >> (8 * i));
    int ok = fwrite(prefix, 1, 8, f) == 8 && fwrite(json, 1, length, f) == length;
    for (int i = 0; i < count && ok; i++)
        ok = fwrite(entries[i].data, 1, entries[i].bytes, f) == entries[i].bytes;
    free(json);
    return fclose(f) == 0 && ok ? 0 : -1;
}
