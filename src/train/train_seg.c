/* Training the segmentation heads on the backbone's final tokens: Segmenter's linear decoder and
 * its mask transformer, forward and backward side by side, the scores upsampled bilinearly to the
 * image and scored by a per-pixel cross-entropy. The backbone's own passes are train.c's. */
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "train/train_internal.h"
#include "train/train_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct dec_block_acts {
    float *ln1, *ln1_m, *ln1_r, *qkv, *att, *ao, *mid, *ln2, *ln2_m, *ln2_r, *hpre, *hact;
} dec_block_acts;

struct vt_seg_acts {
    int cap; /* the batch the buffers are sized for */
    float *buf;
    /* both decoders */
    float *pt, *sc, *grid, *up, *dup, *dgrid, *dsc, *dpt;
    /* mask transformer */
    float *pp, **xs, *yn, *yn_m, *yn_r, *yp, *yc, *a, *cv, *ra, *rc, *mraw, *m_m, *m_r;
    dec_block_acts *blk;
    float *dres, *dh, *dtmp, *dao, *dqkv, *dyn, *dmraw, *dan, *dcn, *dyp, *dyc, *dpp;
};

void vt_seg_acts_free(struct vt_seg_acts *s) {
    if (!s) return;
    free(s->buf);
    free(s->xs);
    free(s->blk);
    free(s);
}

typedef struct seg_dims {
    int n, gh, N, pre, T, D, C, E, Td, L, H;
    size_t HW;
} seg_dims;

static seg_dims dims_of(const vt_vit_config *c, int n) {
    seg_dims d;
    d.n = n;
    d.gh = c->img_size / c->patch;
    d.N = d.gh * d.gh;
    d.pre = vt_prefix_tokens(c);
    d.T = d.N + d.pre;
    d.D = c->dim;
    d.C = c->num_classes;
    d.E = c->seg_decoder == VT_SEG_MASK ? c->dec_dim : 0;
    d.L = c->seg_decoder == VT_SEG_MASK ? c->dec_depth : 0;
    d.Td = d.N + d.C;
    d.H = c->img_size;
    d.HW = (size_t)d.H * d.H;
    return d;
}

/* Carves the buffers out of one allocation (s->buf NULL: only counts). */
static size_t lay_out_seg(struct vt_seg_acts *s, const seg_dims *d, int mask) {
    size_t off = 0, n = (size_t)d->n, nN = n * d->N, E = (size_t)d->E, rows = n * d->Td, C = (size_t)d->C;
#define TAKE(ptr, count)                                                                                             \
    do {                                                                                                             \
        size_t k_ = ((size_t)(count) + 15) & ~(size_t)15;                                                            \
        if (s->buf) (ptr) = s->buf + off;                                                                            \
        off += k_ ? k_ : 16;                                                                                         \
    } while (0)
    TAKE(s->pt, nN * d->D);
    TAKE(s->sc, nN * C);
    TAKE(s->grid, nN * C);
    TAKE(s->up, n * C * d->HW);
    TAKE(s->dup, n * C * d->HW);
    TAKE(s->dgrid, nN * C);
    TAKE(s->dsc, nN * C);
    TAKE(s->dpt, nN * d->D);
    if (mask) {
        TAKE(s->pp, nN * E);
        for (int l = 0; l <= d->L; l++) TAKE(s->xs[l], rows * E);
        for (int l = 0; l < d->L; l++) {
            dec_block_acts *b = &s->blk[l]; /* att: ensure_seg_acts places it */
            TAKE(b->ln1, rows * E);
            TAKE(b->ln1_m, rows);
            TAKE(b->ln1_r, rows);
            TAKE(b->qkv, rows * 3 * E);
            TAKE(b->ao, rows * E);
            TAKE(b->mid, rows * E);
            TAKE(b->ln2, rows * E);
            TAKE(b->ln2_m, rows);
            TAKE(b->ln2_r, rows);
            TAKE(b->hpre, rows * 4 * E);
            TAKE(b->hact, rows * 4 * E);
        }
        TAKE(s->yn, rows * E);
        TAKE(s->yn_m, rows);
        TAKE(s->yn_r, rows);
        TAKE(s->yp, nN * E);
        TAKE(s->yc, n * C * E);
        TAKE(s->a, nN * E);
        TAKE(s->cv, n * C * E);
        TAKE(s->ra, nN);
        TAKE(s->rc, n * C);
        TAKE(s->mraw, nN * C);
        TAKE(s->m_m, nN);
        TAKE(s->m_r, nN);
        TAKE(s->dres, rows * E);
        TAKE(s->dh, rows * 4 * E);
        TAKE(s->dtmp, rows * E);
        TAKE(s->dao, rows * E);
        TAKE(s->dqkv, rows * 3 * E);
        TAKE(s->dyn, rows * E);
        TAKE(s->dmraw, nN * C);
        TAKE(s->dan, nN * E);
        TAKE(s->dcn, n * C * E);
        TAKE(s->dyp, nN * E);
        TAKE(s->dyc, n * C * E);
        TAKE(s->dpp, nN * E);
    }
#undef TAKE
    return off;
}

static vitc_status ensure_seg_acts(vt_trainer *t, int n) {
    const vt_vit_config *c = &t->m->cfg;
    struct vt_seg_acts *s = t->seg;
    if (s && s->cap >= n) return VITC_OK;
    if (!s && !(s = t->seg = calloc(1, sizeof *s))) return vt_error(VITC_ERR_NOMEM, "out of memory");
    int mask = c->seg_decoder == VT_SEG_MASK;
    seg_dims d = dims_of(c, n);
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
    if (mask && !s->xs) {
        s->xs = calloc((size_t)d.L + 1, sizeof *s->xs);
        s->blk = calloc((size_t)(d.L ? d.L : 1), sizeof *s->blk);
        if (!s->xs || !s->blk) return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    /* attention probabilities: n x heads x Td x Td per block, taken apart from the table above */
    size_t att = mask ? (size_t)n * c->dec_heads * d.Td * d.Td : 0, att_pad = (att + 15) & ~(size_t)15;
    size_t total = lay_out_seg(s, &d, mask) + (size_t)d.L * att_pad;
    s->buf = aligned_alloc(64, sizeof(float) * total);
    if (!s->buf)
        return vt_error(VITC_ERR_NOMEM, "out of memory for the segmentation head's activations (%.0f MB)",
                        (double)total * 4 / 1e6);
    size_t used = lay_out_seg(s, &d, mask);
    for (int l = 0; l < d.L; l++) s->blk[l].att = s->buf + used + (size_t)l * att_pad;
    s->cap = n;
    return VITC_OK;
}

/* ---------------------------------------------------------------- loss */

double vt_seg_xent_forward_backward(float *dlogits, const float *logits, const uint8_t *labels, int n, int C,
                                    size_t P, float eps, int64_t *counted) {
    int64_t count = 0;
    for (size_t i = 0; i < (size_t)n * P; i++) count += labels[i] != 255;
    if (counted) *counted = count;
    double inv = count ? 1.0 / (double)count : 0.0, total = 0.0;
    double *part = calloc((size_t)n, sizeof *part);
    float *mx = malloc(sizeof(float) * P * 2 * (size_t)n);
    if (!part || !mx) {
        free(part);
        free(mx);
        return NAN;
    }
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 1)
    for (int b = 0; b < n; b++) {
        const float *z = logits + (size_t)b * C * P;
        const uint8_t *y = labels + (size_t)b * P;
        float *m = mx + (size_t)b * 2 * P, *se = m + P, *dz = dlogits ? dlogits + (size_t)b * C * P : NULL;
        for (size_t p = 0; p < P; p++) m[p] = z[p];
        for (int k = 1; k < C; k++)
            for (size_t p = 0; p < P; p++) m[p] = z[(size_t)k * P + p] > m[p] ? z[(size_t)k * P + p] : m[p];
        for (size_t p = 0; p < P; p++) se[p] = 0.0f;
        for (int k = 0; k < C; k++)
            for (size_t p = 0; p < P; p++) se[p] += expf(z[(size_t)k * P + p] - m[p]);
        double sum = 0.0;
        for (size_t p = 0; p < P; p++) {
            if (y[p] == 255) continue;
            double lse = log((double)se[p]) + m[p], zs = 0.0;
            if (eps > 0.0f)
                for (int k = 0; k < C; k++) zs += z[(size_t)k * P + p];
            sum += lse - (1.0 - eps) * z[(size_t)y[p] * P + p] - (double)eps / C * zs;
        }
        part[b] = sum;
        if (!dz) continue;
        float on = (float)((1.0 - eps + (double)eps / C) * inv), off = (float)((double)eps / C * inv), fi = (float)inv;
        for (int k = 0; k < C; k++)
            for (size_t p = 0; p < P; p++) {
                size_t i = (size_t)k * P + p;
                if (y[p] == 255) {
                    dz[i] = 0.0f;
                    continue;
                }
                float prob = expf(z[i] - m[p]) / se[p];
                dz[i] = prob * fi - (y[p] == k ? on : off);
            }
    }
    for (int b = 0; b < n; b++) total += part[b];
    free(part);
    free(mx);
    return total * inv;
}

/* ---------------------------------------------------------------- heads */

/* Row r of each image's patch tokens <-> contiguous rows */
static void gather_patches(float *dst, const float *tok, const seg_dims *d) {
    for (int b = 0; b < d->n; b++)
        memcpy(dst + (size_t)b * d->N * d->D, tok + ((size_t)b * d->T + d->pre) * d->D,
               sizeof(float) * (size_t)d->N * d->D);
}

/* n x N x C rows <-> n x C x N planes */
static void rows_to_planes(float *planes, const float *rows, const seg_dims *d) {
    for (int b = 0; b < d->n; b++)
        for (int p = 0; p < d->N; p++)
            for (int k = 0; k < d->C; k++)
                planes[((size_t)b * d->C + k) * d->N + p] = rows[((size_t)b * d->N + p) * d->C + k];
}
static void planes_to_rows(float *rows, const float *planes, const seg_dims *d) {
    for (int b = 0; b < d->n; b++)
        for (int p = 0; p < d->N; p++)
            for (int k = 0; k < d->C; k++)
                rows[((size_t)b * d->N + p) * d->C + k] = planes[((size_t)b * d->C + k) * d->N + p];
}

static vt_tr_block dec_block(vt_trainer *t, int l, const seg_dims *d) {
    const vt_vit_config *c = &t->m->cfg;
    const vt_block_w *bw = &t->m->w.dec_blocks[l];
    vt_block_w *gw = &t->g.dec_blocks[l];
    struct vt_seg_acts *s = t->seg;
    dec_block_acts *B = &s->blk[l];
    vt_tr_block p = {0};
    p.n = d->n, p.T = d->Td, p.D = d->E, p.heads = c->dec_heads, p.Hm = 4 * d->E, p.eps = c->ln_eps;
    vt_tr_block_bind(&p, bw, gw, 1);
    p.x = s->xs[l], p.out = s->xs[l + 1];
    p.ln1 = B->ln1, p.ln1_m = B->ln1_m, p.ln1_r = B->ln1_r, p.qkv = B->qkv, p.att = B->att, p.ao = B->ao;
    p.mid = B->mid, p.ln2 = B->ln2, p.ln2_m = B->ln2_m, p.ln2_r = B->ln2_r, p.hpre = B->hpre, p.hact = B->hact;
    p.dh = s->dh, p.dtmp = s->dtmp, p.dao = s->dao, p.dqkv = s->dqkv;
    return p;
}

/* rows of E: x *= 1 / |x| (kept in r), a zero row left as it is */
static void l2_rows_forward(float *x, float *r, int rows, int E) {
    for (int i = 0; i < rows; i++) {
        float *v = x + (size_t)i * E;
        double ss = 0.0;
        for (int k = 0; k < E; k++) ss += (double)v[k] * v[k];
        float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 1.0f;
        r[i] = inv;
        for (int k = 0; k < E; k++) v[k] *= inv;
    }
}
/* y = x r: dx = r (dy - y (y . dy)), in place over dy */
static void l2_rows_backward(float *dy, const float *y, const float *r, int rows, int E) {
    for (int i = 0; i < rows; i++) {
        float *g = dy + (size_t)i * E;
        const float *v = y + (size_t)i * E;
        double dot = 0.0;
        for (int k = 0; k < E; k++) dot += (double)v[k] * g[k];
        for (int k = 0; k < E; k++) g[k] = r[i] * (g[k] - (float)dot * v[k]);
    }
}

/* The mask transformer's scores (n x N x C rows, into s->sc) from the patch tokens s->pt. */
static void mask_forward(vt_trainer *t, const seg_dims *d) {
    const vt_vit_config *c = &t->m->cfg;
    const vt_vit_weights *w = &t->m->w;
    struct vt_seg_acts *s = t->seg;
    int n = d->n, N = d->N, C = d->C, E = d->E, Td = d->Td, rows = n * Td;
    vt_tr_linear_forward(s->pp, s->pt, w->dec_proj.w, w->dec_proj.b, n * N, d->D, E);
    for (int b = 0; b < n; b++) { /* [projected patches, class embeddings] */
        memcpy(s->xs[0] + (size_t)b * Td * E, s->pp + (size_t)b * N * E, sizeof(float) * (size_t)N * E);
        memcpy(s->xs[0] + ((size_t)b * Td + N) * E, w->cls_emb, sizeof(float) * (size_t)C * E);
    }
    for (int l = 0; l < d->L; l++) {
        vt_tr_block p = dec_block(t, l, d);
        vt_tr_block_forward(&p);
    }
    vt_tr_layernorm_forward(s->yn, s->yn_m, s->yn_r, s->xs[d->L], w->dec_norm.w, w->dec_norm.b, rows, E, c->ln_eps);
    for (int b = 0; b < n; b++) {
        memcpy(s->yp + (size_t)b * N * E, s->yn + (size_t)b * Td * E, sizeof(float) * (size_t)N * E);
        memcpy(s->yc + (size_t)b * C * E, s->yn + ((size_t)b * Td + N) * E, sizeof(float) * (size_t)C * E);
    }
    vt_tr_linear_forward(s->a, s->yp, w->proj_patch.w, NULL, n * N, E, E);
    vt_tr_linear_forward(s->cv, s->yc, w->proj_classes.w, NULL, n * C, E, E);
    l2_rows_forward(s->a, s->ra, n * N, E);
    l2_rows_forward(s->cv, s->rc, n * C, E);
    for (int b = 0; b < n; b++) /* masks = patches . classes^T */
        vt_tr_linear_forward(s->mraw + (size_t)b * N * C, s->a + (size_t)b * N * E, s->cv + (size_t)b * C * E, NULL,
                             N, E, C);
    vt_tr_layernorm_forward(s->sc, s->m_m, s->m_r, s->mraw, w->mask_norm.w, w->mask_norm.b, n * N, C, c->ln_eps);
}

/* From d scores (s->dsc) to d patch tokens (s->dpt); parameter gradients accumulate. */
static void mask_backward(vt_trainer *t, const seg_dims *d) {
    const vt_vit_weights *w = &t->m->w;
    vt_vit_weights *g = &t->g;
    struct vt_seg_acts *s = t->seg;
    int n = d->n, N = d->N, C = d->C, E = d->E, Td = d->Td, rows = n * Td;
    memset(s->dmraw, 0, sizeof(float) * (size_t)n * N * C);
    vt_tr_layernorm_backward(s->dmraw, g->mask_norm.w, g->mask_norm.b, s->dsc, s->mraw, w->mask_norm.w, s->m_m, s->m_r,
                             n * N, C);
    memset(s->dcn, 0, sizeof(float) * (size_t)n * C * E);
    for (int b = 0; b < n; b++) /* mraw_b = an_b cn_b^T */
        vt_tr_linear_backward(s->dan + (size_t)b * N * E, s->dcn + (size_t)b * C * E, NULL, s->dmraw + (size_t)b * N * C,
                              s->a + (size_t)b * N * E, s->cv + (size_t)b * C * E, N, E, C, 0.0f);
    l2_rows_backward(s->dan, s->a, s->ra, n * N, E);
    l2_rows_backward(s->dcn, s->cv, s->rc, n * C, E);
    vt_tr_linear_backward(s->dyp, g->proj_patch.w, NULL, s->dan, s->yp, w->proj_patch.w, n * N, E, E, 0.0f);
    vt_tr_linear_backward(s->dyc, g->proj_classes.w, NULL, s->dcn, s->yc, w->proj_classes.w, n * C, E, E, 0.0f);
    for (int b = 0; b < n; b++) {
        memcpy(s->dyn + (size_t)b * Td * E, s->dyp + (size_t)b * N * E, sizeof(float) * (size_t)N * E);
        memcpy(s->dyn + ((size_t)b * Td + N) * E, s->dyc + (size_t)b * C * E, sizeof(float) * (size_t)C * E);
    }
    memset(s->dres, 0, sizeof(float) * (size_t)rows * E);
    vt_tr_layernorm_backward(s->dres, g->dec_norm.w, g->dec_norm.b, s->dyn, s->xs[d->L], w->dec_norm.w, s->yn_m, s->yn_r,
                             rows, E);
    for (int l = d->L - 1; l >= 0; l--) {
        vt_tr_block p = dec_block(t, l, d);
        vt_tr_block_backward(&p, s->dres);
    }
    for (int b = 0; b < n; b++) {
        const float *db = s->dres + (size_t)b * Td * E;
        memcpy(s->dpp + (size_t)b * N * E, db, sizeof(float) * (size_t)N * E);
        for (size_t i = 0; i < (size_t)C * E; i++) g->cls_emb[i] += db[(size_t)N * E + i];
    }
    vt_tr_linear_backward(s->dpt, g->dec_proj.w, g->dec_proj.b, s->dpp, s->pt, w->dec_proj.w, n * N, d->D, E, 0.0f);
}

vitc_status vt_trainer_forward_backward_seg(vt_trainer *t, const float *images, const uint8_t *masks, int n,
                                            double *loss, float *seg_logits) {
    const vt_vit_config *c = &t->m->cfg;
    const vt_vit_weights *w = &t->m->w;
    vt_vit_weights *g = &t->g;
    if (c->task != VT_TASK_SEGMENT) return vt_error(VITC_ERR_ARG, "training step: masks for a classification model");
    if (n <= 0 || !images || !masks) return vt_error(VITC_ERR_ARG, "training step: empty batch");
    seg_dims d = dims_of(c, n);
    for (size_t i = 0; i < (size_t)n * d.HW; i++)
        if (masks[i] != 255 && masks[i] >= d.C)
            return vt_error(VITC_ERR_ARG, "training step: mask value %d outside 0..%d (or 255, ignored)", masks[i],
                            d.C - 1);
    vitc_status st = vt_trainer_prepare(t, n);
    if (!st) st = ensure_seg_acts(t, n);
    if (st) return st;
    struct vt_seg_acts *s = t->seg;
    int mask = c->seg_decoder == VT_SEG_MASK, nN = n * d.N;
    double sy = (double)d.gh / d.H;

    const float *tok = vt_trainer_backbone_forward(t, images, n);
    gather_patches(s->pt, tok, &d);
    if (mask) mask_forward(t, &d);
    else vt_tr_linear_forward(s->sc, s->pt, w->seg_head.w, w->seg_head.b, nN, d.D, d.C);
    rows_to_planes(s->grid, s->sc, &d);
    vt_bilinear_planes(s->up, s->grid, n * d.C, d.gh, d.gh, d.H, d.H, sy, 0.0, sy, 0.0);
    double l = vt_seg_xent_forward_backward(s->dup, s->up, masks, n, d.C, d.HW, t->hp.label_smoothing, NULL);
    if (isnan(l)) return vt_error(VITC_ERR_NOMEM, "out of memory for the segmentation loss");
    if (loss) *loss = l;
    if (seg_logits) memcpy(seg_logits, s->up, sizeof(float) * (size_t)n * d.C * d.HW);

    /* ---- backward */
    float *dtok = vt_trainer_token_grad(t, n);
    memset(s->dgrid, 0, sizeof(float) * (size_t)nN * d.C);
    vt_bilinear_planes_backward(s->dgrid, s->dup, n * d.C, d.gh, d.gh, d.H, d.H, sy, 0.0, sy, 0.0);
    planes_to_rows(s->dsc, s->dgrid, &d);
    if (mask) mask_backward(t, &d);
    else vt_tr_linear_backward(s->dpt, g->seg_head.w, g->seg_head.b, s->dsc, s->pt, w->seg_head.w, nN, d.D, d.C, 0.0f);
    for (int b = 0; b < n; b++)
        memcpy(dtok + ((size_t)b * d.T + d.pre) * d.D, s->dpt + (size_t)b * d.N * d.D, sizeof(float) * (size_t)d.N * d.D);
    vt_trainer_backbone_backward(t, n);
    return VITC_OK;
}
