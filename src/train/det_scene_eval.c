/* Detection scores on scenes: the product's own detection path per scene, then COCO mAP. */
#include "train/det_scene_eval.h"
#include "core/error.h"
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

int vt_scene_targets(const vt_scenes *s, int i, float *boxes, int *classes, int cap) {
    int n = 0;
    for (int k = 0; k < s->n_boxes && n < cap; k++) {
        const vt_scene_box *b = &s->boxes[k];
        if (b->scene != i) continue;
        boxes[4 * n] = b->x, boxes[4 * n + 1] = b->y, boxes[4 * n + 2] = b->x + b->w, boxes[4 * n + 3] = b->y + b->h;
        classes[n++] = b->category;
    }
    return n;
}

static vitc_status check_model(const vitc_model *m, const vt_scenes *s) {
    const vt_vit_config *c = &m->cfg;
    if (c->task != VT_TASK_DETECT)
        return vt_error(VITC_ERR_UNSUPPORTED, "the model is a %s model, not a detection model", vt_task_name(c->task));
    if (s->num_classes - 1 > c->num_classes)
        return vt_error(VITC_ERR_SHAPE, "the scenes have %d categories, the model %d classes", s->num_classes - 1,
                        c->num_classes);
    return VITC_OK;
}

int64_t vt_det_record_floats(const vitc_model *m) { return 1 + 6 * (int64_t)m->cfg.det_tokens; }

vitc_status vt_det_predict_scenes(vitc_model *m, const vt_scenes *s, int lo, int hi, float *out) {
    vitc_status st = check_model(m, s);
    if (st) return st;
    int Q = m->cfg.det_tokens;
    int64_t R = vt_det_record_floats(m);
    size_t HW = (size_t)s->h * s->w;
    vitc_detection *d = malloc(sizeof *d * (size_t)Q);
    vitc_image *img = NULL;
    st = vt_image_alloc(s->w, s->h, &img);
    if (!st && !d) st = vt_error(VITC_ERR_NOMEM, "out of memory for evaluation");
    /* one scene at a time through the product's detection path (preprocessing, forward, post-processing) */
    for (int i = lo; i < hi && !st; i++) {
        const uint8_t *px = s->pixels + (size_t)i * HW * s->c;
        for (size_t p = 0; p < HW; p++)
            for (int k = 0; k < 3; k++) img->rgb[p * 3 + k] = px[p * s->c + (s->c == 3 ? k : 0)];
        int n = 0;
        st = vitc_model_detect(m, img, 0.0f, d, Q, &n);
        float *r = out + (size_t)(i - lo) * R;
        r[0] = (float)n;
        for (int k = 0; k < n; k++) {
            memcpy(r + 1 + 6 * k, d[k].box, sizeof d[k].box);
            r[1 + 6 * k + 4] = d[k].score;
            r[1 + 6 * k + 5] = (float)d[k].label; /* exact: labels are small integers */
        }
    }
    vitc_image_free(img);
    free(d);
    return st;
}

vitc_status vt_det_add_records(const vitc_model *m, const vt_scenes *s, const float *records, vt_det_eval *acc) {
    vitc_status st = check_model(m, s);
    if (st) return st;
    int Q = m->cfg.det_tokens, cap = 4096;
    int64_t R = vt_det_record_floats(m);
    float *db = malloc(sizeof(float) * 4 * (size_t)Q), *ds = malloc(sizeof(float) * (size_t)Q);
    float *gb = malloc(sizeof(float) * 4 * (size_t)cap);
    int *dc = malloc(sizeof(int) * (size_t)Q), *gc = malloc(sizeof(int) * (size_t)cap);
    if (!db || !ds || !gb || !dc || !gc) st = vt_error(VITC_ERR_NOMEM, "out of memory for evaluation");
    for (int i = 0; i < s->n && !st; i++) {
        const float *r = records + (size_t)i * R;
        int n = (int)r[0];
        if (!(r[0] >= 0 && r[0] <= Q)) {
            st = vt_error(VITC_ERR_ARG, "scene %d: %g detections (the model has %d tokens)", i, r[0], Q);
            break;
        }
        for (int k = 0; k < n; k++) {
            memcpy(db + 4 * k, r + 1 + 6 * k, 4 * sizeof(float));
            ds[k] = r[1 + 6 * k + 4];
            dc[k] = (int)r[1 + 6 * k + 5];
        }
        int ng = vt_scene_targets(s, i, gb, gc, cap);
        st = vt_det_eval_add(acc, n, db, ds, dc, ng, gb, gc);
    }
    free(db), free(ds), free(gb), free(dc), free(gc);
    return st;
}

vitc_status vt_det_evaluate(vitc_model *m, const vt_scenes *s, vt_det_eval *acc) {
    vitc_status st = check_model(m, s);
    if (st) return st;
    float *rec = malloc(sizeof(float) * (size_t)(vt_det_record_floats(m) * (s->n ? s->n : 1)));
    if (!rec) return vt_error(VITC_ERR_NOMEM, "out of memory for evaluation");
    st = vt_det_predict_scenes(m, s, 0, s->n, rec);
    if (!st) st = vt_det_add_records(m, s, rec, acc);
    free(rec);
    return st;
}
