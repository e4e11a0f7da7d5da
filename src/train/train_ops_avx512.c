/* AVX-512 row-range kernels for training (see train_ops_impl.h): exact GELU and its derivative
 * (Phi from kernels/phi512.h, exp by range reduction), column sums, LayerNorm forward/backward,
 * and attention per (image, head) with small register-blocked
 * matrix products that need no packing (head_dim 32..64 and T around 50 would waste half of a
 * 64-wide packed GEMM micro-panel). */
#include <immintrin.h>
#include <math.h>

#include "kernels/phi512.h"
#include "kernels/transpose8.h"
#include "kernels/bf16.h"
#include "kernels/store512.h"
#include "train/train_ops_impl.h"

#define SET1 _mm512_set1_ps

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* e^x, relative error about 2 ulp; x below -103 gives 0 */
static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, SET1(-103.0f)), SET1(88.7f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, SET1(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, SET1(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, SET1(-2.12194440e-4f), r);
    /* e^r on |r| <= ln2/2: degree-6 minimax-style polynomial (1 + r + r^2 p(r)) */
    __m512 p = SET1(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, SET1(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, SET1(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, SET1(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, SET1(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, SET1(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, SET1(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static void gelu_fwd(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask((int)(n - i < 16 ? n - i : 16));
        __m512 x = _mm512_maskz_loadu_ps(m, in + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(x, vt_phi16(x)));
    }
}

/* Column chunks of 64 outer, rows inner: the column sums stay in registers. */
static void gelu_bwd(float *dinp, const float *inp, const float *dout, int rows, int N, float *colacc) {
    for (int j0 = 0; j0 < N; j0 += 64) {
        __mmask16 mk[4];
        __m512 acc[4];
        for (int v = 0; v < 4; v++) {
            int rem = N - j0 - 16 * v;
            mk[v] = rem > 0 ? tail_mask(rem) : 0;
            acc[v] = _mm512_setzero_ps();
        }
        for (int r = 0; r < rows; r++) {
            size_t o = (size_t)r * N + j0;
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) {
                __m512 xv = _mm512_maskz_loadu_ps(mk[v], inp + o + 16 * v);
                __m512 pdf = _mm512_mul_ps(exp16(_mm512_mul_ps(_mm512_mul_ps(xv, xv), SET1(-0.5f))),
                                           SET1(0.39894228040143268f));
                __m512 d = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[v], dout + o + 16 * v),
                                         _mm512_fmadd_ps(xv, pdf, vt_phi16(xv)));
                _mm512_mask_storeu_ps(dinp + o + 16 * v, mk[v], d);
                acc[v] = _mm512_add_ps(acc[v], d);
            }
        }
        if (colacc)
            for (int v = 0; v < 4; v++)
                if (mk[v])
                    _mm512_mask_storeu_ps(colacc + j0 + 16 * v, mk[v],
                                          _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], colacc + j0 + 16 * v), acc[v]));
    }
}

static void colsum(float *acc, const float *x, int rows, int N) {
    for (int j0 = 0; j0 < N; j0 += 128) {
        __mmask16 mk[8];
        __m512 s[8];
        for (int v = 0; v < 8; v++) {
            int rem = N - j0 - 16 * v;
            mk[v] = rem > 0 ? tail_mask(rem) : 0;
            s[v] = _mm512_setzero_ps();
        }
        for (int r = 0; r < rows; r++) {
            const float *row = x + (size_t)r * N + j0;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) s[v] = _mm512_add_ps(s[v], _mm512_maskz_loadu_ps(mk[v], row + 16 * v));
        }
        for (int v = 0; v < 8; v++)
            if (mk[v])
                _mm512_mask_storeu_ps(acc + j0 + 16 * v, mk[v],
                                      _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], acc + j0 + 16 * v), s[v]));
    }
}

static void ln_fwd(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b, int rows,
                   int C, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        __m512 s = _mm512_setzero_ps();
        for (int j = 0; j < C; j += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(C - j), x + j));
        float m = _mm512_reduce_add_ps(s) / (float)C;
        __m512 vm = SET1(m), v = _mm512_setzero_ps();
        for (int j = 0; j < C; j += 16) {
            __mmask16 k = tail_mask(C - j);
            __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), vm);
            v = _mm512_fmadd_ps(d, d, v);
        }
        float rs = 1.0f / sqrtf(_mm512_reduce_add_ps(v) / (float)C + eps);
        __m512 vr = SET1(rs);
        for (int j = 0; j < C; j += 16) {
            __mmask16 k = tail_mask(C - j);
            __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
            _mm512_mask_storeu_ps(y + j, k,
                                  _mm512_fmadd_ps(xh, _mm512_maskz_loadu_ps(k, w + j), _mm512_maskz_loadu_ps(k, b + j)));
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
        __m512 vm = SET1(mean[r]), vr = SET1(rstd[r]), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps();
        for (int j = 0; j < C; j += 16) {
            __mmask16 k = tail_mask(C - j);
            __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
            __m512 g = _mm512_maskz_loadu_ps(k, dy + j);
            __m512 dn = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, w + j));
            s1 = _mm512_add_ps(s1, dn);
            s2 = _mm512_fmadd_ps(dn, xh, s2);
            if (pw) _mm512_mask_storeu_ps(pw + j, k, _mm512_fmadd_ps(g, xh, _mm512_maskz_loadu_ps(k, pw + j)));
            if (pb) _mm512_mask_storeu_ps(pb + j, k, _mm512_add_ps(g, _mm512_maskz_loadu_ps(k, pb + j)));
        }
        __m512 m1 = SET1(_mm512_reduce_add_ps(s1) / (float)C), m2 = SET1(_mm512_reduce_add_ps(s2) / (float)C);
        for (int j = 0; j < C; j += 16) {
            __mmask16 k = tail_mask(C - j);
            __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
            __m512 dn = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + j), _mm512_maskz_loadu_ps(k, w + j));
            __m512 t = _mm512_sub_ps(_mm512_sub_ps(dn, m1), _mm512_mul_ps(xh, m2));
            _mm512_mask_storeu_ps(dx + j, k, _mm512_fmadd_ps(vr, t, _mm512_maskz_loadu_ps(k, dx + j)));
        }
    }
}

/* ---------------------------------------------------------------- small matrix products
 * C[M x N] = alpha * A . B (+ C when acc), A(i, k) at A[i * sai + k * sak] (either layout),
 * B row-major (stride ldb), C stride ldc. Register blocks of MR rows x NV vectors of 16. */
#define SG_MR 6

static inline __attribute__((always_inline)) void sg_block(const int mr, const int nv, const __mmask16 *mk, int K,
                                                           float alpha, const float *A, size_t sai, size_t sak,
                                                           const float *B, size_t ldb, float *C, size_t ldc,
                                                           const float *R, const float *bias, float *G) {
    __m512 c[SG_MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) c[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb, *a = A + (size_t)k * sak;
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = _mm512_maskz_loadu_ps(mk[v], b + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512 av = SET1(a[(size_t)r * sai]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) c[r][v] = _mm512_fmadd_ps(av, bv[v], c[r][v]);
        }
    }
    vt_store_block(mr, nv, c, alpha, mk, C, ldc, R, bias, G);
}

#define SG_CASES(MR)                                                                                   \
    switch (nv) {                                                                                      \
    case 1: sg_block(MR, 1, mk, K, alpha, a, sai, sak, b, ldb, c, ldc, rr, bi, gg); break;                \
    case 2: sg_block(MR, 2, mk, K, alpha, a, sai, sak, b, ldb, c, ldc, rr, bi, gg); break;                \
    case 3: sg_block(MR, 3, mk, K, alpha, a, sai, sak, b, ldb, c, ldc, rr, bi, gg); break;                \
    default: sg_block(MR, 4, mk, K, alpha, a, sai, sak, b, ldb, c, ldc, rr, bi, gg); break;               \
    }

/* One pass over all of K (no blocking): C = alpha * A . B (+ R) (+ bias), then G = gelu(C), for
 * those of R (same stride as C; may be C), bias, G that are not NULL */
static void small_gemm_ep(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                          size_t ldb, float *C, size_t ldc, const float *R, const float *bias, float *G) {
    for (int j0 = 0; j0 < N; j0 += 64) {
        int nn = N - j0 < 64 ? N - j0 : 64, nv = (nn + 15) / 16;
        __mmask16 mk[4];
        for (int v = 0; v < 4; v++) mk[v] = nn - 16 * v > 0 ? tail_mask(nn - 16 * v) : 0;
        const float *b = B + j0, *bi = bias ? bias + j0 : NULL;
        int i = 0;
        for (; i + SG_MR <= M; i += SG_MR) {
            const float *a = A + (size_t)i * sai;
            float *c = C + (size_t)i * ldc + j0, *gg = G ? G + (size_t)i * ldc + j0 : NULL;
            const float *rr = R ? R + (size_t)i * ldc + j0 : NULL;
            SG_CASES(SG_MR)
        }
        for (; i + 2 <= M; i += 2) {
            const float *a = A + (size_t)i * sai;
            float *c = C + (size_t)i * ldc + j0, *gg = G ? G + (size_t)i * ldc + j0 : NULL;
            const float *rr = R ? R + (size_t)i * ldc + j0 : NULL;
            SG_CASES(2)
        }
        for (; i < M; i++) {
            const float *a = A + (size_t)i * sai;
            float *c = C + (size_t)i * ldc + j0, *gg = G ? G + (size_t)i * ldc + j0 : NULL;
            const float *rr = R ? R + (size_t)i * ldc + j0 : NULL;
            SG_CASES(1)
        }
    }
}

static void small_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                       size_t ldb, float *C, size_t ldc, int acc) {
    small_gemm_ep(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, acc ? C : NULL, NULL, NULL);
}

/* The same for large operands, cache-blocked: slices of GEMM_KC along K (R added with the first,
 * bias and GELU with the last), blocks of GEMM_MC rows of C; no packing (A is read in place
 * through its strides, B row by row). */
#ifndef GEMM_KC
#define GEMM_KC 256
#endif
#ifndef GEMM_MC
#define GEMM_MC 72
#endif
static void gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B, size_t ldb,
                 float *C, size_t ldc, const float *R, const float *bias, float *G) {
    int nk = (K + GEMM_KC - 1) / GEMM_KC, kcb = nk ? (K + nk - 1) / nk : 0; /* balanced K slices */
    for (int k0 = 0; k0 < K; k0 += kcb) {
        int kc = K - k0 < kcb ? K - k0 : kcb, last = k0 + kc >= K;
        for (int i0 = 0; i0 < M; i0 += GEMM_MC) {
            int mc = M - i0 < GEMM_MC ? M - i0 : GEMM_MC;
            size_t oc = (size_t)i0 * ldc;
            const float *r = k0 > 0 ? C + oc : R ? R + oc : NULL;
            small_gemm_ep(mc, N, kc, alpha, A + (size_t)i0 * sai + (size_t)k0 * sak, sai, sak, B + (size_t)k0 * ldb, ldb,
                          C + oc, ldc, r, last ? bias : NULL, last && G ? G + oc : NULL);
        }
    }
}

/* dst (cols x rows, contiguous) = transpose of src (rows x cols, stride ld), 8 x 8 blocks in
 * registers (element-wise strided stores were a large part of attention) */
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

static void softmax_rows(float *P, int T) {
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T;
        __m512 mx = SET1(-INFINITY);
        for (int j = 0; j < T; j += 16)
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(SET1(-INFINITY), tail_mask(T - j), row + j));
        __m512 vmx = SET1(_mm512_reduce_max_ps(mx)), s = _mm512_setzero_ps();
        for (int j = 0; j < T; j += 16) {
            __mmask16 k = tail_mask(T - j);
            __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), vmx)));
            s = _mm512_add_ps(s, e);
            _mm512_mask_storeu_ps(row + j, k, e);
        }
        __m512 inv = SET1(1.0f / _mm512_reduce_add_ps(s));
        for (int j = 0; j < T; j += 16) {
            __mmask16 k = tail_mask(T - j);
            _mm512_mask_storeu_ps(row + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), inv));
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
    for (int i = 0; i < T; i++) {
        float *d = dS + (size_t)i * T;
        const float *p = P + (size_t)i * T;
        __m512 s = _mm512_setzero_ps();
        for (int j = 0; j < T; j += 16) {
            __mmask16 m = tail_mask(T - j);
            s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, d + j), _mm512_maskz_loadu_ps(m, p + j), s);
        }
        __m512 dot = SET1(_mm512_reduce_add_ps(s)), sc = SET1(scale);
        for (int j = 0; j < T; j += 16) {
            __mmask16 m = tail_mask(T - j);
            __m512 pv = _mm512_maskz_loadu_ps(m, p + j);
            __m512 r = _mm512_mul_ps(_mm512_mul_ps(pv, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, d + j), dot)), sc);
            _mm512_mask_storeu_ps(d + j, m, r);
        }
    }
    /* dQ = dS K, dK = dS^T Q */
    small_gemm(T, hd, T, 1.0f, dS, (size_t)T, 1, k, (size_t)ld, dq, (size_t)ld, 0);
    small_gemm(T, hd, T, 1.0f, dS, 1, (size_t)T, q, (size_t)ld, dk, (size_t)ld, 0);
}

/* ---------------------------------------------------------------- optimizer */

static double sumsq(const float *x, size_t n) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* the operations of ref_adamw in its order, without FMA: the same bits */
static void adamw(float *p, float *m, float *v, const float *g, size_t n, const vt_adamw_coef *c) {
    const __m512 gs = SET1(c->gscale), b1 = SET1(c->b1), b2 = SET1(c->b2), a1 = SET1(1.0f - c->b1),
                 a2 = SET1(1.0f - c->b2), ss = SET1(c->step_size), bc = SET1(c->bc2_sqrt), eps = SET1(c->eps),
                 dec = SET1(c->decay);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j < 16 ? (int)(n - j) : 16);
        __m512 gr = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, g + j), gs);
        __m512 mm = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_maskz_loadu_ps(k, m + j)), _mm512_mul_ps(a1, gr));
        __m512 vv = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_maskz_loadu_ps(k, v + j)),
                                  _mm512_mul_ps(_mm512_mul_ps(a2, gr), gr));
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), bc), eps);
        __m512 pn = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + j), dec),
                                  _mm512_div_ps(_mm512_mul_ps(ss, mm), den));
        _mm512_mask_storeu_ps(m + j, k, mm);
        _mm512_mask_storeu_ps(v + j, k, vv);
        _mm512_mask_storeu_ps(p + j, k, pn);
    }
}

static void gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                     size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias, float *G) {
    (void)pre;
    gemm(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, R, bias, G);
}

#define AVX512_COMMON                                                                                         \
    .gelu_fwd = gelu_fwd, .gelu_bwd = gelu_bwd, .colsum = colsum, .ln_fwd = ln_fwd, .ln_bwd = ln_bwd,          \
    .att_fwd = att_fwd, .att_bwd = att_bwd, .transpose = transpose_ld, .sumsq = sumsq, .adamw = adamw

const vt_tr_kernels vt_tr_kernels_avx512 = {AVX512_COMMON, .gemm = gemm, .prep_size = vt_tr_no_prep_size,
                                            .prep_b = vt_tr_no_prep_b, .gemm_pre = gemm_pre};
const vt_tr_kernels vt_tr_kernels_avx512_bf16 = {AVX512_COMMON, .gemm = vt_bf16_gemm,
                                                 .prep_size = vt_bf16_prep_size, .prep_b = vt_bf16_prep_b,
                                                 .gemm_pre = vt_bf16_gemm_pre};
