/* COCO detection scores exactly as pycocotools' COCOeval (iouType 'bbox', area range 'all',
 * maxDets 100, every ground truth iscrowd 0) computes them: per image and class, detections
 * sorted by score (stable) and cut to the best 100, matched greedily at each IoU threshold
 * .50:.05:.95 (each to the unmatched ground truth of highest IoU >= the threshold, the last
 * one among equals, as pycocotools); per class over all images, detections sorted by score
 * (stable: image order, then the image's own order), precision and recall from the running
 * true and false positives, precision made non-increasing from the right and read at the 101
 * recall thresholds 0:.01:1 (the first detection reaching each, 0 past the last). AP of a
 * class: the mean over the 10 thresholds and 101 recall points; classes without ground truth
 * are left out of the means (pycocotools' -1).
 *
 * Boxes are [x0, y0, x1, y1] in pixels with x1, y1 exclusive (SCENES.md); pycocotools'
 * [x, y, w, h] is [x0, y0, x1 - x0, y1 - y0] and its IoU uses w * h areas, which is what is
 * computed here (in doubles, from w = x1 - x0 as pycocotools would get it). Images are
 * numbered in the order they are added: add them in ascending image id to reproduce
 * pycocotools' order among equal scores. Streams: only the detections' scores and matches
 * are kept, not the boxes. */
#ifndef VT_DET_EVAL_H
#define VT_DET_EVAL_H

#include "vitc.h"

enum {
    VT_DET_IOU_THRESHOLDS = 10, /* .50, .55, ..., .95 */
    VT_DET_RECALL_POINTS = 101, /* 0, .01, ..., 1 */
    VT_DET_MAX_DETS = 100       /* per image and class, as pycocotools' evaluateImg */
};

typedef struct vt_det_eval vt_det_eval;

/* An empty accumulator for classes 0..num_classes-1. */
vitc_status vt_det_eval_create(int num_classes, vt_det_eval **out);
void vt_det_eval_free(vt_det_eval *e);

/* Adds one image: n_det detections (boxes n_det x 4 xyxy, scores, classes) and n_gt ground
 * truth boxes (n_gt x 4 xyxy, classes). Arrays may be NULL when their count is 0. VITC_ERR_ARG
 * with a one-line message (the accumulator unchanged) for a negative count, a non-finite box
 * or score, x1 < x0 or y1 < y0, or a class outside 0..num_classes-1; VITC_ERR_NOMEM. */
vitc_status vt_det_eval_add(vt_det_eval *e, int n_det, const float *det_boxes, const float *det_scores,
                            const int *det_classes, int n_gt, const float *gt_boxes, const int *gt_classes);

typedef struct vt_det_scores {
    double map;          /* mAP@[.5:.95]: the mean AP over the classes with ground truth; -1 if none */
    double map50, map75; /* the same at IoU 0.5 and 0.75 alone */
    int classes_present; /* classes with ground truth (those in the means) */
    int images;          /* images added */
} vt_det_scores;

/* The scores so far (the accumulator may take more images after). ap and ap50 (num_classes
 * each, may be NULL): per class AP@[.5:.95] and AP@0.5, -1 for a class without ground truth. */
vitc_status vt_det_eval_scores(const vt_det_eval *e, vt_det_scores *out, double *ap, double *ap50);

/* IoU of two [x0, y0, x1, y1) boxes the pycocotools way (0 unless both overlaps are > 0). */
double vt_det_iou(const float *a, const float *b);

#endif
