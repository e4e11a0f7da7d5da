/* COCO bbox mAP the pycocotools way: per-image greedy matching at ten IoU thresholds when an
 * image is added, per-class precision/recall accumulation when the scores are asked for. */
#include "train/det_eval.h"
#include "core/error.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* one kept detection: its score, where it came from (the tie order) and which thresholds it
 * matched a ground truth at (bit t: threshold t) */
typedef struct det_rec {
    double score;
    int image, index;
    uint16_t hits;
} det_rec;

typedef struct class_recs {
    det_rec *r;
    size_t n, cap;
    int64_t n_gt;
} class_recs;

struct vt_det_eval {
    int C, images;
    class_recs *cls;
};

/* np.linspace(.5, .95, 10): start + t * step, the last exactly .95 */
static double iou_threshold(int t) { return t == VT_DET_IOU_THRESHOLDS - 1 ? 0.95 : t * ((0.95 - 0.5) / 9) + 0.5; }
/* np.linspace(0, 1, 101) */
static double recall_threshold(int r) { return r == VT_DET_RECALL_POINTS - 1 ? 1.0 : r * (1.0 / 100); }

vitc_status vt_det_eval_create(int num_classes, vt_det_eval **out) {
    *out = NULL;
    if (num_classes < 1 || num_classes > 1000000)
        return vt_error(VITC_ERR_ARG, "detection scores: %d classes (needs 1..1000000)", num_classes);
    vt_det_eval *e = calloc(1, sizeof *e);
    if (e) e->cls = calloc((size_t)num_classes, sizeof *e->cls);
    if (!e || !e->cls) {
        free(e);
        return vt_error(VITC_ERR_NOMEM, "detection scores: out of memory");
    }
    e->C = num_classes;
    *out = e;
    return VITC_OK;
}

void vt_det_eval_free(vt_det_eval *e) {
    if (!e) return;
    for (int c = 0; c < e->C; c++) free(e->cls[c].r);
    free(e->cls);
    free(e);
}

double vt_det_iou(const float *a, const float *b) {
    /* pycocotools' bbIou on [x, y, w, h] */
    double aw = (double)a[2] - a[0], ah = (double)a[3] - a[1], bw = (double)b[2] - b[0], bh = (double)b[3] - b[1];
    double iw = fmin(a[0] + aw, b[0] + bw) - fmax(a[0], b[0]);
    if (!(iw > 0)) return 0.0;
    double ih = fmin(a[1] + ah, b[1] + bh) - fmax(a[1], b[1]);
    if (!(ih > 0)) return 0.0;
    return iw * ih / (aw * ah + bw * bh - iw * ih);
}

/* score: the detections' scores, NULL for ground truth */
static vitc_status check_boxes(int C, int n, const float *box, const float *score, const int *cls, const char *what) {
    if (n < 0) return vt_error(VITC_ERR_ARG, "detection scores: negative number of %s (%d)", what, n);
    if (n > 0 && (!box || !cls))
        return vt_error(VITC_ERR_ARG, "detection scores: %d %s but no arrays", n, what);
    for (int i = 0; i < n; i++) {
        const float *x = box + (size_t)i * 4;
        if (cls[i] < 0 || cls[i] >= C)
            return vt_error(VITC_ERR_ARG, "detection scores: %s %d: class %d outside 0..%d", what, i, cls[i], C - 1);
        if (!isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2]) || !isfinite(x[3]) || (score && !isfinite(score[i])))
            return vt_error(VITC_ERR_ARG, "detection scores: %s %d: a box coordinate or score is not finite", what, i);
        if (x[2] < x[0] || x[3] < x[1])
            return vt_error(VITC_ERR_ARG, "detection scores: %s %d: negative size (box [%g, %g, %g, %g])", what, i,
                            x[0], x[1], x[2], x[3]);
    }
    return VITC_OK;
}

typedef struct scored {
    double score;
    int index;
} scored;

/* score descending, then input order: numpy's stable argsort(-scores, kind='mergesort') */
static int by_score(const void *pa, const void *pb) {
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int reserve(class_recs *c, size_t more) {
    if (c->n + more <= c->cap) return 1;
    size_t cap = c->cap ? c->cap : 64;
    while (cap < c->n + more) cap *= 2;
    det_rec *r = realloc(c->r, cap * sizeof *r);
    if (!r) return 0;
    c->r = r, c->cap = cap;
    return 1;
}

/* pycocotools' evaluateImg for one class of one image: d (nd, sorted) against g (ng) */
static void match_class(const scored *d, int nd, const int *g, int ng, const float *det_boxes, const float *gt_boxes,
                        double *iou, char *taken, uint16_t *hits) {
    for (int i = 0; i < nd; i++)
        for (int j = 0; j < ng; j++)
            iou[(size_t)i * ng + j] = vt_det_iou(det_boxes + (size_t)d[i].index * 4, gt_boxes + (size_t)g[j] * 4);
    for (int i = 0; i < nd; i++) hits[i] = 0;
    for (int t = 0; t < VT_DET_IOU_THRESHOLDS; t++) {
        memset(taken, 0, (size_t)ng);
        for (int i = 0; i < nd; i++) {
            double best = fmin(iou_threshold(t), 1 - 1e-10);
            int m = -1;
            for (int j = 0; j < ng; j++) {
                if (taken[j] || iou[(size_t)i * ng + j] < best) continue;
                best = iou[(size_t)i * ng + j], m = j; /* >=: the last of equal IoUs wins */
            }
            if (m >= 0) taken[m] = 1, hits[i] |= (uint16_t)(1u << t);
        }
    }
}

vitc_status vt_det_eval_add(vt_det_eval *e, int n_det, const float *det_boxes, const float *det_scores,
                            const int *det_classes, int n_gt, const float *gt_boxes, const int *gt_classes) {
    if (n_det > 0 && !det_scores) return vt_error(VITC_ERR_ARG, "detection scores: %d detections but no scores", n_det);
    vitc_status s = check_boxes(e->C, n_det, det_boxes, det_scores, det_classes, "detection");
    if (!s) s = check_boxes(e->C, n_gt, gt_boxes, NULL, gt_classes, "ground truth");
    if (s) return s;
    for (int c = 0; c < e->C; c++) { /* reserve first: an image is added whole or not at all */
        size_t k = 0;
        for (int i = 0; i < n_det; i++) k += det_classes[i] == c;
        if (!reserve(&e->cls[c], k > VT_DET_MAX_DETS ? VT_DET_MAX_DETS : k))
            return vt_error(VITC_ERR_NOMEM, "detection scores: out of memory");
    }
    scored *d = malloc(sizeof *d * (size_t)(n_det + 1));
    int *g = malloc(sizeof *g * (size_t)(n_gt + 1));
    double *iou = malloc(sizeof *iou * ((size_t)(n_det < VT_DET_MAX_DETS ? n_det : VT_DET_MAX_DETS) * n_gt + 1));
    char *taken = malloc((size_t)n_gt + 1);
    uint16_t *hits = malloc(sizeof *hits * (VT_DET_MAX_DETS + 1));
    if (!d || !g || !iou || !taken || !hits) s = vt_error(VITC_ERR_NOMEM, "detection scores: out of memory");
    for (int c = 0; c < e->C && !s; c++) {
        int nd = 0, ng = 0;
        for (int i = 0; i < n_det; i++)
            if (det_classes[i] == c) d[nd].score = det_scores[i], d[nd].index = i, nd++;
        for (int j = 0; j < n_gt; j++)
            if (gt_classes[j] == c) g[ng++] = j;
        if (!nd && !ng) continue;
        qsort(d, (size_t)nd, sizeof *d, by_score);
        if (nd > VT_DET_MAX_DETS) nd = VT_DET_MAX_DETS;
        match_class(d, nd, g, ng, det_boxes, gt_boxes, iou, taken, hits);
        class_recs *cr = &e->cls[c];
        for (int i = 0; i < nd; i++)
            cr->r[cr->n++] = (det_rec){.score = d[i].score, .image = e->images, .index = d[i].index, .hits = hits[i]};
        cr->n_gt += ng;
    }
    free(d), free(g), free(iou), free(taken), free(hits);
    if (!s) e->images++;
    return s;
}

/* score descending, then image, then the image's own order (pycocotools' concatenation in
 * image order followed by a stable sort) */
static int by_rank(const void *pa, const void *pb) {
    const det_rec *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* pycocotools' accumulate for one class and threshold: the sum of the 101 interpolated
 * precisions. pr is scratch of n entries. */
static double precision_sum(const det_rec *r, size_t n, int64_t n_gt, int t, double *rc, double *pr) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].hits >> t & 1) tp += 1;
        else fp += 1;
        rc[i] = tp / (double)n_gt;
        pr[i] = tp / (fp + tp + DBL_EPSILON); /* np.spacing(1) */
    }
    for (size_t i = n; i-- > 1;)
        if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    double sum = 0;
    size_t i = 0;
    for (int k = 0; k < VT_DET_RECALL_POINTS; k++) {
        double thr = recall_threshold(k);
        while (i < n && rc[i] < thr) i++; /* searchsorted(rc, thr, side='left') */
        if (i == n) break;                /* past the last detection: precision 0 */
        sum += pr[i];
    }
    return sum;
}

vitc_status vt_det_eval_scores(const vt_det_eval *e, vt_det_scores *out, double *ap, double *ap50) {
    size_t most = 1;
    for (int c = 0; c < e->C; c++) most = e->cls[c].n > most ? e->cls[c].n : most;
    det_rec *r = malloc(sizeof *r * most);
    double *rc = malloc(sizeof *rc * most), *pr = malloc(sizeof *pr * most);
    if (!r || !rc || !pr) {
        free(r), free(rc), free(pr);
        return vt_error(VITC_ERR_NOMEM, "detection scores: out of memory");
    }
    double sum_all = 0, sum50 = 0, sum75 = 0;
    int present = 0;
    for (int c = 0; c < e->C; c++) {
        const class_recs *cr = &e->cls[c];
        if (ap) ap[c] = -1;
        if (ap50) ap50[c] = -1;
        if (cr->n_gt == 0) continue; /* pycocotools: no ground truth, precision stays -1 */
        if (cr->n) memcpy(r, cr->r, sizeof *r * cr->n);
        qsort(r, cr->n, sizeof *r, by_rank);
        double all = 0, at[VT_DET_IOU_THRESHOLDS];
        for (int t = 0; t < VT_DET_IOU_THRESHOLDS; t++) {
            at[t] = precision_sum(r, cr->n, cr->n_gt, t, rc, pr) / VT_DET_RECALL_POINTS;
            all += at[t];
        }
        all /= VT_DET_IOU_THRESHOLDS;
        if (ap) ap[c] = all;
        if (ap50) ap50[c] = at[0];
        sum_all += all, sum50 += at[0], sum75 += at[5];
        present++;
    }
    free(r), free(rc), free(pr);
    out->classes_present = present, out->images = e->images;
    out->map = present ? sum_all / present : -1;
    out->map50 = present ? sum50 / present : -1;
    out->map75 = present ? sum75 / present : -1;
    return VITC_OK;
}
