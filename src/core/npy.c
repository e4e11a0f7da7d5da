/* NumPy .npy reading and writing (float32; float64 and float16 converted on read). */
#include "core/npy.h"
#include "core/error.h"
#include "core/fileio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_NPY_MAX_FILE ((size_t)1 << 34)

void vt_npy_free(vt_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

static float half_to_float(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Finds the value after 'key': in the header dictionary; NULL when absent. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

vitc_status vt_npy_read(const char *path, vt_npy *out) {
    memset(out, 0, sizeof *out);
    char *data;
    size_t size;
    vitc_status st = vt_read_file(path, VT_NPY_MAX_FILE, &data, &size);
    if (st != VITC_OK) return st;
    const uint8_t *u = (const uint8_t *)data;
    st = VITC_ERR_FORMAT;
    const char *problem = NULL;
    char *header = NULL;
    if (size < 10 || memcmp(data, "\x93NUMPY", 6) != 0) {
        problem = "not a .npy file";
        goto fail;
    }
    int major = u[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)u[8] | (size_t)u[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) {
            problem = "truncated header";
            goto fail;
        }
        hlen = (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        hstart = 12;
    } else {
        problem = "unsupported .npy version";
        goto fail;
    }
    if (hlen > size - hstart) {
        problem = "truncated header";
        goto fail;
    }
    header = malloc(hlen + 1);
    if (!header) {
        free(data);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(header, data + hstart, hlen);
    header[hlen] = '\0';

    const char *d = dict_value(header, "descr");
    int itemsize = 0;
    if (d && !strncmp(d, "'<f4'", 5)) itemsize = 4;
    else if (d && !strncmp(d, "'<f8'", 5)) itemsize = 8;
    else if (d && !strncmp(d, "'<f2'", 5)) itemsize = 2;
    if (!itemsize) {
        st = VITC_ERR_SHAPE;
        problem = "dtype is not little-endian float32/float64/float16";
        goto fail;
    }
    const char *f = dict_value(header, "fortran_order");
    if (!f || strncmp(f, "False", 5) != 0) {
        st = VITC_ERR_UNSUPPORTED;
        problem = "only C-order arrays are supported";
        goto fail;
    }
    const char *s = dict_value(header, "shape");
    if (!s || *s != '(') {
        problem = "header has no shape";
        goto fail;
    }
    s++;
    size_t count = 1;
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        if (*s < '0' || *s > '9' || out->ndim >= VT_NPY_MAX_DIMS) {
            problem = *s < '0' || *s > '9' ? "malformed shape" : "too many dimensions";
            goto fail;
        }
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (v > ((size_t)1 << 40) || (v && count > (((size_t)1 << 40) / v))) {
            problem = "shape too large";
            goto fail;
        }
        out->shape[out->ndim++] = (int64_t)v;
        count *= (size_t)v;
        s = end;
    }
    size_t body = size - hstart - hlen;
    if (count * (size_t)itemsize != body) {
        problem = count * (size_t)itemsize > body ? "data shorter than the shape says" : "data longer than the shape says";
        goto fail;
    }
    out->count = count;
    out->data = malloc(count ? count * sizeof(float) : 1);
    if (!out->data) {
        free(data);
        free(header);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    const uint8_t *b = u + hstart + hlen;
    for (size_t i = 0; i < count; i++) {
        if (itemsize == 4) {
            memcpy(&out->data[i], b + 4 * i, 4);
        } else if (itemsize == 8) {
            double v;
            memcpy(&v, b + 8 * i, 8);
            out->data[i] = (float)v;
        } else {
            out->data[i] = half_to_float((uint16_t)(b[2 * i] | b[2 * i + 1] << 8));
        }
    }
    free(data);
    free(header);
    return VITC_OK;
fail:
    free(data);
    free(header);
    vt_npy_free(out);
    return vt_error(st, "%s: %s", path, problem);
}

vitc_status vt_npy_write(const char *path, const float *data, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > VT_NPY_MAX_DIMS) return vt_error(VITC_ERR_ARG, "%s: invalid number of dimensions", path);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return vt_error(VITC_ERR_ARG, "%s: negative dimension", path);
        n += snprintf(dict + n, sizeof dict - (size_t)n, ndim == 1 ? "%lld," : i ? ", %lld" : "%lld",
                      (long long)shape[i]);
        count *= (size_t)shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* pad with spaces so that magic + length + header is a multiple of 64, ending in '\n' */
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    char header[640];
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    size_t hlen = padded - 10;
    header[8] = (char)(hlen & 0xff);
    header[9] = (char)(hlen >> 8);
    memcpy(header + 10, dict, (size_t)n);
    memset(header + 10 + n, ' ', padded - total);
    header[padded - 1] = '\n';

    vt_atomic_file f;
    vitc_status st = vt_atomic_open(path, &f);
    if (st != VITC_OK) return st;
    if (fwrite(header, 1, padded, f.fp) != padded ||
        (count && fwrite(data, sizeof(float), count, f.fp) != count)) {
        vt_atomic_abort(&f);
        return vt_error(VITC_ERR_IO, "%s: write failed", path);
    }
    return vt_atomic_commit(&f);
}
