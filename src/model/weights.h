/* Parameters of a ViT, by role. Every parameter is also listed in a table of
 * (timm name, shape, pointer slot) so loading, saving, counting and training share one layout. */
#ifndef VT_WEIGHTS_H
#define VT_WEIGHTS_H

#include "model/config.h"
#include <stdint.h>

typedef struct vt_norm_w { float *w, *b; } vt_norm_w;
typedef struct vt_linear_w { float *w, *b; } vt_linear_w; /* w: out x in (PyTorch layout) */

typedef struct vt_block_w {
    vt_norm_w norm1, norm2;
    vt_linear_w qkv, proj, fc1, fc2;
    vt_norm_w q_norm, k_norm;
    float *ls1, *ls2;
    float *rel_bias;     /* BEiT: the relative position bias table (vt_rel_pos_rows x heads), or NULL */
} vt_block_w;

typedef struct vt_vit_weights {
    vt_linear_w patch;   /* w: dim x (in_chans * patch * patch), the conv weight flattened */
    vt_norm_w patch_norm;
    float *cls_token, *dist_token, *reg_token;
    float *pos_embed;    /* vt_pos_len x dim */
    vt_norm_w norm_pre;
    vt_block_w *blocks;  /* depth */
    vt_norm_w norm, fc_norm;
    vt_linear_w head, head_dist;
    /* segmentation decoder (task segment): Linear(dim, classes) per patch token ... */
    vt_linear_w seg_head;          /* decoder.head */
    /* ... or Segmenter's mask transformer: patch tokens projected to dec_dim, class embeddings
     * appended, dec_depth blocks, decoder_norm; patches and classes projected (Linear weights, no
     * bias: Segmenter's proj_patch / proj_classes parameters are their transposes), L2-normalized,
     * masks = patches . classes^T, then mask_norm over the classes */
    vt_linear_w dec_proj;          /* decoder.proj_dec */
    float *cls_emb;                /* decoder.cls_emb (1, classes, dec_dim) */
    vt_block_w *dec_blocks;        /* decoder.blocks.i (dec_depth) */
    vt_norm_w dec_norm;            /* decoder.decoder_norm */
    vt_linear_w proj_patch, proj_classes;
    vt_norm_w mask_norm;           /* decoder.mask_norm (classes) */
    /* detection (YOLOS) */
    float *det_token;              /* det_token (1, det_tokens, dim) */
    float *mid_pos_embed;          /* mid_pos_embed (depth - 1, 1, vt_pos_len, dim) */
    vt_linear_w det_class[3];      /* det_head.class.i: dim -> dim -> dim -> classes + 1, ReLU between */
    vt_linear_w det_box[3];        /* det_head.box.i: dim -> dim -> dim -> 4, sigmoid after */
    vt_linear_w embed_proj;        /* CLIP: embed_proj (proj_dim, dim), no bias (HF visual_projection) */
    /* SigLIP's attention-pooling head (vitc names map_head.*, HF's vision_model.head.*) */
    float *map_probe;              /* map_head.probe (1, 1, dim) */
    vt_linear_w map_in;            /* map_head.attention.in_proj_weight / _bias (3 dim, dim): q | k | v */
    vt_linear_w map_out;           /* map_head.attention.out_proj */
    vt_norm_w map_norm;            /* map_head.layernorm */
    vt_linear_w map_fc1, map_fc2;  /* map_head.mlp.fc1 (mlp_dim, dim), fc2 (dim, mlp_dim) */
} vt_vit_weights;

#define VT_PARAM_MAX_DIMS 4
typedef struct vt_param {
    char name[96];       /* timm name */
    int ndim;
    int64_t shape[VT_PARAM_MAX_DIMS];
    int64_t numel;
    float **slot;        /* where the data pointer lives inside a vt_vit_weights */
    int no_decay;        /* norms, biases, tokens, position embeddings: no weight decay */
} vt_param;

/* Enumerates the parameters the config implies, pointing at w's slots. Returns the count;
 * *out is malloc'ed (free it). w->blocks must already hold config->depth entries. */
int vt_param_table(const vt_vit_config *c, vt_vit_weights *w, vt_param **out);

/* Allocates one contiguous zeroed buffer for all parameters and points w's slots into it
 * (used for training, gradients and optimizer moments). Returns the buffer or NULL. */
float *vt_weights_alloc(const vt_vit_config *c, vt_vit_weights *w, int64_t *numel);
/* Allocates w's block arrays (backbone and decoder) for config c: 0, or -1 out of memory. */
int vt_weights_alloc_blocks(const vt_vit_config *c, vt_vit_weights *w);
void vt_weights_free_blocks(vt_vit_weights *w);

#endif
