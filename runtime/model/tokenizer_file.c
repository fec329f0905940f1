#include "model/tokenizer_file.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/gguf.h"
#include "model/gguf_vocab.h"
#include "model/hf_tokenizer.h"

static bool is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The first bytes of a regular file (for the GGUF magic) and its first
 * byte that is not a byte order mark or blank (for JSON), or 0. */
static int first_byte(const char *path, char magic[4])
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    char head[64];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    memcpy(magic, head, got < 4 ? got : 4);

    size_t i = got >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < got && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' ||
                       head[i] == '\t'))
        i++;
    return i < got ? (unsigned char)head[i] : 0;
}

static vkllm_status open_gguf_vocab(const char *path, vkl_tokenizer **out, vkl_error *err)
{
    vkl_gguf *g;
    vkllm_status status = vkl_gguf_open(path, &g, err);
    if (status == VKLLM_OK) {
        status = vkl_gguf_vocab_load(g, out, err);
        vkl_gguf_close(g);
    }
    return status;
}

vkllm_status vkl_tokenizer_open(const char *path, int32_t vocab_size, vkl_tokenizer **out,
                                vkl_error *err)
{
    *out = NULL;
    if (is_folder(path)) {
        char json[4096];
        snprintf(json, sizeof json, "%s/tokenizer.json", path);
        return vkl_hf_tokenizer_load(json, out, err);
    }

    char magic[4] = {0};
    int first = first_byte(path, magic);
    if (memcmp(magic, "GGUF", 4) == 0)
        return open_gguf_vocab(path, out, err);
    if (first == '{')
        return vkl_hf_tokenizer_load(path, out, err);
    return vkl_tokenizer_load_llama2c(path, vocab_size, out, err);
}
