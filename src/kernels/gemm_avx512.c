/* AVX-512 SGEMM: VT_MR x (NV*16) micro-kernel on the shared packed driver.
 * Default 6 x 64 (24 zmm accumulators, 4 B loads + 6 broadcasts per 24 FMAs): on Zen 4 it beat
 * 14x32, 12x32 and 8x48 by a few percent (fewer broadcasts per FMA). KC 768 (a whole
 * ViT-B K in one slice: C is read and written once, not per slice) measured 84% -> 91% of one
 * core's FMA peak on ViT-B/S Linear shapes against KC 256 (thread CPU time, bench-free). */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/phi512.h"
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
#define VT512_KC 768
#endif
#define VT_KC VT512_KC
#ifndef VT512_MCF
#define VT512_MCF 33 /* 198 rows: a batch-1 ViT GEMM (197 tokens) is one row block, each B panel used once */
#endif
#define VT_MC (VT_MR * VT512_MCF)
#define VT_TABLE vt_kernels_avx512
#define VT_TABLE_NAME "avx512"

/* Exact GELU 0.5*x*(1 + erf(x/sqrt(2))) = x * Phi(x) */
static inline __m512 gelu16(__m512 x) { return _mm512_mul_ps(x, vt_phi16(x)); }

static void gelu_vec(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* The micro-kernel over A rows ar[0..MR-1] with element stride ks along k: a packed sliver
 * (ar[r] = a + r, ks = MR) or rows of a row-major A read in place (ks = 1, no packing). */
static inline __attribute__((always_inline)) void ukernel_gen(int kc, const float *const *ar, size_t ks,
                                                              const float *restrict b, float *c, size_t ldc,
                                                              float alpha, float beta, const float *bias, int gelu,
                                                              int nv, const char *pf, size_t pf_step) {
    __m512 acc[VT_MR][VT512_NV];
    const float *a[VT_MR];
#if VT512_NV != 4
#error "ukernel_rows_edge assumes 4 vectors per panel"
#endif
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) a[r] = ar[r];
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        _mm_prefetch(pf + (size_t)k * pf_step, _MM_HINT_T1);
        __m512 bv[VT512_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = _mm512_load_ps(b + v * 16);
#pragma GCC unroll 32
        for (int r = 0; r < VT_MR; r++) {
            __m512 av = _mm512_set1_ps(a[r][(size_t)k * ks]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
        b += VT_NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) {
        float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __m512 x = _mm512_mul_ps(acc[r][v], va);
            if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + v * 16), x);
            if (bias) x = _mm512_add_ps(x, _mm512_loadu_ps(bias + v * 16));
            if (gelu) x = gelu16(x);
            _mm512_storeu_ps(cr + v * 16, x);
        }
    }
}

static void ukernel(int kc, const float *restrict a, const float *restrict b, float *c, size_t ldc, float alpha,
                    float beta, const float *bias, int gelu) {
    const float *ar[VT_MR];
    for (int r = 0; r < VT_MR; r++) ar[r] = a + r;
    ukernel_gen(kc, ar, VT_MR, b, c, ldc, alpha, beta, bias, gelu, VT512_NV, (const char *)b, 0);
}

/* A read in place: rows ar[r] contiguous along k (edge tiles repeat the last row). Skips packing
 * A, which for row-major activations costs as much as a few percent of the GEMM. */
static void ukernel_rows(int kc, const float *const *ar, const float *restrict b, float *c, size_t ldc, float alpha,
                         float beta, const float *bias, int gelu, const float *pf, int pf_lines) {
    /* one prefetch per k step spreads pf_lines cache lines of the next B panel over the call */
    size_t step = pf_lines > 0 ? ((size_t)pf_lines * 64 + (size_t)kc - 1) / (size_t)kc : 0;
    if (step > 64) step = 64;
    ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, VT512_NV, pf ? (const char *)pf : (const char *)b,
                pf ? step : 0);
}

/* An edge panel with nr < NR valid columns: only ceil(nr/16) vectors are computed (a 197-wide
 * score matrix is 3 full panels + 5 columns: the last costs a quarter of a panel, not a whole). */
static void ukernel_rows_edge(int nr, int kc, const float *const *ar, const float *restrict b, float *c, size_t ldc,
                              float alpha, float beta, const float *bias, int gelu) {
    switch ((nr + 15) / 16) {
    case 1: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 1, (const char *)b, 0); break;
    case 2: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 2, (const char *)b, 0); break;
    case 3: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 3, (const char *)b, 0); break;
    default: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, VT512_NV, (const char *)b, 0); break;
    }
}
#define VT_HAVE_UKERNEL_ROWS 1

/* ---- row kernels */

static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1); }

/* LayerNorm of one row: float partial sums over 16 lanes x 2 (two-pass, like the reference). */
static inline void ln_row512(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                             int C, float eps) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= C; j += 32) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + j));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + j + 16));
    }
    for (; j + 16 <= C; j += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + j));
    if (j < C) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(tail_mask(C - j), x + j));
    float m = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)C;
    const __m512 vm = _mm512_set1_ps(m);
    __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
    for (j = 0; j + 32 <= C; j += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + j), vm), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm);
        v0 = _mm512_fmadd_ps(d0, d0, v0);
        v1 = _mm512_fmadd_ps(d1, d1, v1);
    }
    for (; j + 16 <= C; j += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), vm);
        v0 = _mm512_fmadd_ps(d, d, v0);
    }
    if (j < C) {
        __mmask16 k = tail_mask(C - j);
        __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), vm);
        v1 = _mm512_fmadd_ps(d, d, v1);
    }
    float var = _mm512_reduce_add_ps(_mm512_add_ps(v0, v1)) / (float)C;
    float r = (float)(1.0 / __builtin_sqrt((double)var + (double)eps));
    const __m512 vr = _mm512_set1_ps(r);
    for (j = 0; j + 16 <= C; j += 16) {
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm), vr);
        _mm512_storeu_ps(y + j, _mm512_fmadd_ps(d, _mm512_loadu_ps(w + j), _mm512_loadu_ps(b + j)));
    }
    if (j < C) {
        __mmask16 k = tail_mask(C - j);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
        _mm512_mask_storeu_ps(y + j, k, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, w + j), _mm512_maskz_loadu_ps(k, b + j)));
    }
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

static void layernorm512(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                         int C, float eps) {
    for (int i = 0; i < N; i++)
        ln_row512(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, x + (size_t)i * C, w, b, C, eps);
}

static void add_layernorm512(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                             const float *w, const float *b, int N, int C, float eps) {
    for (int i = 0; i < N; i++) {
        float *xi = x + (size_t)i * C;
        const float *ri = r + (size_t)i * C;
        int j = 0;
        /* x += g * r (the residual) rounds like the reference: one multiply, one add */
        for (; j + 16 <= C; j += 16) {
            __m512 rv = _mm512_loadu_ps(ri + j);
            if (g) rv = _mm512_mul_ps(rv, _mm512_loadu_ps(g + j));
            _mm512_storeu_ps(xi + j, _mm512_add_ps(_mm512_loadu_ps(xi + j), rv));
        }
        if (j < C) {
            __mmask16 k = tail_mask(C - j);
            __m512 rv = _mm512_maskz_loadu_ps(k, ri + j);
            if (g) rv = _mm512_mul_ps(rv, _mm512_maskz_loadu_ps(k, g + j));
            _mm512_mask_storeu_ps(xi + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, xi + j), rv));
        }
        ln_row512(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, xi, w, b, C, eps);
    }
}

/* exp(x) for x <= 0 (softmax arguments): 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], p the
 * degree-7 Taylor polynomial (truncation < 6e-9 relative), n applied with scalef (underflows
 * cleanly to 0 below about -104). */
static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* nr (1 or 2) rows at a time: two rows interleave their exp chains (1.7x the throughput of one). */
static inline __attribute__((always_inline)) void softmax_rows512(float *S, size_t ld, int nr, int n, float *inv_sum) {
    __m512 mx[2], vmx[2], sum[2];
    float *row[2];
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++)
        row[q] = S + (size_t)q * ld, mx[q] = _mm512_set1_ps(-INFINITY), sum[q] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) mx[q] = _mm512_max_ps(mx[q], _mm512_loadu_ps(row[q] + j));
    const __mmask16 k = tail_mask(n - j);
    if (j < n)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) mx[q] = _mm512_mask_max_ps(mx[q], k, mx[q], _mm512_maskz_loadu_ps(k, row[q] + j));
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) vmx[q] = _mm512_set1_ps(_mm512_reduce_max_ps(mx[q]));
    for (j = 0; j + 16 <= n; j += 16)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(row[q] + j), vmx[q]));
            _mm512_storeu_ps(row[q] + j, e);
            sum[q] = _mm512_add_ps(sum[q], e);
        }
    if (j < n)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row[q] + j), vmx[q])));
            _mm512_mask_storeu_ps(row[q] + j, k, e);
            sum[q] = _mm512_add_ps(sum[q], e);
        }
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) {
        float inv = 1.0f / _mm512_reduce_add_ps(sum[q]);
        if (inv_sum) {
            inv_sum[q] = inv;
            continue;
        }
        const __m512 vi = _mm512_set1_ps(inv);
        for (j = 0; j + 16 <= n; j += 16) _mm512_storeu_ps(row[q] + j, _mm512_mul_ps(_mm512_loadu_ps(row[q] + j), vi));
        if (j < n) _mm512_mask_storeu_ps(row[q] + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row[q] + j), vi));
    }
}

static void softmax512(float *S, int N, int n, size_t ld, float *inv_sum) {
    int i = 0;
    for (; i + 2 <= N; i += 2) softmax_rows512(S + (size_t)i * ld, ld, 2, n, inv_sum ? inv_sum + i : NULL);
    if (i < N) softmax_rows512(S + (size_t)i * ld, ld, 1, n, inv_sum ? inv_sum + i : NULL);
}

/* vt_gated_act: x sigmoid(z) with e = exp(-|z|) (exp512's domain), sigmoid = 1 / (1 + e) or e / (1 + e). */
static inline __m512 act16(__m512 x, int kind) {
    __m512 z;
    if (kind == VT_ACT_KIND_QUICK_GELU) {
        z = _mm512_mul_ps(x, _mm512_set1_ps(1.702f));
    } else {
        const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        z = _mm512_mul_ps(_mm512_fmadd_ps(x3, _mm512_set1_ps(0.044715f), x), _mm512_set1_ps(2.0f * 0.7978845608028654f));
    }
    const __m512 neg_abs = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u)));
    const __m512 e = exp512(neg_abs), one = _mm512_set1_ps(1.0f);
    const __m512 num = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), one, e);
    return _mm512_mul_ps(x, _mm512_div_ps(num, _mm512_add_ps(one, e)));
}

static void act512(float *out, const float *in, size_t n, int kind) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, act16(_mm512_loadu_ps(in + i), kind));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, m, act16(_mm512_maskz_loadu_ps(m, in + i), kind));
    }
}

#define VT_LAYERNORM layernorm512
#define VT_ADD_LAYERNORM add_layernorm512
#define VT_SOFTMAX softmax512
#define VT_ACT act512

#include "kernels/gemm_driver.h"
