/* The AVX2 int8 tile (see int8.h): 2 rows of x_s (int8, -128..127) against 4 weight rows, 32 bytes
 * of k at a time. vpmaddubsw wants one unsigned operand: |x_s| (u8, <= 128) times w_q carrying
 * x_s's sign (vpsignb), whose adjacent pair sums are at most 2 * 128 * 127 < 32768, so nothing
 * saturates; vpmaddwd by ones widens the pairs to int32 lanes. The sums are exact, equal to the
 * portable kernel's. */
#include "kernels/int8.h"

#include <immintrin.h>

/* The four lanes' totals of a, b, c, d (8 int32 lanes each), in that order. */
static inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    __m256i abcd = _mm256_hadd_epi32(ab, cd); /* per 128-bit half: a b c d partial sums */
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* |x| times w with x's sign, pair sums widened to int32 and added to acc */
#define Q8_STEP(acc, a, s, wv) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, _mm256_sign_epi8(wv, s)), ones))

/* The largest |x| (NaN ignored, as the portable loop ignores it: max(a, m) keeps m unless a > m). */
float vt_q8_amax_avx2(const float *x, int n) {
    __m256 m8 = _mm256_setzero_ps();
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int i = 0;
    for (; i + 8 <= n; i += 8) m8 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m8);
    float lanes[8], amax = 0.0f;
    _mm256_storeu_ps(lanes, m8);
    for (int j = 0; j < 8; j++) amax = lanes[j] > amax ? lanes[j] : amax;
    for (; i < n; i++) {
        float a = x[i] < 0 ? -x[i] : x[i];
        amax = a > amax ? a : amax;
    }
    return amax;
}

/* q = clamp(round(x * inv), -127, 127), rounding to nearest even as the portable lrintf does. */
void vt_q8_quantize_scaled_avx2(int8_t *q, const float *x, int n, float inv) {
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
        v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(p16, p16));
    }
    for (; i < n; i++) q[i] = vt_q8_round(x[i] * inv);
}

/* u = clamp(round(clamp(x * inv, -256, 256)) + zp, lo, 255), as vt_q8_round_u8 (NaN as -256). */
void vt_q8_quantize_u8_avx2(uint8_t *u, const float *x, int n, float inv, int zp, int lo) {
    const __m256 vinv = _mm256_set1_ps(inv), fl = _mm256_set1_ps(-256.0f), fh = _mm256_set1_ps(256.0f);
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(255), vzp = _mm256_set1_epi32(zp);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), fl), fh);
        __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(f), vzp);
        v = _mm256_min_epi32(_mm256_max_epi32(v, vlo), vhi);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(u + i), _mm_packus_epi16(p16, p16));
    }
    for (; i < n; i++) u[i] = vt_q8_round_u8(x[i] * inv, zp, lo);
}

/* The smallest and largest x, starting from 0 (NaN ignored: min/max_ps return their second
 * operand, the running value, when one is NaN). */
void vt_q8_minmax_avx2(const float *x, int n, float *mn, float *mx) {
    __m256 lo8 = _mm256_setzero_ps(), hi8 = lo8;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        lo8 = _mm256_min_ps(v, lo8), hi8 = _mm256_max_ps(v, hi8);
    }
    float l[8], h[8], a = 0.0f, b = 0.0f;
    _mm256_storeu_ps(l, lo8), _mm256_storeu_ps(h, hi8);
    for (int j = 0; j < 8; j++) a = l[j] < a ? l[j] : a, b = h[j] > b ? h[j] : b;
    for (; i < n; i++) a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b;
    *mn = a, *mx = b;
}

/* The panel's tile: |x| rows (a0, a1) precomputed with x_q (no vpabsb in the loop), 2 rows x 4 weight rows,
 * 32 bytes of k per step. */
__attribute__((noinline)) static void tile_abs(const int8_t *s0, const int8_t *s1, const int8_t *a0p, const int8_t *a1p, const int8_t *w,
                            size_t ldw, int Kp, __m128i *r0, __m128i *r1) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    const int8_t *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    for (int k = 0; k < Kp; k += 32) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(a0p + k)), a1 = _mm256_loadu_si256((const __m256i *)(a1p + k));
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(s0 + k)), x1 = _mm256_loadu_si256((const __m256i *)(s1 + k));
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + k));
        Q8_STEP(c00, a0, x0, wv);
        Q8_STEP(c10, a1, x1, wv);
        wv = _mm256_loadu_si256((const __m256i *)(w1 + k));
        Q8_STEP(c01, a0, x0, wv);
        Q8_STEP(c11, a1, x1, wv);
        wv = _mm256_loadu_si256((const __m256i *)(w2 + k));
        Q8_STEP(c02, a0, x0, wv);
        Q8_STEP(c12, a1, x1, wv);
        wv = _mm256_loadu_si256((const __m256i *)(w3 + k));
        Q8_STEP(c03, a0, x0, wv);
        Q8_STEP(c13, a1, x1, wv);
    }
    *r0 = hsum4(c00, c01, c02, c03);
    *r1 = hsum4(c10, c11, c12, c13);
}

/* The 2 x 4 tile's sums with |x| given (a0, a1), for int8.c's tile on plain x_q rows (tests). */
void vt_q8_tile_abs_avx2(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1, const int8_t *w, size_t ldw,
                         int Kp, int32_t out[2][4]) {
    __m128i r0, r1;
    tile_abs(s0, s1, a0, a1, w, ldw, Kp, &r0, &r1);
    _mm_storeu_si128((__m128i *)out[0], r0);
    _mm_storeu_si128((__m128i *)out[1], r1);
}

/* Rows m, m+1 (rows = 1 or 2 of them real) of y for columns [n0, n1) (multiples of 4 within Np),
 * x laid out as int8.c's scratch: each row x_s then |x_s| (Kp bytes each, ldx = 2 Kp). The sums are
 * corrected for the zero points and dequantized as the portable store does,
 * (float)(sum + (128 - zp) * colsum) * (sx * scale) + b, in the same order of float operations. */
void vt_q8_panel_avx2(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                      const int32_t *zp, const float *b, float *y, size_t ldy, int rows) {
    int Kp = w->Kp;
    for (int n = n0; n < n1; n += 4) {
        int cols = w->N - n < 4 ? w->N - n : 4;
        if (cols <= 0) break;
        __m128i t[2];
        tile_abs(x, x + ldx, x + Kp, x + ldx + Kp, w->w + (size_t)n * Kp, (size_t)Kp, Kp, &t[0], &t[1]);
        __m128i cs = _mm_loadu_si128((const __m128i *)(w->colsum + n));
        for (int i = 0; i < rows; i++) {
            float *yr = y + (size_t)i * ldy + n;
            t[i] = _mm_add_epi32(t[i], _mm_mullo_epi32(_mm_set1_epi32(128 - zp[i]), cs));
            if (cols == 4) {
                __m128 v = _mm_cvtepi32_ps(t[i]);
                v = _mm_mul_ps(v, _mm_mul_ps(_mm_set1_ps(sx[i]), _mm_loadu_ps(w->scale + n)));
                if (b) v = _mm_add_ps(v, _mm_loadu_ps(b + n));
                _mm_storeu_ps(yr, v);
            } else {
                int32_t tt[4];
                _mm_storeu_si128((__m128i *)tt, t[i]);
                for (int q = 0; q < cols; q++) {
                    float v = (float)tt[q] * (sx[i] * w->scale[n + q]);
                    yr[q] = b ? v + b[n + q] : v;
                }
            }
        }
    }
}
