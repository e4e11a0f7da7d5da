/* The store of one 16-column vector of a GEMM's register block, shared by the training GEMM's float
 * micro-kernel and the bf16 one (include only from files compiled with AVX-512): x = alpha * acc (+ R)
 * (+ bias) to C, then gelu(x) to G, for those of R, bias, G that are not NULL; m masks the columns. */
#ifndef VT_KERNELS_STORE512_H
#define VT_KERNELS_STORE512_H
#include <immintrin.h>

#include "kernels/phi512.h"

static inline __attribute__((always_inline)) void vt_store16(__m512 acc, __m512 alpha, __mmask16 m, float *C,
                                                                const float *R, const float *bias, float *G) {
    __m512 x = _mm512_mul_ps(alpha, acc);
    if (R) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, R));
    if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, bias));
    _mm512_mask_storeu_ps(C, m, x);
    if (G) _mm512_mask_storeu_ps(G, m, _mm512_mul_ps(x, vt_phi16(x)));
}

/* An mr x (16 nv) register block c (rows ldc apart in C, R, G) through vt_store16; mk[v] masks
 * vector v's columns. mr and nv are compile-time constants at every call (always inlined). */
static inline __attribute__((always_inline)) void vt_store_block(const int mr, const int nv, __m512 c[][4], float alpha,
                                                                 const __mmask16 *mk, float *C, size_t ldc,
                                                                 const float *R, const float *bias, float *G) {
    __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            size_t o = (size_t)r * ldc + 16 * v;
            vt_store16(c[r][v], va, mk[v], C + o, R ? R + o : NULL, bias ? bias + 16 * v : NULL, G ? G + o : NULL);
        }
}

#endif
