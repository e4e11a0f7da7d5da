/* Training-only fast paths: the operations of the training step, vectorized (AVX-512 or AVX2
 * when those are the active kernels, portable C otherwise) and split over vt_get_threads() threads.
 * Reductions over rows (bias and LayerNorm parameter gradients) go through per-thread partial
 * sums added in thread order, so results repeat exactly for a given thread count. The reference
 * versions of the same operations are in model/layers.c and model/layers_backward.c. */
#ifndef VT_TRAIN_OPS_H
#define VT_TRAIN_OPS_H

#include <stddef.h>

/* Training's matrix products in bfloat16 with float sums (on: 1) or in float (0, the default), for
 * the whole process. Returns -1 (and changes nothing) when on is asked for but the active kernels
 * are not AVX-512 or the CPU lacks AVX512-BF16. */
int vt_tr_set_bf16(int on);
int vt_tr_bf16_supported(void);

/* out = gelu(in) (exact, erf), n values; out != in */
void vt_tr_gelu_forward(float *out, const float *in, size_t n);
/* M x N: dinp = dout * gelu'(inp) (dinp may alias dout); dbias (N, may be NULL) += column sums
 * of dinp (the bias gradient of the Linear layer that produced inp) */
void vt_tr_gelu_backward(float *dinp, const float *inp, const float *dout, int M, int N, float *dbias);
/* acc[N] += column sums of x (M x N) */
void vt_tr_colsum(float *acc, const float *x, int M, int N);
/* out = (x - mean) * rstd * w + b over rows of C; mean, rstd (N each) kept when not NULL */
void vt_tr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int N, int C, float eps);
/* as vt_layernorm_backward: dinp += input gradient, dw, db (may be NULL) += parameter gradients */
void vt_tr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int N, int C);
/* Attention core as vt_attention_forward without q/k norm; att (B x heads x T x T) receives the
 * probabilities (required). */
void vt_tr_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int heads);
/* as vt_attention_backward: dqkv overwritten */
void vt_tr_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                              int heads);
/* y[M,N] = x[M,K] . W[N,K]^T + b (b may be NULL), as vt_linear */
void vt_tr_linear_forward(float *y, const float *x, const float *W, const float *b, int M, int K, int N);
/* The same with a fused epilogue: y = x W^T + b + res (res: M x N, may be NULL or y), then
 * gelu_out = gelu(y) when gelu_out is not NULL. */
void vt_tr_linear_forward_ex(float *y, const float *x, const float *W, const float *b, int M, int K, int N,
                             const float *res, float *gelu_out);
/* as vt_linear_backward (beta_dx 0 or 1) */
void vt_tr_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                           int K, int N, float beta_dx);
/* One pre-norm transformer block without q/k norm or LayerScale (train_block.c): weights, their
 * gradient slots (accumulated; qkv_b and g_qkv_b may be NULL), the activations the forward keeps
 * for the backward, and the backward's scratch. rows = n * T. */
typedef struct vt_tr_block {
    int n, T, D, heads, Hm;
    float eps;
    const float *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float *g_ln1_w, *g_ln1_b, *g_qkv_w, *g_qkv_b, *g_proj_w, *g_proj_b, *g_ln2_w, *g_ln2_b, *g_fc1_w, *g_fc1_b,
        *g_fc2_w, *g_fc2_b;
    const float *x;                      /* the input stream (rows x D) */
    float *ln1, *ln1_m, *ln1_r, *qkv, *att, *ao, *mid, *ln2, *ln2_m, *ln2_r, *hpre, *hact;
    float *out;                          /* the output stream (rows x D), written by the forward */
    float *dh, *dtmp, *dao, *dqkv;       /* backward scratch: rows x Hm, x D, x D, x 3D */
    const float *drop1, *drop2;          /* drop path: a factor per image for each branch (NULL: 1) */
} vt_tr_block;
/* out = mid + s2 fc2(gelu(fc1(LN2(mid)))), mid = x + s1 proj(attention(qkv(LN1(x)))), keeping the
 * rest (s1, s2: the image's drop-path factors, 1 without) */
void vt_tr_block_forward(const vt_tr_block *b);
/* dres: dL/d out on entry, dL/d x on return; parameter gradients accumulated */
void vt_tr_block_backward(const vt_tr_block *b, float *dres);
/* Drop path's per-image factors: dst = s_b * src over the T x D rows of images [b0, b1). */
void vt_tr_scale_rows(float *dst, const float *src, const float *s, int b0, int b1, int T, int D);

#endif
