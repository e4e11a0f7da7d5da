/* What the task heads' training code (train_seg.c, later detection) shares with the trainer:
 * the backbone's forward and backward and the gradient of its final tokens. */
#ifndef VT_TRAIN_INTERNAL_H
#define VT_TRAIN_INTERNAL_H

#include "train/train.h"
#include "train/train_ops.h"

/* Lays the activations out for a batch of n (when it grew) and sets the thread count. */
vitc_status vt_trainer_prepare(vt_trainer *t, int n);
/* The backbone's forward pass (activations kept): the final tokens, n x T x dim. */
const float *vt_trainer_backbone_forward(vt_trainer *t, const float *images, int n);
/* Zeroes every gradient and returns the (zeroed) buffer for d loss / d final tokens (n x T x dim)
 * that vt_trainer_backbone_backward reads. */
float *vt_trainer_token_grad(vt_trainer *t, int n);
/* The backbone's backward pass from the token gradient; parameter gradients accumulate. */
void vt_trainer_backbone_backward(vt_trainer *t, int n);

/* Points the fused block's weights and gradient slots at a block's (qkv bias when qkv_bias). */
void vt_tr_block_bind(vt_tr_block *p, const vt_block_w *bw, vt_block_w *gw, int qkv_bias);

/* The segmentation head's activations (train_seg.c), freed with the trainer. */
void vt_seg_acts_free(struct vt_seg_acts *s);
/* The detection heads' activations (train_det.c), freed with the trainer. */
void vt_det_acts_free(struct vt_det_acts *s);

/* SigLIP's attention-pooling head in training (train_map.c): activations kept by the forward for
 * the backward, grown for batches of up to n images of T tokens. */
typedef struct vt_map_acts vt_map_acts;
vitc_status vt_map_acts_ensure(vt_map_acts **a, const vt_vit_config *c, int n, int T);
void vt_map_acts_free(vt_map_acts *a);
/* pooled (n x dim) from the final tokens xn (n x T x dim). */
void vt_map_forward(vt_map_acts *a, const vt_vit_config *c, const vt_vit_weights *w, const float *xn, int n, int T,
                    float *pooled);
/* From d loss / d pooled: the head's parameter gradients added to g, d loss / d xn added to dxn. */
void vt_map_backward(vt_map_acts *a, const vt_vit_config *c, const vt_vit_weights *w, vt_vit_weights *g,
                     const float *xn, const float *dpooled, int n, int T, float *dxn);

#endif
