/* Scoring a segmentation model on a scene folder: the confusion matrix over all pixels of all
 * scenes (the scores mapped back onto each scene through the model's preprocessing), and the
 * figures taken from it. */
#ifndef VT_SEG_EVAL_H
#define VT_SEG_EVAL_H

#include "model/model.h"
#include "train/scenes.h"

/* conf (C x C, C = the model's classes; row: truth, column: prediction) += the scenes' pixels;
 * pixels marked 255 are left out. The scenes' classes must fit the model's. */
vitc_status vt_seg_evaluate(vitc_model *m, const vt_scenes *s, int batch, int64_t *conf);
/* The same for scenes [lo, hi) of s only (processes sharing the scenes). */
vitc_status vt_seg_evaluate_range(vitc_model *m, const vt_scenes *s, int lo, int hi, int batch, int64_t *conf);

typedef struct vt_seg_scores {
    double miou;          /* mean IoU over the classes that occur (in truth or prediction) */
    double pixel_acc;     /* correct pixels / counted pixels */
    int classes_present;  /* classes in the mean */
} vt_seg_scores;

/* iou (C, may be NULL): per class TP / (TP + FP + FN), NaN for a class absent from both. */
vt_seg_scores vt_seg_scores_of(const int64_t *conf, int C, double *iou);

#endif
