/* Compute kernels behind one interface. The portable C versions live in *_ref.c; SIMD versions
 * (AVX2/FMA, AVX-512) are chosen at run time by vt_kernels_init() from the CPU's features.
 * Every function here is thread-safe and may use OpenMP threads internally. */
#ifndef VT_KERNELS_H
#define VT_KERNELS_H

#include <stddef.h>

/* Picks the implementation once (idempotent). VITC_KERNELS=ref|avx2|avx512 forces one. */
void vt_kernels_init(void);
const char *vt_kernels_name(void);

/* C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C, row-major with leading dimensions.
 * trans_a: A is stored K x M; trans_b: B is stored N x K (a PyTorch Linear weight). */
void vt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* y[M,N] = x[M,K] . W[N,K]^T + b[N]  (b may be NULL): the forward pass of a Linear layer. */
void vt_linear(float *y, const float *x, const float *W, const float *b, int M, int K, int N);

/* Threads used by the kernels (0: default). */
void vt_set_threads(int threads);
int vt_get_threads(void);

#endif
