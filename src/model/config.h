/* ViT architecture description: everything needed to lay out parameters and run the model. */
#ifndef VT_CONFIG_H
#define VT_CONFIG_H

#include "vitc.h"
#include "core/json.h"

/* What the head on the backbone's final tokens does. */
typedef enum vt_task {
    VT_TASK_CLASSIFY = 0, /* pooled tokens -> class logits (heads head / head_dist) */
    VT_TASK_SEGMENT = 1,  /* patch tokens -> per-patch class scores -> bilinear upsampling (decoder.*) */
    VT_TASK_DETECT = 2    /* YOLOS: detection tokens -> class MLP (classes + "no object") and box MLP */
} vt_task;

/* How the position embeddings' grid is resampled to another input grid. */
typedef enum vt_pos_interp {
    VT_POS_TIMM = 0,   /* timm's resample_abs_pos_embed: bicubic (a = -0.5) with antialias */
    VT_POS_TORCH = 1   /* F.interpolate(mode="bicubic", align_corners=False): a = -0.75, edge clamp (HF YOLOS,
                          HF Dinov2Model, HF CLIP's interpolate_pos_encoding) */
} vt_pos_interp;

/* The MLP's activation (plain MLP; the SwiGLU MLP always uses SiLU on its gate half). */
typedef enum vt_act {
    VT_ACT_GELU = 0,       /* exact (erf) GELU, fused into fc1's GEMM epilogue */
    VT_ACT_QUICK_GELU = 1, /* CLIP's quick_gelu: x * sigmoid(1.702 x) */
    VT_ACT_GELU_TANH = 2   /* SigLIP's gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */
} vt_act;

/* Which published model family the architecture is (names it in vitc info; HF names on load). */
typedef enum vt_family {
    VT_FAMILY_VIT = 0,     /* timm VisionTransformer, HF ViT / DeiT / YOLOS */
    VT_FAMILY_DINOV2 = 1,  /* DINOv2 (LayerScale, patch 14, optional registers / SwiGLU) */
    VT_FAMILY_CLIP = 2,    /* CLIP's vision tower (pre-norm, post-norm on the class token, projection) */
    VT_FAMILY_SIGLIP = 3,  /* SigLIP's vision tower (no class token, attention-pooling head, tanh GELU) */
    VT_FAMILY_BEIT = 4     /* BEiT / data2vec-vision (relative position bias, q and v biases, LayerScale) */
} vt_family;

/* Segmenter's decoders (Strudel et al. 2021). */
typedef enum vt_seg_decoder {
    VT_SEG_LINEAR = 0, /* Linear(dim, classes) on each patch token */
    VT_SEG_MASK = 1    /* mask transformer: class embeddings + dec_depth blocks of dec_dim, masks by cosine */
} vt_seg_decoder;

typedef struct vt_vit_config {
    char name[64];
    int dim, depth, heads, mlp_dim;
    int patch, img_size, in_chans;   /* img_size: the size the position embeddings were trained at */
    int patch_kernel;                /* 0: patch. Larger: overlapping patches, a kernel x kernel convolution at
                                        stride `patch`, zero-padded by (kernel - patch) / 2 so that the grid
                                        stays size / patch (each token also sees its neighbours' edges) */
    int num_classes;                 /* 0: no head (features only) */
    int class_token, dist_token, reg_tokens;
    int no_embed_class;              /* position embeddings cover the patches only */
    int pre_norm;                    /* norm_pre after the embeddings; patch projection without bias */
    int patch_bias;
    int patch_norm;                  /* patch_embed.norm */
    int qkv_bias, qk_norm, layer_scale;
    int fc_norm;                     /* pooled features normalized by fc_norm (and no final norm) */
    vitc_pool pool;
    int dist_average;                /* DeiT distilled: logits = mean of head and head_dist */
    float ln_eps;
    /* the task head (the metadata's "task" / "head"; absent: classification as before) */
    vt_task task;
    vt_seg_decoder seg_decoder;      /* segmentation: num_classes counts the background as class 0 */
    int dec_dim, dec_depth, dec_heads; /* mask transformer: width, blocks, heads (MLP 4 x dec_dim) */
    /* detection (YOLOS): num_classes object classes; the class head has num_classes + 1 outputs ("no
     * object" last). Token order [prefix, patches, detection tokens]; the position embeddings too. */
    int det_tokens;                  /* learned detection tokens appended after the patches */
    int mid_pos;                     /* YOLOS mid position embeddings: added after every block but the last */
    int pos_gh, pos_gw;              /* the position embeddings' patch grid (0: img_size / patch, square) */
    vt_pos_interp pos_interp;
    /* model families (issue 21) */
    vt_family family;
    vt_act act;
    int mlp_swiglu;                  /* SwiGLU MLP: fc1 (2 x mlp_dim, dim) -> silu(first half) * second half ->
                                        fc2 (dim, mlp_dim) (timm SwiGLUPacked, HF Dinov2SwiGLUFFN) */
    int proj_dim;                    /* CLIP: the pooled features projected by embed_proj (proj_dim x dim, no
                                        bias): the image embedding. 0: none */
    int rel_pos_bias;                /* BEiT: a relative position bias per block, blocks.i.attn.
                                        relative_position_bias_table ((2 gh - 1)(2 gw - 1) + 3 rows x heads, the
                                        last three for cls->token, token->cls, cls->cls), added to the attention
                                        scores; only at the position grid it was trained at */
    int map_head;                    /* SigLIP: the pooled output is a multihead attention-pooling head over the
                                        final tokens (a learned probe query; out_proj; x + MLP(LayerNorm(x))) */
} vt_vit_config;

static inline int vt_prefix_tokens(const vt_vit_config *c) {
    return c->class_token + c->dist_token + c->reg_tokens;
}
static inline int vt_patch_kernel(const vt_vit_config *c) {
    return c->patch_kernel ? c->patch_kernel : c->patch;
}
/* The patch embedding's inputs per token: channels x kernel x kernel. */
static inline int vt_patch_inputs(const vt_vit_config *c) {
    return c->in_chans * vt_patch_kernel(c) * vt_patch_kernel(c);
}
/* The patch grid the position embeddings were trained at. */
static inline int vt_pos_grid_h(const vt_vit_config *c) { return c->pos_gh ? c->pos_gh : c->img_size / c->patch; }
static inline int vt_pos_grid_w(const vt_vit_config *c) { return c->pos_gw ? c->pos_gw : c->img_size / c->patch; }
static inline int vt_pos_len(const vt_vit_config *c) {
    return vt_pos_grid_h(c) * vt_pos_grid_w(c) + (c->no_embed_class ? 0 : vt_prefix_tokens(c)) + c->det_tokens;
}

/* fc1's output rows: the hidden width, twice it for SwiGLU (gate | value). */
static inline int vt_fc1_rows(const vt_vit_config *c) { return c->mlp_swiglu ? 2 * c->mlp_dim : c->mlp_dim; }
static inline const char *vt_family_name(vt_family f) {
    return f == VT_FAMILY_DINOV2 ? "dinov2" : f == VT_FAMILY_CLIP ? "clip" : f == VT_FAMILY_SIGLIP ? "siglip"
         : f == VT_FAMILY_BEIT ? "beit" : "vit";
}

/* Rows of a BEiT relative position bias table for the gh x gw grid. */
static inline int vt_rel_pos_rows(int gh, int gw) { return (2 * gh - 1) * (2 * gw - 1) + 3; }

static inline int vt_has_cls_head(const vt_vit_config *c) {
    return c->task == VT_TASK_CLASSIFY && c->num_classes > 0;
}
static inline const char *vt_task_name(vt_task t) {
    return t == VT_TASK_SEGMENT ? "segment" : t == VT_TASK_DETECT ? "detect" : "classify";
}

/* Fills defaults for a timm-style ViT (token pool, qkv bias, eps 1e-6, mlp 4x). */
void vt_config_defaults(vt_vit_config *c);
/* Named architectures users know ("vit_tiny_patch16_224", "deit_small_distilled_patch16_224", ...).
 * Returns 0 when the name is known. */
int vt_config_from_name(const char *name, vt_vit_config *c);
/* Checks the numbers are consistent (dim % heads, img % patch, ...). Error names `what`. */
vitc_status vt_config_validate(const vt_vit_config *c, const char *what);

/* vitc metadata JSON <-> config (the "vitc.config" metadata string). */
vitc_status vt_config_from_json(const vt_json *j, vt_vit_config *c, const char *what);
char *vt_config_to_json(const vt_vit_config *c); /* malloc'ed */

/* Whether two configurations describe the same architecture (every field but the name). */
int vt_config_same_arch(const vt_vit_config *a, const vt_vit_config *b);

int64_t vt_config_num_params(const vt_vit_config *c);
double vt_config_flops(const vt_vit_config *c, int height, int width);

#endif
