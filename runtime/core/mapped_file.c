#include "core/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static vkllm_status map_descriptor(int fd, const char *path, vkl_mapped_file *out,
                                   vkl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return vkl_fail(err, VKLLM_ERROR_IO, "cannot stat %s: %s", path, strerror(errno));

    /* A directory opens fine but cannot be mapped; say what it is instead. */
    if (!S_ISREG(st.st_mode))
        return vkl_fail(err, VKLLM_ERROR_IO, "%s is not a regular file", path);
    /* mmap refuses an empty length; an empty file is empty bytes, and each
     * reader says what it expected instead. */
    static const char nothing[1];
    if (st.st_size == 0) {
        out->data = nothing;
        return VKLLM_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX)
        return vkl_fail(err, VKLLM_ERROR_IO, "%s: the file is too large to map", path);

    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED)
        return vkl_fail(err, VKLLM_ERROR_IO, "cannot map %s: %s", path, strerror(errno));
    out->data = data;
    out->size = (size_t)st.st_size;
    return VKLLM_OK;
}

vkllm_status vkl_mapped_file_open(const char *path, vkl_mapped_file *out, vkl_error *err)
{
    *out = (vkl_mapped_file){0};
    /* Non-blocking, so that a FIFO is refused below instead of waiting for a
     * writer; reads of a regular file are unaffected. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return vkl_fail(err, VKLLM_ERROR_IO, "cannot open %s: %s", path, strerror(errno));

    vkllm_status status = map_descriptor(fd, path, out, err);
    close(fd);      /* the mapping outlives the descriptor */
    return status;
}

void vkl_mapped_file_close(vkl_mapped_file *map)
{
    /* munmap takes a non-const pointer; the mapping was never written. */
    if (map->size > 0)
        munmap((void *)map->data, map->size);
    *map = (vkl_mapped_file){0};
}
