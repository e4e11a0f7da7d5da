/* Knowledge distillation (DeiT): one or more trained models, the teachers, label each training
 * batch as augmented; the student learns those labels beside the dataset's. Students with a
 * distillation token learn them in their distillation head; others learn a blend of the two. */
#ifndef VT_DISTILL_H
#define VT_DISTILL_H

#include "model/model.h"
#include "train/data.h"

typedef enum { VT_DISTILL_SOFT = 0, VT_DISTILL_HARD = 1 } vt_distill_kind;

typedef struct vt_teachers {
    vitc_model **models;
    int n;
    char *paths;    /* the teachers' files, absolute, separated by commas */
    vt_distill_kind kind;
    int classes;
    float *images;  /* scratch: the batch renormalized for a teacher */
    float *logits;  /* scratch: a teacher's logits */
    double *acc;    /* scratch: the teachers' summed probabilities */
    int cap;        /* the scratch's batch capacity */
} vt_teachers;

/* Loads the teachers in list (model files separated by commas). Each must classify into the
 * student's classes (the same labels, in the same order, when both have labels) from as many
 * input channels. Their forward passes use threads threads. */
vitc_status vt_teachers_open(vt_teachers *tc, const char *list, const vitc_model *student, int threads,
                             vt_distill_kind kind);
void vt_teachers_free(vt_teachers *tc);

/* The teachers' labels for n images (chans x h x w, normalized with mean / std: the student's
 * preprocessing; each teacher sees them renormalized with its own): the mean of their class
 * probabilities (soft), or the one-hot of that mean's arg max (hard). out: n x classes. */
vitc_status vt_teachers_targets(vt_teachers *tc, const float *images, int n, int chans, int h, int w,
                                const float mean[3], const float std[3], float *out);

/* Offline teaching: the teachers' labels of every image of d as it is, without augmentation
 * (normalized with mean / std, the student's; batches of 256). out: d->n x classes. */
vitc_status vt_teachers_label_dataset(vt_teachers *tc, const vt_dataset *d, int chans, const float mean[3],
                                      const float std[3], float *out);
/* A batch's teacher rows from those labels (labels: dataset images x classes): row i is
 * labels[idx[i]], or for a mixed batch lam labels[idx[i]] + (1 - lam) labels[idx[n-1-i]], the
 * partner and share vt_mix_batch used. */
void vt_teachers_rows(const float *labels, const int *idx, int n, int classes, int mixed, double lam, float *out);

/* Smoothed one-hot rows: q_i = (1 - eps) onehot(labels[i]) + eps / classes. */
void vt_onehot_smooth(float *q, const int *labels, int n, int classes, float eps);
/* A student without a distillation head learns (1 - alpha) q + alpha teacher (in place in q):
 * its cross-entropy is (1 - alpha) CE(q) + alpha CE(teacher). */
void vt_distill_blend(float *q, const float *teacher, int n, int classes, float alpha);

#endif
