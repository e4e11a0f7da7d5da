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

/* CLIP's quick GELU: x * sigmoid(1.702 x). In place allowed. */
void vt_quick_gelu_forward(float *out, const float *inp, size_t n);

/* tanh-approximated GELU (torch's gelu(approximate="tanh"), SigLIP). In place allowed. */
void vt_gelu_tanh_forward(float *out, const float *inp, size_t n);

/* SwiGLU: each of N rows of 2H values (gate | value) becomes H values silu(gate) * value, rows packed
 * at stride H in out. out may alias inp. */
void vt_swiglu_forward(float *out, const float *inp, int N, int H);

/* Multi-head self-attention core. qkv: B x T x 3D (q | k | v, heads contiguous inside each);
 * out: B x T x D. att (B x heads x T x T) receives the softmax probabilities when not NULL.
 * q_norm/k_norm (w, b of head_dim each) are applied to q and k first when not NULL (qkv is then
 * modified in place). */
void vt_attention_forward(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                          const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps);
/* The same with bias (heads x T x T, the same for every image; NULL: none) added to the scaled
 * scores before the softmax: BEiT's relative position bias. */
void vt_attention_forward_bias(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                               const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps,
                               const float *bias);
/* The same with int8 != 0: Q.K^T and P.V as int8 products (vt_q8_linear: each head's K quantized
 * per key and V per channel, symmetric; the queries and the probabilities per row, u8 with a zero
 * point), the softmax in float. int8 inference only (no backward). */
void vt_attention_forward_ex(float *out, float *att, float *qkv, int B, int T, int D, int heads, const float *qn_w,
                             const float *qn_b, const float *kn_w, const float *kn_b, float eps, const float *bias, int int8);

/* Unfolds B images (C x H x W) into (B * H/P * W/P) rows of C*k*k values in (c, y, x) order, patches
 * in row-major grid order — the layout a Conv2d(k, stride P, padding (k - P) / 2) weight flattens
 * to. k = P: plain patches; k > P (k - P even): overlapping windows, zero outside the image. */
void vt_patchify(float *out, const float *img, int B, int C, int H, int W, int P, int k);

/* Each of N rows of C values divided by its L2 norm (torch's x / x.norm(dim=-1, keepdim=True));
 * a zero row stays zero. */
void vt_l2_normalize_rows(float *x, int N, int C);

/* Bilinear resampling of C planes (h x w) to C planes (H x W), PyTorch's interpolate(mode="bilinear",
 * align_corners=False) generalized to an affine map: output pixel (X, Y) samples the input at
 * u = (X + 0.5) * sx + ox - 0.5, v = (Y + 0.5) * sy + oy - 0.5, clamped to the plane (so the
 * border value extends). Plain upsampling is sx = w / W, sy = h / H, ox = oy = 0. */
void vt_bilinear_planes(float *out, const float *in, int C, int h, int w, int H, int W, double sy, double oy,
                        double sx, double ox);
/* Its backward: din (C x h x w, accumulated) += the transpose of the map applied to dout. */
void vt_bilinear_planes_backward(float *din, const float *dout, int C, int h, int w, int H, int W, double sy,
                                 double oy, double sx, double ox);

/* x[i] += g[i % C] * y[i] for N rows of C (g NULL: plain residual add). */
void vt_residual_forward(float *x, const float *y, const float *g, int N, int C);

/* Fused residual + LayerNorm: x += g * y (g NULL: x += y), then out = LayerNorm(x) with w, b
 * (mean, rstd as in vt_layernorm_forward). Same results as vt_residual_forward followed by
 * vt_layernorm_forward, in one pass over the rows. */
void vt_residual_layernorm_forward(float *x, const float *y, const float *g, float *out, float *mean, float *rstd,
                                   const float *w, const float *b, int N, int C, float eps);

/* ---------------------------------------------------------------- backward passes (layers_backward.c)
 * Conventions: gradients of parameters are accumulated (+=); gradients of inputs are written or
 * accumulated as each function says. Buffers saved by the forward pass are passed back in. */

/* LayerNorm over rows of C. dinp += dL/dinp; dw, db += (either may be NULL to skip). */
void vt_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *mean, const float *rstd, int N, int C);

/* Exact GELU: dinp = dout * gelu'(inp). dinp may alias dout. */
void vt_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* CLIP's quick GELU and the tanh GELU: dinp = dout * act'(inp). dinp may alias dout. */
void vt_quick_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void vt_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* SwiGLU (vt_swiglu_forward): from dout (N rows of H) and the forward's input (N rows of 2H, gate |
 * value), dinp (N rows of 2H) = d gate | d value. dinp must not alias inp or dout. */
void vt_swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int H);

/* Linear y = x W^T + b (x: M x K, W: N x K). dx = dy W (beta_dx 0: overwrite, 1: accumulate; dx NULL
 * skips), dW += dy^T x, db += column sums of dy (db NULL skips). */
void vt_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                        int K, int N, float beta_dx);

/* Attention core (after any q/k norm): dqkv (B x T x 3D) is overwritten with the gradient for the
 * q | k | v parts given dout (B x T x D), the qkv the forward used and its probabilities att. */
void vt_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                           int heads);

/* Column sums of an M x N matrix added to acc (N). */
void vt_colsum_accumulate(float *acc, const float *x, int M, int N);

/* acc[0..C) += w softmax(z), in double: averages over views and models (ensembles, teachers,
 * flip test-time augmentation) are taken over probabilities. */
void vt_softmax_add(const float *z, int C, double w, double *acc);

/* Softmax cross-entropy with label smoothing eps (targets (1-eps) one-hot + eps/C), averaged over
 * the B rows. Returns the mean loss; dlogits (may be NULL) = d(mean loss)/dlogits. */
double vt_xent_forward_backward(float *dlogits, const float *logits, const int *labels, int B, int C, float eps);
/* Softmax cross-entropy against soft targets (B x C rows of probabilities, e.g. mixup / CutMix
 * mixtures of smoothed one-hot labels): mean over rows of -sum_j q_j log softmax(z)_j; dlogits
 * (may be NULL) = (softmax(z) - q) / B, which assumes each row of q sums to 1. */
double vt_xent_soft_forward_backward(float *dlogits, const float *logits, const float *targets, int B, int C);

#endif
