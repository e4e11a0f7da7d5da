/* Image module tests: decoding vs PIL, resizing vs PIL, preprocessing vs torchvision,
 * float resampling vs torch, .npy I/O, and error handling on broken input. */
#include "check.h"
#include "core/error.h"
#include "core/npy.h"
#include "image/image.h"
#include "image/resample.h"
#include "vitc.h"

#include <stdint.h>
#include <unistd.h>

static char tmpdir[256];

static const char *fx(const char *rel) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixture_dir(), rel);
    return buf[k];
}

static uint8_t *slurp(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)n + 1);
    if (d && fread(d, 1, (size_t)n, fp) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(fp);
    *size = (size_t)n;
    return d;
}

static void spit(const char *path, const void *d, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    if (n) fwrite(d, 1, n, fp);
    fclose(fp);
}

/* ------------------------------------------------------------ fixtures from the manifest */
static int n_decode, n_pre, n_resize, n_resample;

static void test_decode(const char *image, const char *npy) {
    vitc_image *img = NULL;
    vt_npy ref;
    vitc_status st = vitc_image_load(fx(image), &img);
    CHECK(st == VITC_OK, "%s: %s", image, vitc_last_error());
    vitc_status sr = vt_npy_read(fx(npy), &ref);
    CHECK(sr == VITC_OK, "%s: %s", npy, vitc_last_error());
    if (st == VITC_OK && sr == VITC_OK) {
        int w = vitc_image_width(img), h = vitc_image_height(img);
        CHECK(ref.ndim == 3 && ref.shape[0] == h && ref.shape[1] == w && ref.shape[2] == 3,
              "%s: size %dx%d differs from PIL's", image, w, h);
        if (ref.count == (size_t)w * (size_t)h * 3) {
            const uint8_t *px = vitc_image_pixels(img);
            size_t diff = 0;
            int maxd = 0;
            for (size_t i = 0; i < ref.count; i++) {
                int d = abs((int)px[i] - (int)ref.data[i]);
                if (d) diff++;
                if (d > maxd) maxd = d;
            }
            printf("  decode %-28s %4dx%-4d max diff %d, %zu of %zu values differ\n", image, w, h, maxd, diff,
                   ref.count);
            /* PIL uses the same libjpeg-turbo here, so JPEG must be exact too */
            CHECK(maxd == 0, "%s: decoded pixels differ from PIL (max %d)", image, maxd);
        }
    }
    vitc_image_free(img);
    if (sr == VITC_OK) vt_npy_free(&ref);
    n_decode++;
}

static void test_preprocess(char **tok) {
    const char *image = tok[1], *npy = tok[8];
    vitc_preprocess_params p = vitc_preprocess_default_params();
    p.size = atoi(tok[2]);
    p.crop_pct = strtof(tok[3], NULL);
    p.interp = !strcmp(tok[4], "bilinear") ? VITC_INTERP_BILINEAR : VITC_INTERP_BICUBIC;
    p.squash = atoi(tok[5]);
    sscanf(tok[6], "%f,%f,%f", &p.mean[0], &p.mean[1], &p.mean[2]);
    sscanf(tok[7], "%f,%f,%f", &p.std[0], &p.std[1], &p.std[2]);
    vitc_image *img = NULL;
    vt_npy ref;
    vitc_status st = vitc_image_load(fx(image), &img);
    CHECK(st == VITC_OK, "%s: %s", image, vitc_last_error());
    vitc_status sr = vt_npy_read(fx(npy), &ref);
    CHECK(sr == VITC_OK, "%s: %s", npy, vitc_last_error());
    size_t n = (size_t)3 * (size_t)p.size * (size_t)p.size;
    if (st == VITC_OK && sr == VITC_OK && ref.count == n) {
        float *x = malloc(n * sizeof(float));
        st = vitc_preprocess(img, &p, x);
        CHECK(st == VITC_OK, "%s: %s", image, vitc_last_error());
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += fabs((double)x[i] - (double)ref.data[i]);
        float mx = max_abs_diff(x, ref.data, n);
        const char *tag = strchr(npy, '.') ? strrchr(npy, '/') + 1 : npy;
        printf("  preprocess %-44s max abs diff %.6f mean %.7f\n", tag, (double)mx, sum / (double)n);
        CHECK(mx <= 0.02f, "%s: max abs diff %g > 0.02", npy, (double)mx);
        CHECK(sum / (double)n <= 0.002, "%s: mean abs diff %g > 0.002", npy, sum / (double)n);
        free(x);
    } else if (sr == VITC_OK) {
        CHECK(ref.count == n, "%s: reference has %zu values, expected %zu", npy, ref.count, n);
    }
    vitc_image_free(img);
    if (sr == VITC_OK) vt_npy_free(&ref);
    n_pre++;
}

static void test_resize(char **tok) {
    const char *image = tok[1], *npy = tok[5];
    int ow = atoi(tok[2]), oh = atoi(tok[3]);
    vitc_interp interp = !strcmp(tok[4], "bilinear") ? VITC_INTERP_BILINEAR : VITC_INTERP_BICUBIC;
    vitc_image *img = NULL;
    vt_npy ref;
    vitc_status st = vitc_image_load(fx(image), &img);
    vitc_status sr = vt_npy_read(fx(npy), &ref);
    CHECK(st == VITC_OK && sr == VITC_OK, "%s / %s: %s", image, npy, vitc_last_error());
    if (st == VITC_OK && sr == VITC_OK) {
        size_t n = (size_t)ow * (size_t)oh * 3;
        uint8_t *o = malloc(n);
        st = vt_resample_u8(img->rgb, img->width, img->height, 3, o, ow, oh, interp);
        CHECK(st == VITC_OK && ref.count == n, "%s: resize failed", npy);
        if (st == VITC_OK && ref.count == n) {
            int maxd = 0;
            size_t diff = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs((int)o[i] - (int)ref.data[i]);
                diff += d != 0;
                if (d > maxd) maxd = d;
            }
            printf("  resize %dx%d -> %dx%d %-8s max diff %d, %zu values differ\n", img->width, img->height, ow, oh,
                   tok[4], maxd, diff);
            CHECK(maxd == 0, "%s: PIL resize mismatch, max %d", npy, maxd);
        }
        free(o);
    }
    vitc_image_free(img);
    if (sr == VITC_OK) vt_npy_free(&ref);
    n_resize++;
}

static void test_resample(char **tok) {
    vitc_interp interp = !strcmp(tok[1], "bilinear") ? VITC_INTERP_BILINEAR : VITC_INTERP_BICUBIC;
    int c = atoi(tok[2]), h = atoi(tok[3]), w = atoi(tok[4]), oh = atoi(tok[5]), ow = atoi(tok[6]);
    vt_npy in, ref;
    vitc_status a = vt_npy_read(fx(tok[7]), &in), b = vt_npy_read(fx(tok[8]), &ref);
    CHECK(a == VITC_OK && b == VITC_OK, "%s: %s", tok[7], vitc_last_error());
    if (a == VITC_OK && b == VITC_OK) {
        size_t n = (size_t)c * (size_t)oh * (size_t)ow;
        float *o = malloc(n * sizeof(float));
        vitc_status st = vt_resample_f32(in.data, c, h, w, o, oh, ow, interp);
        CHECK(st == VITC_OK && ref.count == n, "%s: resample failed", tok[8]);
        if (st == VITC_OK && ref.count == n) {
            float mx = max_abs_diff(o, ref.data, n);
            printf("  resample_f32 %-8s %dx%dx%d -> %dx%d max abs diff %.3g\n", tok[1], c, h, w, oh, ow, (double)mx);
            CHECK(mx <= 1e-5f, "%s: resample_f32 differs from torch by %g", tok[8], (double)mx);
        }
        free(o);
    }
    if (a == VITC_OK) vt_npy_free(&in);
    if (b == VITC_OK) vt_npy_free(&ref);
    n_resample++;
}

static void run_manifest(void) {
    FILE *fp = fopen(fx("manifest"), "r");
    CHECK(fp != NULL, "no manifest in %s (run tests/ref/make_preprocess_fixtures.py)", fixture_dir());
    if (!fp) return;
    char line[2048];
    while (fgets(line, sizeof line, fp)) {
        char *tok[16];
        int nt = 0;
        for (char *t = strtok(line, " \n"); t && nt < 16; t = strtok(NULL, " \n")) tok[nt++] = t;
        if (nt == 0) continue;
        if (!strcmp(tok[0], "decode") && nt == 3) test_decode(tok[1], tok[2]);
        else if (!strcmp(tok[0], "preprocess") && nt == 9) test_preprocess(tok);
        else if (!strcmp(tok[0], "resize") && nt == 6) test_resize(tok);
        else if (!strcmp(tok[0], "resample") && nt == 9) test_resample(tok);
        else CHECK(0, "unknown manifest line '%s'", tok[0]);
    }
    fclose(fp);
    printf("  fixtures: %d decode, %d preprocess, %d resize, %d resample\n", n_decode, n_pre, n_resize, n_resample);
    CHECK(n_decode >= 10 && n_pre >= 6 && n_resample >= 4, "too few fixtures");
}

/* ------------------------------------------------------------ error handling */
static void expect_load_error(const char *what, const void *data, size_t n, vitc_status want) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, what);
    spit(path, data, n);
    vitc_image *img = (vitc_image *)1;
    vitc_status st = vitc_image_load(path, &img);
    CHECK(st == want, "%s: status %s, expected %s (%s)", what, vitc_status_name(st), vitc_status_name(want),
          vitc_last_error());
    CHECK(img == NULL, "%s: output not cleared", what);
    CHECK(strstr(vitc_last_error(), path) != NULL, "%s: message does not name the file: %s", what,
          vitc_last_error());
    CHECK(strchr(vitc_last_error(), '\n') == NULL, "%s: message is not one line", what);
    if (st == want) printf("  error %-24s %s: %s\n", what, vitc_status_name(st), vitc_last_error());
    remove(path);
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_errors(void) {
    size_t jn = 0, pn = 0, mn = 0;
    uint8_t *jpg = slurp(fx("images/dog.jpg"), &jn);
    uint8_t *png = slurp(fx("images/chelsea.png"), &pn);
    uint8_t *ppm = slurp(fx("images/kite.ppm"), &mn);
    CHECK(jpg && png && ppm, "fixture images missing");
    if (!jpg || !png || !ppm) goto done;

    expect_load_error("empty.jpg", "", 0, VITC_ERR_FORMAT);
    expect_load_error("truncated.jpg", jpg, jn / 2, VITC_ERR_FORMAT);
    expect_load_error("truncated_end.jpg", jpg, jn - 2, VITC_ERR_FORMAT); /* only EOI missing */
    expect_load_error("truncated_header.jpg", jpg, 100, VITC_ERR_FORMAT);
    expect_load_error("truncated.png", png, pn / 2, VITC_ERR_FORMAT);
    expect_load_error("truncated_header.png", png, 20, VITC_ERR_FORMAT);
    expect_load_error("truncated.ppm", ppm, mn - 1, VITC_ERR_FORMAT);
    expect_load_error("truncated_header.ppm", "P6\n320 ", 7, VITC_ERR_FORMAT);
    expect_load_error("unknown.bin", "hello, world, not an image", 26, VITC_ERR_FORMAT);
    expect_load_error("anim.gif", "GIF89a\x01\x00\x01\x00", 10, VITC_ERR_UNSUPPORTED);
    {
        uint8_t *c = malloc(jn > pn ? jn : pn);
        memcpy(c, jpg, jn);
        memset(c + 4, 0x5a, 200); /* markers destroyed */
        expect_load_error("corrupt.jpg", c, jn, VITC_ERR_FORMAT);
        memcpy(c, png, 64);
        c[20] ^= 0xff; /* IHDR content no longer matches its CRC */
        expect_load_error("corrupt_crc.png", c, 64, VITC_ERR_FORMAT);
        memcpy(c, png, pn);
        memset(c + 200, 0xa5, 400); /* garbage in an ancillary chunk (iCCP): PIL refuses it too */
        expect_load_error("corrupt_iccp.png", c, pn, VITC_ERR_FORMAT);
        memcpy(c, png, pn);
        size_t idat = 8;
        while (idat + 8 < pn && memcmp(c + idat + 4, "IDAT", 4))
            idat += 12 + ((size_t)c[idat] << 24 | (size_t)c[idat + 1] << 16 | (size_t)c[idat + 2] << 8 | c[idat + 3]);
        CHECK(idat + 1000 < pn, "no IDAT in chelsea.png");
        if (idat + 1000 < pn) {
            memset(c + idat + 100, 0xa5, 400); /* garbage inside the first IDAT */
            expect_load_error("corrupt_idat.png", c, pn, VITC_ERR_FORMAT);
        }
        free(c);
    }
    /* huge declared dimensions: refused before any allocation */
    {
        uint8_t h[64];
        memcpy(h, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
        put32(h + 16, 100000);
        put32(h + 20, 100000);
        memcpy(h + 24, "\x08\x02\0\0\0", 5);
        put32(h + 29, crc32_png(h + 12, 17));
        expect_load_error("huge.png", h, 33, VITC_ERR_LIMIT);
        put32(h + 16, 30000);
        put32(h + 20, 30000); /* each side allowed, too many pixels */
        put32(h + 29, crc32_png(h + 12, 17));
        expect_load_error("huge_area.png", h, 33, VITC_ERR_LIMIT);
        const char *pnm = "P6\n100000 100000\n255\n";
        expect_load_error("huge.ppm", pnm, strlen(pnm), VITC_ERR_LIMIT);
        const char *pnm2 = "P5 99999999999999999999 2 255\n";
        expect_load_error("overflow.pgm", pnm2, strlen(pnm2), VITC_ERR_LIMIT);
        /* JPEG: patch the SOF dimensions to 60000 x 60000 */
        uint8_t *c = malloc(jn);
        memcpy(c, jpg, jn);
        for (size_t i = 2; i + 9 < jn; i++)
            if (c[i] == 0xff && (c[i + 1] == 0xc0 || c[i + 1] == 0xc2)) {
                c[i + 5] = 0xea;
                c[i + 6] = 0x60;
                c[i + 7] = 0xea;
                c[i + 8] = 0x60;
                break;
            }
        expect_load_error("huge.jpg", c, jn, VITC_ERR_LIMIT);
        free(c);
    }
    /* missing file */
    {
        vitc_image *img = NULL;
        CHECK(vitc_image_load("/nonexistent/x.png", &img) == VITC_ERR_IO && !img, "missing file");
        CHECK(strstr(vitc_last_error(), "/nonexistent/x.png") != NULL, "missing file message: %s", vitc_last_error());
    }
    /* garbage after each magic, and every truncation length of a small file: no crash */
    {
        static const char *magic[] = {"\xff\xd8\xff", "\x89PNG\r\n\x1a\n", "P6 ", "P3 ", "P5 ", "P1 ", "P4 "};
        uint32_t s = 12345;
        uint8_t buf[512];
        int ok = 0;
        for (int m = 0; m < 7; m++)
            for (int it = 0; it < 200; it++) {
                size_t n = 8 + (size_t)(it * 7 % 500);
                for (size_t i = 0; i < n; i++) {
                    s = s * 1103515245u + 12345u;
                    buf[i] = (uint8_t)(s >> 16);
                }
                memcpy(buf, magic[m], strlen(magic[m]));
                vitc_image *img = NULL;
                if (vitc_image_decode(buf, n, &img) == VITC_OK) ok++;
                vitc_image_free(img);
            }
        size_t sn = 0;
        uint8_t *small = slurp(fx("images/chelsea_palette_2bit.png"), &sn);
        int errs = 0;
        /* PIL, like vitc, accepts a file that lacks only its final 12-byte IEND chunk */
        for (size_t n = 0; small && n + 12 < sn; n++) {
            vitc_image *img = NULL;
            if (vitc_image_decode(small, n, &img) != VITC_OK) errs++;
            vitc_image_free(img);
        }
        CHECK(small && errs == (int)sn - 12, "every truncation of a PNG must fail (%d of %zu did)", errs, sn);
        free(small);
        printf("  random garbage: %d of 1400 decoded, no crash\n", ok);
    }
done:
    free(jpg);
    free(png);
    free(ppm);
}

/* ------------------------------------------------------------ npy, params, small cases */
static void test_npy(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/a.npy", tmpdir);
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.25f - 3.0f;
    int64_t shape[3] = {2, 3, 4};
    CHECK(vt_npy_write(path, v, 3, shape) == VITC_OK, "npy write: %s", vitc_last_error());
    vt_npy a;
    CHECK(vt_npy_read(path, &a) == VITC_OK, "npy read: %s", vitc_last_error());
    CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4 && a.count == 24 &&
              !memcmp(a.data, v, sizeof v),
          "npy round trip");
    vt_npy_free(&a);
    size_t n = 0;
    uint8_t *d = slurp(path, &n);
    CHECK(d && n == 128 + 96 && d[127] == '\n', "npy header padded to a multiple of 64 bytes (%zu)", n);
    spit(path, d, n - 1);
    CHECK(vt_npy_read(path, &a) == VITC_ERR_FORMAT && strstr(vitc_last_error(), path), "truncated npy: %s",
          vitc_last_error());
    free(d);
    /* float64 and float16, version 2 header */
    {
        const char *hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        uint8_t buf[256];
        size_t hl = strlen(hdr);
        memcpy(buf, "\x93NUMPY\x02\x00", 8);
        buf[8] = (uint8_t)(hl + 1);
        buf[9] = buf[10] = buf[11] = 0;
        memcpy(buf + 12, hdr, hl);
        buf[12 + hl] = '\n';
        double dv[3] = {1.5, -2.25, 1e-3};
        memcpy(buf + 13 + hl, dv, sizeof dv);
        spit(path, buf, 13 + hl + sizeof dv);
        CHECK(vt_npy_read(path, &a) == VITC_OK && a.count == 3 && a.data[1] == -2.25f && a.data[2] == 1e-3f,
              "npy f8: %s", vitc_last_error());
        vt_npy_free(&a);
        const char *h2 = "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }";
        hl = strlen(h2);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (uint8_t)(hl + 1);
        buf[9] = 0;
        memcpy(buf + 10, h2, hl);
        buf[10 + hl] = '\n';
        uint16_t hv[4] = {0x3c00, 0xc000, 0x0001, 0x7bff}; /* 1, -2, 2^-24, 65504 */
        memcpy(buf + 11 + hl, hv, sizeof hv);
        spit(path, buf, 11 + hl + sizeof hv);
        CHECK(vt_npy_read(path, &a) == VITC_OK && a.count == 4 && a.data[0] == 1.0f && a.data[1] == -2.0f &&
                  a.data[2] == ldexpf(1.0f, -24) && a.data[3] == 65504.0f,
              "npy f2: %s", vitc_last_error());
        vt_npy_free(&a);
        const char *h3 = "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }";
        hl = strlen(h3);
        memcpy(buf + 10, h3, hl);
        buf[8] = (uint8_t)(hl + 1);
        buf[10 + hl] = '\n';
        spit(path, buf, 11 + hl + 4);
        CHECK(vt_npy_read(path, &a) == VITC_ERR_SHAPE, "npy int dtype refused");
    }
    remove(path);
}

static void test_small(void) {
    vitc_preprocess_params p = vitc_preprocess_default_params();
    CHECK(p.size == 224 && p.crop_pct == 0.9f && p.interp == VITC_INTERP_BICUBIC && p.mean[0] == 0.5f &&
              p.std[2] == 0.5f && !p.squash,
          "default params");
    /* a flat image stays flat through every path */
    uint8_t rgb[5 * 7 * 3];
    for (int i = 0; i < 5 * 7; i++) {
        rgb[3 * i] = 10;
        rgb[3 * i + 1] = 128;
        rgb[3 * i + 2] = 250;
    }
    vitc_image *img = NULL;
    CHECK(vitc_image_from_rgb(5, 7, rgb, &img) == VITC_OK && vitc_image_width(img) == 5 &&
              vitc_image_height(img) == 7,
          "from_rgb");
    p.size = 16;
    float out[3 * 16 * 16];
    CHECK(vitc_preprocess(img, &p, out) == VITC_OK, "preprocess flat");
    float want[3] = {(10.0f / 255.0f - 0.5f) / 0.5f, (128.0f / 255.0f - 0.5f) / 0.5f, (250.0f / 255.0f - 0.5f) / 0.5f};
    int flat = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++) flat &= out[c * 256 + i] == want[c];
    CHECK(flat, "flat image not flat after preprocessing");
    p.size = 0;
    CHECK(vitc_preprocess(img, &p, out) == VITC_ERR_ARG, "size 0 refused");
    p.size = 16;
    p.std[1] = 0.0f;
    CHECK(vitc_preprocess(img, &p, out) == VITC_ERR_ARG, "std 0 refused");
    vitc_image_free(img);
    CHECK(vitc_image_from_rgb(0, 7, rgb, &img) != VITC_OK && !img, "0-width image refused");
    CHECK(vitc_image_from_rgb(40000, 2, rgb, &img) == VITC_ERR_LIMIT && !img, "over-limit image refused");
    /* f32 resample of a constant is the constant; identity size is a copy */
    float a[2 * 3 * 4], b[2 * 9 * 2];
    for (int i = 0; i < 24; i++) a[i] = i < 12 ? 1.5f : -0.25f;
    CHECK(vt_resample_f32(a, 2, 3, 4, b, 9, 2, VITC_INTERP_BICUBIC) == VITC_OK, "resample_f32");
    float md = 0;
    for (int i = 0; i < 18; i++) md = fmaxf(md, fabsf(b[i] - 1.5f)), md = fmaxf(md, fabsf(b[18 + i] + 0.25f));
    CHECK(md < 1e-6f, "constant resample off by %g", (double)md);
    CHECK(vt_resample_f32(a, 2, 3, 4, b, 0, 2, VITC_INTERP_BICUBIC) == VITC_ERR_ARG, "resample to 0 refused");
    /* decode from memory names "<memory>" */
    CHECK(vitc_image_decode("xx", 2, &img) == VITC_ERR_FORMAT && strstr(vitc_last_error(), "<memory>"),
          "memory decode message: %s", vitc_last_error());
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vitc_test_image.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_small();
    test_npy();
    run_manifest();
    test_errors();
    rmdir(tmpdir);
    return check_report("test_image");
}
