/* bf16 inference's Linear layers: the weight transposed and packed once (vt_bf16_prep_b), the rows
 * of the input split over the thread pool, each part one vt_bf16_gemm_pre. */
#include "kernels/bf16.h"
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int vt_bf16_supported(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    /* CPUID leaf 7, sub-leaf 1: EAX bit 5 is AVX512_BF16 */
    return !strcmp(vt_kernels_name(), "avx512") && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1u);
#else
    return 0;
#endif
}

#if !(defined(__x86_64__) || defined(__i386__))
/* The bfloat16 products are AVX512-BF16 code (gemm_avx512bf16.c), built for x86 only; elsewhere
 * vt_bf16_supported() is 0, so these stand-ins are never reached. */
void vt_bf16_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B, size_t ldb,
                  float *C, size_t ldc, const float *R, const float *bias, float *G) {
    abort();
}
size_t vt_bf16_prep_size(int K, int N) { return 1; }
void vt_bf16_prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N) { abort(); }
void vt_bf16_gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                      size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias,
                      float *G) {
    abort();
}
#endif

vt_bf16_linear_w *vt_bf16_linear_pack(const float *W, int N, int K) {
    vt_bf16_linear_w *w = calloc(1, sizeof *w);
    float *bt = malloc(sizeof(float) * (size_t)K * N);
    if (w) w->words = malloc(sizeof(uint32_t) * vt_bf16_prep_size(K, N));
    if (!w || !bt || !w->words) {
        free(bt);
        vt_bf16_linear_free(w);
        return NULL;
    }
    for (int n = 0; n < N; n++) /* B = W^T, K x N */
        for (int k = 0; k < K; k++) bt[(size_t)k * N + n] = W[(size_t)n * K + k];
    vt_bf16_prep_b(w->words, bt, (size_t)N, K, N);
    free(bt);
    w->K = K, w->N = N;
    return w;
}

void vt_bf16_linear_free(vt_bf16_linear_w *w) {
    if (!w) return;
    free(w->words);
    free(w);
}

typedef struct linear_job {
    float *y;
    const float *x, *b;
    const vt_bf16_linear_w *w;
    int M, gelu;
} linear_job;

/* rows in multiples of 6 (the micro-kernel's height) per thread */
static void linear_task(void *ctx, int tid, int nt) {
    linear_job *j = ctx;
    long lo, hi, blocks = (j->M + 5) / 6;
    vt_split(blocks, tid, nt, &lo, &hi);
    int r0 = (int)(lo * 6), r1 = (int)(hi * 6 < j->M ? hi * 6 : j->M);
    if (r1 <= r0) return;
    int K = j->w->K, N = j->w->N;
    float *y = j->y + (size_t)r0 * N;
    vt_bf16_gemm_pre(r1 - r0, N, K, 1.0f, j->x + (size_t)r0 * K, (size_t)K, 1, NULL, 0, j->w->words, y, (size_t)N, NULL,
                     j->b, j->gelu ? y : NULL);
}

void vt_bf16_linear(float *y, const float *x, const vt_bf16_linear_w *w, const float *b, int M, int epilogue) {
    if (M <= 0) return;
    linear_job j = {y, x, b, w, M, epilogue == VT_EPILOGUE_GELU};
    long blocks = (M + 5) / 6;
    int nt = vt_usable_threads();
    if ((long)nt > blocks) nt = (int)blocks;
    /* small products are not worth waking the pool for */
    if ((double)M * w->K * w->N < 2e5) nt = 1;
    vt_parallel_run(linear_task, &j, nt);
}
