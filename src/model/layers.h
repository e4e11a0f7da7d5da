/* The layers of a ViT, forward passes written llm.c-style: plain loops over explicit buffers,
 * keeping what a backward pass needs (LayerNorm mean/rstd, attention probabilities) when the
 * caller passes somewhere to keep it. Backward passes sit beside each forward in layers_*.c. */
#ifndef VT_LAYERS_H
#define VT_LAYERS_H

#include <stddef.h>

/* Rows of C values: out = (x - mean) * rstd * w + b. mean, rstd (N each) may be NULL. */
void vt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                          int N, int C, float eps);

/* Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))). In place allowed. */
void vt_gelu_forward(float *out, const float *inp, size_t n);

/* Multi-head self-attention core. qkv: B x T x 3D (q | k | v, heads contiguous inside each);
 * out: B x T x D. att (B x heads x T x T) receives the softmax probabilities when not NULL.
 * q_norm/k_norm (w, b of head_dim each) are applied to q and k first when not NULL (qkv is then
 * modified in place). */
void vt_attention_forward(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                          const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps);

/* Unfolds B images (C x H x W) into (B * H/P * W/P) rows of C*P*P values in (c, py, px) order,
 * patches in row-major grid order — the layout a Conv2d(P, stride P) weight flattens to. */
void vt_patchify(float *out, const float *img, int B, int C, int H, int W, int P);

/* x[i] += g[i % C] * y[i] for N rows of C (g NULL: plain residual add). */
void vt_residual_forward(float *x, const float *y, const float *g, int N, int C);

/* Fused residual + LayerNorm: x += g * y (g NULL: x += y), then out = LayerNorm(x) with w, b
 * (mean, rstd as in vt_layernorm_forward). Same results as vt_residual_forward followed by
 * vt_layernorm_forward, in one pass over the rows. */
void vt_residual_layernorm_forward(float *x, const float *y, const float *g, float *out, float *mean, float *rstd,
                                   const float *w, const float *b, int N, int C, float eps);

#endif
