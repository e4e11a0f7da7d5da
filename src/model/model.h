/* The loaded model behind the public vitc_model handle. */
#ifndef VT_MODEL_H
#define VT_MODEL_H

#include "vitc.h"
#include <stdatomic.h>
#include "core/arena.h"
#include "formats/safetensors.h"
#include "kernels/bf16.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "model/weights.h"

/* Linear weights packed once for the GEMM micro-kernel (inference only). In bf16 mode the blocks'
 * Linear layers are packed for the bfloat16 GEMM instead (the *16 members; the float ones NULL);
 * the patch embedding and the heads stay float. */
typedef struct vt_block_packed {
    vt_packed_b *qkv, *proj, *fc1, *fc2;
    vt_bf16_linear_w *qkv16, *proj16, *fc116, *fc216;
    vt_q8_linear_w *q8[4]; /* int8 mode: qkv, proj, fc1, fc2 (the float and bf16 ones NULL) */
} vt_block_packed;

/* A block Linear weight as a quantized file stores it (pointers into the mapping). */
typedef struct vt_q8_src {
    const int8_t *q;     /* out x in */
    const float *scale;  /* out */
    float in_scale;      /* static scale, 0 when dynamic */
} vt_q8_src;
enum { VT_Q8_QKV, VT_Q8_PROJ, VT_Q8_FC1, VT_Q8_FC2 };
typedef struct vt_model_packed {
    vt_packed_b *patch, *head, *head_dist;
    vt_block_packed *blocks;
    vt_packed_b *seg_head, *dec_proj, *proj_patch, *proj_classes; /* segmentation decoders */
    vt_block_packed *dec_blocks;                                  /* mask transformer (float in bf16 mode) */
    vt_packed_b *det_class[3], *det_box[3];                       /* detection heads */
} vt_model_packed;

struct vitc_model {
    vt_vit_config cfg;
    vt_vit_weights w;
    vitc_preprocess_params pre;
    char source[8];          /* "vitc", "timm", "hf" */
    char **labels;           /* num_classes entries or NULL */
    int n_labels;
    vt_safetensors *st;      /* keeps the mapping alive: weights point into it */
    void **owned;            /* converted / concatenated tensors */
    int n_owned;
    float *param_buf;        /* all parameters in one buffer (models made in memory, training) */
    int threads;
    int bf16;                /* block products in bfloat16 (vitc_model_set_bf16) */
    int int8_attn;           /* int8 models: attention's Q.K^T and P.V in int8 too */
    int int8;                /* 0 float, 1 int8 dynamic, 2 int8 static (vitc_model_set_int8, quantized files) */
    vt_q8_src *q8src;        /* depth x 4: a quantized file's block weights (their float slots are NULL) */
    float *calib;            /* depth x 4: max |input| of each block Linear seen by vitc_model_calibrate */
    int calibrating;         /* the forward pass records into calib */
    atomic_int q8_failed;    /* an int8 product ran out of memory during the last forward pass */
    vt_arena arena;          /* activations of the forward pass */
    vt_arena *img_arenas;    /* one per thread for whole-image forward passes (vit.c) */
    int n_img_arenas;
    float *pos_cache;        /* position embeddings resampled for pos_gh x pos_gw */
    float *rel_bias;         /* BEiT: every block's heads x T x T bias for rel_gh x rel_gw (vt_model_rel_bias) */
    int pos_gh, pos_gw;
    int rel_gh, rel_gw;
    vt_model_packed packed;  /* built on first use; dropped by vt_model_weights_changed */
    int is_packed;
};

/* Everything a forward pass can hand back; NULL members are not computed/copied. */
typedef struct vt_forward_out {
    float *logits;   /* n x num_classes */
    float *features; /* n x dim: pooled (and normalized) features, the head's input */
    float *tokens;   /* n x T x dim: the final normalized tokens (norm, or the raw stream with fc_norm) */
    float *blocks;   /* depth x n x T x dim: residual stream after each block */
    float *attn;     /* n x heads x T x T: attention probabilities of the last block */
    float *attn_blocks; /* depth x n x heads x T x T: every block's attention probabilities */
    float *seg;      /* n x classes x gh x gw: a segmentation model's per-patch class scores */
    float *det_logits; /* n x det_tokens x (classes + 1): a detection model's class scores ("no object" last) */
    float *det_boxes;  /* n x det_tokens x 4: normalized (cx, cy, w, h), after the sigmoid */
    float *embeds;     /* n x proj_dim: the projected image embedding (CLIP's image_embeds); models with a projection */
    float *cls_mean;   /* n x 2 dim: [class token, mean of the patch tokens] of the final tokens (DINOv2's linear
                          probe); models with a class token */
} vt_forward_out;

vitc_status vt_vit_forward(vitc_model *m, const float *images, int n, int height, int width, vt_forward_out *out);

/* HF's post_process_object_detection for one image's Q tokens (C = classes + 1 scores each): softmax,
 * the best real class, tokens scoring above threshold written to out in token order with corners
 * mapped x = u * map[0] + map[1], y = v * map[2] + map[3]. Returns the number written (<= Q). */
int vt_detect_postprocess(const float *logits, const float *boxes, int Q, int C, float threshold, const double map[4],
                          vitc_detection *out);

/* Packs every linear weight for the GEMM kernels (idempotent). Returns 0, or -1 out of memory. */
int vt_model_pack(vitc_model *m);
/* Call after changing parameters in place (training): drops packed copies and caches. */
void vt_model_weights_changed(vitc_model *m);

/* VITC_OK, or VITC_ERR_UNSUPPORTED when the model came from a quantized file (no float block
 * weights: training, averaging and saving need the float model). */
vitc_status vt_model_need_float(const vitc_model *m, const char *what);

/* Creates a model with zeroed parameters in one owned buffer (tests, training from scratch). */
vitc_status vt_model_new(const vt_vit_config *cfg, vitc_model **out);
/* Position embeddings for a gh x gw patch grid (resampled and cached when it differs). */
/* BEiT: fills m->rel_bias (depth x heads x T x T, T = 1 + gh gw, from each block's table and BEiT's
 * relative position index) unless it is there for gh x gw; -1: out of memory. At a grid other than
 * the trained one each table is first resampled (vt_rel_table_resample). */
int vt_model_rel_bias(vitc_model *m, int gh, int gw);
/* BEiT's table (vt_rel_pos_rows(trained grid) x heads) for a gh x gw grid (vt_rel_pos_rows(gh, gw) x
 * heads), the three class-token rows kept: pos_interp VT_POS_TORCH as HF's BeitRelativePositionBias
 * (the (2 g - 1)^2 offsets as an image, F.interpolate bilinear, align_corners=False), VT_POS_TIMM as
 * timm's resize_rel_pos_bias_table when a checkpoint is loaded at another size (the trained offsets
 * placed on a geometric progression reaching the new grid's, then linear interpolation, clamped at
 * the ends). Returns 0, or -1 out of memory. */
int vt_rel_table_resample(const vt_vit_config *c, const float *table, int gh, int gw, float *out);
/* One block's bias (heads x T x T, T = 1 + the trained grid) from its table (rows x heads), and the
 * table's gradient from the bias's: dtable[index(i, j)][h] += dfull[h][i][j]. */
void vt_rel_bias_expand(const vt_vit_config *c, const float *table, float *out);
void vt_rel_bias_grad(const vt_vit_config *c, const float *dfull, float *dtable);
const float *vt_model_pos_embed(vitc_model *m, int gh, int gw);
/* YOLOS' mid position embeddings for gh x gw: (depth - 1) tables of the position embeddings' layout,
 * or NULL when the model has none (or out of memory). */
const float *vt_model_mid_pos_embed(vitc_model *m, int gh, int gw);
/* timm-style random initialization (seeded, platform independent). layer_scale_init: gamma values. */
void vt_model_init_random(vitc_model *m, uint64_t seed, float layer_scale_init);
/* Writes the model as a vitc safetensors file (timm names, config/preprocess/labels metadata). */
vitc_status vt_model_save(const vitc_model *m, const char *path);
/* Whether two models name their classes alike, in the same order (a model without labels agrees
 * with any): ensembles and teachers must. */
int vt_model_labels_agree(const vitc_model *a, const vitc_model *b);
/* The same file with extra tensors (e.g. optimizer state) and extra metadata key/values. */
vitc_status vt_model_save_ex(const vitc_model *m, const char *path, const vt_st_write_tensor *extra, int n_extra,
                             const char *const *meta_keys, const char *const *meta_values, int n_meta);

/* A segmentation model's per-patch scores (classes x gs x gs at the model's input size) mapped back
 * onto an orig_w x orig_h image through the preprocessing geometry: scores (classes x orig_h x
 * orig_w, may be NULL), arg max mask (may be NULL). */
vitc_status vt_segment_map_back(const vitc_model *m, const float *grid, int orig_w, int orig_h, float *scores,
                                uint8_t *mask);

#endif
