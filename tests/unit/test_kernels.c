/* Kernel tests: every GEMM implementation this CPU can run (ref, avx2, avx512) against a
 * double-precision naive GEMM over odd sizes, all transpose combinations, alpha/beta variants
 * (beta = 0 with NaN-filled C), strided leading dimensions, 1 and 2 threads; the pre-packed
 * API; the Linear bias/GELU epilogues; the vectorized GELU against double erf. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "kernels/kernels.h"

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

int main(void) {
    vt_kernels_init();
    printf("default kernels: %s\n", vt_kernels_name());
    CHECK(vt_kernels_select("nonsense") == -1, "unknown name");
    CHECK(vt_kernels_select("ref") == 0, "ref is always available");
    const char *impls[] = {"ref", "avx2", "avx512"};
    int tested = 0;
    for (int i = 0; i < 3; i++) {
        if (vt_kernels_select(impls[i]) != 0) {
            printf("%s: not supported by this CPU, skipped\n", impls[i]);
            continue;
        }
        CHECK(!strcmp(vt_kernels_name(), impls[i]), "select %s", impls[i]);
        test_impl(impls[i]);
        tested++;
    }
    CHECK(tested >= 1, "at least one implementation");
    vt_set_threads(0);
    return check_report("test_kernels");
}
