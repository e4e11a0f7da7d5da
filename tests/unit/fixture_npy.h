/* Reading a reference fixture: DIR/FILE as float32 .npy (core/npy.h); the error goes to stderr. */
#ifndef VT_TEST_FIXTURE_NPY_H
#define VT_TEST_FIXTURE_NPY_H

#include "core/npy.h"
#include <stdio.h>

static inline int load_npy(const char *dir, const char *file, vt_npy *a) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (vt_npy_read(path, a)) {
        fprintf(stderr, "%s\n", vitc_last_error());
        return -1;
    }
    return 0;
}

#endif
