/* Drawing on 8-bit interleaved RGB images (w x h x 3, rows top to bottom): the pictures vitc writes.
 * Attention heat maps, segmentation overlays (class-index masks) and detection boxes with labels
 * share one palette, one heat-map scale and one bitmap font. Every function clips to the image:
 * coordinates outside it are ignored, never an error. */
#ifndef VT_DRAW_H
#define VT_DRAW_H

#include "vitc.h"
#include <stdint.h>

/* ---------------------------------------------------------------- colours */
/* The categorical palette: index 0 is the background (black); 1..20 are a fixed table of
 * well-separated colours; 21..255 come from a golden-ratio walk around the hue circle (bright,
 * saturated, deterministic). Indices outside 0..255 are taken modulo 256. */
void vt_palette_color(int index, uint8_t rgb[3]);
/* The heat-map scale: v in [0, 1] (clamped; NaN as 0) from near black through purple, red and
 * orange to pale yellow, luminance increasing (a perceptual scale in the manner of "inferno"),
 * interpolated linearly between nine control colours. */
void vt_heatmap_color(float v, uint8_t rgb[3]);

/* ---------------------------------------------------------------- blending */
/* Each pixel whose mask value k is neither 0 (background) nor 255 (ignore / void) moves towards
 * vt_palette_color(k): out = (1 - alpha) * pixel + alpha * colour, rounded; alpha is clamped to [0, 1].
 * mask: w x h class indices. */
void vt_draw_blend_mask(uint8_t *rgb, int w, int h, const uint8_t *mask, float alpha);
/* Every pixel moves towards vt_heatmap_color(map[i]) with alpha (map: w x h values in [0, 1]). */
void vt_draw_blend_heatmap(uint8_t *rgb, int w, int h, const float *map, float alpha);

/* ---------------------------------------------------------------- shapes and text */
/* Filled rectangle with corners (x0, y0) and (x1, y1), both inclusive (either order), clipped. */
void vt_draw_fill_rect(uint8_t *rgb, int w, int h, int x0, int y0, int x1, int y1, const uint8_t color[3]);
/* Rectangle outline with corners (x0, y0), (x1, y1) inclusive (either order): a border `thickness`
 * pixels wide (at least 1) drawn inward from the corners, clipped (a detection box). */
void vt_draw_rect(uint8_t *rgb, int w, int h, int x0, int y0, int x1, int y1, const uint8_t color[3], int thickness);

/* The built-in font: 5 x 7 glyphs for ASCII 32..126 in cells of VT_FONT_CELL_W x VT_FONT_CELL_H
 * pixels (one column and one row of spacing), times `scale`. Other bytes draw as '?'. */
#define VT_FONT_CELL_W 6
#define VT_FONT_CELL_H 8
/* Draws text with its top-left corner at (x, y); '\n' starts a new line; scale < 1 is taken as 1. */
void vt_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, const uint8_t color[3], int scale);
/* The size text occupies when drawn at scale (the widest line; every line counts). */
void vt_text_size(const char *text, int scale, int *width, int *height);

/* ---------------------------------------------------------------- legend */
/* A new image: the picture (w x h) with a legend panel on its right, one row per entry: a swatch
 * of vt_palette_color(entries[i]) and names[i] (names NULL, or names[i] NULL: "class <entries[i]>").
 * The panel is white with dark text; the image is as tall as the picture or the legend, whichever
 * is taller (the picture at the top left, the rest white). Text scale 1, or 2 when h >= 256.
 * *out is malloc'ed (out_w x out_h x 3). n_entries 0 gives a copy of the picture. */
vitc_status vt_draw_legend(const uint8_t *rgb, int w, int h, const int *entries, int n_entries,
                           const char *const *names, uint8_t **out, int *out_w, int *out_h);

#endif
