/* Scoring a detection model on a scene folder: every scene through vitc_model_detect (all of the
 * model's detection tokens kept, each with its best class and score), added to a COCO accumulator
 * (det_eval.h) with the scene's ground-truth boxes. */
#ifndef VT_DET_SCENE_EVAL_H
#define VT_DET_SCENE_EVAL_H

#include "model/model.h"
#include "train/det_eval.h"
#include "train/scenes.h"

/* Adds the scenes of s to acc (created for the model's classes). The scenes' categories (their
 * classes minus the background) must fit the model's classes. */
vitc_status vt_det_evaluate(vitc_model *m, const vt_scenes *s, vt_det_eval *acc);

/* The two halves of vt_det_evaluate, so that processes can share the scenes: the predictions
 * of scenes [lo, hi) of s as records of vt_det_record_floats(m) floats each (the count n, then n
 * times x0, y0, x1, y1, score, label) written to out, and those of every scene of s, in scene
 * order, added to acc with the scenes' ground truth. */
int64_t vt_det_record_floats(const vitc_model *m);
vitc_status vt_det_predict_scenes(vitc_model *m, const vt_scenes *s, int lo, int hi, float *out);
vitc_status vt_det_add_records(const vitc_model *m, const vt_scenes *s, const float *records, vt_det_eval *acc);

/* Ground truth of scene i of s as det_eval takes it: n boxes [x0, y0, x1, y1) and categories,
 * written into boxes (4 x cap) and classes (cap); returns the number (at most cap). */
int vt_scene_targets(const vt_scenes *s, int i, float *boxes, int *classes, int cap);

#endif
