/* Backward passes of the layers in layers.c (training). Plain loops and vt_sgemm with transpose
 * flags, OpenMP over rows; reductions over rows go through per-thread partial sums added in thread
 * order, so results are identical from run to run for a given thread count. */
#include "kernels/kernels.h"
#include "model/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/omp_team.h"


void vt_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *mean, const float *rstd, int N, int C) {
    int nt = vt_get_threads();
    if (N < 64) nt = 1;
    float *part = (dw || db) ? calloc((size_t)nt * 2 * C, sizeof(float)) : NULL;
    if ((dw || db) && !part) abort();
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        float *pw = part ? part + (size_t)tid * 2 * C : NULL, *pb = pw ? pw + C : NULL;
        int lo = (int)((long long)N * tid / team), hi = (int)((long long)N * (tid + 1) / team);
        for (int i = lo; i < hi; i++) {
            const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
            float *dx = dinp + (size_t)i * C;
            float m = mean[i], r = rstd[i];
            float s1 = 0.0f, s2 = 0.0f; /* mean of dnorm and of dnorm * xhat */
            for (int j = 0; j < C; j++) {
                float xh = (x[j] - m) * r, dn = dy[j] * w[j];
                s1 += dn;
                s2 += dn * xh;
                if (pw) {
                    pw[j] += dy[j] * xh;
                    pb[j] += dy[j];
                }
            }
            s1 /= (float)C;
            s2 /= (float)C;
            for (int j = 0; j < C; j++) {
                float xh = (x[j] - m) * r, dn = dy[j] * w[j];
                dx[j] += r * (dn - s1 - xh * s2);
            }
        }
    }
    if (part) {
        for (int t = 0; t < nt; t++) {
            const float *pw = part + (size_t)t * 2 * C, *pb = pw + C;
            for (int j = 0; j < C; j++) {
                if (dw) dw[j] += pw[j];
                if (db) db[j] += pb[j];
            }
        }
        free(part);
    }
}

void vt_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt2pi = 0.39894228040143268f;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * inv_sqrt2));
        float pdf = inv_sqrt2pi * expf(-0.5f * x * x);
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

void vt_quick_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], s = 1.0f / (1.0f + expf(-1.702f * x)); /* y = x s(1.702 x) */
        dinp[i] = dout[i] * (s + 1.702f * x * s * (1.0f - s));
    }
}

void vt_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    const float k = 0.7978845608028654f, c = 0.044715f; /* y = x (1 + tanh(k (x + c x^3))) / 2 */
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], t = tanhf(k * (x + c * x * x * x));
        dinp[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * c * x * x));
    }
}

void vt_swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int H) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((long long)N * H > 65536)
    for (int r = 0; r < N; r++) {
        const float *g = inp + (size_t)r * 2 * H, *v = g + H, *dy = dout + (size_t)r * H;
        float *dg = dinp + (size_t)r * 2 * H, *dv = dg + H;
        for (int j = 0; j < H; j++) { /* y = silu(a) b, silu(a) = a s(a), silu'(a) = s (1 + a (1 - s)) */
            float a = g[j], s = 1.0f / (1.0f + expf(-a));
            dg[j] = dy[j] * v[j] * s * (1.0f + a * (1.0f - s));
            dv[j] = dy[j] * a * s;
        }
    }
}

void vt_colsum_accumulate(float *acc, const float *x, int M, int N) {
    enum { CB = 64 };
    int nb = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((long long)M * N > 65536)
    for (int blk = 0; blk < nb; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < N ? j0 + CB : N;
        float s[CB] = {0};
        for (int i = 0; i < M; i++) {
            const float *row = x + (size_t)i * N;
            for (int j = j0; j < j1; j++) s[j - j0] += row[j];
        }
        for (int j = j0; j < j1; j++) acc[j] += s[j - j0];
    }
}

void vt_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                        int K, int N, float beta_dx) {
    if (dx) vt_sgemm(0, 0, M, K, N, 1.0f, dy, N, W, K, beta_dx, dx, K);  /* dx[M,K] = dy[M,N] W[N,K] */
    if (dW) vt_sgemm(1, 0, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);     /* dW[N,K] += dy^T x */
    if (db) vt_colsum_accumulate(db, dy, M, N);
}

void vt_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                           int heads) {
    int hd = D / heads, C3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *dp = malloc(sizeof(float) * (size_t)T);
        if (!dp) abort();
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * heads; bh++) {
            int b = bh / heads, h = bh % heads;
            const float *base = qkv + (size_t)b * T * C3;
            float *dbase = dqkv + (size_t)b * T * C3;
            /* this (b, h)'s q, k, v gradient columns are written by this iteration only */
            for (int t = 0; t < T; t++)
                for (int part = 0; part < 3; part++)
                    memset(dbase + (size_t)t * C3 + (size_t)part * D + (size_t)h * hd, 0, sizeof(float) * (size_t)hd);
            for (int i = 0; i < T; i++) {
                const float *p = att + ((size_t)bh * T + i) * T;
                const float *dO = dout + ((size_t)b * T + i) * D + (size_t)h * hd;
                const float *q = base + (size_t)i * C3 + (size_t)h * hd;
                float *dq = dbase + (size_t)i * C3 + (size_t)h * hd;
                float dot = 0.0f;
                for (int j = 0; j < T; j++) {
                    const float *v = base + (size_t)j * C3 + 2 * D + (size_t)h * hd;
                    float *dv = dbase + (size_t)j * C3 + 2 * D + (size_t)h * hd;
                    float s = 0.0f, pj = p[j];
#pragma omp simd reduction(+ : s)
                    for (int d = 0; d < hd; d++) {
                        s += dO[d] * v[d];
                        dv[d] += pj * dO[d];
                    }
                    dp[j] = s;
                    dot += s * pj;
                }
                for (int j = 0; j < T; j++) {
                    float ds = p[j] * (dp[j] - dot) * scale; /* d(score) including the 1/sqrt(hd) */
                    if (ds == 0.0f) continue;
                    const float *k = base + (size_t)j * C3 + D + (size_t)h * hd;
                    float *dk = dbase + (size_t)j * C3 + D + (size_t)h * hd;
#pragma omp simd
                    for (int d = 0; d < hd; d++) {
                        dq[d] += ds * k[d];
                        dk[d] += ds * q[d];
                    }
                }
            }
        }
        free(dp);
    }
}

/* log(sum_j exp(z_j)) of one row, in double, shifted by the row's maximum */
static double log_sum_exp(const float *z, int C) {
    double mx = -INFINITY;
    for (int j = 0; j < C; j++)
        if (z[j] > mx) mx = z[j];
    double sum = 0.0;
    for (int j = 0; j < C; j++) sum += exp((double)z[j] - mx);
    return mx + log(sum);
}

void vt_softmax_add(const float *z, int C, double w, double *acc) {
    double lse = log_sum_exp(z, C);
    for (int j = 0; j < C; j++) acc[j] += w * exp((double)z[j] - lse);
}

double vt_xent_forward_backward(float *dlogits, const float *logits, const int *labels, int B, int C, float eps) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        double lse = log_sum_exp(z, C);
        double off = (double)eps / C, on = 1.0 - eps + off;
        double loss = 0.0;
        for (int j = 0; j < C; j++) {
            double q = j == labels[b] ? on : off;
            loss -= q * ((double)z[j] - lse);
            if (dlogits) dlogits[(size_t)b * C + j] = (float)((exp((double)z[j] - lse) - q) / B);
        }
        total += loss;
    }
    return total / B;
}

double vt_xent_soft_forward_backward(float *dlogits, const float *logits, const float *targets, int B, int C) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C, *q = targets + (size_t)b * C;
        double lse = log_sum_exp(z, C);
        for (int j = 0; j < C; j++) {
            total -= (double)q[j] * ((double)z[j] - lse);
            if (dlogits) dlogits[(size_t)b * C + j] = (float)((exp((double)z[j] - lse) - q[j]) / B);
        }
    }
    return total / B;
}
