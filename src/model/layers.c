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

/* Attention per (image, head) as two GEMMs over query tiles: S = (q * scale) k^T, row softmax,
 * O = P v written straight into the output columns of the head. Scores for one tile of queries
 * (at most ATT_TILE x T) live in a per-thread buffer; nothing of size T x T x heads is made unless
 * the caller asks for the probabilities. Threads split the (image, head) pairs; the GEMMs inside
 * run on the calling thread. */
#define ATT_TILE 128

/* Grow-only scratch per thread: OpenMP keeps its threads, so steady-state calls allocate nothing
 * (large malloc/free pairs would otherwise map and fault fresh pages on every call). */
static float *thread_scratch(size_t n) {
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    if (n > cap) {
        free(buf);
        buf = malloc(sizeof(float) * n);
        cap = buf ? n : 0;
    }
    return buf;
}

void vt_attention_forward(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                          const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps) {
    int hd = D / heads, C3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
    if (qn_w) norm_heads(qkv, B * T, C3, D, heads, qn_w, qn_b, eps);
    if (kn_w) norm_heads(qkv + D, B * T, C3, D, heads, kn_w, kn_b, eps);
    int tile = T < ATT_TILE ? T : ATT_TILE;
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *S = thread_scratch((size_t)tile * (T + hd));
        float *Q = S + (size_t)tile * T;
        if (!S) abort(); /* a few hundred KB per thread */
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int bh = 0; bh < B * heads; bh++)
            for (int i0 = 0; i0 < T; i0 += tile) {
                int b = bh / heads, h = bh % heads, m = T - i0 < tile ? T - i0 : tile;
                const float *base = qkv + (size_t)b * T * C3 + (size_t)h * hd;
                for (int i = 0; i < m; i++) {
                    const float *q = base + (size_t)(i0 + i) * C3;
                    for (int d = 0; d < hd; d++) Q[(size_t)i * hd + d] = q[d] * scale;
                }
                vt_sgemm(0, 1, m, T, hd, 1.0f, Q, hd, base + D, C3, 0.0f, S, T);
                for (int i = 0; i < m; i++) {
                    float *row = S + (size_t)i * T, mx = -INFINITY, sum = 0.0f;
                    for (int j = 0; j < T; j++) mx = row[j] > mx ? row[j] : mx;
                    for (int j = 0; j < T; j++) {
                        row[j] = expf(row[j] - mx);
                        sum += row[j];
                    }
                    float inv = 1.0f / sum;
                    for (int j = 0; j < T; j++) row[j] *= inv;
                    if (att) memcpy(att + ((size_t)bh * T + i0 + i) * T, row, sizeof(float) * (size_t)T);
                }
                float *o = out + ((size_t)b * T + i0) * D + (size_t)h * hd;
                vt_sgemm(0, 0, m, hd, T, 1.0f, S, T, base + 2 * D, C3, 0.0f, o, D);
            }
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
