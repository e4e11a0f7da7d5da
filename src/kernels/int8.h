/* int8 inference: a Linear layer's weight quantized symmetrically per output channel, its input
 * quantized per row (dynamic: each token's own scale) or with one calibrated scale (static), the
 * products summed exactly in int32, then dequantized to float (bias and GELU in float).
 *   w_q[n][k] = round(W[n][k] * 127 / max_k |W[n][k]|)            (scale_w[n] = max / 127)
 *   x_q[m][k] = clamp(round(x[m][k] / scale_x[m]), -127, 127)      (dynamic: scale_x[m] = max_k |x| / 127)
 *   y[m][n]   = (float)(sum_k x_q w_q) * (scale_x[m] * scale_w[n]) + b[n]
 * Zero points are 0 on both sides: the AVX2 kernel multiplies |x_q| (u8) by w_q with x_q's sign
 * (vpsignb + vpmaddubsw), whose pair sums stay within int16 only because |x_q|, |w_q| <= 127.
 * The VNNI kernels (AVX-512 VNNI, AVX-VNNI) multiply u8 by s8 in vpdpbusd: they take x_q + 128
 * (1..255) and subtract 128 * sum_k w_q[n][k] afterwards, exactly.
 * Every kernel set gives the same integer sums, so results are bitwise equal across kernel sets
 * and thread counts. */
#ifndef VT_KERNELS_INT8_H
#define VT_KERNELS_INT8_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

/* A quantized Linear weight in the kernels' layout, chosen when it is packed (vt_q8_pack_width):
 * - rows (pw 0; the AVX2 sign-trick, NEON and portable tiles): Np (multiple of 4) rows, zero rows
 *   after N, each padded to Kp (multiple of 32) bytes with zeros;
 * - panels (pw 64 for AVX-512 VNNI, 16 for AVX-VNNI): the columns in panels of pw, Np a multiple
 *   of pw, Kp of 4; in a panel, each group of 4 k is pw columns x 4 bytes (one int32 lane per
 *   column, what vpdpbusd multiplies), zeros beyond N and K. colsum[n] = sum_k w_q[n][k].
 * Every kernel set can run either layout; the fast kernels want their own. */
typedef struct vt_q8_linear_w {
    int8_t *w;        /* Np x Kp bytes in the layout above */
    float *scale;     /* N: per output channel */
    int32_t *colsum;  /* Np, panels only (else NULL) */
    float in_scale;   /* static activation scale (> 0), or 0: dynamic per-row scales */
    int N, K, Np, Kp;
    int pw;           /* 0: rows; else the panel width */
} vt_q8_linear_w;

/* w_q[n][k] of either layout */
static inline int8_t vt_q8_weight_at(const vt_q8_linear_w *w, int n, int k) {
    if (!w->pw) return w->w[(size_t)n * w->Kp + k];
    return w->w[((size_t)(n / w->pw) * w->Kp + (size_t)(k & ~3)) * w->pw + (size_t)(n % w->pw) * 4 + (k & 3)];
}

/* The layout a weight packed now gets: the panel width of the active kernel set's VNNI kernel on
 * this CPU, or 0 (rows). */
int vt_q8_pack_width(void);

/* clamp(round(v), -127, 127), ties to even (what the SIMD conversions do); NaN gives -127 as on x86. */
static inline int8_t vt_q8_round(float v) {
    long r = lrintf(v);
    return (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
}

/* Quantizes one row of n weights (or activations) symmetrically: q = round(x * 127 / max|x|),
 * returns the scale max|x| / 127 (1 for an all-zero row, whose q are 0). */
float vt_q8_quantize_row(int8_t *q, const float *x, int n);

/* Packs a float weight W (N x K) into the kernel layout, quantizing it. NULL when out of memory. */
vt_q8_linear_w *vt_q8_linear_quantize(const float *W, int N, int K);
/* Packs an already quantized weight q (N x K int8, |q| <= 127) with its scales. */
vt_q8_linear_w *vt_q8_linear_from_q(const int8_t *q, const float *scale, int N, int K);
void vt_q8_linear_free(vt_q8_linear_w *w);

/* y[M x N] = x[M x K] . W^T + b (b may be NULL), then VT_EPILOGUE_GELU when asked, with the input
 * quantized as w->in_scale says. Columns are split over the thread pool. Returns 0, -1 out of memory
 * (y untouched). */
int vt_q8_linear(float *y, const float *x, const vt_q8_linear_w *w, const float *b, int M, int epilogue);

/* The integer core, exposed for tests: S[i][j] = sum_k x[i][k] * w[j][k] for a 2 x 4 tile, x rows
 * at x and x + ldx, w rows at w + j * ldw, Kp a multiple of 32. */
typedef void (*vt_q8_tile_fn)(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]);
void vt_q8_tile_ref(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]);
/* The tile kernel for the active kernel set (AVX2 on x86 CPUs that have it, else the portable one). */
vt_q8_tile_fn vt_q8_tile_active(void);

/* A VNNI kernel: y rows [m0, m1) for column panels [p0, p1) of a panel-layout weight, from u8
 * activations a (x_q + 128, rows of lda bytes, Kp of them used), dequantized as
 * (float)sum * (sx[m] * scale[n]) + b[n] (b may be NULL). */
typedef void (*vt_q8_vnni_fn)(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                              const float *sx, const float *b, float *y, size_t ldy);
/* Name of the int8 kernel in use: "avx512-vnni", "avx-vnni", "avx2", "neon-dotprod" or "ref". */
const char *vt_q8_kernel_name(void);

#endif
