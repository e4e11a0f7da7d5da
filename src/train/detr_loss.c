/* DETR / YOLOS set prediction loss: matching cost, Hungarian assignment, weighted
 * cross-entropy, L1 and GIoU losses and their gradients, all in doubles. */
#include "train/detr_loss.h"
#include "core/error.h"
#include "train/hungarian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vt_detr_params vt_detr_params_default(void) {
    vt_detr_params p = {.class_cost = 1.0, .bbox_cost = 5.0, .giou_cost = 2.0,
                        .ce_weight = 1.0, .l1_weight = 5.0, .giou_weight = 2.0, .eos_coef = 0.1};
    return p;
}

/* ------------------------------------------------------------------ GIoU */

/* d max(x, y) / dx and d min(x, y) / dx: torch's maximum/minimum split the gradient at ties */
static double dmax(double x, double y) { return x > y ? 1.0 : x == y ? 0.5 : 0.0; }
static double dmin(double x, double y) { return x < y ? 1.0 : x == y ? 0.5 : 0.0; }

double vt_giou_xyxy(const double *a, const double *b, double *g) {
    double iwr = fmin(a[2], b[2]) - fmax(a[0], b[0]), ihr = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    double iw = iwr > 0 ? iwr : 0, ih = ihr > 0 ? ihr : 0, I = iw * ih;
    double area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    double U = area_a + area_b - I;
    double ewr = fmax(a[2], b[2]) - fmin(a[0], b[0]), ehr = fmax(a[3], b[3]) - fmin(a[1], b[1]);
    double ew = ewr > 0 ? ewr : 0, eh = ehr > 0 ? ehr : 0, E = ew * eh;
    double giou = I / U - (E - U) / E;
    if (!g) return giou;
    /* giou = I/U - (E - U)/E with U = area_a + area_b - I */
    double gI = 1.0 / U + I / (U * U) - 1.0 / E, gA = -I / (U * U) + 1.0 / E, gE = -U / (E * E);
    double giw = iwr >= 0 ? gI * ih : 0, gih = ihr >= 0 ? gI * iw : 0; /* clamp(min=0) passes at 0 */
    double gew = ewr >= 0 ? gE * eh : 0, geh = ehr >= 0 ? gE * ew : 0;
    g[0] = -giw * dmax(a[0], b[0]) - gew * dmin(a[0], b[0]) - gA * (a[3] - a[1]);
    g[2] = giw * dmin(a[2], b[2]) + gew * dmax(a[2], b[2]) + gA * (a[3] - a[1]);
    g[1] = -gih * dmax(a[1], b[1]) - geh * dmin(a[1], b[1]) - gA * (a[2] - a[0]);
    g[3] = gih * dmin(a[3], b[3]) + geh * dmax(a[3], b[3]) + gA * (a[2] - a[0]);
    return giou;
}

static void corners(const double *c, double *x) {
    x[0] = c[0] - 0.5 * c[2], x[1] = c[1] - 0.5 * c[3];
    x[2] = c[0] + 0.5 * c[2], x[3] = c[1] + 0.5 * c[3];
}

/* ------------------------------------------------------------------ checks */

static vitc_status check_finite(const float *x, size_t n, const char *what, int image) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return vt_error(VITC_ERR_ARG, "detection loss: image %d: %s[%zu] is not finite", image, what, i);
    return VITC_OK;
}

static vitc_status check_targets(int C, int n, const int *cls, const float *box, int image) {
    for (int t = 0; t < n; t++) {
        if (cls[t] < 0 || cls[t] >= C)
            return vt_error(VITC_ERR_ARG, "detection loss: image %d target %d: class %d outside 0..%d", image, t,
                            cls[t], C - 1);
        const float *x = box + (size_t)t * 4;
        if (!isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2]) || !isfinite(x[3]))
            return vt_error(VITC_ERR_ARG, "detection loss: image %d target %d: box is not finite", image, t);
        if (x[2] < 0 || x[3] < 0)
            return vt_error(VITC_ERR_ARG, "detection loss: image %d target %d: negative size %g x %g", image, t,
                            x[2], x[3]);
    }
    return VITC_OK;
}

static vitc_status check_image(int Q, int C, const float *logits, const float *boxes, int post, int n,
                               const int *cls, const float *tbox, int image) {
    if (n < 0 || n > Q)
        return vt_error(VITC_ERR_ARG, "detection loss: image %d has %d targets but only %d detection tokens",
                        image, n, Q);
    vitc_status s = check_finite(logits, (size_t)Q * (C + 1), "logits", image);
    if (!s) s = check_finite(boxes, (size_t)Q * 4, "boxes", image);
    for (int q = 0; !s && post && q < Q; q++)
        if (boxes[q * 4 + 2] < 0 || boxes[q * 4 + 3] < 0)
            s = vt_error(VITC_ERR_ARG, "detection loss: image %d query %d: negative predicted size", image, q);
    return s ? s : check_targets(C, n, cls, tbox, image);
}

/* ------------------------------------------------------------------ one image */

/* per-image work: probabilities, boxes after the sigmoid, the cost matrix */
typedef struct image_work {
    double *prob, *lse, *box, *cost;
} image_work;

static void image_work_free(image_work *w) { free(w->prob), free(w->lse), free(w->box), free(w->cost); }

static vitc_status image_work_alloc(image_work *w, int Q, int C, int max_n) {
    w->prob = malloc(sizeof(double) * (size_t)Q * (C + 1));
    w->lse = malloc(sizeof(double) * (size_t)Q);
    w->box = malloc(sizeof(double) * (size_t)Q * 4);
    w->cost = malloc(sizeof(double) * (size_t)Q * (max_n > 0 ? max_n : 1));
    if (w->prob && w->lse && w->box && w->cost) return VITC_OK;
    image_work_free(w);
    return vt_error(VITC_ERR_NOMEM, "detection loss: out of memory (%d queries)", Q);
}

/* softmax of each query's logits (and the log of its normaliser) and the boxes as cxcywh */
static void image_prepare(int Q, int C, const float *logits, const float *boxes, int post, image_work *w) {
    int K = C + 1;
    for (int q = 0; q < Q; q++) {
        const float *z = logits + (size_t)q * K;
        double mx = z[0], sum = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
        w->lse[q] = mx + log(sum);
        for (int k = 0; k < K; k++) w->prob[(size_t)q * K + k] = exp(z[k] - w->lse[q]);
    }
    for (int k = 0; k < Q * 4; k++) w->box[k] = post ? boxes[k] : 1.0 / (1.0 + exp(-(double)boxes[k]));
}

/* the DETR matching cost (HF's order of the sum: bbox, class, giou) */
static vitc_status image_cost(const vt_detr_params *p, int Q, int C, int n, const int *cls, const float *tbox,
                              image_work *w, int image) {
    for (int q = 0; q < Q; q++) {
        double pq[4];
        corners(w->box + (size_t)q * 4, pq);
        for (int t = 0; t < n; t++) {
            double tc[4] = {tbox[t * 4], tbox[t * 4 + 1], tbox[t * 4 + 2], tbox[t * 4 + 3]}, tx[4], l1 = 0;
            for (int k = 0; k < 4; k++) l1 += fabs(w->box[(size_t)q * 4 + k] - tc[k]);
            corners(tc, tx);
            double giou = vt_giou_xyxy(pq, tx, NULL);
            if (!isfinite(giou))
                return vt_error(VITC_ERR_ARG, "detection loss: image %d: query %d and target %d have no area at all",
                                image, q, t);
            w->cost[(size_t)q * n + t] =
                p->bbox_cost * l1 + p->class_cost * -w->prob[(size_t)q * (C + 1) + cls[t]] + p->giou_cost * -giou;
        }
    }
    return VITC_OK;
}

vitc_status vt_detr_match(const vt_detr_params *p, int Q, int C, const float *logits, const float *boxes,
                          int post_sigmoid, int n, const int *target_class, const float *target_box, double *cost,
                          int *target_of_query) {
    if (Q < 1 || C < 1) return vt_error(VITC_ERR_ARG, "detection loss: needs queries and classes (%d, %d)", Q, C);
    vitc_status s = check_image(Q, C, logits, boxes, post_sigmoid, n, target_class, target_box, 0);
    image_work w = {0};
    if (!s) s = image_work_alloc(&w, Q, C, n);
    if (s) return s;
    image_prepare(Q, C, logits, boxes, post_sigmoid, &w);
    s = image_cost(p, Q, C, n, target_class, target_box, &w, 0);
    if (!s) s = vt_hungarian(w.cost, Q, n, NULL, target_of_query, NULL);
    if (!s && cost) memcpy(cost, w.cost, sizeof(double) * (size_t)Q * n);
    image_work_free(&w);
    return s;
}

/* ------------------------------------------------------------------ the losses */

typedef struct sums {
    double ce_num, l1, giou; /* weighted CE numerator, L1 and 1 - GIoU sums over matched pairs */
} sums;

/* cross-entropy of one image's queries against their matched classes (C: no object) */
static void image_ce(const vt_detr_params *p, int Q, int C, const float *logits, const int *tgt, const int *cls,
                     double W, const image_work *w, sums *acc, float *d_logits) {
    int K = C + 1;
    for (int q = 0; q < Q; q++) {
        int c = tgt[q] >= 0 ? cls[tgt[q]] : C;
        double wt = c == C ? p->eos_coef : 1.0;
        acc->ce_num += wt * (w->lse[q] - logits[(size_t)q * K + c]);
        if (!d_logits) continue;
        double g = p->ce_weight * wt / W;
        for (int k = 0; k < K; k++)
            d_logits[(size_t)q * K + k] = (float)(g * (w->prob[(size_t)q * K + k] - (k == c)));
    }
}

/* L1 and GIoU of one image's matched pairs; d_boxes gets d(total)/d(box) for every query */
static vitc_status image_boxes(const vt_detr_params *p, int Q, int post, const int *tgt, const float *tbox,
                               double num_boxes, const image_work *w, sums *acc, float *d_boxes, int image) {
    for (int q = 0; q < Q; q++) {
        double g[4] = {0, 0, 0, 0};
        const double *s = w->box + (size_t)q * 4;
        if (tgt[q] >= 0) {
            const float *tf = tbox + (size_t)tgt[q] * 4;
            double tc[4] = {tf[0], tf[1], tf[2], tf[3]}, px[4], tx[4], gx[4];
            for (int k = 0; k < 4; k++) {
                double d = s[k] - tc[k];
                acc->l1 += fabs(d);
                g[k] = p->l1_weight * (double)((d > 0) - (d < 0)) / num_boxes; /* torch: sign(0) = 0 */
            }
            corners(s, px), corners(tc, tx);
            double giou = vt_giou_xyxy(px, tx, gx);
            if (!isfinite(giou))
                return vt_error(VITC_ERR_ARG, "detection loss: image %d: query %d and its target have no area at all",
                                image, q);
            acc->giou += 1.0 - giou;
            double f = -p->giou_weight / num_boxes; /* d(1 - giou) = -d giou */
            g[0] += f * (gx[0] + gx[2]), g[1] += f * (gx[1] + gx[3]);
            g[2] += f * 0.5 * (gx[2] - gx[0]), g[3] += f * 0.5 * (gx[3] - gx[1]);
        }
        if (!d_boxes) continue;
        for (int k = 0; k < 4; k++) d_boxes[(size_t)q * 4 + k] = (float)(post ? g[k] : g[k] * s[k] * (1.0 - s[k]));
    }
    return VITC_OK;
}

static vitc_status check_batch(const vt_detr_params *p, const vt_detr_batch *b, int *max_n, int *total_n) {
    if (b->B < 1 || b->Q < 1 || b->C < 1)
        return vt_error(VITC_ERR_ARG, "detection loss: needs images, queries and classes (%d, %d, %d)", b->B, b->Q,
                        b->C);
    int tot = 0, mx = 0, K = b->C + 1;
    for (int i = 0; i < b->B; i++) {
        int n = b->n_targets[i];
        vitc_status s = check_image(b->Q, b->C, b->logits + (size_t)i * b->Q * K, b->boxes + (size_t)i * b->Q * 4,
                                    b->post_sigmoid, n, b->target_class + tot, b->target_box + (size_t)tot * 4, i);
        if (s) return s;
        tot += n, mx = n > mx ? n : mx;
    }
    if (!(p->eos_coef > 0) && tot == 0)
        return vt_error(VITC_ERR_ARG, "detection loss: no targets and eos_coef %g: every weight is 0", p->eos_coef);
    *max_n = mx, *total_n = tot;
    return VITC_OK;
}

vitc_status vt_detr_loss(const vt_detr_params *p, const vt_detr_batch *b, vt_detr_losses *out, float *d_logits,
                         float *d_boxes, int *match) {
    int max_n = 0, total_n = 0, Q = b->Q, C = b->C, K = C + 1;
    vitc_status s = check_batch(p, b, &max_n, &total_n);
    if (s) return s;
    image_work w = {0};
    int *tgt = match ? match : malloc(sizeof(int) * (size_t)b->B * Q);
    if (!tgt) return vt_error(VITC_ERR_NOMEM, "detection loss: out of memory");
    if ((s = image_work_alloc(&w, Q, C, max_n))) {
        if (!match) free(tgt);
        return s;
    }
    /* every target is matched, so the CE weights sum to n + (B Q - n) eos_coef before matching */
    int nb = b->norm_B > 0 ? b->norm_n : total_n, nB = b->norm_B > 0 ? b->norm_B : b->B;
    double num_boxes = nb > 1 ? nb : 1, W = nb + ((double)nB * Q - nb) * p->eos_coef;
    sums acc = {0, 0, 0};
    for (int i = 0, off = 0; i < b->B && !s; off += b->n_targets[i], i++) {
        const float *lg = b->logits + (size_t)i * Q * K, *bx = b->boxes + (size_t)i * Q * 4;
        const int *cls = b->target_class + off;
        int n = b->n_targets[i];
        const float *tbox = b->target_box + (size_t)off * 4;
        int *ti = tgt + (size_t)i * Q;
        image_prepare(Q, C, lg, bx, b->post_sigmoid, &w);
        s = image_cost(p, Q, C, n, cls, tbox, &w, i);
        if (!s) s = vt_hungarian(w.cost, Q, n, NULL, ti, NULL);
        if (s) break;
        image_ce(p, Q, C, lg, ti, cls, W, &w, &acc, d_logits ? d_logits + (size_t)i * Q * K : NULL);
        s = image_boxes(p, Q, b->post_sigmoid, ti, tbox, num_boxes, &w, &acc, d_boxes ? d_boxes + (size_t)i * Q * 4 : NULL, i);
    }
    if (!s) {
        out->ce = acc.ce_num / W, out->l1 = acc.l1 / num_boxes, out->giou = acc.giou / num_boxes;
        out->total = p->ce_weight * out->ce + p->l1_weight * out->l1 + p->giou_weight * out->giou;
        out->num_boxes = num_boxes;
    }
    image_work_free(&w);
    if (!match) free(tgt);
    return s;
}
