/* A whole transformer block's training forward and backward in a few OpenMP work-sharing loops
 * (train_ops.h: vt_tr_block_forward / vt_tr_block_backward).
 *
 * Everything in a block but the weight gradients is local to an image: LayerNorm, the Linear
 * layers and GELU act on each token, attention on each image. The forward is therefore one loop
 * over groups of images, each running the whole block (LN1, qkv, attention, proj + residual, LN2,
 * fc1 + GELU, fc2 + residual) on its own rows while they are in cache; the backward is four loops
 * (fc2 + GELU', fc1 + LN2', proj + attention', qkv + LN1'), each handing out the weight-gradient
 * GEMM (split by rows of dW) beside the per-group input-gradient work. Against one parallel region
 * per operation (about 25 per block) this has 5 barriers per block, which matters most when the
 * machine has other load: a waking thread may wait for a core at every region.
 *
 * Determinism: each output element is summed by one task in a fixed order, and the reductions
 * over rows (biases, LayerNorm parameters) go through per-group partial sums added in group order,
 * so the results depend neither on the thread count nor on which thread took which task. */
#include "train/train_ops.h"
#include "kernels/kernels.h"
#include "train/train_ops_impl.h"

#include <math.h>
#include <string.h>

/* Images per task: about 96 rows or more (the GEMMs' register block is 6 rows). */
static int group_of(int T) {
    int g = (96 + T - 1) / T;
    return g < 1 ? 1 : g;
}

/* Rows of dW per weight-gradient task: two tasks per thread, in multiples of 6. */
static int dw_rows(int n_out, int nt) {
    int r = (n_out + 2 * nt - 1) / (2 * nt);
    r = (r + 5) / 6 * 6;
    return r < 6 ? 6 : r;
}

/* Drop path: y = base + s_b * y over the T x D rows of each of nb images. */
static void add_scaled_branch(float *y, const float *base, const float *s, int nb, int T, int D) {
    for (int b = 0; b < nb; b++)
        for (size_t i = (size_t)b * T * D; i < (size_t)(b + 1) * T * D; i++) y[i] = base[i] + s[b] * y[i];
}

void vt_tr_scale_rows(float *dst, const float *src, const float *s, int b0, int b1, int T, int D) {
    for (int b = b0; b < b1; b++)
        for (size_t i = (size_t)b * T * D; i < (size_t)(b + 1) * T * D; i++) dst[i] = s[b] * src[i];
}

/* Rows of a weight per transpose task (the forward transposes every weight once per step). */
#define TR_ROWS 32

void vt_tr_block_forward(const vt_tr_block *p) {
    const vt_tr_kernels *k = vt_tr_kern();
    const int n = p->n, T = p->T, D = p->D, Hm = p->Hm, H = p->heads, hd = D / H, D3 = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd), eps = p->eps;
    size_t nq = (size_t)D3 * D, npj = (size_t)D * D, n1 = (size_t)Hm * D;
    float *qt = vt_tr_scratch2(nq + npj + 2 * n1); /* W^T of qkv, proj, fc1, fc2: B operands read by rows */
    float *pt = qt + nq, *f1t = pt + npj, *f2t = f1t + n1;
    const int G = group_of(T), ntask = (n + G - 1) / G;
    /* W (N x K) -> W^T (K x N) for qkv, proj, fc1, fc2, in tasks of TR_ROWS rows of W */
    const float *src[4] = {p->qkv_w, p->proj_w, p->fc1_w, p->fc2_w};
    float *dst[4] = {qt, pt, f1t, f2t};
    const int wn[4] = {D3, D, Hm, D}, wk[4] = {D, D, D, Hm};
    int first[5] = {0};
    for (int w = 0; w < 4; w++) first[w + 1] = first[w] + (wn[w] + TR_ROWS - 1) / TR_ROWS;
    /* the kernels' own form of each W^T when they have one (bf16 pairs), made once for all groups */
    const uint32_t *pre[4] = {NULL, NULL, NULL, NULL};
    size_t pw[4], ptot = 0;
    for (int w = 0; w < 4; w++) ptot += pw[w] = k->prep_size(wk[w], wn[w]);
    uint32_t *pbuf = ptot ? vt_tr_scratch_words(ptot) : NULL;
    for (size_t w = 0, o = 0; pbuf && w < 4; o += pw[w], w++) pre[w] = pbuf + o;
#pragma omp parallel num_threads(vt_get_threads())
    {
#pragma omp for schedule(static)
        for (int t = 0; t < first[4]; t++) {
            int w = t >= first[3] ? 3 : t >= first[2] ? 2 : t >= first[1] ? 1 : 0, r0 = (t - first[w]) * TR_ROWS;
            int nr = wn[w] - r0 < TR_ROWS ? wn[w] - r0 : TR_ROWS;
            k->transpose(dst[w] + r0, (size_t)wn[w], src[w] + (size_t)r0 * wk[w], (size_t)wk[w], nr, wk[w]);
        }
        if (pbuf) {
#pragma omp for schedule(dynamic, 1)
            for (int w = 0; w < 4; w++) k->prep_b((uint32_t *)pre[w], dst[w], (size_t)wn[w], wk[w], wn[w]);
        }
        float *s = vt_tr_scratch((size_t)hd * T + 64);
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < ntask; t++) {
            int b0 = t * G, nb = n - b0 < G ? n - b0 : G, R = nb * T;
            size_t r0 = (size_t)b0 * T, oD = r0 * D;
            k->ln_fwd(p->ln1 + oD, p->ln1_m + r0, p->ln1_r + r0, p->x + oD, p->ln1_w, p->ln1_b, R, D, eps);
            k->gemm_pre(R, D3, D, 1.0f, p->ln1 + oD, (size_t)D, 1, qt, (size_t)D3, pre[0], p->qkv + r0 * D3, (size_t)D3,
                        NULL, p->qkv_b, NULL);
            for (int b = b0; b < b0 + nb; b++)
                for (int h = 0; h < H; h++) {
                    const float *q = p->qkv + (size_t)b * T * D3 + (size_t)h * hd;
                    k->att_fwd(q, q + D, q + 2 * D, D3, p->att + ((size_t)b * H + h) * T * T,
                               p->ao + (size_t)b * T * D + (size_t)h * hd, D, T, hd, scale, s);
                }
            /* mid = x + proj(ao) in the GEMM's store, or with drop path x + s_b proj(ao) after it */
            k->gemm_pre(R, D, D, 1.0f, p->ao + oD, (size_t)D, 1, pt, (size_t)D, pre[1], p->mid + oD, (size_t)D,
                        p->drop1 ? NULL : p->x + oD, p->proj_b, NULL);
            if (p->drop1) add_scaled_branch(p->mid + oD, p->x + oD, p->drop1 + b0, nb, T, D);
            k->ln_fwd(p->ln2 + oD, p->ln2_m + r0, p->ln2_r + r0, p->mid + oD, p->ln2_w, p->ln2_b, R, D, eps);
            k->gemm_pre(R, Hm, D, 1.0f, p->ln2 + oD, (size_t)D, 1, f1t, (size_t)Hm, pre[2], p->hpre + r0 * Hm,
                        (size_t)Hm, NULL, p->fc1_b, p->hact + r0 * Hm);
            k->gemm_pre(R, D, Hm, 1.0f, p->hact + r0 * Hm, (size_t)Hm, 1, f2t, (size_t)D, pre[3], p->out + oD,
                        (size_t)D, p->drop2 ? NULL : p->mid + oD, p->fc2_b, NULL);
            if (p->drop2) add_scaled_branch(p->out + oD, p->mid + oD, p->drop2 + b0, nb, T, D);
        }
    }
}

/* Weight-gradient task c of dW[n_out x k_in] += dY^T X over all rows (dY: rows x n_out, X: rows x k_in). */
static void dw_task(const vt_tr_kernels *k, int c, int cr, int n_out, int k_in, int rows, const float *dY,
                    const float *X, const uint32_t *preX, float *dW) {
    int lo = c * cr, hi = lo + cr < n_out ? lo + cr : n_out;
    if (hi <= lo) return;
    float *C = dW + (size_t)lo * k_in;
    k->gemm_pre(hi - lo, k_in, rows, 1.0f, dY + lo, 1, (size_t)n_out, X, (size_t)k_in, preX, C, (size_t)k_in, C, NULL,
                NULL);
}

/* The input gradient through a Linear (W: N x D) that follows a LayerNorm, for R rows:
 * dtmp = dy W, then dres += LN'(dtmp) with the LayerNorm's weight/bias gradients added to dln[0, 2D). */
static void linear_ln_bwd(const vt_tr_kernels *k, int R, int D, int N, const float *dy, const float *W,
                          const uint32_t *pre, float *dtmp, float *dres, float *dln, const float *x, const float *ln_w,
                          const float *mean, const float *rstd) {
    k->gemm_pre(R, D, N, 1.0f, dy, (size_t)N, 1, W, (size_t)D, pre, dtmp, (size_t)D, NULL, NULL, NULL);
    k->ln_bwd(dres, dln, dln + D, dtmp, x, ln_w, mean, rstd, R, D);
}

static void add_parts(float *dst, const float *part, int ntask, int stride, int n) {
    if (!dst) return;
    for (int t = 0; t < ntask; t++)
        for (int j = 0; j < n; j++) dst[j] += part[(size_t)t * stride + j];
}

void vt_tr_block_backward(const vt_tr_block *p, float *dres) {
    const vt_tr_kernels *k = vt_tr_kern();
    const int n = p->n, T = p->T, D = p->D, Hm = p->Hm, H = p->heads, hd = D / H, D3 = 3 * D, rows = n * T;
    const float scale = 1.0f / sqrtf((float)hd);
    const int G = group_of(T), ntask = (n + G - 1) / G, nt = vt_get_threads();
    /* per-group partial sums: fc2.b, fc1.b, norm2.w|b, proj.b, qkv.b, norm1.w|b */
    const int stride = D + Hm + 2 * D + D + D3 + 2 * D;
    float *part = vt_tr_scratch2((size_t)ntask * stride);
    memset(part, 0, sizeof(float) * (size_t)ntask * stride);
    const int o_b2 = 0, o_b1 = D, o_n2 = D + Hm, o_bp = 3 * D + Hm, o_bq = 4 * D + Hm, o_n1 = 7 * D + Hm;
    const int c2 = dw_rows(D, nt), c1 = dw_rows(Hm, nt), cq = dw_rows(D3, nt);
    const int n2 = (D + c2 - 1) / c2, n1 = (Hm + c1 - 1) / c1, nq = (D3 + cq - 1) / cq;
    /* B operands prepared once when the kernels have a form of their own: for the input gradients
     * the weights themselves (K x N = out x in), for the weight gradients the layers' inputs
     * (rows x in), which every weight-gradient task of a layer reads whole */
    const float *wsrc[8] = {p->fc2_w, p->fc1_w, p->proj_w, p->qkv_w, p->hact, p->ln2, p->ao, p->ln1};
    const int wk[8] = {D, Hm, D, D3, rows, rows, rows, rows}, wn[8] = {Hm, D, D, D, Hm, D, D, D};
    const uint32_t *pre[8] = {NULL};
    size_t pw[8], ptot = 0;
    for (int w = 0; w < 8; w++) ptot += pw[w] = k->prep_size(wk[w], wn[w]);
    uint32_t *pbuf = ptot ? vt_tr_scratch_words(ptot) : NULL;
    for (size_t w = 0, o = 0; pbuf && w < 8; o += pw[w], w++) pre[w] = pbuf + o;
    /* the gradients reaching the branches' outputs: dres itself, or with drop path s_b dres, held
     * in dtmp (free while the fc2 and proj loops run: the LayerNorm loops use it as scratch) */
    const float *dy2 = p->drop2 ? p->dtmp : dres, *dy1 = p->drop1 ? p->dtmp : dres;
#pragma omp parallel num_threads(nt)
    {
        float *s = vt_tr_scratch((size_t)T * T + (size_t)hd * T + 64);
        if (pbuf) {
#pragma omp for schedule(dynamic, 1)
            for (int w = 0; w < 8; w++) k->prep_b((uint32_t *)pre[w], wsrc[w], (size_t)wn[w], wk[w], wn[w]);
        }
        if (p->drop2) {
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++) vt_tr_scale_rows(p->dtmp, dres, p->drop2, b, b + 1, T, D);
        }
        /* fc2 (dy2 = dL/d y2) and GELU': dh = (dy2 W2) * gelu'(hpre) */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < n2 + ntask; t++) {
            if (t < n2) {
                dw_task(k, t, c2, D, Hm, rows, dy2, p->hact, pre[4], p->g_fc2_w);
                continue;
            }
            int g = t - n2, b0 = g * G, R = (n - b0 < G ? n - b0 : G) * T;
            size_t r0 = (size_t)b0 * T;
            float *pg = part + (size_t)g * stride;
            k->gemm_pre(R, Hm, D, 1.0f, dy2 + r0 * D, (size_t)D, 1, p->fc2_w, (size_t)Hm, pre[0], p->dh + r0 * Hm,
                        (size_t)Hm, NULL, NULL, NULL);
            k->gelu_bwd(p->dh + r0 * Hm, p->hpre + r0 * Hm, p->dh + r0 * Hm, R, Hm, pg + o_b1);
            k->colsum(pg + o_b2, dy2 + r0 * D, R, D);
        }
        /* fc1 and LN2: dres += LN2'(dh W1) */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < n1 + ntask; t++) {
            if (t < n1) {
                dw_task(k, t, c1, Hm, D, rows, p->dh, p->ln2, pre[5], p->g_fc1_w);
                continue;
            }
            int g = t - n1, b0 = g * G, R = (n - b0 < G ? n - b0 : G) * T;
            size_t r0 = (size_t)b0 * T, oD = r0 * D;
            float *pg = part + (size_t)g * stride;
            linear_ln_bwd(k, R, D, Hm, p->dh + r0 * Hm, p->fc1_w, pre[1], p->dtmp + oD, dres + oD, pg + o_n2,
                          p->mid + oD, p->ln2_w, p->ln2_m + r0, p->ln2_r + r0);
        }
        if (p->drop1) { /* dres is now dL/d mid */
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++) vt_tr_scale_rows(p->dtmp, dres, p->drop1, b, b + 1, T, D);
        }
        /* proj and attention: dao = dy1 Wp, then dqkv per image and head */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < n2 + ntask; t++) {
            if (t < n2) {
                dw_task(k, t, c2, D, D, rows, dy1, p->ao, pre[6], p->g_proj_w);
                continue;
            }
            int g = t - n2, b0 = g * G, nb = n - b0 < G ? n - b0 : G, R = nb * T;
            size_t r0 = (size_t)b0 * T, oD = r0 * D;
            float *pg = part + (size_t)g * stride;
            k->gemm_pre(R, D, D, 1.0f, dy1 + oD, (size_t)D, 1, p->proj_w, (size_t)D, pre[2], p->dao + oD, (size_t)D,
                        NULL, NULL, NULL);
            k->colsum(pg + o_bp, dy1 + oD, R, D);
            for (int b = b0; b < b0 + nb; b++)
                for (int h = 0; h < H; h++) {
                    size_t o = (size_t)b * T * D3 + (size_t)h * hd;
                    k->att_bwd(p->dqkv + o, p->dqkv + o + D, p->dqkv + o + 2 * D, p->qkv + o, p->qkv + o + D,
                               p->qkv + o + 2 * D, D3, p->att + ((size_t)b * H + h) * T * T,
                               p->dao + (size_t)b * T * D + (size_t)h * hd, D, T, hd, scale, s);
                }
        }
        /* qkv and LN1: dres += LN1'(dqkv Wqkv) */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < nq + ntask; t++) {
            if (t < nq) {
                dw_task(k, t, cq, D3, D, rows, p->dqkv, p->ln1, pre[7], p->g_qkv_w);
                continue;
            }
            int g = t - nq, b0 = g * G, R = (n - b0 < G ? n - b0 : G) * T;
            size_t r0 = (size_t)b0 * T, oD = r0 * D;
            float *pg = part + (size_t)g * stride;
            if (p->g_qkv_b) k->colsum(pg + o_bq, p->dqkv + r0 * D3, R, D3);
            linear_ln_bwd(k, R, D, D3, p->dqkv + r0 * D3, p->qkv_w, pre[3], p->dtmp + oD, dres + oD, pg + o_n1,
                          p->x + oD, p->ln1_w, p->ln1_m + r0, p->ln1_r + r0);
        }
    }
    add_parts(p->g_fc2_b, part + o_b2, ntask, stride, D);
    add_parts(p->g_fc1_b, part + o_b1, ntask, stride, Hm);
    add_parts(p->g_ln2_w, part + o_n2, ntask, stride, D);
    add_parts(p->g_ln2_b, part + o_n2 + D, ntask, stride, D);
    add_parts(p->g_proj_b, part + o_bp, ntask, stride, D);
    add_parts(p->g_qkv_b, part + o_bq, ntask, stride, D3);
    add_parts(p->g_ln1_w, part + o_n1, ntask, stride, D);
    add_parts(p->g_ln1_b, part + o_n1 + D, ntask, stride, D);
}
