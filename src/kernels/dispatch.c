/* Run-time choice of kernel implementation and the thread count. */
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const vt_kernel_table *_Atomic active = NULL;
static int n_threads = 0;

#if VT_X86
static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

/* The table called `name` if this CPU can run it, else NULL. */
static const vt_kernel_table *table_by_name(const char *name) {
    if (!strcmp(name, "ref")) return &vt_kernels_ref;
#if VT_X86
    if (!strcmp(name, "avx2")) return cpu_has_avx2() ? &vt_kernels_avx2 : NULL;
    if (!strcmp(name, "avx512")) return cpu_has_avx512() ? &vt_kernels_avx512 : NULL;
#elif defined(__aarch64__)
    if (!strcmp(name, "neon")) return &vt_kernels_neon; /* Advanced SIMD is baseline on AArch64 */
#endif
    return NULL;
}

void vt_kernels_init(void) {
    if (active) return;
    const vt_kernel_table *pick = &vt_kernels_ref;
#if VT_X86
    if (cpu_has_avx512())
        pick = &vt_kernels_avx512;
    else if (cpu_has_avx2())
        pick = &vt_kernels_avx2;
#elif defined(__aarch64__)
    pick = &vt_kernels_neon;
#endif
    const char *force = getenv("VITC_KERNELS");
    if (force && *force) {
        const vt_kernel_table *t = table_by_name(force);
        if (t)
            pick = t;
        else
            fprintf(stderr, "vitc: VITC_KERNELS=%s is unknown or unsupported on this CPU; using %s\n", force,
                    pick->name);
    }
    active = pick;
}

int vt_kernels_select(const char *name) {
    const vt_kernel_table *t = name ? table_by_name(name) : NULL;
    if (!t) return -1;
    active = t;
    return 0;
}

int vt_kernels_supported(const char *name) { return name && table_by_name(name) != NULL; }

static const vt_kernel_table *get_active(void) {
    vt_kernels_init();
    return active;
}

const char *vt_kernels_name(void) { return get_active()->name; }

void vt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    get_active()->sgemm_ex(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL,
                           VT_EPILOGUE_NONE);
}

void vt_linear_ex(float *y, const float *x, const float *W, const float *b, int M, int K, int N,
                  int epilogue) {
    if (M <= 0 || N <= 0) return;
    get_active()->sgemm_ex(0, 1, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N, b, epilogue);
}

void vt_linear(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    vt_linear_ex(y, x, W, b, M, K, N, VT_EPILOGUE_NONE);
}

vt_packed_b *vt_pack_b_ex(int trans_b, int K, int N, const float *B, int ldb) {
    if (K < 0 || N < 0) return NULL;
    vt_packed_b *pb = calloc(1, sizeof *pb);
    if (!pb) return NULL;
    pb->impl = get_active();
    pb->K = K;
    pb->N = N;
    if (pb->impl->pack_b(pb, trans_b, B, ldb) != 0) {
        free(pb->data);
        free(pb);
        return NULL;
    }
    return pb;
}

int vt_packed_b_reserve(vt_packed_b *pb, size_t n) {
    if (n == 0) n = 1;
    if (pb->data && pb->cap >= n) return 0;
    free(pb->data);
    pb->cap = 0;
    pb->data = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!pb->data) return -1;
    pb->cap = n;
    return 0;
}

int vt_pack_b_reuse(vt_packed_b **pbp, int trans_b, int K, int N, const float *B, int ldb) {
    vt_packed_b *pb = *pbp;
    const vt_kernel_table *impl = get_active();
    if (pb && pb->impl != impl) {
        vt_packed_b_free(pb);
        pb = *pbp = NULL;
    }
    if (!pb) {
        *pbp = vt_pack_b_ex(trans_b, K, N, B, ldb);
        return *pbp ? 0 : -1;
    }
    pb->K = K;
    pb->N = N;
    if (impl->pack_b(pb, trans_b, B, ldb) != 0) {
        vt_packed_b_free(pb);
        *pbp = NULL;
        return -1;
    }
    return 0;
}

vt_packed_b *vt_pack_b(const float *W, int N, int K) { return vt_pack_b_ex(1, K, N, W, K); }

void vt_packed_b_free(vt_packed_b *pb) {
    if (!pb) return;
    free(pb->data);
    free(pb);
}

int vt_packed_b_k(const vt_packed_b *pb) { return pb->K; }
int vt_packed_b_n(const vt_packed_b *pb) { return pb->N; }

void vt_gemm_packed(int trans_a, int M, float alpha, const float *A, int lda, const vt_packed_b *Bp,
                    float beta, float *C, int ldc, const float *bias, int epilogue) {
    if (M <= 0 || Bp->N <= 0) return;
    Bp->impl->gemm_packed(trans_a, M, alpha, A, lda, Bp, beta, C, ldc, bias, epilogue);
}

void vt_linear_packed(float *y, const float *x, const vt_packed_b *W, const float *b, int M, int epilogue) {
    vt_gemm_packed(0, M, 1.0f, x, W->K > 0 ? W->K : 1, W, 0.0f, y, W->N, b, epilogue);
}

void vt_gelu(float *x, size_t n) { get_active()->gelu(x, n); }

void vt_gated_act(float *out, const float *in, size_t n, int kind) {
    if (n) get_active()->act(out, in, n, kind);
}

void vt_layernorm_rows(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                       int C, float eps) {
    if (N > 0 && C > 0) get_active()->layernorm(y, mean, rstd, x, w, b, N, C, eps);
}

void vt_add_layernorm_rows(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                           const float *w, const float *b, int N, int C, float eps) {
    if (N > 0 && C > 0) get_active()->add_layernorm(x, r, g, y, mean, rstd, w, b, N, C, eps);
}

void vt_softmax_rows(float *S, int N, int n, size_t ld, float *inv_sum) {
    if (N > 0 && n > 0) get_active()->softmax(S, N, n, ld, inv_sum);
}

void vt_set_threads(int threads) { n_threads = threads > 0 ? threads : 0; }

int vt_get_threads(void) {
    if (n_threads > 0) return n_threads;
    const char *env = getenv("VITC_NUM_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}
