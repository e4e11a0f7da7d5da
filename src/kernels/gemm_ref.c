/* Portable GEMM: plain loops, blocked over K and N for cache reuse, OpenMP over rows.
 * The reference every SIMD kernel is tested against. */
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#include <stdlib.h>
#include <string.h>

#define KB 256

static void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads())
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        float *acc = malloc(sizeof(float) * (size_t)(N > 0 ? N : 1));
        if (!acc) abort();
        memset(acc, 0, sizeof(float) * (size_t)N);
        for (int k0 = 0; k0 < K; k0 += KB) {
            int k1 = k0 + KB < K ? k0 + KB : K;
            if (trans_b) {
                for (int j = 0; j < N; j++) {
                    const float *b = B + (size_t)j * ldb;
                    float s = 0.0f;
                    if (trans_a)
                        for (int k = k0; k < k1; k++) s += A[(size_t)k * lda + i] * b[k];
                    else
                        for (int k = k0; k < k1; k++) s += A[(size_t)i * lda + k] * b[k];
                    acc[j] += s;
                }
            } else {
                for (int k = k0; k < k1; k++) {
                    float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    const float *b = B + (size_t)k * ldb;
                    for (int j = 0; j < N; j++) acc[j] += a * b[j];
                }
            }
        }
        for (int j = 0; j < N; j++) c[j] = alpha * acc[j] + (beta == 0.0f ? 0.0f : beta * c[j]);
        free(acc);
    }
}

const vt_kernel_table vt_kernels_ref = {"ref", sgemm_ref};
