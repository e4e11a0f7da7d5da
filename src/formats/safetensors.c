/* safetensors reader and writer.
 *
 * The reader trusts nothing: every header field is checked against the file before a tensor
 * is exposed, so callers may read t->data[0 .. t->nbytes) freely. */
#include "formats/safetensors.h"
#include "core/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VT_ST_MAX_HEADER (100u * 1024u * 1024u)
/* Largest integer a JSON double holds exactly; no file offset or dimension can exceed it. */
#define VT_ST_MAX_INT 9007199254740992.0

static const struct {
    const char *name;
    vt_dtype dtype;
    size_t size;
} dtype_table[] = {
    {"F32", VT_DTYPE_F32, 4}, {"F16", VT_DTYPE_F16, 2}, {"BF16", VT_DTYPE_BF16, 2}, {"F64", VT_DTYPE_F64, 8},
    {"I64", VT_DTYPE_I64, 8}, {"I32", VT_DTYPE_I32, 4}, {"I16", VT_DTYPE_I16, 2},   {"I8", VT_DTYPE_I8, 1},
    {"U8", VT_DTYPE_U8, 1},   {"BOOL", VT_DTYPE_BOOL, 1},
};
/* Appends a string literal. */
#define APPEND_LIT(b, lit) vt_strbuf_append((b), (lit), sizeof(lit) - 1)
#define N_DTYPES (sizeof dtype_table / sizeof dtype_table[0])

size_t vt_dtype_size(vt_dtype dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].size;
    return 0;
}

const char *vt_dtype_name(vt_dtype dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].dtype == dtype) return dtype_table[i].name;
    return "?";
}

static int dtype_from_name(const char *name, vt_dtype *out) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(dtype_table[i].name, name) == 0) {
            *out = dtype_table[i].dtype;
            return 1;
        }
    return 0;
}

/* Copies a name from an untrusted header into buf for an error message: at most 64 bytes,
 * non-printable ASCII replaced by '?', so the message stays one short line. */
static const char *printable(const char *s, char *buf, size_t cap) {
    size_t o = 0, i = 0;
    for (; s[i] && o + 4 < cap && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i]) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

/* A JSON number that is a non-negative integer no larger than 2^53. */
static int json_uint(const vt_json *v, uint64_t *out) {
    if (!v || v->type != VT_JSON_NUMBER) return 0;
    double d = v->number;
    if (!(d >= 0.0) || d > VT_ST_MAX_INT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const vt_st_tensor *)a)->name, ((const vt_st_tensor *)b)->name);
}

typedef struct span {
    uint64_t begin, end;
    size_t index;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

void vt_st_close(vt_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    vt_json_free(st->metadata);
    vt_unmap(&st->map);
    free(st->path);
    free(st);
}

/* Validates one tensor entry and fills t (except name). data is the data area. */
static vitc_status parse_entry(const char *path, const char *name, const vt_json *e, const uint8_t *data,
                               size_t data_size, vt_st_tensor *t, span *sp) {
    char nb[80];
    const char *pn = printable(name, nb, sizeof nb);
    if (e->type != VT_JSON_OBJECT)
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: header entry is not an object", path, pn);

    const vt_json *dt = vt_json_get(e, "dtype");
    if (!dt) return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: missing dtype", path, pn);
    if (dt->type != VT_JSON_STRING) return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: dtype is not a string", path, pn);
    if (!dtype_from_name(dt->string, &t->dtype)) {
        char db[80];
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: unknown dtype '%s'", path, pn,
                        printable(dt->string, db, sizeof db));
    }
    size_t esize = vt_dtype_size(t->dtype);

    const vt_json *shape = vt_json_get(e, "shape");
    if (!shape) return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: missing shape", path, pn);
    if (shape->type != VT_JSON_ARRAY)
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: shape is not an array", path, pn);
    if (shape->count > VT_ST_MAX_DIMS)
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: shape has %zu dimensions (at most %d supported)", path, pn,
                        shape->count, VT_ST_MAX_DIMS);
    t->ndim = (int)shape->count;
    int has_zero = 0;
    for (size_t i = 0; i < shape->count; i++) {
        uint64_t d;
        if (!json_uint(&shape->items[i], &d))
            return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: shape[%zu] is not a non-negative integer", path, pn, i);
        t->shape[i] = (int64_t)d;
        has_zero |= d == 0;
    }
    /* numel x esize must fit in int64 and size_t; a zero dimension makes any other size fine */
    uint64_t numel = has_zero ? 0 : 1;
    uint64_t limit = (uint64_t)INT64_MAX < (uint64_t)SIZE_MAX ? (uint64_t)INT64_MAX : (uint64_t)SIZE_MAX;
    for (size_t i = 0; i < shape->count && numel; i++) {
        uint64_t d = (uint64_t)t->shape[i];
        if (numel > limit / esize / d)
            return vt_error(VITC_ERR_FORMAT,
                            "%s: tensor %s: shape is too large (element count x dtype size overflows)", path, pn);
        numel *= d;
    }
    t->numel = (int64_t)numel;
    uint64_t need = numel * esize;

    const vt_json *off = vt_json_get(e, "data_offsets");
    if (!off) return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: missing data_offsets", path, pn);
    uint64_t begin, end;
    if (off->type != VT_JSON_ARRAY || off->count != 2 || !json_uint(&off->items[0], &begin) ||
        !json_uint(&off->items[1], &end))
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: data_offsets is not [begin, end] of non-negative integers",
                        path, pn);
    if (begin > end)
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: data_offsets begin %llu is after end %llu", path, pn,
                        (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return vt_error(VITC_ERR_FORMAT, "%s: tensor %s: data_offsets end %llu is beyond the data area (%zu bytes)",
                        path, pn, (unsigned long long)end, data_size);
    if (end - begin != need)
        return vt_error(VITC_ERR_FORMAT,
                        "%s: tensor %s: data_offsets span %llu bytes but shape and dtype %s need %llu bytes", path,
                        pn, (unsigned long long)(end - begin), vt_dtype_name(t->dtype), (unsigned long long)need);
    t->data = data + begin;
    t->nbytes = (size_t)need;
    sp->begin = begin;
    sp->end = end;
    return VITC_OK;
}

static vitc_status parse_file(vt_safetensors *st, const uint8_t *buf, size_t size) {
    const char *path = st->path;
    if (size < 8)
        return vt_error(VITC_ERR_FORMAT, "%s: file too short for a safetensors header (%zu bytes)", path, size);
    uint64_t hlen = read_le64(buf);
    if (hlen > VT_ST_MAX_HEADER)
        return vt_error(VITC_ERR_FORMAT, "%s: header length %llu exceeds the %u MB limit", path,
                        (unsigned long long)hlen, VT_ST_MAX_HEADER >> 20);
    if (hlen > size - 8)
        return vt_error(VITC_ERR_FORMAT, "%s: header length %llu extends past the end of the file (%zu bytes)", path,
                        (unsigned long long)hlen, size);
    char jerr[128];
    vt_json *root = vt_json_parse((const char *)buf + 8, (size_t)hlen, jerr, sizeof jerr);
    if (!root) return vt_error(VITC_ERR_FORMAT, "%s: header is not valid JSON: %s", path, jerr);
    if (root->type != VT_JSON_OBJECT) {
        vt_json_free(root);
        return vt_error(VITC_ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    const uint8_t *data = buf + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;

    vitc_status s = VITC_OK;
    size_t n = 0;
    int have_meta = 0;
    for (size_t i = 0; i < root->count; i++) n += strcmp(root->keys[i], "__metadata__") != 0;
    vt_st_tensor *tensors = calloc(n ? n : 1, sizeof *tensors);
    span *spans = calloc(n ? n : 1, sizeof *spans);
    if (!tensors || !spans) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory for %zu tensors", path, n);
        goto done;
    }
    st->tensors = tensors;
    size_t k = 0;
    for (size_t i = 0; i < root->count; i++) {
        const char *key = root->keys[i];
        const vt_json *val = &root->items[i];
        if (strcmp(key, "__metadata__") == 0) {
            if (have_meta) {
                s = vt_error(VITC_ERR_FORMAT, "%s: __metadata__ appears twice", path);
                goto done;
            }
            have_meta = 1;
            if (val->type != VT_JSON_OBJECT) {
                s = vt_error(VITC_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                goto done;
            }
            for (size_t j = 0; j < val->count; j++)
                if (val->items[j].type != VT_JSON_STRING) {
                    char kb[80];
                    s = vt_error(VITC_ERR_FORMAT, "%s: __metadata__ value of %s is not a string", path,
                                 printable(val->keys[j], kb, sizeof kb));
                    goto done;
                }
            continue;
        }
        vt_st_tensor *t = &tensors[k];
        s = parse_entry(path, key, val, data, data_size, t, &spans[k]);
        if (s != VITC_OK) goto done;
        t->name = strdup(key);
        if (!t->name) {
            s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        spans[k].index = k;
        st->n_tensors = ++k;
    }

    /* Overlaps, checked on the tensors in data order (empty tensors occupy no bytes). */
    qsort(spans, n, sizeof *spans, cmp_span);
    const span *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (spans[i].begin == spans[i].end) continue;
        if (prev && spans[i].begin < prev->end) {
            char b1[80], b2[80];
            s = vt_error(VITC_ERR_FORMAT, "%s: tensors %s and %s overlap in the data area", path,
                         printable(tensors[prev->index].name, b1, sizeof b1),
                         printable(tensors[spans[i].index].name, b2, sizeof b2));
            goto done;
        }
        prev = &spans[i];
    }
    qsort(tensors, n, sizeof *tensors, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(tensors[i - 1].name, tensors[i].name) == 0) {
            char b1[80];
            s = vt_error(VITC_ERR_FORMAT, "%s: duplicate tensor name %s", path,
                         printable(tensors[i].name, b1, sizeof b1));
            goto done;
        }

    /* Keep only the metadata object; detach it from the root. */
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i], "__metadata__") != 0) continue;
        st->metadata = malloc(sizeof *st->metadata);
        if (!st->metadata) {
            s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        *st->metadata = root->items[i];
        memset(&root->items[i], 0, sizeof root->items[i]);
        break;
    }
done:
    free(spans);
    vt_json_free(root);
    return s;
}

static vitc_status open_common(const char *path, const vt_mapping *map, const void *data, size_t size,
                               vt_safetensors **out) {
    *out = NULL;
    vt_safetensors *st = calloc(1, sizeof *st);
    if (!st) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    st->path = strdup(path);
    if (!st->path) {
        free(st);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    if (map) st->map = *map;
    vitc_status s = parse_file(st, data, size);
    if (s != VITC_OK) {
        vt_st_close(st);
        return s;
    }
    *out = st;
    return VITC_OK;
}

vitc_status vt_st_open(const char *path, vt_safetensors **out) {
    *out = NULL;
    if (!path) return vt_error(VITC_ERR_ARG, "safetensors: no path given");
    vt_mapping map;
    vitc_status s = vt_map_file(path, &map);
    if (s != VITC_OK) return s;
    return open_common(path, &map, map.data, map.size, out);
}

vitc_status vt_st_open_memory(const void *data, size_t size, const char *name, vt_safetensors **out) {
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && size) return vt_error(VITC_ERR_ARG, "%s: no data given", name);
    return open_common(name, NULL, data, size, out);
}

const vt_st_tensor *vt_st_find(const vt_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *vt_st_meta(const vt_safetensors *st, const char *key) {
    if (!st) return NULL;
    return vt_json_get_string(st->metadata, key, NULL);
}

/* ------------------------------------------------------------------ conversion */

static float f32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13); /* inf, or NaN keeping its payload */
    } else if (exp != 0) {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign; /* signed zero */
    } else {
        /* subnormal: normalize so the leading 1 reaches bit 10 */
        int e = 1;
        while (!(mant & 0x400)) {
            mant <<= 1;
            e--;
        }
        mant &= 0x3FF;
        bits = sign | ((uint32_t)(e - 15 + 127) << 23) | (mant << 13);
    }
    return f32_from_bits(bits);
}

static float double_to_float(double d) {
    /* Out-of-range conversions are undefined in C; round them explicitly (ties to even). */
    if (d >= 0x1.ffffffp127) return INFINITY;
    if (d <= -0x1.ffffffp127) return -INFINITY;
    if (d > FLT_MAX) return FLT_MAX;
    if (d < -FLT_MAX) return -FLT_MAX;
    return (float)d;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

vitc_status vt_st_to_f32(const vt_safetensors *st, const vt_st_tensor *t, const float **out, int *owned) {
    *out = NULL;
    *owned = 0;
    const char *path = st && st->path ? st->path : "safetensors";
    if (!t) return vt_error(VITC_ERR_ARG, "%s: no tensor given", path);
    if (t->dtype != VT_DTYPE_F32 && t->dtype != VT_DTYPE_F16 && t->dtype != VT_DTYPE_BF16 &&
        t->dtype != VT_DTYPE_F64)
    {
        char nb[80];
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s has dtype %s, expected a floating type", path,
                        printable(t->name, nb, sizeof nb), vt_dtype_name(t->dtype));
    }
    size_t n = (size_t)t->numel;
    if (t->dtype == VT_DTYPE_F32 && host_is_little_endian() && ((uintptr_t)t->data % _Alignof(float)) == 0) {
        static const float empty[1] = {0.0f};
        *out = n ? (const float *)(const void *)t->data : empty;
        return VITC_OK;
    }
    if (n > SIZE_MAX / sizeof(float))
        return vt_error(VITC_ERR_NOMEM, "%s: tensor %s is too large to convert", path, t->name);
    float *f = malloc(n ? n * sizeof(float) : 1);
    if (!f) return vt_error(VITC_ERR_NOMEM, "%s: out of memory converting tensor %s", path, t->name);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case VT_DTYPE_F32:
        for (size_t i = 0; i < n; i++, p += 4)
            f[i] = f32_from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        break;
    case VT_DTYPE_F16:
        for (size_t i = 0; i < n; i++, p += 2) f[i] = half_to_float((uint16_t)(p[0] | p[1] << 8));
        break;
    case VT_DTYPE_BF16:
        for (size_t i = 0; i < n; i++, p += 2) f[i] = f32_from_bits((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24);
        break;
    default: /* F64 */
        for (size_t i = 0; i < n; i++, p += 8) {
            uint64_t bits = read_le64(p);
            double d;
            memcpy(&d, &bits, sizeof d);
            f[i] = double_to_float(d);
        }
        break;
    }
    *out = f;
    *owned = 1;
    return VITC_OK;
}

/* ------------------------------------------------------------------ writer */

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

vitc_status vt_st_write(const char *path, const vt_st_write_tensor *tensors, size_t n,
                        const char *const *meta_keys, const char *const *meta_values, size_t n_meta) {
    if (!path) return vt_error(VITC_ERR_ARG, "safetensors: no output path given");
    if (n && !tensors) return vt_error(VITC_ERR_ARG, "%s: no tensors given", path);
    if (n_meta && (!meta_keys || !meta_values)) return vt_error(VITC_ERR_ARG, "%s: metadata missing", path);
    for (size_t i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i]) return vt_error(VITC_ERR_ARG, "%s: metadata entry %zu is NULL", path, i);

    /* Validate tensors and compute offsets. */
    uint64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    if (!bytes) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    vitc_status s = VITC_OK;
    for (size_t i = 0; i < n && s == VITC_OK; i++) {
        const vt_st_write_tensor *t = &tensors[i];
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0) {
            s = vt_error(VITC_ERR_ARG, "%s: tensor %zu has an invalid name", path, i);
            break;
        }
        if (t->ndim < 0 || t->ndim > VT_ST_MAX_DIMS) {
            s = vt_error(VITC_ERR_ARG, "%s: tensor %s has %d dimensions (0 to %d supported)", path, t->name, t->ndim,
                         VT_ST_MAX_DIMS);
            break;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (t->shape[d] > 0 && numel > (uint64_t)(INT64_MAX / 4) / (uint64_t)t->shape[d])) {
                s = vt_error(VITC_ERR_ARG, "%s: tensor %s has an invalid shape", path, t->name);
                break;
            }
            numel *= (uint64_t)t->shape[d];
        }
        if (s != VITC_OK) break;
        if (numel && !t->data && !t->data_i8) {
            s = vt_error(VITC_ERR_ARG, "%s: tensor %s has no data", path, t->name);
            break;
        }
        bytes[i] = t->data_i8 ? numel : numel * 4;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0) {
                s = vt_error(VITC_ERR_ARG, "%s: duplicate tensor name %s", path, t->name);
                break;
            }
    }
    if (s != VITC_OK) {
        free(bytes);
        return s;
    }

    vt_strbuf h = {0};
    APPEND_LIT(&h, "{");
    if (n_meta) {
        APPEND_LIT(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) APPEND_LIT(&h, ",");
            vt_strbuf_json_string(&h, meta_keys[i]);
            APPEND_LIT(&h, ":");
            vt_strbuf_json_string(&h, meta_values[i]);
        }
        APPEND_LIT(&h, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const vt_st_write_tensor *t = &tensors[i];
        if (i || n_meta) APPEND_LIT(&h, ",");
        vt_strbuf_json_string(&h, t->name);
        if (t->data_i8) APPEND_LIT(&h, ":{\"dtype\":\"I8\",\"shape\":[");
        else APPEND_LIT(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) vt_strbuf_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        vt_strbuf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                         (unsigned long long)(offset + bytes[i]));
        offset += bytes[i];
    }
    APPEND_LIT(&h, "}");
    while (!h.failed && h.len % 8 != 0) APPEND_LIT(&h, " ");
    if (h.failed) {
        vt_strbuf_free(&h);
        free(bytes);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory building the header", path);
    }

    vt_atomic_file f;
    s = vt_atomic_open(path, &f);
    if (s != VITC_OK) {
        vt_strbuf_free(&h);
        free(bytes);
        return s;
    }
    uint8_t len8[8];
    put_le64(len8, h.len);
    int ok = fwrite(len8, 1, 8, f.fp) == 8 && fwrite(h.data, 1, h.len, f.fp) == h.len;
    int le = host_is_little_endian();
    for (size_t i = 0; i < n && ok; i++) {
        if (tensors[i].data_i8) {
            ok = !bytes[i] || fwrite(tensors[i].data_i8, 1, (size_t)bytes[i], f.fp) == bytes[i];
            continue;
        }
        size_t numel = (size_t)(bytes[i] / 4);
        if (!numel) continue;
        if (le) {
            ok = fwrite(tensors[i].data, 4, numel, f.fp) == numel;
        } else {
            for (size_t j = 0; j < numel && ok; j++) {
                uint32_t b;
                memcpy(&b, &tensors[i].data[j], 4);
                uint8_t o[4] = {(uint8_t)b, (uint8_t)(b >> 8), (uint8_t)(b >> 16), (uint8_t)(b >> 24)};
                ok = fwrite(o, 1, 4, f.fp) == 4;
            }
        }
    }
    vt_strbuf_free(&h);
    free(bytes);
    if (!ok) {
        vt_atomic_abort(&f);
        return vt_error(VITC_ERR_IO, "%s: write failed", path);
    }
    return vt_atomic_commit(&f);
}
