/* Drawing on 8-bit RGB images: palette, heat-map scale, blending, rectangles, a 5x7 bitmap font and
 * legends. See draw.h. */
#include "image/draw.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- colours */
static const uint8_t palette_table[21][3] = {
    {0, 0, 0},       /* 0: background */
    {220, 40, 40},   /* red */
    {40, 170, 60},   /* green */
    {40, 90, 220},   /* blue */
    {240, 200, 30},  /* yellow */
    {160, 50, 200},  /* purple */
    {30, 190, 200},  /* cyan */
    {250, 120, 20},  /* orange */
    {230, 70, 170},  /* magenta */
    {140, 220, 60},  /* lime */
    {120, 70, 30},   /* brown */
    {0, 110, 110},   /* teal */
    {190, 160, 240}, /* lavender */
    {110, 0, 40},    /* wine */
    {250, 180, 160}, /* salmon */
    {110, 130, 0},   /* olive */
    {150, 230, 210}, /* mint */
    {20, 30, 110},   /* navy */
    {200, 200, 200}, /* light gray */
    {255, 240, 170}, /* cream */
    {100, 100, 100}, /* mid gray */
};

static uint8_t to_u8(double x) {
    if (!(x > 0.0)) return 0;
    if (x >= 255.0) return 255;
    return (uint8_t)(x + 0.5);
}

static void hsv_to_rgb(double hue, double s, double v, uint8_t rgb[3]) {
    double h6 = hue * 6.0;
    int i = (int)floor(h6);
    double f = h6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (((i % 6) + 6) % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = to_u8(r * 255.0);
    rgb[1] = to_u8(g * 255.0);
    rgb[2] = to_u8(b * 255.0);
}

void vt_palette_color(int index, uint8_t rgb[3]) {
    int k = ((index % 256) + 256) % 256;
    if (k <= 20) {
        memcpy(rgb, palette_table[k], 3);
        return;
    }
    /* golden-ratio hue steps spread consecutive indices far apart; saturation and value cycle
     * through a few levels with periods prime to each other */
    double hue = fmod(k * 0.6180339887498949, 1.0);
    double s = 0.55 + 0.15 * (k % 4), v = 0.70 + 0.10 * (k % 3);
    if (s > 1.0) s = 1.0;
    hsv_to_rgb(hue, s, v, rgb);
}

/* Nine control colours, v = 0, 1/8, ..., 1: near black, deep purple, magenta-red, orange, pale
 * yellow; luminance rises at every step. */
static const uint8_t heat_table[9][3] = {
    {0, 0, 4},      {28, 12, 68},   {86, 16, 110},  {138, 34, 106}, {188, 55, 84},
    {228, 90, 50},  {248, 140, 12}, {246, 200, 50}, {252, 254, 164},
};

void vt_heatmap_color(float v, uint8_t rgb[3]) {
    double x = v > 0.0f ? (v < 1.0f ? (double)v : 1.0) : 0.0; /* NaN -> 0 */
    double pos = x * 8.0;
    int i = (int)pos;
    if (i >= 8) i = 7;
    double f = pos - i;
    for (int c = 0; c < 3; c++) rgb[c] = to_u8(heat_table[i][c] + f * (heat_table[i + 1][c] - heat_table[i][c]));
}

/* ---------------------------------------------------------------- blending */
static float clamp_alpha(float a) { return a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f; }

static void blend_px(uint8_t *px, const uint8_t c[3], float a) {
    for (int k = 0; k < 3; k++) px[k] = to_u8((1.0f - a) * px[k] + a * c[k]);
}

void vt_draw_blend_mask(uint8_t *rgb, int w, int h, const uint8_t *mask, float alpha) {
    if (!rgb || !mask || w <= 0 || h <= 0) return;
    float a = clamp_alpha(alpha);
    uint8_t pal[256][3];
    for (int k = 0; k < 256; k++) vt_palette_color(k, pal[k]);
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (mask[i] != 0 && mask[i] != 255) blend_px(rgb + 3 * i, pal[mask[i]], a);
}

void vt_draw_blend_heatmap(uint8_t *rgb, int w, int h, const float *map, float alpha) {
    if (!rgb || !map || w <= 0 || h <= 0) return;
    float a = clamp_alpha(alpha);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint8_t c[3];
        vt_heatmap_color(map[i], c);
        blend_px(rgb + 3 * i, c, a);
    }
}

/* ---------------------------------------------------------------- shapes */
void vt_draw_fill_rect(uint8_t *rgb, int w, int h, int x0, int y0, int x1, int y1, const uint8_t color[3]) {
    if (!rgb || w <= 0 || h <= 0) return;
    if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
    if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) memcpy(rgb + ((size_t)y * w + x) * 3, color, 3);
}

void vt_draw_rect(uint8_t *rgb, int w, int h, int x0, int y0, int x1, int y1, const uint8_t color[3], int thickness) {
    if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
    if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
    int t = thickness < 1 ? 1 : thickness;
    if (2 * t > x1 - x0 + 1 || 2 * t > y1 - y0 + 1) { /* all border */
        vt_draw_fill_rect(rgb, w, h, x0, y0, x1, y1, color);
        return;
    }
    vt_draw_fill_rect(rgb, w, h, x0, y0, x1, y0 + t - 1, color);         /* top */
    vt_draw_fill_rect(rgb, w, h, x0, y1 - t + 1, x1, y1, color);         /* bottom */
    vt_draw_fill_rect(rgb, w, h, x0, y0 + t, x0 + t - 1, y1 - t, color); /* left */
    vt_draw_fill_rect(rgb, w, h, x1 - t + 1, y0 + t, x1, y1 - t, color); /* right */
}

/* ---------------------------------------------------------------- font */
/* ASCII 32..126, 7 rows each, bit 4 the leftmost of the 5 columns. */
static const uint8_t font5x7[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* ! */
    {0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}, /* # */
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x08, 0x14, 0x14, 0x08, 0x15, 0x12, 0x0D}, /* & */
    {0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* quote */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x04, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04}, /* . */
    {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10}, /* / */
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, /* 9 */
    {0x00, 0x00, 0x04, 0x00, 0x00, 0x04, 0x00}, /* : */
    {0x00, 0x00, 0x04, 0x00, 0x04, 0x04, 0x08}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* < */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* > */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E}, /* @ */
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}, /* [ */
    {0x10, 0x10, 0x08, 0x04, 0x02, 0x01, 0x01}, /* backslash */
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}, /* ] */
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, /* _ */
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}, /* b */
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}, /* c */
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}, /* d */
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}, /* e */
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}, /* f */
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* h */
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* k */
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* l */
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* n */
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}, /* o */
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* r */
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}, /* s */
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}, /* w */
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* y */
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* ~ */
};

static const uint8_t *glyph(unsigned char ch) {
    return font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
}

void vt_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, const uint8_t color[3], int scale) {
    if (!rgb || !text || w <= 0 || h <= 0) return;
    int s = scale < 1 ? 1 : scale, cx = x, cy = y;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') {
            cx = x;
            cy += VT_FONT_CELL_H * s;
            continue;
        }
        const uint8_t *g = glyph(*p);
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 5; c++)
                if (g[r] & (0x10 >> c))
                    vt_draw_fill_rect(rgb, w, h, cx + c * s, cy + r * s, cx + c * s + s - 1, cy + r * s + s - 1, color);
        cx += VT_FONT_CELL_W * s;
    }
}

void vt_text_size(const char *text, int scale, int *width, int *height) {
    int s = scale < 1 ? 1 : scale, lines = 1, col = 0, widest = 0;
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '\n') {
            lines++;
            col = 0;
            continue;
        }
        if (++col > widest) widest = col;
    }
    if (width) *width = widest * VT_FONT_CELL_W * s;
    if (height) *height = lines * VT_FONT_CELL_H * s;
}

/* ---------------------------------------------------------------- legend */
vitc_status vt_draw_legend(const uint8_t *rgb, int w, int h, const int *entries, int n_entries,
                           const char *const *names, uint8_t **out, int *out_w, int *out_h) {
    *out = NULL;
    *out_w = *out_h = 0;
    if (!rgb || w <= 0 || h <= 0 || n_entries < 0 || (n_entries && !entries))
        return vt_error(VITC_ERR_ARG, "legend: bad arguments (%dx%d picture, %d entries)", w, h, n_entries);
    if (n_entries > 4096) return vt_error(VITC_ERR_LIMIT, "legend: %d entries (at most 4096)", n_entries);
    int s = h >= 256 ? 2 : 1, pad = 4 * s, sw = VT_FONT_CELL_H * s, row = (VT_FONT_CELL_H + 4) * s, text_w = 0;
    char buf[32];
    for (int i = 0; i < n_entries; i++) {
        const char *nm = names && names[i] ? names[i] : NULL;
        if (!nm) {
            snprintf(buf, sizeof buf, "class %d", entries[i]);
            nm = buf;
        }
        int tw;
        vt_text_size(nm, s, &tw, NULL);
        if (strchr(nm, '\n')) return vt_error(VITC_ERR_ARG, "legend: a name has a line break");
        if (tw > text_w) text_w = tw;
    }
    int panel_w = n_entries ? pad + sw + pad + text_w + pad : 0;
    int panel_h = n_entries ? 2 * pad + n_entries * row : 0;
    int64_t W = (int64_t)w + panel_w, H = h > panel_h ? h : panel_h;
    if (W > 65536 || H > 65536) return vt_error(VITC_ERR_LIMIT, "legend: the image would be %lldx%lld", (long long)W, (long long)H);
    uint8_t *o = malloc((size_t)W * H * 3);
    if (!o) return vt_error(VITC_ERR_NOMEM, "legend: out of memory");
    memset(o, 255, (size_t)W * H * 3);
    for (int y = 0; y < h; y++) memcpy(o + (size_t)y * W * 3, rgb + (size_t)y * w * 3, (size_t)w * 3);
    const uint8_t ink[3] = {24, 24, 24};
    for (int i = 0; i < n_entries; i++) {
        const char *nm = names && names[i] ? names[i] : NULL;
        if (!nm) {
            snprintf(buf, sizeof buf, "class %d", entries[i]);
            nm = buf;
        }
        int x = w + pad, y = pad + i * row;
        uint8_t c[3];
        vt_palette_color(entries[i], c);
        vt_draw_fill_rect(o, (int)W, (int)H, x, y, x + sw - 1, y + sw - 1, c);
        vt_draw_rect(o, (int)W, (int)H, x, y, x + sw - 1, y + sw - 1, ink, 1);
        vt_draw_text(o, (int)W, (int)H, x + sw + pad, y + s / 2, nm, ink, s);
    }
    *out = o;
    *out_w = (int)W;
    *out_h = (int)H;
    return VITC_OK;
}
