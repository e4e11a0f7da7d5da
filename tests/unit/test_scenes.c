/* Scene folders (train/scenes.h): vt_scenes_open on generated scenes (counts, mask values against
 * the pixels, boxes, a train/validation hold-out that is disjoint and covers everything) and on
 * small hand-made folders, good and broken: each broken one gives its status and a message naming
 * the problem, and leaves nothing allocated. */
#include "check.h"
#include "core/error.h"
#include "image/image.h"
#include "train/scenes.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *cats_json =
    "\"categories\": [{\"id\": 0, \"name\": \"T-shirt/top\"}, {\"id\": 1, \"name\": \"Trouser\"}, {\"id\": 2, \"name\": "
    "\"Pullover\"}, {\"id\": 3, \"name\": \"Dress\"}, {\"id\": 4, \"name\": \"Coat\"}, {\"id\": 5, \"name\": "
    "\"Sandal\"}, {\"id\": 6, \"name\": \"Shirt\"}, {\"id\": 7, \"name\": \"Sneaker\"}, {\"id\": 8, \"name\": "
    "\"Bag\"}, {\"id\": 9, \"name\": \"Ankle boot\"}]";

/* A folder of n W x H scenes a.png, b.png, ... (gray, or RGB when color), masks with value v at
 * pixel 0 and class + 1 = 3 elsewhere; one box per scene. */
static void make_folder(const char *name, int n, int W, int H, int color, int v) {
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/images", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/masks", dir);
    mkdir(p, 0777);
    char js[8192];
    int len = snprintf(js, sizeof js, "{\"images\": [");
    uint8_t px[3 * 64 * 64], mk[64 * 64];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < W * H * 3; k++) px[k] = (uint8_t)(i * 40 + k + (color ? k % 3 : 0));
        if (!color)
            for (int k = 0; k < W * H; k++) px[k] = (uint8_t)(i * 40 + k);
        for (int k = 0; k < W * H; k++) mk[k] = k ? 3 : (uint8_t)v;
        snprintf(p, sizeof p, "%s/images/%c.png", dir, 'a' + i);
        vt_png_write(p, W, H, color ? 3 : 1, px);
        snprintf(p, sizeof p, "%s/masks/%c.png", dir, 'a' + i);
        vt_png_write(p, W, H, 1, mk);
        len += snprintf(js + len, sizeof js - (size_t)len, "%s{\"id\": %d, \"file_name\": \"%c.png\", \"width\": %d, "
                        "\"height\": %d}", i ? ", " : "", 10 + i, 'a' + i, W, H);
    }
    len += snprintf(js + len, sizeof js - (size_t)len, "], \"annotations\": [");
    for (int i = 0; i < n; i++)
        len += snprintf(js + len, sizeof js - (size_t)len, "%s{\"id\": %d, \"image_id\": %d, \"category_id\": 2, "
                        "\"bbox\": [1, 0, 3, 2], \"area\": 5, \"iscrowd\": 0}", i ? ", " : "", i + 1, 10 + i);
    snprintf(js + len, sizeof js - (size_t)len, "], %s}", cats_json);
    snprintf(p, sizeof p, "%s/annotations.json", dir);
    write_text(p, js);
}

static int empty(const vt_scenes *s) {
    return s->n == 0 && !s->pixels && !s->masks && !s->class_names && !s->file_names && !s->boxes;
}

/* opens root/name and expects status want with a message containing part */
static void expect_bad(const char *name, vitc_status want, const char *part) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    vt_scenes s;
    vitc_status st = vt_scenes_open(dir, VT_SPLIT_TEST, 0, &s);
    CHECK(st == want, "%s: status %d, want %d (%s)", name, st, want, vitc_last_error());
    CHECK(strstr(vitc_last_error(), part) != NULL, "%s: message '%s' lacks '%s'", name, vitc_last_error(), part);
    CHECK(!strchr(vitc_last_error(), '\n'), "%s: message is one line", name);
    CHECK(empty(&s), "%s: something left allocated", name);
    vt_scenes_free(&s);
}

static void generated(void) {
    const char *fm = getenv("VITC_FASHION_MNIST");
    char probe[512];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", fm ? fm : "/usr/share/datasets/fashion-mnist");
    if (access(probe, F_OK) != 0) {
        printf("test_scenes: Fashion-MNIST not found: generated scenes skipped\n");
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/gen", root);
    const int N = 60;
    CHECK(vt_scenes_generate(dir, 0, N, 5, NULL) == VITC_OK, "generate: %s", vitc_last_error());
    vt_scenes all, tr, va, v0;
    CHECK(vt_scenes_open(dir, VT_SPLIT_TEST, 0.25f, &all) == VITC_OK, "open: %s", vitc_last_error());
    CHECK(all.n == N && all.h == 96 && all.w == 96 && all.c == 1 && all.num_classes == 11, "n %d h %d w %d c %d K %d",
          all.n, all.h, all.w, all.c, all.num_classes);
    if (all.n == N && all.class_names) {
        CHECK(!strcmp(all.class_names[0], "background") && !strcmp(all.class_names[1], "T-shirt/top") &&
                  !strcmp(all.class_names[10], "Ankle boot"),
              "class names");
        CHECK(!strcmp(all.file_names[0], "000000.png") && !strcmp(all.file_names[N - 1], "000059.png"), "file names");
        int bad_value = 0, bad_visible = 0;
        size_t plane = 96 * 96;
        for (size_t k = 0; k < plane * N; k++) {
            uint8_t m = all.masks[k], p = all.pixels[k];
            if (m > 10) bad_value++;
            if ((m > 0) != (p >= 32)) bad_visible++; /* a pixel is labelled exactly when it is visible */
        }
        CHECK(!bad_value, "%d mask values > 10", bad_value);
        CHECK(!bad_visible, "%d pixels where mask and visibility disagree", bad_visible);
        CHECK(all.n_boxes >= N && all.n_boxes <= 4 * N, "%d boxes", all.n_boxes);
        int bad_box = 0;
        for (int b = 0; b < all.n_boxes; b++) { /* the box's pixels hold mask value category + 1 somewhere */
            const vt_scene_box *bx = &all.boxes[b];
            int found = 0;
            for (int y = (int)bx->y; y < (int)(bx->y + bx->h); y++)
                for (int x = (int)bx->x; x < (int)(bx->x + bx->w); x++)
                    found |= all.masks[plane * (size_t)bx->scene + (size_t)y * 96 + x] == bx->category + 1;
            bad_box += !found || bx->w < 1 || bx->h < 1 || bx->x + bx->w > 96 || bx->y + bx->h > 96;
        }
        CHECK(!bad_box, "%d boxes without their class in the mask", bad_box);
    }
    CHECK(vt_scenes_open(dir, VT_SPLIT_TRAIN, 0.25f, &tr) == VITC_OK, "train: %s", vitc_last_error());
    CHECK(vt_scenes_open(dir, VT_SPLIT_VAL, 0.25f, &va) == VITC_OK, "val: %s", vitc_last_error());
    CHECK(tr.n > 0 && va.n > 0 && tr.n + va.n == N, "train %d + val %d != %d", tr.n, va.n, N);
    int overlap = 0;
    for (int i = 0; i < tr.n; i++)
        for (int j = 0; j < va.n; j++) overlap += !strcmp(tr.file_names[i], va.file_names[j]);
    CHECK(!overlap, "%d scenes in both splits", overlap);
    if (tr.n > 0 && all.n == N) { /* the pixels of a training scene are those of the same file */
        int at = atoi(tr.file_names[0]);
        CHECK(!memcmp(tr.pixels, all.pixels + (size_t)at * 96 * 96, 96 * 96) &&
                  !memcmp(tr.masks, all.masks + (size_t)at * 96 * 96, 96 * 96),
              "train scene 0 = %s", tr.file_names[0]);
    }
    CHECK(tr.n_boxes + va.n_boxes == all.n_boxes, "boxes split %d + %d != %d", tr.n_boxes, va.n_boxes, all.n_boxes);
    CHECK(vt_scenes_open(dir, VT_SPLIT_VAL, 0.0f, &v0) == VITC_OK && v0.n == N, "val_frac 0 reads all");
    vt_scenes_free(&all);
    vt_scenes_free(&tr);
    vt_scenes_free(&va);
    vt_scenes_free(&v0);
    CHECK(empty(&all), "freed");
    /* bad arguments */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/gen-bad", root);
    CHECK(vt_scenes_generate(sub, 0, 0, 1, NULL) == VITC_ERR_ARG, "count 0");
    CHECK(vt_scenes_generate(sub, 2, 5, 1, NULL) == VITC_ERR_ARG, "split 2");
    CHECK(access(sub, F_OK) != 0, "nothing written for bad arguments");
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/vitc_scenes_XXXXXX");
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_report("test_scenes");
    }
    generated();

    /* a good hand-made folder: ids not 0-based, mask value 255 (ignore) allowed */
    make_folder("good", 3, 8, 6, 0, 255);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/good", root);
    vt_scenes s;
    CHECK(vt_scenes_open(dir, VT_SPLIT_TEST, 0, &s) == VITC_OK, "good: %s", vitc_last_error());
    CHECK(s.n == 3 && s.w == 8 && s.h == 6 && s.c == 1 && s.n_boxes == 3, "good: n %d %dx%d c %d boxes %d", s.n, s.w,
          s.h, s.c, s.n_boxes);
    if (s.n == 3) {
        CHECK(s.masks[0] == 255 && s.masks[1] == 3 && s.masks[48 * 2 + 5] == 3, "mask values kept exactly");
        CHECK(s.pixels[48 + 7] == (uint8_t)(40 + 7), "gray pixels");
        CHECK(s.boxes[2].scene == 2 && s.boxes[2].category == 2 && s.boxes[2].x == 1 && s.boxes[2].w == 3, "box");
        CHECK(!strcmp(s.file_names[1], "b.png"), "file name");
    }
    vt_scenes_free(&s);
    make_folder("color", 2, 8, 6, 1, 0);
    snprintf(dir, sizeof dir, "%s/color", root);
    CHECK(vt_scenes_open(dir, VT_SPLIT_TEST, 0, &s) == VITC_OK && s.c == 3, "color: c %d (%s)", s.c,
          vitc_last_error());
    if (s.c == 3 && s.n == 2) CHECK(s.pixels[3 * 48 * 1 + 1] == (uint8_t)(40 + 1 + 1), "RGB pixels");
    vt_scenes_free(&s);

    /* broken folders */
    char p[700];
    snprintf(p, sizeof p, "%s/none", root);
    mkdir(p, 0777);
    expect_bad("none", VITC_ERR_IO, "has no annotations.json");
    expect_bad("not-there", VITC_ERR_IO, "has no annotations.json");

    make_folder("json", 1, 8, 6, 0, 0);
    snprintf(p, sizeof p, "%s/json/annotations.json", root);
    write_text(p, "{\"images\": [");
    expect_bad("json", VITC_ERR_FORMAT, "not valid JSON");

    make_folder("noimage", 2, 8, 6, 0, 0);
    snprintf(p, sizeof p, "%s/noimage/images/b.png", root);
    unlink(p);
    expect_bad("noimage", VITC_ERR_IO, "b.png: image missing");

    make_folder("nomask", 2, 8, 6, 0, 0);
    snprintf(p, sizeof p, "%s/nomask/masks/a.png", root);
    unlink(p);
    expect_bad("nomask", VITC_ERR_IO, "a.png: mask missing");

    make_folder("masksize", 2, 8, 6, 0, 0);
    uint8_t small[7 * 6] = {0};
    snprintf(p, sizeof p, "%s/masksize/masks/b.png", root);
    vt_png_write(p, 7, 6, 1, small);
    expect_bad("masksize", VITC_ERR_FORMAT, "the mask is 7x6, its image 8x6");

    make_folder("value11", 2, 8, 6, 0, 11);
    expect_bad("value11", VITC_ERR_FORMAT, "mask value 11");

    make_folder("rgbmask", 1, 8, 6, 0, 0);
    uint8_t rgb[3 * 8 * 6] = {0};
    snprintf(p, sizeof p, "%s/rgbmask/masks/a.png", root);
    vt_png_write(p, 8, 6, 3, rgb);
    expect_bad("rgbmask", VITC_ERR_FORMAT, "not an 8-bit grayscale PNG");

    make_folder("sizes", 2, 8, 6, 0, 0);
    uint8_t other[9 * 6] = {0};
    snprintf(p, sizeof p, "%s/sizes/images/b.png", root);
    vt_png_write(p, 9, 6, 1, other);
    snprintf(p, sizeof p, "%s/sizes/masks/b.png", root);
    vt_png_write(p, 9, 6, 1, other);
    expect_bad("sizes", VITC_ERR_FORMAT, "one size per folder");

    make_folder("zero", 0, 8, 6, 0, 0);
    expect_bad("zero", VITC_ERR_FORMAT, "no scenes");

    make_folder("badcat", 1, 8, 6, 0, 0);
    snprintf(p, sizeof p, "%s/badcat/annotations.json", root);
    write_text(p, "{\"images\": [{\"id\": 0, \"file_name\": \"a.png\"}], \"annotations\": [], \"categories\": "
                  "[{\"id\": 3, \"name\": \"x\"}]}");
    expect_bad("badcat", VITC_ERR_FORMAT, "category 0");

    make_folder("escape", 1, 8, 6, 0, 0);
    snprintf(p, sizeof p, "%s/escape/annotations.json", root);
    write_text(p, "{\"images\": [{\"id\": 0, \"file_name\": \"../x.png\"}], \"annotations\": [], \"categories\": "
                  "[{\"id\": 0, \"name\": \"x\"}]}");
    expect_bad("escape", VITC_ERR_FORMAT, "relative file_name");

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_scenes");
}
