/* Training operations (train_ops.h): thread splitting and the portable C kernels; the AVX-512
 * and AVX2 kernels are in train_ops_avx512.c and train_ops_avx2.c. */
#include "train/train_ops.h"
#include "kernels/bf16.h"
#include "kernels/kernels.h"
#include "train/train_ops_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/arena.h"
#include "core/omp_team.h"


/* ---------------------------------------------------------------- portable kernels */

static void ref_gelu_fwd(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * 0.70710678118654752f));
}

static void ref_gelu_bwd(float *dinp, const float *inp, const float *dout, int rows, int N, float *colacc) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < N; j++) {
            size_t i = (size_t)r * N + j;
            float x = inp[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
            float d = dout[i] * (cdf + x * pdf);
            dinp[i] = d;
            if (colacc) colacc[j] += d;
        }
}

static void ref_colsum(float *acc, const float *x, int rows, int N) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < N; j++) acc[j] += x[(size_t)r * N + j];
}

static void ref_ln_fwd(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b, int rows,
                       int C, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float s = 0.0f;
        for (int j = 0; j < C; j++) s += x[j];
        float m = s / (float)C, v = 0.0f;
        for (int j = 0; j < C; j++) v += (x[j] - m) * (x[j] - m);
        float rs = 1.0f / sqrtf(v / (float)C + eps);
        for (int j = 0; j < C; j++) y[j] = (x[j] - m) * rs * w[j] + b[j];
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
    }
}

static void ref_ln_bwd(float *dinp, float *pw, float *pb, const float *dout, const float *inp, const float *w,
                       const float *mean, const float *rstd, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        float m = mean[r], rs = rstd[r], s1 = 0.0f, s2 = 0.0f;
        for (int j = 0; j < C; j++) {
            float xh = (x[j] - m) * rs, dn = dy[j] * w[j];
            s1 += dn;
            s2 += dn * xh;
            if (pw) pw[j] += dy[j] * xh;
            if (pb) pb[j] += dy[j];
        }
        s1 /= (float)C;
        s2 /= (float)C;
        for (int j = 0; j < C; j++) {
            float xh = (x[j] - m) * rs;
            dx[j] += rs * (dy[j] * w[j] - s1 - xh * s2);
        }
    }
}

static void ref_att_fwd(const float *q, const float *k, const float *v, int ld, float *P, float *o, int ldo, int T,
                        int hd, float scale, float *scratch) {
    (void)scratch;
    vt_sgemm(0, 1, T, T, hd, scale, q, ld, k, ld, 0.0f, P, T);
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T, mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < T; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < T; j++) sum += row[j] = expf(row[j] - mx);
        for (int j = 0; j < T; j++) row[j] /= sum;
    }
    vt_sgemm(0, 0, T, hd, T, 1.0f, P, T, v, ld, 0.0f, o, ldo);
}

static void ref_att_bwd(float *dq, float *dk, float *dv, const float *q, const float *k, const float *v, int ld,
                        const float *P, const float *dO, int ldo, int T, int hd, float scale, float *scratch) {
    float *dS = scratch;
    vt_sgemm(1, 0, T, hd, T, 1.0f, P, T, dO, ldo, 0.0f, dv, ld);  /* dV = P^T dO */
    vt_sgemm(0, 1, T, T, hd, 1.0f, dO, ldo, v, ld, 0.0f, dS, T);  /* dP = dO V^T */
    for (int i = 0; i < T; i++) {
        float *d = dS + (size_t)i * T;
        const float *p = P + (size_t)i * T;
        float dot = 0.0f;
        for (int j = 0; j < T; j++) dot += d[j] * p[j];
        for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot) * scale;
    }
    vt_sgemm(0, 0, T, hd, T, 1.0f, dS, T, k, ld, 0.0f, dq, ld); /* dQ = dS K */
    vt_sgemm(1, 0, T, hd, T, 1.0f, dS, T, q, ld, 0.0f, dk, ld); /* dK = dS^T Q */
}

static void ref_gemm(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                     size_t ldb, float *C, size_t ldc, const float *R, const float *bias, float *G) {
    if (R && R != C)
        for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, R + (size_t)i * ldc, sizeof(float) * (size_t)N);
    float beta = R ? 1.0f : 0.0f;
    if (sak == 1) vt_sgemm(0, 0, M, N, K, alpha, A, (int)sai, B, (int)ldb, beta, C, (int)ldc);
    else vt_sgemm(1, 0, M, N, K, alpha, A, (int)sak, B, (int)ldb, beta, C, (int)ldc);
    for (int i = 0; i < M && (bias || G); i++)
        for (int j = 0; j < N; j++) {
            size_t o = (size_t)i * ldc + j;
            if (bias) C[o] += bias[j];
            if (G) G[o] = 0.5f * C[o] * (1.0f + erff(C[o] * 0.70710678118654752f));
        }
}

/* in 8 x 8 tiles, so that the strided writes of a tile share cache lines */
static void ref_transpose(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols) {
    for (int r0 = 0; r0 < rows; r0 += 8)
        for (int c0 = 0; c0 < cols; c0 += 8)
            for (int c = c0; c < c0 + 8 && c < cols; c++)
                for (int r = r0; r < r0 + 8 && r < rows; r++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

static double ref_sumsq(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void ref_adamw(float *p, float *m, float *v, const float *g, size_t n, const vt_adamw_coef *c) {
    const float b1 = c->b1, b2 = c->b2, a1 = 1.0f - b1, a2 = 1.0f - b2;
    for (size_t j = 0; j < n; j++) {
        float gr = g[j] * c->gscale;
        float mm = m[j] = b1 * m[j] + a1 * gr;
        float vv = v[j] = b2 * v[j] + a2 * gr * gr;
        p[j] = p[j] * c->decay - c->step_size * mm / (sqrtf(vv) / c->bc2_sqrt + c->eps);
    }
}

size_t vt_tr_no_prep_size(int K, int N) {
    (void)K, (void)N;
    return 0;
}

void vt_tr_no_prep_b(uint32_t *dst, const float *B, size_t ldb, int K, int N) { (void)dst, (void)B, (void)ldb, (void)K, (void)N; }

static void ref_gemm_pre(int M, int N, int K, float alpha, const float *A, size_t sai, size_t sak, const float *B,
                         size_t ldb, const uint32_t *pre, float *C, size_t ldc, const float *R, const float *bias,
                         float *G) {
    (void)pre;
    ref_gemm(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, R, bias, G);
}

const vt_tr_kernels vt_tr_kernels_ref = {.gelu_fwd = ref_gelu_fwd,
                                         .gelu_bwd = ref_gelu_bwd,
                                         .colsum = ref_colsum,
                                         .ln_fwd = ref_ln_fwd,
                                         .ln_bwd = ref_ln_bwd,
                                         .att_fwd = ref_att_fwd,
                                         .att_bwd = ref_att_bwd,
                                         .gemm = ref_gemm,
                                         .prep_size = vt_tr_no_prep_size,
                                         .prep_b = vt_tr_no_prep_b,
                                         .gemm_pre = ref_gemm_pre,
                                         .transpose = ref_transpose,
                                         .sumsq = ref_sumsq,
                                         .adamw = ref_adamw};

static int use_bf16;

int vt_tr_bf16_supported(void) { return vt_bf16_supported(); }

int vt_tr_set_bf16(int on) {
    if (on && !vt_tr_bf16_supported()) return -1;
    use_bf16 = on != 0;
    return 0;
}

const vt_tr_kernels *vt_tr_kern(void) {
#if defined(__x86_64__) || defined(__i386__) /* the x86 sets are built for x86 only (Makefile) */
    const char *name = vt_kernels_name();
    if (!strcmp(name, "avx512")) return use_bf16 ? &vt_tr_kernels_avx512_bf16 : &vt_tr_kernels_avx512;
    if (!strcmp(name, "avx2")) return &vt_tr_kernels_avx2;
#endif
    return &vt_tr_kernels_ref;
}
#define kern vt_tr_kern

/* ---------------------------------------------------------------- threading */

/* The calling thread's grow-only buffer (OpenMP keeps its pool threads, so steady-state steps
 * allocate nothing); out of memory aborts. */
static float *grow_scratch(float **buf, size_t *cap, size_t n) {
    float *p = vt_scratch_grow(buf, cap, n);
    if (!p) abort();
    return p;
}

float *vt_tr_scratch(size_t n) {
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    return grow_scratch(&buf, &cap, n);
}

/* Words for prepared B operands (prep_b), asked for by the thread that then shares them. */
uint32_t *vt_tr_scratch_words(size_t n) {
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    return (uint32_t *)grow_scratch(&buf, &cap, n);
}

/* A second one, for operands shared by the threads while they use their own scratch. */
float *vt_tr_scratch2(size_t n) {
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    return grow_scratch(&buf, &cap, n);
}

static int threads_for(long long work) {
    int nt = vt_get_threads();
    if (work < 32768) nt = 1;
    return nt < 1 ? 1 : nt;
}

/* Per-thread partial sums of `per` floats each (nt of them, zeroed), then added in thread order
 * into the targets. */
static void add_partials(float *dst, const float *part, int nt, int per, int stride) {
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < per; j++) dst[j] += part[(size_t)t * stride + j];
}

void vt_tr_gelu_forward(float *out, const float *in, size_t n) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for((long long)n);
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        size_t lo = n * tid / team / 16 * 16, hi = tid + 1 == team ? n : n * (tid + 1) / team / 16 * 16;
        if (hi > lo) k->gelu_fwd(out + lo, in + lo, hi - lo);
    }
}

void vt_tr_gelu_backward(float *dinp, const float *inp, const float *dout, int M, int N, float *dbias) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for((long long)M * N);
    float *part = dbias ? vt_tr_scratch((size_t)nt * N) : NULL;
    if (part) memset(part, 0, sizeof(float) * (size_t)nt * N);
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        if (tid == 0) used = team;
        int lo = (int)((long long)M * tid / team), hi = (int)((long long)M * (tid + 1) / team);
        size_t o = (size_t)lo * N;
        k->gelu_bwd(dinp + o, inp + o, dout + o, hi - lo, N, part ? part + (size_t)tid * N : NULL);
    }
    if (part) add_partials(dbias, part, used, N, N);
}

void vt_tr_colsum(float *acc, const float *x, int M, int N) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for((long long)M * N);
    float *part = vt_tr_scratch((size_t)nt * N);
    memset(part, 0, sizeof(float) * (size_t)nt * N);
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        if (tid == 0) used = team;
        int lo = (int)((long long)M * tid / team), hi = (int)((long long)M * (tid + 1) / team);
        k->colsum(part + (size_t)tid * N, x + (size_t)lo * N, hi - lo, N);
    }
    add_partials(acc, part, used, N, N);
}

void vt_tr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int N, int C, float eps) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for((long long)N * C);
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        int lo = (int)((long long)N * tid / team), hi = (int)((long long)N * (tid + 1) / team);
        size_t o = (size_t)lo * C;
        k->ln_fwd(out + o, mean ? mean + lo : NULL, rstd ? rstd + lo : NULL, inp + o, w, b, hi - lo, C, eps);
    }
}

void vt_tr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int N, int C) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for((long long)N * C);
    int want = dw || db;
    float *part = want ? vt_tr_scratch((size_t)nt * 2 * C) : NULL;
    if (part) memset(part, 0, sizeof(float) * (size_t)nt * 2 * C);
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = vt_omp_thread_id(), team = vt_omp_team_size();
        if (tid == 0) used = team;
        int lo = (int)((long long)N * tid / team), hi = (int)((long long)N * (tid + 1) / team);
        size_t o = (size_t)lo * C;
        float *pw = part ? part + (size_t)tid * 2 * C : NULL;
        k->ln_bwd(dinp + o, dw ? pw : NULL, db && pw ? pw + C : NULL, dout + o, inp + o, w, mean + lo, rstd + lo,
                  hi - lo, C);
    }
    if (dw) add_partials(dw, part, used, C, 2 * C);
    if (db) add_partials(db, part + C, used, C, 2 * C);
}

void vt_tr_attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int heads) {
    const vt_tr_kernels *k = kern();
    int hd = D / heads, C3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *s = vt_tr_scratch((size_t)hd * T + 64);
#pragma omp for schedule(dynamic, 4)
        for (int bh = 0; bh < B * heads; bh++) {
            int b = bh / heads, h = bh % heads;
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hd;
            k->att_fwd(q, q + D, q + 2 * D, C3, att + (size_t)bh * T * T, out + (size_t)b * T * D + (size_t)h * hd, D,
                       T, hd, scale, s);
        }
    }
}

void vt_tr_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T, int D,
                              int heads) {
    const vt_tr_kernels *k = kern();
    int hd = D / heads, C3 = 3 * D;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel num_threads(vt_get_threads())
    {
        float *s = vt_tr_scratch((size_t)T * T + (size_t)hd * T + 64);
#pragma omp for schedule(dynamic, 4)
        for (int bh = 0; bh < B * heads; bh++) {
            int b = bh / heads, h = bh % heads;
            size_t o = (size_t)b * T * C3 + (size_t)h * hd;
            k->att_bwd(dqkv + o, dqkv + o + D, dqkv + o + 2 * D, qkv + o, qkv + o + D, qkv + o + 2 * D, C3,
                       att + (size_t)bh * T * T, dout + (size_t)b * T * D + (size_t)h * hd, D, T, hd, scale, s);
        }
    }
}

/* C[M x N] = A . B (+ R) (+ bias), G = gelu(C), over threads by chunks of rows of C handed out
 * dynamically (a thread that the machine's other load holds up leaves its share to the others; each
 * element of C is still summed by one thread in a fixed order, so results do not depend on who
 * took which chunk). Chunks: multiples of the 6-row register block, about 72 rows (one cache block
 * of A) for tall C, at least 4 per thread for short C (weight gradients). */
static void par_gemm(int M, int N, int K, const float *A, size_t sai, size_t sak, const float *B, size_t ldb, float *C,
                     size_t ldc, const float *R, const float *bias, float *G) {
    const vt_tr_kernels *k = kern();
    int nt = threads_for(2LL * M * N * K / 64);
    int blocks = (M + 5) / 6, want = (M + 71) / 72;
    if (want < 4 * nt) want = 4 * nt;
    int per = (blocks + want - 1) / want, rows = 6 * per, chunks = (M + rows - 1) / rows;
    if (nt == 1) rows = M, chunks = 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int c = 0; c < chunks; c++) {
        int lo = c * rows, hi = lo + rows < M ? lo + rows : M;
        size_t oc = (size_t)lo * ldc;
        k->gemm(hi - lo, N, K, 1.0f, A + (size_t)lo * sai, sai, sak, B, ldb, C + oc, ldc, R ? R + oc : NULL, bias,
                G ? G + oc : NULL);
    }
}

void vt_tr_linear_forward_ex(float *y, const float *x, const float *W, const float *b, int M, int K, int N,
                             const float *res, float *gelu_out) {
    float *Wt = vt_tr_scratch2((size_t)K * N); /* W^T (K x N): the kernels read B row by row */
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) Wt[(size_t)k * N + n] = W[(size_t)n * K + k];
    par_gemm(M, N, K, x, (size_t)K, 1, Wt, (size_t)N, y, (size_t)N, res, b, gelu_out);
}

void vt_tr_linear_forward(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    vt_tr_linear_forward_ex(y, x, W, b, M, K, N, NULL, NULL);
}

void vt_tr_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                           int K, int N, float beta_dx) {
    if (dx) par_gemm(M, K, N, dy, (size_t)N, 1, W, (size_t)K, dx, (size_t)K, beta_dx != 0.0f ? dx : NULL, NULL, NULL);
    if (dW) par_gemm(N, K, M, dy, 1, (size_t)N, x, (size_t)K, dW, (size_t)K, dW, NULL, NULL); /* dW += dy^T x */
    if (db) vt_tr_colsum(db, dy, M, N);
}
