/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF, 16 lanes (include only from files
 * compiled for AVX-512): the exact GELU is x * Phi(x). erf/2 comes from the 16-interval table in
 * erf16_coef.h, one permute per coefficient; |x| / sqrt 2 at 4 and beyond is clamped into the
 * last interval, where erf rounds to 1. NaN stays NaN in x * Phi(x) (the clamp turns it into a
 * number, the product restores it). */
#ifndef VT_PHI512_H
#define VT_PHI512_H
#include <immintrin.h>

#include "kernels/erf16_coef.h"

static inline __m512 vt_phi16(__m512 x) {
    /* 4 |x| / sqrt 2, below 16 */
    const __m512 a4 = _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(2.82842712474619010f)),
                                    _mm512_set1_ps(15.999999f));
    const __m512 f = _mm512_roundscale_ps(a4, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512i idx = _mm512_cvttps_epi32(f);
    const __m512 u = _mm512_sub_ps(a4, f);
    __m512 h = _mm512_permutexvar_ps(idx, _mm512_load_ps(VT_HERF16_C[VT_HERF16_DEG]));
    for (int d = VT_HERF16_DEG - 1; d >= 0; d--)
        h = _mm512_fmadd_ps(h, u, _mm512_permutexvar_ps(idx, _mm512_load_ps(VT_HERF16_C[d])));
    /* 1/2 + sign(x) * erf(|x| / sqrt 2) / 2 */
    return _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_xor_ps(h, _mm512_and_ps(x, _mm512_set1_ps(-0.0f))));
}
#endif
