/* The AVX-512 VNNI int8 kernel (see int8.h): vpdpbusd multiplies 4 u8 activations (x quantized with a zero point,
 * broadcast as one int32) by 4 s8 weights in each of 16 int32 lanes and adds the 4 products, with
 * no saturation. A register tile is up to 6 rows x 64 columns (24 accumulators, 4 weight vectors,
 * one broadcast); each tile runs over the whole of K, so the sums are exact int32 and the result
 * is the portable kernel's bit for bit: sum = acc - zp * colsum, then
 * (float)sum * (sx * scale) + b, in that order of float operations. */
#include "kernels/int8.h"

#include <immintrin.h>
#include <string.h>

#define PW 64

static inline __attribute__((always_inline)) void tile(const uint8_t *a, size_t lda, const int8_t *bp, int Kp, const int MR,
                                                       const int32_t *cs, const float *sw, const float *bias,
                                                       const float *sx, const int32_t *zp, float *y, size_t ldy, int cols) {
    __m512i acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
    for (int k = 0; k < Kp; k += 4) {
        const int8_t *bk = bp + (size_t)k * PW;
        __m512i b0 = _mm512_loadu_si512(bk), b1 = _mm512_loadu_si512(bk + 64), b2 = _mm512_loadu_si512(bk + 128),
                b3 = _mm512_loadu_si512(bk + 192);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            int32_t v;
            memcpy(&v, a + (size_t)r * lda + k, 4);
            __m512i av = _mm512_set1_epi32(v);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, b2);
            acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], av, b3);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        int c = 16 * j;
        if (c >= cols) break;
        __mmask16 mask = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1);
        __m512i csv = _mm512_maskz_loadu_epi32(mask, cs + c);
        __m512 s = _mm512_maskz_loadu_ps(mask, sw + c);
        __m512 bb = bias ? _mm512_maskz_loadu_ps(mask, bias + c) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][j], _mm512_mullo_epi32(_mm512_set1_epi32(zp[r]), csv)));
            v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sx[r]), s));
            if (bias) v = _mm512_add_ps(v, bb);
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + c, mask, v);
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

void vt_q8_vnni_avx512(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
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
