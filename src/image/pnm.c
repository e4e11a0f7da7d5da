/* Netpbm decoding: P5/P6 (binary, 8- or 16-bit samples), P2/P3 (ASCII), P1/P4 (bitmaps).
 * Samples are scaled to 0..255 as PIL does: round(v / maxval * 255) with round-half-even,
 * values above maxval clipped. Like PNG, 16-bit gray is reduced rather than clipped the
 * way PIL's mode "I" conversion would. */
#include "image/image.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t size, pos;
} vt_cursor;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skips whitespace and '#' comments; then reads a decimal number. -1: none, -2: too large. */
static long long read_number(vt_cursor *c) {
    for (;;) {
        while (c->pos < c->size && is_space(c->p[c->pos])) c->pos++;
        if (c->pos < c->size && c->p[c->pos] == '#') {
            while (c->pos < c->size && c->p[c->pos] != '\n' && c->p[c->pos] != '\r') c->pos++;
            continue;
        }
        break;
    }
    if (c->pos >= c->size || c->p[c->pos] < '0' || c->p[c->pos] > '9') return -1;
    long long v = 0;
    while (c->pos < c->size && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
        v = v * 10 + (c->p[c->pos++] - '0');
        if (v > 0x7fffffffLL) return -2;
    }
    return v;
}

vitc_status vt_decode_pnm(const uint8_t *data, size_t size, const char *name, vitc_image **out) {
    *out = NULL;
    if (size < 3 || data[0] != 'P' || data[1] < '1' || data[1] > '6' || !is_space(data[2]))
        return vt_error(VITC_ERR_FORMAT, "%s: not a PBM/PGM/PPM image", name);
    int kind = data[1] - '0';
    int ascii = kind <= 3, bitmap = kind == 1 || kind == 4, color = kind == 3 || kind == 6;
    vt_cursor c = {data, size, 2};
    long long w = read_number(&c), h = read_number(&c), maxval = bitmap ? 1 : read_number(&c);
    if (w == -1 || h == -1 || maxval == -1)
        return vt_error(VITC_ERR_FORMAT, "%s: truncated or corrupt PNM header", name);
    if (w == -2 || h == -2)
        return vt_error(VITC_ERR_LIMIT, "%s: PNM dimensions exceed the size limit", name);
    if (maxval < 1 || maxval > 65535)
        return vt_error(VITC_ERR_FORMAT, "%s: PNM maxval must be 1..65535", name);
    vitc_status st = vt_image_check_size((uint64_t)w, (uint64_t)h, name);
    if (st != VITC_OK) return st;
    if (!ascii) { /* exactly one whitespace byte before the raster */
        if (c.pos >= size || !is_space(data[c.pos]))
            return vt_error(VITC_ERR_FORMAT, "%s: truncated or corrupt PNM header", name);
        c.pos++;
    }
    int nc = color ? 3 : 1, bps = maxval > 255 ? 2 : 1;
    size_t npix = (size_t)w * (size_t)h;
    if (!ascii) {
        size_t need = kind == 4 ? (size_t)((w + 7) / 8) * (size_t)h : npix * (size_t)nc * (size_t)bps;
        if (size - c.pos < need) return vt_error(VITC_ERR_FORMAT, "%s: truncated PNM raster", name);
    }
    /* sample value -> 8 bits */
    uint8_t lut8[256];
    for (int v = 0; v < 256; v++) {
        double s = v > maxval ? 255.0 : rint((double)v / (double)maxval * 255.0);
        lut8[v] = (uint8_t)s;
    }
    vitc_image *img;
    st = vt_image_alloc((int)w, (int)h, &img);
    if (st != VITC_OK) {
        vt_error_prefix(name);
        return st;
    }
    uint8_t *dst = img->rgb;
    if (kind == 4) {
        size_t stride = (size_t)((w + 7) / 8);
        for (long long y = 0; y < h; y++) {
            const uint8_t *row = data + c.pos + (size_t)y * stride;
            for (long long x = 0; x < w; x++) {
                uint8_t v = (row[x >> 3] >> (7 - (x & 7))) & 1 ? 0 : 255; /* 1 = black */
                dst[0] = dst[1] = dst[2] = v;
                dst += 3;
            }
        }
        *out = img;
        return VITC_OK;
    }
    for (size_t i = 0; i < npix; i++) {
        uint8_t px[3];
        for (int k = 0; k < nc; k++) {
            long long v;
            if (ascii) {
                if (bitmap) { /* P1: single digits, whitespace optional */
                    while (c.pos < size && (is_space(data[c.pos]) || data[c.pos] == '#')) {
                        if (data[c.pos] == '#')
                            while (c.pos < size && data[c.pos] != '\n' && data[c.pos] != '\r') c.pos++;
                        else
                            c.pos++;
                    }
                    v = c.pos < size && (data[c.pos] == '0' || data[c.pos] == '1') ? data[c.pos++] - '0' : -1;
                } else {
                    v = read_number(&c);
                }
                if (v < 0 || v > maxval) {
                    vitc_image_free(img);
                    return vt_error(VITC_ERR_FORMAT, "%s: %s", name,
                                    v == -1 ? "truncated or corrupt PNM raster" : "PNM sample exceeds maxval");
                }
            } else if (bps == 2) {
                v = ((long long)data[c.pos] << 8) | data[c.pos + 1];
                c.pos += 2;
            } else {
                v = data[c.pos++];
            }
            if (bitmap)
                px[k] = v ? 0 : 255;
            else if (bps == 1)
                px[k] = lut8[v];
            else
                px[k] = v > maxval ? 255 : (uint8_t)rint((double)v / (double)maxval * 255.0);
        }
        if (nc == 1) px[1] = px[2] = px[0];
        memcpy(dst, px, 3);
        dst += 3;
    }
    *out = img;
    return VITC_OK;
}
