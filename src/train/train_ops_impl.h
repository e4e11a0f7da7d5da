/* Row-range kernels behind train_ops.c: one portable C set (train_ops.c), an AVX-512 set
 * (train_ops_avx512.c, used when the active kernels are avx512) and an AVX2 set (train_ops_avx2.c,
 * used when they are avx2), each compiled with its ISA's flags.
 * All run on the calling thread; train_ops.c splits the work over threads. */
#ifndef VT_TRAIN_OPS_IMPL_H
#define VT_TRAIN_OPS_IMPL_H

#include <stddef.h>
#include <stdint.h>

typedef struct vt_adamw_coef {
    float gscale, b1, b2, step_size, bc2_sqrt, eps, decay;
} vt_adamw_coef;

typedef struct vt_tr_kernels {
    /* out[i] = gelu(in[i]) (exact, erf) */
    void (*gelu_fwd)(float *out, const float *in, size_t n);
    /* rows x N: dinp = dout * gelu'(inp) (dinp may alias dout); colacc (N, may be NULL) += column
     * sums of dinp */
    void (*gelu_bwd)(float *dinp, const float *inp, const float *dout, int rows, int N, float *colacc);
    /* acc[N] += column sums of rows x N */
    void (*colsum)(float *acc, const float *x, int rows, int N);
    /* LayerNorm of rows of C (float statistics); mean, rstd may be NULL */
    void (*ln_fwd)(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b, int rows,
                   int C, float eps);
    /* dinp += LayerNorm input gradient; pw, pb (may be NULL) += weight / bias gradient sums */
    void (*ln_bwd)(float *dinp, float *pw, float *pb, const float *dout, const float *inp, const float *w,
                   const float *mean, const float *rstd, int rows, int C);
    /* Attention core for one (image, head), row strides in floats: q, k, v (T x hd, stride ld),
     * P: T x T probabilities written (stride T), o: T x hd output (stride ldo). scratch: at
     * least hd * T + 64 floats. */
    void (*att_fwd)(const float *q, const float *k, const float *v, int ld, float *P, float *o, int ldo, int T,
                    int hd, float scale, float *scratch);
    /* Its backward: dq, dk, dv (stride ld) overwritten, given dO (stride ldo) and P.
     * scratch: at least T * T + hd * T + 64 floats. */
    void (*att_bwd)(float *dq, float *dk, float *dv, const float *q, const float *k, const float *v, int ld,
                    const float *P, const float *dO, int ldo, int T, int hd, float scale, float *scratch);
    /* C[M x N] = alpha * A . B (+ R) (+ bias[N]), then G = gelu(C), for those of R (stride ldc,
     * may be C: accumulate), bias, G (stride ldc) that are not NULL. A(i, k) at A[i * sai + k * sak]
     * (any layout), B row-major with stride ldb, C stride ldc. */
    void (*gemm)(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B, size_t ldb,
                 float *C, size_t ldc, const float *R, const float *bias, float *G);
    /* B prepared once for several products with the same B (the weights, used by every image
     * group): prep_size gives the 32-bit words prep_b writes for a K x N B, 0 when this set has no
     * use for it; gemm_pre is gemm with pre (may be NULL) from prep_b of this very B. */
    size_t (*prep_size)(int K, int N);
    void (*prep_b)(uint32_t *dst, const float *B, size_t ldb, int K, int N);
    void (*gemm_pre)(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                     size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias, float *G);
    /* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols */
    void (*transpose)(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols);
    /* sum of x[i]^2 over n values, accumulated in double */
    double (*sumsq)(const float *x, size_t n);
    /* One AdamW update of n parameters (all kernel sets give the same bits: the same float
     * operations in the same order, no contraction):
     *   g' = g * gscale; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g' g';
     *   p = p * decay - step_size * m / (sqrt(v) / bc2_sqrt + eps) */
    void (*adamw)(float *p, float *m, float *v, const float *g, size_t n, const struct vt_adamw_coef *c);
} vt_tr_kernels;

/* The set the active kernels call for (train_ops.c). */
const vt_tr_kernels *vt_tr_kern(void);
/* Grow-only scratch of the calling thread, two independent ones (never freed: OpenMP keeps its
 * pool threads, so steady-state training steps allocate nothing). */
float *vt_tr_scratch(size_t n);
float *vt_tr_scratch2(size_t n);
uint32_t *vt_tr_scratch_words(size_t n);

extern const vt_tr_kernels vt_tr_kernels_ref;
extern const vt_tr_kernels vt_tr_kernels_avx512;
extern const vt_tr_kernels vt_tr_kernels_avx2;
/* vt_tr_kernels_avx512 with the bfloat16 GEMM (kernels/bf16.h) as its gemm */
extern const vt_tr_kernels vt_tr_kernels_avx512_bf16;
/* for the float sets: no preparation; gemm_pre ignores pre */
size_t vt_tr_no_prep_size(int K, int N);
void vt_tr_no_prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N);

#endif
