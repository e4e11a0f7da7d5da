/* Training forward + backward over the whole ViT, with activations kept in one arena. */
#include "train/train.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "train/train_ops.h"
#include "train/train_ops_impl.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The gradient norm sums the gradient buffer in blocks of NORM_BLOCK floats, each block into its
 * own slot, the slots added in order: the norm does not depend on the thread count. */
#define NORM_BLOCK 8192

typedef struct block_acts {
    float *ln1, *ln1_m, *ln1_r;
    float *qkv;                          /* after q/k norm: what attention used */
    float *qraw, *kraw, *qm, *qr, *km, *kr; /* qk_norm inputs and statistics */
    float *att, *ao, *y1, *mid;
    float *ln2, *ln2_m, *ln2_r;
    float *hpre, *hact, *y2;
} block_acts;

struct vt_train_acts {
    float *patches, *emb, *emb_n, *pn_m, *pn_r;
    float *x0, *pre_m, *pre_r;
    float **res;                         /* depth + 1 residual streams */
    block_acts *blk;
    float *xn, *fn_m, *fn_r;             /* final norm (no fc_norm) */
    float *pooled, *feat, *feat2, *fc_m, *fc_r;
    float *logits, *logits2, *dlogits, *dl2;
    float *dp_scale;                     /* drop path: depth x 2 (attention, MLP) x n factors */
    /* backward scratch */
    float *dres, *dtmp, *dtmp2, *dqkv, *dao, *dh, *dhpre, *dx0, *demb, *demb2, *dfeat, *dfeat2, *dpooled;
    float *dbranch;                      /* drop path outside the fused block: d loss / d branch output */
    float *relb, *drelb;                 /* BEiT: a block's relative position bias (heads x T x T), its gradient */
};

/* ---------------------------------------------------------------- hyperparameters, schedule */

vt_train_hparams vt_train_default_hparams(void) {
    vt_train_hparams h = {0};
    h.lr = 1e-3f;
    h.min_lr = 1e-5f;
    h.weight_decay = 0.05f;
    h.beta1 = 0.9f;
    h.beta2 = 0.999f;
    h.eps = 1e-8f;
    h.clip = 1.0f;
    h.label_smoothing = 0.1f;
    h.warmup_steps = 0;
    h.total_steps = 1;
    return h;
}

float vt_train_lr_scale(const char *name, int depth, float d) {
    if (!(d > 0.0f && d < 1.0f)) return 1.0f;
    int layer = depth + 1;
    if (!strncmp(name, "blocks.", 7)) layer = atoi(name + 7) + 1;
    else if (!strncmp(name, "patch_embed.", 12) || !strncmp(name, "norm_pre.", 9) || !strcmp(name, "pos_embed") ||
             !strcmp(name, "cls_token") || !strcmp(name, "dist_token") || !strcmp(name, "reg_token"))
        layer = 0;
    return (float)pow((double)d, (double)(depth + 1 - layer));
}

float vt_train_lr(const vt_train_hparams *hp, int64_t step) {
    if (step < hp->warmup_steps) return hp->lr * (float)(step + 1) / (float)hp->warmup_steps;
    int64_t span = hp->total_steps - hp->warmup_steps;
    if (span <= 0) return hp->lr;
    double p = (double)(step - hp->warmup_steps) / (double)span;
    if (p > 1.0) p = 1.0;
    return (float)(hp->min_lr + (hp->lr - hp->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
}

/* ---------------------------------------------------------------- lifetime */

static int block_spans(vt_trainer *t);

vitc_status vt_trainer_new(vitc_model *m, const vt_train_hparams *hp, int threads, vt_trainer **out) {
    *out = NULL;
    const vt_vit_config *c = &m->cfg;
    if (!m->param_buf) return vt_error(VITC_ERR_ARG, "training needs a model with its own parameter buffer");
    if (!c->num_classes) return vt_error(VITC_ERR_UNSUPPORTED, "training needs a classification head");
    if (vt_pos_grid_h(c) != c->img_size / c->patch || vt_pos_grid_w(c) != c->img_size / c->patch)
        return vt_error(VITC_ERR_UNSUPPORTED, "training runs at the position embeddings' own grid, and this model's "
                        "(%dx%d) is not square", vt_pos_grid_h(c), vt_pos_grid_w(c));
    if (c->dist_token && c->dist_average && (c->pool != VITC_POOL_TOKEN || c->fc_norm))
        return vt_error(VITC_ERR_UNSUPPORTED, "training a distilled model needs token pooling without fc_norm");
    if (c->pool == VITC_POOL_TOKEN && !c->map_head && !vt_prefix_tokens(c))
        return vt_error(VITC_ERR_UNSUPPORTED, "token pooling needs a prefix token");
    vt_trainer *t = calloc(1, sizeof *t);
    if (!t) return vt_error(VITC_ERR_NOMEM, "out of memory");
    t->m = m;
    t->hp = *hp;
    t->threads = threads;
    t->grad = vt_weights_alloc(c, &t->g, &t->numel);
    t->adam_m = aligned_alloc(64, sizeof(float) * (size_t)t->numel);
    t->adam_v = aligned_alloc(64, sizeof(float) * (size_t)t->numel);
    t->norm_parts = malloc(sizeof(double) * (size_t)((t->numel + NORM_BLOCK - 1) / NORM_BLOCK + 1));
    t->n_params = vt_param_table(c, &m->w, &t->params);
    t->offsets = t->n_params > 0 ? malloc(sizeof(int64_t) * (size_t)t->n_params) : NULL;
    t->acts = calloc(1, sizeof *t->acts);
    if (!t->grad || !t->adam_m || !t->adam_v || !t->norm_parts || t->n_params <= 0 || !t->offsets || !t->acts) {
        vt_trainer_free(t);
        return vt_error(VITC_ERR_NOMEM, "out of memory for training state");
    }
    memset(t->adam_m, 0, sizeof(float) * (size_t)t->numel);
    memset(t->adam_v, 0, sizeof(float) * (size_t)t->numel);
    for (int i = 0; i < t->n_params; i++) t->offsets[i] = *t->params[i].slot - m->param_buf;
    if (block_spans(t)) {
        vt_trainer_free(t);
        return vt_error(VITC_ERR_NOMEM, "out of memory for training state");
    }
    if (hp->ema_decay > 0.0f) {
        vitc_status s = vt_trainer_start_ema(t, hp->ema_decay);
        if (s) {
            vt_trainer_free(t);
            return s;
        }
    }
    *out = t;
    return VITC_OK;
}

/* Each backbone block's gradients as one range of grad (params "blocks.L.*"), for grad_ready; a
 * block whose parameters are not contiguous gets an empty range (its gradients are then final
 * only at the end). */
static int block_spans(vt_trainer *t) {
    int L = t->m->cfg.depth;
    if (!(t->block_span = calloc((size_t)(L > 0 ? 2 * L : 2), sizeof(int64_t)))) return -1;
    int64_t *covered = calloc((size_t)(L > 0 ? L : 1), sizeof(int64_t));
    if (!covered) return -1;
    for (int l = 0; l < L; l++) t->block_span[2 * l] = INT64_MAX;
    for (int i = 0; i < t->n_params; i++) {
        int l, end = 0;
        if (sscanf(t->params[i].name, "blocks.%d.%n", &l, &end) != 1 || !end || l < 0 || l >= L) continue;
        int64_t lo = t->offsets[i], len = (t->params[i].numel + 15) & ~(int64_t)15; /* the slices' alignment */
        if (lo < t->block_span[2 * l]) t->block_span[2 * l] = lo;
        if (lo + len > t->block_span[2 * l + 1]) t->block_span[2 * l + 1] = lo + len;
        covered[l] += len;
    }
    for (int l = 0; l < L; l++)
        if (t->block_span[2 * l] == INT64_MAX || covered[l] != t->block_span[2 * l + 1] - t->block_span[2 * l])
            t->block_span[2 * l] = t->block_span[2 * l + 1] = 0;
    free(covered);
    return 0;
}

void vt_trainer_on_grad_ready(vt_trainer *t, void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx) {
    t->grad_ready = fn;
    t->grad_ready_ctx = ctx;
}

vitc_status vt_trainer_start_ema(vt_trainer *t, float decay) {
    if (!(decay > 0.0f && decay < 1.0f)) return vt_error(VITC_ERR_ARG, "the EMA decay must be in (0, 1)");
    if (!t->ema && !(t->ema = aligned_alloc(64, sizeof(float) * (size_t)t->numel)))
        return vt_error(VITC_ERR_NOMEM, "out of memory for the weights' EMA");
    memcpy(t->ema, t->m->param_buf, sizeof(float) * (size_t)t->numel);
    t->hp.ema_decay = decay;
    return VITC_OK;
}

void vt_trainer_swap_ema(vt_trainer *t) {
    if (!t->ema) return;
    float *p = t->m->param_buf, *e = t->ema;
    for (int64_t i = 0; i < t->numel; i++) {
        float x = p[i];
        p[i] = e[i];
        e[i] = x;
    }
    vt_model_weights_changed(t->m);
}

void vt_trainer_free(vt_trainer *t) {
    if (!t) return;
    vitc_model_free(t->m);
    free(t->grad);
    vt_weights_free_blocks(&t->g);
    free(t->adam_m);
    free(t->adam_v);
    free(t->ema);
    free(t->sam_w);
    free(t->norm_parts);
    free(t->params);
    free(t->offsets);
    free(t->block_span);
    vt_seg_acts_free(t->seg);
    vt_det_acts_free(t->det);
    vt_map_acts_free(t->map);
    if (t->acts) {
        free(t->acts->res);
        free(t->acts->blk);
        free(t->acts);
    }
    vt_arena_free(&t->arena);
    free(t);
}

/* ---------------------------------------------------------------- activation layout */

typedef struct layout {
    vt_arena *a; /* NULL: only count */
    size_t bytes;
} layout;

static float *take(layout *L, size_t n) {
    L->bytes += vt_arena_size_floats(n ? n : 1);
    return L->a ? vt_arena_floats(L->a, n ? n : 1) : NULL;
}

/* The fused block (train_block.c) serves blocks without q/k norm or LayerScale whose MLP is the
 * plain one with the exact GELU. */
static int fused_block(const vt_vit_config *c) {
    return !c->qk_norm && !c->layer_scale && !c->mlp_swiglu && c->act == VT_ACT_GELU && !c->rel_pos_bias;
}

static void lay_out(const vt_vit_config *c, float drop_path, vt_train_acts *A, layout *L, size_t n) {
    /* outside the fused block, drop path (like LayerScale) keeps the branches' outputs apart */
    int branch_out = c->layer_scale || (drop_path > 0.0f && !fused_block(c));
    size_t N = (size_t)(c->img_size / c->patch) * (c->img_size / c->patch), pre = (size_t)vt_prefix_tokens(c);
    size_t T = N + pre + (size_t)c->det_tokens, rows = n * T, D = (size_t)c->dim, Hm = (size_t)c->mlp_dim, hs = (size_t)c->heads;
    size_t K = (size_t)vt_patch_inputs(c), C = (size_t)c->num_classes, F1 = (size_t)vt_fc1_rows(c);
    A->patches = take(L, n * N * K);
    A->emb = take(L, n * N * D);
    if (c->patch_norm) {
        A->emb_n = take(L, n * N * D);
        A->pn_m = take(L, n * N);
        A->pn_r = take(L, n * N);
    }
    A->x0 = take(L, rows * D);
    if (c->pre_norm) {
        A->pre_m = take(L, rows);
        A->pre_r = take(L, rows);
    }
    for (int l = 0; l <= c->depth; l++) {
        float *r = (l == 0 && !c->pre_norm) ? A->x0 : take(L, rows * D);
        if (L->a) A->res[l] = r;
    }
    for (int l = 0; l < c->depth; l++) {
        block_acts tmp, *b = L->a ? &A->blk[l] : &tmp;
        memset(b, 0, sizeof *b);
        b->ln1 = take(L, rows * D);
        b->ln1_m = take(L, rows);
        b->ln1_r = take(L, rows);
        b->qkv = take(L, rows * 3 * D);
        if (c->qk_norm) {
            b->qraw = take(L, rows * D);
            b->kraw = take(L, rows * D);
            b->qm = take(L, rows * hs);
            b->qr = take(L, rows * hs);
            b->km = take(L, rows * hs);
            b->kr = take(L, rows * hs);
        }
        b->att = take(L, n * hs * T * T);
        b->ao = take(L, rows * D);
        if (branch_out) b->y1 = take(L, rows * D); /* otherwise the GEMMs add straight into the stream */
        b->mid = take(L, rows * D);
        b->ln2 = take(L, rows * D);
        b->ln2_m = take(L, rows);
        b->ln2_r = take(L, rows);
        b->hpre = take(L, rows * F1); /* SwiGLU: gate | value */
        b->hact = take(L, rows * Hm);
        if (branch_out) b->y2 = take(L, rows * D);
    }
    if (!c->fc_norm) {
        A->xn = take(L, rows * D);
        A->fn_m = take(L, rows);
        A->fn_r = take(L, rows);
    }
    A->pooled = take(L, n * D);
    A->feat = take(L, n * D);
    A->feat2 = take(L, n * D);
    A->fc_m = take(L, n);
    A->fc_r = take(L, n);
    A->logits = take(L, n * C);
    A->logits2 = take(L, n * C);
    A->dlogits = take(L, n * C);
    A->dl2 = take(L, n * C);
    A->dres = take(L, rows * D);
    if (drop_path > 0.0f) {
        A->dp_scale = take(L, (size_t)c->depth * 2 * n);
        if (!fused_block(c)) A->dbranch = take(L, rows * D);
    }
    if (c->rel_pos_bias) {
        A->relb = take(L, hs * T * T);
        A->drelb = take(L, hs * T * T);
    }
    A->dtmp = take(L, rows * D);
    A->dtmp2 = take(L, rows * D);
    A->dqkv = take(L, rows * 3 * D);
    A->dao = take(L, rows * D);
    A->dh = take(L, rows * Hm);
    if (F1 != Hm) A->dhpre = take(L, rows * F1);
    A->dx0 = take(L, rows * D);
    A->demb = take(L, n * N * D);
    A->demb2 = take(L, n * N * D);
    A->dfeat = take(L, n * D);
    A->dfeat2 = take(L, n * D);
    A->dpooled = take(L, n * D);
}

static vitc_status ensure_acts(vt_trainer *t, int n) {
    if (n <= t->cap_batch) return VITC_OK;
    const vt_vit_config *c = &t->m->cfg;
    vt_train_acts *A = t->acts;
    layout L = {NULL, 0};
    lay_out(c, t->hp.drop_path, A, &L, (size_t)n);
    free(A->res);
    free(A->blk);
    A->res = calloc((size_t)c->depth + 1, sizeof *A->res);
    A->blk = calloc((size_t)(c->depth ? c->depth : 1), sizeof *A->blk);
    if (!A->res || !A->blk || vt_arena_reserve(&t->arena, L.bytes)) {
        t->cap_batch = 0;
        return vt_error(VITC_ERR_NOMEM, "out of memory for training activations (batch %d, %.0f MB)", n,
                        (double)L.bytes / 1e6);
    }
    vt_arena_reset(&t->arena);
    L.a = &t->arena;
    L.bytes = 0;
    lay_out(c, t->hp.drop_path, A, &L, (size_t)n);
    t->cap_batch = n;
    return VITC_OK;
}

/* ---------------------------------------------------------------- helpers */

/* rows x D slice (stride src_stride) <-> contiguous rows x D */
static void gather(float *dst, const float *src, size_t rows, int D, int src_stride) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (rows > 256)
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * D, src + r * src_stride, sizeof(float) * (size_t)D);
}
static void scatter(float *dst, int dst_stride, const float *src, size_t rows, int D) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (rows > 256)
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * D, sizeof(float) * (size_t)D);
}

/* y = g * x (g per column, NULL: copy); dg += sum over rows of dy * x */
static void scale_cols(float *y, const float *x, const float *g, size_t rows, int D) {
    size_t n = rows * D;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = g[i % (size_t)D] * x[i];
}

static void layerscale_grad(float *dg, const float *dy, const float *x, size_t rows, int D, float *tmp) {
    size_t n = rows * D;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) tmp[i] = dy[i] * x[i];
    vt_colsum_accumulate(dg, tmp, (int)rows, D);
}

/* LayerNorm over heads-sized slices: rows*heads rows of hd, kept statistics */
static void ln_fwd(float *out, float *mean, float *rstd, const float *in, const vt_norm_w *w, int N, int C, float eps) {
    vt_tr_layernorm_forward(out, mean, rstd, in, w->w, w->b, N, C, eps);
}

/* Block l's drop-path rate: timm's linspace(0, drop_path, depth). */
static double drop_rate(const vt_train_hparams *hp, int depth, int l) {
    return hp->drop_path > 0.0f && depth > 1 ? (double)hp->drop_path * l / (depth - 1) : 0.0;
}

/* This step's drop-path factors of block l (NULL when the block's rate is 0). */
static const float *drop_scales(const vt_trainer *t, int l, int branch, int n) {
    const float *s = t->acts->dp_scale;
    if (!s || drop_rate(&t->hp, t->m->cfg.depth, l) <= 0.0) return NULL;
    return s + ((size_t)l * 2 + branch) * n;
}

/* out = base + s_b * (g (.) y) for the rows of each image b (g per column, NULL: 1). */
static void add_branch(float *out, const float *base, const float *y, const float *g, const float *sc, int n, int T,
                       int D) {
    size_t per = (size_t)T * D;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((size_t)n * per > 65536)
    for (int b = 0; b < n; b++)
        for (size_t i = (size_t)b * per; i < (size_t)(b + 1) * per; i++)
            out[i] = base[i] + sc[b] * (g ? g[i % (size_t)D] : 1.0f) * y[i];
}

/* dst = s_b * src for the rows of each image b */
static void scale_images(float *dst, const float *src, const float *sc, int n, int T, int D) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((size_t)n * T * D > 65536)
    for (int b = 0; b < n; b++) vt_tr_scale_rows(dst, src, sc, b, b + 1, T, D);
}

void vt_tr_block_bind(vt_tr_block *p, const vt_block_w *bw, vt_block_w *gw, int qkv_bias) {
    p->ln1_w = bw->norm1.w, p->ln1_b = bw->norm1.b, p->qkv_w = bw->qkv.w, p->qkv_b = qkv_bias ? bw->qkv.b : NULL;
    p->proj_w = bw->proj.w, p->proj_b = bw->proj.b, p->ln2_w = bw->norm2.w, p->ln2_b = bw->norm2.b;
    p->fc1_w = bw->fc1.w, p->fc1_b = bw->fc1.b, p->fc2_w = bw->fc2.w, p->fc2_b = bw->fc2.b;
    p->g_ln1_w = gw->norm1.w, p->g_ln1_b = gw->norm1.b, p->g_qkv_w = gw->qkv.w, p->g_qkv_b = qkv_bias ? gw->qkv.b : NULL;
    p->g_proj_w = gw->proj.w, p->g_proj_b = gw->proj.b, p->g_ln2_w = gw->norm2.w, p->g_ln2_b = gw->norm2.b;
    p->g_fc1_w = gw->fc1.w, p->g_fc1_b = gw->fc1.b, p->g_fc2_w = gw->fc2.w, p->g_fc2_b = gw->fc2.b;
}

/* The fused block (train_block.c) for blocks without q/k norm or LayerScale. */
static vt_tr_block block_params(const vt_trainer *t, const vt_block_w *bw, vt_block_w *gw, block_acts *B, int l,
                                int n, int T) {
    const vt_vit_config *c = &t->m->cfg;
    vt_train_acts *A = t->acts;
    vt_tr_block p = {0};
    p.n = n, p.T = T, p.D = c->dim, p.heads = c->heads, p.Hm = c->mlp_dim, p.eps = c->ln_eps;
    vt_tr_block_bind(&p, bw, gw, c->qkv_bias);
    p.x = A->res[l], p.out = A->res[l + 1];
    p.ln1 = B->ln1, p.ln1_m = B->ln1_m, p.ln1_r = B->ln1_r, p.qkv = B->qkv, p.att = B->att, p.ao = B->ao;
    p.mid = B->mid, p.ln2 = B->ln2, p.ln2_m = B->ln2_m, p.ln2_r = B->ln2_r, p.hpre = B->hpre, p.hact = B->hact;
    p.dh = A->dh, p.dtmp = A->dtmp, p.dao = A->dao, p.dqkv = A->dqkv;
    p.drop1 = drop_scales(t, l, 0, n), p.drop2 = drop_scales(t, l, 1, n);
    return p;
}

/* ---------------------------------------------------------------- forward + backward */

static int targets_valid(const float *q, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (!(q[i] >= 0.0f && q[i] <= 1.0f)) return 0;
    return 1;
}

/* YOLOS' mid position embeddings: block l's output (l < depth - 1) gets table l added, in place
 * (the block's backward needs its input, not its output). */
static void add_mid_pos(const vt_vit_weights *w, const vt_vit_config *c, float *res, int l, int n, int T) {
    if (!w->mid_pos_embed || l + 1 >= c->depth) return;
    const float *mp = w->mid_pos_embed + (size_t)l * T * c->dim;
    for (int b = 0; b < n; b++) {
        float *x = res + (size_t)b * T * c->dim;
        for (size_t i = 0; i < (size_t)T * c->dim; i++) x[i] += mp[i];
    }
}

/* The backbone's forward pass over n images (activations in t->acts); returns the final tokens
 * (n x T x dim): the final norm's output, or the raw stream when the model has fc_norm. */
/* hpre = fc1(ln2) (kept for the activation's gradient) and hact = act(hpre): the exact GELU in the
 * GEMM's store, the other activations and SwiGLU after it */
static void mlp_hidden_forward(const vt_vit_config *c, block_acts *B, const vt_block_w *bw, int rows) {
    int D = c->dim, Hm = c->mlp_dim;
    if (!c->mlp_swiglu && c->act == VT_ACT_GELU) {
        vt_tr_linear_forward_ex(B->hpre, B->ln2, bw->fc1.w, bw->fc1.b, rows, D, Hm, NULL, B->hact);
        return;
    }
    vt_tr_linear_forward(B->hpre, B->ln2, bw->fc1.w, bw->fc1.b, rows, D, vt_fc1_rows(c));
    size_t n = (size_t)rows * Hm;
    if (c->mlp_swiglu) vt_swiglu_forward(B->hact, B->hpre, rows, Hm);
    else if (c->act == VT_ACT_QUICK_GELU) vt_quick_gelu_forward(B->hact, B->hpre, n);
    else vt_gelu_tanh_forward(B->hact, B->hpre, n);
}

/* From A->dh = d loss / d hact: d loss / d hpre (returned: A->dh in place, or A->dhpre for SwiGLU),
 * with fc1's bias gradient added to gw */
static const float *mlp_hidden_backward(const vt_vit_config *c, vt_train_acts *A, const block_acts *B,
                                        vt_block_w *gw, int rows) {
    int Hm = c->mlp_dim;
    size_t n = (size_t)rows * Hm;
    if (c->mlp_swiglu) {
        vt_swiglu_backward(A->dhpre, B->hpre, A->dh, rows, Hm);
        vt_tr_colsum(gw->fc1.b, A->dhpre, rows, 2 * Hm);
        return A->dhpre;
    }
    if (c->act == VT_ACT_GELU) {
        vt_tr_gelu_backward(A->dh, B->hpre, A->dh, rows, Hm, gw->fc1.b); /* fc1's bias gradient on the way */
        return A->dh;
    }
    if (c->act == VT_ACT_QUICK_GELU) vt_quick_gelu_backward(A->dh, B->hpre, A->dh, n);
    else vt_gelu_tanh_backward(A->dh, B->hpre, A->dh, n);
    vt_tr_colsum(gw->fc1.b, A->dh, rows, Hm);
    return A->dh;
}

static const float *backbone_forward(vt_trainer *t, const float *images, int n) {
    vitc_model *m = t->m;
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    vt_vit_weights *g = &t->g;
    (void)g;
    vt_train_acts *A = t->acts;
    int gs = c->img_size / c->patch, N = gs * gs, pre = vt_prefix_tokens(c), Q = c->det_tokens, T = N + pre + Q;
    int D = c->dim, Hm = c->mlp_dim, hs = c->heads, hd = D / hs, K = vt_patch_inputs(c);
    int rows = n * T, L = c->depth;
    size_t RD = (size_t)rows * D;
    float eps = c->ln_eps;
    vt_patchify(A->patches, images, n, c->in_chans, c->img_size, c->img_size, c->patch, vt_patch_kernel(c));
    vt_tr_linear_forward(A->emb, A->patches, w->patch.w, c->patch_bias ? w->patch.b : NULL, n * N, K, D);
    const float *emb = A->emb;
    if (c->patch_norm) {
        ln_fwd(A->emb_n, A->pn_m, A->pn_r, A->emb, &w->patch_norm, n * N, D, eps);
        emb = A->emb_n;
    }
    const float *pos = w->pos_embed;
    int pos_prefix = c->no_embed_class ? 0 : pre;
    for (int b = 0; b < n; b++) {
        float *xb = A->x0 + (size_t)b * T * D;
        int tk = 0;
        if (c->class_token) memcpy(xb + (size_t)D * tk++, w->cls_token, sizeof(float) * (size_t)D);
        if (c->dist_token) memcpy(xb + (size_t)D * tk++, w->dist_token, sizeof(float) * (size_t)D);
        if (c->reg_tokens) memcpy(xb + (size_t)D * tk, w->reg_token, sizeof(float) * (size_t)D * c->reg_tokens);
        if (pos_prefix)
            for (size_t i = 0; i < (size_t)pre * D; i++) xb[i] += pos[i];
        const float *pp = pos + (size_t)pos_prefix * D, *eb = emb + (size_t)b * N * D;
        float *xp = xb + (size_t)pre * D;
        for (size_t i = 0; i < (size_t)N * D; i++) xp[i] = eb[i] + pp[i];
        for (size_t i = 0; i < (size_t)Q * D; i++) xp[(size_t)N * D + i] = w->det_token[i] + pp[(size_t)N * D + i];
    }
    if (c->pre_norm) ln_fwd(A->res[0], A->pre_m, A->pre_r, A->x0, &w->norm_pre, rows, D, eps);

    int fused = fused_block(c);
    if (A->dp_scale) /* this step's drop-path factors */
        for (int l = 0; l < L; l++)
            for (int br = 0; br < 2; br++)
                for (int b = 0; b < n; b++)
                    A->dp_scale[((size_t)l * 2 + br) * n + b] = vt_train_drop_scale(&t->hp, L, t->step, l, br, b + t->image_offset);
    for (int l = 0; l < L; l++) {
        const vt_block_w *bw = &w->blocks[l];
        block_acts *B = &A->blk[l];
        if (fused) {
            vt_tr_block p = block_params(t, bw, &g->blocks[l], B, l, n, T);
            vt_tr_block_forward(&p);
            add_mid_pos(w, c, A->res[l + 1], l, n, T);
            continue;
        }
        ln_fwd(B->ln1, B->ln1_m, B->ln1_r, A->res[l], &bw->norm1, rows, D, eps);
        vt_tr_linear_forward(B->qkv, B->ln1, bw->qkv.w, c->qkv_bias ? bw->qkv.b : NULL, rows, D, 3 * D);
        if (c->qk_norm) {
            gather(B->qraw, B->qkv, (size_t)rows, D, 3 * D);
            gather(B->kraw, B->qkv + D, (size_t)rows, D, 3 * D);
            ln_fwd(A->dtmp, B->qm, B->qr, B->qraw, &bw->q_norm, rows * hs, hd, eps);
            scatter(B->qkv, 3 * D, A->dtmp, (size_t)rows, D);
            ln_fwd(A->dtmp, B->km, B->kr, B->kraw, &bw->k_norm, rows * hs, hd, eps);
            scatter(B->qkv + D, 3 * D, A->dtmp, (size_t)rows, D);
        }
        if (c->rel_pos_bias) { /* BEiT: the block's bias on the scores (the inference kernel keeps att too) */
            vt_rel_bias_expand(c, bw->rel_bias, A->relb);
            vt_attention_forward_bias(B->ao, B->att, B->qkv, n, T, D, hs, NULL, NULL, NULL, NULL, eps, A->relb);
        } else {
            vt_tr_attention_forward(B->ao, B->att, B->qkv, n, T, D, hs);
        }
        const float *dp1 = drop_scales(t, l, 0, n), *dp2 = drop_scales(t, l, 1, n);
        if (dp1) { /* mid = res + s_b ls1 y1 */
            vt_tr_linear_forward(B->y1, B->ao, bw->proj.w, bw->proj.b, rows, D, D);
            add_branch(B->mid, A->res[l], B->y1, c->layer_scale ? bw->ls1 : NULL, dp1, n, T, D);
        } else if (c->layer_scale) { /* y1 is kept for ls1's gradient */
            vt_tr_linear_forward(B->y1, B->ao, bw->proj.w, bw->proj.b, rows, D, D);
            memcpy(B->mid, A->res[l], sizeof(float) * RD);
            vt_residual_forward(B->mid, B->y1, bw->ls1, rows, D);
        } else { /* mid = res + proj(ao) in the GEMM's store */
            vt_tr_linear_forward_ex(B->mid, B->ao, bw->proj.w, bw->proj.b, rows, D, D, A->res[l], NULL);
        }
        ln_fwd(B->ln2, B->ln2_m, B->ln2_r, B->mid, &bw->norm2, rows, D, eps);
        mlp_hidden_forward(c, B, bw, rows);
        if (dp2) {
            vt_tr_linear_forward(B->y2, B->hact, bw->fc2.w, bw->fc2.b, rows, Hm, D);
            add_branch(A->res[l + 1], B->mid, B->y2, c->layer_scale ? bw->ls2 : NULL, dp2, n, T, D);
        } else if (c->layer_scale) {
            vt_tr_linear_forward(B->y2, B->hact, bw->fc2.w, bw->fc2.b, rows, Hm, D);
            memcpy(A->res[l + 1], B->mid, sizeof(float) * RD);
            vt_residual_forward(A->res[l + 1], B->y2, bw->ls2, rows, D);
        } else {
            vt_tr_linear_forward_ex(A->res[l + 1], B->hact, bw->fc2.w, bw->fc2.b, rows, Hm, D, B->mid, NULL);
        }
        add_mid_pos(w, c, A->res[l + 1], l, n, T);
    }

    if (c->fc_norm) return A->res[L];
    ln_fwd(A->xn, A->fn_m, A->fn_r, A->res[L], &w->norm, rows, D, eps);
    return A->xn;
}

static void zero_grads(vt_trainer *t) {
    float *gz = t->grad;
    int64_t ng = t->numel;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (ng > 262144)
    for (int64_t i = 0; i < ng; i++) gz[i] = 0.0f;
}

/* BEiT: d loss / d bias[h][i][j] = sum over images of dS = P (dP - rowsum(P dP)), dP_ij = dO_i . v_j
 * (the softmax's input gradient, without the 1/sqrt(hd) the scores carry), then into the table. */
static void rel_bias_backward(const vt_vit_config *c, vt_train_acts *A, const block_acts *B, vt_block_w *gw, int n,
                              int T) {
    int D = c->dim, H = c->heads, hd = D / H, C3 = 3 * D;
    size_t plane = (size_t)T * T;
    memset(A->drelb, 0, sizeof(float) * plane * (size_t)H);
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *dp = malloc(sizeof(float) * (size_t)T); /* dP of one query row */
        if (!dp) abort();
#pragma omp for schedule(static)
        for (int hi = 0; hi < H * T; hi++) { /* (head, query): each owns its row of drelb */
            int h = hi / T, i = hi % T;
            float *drow = A->drelb + (size_t)h * plane + (size_t)i * T;
            for (int b = 0; b < n; b++) {
                const float *p = B->att + (((size_t)b * H + h) * T + i) * T;
                const float *dO = A->dao + ((size_t)b * T + i) * D + (size_t)h * hd;
                double dot = 0.0;
                for (int j = 0; j < T; j++) {
                    const float *v = B->qkv + ((size_t)b * T + j) * C3 + 2 * D + (size_t)h * hd;
                    float s = 0.0f;
                    for (int d = 0; d < hd; d++) s += dO[d] * v[d];
                    dp[j] = s;
                    dot += (double)p[j] * s;
                }
                for (int j = 0; j < T; j++) drow[j] += p[j] * (dp[j] - (float)dot);
            }
        }
        free(dp);
    }
    vt_rel_bias_grad(c, A->drelb, gw->rel_bias);
}

static void block_grads_ready(vt_trainer *t, int l) {
    const int64_t *sp = t->block_span + 2 * l;
    if (t->grad_ready && sp[1] > sp[0]) t->grad_ready(t->grad_ready_ctx, sp[0], sp[1]);
}

/* The backbone's backward pass from the gradient of its final tokens: dxn is A->dtmp (with a
 * final norm) or A->dres (fc_norm models: the raw stream). Parameter gradients accumulate. */
static void backbone_backward(vt_trainer *t, int n) {
    vitc_model *m = t->m;
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    vt_vit_weights *g = &t->g;
    vt_train_acts *A = t->acts;
    int gs = c->img_size / c->patch, N = gs * gs, pre = vt_prefix_tokens(c), Q = c->det_tokens, T = N + pre + Q;
    int D = c->dim, Hm = c->mlp_dim, hs = c->heads, hd = D / hs, K = vt_patch_inputs(c);
    int rows = n * T, L = c->depth;
    size_t RD = (size_t)rows * D;
    int fused = fused_block(c), pos_prefix = c->no_embed_class ? 0 : pre;
    if (!c->fc_norm)
        vt_tr_layernorm_backward(A->dres, g->norm.w, g->norm.b, A->dtmp, A->res[L], w->norm.w, A->fn_m, A->fn_r, rows,
                              D);

    for (int l = L - 1; l >= 0; l--) {
        const vt_block_w *bw = &w->blocks[l];
        vt_block_w *gw = &g->blocks[l];
        block_acts *B = &A->blk[l];
        if (g->mid_pos_embed && l + 1 < L) { /* res[l+1] += mid[l]: the gradient of the table */
            float *gm = g->mid_pos_embed + (size_t)l * T * D;
            for (int b = 0; b < n; b++) {
                const float *db = A->dres + (size_t)b * T * D;
                for (size_t i = 0; i < (size_t)T * D; i++) gm[i] += db[i];
            }
        }
        if (fused) {
            vt_tr_block p = block_params(t, bw, gw, B, l, n, T);
            vt_tr_block_backward(&p, A->dres);
            block_grads_ready(t, l);
            continue;
        }
        /* res[l+1] = mid + s_b ls2 * y2 (s_b: drop path) */
        const float *dp1 = drop_scales(t, l, 0, n), *dp2 = drop_scales(t, l, 1, n);
        const float *dz2 = A->dres, *dy2 = A->dres;
        if (dp2) {
            scale_images(A->dbranch, A->dres, dp2, n, T, D);
            dz2 = dy2 = A->dbranch;
        }
        if (c->layer_scale) {
            layerscale_grad(gw->ls2, dz2, B->y2, (size_t)rows, D, A->dtmp2);
            scale_cols(A->dtmp, dz2, bw->ls2, (size_t)rows, D);
            dy2 = A->dtmp;
        }
        vt_tr_linear_backward(A->dh, gw->fc2.w, gw->fc2.b, dy2, B->hact, bw->fc2.w, rows, Hm, D, 0.0f);
        const float *dhpre = mlp_hidden_backward(c, A, B, gw, rows);
        vt_tr_linear_backward(A->dtmp, gw->fc1.w, NULL, dhpre, B->ln2, bw->fc1.w, rows, D, vt_fc1_rows(c), 0.0f);
        vt_tr_layernorm_backward(A->dres, gw->norm2.w, gw->norm2.b, A->dtmp, B->mid, bw->norm2.w, B->ln2_m, B->ln2_r,
                              rows, D);
        /* mid = res[l] + s_b ls1 * y1 */
        const float *dz1 = A->dres, *dy1 = A->dres;
        if (dp1) {
            scale_images(A->dbranch, A->dres, dp1, n, T, D);
            dz1 = dy1 = A->dbranch;
        }
        if (c->layer_scale) {
            layerscale_grad(gw->ls1, dz1, B->y1, (size_t)rows, D, A->dtmp2);
            scale_cols(A->dtmp, dz1, bw->ls1, (size_t)rows, D);
            dy1 = A->dtmp;
        }
        vt_tr_linear_backward(A->dao, gw->proj.w, gw->proj.b, dy1, B->ao, bw->proj.w, rows, D, D, 0.0f);
        vt_tr_attention_backward(A->dqkv, A->dao, B->qkv, B->att, n, T, D, hs);
        if (c->rel_pos_bias) rel_bias_backward(c, A, B, gw, n, T);
        if (c->qk_norm) {
            for (int part = 0; part < 2; part++) {
                float *col = A->dqkv + (size_t)part * D;
                gather(A->dtmp, col, (size_t)rows, D, 3 * D);
                memset(A->dtmp2, 0, sizeof(float) * RD);
                const vt_norm_w *nw = part ? &bw->k_norm : &bw->q_norm;
                vt_norm_w *ng = part ? &gw->k_norm : &gw->q_norm;
                vt_tr_layernorm_backward(A->dtmp2, ng->w, ng->b, A->dtmp, part ? B->kraw : B->qraw, nw->w,
                                      part ? B->km : B->qm, part ? B->kr : B->qr, rows * hs, hd);
                scatter(col, 3 * D, A->dtmp2, (size_t)rows, D);
            }
        }
        vt_tr_linear_backward(A->dtmp, gw->qkv.w, c->qkv_bias ? gw->qkv.b : NULL, A->dqkv, B->ln1, bw->qkv.w, rows,
                              D, 3 * D, 0.0f);
        if (c->rel_pos_bias && c->qkv_bias) memset(gw->qkv.b + D, 0, sizeof(float) * (size_t)D); /* BEiT: no k bias */
        vt_tr_layernorm_backward(A->dres, gw->norm1.w, gw->norm1.b, A->dtmp, A->res[l], bw->norm1.w, B->ln1_m, B->ln1_r,
                              rows, D);
        block_grads_ready(t, l);
    }

    const float *dx0 = A->dres;
    if (c->pre_norm) {
        memset(A->dx0, 0, sizeof(float) * RD);
        vt_tr_layernorm_backward(A->dx0, g->norm_pre.w, g->norm_pre.b, A->dres, A->x0, w->norm_pre.w, A->pre_m,
                              A->pre_r, rows, D);
        dx0 = A->dx0;
    }
    for (int b = 0; b < n; b++) {
        const float *dxb = dx0 + (size_t)b * T * D;
        int tk = 0;
        if (c->class_token) {
            for (int d = 0; d < D; d++) g->cls_token[d] += dxb[d];
            tk++;
        }
        if (c->dist_token) {
            for (int d = 0; d < D; d++) g->dist_token[d] += dxb[(size_t)tk * D + d];
            tk++;
        }
        if (c->reg_tokens)
            for (size_t i = 0; i < (size_t)c->reg_tokens * D; i++) g->reg_token[i] += dxb[(size_t)tk * D + i];
        if (pos_prefix)
            for (size_t i = 0; i < (size_t)pre * D; i++) g->pos_embed[i] += dxb[i];
        float *gp = g->pos_embed + (size_t)pos_prefix * D;
        const float *dp = dxb + (size_t)pre * D;
        for (size_t i = 0; i < (size_t)N * D; i++) gp[i] += dp[i];
        for (size_t i = 0; i < (size_t)Q * D; i++) { /* detection tokens and their position rows */
            g->det_token[i] += dp[(size_t)N * D + i];
            gp[(size_t)N * D + i] += dp[(size_t)N * D + i];
        }
        memcpy(A->demb + (size_t)b * N * D, dp, sizeof(float) * (size_t)N * D);
    }
    const float *demb = A->demb;
    if (c->patch_norm) {
        memset(A->demb2, 0, sizeof(float) * (size_t)n * N * D);
        vt_tr_layernorm_backward(A->demb2, g->patch_norm.w, g->patch_norm.b, A->demb, A->emb, w->patch_norm.w, A->pn_m,
                              A->pn_r, n * N, D);
        demb = A->demb2;
    }
    vt_tr_linear_backward(NULL, g->patch.w, c->patch_bias ? g->patch.b : NULL, demb, A->patches, w->patch.w, n * N, K, D,
                       0.0f);
}

/* The loss is against labels (with the run's label smoothing) or, when labels is NULL, against
 * the soft targets rows. dist_targets (DeiT models only; may be NULL): the distillation head's
 * own targets, the loss then the mean of the two heads' losses; without them both heads are
 * averaged into one output that learns the labels. */
static vitc_status forward_backward(vt_trainer *t, const float *images, const int *labels, const float *targets,
                                    const float *dist_targets, int n, double *loss, float *logits_out) {
    vitc_model *m = t->m;
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    vt_vit_weights *g = &t->g;
    if (n <= 0 || !images || (!labels && !targets)) return vt_error(VITC_ERR_ARG, "training step: empty batch");
    if (c->task != VT_TASK_CLASSIFY)
        return vt_error(VITC_ERR_ARG, "training step: a %s model trains with its own targets, not labels",
                        vt_task_name(c->task));
    if (labels) {
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= c->num_classes)
                return vt_error(VITC_ERR_ARG, "training step: label %d outside 0..%d", labels[i], c->num_classes - 1);
    } else if (!targets_valid(targets, (size_t)n * c->num_classes)) {
        return vt_error(VITC_ERR_ARG, "training step: a soft target outside [0, 1]");
    }
    if (dist_targets && !(c->dist_token && c->dist_average))
        return vt_error(VITC_ERR_ARG, "training step: distillation targets for a model without a distillation head");
    if (dist_targets && !targets_valid(dist_targets, (size_t)n * c->num_classes))
        return vt_error(VITC_ERR_ARG, "training step: a distillation target outside [0, 1]");
    vt_set_threads(t->threads);
    vitc_status s = ensure_acts(t, n);
    if (s) return s;
    vt_train_acts *A = t->acts;
    int gs = c->img_size / c->patch, N = gs * gs, pre = vt_prefix_tokens(c), T = N + pre, D = c->dim;
    int C = c->num_classes, rows = n * T;
    size_t RD = (size_t)rows * D;
    float eps = c->ln_eps;
    int dist_avg = c->dist_token && c->dist_average;

    if (c->map_head && (s = vt_map_acts_ensure(&t->map, c, n, T))) return s;
    const float *xn = backbone_forward(t, images, n);
    if (c->map_head) vt_map_forward(t->map, c, w, xn, n, T, A->pooled);
    for (int b = 0; b < n && !c->map_head; b++) {
        const float *x = xn + (size_t)b * T * D;
        float *p = A->pooled + (size_t)b * D;
        if (dist_avg) {
            memcpy(A->feat + (size_t)b * D, x, sizeof(float) * (size_t)D);
            memcpy(A->feat2 + (size_t)b * D, x + D, sizeof(float) * (size_t)D);
        } else if (c->pool == VITC_POOL_AVG) {
            memset(p, 0, sizeof(float) * (size_t)D);
            for (int tk = pre; tk < T; tk++)
                for (int d = 0; d < D; d++) p[d] += x[(size_t)tk * D + d];
            float inv = 1.0f / (float)(T - pre);
            for (int d = 0; d < D; d++) p[d] *= inv;
        } else {
            memcpy(p, x, sizeof(float) * (size_t)D);
        }
    }
    if (!dist_avg) {
        if (c->fc_norm) ln_fwd(A->feat, A->fc_m, A->fc_r, A->pooled, &w->fc_norm, n, D, eps);
        else memcpy(A->feat, A->pooled, sizeof(float) * (size_t)n * D);
    }
    vt_linear(A->logits, A->feat, w->head.w, w->head.b, n, D, C);
    if (dist_avg) {
        vt_linear(A->logits2, A->feat2, w->head_dist.w, w->head_dist.b, n, D, C);
        if (!dist_targets)
            for (size_t i = 0; i < (size_t)n * C; i++) A->logits[i] = 0.5f * (A->logits[i] + A->logits2[i]);
    }
    double l_mean = labels ? vt_xent_forward_backward(A->dlogits, A->logits, labels, n, C, t->hp.label_smoothing)
                           : vt_xent_soft_forward_backward(A->dlogits, A->logits, targets, n, C);
    if (dist_targets) { /* DeiT: the class head learns the labels, the distillation head the teacher */
        l_mean = 0.5 * (l_mean + vt_xent_soft_forward_backward(A->dl2, A->logits2, dist_targets, n, C));
        for (size_t i = 0; i < (size_t)n * C; i++) A->logits[i] = 0.5f * (A->logits[i] + A->logits2[i]);
    }
    if (logits_out) memcpy(logits_out, A->logits, sizeof(float) * (size_t)n * C);
    if (loss) *loss = l_mean;

    /* ---- backward */
    zero_grads(t);
    if (dist_avg) {
        /* the averaged output (or the mean of the two losses) gives each head half the gradient */
        const float *dl2 = dist_targets ? A->dl2 : A->dlogits;
        for (size_t i = 0; i < (size_t)n * C; i++) A->dlogits[i] *= 0.5f;
        if (dist_targets)
            for (size_t i = 0; i < (size_t)n * C; i++) A->dl2[i] *= 0.5f;
        vt_linear_backward(A->dfeat, g->head.w, g->head.b, A->dlogits, A->feat, w->head.w, n, D, C, 0.0f);
        vt_linear_backward(A->dfeat2, g->head_dist.w, g->head_dist.b, dl2, A->feat2, w->head_dist.w, n, D, C, 0.0f);
    } else {
        vt_linear_backward(A->dfeat, g->head.w, g->head.b, A->dlogits, A->feat, w->head.w, n, D, C, 0.0f);
    }
    float *dxn = c->fc_norm ? A->dres : A->dtmp;
    memset(A->dres, 0, sizeof(float) * RD);
    memset(A->dtmp, 0, sizeof(float) * RD);
    const float *dpool = A->dfeat;
    if (!dist_avg && c->fc_norm) {
        memset(A->dpooled, 0, sizeof(float) * (size_t)n * D);
        vt_tr_layernorm_backward(A->dpooled, g->fc_norm.w, g->fc_norm.b, A->dfeat, A->pooled, w->fc_norm.w, A->fc_m,
                              A->fc_r, n, D);
        dpool = A->dpooled;
    }
    if (c->map_head) vt_map_backward(t->map, c, w, g, xn, dpool, n, T, dxn);
    for (int b = 0; b < n && !c->map_head; b++) {
        float *dx = dxn + (size_t)b * T * D;
        const float *dp = dpool + (size_t)b * D;
        if (dist_avg) {
            for (int d = 0; d < D; d++) dx[d] += dp[d];
            for (int d = 0; d < D; d++) dx[D + d] += A->dfeat2[(size_t)b * D + d];
        } else if (c->pool == VITC_POOL_AVG) {
            float inv = 1.0f / (float)(T - pre);
            for (int tk = pre; tk < T; tk++)
                for (int d = 0; d < D; d++) dx[(size_t)tk * D + d] += dp[d] * inv;
        } else {
            for (int d = 0; d < D; d++) dx[d] += dp[d];
        }
    }
    backbone_backward(t, n);
    return VITC_OK;
}

vitc_status vt_trainer_prepare(vt_trainer *t, int n) {
    vt_set_threads(t->threads);
    return ensure_acts(t, n);
}

const float *vt_trainer_backbone_forward(vt_trainer *t, const float *images, int n) {
    return backbone_forward(t, images, n);
}

float *vt_trainer_token_grad(vt_trainer *t, int n) {
    const vt_vit_config *c = &t->m->cfg;
    int gs = c->img_size / c->patch;
    size_t RD = (size_t)n * (gs * gs + vt_prefix_tokens(c) + c->det_tokens) * c->dim;
    zero_grads(t);
    memset(t->acts->dres, 0, sizeof(float) * RD);
    memset(t->acts->dtmp, 0, sizeof(float) * RD);
    return c->fc_norm ? t->acts->dres : t->acts->dtmp;
}

void vt_trainer_backbone_backward(vt_trainer *t, int n) { backbone_backward(t, n); }

vitc_status vt_trainer_forward_backward(vt_trainer *t, const float *images, const int *labels, int n, double *loss,
                                        float *logits_out) {
    if (!labels) return vt_error(VITC_ERR_ARG, "training step: no labels");
    return forward_backward(t, images, labels, NULL, NULL, n, loss, logits_out);
}

vitc_status vt_trainer_forward_backward_soft(vt_trainer *t, const float *images, const float *targets, int n,
                                             double *loss, float *logits_out) {
    if (!targets) return vt_error(VITC_ERR_ARG, "training step: no targets");
    return forward_backward(t, images, NULL, targets, NULL, n, loss, logits_out);
}

vitc_status vt_trainer_forward_backward_deit(vt_trainer *t, const float *images, const int *labels,
                                             const float *targets, const float *dist_targets, int n, double *loss,
                                             float *logits_out) {
    if (!labels == !targets || !dist_targets)
        return vt_error(VITC_ERR_ARG, "training step: labels or targets, and distillation targets, are needed");
    return forward_backward(t, images, labels, targets, dist_targets, n, loss, logits_out);
}

float vt_train_drop_scale(const vt_train_hparams *hp, int depth, int64_t step, int l, int branch, int b) {
    double rate = drop_rate(hp, depth, l);
    if (rate <= 0.0) return 1.0f;
    uint64_t z = hp->seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)step * 0xbf58476d1ce4e5b9ull;
    z ^= ((uint64_t)l << 40) ^ ((uint64_t)branch << 39) ^ (uint64_t)(unsigned)b;
    for (int r = 0; r < 2; r++) { /* splitmix64 finalizer, twice */
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
    }
    double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
    return u < rate ? 0.0f : (float)(1.0 / (1.0 - rate));
}

/* ---------------------------------------------------------------- optimizer */

double vt_trainer_grad_norm(const vt_trainer *t) {
    const vt_tr_kernels *k = vt_tr_kern();
    const float *gr = t->grad;
    int64_t n = t->numel, nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double *part = t->norm_parts;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (nb > 8)
    for (int64_t b = 0; b < nb; b++) {
        int64_t o = b * NORM_BLOCK;
        part[b] = k->sumsq(gr + o, (size_t)(n - o < NORM_BLOCK ? n - o : NORM_BLOCK));
    }
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    return sqrt(s);
}

/* elements of one parameter per work item in the update (elementwise: the split changes nothing) */
#define UPDATE_CHUNK 4096

void vt_trainer_update(vt_trainer *t) {
    vt_set_threads(t->threads);
    const vt_train_hparams *hp = &t->hp;
    const vt_tr_kernels *k = vt_tr_kern();
    double norm = vt_trainer_grad_norm(t);
    t->last_grad_norm = (float)norm;
    float gscale = 1.0f;
    if (hp->clip > 0.0f && norm > 0.0) {
        double coef = hp->clip / (norm + 1e-6);
        if (coef < 1.0) gscale = (float)coef;
    }
    float lr = vt_train_lr(hp, t->step);
    t->last_lr = lr;
    t->step++;
    double bc1 = 1.0 - pow(hp->beta1, (double)t->step), bc2 = 1.0 - pow(hp->beta2, (double)t->step);
    vt_adamw_coef co = {.gscale = gscale, .b1 = hp->beta1, .b2 = hp->beta2, .step_size = (float)(lr / bc1),
                        .bc2_sqrt = (float)sqrt(bc2), .eps = hp->eps};
    float *p = t->m->param_buf;
    /* one parallel region for all parameters (no barrier between them) */
#pragma omp parallel num_threads(vt_get_threads()) if (t->numel > 65536)
    for (int i = 0; i < t->n_params; i++) {
        /* CLIP's projection makes the embeddings, not the logits: the classifier's loss leaves it be
         * (no gradient reaches it, and weight decay alone would shrink it) */
        if (!strncmp(t->params[i].name, "embed_proj.", 11)) continue;
        int64_t off = t->offsets[i], cnt = t->params[i].numel, nc = (cnt + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
        vt_adamw_coef c = co;
        float scale = vt_train_lr_scale(t->params[i].name, t->m->cfg.depth, hp->layer_decay);
        if (scale != 1.0f) c.step_size = (float)(lr * scale / bc1);
        c.decay = t->params[i].no_decay ? 1.0f : 1.0f - lr * scale * hp->weight_decay;
#pragma omp for schedule(static) nowait
        for (int64_t j = 0; j < nc; j++) {
            int64_t o = off + j * UPDATE_CHUNK, len = cnt - j * UPDATE_CHUNK;
            k->adamw(p + o, t->adam_m + o, t->adam_v + o, t->grad + o,
                     (size_t)(len < UPDATE_CHUNK ? len : UPDATE_CHUNK), &c);
        }
    }
    if (t->ema) { /* elementwise: the same bits for any thread count */
        float d = vt_train_ema_decay(hp->ema_decay, t->step), w = 1.0f - d;
        float *e = t->ema;
        int64_t n = t->numel;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
        for (int64_t i = 0; i < n; i++) e[i] += w * (p[i] - e[i]);
    }
    /* parameters changed: packed weights and resampled position embeddings are stale */
    vt_model_weights_changed(t->m);
}

vitc_status vt_trainer_sam_ascend(vt_trainer *t, float rho) {
    if (!t->sam_w && !(t->sam_w = aligned_alloc(64, sizeof(float) * (size_t)t->numel)))
        return vt_error(VITC_ERR_NOMEM, "out of memory for SAM");
    vt_set_threads(t->threads);
    float *p = t->m->param_buf;
    const float *g = t->grad;
    memcpy(t->sam_w, p, sizeof(float) * (size_t)t->numel);
    float s = (float)(rho / (vt_trainer_grad_norm(t) + 1e-12));
    int64_t n = t->numel;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (int64_t i = 0; i < n; i++) p[i] += s * g[i];
    vt_model_weights_changed(t->m);
    return VITC_OK;
}

void vt_trainer_sam_descend(vt_trainer *t) {
    if (!t->sam_w) return;
    memcpy(t->m->param_buf, t->sam_w, sizeof(float) * (size_t)t->numel);
    vt_model_weights_changed(t->m);
}

float vt_train_ema_decay(float decay, int64_t step) {
    float warm = (float)((1.0 + (double)step) / (10.0 + (double)step));
    return warm < decay ? warm : decay;
}
