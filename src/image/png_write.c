/* PNG writing with libpng: 8-bit gray or RGB, written atomically (temporary file + rename), so a
 * failed write leaves nothing behind. */
#include "core/error.h"
#include "core/fileio.h"
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    char message[200];
} png_write_ctx;

static void on_write_error(png_structp png, png_const_charp msg) {
    png_write_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_write_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* A growing memory buffer for vt_png_encode. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} png_mem;

static void on_mem_write(png_structp png, png_bytep data, png_size_t n) {
    png_mem *m = png_get_io_ptr(png);
    if (n > m->cap - m->len) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap - m->len < n) cap *= 2;
        uint8_t *d = realloc(m->data, cap);
        if (!d) png_error(png, "out of memory");
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, n);
    m->len += n;
}

static void on_mem_flush(png_structp png) { (void)png; }

/* Encodes into an open FILE, or (fp NULL) into mem; returns 0 or -1 with ctx->message set. */
static int encode(FILE *fp, png_mem *mem, int width, int height, int channels, const uint8_t *pixels,
                  png_write_ctx *ctx) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, on_write_error, on_write_warning);
    if (!png) {
        snprintf(ctx->message, sizeof ctx->message, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->message, sizeof ctx->message, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (fp) png_init_io(png, fp);
    else png_set_write_fn(png, mem, on_mem_write, on_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

vitc_status vt_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels) {
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3) || !pixels)
        return vt_error(VITC_ERR_ARG, "%s: cannot write a %dx%dx%d PNG", path, width, height, channels);
    vt_atomic_file f;
    vitc_status s = vt_atomic_open(path, &f);
    if (s) return s;
    png_write_ctx ctx = {{0}};
    if (encode(f.fp, NULL, width, height, channels, pixels, &ctx)) {
        vt_atomic_abort(&f);
        return vt_error(VITC_ERR_IO, "%s: cannot write PNG: %s", path, ctx.message);
    }
    return vt_atomic_commit(&f);
}

vitc_status vt_png_encode(int width, int height, int channels, const uint8_t *pixels, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3) || !pixels)
        return vt_error(VITC_ERR_ARG, "cannot encode a %dx%dx%d PNG", width, height, channels);
    png_mem mem = {NULL, 0, 0};
    png_write_ctx ctx = {{0}};
    if (encode(NULL, &mem, width, height, channels, pixels, &ctx)) {
        free(mem.data);
        return vt_error(VITC_ERR_NOMEM, "cannot encode PNG: %s", ctx.message);
    }
    *out = mem.data;
    *len = mem.len;
    return VITC_OK;
}
