/* AArch64 Advanced SIMD (NEON) kernels: an 8 x 12 SGEMM micro-kernel on the shared packed
 * driver, exact GELU, LayerNorm, residual + LayerNorm and softmax. Built only for aarch64
 * targets (Makefile), where NEON is part of the base architecture.
 * Micro-kernel: 24 accumulators (8 rows x 3 vectors of 4 columns) + 2 A + 3 B registers = 29 of
 * the 32; per k step 5 128-bit loads feed 24 vector FMAs (vfmaq_laneq_f32: a row's A value is a
 * lane of an A register, no broadcast). Its speed has not been measured (no ARM machine here). */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/erf16_coef.h"

#define VTN_NV 3
#define VT_MR 8
#define VT_NR (VTN_NV * 4)
#define VT_KC 256
#define VT_MC (VT_MR * 24)
#define VT_TABLE vt_kernels_neon
#define VT_TABLE_NAME "neon"

/* A row of the 16-interval erf/2 table (erf16_coef.h) looked up per lane: bi holds the byte
 * offsets 4 i + {0, 1, 2, 3} of each lane's interval i in the row's 64 bytes. */
static inline float32x4_t lut16(const float *row, uint8x16_t bi) {
    const uint8_t *p = (const uint8_t *)row;
    const uint8x16x4_t t = {{vld1q_u8(p), vld1q_u8(p + 16), vld1q_u8(p + 32), vld1q_u8(p + 48)}};
    return vreinterpretq_f32_u8(vqtbl4q_u8(t, bi));
}

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, as vt_phi16 (phi512.h) computes it: 4 |x| / sqrt 2 clamped
 * below 16 picks the interval, where erf rounds to 1 beyond the last; NaN stays NaN in x Phi(x). */
static inline float32x4_t phi4(float32x4_t x) {
    const float32x4_t a4 = vminq_f32(vmulq_f32(vabsq_f32(x), vdupq_n_f32(2.82842712474619010f)), vdupq_n_f32(15.999999f));
    const float32x4_t f = vrndmq_f32(a4);
    const float32x4_t u = vsubq_f32(a4, f);
    const uint8x16_t bi = vreinterpretq_u8_u32(vmlaq_n_u32(vdupq_n_u32(0x03020100u), vcvtq_u32_f32(f), 0x04040404u));
    float32x4_t h = lut16(VT_HERF16_C[VT_HERF16_DEG], bi);
    for (int d = VT_HERF16_DEG - 1; d >= 0; d--) h = vfmaq_f32(lut16(VT_HERF16_C[d], bi), h, u);
    /* 1/2 + sign(x) * erf(|x| / sqrt 2) / 2 */
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    return vaddq_f32(vdupq_n_f32(0.5f), vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(h), sign)));
}

/* Exact GELU 0.5*x*(1 + erf(x/sqrt(2))) = x * Phi(x) */
static inline float32x4_t gelu4(float32x4_t x) { return vmulq_f32(x, phi4(x)); }

static void gelu_vec(float *x, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, gelu4(vld1q_f32(x + i)));
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, sizeof(float) * (n - i));
        vst1q_f32(t, gelu4(vld1q_f32(t)));
        memcpy(x + i, t, sizeof(float) * (n - i));
    }
}

/* Row r of the tile takes lane l of A register av (lanes are immediates, hence one line per row). */
#define VTN_ROW(r, av, l)                                                                                    \
    _Pragma("GCC unroll 4") for (int v = 0; v < VTN_NV; v++) acc[r][v] = vfmaq_laneq_f32(acc[r][v], bv[v], av, l)

static void ukernel(int kc, const float *restrict a, const float *restrict b, float *c, size_t ldc, float alpha,
                    float beta, const float *bias, int gelu) {
    float32x4_t acc[VT_MR][VTN_NV];
#pragma GCC unroll 8
    for (int r = 0; r < VT_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < VTN_NV; v++) acc[r][v] = vdupq_n_f32(0.0f);
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        float32x4_t bv[VTN_NV];
#pragma GCC unroll 4
        for (int v = 0; v < VTN_NV; v++) bv[v] = vld1q_f32(b + v * 4);
        VTN_ROW(0, a0, 0);
        VTN_ROW(1, a0, 1);
        VTN_ROW(2, a0, 2);
        VTN_ROW(3, a0, 3);
        VTN_ROW(4, a1, 0);
        VTN_ROW(5, a1, 1);
        VTN_ROW(6, a1, 2);
        VTN_ROW(7, a1, 3);
        a += VT_MR;
        b += VT_NR;
    }
    const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
#pragma GCC unroll 8
    for (int r = 0; r < VT_MR; r++) {
        float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < VTN_NV; v++) {
            float32x4_t x = vmulq_f32(acc[r][v], va);
            if (beta != 0.0f) x = vfmaq_f32(x, vb, vld1q_f32(cr + v * 4));
            if (bias) x = vaddq_f32(x, vld1q_f32(bias + v * 4));
            if (gelu) x = gelu4(x);
            vst1q_f32(cr + v * 4, x);
        }
    }
}

/* ---- row kernels (vector bodies, scalar tails) */

/* LayerNorm of one row: float partial sums over 4 lanes x 2 (two-pass, like the reference). */
static inline void ln_row4(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                           float eps) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int j = 0;
    for (; j + 8 <= C; j += 8) {
        s0 = vaddq_f32(s0, vld1q_f32(x + j));
        s1 = vaddq_f32(s1, vld1q_f32(x + j + 4));
    }
    for (; j + 4 <= C; j += 4) s0 = vaddq_f32(s0, vld1q_f32(x + j));
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; j < C; j++) s += x[j];
    const float m = s / (float)C;
    const float32x4_t vm = vdupq_n_f32(m);
    float32x4_t v0 = vdupq_n_f32(0.0f), v1 = vdupq_n_f32(0.0f);
    for (j = 0; j + 8 <= C; j += 8) {
        const float32x4_t d0 = vsubq_f32(vld1q_f32(x + j), vm), d1 = vsubq_f32(vld1q_f32(x + j + 4), vm);
        v0 = vfmaq_f32(v0, d0, d0);
        v1 = vfmaq_f32(v1, d1, d1);
    }
    for (; j + 4 <= C; j += 4) {
        const float32x4_t d = vsubq_f32(vld1q_f32(x + j), vm);
        v0 = vfmaq_f32(v0, d, d);
    }
    float var = vaddvq_f32(vaddq_f32(v0, v1));
    for (; j < C; j++) var = fmaf(x[j] - m, x[j] - m, var);
    var /= (float)C;
    const float r = (float)(1.0 / sqrt((double)var + (double)eps));
    const float32x4_t vr = vdupq_n_f32(r);
    for (j = 0; j + 4 <= C; j += 4) {
        const float32x4_t d = vmulq_f32(vsubq_f32(vld1q_f32(x + j), vm), vr);
        vst1q_f32(y + j, vfmaq_f32(vld1q_f32(b + j), d, vld1q_f32(w + j)));
    }
    for (; j < C; j++) y[j] = fmaf((x[j] - m) * r, w[j], b[j]);
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

static void layernorm_neon(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                           int C, float eps) {
    for (int i = 0; i < N; i++)
        ln_row4(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, x + (size_t)i * C, w, b, C, eps);
}

static void add_layernorm_neon(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                               const float *w, const float *b, int N, int C, float eps) {
    for (int i = 0; i < N; i++) {
        float *xi = x + (size_t)i * C;
        const float *ri = r + (size_t)i * C;
        int j = 0;
        /* x += g * r (the residual) rounds like the reference: one multiply, one add, never fused */
        for (; j + 4 <= C; j += 4) {
            float32x4_t rv = vld1q_f32(ri + j);
            if (g) rv = vmulq_f32(rv, vld1q_f32(g + j));
            vst1q_f32(xi + j, vaddq_f32(vld1q_f32(xi + j), rv));
        }
        for (; j < C; j++) {
            const float t = g ? g[j] * ri[j] : ri[j];
            xi[j] += t;
        }
        ln_row4(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, xi, w, b, C, eps);
    }
}

/* exp(x) for x <= 0 (softmax arguments): 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], p the
 * degree-7 Taylor polynomial (truncation < 6e-9 relative), as the AVX-512 softmax. 2^n is applied
 * as two exact power-of-two factors, so that n down to -150 (subnormal results, x >= -104) scales
 * with one rounding, like a scalef. */
static inline float32x4_t exp4(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-104.0f));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187045e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t ni = vcvtq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const float32x4_t f1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    const float32x4_t f2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, f1), f2);
}

/* nr (1 or 2) rows at a time: two rows interleave their exp chains. The last n % 4 columns go
 * through a 4-float buffer, their lanes beyond n kept out of the sum. */
static inline __attribute__((always_inline)) void softmax_rows4(float *S, size_t ld, int nr, int n, float *inv_sum) {
    float32x4_t mx[2], vmx[2], sum[2];
    float *row[2], mxs[2];
    const int tail = n & 3, nv = n - tail;
    static const uint32_t lane_no[4] = {0, 1, 2, 3};
    const uint32x4_t keep = vcltq_u32(vld1q_u32(lane_no), vdupq_n_u32((uint32_t)tail));
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++)
        row[q] = S + (size_t)q * ld, mx[q] = vdupq_n_f32(-INFINITY), sum[q] = vdupq_n_f32(0.0f);
    for (int j = 0; j < nv; j += 4)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) mx[q] = vmaxq_f32(mx[q], vld1q_f32(row[q] + j));
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) {
        mxs[q] = vmaxvq_f32(mx[q]);
        for (int j = nv; j < n; j++) mxs[q] = row[q][j] > mxs[q] ? row[q][j] : mxs[q];
        vmx[q] = vdupq_n_f32(mxs[q]);
    }
    for (int j = 0; j < nv; j += 4)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            const float32x4_t e = exp4(vsubq_f32(vld1q_f32(row[q] + j), vmx[q]));
            vst1q_f32(row[q] + j, e);
            sum[q] = vaddq_f32(sum[q], e);
        }
    if (tail)
#pragma GCC unroll 2
        for (int q = 0; q < nr; q++) {
            float t[4] = {0};
            memcpy(t, row[q] + nv, sizeof(float) * (size_t)tail);
            const float32x4_t e = exp4(vsubq_f32(vld1q_f32(t), vmx[q]));
            vst1q_f32(t, e);
            memcpy(row[q] + nv, t, sizeof(float) * (size_t)tail);
            sum[q] = vaddq_f32(sum[q], vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), keep)));
        }
#pragma GCC unroll 2
    for (int q = 0; q < nr; q++) {
        const float inv = 1.0f / vaddvq_f32(sum[q]);
        if (inv_sum) {
            inv_sum[q] = inv;
            continue;
        }
        const float32x4_t vi = vdupq_n_f32(inv);
        for (int j = 0; j < nv; j += 4) vst1q_f32(row[q] + j, vmulq_f32(vld1q_f32(row[q] + j), vi));
        for (int j = nv; j < n; j++) row[q][j] *= inv;
    }
}

static void softmax_neon(float *S, int N, int n, size_t ld, float *inv_sum) {
    int i = 0;
    for (; i + 2 <= N; i += 2) softmax_rows4(S + (size_t)i * ld, ld, 2, n, inv_sum ? inv_sum + i : NULL);
    if (i < N) softmax_rows4(S + (size_t)i * ld, ld, 1, n, inv_sum ? inv_sum + i : NULL);
}

#define VT_LAYERNORM layernorm_neon
#define VT_ADD_LAYERNORM add_layernorm_neon
#define VT_SOFTMAX softmax_neon

#include "kernels/gemm_driver.h"
