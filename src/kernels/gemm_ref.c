/* Portable GEMM: plain loops, blocked over K for cache reuse, OpenMP over rows.
 * The reference every SIMD kernel is tested against, and the fallback on CPUs without AVX2. */
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define KB 256

float vt_gelu_scalar(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

void vt_gemm_degenerate(int M, int N, float beta, float *C, int ldc, const float *bias, int epilogue) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) {
            float v = beta == 0.0f ? 0.0f : beta * c[j];
            if (bias) v += bias[j];
            if (epilogue == VT_EPILOGUE_GELU) v = vt_gelu_scalar(v);
            c[j] = v;
        }
    }
}

static int ref_threads(int M, int N, int K) {
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
#endif
    double flops = 2.0 * M * N * (double)K;
    if (flops < 4e5) return 1;
    int nt = vt_get_threads();
    return nt < M ? nt : M;
}

static void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                      int epilogue) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        vt_gemm_degenerate(M, N, beta, C, ldc, bias, epilogue);
        return;
    }
    int fail = 0;
#pragma omp parallel num_threads(ref_threads(M, N, K))
    {
        float *acc = malloc(sizeof(float) * (size_t)N);
        if (!acc) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(static)
            for (int i = 0; i < M; i++) {
                float *c = C + (size_t)i * ldc;
                memset(acc, 0, sizeof(float) * (size_t)N);
                for (int k0 = 0; k0 < K; k0 += KB) {
                    int k1 = k0 + KB < K ? k0 + KB : K;
                    if (trans_b) {
                        for (int j = 0; j < N; j++) {
                            const float *b = B + (size_t)j * ldb;
                            float s = 0.0f;
                            if (trans_a)
                                for (int k = k0; k < k1; k++) s += A[(size_t)k * lda + i] * b[k];
                            else
                                for (int k = k0; k < k1; k++) s += A[(size_t)i * lda + k] * b[k];
                            acc[j] += s;
                        }
                    } else {
                        for (int k = k0; k < k1; k++) {
                            float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                            const float *b = B + (size_t)k * ldb;
                            for (int j = 0; j < N; j++) acc[j] += a * b[j];
                        }
                    }
                }
                for (int j = 0; j < N; j++) {
                    float v = alpha * acc[j] + (beta == 0.0f ? 0.0f : beta * c[j]);
                    if (bias) v += bias[j];
                    if (epilogue == VT_EPILOGUE_GELU) v = vt_gelu_scalar(v);
                    c[j] = v;
                }
            }
            free(acc);
        }
    }
    if (fail) abort();
}

/* Packed layout of the reference: op(B) as a dense K x N row-major copy. */
static int pack_b_ref(vt_packed_b *pb, int trans_b, const float *B, int ldb) {
    int K = pb->K, N = pb->N;
    pb->kc = K;
    pb->nr = 1;
    pb->size = (size_t)K * N;
    if (vt_packed_b_reserve(pb, pb->size)) return -1;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            pb->data[(size_t)k * N + j] = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
    return 0;
}

static void gemm_packed_ref(int trans_a, int M, float alpha, const float *A, int lda, const vt_packed_b *pb,
                            float beta, float *C, int ldc, const float *bias, int epilogue) {
    sgemm_ref(trans_a, 0, M, pb->N, pb->K, alpha, A, lda, pb->data, pb->N > 0 ? pb->N : 1, beta, C, ldc,
              bias, epilogue);
}

static void gelu_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = vt_gelu_scalar(x[i]);
}

/* LayerNorm with double accumulation (two passes: mean, then variance of the deviations). */
static void ln_row(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                   float eps) {
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
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

void vt_layernorm_ref(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                      int C, float eps) {
    for (int i = 0; i < N; i++)
        ln_row(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, x + (size_t)i * C, w, b, C, eps);
}

void vt_add_layernorm_ref(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                          const float *w, const float *b, int N, int C, float eps) {
    for (int i = 0; i < N; i++) {
        float *xi = x + (size_t)i * C;
        const float *ri = r + (size_t)i * C;
        if (g)
            for (int j = 0; j < C; j++) xi[j] += g[j] * ri[j];
        else
            for (int j = 0; j < C; j++) xi[j] += ri[j];
        ln_row(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, xi, w, b, C, eps);
    }
}

void vt_softmax_ref(float *S, int N, int n, size_t ld, float *inv_sum) {
    for (int i = 0; i < N; i++) {
        float *row = S + (size_t)i * ld, mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < n; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < n; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        if (inv_sum)
            inv_sum[i] = inv;
        else
            for (int j = 0; j < n; j++) row[j] *= inv;
    }
}

const vt_kernel_table vt_kernels_ref = {"ref", sgemm_ref, pack_b_ref, gemm_packed_ref, gelu_ref,
                                        vt_layernorm_ref, vt_add_layernorm_ref, vt_softmax_ref, vt_act_ref};

/* x sigmoid(z), sigmoid from exp(-|z|) (never overflows): 1 / (1 + e) for z >= 0, e / (1 + e) below. */
void vt_act_ref(float *out, const float *in, size_t n, int kind) {
    const float k2 = 2.0f * 0.7978845608028654f; /* 2 sqrt(2 / pi) */
    for (size_t i = 0; i < n; i++) {
        float x = in[i], z = kind == VT_ACT_KIND_QUICK_GELU ? 1.702f * x : k2 * (x + 0.044715f * x * x * x);
        float e = expf(-fabsf(z)), s = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        out[i] = x * s;
    }
}
