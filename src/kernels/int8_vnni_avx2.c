/* The AVX-VNNI int8 kernel (see int8.h; the VEX-coded vpdpbusd of AVX2 machines that have it: Intel
 * Alder Lake and later, AMD Zen 5): 4 u8 activations (x quantized with a zero point) times 4 s8 weights summed into each
 * of 8 int32 lanes. A register tile is up to 6 rows x 16 columns (12 accumulators, 2 weight vectors,
 * one broadcast: the 16 ymm registers), over the whole of K; the dequantizing store is the portable
 * one's, (float)(acc - zp * colsum) * (sx * scale) + b, so the bits are the same. */
#include "kernels/int8.h"

#include <immintrin.h>
#include <string.h>

#define PW 16

static inline __attribute__((always_inline)) void tile(const uint8_t *a, size_t lda, const int8_t *bp, int Kp, const int MR,
                                                       const int32_t *cs, const float *sw, const float *bias,
                                                       const float *sx, const int32_t *zp, float *y, size_t ldy, int cols) {
    /* Named accumulators, not an array: GCC kept an array of 12 in memory (stores in the loop). */
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
            c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define VNNI_ROW(r)                                                                                  \
    if (MR > r) {                                                                                    \
        int32_t v;                                                                                   \
        memcpy(&v, a + (size_t)r * lda + k, 4);                                                      \
        __m256i av = _mm256_set1_epi32(v);                                                           \
        c##r##0 = _mm256_dpbusd_avx_epi32(c##r##0, av, b0), c##r##1 = _mm256_dpbusd_avx_epi32(c##r##1, av, b1); \
    }
    for (int k = 0; k < Kp; k += 4) {
        const int8_t *bk = bp + (size_t)k * PW;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bk), b1 = _mm256_loadu_si256((const __m256i *)(bk + 32));
        VNNI_ROW(0) VNNI_ROW(1) VNNI_ROW(2) VNNI_ROW(3) VNNI_ROW(4) VNNI_ROW(5)
    }
#undef VNNI_ROW
    __m256i acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (cols == PW) {
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            __m256i csv = _mm256_loadu_si256((const __m256i *)(cs + 8 * j));
            __m256 s = _mm256_loadu_ps(sw + 8 * j);
            __m256 bb = bias ? _mm256_loadu_ps(bias + 8 * j) : _mm256_setzero_ps();
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][j], _mm256_mullo_epi32(_mm256_set1_epi32(zp[r]), csv)));
                v = _mm256_mul_ps(v, _mm256_mul_ps(_mm256_set1_ps(sx[r]), s));
                if (bias) v = _mm256_add_ps(v, bb);
                _mm256_storeu_ps(y + (size_t)r * ldy + 8 * j, v);
            }
        }
        return;
    }
    /* the last panel of an N that is not a multiple of 16 */
    for (int r = 0; r < MR; r++) {
        int32_t t[PW];
        _mm256_storeu_si256((__m256i *)t, acc[r][0]);
        _mm256_storeu_si256((__m256i *)(t + 8), acc[r][1]);
        for (int c = 0; c < cols; c++) {
            float v = (float)(t[c] - zp[r] * cs[c]) * (sx[r] * sw[c]);
            y[(size_t)r * ldy + c] = bias ? v + bias[c] : v;
        }
    }
}

#define TILE_FN(R)                                                                                                      \
    static void tile##R(const uint8_t *a, size_t lda, const int8_t *bp, int Kp, const int32_t *cs, const float *sw,     \
                        const float *bias, const float *sx, const int32_t *zp, float *y, size_t ldy, int cols) {        \
        tile(a, lda, bp, Kp, R, cs, sw, bias, sx, zp, y, ldy, cols);                                                    \
    }
TILE_FN(1)
TILE_FN(2)
TILE_FN(3)
TILE_FN(4)
TILE_FN(5)
TILE_FN(6)

void vt_q8_vnni_avx2(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                     const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy) {
    static void (*const tiles[7])(const uint8_t *, size_t, const int8_t *, int, const int32_t *, const float *,
                                  const float *, const float *, const int32_t *, float *, size_t, int) = {NULL, tile1, tile2, tile3,
                                                                                          tile4, tile5, tile6};
    for (int p = p0; p < p1; p++) {
        int n = p * PW, cols = w->N - n < PW ? w->N - n : PW;
        const int8_t *bp = w->w + (size_t)p * w->Kp * PW;
        for (int m = m0; m < m1; m += 6) {
            int rows = m1 - m < 6 ? m1 - m : 6;
            tiles[rows](a + (size_t)m * lda, lda, bp, w->Kp, w->colsum + n, w->scale + n, b ? b + n : NULL, sx + m,
                        zp + m, y + (size_t)m * ldy + n, ldy, cols);
        }
    }
}
