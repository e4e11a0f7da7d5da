/* The drawing module: palette distinctness, heat-map scale, blend arithmetic, clipping, text
 * bounds, legend layout. */
#include "check.h"
#include "image/draw.h"

#include <stdint.h>

static int dist2(const uint8_t a[3], const uint8_t b[3]) {
    int d = 0;
    for (int k = 0; k < 3; k++) d += (a[k] - b[k]) * (a[k] - b[k]);
    return d;
}

static double luma(const uint8_t c[3]) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; }

static void test_palette(void) {
    uint8_t pal[256][3];
    for (int k = 0; k < 256; k++) vt_palette_color(k, pal[k]);
    CHECK(pal[0][0] < 64 && pal[0][0] == pal[0][1] && pal[0][1] == pal[0][2], "background is dark gray or black");
    int min_table = 1 << 30, same = 0, dark = 0;
    for (int a = 1; a <= 20; a++)
        for (int b = a + 1; b <= 20; b++)
            if (dist2(pal[a], pal[b]) < min_table) min_table = dist2(pal[a], pal[b]);
    for (int a = 0; a < 256; a++)
        for (int b = a + 1; b < 256; b++) same += !memcmp(pal[a], pal[b], 3);
    for (int a = 1; a < 256; a++) dark += dist2(pal[a], pal[0]) < 60 * 60;
    CHECK(min_table >= 50 * 50, "the fixed colours 1..20 are at least 50 apart (closest %.1f)", sqrt(min_table));
    CHECK(same == 0, "%d pairs of palette entries are identical", same);
    CHECK(dark == 0, "%d colours are within 60 of the background", dark);
    uint8_t c[3];
    vt_palette_color(256 + 5, c);
    CHECK(!memcmp(c, pal[5], 3), "indices wrap modulo 256");
    vt_palette_color(-1, c);
    CHECK(!memcmp(c, pal[255], 3), "negative indices wrap");
}

static void test_heatmap(void) {
    uint8_t prev[3], c[3];
    vt_heatmap_color(0.0f, prev);
    int rising = 1;
    for (int i = 1; i <= 256; i++) {
        vt_heatmap_color(i / 256.0f, c);
        if (!(luma(c) >= luma(prev))) rising = 0;
        memcpy(prev, c, 3);
    }
    CHECK(rising, "heat-map luminance rises with v");
    uint8_t lo[3], hi[3], nan[3], under[3], over[3];
    vt_heatmap_color(0.0f, lo);
    vt_heatmap_color(1.0f, hi);
    vt_heatmap_color(NAN, nan);
    vt_heatmap_color(-3.0f, under);
    vt_heatmap_color(7.0f, over);
    CHECK(luma(lo) < 10 && luma(hi) > 200, "scale from near black (%g) to bright (%g)", luma(lo), luma(hi));
    CHECK(!memcmp(nan, lo, 3) && !memcmp(under, lo, 3) && !memcmp(over, hi, 3), "clamping and NaN");
}

static void test_blend(void) {
    enum { W = 4, H = 2 };
    uint8_t img[W * H * 3], mask[W * H] = {0, 1, 2, 255, 3, 0, 1, 255};
    memset(img, 100, sizeof img);
    vt_draw_blend_mask(img, W, H, mask, 0.5f);
    uint8_t p1[3], p2[3];
    vt_palette_color(1, p1);
    vt_palette_color(2, p2);
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        ok &= img[0 * 3 + k] == 100 && img[3 * 3 + k] == 100 && img[5 * 3 + k] == 100 && img[7 * 3 + k] == 100;
        ok &= img[1 * 3 + k] == (uint8_t)((100 + p1[k]) / 2.0 + 0.5) && img[2 * 3 + k] == (uint8_t)((100 + p2[k]) / 2.0 + 0.5);
        ok &= img[6 * 3 + k] == img[1 * 3 + k];
    }
    CHECK(ok, "mask blend: (pixel + colour) / 2 for classes 1..254, 0 and 255 untouched");
    memset(img, 200, sizeof img);
    vt_draw_blend_mask(img, W, H, mask, 0.0f);
    int untouched = 1;
    for (size_t i = 0; i < sizeof img; i++) untouched &= img[i] == 200;
    CHECK(untouched, "alpha 0 leaves the picture");
    vt_draw_blend_mask(img, W, H, mask, 3.0f);
    CHECK(!memcmp(img + 3, p1, 3), "alpha clamped to 1 gives the colour");
    float map[W * H] = {0, 0.25f, 0.5f, 1, 1, 0.5f, 0.25f, 0};
    memset(img, 40, sizeof img);
    vt_draw_blend_heatmap(img, W, H, map, 0.25f);
    ok = 1;
    for (int i = 0; i < W * H; i++) {
        uint8_t c[3];
        vt_heatmap_color(map[i], c);
        for (int k = 0; k < 3; k++) ok &= abs(img[i * 3 + k] - (int)(0.75 * 40 + 0.25 * c[k] + 0.5)) <= 1;
    }
    CHECK(ok, "heat-map blend: 0.75 pixel + 0.25 colour");
}

static int count_color(const uint8_t *img, int w, int h, const uint8_t c[3]) {
    int n = 0;
    for (int i = 0; i < w * h; i++) n += !memcmp(img + 3 * i, c, 3);
    return n;
}

static void test_rect_text(void) {
    enum { W = 20, H = 10 };
    uint8_t img[W * H * 3];
    const uint8_t red[3] = {255, 0, 0};
    memset(img, 0, sizeof img);
    vt_draw_rect(img, W, H, 2, 2, 7, 6, red, 1); /* 6 x 5 outline: 2*6 + 2*3 pixels */
    CHECK(count_color(img, W, H, red) == 18, "outline pixel count %d", count_color(img, W, H, red));
    CHECK(img[(4 * W + 4) * 3] == 0, "outline leaves the inside");
    memset(img, 0, sizeof img);
    vt_draw_rect(img, W, H, 7, 6, 2, 2, red, 2); /* swapped corners, thickness 2: 30 - 2*1 inside */
    CHECK(count_color(img, W, H, red) == 28, "thick outline pixel count %d", count_color(img, W, H, red));
    memset(img, 0, sizeof img);
    vt_draw_rect(img, W, H, -5, -5, 100, 100, red, 1); /* clipped: nothing of it inside the picture */
    CHECK(count_color(img, W, H, red) == 0, "an outline around the picture draws nothing");
    vt_draw_rect(img, W, H, -5, 3, 100, 100, red, 1); /* top edge inside */
    CHECK(count_color(img, W, H, red) == W, "a clipped box draws its visible edge (%d)", count_color(img, W, H, red));
    memset(img, 0, sizeof img);
    vt_draw_fill_rect(img, W, H, 15, 5, 40, 40, red);
    CHECK(count_color(img, W, H, red) == 5 * 5, "filled rect clipped");

    int tw, th;
    vt_text_size("Hi there", 1, &tw, &th);
    CHECK(tw == 8 * VT_FONT_CELL_W && th == VT_FONT_CELL_H, "text size %dx%d", tw, th);
    vt_text_size("ab\nlonger", 2, &tw, &th);
    CHECK(tw == 6 * VT_FONT_CELL_W * 2 && th == 2 * VT_FONT_CELL_H * 2, "two-line text size %dx%d", tw, th);
    enum { TW = 64, TH = 24 };
    uint8_t t[TW * TH * 3];
    memset(t, 0, sizeof t);
    const uint8_t white[3] = {255, 255, 255};
    vt_draw_text(t, TW, TH, 3, 4, "Ag9", white, 2);
    int inside = 0, outside = 0;
    for (int y = 0; y < TH; y++)
        for (int x = 0; x < TW; x++)
            if (t[(y * TW + x) * 3]) {
                if (x >= 3 && x < 3 + 3 * VT_FONT_CELL_W * 2 && y >= 4 && y < 4 + VT_FONT_CELL_H * 2) inside++;
                else outside++;
            }
    CHECK(inside > 30 && outside == 0, "text renders inside its box (%d in, %d out)", inside, outside);
    memset(t, 0, sizeof t);
    vt_draw_text(t, TW, TH, 60, 20, "WWW", white, 3); /* runs off the picture: clipped, no crash */
    vt_draw_text(t, TW, TH, -100, -100, "\x01\xff", white, 1);
    CHECK(count_color(t, TW, TH, white) > 0, "clipped text draws its visible part");
    /* every printable glyph but space draws something; distinct glyphs differ */
    int blank = 0;
    for (int ch = 33; ch < 127; ch++) {
        uint8_t g[8 * 8 * 3] = {0};
        char s[2] = {(char)ch, 0};
        vt_draw_text(g, 8, 8, 0, 0, s, white, 1);
        blank += count_color(g, 8, 8, white) == 0;
    }
    CHECK(blank == 0, "%d glyphs are blank", blank);
}

static void test_legend(void) {
    enum { W = 30, H = 20 };
    uint8_t img[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) img[i] = (uint8_t)i;
    int entries[3] = {1, 4, 17};
    const char *names[3] = {"cat", NULL, "a longer name"};
    uint8_t *o;
    int ow, oh;
    CHECK(vt_draw_legend(img, W, H, entries, 3, names, &o, &ow, &oh) == VITC_OK, "legend: %s", vitc_last_error());
    int tw;
    vt_text_size("a longer name", 1, &tw, NULL);
    CHECK(ow == W + 4 + VT_FONT_CELL_H + 4 + tw + 4, "legend width %d", ow);
    CHECK(oh == 2 * 4 + 3 * (VT_FONT_CELL_H + 4) && oh > H, "legend height %d", oh);
    int same = 1;
    for (int y = 0; y < H; y++) same &= !memcmp(o + (size_t)y * ow * 3, img + (size_t)y * W * 3, W * 3);
    CHECK(same, "the picture sits at the top left");
    for (int i = 0; i < 3; i++) {
        uint8_t c[3];
        vt_palette_color(entries[i], c);
        int x = W + 4 + VT_FONT_CELL_H / 2, y = 4 + i * (VT_FONT_CELL_H + 4) + VT_FONT_CELL_H / 2;
        CHECK(!memcmp(o + ((size_t)y * ow + x) * 3, c, 3), "swatch %d has palette colour %d", i, entries[i]);
    }
    free(o);
    /* a tall picture: the legend at scale 2, the height the picture's */
    enum { BW = 40, BH = 300 };
    uint8_t *big = calloc(BW * BH * 3, 1);
    CHECK(vt_draw_legend(big, BW, BH, entries, 2, NULL, &o, &ow, &oh) == VITC_OK && oh == BH, "tall legend %dx%d", ow, oh);
    vt_text_size("class 17", 2, &tw, NULL);
    int tw4;
    vt_text_size("class 4", 2, &tw4, NULL);
    CHECK(ow == BW + 8 + 2 * VT_FONT_CELL_H + 8 + tw4 + 8, "tall legend width %d (class names by default)", ow);
    free(o);
    CHECK(vt_draw_legend(big, BW, BH, entries, 0, NULL, &o, &ow, &oh) == VITC_OK && ow == BW && oh == BH &&
              !memcmp(o, big, BW * BH * 3),
          "no entries: a copy");
    free(o);
    free(big);
    CHECK(vt_draw_legend(img, 0, H, entries, 1, NULL, &o, &ow, &oh) == VITC_ERR_ARG && o == NULL, "empty picture refused");
}

int main(void) {
    test_palette();
    test_heatmap();
    test_blend();
    test_rect_text();
    test_legend();
    return check_report("test_draw");
}
