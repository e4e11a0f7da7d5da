#include "model/layers.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                          int N, int C, float eps) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (N > 64)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        double s = 0.0;
        for (int j = 0; j < C; j++) s += x[j];
        float m = (float)(s / C);
        double v = 0.0;
        for (int j = 0; j < C; j++) {
            float d = x[j] - m;
            v += (double)d * d;
        }
        float r = (float)(1.0 / sqrt(v / C + (double)eps));
        for (int j = 0; j < C; j++) y[j] = (x[j] - m) * r * w[j] + b[j];
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = r;
    }
}

void vt_gelu_forward(float *out, const float *inp, size_t n) {
    const float inv_sqrt2 = 0.70710678118654752f;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * inv_sqrt2));
    }
}

static void norm_heads(float *qkv, int rows, int stride, int D, int heads, const float *w, const float *b, float eps) {
    int hd = D / heads;
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++) {
            float *v = qkv + (size_t)r * stride + (size_t)h * hd;
            vt_layernorm_forward(v, NULL, NULL, v, w, b, 1, hd, eps);
        }
}

void vt_attention_forward(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                          const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps) {
    int hd = D / heads, C3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
    if (qn_w) norm_heads(qkv, B * T, C3, D, heads, qn_w, qn_b, eps);
    if (kn_w) norm_heads(qkv + D, B * T, C3, D, heads, kn_w, kn_b, eps);
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *row = malloc(sizeof(float) * (size_t)T);
        float *qs = malloc(sizeof(float) * (size_t)hd);
#pragma omp for schedule(dynamic, 4) collapse(2)
        for (int bh = 0; bh < B * heads; bh++)
            for (int i = 0; i < T; i++) {
                int b = bh / heads, h = bh % heads;
                const float *base = qkv + (size_t)b * T * C3;
                const float *q = base + (size_t)i * C3 + (size_t)h * hd;
                for (int d = 0; d < hd; d++) qs[d] = q[d] * scale;
                float mx = -INFINITY;
                for (int j = 0; j < T; j++) {
                    const float *k = base + (size_t)j * C3 + D + (size_t)h * hd;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int d = 0; d < hd; d++) s += qs[d] * k[d];
                    row[j] = s;
                    if (s > mx) mx = s;
                }
                float sum = 0.0f;
                for (int j = 0; j < T; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                float *o = out + ((size_t)b * T + i) * D + (size_t)h * hd;
                memset(o, 0, sizeof(float) * (size_t)hd);
                for (int j = 0; j < T; j++) {
                    float p = row[j] * inv;
                    const float *v = base + (size_t)j * C3 + 2 * D + (size_t)h * hd;
                    for (int d = 0; d < hd; d++) o[d] += p * v[d];
                    row[j] = p;
                }
                if (att) memcpy(att + ((size_t)bh * T + i) * T, row, sizeof(float) * (size_t)T);
            }
        free(row);
        free(qs);
    }
}

void vt_patchify(float *out, const float *img, int B, int C, int H, int W, int P) {
    int gh = H / P, gw = W / P, K = C * P * P;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) collapse(2)
    for (int b = 0; b < B; b++)
        for (int py = 0; py < gh; py++)
            for (int px = 0; px < gw; px++) {
                float *o = out + (((size_t)b * gh + py) * gw + px) * K;
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < P; y++) {
                        const float *src = img + (((size_t)b * C + c) * H + (size_t)py * P + y) * W + (size_t)px * P;
                        memcpy(o + ((size_t)c * P + y) * P, src, sizeof(float) * (size_t)P);
                    }
            }
}

void vt_residual_forward(float *x, const float *y, const float *g, int N, int C) {
    size_t n = (size_t)N * C;
    if (g) {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] += g[i % (size_t)C] * y[i];
    } else {
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] += y[i];
    }
}
