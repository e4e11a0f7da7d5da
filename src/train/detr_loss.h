/* The set prediction loss of DETR / YOLOS for detection tokens, as Hugging Face's YolosLoss
 * computes it: a Hungarian matching of queries (detection tokens) to targets on the DETR cost,
 * then weighted cross-entropy over all queries (the "no object" class down-weighted) plus L1
 * and GIoU box losses over the matched pairs, with their gradients. Self-contained: plain
 * arrays in and out, no dependency on the model.
 *
 * Conventions: boxes are normalized (0..1 of the image) centre x, centre y, width, height
 * (cxcywh); GIoU takes them to corners x0 = cx - w/2, x1 = cx + w/2 (same for y). A query's
 * logits have C + 1 entries, the last (index C) is "no object". */
#ifndef VT_DETR_LOSS_H
#define VT_DETR_LOSS_H

#include "vitc.h"

/* The weights of the matching cost and of the loss (defaults: vt_detr_params_default). */
typedef struct vt_detr_params {
    double class_cost, bbox_cost, giou_cost; /* matching: 1, 5, 2 (HF YolosConfig) */
    double ce_weight, l1_weight, giou_weight; /* total = 1 ce + 5 l1 + 2 giou */
    double eos_coef;                          /* cross-entropy weight of "no object": 0.1 */
} vt_detr_params;

vt_detr_params vt_detr_params_default(void);

/* One batch of predictions and targets. */
typedef struct vt_detr_batch {
    int B, Q, C;              /* images, queries per image, object classes (logits: C + 1) */
    const float *logits;      /* B x Q x (C + 1) class logits */
    const float *boxes;       /* B x Q x 4 predicted cxcywh: the box head's raw outputs before the
                               * sigmoid (post_sigmoid 0), or the boxes themselves (post_sigmoid 1) */
    int post_sigmoid;
    const int *n_targets;     /* B: targets of each image (0..Q) */
    const int *target_class;  /* sum(n_targets), image after image: 0..C-1 */
    const float *target_box;  /* sum(n_targets) x 4 normalized cxcywh, w and h >= 0 */
    int norm_B, norm_n;       /* norm_B > 0: normalize as a part of a batch of norm_B images holding norm_n
                               * targets in all (data-parallel shards: the parts' losses and gradients
                               * add up to the whole batch's); 0: this batch */
} vt_detr_batch;

typedef struct vt_detr_losses {
    double ce;         /* sum_i w_i ce_i / sum_i w_i over all B x Q queries (w: 1, eos_coef for no object) */
    double l1;         /* sum over matched pairs of |box - target| (4 coordinates) / num_boxes */
    double giou;       /* sum over matched pairs of 1 - GIoU / num_boxes */
    double total;      /* ce_weight ce + l1_weight l1 + giou_weight giou */
    double num_boxes;  /* targets in the batch, at least 1 (HF's normalizer, one process) */
} vt_detr_losses;

/* The losses of a batch and, when the pointers are not NULL, d(total)/d(logits) (B x Q x (C+1)),
 * d(total)/d(boxes) (B x Q x 4, with respect to what b->boxes holds: the raw outputs, or the
 * boxes with post_sigmoid) and the matching (B x Q: each query's target index within its image,
 * -1 for "no object"). The matching is constant (no gradient flows through it), as in HF.
 * VITC_ERR_ARG (one-line message) for bad sizes, more targets than queries, non-finite
 * numbers, a class outside 0..C-1, negative target sizes (or predicted ones with post_sigmoid)
 * or a matched pair whose boxes have no area at all; VITC_ERR_NOMEM. */
vitc_status vt_detr_loss(const vt_detr_params *p, const vt_detr_batch *b, vt_detr_losses *out, float *d_logits,
                         float *d_boxes, int *match);

/* The matching of one image alone: cost (Q x n, may be NULL) the DETR cost
 *   class_cost * -softmax(logits)[class] + bbox_cost * L1(cxcywh) + giou_cost * -GIoU(xyxy)
 * and target_of_query (Q) the Hungarian assignment on it. Inputs as vt_detr_batch with B = 1. */
vitc_status vt_detr_match(const vt_detr_params *p, int Q, int C, const float *logits, const float *boxes,
                          int post_sigmoid, int n, const int *target_class, const float *target_box, double *cost,
                          int *target_of_query);

/* GIoU of two corner boxes [x0, y0, x1, y1] (x1 >= x0, y1 >= y0; union > 0) and, when grad_a is
 * not NULL, its gradient with respect to a's corners (ties split as torch's maximum/minimum do,
 * the clamp at 0 letting the gradient through at 0 as torch's clamp does). */
double vt_giou_xyxy(const double *a, const double *b, double *grad_a);

#endif
