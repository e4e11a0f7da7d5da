/* AVX-512 SGEMM: VT_MR x (NV*16) micro-kernel on the shared packed driver.
 * Default 6 x 64 (24 zmm accumulators, 4 B loads + 6 broadcasts per 24 FMAs): on Zen 4 it beat
 * 14x32, 12x32 and 8x48 by a few percent (fewer broadcasts per FMA); KC 256, MC 144. */
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/erf_coef.h"
#include "kernels/transpose8.h"
#define VT_HAVE_TRANSPOSE8 1

#ifndef VT512_MR
#define VT512_MR 6
#endif
#ifndef VT512_NV
#define VT512_NV 4
#endif
#define VT_MR VT512_MR
#define VT_NR (VT512_NV * 16)
#ifndef VT512_KC
#define VT512_KC 256
#endif
#define VT_KC VT512_KC
#ifndef VT512_MCF
#define VT512_MCF 24
#endif
#define VT_MC (VT_MR * VT512_MCF)
#define VT_TABLE vt_kernels_avx512
#define VT_TABLE_NAME "avx512"

/* Exact GELU 0.5*x*(1 + erf(x/sqrt(2))), erf from the piecewise polynomial in erf_coef.h. */
static inline __m512 gelu16(__m512 x) {
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 a = _mm512_abs_ps(z);
    __m512i idx = _mm512_cvttps_epi32(_mm512_add_ps(a, a));
    idx = _mm512_min_epi32(idx, _mm512_set1_epi32(7)); /* NaN/huge give INT_MIN: any lane is fine */
    idx = _mm512_max_epi32(idx, _mm512_setzero_si512());
    const __m512 center = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idx), _mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
    const __m512 t = _mm512_sub_ps(a, center);
    __m512 p = _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_load_ps(VT_ERF_C[VT_ERF_DEG])));
    for (int d = VT_ERF_DEG - 1; d >= 0; d--)
        p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_load_ps(VT_ERF_C[d]))));
    p = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_GE_OQ), p, _mm512_set1_ps(1.0f));
    /* erf(z) = sign(z) * p; 1 + erf */
    const __m512 sign = _mm512_and_ps(z, _mm512_set1_ps(-0.0f));
    const __m512 q = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_or_ps(p, sign));
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), q);
}

static void gelu_vec(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void ukernel(int kc, const float *restrict a, const float *restrict b, float *c, size_t ldc, float alpha,
                    float beta, const float *bias, int gelu) {
    __m512 acc[VT_MR][VT512_NV];
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < VT512_NV; v++) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        __m512 bv[VT512_NV];
#pragma GCC unroll 4
        for (int v = 0; v < VT512_NV; v++) bv[v] = _mm512_load_ps(b + v * 16);
#pragma GCC unroll 32
        for (int r = 0; r < VT_MR; r++) {
            __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < VT512_NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += VT_MR;
        b += VT_NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) {
        float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < VT512_NV; v++) {
            __m512 x = _mm512_mul_ps(acc[r][v], va);
            if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + v * 16), x);
            if (bias) x = _mm512_add_ps(x, _mm512_loadu_ps(bias + v * 16));
            if (gelu) x = gelu16(x);
            _mm512_storeu_ps(cr + v * 16, x);
        }
    }
}

#include "kernels/gemm_driver.h"
