/* The GEMM with bfloat16 operands and float accumulation (AVX512-BF16: `vitc train --bf16` and
 * bf16 inference): C[M x N] = alpha * A . B (+ R) (+ bias), then G = gelu(C), with the interface of
 * vt_tr_kernels.gemm. VDPBF16PS does 32 multiply-adds per instruction where VFMADD231PS does 16,
 * at the same rate on Zen 4, so the products run up to twice as fast; the operands are rounded to
 * bfloat16 (8-bit mantissa, round to nearest even) and every sum is kept in float, as mixed-
 * precision training does elsewhere.
 *
 * Per slice of K (at most KC), A is packed once as pairs of consecutive-k bfloat16 values (one
 * 32-bit word per row and pair), row-major or k-major whichever matches A's layout, and each
 * 64-column panel of B as words holding (B[k][j], B[k+1][j]); a micro-kernel of 6 rows x 64
 * columns then broadcasts one A word per row and k pair against four B vectors. An odd K gets a
 * zero partner. Compiled with -mavx512bf16; used only when the CPU reports it. */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/arena.h"
#include "kernels/bf16.h"
#include "kernels/store512.h"

#define BF_MR 6
#define BF_KC 256

static inline __mmask16 tail16(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* words w[i] = (lo[i], hi[i]) from two float vectors: lo in the low half of each word */
static const uint16_t pair_idx[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                      8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
static inline __m512i pair_words(__m512 lo, __m512 hi) {
    /* cvtne2ps_pbh(a, b): bf16 words 0-15 from b, 16-31 from a */
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(pair_idx), both);
}

/* Grow-only buffers of the calling thread (never freed, as the other training scratch). */
static uint32_t *scratch_words(int which, size_t n) {
    static _Thread_local float *buf[2];
    static _Thread_local size_t cap[2];
    float *p = vt_scratch_grow(&buf[which], &cap[which], n);
    if (!p) abort();
    return (uint32_t *)p;
}

/* A's slice [k0, k0 + kc) as words: row-major (ap[i * kp + p]) when A is row-major (sak == 1),
 * else k-major (ap[p * M + i]). Sets the strides the micro-kernel reads with. */
static void pack_a(uint32_t *ap, const float *A, size_t sai, size_t sak, int M, int k0, int kc, size_t *wi, size_t *wp) {
    int kp = (kc + 1) / 2;
    if (sak == 1) {
        *wi = (size_t)kp, *wp = 1;
        for (int i = 0; i < M; i++) {
            const float *a = A + (size_t)i * sai + k0;
            uint32_t *d = ap + (size_t)i * kp;
            for (int k = 0; k < kc; k += 32) {
                int n = kc - k < 32 ? kc - k : 32;
                __m512 lo = _mm512_maskz_loadu_ps(tail16(n), a + k);
                __m512 hi = _mm512_maskz_loadu_ps(n > 16 ? tail16(n - 16) : 0, a + k + 16);
                __m512i w = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* consecutive k: already paired */
                _mm512_mask_storeu_epi32(d + k / 2, tail16((n + 1) / 2), w);
            }
        }
    } else {
        *wi = 1, *wp = (size_t)M;
        for (int p = 0; p < kp; p++) {
            const float *r0 = A + (size_t)(k0 + 2 * p) * sak, *r1 = r0 + sak;
            int has1 = 2 * p + 1 < kc;
            uint32_t *d = ap + (size_t)p * M;
            for (int i = 0; i < M; i += 16) {
                __mmask16 m = tail16(M - i);
                __m512 lo, hi;
                if (sai == 1) {
                    lo = _mm512_maskz_loadu_ps(m, r0 + i);
                    hi = has1 ? _mm512_maskz_loadu_ps(m, r1 + i) : _mm512_setzero_ps();
                } else { /* general strides: gather */
                    __m512i off = _mm512_mullo_epi32(_mm512_add_epi32(_mm512_set1_epi32(i),
                                                                      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
                                                                                       6, 5, 4, 3, 2, 1, 0)),
                                                     _mm512_set1_epi32((int)sai));
                    lo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, off, r0, 4);
                    hi = has1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, off, r1, 4) : _mm512_setzero_ps();
                }
                _mm512_mask_storeu_epi32(d + i, m, pair_words(lo, hi));
            }
        }
    }
}

/* Columns [j0, j0 + nn) of B's slice [k0, k0 + kc) as kp x 64 words (zero beyond nn). */
static void pack_b(uint32_t *bp, const float *B, size_t ldb, int k0, int kc, int j0, int nn) {
    int kp = (kc + 1) / 2;
    for (int p = 0; p < kp; p++) {
        const float *r0 = B + (size_t)(k0 + 2 * p) * ldb + j0, *r1 = r0 + ldb;
        int has1 = 2 * p + 1 < kc;
        for (int v = 0; v < 4; v++) {
            int left = nn - 16 * v;
            __mmask16 m = left > 0 ? tail16(left) : 0;
            __m512 lo = _mm512_maskz_loadu_ps(m, r0 + 16 * v);
            __m512 hi = has1 ? _mm512_maskz_loadu_ps(m, r1 + 16 * v) : _mm512_setzero_ps();
            _mm512_storeu_si512(bp + (size_t)p * 64 + 16 * v, pair_words(lo, hi));
        }
    }
}

static inline __attribute__((always_inline)) void bf_block(const int mr, const int nv, const __mmask16 *mk, int kp,
                                                           float alpha, const uint32_t *a, size_t wi, size_t wp,
                                                           const uint32_t *b, float *C, size_t ldc, const float *R,
                                                           const float *bias, float *G) {
    __m512 c[BF_MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) c[r][v] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        const uint32_t *bk = b + (size_t)p * 64, *ak = a + (size_t)p * wp;
        __m512bh bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = (__m512bh)_mm512_loadu_si512(bk + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)ak[(size_t)r * wi]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) c[r][v] = _mm512_dpbf16_ps(c[r][v], av, bv[v]);
        }
    }
    vt_store_block(mr, nv, c, alpha, mk, C, ldc, R, bias, G);
}

#define BF_CASES(MR)                                                                                           \
    switch (nv) {                                                                                              \
    case 1: bf_block(MR, 1, mk, kp, alpha, a, wi, wp, bp, c, ldc, rr, bi, gg); break;                          \
    case 2: bf_block(MR, 2, mk, kp, alpha, a, wi, wp, bp, c, ldc, rr, bi, gg); break;                          \
    case 3: bf_block(MR, 3, mk, kp, alpha, a, wi, wp, bp, c, ldc, rr, bi, gg); break;                          \
    default: bf_block(MR, 4, mk, kp, alpha, a, wi, wp, bp, c, ldc, rr, bi, gg); break;                         \
    }

/* K's slices: balanced, even lengths but the last, at most BF_KC (kcb: the slice length) */
static int slice_len(int K) {
    int nk = K > 0 ? (K + BF_KC - 1) / BF_KC : 1, kcb = K > 0 ? (K + nk - 1) / nk : 0;
    return kcb + (kcb & 1);
}

/* prepared B: for each slice in order, its panels in order, each kp x 64 words */
size_t vt_bf16_prep_size(int K, int N) {
    size_t panels = (size_t)(N + 63) / 64, words = 0;
    int kcb = slice_len(K);
    for (int k0 = 0; k0 < K; k0 += kcb) {
        int kc = K - k0 < kcb ? K - k0 : kcb;
        words += (size_t)(kc + 1) / 2 * 64 * panels;
    }
    return words ? words : 1;
}

void vt_bf16_prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N) {
    int kcb = slice_len(K);
    for (int k0 = 0; k0 < K; k0 += kcb) {
        int kc = K - k0 < kcb ? K - k0 : kcb, kp = (kc + 1) / 2;
        for (int j0 = 0; j0 < N; j0 += 64, dst += (size_t)kp * 64) pack_b(dst, B, ldb, k0, kc, j0, N - j0 < 64 ? N - j0 : 64);
    }
}

void vt_bf16_gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                         size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias,
                         float *G) {
    if (M <= 0 || N <= 0) return;
    int kcb = slice_len(K), kcap = kcb > 0 ? kcb : 2;
    uint32_t *ap = scratch_words(0, (size_t)M * (kcap / 2));
    uint32_t *bp = pre ? NULL : scratch_words(1, (size_t)(kcap / 2) * 64);
    const uint32_t *slice = pre;
    for (int k0 = 0;; k0 += kcb) {
        int kc = K - k0 < kcb ? K - k0 : kcb, last = k0 + kc >= K, kp = (kc + 1) / 2;
        size_t wi, wp;
        pack_a(ap, A, sai, sak, M, k0, kc, &wi, &wp);
        for (int j0 = 0; j0 < N; j0 += 64) {
            int nn = N - j0 < 64 ? N - j0 : 64, nv = (nn + 15) / 16;
            __mmask16 mk[4];
            for (int v = 0; v < 4; v++) mk[v] = nn - 16 * v > 0 ? tail16(nn - 16 * v) : 0;
            if (pre) {
                bp = (uint32_t *)slice + (size_t)(j0 / 64) * kp * 64;
            } else {
                pack_b(bp, B, ldb, k0, kc, j0, nn);
            }
            const float *bi = last && bias ? bias + j0 : NULL;
            for (int i = 0; i < M;) {
                int mr = M - i >= BF_MR ? BF_MR : M - i >= 2 ? 2 : 1;
                const uint32_t *a = ap + (size_t)i * wi;
                float *c = C + (size_t)i * ldc + j0, *gg = last && G ? G + (size_t)i * ldc + j0 : NULL;
                /* R with the first slice; the running sum in C after it */
                const float *rr = k0 > 0 ? c : R ? R + (size_t)i * ldc + j0 : NULL;
                if (mr == BF_MR) {
                    BF_CASES(BF_MR)
                } else if (mr == 2) {
                    BF_CASES(2)
                } else {
                    BF_CASES(1)
                }
                i += mr;
            }
        }
        if (pre) slice += (size_t)kp * 64 * ((N + 63) / 64);
        if (last) break;
    }
}

void vt_bf16_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                     size_t ldb, float *C, size_t ldc, const float *R, const float *bias, float *G) {
    vt_bf16_gemm_pre(M, N, K, alpha, A, sai, sak, B, ldb, NULL, C, ldc, R, bias, G);
}
