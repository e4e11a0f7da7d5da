/* Segmentation scores: batches of scenes through the model, each mapped back to its own pixels. */
#include "train/seg_eval.h"
#include "core/error.h"
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vitc_status vt_seg_evaluate_range(vitc_model *m, const vt_scenes *s, int lo, int hi, int batch, int64_t *conf) {
    const vt_vit_config *c = &m->cfg;
    if (c->task != VT_TASK_SEGMENT)
        return vt_error(VITC_ERR_UNSUPPORTED, "the model is a classifier, not a segmentation model");
    if (s->num_classes > c->num_classes)
        return vt_error(VITC_ERR_SHAPE, "the scenes have %d classes, the model %d", s->num_classes, c->num_classes);
    int S = m->pre.size, P = c->patch, C = c->num_classes, gs = S / P;
    if (S % P) return vt_error(VITC_ERR_SHAPE, "input size %d is not a multiple of the patch size %d", S, P);
    if (batch < 1) batch = 1;
    size_t in = 3 * (size_t)S * S, g = (size_t)C * gs * gs, HW = (size_t)s->h * s->w;
    float *x = malloc(sizeof(float) * in * batch), *grid = malloc(sizeof(float) * g * batch);
    uint8_t *pred = malloc(HW);
    vitc_image *img = NULL;
    vitc_status st = vt_image_alloc(s->w, s->h, &img);
    if (!st && (!x || !grid || !pred)) st = vt_error(VITC_ERR_NOMEM, "out of memory for evaluation");
    for (int b0 = lo; b0 < hi && !st; b0 += batch) {
        int nb = hi - b0 < batch ? hi - b0 : batch;
        for (int i = 0; i < nb && !st; i++) {
            const uint8_t *px = s->pixels + (size_t)(b0 + i) * HW * s->c;
            for (size_t p = 0; p < HW; p++)
                for (int k = 0; k < 3; k++) img->rgb[p * 3 + k] = px[p * s->c + (s->c == 3 ? k : 0)];
            st = vitc_preprocess(img, &m->pre, x + (size_t)i * in);
        }
        if (!st) st = vitc_model_segment_grid(m, x, nb, S, S, grid);
        for (int i = 0; i < nb && !st; i++) {
            st = vt_segment_map_back(m, grid + (size_t)i * g, s->w, s->h, NULL, pred);
            const uint8_t *truth = s->masks + (size_t)(b0 + i) * HW;
            for (size_t p = 0; !st && p < HW; p++)
                if (truth[p] != 255) conf[(size_t)truth[p] * C + pred[p]]++;
        }
    }
    vitc_image_free(img);
    free(x);
    free(grid);
    free(pred);
    return st;
}

vitc_status vt_seg_evaluate(vitc_model *m, const vt_scenes *s, int batch, int64_t *conf) {
    return vt_seg_evaluate_range(m, s, 0, s->n, batch, conf);
}

vt_seg_scores vt_seg_scores_of(const int64_t *conf, int C, double *iou) {
    vt_seg_scores r = {0, 0, 0};
    int64_t total = 0, right = 0;
    double sum = 0.0;
    for (int k = 0; k < C; k++) {
        int64_t tp = conf[(size_t)k * C + k], fp = 0, fn = 0;
        for (int j = 0; j < C; j++) {
            if (j == k) continue;
            fn += conf[(size_t)k * C + j];
            fp += conf[(size_t)j * C + k];
            total += conf[(size_t)k * C + j];
        }
        total += tp;
        right += tp;
        double v = tp + fp + fn ? (double)tp / (double)(tp + fp + fn) : NAN;
        if (iou) iou[k] = v;
        if (!isnan(v)) sum += v, r.classes_present++;
    }
    r.miou = r.classes_present ? sum / r.classes_present : 0.0;
    r.pixel_acc = total ? (double)right / (double)total : 0.0;
    return r;
}
