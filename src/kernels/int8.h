/* int8 inference: a Linear layer's weight quantized symmetrically per output channel, its input
 * quantized per row to u8 with a zero point (dynamic: each token's own range) or symmetrically with
 * one calibrated scale (static), the products summed exactly in int32, then dequantized to float
 * (bias and GELU in float).
 *   w_q[n][k] = round(W[n][k] * 127 / max_k |W[n][k]|)             (scale_w[n] = max / 127)
 *   dynamic:  lo = min(0, min_k x), hi = max(0, max_k x), scale_x = (hi - lo) / 255,
 *             zp = round(-lo * 255 / (hi - lo)), u = clamp(round(x * 255 / (hi - lo)) + zp, 0, 255)
 *   static:   zp = 128, u = clamp(round(x / in_scale) + 128, 1, 255)   (scale_x = in_scale)
 *   y[m][n]   = (float)(sum_k (u - zp) w_q) * (scale_x[m] * scale_w[n]) + b[n]
 * (x * inv is clamped to [-256, 256] before rounding, so NaN and huge inputs round alike everywhere.)
 * The zero point gives a token whose values are mostly of one sign (after GELU) all 256 levels.
 * Row-layout kernels take x_s = u - 128 (int8, -128..127) and add (128 - zp) * colsum[n]: the AVX2
 * and AVX-512 BW kernels multiply |x_s| (u8, <= 128) by w_q with x_s's sign (vpsignb, or a masked
 * negation, + vpmaddubsw), whose pair
 * sums stay within int16 (2 * 128 * 127 < 32768); NEON SDOT multiplies s8 by s8. The VNNI kernels
 * (AVX-512 VNNI, AVX-VNNI) multiply u8 by s8 in vpdpbusd and subtract zp * colsum[n].
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
 *   column, what vpdpbusd multiplies), zeros beyond N and K.
 * colsum[n] = sum_k w_q[n][k] (0 beyond N), for the zero points' correction.
 * Every kernel set can run either layout; the fast kernels want their own. */
typedef struct vt_q8_linear_w {
    int8_t *w;        /* Np x Kp bytes in the layout above */
    float *scale;     /* N: per output channel */
    int32_t *colsum;  /* Np */
    float in_scale;   /* static activation scale (> 0), or 0: dynamic per-row scales */
    int N, K, Np, Kp;
    int pw;           /* 0: rows; else the panel width */
} vt_q8_linear_w;

/* w_q[n][k] of either layout */
static inline int8_t vt_q8_weight_at(const vt_q8_linear_w *w, int n, int k) {
    if (!w->pw) return w->w[(size_t)n * w->Kp + k];
    return w->w[((size_t)(n / w->pw) * w->Kp + (size_t)(k & ~3)) * w->pw + (size_t)(n % w->pw) * 4 + (k & 3)];
}

/* The layout a weight packed now gets: the panel width of the int8 kernel in use if it is a VNNI
 * one (64, 16), else 0 (rows). */
int vt_q8_pack_width(void);

/* clamp(round(v), -127, 127), ties to even (what the SIMD conversions do); NaN gives -127 as on x86. */
static inline int8_t vt_q8_round(float v) {
    long r = lrintf(v);
    return (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
}

/* One input value: clamp(round(clamp(v, -256, 256)) + zp, lo, 255) (NaN as -256, as the SIMD paths). */
static inline uint8_t vt_q8_round_u8(float v, int zp, int lo) {
    v = v > -256.0f ? (v < 256.0f ? v : 256.0f) : -256.0f;
    long r = lrintf(v) + zp;
    return (uint8_t)(r > 255 ? 255 : r < lo ? lo : r);
}

/* Quantizes one row of n weights symmetrically: q = round(x * 127 / max|x|), returns the scale
 * max|x| / 127 (1 for an all-zero row, whose q are 0). */
float vt_q8_quantize_row(int8_t *q, const float *x, int n);
/* Quantizes one row of a layer's input as the layer does (above): u and *zp; returns scale_x
 * (in_scale > 0: static). An all-zero row gives u = zp = 128 and scale 1. */
float vt_q8_quantize_input(uint8_t *u, int32_t *zp, const float *x, int n, float in_scale);

/* Packs a float weight W (N x K) into the kernel layout, quantizing it. NULL when out of memory. */
vt_q8_linear_w *vt_q8_linear_quantize(const float *W, int N, int K);
/* Packs an already quantized weight q (N x K int8, |q| <= 127) with its scales. */
vt_q8_linear_w *vt_q8_linear_from_q(const int8_t *q, const float *scale, int N, int K);
void vt_q8_linear_free(vt_q8_linear_w *w);
/* Quantizes W (N rows of K floats, ldw apart) into *pw, reusing its storage when the shape and
 * layout match (else freeing it and allocating anew; *pw may be NULL). Dynamic inputs. 0, or -1
 * out of memory. For operands made at run time (attention's K and V). */
int vt_q8_requantize(vt_q8_linear_w **pw, const float *W, size_t ldw, int N, int K);

/* y[M x N] = x[M x K] . W^T + b (b may be NULL), then VT_EPILOGUE_GELU when asked, with the input
 * quantized as w->in_scale says. Columns are split over the thread pool. Returns 0, -1 out of memory
 * (y untouched). */
int vt_q8_linear(float *y, const float *x, const vt_q8_linear_w *w, const float *b, int M, int epilogue);
/* The same with rows of x ldx floats apart and rows of y ldy apart. */
int vt_q8_linear_strided(float *y, size_t ldy, const float *x, size_t ldx, const vt_q8_linear_w *w, const float *b, int M,
                         int epilogue);

/* The integer core, exposed for tests: S[i][j] = sum_k x[i][k] * w[j][k] for a 2 x 4 tile, x rows
 * at x and x + ldx, w rows at w + j * ldw, Kp a multiple of 32. */
typedef void (*vt_q8_tile_fn)(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]);
void vt_q8_tile_ref(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]);
/* The row-layout tile of the int8 kernel in use (AVX2, AVX-512 BW, NEON dotprod or portable). */
vt_q8_tile_fn vt_q8_tile_active(void);

/* A VNNI kernel: y rows [m0, m1) for column panels [p0, p1) of a panel-layout weight, from u8
 * activations a (rows of lda bytes, Kp of them used; the padding meets zero weights) with zero
 * points zp, dequantized as (float)(sum u w - zp[m] colsum[n]) * (sx[m] * scale[n]) + b[n] (b may
 * be NULL). */
typedef void (*vt_q8_vnni_fn)(const uint8_t *a, size_t lda, const vt_q8_linear_w *w, int p0, int p1, int m0, int m1,
                              const float *sx, const int32_t *zp, const float *b, float *y, size_t ldy);
/* Name of the int8 kernel in use: "avx512-vnni", "avx-vnni", "avx512bw", "avx2", "neon-dotprod" or
 * "ref". By default the best one within the active kernel set's ISA; VITC_INT8=NAME (read once) or
 * vt_q8_select(NAME) chooses another the CPU has ("auto" or NULL: back to the default). Returns
 * -1 (nothing changed) for an unknown name or one this CPU cannot run. Weights keep the layout they
 * were packed in: any kernel runs any layout (portably when it lacks that layout's kernel). */
const char *vt_q8_kernel_name(void);
int vt_q8_select(const char *name);

#endif
