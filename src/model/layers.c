#include "model/layers.h"
#include "kernels/int8.h"
#include "core/arena.h"
#include "core/thread_exit.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Row-parallel steps run on the kernels' thread pool: contiguous row ranges per thread. */
typedef struct rows_job {
    float *out, *mean, *rstd, *x;
    const float *inp, *y, *g, *w, *b;
    int N, C;
    float eps;
} rows_job;

/* Threads for a row-wise pass over n values: one below ~32K values (a wake costs more). */
static int rows_threads(size_t n) { return n >= 32768 ? vt_usable_threads() : 1; }

static void layernorm_task(void *ctx, int tid, int nt) {
    rows_job *j = ctx;
    long lo, hi;
    vt_split(j->N, tid, nt, &lo, &hi);
    vt_layernorm_rows(j->out + (size_t)lo * j->C, j->mean ? j->mean + lo : NULL, j->rstd ? j->rstd + lo : NULL,
                      j->inp + (size_t)lo * j->C, j->w, j->b, (int)(hi - lo), j->C, j->eps);
}

void vt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                          int N, int C, float eps) {
    rows_job j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .N = N, .C = C, .eps = eps};
    vt_parallel_run(layernorm_task, &j, rows_threads((size_t)N * C));
}

static void residual_layernorm_task(void *ctx, int tid, int nt) {
    rows_job *j = ctx;
    long lo, hi;
    vt_split(j->N, tid, nt, &lo, &hi);
    size_t o = (size_t)lo * j->C;
    vt_add_layernorm_rows(j->x + o, j->y + o, j->g, j->out + o, j->mean ? j->mean + lo : NULL,
                          j->rstd ? j->rstd + lo : NULL, j->w, j->b, (int)(hi - lo), j->C, j->eps);
}

void vt_residual_layernorm_forward(float *x, const float *y, const float *g, float *out, float *mean, float *rstd,
                                   const float *w, const float *b, int N, int C, float eps) {
    rows_job j = {.x = x, .y = y, .g = g, .out = out, .mean = mean, .rstd = rstd, .w = w, .b = b, .N = N, .C = C,
                  .eps = eps};
    vt_parallel_run(residual_layernorm_task, &j, rows_threads((size_t)N * C));
}

static void gelu_task(void *ctx, int tid, int nt) {
    rows_job *j = ctx;
    long lo, hi;
    vt_split(j->N, tid, nt, &lo, &hi);
    const float inv_sqrt2 = 0.70710678118654752f;
    for (long i = lo; i < hi; i++) {
        float x = j->inp[i];
        j->out[i] = 0.5f * x * (1.0f + erff(x * inv_sqrt2));
    }
}

void vt_gelu_forward(float *out, const float *inp, size_t n) {
    for (size_t done = 0; done < n;) { /* row_job counts in int: chunks of at most 2^30 */
        size_t len = n - done < ((size_t)1 << 30) ? n - done : ((size_t)1 << 30);
        rows_job j = {.out = out + done, .inp = inp + done, .N = (int)len};
        vt_parallel_run(gelu_task, &j, len > 65536 ? vt_usable_threads() : 1);
        done += len;
    }
}

/* quick_gelu and the tanh GELU run in the kernel sets (vt_gated_act: x sigmoid(z), vectorized). */
typedef struct act_job {
    float *out;
    const float *inp;
    size_t n;
    int kind; /* VT_ACT_KIND_QUICK_GELU or VT_ACT_KIND_GELU_TANH */
} act_job;

static void act_task(void *ctx, int tid, int nt) {
    act_job *j = ctx;
    long lo, hi;
    vt_split((long)j->n, tid, nt, &lo, &hi);
    if (hi > lo) vt_gated_act(j->out + lo, j->inp + lo, (size_t)(hi - lo), j->kind);
}

void vt_quick_gelu_forward(float *out, const float *inp, size_t n) {
    act_job j = {out, inp, n, VT_ACT_KIND_QUICK_GELU};
    vt_parallel_run(act_task, &j, rows_threads(n));
}

void vt_gelu_tanh_forward(float *out, const float *inp, size_t n) {
    act_job j = {out, inp, n, VT_ACT_KIND_GELU_TANH};
    vt_parallel_run(act_task, &j, rows_threads(n));
}

typedef struct swiglu_job {
    float *out;
    const float *inp;
    int N, H;
} swiglu_job;

static void swiglu_task(void *ctx, int tid, int nt) {
    swiglu_job *j = ctx;
    long lo, hi;
    vt_split(j->N, tid, nt, &lo, &hi);
    int H = j->H;
    for (long r = lo; r < hi; r++) {
        const float *g = j->inp + (size_t)r * 2 * H, *v = g + H;
        float *o = j->out + (size_t)r * H;
        for (int c = 0; c < H; c++) o[c] = g[c] / (1.0f + expf(-g[c])) * v[c];
    }
}

void vt_swiglu_forward(float *out, const float *inp, int N, int H) {
    /* row r is written to [r H, r H + H) after it is read from [2 r H, 2 r H + 2 H): for r >= 1 the
     * writes land on rows already read, for r = 0 each element after its own reads; in place (out ==
     * inp), row r's output overlaps the input of rows r / 2 and below only, so the rows run in order on
     * one thread */
    swiglu_job j = {out, inp, N, H};
    vt_parallel_run(swiglu_task, &j, out == inp ? 1 : rows_threads((size_t)N * H));
}

static void norm_heads(float *qkv, int rows, int stride, int D, int heads, const float *w, const float *b, float eps) {
    int hd = D / heads;
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++) {
            float *v = qkv + (size_t)r * stride + (size_t)h * hd;
            vt_layernorm_rows(v, NULL, NULL, v, w, b, 1, hd, eps);
        }
}

/* Attention per (image, head) as two GEMMs over query tiles: S = scale * q k^T, row softmax,
 * O = P v written straight into the output columns of the head. K^T and V of a head are packed
 * once per thread and reused for all its query tiles; the scores of one tile live in a per-thread
 * buffer, so nothing of size T x T x heads is made unless the caller asks for the probabilities.
 * Without that request P stays unnormalized and the (T x head_dim) O rows are scaled by 1/sum
 * instead of the (T x T) P rows. Threads take contiguous runs of (image, head, tile) items. */

/* Grow-only scratch per thread: pool threads persist, so steady-state calls allocate nothing
 * (large malloc/free pairs would otherwise map and fault fresh pages on every call). */
typedef struct att_scratch {
    float *buf; /* a tile's scores, then its rows' 1/sum */
    size_t cap;
    vt_packed_b *kp, *vp;
    vt_q8_linear_w *kq, *vq; /* int8 products: K (T x hd) and V^T (hd x T) quantized */
    float *vt;               /* V^T in float before quantizing */
    size_t vt_cap;
} att_scratch;
static _Thread_local att_scratch tls_att;

/* Frees this thread's scratch when it exits (an application thread; see core/thread_exit.h). */
static void att_release(void) {
    free(tls_att.buf);
    vt_packed_b_free(tls_att.kp);
    vt_packed_b_free(tls_att.vp);
    vt_q8_linear_free(tls_att.kq);
    vt_q8_linear_free(tls_att.vq);
    free(tls_att.vt);
    tls_att = (att_scratch){0};
}

/* Items are (image, head, query tile), stolen (vt_steal_next): each thread owns a contiguous run,
 * so consecutive tiles of a head reuse its packed K/V. */
#define ATT_SLOTS 64

typedef struct att_job {
    float *out, *att;
    const float *qkv;
    const float *bias; /* heads x T x T added to the scaled scores, or NULL */
    int B, T, D, heads, tile, ntiles, nslots;
    int int8; /* Q.K^T and P.V in int8 (see vt_attention_forward_bias) */
    float scale;
    atomic_int fail;
    vt_steal_slot slots[ATT_SLOTS];
} att_job;

/* A head's K (T rows of hd, per key symmetric, the score scale folded into its scales) and V^T
 * (hd rows of T: per channel) for the int8 products; the queries and the probabilities are
 * quantized per row as every int8 layer's inputs (u8 with a zero point). */
static int pack_q8(att_scratch *sc, const float *base, int T, int D, int hd, float scale) {
    size_t C3 = 3 * (size_t)D;
    if (vt_q8_requantize(&sc->kq, base + D, C3, T, hd)) return -1;
    for (int t = 0; t < T; t++) sc->kq->scale[t] *= scale;
    float *vt = vt_scratch_grow(&sc->vt, &sc->vt_cap, (size_t)hd * T);
    if (!vt) return -1;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < hd; d++) vt[(size_t)d * T + t] = base[2 * (size_t)D + t * C3 + d];
    return vt_q8_requantize(&sc->vq, vt, (size_t)T, hd, T);
}

static void attention_task(void *ctx, int tid, int nt) {
    att_job *j = ctx;
    int T = j->T, D = j->D, hd = D / j->heads, C3 = 3 * D, tile = j->tile;
    att_scratch *sc = &tls_att;
    if (!sc->buf) vt_on_thread_exit(att_release);
    float *S = vt_scratch_grow(&sc->buf, &sc->cap, (size_t)tile * (T + 1));
    if (!S) {
        atomic_store(&j->fail, 1);
        return;
    }
    float *inv = S + (size_t)tile * T;
    long packed_bh = -1;
    int k = 0, slot;
    long it;
    while (vt_steal_next(j->slots, j->nslots, tid, &k, &slot, &it)) {
        long bh = it / j->ntiles;
        int i0 = (int)(it % j->ntiles) * tile, b = (int)(bh / j->heads), h = (int)(bh % j->heads);
        int m = T - i0 < tile ? T - i0 : tile;
        const float *base = j->qkv + (size_t)b * T * C3 + (size_t)h * hd;
        if (bh != packed_bh) {
            if (j->int8 ? pack_q8(sc, base, T, D, hd, j->scale)
                        : vt_pack_b_reuse(&sc->kp, 1, hd, T, base + D, C3) || vt_pack_b_reuse(&sc->vp, 0, T, hd, base + 2 * D, C3)) {
                atomic_store(&j->fail, 1);
                return;
            }
            packed_bh = bh;
        }
        if (j->int8) {
            if (vt_q8_linear_strided(S, (size_t)T, base + (size_t)i0 * C3, C3, sc->kq, NULL, m, VT_EPILOGUE_NONE)) {
                atomic_store(&j->fail, 1);
                return;
            }
        } else
            vt_gemm_packed(0, m, j->scale, base + (size_t)i0 * C3, C3, sc->kp, 0.0f, S, T, NULL, VT_EPILOGUE_NONE);
        if (j->bias)
            for (int i = 0; i < m; i++) {
                float *si = S + (size_t)i * T;
                const float *bi = j->bias + ((size_t)h * T + i0 + i) * T;
#pragma omp simd
                for (int t = 0; t < T; t++) si[t] += bi[t];
            }
        vt_softmax_rows(S, m, T, (size_t)T, j->att ? NULL : inv);
        if (j->att)
            for (int i = 0; i < m; i++)
                memcpy(j->att + ((size_t)bh * T + i0 + i) * T, S + (size_t)i * T, sizeof(float) * (size_t)T);
        float *o = j->out + ((size_t)b * T + i0) * D + (size_t)h * hd;
        if (j->int8) {
            if (vt_q8_linear_strided(o, (size_t)D, S, (size_t)T, sc->vq, NULL, m, VT_EPILOGUE_NONE)) {
                atomic_store(&j->fail, 1);
                return;
            }
        } else
            vt_gemm_packed(0, m, 1.0f, S, T, sc->vp, 0.0f, o, D, NULL, VT_EPILOGUE_NONE);
        if (!j->att)
            for (int i = 0; i < m; i++) {
                float *oi = o + (size_t)i * D, s = inv[i];
#pragma omp simd
                for (int d = 0; d < hd; d++) oi[d] *= s;
            }
    }
}

/* Query tiles per (image, head): one (all T queries, the least edge waste and packing) unless
 * more items are needed to keep nt threads evenly busy; a tile's scores stay within ~256 KB. */
static int attention_tiles(long pairs, int T, int nt) {
    int max_rows = 65536 / T > 16 ? 65536 / T : 16;
    int best = (T + max_rows - 1) / max_rows;
    double best_cost = 1e300;
    for (int n = best; n <= (T + 15) / 16; n++) {
        int rows = ((T + n - 1) / n + 5) / 6 * 6;          /* rounded up to 6-row micro-tiles */
        double items = (double)((pairs * n + nt - 1) / nt); /* per thread */
        double cost = items * (rows + 8);                   /* + a few rows' worth per item */
        if (cost < best_cost * 0.97) best_cost = cost, best = n;
    }
    return best;
}

void vt_attention_forward(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                          const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps) {
    vt_attention_forward_bias(out, att, qkv, B, T, D, heads, qn_w, qn_b, kn_w, kn_b, eps, NULL);
}

void vt_attention_forward_bias(float *out, float *att, float *qkv, int B, int T, int D, int heads,
                               const float *qn_w, const float *qn_b, const float *kn_w, const float *kn_b, float eps,
                               const float *bias) {
    vt_attention_forward_ex(out, att, qkv, B, T, D, heads, qn_w, qn_b, kn_w, kn_b, eps, bias, 0);
}

void vt_attention_forward_ex(float *out, float *att, float *qkv, int B, int T, int D, int heads, const float *qn_w,
                             const float *qn_b, const float *kn_w, const float *kn_b, float eps, const float *bias, int int8) {
    int hd = D / heads;
    if (qn_w) norm_heads(qkv, B * T, 3 * D, D, heads, qn_w, qn_b, eps);
    if (kn_w) norm_heads(qkv + D, B * T, 3 * D, D, heads, kn_w, kn_b, eps);
    int nt = vt_usable_threads();
    int ntiles = attention_tiles((long)B * heads, T, nt);
    att_job j = {.out = out, .att = att, .qkv = qkv, .bias = bias, .B = B, .T = T, .D = D, .heads = heads,
                 .tile = (T + ntiles - 1) / ntiles, .ntiles = ntiles, .int8 = int8, .scale = 1.0f / sqrtf((float)hd)};
    j.ntiles = (T + j.tile - 1) / j.tile;
    j.nslots = nt < ATT_SLOTS ? nt : ATT_SLOTS;
    for (int t = 0; t < j.nslots; t++) {
        long lo, hi;
        vt_split((long)B * heads * j.ntiles, t, j.nslots, &lo, &hi);
        atomic_init(&j.slots[t].next, lo);
        j.slots[t].end = hi;
    }
    vt_parallel_run(attention_task, &j, nt);
    if (atomic_load(&j.fail)) abort(); /* a few hundred KB per thread */
}

typedef struct patch_job {
    float *out;
    const float *img;
    int B, C, H, W, P, k;
} patch_job;

/* Token (py, px) reads the k x k window at (py * P - pad, px * P - pad), pad = (k - P) / 2, zeros
 * outside the image (a convolution's zero padding). k = P: the plain non-overlapping patches. */
static void patchify_task(void *ctx, int tid, int nt) {
    patch_job *j = ctx;
    int P = j->P, k = j->k, pad = (k - P) / 2, gh = j->H / P, gw = j->W / P, K = j->C * k * k, H = j->H, W = j->W;
    int C = j->C;
    long lo, hi;
    vt_split((long)j->B * gh, tid, nt, &lo, &hi);
    for (long bp = lo; bp < hi; bp++) {
        int b = (int)(bp / gh), py = (int)(bp % gh);
        for (int px = 0; px < gw; px++) {
            float *o = j->out + (((size_t)b * gh + py) * gw + px) * K;
            int y0 = py * P - pad, x0 = px * P - pad;
            int xa = x0 < 0 ? -x0 : 0, xb = x0 + k > W ? W - x0 : k; /* columns [xa, xb) lie inside */
            for (int c = 0; c < C; c++)
                for (int y = 0; y < k; y++) {
                    float *row = o + ((size_t)c * k + y) * k;
                    int iy = y0 + y;
                    if (iy < 0 || iy >= H) {
                        memset(row, 0, sizeof(float) * (size_t)k);
                        continue;
                    }
                    const float *src = j->img + (((size_t)b * C + c) * H + iy) * W + (x0 + xa);
                    if (xa) memset(row, 0, sizeof(float) * (size_t)xa);
                    memcpy(row + xa, src, sizeof(float) * (size_t)(xb - xa));
                    if (xb < k) memset(row + xb, 0, sizeof(float) * (size_t)(k - xb));
                }
        }
    }
}

void vt_patchify(float *out, const float *img, int B, int C, int H, int W, int P, int k) {
    patch_job j = {out, img, B, C, H, W, P, k};
    vt_parallel_run(patchify_task, &j, rows_threads((size_t)B * C * H * W));
}

static void residual_task(void *ctx, int tid, int nt) {
    rows_job *j = ctx;
    long lo, hi;
    vt_split(j->N, tid, nt, &lo, &hi);
    int C = j->C;
    for (long r = lo; r < hi; r++) {
        float *x = j->x + (size_t)r * C;
        const float *y = j->y + (size_t)r * C;
        if (j->g)
            for (int c = 0; c < C; c++) x[c] += j->g[c] * y[c];
        else
            for (int c = 0; c < C; c++) x[c] += y[c];
    }
}

void vt_residual_forward(float *x, const float *y, const float *g, int N, int C) {
    rows_job j = {.x = x, .y = y, .g = g, .N = N, .C = C};
    vt_parallel_run(residual_task, &j, rows_threads((size_t)N * C));
}

void vt_l2_normalize_rows(float *x, int N, int C) {
    for (int r = 0; r < N; r++) {
        float *v = x + (size_t)r * C;
        double ss = 0.0;
        for (int k = 0; k < C; k++) ss += (double)v[k] * v[k];
        if (ss <= 0.0) continue;
        float inv = (float)(1.0 / sqrt(ss));
        for (int k = 0; k < C; k++) v[k] *= inv;
    }
}

/* One axis of the bilinear map: the two source indices and the weight of the second. PyTorch
 * clamps the source coordinate at 0 from below and the index at n - 1 from above. */
typedef struct lerp_tap {
    int i0, i1;
    float t;
} lerp_tap;

static void lerp_taps(lerp_tap *taps, int n_out, int n_in, double scale, double offset) {
    for (int o = 0; o < n_out; o++) {
        double u = (o + 0.5) * scale + offset - 0.5;
        if (u < 0.0) u = 0.0;
        int i0 = (int)u;
        if (i0 > n_in - 1) i0 = n_in - 1;
        int i1 = i0 + (i0 < n_in - 1);
        double t = u - i0;
        if (t > 1.0) t = 1.0;
        taps[o] = (lerp_tap){i0, i1, (float)t};
    }
}

static lerp_tap *bilinear_taps(int h, int w, int H, int W, double sy, double oy, double sx, double ox) {
    lerp_tap *taps = malloc(sizeof *taps * ((size_t)H + (size_t)W));
    if (!taps) return NULL;
    lerp_taps(taps, H, h, sy, oy);
    lerp_taps(taps + H, W, w, sx, ox);
    return taps;
}

void vt_bilinear_planes(float *out, const float *in, int C, int h, int w, int H, int W, double sy, double oy,
                        double sx, double ox) {
    lerp_tap *taps = bilinear_taps(h, w, H, W, sy, oy, sx, ox);
    if (!taps) { /* only for huge outputs: a slow path without the tables */
        for (size_t i = 0; i < (size_t)C * H * W; i++) out[i] = 0.0f;
        return;
    }
    const lerp_tap *ty = taps, *tx = taps + H;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((size_t)C * H * W > 65536)
    for (int c = 0; c < C; c++) {
        const float *p = in + (size_t)c * h * w;
        float *o = out + (size_t)c * H * W;
        for (int Y = 0; Y < H; Y++) {
            const float *r0 = p + (size_t)ty[Y].i0 * w, *r1 = p + (size_t)ty[Y].i1 * w;
            float b = ty[Y].t, a = 1.0f - b;
            for (int X = 0; X < W; X++) {
                float d = tx[X].t, e = 1.0f - d;
                int x0 = tx[X].i0, x1 = tx[X].i1;
                o[(size_t)Y * W + X] = a * (e * r0[x0] + d * r0[x1]) + b * (e * r1[x0] + d * r1[x1]);
            }
        }
    }
    free(taps);
}

void vt_bilinear_planes_backward(float *din, const float *dout, int C, int h, int w, int H, int W, double sy,
                                 double oy, double sx, double ox) {
    lerp_tap *taps = bilinear_taps(h, w, H, W, sy, oy, sx, ox);
    if (!taps) return;
    const lerp_tap *ty = taps, *tx = taps + H;
#pragma omp parallel for schedule(static) num_threads(vt_get_threads()) if ((size_t)C * H * W > 65536)
    for (int c = 0; c < C; c++) {
        float *p = din + (size_t)c * h * w;
        const float *g = dout + (size_t)c * H * W;
        for (int Y = 0; Y < H; Y++) {
            float *r0 = p + (size_t)ty[Y].i0 * w, *r1 = p + (size_t)ty[Y].i1 * w;
            float b = ty[Y].t, a = 1.0f - b;
            for (int X = 0; X < W; X++) {
                float d = tx[X].t, e = 1.0f - d, v = g[(size_t)Y * W + X];
                int x0 = tx[X].i0, x1 = tx[X].i1;
                r0[x0] += a * e * v;
                r0[x1] += a * d * v;
                r1[x0] += b * e * v;
                r1[x1] += b * d * v;
            }
        }
    }
    free(taps);
}
