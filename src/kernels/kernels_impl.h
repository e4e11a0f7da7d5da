/* Function table the dispatcher fills; each implementation file provides one. */
#ifndef VT_KERNELS_IMPL_H
#define VT_KERNELS_IMPL_H

typedef void (*vt_sgemm_fn)(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                            int lda, const float *B, int ldb, float beta, float *C, int ldc);

typedef struct vt_kernel_table {
    const char *name;
    vt_sgemm_fn sgemm;
} vt_kernel_table;

extern const vt_kernel_table vt_kernels_ref;

#endif
