/* Object detection at inference (YOLOS): the heads' outputs (vit.c), the image processors' resize
 * (DETR-style shortest/longest edge, or the evaluation transform of classifiers), and Hugging Face's
 * post_process_object_detection. */
#include "core/error.h"
#include "image/image.h"
#include "image/resample.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vitc_status vitc_model_detect_raw(vitc_model *m, const float *images, int n, int height, int width, float *logits,
                                  float *boxes) {
    if (!m) return vt_error(VITC_ERR_ARG, "detect: null model");
    if (m->cfg.task != VT_TASK_DETECT)
        return vt_error(VITC_ERR_UNSUPPORTED, "detect: the model is a %s model, not a detection model",
                        m->cfg.task == VT_TASK_SEGMENT ? "segmentation" : "classification");
    if (!images || n <= 0 || (!logits && !boxes)) return vt_error(VITC_ERR_ARG, "detect: null argument or empty batch");
    vt_forward_out o = {0};
    o.det_logits = logits;
    o.det_boxes = boxes;
    return vt_vit_forward(m, images, n, height, width, &o);
}

/* DETR's get_size_with_aspect_ratio: the shorter side to `size`, unless the longer would pass max_size
 * (then the longer side to max_size); the other side truncated. Returns the output (ow, oh). */
static void detr_resize_size(int w, int h, int size, int max_size, int *ow, int *oh) {
    double lo = w < h ? w : h, hi = w < h ? h : w, raw = -1.0;
    if (max_size > 0 && hi / lo * size > max_size) {
        raw = (double)max_size * lo / hi;
        size = (int)lround(raw);
    }
    if ((h <= w && h == size) || (w <= h && w == size)) {
        *ow = w, *oh = h;
    } else if (w < h) {
        *ow = size;
        *oh = (int)((raw >= 0 ? raw : size) * h / w);
    } else {
        *oh = size;
        *ow = (int)((raw >= 0 ? raw : size) * w / h);
    }
    if (*ow < 1) *ow = 1;
    if (*oh < 1) *oh = 1;
}

/* The model input for one image (C x ih x iw, malloc'ed) and the map from normalized model-input
 * coordinates to the image's pixels: x = u * sx + ox, y = v * sy + oy. */
typedef struct det_input {
    float *x;
    int ih, iw;
    double sx, ox, sy, oy;
} det_input;

static vitc_status detect_input(const vitc_model *m, const vitc_image *img, det_input *in) {
    const vitc_preprocess_params *pp = &m->pre;
    int w = img->width, h = img->height, P = m->cfg.patch;
    memset(in, 0, sizeof *in);
    if (pp->max_size <= 0) { /* the evaluation transform, as classifiers: size x size */
        vt_pre_geom g;
        vitc_status s = vt_preprocess_geometry(pp, w, h, &g);
        if (s) return s;
        if (pp->size % P) return vt_error(VITC_ERR_SHAPE, "detect: input size %d is not a multiple of the patch size %d", pp->size, P);
        in->ih = in->iw = pp->size;
        if (!(in->x = malloc(sizeof(float) * 3 * (size_t)pp->size * pp->size)))
            return vt_error(VITC_ERR_NOMEM, "detect: out of memory");
        if ((s = vitc_preprocess(img, pp, in->x))) {
            free(in->x);
            in->x = NULL;
            return s;
        }
        /* model-input pixel u covers resized pixel cx0 + u; resized x' is original x' * w / rw */
        in->sx = (double)pp->size * w / g.rw, in->ox = (double)g.cx0 * w / g.rw;
        in->sy = (double)pp->size * h / g.rh, in->oy = (double)g.cy0 * h / g.rh;
        return VITC_OK;
    }
    /* DETR / YOLOS processors: resize keeping the aspect ratio, rescale, normalize; the patch
     * embedding (a stride-P convolution) ignores the last rows and columns that do not fill a patch,
     * and boxes are relative to the resized image, scaled by the original size */
    int ow, oh;
    detr_resize_size(w, h, pp->size, pp->max_size, &ow, &oh);
    if (ow > VT_IMAGE_MAX_SIDE || oh > VT_IMAGE_MAX_SIDE) return vt_error(VITC_ERR_LIMIT, "detect: resized image too large");
    in->iw = ow / P * P, in->ih = oh / P * P;
    if (in->iw < P || in->ih < P)
        return vt_error(VITC_ERR_SHAPE, "detect: a %dx%d image resized to %dx%d is smaller than a patch", w, h, ow, oh);
    uint8_t *rs = malloc((size_t)ow * oh * 3);
    in->x = malloc(sizeof(float) * 3 * (size_t)in->iw * in->ih);
    if (!rs || !in->x) {
        free(rs);
        free(in->x);
        in->x = NULL;
        return vt_error(VITC_ERR_NOMEM, "detect: out of memory");
    }
    vitc_status s = vt_resample_u8(img->rgb, w, h, 3, rs, ow, oh, pp->interp);
    if (!s) {
        size_t plane = (size_t)in->iw * in->ih;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < in->ih; y++)
                for (int x = 0; x < in->iw; x++) {
                    float v = (float)rs[((size_t)y * ow + x) * 3 + c] / 255.0f;
                    in->x[c * plane + (size_t)y * in->iw + x] = (v - pp->mean[c]) / pp->std[c];
                }
    }
    free(rs);
    if (s) {
        free(in->x);
        in->x = NULL;
        return s;
    }
    /* pixel_values keep the partial patch, so normalized boxes are relative to ow x oh */
    in->sx = w, in->ox = 0.0, in->sy = h, in->oy = 0.0;
    (void)oh;
    return VITC_OK;
}

/* Sorts detections by score, best first, keeping token order among equal scores (insertion sort:
 * at most det_tokens entries). */
static void sort_by_score(vitc_detection *d, int n) {
    for (int i = 1; i < n; i++) {
        vitc_detection t = d[i];
        int j = i - 1;
        while (j >= 0 && d[j].score < t.score) d[j + 1] = d[j], j--;
        d[j + 1] = t;
    }
}

int vt_detect_postprocess(const float *logits, const float *boxes, int Q, int C, float threshold, const double map[4],
                          vitc_detection *out) {
    int n = 0;
    for (int q = 0; q < Q; q++) {
        const float *l = logits + (size_t)q * C, *b = boxes + (size_t)q * 4;
        double mx = l[0], sum = 0.0;
        for (int k = 1; k < C; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < C; k++) sum += exp((double)l[k] - mx);
        int best = 0; /* the first of equal scores, as torch's max */
        for (int k = 1; k < C - 1; k++)
            if (l[k] > l[best]) best = k;
        float score = (float)(exp((double)l[best] - mx) / sum);
        if (!(score > threshold)) continue;
        double cx = b[0], cy = b[1], bw = b[2], bh = b[3];
        out[n++] = (vitc_detection){best, score,
                                    {(float)((cx - 0.5 * bw) * map[0] + map[1]), (float)((cy - 0.5 * bh) * map[2] + map[3]),
                                     (float)((cx + 0.5 * bw) * map[0] + map[1]), (float)((cy + 0.5 * bh) * map[2] + map[3])}};
    }
    return n;
}

vitc_status vitc_model_detect(vitc_model *m, const vitc_image *img, float threshold, vitc_detection *dets,
                              int max_dets, int *n_out) {
    if (n_out) *n_out = 0;
    if (!m || !img || !n_out || (max_dets > 0 && !dets) || max_dets < 0)
        return vt_error(VITC_ERR_ARG, "detect: null argument");
    if (m->cfg.task != VT_TASK_DETECT) return vitc_model_detect_raw(m, NULL, 0, 0, 0, NULL, NULL);
    if (!(threshold >= 0.0f && threshold <= 1.0f)) return vt_error(VITC_ERR_ARG, "detect: threshold must be in [0, 1]");
    int Q = m->cfg.det_tokens, C = m->cfg.num_classes + 1;
    det_input in;
    vitc_status s = detect_input(m, img, &in);
    if (s) return s;
    float *logits = malloc(sizeof(float) * (size_t)Q * C), *boxes = malloc(sizeof(float) * (size_t)Q * 4);
    vitc_detection *all = malloc(sizeof *all * (size_t)Q);
    if (!logits || !boxes || !all) s = vt_error(VITC_ERR_NOMEM, "detect: out of memory");
    if (!s) s = vitc_model_detect_raw(m, in.x, 1, in.ih, in.iw, logits, boxes);
    if (!s) {
        double map[4] = {in.sx, in.ox, in.sy, in.oy};
        int n = vt_detect_postprocess(logits, boxes, Q, C, threshold, map, all);
        sort_by_score(all, n);
        if (n > max_dets) n = max_dets;
        if (n) memcpy(dets, all, sizeof *all * (size_t)n);
        *n_out = n;
    }
    free(in.x);
    free(logits);
    free(boxes);
    free(all);
    return s;
}

void vitc_abi_sizes(size_t sizes[4]) {
    sizes[0] = sizeof(vitc_preprocess_params);
    sizes[1] = sizeof(vitc_load_params);
    sizes[2] = sizeof(vitc_model_info);
    sizes[3] = sizeof(vitc_detection);
}
