/* Whole-file reading, memory mapping and atomic writing. */
#ifndef VT_FILEIO_H
#define VT_FILEIO_H

#include "vitc.h"
#include <stddef.h>
#include <stdio.h>

/* Reads a whole file (at most max_size bytes) into a malloc'ed buffer (NUL-terminated). */
vitc_status vt_read_file(const char *path, size_t max_size, char **data, size_t *size);

/* Read-only private mapping of a whole file; an empty file gives data = NULL, size = 0. */
typedef struct vt_mapping { void *data; size_t size; } vt_mapping;
vitc_status vt_map_file(const char *path, vt_mapping *out);
void vt_unmap(vt_mapping *m);
/* Drops the mapping's resident pages (they are re-read from the file if touched again). */
void vt_mapping_drop_pages(vt_mapping *m);

/* Atomic write: vt_atomic_open creates "<path>.tmp.<pid>" ; vt_atomic_commit fsyncs,
 * closes and renames it over path; vt_atomic_abort closes and removes it. */
typedef struct vt_atomic_file { FILE *fp; char *tmp_path; char *path; } vt_atomic_file;
vitc_status vt_atomic_open(const char *path, vt_atomic_file *f);
vitc_status vt_atomic_commit(vt_atomic_file *f);
void vt_atomic_abort(vt_atomic_file *f);

#endif
