/* Function table the dispatcher fills; each implementation file provides one. */
#ifndef VT_KERNELS_IMPL_H
#define VT_KERNELS_IMPL_H

#include <stddef.h>

#include "kernels/kernels.h"

/* The SIMD sets built for the target: AVX2/AVX-512 on x86, NEON on aarch64 (Makefile). */
#if defined(__x86_64__) || defined(__i386__)
#define VT_X86 1
#else
#define VT_X86 0
#endif

typedef void (*vt_sgemm_fn)(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                            int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The full GEMM every table implements: vt_sgemm plus bias and epilogue (see kernels.h). */
typedef void (*vt_sgemm_ex_fn)(int trans_a, int trans_b, int M, int N, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta, float *C,
                               int ldc, const float *bias, int epilogue);

struct vt_kernel_table;

struct vt_packed_b {
    const struct vt_kernel_table *impl; /* the table that packed it (its layout) */
    int K, N;
    int kc, nr; /* layout parameters of that table */
    float *data;
    size_t size; /* floats in data */
    size_t cap;  /* floats allocated at data (>= size) */
};

/* Packs op(B) into pb->data (pb->impl, K, N already set; the table fills kc, nr, data, size).
 * Returns 0, -1 on OOM. */
typedef int (*vt_pack_b_fn)(vt_packed_b *pb, int trans_b, const float *B, int ldb);
typedef void (*vt_gemm_packed_fn)(int trans_a, int M, float alpha, const float *A, int lda,
                                  const vt_packed_b *pb, float beta, float *C, int ldc,
                                  const float *bias, int epilogue);
typedef void (*vt_gelu_fn)(float *x, size_t n);
typedef void (*vt_layernorm_fn)(float *y, float *mean, float *rstd, const float *x, const float *w,
                                const float *b, int N, int C, float eps);
typedef void (*vt_add_layernorm_fn)(float *x, const float *r, const float *g, float *y, float *mean,
                                    float *rstd, const float *w, const float *b, int N, int C, float eps);
typedef void (*vt_softmax_fn)(float *S, int N, int n, size_t ld, float *inv_sum);
typedef void (*vt_act_fn)(float *out, const float *in, size_t n, int kind);

typedef struct vt_kernel_table {
    const char *name;
    vt_sgemm_ex_fn sgemm_ex;
    vt_pack_b_fn pack_b;
    vt_gemm_packed_fn gemm_packed;
    vt_gelu_fn gelu;
    vt_layernorm_fn layernorm;
    vt_add_layernorm_fn add_layernorm;
    vt_softmax_fn softmax;
    vt_act_fn act;
} vt_kernel_table;

extern const vt_kernel_table vt_kernels_ref;
extern const vt_kernel_table vt_kernels_avx2;
extern const vt_kernel_table vt_kernels_avx512;
extern const vt_kernel_table vt_kernels_neon;

/* Shared helpers (generic code in gemm_ref.c). */
float vt_gelu_scalar(float x);
/* Portable row kernels (gemm_ref.c), used by tables without their own. */
void vt_layernorm_ref(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                      int C, float eps);
void vt_add_layernorm_ref(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                          const float *w, const float *b, int N, int C, float eps);
void vt_softmax_ref(float *S, int N, int n, size_t ld, float *inv_sum);
void vt_act_ref(float *out, const float *in, size_t n, int kind);
/* Storage for pb->data of at least n floats (reused when pb->cap suffices). Returns 0 or -1. */
int vt_packed_b_reserve(vt_packed_b *pb, size_t n);
/* C = beta*C (beta == 0: C not read) + bias, then epilogue: the K == 0 / alpha == 0 case. */
void vt_gemm_degenerate(int M, int N, float beta, float *C, int ldc, const float *bias, int epilogue);

#endif
