/* Separable antialiased resampling, PIL's algorithm (Resample.c) re-derived:
 * for each output index i the filter is centred at (i + 0.5) * scale in input coordinates,
 * stretched by max(scale, 1), truncated to the input and renormalized. The 8-bit path uses
 * PIL's 22-bit fixed-point weights and rounding so results are bit-identical to
 * Image.resize; the float path keeps full precision like torch's antialiased interpolate. */
#include "image/resample.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VT_PRECISION_BITS (32 - 8 - 2)

static double filter_bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static double filter_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

typedef struct {
    int ksize;      /* weights per output index */
    int *bounds;    /* [2*i]: first input index, [2*i+1]: count */
    double *w;      /* out_size * ksize, normalized */
} vt_coeffs;

static void coeffs_free(vt_coeffs *c) {
    free(c->bounds);
    free(c->w);
    c->bounds = NULL;
    c->w = NULL;
}

static int coeffs_make(int in_size, int out_size, vitc_interp interp, vt_coeffs *c) {
    double (*filter)(double) = interp == VITC_INTERP_BILINEAR ? filter_bilinear : filter_bicubic;
    double base_support = interp == VITC_INTERP_BILINEAR ? 1.0 : 2.0;
    double scale = (double)in_size / (double)out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = base_support * fscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->w = calloc((size_t)out_size * (size_t)c->ksize, sizeof(double));
    if (!c->bounds || !c->w) {
        coeffs_free(c);
        return -1;
    }
    double ss = 1.0 / fscale;
    for (int i = 0; i < out_size; i++) {
        double center = ((double)i + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        int n = xmax - xmin;
        if (n > c->ksize) n = c->ksize;
        if (n < 0) n = 0;
        double *k = c->w + (size_t)i * (size_t)c->ksize;
        double total = 0.0;
        for (int x = 0; x < n; x++) {
            double v = filter(((double)(x + xmin) - center + 0.5) * ss);
            k[x] = v;
            total += v;
        }
        if (total != 0.0)
            for (int x = 0; x < n; x++) k[x] /= total;
        c->bounds[2 * i] = xmin;
        c->bounds[2 * i + 1] = n;
    }
    return 0;
}

/* PIL's fixed-point weights: round half away from zero of w * 2^22. */
static int *coeffs_fixed(const vt_coeffs *c, int out_size) {
    size_t n = (size_t)out_size * (size_t)c->ksize;
    int *k = malloc(sizeof(int) * n);
    if (!k) return NULL;
    for (size_t i = 0; i < n; i++) {
        double v = c->w[i] * (double)(1 << VT_PRECISION_BITS);
        k[i] = v < 0 ? (int)(-0.5 + v) : (int)(0.5 + v);
    }
    return k;
}

static inline uint8_t clip_fixed(int64_t s) {
    if (s < 0) return 0;
    s >>= VT_PRECISION_BITS;
    return (uint8_t)(s > 255 ? 255 : s);
}

static vitc_status check_sizes(int a, int b, int c, int d, int channels) {
    if (a <= 0 || b <= 0 || c <= 0 || d <= 0 || channels <= 0)
        return vt_error(VITC_ERR_ARG, "resample: invalid sizes %dx%d -> %dx%d (%d channels)", a, b, c, d,
                        channels);
    return VITC_OK;
}

vitc_status vt_resample_u8_region(const uint8_t *src, int width, int height, int channels, int out_width,
                                  int out_height, int x0, int y0, int region_w, int region_h, uint8_t *dst,
                                  vitc_interp interp) {
    vitc_status st = check_sizes(width, height, out_width, out_height, channels);
    if (st != VITC_OK) return st;
    if (x0 < 0 || y0 < 0 || region_w <= 0 || region_h <= 0 || x0 + region_w > out_width ||
        y0 + region_h > out_height)
        return vt_error(VITC_ERR_ARG, "resample: region outside the output");
    int need_h = out_width != width, need_v = out_height != height;
    vt_coeffs ch = {0}, cv = {0};
    int *kh = NULL, *kv = NULL;
    uint8_t *tmp = NULL;
    st = VITC_OK;
    if ((need_h && coeffs_make(width, out_width, interp, &ch)) ||
        (need_v && coeffs_make(height, out_height, interp, &cv)) ||
        (need_h && !(kh = coeffs_fixed(&ch, out_width))) || (need_v && !(kv = coeffs_fixed(&cv, out_height)))) {
        st = vt_error(VITC_ERR_NOMEM, "resample: out of memory");
        goto done;
    }
    /* source rows the vertical pass reads */
    int r0 = y0, r1 = y0 + region_h;
    if (need_v) {
        r0 = cv.bounds[2 * y0];
        r1 = 0;
        for (int y = y0; y < y0 + region_h; y++) {
            if (cv.bounds[2 * y] < r0) r0 = cv.bounds[2 * y];
            int e = cv.bounds[2 * y] + cv.bounds[2 * y + 1];
            if (e > r1) r1 = e;
        }
        if (r1 <= r0) r1 = r0 + 1;
    }
    /* horizontal pass: rows r0..r1 of the source, columns x0..x0+region_w of the output */
    size_t tstride = (size_t)region_w * (size_t)channels;
    tmp = malloc(tstride * (size_t)(r1 - r0));
    if (!tmp) {
        st = vt_error(VITC_ERR_NOMEM, "resample: out of memory");
        goto done;
    }
    for (int y = r0; y < r1; y++) {
        const uint8_t *in = src + (size_t)y * (size_t)width * (size_t)channels;
        uint8_t *o = tmp + (size_t)(y - r0) * tstride;
        if (!need_h) {
            memcpy(o, in + (size_t)x0 * (size_t)channels, tstride);
            continue;
        }
        for (int x = 0; x < region_w; x++) {
            int xx = x0 + x, xmin = ch.bounds[2 * xx], n = ch.bounds[2 * xx + 1];
            const int *k = kh + (size_t)xx * (size_t)ch.ksize;
            const uint8_t *p = in + (size_t)xmin * (size_t)channels;
            for (int c = 0; c < channels; c++) {
                int64_t s = 1 << (VT_PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) s += (int64_t)p[(size_t)i * (size_t)channels + (size_t)c] * k[i];
                o[(size_t)x * (size_t)channels + (size_t)c] = clip_fixed(s);
            }
        }
    }
    /* vertical pass */
    for (int y = 0; y < region_h; y++) {
        uint8_t *o = dst + (size_t)y * tstride;
        if (!need_v) {
            memcpy(o, tmp + (size_t)(y0 + y - r0) * tstride, tstride);
            continue;
        }
        int yy = y0 + y, ymin = cv.bounds[2 * yy], n = cv.bounds[2 * yy + 1];
        const int *k = kv + (size_t)yy * (size_t)cv.ksize;
        const uint8_t *base = tmp + (size_t)(ymin - r0) * tstride;
        for (size_t j = 0; j < tstride; j++) {
            int64_t s = 1 << (VT_PRECISION_BITS - 1);
            for (int i = 0; i < n; i++) s += (int64_t)base[(size_t)i * tstride + j] * k[i];
            o[j] = clip_fixed(s);
        }
    }
done:
    coeffs_free(&ch);
    coeffs_free(&cv);
    free(kh);
    free(kv);
    free(tmp);
    return st;
}

vitc_status vt_resample_u8(const uint8_t *src, int width, int height, int channels, uint8_t *dst, int out_width,
                           int out_height, vitc_interp interp) {
    return vt_resample_u8_region(src, width, height, channels, out_width, out_height, 0, 0, out_width,
                                 out_height, dst, interp);
}

vitc_status vt_resample_f32(const float *src, int channels, int height, int width, float *dst, int out_height,
                            int out_width, vitc_interp interp) {
    vitc_status st = check_sizes(width, height, out_width, out_height, channels);
    if (st != VITC_OK) return st;
    vt_coeffs ch = {0}, cv = {0};
    float *tmp = NULL;
    if (coeffs_make(width, out_width, interp, &ch) || coeffs_make(height, out_height, interp, &cv) ||
        !(tmp = malloc(sizeof(float) * (size_t)height * (size_t)out_width))) {
        st = vt_error(VITC_ERR_NOMEM, "resample: out of memory");
        goto done;
    }
    for (int c = 0; c < channels; c++) {
        const float *plane = src + (size_t)c * (size_t)height * (size_t)width;
        float *oplane = dst + (size_t)c * (size_t)out_height * (size_t)out_width;
        /* width first (torch resizes the last dimension first), as PIL does */
        for (int y = 0; y < height; y++) {
            const float *in = plane + (size_t)y * (size_t)width;
            float *o = tmp + (size_t)y * (size_t)out_width;
            if (out_width == width) {
                memcpy(o, in, sizeof(float) * (size_t)width);
                continue;
            }
            for (int x = 0; x < out_width; x++) {
                int xmin = ch.bounds[2 * x], n = ch.bounds[2 * x + 1];
                const double *k = ch.w + (size_t)x * (size_t)ch.ksize;
                double s = 0.0;
                for (int i = 0; i < n; i++) s += (double)in[xmin + i] * k[i];
                o[x] = (float)s;
            }
        }
        for (int y = 0; y < out_height; y++) {
            float *o = oplane + (size_t)y * (size_t)out_width;
            if (out_height == height) {
                memcpy(o, tmp + (size_t)y * (size_t)out_width, sizeof(float) * (size_t)out_width);
                continue;
            }
            int ymin = cv.bounds[2 * y], n = cv.bounds[2 * y + 1];
            const double *k = cv.w + (size_t)y * (size_t)cv.ksize;
            for (int x = 0; x < out_width; x++) {
                double s = 0.0;
                for (int i = 0; i < n; i++) s += (double)tmp[(size_t)(ymin + i) * (size_t)out_width + x] * k[i];
                o[x] = (float)s;
            }
        }
    }
done:
    coeffs_free(&ch);
    coeffs_free(&cv);
    free(tmp);
    return st;
}

/* torch's cubic convolution kernel, A = -0.75 (upsample_bicubic2d) */
static double cubic_near(double x) { return ((1.25 * x - 2.25) * x) * x + 1.0; }            /* |x| <= 1 */
static double cubic_far(double x) { return ((-0.75 * x + 3.75) * x - 6.0) * x + 3.0; }      /* 1 < |x| < 2 */

static int clamp_index(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

vitc_status vt_resample_f32_torch_bicubic(const float *src, int channels, int height, int width, float *dst,
                                         int out_height, int out_width) {
    if (channels <= 0 || height <= 0 || width <= 0 || out_height <= 0 || out_width <= 0)
        return vt_error(VITC_ERR_ARG, "resample: bad sizes");
    double sy = (double)height / out_height, sx = (double)width / out_width;
    for (int y = 0; y < out_height; y++) {
        double fy = sy * (y + 0.5) - 0.5; /* not clamped at 0: torch's cubic source index */
        int y0 = (int)floor(fy);
        double ty = fy - y0, wy[4] = {cubic_far(ty + 1), cubic_near(ty), cubic_near(1 - ty), cubic_far(2 - ty)};
        for (int x = 0; x < out_width; x++) {
            double fx = sx * (x + 0.5) - 0.5;
            int x0 = (int)floor(fx);
            double tx = fx - x0, wx[4] = {cubic_far(tx + 1), cubic_near(tx), cubic_near(1 - tx), cubic_far(2 - tx)};
            for (int c = 0; c < channels; c++) {
                const float *plane = src + (size_t)c * height * width;
                double s = 0.0;
                for (int i = 0; i < 4; i++) {
                    const float *row = plane + (size_t)clamp_index(y0 - 1 + i, height) * width;
                    double r = 0.0;
                    for (int j = 0; j < 4; j++) r += wx[j] * row[clamp_index(x0 - 1 + j, width)];
                    s += wy[i] * r;
                }
                dst[((size_t)c * out_height + y) * out_width + x] = (float)s;
            }
        }
    }
    return VITC_OK;
}
