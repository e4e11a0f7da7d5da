/* Kernel tests: every GEMM implementation this CPU can run (ref, avx2, avx512, neon) against a
 * double-precision naive GEMM over odd sizes, all transpose combinations, alpha/beta variants
 * (beta = 0 with NaN-filled C), strided leading dimensions, 1 and 2 threads; the pre-packed
 * API; the Linear bias/GELU epilogues; the vectorized GELU against double erf. */
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>

#include "check.h"
#include "kernels/bf16.h"
#include "kernels/kernels.h"
#include "model/layers.h"

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = frand();
}

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* Naive double GEMM into ref, plus per-element error bound into tol. c0 = C before the call. */
static void naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, const float *c0, int ldc, const float *bias, int gelu, double *ref,
                  double *tol) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, sa = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
                sa += fabs(a * b);
            }
            double v = alpha * s, mag = fabs(alpha) * sa;
            if (beta != 0.0f) {
                v += beta * (double)c0[(size_t)i * ldc + j];
                mag += fabs(beta * (double)c0[(size_t)i * ldc + j]);
            }
            if (bias) {
                v += bias[j];
                mag += fabs(bias[j]);
            }
            double t = 2e-6 * sqrt((double)K + 1.0) * mag + 1e-6 * mag + 1e-30;
            if (gelu) {
                v = gelu_d(v);
                t = t * 1.2 + 2e-6 * (fabs(v) + 1e-3); /* GELU' <= 1.13, plus its own rounding */
            }
            ref[(size_t)i * N + j] = v;
            tol[(size_t)i * N + j] = t;
        }
}

/* Compares C (ldc) with ref; returns 1 when every element is within tol. */
static int compare(const float *C, int ldc, const double *ref, const double *tol, int M, int N, double *worst) {
    int ok = 1;
    *worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double d = fabs((double)C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]);
            double r = d / tol[(size_t)i * N + j];
            if (!(d <= tol[(size_t)i * N + j])) ok = 0;
            if (!(r <= *worst)) *worst = r;
        }
    return ok;
}

static const int dims[] = {1, 2, 3, 7, 13, 17, 31, 64, 97, 197, 257};
#define NDIMS ((int)(sizeof dims / sizeof *dims))

typedef struct { float alpha, beta; } ab;
static const ab abs_list[] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-1.5f, 0.25f}, {0.5f, 0.0f}, {0.0f, 2.0f}, {2.0f, -1.0f}};
#define NAB ((int)(sizeof abs_list / sizeof *abs_list))

/* One GEMM through vt_sgemm (or, packed != 0, through vt_pack_b_ex + vt_gemm_packed). */
static void run_case(const char *impl, int ta, int tb, int M, int N, int K, ab s, int pad, int threads, int packed,
                     const float *bias, int gelu) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda + 1, nb = (size_t)(tb ? N : K) * ldb + 1, nc = (size_t)M * ldc + 1;
    float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb), *C = malloc(sizeof(float) * nc);
    float *c0 = malloc(sizeof(float) * nc);
    double *ref = malloc(sizeof(double) * (size_t)M * N), *tol = malloc(sizeof(double) * (size_t)M * N);
    fill(A, na);
    fill(B, nb);
    if (s.beta == 0.0f)
        for (size_t i = 0; i < nc; i++) C[i] = NAN; /* must be overwritten, never read */
    else
        fill(C, nc);
    memcpy(c0, C, sizeof(float) * nc);
    naive(ta, tb, M, N, K, s.alpha, A, lda, B, ldb, s.beta, c0, ldc, bias, gelu, ref, tol);
    vt_set_threads(threads);
    if (packed) {
        vt_packed_b *pb = vt_pack_b_ex(tb, K, N, B, ldb);
        CHECK(pb != NULL, "pack");
        if (pb) {
            vt_gemm_packed(ta, M, s.alpha, A, lda, pb, s.beta, C, ldc, bias,
                           gelu ? VT_EPILOGUE_GELU : VT_EPILOGUE_NONE);
            vt_packed_b_free(pb);
        }
    } else if (bias || gelu) {
        /* only the Linear form has the epilogue without packing */
        vt_linear_ex(C, A, B, bias, M, K, N, gelu ? VT_EPILOGUE_GELU : VT_EPILOGUE_NONE);
    } else {
        vt_sgemm(ta, tb, M, N, K, s.alpha, A, lda, B, ldb, s.beta, C, ldc);
    }
    double worst;
    int ok = compare(C, ldc, ref, tol, M, N, &worst);
    /* padding between rows of C must be untouched */
    int pad_ok = 1;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++)
            if (memcmp(&C[(size_t)i * ldc + j], &c0[(size_t)i * ldc + j], sizeof(float))) pad_ok = 0;
    CHECK(ok && pad_ok, "%s ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d thr=%d packed=%d bias=%d gelu=%d: "
          "worst err/tol %.3g pad_ok %d",
          impl, ta, tb, M, N, K, s.alpha, s.beta, pad, threads, packed, bias != NULL, gelu, worst, pad_ok);
    free(A);
    free(B);
    free(C);
    free(c0);
    free(ref);
    free(tol);
}

static void test_impl(const char *impl) {
    int before = check_failed;
    static float bias_big[256];
    fill(bias_big, 256);
    /* Every M x N pair of the list, K rotating through it; trans, alpha/beta, padding, threads vary. */
    int n = 0;
    for (int im = 0; im < NDIMS; im++)
        for (int in = 0; in < NDIMS; in++) {
            int K = dims[(im * 3 + in * 5) % NDIMS];
            for (int t = 0; t < 4; t++, n++) {
                int ta = t & 1, tb = t >> 1;
                run_case(impl, ta, tb, dims[im], dims[in], K, abs_list[n % NAB], (n % 3 == 0) ? 5 : 0,
                         1 + (n & 1), 0, NULL, 0);
            }
        }
    /* K through the whole list on a few fixed shapes */
    for (int ik = 0; ik < NDIMS; ik++)
        for (int t = 0; t < 4; t++, n++)
            run_case(impl, t & 1, t >> 1, 31, 47, dims[ik], abs_list[n % NAB], 3, 2, 0, NULL, 0);
    /* K = 0 */
    run_case(impl, 0, 1, 5, 9, 0, (ab){1.0f, 0.0f}, 0, 1, 0, NULL, 0);
    run_case(impl, 1, 0, 5, 9, 0, (ab){1.0f, 0.5f}, 2, 1, 0, NULL, 0);
    /* Larger: several K slices, MC blocks, and N beyond one NC block */
    run_case(impl, 0, 1, 400, 150, 700, (ab){1.0f, 0.0f}, 0, 2, 0, NULL, 0);
    run_case(impl, 1, 0, 233, 96, 1100, (ab){0.75f, 0.5f}, 1, 2, 0, NULL, 0);
    run_case(impl, 0, 0, 9, 4133, 530, (ab){1.0f, 0.0f}, 0, 2, 0, NULL, 0);
    run_case(impl, 1, 1, 21, 4200, 300, (ab){1.0f, 1.0f}, 2, 1, 0, NULL, 0);
    /* K beyond the AVX-512 KC (768): 2-3 balanced slices, beta applied on the first only, the
     * epilogue on the last; plain and pre-packed */
    run_case(impl, 0, 1, 37, 70, 1537, (ab){1.0f, 0.5f}, 1, 2, 0, NULL, 0);
    run_case(impl, 1, 0, 13, 129, 2305, (ab){-1.5f, 0.25f}, 0, 1, 0, NULL, 0);
    run_case(impl, 0, 1, 151, 65, 1000, (ab){1.0f, 0.0f}, 0, 2, 1, bias_big, 1);
    /* ViT-like: 197 tokens, fused epilogues, pre-packed weights */
    float bias[1200];
    fill(bias, 1200);
    int shp[][3] = {{197, 192, 576}, {197, 64, 197}, {13, 97, 31}, {1, 7, 3}, {60, 300, 1100}};
    for (size_t i = 0; i < sizeof shp / sizeof *shp; i++)
        for (int e = 0; e < 4; e++) {
            int M = shp[i][0], K = shp[i][1], N = shp[i][2];
            run_case(impl, 0, 1, M, N, K, (ab){1.0f, 0.0f}, 0, 1 + (e & 1), 0, (e & 1) ? bias : NULL, e >> 1);
            run_case(impl, 0, 1, M, N, K, (ab){1.0f, 0.0f}, 0, 1 + (e & 1), 1, (e & 1) ? bias : NULL, e >> 1);
        }
    /* packed with every trans combination, strides and alpha/beta */
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 3; i++) {
            int M = dims[3 + i * 3], N = dims[10 - i * 2], K = dims[4 + i * 3];
            run_case(impl, t & 1, t >> 1, M, N, K, abs_list[(t + i) % NAB], 3, 1 + (i & 1), 1,
                     (i == 1) ? bias : NULL, i == 2);
        }
    /* a weight packed by this implementation stays usable when another is active */
    {
        int M = 37, K = 45, N = 53;
        float *W = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K);
        float *y1 = malloc(sizeof(float) * M * N), *y2 = malloc(sizeof(float) * M * N);
        fill(W, (size_t)N * K);
        fill(x, (size_t)M * K);
        vt_packed_b *pw = vt_pack_b(W, N, K);
        CHECK(pw && vt_packed_b_n(pw) == N && vt_packed_b_k(pw) == K, "pack_b dims");
        vt_linear(y1, x, W, bias, M, K, N);
        vt_kernels_select("ref");
        vt_linear_packed(y2, x, pw, bias, M, VT_EPILOGUE_NONE);
        vt_kernels_select(impl);
        CHECK(max_abs_diff(y1, y2, (size_t)M * N) < 1e-4f, "%s packed after switch: %g", impl,
              max_abs_diff(y1, y2, (size_t)M * N));
        vt_packed_b_free(pw);
        free(W);
        free(x);
        free(y1);
        free(y2);
    }
    /* GELU against double erf, dense sweep plus specials */
    {
        size_t cnt = 200003;
        float *g = malloc(sizeof(float) * (cnt + 6));
        for (size_t i = 0; i < cnt; i++) g[i] = -12.0f + 24.0f * (float)i / (float)(cnt - 1);
        float sp[6] = {0.0f, -0.0f, 1e-30f, -1e-30f, 50.0f, -50.0f};
        memcpy(g + cnt, sp, sizeof sp);
        float *x = malloc(sizeof(float) * (cnt + 6));
        memcpy(x, g, sizeof(float) * (cnt + 6));
        vt_gelu(g, cnt + 6);
        double worst = 0, worst_x = 0;
        for (size_t i = 0; i < cnt + 6; i++) {
            double r = gelu_d(x[i]);
            double err = fabs(g[i] - r) / (fabs(r) * 2.4e-7 + 1e-7 * fabs(x[i]) + 1e-38);
            if (!(err <= worst)) worst = err, worst_x = x[i];
        }
        CHECK(worst <= 1.0, "%s gelu: worst err/tol %g at x=%g", impl, worst, worst_x);
        printf("%s: gelu worst err/tol %.3f at x=%g\n", impl, worst, worst_x);
        free(g);
        free(x);
    }
    printf("%s: %d gemm cases, %s\n", impl, n, check_failed == before ? "ok" : "FAILURES");
}

/* LayerNorm, fused residual + LayerNorm and softmax rows against double references, odd widths
 * (vector tails), with and without mean/rstd outputs and LayerScale. */
static void test_rows(const char *impl) {
    static const int widths[] = {1, 3, 15, 16, 17, 31, 33, 64, 97, 192, 197, 385, 768};
    int before = check_failed;
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        int C = widths[wi], N = 5;
        size_t n = (size_t)N * C;
        float *x = malloc(sizeof(float) * n), *x2 = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
        float *y = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * C), *b = malloc(sizeof(float) * C);
        float *g = malloc(sizeof(float) * C), mean[5], rstd[5];
        fill(x, n);
        fill(r, n);
        fill(w, (size_t)C);
        fill(b, (size_t)C);
        fill(g, (size_t)C);
        for (size_t i = 0; i < n; i++) x[i] = 3.0f + 2.0f * x[i]; /* an offset mean, like a residual stream */
        for (int variant = 0; variant < 3; variant++) {
            memcpy(x2, x, sizeof(float) * n);
            const float *gg = variant == 2 ? g : NULL;
            if (variant == 0)
                vt_layernorm_rows(y, mean, rstd, x2, w, b, N, C, 1e-6f);
            else
                vt_add_layernorm_rows(x2, r, gg, y, variant == 1 ? mean : NULL, variant == 1 ? rstd : NULL, w, b, N,
                                      C, 1e-6f);
            double worst = 0;
            for (int i = 0; i < N; i++) {
                double xs[800], s = 0, v = 0;
                for (int j = 0; j < C; j++) {
                    size_t o = (size_t)i * C + j;
                    xs[j] = variant == 0 ? x[o] : (double)(float)(x[o] + (gg ? gg[j] * r[o] : r[o]));
                    if (variant && fabs(x2[o] - xs[j]) > 0) worst = 1e9; /* the residual is exact float math */
                    s += xs[j];
                }
                double m = s / C;
                for (int j = 0; j < C; j++) v += (xs[j] - m) * (xs[j] - m);
                double rs = 1.0 / sqrt(v / C + 1e-6);
                for (int j = 0; j < C; j++) {
                    double ref = (xs[j] - m) * rs * w[j] + b[j];
                    double e = fabs(y[(size_t)i * C + j] - ref) / (1e-5 * (fabs(ref) + fabs(b[j]) + 1.0) + 2e-6 * (fabs((xs[j] - m) * rs) + 1));
                    if (!(e <= worst)) worst = e;
                }
                if (variant < 2 && (fabs(mean[i] - m) > 1e-5 * (fabs(m) + 1) || fabs(rstd[i] - rs) > 1e-5 * rs))
                    worst = 1e9;
            }
            CHECK(worst <= 1.0, "%s layernorm variant %d C=%d: worst err/tol %g", impl, variant, C, worst);
        }
        /* in place: y == x */
        memcpy(x2, x, sizeof(float) * n);
        vt_layernorm_rows(y, NULL, NULL, x, w, b, N, C, 1e-5f);
        vt_layernorm_rows(x2, NULL, NULL, x2, w, b, N, C, 1e-5f);
        CHECK(max_abs_diff(x2, y, n) == 0.0f, "%s layernorm in place C=%d", impl, C);
        /* residual output aliasing its input (the forward pass does this) */
        memcpy(x2, x, sizeof(float) * n);
        float *rr = malloc(sizeof(float) * n), *xa = malloc(sizeof(float) * n);
        memcpy(rr, r, sizeof(float) * n);
        memcpy(xa, x, sizeof(float) * n);
        vt_add_layernorm_rows(x2, r, g, y, NULL, NULL, w, b, N, C, 1e-5f);
        vt_add_layernorm_rows(xa, rr, g, rr, NULL, NULL, w, b, N, C, 1e-5f);
        CHECK(max_abs_diff(rr, y, n) == 0.0f && max_abs_diff(xa, x2, n) == 0.0f, "%s add_layernorm aliased C=%d",
              impl, C);
        free(rr);
        free(xa);

        /* softmax: rows with a wide spread (down to exp underflow), stride > n; normalized in
         * place, and unnormalized with 1/sum per row (the rows times inv_sum must match) */
        int ld = C + 3;
        float *S = malloc(sizeof(float) * (size_t)N * ld), *S0 = malloc(sizeof(float) * (size_t)N * ld);
        float *inv = malloc(sizeof(float) * (size_t)N);
        fill(S0, (size_t)N * ld);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < ld; j++) S0[(size_t)i * ld + j] *= (float)(i * 30 + 1);
        for (int unnorm = 0; unnorm < 2; unnorm++) {
            memcpy(S, S0, sizeof(float) * (size_t)N * ld);
            vt_softmax_rows(S, N, C, (size_t)ld, unnorm ? inv : NULL);
            double worst = 0;
            for (int i = 0; i < N; i++) {
                const float *row0 = S0 + (size_t)i * ld;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < C; j++) mx = row0[j] > mx ? row0[j] : mx;
                for (int j = 0; j < C; j++) sum += exp(row0[j] - mx);
                for (int j = 0; j < C; j++) {
                    double ref = exp(row0[j] - mx) / sum, got = S[(size_t)i * ld + j];
                    if (unnorm) got *= inv[i];
                    /* the float input's own rounding moves exp by up to |x| * 2^-24 relative */
                    double e = fabs(got - ref) / (ref * (5e-7 + 1.2e-7 * (fabs(row0[j]) + fabs(mx))) + 1e-37);
                    if (!(e <= worst)) worst = e;
                }
                for (int j = C; j < ld; j++)
                    if (S[(size_t)i * ld + j] != row0[j]) worst = 1e9; /* past n: untouched */
            }
            CHECK(worst <= 1.0, "%s softmax%s n=%d N=%d: worst err/tol %g", impl, unnorm ? " (1/sum apart)" : "", C, N,
                  worst);
        }
        free(inv);
        free(S);
        free(S0);
        free(x);
        free(x2);
        free(r);
        free(y);
        free(w);
        free(b);
        free(g);
    }
    printf("%s: row kernels %s\n", impl, check_failed == before ? "ok" : "FAILURES");
}

/* The softmax's exp over its whole range: rows of 19 (two vectors and a 3-wide tail) holding 0
 * (the max) and 18 arguments sweeping [-110, 0], so exp(x) / sum is checked to a relative bound
 * down to the subnormal results (absolute there: half the smallest subnormal, 2^-150) and the
 * clean underflow to 0 below about -104. */
static void test_softmax_exp(const char *impl) {
    const int n = 19, N = 4001;
    float *S = malloc(sizeof(float) * (size_t)N * n), *S0 = malloc(sizeof(float) * (size_t)N * n);
    float *inv = malloc(sizeof(float) * (size_t)N);
    const long pts = (long)N * (n - 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < n; j++) {
            long t = (long)i * (n - 1) + j - 1;
            S0[(size_t)i * n + j] = j == 0 ? 0.0f : (float)(-110.0 * (double)t / (double)(pts - 1));
        }
    for (int unnorm = 0; unnorm < 2; unnorm++) {
        memcpy(S, S0, sizeof(float) * (size_t)N * n);
        vt_softmax_rows(S, N, n, (size_t)n, unnorm ? inv : NULL);
        double worst = 0, worst_x = 0;
        for (int i = 0; i < N; i++) {
            const float *row0 = S0 + (size_t)i * n;
            double sum = 0;
            for (int j = 0; j < n; j++) sum += exp((double)row0[j]);
            for (int j = 0; j < n; j++) {
                /* unnormalized rows hold exp itself: a few ulps; normalized ones add the float
                 * sum's rounding (n terms) and the scaling */
                double ref = unnorm ? exp((double)row0[j]) : exp((double)row0[j]) / sum, got = S[(size_t)i * n + j];
                double rel = unnorm ? 3e-7 : 5e-7 + n * 6e-8;
                double e = fabs(got - ref) / (rel * ref + 0x1p-150);
                if (!(e <= worst)) worst = e, worst_x = row0[j];
            }
            if (unnorm && fabs(inv[i] * sum - 1.0) > n * 6e-8 + 1e-7) worst = 1e9;
        }
        CHECK(worst <= 1.0, "%s softmax exp sweep%s: worst err/tol %g at x=%g", impl, unnorm ? " (1/sum apart)" : "",
              worst, worst_x);
        printf("%s: softmax%s exp sweep worst err/tol %.3f at x=%g\n", impl, unnorm ? " (unnormalized)" : "", worst,
               worst_x);
    }
    free(S);
    free(S0);
    free(inv);
}

/* The row kernels through the layers' thread split (1 and 2 threads): the same bits as one call
 * over all rows, each row being computed alone. */
/* The families' gated activations (vt_gated_act) against double precision: quick_gelu and the tanh GELU
 * over [-30, 30] (both tails, the sign switch at 0) and odd lengths, in place and not. */
static void test_gated_act(const char *impl) {
    enum { N = 1003 };
    float x[N], y[N], z[N];
    for (int i = 0; i < N; i++) x[i] = -30.0f + 60.0f * (float)i / (N - 1);
    x[7] = 0.0f, x[8] = -0.0f, x[9] = 1e-30f;
    for (int kind = 0; kind < 2; kind++) {
        double worst = 0.0;
        int same = 1;
        for (int n = 1; n <= N; n += n < 40 ? 1 : 321) {
            vt_gated_act(y, x, (size_t)n, kind);
            memcpy(z, x, sizeof(float) * (size_t)n);
            vt_gated_act(z, z, (size_t)n, kind);
            for (int i = 0; i < n; i++) {
                double v = x[i], u = kind == VT_ACT_KIND_QUICK_GELU ? 1.702 * v
                                                                     : 2.0 * 0.7978845608028654 * (v + 0.044715 * v * v * v);
                double want = v / (1.0 + exp(-u)), err = fabs(y[i] - want) / fmax(1e-30, fmax(fabs(want), 1e-3));
                if (err > worst) worst = err;
                same &= y[i] == z[i];
            }
        }
        CHECK(same, "%s: gated act %d differs in place", impl, kind);
        CHECK(worst < 2e-6, "%s: gated act %d worst error %g", impl, kind, worst);
    }
}

static void test_rows_threads(const char *impl) {
    const int N = 181, C = 197; /* 35657 values: above the layers' threading threshold */
    size_t n = (size_t)N * C;
    float *x = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * n);
    float *y = malloc(sizeof(float) * n), *x0 = malloc(sizeof(float) * n), *x1 = malloc(sizeof(float) * n);
    float w[197], b[197], g[197];
    fill(x, n);
    fill(r, n);
    fill(w, (size_t)C);
    fill(b, (size_t)C);
    fill(g, (size_t)C);
    vt_layernorm_rows(y0, NULL, NULL, x, w, b, N, C, 1e-6f);
    memcpy(x0, x, sizeof(float) * n);
    float *yr = malloc(sizeof(float) * n);
    vt_add_layernorm_rows(x0, r, g, yr, NULL, NULL, w, b, N, C, 1e-6f);
    for (int t = 1; t <= 2; t++) {
        vt_set_threads(t);
        vt_layernorm_forward(y, NULL, NULL, x, w, b, N, C, 1e-6f);
        CHECK(!memcmp(y, y0, sizeof(float) * n), "%s layernorm_forward %d threads", impl, t);
        memcpy(x1, x, sizeof(float) * n);
        vt_residual_layernorm_forward(x1, r, g, y, NULL, NULL, w, b, N, C, 1e-6f);
        CHECK(!memcmp(y, yr, sizeof(float) * n) && !memcmp(x1, x0, sizeof(float) * n),
              "%s residual_layernorm_forward %d threads", impl, t);
    }
    vt_set_threads(0);
    free(x);
    free(r);
    free(y0);
    free(y);
    free(x0);
    free(x1);
    free(yr);
}

/* vt_pack_b_reuse: repacking into the same storage (growing, shrinking) matches fresh packing. */
static void test_pack_reuse(const char *impl) {
    vt_packed_b *pb = NULL;
    static const int sizes[][2] = {{64, 197}, {13, 7}, {197, 64}, {300, 300}, {1, 1}};
    for (int t = 0; t < 5; t++) {
        int K = sizes[t][0], N = sizes[t][1], M = 11;
        for (int tb = 0; tb < 2; tb++) {
            float *B = malloc(sizeof(float) * (size_t)K * N), *A = malloc(sizeof(float) * (size_t)M * K);
            float *c1 = malloc(sizeof(float) * (size_t)M * N), *c2 = malloc(sizeof(float) * (size_t)M * N);
            fill(B, (size_t)K * N);
            fill(A, (size_t)M * K);
            CHECK(vt_pack_b_reuse(&pb, tb, K, N, B, tb ? K : N) == 0 && pb, "reuse pack");
            vt_gemm_packed(0, M, 0.5f, A, K, pb, 0.0f, c1, N, NULL, VT_EPILOGUE_NONE);
            vt_sgemm(0, tb, M, N, K, 0.5f, A, K, B, tb ? K : N, 0.0f, c2, N);
            CHECK(max_abs_diff(c1, c2, (size_t)M * N) < 1e-5f, "%s reuse K=%d N=%d tb=%d", impl, K, N, tb);
            free(A);
            free(B);
            free(c1);
            free(c2);
        }
    }
    vt_packed_b_free(pb);
}

/* The thread pool: every task index runs exactly once; calls nested in a parallel job run inline
 * (a job that ran inline because nt == 1 may still use the pool). */
typedef struct pool_ctx {
    int hits[8];
    int nested_ok;
} pool_ctx;
static void inner_task(void *ctx, int tid, int nt) {
    int *ok = ctx;
    if (tid != 0 || nt != 1) *ok = 0;
}
static void outer_task(void *ctx, int tid, int nt) {
    pool_ctx *p = ctx;
    __atomic_fetch_add(&p->hits[tid], 1, __ATOMIC_SEQ_CST);
    int ok = 1;
    vt_parallel_run(inner_task, &ok, 4);
    if ((nt > 1 && !ok) || nt < 1) __atomic_store_n(&p->nested_ok, 0, __ATOMIC_SEQ_CST);
}
static void test_pool(void) {
    for (int nt = 1; nt <= 4; nt++)
        for (int rep = 0; rep < 200; rep++) {
            pool_ctx p = {{0}, 1};
            vt_parallel_run(outer_task, &p, nt);
            int ok = p.nested_ok;
            for (int t = 0; t < 8; t++) ok &= p.hits[t] == (t < nt ? 1 : 0);
            if (!ok) {
                CHECK(ok, "pool nt=%d rep=%d", nt, rep);
                return;
            }
        }
    CHECK(1, "pool");
    long lo, hi, prev = 0;
    for (int t = 0; t < 3; t++) {
        vt_split(10, t, 3, &lo, &hi);
        CHECK(lo == prev && hi >= lo, "split");
        prev = hi;
    }
    CHECK(prev == 10, "split covers");
    /* a forked child starts its own workers (the parent's do not exist there); not under qemu-user
     * (VITC_EMULATED, scripts/test-arm64.sh), which aborts when a forked child of a threaded
     * process starts a thread */
    if (getenv("VITC_EMULATED")) {
        printf("pool after fork: skipped under emulation\n");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        pool_ctx p = {{0}, 1};
        vt_parallel_run(outer_task, &p, 2);
        _exit(p.hits[0] == 1 && p.hits[1] == 1 ? 0 : 1);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "pool after fork");
}

/* bf16 inference's Linear (vt_bf16_linear): against a double product of the bf16-rounded operands
 * (the float sums may differ from it by K rounding steps), with and without bias and GELU, over
 * shapes with rows not a multiple of 6, columns not of 64, odd K and K over one 256-long slice;
 * the same bits with 1 and 2 threads. */
static void test_bf16_linear(void) {
    const int shapes[][3] = {{1, 5, 3}, {7, 33, 17}, {13, 300, 70}, {50, 128, 512}, {197, 192, 576}, {6, 64, 64}};
    double worst = 0.0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        for (int variant = 0; variant < 3; variant++) { /* no bias; bias; bias + GELU */
            float *x = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
            float *b = malloc(sizeof(float) * (size_t)N), *y1 = malloc(sizeof(float) * (size_t)M * N);
            float *y2 = malloc(sizeof(float) * (size_t)M * N);
            fill(x, (size_t)M * K), fill(W, (size_t)N * K), fill(b, (size_t)N);
            vt_bf16_linear_w *pw = vt_bf16_linear_pack(W, N, K);
            CHECK(pw != NULL, "bf16 pack %dx%d", N, K);
            const float *bias = variant ? b : NULL;
            int epi = variant == 2 ? VT_EPILOGUE_GELU : VT_EPILOGUE_NONE;
            vt_set_threads(1);
            vt_bf16_linear(y1, x, pw, bias, M, epi);
            vt_set_threads(2);
            vt_bf16_linear(y2, x, pw, bias, M, epi);
            CHECK(!memcmp(y1, y2, sizeof(float) * (size_t)M * N), "bf16 linear %dx%dx%d: 1 and 2 threads differ", M, K, N);
            float e = 0.0f;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double sum = bias ? b[j] : 0.0, mag = bias ? fabs(b[j]) : 0.0;
                    for (int k = 0; k < K; k++) {
                        double t = (double)bf16_round(x[(size_t)i * K + k]) * bf16_round(W[(size_t)j * K + k]);
                        sum += t, mag += fabs(t);
                    }
                    double want = epi ? gelu_d(sum) : sum, tol = 1e-6 * (mag + 1.0) * (1 + K / 64);
                    double d = fabs((double)y1[(size_t)i * N + j] - want);
                    if (d / (mag + 1.0) > worst) worst = d / (mag + 1.0);
                    if (d > tol) e = fmaxf(e, (float)d);
                }
            CHECK(e == 0.0f, "bf16 linear %dx%dx%d variant %d: error %g beyond float round-off", M, K, N, variant, e);
            vt_bf16_linear_free(pw);
            free(x), free(W), free(b), free(y1), free(y2);
        }
    }
    printf("bf16 linear: worst error %.2e of the sum of |products| (against double sums of the rounded operands)\n", worst);
}

int main(void) {
    vt_kernels_init();
    printf("default kernels: %s\n", vt_kernels_name());
    CHECK(vt_kernels_select("nonsense") == -1, "unknown name");
    CHECK(vt_kernels_select("ref") == 0, "ref is always available");
    const char *impls[] = {"ref", "avx2", "avx512", "neon"};
    int tested = 0;
    for (int i = 0; i < 4; i++) {
        if (vt_kernels_select(impls[i]) != 0) {
            printf("%s: not supported by this CPU, skipped\n", impls[i]);
            continue;
        }
        CHECK(!strcmp(vt_kernels_name(), impls[i]), "select %s", impls[i]);
        test_impl(impls[i]);
        test_rows(impls[i]);
        test_softmax_exp(impls[i]);
        test_gated_act(impls[i]);
        test_rows_threads(impls[i]);
        test_pack_reuse(impls[i]);
        tested++;
    }
    CHECK(tested >= 1, "at least one implementation");
    if (vt_kernels_select("avx512") == 0 && vt_bf16_supported()) test_bf16_linear();
    else printf("bf16 linear: skipped (no AVX512-BF16)\n");
    CHECK(vt_kernels_select("ref") == 0 && !vt_bf16_supported(), "bf16 is refused with the portable kernels");
    test_pool();
    vt_set_threads(0);
    return check_report("test_kernels");
}
