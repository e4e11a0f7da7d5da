/* AVX2/FMA SGEMM: VT_MR x (NV*8) micro-kernel on the shared packed driver. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/erf_coef.h"
#include "kernels/transpose8.h"
#define VT_HAVE_TRANSPOSE8 1

#ifndef VT256_MR
#define VT256_MR 6
#endif
#ifndef VT256_NV
#define VT256_NV 2
#endif
#define VT_MR VT256_MR
#define VT_NR (VT256_NV * 8)
#define VT_KC 256
#define VT_MC (VT_MR * 24)
#define VT_TABLE vt_kernels_avx2
#define VT_TABLE_NAME "avx2"

/* Exact GELU 0.5*x*(1 + erf(x/sqrt(2))), erf from the piecewise polynomial in erf_coef.h. */
static inline __m256 gelu8(__m256 x) {
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    const __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256i idx = _mm256_cvttps_epi32(_mm256_add_ps(a, a));
    idx = _mm256_min_epi32(idx, _mm256_set1_epi32(7)); /* NaN/huge give INT_MIN */
    idx = _mm256_max_epi32(idx, _mm256_setzero_si256());
    const __m256 center = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idx), _mm256_set1_ps(0.5f), _mm256_set1_ps(0.25f));
    const __m256 t = _mm256_sub_ps(a, center);
    __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(VT_ERF_C[VT_ERF_DEG]), idx);
    for (int d = VT_ERF_DEG - 1; d >= 0; d--)
        p = _mm256_fmadd_ps(p, t, _mm256_permutevar8x32_ps(_mm256_load_ps(VT_ERF_C[d]), idx));
    p = _mm256_blendv_ps(p, _mm256_set1_ps(1.0f), _mm256_cmp_ps(a, _mm256_set1_ps(4.0f), _CMP_GE_OQ));
    const __m256 q = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_or_ps(p, sign));
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), q);
}

static void gelu_vec(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, sizeof(float) * (n - i));
        _mm256_storeu_ps(t, gelu8(_mm256_loadu_ps(t)));
        memcpy(x + i, t, sizeof(float) * (n - i));
    }
}

static void ukernel(int kc, const float *restrict a, const float *restrict b, float *c, size_t ldc, float alpha,
                    float beta, const float *bias, int gelu) {
    __m256 acc[VT_MR][VT256_NV];
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < VT256_NV; v++) acc[r][v] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        __m256 bv[VT256_NV];
#pragma GCC unroll 4
        for (int v = 0; v < VT256_NV; v++) bv[v] = _mm256_load_ps(b + v * 8);
#pragma GCC unroll 32
        for (int r = 0; r < VT_MR; r++) {
            __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 4
            for (int v = 0; v < VT256_NV; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += VT_MR;
        b += VT_NR;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) {
        float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < VT256_NV; v++) {
            __m256 x = _mm256_mul_ps(acc[r][v], va);
            if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + v * 8), x);
            if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias + v * 8));
            if (gelu) x = gelu8(x);
            _mm256_storeu_ps(cr + v * 8, x);
        }
    }
}

#include "kernels/gemm_driver.h"
