/* AVX2/FMA row-range kernels for training (see train_ops_impl.h), the AVX-512 set's algorithms
 * (train_ops_avx512.c) on 8-lane vectors: exact GELU and its derivative (Phi from the 8-interval
 * erf table, exp by range reduction), column sums, LayerNorm forward/backward, attention per
 * (image, head) with register-blocked products that need no packing, and the optimizer.
 * AVX2 has no mask registers: a partial last vector is read and written with vmaskmov, whose
 * masked-off lanes load as 0 and are not stored. 16 ymm registers: GEMM blocks are 6 rows x 2
 * vectors (12 accumulators, 2 B vectors, 1 broadcast A). */
#include <immintrin.h>
#include <math.h>

#include "kernels/erf_coef.h"
#include "kernels/transpose8.h"
#include "core/arena.h"
#include "train/train_ops_impl.h"

#define SET1 _mm256_set1_ps

/* lane mask for the first n (0..8) lanes: a window into -1 x 8, 0 x 8 */
static const int mask_window[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i tail_mask(int n) { return _mm256_loadu_si256((const __m256i *)(mask_window + 8 - (n < 8 ? n : 8))); }
static inline __m256 loadm(__m256i m, const float *p) { return _mm256_maskload_ps(p, m); }
static inline void storem(float *p, __m256i m, __m256 x) { _mm256_maskstore_ps(p, m, x); }

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

/* e^x, relative error about 2 ulp (the AVX-512 set's polynomial); 2^n is built in the exponent
 * field, so x is clamped to [-87.3, 88.3] and results for x below -87.3 (under 1.2e-38, where
 * floats turn denormal) are flushed to 0 */
static inline __m256 exp8(__m256 x) {
    const __m256 tiny = _mm256_cmp_ps(x, SET1(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, SET1(-87.3f)), SET1(88.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, SET1(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, SET1(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, SET1(-2.12194440e-4f), r);
    __m256 p = SET1(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, SET1(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, SET1(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, SET1(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, SET1(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, SET1(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, SET1(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2 from VT_ERF_C (erf on [0, 4) in 8 intervals, one permute per
 * coefficient); |x| / sqrt 2 at 4 and beyond gives erf = 1. NaN stays NaN in x * Phi(x). */
static inline __m256 phi8(__m256 x) {
    const __m256 a = _mm256_andnot_ps(SET1(-0.0f), _mm256_mul_ps(x, SET1(0.70710678118654752f)));
    __m256i idx = _mm256_cvttps_epi32(_mm256_add_ps(a, a));
    idx = _mm256_max_epi32(_mm256_min_epi32(idx, _mm256_set1_epi32(7)), _mm256_setzero_si256()); /* NaN: INT_MIN */
    const __m256 t = _mm256_sub_ps(a, _mm256_fmadd_ps(_mm256_cvtepi32_ps(idx), SET1(0.5f), SET1(0.25f)));
    __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(VT_ERF_C[VT_ERF_DEG]), idx);
    for (int d = VT_ERF_DEG - 1; d >= 0; d--)
        p = _mm256_fmadd_ps(p, t, _mm256_permutevar8x32_ps(_mm256_load_ps(VT_ERF_C[d]), idx));
    p = _mm256_blendv_ps(p, SET1(1.0f), _mm256_cmp_ps(a, SET1(4.0f), _CMP_GE_OQ));
    /* 1/2 + sign(x) * erf(|x| / sqrt 2) / 2 */
    const __m256 h = _mm256_mul_ps(p, SET1(0.5f));
    return _mm256_add_ps(SET1(0.5f), _mm256_xor_ps(h, _mm256_and_ps(x, SET1(-0.0f))));
}

static void gelu_fwd(float *out, const float *in, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(x, phi8(x)));
    }
    if (i < n) {
        __m256i m = tail_mask((int)(n - i));
        __m256 x = loadm(m, in + i);
        storem(out + i, m, _mm256_mul_ps(x, phi8(x)));
    }
}

/* Column chunks of 32 outer, rows inner: the column sums stay in registers. */
static void gelu_bwd(float *dinp, const float *inp, const float *dout, int rows, int N, float *colacc) {
    for (int j0 = 0; j0 < N; j0 += 32) {
        __m256i mk[4];
        __m256 acc[4];
        int nv = (N - j0 + 7) / 8 < 4 ? (N - j0 + 7) / 8 : 4;
        for (int v = 0; v < 4; v++) {
            int rem = N - j0 - 8 * v;
            mk[v] = tail_mask(rem > 0 ? rem : 0);
            acc[v] = _mm256_setzero_ps();
        }
        for (int r = 0; r < rows; r++) {
            size_t o = (size_t)r * N + j0;
            for (int v = 0; v < nv; v++) {
                __m256 xv = loadm(mk[v], inp + o + 8 * v);
                __m256 pdf = _mm256_mul_ps(exp8(_mm256_mul_ps(_mm256_mul_ps(xv, xv), SET1(-0.5f))),
                                           SET1(0.39894228040143268f));
                __m256 d = _mm256_mul_ps(loadm(mk[v], dout + o + 8 * v), _mm256_fmadd_ps(xv, pdf, phi8(xv)));
                storem(dinp + o + 8 * v, mk[v], d);
                acc[v] = _mm256_add_ps(acc[v], d);
            }
        }
        if (colacc)
            for (int v = 0; v < nv; v++)
                storem(colacc + j0 + 8 * v, mk[v], _mm256_add_ps(loadm(mk[v], colacc + j0 + 8 * v), acc[v]));
    }
}

static void colsum(float *acc, const float *x, int rows, int N) {
    for (int j0 = 0; j0 < N; j0 += 64) {
        __m256i mk[8];
        __m256 s[8];
        int nv = (N - j0 + 7) / 8 < 8 ? (N - j0 + 7) / 8 : 8;
        for (int v = 0; v < 8; v++) {
            int rem = N - j0 - 8 * v;
            mk[v] = tail_mask(rem > 0 ? rem : 0);
            s[v] = _mm256_setzero_ps();
        }
        for (int r = 0; r < rows; r++) {
            const float *row = x + (size_t)r * N + j0;
            for (int v = 0; v < nv; v++) s[v] = _mm256_add_ps(s[v], loadm(mk[v], row + 8 * v));
        }
        for (int v = 0; v < nv; v++) storem(acc + j0 + 8 * v, mk[v], _mm256_add_ps(loadm(mk[v], acc + j0 + 8 * v), s[v]));
    }
}

static void ln_fwd(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b, int rows,
                   int C, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < C; j += 8) s = _mm256_add_ps(s, loadm(tail_mask(C - j), x + j));
        float m = hsum8(s) / (float)C;
        __m256 vm = SET1(m), v = _mm256_setzero_ps();
        for (int j = 0; j < C; j += 8) {
            __m256i k = tail_mask(C - j);
            __m256 d = _mm256_and_ps(_mm256_sub_ps(loadm(k, x + j), vm), _mm256_castsi256_ps(k));
            v = _mm256_fmadd_ps(d, d, v);
        }
        float rs = 1.0f / sqrtf(hsum8(v) / (float)C + eps);
        __m256 vr = SET1(rs);
        for (int j = 0; j < C; j += 8) {
            __m256i k = tail_mask(C - j);
            __m256 xh = _mm256_mul_ps(_mm256_sub_ps(loadm(k, x + j), vm), vr);
            storem(y + j, k, _mm256_fmadd_ps(xh, loadm(k, w + j), loadm(k, b + j)));
        }
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
    }
}

static void ln_bwd(float *dinp, float *pw, float *pb, const float *dout, const float *inp, const float *w,
                   const float *mean, const float *rstd, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        __m256 vm = SET1(mean[r]), vr = SET1(rstd[r]), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
        for (int j = 0; j < C; j += 8) {
            __m256i k = tail_mask(C - j);
            __m256 xh = _mm256_mul_ps(_mm256_sub_ps(loadm(k, x + j), vm), vr);
            __m256 g = loadm(k, dy + j);
            __m256 dn = _mm256_mul_ps(g, loadm(k, w + j)); /* 0 in masked lanes: g is 0 there */
            s1 = _mm256_add_ps(s1, dn);
            s2 = _mm256_fmadd_ps(dn, xh, s2);
            if (pw) storem(pw + j, k, _mm256_fmadd_ps(g, xh, loadm(k, pw + j)));
            if (pb) storem(pb + j, k, _mm256_add_ps(g, loadm(k, pb + j)));
        }
        __m256 m1 = SET1(hsum8(s1) / (float)C), m2 = SET1(hsum8(s2) / (float)C);
        for (int j = 0; j < C; j += 8) {
            __m256i k = tail_mask(C - j);
            __m256 xh = _mm256_mul_ps(_mm256_sub_ps(loadm(k, x + j), vm), vr);
            __m256 dn = _mm256_mul_ps(loadm(k, dy + j), loadm(k, w + j));
            __m256 t = _mm256_sub_ps(_mm256_sub_ps(dn, m1), _mm256_mul_ps(xh, m2));
            storem(dx + j, k, _mm256_fmadd_ps(vr, t, loadm(k, dx + j)));
        }
    }
}

/* ---------------------------------------------------------------- small matrix products
 * C[M x N] = alpha * A . B (+ R) (+ bias), G = gelu(C); A(i, k) at A[i * sai + k * sak] (either
 * layout), B row-major (stride ldb), C stride ldc. Register blocks of MR rows x NV vectors of 8. */
#define SG_MR 6

static inline __attribute__((always_inline)) void store8(__m256 acc, __m256 alpha, int full, __m256i m, float *C,
                                                         const float *R, const float *bias, float *G) {
    __m256 x = _mm256_mul_ps(alpha, acc);
    if (full) {
        if (R) x = _mm256_add_ps(x, _mm256_loadu_ps(R));
        if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias));
        _mm256_storeu_ps(C, x);
        if (G) _mm256_storeu_ps(G, _mm256_mul_ps(x, phi8(x)));
    } else {
        if (R) x = _mm256_add_ps(x, loadm(m, R));
        if (bias) x = _mm256_add_ps(x, loadm(m, bias));
        storem(C, m, x);
        if (G) storem(G, m, _mm256_mul_ps(x, phi8(x)));
    }
}

/* mr x (8 nv) block; the last vector is partial when tail (mask m) */
static inline __attribute__((always_inline)) void sg_block(const int mr, const int nv, const int tail, __m256i m,
                                                           int K, float alpha, const float *A, size_t sai, size_t sak,
                                                           const float *B, size_t ldb, float *C, size_t ldc,
                                                           const float *R, const float *bias, float *G) {
    __m256 c[SG_MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) c[r][v] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb, *a = A + (size_t)k * sak;
        __m256 bv[2];
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            bv[v] = tail && v == nv - 1 ? loadm(m, b + 8 * v) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)r * sai);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) c[r][v] = _mm256_fmadd_ps(av, bv[v], c[r][v]);
        }
    }
    const __m256 va = SET1(alpha);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            size_t o = (size_t)r * ldc + 8 * v;
            store8(c[r][v], va, !(tail && v == nv - 1), m, C + o, R ? R + o : NULL, bias ? bias + 8 * v : NULL,
                   G ? G + o : NULL);
        }
}

/* the rows of one column chunk (nv vectors, the last partial when tail), in blocks of MR, 2, 1 */
static inline __attribute__((always_inline)) void sg_rows(const int nv, const int tail, __m256i m, int M, int K,
                                                          float alpha, const float *A, size_t sai, size_t sak,
                                                          const float *B, size_t ldb, float *C, size_t ldc,
                                                          const float *R, const float *bias, float *G) {
    int i = 0;
#define SG_AT(MR)                                                                                                    \
    sg_block(MR, nv, tail, m, K, alpha, A + (size_t)i * sai, sai, sak, B, ldb, C + (size_t)i * ldc, ldc,           \
             R ? R + (size_t)i * ldc : NULL, bias, G ? G + (size_t)i * ldc : NULL)
    for (; i + SG_MR <= M; i += SG_MR) SG_AT(SG_MR);
    for (; i + 2 <= M; i += 2) SG_AT(2);
    for (; i < M; i++) SG_AT(1);
#undef SG_AT
}

/* The calling thread's copy of a K x 16 strip of B, contiguous (NULL when out of memory: the
 * strip is then read in place). */
static float *strip_buffer(int K) {
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    return vt_scratch_grow(&buf, &cap, (size_t)K * 16);
}

/* Row blocks from which a strip of B is copied first: B's rows ldb apart defeat the prefetchers
 * when every row block walks them again (measured: about 15% of a weight-sized product). */
#define SG_COPY_ROWS 24

/* One pass over all of K (no blocking): C = alpha * A . B (+ R) (+ bias), then G = gelu(C), for
 * those of R (same stride as C; may be C), bias, G that are not NULL. B is read from strips (the
 * prepared form: 16-column strips of kc rows, sstride floats apart) when not NULL, else in place or,
 * for tall blocks, through a copy of each strip. */
static void gemm_block(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                       size_t ldb_in, const float *strips, size_t sstride, float *C, size_t ldc, const float *R,
                       const float *bias, float *G) {
    float *copy = !strips && M >= SG_COPY_ROWS && ldb_in > 16 && K > 0 ? strip_buffer(K) : NULL;
    for (int j0 = 0; j0 < N; j0 += 16) {
        int nn = N - j0 < 16 ? N - j0 : 16;
        const float *b = B + j0, *bi = bias ? bias + j0 : NULL;
        size_t ldb = ldb_in;
        if (strips) {
            b = strips + (size_t)(j0 / 16) * sstride, ldb = 16;
        } else if (copy) {
            if (nn == 16)
                for (int k = 0; k < K; k++) {
                    _mm256_store_ps(copy + (size_t)k * 16, _mm256_loadu_ps(b + (size_t)k * ldb_in));
                    _mm256_store_ps(copy + (size_t)k * 16 + 8, _mm256_loadu_ps(b + (size_t)k * ldb_in + 8));
                }
            else
                for (int k = 0; k < K; k++)
                    for (int t = 0; t < nn; t++) copy[(size_t)k * 16 + t] = b[(size_t)k * ldb_in + t];
            b = copy, ldb = 16;
        }
        float *c = C + j0, *g = G ? G + j0 : NULL;
        const float *r = R ? R + j0 : NULL;
        __m256i m = tail_mask(nn & 7);
        if (nn == 16) sg_rows(2, 0, m, M, K, alpha, A, sai, sak, b, ldb, c, ldc, r, bi, g);
        else if (nn > 8) sg_rows(2, 1, m, M, K, alpha, A, sai, sak, b, ldb, c, ldc, r, bi, g);
        else if (nn == 8) sg_rows(1, 0, m, M, K, alpha, A, sai, sak, b, ldb, c, ldc, r, bi, g);
        else sg_rows(1, 1, m, M, K, alpha, A, sai, sak, b, ldb, c, ldc, r, bi, g);
    }
}

static void small_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                       size_t ldb, float *C, size_t ldc, int acc) {
    gemm_block(M, N, K, alpha, A, sai, sak, B, ldb, NULL, 0, C, ldc, acc ? C : NULL, NULL, NULL);
}

/* The same for large operands, cache-blocked: slices of GEMM_KC along K (R added with the first,
 * bias and GELU with the last), blocks of GEMM_MC rows of C. pre (may be NULL): B in its prepared
 * form (prep_b), 16-column strips of all K rows. */
#ifndef GEMM_KC
#define GEMM_KC 256
#endif
#ifndef GEMM_MC
#define GEMM_MC 288 /* 6 x 48: an A block of 288 x 256 floats stays in a 512 KB L2 */
#endif
static void gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                     size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias, float *G) {
    const float *strips = (const float *)pre;
    if (K == 0) { /* C = R + bias, G = gelu(C): the product is empty */
        gemm_block(M, N, 0, alpha, A, sai, sak, B, ldb, NULL, 0, C, ldc, R, bias, G);
        return;
    }
    int nk = (K + GEMM_KC - 1) / GEMM_KC, kcb = (K + nk - 1) / nk; /* balanced K slices */
    for (int k0 = 0; k0 < K; k0 += kcb) {
        int kc = K - k0 < kcb ? K - k0 : kcb, last = k0 + kc >= K;
        for (int i0 = 0; i0 < M; i0 += GEMM_MC) {
            int mc = M - i0 < GEMM_MC ? M - i0 : GEMM_MC;
            size_t oc = (size_t)i0 * ldc;
            const float *r = k0 > 0 ? C + oc : R ? R + oc : NULL;
            gemm_block(mc, N, kc, alpha, A + (size_t)i0 * sai + (size_t)k0 * sak, sai, sak, B + (size_t)k0 * ldb, ldb,
                       strips ? strips + (size_t)k0 * 16 : NULL, (size_t)K * 16, C + oc, ldc, r, last ? bias : NULL,
                       last && G ? G + oc : NULL);
        }
    }
}

static void gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B, size_t ldb,
                 float *C, size_t ldc, const float *R, const float *bias, float *G) {
    gemm_pre(M, N, K, alpha, A, sai, sak, B, ldb, NULL, C, ldc, R, bias, G);
}

/* The prepared form of a K x N B read by every task of a layer: its 16-column strips, each K x 16
 * contiguous (columns past N zero), so that no task copies or walks B's rows itself. */
static size_t prep_size(int K, int N) { return (size_t)(N + 15) / 16 * 16 * (size_t)K; }

static void prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N) {
    float *d = (float *)dst;
    for (int j0 = 0; j0 < N; j0 += 16) {
        int nn = N - j0 < 16 ? N - j0 : 16;
        for (int k = 0; k < K; k++, d += 16) {
            const float *b = B + (size_t)k * ldb + j0;
            if (nn == 16) {
                _mm256_storeu_ps(d, _mm256_loadu_ps(b));
                _mm256_storeu_ps(d + 8, _mm256_loadu_ps(b + 8));
            } else {
                for (int t = 0; t < 16; t++) d[t] = t < nn ? b[t] : 0.0f;
            }
        }
    }
}

/* dst (cols x rows) = transpose of src (rows x cols), 8 x 8 blocks in registers */
static void transpose_ld(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols) {
    int r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int r = 0; r < r8; r += 8)
        for (int c = 0; c < c8; c += 8) vt_transpose8x8(src + (size_t)r * lds + c, lds, dst + (size_t)c * ldd + r, ldd);
    for (int r = 0; r < rows; r++)
        for (int c = r < r8 ? c8 : 0; c < cols; c++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

static void transpose(float *dst, const float *src, int rows, int cols, int ld) {
    transpose_ld(dst, (size_t)rows, src, (size_t)ld, rows, cols);
}

/* ---------------------------------------------------------------- attention */

static void softmax_rows(float *P, int T) {
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T;
        __m256 mx = SET1(-INFINITY);
        int j = 0;
        for (; j + 8 <= T; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(row + j));
        float m = hmax8(mx);
        for (int t = j; t < T; t++) m = row[t] > m ? row[t] : m;
        __m256 vmx = SET1(m), s = _mm256_setzero_ps();
        for (j = 0; j + 8 <= T; j += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vmx));
            s = _mm256_add_ps(s, e);
            _mm256_storeu_ps(row + j, e);
        }
        if (j < T) {
            __m256i k = tail_mask(T - j);
            __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(loadm(k, row + j), vmx)), _mm256_castsi256_ps(k));
            s = _mm256_add_ps(s, e);
            storem(row + j, k, e);
        }
        __m256 inv = SET1(1.0f / hsum8(s));
        for (j = 0; j + 8 <= T; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
        if (j < T) {
            __m256i k = tail_mask(T - j);
            storem(row + j, k, _mm256_mul_ps(loadm(k, row + j), inv));
        }
    }
}

static void att_fwd(const float *q, const float *k, const float *v, int ld, float *P, float *o, int ldo, int T,
                    int hd, float scale, float *scratch) {
    float *Kt = scratch; /* hd x T */
    transpose(Kt, k, T, hd, ld);
    small_gemm(T, T, hd, scale, q, (size_t)ld, 1, Kt, (size_t)T, P, (size_t)T, 0);
    softmax_rows(P, T);
    small_gemm(T, hd, T, 1.0f, P, (size_t)T, 1, v, (size_t)ld, o, (size_t)ldo, 0);
}

static void att_bwd(float *dq, float *dk, float *dv, const float *q, const float *k, const float *v, int ld,
                    const float *P, const float *dO, int ldo, int T, int hd, float scale, float *scratch) {
    float *dS = scratch, *Vt = scratch + (size_t)T * T;
    /* dV = P^T dO */
    small_gemm(T, hd, T, 1.0f, P, 1, (size_t)T, dO, (size_t)ldo, dv, (size_t)ld, 0);
    /* dP = dO V^T */
    transpose(Vt, v, T, hd, ld);
    small_gemm(T, T, hd, 1.0f, dO, (size_t)ldo, 1, Vt, (size_t)T, dS, (size_t)T, 0);
    /* dS = P * (dP - sum_j dP P) * scale */
    const __m256 sc = SET1(scale);
    for (int i = 0; i < T; i++) {
        float *d = dS + (size_t)i * T;
        const float *p = P + (size_t)i * T;
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < T; j += 8) {
            __m256i m = tail_mask(T - j);
            s = _mm256_fmadd_ps(loadm(m, d + j), loadm(m, p + j), s);
        }
        __m256 dot = SET1(hsum8(s));
        for (int j = 0; j < T; j += 8) {
            __m256i m = tail_mask(T - j);
            __m256 pv = loadm(m, p + j);
            storem(d + j, m, _mm256_mul_ps(_mm256_mul_ps(pv, _mm256_sub_ps(loadm(m, d + j), dot)), sc));
        }
    }
    /* dQ = dS K, dK = dS^T Q */
    small_gemm(T, hd, T, 1.0f, dS, (size_t)T, 1, k, (size_t)ld, dq, (size_t)ld, 0);
    small_gemm(T, hd, T, 1.0f, dS, 1, (size_t)T, q, (size_t)ld, dk, (size_t)ld, 0);
}

/* ---------------------------------------------------------------- optimizer */

static double sumsq(const float *x, size_t n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    __m256d s = _mm256_add_pd(s0, s1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double t = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; i++) t += (double)x[i] * x[i];
    return t;
}

/* the operations of ref_adamw in its order, without FMA: the same bits */
static void adamw(float *p, float *m, float *v, const float *g, size_t n, const vt_adamw_coef *c) {
    const __m256 gs = SET1(c->gscale), b1 = SET1(c->b1), b2 = SET1(c->b2), a1 = SET1(1.0f - c->b1),
                 a2 = SET1(1.0f - c->b2), ss = SET1(c->step_size), bc = SET1(c->bc2_sqrt), eps = SET1(c->eps),
                 dec = SET1(c->decay);
    for (size_t j = 0; j < n; j += 8) {
        __m256i k = tail_mask(n - j < 8 ? (int)(n - j) : 8);
        __m256 gr = _mm256_mul_ps(loadm(k, g + j), gs);
        __m256 mm = _mm256_add_ps(_mm256_mul_ps(b1, loadm(k, m + j)), _mm256_mul_ps(a1, gr));
        __m256 vv = _mm256_add_ps(_mm256_mul_ps(b2, loadm(k, v + j)), _mm256_mul_ps(_mm256_mul_ps(a2, gr), gr));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), bc), eps);
        __m256 pn = _mm256_sub_ps(_mm256_mul_ps(loadm(k, p + j), dec), _mm256_div_ps(_mm256_mul_ps(ss, mm), den));
        storem(m + j, k, mm);
        storem(v + j, k, vv);
        storem(p + j, k, pn);
    }
}

const vt_tr_kernels vt_tr_kernels_avx2 = {.gelu_fwd = gelu_fwd,
                                          .gelu_bwd = gelu_bwd,
                                          .colsum = colsum,
                                          .ln_fwd = ln_fwd,
                                          .ln_bwd = ln_bwd,
                                          .att_fwd = att_fwd,
                                          .att_bwd = att_bwd,
                                          .gemm = gemm,
                                          .prep_size = prep_size,
                                          .prep_b = prep_b,
                                          .gemm_pre = gemm_pre,
                                          .transpose = transpose_ld,
                                          .sumsq = sumsq,
                                          .adamw = adamw};
