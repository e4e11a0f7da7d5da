/* Compute kernels behind one interface. The portable C versions live in *_ref.c; SIMD versions
 * (AVX2/FMA, AVX-512 on x86; NEON on aarch64) are chosen at run time by vt_kernels_init() from the
 * CPU's features.
 * Every function here is thread-safe and may use OpenMP threads internally (when called from
 * inside an OpenMP parallel region they run on the calling thread only). */
#ifndef VT_KERNELS_H
#define VT_KERNELS_H

#include <stdatomic.h>
#include <stddef.h>

/* Picks the implementation once (idempotent). VITC_KERNELS=ref|avx2|avx512|neon forces one. */
void vt_kernels_init(void);
const char *vt_kernels_name(void);
/* Makes `name` ("ref", "avx2", "avx512", "neon") the active implementation. Returns 0, or -1 when it
 * is unknown or this CPU cannot run it (the active one is then unchanged). For tests/benchmarks. */
int vt_kernels_select(const char *name);
/* 1 when this CPU can run the kernel set called name. */
int vt_kernels_supported(const char *name);

/* C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C, row-major with leading dimensions.
 * trans_a: A is stored K x M; trans_b: B is stored N x K (a PyTorch Linear weight).
 * beta == 0: C is not read (NaN/garbage in C is overwritten). K == 0 or alpha == 0: C = beta*C. */
void vt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* Epilogues fused into the GEMM's store: after C = alpha*op(A).op(B) + beta*C the bias b[N]
 * (when not NULL) is added to every row, then VT_EPILOGUE_GELU applies the exact (erf) GELU,
 * 0.5*x*(1 + erf(x/sqrt(2))), vectorized to within a few float ulps. */
enum { VT_EPILOGUE_NONE = 0, VT_EPILOGUE_GELU = 1 };

/* y[M,N] = x[M,K] . W[N,K]^T + b[N]  (b may be NULL): the forward pass of a Linear layer. */
void vt_linear(float *y, const float *x, const float *W, const float *b, int M, int K, int N);
/* The same with an epilogue (VT_EPILOGUE_NONE or VT_EPILOGUE_GELU). */
void vt_linear_ex(float *y, const float *x, const float *W, const float *b, int M, int K, int N,
                  int epilogue);

/* Pre-packed right-hand operand: the B of a GEMM laid out once in the active implementation's
 * micro-panel format (e.g. a Linear weight at model load) so each call skips packing.
 * A packed B remembers the implementation that packed it and is used with that one. */
typedef struct vt_packed_b vt_packed_b;
/* W stored N x K (PyTorch Linear layout): packs op(B) = W^T, a K x N operand. NULL on OOM. */
vt_packed_b *vt_pack_b(const float *W, int N, int K);
/* General form: op(B) is K x N; trans_b as in vt_sgemm (0: B stored K x N, 1: stored N x K). */
vt_packed_b *vt_pack_b_ex(int trans_b, int K, int N, const float *B, int ldb);
void vt_packed_b_free(vt_packed_b *pb);
int vt_packed_b_k(const vt_packed_b *pb);
int vt_packed_b_n(const vt_packed_b *pb);

/* C[M,N] = alpha * op(A)[M,K] . Bp[K,N] + beta * C, then bias/epilogue as above
 * (bias may be NULL; epilogue VT_EPILOGUE_NONE or VT_EPILOGUE_GELU). */
void vt_gemm_packed(int trans_a, int M, float alpha, const float *A, int lda, const vt_packed_b *Bp,
                    float beta, float *C, int ldc, const float *bias, int epilogue);
/* y[M,N] = x[M,K] . W^T + b, then the epilogue; W packed by vt_pack_b(W, N, K). */
void vt_linear_packed(float *y, const float *x, const vt_packed_b *W, const float *b, int M,
                      int epilogue);

/* Re-packs op(B) into *pb, reusing its storage when it is large enough (allocates the first time
 * or when it grows): for operands packed on every call, e.g. attention's K and V. Returns 0, -1
 * on OOM (*pb is then freed and NULL). */
int vt_pack_b_reuse(vt_packed_b **pb, int trans_b, int K, int N, const float *B, int ldb);

/* Exact GELU in place (the same vectorized function the epilogue uses). */
void vt_gelu(float *x, size_t n);
/* The families' gated activations, out[i] = x sigmoid(z(x)) (out == in allowed), single-threaded:
 * VT_ACT_KIND_QUICK_GELU z = 1.702 x (CLIP), VT_ACT_KIND_GELU_TANH z = 2 sqrt(2/pi) (x + 0.044715 x^3)
 * (0.5 (1 + tanh(u)) = sigmoid(2 u): SigLIP's gelu_pytorch_tanh). */
enum { VT_ACT_KIND_QUICK_GELU = 0, VT_ACT_KIND_GELU_TANH = 1 };
void vt_gated_act(float *out, const float *in, size_t n, int kind);

/* Row kernels, single-threaded (callers split rows across threads).
 * LayerNorm of N rows of C: y = (x - mean) * rstd * w + b; mean, rstd (N each) may be NULL.
 * y == x allowed. */
void vt_layernorm_rows(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                       int C, float eps);
/* Residual then LayerNorm: x += g * r (g[C], NULL: x += r), then y = LayerNorm(x) as above. */
void vt_add_layernorm_rows(float *x, const float *r, const float *g, float *y, float *mean, float *rstd,
                           const float *w, const float *b, int N, int C, float eps);
/* Softmax in place over each of N rows of n values (row stride ld). With inv_sum (N floats) the
 * rows are left unnormalized, exp(x - max), and inv_sum[i] = 1 / (row i's sum): a caller that
 * multiplies the rows by something (attention's P.V) scales its smaller product instead. */
void vt_softmax_rows(float *S, int N, int n, size_t ld, float *inv_sum);

/* Thread pool shared by the kernels and the layers: runs fn(ctx, tid, nt) for tid 0..nt-1
 * (the caller is tid 0) and returns when all have finished. Idle workers spin briefly, then sleep
 * (VITC_SPIN_US sets the spin in microseconds, default 50). Nested calls (from a task, or from inside an
 * OpenMP region) and concurrent callers run fn(ctx, 0, 1) on the calling thread. */
typedef void (*vt_task_fn)(void *ctx, int tid, int nt);
void vt_parallel_run(vt_task_fn fn, void *ctx, int nt);
/* 1 when called from inside a pool task or an OpenMP parallel region. */
int vt_parallel_nested(void);
/* Part tid of nt near-equal contiguous parts of [0, n): [*lo, *hi). */
void vt_split(long n, int tid, int nt, long *lo, long *hi);

/* Threads used by the kernels (0: default). */
void vt_set_threads(int threads);
int vt_get_threads(void);
/* Threads a parallel step started here can use: 1 inside a pool task or an OpenMP region (where
 * vt_parallel_run runs on the calling thread alone), else vt_get_threads(). */
static inline int vt_usable_threads(void) { return vt_parallel_nested() ? 1 : vt_get_threads(); }

/* Work stealing over nslots runs of items: run s is [next, end). A thread takes items one by one
 * from its own run (run tid), then what is left of the others' in order, so a thread descheduled
 * on a busy machine delays one item, not its whole share. */
typedef struct vt_steal_slot {
    _Alignas(64) atomic_long next;
    long end;
} vt_steal_slot;
/* The next item for thread tid: 1 with *slot and *item set, 0 when every run is empty. *k (start
 * at 0) is how many runs this thread has emptied. */
static inline int vt_steal_next(vt_steal_slot *slots, int nslots, int tid, int *k, int *slot, long *item) {
    int own = tid < nslots ? tid : 0;
    for (; *k < nslots; ++*k) {
        int s = (own + *k) % nslots;
        long it = atomic_fetch_add_explicit(&slots[s].next, 1, memory_order_relaxed);
        if (it < slots[s].end) {
            *slot = s, *item = it;
            return 1;
        }
    }
    return 0;
}

#endif
