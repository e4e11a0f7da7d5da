/* AVX2/FMA SGEMM: VT_MR x (NV*8) micro-kernel on the shared packed driver.
 * Default 4 x 24 (12 ymm accumulators, 3 B loads + 4 broadcasts per 12 FMAs; all 16 ymm registers),
 * KC 512, MC 96 rows: on a 2-core Zen 3 (AVX2, 512 KB L2), 1 thread, best of 8 interleaved rounds
 * on ViT Linear shapes (shared machine), it took 13% less time than 6 x 16 / KC 256 / MC 144 on
 * the whole set (7-25% on the large-N and batch-8 shapes, even on the small ones), and beat 6 x 16
 * with KC 384-768 and MC 48-198. 12 independent accumulators also cover a 128-bit-datapath core
 * (Zen 1: one 256-bit FMA per cycle, latency 5). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/erf_coef.h"
#include "kernels/transpose8.h"
#define VT_HAVE_TRANSPOSE8 1

#ifndef VT256_MR
#define VT256_MR 4
#endif
#ifndef VT256_NV
#define VT256_NV 3
#endif
#define VT_MR VT256_MR
#define VT_NR (VT256_NV * 8)
#ifndef VT256_KC
#define VT256_KC 512
#endif
#define VT_KC VT256_KC
#ifndef VT256_MCF
#define VT256_MCF 24 /* 96 rows */
#endif
#define VT_MC (VT_MR * VT256_MCF)
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

/* The micro-kernel over A rows ar[0..MR-1] with element stride ks along k: a packed sliver
 * (ar[r] = a + r, ks = MR) or rows of a row-major A read in place (ks = 1, no packing); nv of
 * the NV vectors per panel are computed (edge panels). */
static inline __attribute__((always_inline)) void ukernel_gen(int kc, const float *const *ar, size_t ks,
                                                              const float *restrict b, float *c, size_t ldc,
                                                              float alpha, float beta, const float *bias, int gelu,
                                                              int nv, const char *pf, size_t pf_step) {
    __m256 acc[VT_MR][VT256_NV];
    const float *a[VT_MR];
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) a[r] = ar[r];
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        _mm_prefetch(pf + (size_t)k * pf_step, _MM_HINT_T1);
        __m256 bv[VT256_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = _mm256_load_ps(b + v * 8);
#pragma GCC unroll 32
        for (int r = 0; r < VT_MR; r++) {
            __m256 av = _mm256_broadcast_ss(a[r] + (size_t)k * ks);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
        b += VT_NR;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 32
    for (int r = 0; r < VT_MR; r++) {
        float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __m256 x = _mm256_mul_ps(acc[r][v], va);
            if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + v * 8), x);
            if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias + v * 8));
            if (gelu) x = gelu8(x);
            _mm256_storeu_ps(cr + v * 8, x);
        }
    }
}

static void ukernel(int kc, const float *restrict a, const float *restrict b, float *c, size_t ldc, float alpha,
                    float beta, const float *bias, int gelu) {
    const float *ar[VT_MR];
    for (int r = 0; r < VT_MR; r++) ar[r] = a + r;
    ukernel_gen(kc, ar, VT_MR, b, c, ldc, alpha, beta, bias, gelu, VT256_NV, (const char *)b, 0);
}

/* A read in place: rows ar[r] contiguous along k (edge tiles repeat the last row); packing A
 * cost ~4% of a ViT forward pass on Zen. Prefetches pf_lines lines of the next B panel. */
static void ukernel_rows(int kc, const float *const *ar, const float *restrict b, float *c, size_t ldc, float alpha,
                         float beta, const float *bias, int gelu, const float *pf, int pf_lines) {
    size_t step = pf_lines > 0 ? ((size_t)pf_lines * 64 + (size_t)kc - 1) / (size_t)kc : 0;
    if (step > 64) step = 64;
    ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, VT256_NV, pf ? (const char *)pf : (const char *)b,
                pf ? step : 0);
}

/* An edge panel with nr < NR valid columns: only ceil(nr/8) vectors are computed. */
static void ukernel_rows_edge(int nr, int kc, const float *const *ar, const float *restrict b, float *c, size_t ldc,
                              float alpha, float beta, const float *bias, int gelu) {
    switch ((nr + 7) / 8) {
    case 1: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 1, (const char *)b, 0); break;
#if VT256_NV > 2
    case 2: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 2, (const char *)b, 0); break;
#endif
#if VT256_NV > 3
    case 3: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, 3, (const char *)b, 0); break;
#endif
    default: ukernel_gen(kc, ar, 1, b, c, ldc, alpha, beta, bias, gelu, VT256_NV, (const char *)b, 0); break;
    }
}
#define VT_HAVE_UKERNEL_ROWS 1

/* ---- row kernels (no mask registers: tails through maskload/maskstore) */

/* Lanes [0, n) set, n in [0, 8]: a window into a run of 8 ones then 8 zeros. */
static inline __m256i tail_mask8(int n) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - n));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* LayerNorm of one row: float partial sums over 8 lanes x 2 (two-pass, like the reference). */
static inline void ln_row256(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                             int C, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= C; j += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + j));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + j + 8));
    }
    for (; j + 8 <= C; j += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + j));
    const int jt = j;
    const __m256i k = tail_mask8(C - jt);
    if (jt < C) s1 = _mm256_add_ps(s1, _mm256_maskload_ps(x + jt, k));
    float m = hsum8(_mm256_add_ps(s0, s1)) / (float)C;
    const __m256 vm = _mm256_set1_ps(m);
    __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
    for (j = 0; j + 16 <= C; j += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + j), vm), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm);
        v0 = _mm256_fmadd_ps(d0, d0, v0);
        v1 = _mm256_fmadd_ps(d1, d1, v1);
    }
    for (; j + 8 <= C; j += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), vm);
        v0 = _mm256_fmadd_ps(d, d, v0);
    }
    if (jt < C) { /* the masked-off lanes' -m must not count */
        __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + jt, k), vm), _mm256_castsi256_ps(k));
        v1 = _mm256_fmadd_ps(d, d, v1);
    }
    float var = hsum8(_mm256_add_ps(v0, v1)) / (float)C;
    float r = (float)(1.0 / __builtin_sqrt((double)var + (double)eps));
    const __m256 vr = _mm256_set1_ps(r);
    for (j = 0; j + 8 <= C; j += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), vr);
        _mm256_storeu_ps(y + j, _mm256_fmadd_ps(d, _mm256_loadu_ps(w + j), _mm256_loadu_ps(b + j)));
    }
    if (jt < C) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + jt, k), vm), vr);
        _mm256_maskstore_ps(y + jt, k, _mm256_fmadd_ps(d, _mm256_maskload_ps(w + jt, k), _mm256_maskload_ps(b + jt, k)));
    }
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

static void layernorm256(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                         int C, float eps) {
    for (int i = 0; i < N; i++)
        ln_row256(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, x + (size_t)i * C, w, b, C, eps);
}

static void add_layernorm256(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                             const float *w, const float *b, int N, int C, float eps) {
    for (int i = 0; i < N; i++) {
        float *xi = x + (size_t)i * C;
        const float *ri = r + (size_t)i * C;
        int j = 0;
        /* x += g * r (the residual) rounds like the reference: one multiply, one add */
        for (; j + 8 <= C; j += 8) {
            __m256 rv = _mm256_loadu_ps(ri + j);
            if (g) rv = _mm256_mul_ps(rv, _mm256_loadu_ps(g + j));
            _mm256_storeu_ps(xi + j, _mm256_add_ps(_mm256_loadu_ps(xi + j), rv));
        }
        if (j < C) {
            const __m256i k = tail_mask8(C - j);
            __m256 rv = _mm256_maskload_ps(ri + j, k);
            if (g) rv = _mm256_mul_ps(rv, _mm256_maskload_ps(g + j, k));
            _mm256_maskstore_ps(xi + j, k, _mm256_add_ps(_mm256_maskload_ps(xi + j, k), rv));
        }
        ln_row256(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, xi, w, b, C, eps);
    }
}

/* exp(x) for x <= 0 (softmax arguments), as exp512 in gemm_avx512.c: 2^n * p(r), r = x - n ln2 in
 * [-ln2/2, ln2/2], p the degree-7 Taylor polynomial (truncation < 6e-9 relative). Without
 * scalef, 2^n is applied as two exponent-built factors 2^(n/2) * 2^(n - n/2), each a normal
 * float for n >= -150, so results in the subnormal range round once and go cleanly to 0 below
 * about -104 (one factor alone would stop at 2^-126). */
static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-104.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}

/* nr (1 or 2) rows at a time: two rows interleave their exp chains. */
static inline __attribute__((always_inline)) void softmax_rows256(float *S, size_t ld, int nr, int n, float *inv_sum) {
    __m256 mx[2], vmx[2], sum[2];
    float *row[2];
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++)
        row[q] = S + (size_t)q * ld, mx[q] = _mm256_set1_ps(-INFINITY), sum[q] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) mx[q] = _mm256_max_ps(mx[q], _mm256_loadu_ps(row[q] + j));
    const int jt = j;
    const __m256i k = tail_mask8(n - jt);
    const __m256 kf = _mm256_castsi256_ps(k);
    if (jt < n)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) /* masked-off lanes read as -inf */
            mx[q] = _mm256_max_ps(mx[q], _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(row[q] + jt, k), kf));
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) vmx[q] = _mm256_set1_ps(hmax8(mx[q]));
    for (j = 0; j + 8 <= n; j += 8)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(row[q] + j), vmx[q]));
            _mm256_storeu_ps(row[q] + j, e);
            sum[q] = _mm256_add_ps(sum[q], e);
        }
    if (jt < n)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(row[q] + jt, k), vmx[q])), kf);
            _mm256_maskstore_ps(row[q] + jt, k, e);
            sum[q] = _mm256_add_ps(sum[q], e);
        }
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) {
        float inv = 1.0f / hsum8(sum[q]);
        if (inv_sum) {
            inv_sum[q] = inv;
            continue;
        }
        const __m256 vi = _mm256_set1_ps(inv);
        for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(row[q] + j, _mm256_mul_ps(_mm256_loadu_ps(row[q] + j), vi));
        if (jt < n) _mm256_maskstore_ps(row[q] + jt, k, _mm256_mul_ps(_mm256_maskload_ps(row[q] + jt, k), vi));
    }
}

static void softmax256(float *S, int N, int n, size_t ld, float *inv_sum) {
    int i = 0;
    for (; i + 2 <= N; i += 2) softmax_rows256(S + (size_t)i * ld, ld, 2, n, inv_sum ? inv_sum + i : NULL);
    if (i < N) softmax_rows256(S + (size_t)i * ld, ld, 1, n, inv_sum ? inv_sum + i : NULL);
}

/* vt_gated_act: x sigmoid(z) with e = exp(-|z|) (exp256's domain), sigmoid = 1 / (1 + e) or e / (1 + e). */
static inline __m256 act8(__m256 x, int kind) {
    __m256 z;
    if (kind == VT_ACT_KIND_QUICK_GELU) {
        z = _mm256_mul_ps(x, _mm256_set1_ps(1.702f));
    } else {
        const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        z = _mm256_mul_ps(_mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x), _mm256_set1_ps(2.0f * 0.7978845608028654f));
    }
    const __m256 neg_abs = _mm256_or_ps(z, _mm256_set1_ps(-0.0f));
    const __m256 e = exp256(neg_abs), one = _mm256_set1_ps(1.0f);
    const __m256 num = _mm256_blendv_ps(one, e, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_mul_ps(x, _mm256_div_ps(num, _mm256_add_ps(one, e)));
}

static void act256(float *out, const float *in, size_t n, int kind) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, act8(_mm256_loadu_ps(in + i), kind));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, in + i, sizeof(float) * (n - i));
        _mm256_storeu_ps(t, act8(_mm256_loadu_ps(t), kind));
        memcpy(out + i, t, sizeof(float) * (n - i));
    }
}

#define VT_LAYERNORM layernorm256
#define VT_ADD_LAYERNORM add_layernorm256
#define VT_SOFTMAX softmax256
#define VT_ACT act256

#include "kernels/gemm_driver.h"
