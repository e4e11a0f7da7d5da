#include "core/fileio.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

vitc_status vt_read_file(const char *path, size_t max_size, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return vt_error(VITC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return vt_error(VITC_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_size) {
        fclose(fp);
        return vt_error(VITC_ERR_LIMIT, "%s: file too large (%lld bytes, limit %zu)", path,
                        (long long)st.st_size, max_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        return vt_error(VITC_ERR_IO, "%s: read failed", path);
    }
    fclose(fp);
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return VITC_OK;
}

vitc_status vt_map_file(const char *path, vt_mapping *out) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return vt_error(VITC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vt_error(VITC_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return VITC_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return vt_error(VITC_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    out->data = p;
    out->size = (size_t)st.st_size;
    return VITC_OK;
}

void vt_unmap(vt_mapping *m) {
    if (m->data) munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

void vt_mapping_drop_pages(vt_mapping *m) {
    if (m->data) madvise(m->data, m->size, MADV_DONTNEED);
}

vitc_status vt_atomic_open(const char *path, vt_atomic_file *f) {
    memset(f, 0, sizeof *f);
    size_t n = strlen(path) + 32;
    f->tmp_path = malloc(n);
    f->path = strdup(path);
    if (!f->tmp_path || !f->path) {
        free(f->tmp_path);
        free(f->path);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        vitc_status s = vt_error(VITC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(f->tmp_path);
        free(f->path);
        memset(f, 0, sizeof *f);
        return s;
    }
    return VITC_OK;
}

vitc_status vt_atomic_commit(vt_atomic_file *f) {
    vitc_status s = VITC_OK;
    if (fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0)
        s = vt_error(VITC_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    if (fclose(f->fp) != 0 && s == VITC_OK)
        s = vt_error(VITC_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (s == VITC_OK && rename(f->tmp_path, f->path) != 0)
        s = vt_error(VITC_ERR_IO, "%s: cannot rename into place: %s", f->path, strerror(errno));
    if (s != VITC_OK) remove(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
    return s;
}

void vt_atomic_abort(vt_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) remove(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
}
