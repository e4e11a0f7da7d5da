/* safetensors reader (mmap, fully validated) and writer (atomic).
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
 * then the data area; offsets are relative to the data area. */
#ifndef VT_SAFETENSORS_H
#define VT_SAFETENSORS_H

#include "vitc.h"
#include "core/json.h"
#include "core/fileio.h"
#include <stdint.h>

typedef enum vt_dtype {
    VT_DTYPE_F32, VT_DTYPE_F16, VT_DTYPE_BF16, VT_DTYPE_F64,
    VT_DTYPE_I64, VT_DTYPE_I32, VT_DTYPE_I16, VT_DTYPE_I8, VT_DTYPE_U8, VT_DTYPE_BOOL
} vt_dtype;

#define VT_ST_MAX_DIMS 8

typedef struct vt_st_tensor {
    char *name;
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    int64_t numel;
    const uint8_t *data;   /* points into the mapping */
    size_t nbytes;
} vt_st_tensor;

typedef struct vt_safetensors {
    char *path;            /* for messages */
    vt_mapping map;        /* whole file (empty when opened from memory) */
    size_t n_tensors;
    vt_st_tensor *tensors; /* sorted by name */
    vt_json *metadata;     /* the "__metadata__" object (string values), or NULL */
} vt_safetensors;

/* Opens and validates: header length within the file, valid JSON object, known dtypes,
 * shape x dtype size == offset span, offsets inside the data area, no overlaps.
 * Every error message starts with the path. */
vitc_status vt_st_open(const char *path, vt_safetensors **out);
/* Same checks on a caller-owned buffer that must outlive the handle (fuzzing, tests). */
vitc_status vt_st_open_memory(const void *data, size_t size, const char *name, vt_safetensors **out);
void vt_st_close(vt_safetensors *st);

const vt_st_tensor *vt_st_find(const vt_safetensors *st, const char *name);
/* Metadata string value or NULL. */
const char *vt_st_meta(const vt_safetensors *st, const char *key);
size_t vt_dtype_size(vt_dtype dtype);
const char *vt_dtype_name(vt_dtype dtype);

/* float32 view of a floating tensor: F32 with 4-byte alignment is returned in place (*owned = 0);
 * F16, BF16, F64 or unaligned F32 are converted into a malloc'ed copy (*owned = 1). */
vitc_status vt_st_to_f32(const vt_safetensors *st, const vt_st_tensor *t, const float **out, int *owned);

/* Writer: tensors are F32 (data), or I8 when data_i8 is set instead. meta_keys/meta_values may be NULL when n_meta == 0.
 * Writes to a temporary file and renames it into place; header padded to 8 bytes. */
typedef struct vt_st_write_tensor {
    const char *name;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    const float *data;
    const int8_t *data_i8;
} vt_st_write_tensor;
vitc_status vt_st_write(const char *path, const vt_st_write_tensor *tensors, size_t n,
                        const char *const *meta_keys, const char *const *meta_values, size_t n_meta);

#endif
