/* NumPy .npy files (format 1.0/2.0/3.0), float32 little-endian, C order only. */
#ifndef VT_NPY_H
#define VT_NPY_H

#include "vitc.h"
#include <stdint.h>

#define VT_NPY_MAX_DIMS 8

typedef struct vt_npy {
    int ndim;
    int64_t shape[VT_NPY_MAX_DIMS];
    size_t count;   /* number of elements */
    float *data;    /* malloc'ed, owned */
} vt_npy;

/* Reads a float32 array ('<f4'; '<f8' and '<f2' are converted). Errors name the file. */
vitc_status vt_npy_read(const char *path, vt_npy *out);
/* Writes atomically (temporary file + rename): no partial file is ever left behind. */
vitc_status vt_npy_write(const char *path, const float *data, int ndim, const int64_t *shape);
void vt_npy_free(vt_npy *a);

#endif
