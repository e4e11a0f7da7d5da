/* Training: a forward pass that keeps every activation the backward pass needs (in one arena),
 * the matching backward pass into a gradient buffer laid out like the parameters, softmax
 * cross-entropy with label smoothing, AdamW with decoupled weight decay, linear warm-up + cosine
 * schedule, gradient-norm clipping, and checkpoints (a normal vitc model file plus the optimizer
 * state and the step) that resume exactly. */
#ifndef VT_TRAIN_H
#define VT_TRAIN_H

#include "model/model.h"
#include <stdint.h>

typedef struct vt_train_hparams {
    float lr, min_lr;        /* peak and final learning rate */
    float weight_decay;      /* decoupled (AdamW), not applied to no_decay parameters */
    float beta1, beta2, eps; /* Adam */
    float clip;              /* max global gradient L2 norm (0: no clipping) */
    float label_smoothing;
    float ema_decay;         /* exponential moving average of the weights (0: none) */
    float drop_path;         /* stochastic depth: the last block's rate, rising linearly from 0 at block 0 */
    float layer_decay;       /* layer-wise learning-rate decay (fine-tuning; 0 or 1: none): see vt_train_lr_scale */
    float sam_rho;           /* sharpness-aware minimization radius (0: plain steps): see vt_trainer_sam_ascend */
    uint64_t seed;           /* drop-path masks depend on (seed, step, block, branch, image) only;
                              * checkpoints keep it as a signed integer (exact below 2^53) */
    int64_t warmup_steps, total_steps;
} vt_train_hparams;

vt_train_hparams vt_train_default_hparams(void);
/* The learning-rate factor of parameter `name` under layer-wise decay d (BEiT / MAE fine-tuning, timm's
 * param_groups_layer_decay): d^(depth + 1 - layer), where layer is 0 for the stem (patch embedding,
 * tokens, position embeddings, norm_pre), i + 1 for blocks.i, and depth + 1 for the rest (final
 * norm / fc_norm and heads, factor 1). Weight decay follows the scaled rate, as with PyTorch's
 * per-group learning rates. d <= 0 or d >= 1: 1. */
float vt_train_lr_scale(const char *name, int depth, float d);
/* Learning rate of the update with 0-based index step: linear warm-up from lr/warmup to lr over
 * warmup_steps updates, then cosine decay to min_lr at total_steps. */
float vt_train_lr(const vt_train_hparams *hp, int64_t step);

typedef struct vt_train_acts vt_train_acts;
struct vt_seg_acts;
struct vt_det_acts;

typedef struct vt_trainer {
    vitc_model *m;           /* owned; parameters in m->param_buf */
    vt_vit_weights g;        /* gradient slots (same layout as the parameters) */
    float *grad, *adam_m, *adam_v;
    float *ema;              /* the weights' moving average (hp.ema_decay > 0), else NULL */
    float *sam_w;            /* SAM: the weights before the ascent step (allocated on first use) */
    double *norm_parts;      /* per-block sums of squares for the gradient norm */
    int64_t numel;           /* floats in each of the buffers above (with alignment padding) */
    vt_param *params;        /* the parameter table (slots in m->w) */
    int64_t *offsets;        /* each parameter's offset in the buffers */
    int n_params;
    int64_t step;            /* optimizer updates done */
    vt_train_hparams hp;
    int threads;
    float last_lr, last_grad_norm;
    vt_arena arena;
    int cap_batch;           /* batch the arena is laid out for */
    vt_train_acts *acts;
    struct vt_seg_acts *seg; /* the segmentation head's activations (task segment) */
    struct vt_det_acts *det; /* the detection heads' activations (task detect) */
    struct vt_map_acts *map; /* SigLIP's attention-pooling head's activations */
    /* data-parallel shards (vitc-mpi): this process trains images image_offset.. of each global
     * batch, so drop-path masks follow the image's index in the global batch; the detection loss
     * normalizes by the global batch's images and boxes when these are > 0 (0: this batch's) */
    int image_offset;
    int det_norm_images, det_norm_boxes;
    /* called by the backward pass as soon as a block's parameter gradients are final (blocks last
     * to first): [lo, hi) of grad, so that their all-reduce overlaps the rest of the backward pass
     * (vt_trainer_on_grad_ready); NULL: not called */
    void (*grad_ready)(void *ctx, int64_t lo, int64_t hi);
    void *grad_ready_ctx;
    int64_t *block_span;     /* per block: its gradients' [lo, hi) in grad; lo = hi = 0 when not contiguous */
} vt_trainer;

/* Takes ownership of m, which must hold its parameters in m->param_buf (vt_model_new). */
vitc_status vt_trainer_new(vitc_model *m, const vt_train_hparams *hp, int threads, vt_trainer **out);
void vt_trainer_free(vt_trainer *t);
/* fn(ctx, lo, hi) is called during every backward pass when a backbone block's gradients
 * grad[lo, hi) are final for the step (the ranges of different blocks do not overlap and are
 * 64-byte aligned); fn = NULL stops it. The gradients outside these ranges are final only when the
 * forward_backward call returns. */
void vt_trainer_on_grad_ready(vt_trainer *t, void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx);

/* Zeroes the gradients, runs n images (n x in_chans x img x img floats) forward and backward.
 * Returns the mean loss in *loss; logits (n x classes, may be NULL) receive the model's output. */
vitc_status vt_trainer_forward_backward(vt_trainer *t, const float *images, const int *labels, int n, double *loss,
                                        float *logits);
/* The same against soft targets (n x classes rows summing to 1, e.g. from vt_mix_batch; label
 * smoothing is then part of the targets, hp.label_smoothing is not applied). */
vitc_status vt_trainer_forward_backward_soft(vt_trainer *t, const float *images, const float *targets, int n,
                                             double *loss, float *logits);
/* DeiT distillation (models with a distillation token and head): the class head learns labels (with
 * label smoothing) or soft targets (exactly one of the two given), the distillation head learns
 * dist_targets (n x classes, e.g. a teacher's probabilities); the loss is the mean of the two heads'
 * cross-entropies. logits receive the two heads' average, the model's output at inference. */
vitc_status vt_trainer_forward_backward_deit(vt_trainer *t, const float *images, const int *labels,
                                             const float *targets, const float *dist_targets, int n, double *loss,
                                             float *logits);
/* Semantic segmentation (task segment): masks holds n x img x img class indices (255: ignored).
 * The head's per-patch scores are upsampled bilinearly (align_corners=False) to the image and the
 * loss is the per-pixel softmax cross-entropy (with the run's label smoothing), averaged over the
 * pixels that are not ignored (0 when all are). seg_logits (n x classes x img x img, may be NULL)
 * receive the upsampled scores. */
vitc_status vt_trainer_forward_backward_seg(vt_trainer *t, const float *images, const uint8_t *masks, int n,
                                            double *loss, float *seg_logits);
/* Detection (task detect, YOLOS): n_targets[b] objects per image, their classes (0..classes-1) and
 * normalized (cx, cy, w, h) boxes concatenated image after image; the DETR set loss (detr_loss.h:
 * Hungarian matching, cross-entropy with "no object" down-weighted, L1, GIoU) in *losses (may be
 * NULL). logits_out (n x tokens x (classes + 1)) and boxes_out (n x tokens x 4, after the sigmoid)
 * may be NULL. */
struct vt_detr_losses;
vitc_status vt_trainer_forward_backward_det(vt_trainer *t, const float *images, int n, const int *n_targets,
                                            const int *target_class, const float *target_box,
                                            struct vt_detr_losses *losses, float *logits_out, float *boxes_out);
/* Per-pixel softmax cross-entropy over n images of C planes of P pixels, labels 0..C-1 or 255
 * (ignored), targets (1 - eps) one-hot + eps / C. Returns the mean over the counted pixels (0 when
 * none; *counted gets their number); dlogits (may be NULL) = d(mean loss)/dlogits. */
double vt_seg_xent_forward_backward(float *dlogits, const float *logits, const uint8_t *labels, int n, int C,
                                    size_t P, float eps, int64_t *counted);

/* The drop-path factor of image b in block l's branch (0: attention, 1: MLP) at this step: 0 when
 * the branch is dropped, else 1 / (1 - rate_l) with rate_l = drop_path * l / (depth - 1). */
float vt_train_drop_scale(const vt_train_hparams *hp, int depth, int64_t step, int l, int branch, int b);
/* Global L2 norm of the gradients. */
double vt_trainer_grad_norm(const vt_trainer *t);
/* Clips the gradients, applies one AdamW update with the scheduled learning rate, step++, then
 * moves the EMA towards the new weights. */
void vt_trainer_update(vt_trainer *t);
/* SAM (sharpness-aware minimization, Foret et al. 2021): with the gradients g of a batch in t->grad,
 * keeps the weights w and moves them to w + rho g / |g| (|g| the global L2 norm, unclipped). The
 * caller then runs the same batch forward and backward again and calls vt_trainer_sam_descend,
 * which puts w back exactly; vt_trainer_update then steps with the gradients of the perturbed
 * weights. Twice the compute per step. */
vitc_status vt_trainer_sam_ascend(vt_trainer *t, float rho);
void vt_trainer_sam_descend(vt_trainer *t);
/* Starts (or restarts) the weights' EMA from the current weights with this decay (0 < decay < 1). */
vitc_status vt_trainer_start_ema(vt_trainer *t, float decay);
/* The decay used by the update that makes t->step equal to step: min(decay, (1 + step) / (10 +
 * step)), so that the average follows the weights closely over the first updates. */
float vt_train_ema_decay(float decay, int64_t step);
/* Exchanges the weights and their EMA (call twice to undo): evaluation and saving use the EMA. */
void vt_trainer_swap_ema(vt_trainer *t);

/* A checkpoint: the model file plus optim.exp_avg.* / optim.exp_avg_sq.* (and optim.ema.*) tensors and metadata
 * "vitc.train" = {"step":..,"hparams":{..}, ...extra_json members}. extra_json (may be NULL) is
 * the text of extra members, e.g. "\"epoch\":3,\"seed\":1". Atomic (temporary file + rename). */
vitc_status vt_trainer_save(const vt_trainer *t, const char *path, const char *extra_json);
/* Loads a checkpoint written by vt_trainer_save: parameters, moments, step, hyperparameters.
 * *train_json (malloc'ed, may be NULL) receives the "vitc.train" text for the caller's members. */
vitc_status vt_trainer_resume(const char *path, int threads, vt_trainer **out, char **train_json);

/* A writable copy of src adapted to cfg (num_classes, img_size may differ from src's): matching
 * parameters copied, position embeddings resampled to the new grid, a head for a different
 * number of classes initialized afresh (seeded). Labels and preprocessing copied when they fit. */
vitc_status vt_model_adapt(vitc_model *src, const vt_vit_config *cfg, uint64_t seed, vitc_model **out);

/* Checkpoint averaging (a "model soup"): *out (new, writable) holds the element-wise mean of the n
 * models' parameters, with models[0]'s preprocessing and labels. The models must share the
 * architecture (vt_config_same_arch) and name their classes alike. */
vitc_status vt_models_average(vitc_model *const *models, int n, vitc_model **out);

#endif
