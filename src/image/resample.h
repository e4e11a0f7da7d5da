/* Separable antialiased resampling with PIL's semantics:
 * for a downscale by s > 1 the filter support is scaled by s (antialias); bicubic uses a = -0.5;
 * pixel centres at (i + 0.5) * s; weights outside the image are dropped and the rest renormalized.
 * This is also what torch.nn.functional.interpolate(..., antialias=True, align_corners=False)
 * computes, so the float version serves position-embedding resampling. */
#ifndef VT_RESAMPLE_H
#define VT_RESAMPLE_H

#include "vitc.h"
#include <stdint.h>

/* 8-bit interleaved images: horizontal pass then vertical, each rounded and clamped to
 * 0..255 as PIL does for 'RGB' images (so results match PIL to within one level). */
vitc_status vt_resample_u8(const uint8_t *src, int width, int height, int channels,
                           uint8_t *dst, int out_width, int out_height, vitc_interp interp);

/* The region [x0, x0 + region_w) x [y0, y0 + region_h) of the out_width x out_height resize of src,
 * written as a region_w x region_h image: equal to resizing everything and cropping, but only the
 * pixels needed are computed. */
vitc_status vt_resample_u8_region(const uint8_t *src, int width, int height, int channels, int out_width,
                                  int out_height, int x0, int y0, int region_w, int region_h, uint8_t *dst,
                                  vitc_interp interp);

/* float planes (channels x height x width, channel-major), no rounding. */
vitc_status vt_resample_f32(const float *src, int channels, int height, int width,
                            float *dst, int out_height, int out_width, vitc_interp interp);

/* torch.nn.functional.interpolate(mode="bicubic", align_corners=False) without antialias, float planes:
 * 4 x 4 taps of the cubic convolution kernel with A = -0.75, source index scale * (i + 0.5) - 0.5,
 * taps outside the image clamped to its edge (HF YOLOS resamples its position embeddings so). */
vitc_status vt_resample_f32_torch_bicubic(const float *src, int channels, int height, int width, float *dst,
                                         int out_height, int out_width);

#endif
