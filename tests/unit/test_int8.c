/* int8 inference: the integer tiles against an int64 reference on every kernel set, the Linear
 * layer bitwise across kernel sets and thread counts, quantization round trips, quantized files
 * (dynamic and static) and corrupt ones refused in one line. */
#include "check.h"
#include "formats/safetensors.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"
#include "vitc.h"

#include <stdint.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}
static float next_f(void) { return (float)(next_u32() >> 8) / 16777216.0f * 2.0f - 1.0f; }
static int8_t next_q(void) { return (int8_t)((int)(next_u32() % 255) - 127); }

/* Every int8 kernel (vt_q8_select); those this CPU lacks are skipped. */
static const char *const kinds[] = {"ref", "avx2", "avx512bw", "avx-vnni", "avx512-vnni", "neon-dotprod"};
#define NK 6
static int use(int k) { return vt_q8_select(kinds[k]) == 0; }

/* 2 x 4 tiles over Kp, operands random or at the extremes (+-127 everywhere: the pair sums that would
 * saturate int16 if the kernel did not keep |x| <= 127) */
static void test_tiles(void) {
    int Kps[] = {32, 64, 96, 384, 3072};
    printf("  int8 kernels checked:");
    for (int s = 0; s < NK; s++) {
        if (!use(s)) continue;
        vt_q8_tile_fn tile = vt_q8_tile_active();
        printf(" %s", kinds[s]);
        for (int ki = 0; ki < 5; ki++)
            for (int mode = 0; mode < 3; mode++) {
                int Kp = Kps[ki];
                size_t ld = (size_t)Kp + 32;
                int8_t *x = malloc(2 * ld), *w = malloc(4 * ld);
                for (size_t i = 0; i < 2 * ld; i++) x[i] = mode == 0 ? next_q() : mode == 1 ? 127 : (i % 2 ? 127 : -127);
                for (size_t i = 0; i < 4 * ld; i++) w[i] = mode == 0 ? next_q() : mode == 1 ? -127 : 127;
                int32_t got[2][4];
                tile(x, ld, w, ld, Kp, got);
                int bad = 0;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 4; j++) {
                        int64_t ref = 0;
                        for (int k = 0; k < Kp; k++) ref += (int64_t)x[i * ld + k] * w[j * ld + k];
                        bad += ref != got[i][j];
                    }
                CHECK(!bad, "%s: %d of 8 tile sums differ from int64 at Kp %d, mode %d", kinds[s], bad, Kp, mode);
                free(x), free(w);
            }
    }
    printf("\n");
    vt_q8_select("auto");
}

static void test_quantize_row(void) {
    int n = 517;
    float *x = malloc(sizeof(float) * n);
    int8_t *q = malloc(n);
    for (int s = 0; s < NK; s++) {
        if (!use(s)) continue;
        for (int i = 0; i < n; i++) x[i] = next_f() * 3.0f;
        x[7] = -4.0f; /* the largest |x|: quantized to -127 */
        float sc = vt_q8_quantize_row(q, x, n), worst = 0.0f;
        for (int i = 0; i < n; i++) worst = fmaxf(worst, fabsf((float)q[i] * sc - x[i]));
        CHECK(fabsf(sc - 4.0f / 127.0f) < 1e-9f && q[7] == -127, "%s: scale %g, q[7] %d", kinds[s], (double)sc, q[7]);
        CHECK(worst <= sc * 0.5f * 1.0001f, "%s: round trip error %g over half a step %g", kinds[s], (double)worst, (double)sc / 2);
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        CHECK(vt_q8_quantize_row(q, x, n) == 1.0f && q[0] == 0 && q[n - 1] == 0, "%s: a zero row", kinds[s]);
    }
    vt_q8_select("auto");
    free(x), free(q);
}

/* A layer's input row: u8 with a zero point, within half a step of x, the same on every kernel set;
 * a one-signed row uses every level from its zero point; zero and NaN-holding rows. */
static void test_quantize_input(void) {
    int n = 301;
    float *x = malloc(sizeof(float) * n);
    uint8_t *u = malloc(n), *u0 = malloc(n);
    int32_t zp0 = -1;
    for (int pass = 0; pass < 3; pass++) {
        int first = 1;
        for (int s = 0; s < NK; s++) {
            if (!use(s)) continue;
            rng = 0x1234 + pass;
            for (int i = 0; i < n; i++) x[i] = pass == 1 ? fabsf(next_f()) * 2.0f - 0.1f : next_f() * 3.0f;
            if (pass == 2) x[5] = NAN, x[77] = -INFINITY * 0.0f; /* NaN is ignored by the range, quantized as the lowest */
            int32_t zp;
            float sc = vt_q8_quantize_input(u, &zp, x, n, 0.0f), worst = 0.0f;
            for (int i = 0; i < n; i++)
                if (!isnan(x[i])) worst = fmaxf(worst, fabsf((float)(u[i] - zp) * sc - x[i]));
            CHECK(worst <= sc * 0.5f * 1.001f, "%s pass %d: round trip error %g over half a step %g", kinds[s], pass, (double)worst,
                  (double)sc / 2);
            if (pass == 1) CHECK(zp <= 13 && zp >= 11, "%s: a mostly positive row's zero point %d", kinds[s], zp);
            if (pass == 2) CHECK(u[5] == 0 && u[77] == 0, "%s: NaN quantized as the lowest level (%d %d)", kinds[s], u[5], u[77]);
            if (first) memcpy(u0, u, (size_t)n), zp0 = zp, first = 0;
            CHECK(!memcmp(u, u0, (size_t)n) && zp == zp0, "%s pass %d: not the first kernel's bytes", kinds[s], pass);
        }
    }
    for (int i = 0; i < n; i++) x[i] = 0.0f;
    int32_t zp;
    CHECK(vt_q8_quantize_input(u, &zp, x, n, 0.0f) == 1.0f && zp == 128 && u[0] == 128 && u[n - 1] == 128, "a zero row");
    vt_q8_select("auto");
    free(x), free(u), free(u0);
}

/* y = x W^T + b in int8: against the definition evaluated with int64 sums, and the same bits on
 * every kernel set and with 1 or 2 threads, for weights packed in each kernel set's layout (rows;
 * VNNI panels of 64 or 16 where the CPU has them) and run on every set (a set without the layout's
 * kernel runs it portably). Shapes with odd M (the 6-row tiles' tails), K (the 4-byte groups'), N
 * (the panels'), and operands at +-127 everywhere (u8 1 and 255 in the VNNI kernels). */
static void test_linear(void) {
    int shapes[][3] = {{1, 1, 1}, {3, 31, 5}, {7, 33, 13}, {197, 64, 96}, {16, 384, 1152}, {5, 1536, 384}, {13, 3072, 70}, {200, 96, 200}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int c = 0; c < nshapes + 1; c++) {
        int extreme = c == nshapes; /* |x_q| = |w_q| = 127 everywhere */
        int M = extreme ? 11 : shapes[c][0], K = extreme ? 1027 : shapes[c][1], N = extreme ? 67 : shapes[c][2];
        float *x = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
        float *y = malloc(sizeof(float) * M * N), *ref = malloc(sizeof(float) * M * N), *y0 = malloc(sizeof(float) * M * N);
        for (int i = 0; i < M * K; i++) x[i] = extreme ? (i % 3 ? 5.0f : -5.0f) : next_f() * (1 + i % 7);
        for (int i = 0; i < N * K; i++) W[i] = extreme ? (i % 5 < 2 ? -0.05f : 0.05f) : next_f() * 0.05f;
        for (int i = 0; i < N; i++) b[i] = next_f();
        uint8_t *xu = malloc((size_t)K);
        int first = 1;
        for (int ps = 0; ps < NK; ps++) {
            if (!use(ps)) continue;
            vt_q8_linear_w *q = vt_q8_linear_quantize(W, N, K);
            CHECK(q && q->pw == vt_q8_pack_width(), "%s: packed in its layout", kinds[ps]);
            int8_t *wq = malloc((size_t)K);
            int packed_ok = 1;
            for (int n = 0; n < N; n++) {
                int32_t cs = 0;
                packed_ok &= vt_q8_quantize_row(wq, W + (size_t)n * K, K) == q->scale[n];
                for (int k = 0; k < K; k++) packed_ok &= vt_q8_weight_at(q, n, k) == wq[k], cs += wq[k];
                if (q->pw) packed_ok &= q->colsum[n] == cs;
            }
            for (int n = N; q->pw && n < q->Np; n++) packed_ok &= q->colsum[n] == 0;
            CHECK(packed_ok, "%dx%d packed for %s (width %d): not the rows' quantized values, scales and sums", N, K, kinds[ps], q->pw);
            free(wq);
            for (int m = 0; m < M; m++) {
                int32_t zp;
                float sx = vt_q8_quantize_input(xu, &zp, x + (size_t)m * K, K, 0.0f);
                for (int n = 0; n < N; n++) {
                    int64_t s = 0;
                    for (int k = 0; k < K; k++) s += (int64_t)(xu[k] - zp) * vt_q8_weight_at(q, n, k);
                    float v = (float)s * (sx * q->scale[n]);
                    ref[(size_t)m * N + n] = v + b[n];
                }
            }
            for (int s = 0; s < NK; s++)
                for (int th = 1; th <= 2; th++) {
                    if (!use(s)) continue;
                    vt_set_threads(th);
                    CHECK(vt_q8_linear(y, x, q, b, M, VT_EPILOGUE_NONE) == 0, "linear");
                    CHECK(!memcmp(y, ref, sizeof(float) * M * N),
                          "%dx%dx%d packed for %s (width %d), run with %s, %d threads: differs from the int64 definition (%g)", M,
                          K, N, kinds[ps], q->pw, kinds[s], th, (double)max_abs_diff(y, ref, (size_t)M * N));
                    if (first) memcpy(y0, y, sizeof(float) * M * N), first = 0;
                    CHECK(!memcmp(y, y0, sizeof(float) * M * N), "%dx%dx%d packed for %s, run with %s, %d threads: not the first kernel's bits",
                          M, K, N, kinds[ps], kinds[s], th);
                }
            use(ps);
            /* the GELU epilogue is the float one applied to the dequantized values */
            float *g = malloc(sizeof(float) * M * N);
            memcpy(g, ref, sizeof(float) * M * N);
            vt_gelu(g, (size_t)M * N);
            CHECK(vt_q8_linear(y, x, q, b, M, VT_EPILOGUE_GELU) == 0 && !memcmp(y, g, sizeof(float) * M * N),
                  "%dx%dx%d %s: GELU epilogue", M, K, N, kinds[ps]);
            free(g);
            /* static scale: symmetric (zero point 128), inputs beyond it clamp to +-127; no bias */
            q->in_scale = 0.01f;
            CHECK(vt_q8_linear(y, x, q, NULL, M, VT_EPILOGUE_NONE) == 0, "static linear");
            int okk = 1;
            for (int m = 0; m < M && okk; m++)
                for (int n = 0; n < N && okk; n++) {
                    int64_t s = 0;
                    for (int k = 0; k < K; k++)
                        s += (int64_t)(vt_q8_round_u8(x[(size_t)m * K + k] * (1.0f / 0.01f), 128, 1) - 128) * vt_q8_weight_at(q, n, k);
                    okk = y[(size_t)m * N + n] == (float)s * (0.01f * q->scale[n]);
                }
            CHECK(okk, "%dx%dx%d %s: static scale", M, K, N, kinds[ps]);
            vt_set_threads(0);
            vt_q8_linear_free(q);
        }
        free(x), free(W), free(b), free(y), free(ref), free(y0), free(xu);
    }
    vt_q8_select("auto");
}

/* The default kernel follows the kernel set (VITC_KERNELS=avx2 runs no AVX-512 int8 code); a name
 * the CPU cannot run, or an unknown one, is refused and changes nothing. */
static void test_select(void) {
    static const char *const sets[] = {"ref", "avx2", "avx512", "neon"};
    static const char *const allowed[] = {"ref", "avx2 avx-vnni", "avx512bw avx-vnni avx512-vnni", "ref neon-dotprod"};
    vt_q8_select("auto");
    for (int s = 0; s < 4; s++) {
        if (vt_kernels_select(sets[s])) continue;
        const char *k = vt_q8_kernel_name();
        CHECK(strstr(allowed[s], k) != NULL, "kernel set %s: int8 kernel %s", sets[s], k);
    }
    const char *was = vt_q8_kernel_name();
    CHECK(vt_q8_select("int4") == -1 && !strcmp(vt_q8_kernel_name(), was), "an unknown int8 kernel refused");
    for (int k = 0; k < NK; k++)
        if (!use(k)) {
            CHECK(!strcmp(vt_q8_kernel_name(), was), "%s refused, nothing changed", kinds[k]);
        } else {
            CHECK(!strcmp(vt_q8_kernel_name(), kinds[k]), "%s chosen", kinds[k]);
            vt_q8_select(was);
        }
    vt_q8_select("auto");
}

/* Attention with int8 products: against a double-precision restatement of the scheme on operands
 * quantized by the tested quantizers (K per key and V per channel symmetric, each query and each
 * probability row u8 with a zero point), the same bits on every int8 kernel and thread count, and
 * close to float attention. */
static void test_attention(void) {
    int B = 2, T = 37, D = 64, heads = 4, hd = D / heads;
    size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D;
    float *qkv = malloc(sizeof(float) * nq), *work = malloc(sizeof(float) * nq);
    float *of = malloc(sizeof(float) * no), *o8 = malloc(sizeof(float) * no), *o0 = malloc(sizeof(float) * no);
    double *ref = malloc(sizeof(double) * no);
    for (size_t i = 0; i < nq; i++) qkv[i] = next_f() * 2.0f;
    memcpy(work, qkv, sizeof(float) * nq);
    vt_attention_forward_ex(of, NULL, work, B, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f, NULL, 0);
    /* the restatement */
    float scale = 1.0f / sqrtf((float)hd);
    int8_t *kq = malloc((size_t)T * hd), *vq = malloc((size_t)hd * T);
    float *ks = malloc(sizeof(float) * T), *vs = malloc(sizeof(float) * hd), *vt = malloc(sizeof(float) * hd * T);
    uint8_t *u = malloc((size_t)(T > hd ? T : hd));
    float *row = malloc(sizeof(float) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            const float *base = qkv + (size_t)b * T * 3 * D + (size_t)h * hd;
            for (int t = 0; t < T; t++) ks[t] = vt_q8_quantize_row(kq + (size_t)t * hd, base + D + (size_t)t * 3 * D, hd) * scale;
            for (int d = 0; d < hd; d++) {
                for (int t = 0; t < T; t++) vt[(size_t)d * T + t] = base[2 * D + (size_t)t * 3 * D + d];
                vs[d] = vt_q8_quantize_row(vq + (size_t)d * T, vt + (size_t)d * T, T);
            }
            for (int i = 0; i < T; i++) {
                int32_t zp;
                float sx = vt_q8_quantize_input(u, &zp, base + (size_t)i * 3 * D, hd, 0.0f);
                double mx = -1e300, sum = 0.0;
                double srow[64];
                for (int t = 0; t < T; t++) {
                    int64_t s = 0;
                    for (int d = 0; d < hd; d++) s += (int64_t)(u[d] - zp) * kq[(size_t)t * hd + d];
                    srow[t] = (double)s * sx * ks[t];
                    mx = srow[t] > mx ? srow[t] : mx;
                }
                for (int t = 0; t < T; t++) row[t] = (float)exp(srow[t] - mx), sum += exp(srow[t] - mx);
                float sp = vt_q8_quantize_input(u, &zp, row, T, 0.0f);
                for (int d = 0; d < hd; d++) {
                    int64_t s = 0;
                    for (int t = 0; t < T; t++) s += (int64_t)(u[t] - zp) * vq[(size_t)d * T + t];
                    ref[((size_t)b * T + i) * D + (size_t)h * hd + d] = (double)s * sp * vs[d] / sum;
                }
            }
        }
    double worst = 0.0, amax = 0.0, ab = 0.0, aa = 0.0, bb = 0.0;
    int first = 1;
    for (int k = 0; k < NK; k++)
        for (int th = 1; th <= 2; th++) {
            if (!use(k)) continue;
            vt_set_threads(th);
            memcpy(work, qkv, sizeof(float) * nq);
            vt_attention_forward_ex(o8, NULL, work, B, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f, NULL, 1);
            if (first) {
                memcpy(o0, o8, sizeof(float) * no), first = 0;
                for (size_t i = 0; i < no; i++) {
                    worst = fmax(worst, fabs(o8[i] - ref[i])), amax = fmax(amax, fabs(ref[i]));
                    ab += (double)o8[i] * of[i], aa += (double)o8[i] * o8[i], bb += (double)of[i] * of[i];
                }
            }
            CHECK(!memcmp(o8, o0, sizeof(float) * no), "int8 attention with %s, %d threads: not the first kernel's bits", kinds[k], th);
        }
    vt_set_threads(0);
    vt_q8_select("auto");
    /* a probability row's level can flip where float and double round either side of a half step */
    CHECK(worst <= 2e-3 * amax, "int8 attention against its restatement: worst %.3g of %.3g", worst, amax);
    double cos = ab / sqrt(aa * bb);
    printf("  int8 attention: worst %.2e against the restatement (outputs up to %.2f), cosine to float attention %.6f\n", worst,
           amax, cos);
    CHECK(cos > 0.999, "int8 attention against float: cosine %.6f", cos);
    /* with the probabilities asked for, the same outputs up to the normalized rows' rounding */
    float *att = malloc(sizeof(float) * (size_t)B * heads * T * T);
    memcpy(work, qkv, sizeof(float) * nq);
    vt_attention_forward_ex(o8, att, work, B, T, D, heads, NULL, NULL, NULL, NULL, 1e-6f, NULL, 1);
    CHECK(max_abs_diff(o8, o0, no) <= 2e-3 * amax, "int8 attention with probabilities out: %g", (double)max_abs_diff(o8, o0, no));
    free(att), free(qkv), free(work), free(of), free(o8), free(o0), free(ref), free(kq), free(vq), free(ks), free(vs), free(vt);
    free(u), free(row);
}

static vitc_model *small_model(void) {
    vt_vit_config c;
    vt_config_defaults(&c);
    snprintf(c.name, sizeof c.name, "int8-test");
    c.dim = 64, c.depth = 2, c.heads = 2, c.mlp_dim = 128, c.patch = 8, c.img_size = 32, c.num_classes = 5;
    vitc_model *m;
    if (vt_model_new(&c, &m)) return NULL;
    vt_model_init_random(m, 7, 1.0f);
    return m;
}

/* Rewrites src into dst with one change: a tensor dropped, replaced as F32, a value changed, or the
 * vitc.quant metadata replaced. */
enum { DROP, AS_F32, SET_VALUE, META };
static int rewrite(const char *src, const char *dst, int what, const char *name, float value, const char *meta) {
    vt_safetensors *st;
    if (vt_st_open(src, &st)) return -1;
    vt_st_write_tensor *ts = calloc(st->n_tensors, sizeof *ts);
    void **bufs = calloc(st->n_tensors, sizeof *bufs);
    size_t n = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const vt_st_tensor *t = &st->tensors[i];
        int hit = !strcmp(t->name, name);
        if (hit && what == DROP) continue;
        vt_st_write_tensor *w = &ts[n++];
        w->name = t->name, w->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) w->shape[d] = t->shape[d];
        if (t->dtype == VT_DTYPE_I8 && !(hit && what == AS_F32)) {
            int8_t *c = malloc((size_t)t->numel);
            memcpy(c, t->data, (size_t)t->numel);
            if (hit && what == SET_VALUE) c[3] = (int8_t)value;
            w->data_i8 = c, bufs[i] = c;
        } else {
            float *c = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
            for (int64_t k = 0; k < t->numel; k++)
                c[k] = t->dtype == VT_DTYPE_I8 ? (float)(int8_t)t->data[k] : ((const float *)t->data)[k];
            if (hit && what == SET_VALUE) c[t->numel > 3 ? 3 : 0] = value;
            w->data = c, bufs[i] = c;
        }
    }
    const char *keys[8], *vals[8];
    size_t nm = 0;
    for (size_t i = 0; st->metadata && i < st->metadata->count && nm < 8; i++) {
        keys[nm] = st->metadata->keys[i];
        vals[nm] = what == META && !strcmp(keys[nm], "vitc.quant") ? meta : st->metadata->items[i].string;
        nm++;
    }
    int rc = vt_st_write(dst, ts, n, keys, vals, nm) ? -1 : 0;
    for (size_t i = 0; i < st->n_tensors; i++) free(bufs[i]);
    free(bufs), free(ts);
    vt_st_close(st);
    return rc;
}

static void refused(const char *what, const char *path, vitc_status want) {
    vitc_model *m = NULL;
    vitc_status s = vitc_model_load(path, NULL, &m);
    const char *e = vitc_last_error();
    CHECK(s == want && !m, "%s: status %d (want %d): %s", what, s, want, e);
    CHECK(e && *e && !strchr(e, '\n'), "%s: a one-line message", what);
    vitc_model_free(m);
}

static void test_files(void) {
    vitc_model *m = small_model();
    CHECK(m != NULL, "model");
    if (!m) return;
    int n = 3, H = 32, C = 5;
    float *img = malloc(sizeof(float) * n * 3 * H * H), *zf = malloc(sizeof(float) * n * C);
    float *z8 = malloc(sizeof(float) * n * C), *zq = malloc(sizeof(float) * n * C);
    for (int i = 0; i < n * 3 * H * H; i++) img[i] = next_f() * 2.0f;
    char dir[] = "/tmp/vitc-int8-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char qd[128], qs[128], bad[128];
    snprintf(qd, sizeof qd, "%s/dyn.safetensors", dir);
    snprintf(qs, sizeof qs, "%s/static.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    CHECK(vitc_model_classify(m, img, n, H, H, zf) == VITC_OK, "float");
    CHECK(vitc_model_set_int8(m, 1) == VITC_OK && vitc_model_classify(m, img, n, H, H, z8) == VITC_OK, "int8");
    CHECK(memcmp(zf, z8, sizeof(float) * n * C) != 0, "int8 logits are not the float ones");
    CHECK(vitc_model_set_bf16(m, 1) != VITC_OK, "int8 and bf16 together refused");
    CHECK(vitc_model_save_int8(m, qd, 0) == VITC_OK, "save dynamic: %s", vitc_last_error());
    CHECK(vitc_model_save_int8(m, qs, 1) != VITC_OK, "static without calibration refused");
    CHECK(vitc_model_calibrate(m, img, n, H, H, 1) != VITC_OK, "calibration needs the float model");
    /* int8 attention: recorded in the file, the same bits loaded back; refused on a float model */
    char qa[128];
    snprintf(qa, sizeof qa, "%s/attn.safetensors", dir);
    float *za = malloc(sizeof(float) * n * C);
    CHECK(vitc_model_set_int8_attention(m, 1) == VITC_OK && vitc_model_classify(m, img, n, H, H, za) == VITC_OK, "int8 attention");
    CHECK(memcmp(za, z8, sizeof(float) * n * C) != 0, "int8 attention changes the logits");
    CHECK(vitc_model_save_int8(m, qa, 0) == VITC_OK, "save with int8 attention: %s", vitc_last_error());
    vitc_model *qm = NULL;
    CHECK(vitc_model_load(qa, NULL, &qm) == VITC_OK && vitc_model_int8_attention(qm), "load int8 attention: %s", vitc_last_error());
    if (qm) {
        CHECK(vitc_model_classify(qm, img, n, H, H, zq) == VITC_OK && !memcmp(zq, za, sizeof(float) * n * C),
              "the int8-attention file gives the in-memory bits");
        CHECK(vitc_model_set_int8_attention(qm, 0) == VITC_OK && vitc_model_classify(qm, img, n, H, H, zq) == VITC_OK &&
                  !memcmp(zq, z8, sizeof(float) * n * C),
              "attention back to float: the int8 file's bits");
        vitc_model_free(qm);
    }
    free(za);
    remove(qa);
    CHECK(vitc_model_set_int8(m, 0) == VITC_OK, "back to float");
    CHECK(!vitc_model_int8_attention(m) && vitc_model_set_int8_attention(m, 1) == VITC_ERR_ARG, "int8 attention needs int8");
    CHECK(vitc_model_calibrate(m, img, n, H, H, 1) == VITC_OK, "calibrate: %s", vitc_last_error());
    CHECK(vitc_model_save_int8(m, qs, 1) == VITC_OK, "save static: %s", vitc_last_error());

    vitc_model *q = NULL;
    CHECK(vitc_model_load(qd, NULL, &q) == VITC_OK && vitc_model_int8(q) == 1, "load dynamic: %s", vitc_last_error());
    if (q) {
        CHECK(vitc_model_classify(q, img, n, H, H, zq) == VITC_OK && !memcmp(zq, z8, sizeof(float) * n * C),
              "the dynamic file gives the in-memory int8 bits");
        CHECK(vitc_model_save_int8(q, bad, 0) != VITC_OK && access(bad, F_OK) != 0, "re-quantizing refused, no file left");
        CHECK(vt_model_save(q, bad) != VITC_OK && access(bad, F_OK) != 0, "saving as float refused, no file left");
        vitc_model_free(q);
    }
    q = NULL;
    CHECK(vitc_model_load(qs, NULL, &q) == VITC_OK && vitc_model_int8(q) == 2, "load static: %s", vitc_last_error());
    if (q) {
        CHECK(vitc_model_classify(q, img, n, H, H, zq) == VITC_OK, "static forward");
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < n * C; i++) ab += (double)zq[i] * zf[i], aa += (double)zq[i] * zq[i], bb += (double)zf[i] * zf[i];
        CHECK(ab / sqrt(aa * bb) > 0.99, "static int8 logits cosine %.5f on its calibration images", ab / sqrt(aa * bb));
        vitc_model_free(q);
    }
    /* corrupt quantized files */
    CHECK(!rewrite(qd, bad, DROP, "blocks.1.mlp.fc2.weight_scale", 0, NULL), "rewrite");
    refused("scale missing", bad, VITC_ERR_MISSING);
    CHECK(!rewrite(qd, bad, AS_F32, "blocks.0.attn.qkv.weight", 0, NULL), "rewrite");
    refused("weight not I8", bad, VITC_ERR_SHAPE);
    CHECK(!rewrite(qd, bad, AS_F32, "blocks.0.attn.proj.weight_scale", 0, NULL), "rewrite");
    CHECK(!rewrite(bad, bad, SET_VALUE, "blocks.0.attn.proj.weight_scale", 0.0f, NULL), "rewrite");
    refused("zero scale", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, SET_VALUE, "blocks.0.attn.proj.weight_scale", NAN, NULL), "rewrite");
    refused("NaN scale", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, SET_VALUE, "blocks.1.mlp.fc1.weight", -128, NULL), "rewrite");
    refused("-128 in a weight", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, META, "", 0, "{\"scheme\":\"int4\",\"activations\":\"dynamic\"}"), "rewrite");
    refused("unknown scheme", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, META, "", 0, "{\"scheme\":\"int8\",\"activations\":\"static\"}"), "rewrite");
    refused("static without input scales", bad, VITC_ERR_MISSING);
    CHECK(!rewrite(qs, bad, SET_VALUE, "blocks.0.mlp.fc1.input_scale", -1.0f, NULL), "rewrite");
    refused("negative input scale", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, META, "", 0, "{\"scheme\":\"int8\",\"activations\":\"dynamic\",\"attention\":\"int4\"}"), "rewrite");
    refused("unknown attention scheme", bad, VITC_ERR_FORMAT);
    CHECK(!rewrite(qd, bad, META, "", 0, "not json"), "rewrite");
    refused("metadata not JSON", bad, VITC_ERR_FORMAT);
    remove(qd), remove(qs), remove(bad), rmdir(dir);
    vitc_model_free(m);
    free(img), free(zf), free(z8), free(zq);
}

int main(void) {
    vt_kernels_init();
    const char *was = vt_kernels_name();
    test_tiles();
    test_quantize_row();
    test_quantize_input();
    test_linear();
    test_select();
    test_attention();
    vt_kernels_select(was);
    vt_q8_select("auto");
    test_files();
    return check_report("test_int8");
}
