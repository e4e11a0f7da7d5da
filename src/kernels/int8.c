/* int8 Linear layers (see int8.h): weight packing, activation quantization, the portable integer
 * tile, the dequantizing store and the split over threads. */
#include "kernels/int8.h"
#include "core/thread_exit.h"
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if VT_X86
#include <cpuid.h>
#endif

#if VT_X86
/* the sign-trick tiles with |x| given: s0, s1 the x_s rows, a0, a1 their |x_s| */
typedef void (*q8_abs_tile_fn)(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1, const int8_t *w,
                               size_t ldw, int Kp, int32_t out[2][4]);
void vt_q8_tile_abs_avx2(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1, const int8_t *w, size_t ldw,
                         int Kp, int32_t out[2][4]);
void vt_q8_tile_abs_avx512bw(const int8_t *s0, const int8_t *s1, const int8_t *a0, const int8_t *a1, const int8_t *w,
                             size_t ldw, int Kp, int32_t out[2][4]);
float vt_q8_amax_avx2(const float *x, int n);
void vt_q8_quantize_scaled_avx2(int8_t *q, const float *x, int n, float inv);
void vt_q8_quantize_u8_avx2(uint8_t *u, const float *x, int n, float inv, int zp, int lo);
void vt_q8_minmax_avx2(const float *x, int n, float *mn, float *mx);
void vt_q8_panel_avx2(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                      const int32_t *zp, const float *b, float *y, size_t ldy, int rows);
void vt_q8_vnni_avx512(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                       const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy);
void vt_q8_vnni_avx2(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                     const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy);
void vt_q8_quantize_u8_avx512(uint8_t *u, const float *x, int n, float inv, int zp, int lo);
void vt_q8_panel_avx512bw(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                          const int32_t *zp, const float *b, float *y, size_t ldy, int rows);
void vt_q8_minmax_avx512(const float *x, int n, float *mn, float *mx);
#endif
#if defined(__aarch64__)
void vt_q8_tile_neon(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]);
int vt_q8_neon_dotprod_supported(void);
#endif

#if VT_X86
/* A sign-trick tile on plain x_q rows (vt_q8_tile_fn, for tests): |x_q| made 512 bytes at a time on
 * the stack, the slices' exact sums added. */
static void tile_from_abs(q8_abs_tile_fn f, const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp,
                          int32_t out[2][4]) {
    int8_t a[2][512];
    memset(out, 0, sizeof(int32_t) * 8);
    for (int k0 = 0; k0 < Kp; k0 += 512) {
        int kb = Kp - k0 < 512 ? Kp - k0 : 512;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < kb; k++) {
                int8_t v = x[i * ldx + k0 + k];
                a[i][k] = (int8_t)(v < 0 ? -v : v);
            }
        int32_t t[2][4];
        f(x + k0, x + ldx + k0, a[0], a[1], w + k0, ldw, kb, t);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) out[i][j] += t[i][j];
    }
}
static void tile_avx2(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]) {
    tile_from_abs(vt_q8_tile_abs_avx2, x, ldx, w, ldw, Kp, out);
}
static void tile_avx512bw(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]) {
    tile_from_abs(vt_q8_tile_abs_avx512bw, x, ldx, w, ldw, Kp, out);
}
#endif

/* The active implementation's pieces. */
typedef struct q8_impl {
    vt_q8_tile_fn tile;
    /* weights: symmetric rows */
    float (*amax)(const float *x, int n);
    void (*quantize)(int8_t *q, const float *x, int n, float inv);
    /* inputs: the range (from 0) and u8 with a zero point */
    void (*minmax)(const float *x, int n, float *mn, float *mx);
    void (*quantize_u8)(uint8_t *u, const float *x, int n, float inv, int zp, int lo);
    /* row-layout weights: rows (1 or 2) of y for columns [n0, n1), the tile's sums corrected and
     * dequantized, + b */
    void (*panel)(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                  const int32_t *zp, const float *b, float *y, size_t ldy, int rows);
    /* panel-layout weights: the VNNI kernel of panel width pw (vnni_ref for any other width) */
    vt_q8_vnni_fn vnni;
    int pw;
} q8_impl;

static float amax_ref(const float *x, int n) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax; /* NaN ignored */
    }
    return amax;
}

static void quantize_ref(int8_t *q, const float *x, int n, float inv) {
    for (int i = 0; i < n; i++) q[i] = vt_q8_round(x[i] * inv);
}

static void minmax_ref(const float *x, int n, float *mn, float *mx) {
    float a = 0.0f, b = 0.0f;
    for (int i = 0; i < n; i++) a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b; /* NaN ignored */
    *mn = a, *mx = b;
}

static void quantize_u8_ref(uint8_t *u, const float *x, int n, float inv, int zp, int lo) {
    for (int i = 0; i < n; i++) u[i] = vt_q8_round_u8(x[i] * inv, zp, lo);
}

/* Any tile function with the portable correction and dequantizing store. */
static void panel_with(vt_q8_tile_fn tile, const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1,
                       const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy, int rows) {
    int32_t t[2][4];
    for (int n = n0; n < n1 && n < w->N; n += 4) {
        tile(x, ldx, w->w + (size_t)n * w->Kp, (size_t)w->Kp, w->Kp, t);
        for (int i = 0; i < rows; i++)
            for (int q = 0; q < 4 && n + q < w->N; q++) {
                float v = (float)(t[i][q] + (128 - zp[i]) * w->colsum[n + q]) * (sx[i] * w->scale[n + q]);
                y[(size_t)i * ldy + n + q] = b ? v + b[n + q] : v;
            }
    }
}
static void panel_ref(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                      const int32_t *zp, const float *b, float *y, size_t ldy, int rows) {
    panel_with(vt_q8_tile_ref, x, ldx, w, n0, n1, sx, zp, b, y, ldy, rows);
}
#if defined(__aarch64__)
static void panel_neon(const int8_t *x, size_t ldx, const vt_q8_linear_w *w, int n0, int n1, const float *sx,
                       const int32_t *zp, const float *b, float *y, size_t ldy, int rows) {
    panel_with(vt_q8_tile_neon, x, ldx, w, n0, n1, sx, zp, b, y, ldy, rows);
}
#endif

/* Any panel width, portably: the same integer sums and dequantizing store as the VNNI kernels. */
static void vnni_ref(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                     const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy) {
    for (int m = m0; m < m1; m++)
        for (int n = p0 * w->pw; n < p1 * w->pw && n < w->N; n++) {
            int32_t s = 0;
            for (int k = 0; k < w->Kp; k++) s += (int32_t)a[(size_t)m * lda + k] * vt_q8_weight_at(w, n, k);
            float v = (float)(s - zp[m] * w->colsum[n]) * (sx[m] * w->scale[n]);
            y[(size_t)m * ldy + n] = b ? v + b[n] : v;
        }
}

#if VT_X86
/* CPUID directly: not every compiler's __builtin_cpu_supports knows "avxvnni" (clang 14 does not).
 * The kernel sets that use these already checked the OS saves the vector registers. */
static int cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit) {
    unsigned r[4];
    return __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]) && (r[reg] >> bit & 1);
}
/* Read once: CPUID traps to the hypervisor in a VM. */
static _Atomic int vnni512_bit = -1, avxvnni_bit = -1;
static int cpu_vnni512(void) {
    if (vnni512_bit < 0) vnni512_bit = cpuid_bit(7, 0, 2, 11); /* ECX: AVX512_VNNI */
    return vnni512_bit;
}
static int cpu_avxvnni(void) {
    if (avxvnni_bit < 0) avxvnni_bit = cpuid_bit(7, 1, 0, 4); /* EAX: AVX_VNNI */
    return avxvnni_bit;
}
#endif

/* ---- the int8 kernels and the choice between them */

typedef enum { Q8_REF, Q8_AVX2, Q8_AVX512BW, Q8_AVX_VNNI, Q8_AVX512_VNNI, Q8_NEON_DOT, Q8_KINDS } q8_kind;
static const char *const q8_names[Q8_KINDS] = {"ref", "avx2", "avx512bw", "avx-vnni", "avx512-vnni", "neon-dotprod"};

static int q8_supported(q8_kind k) {
    switch (k) {
    case Q8_REF: return 1;
#if VT_X86
    case Q8_AVX2: return vt_kernels_supported("avx2");
    case Q8_AVX512BW: return vt_kernels_supported("avx512"); /* that set needs F, BW, DQ, VL */
    case Q8_AVX_VNNI: return vt_kernels_supported("avx2") && cpu_avxvnni();
    case Q8_AVX512_VNNI: return vt_kernels_supported("avx512") && cpu_vnni512();
#elif defined(__aarch64__)
    case Q8_NEON_DOT: return vt_q8_neon_dotprod_supported();
#endif
    default: return 0;
    }
}

/* The kernel the active kernel set implies: the best this CPU has within that set's ISA (so
 * VITC_KERNELS=avx2 runs AVX2 code everywhere, AVX-VNNI included where the CPU has it). */
static q8_kind q8_auto(void) {
    const char *k = vt_kernels_name();
#if VT_X86
    if (!strcmp(k, "avx512"))
        return q8_supported(Q8_AVX512_VNNI) ? Q8_AVX512_VNNI : q8_supported(Q8_AVX_VNNI) ? Q8_AVX_VNNI : Q8_AVX512BW;
    if (!strcmp(k, "avx2")) return q8_supported(Q8_AVX_VNNI) ? Q8_AVX_VNNI : Q8_AVX2;
#elif defined(__aarch64__)
    if (!strcmp(k, "neon") && q8_supported(Q8_NEON_DOT)) return Q8_NEON_DOT;
#endif
    (void)k;
    return Q8_REF;
}

/* -2: VITC_INT8 not read yet; -1: follow the kernel set; else a q8_kind chosen by name. */
static _Atomic int q8_forced = -2;

int vt_q8_select(const char *name) {
    if (!name || !*name || !strcmp(name, "auto")) {
        q8_forced = -1;
        return 0;
    }
    for (int k = 0; k < Q8_KINDS; k++)
        if (!strcmp(name, q8_names[k])) {
            if (!q8_supported((q8_kind)k)) return -1;
            q8_forced = k;
            return 0;
        }
    return -1;
}

static q8_kind q8_kind_now(void) {
    vt_kernels_init();
    if (q8_forced == -2) {
        const char *env = getenv("VITC_INT8");
        if (vt_q8_select(env)) {
            fprintf(stderr, "vitc: VITC_INT8=%s is unknown or unsupported on this CPU; using %s\n", env, q8_names[q8_auto()]);
            q8_forced = -1;
        }
    }
    int f = q8_forced;
    return f >= 0 ? (q8_kind)f : q8_auto();
}

int vt_q8_pack_width(void) {
    q8_kind k = q8_kind_now();
    return k == Q8_AVX512_VNNI ? 64 : k == Q8_AVX_VNNI ? 16 : 0;
}

const char *vt_q8_kernel_name(void) { return q8_names[q8_kind_now()]; }

/* Each kernel's pieces; a VNNI kernel runs row-layout weights with its ISA's row kernel. */
static q8_impl impl_of(q8_kind k) {
    q8_impl r = {vt_q8_tile_ref, amax_ref, quantize_ref, minmax_ref, quantize_u8_ref, panel_ref, vnni_ref, 0};
#if VT_X86
    if (k == Q8_AVX2 || k == Q8_AVX_VNNI) {
        r.tile = tile_avx2, r.panel = vt_q8_panel_avx2;
        r.amax = vt_q8_amax_avx2, r.quantize = vt_q8_quantize_scaled_avx2;
        r.minmax = vt_q8_minmax_avx2, r.quantize_u8 = vt_q8_quantize_u8_avx2;
    }
    if (k == Q8_AVX512BW || k == Q8_AVX512_VNNI) {
        r.tile = tile_avx512bw, r.panel = vt_q8_panel_avx512bw;
        r.amax = vt_q8_amax_avx2, r.quantize = vt_q8_quantize_scaled_avx2;
        r.minmax = vt_q8_minmax_avx512, r.quantize_u8 = vt_q8_quantize_u8_avx512;
    }
    if (k == Q8_AVX_VNNI) r.vnni = vt_q8_vnni_avx2, r.pw = 16;
    if (k == Q8_AVX512_VNNI) r.vnni = vt_q8_vnni_avx512, r.pw = 64;
#elif defined(__aarch64__)
    if (k == Q8_NEON_DOT) r.tile = vt_q8_tile_neon, r.panel = panel_neon;
#endif
    (void)k;
    return r;
}

static q8_impl impl_active(void) { return impl_of(q8_kind_now()); }

static float quantize_row(const q8_impl *im, int8_t *q, const float *x, int n) {
    if (n <= 0) return 1.0f;
    float amax = im->amax(x, n);
    if (!(amax > 0.0f) || !isfinite(amax)) { /* a zero row; an infinite one cannot be scaled either */
        memset(q, 0, (size_t)n);
        return amax > 0.0f ? amax : 1.0f;
    }
    im->quantize(q, x, n, 127.0f / amax);
    return amax / 127.0f;
}

float vt_q8_quantize_row(int8_t *q, const float *x, int n) {
    q8_impl im = impl_active();
    return quantize_row(&im, q, x, n);
}

static vt_q8_linear_w *q8_alloc(int N, int K) {
    vt_q8_linear_w *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->N = N, w->K = K, w->pw = vt_q8_pack_width();
    if (w->pw)
        w->Np = (N + w->pw - 1) / w->pw * w->pw, w->Kp = (K + 3) / 4 * 4;
    else
        w->Np = (N + 3) / 4 * 4, w->Kp = (K + 31) / 32 * 32;
    w->colsum = calloc((size_t)w->Np, sizeof(int32_t));
    w->w = aligned_alloc(64, ((size_t)w->Np * w->Kp + 63) / 64 * 64);
    w->scale = malloc(sizeof(float) * (size_t)(N ? N : 1));
    if (!w->w || !w->scale || !w->colsum) {
        vt_q8_linear_free(w);
        return NULL;
    }
    memset(w->w, 0, (size_t)w->Np * w->Kp);
    return w;
}

/* Row n (K values) into the weight's layout. */
static void q8_put_row(vt_q8_linear_w *w, int n, const int8_t *q) {
    int32_t s = 0;
    for (int k = 0; k < w->K; k++) s += q[k];
    w->colsum[n] = s;
    if (!w->pw) {
        memcpy(w->w + (size_t)n * w->Kp, q, (size_t)w->K);
        return;
    }
    int8_t *p = w->w + (size_t)(n / w->pw) * w->Kp * w->pw + (size_t)(n % w->pw) * 4;
    for (int k = 0; k < w->K; k++) p[(size_t)(k & ~3) * w->pw + (k & 3)] = q[k];
}


int vt_q8_requantize(vt_q8_linear_w **pw, const float *W, size_t ldw, int N, int K) {
    vt_q8_linear_w *w = *pw;
    if (w && (w->N != N || w->K != K || w->pw != vt_q8_pack_width())) vt_q8_linear_free(w), w = *pw = NULL;
    if (!w && !(w = *pw = q8_alloc(N, K))) return -1;
    /* the padding (beyond K, beyond N) was zeroed at allocation and is never written */
    q8_impl im = impl_active();
    int8_t stack[1024], *row = K <= 1024 ? stack : malloc((size_t)K);
    if (!row) return -1;
    for (int n = 0; n < N; n++) {
        w->scale[n] = quantize_row(&im, row, W + (size_t)n * ldw, K);
        q8_put_row(w, n, row);
    }
    if (row != stack) free(row);
    w->in_scale = 0.0f;
    return 0;
}

vt_q8_linear_w *vt_q8_linear_quantize(const float *W, int N, int K) {
    vt_q8_linear_w *w = NULL;
    if (vt_q8_requantize(&w, W, (size_t)K, N, K)) {
        vt_q8_linear_free(w);
        return NULL;
    }
    return w;
}

vt_q8_linear_w *vt_q8_linear_from_q(const int8_t *q, const float *scale, int N, int K) {
    vt_q8_linear_w *w = q8_alloc(N, K);
    if (!w) return NULL;
    for (int n = 0; n < N; n++) q8_put_row(w, n, q + (size_t)n * K);
    memcpy(w->scale, scale, sizeof(float) * (size_t)N);
    return w;
}

void vt_q8_linear_free(vt_q8_linear_w *w) {
    if (!w) return;
    free(w->w);
    free(w->scale);
    free(w->colsum);
    free(w);
}

void vt_q8_tile_ref(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            const int8_t *a = x + i * ldx, *b = w + j * ldw;
            int32_t s = 0;
            for (int k = 0; k < Kp; k++) s += (int32_t)a[k] * b[k];
            out[i][j] = s;
        }
}

vt_q8_tile_fn vt_q8_tile_active(void) { return impl_active().tile; }

/* ---- the layer */

/* One input row as u8 with its zero point (see int8.h); returns its scale. */
static float quantize_input(const q8_impl *im, uint8_t *u, int32_t *zp, const float *x, int n, float in_scale) {
    if (in_scale > 0.0f) {
        *zp = 128;
        im->quantize_u8(u, x, n, 1.0f / in_scale, 128, 1);
        return in_scale;
    }
    float lo = 0.0f, hi = 0.0f;
    if (n > 0) im->minmax(x, n, &lo, &hi);
    float range = hi - lo;
    *zp = 128;
    if (!(range > 0.0f) || !isfinite(range)) { /* a zero row; an infinite one cannot be scaled either */
        if (n > 0) memset(u, 128, (size_t)n);
        return range > 0.0f ? range : 1.0f;
    }
    float inv = 255.0f / range;
    *zp = vt_q8_round_u8(-lo * inv, 0, 0);
    im->quantize_u8(u, x, n, inv, *zp, 0);
    return range / 255.0f;
}

float vt_q8_quantize_input(uint8_t *u, int32_t *zp, const float *x, int n, float in_scale) {
    q8_impl im = impl_active();
    return quantize_input(&im, u, zp, x, n, in_scale);
}

/* The calling thread's quantized input (rows of u8, or of x_s and |x_s|), M scales and zero points,
 * grown as needed. */
static _Thread_local int8_t *tls_xq;
static _Thread_local float *tls_sx;
static _Thread_local int32_t *tls_zp;
static _Thread_local size_t tls_xq_size, tls_sx_size;
static void q8_release(void) {
    free(tls_xq), free(tls_sx), free(tls_zp);
    tls_xq = NULL, tls_sx = NULL, tls_zp = NULL, tls_xq_size = tls_sx_size = 0;
}
static int q8_scratch(size_t xq_bytes, size_t m) {
    if (!tls_xq && !tls_sx && !tls_zp) vt_on_thread_exit(q8_release);
    if (xq_bytes > tls_xq_size) {
        free(tls_xq);
        tls_xq_size = 0;
        if (!(tls_xq = aligned_alloc(64, (xq_bytes + 63) / 64 * 64))) return -1;
        tls_xq_size = xq_bytes;
    }
    if (m > tls_sx_size) {
        free(tls_sx), free(tls_zp);
        tls_sx_size = 0;
        tls_sx = malloc(sizeof(float) * m), tls_zp = malloc(sizeof(int32_t) * m);
        if (!tls_sx || !tls_zp) return -1;
        tls_sx_size = m;
    }
    return 0;
}

typedef struct q8_job {
    float *y;
    const float *x, *b;
    const vt_q8_linear_w *w;
    int8_t *xq;
    float *sx;
    int32_t *zp;
    int M, Mp, gelu;
    size_t ldx, ldy; /* x's and y's row strides */
    q8_impl im;
} q8_job;

/* Row-layout weights: each row as x_s = u - 128, then |x_s| (the AVX2 panel's), Kp bytes each. */
static void quantize_task(void *ctx, int tid, int nt) {
    q8_job *j = ctx;
    const vt_q8_linear_w *w = j->w;
    long lo, hi;
    vt_split(j->Mp, tid, nt, &lo, &hi);
    for (long m = lo; m < hi; m++) {
        int8_t *q = j->xq + (size_t)m * 2 * w->Kp, *a = q + w->Kp;
        if (m >= j->M) { /* the padding row of an odd M (its zero point is never read) */
            memset(q, 0, 2 * (size_t)w->Kp);
            continue;
        }
        j->sx[m] = quantize_input(&j->im, (uint8_t *)q, &j->zp[m], j->x + (size_t)m * j->ldx, w->K, w->in_scale);
        for (int k = 0; k < w->K; k++) {
            int v = (uint8_t)q[k] - 128;
            q[k] = (int8_t)v, a[k] = (int8_t)(v < 0 ? -v : v); /* |-128| is 128 as u8 */
        }
        if (w->Kp > w->K) memset(q + w->K, 0, (size_t)(w->Kp - w->K)), memset(a + w->K, 0, (size_t)(w->Kp - w->K));
    }
}

/* Columns in chunks small enough that a chunk's weight rows stay in L2 while every row pair of the
 * input passes over them. */
#define Q8_CHUNK 32

static void gemm_task(void *ctx, int tid, int nt) {
    q8_job *j = ctx;
    const vt_q8_linear_w *w = j->w;
    long chunks = (w->Np + Q8_CHUNK - 1) / Q8_CHUNK, lo, hi;
    vt_split(chunks, tid, nt, &lo, &hi);
    for (long c = lo; c < hi; c++) {
        int n0 = (int)(c * Q8_CHUNK), n1 = n0 + Q8_CHUNK < w->Np ? n0 + Q8_CHUNK : w->Np;
        for (int m = 0; m < j->Mp; m += 2)
            j->im.panel(j->xq + (size_t)m * 2 * w->Kp, 2 * (size_t)w->Kp, w, n0, n1, j->sx + m, j->zp + m, j->b,
                        j->y + (size_t)m * j->ldy, j->ldy, m + 1 < j->M ? 2 : 1);
    }
}

static void gelu_task(void *ctx, int tid, int nt) {
    q8_job *j = ctx;
    long lo, hi;
    vt_split(j->M, tid, nt, &lo, &hi);
    if (hi > lo && j->ldy == (size_t)j->w->N) vt_gelu(j->y + (size_t)lo * j->w->N, (size_t)(hi - lo) * j->w->N);
    else
        for (long m = lo; m < hi; m++) vt_gelu(j->y + (size_t)m * j->ldy, (size_t)j->w->N);
}

/* ---- panel-layout weights (the VNNI kernels): rows of u8, Kp bytes (the padding meets zero weights) */

static void quantize_u8_task(void *ctx, int tid, int nt) {
    q8_job *j = ctx;
    const vt_q8_linear_w *w = j->w;
    long lo, hi;
    vt_split(j->M, tid, nt, &lo, &hi);
    for (long m = lo; m < hi; m++) {
        uint8_t *u = (uint8_t *)j->xq + (size_t)m * w->Kp;
        j->sx[m] = quantize_input(&j->im, u, &j->zp[m], j->x + (size_t)m * j->ldx, w->K, w->in_scale);
        if (w->Kp > w->K) memset(u + w->K, 0, (size_t)(w->Kp - w->K));
    }
}

/* Work items: a column panel x a block of rows, panel-major (a thread's items share panels, whose
 * weights stay in its cache while the rows pass). */
#define Q8_ROWS 192

static void vnni_task(void *ctx, int tid, int nt) {
    q8_job *j = ctx;
    const vt_q8_linear_w *w = j->w;
    vt_q8_vnni_fn f = w->pw == j->im.pw ? j->im.vnni : vnni_ref;
    long blocks = (j->M + Q8_ROWS - 1) / Q8_ROWS, lo, hi;
    vt_split((long)(w->Np / w->pw) * blocks, tid, nt, &lo, &hi);
    for (long it = lo; it < hi; it++) {
        int p = (int)(it / blocks), m0 = (int)(it % blocks) * Q8_ROWS, m1 = m0 + Q8_ROWS < j->M ? m0 + Q8_ROWS : j->M;
        f((const uint8_t *)j->xq, (size_t)w->Kp, w, p, p + 1, m0, m1, j->sx, j->zp, j->b, j->y, j->ldy);
    }
}

static int q8_linear_panels(float *y, size_t ldy, const float *x, size_t ldx, const vt_q8_linear_w *w, const float *b,
                            int M, int epilogue) {
    if (q8_scratch((size_t)M * w->Kp, (size_t)M)) return -1;
    q8_job j = {y, x, b, w, tls_xq, tls_sx, tls_zp, M, M, epilogue == VT_EPILOGUE_GELU, ldx, ldy, impl_active()};
    int nt = vt_usable_threads();
    long items = (long)(w->Np / w->pw) * ((M + Q8_ROWS - 1) / Q8_ROWS);
    if ((long)nt > items) nt = (int)items;
    if ((double)M * w->K * w->N < 2e5) nt = 1;
    vt_parallel_run(quantize_u8_task, &j, nt);
    vt_parallel_run(vnni_task, &j, nt);
    if (j.gelu) vt_parallel_run(gelu_task, &j, nt);
    return 0;
}

int vt_q8_linear_strided(float *y, size_t ldy, const float *x, size_t ldx, const vt_q8_linear_w *w, const float *b, int M,
                         int epilogue) {
    if (M <= 0) return 0;
    if (w->pw) return q8_linear_panels(y, ldy, x, ldx, w, b, M, epilogue);
    int Mp = (M + 1) / 2 * 2;
    if (q8_scratch((size_t)Mp * 2 * w->Kp, (size_t)M)) return -1;
    q8_job j = {y, x, b, w, tls_xq, tls_sx, tls_zp, M, Mp, epilogue == VT_EPILOGUE_GELU, ldx, ldy, impl_active()};
    int nt = vt_usable_threads();
    long chunks = (w->Np + Q8_CHUNK - 1) / Q8_CHUNK;
    if ((long)nt > chunks) nt = (int)chunks;
    if ((double)M * w->K * w->N < 2e5) nt = 1; /* not worth waking the pool */
    vt_parallel_run(quantize_task, &j, nt);
    vt_parallel_run(gemm_task, &j, nt);
    if (j.gelu) vt_parallel_run(gelu_task, &j, nt);
    return 0;
}

int vt_q8_linear(float *y, const float *x, const vt_q8_linear_w *w, const float *b, int M, int epilogue) {
    return vt_q8_linear_strided(y, (size_t)w->N, x, (size_t)w->K, w, b, M, epilogue);
}
