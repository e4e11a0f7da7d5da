/* Packed, cache-blocked SGEMM driver (GotoBLAS/BLIS loop structure), included by each SIMD
 * implementation file after it defines:
 *   VT_MR, VT_NR            micro-tile (rows of C x columns of C)
 *   VT_KC, VT_MC            cache blocking: K slice, rows of A per packed block
 *   VT_TABLE_NAME           string name, VT_TABLE the table symbol
 *   static void ukernel(int kc, const float *a, const float *b, float *c, size_t ldc,
 *                       float alpha, float beta, const float *bias, int gelu);
 *       full MR x NR tile: c = alpha * a.b + beta * c (beta == 0: c not read) [+ bias][gelu]
 *   static void gelu_vec(float *x, size_t n);
 *   optionally VT_HAVE_TRANSPOSE8 with vt_transpose8x8() (transpose8.h) for transposed packing
 *   optionally VT_HAVE_UKERNEL_ROWS with
 *     static void ukernel_rows(int kc, const float *const *ar, const float *b, float *c, size_t ldc,
 *                              float alpha, float beta, const float *bias, int gelu);
 *     static void ukernel_rows_edge(int nr, ...same...);   only columns [0, nr) need be right
 *       the micro-kernel over MR row pointers of a row-major A (no A packing): then non-transposed
 *       A is read in place and the compute is split into stealable chunks (see gemm_task)
 *
 * op(B) is packed whole (or comes pre-packed) as KC slices of kc x NR micro-panels; then per
 * thread: pc (KC slice) > ic (MC rows: A packed into MR x kc slivers, per thread) > jr > ir.
 * Threads form a tm x tn grid over (rows of C, micro-panels of B), chosen to balance work.
 * Packed A stores k-major MR-row slivers: a[k*MR + r]; packed B: b[k*NR + j]. Edges are padded
 * with zeros, and partial C tiles go through a small buffer. */
#include "core/thread_exit.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VT_ALIGN 64

/* Grow-only per-thread scratch (OpenMP pool threads persist, so this is allocated once). */
static _Thread_local float *tls_abuf;
static _Thread_local size_t tls_abuf_cap;
static _Thread_local float *tls_bbuf;
static _Thread_local size_t tls_bbuf_cap;

/* Frees this thread's buffers when it exits (an application thread; see core/thread_exit.h). */
static void release_tls(void) {
    free(tls_abuf);
    free(tls_bbuf);
    tls_abuf = tls_bbuf = NULL;
    tls_abuf_cap = tls_bbuf_cap = 0;
}

static float *grow(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return *buf;
    if (!*buf) vt_on_thread_exit(release_tls);
    size_t bytes = (n * sizeof(float) + VT_ALIGN - 1) / VT_ALIGN * VT_ALIGN;
    float *p = aligned_alloc(VT_ALIGN, bytes);
    if (!p) return NULL;
    free(*buf);
    *buf = p;
    *cap = n;
    return p;
}

static inline int imin(int a, int b) { return a < b ? a : b; }

/* Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR-row slivers. */
static void pack_a(int trans_a, const float *A, int lda, int i0, int mc, int k0, int kc, float *restrict ap) {
    for (int i = 0; i < mc; i += VT_MR) {
        int mr = imin(VT_MR, mc - i);
        float *restrict dst = ap + (size_t)i * kc;
        if (trans_a) {
            const float *src = A + (size_t)k0 * lda + i0 + i;
            if (mr == VT_MR) {
                for (int k = 0; k < kc; k++)
                    for (int r = 0; r < VT_MR; r++) dst[k * VT_MR + r] = src[(size_t)k * lda + r];
            } else {
                for (int k = 0; k < kc; k++) {
                    int r = 0;
                    for (; r < mr; r++) dst[k * VT_MR + r] = src[(size_t)k * lda + r];
                    for (; r < VT_MR; r++) dst[k * VT_MR + r] = 0.0f;
                }
            }
        } else {
            const float *src = A + (size_t)(i0 + i) * lda + k0;
            if (mr == VT_MR) {
                /* 4 columns at a time keeps the row streams few and the stores dense */
                int k = 0;
                for (; k + 4 <= kc; k += 4)
                    for (int r = 0; r < VT_MR; r++) {
                        const float *s = src + (size_t)r * lda + k;
                        dst[(k + 0) * VT_MR + r] = s[0];
                        dst[(k + 1) * VT_MR + r] = s[1];
                        dst[(k + 2) * VT_MR + r] = s[2];
                        dst[(k + 3) * VT_MR + r] = s[3];
                    }
                for (; k < kc; k++)
                    for (int r = 0; r < VT_MR; r++) dst[k * VT_MR + r] = src[(size_t)r * lda + k];
            } else {
                for (int k = 0; k < kc; k++) {
                    int r = 0;
                    for (; r < mr; r++) dst[k * VT_MR + r] = src[(size_t)r * lda + k];
                    for (; r < VT_MR; r++) dst[k * VT_MR + r] = 0.0f;
                }
            }
        }
    }
}

/* Packs one NR-column micro-panel: columns [j0, j0+nr) x rows [k0, k0+kc) of op(B). */
static void pack_b_panel(int trans_b, const float *B, int ldb, int k0, int kc, int j0, int nr,
                         float *restrict dst) {
    if (!trans_b) {
        const float *src = B + (size_t)k0 * ldb + j0;
        if (nr == VT_NR) {
            for (int k = 0; k < kc; k++) memcpy(dst + (size_t)k * VT_NR, src + (size_t)k * ldb, sizeof(float) * VT_NR);
        } else {
            for (int k = 0; k < kc; k++) {
                int j = 0;
                for (; j < nr; j++) dst[k * VT_NR + j] = src[(size_t)k * ldb + j];
                for (; j < VT_NR; j++) dst[k * VT_NR + j] = 0.0f;
            }
        }
    } else {
        const float *src = B + (size_t)j0 * ldb + k0;
        if (nr == VT_NR) {
            int k = 0;
#ifdef VT_HAVE_TRANSPOSE8
            for (; k + 8 <= kc; k += 8)
                for (int j = 0; j < VT_NR; j += 8)
                    vt_transpose8x8(src + (size_t)j * ldb + k, (size_t)ldb, dst + (size_t)k * VT_NR + j, VT_NR);
#endif
            for (; k + 4 <= kc; k += 4)
                for (int j = 0; j < VT_NR; j++) {
                    const float *s = src + (size_t)j * ldb + k;
                    dst[(k + 0) * VT_NR + j] = s[0];
                    dst[(k + 1) * VT_NR + j] = s[1];
                    dst[(k + 2) * VT_NR + j] = s[2];
                    dst[(k + 3) * VT_NR + j] = s[3];
                }
            for (; k < kc; k++)
                for (int j = 0; j < VT_NR; j++) dst[k * VT_NR + j] = src[(size_t)j * ldb + k];
        } else {
            for (int k = 0; k < kc; k++) {
                int j = 0;
                for (; j < nr; j++) dst[k * VT_NR + j] = src[(size_t)j * ldb + k];
                for (; j < VT_NR; j++) dst[k * VT_NR + j] = 0.0f;
            }
        }
    }
}

/* A partial C tile (mr x nr) goes through an MR x NR buffer: edge_begin loads C's valid part into
 * tmp when beta != 0 and returns the bias padded to NR in btmp (NULL without bias); edge_end
 * stores the valid part back. */
static const float *edge_begin(float *tmp, float *btmp, const float *bi, const float *c, int ldc, int mr, int nr,
                               float beta) {
    if (beta != 0.0f)
        for (int r = 0; r < mr; r++) memcpy(tmp + r * VT_NR, c + (size_t)r * ldc, sizeof(float) * (size_t)nr);
    if (!bi) return NULL;
    memcpy(btmp, bi, sizeof(float) * (size_t)nr);
    for (int jj = nr; jj < VT_NR; jj++) btmp[jj] = 0.0f;
    return btmp;
}

static void edge_end(float *c, int ldc, const float *tmp, int mr, int nr) {
    for (int r = 0; r < mr; r++) memcpy(c + (size_t)r * ldc, tmp + r * VT_NR, sizeof(float) * (size_t)nr);
}

/* One packed A block (mc x kc) times micro-panels [p0, p1) of a packed B slice. */
static void macro_kernel(int mc, int nc_end, int kc, const float *ap, const float *bp, int p0, int p1,
                         float *C, int ldc, float alpha, float beta, const float *bias, int gelu) {
    float tmp[VT_MR * VT_NR] __attribute__((aligned(VT_ALIGN)));
    for (int p = p0; p < p1; p++) {
        int j = p * VT_NR;
        int nr = imin(VT_NR, nc_end - j);
        const float *b = bp + (size_t)p * kc * VT_NR;
        const float *bi = bias ? bias + j : NULL;
        for (int i = 0; i < mc; i += VT_MR) {
            int mr = imin(VT_MR, mc - i);
            const float *a = ap + (size_t)i * kc;
            float *c = C + (size_t)i * ldc + j;
            if (mr == VT_MR && nr == VT_NR) {
                ukernel(kc, a, b, c, (size_t)ldc, alpha, beta, bi, gelu);
            } else {
                float btmp[VT_NR];
                const float *eb = edge_begin(tmp, btmp, bi, c, ldc, mr, nr, beta);
                ukernel(kc, a, b, tmp, VT_NR, alpha, beta, eb, gelu);
                edge_end(c, ldc, tmp, mr, nr);
            }
        }
    }
}

#ifdef VT_HAVE_UKERNEL_ROWS
/* The macro-kernel with A read in place (row-major, not transposed): rows [0, mc) of A starting
 * at column k0 of each row. */
static void macro_kernel_rows(int mc, int nc_end, int kc, const float *A, size_t lda, const float *bp, int p0, int p1,
                              float *C, int ldc, float alpha, float beta, const float *bias, int gelu,
                              const float *follow) {
    float tmp[VT_MR * VT_NR] __attribute__((aligned(VT_ALIGN)));
    for (int p = p0; p < p1; p++) {
        int j = p * VT_NR;
        int nr = imin(VT_NR, nc_end - j);
        const float *b = bp + (size_t)p * kc * VT_NR;
        const float *bi = bias ? bias + j : NULL;
        /* the next panel is fetched into L2 while this one is in use: at batch 1 each weight panel
         * is read from memory once per forward pass, and its first row tile would stall on it */
        const float *bnext = p + 1 < p1 ? b + (size_t)kc * VT_NR : follow; /* follow: what comes after p1 */
        const int line = 64 / (int)sizeof(float); /* floats per cache line */
        int lines = kc * VT_NR / line, ntiles = (mc + VT_MR - 1) / VT_MR;
        for (int i = 0; i < mc; i += VT_MR) {
            int mr = imin(VT_MR, mc - i), ti = i / VT_MR;
            int l0 = (int)((long long)lines * ti / ntiles), l1 = (int)((long long)lines * (ti + 1) / ntiles);
            const float *ar[VT_MR];
            for (int r = 0; r < VT_MR; r++) ar[r] = A + (size_t)(i + imin(r, mr - 1)) * lda;
            float *c = C + (size_t)i * ldc + j;
            if (mr == VT_MR && nr == VT_NR) {
                ukernel_rows(kc, ar, b, c, (size_t)ldc, alpha, beta, bi, gelu,
                             bnext ? bnext + (size_t)l0 * line : NULL, l1 - l0);
            } else {
                float btmp[VT_NR];
                const float *eb = edge_begin(tmp, btmp, bi, c, ldc, mr, nr, beta);
                ukernel_rows_edge(nr, kc, ar, b, tmp, VT_NR, alpha, beta, eb, gelu);
                edge_end(c, ldc, tmp, mr, nr);
            }
        }
    }
}
#endif

/* Threads to use and their tm x tn grid for an M x N problem. */
static int plan_threads(int M, int N, int K, int pack_a_cost, int *tm_out, int *tn_out) {
    int nt = vt_usable_threads();
    double flops = 2.0 * M * N * (double)K;
    int cap = (int)(flops / 1.5e6); /* below ~1.5 MFLOP per thread a fork costs more than it gives */
    if (cap < 1) cap = 1;
    if (nt > cap) nt = cap;
    if (nt < 1) nt = 1;
    int mt = (M + VT_MR - 1) / VT_MR, npan = (N + VT_NR - 1) / VT_NR;
    int best_tm = nt, best_tn = 1;
    double best = 1e300;
    for (int tm = 1; tm <= nt; tm++) {
        if (nt % tm) continue;
        int tn = nt / tm;
        if (tm > mt || tn > npan) continue;
        double rows = (mt + tm - 1) / tm, pans = (npan + tn - 1) / tn;
        /* + packing A, done by each column group (A read in place: no cost; ties go to columns,
         * which split the weights rather than have every thread stream all of them) */
        double cost = rows * (pans + (pack_a_cost ? 0.5 : 0.0)) + (tm > 1 ? 1e-6 : 0.0);
        if (cost < best - 1e-9) best = cost, best_tm = tm, best_tn = tn;
    }
    if (best == 1e300) { /* fewer tiles than threads */
        nt = 1;
        best_tm = best_tn = 1;
    }
    *tm_out = best_tm;
    *tn_out = best_tn;
    return nt;
}

/* Balanced K slices of at most VT_KC: the slice length used by both packed layouts. */
static int kc_for(int K) {
    int nk = (K + VT_KC - 1) / VT_KC;
    return (K + nk - 1) / nk;
}

/* Packs micro-panels [p0, p1) of every KC slice of op(B) into the pre-packed layout (below). */
static void pack_b_panels(int trans_b, const float *B, int ldb, int K, int N, int kc_max, int p0, int p1,
                          float *data) {
    size_t npan = (size_t)(N + VT_NR - 1) / VT_NR;
    for (int pc = 0; pc < K; pc += kc_max) {
        int kc = imin(kc_max, K - pc);
        float *base = data + (size_t)pc * npan * VT_NR;
        for (int p = p0; p < p1; p++)
            pack_b_panel(trans_b, B, ldb, pc, kc, p * VT_NR, imin(VT_NR, N - p * VT_NR), base + (size_t)p * kc * VT_NR);
    }
}

/* Operands above this many floats get a temporary packing buffer instead of the grow-only one. */
#define VT_BBUF_KEEP ((size_t)32 << 20)

/* Work stealing: each thread's region (its rows x panels of the tm x tn grid) is cut into
 * chunks of one MC row block x VT_GROUP panels, taken in order from an atomic counter. The owner
 * runs its chunks in the static order; a thread that finishes early takes the remaining chunks of
 * the others, so a thread descheduled on a busy machine delays one chunk, not its whole share. */
#ifndef VT_GROUP
#define VT_GROUP 2
#endif
#define VT_STEAL_MAX 64

typedef struct gemm_job {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, tm, tn, kc_max, npan, mt, gelu, pack_own, steal;
    float alpha, beta;
    const float *A, *B, *bias;
    float *bdata, *C;
    atomic_int fail;
    vt_steal_slot slots[VT_STEAL_MAX]; /* run t: the chunks of thread t's region */
} gemm_job;

#ifdef VT_HAVE_UKERNEL_ROWS
/* Region of thread t: rows [*m0, *m1), panels [*p0, *p1), MC block *mcb; returns its chunk count. */
static int gemm_region(const gemm_job *j, int t, int tm, int tn, int *m0, int *m1, int *p0, int *p1, int *mcb) {
    int gi = t / tn, gj = t % tn;
    int t0 = (int)((long long)j->mt * gi / tm), t1 = (int)((long long)j->mt * (gi + 1) / tm);
    *m0 = t0 * VT_MR, *m1 = imin(j->M, t1 * VT_MR);
    *p0 = (int)((long long)j->npan * gj / tn), *p1 = (int)((long long)j->npan * (gj + 1) / tn);
    int mc_blk = VT_MC;
    if (*m1 - *m0 > 0) { /* balanced MC blocks */
        int nb = (*m1 - *m0 + VT_MC - 1) / VT_MC;
        mc_blk = ((*m1 - *m0 + nb - 1) / nb + VT_MR - 1) / VT_MR * VT_MR;
    }
    *mcb = mc_blk;
    if (*m1 <= *m0 || *p1 <= *p0) return 0;
    return (*m1 - *m0 + mc_blk - 1) / mc_blk * ((*p1 - *p0 + VT_GROUP - 1) / VT_GROUP);
}

/* Chunk c of thread t's region: all K slices of one row block x panel group (A read in place). */
static void gemm_chunk(const gemm_job *j, int t, int c) {
    int m0, m1, p0, p1, mcb;
    gemm_region(j, t, j->tm, j->tn, &m0, &m1, &p0, &p1, &mcb);
    int ng = (p1 - p0 + VT_GROUP - 1) / VT_GROUP;
    int ic = m0 + (c / ng) * mcb, mc = imin(mcb, m1 - ic);
    int pa = p0 + (c % ng) * VT_GROUP, pb = imin(p1, pa + VT_GROUP);
    for (int pc = 0; pc < j->K; pc += j->kc_max) {
        int kc = imin(j->kc_max, j->K - pc), last = pc + kc >= j->K;
        /* after this slice's panels come the same panels of the next slice, or the next group */
        const float *follow = NULL;
        if (!last)
            follow = j->bdata + (size_t)(pc + kc) * j->npan * VT_NR + (size_t)pa * imin(j->kc_max, j->K - pc - kc) * VT_NR;
        else if (pb < p1)
            follow = j->bdata + (size_t)pb * imin(j->kc_max, j->K) * VT_NR;
        macro_kernel_rows(mc, j->N, kc, j->A + (size_t)ic * j->lda + pc, (size_t)j->lda,
                          j->bdata + (size_t)pc * j->npan * VT_NR, pa, pb, j->C + (size_t)ic * j->ldc, j->ldc,
                          j->alpha, pc == 0 ? j->beta : 1.0f, last ? j->bias : NULL, last && j->gelu, follow);
    }
}
#endif

/* Packing op(B) shared by all threads (row split): panels split evenly, before the compute. */
static void gemm_pack_task(void *ctx, int tid, int nt) {
    gemm_job *j = ctx;
    int p0 = (int)((long long)j->npan * tid / nt), p1 = (int)((long long)j->npan * (tid + 1) / nt);
    pack_b_panels(j->trans_b, j->B, j->ldb, j->K, j->N, j->kc_max, p0, p1, j->bdata);
}

static void gemm_task(void *ctx, int tid, int nt) {
    gemm_job *j = ctx;
    int tm = j->tm, tn = j->tn;
#ifdef VT_HAVE_UKERNEL_ROWS
    if (j->steal) {
        /* with fewer threads than planned (nt == 1) the one thread steals everything */
        int k = 0, t;
        long c;
        while (vt_steal_next(j->slots, tm * tn, tid, &k, &t, &c)) gemm_chunk(j, t, (int)c);
        return;
    }
#endif
    if (nt != tm * tn) tm = tn = 1, tid = 0; /* ran with fewer threads than planned: do it all */
    int gi = tid / tn, gj = tid % tn, mt = j->mt, npan = j->npan, M = j->M, K = j->K, kc_max = j->kc_max;
    /* my rows: micro-tiles [t0, t1); my columns: micro-panels [p0, p1) */
    int t0 = (int)((long long)mt * gi / tm), t1 = (int)((long long)mt * (gi + 1) / tm);
    int m0 = t0 * VT_MR, m1 = imin(M, t1 * VT_MR);
    int p0 = (int)((long long)npan * gj / tn), p1 = (int)((long long)npan * (gj + 1) / tn);
    if (j->pack_own) pack_b_panels(j->trans_b, j->B, j->ldb, K, j->N, kc_max, p0, p1, j->bdata);
    int mc_blk = VT_MC;
    if (m1 - m0 > 0) { /* balanced MC blocks */
        int nb = (m1 - m0 + VT_MC - 1) / VT_MC;
        mc_blk = ((m1 - m0 + nb - 1) / nb + VT_MR - 1) / VT_MR * VT_MR;
    }
    float *abuf = grow(&tls_abuf, &tls_abuf_cap, (size_t)mc_blk * kc_max);
    if (!abuf) {
        atomic_store(&j->fail, 1);
        return;
    }
    if (p1 <= p0) return;
    for (int pc = 0; pc < K; pc += kc_max) {
        int kc = imin(kc_max, K - pc);
        const float *bp = j->bdata + (size_t)pc * npan * VT_NR;
        float bt = pc == 0 ? j->beta : 1.0f;
        int last = pc + kc >= K;
        for (int ic = m0; ic < m1; ic += mc_blk) {
            int mc = imin(mc_blk, m1 - ic);
#ifdef VT_HAVE_UKERNEL_ROWS
            if (!j->trans_a) {
                macro_kernel_rows(mc, j->N, kc, j->A + (size_t)ic * j->lda + pc, (size_t)j->lda, bp, p0, p1,
                                  j->C + (size_t)ic * j->ldc, j->ldc, j->alpha, bt, last ? j->bias : NULL,
                                  last && j->gelu, NULL);
                continue;
            }
#endif
            pack_a(j->trans_a, j->A, j->lda, ic, mc, pc, kc, abuf);
            macro_kernel(mc, j->N, kc, abuf, bp, p0, p1, j->C + (size_t)ic * j->ldc, j->ldc, j->alpha, bt,
                         last ? j->bias : NULL, last && j->gelu);
        }
    }
}

/* Shared core. pb != NULL: B is pre-packed; otherwise op(B) is first packed whole into the same
 * layout (with a column split each thread packs its own panels inside the compute task; with a
 * row split the threads share the packing in a first parallel step). */
static void gemm_core(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, const vt_packed_b *pb, float beta, float *C, int ldc,
                      const float *bias, int epilogue) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        vt_gemm_degenerate(M, N, beta, C, ldc, bias, epilogue);
        return;
    }
    gemm_job j;
    memset(&j, 0, offsetof(gemm_job, slots));
#ifdef VT_HAVE_UKERNEL_ROWS
    int pack_a_cost = trans_a;
#else
    int pack_a_cost = 1;
#endif
    int nt = plan_threads(M, N, K, pack_a_cost, &j.tm, &j.tn);
    j.trans_a = trans_a, j.trans_b = trans_b, j.M = M, j.N = N, j.K = K, j.lda = lda, j.ldb = ldb, j.ldc = ldc;
    j.gelu = epilogue == VT_EPILOGUE_GELU;
    j.kc_max = pb ? pb->kc : kc_for(K);
    j.npan = (N + VT_NR - 1) / VT_NR;
    j.mt = (M + VT_MR - 1) / VT_MR;
    j.alpha = alpha, j.beta = beta, j.A = A, j.B = B, j.bias = bias, j.C = C;
    float *btemp = NULL;
    if (pb) {
        j.bdata = pb->data;
    } else {
        size_t need = (size_t)j.npan * VT_NR * (size_t)K;
        float *buf;
        if (need > VT_BBUF_KEEP) {
            btemp = aligned_alloc(VT_ALIGN, (need * sizeof(float) + VT_ALIGN - 1) / VT_ALIGN * VT_ALIGN);
            buf = btemp;
        } else {
            buf = grow(&tls_bbuf, &tls_bbuf_cap, need);
        }
        if (!buf) abort();
        j.bdata = buf;
        if (j.tm == 1 && nt > 1)
            j.pack_own = 1;
        else
            vt_parallel_run(gemm_pack_task, &j, nt);
    }
#ifdef VT_HAVE_UKERNEL_ROWS
    j.steal = !trans_a && !j.pack_own && nt <= VT_STEAL_MAX;
    if (j.steal)
        for (int t = 0; t < nt; t++) {
            int m0, m1, p0, p1, mcb;
            atomic_init(&j.slots[t].next, 0);
            j.slots[t].end = gemm_region(&j, t, j.tm, j.tn, &m0, &m1, &p0, &p1, &mcb);
        }
#endif
    vt_parallel_run(gemm_task, &j, nt);
    free(btemp);
    if (atomic_load(&j.fail)) abort();
}

static void drv_sgemm_ex(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int epilogue) {
    gemm_core(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc, bias, epilogue);
}

/* Pre-packed layout: for each KC slice starting at k0 (size kc), all ceil(N/NR) micro-panels,
 * each kc x NR, at data + k0 * Npad + p * kc * NR (Npad = panels * NR). */
static int drv_pack_b(vt_packed_b *pb, int trans_b, const float *B, int ldb) {
    int K = pb->K, N = pb->N;
    int kc_max = K > 0 ? kc_for(K) : 1;
    int npan = (N + VT_NR - 1) / VT_NR;
    pb->kc = kc_max;
    pb->nr = VT_NR;
    pb->size = (size_t)npan * VT_NR * (size_t)K;
    if (vt_packed_b_reserve(pb, pb->size)) return -1;
    pack_b_panels(trans_b, B, ldb, K, N, kc_max, 0, npan, pb->data);
    return 0;
}

static void drv_gemm_packed(int trans_a, int M, float alpha, const float *A, int lda, const vt_packed_b *pb,
                            float beta, float *C, int ldc, const float *bias, int epilogue) {
    gemm_core(trans_a, 0, M, pb->N, pb->K, alpha, A, lda, NULL, 0, pb, beta, C, ldc, bias, epilogue);
}

#ifndef VT_LAYERNORM
#define VT_LAYERNORM vt_layernorm_ref
#define VT_ADD_LAYERNORM vt_add_layernorm_ref
#endif
#ifndef VT_SOFTMAX
#define VT_SOFTMAX vt_softmax_ref
#endif
#ifndef VT_ACT
#define VT_ACT vt_act_ref
#endif
const vt_kernel_table VT_TABLE = {VT_TABLE_NAME, drv_sgemm_ex,     drv_pack_b, drv_gemm_packed,
                                  gelu_vec,      VT_LAYERNORM,     VT_ADD_LAYERNORM, VT_SOFTMAX, VT_ACT};
