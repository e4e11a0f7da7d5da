/* Semantic segmentation at inference: the head's per-patch scores (vit.c), upsampled bilinearly
 * (align_corners=False) to the input, or mapped back through the preprocessing onto the original
 * image, and the per-pixel arg max. */
#include "core/error.h"
#include "image/image.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

static vitc_status check_segment_model(const vitc_model *m, const char *what) {
    if (m->cfg.task != VT_TASK_SEGMENT)
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: the model is a classifier, not a segmentation model", what);
    return VITC_OK;
}

vitc_status vitc_model_segment_grid(vitc_model *m, const float *images, int n, int height, int width, float *grid) {
    if (!m || !images || !grid || n <= 0) return vt_error(VITC_ERR_ARG, "segment: null argument or empty batch");
    vitc_status s = check_segment_model(m, "segment");
    if (s) return s;
    vt_forward_out o = {0};
    o.seg = grid;
    return vt_vit_forward(m, images, n, height, width, &o);
}

/* Per-pixel arg max over C planes of P pixels (the first of equal scores). */
static void argmax_planes(uint8_t *mask, const float *scores, int C, size_t P) {
    for (size_t p = 0; p < P; p++) {
        int best = 0;
        float bv = scores[p];
        for (int k = 1; k < C; k++)
            if (scores[(size_t)k * P + p] > bv) bv = scores[(size_t)k * P + p], best = k;
        mask[p] = (uint8_t)best;
    }
}

vitc_status vitc_model_segment(vitc_model *m, const float *images, int n, int height, int width, float *scores,
                               uint8_t *mask) {
    if (!m || (!scores && !mask)) return vt_error(VITC_ERR_ARG, "segment: null argument");
    vitc_status s = check_segment_model(m, "segment");
    if (s) return s;
    int P = m->cfg.patch, C = m->cfg.num_classes;
    if (n <= 0 || height <= 0 || width <= 0 || height % P || width % P)
        return vt_error(VITC_ERR_SHAPE, "segment: %dx%d is not a multiple of the patch size %d", height, width, P);
    int gh = height / P, gw = width / P;
    size_t HW = (size_t)height * width;
    float *grid = malloc(sizeof(float) * (size_t)n * C * gh * gw);
    float *up = scores ? scores : malloc(sizeof(float) * C * HW * (size_t)n);
    if (!grid || !up) {
        free(grid);
        if (up != scores) free(up);
        return vt_error(VITC_ERR_NOMEM, "segment: out of memory");
    }
    s = vitc_model_segment_grid(m, images, n, height, width, grid);
    if (!s) {
        vt_bilinear_planes(up, grid, n * C, gh, gw, height, width, (double)gh / height, 0.0, (double)gw / width, 0.0);
        if (mask)
            for (int b = 0; b < n; b++) argmax_planes(mask + (size_t)b * HW, up + (size_t)b * C * HW, C, HW);
    }
    free(grid);
    if (up != scores) free(up);
    return s;
}

vitc_status vt_segment_map_back(const vitc_model *m, const float *grid, int orig_w, int orig_h, float *scores,
                                uint8_t *mask) {
    const vt_vit_config *c = &m->cfg;
    vt_pre_geom g;
    vitc_status s = vt_preprocess_geometry(&m->pre, orig_w, orig_h, &g);
    if (s) return s;
    int P = c->patch, gs = m->pre.size / P, C = c->num_classes;
    size_t HW = (size_t)orig_w * orig_h;
    float *up = scores ? scores : malloc(sizeof(float) * C * HW);
    if (!up) return vt_error(VITC_ERR_NOMEM, "segment: out of memory");
    /* original pixel x sits at resized coordinate (x + 0.5) rw / w, i.e. patch-grid coordinate
     * ((x + 0.5) rw / w - cx0) / P */
    vt_bilinear_planes(up, grid, C, gs, gs, orig_h, orig_w, (double)g.rh / ((double)orig_h * P), -(double)g.cy0 / P,
                       (double)g.rw / ((double)orig_w * P), -(double)g.cx0 / P);
    if (mask) argmax_planes(mask, up, C, HW);
    if (up != scores) free(up);
    return VITC_OK;
}

vitc_status vitc_model_segment_image(vitc_model *m, const vitc_image *img, float *scores, uint8_t *mask) {
    if (!m || !img || (!scores && !mask)) return vt_error(VITC_ERR_ARG, "segment: null argument");
    vitc_status s = check_segment_model(m, "segment");
    if (s) return s;
    int S = m->pre.size, P = m->cfg.patch, C = m->cfg.num_classes;
    if (S % P) return vt_error(VITC_ERR_SHAPE, "segment: input size %d is not a multiple of the patch size %d", S, P);
    float *x = malloc(sizeof(float) * 3 * (size_t)S * S), *grid = malloc(sizeof(float) * C * (size_t)(S / P) * (S / P));
    if (!x || !grid) s = vt_error(VITC_ERR_NOMEM, "segment: out of memory");
    if (!s) s = vitc_preprocess(img, &m->pre, x);
    if (!s) s = vitc_model_segment_grid(m, x, 1, S, S, grid);
    if (!s) s = vt_segment_map_back(m, grid, img->width, img->height, scores, mask);
    free(x);
    free(grid);
    return s;
}
