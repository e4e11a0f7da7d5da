/* timm's evaluation transform: Resize(floor(size / crop_pct)) on the shorter side (or both
 * sides when squashing), CenterCrop(size), ToTensor, Normalize, with torchvision 0.14's
 * size and offset arithmetic. Only the cropped part of the resize is computed. */
#include "image/image.h"
#include "image/resample.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vitc_preprocess_params vitc_preprocess_default_params(void) {
    vitc_preprocess_params p;
    memset(&p, 0, sizeof p);
    p.size = 224;
    p.crop_pct = 0.9f;
    p.interp = VITC_INTERP_BICUBIC;
    for (int i = 0; i < 3; i++) {
        p.mean[i] = 0.5f;
        p.std[i] = 0.5f;
    }
    p.squash = 0;
    return p;
}

/* The double a user meant when writing the float (0.9f -> 0.9): the shortest decimal that
 * reads back as the same float, so floor(size / crop_pct) agrees with Python's arithmetic. */
static double float_as_decimal(float f) {
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

/* Python's int(round(d / 2.0)): round half to even. */
static int center_offset(int d) { return (int)rint((double)d / 2.0); }

vitc_status vt_preprocess_geometry(const vitc_preprocess_params *params, int w, int h, vt_pre_geom *out) {
    const int size = params->size;
    /* timm: scale_size = math.floor(img_size / crop_pct), computed in double from the float */
    double scaled = floor((double)size / float_as_decimal(params->crop_pct));
    if (scaled < 1.0) scaled = 1.0;
    if (scaled > VT_IMAGE_MAX_SIDE) return vt_error(VITC_ERR_ARG, "preprocess: resize target too large");
    const int target = (int)scaled;
    int rw, rh;
    if (params->squash) {
        rw = rh = target;
    } else {
        /* torchvision: new_long = int(short_target * long / short) */
        int shorter = w <= h ? w : h, longer = w <= h ? h : w;
        double l = (double)((int64_t)target * longer) / (double)shorter;
        if (l > VT_IMAGE_MAX_SIDE) /* an extreme aspect ratio: the resized long side would exceed the limit */
            return vt_error(VITC_ERR_LIMIT, "preprocess: a %dx%d image resized to %d on its short side would be %.0f "
                            "pixels long (limit %d)", w, h, target, l, VT_IMAGE_MAX_SIDE);
        int nl = (int)l;
        if (nl < 1) nl = 1;
        if (w <= h) {
            rw = target;
            rh = nl;
        } else {
            rw = nl;
            rh = target;
        }
    }
    /* CenterCrop: pad with zeros (before normalization) when the crop is larger. */
    int pad_l = size > rw ? (size - rw) / 2 : 0, pad_t = size > rh ? (size - rh) / 2 : 0;
    int pw = size > rw ? size : rw, ph = size > rh ? size : rh; /* padded size */
    out->rw = rw;
    out->rh = rh;
    out->cx0 = center_offset(pw - size) - pad_l;
    out->cy0 = center_offset(ph - size) - pad_t;
    return VITC_OK;
}

vitc_status vitc_preprocess(const vitc_image *img, const vitc_preprocess_params *params, float *out) {
    if (!img || !params || !out) return vt_error(VITC_ERR_ARG, "vitc_preprocess: NULL argument");
    const int size = params->size;
    if (size <= 0 || size > VT_IMAGE_MAX_SIDE)
        return vt_error(VITC_ERR_ARG, "preprocess: invalid size %d", size);
    if (params->max_size > 0)
        return vt_error(VITC_ERR_UNSUPPORTED, "preprocess: a detection processor's resize (longest edge %d) keeps the "
                        "aspect ratio: use vitc_model_detect", params->max_size);
    if (!(params->crop_pct > 0.0f && params->crop_pct <= 10.0f))
        return vt_error(VITC_ERR_ARG, "preprocess: crop_pct must be in (0, 10], got %g", (double)params->crop_pct);
    if (params->interp != VITC_INTERP_BICUBIC && params->interp != VITC_INTERP_BILINEAR)
        return vt_error(VITC_ERR_ARG, "preprocess: unknown interpolation %d", (int)params->interp);
    for (int c = 0; c < 3; c++)
        if (!(params->std[c] != 0.0f) || !isfinite(params->std[c]) || !isfinite(params->mean[c]))
            return vt_error(VITC_ERR_ARG, "preprocess: mean/std must be finite and std non-zero");
    const int w = img->width, h = img->height;
    if (w <= 0 || h <= 0 || !img->rgb) return vt_error(VITC_ERR_ARG, "preprocess: empty image");

    vt_pre_geom g;
    vitc_status gs = vt_preprocess_geometry(params, w, h, &g);
    if (gs) return gs;
    const int rw = g.rw, rh = g.rh, cx0 = g.cx0, cy0 = g.cy0;
    /* crop window in resized-image coordinates, clipped to the resized image */
    int ix0 = cx0 < 0 ? 0 : cx0, iy0 = cy0 < 0 ? 0 : cy0;
    int ix1 = cx0 + size > rw ? rw : cx0 + size, iy1 = cy0 + size > rh ? rh : cy0 + size;
    int cw = ix1 - ix0, chh = iy1 - iy0;
    uint8_t *crop = NULL;
    if (cw > 0 && chh > 0) {
        crop = malloc((size_t)cw * (size_t)chh * 3);
        if (!crop) return vt_error(VITC_ERR_NOMEM, "preprocess: out of memory");
        vitc_status st = vt_resample_u8_region(img->rgb, w, h, 3, rw, rh, ix0, iy0, cw, chh, crop, params->interp);
        if (st != VITC_OK) {
            free(crop);
            return st;
        }
    }
    /* ToTensor (/255 in float32) then Normalize ((x - mean) / std in float32), as torchvision */
    const size_t plane = (size_t)size * (size_t)size;
    for (int c = 0; c < 3; c++) {
        const float mean = params->mean[c], sd = params->std[c];
        const float zero = (0.0f - mean) / sd;
        float *o = out + (size_t)c * plane;
        for (int y = 0; y < size; y++) {
            int sy = cy0 + y;
            for (int x = 0; x < size; x++) {
                int sx = cx0 + x;
                float v = zero;
                if (sy >= iy0 && sy < iy1 && sx >= ix0 && sx < ix1) {
                    uint8_t b = crop[((size_t)(sy - iy0) * (size_t)cw + (size_t)(sx - ix0)) * 3 + (size_t)c];
                    v = ((float)b / 255.0f - mean) / sd;
                }
                o[(size_t)y * (size_t)size + (size_t)x] = v;
            }
        }
    }
    free(crop);
    return VITC_OK;
}
