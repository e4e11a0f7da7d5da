/* safetensors reader/writer tests: round trip, dtype conversion, one test per corruption class. */
#include "check.h"
#include "core/error.h"
#include "formats/safetensors.h"

#include <dirent.h>
#include <float.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static const char *nz(const char *s) { return s ? s : ""; }

/* Builds "u64 header length | header | data" in a malloc'ed buffer. */
static uint8_t *make_buf(const char *header, const void *data, size_t dlen, size_t *out_len) {
    size_t hlen = strlen(header);
    uint8_t *b = malloc(8 + hlen + dlen + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, header, hlen);
    if (dlen) memcpy(b + 8 + hlen, data, dlen);
    *out_len = 8 + hlen + dlen;
    return b;
}

/* Opens buf from memory as "bad.safetensors": must fail with status; the message must start
 * with the name and contain needle. */
static void expect_fail_buf(const uint8_t *buf, size_t len, vitc_status want, const char *needle, int line) {
    vt_safetensors *st = (vt_safetensors *)1;
    vt_error_clear();
    vitc_status s = vt_st_open_memory(buf, len, "bad.safetensors", &st);
    const char *msg = vitc_last_error();
    CHECK(s == want, "line %d: status %d, want %d (%s)", line, (int)s, (int)want, msg);
    CHECK(st == NULL, "line %d: handle not NULL on failure", line);
    CHECK(strncmp(msg, "bad.safetensors: ", 17) == 0, "line %d: message does not name the file: %s", line, msg);
    CHECK(strstr(msg, needle) != NULL, "line %d: message '%s' lacks '%s'", line, msg, needle);
    CHECK(strchr(msg, '\n') == NULL, "line %d: message spans lines: %s", line, msg);
    if (s == VITC_OK) vt_st_close(st);
}

static void expect_fail_hdr(const char *header, size_t dlen, const char *needle, int line) {
    size_t len;
    uint8_t zeros[256] = {0};
    uint8_t *b = make_buf(header, zeros, dlen, &len);
    expect_fail_buf(b, len, VITC_ERR_FORMAT, needle, line);
    free(b);
}
#define BAD(header, dlen, needle) expect_fail_hdr(header, dlen, needle, __LINE__)

static vt_safetensors *open_ok_hdr(const char *header, const void *data, size_t dlen, uint8_t **keep) {
    size_t len;
    *keep = make_buf(header, data, dlen, &len);
    vt_safetensors *st = NULL;
    vitc_status s = vt_st_open_memory(*keep, len, "good.safetensors", &st);
    CHECK(s == VITC_OK && st, "valid header rejected: %s (%s)", header, vitc_last_error());
    return s == VITC_OK ? st : NULL;
}

static int count_dir_entries(const char *dir, const char *contains) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && (!contains || strstr(e->d_name, contains))) n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------ round trip */

static void test_round_trip(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    float w[12], bias[4], scalar = -7.25f, cube[8];
    for (int i = 0; i < 12; i++) w[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 4; i++) bias[i] = 1.0f / (float)(i + 1);
    for (int i = 0; i < 8; i++) cube[i] = (float)(i * i);
    cube[7] = -0.0f;
    vt_st_write_tensor ts[] = {
        {"blocks.0.weight", 2, {3, 4}, w, NULL},
        {"a.bias", 1, {4}, bias, NULL},
        {"scalar", 0, {0}, &scalar, NULL},
        {"empty", 2, {0, 5}, NULL, NULL},
        {"z\"quoted\\name\n", 3, {2, 2, 2}, cube, NULL},
    };
    const char *keys[] = {"format", "vitc.arch", "note"};
    const char *vals[] = {"pt", "vit_tiny_patch16_224", "quote \" backslash \\ newline \n caf\xc3\xa9"};
    vitc_status s = vt_st_write(path, ts, 5, keys, vals, 3);
    CHECK(s == VITC_OK, "write: %s", vitc_last_error());
    CHECK(count_dir_entries(tmpdir, NULL) == 1, "exactly one file after writing");

    /* raw layout: header length multiple of 8, __metadata__ first, data 8-aligned */
    char *raw;
    size_t rawlen;
    CHECK(vt_read_file(path, 1 << 20, &raw, &rawlen) == VITC_OK, "read back raw");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (uint8_t)raw[i];
    CHECK(hlen % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hlen);
    CHECK(memcmp(raw + 8, "{\"__metadata__\":{", 17) == 0, "metadata first: %.40s", raw + 8);
    CHECK(rawlen == 8 + hlen + (12 + 4 + 1 + 0 + 8) * 4, "file size %zu", rawlen);
    CHECK(raw[8 + hlen - 1] == ' ' || raw[8 + hlen - 1] == '}', "padding with spaces");
    free(raw);

    vt_safetensors *st = NULL;
    s = vt_st_open(path, &st);
    CHECK(s == VITC_OK && st, "open: %s", vitc_last_error());
    if (!st) return;
    CHECK(st->n_tensors == 5, "5 tensors, got %zu", st->n_tensors);
    for (size_t i = 1; i < st->n_tensors; i++)
        CHECK(strcmp(st->tensors[i - 1].name, st->tensors[i].name) < 0, "tensors sorted by name");
    for (size_t i = 0; i < 5; i++) {
        const vt_st_tensor *t = vt_st_find(st, ts[i].name);
        CHECK(t != NULL, "find %s", ts[i].name);
        if (!t) continue;
        CHECK(t->dtype == VT_DTYPE_F32 && t->ndim == ts[i].ndim, "dtype/ndim of %s", ts[i].name);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == ts[i].shape[d], "shape of %s", ts[i].name);
            numel *= ts[i].shape[d];
        }
        CHECK(t->numel == numel && t->nbytes == (size_t)numel * 4, "numel of %s", ts[i].name);
        CHECK(numel == 0 || memcmp(t->data, ts[i].data, (size_t)numel * 4) == 0, "data of %s", ts[i].name);
        if (i == 0) CHECK(((uintptr_t)t->data & 7) == 0, "data area 8-byte aligned");
        const float *f;
        int owned = -1;
        s = vt_st_to_f32(st, t, &f, &owned);
        CHECK(s == VITC_OK && owned == 0, "in-place F32 view of %s", ts[i].name);
        CHECK(numel == 0 || (f == (const float *)(const void *)t->data), "view points into the mapping");
        if (owned) free((void *)f);
    }
    CHECK(signbit(((const float *)(const void *)vt_st_find(st, ts[4].name)->data)[7]), "-0 preserved");
    CHECK(vt_st_find(st, "missing") == NULL, "absent tensor");
    CHECK(vt_st_find(st, "") == NULL, "empty name");
    CHECK(vt_st_find(st, "zzzz") == NULL && vt_st_find(st, "0") == NULL, "out-of-range names");
    CHECK(strcmp(nz(vt_st_meta(st, "format")), "pt") == 0, "meta format");
    CHECK(strcmp(nz(vt_st_meta(st, "vitc.arch")), "vit_tiny_patch16_224") == 0, "meta arch");
    CHECK(strcmp(nz(vt_st_meta(st, "note")), vals[2]) == 0, "meta with escapes");
    CHECK(vt_st_meta(st, "absent") == NULL, "absent meta");
    vt_st_close(st);

    /* no tensors, no metadata */
    s = vt_st_write(path, NULL, 0, NULL, NULL, 0);
    CHECK(s == VITC_OK, "empty write: %s", vitc_last_error());
    s = vt_st_open(path, &st);
    CHECK(s == VITC_OK && st && st->n_tensors == 0 && st->metadata == NULL && vt_st_meta(st, "x") == NULL,
          "empty file reads back: %s", vitc_last_error());
    vt_st_close(st);
    vt_st_close(NULL);
    remove(path);
}

/* ------------------------------------------------------------------ conversions */

static float half_ref(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 31) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp(mant, -24);
    else v = ldexp(1024 + mant, exp - 25);
    return (float)(sign ? -v : v);
}

static void test_f16_exhaustive(void) {
    /* all 65536 half values through one tensor */
    char header[128];
    snprintf(header, sizeof header, "{\"h\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}");
    uint8_t *data = malloc(131072);
    for (uint32_t i = 0; i < 65536; i++) {
        data[2 * i] = (uint8_t)i;
        data[2 * i + 1] = (uint8_t)(i >> 8);
    }
    uint8_t *keep;
    vt_safetensors *st = open_ok_hdr(header, data, 131072, &keep);
    free(data);
    if (!st) {
        free(keep);
        return;
    }
    const float *f;
    int owned = 0;
    CHECK(vt_st_to_f32(st, vt_st_find(st, "h"), &f, &owned) == VITC_OK && owned == 1, "F16 converts to a copy");
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        float want = half_ref((uint16_t)i);
        if (isnan(want) ? !isnan(f[i]) : (f[i] != want || signbit(f[i]) != signbit(want))) {
            if (bad++ < 5) fprintf(stderr, "half 0x%04x -> %g, want %g\n", i, f[i], want);
        }
    }
    CHECK(bad == 0, "%d half values converted wrongly", bad);
    CHECK(f[0x0001] == 5.9604644775390625e-08f && f[0x03ff] == 6.09755516052246094e-05f, "subnormals");
    CHECK(f[0x3c00] == 1.0f && f[0xc000] == -2.0f && f[0x7bff] == 65504.0f, "normals");
    CHECK(isinf(f[0x7c00]) && f[0x7c00] > 0 && isinf(f[0xfc00]) && f[0xfc00] < 0, "infinities");
    CHECK(isnan(f[0x7e00]) && isnan(f[0xfc01]), "NaNs");
    CHECK(f[0x8000] == 0.0f && signbit(f[0x8000]), "-0");
    free((void *)f);
    vt_st_close(st);
    free(keep);
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32f(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64d(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void test_conversions(void) {
    /* data area: bf16[6] @0..12, f64[7] @16..72, f32 unaligned[3] @73..85, f32 aligned[2] @88..96,
     * i64[2] @96..112, i32,i16,i8,u8,bool after. The header is padded so the data area starts at
     * an 8-byte boundary of the malloc'ed buffer. */
    const char *hdr0 =
        "{\"bf\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
        "\"d\":{\"dtype\":\"F64\",\"shape\":[7],\"data_offsets\":[16,72]},"
        "\"u\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[73,85]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[88,96]},"
        "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[96,112]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[112,116]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[116,118]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[118,119]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[119,120]},"
        "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[120,121]},"
        "\"__metadata__\":{\"format\":\"pt\"}}";
    char header[1024];
    size_t hl = strlen(hdr0);
    memcpy(header, hdr0, hl);
    while ((8 + hl) % 8) header[hl++] = ' ';
    header[hl] = '\0';
    uint8_t data[128] = {0};
    const uint16_t bf[6] = {0x3f80, 0xc0a0, 0x7f80, 0x0001, 0x7fc0, 0x8000};
    for (int i = 0; i < 6; i++) put16(data + 2 * i, bf[i]);
    const double dv[7] = {1.5, -1e300, 1e-50, (double)FLT_MAX, 0.1, 0x1.fffffe8p127, 0x1.ffffffp127};
    for (int i = 0; i < 7; i++) put64d(data + 16 + 8 * i, dv[i]);
    const float uv[3] = {1.25f, -3.5f, 1e-40f};
    for (int i = 0; i < 3; i++) put32f(data + 73 + 4 * i, uv[i]);
    put32f(data + 88, 42.0f);
    put32f(data + 92, -0.5f);

    uint8_t *keep;
    vt_safetensors *st = open_ok_hdr(header, data, sizeof data, &keep);
    if (!st) {
        free(keep);
        return;
    }
    CHECK(st->n_tensors == 10, "10 tensors");
    CHECK(strcmp(nz(vt_st_meta(st, "format")), "pt") == 0, "metadata last in header");
    const float *f;
    int owned;

    CHECK(vt_st_to_f32(st, vt_st_find(st, "bf"), &f, &owned) == VITC_OK && owned, "BF16");
    CHECK(f[0] == 1.0f && f[1] == -5.0f && isinf(f[2]) && f[3] == ldexpf(1.0f, -133) && isnan(f[4]) &&
              f[5] == 0.0f && signbit(f[5]),
          "BF16 values %g %g %g %g %g %g", f[0], f[1], f[2], f[3], f[4], f[5]);
    free((void *)f);

    CHECK(vt_st_to_f32(st, vt_st_find(st, "d"), &f, &owned) == VITC_OK && owned, "F64");
    CHECK(f[0] == 1.5f && isinf(f[1]) && f[1] < 0 && f[2] == 0.0f && f[3] == FLT_MAX && f[4] == 0.1f &&
              f[5] == FLT_MAX && isinf(f[6]),
          "F64 values %g %g %g %g %g %g %g", f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    free((void *)f);

    const vt_st_tensor *u = vt_st_find(st, "u");
    CHECK(u && ((uintptr_t)u->data & 3) != 0, "tensor u is misaligned in memory");
    CHECK(vt_st_to_f32(st, u, &f, &owned) == VITC_OK && owned == 1, "unaligned F32 copied");
    CHECK(f[0] == 1.25f && f[1] == -3.5f && f[2] == 1e-40f, "unaligned F32 values");
    free((void *)f);

    const vt_st_tensor *a = vt_st_find(st, "a");
    CHECK(vt_st_to_f32(st, a, &f, &owned) == VITC_OK && owned == 0 && f == (const float *)(const void *)a->data,
          "aligned F32 in place");
    CHECK(f[0] == 42.0f && f[1] == -0.5f, "aligned F32 values");

    const char *ints[] = {"ids", "i32", "i16", "i8", "u8", "mask"};
    const char *names[] = {"I64", "I32", "I16", "I8", "U8", "BOOL"};
    const size_t sizes[] = {8, 4, 2, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
        const vt_st_tensor *t = vt_st_find(st, ints[i]);
        CHECK(t && strcmp(vt_dtype_name(t->dtype), names[i]) == 0 && vt_dtype_size(t->dtype) == sizes[i],
              "dtype of %s", ints[i]);
        f = (const float *)1;
        owned = 7;
        vitc_status s = vt_st_to_f32(st, t, &f, &owned);
        char want[128];
        snprintf(want, sizeof want, "good.safetensors: tensor %s has dtype %s, expected a floating type", ints[i],
                 names[i]);
        CHECK(s == VITC_ERR_SHAPE && f == NULL && owned == 0, "integer dtype %s rejected", ints[i]);
        CHECK(strcmp(vitc_last_error(), want) == 0, "message: %s", vitc_last_error());
    }
    CHECK(vt_st_find(st, "mask")->ndim == 0 && vt_st_find(st, "mask")->numel == 1, "scalar BOOL");
    CHECK(vt_dtype_size(VT_DTYPE_F16) == 2 && vt_dtype_size(VT_DTYPE_BF16) == 2 && vt_dtype_size(VT_DTYPE_F64) == 8 &&
              vt_dtype_size(VT_DTYPE_F32) == 4,
          "float dtype sizes");
    vt_st_close(st);
    free(keep);
}

/* ------------------------------------------------------------------ corruption classes */

#define T(name, dtype, shape, b, e) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_corrupt(void) {
    uint8_t small[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    size_t len;
    /* file shorter than 8 bytes */
    expect_fail_buf(small, 0, VITC_ERR_FORMAT, "file too short", __LINE__);
    expect_fail_buf(small, 7, VITC_ERR_FORMAT, "file too short", __LINE__);
    /* header length past the end of the file */
    expect_fail_buf(small, 8, VITC_ERR_FORMAT, "header length 1 extends past the end of the file", __LINE__);
    uint8_t *b = make_buf("{}", NULL, 0, &len);
    b[0] = 3;
    expect_fail_buf(b, len, VITC_ERR_FORMAT, "past the end", __LINE__);
    /* absurd header length */
    b[0] = 2;
    b[5] = 1; /* 2^40 + 2 */
    expect_fail_buf(b, len, VITC_ERR_FORMAT, "exceeds the 100 MB limit", __LINE__);
    memset(b, 0xff, 8);
    expect_fail_buf(b, len, VITC_ERR_FORMAT, "exceeds the 100 MB limit", __LINE__);
    free(b);

    /* header not JSON / not an object */
    BAD("{\"a\":", 0, "header is not valid JSON: unexpected end of input");
    BAD("{\"a\":1} x", 0, "header is not valid JSON: unexpected character 'x'");
    BAD("", 0, "header is not valid JSON");
    BAD("\x01\x02", 0, "header is not valid JSON");
    BAD("[1,2]", 0, "header is not a JSON object");
    BAD("\"str\"", 0, "header is not a JSON object");
    /* entry not an object */
    BAD("{\"w\":5}", 0, "tensor w: header entry is not an object");
    BAD("{\"w\":[]}", 0, "tensor w: header entry is not an object");
    /* dtype */
    BAD("{" T("w", "F8", "[1]", 0, 1) "}", 8, "tensor w: unknown dtype 'F8'");
    BAD("{" T("w", "f32", "[1]", 0, 4) "}", 8, "tensor w: unknown dtype 'f32'");
    BAD("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "tensor w: missing dtype");
    BAD("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "tensor w: dtype is not a string");
    /* shape */
    BAD("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 8, "tensor w: missing shape");
    BAD("{" T("w", "F32", "3", 0, 12) "}", 16, "tensor w: shape is not an array");
    BAD("{" T("w", "F32", "[-1]", 0, 4) "}", 16, "tensor w: shape[0] is not a non-negative integer");
    BAD("{" T("w", "F32", "[2,1.5]", 0, 12) "}", 16, "tensor w: shape[1] is not a non-negative integer");
    BAD("{" T("w", "F32", "[\"2\"]", 0, 8) "}", 16, "tensor w: shape[0] is not a non-negative integer");
    BAD("{" T("w", "F32", "[1e300]", 0, 8) "}", 16, "tensor w: shape[0] is not a non-negative integer");
    /* ndim > 8 */
    BAD("{" T("w", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 8, "tensor w: shape has 9 dimensions (at most 8");
    /* numel x dtype size overflow */
    BAD("{" T("w", "F32", "[4294967296,4294967296]", 0, 4) "}", 8, "tensor w: shape is too large");
    BAD("{" T("w", "F64", "[1125899906842624,1024]", 0, 8) "}", 8, "tensor w: shape is too large");
    BAD("{" T("w", "U8", "[9007199254740992,9007199254740992,2]", 0, 8) "}", 8, "tensor w: shape is too large");
    /* data_offsets */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8, "tensor w: missing data_offsets");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, "tensor w: data_offsets is not [begin, end]");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets is not [begin, end]");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0,4\"}}", 8, "data_offsets is not [begin, end]");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8, "data_offsets is not [begin, end]");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}}", 8, "data_offsets is not [begin, end]");
    BAD("{" T("w", "F32", "[1]", 8, 4) "}", 8, "tensor w: data_offsets begin 8 is after end 4");
    /* end beyond the data area */
    BAD("{" T("w", "F32", "[2]", 0, 8) "}", 7, "tensor w: data_offsets end 8 is beyond the data area (7 bytes)");
    BAD("{" T("w", "F32", "[1]", 18446744073709551612, 18446744073709551616) "}", 8, "data_offsets is not");
    /* span != numel x size */
    BAD("{" T("w", "F32", "[2]", 0, 4) "}", 8, "tensor w: data_offsets span 4 bytes but shape and dtype F32 need 8");
    BAD("{" T("w", "F16", "[2,2]", 0, 16) "}", 16, "span 16 bytes but shape and dtype F16 need 8");
    BAD("{" T("w", "F32", "[0]", 0, 4) "}", 8, "span 4 bytes but shape and dtype F32 need 0");
    /* overlapping tensors */
    BAD("{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", 16, "tensors a and b overlap");
    BAD("{" T("b", "F32", "[2]", 4, 12) "," T("a", "F32", "[4]", 0, 16) "}", 16, "tensors a and b overlap");
    BAD("{" T("x", "F32", "[1]", 8, 12) "," T("y", "U8", "[4]", 8, 12) "}", 16, "overlap");
    /* duplicate names (JSON allows duplicate keys; safetensors must not) */
    BAD("{" T("w", "F32", "[1]", 0, 4) "," T("w", "F32", "[1]", 4, 8) "}", 8, "duplicate tensor name w");
    /* __metadata__ */
    BAD("{\"__metadata__\":[1]}", 0, "__metadata__ is not an object");
    BAD("{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object");
    BAD("{\"__metadata__\":{\"a\":\"b\",\"k\":1}}", 0, "__metadata__ value of k is not a string");
    BAD("{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ value of k is not a string");
    BAD("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    /* hostile names are printed on one line, shortened */
    BAD("{\"a\\nb\":1}", 0, "tensor a?b: header entry");
    BAD("{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}", 0,
        "tensor xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: header entry");
    /* NULL data with a size */
    vt_safetensors *st;
    CHECK(vt_st_open_memory(NULL, 10, "x", &st) == VITC_ERR_ARG && st == NULL, "NULL data");
}

/* Valid edge cases that must be accepted. */
static void test_valid_edges(void) {
    uint8_t data[16] = {0};
    uint8_t *keep;
    vt_safetensors *st;
    /* empty header object, trailing padding */
    st = open_ok_hdr("{}      ", NULL, 0, &keep);
    CHECK(st && st->n_tensors == 0, "empty header");
    vt_st_close(st);
    free(keep);
    /* empty tensors may share offsets and sit inside other tensors; gaps are allowed */
    st = open_ok_hdr("{" T("e1", "F32", "[0]", 4, 4) "," T("e2", "F32", "[3,0]", 4, 4) "," T("w", "F32", "[2]", 0, 8) ","
                     T("z", "U8", "[2]", 12, 14) "," T("big0", "F32", "[9007199254740992,9007199254740992,0]", 16, 16) "}",
                     data, 16, &keep);
    CHECK(st && st->n_tensors == 5, "empty tensors, gaps");
    if (st) {
        const vt_st_tensor *t = vt_st_find(st, "big0");
        CHECK(t && t->numel == 0 && t->nbytes == 0 && t->ndim == 3, "huge dims with a zero");
        const float *f;
        int owned;
        CHECK(vt_st_to_f32(st, t, &f, &owned) == VITC_OK && f != NULL, "empty F32 view");
        if (owned) free((void *)f);
        t = vt_st_find(st, "e2");
        CHECK(t && vt_st_to_f32(st, t, &f, &owned) == VITC_OK && f != NULL, "empty F32 view (unaligned offset)");
        if (owned) free((void *)f);
        CHECK(st->tensors[0].name && strcmp(st->tensors[0].name, "big0") == 0, "sorted");
    }
    vt_st_close(st);
    free(keep);
    /* unknown extra fields in an entry are ignored; 8 dimensions are fine */
    st = open_ok_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8],\"extra\":[1]}}", data,
                     8, &keep);
    CHECK(st && st->tensors[0].ndim == 8 && st->tensors[0].numel == 2, "8 dims");
    vt_st_close(st);
    free(keep);
}

/* ------------------------------------------------------------------ files on disk */

static void test_disk(void) {
    char path[160];
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
    float w[6] = {1, 2, 3, 4, 5, 6};
    vt_st_write_tensor t = {"w", 2, {2, 3}, w, NULL};
    CHECK(vt_st_write(path, &t, 1, NULL, NULL, 0) == VITC_OK, "write: %s", vitc_last_error());
    struct stat sb;
    CHECK(stat(path, &sb) == 0, "stat");
    vt_safetensors *st = (vt_safetensors *)1;
    /* truncated data area */
    CHECK(truncate(path, sb.st_size - 4) == 0, "truncate");
    vitc_status s = vt_st_open(path, &st);
    CHECK(s == VITC_ERR_FORMAT && st == NULL, "truncated data rejected");
    CHECK(strncmp(vitc_last_error(), path, strlen(path)) == 0 && strstr(vitc_last_error(), "beyond the data area"),
          "message: %s", vitc_last_error());
    /* truncated header */
    CHECK(truncate(path, 20) == 0, "truncate");
    s = vt_st_open(path, &st);
    CHECK(s == VITC_ERR_FORMAT && strstr(vitc_last_error(), "extends past the end of the file"), "message: %s",
          vitc_last_error());
    CHECK(truncate(path, 5) == 0, "truncate");
    s = vt_st_open(path, &st);
    CHECK(s == VITC_ERR_FORMAT && strstr(vitc_last_error(), "too short for a safetensors header (5 bytes)"), "message: %s", vitc_last_error());
    CHECK(truncate(path, 0) == 0, "truncate");
    s = vt_st_open(path, &st);
    CHECK(s == VITC_ERR_FORMAT && strstr(vitc_last_error(), "(0 bytes)"), "message: %s", vitc_last_error());
    remove(path);
    /* missing file */
    s = vt_st_open(path, &st);
    CHECK(s == VITC_ERR_IO && st == NULL && strstr(vitc_last_error(), path), "missing file: %s", vitc_last_error());
    /* a directory */
    s = vt_st_open(tmpdir, &st);
    CHECK(s == VITC_ERR_IO && st == NULL, "directory: %s", vitc_last_error());
}

static void test_writer_failures(void) {
    float w[2] = {1, 2};
    vt_st_write_tensor t = {"w", 1, {2}, w, NULL};
    char path[200];
    /* the target directory does not exist: error, nothing created */
    snprintf(path, sizeof path, "%s/no/such/dir/out.safetensors", tmpdir);
    int before = count_dir_entries(tmpdir, NULL);
    vitc_status s = vt_st_write(path, &t, 1, NULL, NULL, 0);
    CHECK(s == VITC_ERR_IO && strstr(vitc_last_error(), path), "missing dir: %d %s", (int)s, vitc_last_error());
    CHECK(count_dir_entries(tmpdir, NULL) == before, "nothing created");

    /* the target is a directory: the rename fails and the temporary file is removed */
    snprintf(path, sizeof path, "%s/isdir.safetensors", tmpdir);
    CHECK(mkdir(path, 0700) == 0, "mkdir");
    s = vt_st_write(path, &t, 1, NULL, NULL, 0);
    CHECK(s == VITC_ERR_IO, "rename over a directory fails: %s", vitc_last_error());
    CHECK(count_dir_entries(tmpdir, ".tmp.") == 0, "no temporary file left");
    CHECK(count_dir_entries(path, NULL) == 0, "directory untouched");
    rmdir(path);

    /* invalid arguments: nothing written */
    snprintf(path, sizeof path, "%s/args.safetensors", tmpdir);
    vt_st_write_tensor dup[2] = {{"w", 1, {2}, w, NULL}, {"w", 1, {1}, w, NULL}};
    CHECK(vt_st_write(path, dup, 2, NULL, NULL, 0) == VITC_ERR_ARG && strstr(vitc_last_error(), "duplicate"),
          "duplicate names: %s", vitc_last_error());
    vt_st_write_tensor bad[] = {
        {NULL, 1, {2}, w, NULL}, {"", 1, {2}, w, NULL}, {"__metadata__", 1, {2}, w, NULL}, {"n", 9, {2}, w, NULL},
        {"n", -1, {2}, w, NULL}, {"n", 1, {-2}, w, NULL}, {"n", 1, {2}, NULL, NULL},
        {"n", 4, {INT64_MAX, INT64_MAX, 2, 2}, w, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(vt_st_write(path, &bad[i], 1, NULL, NULL, 0) == VITC_ERR_ARG, "bad tensor %zu accepted", i);
    const char *k[] = {"a"}, *v[] = {NULL};
    CHECK(vt_st_write(path, &t, 1, k, v, 1) == VITC_ERR_ARG, "NULL meta value");
    CHECK(vt_st_write(path, &t, 1, NULL, NULL, 1) == VITC_ERR_ARG, "NULL meta arrays");
    struct stat sb;
    CHECK(stat(path, &sb) != 0, "nothing written on argument errors");
    CHECK(count_dir_entries(tmpdir, ".tmp.") == 0, "no temporary file left");

    /* overwriting an existing file replaces it atomically */
    CHECK(vt_st_write(path, &t, 1, NULL, NULL, 0) == VITC_OK, "first write");
    float w2[3] = {7, 8, 9};
    vt_st_write_tensor t2 = {"v", 1, {3}, w2, NULL};
    CHECK(vt_st_write(path, &t2, 1, NULL, NULL, 0) == VITC_OK, "overwrite");
    vt_safetensors *st = NULL;
    CHECK(vt_st_open(path, &st) == VITC_OK && st->n_tensors == 1 && vt_st_find(st, "v") &&
              ((const float *)(const void *)vt_st_find(st, "v")->data)[2] == 9.0f,
          "overwritten content");
    vt_st_close(st);
    remove(path);
    CHECK(count_dir_entries(tmpdir, NULL) == 0, "directory clean at the end");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vitc_st_test_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_f16_exhaustive();
    test_conversions();
    test_corrupt();
    test_valid_edges();
    test_disk();
    test_writer_failures();
    rmdir(tmpdir);
    return check_report("test_safetensors");
}
