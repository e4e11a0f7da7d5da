/* Matrix products with bfloat16 operands and float sums (AVX512-BF16 CPUs: Zen 4, Sapphire Rapids
 * and later): the GEMM behind `vitc train --bf16` and the bf16 inference mode. Operands are
 * rounded to bfloat16 (8-bit mantissa, round to nearest even) as they are packed; every sum is a
 * float. Call only when vt_bf16_supported(). */
#ifndef VT_KERNELS_BF16_H
#define VT_KERNELS_BF16_H

#include <stddef.h>
#include <stdint.h>

/* Whether this CPU has AVX512-BF16 and the active kernels are the AVX-512 ones. */
int vt_bf16_supported(void);

/* C[M x N] = alpha * A . B (+ R) (+ bias[N]), then G = gelu(C), for those of R (stride ldc, may be
 * C: accumulate), bias, G (stride ldc, may be C) that are not NULL. A(i, k) at A[i * sai + k * sak],
 * B row-major K x N with stride ldb. Single-threaded (gemm_avx512bf16.c). */
void vt_bf16_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B, size_t ldb,
                  float *C, size_t ldc, const float *R, const float *bias, float *G);
/* B packed once for several products (weights): vt_bf16_prep_size words for a K x N B, filled by
 * vt_bf16_prep_b; vt_bf16_gemm_pre is vt_bf16_gemm with that packing (pre, may be NULL). */
size_t vt_bf16_prep_size(int K, int N);
void vt_bf16_prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N);
void vt_bf16_gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                      size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias, float *G);

/* A Linear weight packed for bf16 inference (bf16_linear.c). */
typedef struct vt_bf16_linear_w {
    uint32_t *words; /* vt_bf16_prep_b of W^T */
    int K, N;        /* inputs, outputs */
} vt_bf16_linear_w;
/* Packs W (N x K, PyTorch Linear layout); NULL when out of memory. */
vt_bf16_linear_w *vt_bf16_linear_pack(const float *W, int N, int K);
void vt_bf16_linear_free(vt_bf16_linear_w *w);
/* y[M x N] = x[M x K] . W^T + b (b may NULL), then the epilogue (VT_EPILOGUE_NONE or _GELU), rows
 * split over the thread pool (a nested call runs on the calling thread). */
void vt_bf16_linear(float *y, const float *x, const vt_bf16_linear_w *w, const float *b, int M, int epilogue);

#endif
