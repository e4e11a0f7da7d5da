/* GEMM micro-benchmark: GFLOP/s of vitc's kernels on Vision Transformer shapes, 1 and 2 threads,
 * median of R runs, interleaved with OpenBLAS sgemm when built with -DVT_HAVE_OPENBLAS.
 *   gemm_bench [-r reps] [-t threads,...] [-i impl,...] [-s all|b|quick] [-m M]
 * Each shape is a Linear layer y[M,N] = x[M,K] . W[N,K]^T (trans_b = 1), the way a ViT uses it.
 * Columns: <impl>/sgemm (vt_sgemm, B packed per call), <impl>/packed (weights pre-packed once,
 * vt_gemm_packed), openblas (cblas_sgemm RowMajor NoTrans Trans).
 *   -q kernel,...  adds int8 columns: vt_q8_linear (dynamic per-token inputs, the weight packed for
 *                  that int8 kernel: avx512-vnni, avx-vnni, avx512bw, avx2, ref), GOP/s counted as
 *                  the float columns' 2 M N K, input quantization included. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/int8.h"
#include "kernels/kernels.h"
#ifdef VT_HAVE_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { int M, K, N; const char *what; } shape;

static const shape shapes_b[] = {
    {1576, 768, 2304, "B.qkv"}, {1576, 768, 768, "B.proj"}, {1576, 768, 3072, "B.fc1"},
    {1576, 3072, 768, "B.fc2"}, {197, 768, 2304, "B.qkv.1"}, {197, 768, 3072, "B.fc1.1"},
    {197, 3072, 768, "B.fc2.1"},
};
static const shape shapes_more[] = {
    {1576, 384, 1152, "S.qkv"}, {1576, 384, 1536, "S.fc1"}, {1576, 1536, 384, "S.fc2"},
    {1576, 192, 576, "Ti.qkv"}, {1576, 192, 768, "Ti.fc1"}, {1576, 768, 192, "Ti.fc2"},
    {1576, 1024, 3072, "L.qkv"}, {1576, 1024, 4096, "L.fc1"}, {1576, 4096, 1024, "L.fc2"},
    {1576, 576, 576, "576"},     {1576, 1152, 1152, "1152"},
};

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((seed >> 9) * (1.0f / 8388608.0f)) - 0.5f;
    }
}

#define MAXCOL 16

/* The names of a comma list (copied into buf) that select() accepts, at most max of them. */
static int pick(const char *list, char *buf, size_t size, const char **out, int max, int (*select)(const char *),
                const char *what) {
    int n = 0;
    snprintf(buf, size, "%s", list);
    for (char *s = strtok(buf, ","); s && n < max; s = strtok(NULL, ","))
        if (select(s) == 0) out[n++] = s;
        else fprintf(stderr, "skipping %s%s (not available on this CPU)\n", what, s);
    return n;
}

int main(int argc, char **argv) {
    int reps = 7;
    int threads[4] = {1, 2}, nthr = 2;
    const char *impls_arg = NULL, *set = "b", *q8_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            nthr = 0;
            for (char *s = strtok(argv[++i], ","); s && nthr < 4; s = strtok(NULL, ",")) threads[nthr++] = atoi(s);
        } else if (!strcmp(argv[i], "-i") && i + 1 < argc) impls_arg = argv[++i];
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) set = argv[++i];
        else if (!strcmp(argv[i], "-q") && i + 1 < argc) q8_arg = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-r reps] [-t 1,2] [-i avx512,avx2,ref] [-s b|all] [-q avx512-vnni,avx2,...]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    const char *impls[4], *q8s[6];
    char ibuf[128], qbuf[128];
    int nimpl = pick(impls_arg ? impls_arg : "avx512,avx2", ibuf, sizeof ibuf, impls, 4, vt_kernels_select, "");
    int nq8 = pick(q8_arg ? q8_arg : "", qbuf, sizeof qbuf, q8s, 6, vt_q8_select, "int8 ");
    vt_q8_select("auto");

    shape list[32];
    int ns = 0;
    for (size_t i = 0; i < sizeof shapes_b / sizeof *shapes_b; i++) list[ns++] = shapes_b[i];
    if (!strcmp(set, "all"))
        for (size_t i = 0; i < sizeof shapes_more / sizeof *shapes_more; i++) list[ns++] = shapes_more[i];

    printf("GFLOP/s, median of %d (y[M,N] = x[M,K] . W[N,K]^T)\n", reps);
    printf("%-9s %5s %5s %5s %3s", "shape", "M", "K", "N", "thr");
    for (int c = 0; c < nimpl; c++) printf(" %13s %13s", impls[c], "packed");
#ifdef VT_HAVE_OPENBLAS
    printf(" %9s %7s", "openblas", "best/ob");
#endif
    for (int c = 0; c < nq8; c++) printf(" %13s", q8s[c]);
    printf("\n");

    for (int s = 0; s < ns; s++) {
        int M = list[s].M, K = list[s].K, N = list[s].N;
        float *x = aligned_alloc(64, sizeof(float) * (size_t)M * K);
        float *W = aligned_alloc(64, sizeof(float) * (size_t)N * K);
        float *y = aligned_alloc(64, sizeof(float) * (size_t)M * N);
        fill(x, (size_t)M * K, 1);
        fill(W, (size_t)N * K, 2);
        vt_packed_b *pw[4];
        for (int c = 0; c < nimpl; c++) {
            vt_kernels_select(impls[c]);
            pw[c] = vt_pack_b(W, N, K);
        }
        vt_q8_linear_w *qw[6];
        for (int c = 0; c < nq8; c++) {
            vt_q8_select(q8s[c]);
            qw[c] = vt_q8_linear_quantize(W, N, K);
        }
        double flop = 2.0 * M * N * K;
        for (int t = 0; t < nthr; t++) {
            vt_set_threads(threads[t]);
#ifdef VT_HAVE_OPENBLAS
            openblas_set_num_threads(threads[t]);
#endif
            int ncol = 2 * nimpl + 1 + nq8;
            double *tm = malloc(sizeof(double) * (size_t)reps * MAXCOL);
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
                for (int c = 0; c < ncol; c++) {
                    double t0 = now();
                    if (c < 2 * nimpl) {
                        vt_kernels_select(impls[c / 2]);
                        if (c % 2 == 0)
                            vt_sgemm(0, 1, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
                        else
                            vt_gemm_packed(0, M, 1.0f, x, K, pw[c / 2], 0.0f, y, N, NULL, VT_EPILOGUE_NONE);
                    } else if (c > 2 * nimpl) {
                        vt_q8_select(q8s[c - 2 * nimpl - 1]);
                        vt_q8_linear(y, x, qw[c - 2 * nimpl - 1], NULL, M, VT_EPILOGUE_NONE);
                    } else {
#ifdef VT_HAVE_OPENBLAS
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
#else
                        continue;
#endif
                    }
                    double dt = now() - t0;
                    if (r >= 0) tm[c * reps + r] = dt;
                }
            }
            printf("%-9s %5d %5d %5d %3d", list[s].what, M, K, N, threads[t]);
            double best = 0;
            double q8g[6];
            for (int c = 0; c < ncol; c++) {
#ifndef VT_HAVE_OPENBLAS
                if (c == 2 * nimpl) continue;
#endif
                qsort(tm + c * reps, (size_t)reps, sizeof(double), cmp_double);
                double g = flop / tm[c * reps + reps / 2] * 1e-9;
                if (c < 2 * nimpl) {
                    printf(" %13.1f", g);
                    if (g > best) best = g;
                } else if (c > 2 * nimpl) {
                    q8g[c - 2 * nimpl - 1] = g;
                } else {
                    printf(" %9.1f %7.2f", g, best / g);
                }
            }
            for (int c = 0; c < nq8; c++) printf(" %13.1f", q8g[c]);
            printf("\n");
            fflush(stdout);
            free(tm);
        }
        for (int c = 0; c < nimpl; c++) vt_packed_b_free(pw[c]);
        for (int c = 0; c < nq8; c++) vt_q8_linear_free(qw[c]);
        free(x);
        free(W);
        free(y);
    }
    return 0;
}
