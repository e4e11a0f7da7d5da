/* Run-time choice of kernel implementation and the thread count. */
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const vt_kernel_table *active = NULL;
static int n_threads = 0;

void vt_kernels_init(void) {
    if (active) return;
    const vt_kernel_table *pick = &vt_kernels_ref;
    const char *force = getenv("VITC_KERNELS");
    (void)force; /* SIMD tables register here as they are added */
    active = pick;
}

const char *vt_kernels_name(void) {
    vt_kernels_init();
    return active->name;
}

void vt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    vt_kernels_init();
    active->sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void vt_linear(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    if (b) {
        for (int i = 0; i < M; i++) memcpy(y + (size_t)i * N, b, sizeof(float) * (size_t)N);
        vt_sgemm(0, 1, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
    } else {
        vt_sgemm(0, 1, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    }
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
