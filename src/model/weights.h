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
void vt_weights_free_blocks(vt_vit_weights *w);

#endif
