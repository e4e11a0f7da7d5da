/* Training augmentation (vt_dataset_batch): the unaugmented batch is the normalized images; a padded
 * crop is a shift of at most `pad` (zeros shifted in), mirrored for about half the images; random
 * erasing zeroes one rectangle of 2-25 % of the area; random-resized crops (vt_rrc_rect) stay within
 * torchvision's area and aspect ranges and the output is the crop resized bilinearly
 * (align_corners = False), recomputed here from the rectangle; everything depends on (seed, epoch,
 * index) only. */
#include "check.h"
#include "train/data.h"

#include <stdint.h>

enum { H = 24, W = 20, N = 64 };

static uint8_t px[N * H * W];
static int labels[N];

static vt_dataset make_data(void) {
    vt_dataset d;
    memset(&d, 0, sizeof d);
    d.n = N, d.c = 1, d.h = H, d.w = W, d.pixels = px, d.labels = labels, d.num_classes = 2;
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2;
        for (int k = 0; k < H * W; k++) px[i * H * W + k] = (uint8_t)(1 + (i * 37 + k * 13 + (k / W) * 7) % 250);
    }
    return d;
}

static float pix(int i, int y, int x) { return px[(size_t)i * H * W + (size_t)y * W + x] / 255.0f; }

/* the bilinear resample of rectangle (y0, x0, h, w) of image i at output (x, y), written out here */
static float resample(int i, int y0, int x0, int h, int w, int x, int y) {
    double sy = (y + 0.5) * h / H - 0.5, sx = (x + 0.5) * w / W - 0.5;
    sy = sy < 0 ? 0 : sy, sx = sx < 0 ? 0 : sx;
    int a = (int)floor(sy), b = (int)floor(sx);
    if (a > h - 1) a = h - 1;
    if (b > w - 1) b = w - 1;
    int a1 = a + 1 < h ? a + 1 : h - 1, b1 = b + 1 < w ? b + 1 : w - 1;
    double fy = sy - a, fx = sx - b;
    double v00 = pix(i, y0 + a, x0 + b), v01 = pix(i, y0 + a, x0 + b1), v10 = pix(i, y0 + a1, x0 + b),
           v11 = pix(i, y0 + a1, x0 + b1);
    return (float)((1 - fy) * ((1 - fx) * v00 + fx * v01) + fy * ((1 - fx) * v10 + fx * v11));
}

int main(void) {
    vt_dataset d = make_data();
    int idx[N], lb[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    static float img[N * 3 * H * W], img2[N * 3 * H * W];
    const float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.25f, 0.5f, 1.0f};

    /* no augmentation: the normalized image, gray replicated to three channels */
    vt_dataset_batch(&d, idx, N, 3, mean, std, NULL, 7, 0, img, lb);
    float e = 0.0f;
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < H * W; k++)
                e = fmaxf(e, fabsf(img[((size_t)i * 3 + c) * H * W + k] - (pix(i, k / W, k % W) - mean[c]) / std[c]));
    CHECK(e < 1e-6f && lb[5] == 1, "plain batch: normalized copy (err %g)", e);

    /* padded crop + flips: each image a shift by at most pad, mirrored or not; zeros shifted in */
    vt_augment pad = {1, 3, 1, 0.0f, 0.0f};
    vt_dataset_batch(&d, idx, N, 1, mean, std, &pad, 7, 1, img, lb);
    int found = 0, flips = 0;
    for (int i = 0; i < N; i++) {
        int ok = 0;
        for (int f = 0; f < 2 && !ok; f++)
            for (int dy = -3; dy <= 3 && !ok; dy++)
                for (int dx = -3; dx <= 3 && !ok; dx++) {
                    float worst = 0.0f;
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) {
                            int sx = x + dx, sy = y + dy;
                            float v = sx >= 0 && sx < W && sy >= 0 && sy < H ? pix(i, sy, f ? W - 1 - sx : sx) : 0.0f;
                            worst = fmaxf(worst, fabsf(img[(size_t)i * H * W + y * W + x] - (v - mean[0]) / std[0]));
                        }
                    if (worst < 1e-6f) ok = 1, flips += f;
                }
        found += ok;
    }
    CHECK(found == N, "padded crops: %d of %d images are a shift of at most 3 (mirrored or not)", found, N);
    CHECK(flips > N / 5 && flips < 4 * N / 5, "about half mirrored (%d of %d)", flips, N);

    /* the same (seed, epoch, index) gives the same batch, in any batch order; another epoch another */
    int rev[N];
    for (int i = 0; i < N; i++) rev[i] = N - 1 - i;
    vt_dataset_batch(&d, rev, N, 1, mean, std, &pad, 7, 1, img2, lb);
    CHECK(!memcmp(img, img2 + (size_t)(N - 1) * H * W, sizeof(float) * H * W) && lb[0] == labels[N - 1],
          "augmentation depends on (seed, epoch, index), not on the batch");
    vt_dataset_batch(&d, idx, N, 1, mean, std, &pad, 7, 2, img2, lb);
    CHECK(memcmp(img, img2, sizeof(float) * N * H * W) != 0, "another epoch, other crops");

    /* random erasing (p = 1): one rectangle of 2-25 % of the area holds zeros (the normalized mean) */
    vt_augment er = {1, 0, 0, 1.0f, 0.0f};
    vt_dataset_batch(&d, idx, N, 1, mean, std, &er, 3, 0, img, lb);
    int erased_ok = 0;
    for (int i = 0; i < N; i++) {
        int zeros = 0, changed = 0;
        for (int k = 0; k < H * W; k++) {
            float want = (pix(i, k / W, k % W) - mean[0]) / std[0], got = img[(size_t)i * H * W + k];
            if (fabsf(got - want) > 1e-6f) changed++, zeros += got == 0.0f;
        }
        erased_ok += changed == zeros && changed >= 0.02 * H * W - 1 && changed <= 0.25 * H * W + 2 * (H + W);
    }
    CHECK(erased_ok == N, "erasing: %d of %d images have one zeroed rectangle of 2-25 %%", erased_ok, N);

    /* random-resized crop rectangles: within the image, area and aspect in range, area spread out */
    uint64_t s = 12345;
    double mean_area = 0.0;
    int bad = 0, T = 4000;
    for (int t = 0; t < T; t++) {
        int y0, x0, h, w;
        vt_rrc_rect(&s, H, W, 0.08f, &y0, &x0, &h, &w);
        double a = (double)h * w / (H * W), ar = (double)w / h;
        bad += y0 < 0 || x0 < 0 || y0 + h > H || x0 + w > W || a > 1.0 || ar < 0.75 * 0.8 || ar > 4.0 / 3.0 * 1.25;
        bad += a < 0.08 * 0.6;
        mean_area += a / T;
    }
    CHECK(bad == 0, "%d random-resized crops out of range", bad);
    CHECK(mean_area > 0.4 && mean_area < 0.6, "mean crop area %.3f of the image (U(0.08, 1) gives ~0.5)", mean_area);
    int y0, x0, h, w;
    s = 1;
    vt_rrc_rect(&s, 10, 100, 0.9f, &y0, &x0, &h, &w); /* too wide for any try: the centered fallback */
    CHECK(h == 10 && w == 13 && y0 == 0 && x0 == 43, "fallback crop %dx%d at (%d, %d)", h, w, y0, x0);

    /* random-resized crops in a batch: each output is the bilinear resample of its rectangle (drawn
     * from the same stream: the generator state of each image is re-derived here), mirrored or not */
    vt_augment rrc = {1, 3, 1, 0.0f, 0.08f};
    vt_dataset_batch(&d, idx, N, 1, mean, std, &rrc, 9, 4, img, lb);
    int match = 0, same_as_input = 0;
    for (int i = 0; i < N; i++) {
        /* search every rectangle: the one the batch used must match exactly */
        int ok = 0;
        for (int hh = 1; hh <= H && !ok; hh++)
            for (int ww = 1; ww <= W && !ok; ww++) {
                double a = (double)hh * ww / (H * W);
                if (a < 0.05) continue;
                for (int yy = 0; yy + hh <= H && !ok; yy++)
                    for (int xx = 0; xx + ww <= W && !ok; xx++)
                        for (int f = 0; f < 2 && !ok; f++) {
                            float worst = 0.0f;
                            for (int y = 0; y < H && worst < 1e-5f; y++)
                                for (int x = 0; x < W && worst < 1e-5f; x++) {
                                    float v = resample(i, yy, xx, hh, ww, f ? W - 1 - x : x, y);
                                    worst = fmaxf(worst, fabsf(img[(size_t)i * H * W + y * W + x] - (v - mean[0]) / std[0]));
                                }
                            if (worst < 1e-5f) ok = 1, same_as_input += hh == H && ww == W && !f;
                        }
            }
        match += ok;
    }
    CHECK(match == N, "random-resized crops: %d of %d outputs are a bilinear resample of a rectangle", match, N);
    CHECK(same_as_input < N / 4, "most crops change the image (%d unchanged)", same_as_input);
    return check_report("test_augment");
}
