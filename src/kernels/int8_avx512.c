/* int8 pieces of AVX-512 (F, BW) machines: the input quantizer, and the row-layout kernel of CPUs
 * without VNNI (Skylake-SP, and any AVX-512 run with VITC_INT8=avx512bw). The kernel is the AVX2
 * sign trick (see int8_avx2.c) on 64 bytes of k: vpmaddubsw multiplies |x_s| (u8, <= 128) by w_q
 * negated where x_s < 0 (AVX-512 has no vpsignb: a masked subtract from zero, the mask from x_s's sign
 * bits), pair sums within int16 (2 * 128 * 127 < 32768), vpmaddwd by ones widens them to int32.
 * A tile is 2 rows x 8 weight rows (16 accumulators); the sums are exact, the portable kernel's. */
#include "kernels/int8.h"

#include <immintrin.h>

/* |x| times w with x's sign (mask s: x < 0), pair sums widened to int32 and added to acc */
#define Q8_STEP512(acc, a, s, wv) \
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, _mm512_mask_sub_epi8(wv, s, zero, wv)), ones))

/* The totals of a..d (16 int32 lanes each), in that order. */
static inline __m128i hsum4_512(__m512i a, __m512i b, __m512i c, __m512i d) {
    __m256i a8 = _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    __m256i b8 = _mm256_add_epi32(_mm512_castsi512_si256(b), _mm512_extracti64x4_epi64(b, 1));
    __m256i c8 = _mm256_add_epi32(_mm512_castsi512_si256(c), _mm512_extracti64x4_epi64(c, 1));
    __m256i d8 = _mm256_add_epi32(_mm512_castsi512_si256(d), _mm512_extracti64x4_epi64(d, 1));
    __m256i ab = _mm256_hadd_epi32(a8, b8), cd = _mm256_hadd_epi32(c8, d8);
    __m256i abcd = _mm256_hadd_epi32(ab, cd);
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* Rows x_s (s0, s1) with their |x_s| (a0, a1) against NW (4 or 8) weight rows from w (ldw apart),
 * Kp bytes (a multiple of 32: the last 32 are read with a mask). r0, r1: NW sums each. */
static inline __attribute__((always_inline)) void tile(const int8_t *s0, const int8_t *s1, const int8_t *a0p,
                                                       const int8_t *a1p, const int8_t *w, size_t ldw, int Kp,
                                                       const int NW, __m128i *r0, __m128i *r1) {
    const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
    __m512i c0[8], c1[8];
#pragma GCC unroll 8
    for (int j = 0; j < NW; j++) c0[j] = c1[j] = zero;
    for (int k = 0; k < Kp; k += 64) {
        __mmask64 ld = Kp - k >= 64 ? ~(__mmask64)0 : (__mmask64)0xffffffffu;
        __m512i a0 = _mm512_maskz_loadu_epi8(ld, a0p + k), a1 = _mm512_maskz_loadu_epi8(ld, a1p + k);
        __mmask64 m0 = _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(ld, s0 + k));
        __mmask64 m1 = _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(ld, s1 + k));
#pragma GCC unroll 8
        for (int j = 0; j < NW; j++) {
            __m512i wv = _mm512_maskz_loadu_epi8(ld, w + (size_t)j * ldw + k);
            Q8_STEP512(c0[j], a0, m0, wv);
            Q8_STEP512(c1[j], a1, m1, wv);
        }
    }
    r0[0] = hsum4_512(c0[0], c0[1], c0[2], c0[3]);
    r1[0] = hsum4_512(c1[0], c1[1], c1[2], c1[3]);
    if (NW == 8) {
        r0[1] = hsum4_512(c0[4], c0[5], c0[6], c0[7]);
        r1[1] = hsum4_512(c1[4], c1[5], c1[6], c1[7]);
    }
}

__attribute__((noinline)) static void tile8(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1,
                                            const int8_t *w, size_t ldw, int Kp, __m128i r0[2], __m128i r1[2]) {
    tile(s0, s1, a0, a1, w, ldw, Kp, 8, r0, r1);
}
__attribute__((noinline)) static void tile4(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1,
                                            const int8_t *w, size_t ldw, int Kp, __m128i r0[1], __m128i r1[1]) {
    tile(s0, s1, a0, a1, w, ldw, Kp, 4, r0, r1);
}

/* The 2 x 4 tile's sums with |x| given (a0, a1), for int8.c's tile on plain x_q rows (tests). */
void vt_q8_tile_abs_avx512bw(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1, const int8_t *w,
                             size_t ldw, int Kp, int32_t out[2][4]) {
    __m128i r0, r1;
    tile4(s0, s1, a0, a1, w, ldw, Kp, &r0, &r1);
    _mm_storeu_si128((__m128i *)out[0], r0);
    _mm_storeu_si128((__m128i *)out[1], r1);
}

/* Four columns' sums t of one row corrected and dequantized as the portable store does. */
static inline void store4(float *yr, __m128i t, int zp, __m128i cs, float sx, const float *scale, const float *b, int cols) {
    t = _mm_add_epi32(t, _mm_mullo_epi32(_mm_set1_epi32(128 - zp), cs));
    if (cols == 4) {
        __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(t), _mm_mul_ps(_mm_set1_ps(sx), _mm_loadu_ps(scale)));
        if (b) v = _mm_add_ps(v, _mm_loadu_ps(b));
        _mm_storeu_ps(yr, v);
        return;
    }
    int32_t tt[4];
    _mm_storeu_si128((__m128i *)tt, t);
    for (int q = 0; q < cols; q++) {
        float v = (float)tt[q] * (sx * scale[q]);
        yr[q] = b ? v + b[q] : v;
    }
}

/* Rows m, m+1 (rows = 1 or 2 real) of y for columns [n0, n1) (multiples of 4 within Np), x as
 * int8.c's row-layout scratch (x_s then |x_s|, Kp bytes each, ldx = 2 Kp); as vt_q8_panel_avx2. */
void vt_q8_panel_avx512bw(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                          const int32_t *zp, const float *b, float *y, size_t ldy, int rows) {
    int Kp = w->Kp;
    for (int n = n0; n < n1 && n < w->N;) {
        int wide = n + 8 <= n1 && n + 4 < w->N, step = wide ? 8 : 4;
        __m128i t0[2], t1[2];
        const int8_t *wr = w->w + (size_t)n * Kp;
        if (wide)
            tile8(x, x + ldx, x + Kp, x + ldx + Kp, wr, (size_t)Kp, Kp, t0, t1);
        else
            tile4(x, x + ldx, x + Kp, x + ldx + Kp, wr, (size_t)Kp, Kp, t0, t1);
        for (int h = 0; h < step / 4; h++) {
            int c = n + 4 * h, cols = w->N - c < 4 ? w->N - c : 4;
            if (cols <= 0) break;
            __m128i cs = _mm_loadu_si128((const __m128i *)(w->colsum + c));
            for (int i = 0; i < rows; i++)
                store4(y + (size_t)i * ldy + c, i ? t1[h] : t0[h], zp[i], cs, sx[i], w->scale + c, b ? b + c : NULL, cols);
        }
        n += step;
    }
}

/* u = clamp(round(clamp(x * inv, -256, 256)) + zp, lo, 255), as vt_q8_round_u8 (ties to even;
 * NaN as -256: max_ps returns its second operand when one is NaN). */
void vt_q8_quantize_u8_avx512(uint8_t *u, const float *x, int n, float inv, int zp, int lo) {
    const __m512 vinv = _mm512_set1_ps(inv), fl = _mm512_set1_ps(-256.0f), fh = _mm512_set1_ps(256.0f);
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(255), vzp = _mm512_set1_epi32(zp);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv), fl), fh);
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), vzp);
        v = _mm512_min_epi32(_mm512_max_epi32(v, vlo), vhi);
        _mm_storeu_si128((__m128i *)(u + i), _mm512_cvtepi32_epi8(v));
    }
    for (; i < n; i++) u[i] = vt_q8_round_u8(x[i] * inv, zp, lo);
}

/* The smallest and largest x (NaN ignored: a lane keeps its value unless the new one is beyond it). */
void vt_q8_minmax_avx512(const float *x, int n, float *mn, float *mx) {
    __m512 lo16 = _mm512_setzero_ps(), hi16 = lo16;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo16 = _mm512_min_ps(v, lo16), hi16 = _mm512_max_ps(v, hi16);
    }
    float l[16], h[16], a = 0.0f, b = 0.0f;
    _mm512_storeu_ps(l, lo16), _mm512_storeu_ps(h, hi16);
    for (int j = 0; j < 16; j++) a = l[j] < a ? l[j] : a, b = h[j] > b ? h[j] : b;
    for (; i < n; i++) a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b;
    *mn = a, *mx = b;
}
