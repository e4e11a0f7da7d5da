/* Training data: MNIST / Fashion-MNIST IDX files (gzipped or not) and image folders (one
 * sub-folder per class), held in memory as 8-bit images; seeded shuffling and augmentation that
 * depend only on (seed, epoch, index), so a resumed run sees the same batches; a loader thread
 * that prepares the next batch while the current one trains. */
#ifndef VT_DATA_H
#define VT_DATA_H

#include "vitc.h"
#include <pthread.h>
#include <stdint.h>

typedef struct vt_dataset {
    char name[64];      /* "fashion-mnist", "mnist", or the folder's name */
    int n, c, h, w;     /* images: n x c x h x w bytes (c = 1 gray or 3 RGB) */
    uint8_t *pixels;
    int *labels;
    int num_classes;
    char **class_names; /* num_classes names */
    float mean[3], std[3]; /* normalization the dataset is trained with */
    int hflip;          /* horizontal flips make sense (not for digits) */
    int is_folder;      /* an image folder (natural images: random-resized crops by default) */
} vt_dataset;

typedef enum { VT_SPLIT_TRAIN, VT_SPLIT_VAL, VT_SPLIT_TEST } vt_data_split;

/* spec: "mnist", "fashion-mnist", a directory with the four IDX files, or an image folder.
 * val_frac is the fraction of the training images held out for validation, chosen by a hash (of
 * the file name in a folder, of the index in an IDX file), the same for every seed and run: TRAIN
 * is the rest, VAL the held-out part. A folder needs val_frac in (0, 1) and has no other split
 * (TEST is VAL); for IDX data val_frac may be 0 (nothing held out, no VAL) and TEST is the
 * official test set. Folder images are resized (shorter side, center crop per pp) to pp->size;
 * IDX images are resized to size when it is not 0 and differs from 28. */
vitc_status vt_dataset_open(const char *spec, vt_data_split split, float val_frac, const vitc_preprocess_params *pp,
                            int size, vt_dataset *out);
void vt_dataset_free(vt_dataset *d);
/* spec names IDX data (mnist, fashion-mnist or a folder with the IDX files) rather than an image folder. */
int vt_dataset_is_idx(const char *spec);
/* The default validation fraction: 0.1 of an image folder, none of IDX data (they have a test set). */
float vt_dataset_default_val_frac(const char *spec);
/* Whether the file called name (relative to its folder) is in the held-out part of a fraction
 * val_frac: a hash of the name, the same on every run (image folders and scene folders). */
int vt_name_held_out(const char *name, float val_frac);
/* Keeps the first n images (n < d->n). */
void vt_dataset_truncate(vt_dataset *d, int n);

typedef struct vt_augment {
    int enabled;
    int pad;            /* random crop with this much zero padding */
    int hflip;          /* flip half of the images */
    float erase_p;      /* random erasing probability (area 2-25 %, aspect 0.3-3.3, filled with 0) */
    float rrc_scale;    /* > 0: random-resized crops instead of the padded crop: a rectangle of
                           rrc_scale..1 of the area, aspect 3/4..4/3, resized back (bilinear) */
} vt_augment;

/* The rectangle of a random-resized crop of an H x W image (torchvision's RandomResizedCrop: ten
 * tries at area U(min_scale, 1) x H W and log-uniform aspect 3/4..4/3, else the largest centered
 * rectangle within those aspects), drawn from the generator state *s. */
void vt_rrc_rect(uint64_t *s, int H, int W, float min_scale, int *y0, int *x0, int *h, int *w);

/* Writes images idx[0..n) as n x chans x h x w normalized floats (gray replicated when chans = 3)
 * and their labels. Augmentation draws from (seed, epoch, idx[i]) only. */
void vt_dataset_batch(const vt_dataset *d, const int *idx, int n, int chans, const float mean[3], const float std[3],
                      const vt_augment *aug, uint64_t seed, int epoch, float *images, int *labels);

/* The order of the images in an epoch: a seeded permutation of 0..n-1. */
void vt_epoch_order(int n, uint64_t seed, int epoch, int *order);

/* Mixup and CutMix, per batch as timm's "batch" mode does it: image i is mixed with image
 * n-1-i (the batch reversed), with one lam ~ Beta(alpha, alpha) for the whole batch. Mixup blends
 * the two images (lam x_i + (1 - lam) x_j); CutMix pastes a box of about (1 - lam) of the area from
 * x_j into x_i (lam is then recomputed from the clipped box). With both alphas set, each batch
 * takes one of the two with probability 1/2. */
typedef struct vt_mix {
    float mixup_alpha;  /* 0: no mixup */
    float cutmix_alpha; /* 0: no CutMix */
    float prob;         /* probability that a batch is mixed at all */
} vt_mix;

enum { VT_MIX_NONE = 0, VT_MIX_MIXUP = 1, VT_MIX_CUTMIX = 2 };

/* Mixes images (n x chans x h x w) in place and writes targets (n x classes): lam * s(y_i) +
 * (1 - lam) * s(y_{n-1-i}), s(y) = (1 - eps) onehot(y) + eps / classes. Draws from (seed,
 * batch_id) only. Returns VT_MIX_*; *lam_out (may be NULL) gets lam (1 when not mixed). */
int vt_mix_batch(float *images, const int *labels, int n, int chans, int h, int w, int classes, float eps,
                 const vt_mix *mx, uint64_t seed, int64_t batch_id, float *targets, double *lam_out);
/* A Beta(a, b) sample from the generator state *s (Marsaglia-Tsang gamma variates). */
double vt_sample_beta(uint64_t *s, double a, double b);

/* One batch prepared on a thread. */
typedef struct vt_prefetch {
    pthread_t thread;
    int running;
    const vt_dataset *d;
    const int *idx;
    int n, chans, epoch;
    float mean[3], std[3];
    vt_augment aug;
    uint64_t seed;
    float *images;
    int *labels;
    /* mixing (targets != NULL): vt_mix_batch with these after the batch is read */
    vt_mix mix;
    int classes;
    float smoothing;
    int64_t batch_id;
    float *targets;
    int mix_mode;       /* out: what vt_mix_batch did (VT_MIX_*) */
    double lam;         /* out: its lam (1 when not mixed) */
} vt_prefetch;
void vt_prefetch_start(vt_prefetch *p);
void vt_prefetch_wait(vt_prefetch *p);

/* Classifies every image of d with models[0..n_models) (each with its own preprocessing mean/std;
 * batches of batch) and adds to confusion[true * C + predicted] (C = the models' classes, which
 * must agree, as must channels and image size; dataset labels must be < C). Returns the mean
 * cross-entropy in *loss (may be NULL). label_map (may be NULL) maps dataset classes to the
 * models'. Several models (an ensemble) classify each image by the mean of their class
 * probabilities; tta_flip adds each image's mirror image as a second view to that mean
 * (test-time augmentation; only for data where flips make sense). */
vitc_status vt_evaluate(vitc_model *const *models, int n_models, const vt_dataset *d, int batch,
                        const int *label_map, int tta_flip, int64_t *confusion, double *loss);

#endif
