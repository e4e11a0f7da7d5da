/* JPEG decoding with libjpeg(-turbo), the library PIL uses, so the pixels are identical.
 * Errors longjmp back here; warnings about truncated or corrupt entropy data are errors
 * (PIL refuses truncated files); nothing is printed. */
#include "image/image.h"
#include "core/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Progressive files may carry many scans; more than this is treated as hostile. */
#define VT_JPEG_MAX_SCANS 1000

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} vt_jpeg_err;

static void on_error(j_common_ptr cinfo) {
    vt_jpeg_err *e = (vt_jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
    vt_jpeg_err *e = (vt_jpeg_err *)cinfo->err;
    if (level >= 0) return; /* trace messages */
    int code = e->pub.msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC) {
        e->pub.format_message(cinfo, e->message);
        longjmp(e->jump, 1);
    }
    /* other warnings (extraneous bytes, unknown markers) are tolerated, as PIL does */
}

static void on_output(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > VT_JPEG_MAX_SCANS) {
        vt_jpeg_err *e = (vt_jpeg_err *)cinfo->err;
        snprintf(e->message, sizeof e->message, "more than %d scans", VT_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb): nk - nk * c / 255, rounded. */
static uint8_t cmyk_channel(int c, int nk) {
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

vitc_status vt_decode_jpeg(const uint8_t *data, size_t size, const char *name, vitc_image **out) {
    *out = NULL;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    vt_jpeg_err err;
    /* Everything the error path frees must survive longjmp: volatile. */
    vitc_image *volatile img = NULL;
    uint8_t *volatile row = NULL;
    volatile vitc_status status = VITC_ERR_FORMAT;

    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = on_output;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        vitc_image_free(img);
        free(row);
        if (status == VITC_ERR_FORMAT)
            vt_error(VITC_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", name, err.message);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    progress.progress_monitor = on_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    vitc_status st = vt_image_check_size(cinfo.image_width, cinfo.image_height, name);
    if (st != VITC_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, nc = cinfo.output_components;
    if (nc != 1 && nc != 3 && nc != 4) {
        jpeg_destroy_decompress(&cinfo);
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: JPEG with %d output components", name, nc);
    }
    vitc_image *im;
    st = vt_image_alloc(w, h, &im);
    if (st != VITC_OK) {
        jpeg_destroy_decompress(&cinfo);
        vt_error_prefix(name);
        return st;
    }
    img = im;
    if (nc != 3) {
        row = malloc((size_t)w * (size_t)nc);
        if (!row) {
            status = vt_error(VITC_ERR_NOMEM, "%s: out of memory", name);
            longjmp(err.jump, 1);
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = im->rgb + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW rp = nc == 3 ? dst : row;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
            snprintf(err.message, sizeof err.message, "no scanline data");
            longjmp(err.jump, 1);
        }
        if (nc == 1) {
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        } else if (nc == 4) {
            /* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") whatever the markers say. */
            for (int x = 0; x < w; x++) {
                const uint8_t *p = row + 4 * x;
                int nk = p[3]; /* 255 - (255 - k) */
                dst[3 * x] = cmyk_channel(255 - p[0], nk);
                dst[3 * x + 1] = cmyk_channel(255 - p[1], nk);
                dst[3 * x + 2] = cmyk_channel(255 - p[2], nk);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *out = im;
    return VITC_OK;
}
