/* The training fast paths (train/train_ops.h) against the reference layers (model/layers*.c),
 * with every kernel set this CPU runs, on shapes that exercise the edges: rows not a multiple of
 * the 6-row register block, columns not a multiple of 16, K longer than one cache slice,
 * sequence lengths not a multiple of 8 or 16. Tolerance: max |fast - ref| <= 1e-4 * (1 + max |ref|)
 * (float sums in another order; vectorized erf/exp within a few ulps). */
#include "check.h"
#include "kernels/bf16.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "train/train_ops.h"
#include "train/train_ops_impl.h"

#include <string.h>

#include <stdint.h>

static uint64_t rng = 7;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n, float scale) {
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = scale * frand();
    return x;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }
static float max_abs(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}
static void same(const char *what, const char *impl, const float *fast, const float *ref, size_t n) {
    float d = max_abs_diff(fast, ref, n), tol = 1e-4f * (1.0f + max_abs(ref, n));
    CHECK(d <= tol, "%s (%s): max diff %g > %g", what, impl, d, tol);
}

static void test_linear(const char *impl, int M, int K, int N) {
    float *x = rnd((size_t)M * K, 1), *W = rnd((size_t)N * K, 0.2f), *b = rnd(N, 1), *res = rnd((size_t)M * N, 1);
    float *y0 = zeros((size_t)M * N), *y1 = zeros((size_t)M * N), *g0 = zeros((size_t)M * N), *g1 = zeros((size_t)M * N);
    vt_linear(y0, x, W, b, M, K, N);
    vt_tr_linear_forward(y1, x, W, b, M, K, N);
    same("linear forward", impl, y1, y0, (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * N; i++) y0[i] += res[i];
    memcpy(g0, y0, sizeof(float) * (size_t)M * N);
    vt_gelu_forward(g0, g0, (size_t)M * N);
    vt_tr_linear_forward_ex(y1, x, W, b, M, K, N, res, g1);
    same("linear forward + residual", impl, y1, y0, (size_t)M * N);
    same("linear forward + GELU", impl, g1, g0, (size_t)M * N);
    /* backward: dx, dW (accumulated onto a non-zero start), db */
    float *dy = rnd((size_t)M * N, 1), *dx0 = zeros((size_t)M * K), *dx1 = zeros((size_t)M * K);
    float *dW0 = rnd((size_t)N * K, 1), *dW1 = malloc(sizeof(float) * (size_t)N * K), *db0 = rnd(N, 1), *db1 = malloc(sizeof(float) * N);
    memcpy(dW1, dW0, sizeof(float) * (size_t)N * K);
    memcpy(db1, db0, sizeof(float) * N);
    vt_linear_backward(dx0, dW0, db0, dy, x, W, M, K, N, 0.0f);
    vt_tr_linear_backward(dx1, dW1, db1, dy, x, W, M, K, N, 0.0f);
    same("linear backward dx", impl, dx1, dx0, (size_t)M * K);
    same("linear backward dW", impl, dW1, dW0, (size_t)N * K);
    same("linear backward db", impl, db1, db0, N);
    free(x), free(W), free(b), free(res), free(y0), free(y1), free(g0), free(g1);
    free(dy), free(dx0), free(dx1), free(dW0), free(dW1), free(db0), free(db1);
}

static void test_elementwise(const char *impl, int M, int N) {
    size_t n = (size_t)M * N;
    float *x = rnd(n, 4), *y0 = zeros(n), *y1 = zeros(n), *dy = rnd(n, 1), *d0 = zeros(n), *d1 = zeros(n);
    float *b0 = rnd(N, 1), *b1 = malloc(sizeof(float) * N);
    memcpy(b1, b0, sizeof(float) * N);
    vt_gelu_forward(y0, x, n);
    vt_tr_gelu_forward(y1, x, n);
    same("gelu forward", impl, y1, y0, n);
    vt_gelu_backward(d0, x, dy, n);
    vt_colsum_accumulate(b0, d0, M, N);
    memcpy(d1, dy, sizeof(float) * n);
    vt_tr_gelu_backward(d1, x, d1, M, N, b1); /* in place, as training uses it */
    same("gelu backward", impl, d1, d0, n);
    same("gelu backward bias sums", impl, b1, b0, N);
    vt_colsum_accumulate(b0, dy, M, N);
    vt_tr_colsum(b1, dy, M, N);
    same("column sums", impl, b1, b0, N);
    free(x), free(y0), free(y1), free(dy), free(d0), free(d1), free(b0), free(b1);
}

static void test_layernorm(const char *impl, int N, int C) {
    size_t n = (size_t)N * C;
    float *x = rnd(n, 3), *w = rnd(C, 1), *b = rnd(C, 1), *y0 = zeros(n), *y1 = zeros(n);
    float *m0 = zeros(N), *r0 = zeros(N), *m1 = zeros(N), *r1 = zeros(N);
    for (size_t i = 0; i < n; i++) x[i] += 2.0f; /* a mean away from 0 */
    vt_layernorm_forward(y0, m0, r0, x, w, b, N, C, 1e-5f);
    vt_tr_layernorm_forward(y1, m1, r1, x, w, b, N, C, 1e-5f);
    same("layernorm forward", impl, y1, y0, n);
    same("layernorm mean", impl, m1, m0, N);
    same("layernorm rstd", impl, r1, r0, N);
    float *dy = rnd(n, 1), *dx0 = rnd(n, 1), *dx1 = malloc(sizeof(float) * n);
    float *dw0 = rnd(C, 1), *db0 = rnd(C, 1), *dw1 = malloc(sizeof(float) * C), *db1 = malloc(sizeof(float) * C);
    memcpy(dx1, dx0, sizeof(float) * n);
    memcpy(dw1, dw0, sizeof(float) * C);
    memcpy(db1, db0, sizeof(float) * C);
    vt_layernorm_backward(dx0, dw0, db0, dy, x, w, m0, r0, N, C);
    vt_tr_layernorm_backward(dx1, dw1, db1, dy, x, w, m0, r0, N, C);
    same("layernorm backward dx", impl, dx1, dx0, n);
    same("layernorm backward dw", impl, dw1, dw0, C);
    same("layernorm backward db", impl, db1, db0, C);
    free(x), free(w), free(b), free(y0), free(y1), free(m0), free(r0), free(m1), free(r1);
    free(dy), free(dx0), free(dx1), free(dw0), free(db0), free(dw1), free(db1);
}

static void test_attention(const char *impl, int B, int T, int D, int heads) {
    size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D, na = (size_t)B * heads * T * T;
    float *qkv = rnd(nq, 2), *o0 = zeros(no), *o1 = zeros(no), *a0 = zeros(na), *a1 = zeros(na);
    vt_attention_forward(o0, a0, qkv, B, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f);
    vt_tr_attention_forward(o1, a1, qkv, B, T, D, heads);
    same("attention forward", impl, o1, o0, no);
    same("attention probabilities", impl, a1, a0, na);
    /* without the probabilities P stays unnormalized (O rows scaled instead); more threads than
     * (image, head) pairs split the queries into tiles */
    int threads = vt_get_threads();
    for (int nt = 1; nt <= 7; nt += 3) {
        float *o2 = zeros(no);
        vt_set_threads(nt);
        vt_attention_forward(o2, NULL, qkv, B, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f);
        same(nt == 1 ? "attention forward, no probabilities" : "attention forward, query tiles", impl, o2, o1, no);
        free(o2);
    }
    vt_set_threads(threads);
    float *dout = rnd(no, 1), *d0 = rnd(nq, 1), *d1 = rnd(nq, 1); /* overwritten, whatever they held */
    vt_attention_backward(d0, dout, qkv, a0, B, T, D, heads);
    vt_tr_attention_backward(d1, dout, qkv, a0, B, T, D, heads);
    same("attention backward", impl, d1, d0, nq);
    free(qkv), free(o0), free(o1), free(a0), free(a1), free(dout), free(d0), free(d1);
}

/* The fused block (train_block.c) against the block composed from the reference layers. */
static void test_block(const char *impl, int n, int T, int D, int heads, int Hm, int qkv_bias) {
    size_t rows = (size_t)n * T, RD = rows * D, RH = rows * Hm, R3 = rows * 3 * D, na = (size_t)n * heads * T * T;
    float *ln1_w = rnd(D, 1), *ln1_b = rnd(D, 0.1f), *qkv_w = rnd((size_t)3 * D * D, 0.1f), *qkv_b = rnd(3 * D, 0.1f);
    float *proj_w = rnd((size_t)D * D, 0.1f), *proj_b = rnd(D, 0.1f), *ln2_w = rnd(D, 1), *ln2_b = rnd(D, 0.1f);
    float *fc1_w = rnd((size_t)Hm * D, 0.1f), *fc1_b = rnd(Hm, 0.1f), *fc2_w = rnd((size_t)D * Hm, 0.1f), *fc2_b = rnd(D, 0.1f);
    float *x = rnd(RD, 1);
    /* reference forward */
    float *ln1 = zeros(RD), *m1 = zeros(rows), *r1 = zeros(rows), *qkv = zeros(R3), *att = zeros(na), *ao = zeros(RD);
    float *mid = zeros(RD), *ln2 = zeros(RD), *m2 = zeros(rows), *r2 = zeros(rows), *hpre = zeros(RH), *hact = zeros(RH);
    float *out = zeros(RD), *tmp = zeros(RD);
    vt_layernorm_forward(ln1, m1, r1, x, ln1_w, ln1_b, (int)rows, D, 1e-6f);
    vt_linear(qkv, ln1, qkv_w, qkv_bias ? qkv_b : NULL, (int)rows, D, 3 * D);
    vt_attention_forward(ao, att, qkv, n, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f);
    vt_linear(tmp, ao, proj_w, proj_b, (int)rows, D, D);
    for (size_t i = 0; i < RD; i++) mid[i] = x[i] + tmp[i];
    vt_layernorm_forward(ln2, m2, r2, mid, ln2_w, ln2_b, (int)rows, D, 1e-6f);
    vt_linear(hpre, ln2, fc1_w, fc1_b, (int)rows, D, Hm);
    vt_gelu_forward(hact, hpre, RH);
    vt_linear(tmp, hact, fc2_w, fc2_b, (int)rows, Hm, D);
    for (size_t i = 0; i < RD; i++) out[i] = mid[i] + tmp[i];
    /* fused forward */
    vt_tr_block p = {0};
    p.n = n, p.T = T, p.D = D, p.heads = heads, p.Hm = Hm, p.eps = 1e-6f;
    p.ln1_w = ln1_w, p.ln1_b = ln1_b, p.qkv_w = qkv_w, p.qkv_b = qkv_bias ? qkv_b : NULL, p.proj_w = proj_w;
    p.proj_b = proj_b, p.ln2_w = ln2_w, p.ln2_b = ln2_b, p.fc1_w = fc1_w, p.fc1_b = fc1_b, p.fc2_w = fc2_w, p.fc2_b = fc2_b;
    p.x = x, p.ln1 = zeros(RD), p.ln1_m = zeros(rows), p.ln1_r = zeros(rows), p.qkv = zeros(R3), p.att = zeros(na);
    p.ao = zeros(RD), p.mid = zeros(RD), p.ln2 = zeros(RD), p.ln2_m = zeros(rows), p.ln2_r = zeros(rows);
    p.hpre = zeros(RH), p.hact = zeros(RH), p.out = zeros(RD);
    p.dh = zeros(RH), p.dtmp = zeros(RD), p.dao = zeros(RD), p.dqkv = zeros(R3);
    size_t gsz[12] = {D, D, (size_t)3 * D * D, 3 * (size_t)D, (size_t)D * D, D, D, D, (size_t)Hm * D, Hm, (size_t)D * Hm, D};
    float *g0[12], *g1[12];
    for (int i = 0; i < 12; i++) {
        g0[i] = rnd(gsz[i], 1); /* accumulated onto */
        g1[i] = malloc(sizeof(float) * gsz[i]);
        memcpy(g1[i], g0[i], sizeof(float) * gsz[i]);
    }
    p.g_ln1_w = g1[0], p.g_ln1_b = g1[1], p.g_qkv_w = g1[2], p.g_qkv_b = qkv_bias ? g1[3] : NULL, p.g_proj_w = g1[4];
    p.g_proj_b = g1[5], p.g_ln2_w = g1[6], p.g_ln2_b = g1[7], p.g_fc1_w = g1[8], p.g_fc1_b = g1[9], p.g_fc2_w = g1[10];
    p.g_fc2_b = g1[11];
    vt_tr_block_forward(&p);
    same("block forward out", impl, p.out, out, RD);
    same("block forward attention", impl, p.att, att, na);
    same("block forward hpre", impl, p.hpre, hpre, RH);
    same("block forward hact", impl, p.hact, hact, RH);
    same("block forward LN2 rstd", impl, p.ln2_r, r2, rows);
    /* reference backward from dout, on the reference activations */
    float *dout = rnd(RD, 1), *dres = malloc(sizeof(float) * RD), *dh = zeros(RH), *dqkv = zeros(R3), *dao = zeros(RD);
    memcpy(dres, dout, sizeof(float) * RD);
    vt_linear_backward(dh, g0[10], g0[11], dres, hact, fc2_w, (int)rows, Hm, D, 0.0f);
    vt_gelu_backward(dh, hpre, dh, RH);
    vt_linear_backward(tmp, g0[8], g0[9], dh, ln2, fc1_w, (int)rows, D, Hm, 0.0f);
    vt_layernorm_backward(dres, g0[6], g0[7], tmp, mid, ln2_w, m2, r2, (int)rows, D);
    vt_linear_backward(dao, g0[4], g0[5], dres, ao, proj_w, (int)rows, D, D, 0.0f);
    vt_attention_backward(dqkv, dao, qkv, att, n, T, D, heads);
    vt_linear_backward(tmp, g0[2], qkv_bias ? g0[3] : NULL, dqkv, ln1, qkv_w, (int)rows, D, 3 * D, 0.0f);
    vt_layernorm_backward(dres, g0[0], g0[1], tmp, x, ln1_w, m1, r1, (int)rows, D);
    float *dres1 = malloc(sizeof(float) * RD);
    memcpy(dres1, dout, sizeof(float) * RD);
    vt_tr_block_backward(&p, dres1);
    same("block backward dx", impl, dres1, dres, RD);
    const char *gn[12] = {"norm1.w", "norm1.b", "qkv.w", "qkv.b", "proj.w", "proj.b", "norm2.w", "norm2.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b"};
    for (int i = 0; i < 12; i++) {
        char what[64];
        snprintf(what, sizeof what, "block backward %s", gn[i]);
        same(what, impl, g1[i], g0[i], gsz[i]);
    }
    float *bufs[] = {ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b, x, ln1, m1, r1,
                     qkv, att, ao, mid, ln2, m2, r2, hpre, hact, out, tmp, p.ln1, p.ln1_m, p.ln1_r, p.qkv, p.att, p.ao,
                     p.mid, p.ln2, p.ln2_m, p.ln2_r, p.hpre, p.hact, p.out, p.dh, p.dtmp, p.dao, p.dqkv, dout, dres, dh,
                     dqkv, dao, dres1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    for (int i = 0; i < 12; i++) free(g0[i]), free(g1[i]);
}

/* The optimizer kernels: AdamW must give exactly the bits of the textbook loop (the update is
 * elementwise, so every kernel set and split agrees), the sum of squares the double sum. */
static void test_optimizer(const char *impl, size_t n) {
    const vt_tr_kernels *k = vt_tr_kern();
    float *p = rnd(n, 1), *m = rnd(n, 0.1f), *v = rnd(n, 0.01f), *g = rnd(n, 3);
    for (size_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    float *p2 = malloc(n * sizeof(float)), *m2 = malloc(n * sizeof(float)), *v2 = malloc(n * sizeof(float));
    memcpy(p2, p, n * sizeof(float));
    memcpy(m2, m, n * sizeof(float));
    memcpy(v2, v, n * sizeof(float));
    vt_adamw_coef c = {.gscale = 0.37f, .b1 = 0.9f, .b2 = 0.999f, .step_size = 1e-3f / 0.271f, .bc2_sqrt = 0.0547f,
                       .eps = 1e-8f, .decay = 1.0f - 1e-3f * 0.05f};
    k->adamw(p, m, v, g, n, &c);
    for (size_t j = 0; j < n; j++) {
        float gr = g[j] * c.gscale;
        float mm = m2[j] = c.b1 * m2[j] + (1.0f - c.b1) * gr;
        float vv = v2[j] = c.b2 * v2[j] + (1.0f - c.b2) * gr * gr;
        p2[j] = p2[j] * c.decay - c.step_size * mm / (sqrtf(vv) / c.bc2_sqrt + c.eps);
    }
    CHECK(!memcmp(p, p2, n * sizeof(float)) && !memcmp(m, m2, n * sizeof(float)) && !memcmp(v, v2, n * sizeof(float)),
          "adamw (%s, n %zu): not the bits of the scalar update", impl, n);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double got = k->sumsq(g, n);
    CHECK(fabs(got - s) <= 1e-12 * s, "sumsq (%s, n %zu): %.17g vs %.17g", impl, n, got, s);
    free(p), free(m), free(v), free(g), free(p2), free(m2), free(v2);
}

/* transpose with strides on both sides, sizes off the 8 x 8 tiles: an exact copy */
static void test_transpose(const char *impl, int rows, int cols) {
    const size_t lds = (size_t)cols + 3, ldd = (size_t)rows + 5;
    float *src = rnd((size_t)rows * lds, 1), *dst = zeros((size_t)cols * ldd);
    vt_tr_kern()->transpose(dst, ldd, src, lds, rows, cols);
    int wrong = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) wrong += dst[(size_t)c * ldd + r] != src[(size_t)r * lds + c];
    CHECK(!wrong, "transpose (%s, %d x %d): %d elements wrong", impl, rows, cols, wrong);
    free(src), free(dst);
}

/* The bfloat16 GEMM against the exact product of the bf16-rounded operands (double sums): only
 * the float accumulation differs, |C - ref| <= 1e-5 * sum |a||b| + 1e-6 |epilogue terms|. layout:
 * 0 A row-major, 1 A transposed (the weight-gradient case), 2 A with general strides. */
static void test_gemm_bf16(int M, int N, int K, int layout, int with_r, int with_bias, int with_g) {
    size_t sai = layout == 0 ? (size_t)K + 1 : layout == 1 ? 1 : 3, sak = layout == 0 ? 1 : layout == 1 ? (size_t)M + 2 : 3 * (size_t)M + 1;
    size_t ldb = (size_t)N + 5, ldc = (size_t)N + 3, na = (size_t)(M - 1) * sai + (size_t)(K - 1) * sak + 1;
    float *A = rnd(na, 1), *B = rnd((size_t)K * ldb, 1), *R = with_r ? rnd((size_t)M * ldc, 1) : NULL;
    float *bias = with_bias ? rnd(N, 1) : NULL, *C = zeros((size_t)M * ldc), *G = with_g ? zeros((size_t)M * ldc) : NULL;
    const float alpha = 0.75f;
    vt_bf16_gemm(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, R, bias, G);
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, sabs = 0;
            for (int k = 0; k < K; k++) {
                double t = (double)bf16_round(A[(size_t)i * sai + (size_t)k * sak]) * bf16_round(B[(size_t)k * ldb + j]);
                s += t, sabs += fabs(t);
            }
            double ref = alpha * s, extra = 0;
            if (R) ref += R[(size_t)i * ldc + j], extra += fabs(R[(size_t)i * ldc + j]);
            if (bias) ref += bias[j], extra += fabs(bias[j]);
            double got = C[(size_t)i * ldc + j], tol = 1e-5 * (sabs + extra) + 1e-6;
            if (fabs(got - ref) > tol) bad++;
            if (fabs(got - ref) / (sabs + extra + 1e-30) > worst) worst = fabs(got - ref) / (sabs + extra + 1e-30);
            if (G) {
                double g = 0.5 * got * (1.0 + erf(got / sqrt(2.0)));
                if (fabs(G[(size_t)i * ldc + j] - g) > 1e-5 * (1 + fabs(g))) bad++;
            }
        }
    CHECK(!bad, "gemm_bf16 %dx%dx%d layout %d R%d b%d G%d: %d elements off (worst rel %g)", M, N, K, layout, with_r,
          with_bias, with_g, bad, worst);
    /* with B prepared beforehand (as the blocks do for the weights): the same bits */
    uint32_t *pre = malloc(sizeof(uint32_t) * vt_bf16_prep_size(K, N));
    float *C2 = zeros((size_t)M * ldc), *G2 = with_g ? zeros((size_t)M * ldc) : NULL;
    vt_bf16_prep_b(pre, B, ldb, K, N);
    vt_bf16_gemm_pre(M, N, K, alpha, A, sai, sak, B, ldb, pre, C2, ldc, R, bias, G2);
    CHECK(!memcmp(C, C2, sizeof(float) * (size_t)M * ldc) && (!G || !memcmp(G, G2, sizeof(float) * (size_t)M * ldc)),
          "gemm_bf16 %dx%dx%d: prepared B gives other bits", M, N, K);
    free(pre), free(C2), free(G2);
    free(A), free(B), free(R), free(bias), free(C), free(G);
}

/* A short bf16 run of the whole training forward/backward sits in test_train.c; here the
 * products themselves. */
static void test_bf16(void) {
    if (vt_kernels_select("avx512") || !vt_tr_bf16_supported()) {
        printf("  bf16 GEMM: skipped (no AVX512-BF16 on this CPU)\n");
        return;
    }
    test_gemm_bf16(100, 384, 128, 0, 0, 1, 0);  /* qkv */
    test_gemm_bf16(7, 70, 33, 0, 1, 1, 1);      /* odd K, partial rows and columns, every epilogue */
    test_gemm_bf16(13, 130, 600, 0, 1, 0, 0);   /* K in three slices, accumulate */
    test_gemm_bf16(96, 128, 1601, 1, 1, 0, 0);  /* weight gradient: A transposed, odd K over slices */
    test_gemm_bf16(5, 17, 9, 2, 0, 1, 1);       /* general strides (gather) */
    test_gemm_bf16(1, 1, 1, 0, 0, 0, 0);
    CHECK(vt_tr_set_bf16(1) == 0, "vt_tr_set_bf16 refused on a CPU that supports it");
    CHECK(vt_tr_kern()->gemm == vt_bf16_gemm, "bf16 on, but the training kernels are not the bf16 set");
    vt_tr_set_bf16(0);
    CHECK(vt_tr_kern()->gemm != vt_bf16_gemm, "bf16 off, but the training kernels are still the bf16 set");
    vt_kernels_select("ref");
    CHECK(vt_tr_set_bf16(1) == -1, "bf16 accepted with the portable kernels");
}

int main(void) {
    const char *impls[] = {"ref", "avx2", "avx512", "neon"};
    for (int t = 1; t <= 2; t++)
        for (int i = 0; i < 4; i++) {
            if (vt_kernels_select(impls[i])) continue; /* not on this CPU */
            vt_set_threads(t);
            char name[32];
            snprintf(name, sizeof name, "%s, %d thread%s", impls[i], t, t > 1 ? "s" : "");
            test_linear(name, 6 * 50 + 5, 48, 40);   /* partial row blocks, 40 = 16 + 16 + 8 columns */
            test_linear(name, 200, 128, 384);        /* several 64-column blocks */
            test_linear(name, 77, 300, 70);          /* K in two slices, 64 + 6 columns */
            test_linear(name, 1000, 24, 20);         /* dW over K = 1000 rows in slices */
            test_elementwise(name, 301, 70);
            test_elementwise(name, 64, 256);
            test_layernorm(name, 131, 128);
            test_layernorm(name, 67, 36);
            test_attention(name, 3, 50, 128, 4);     /* the Fashion-MNIST shape: T = 49 + 1 */
            test_attention(name, 2, 17, 48, 3);      /* T and head_dim off every block size */
            test_attention(name, 1, 70, 64, 1);      /* T beyond 64 columns */
            test_block(name, 5, 50, 128, 4, 256, 1); /* image groups of 2, 2, 1 */
            test_block(name, 3, 17, 48, 3, 96, 0);   /* groups of 6 images (one, partial), no qkv bias */
            test_optimizer(name, 1000 + 7);           /* a tail of 7 after whole vectors */
            test_optimizer(name, 5);
            test_transpose(name, 32, 128);
            test_transpose(name, 13, 21);
        }
    test_bf16();
    return check_report("test_train_ops");
}
