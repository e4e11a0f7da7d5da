/* PNG decoding with libpng, converted to RGB as PIL's convert('RGB') does: alpha dropped
 * (no compositing), 16-bit samples reduced to their high byte, palettes looked up (tRNS
 * ignored), 1/2/4-bit gray scaled to 0..255, gray replicated. Gamma, sRGB and ICC chunks
 * are ignored, as PIL ignores them. Palette indices beyond the PLTE give gray (i, i, i) as in PIL.
 * One deliberate difference: PIL opens 16-bit grayscale as mode "I" and convert('RGB')
 * clips those values to 255 (nearly white images); vitc takes the high byte instead. */
#include "image/image.h"
#include "core/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char message[200];
} vt_png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    vt_png_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    vt_png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) png_error(png, "unexpected end of file");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

vitc_status vt_decode_png(const uint8_t *data, size_t size, const char *name, vitc_image **out) {
    *out = NULL;
    /* The limits are checked on IHDR before libpng allocates anything (or reads further). */
    if (size >= 33 && !memcmp(data + 12, "IHDR", 4) &&
        crc32(0, data + 12, 17) == ((uint32_t)data[29] << 24 | (uint32_t)data[30] << 16 | (uint32_t)data[31] << 8 | data[32])) {
        uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        if (w && h && w <= 0x7fffffffu && h <= 0x7fffffffu) {
            vitc_status st = vt_image_check_size(w, h, name);
            if (st != VITC_OK) return st;
        }
    }
    vt_png_ctx ctx = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", name);
    }
    vitc_image *volatile img = NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        vitc_image_free(img);
        free(buf);
        free(rows);
        return vt_error(VITC_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", name, ctx.message);
    }
    png_set_read_fn(png, &ctx, on_read);
    /* Any CRC mismatch is an error: PIL also refuses broken ancillary chunks. */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    /* vitc applies its own (smaller) limits right after the header; libpng's defaults would
     * report large images as corrupt. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);

    png_uint_32 w32, h32;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w32, &h32, &depth, &color, &interlace, NULL, NULL);
    vitc_status st = vt_image_check_size(w32, h32, name);
    if (st != VITC_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    int w = (int)w32, h = (int)h32;

    /* Palette looked up here: tRNS must not become alpha and indices are checked. */
    /* Entries the PLTE lacks read as a gray ramp (i, i, i), as in PIL. */
    uint8_t pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte;
        int n = 0;
        if (!png_get_PLTE(png, info, &plte, &n)) png_error(png, "palette image without PLTE");
        for (int i = 0; i < n && i < 256; i++) {
            pal[i][0] = plte[i].red;
            pal[i][1] = plte[i].green;
            pal[i][2] = plte[i].blue;
        }
        png_set_packing(png);
    } else if (color == PNG_COLOR_TYPE_GRAY && depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (depth == 16) png_set_strip_16(png); /* high byte, like PIL's "RGB;16B" */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int nc = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (nc < 1 || nc > 4 || rowbytes != (size_t)w * (size_t)nc) png_error(png, "unexpected row layout");

    vitc_image *im;
    st = vt_image_alloc(w, h, &im);
    if (st != VITC_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        vt_error_prefix(name);
        return st;
    }
    img = im;
    /* Interlaced images need every row at once; others are read one row at a time. */
    size_t buf_rows = passes > 1 ? (size_t)h : 1;
    buf = malloc(rowbytes * buf_rows);
    if (passes > 1) rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!buf || (passes > 1 && !rows)) {
        png_destroy_read_struct(&png, &info, NULL);
        vitc_image_free(img);
        free(buf);
        free(rows);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", name);
    }
    if (passes > 1) {
        for (int y = 0; y < h; y++) rows[y] = buf + (size_t)y * rowbytes;
        png_read_image(png, rows);
    }
    for (int y = 0; y < h; y++) {
        uint8_t *src = buf;
        if (passes > 1)
            src = rows[y];
        else
            png_read_row(png, buf, NULL);
        uint8_t *dst = im->rgb + (size_t)y * (size_t)w * 3;
        if (color == PNG_COLOR_TYPE_PALETTE) {
            for (int x = 0; x < w; x++) memcpy(dst + 3 * x, pal[src[x]], 3);
        } else if (nc <= 2) { /* gray, gray + alpha */
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x * nc];
        } else { /* RGB, RGBA */
            for (int x = 0; x < w; x++) memcpy(dst + 3 * x, src + (size_t)x * nc, 3);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(buf);
    free(rows);
    *out = im;
    return VITC_OK;
}
