/* Training forward and backward of SigLIP's attention-pooling head (model/vit.c map_pool is the
 * inference forward; this one computes the same numbers and keeps what the backward needs): a
 * learned probe is the one query of a multi-head attention over the n x T final tokens (in_proj's
 * q | k | v rows, out_proj), then pooled = a + MLP(LayerNorm(a)). Plain loops and vt_linear /
 * vt_linear_backward: the head is one query per image, small beside the blocks. */
#include "train/train_internal.h"
#include "core/error.h"
#include "model/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vt_map_acts {
    int n, T;                  /* the batch and tokens the buffers hold */
    float *q, *kv, *p, *ab, *a, *ln, *ln_m, *ln_r, *hpre, *hact;
    float *dq, *dkv, *dab, *da, *dln, *dh;
};

void vt_map_acts_free(vt_map_acts *A) {
    if (!A) return;
    float **bufs[] = {&A->q, &A->kv, &A->p, &A->ab, &A->a, &A->ln, &A->ln_m, &A->ln_r, &A->hpre, &A->hact,
                      &A->dq, &A->dkv, &A->dab, &A->da, &A->dln, &A->dh};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    free(A);
}

vitc_status vt_map_acts_ensure(vt_map_acts **pa, const vt_vit_config *c, int n, int T) {
    vt_map_acts *A = *pa;
    if (A && A->n >= n && A->T == T) return VITC_OK;
    vt_map_acts_free(A);
    *pa = A = calloc(1, sizeof *A);
    if (!A) return vt_error(VITC_ERR_NOMEM, "out of memory for the attention-pooling head");
    size_t D = (size_t)c->dim, H = (size_t)c->mlp_dim, rows = (size_t)n * T;
    struct { float **slot; size_t n; } want[] = {
        {&A->q, D}, {&A->kv, rows * 2 * D}, {&A->p, (size_t)n * c->heads * T}, {&A->ab, n * D}, {&A->a, n * D},
        {&A->ln, n * D}, {&A->ln_m, (size_t)n}, {&A->ln_r, (size_t)n}, {&A->hpre, n * H}, {&A->hact, n * H},
        {&A->dq, D}, {&A->dkv, rows * 2 * D}, {&A->dab, n * D}, {&A->da, n * D}, {&A->dln, n * D}, {&A->dh, n * H}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!(*want[i].slot = malloc(sizeof(float) * want[i].n))) {
            vt_map_acts_free(A);
            *pa = NULL;
            return vt_error(VITC_ERR_NOMEM, "out of memory for the attention-pooling head");
        }
    A->n = n, A->T = T;
    return VITC_OK;
}

static void act_forward(const vt_vit_config *c, float *out, const float *in, size_t n) {
    if (c->act == VT_ACT_GELU_TANH) vt_gelu_tanh_forward(out, in, n);
    else if (c->act == VT_ACT_QUICK_GELU) vt_quick_gelu_forward(out, in, n);
    else vt_gelu_forward(out, in, n);
}

static void act_backward(const vt_vit_config *c, float *d, const float *in, size_t n) {
    if (c->act == VT_ACT_GELU_TANH) vt_gelu_tanh_backward(d, in, d, n);
    else if (c->act == VT_ACT_QUICK_GELU) vt_quick_gelu_backward(d, in, d, n);
    else vt_gelu_backward(d, in, d, n);
}

void vt_map_forward(vt_map_acts *A, const vt_vit_config *c, const vt_vit_weights *w, const float *xn, int n, int T,
                    float *pooled) {
    int D = c->dim, heads = c->heads, hd = D / heads, H = c->mlp_dim;
    float scale = 1.0f / sqrtf((float)hd);
    vt_linear(A->q, w->map_probe, w->map_in.w, w->map_in.b, 1, D, D);
    vt_linear(A->kv, xn, w->map_in.w + (size_t)D * D, w->map_in.b + D, n * T, D, 2 * D);
    for (int b = 0; b < n; b++)
        for (int h = 0; h < heads; h++) { /* as map_pool: float scores, the sum in double */
            const float *qh = A->q + h * hd;
            float *p = A->p + ((size_t)b * heads + h) * T, *o = A->ab + (size_t)b * D + h * hd;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t < T; t++) {
                const float *k = A->kv + ((size_t)b * T + t) * 2 * D + h * hd;
                float s = 0.0f;
                for (int d = 0; d < hd; d++) s += qh[d] * k[d];
                p[t] = s * scale;
                if (p[t] > mx) mx = p[t];
            }
            for (int t = 0; t < T; t++) sum += (p[t] = expf(p[t] - (float)mx));
            for (int d = 0; d < hd; d++) o[d] = 0.0f;
            for (int t = 0; t < T; t++) {
                const float *v = A->kv + ((size_t)b * T + t) * 2 * D + D + h * hd;
                float pt = p[t] = (float)(p[t] / sum);
                for (int d = 0; d < hd; d++) o[d] += pt * v[d];
            }
        }
    vt_linear(A->a, A->ab, w->map_out.w, w->map_out.b, n, D, D);
    vt_layernorm_forward(A->ln, A->ln_m, A->ln_r, A->a, w->map_norm.w, w->map_norm.b, n, D, c->ln_eps);
    vt_linear(A->hpre, A->ln, w->map_fc1.w, w->map_fc1.b, n, D, H);
    act_forward(c, A->hact, A->hpre, (size_t)n * H);
    vt_linear(pooled, A->hact, w->map_fc2.w, w->map_fc2.b, n, H, D);
    for (size_t i = 0; i < (size_t)n * D; i++) pooled[i] += A->a[i];
}

void vt_map_backward(vt_map_acts *A, const vt_vit_config *c, const vt_vit_weights *w, vt_vit_weights *g,
                     const float *xn, const float *dpooled, int n, int T, float *dxn) {
    int D = c->dim, heads = c->heads, hd = D / heads, H = c->mlp_dim;
    float scale = 1.0f / sqrtf((float)hd);
    size_t nD = (size_t)n * D;
    /* pooled = a + fc2(act(fc1(LN(a)))) */
    vt_linear_backward(A->dh, g->map_fc2.w, g->map_fc2.b, dpooled, A->hact, w->map_fc2.w, n, H, D, 0.0f);
    act_backward(c, A->dh, A->hpre, (size_t)n * H);
    vt_linear_backward(A->dln, g->map_fc1.w, g->map_fc1.b, A->dh, A->ln, w->map_fc1.w, n, D, H, 0.0f);
    memcpy(A->da, dpooled, sizeof(float) * nD);
    vt_layernorm_backward(A->da, g->map_norm.w, g->map_norm.b, A->dln, A->a, w->map_norm.w, A->ln_m, A->ln_r, n, D);
    /* a = out_proj(ab) */
    vt_linear_backward(A->dab, g->map_out.w, g->map_out.b, A->da, A->ab, w->map_out.w, n, D, D, 0.0f);
    /* each head's softmax(q k_t scale) . v_t: d q (summed over the batch: one probe), d k_t, d v_t */
    memset(A->dq, 0, sizeof(float) * (size_t)D);
    for (int b = 0; b < n; b++)
        for (int h = 0; h < heads; h++) {
            const float *qh = A->q + h * hd, *p = A->p + ((size_t)b * heads + h) * T;
            const float *dO = A->dab + (size_t)b * D + h * hd;
            float *dqh = A->dq + h * hd;
            double dot = 0.0;
            for (int t = 0; t < T; t++) {
                const float *v = A->kv + ((size_t)b * T + t) * 2 * D + D + h * hd;
                float *dv = A->dkv + ((size_t)b * T + t) * 2 * D + D + h * hd;
                float dp = 0.0f;
                for (int d = 0; d < hd; d++) {
                    dp += dO[d] * v[d];
                    dv[d] = p[t] * dO[d];
                }
                A->dkv[((size_t)b * T + t) * 2 * D + h * hd] = dp; /* d p_t, parked in d k_t's first slot */
                dot += (double)dp * p[t];
            }
            for (int t = 0; t < T; t++) {
                const float *k = A->kv + ((size_t)b * T + t) * 2 * D + h * hd;
                float *dk = A->dkv + ((size_t)b * T + t) * 2 * D + h * hd;
                float ds = p[t] * (dk[0] - (float)dot) * scale;
                for (int d = 0; d < hd; d++) {
                    dqh[d] += ds * k[d];
                    dk[d] = ds * qh[d];
                }
            }
        }
    /* k | v = in_proj rows D..3D applied to xn; q = in_proj rows 0..D applied to the probe */
    vt_linear_backward(dxn, g->map_in.w + (size_t)D * D, g->map_in.b + D, A->dkv, xn, w->map_in.w + (size_t)D * D,
                       n * T, D, 2 * D, 1.0f);
    vt_linear_backward(NULL, g->map_in.w, g->map_in.b, A->dq, w->map_probe, w->map_in.w, 1, D, D, 0.0f);
    /* d probe = d q . Wq */
    for (int j = 0; j < D; j++) {
        float s = 0.0f;
        for (int i = 0; i < D; i++) s += A->dq[i] * w->map_in.w[(size_t)i * D + j];
        g->map_probe[j] += s;
    }
}
