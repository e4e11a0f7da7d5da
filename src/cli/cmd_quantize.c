/* vitc quantize MODEL --out Q.safetensors [--mode dynamic|static --calib DATA]: writes the model
 * with its blocks' Linear weights in int8 (per output channel), for int8 inference in every command.
 * Static mode calibrates one input scale per Linear layer on training images. */
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "model/model.h"
#include "train/data.h"
#include "vitc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct calib_ctx {
    vitc_model *m;
    float *batch;
    int n, cap, h, w, total, failed;
} calib_ctx;

static int calib_flush(calib_ctx *c) {
    if (!c->n) return 0;
    if (vitc_model_calibrate(c->m, c->batch, c->n, c->h, c->w, 0)) {
        fprintf(stderr, "vitc quantize: %s\n", vitc_last_error());
        return 1;
    }
    c->total += c->n;
    c->n = 0;
    return 0;
}

static int calib_emit(void *ctx, const char *file, int sub, const float *x, int h, int w) {
    calib_ctx *c = ctx;
    if (c->n && (h != c->h || w != c->w) && calib_flush(c)) return 1;
    c->h = h, c->w = w;
    memcpy(c->batch + (size_t)c->n * 3 * h * w, x, sizeof(float) * 3 * (size_t)h * w);
    return ++c->n == c->cap ? calib_flush(c) : 0;
}

static int is_image_name(const char *n) {
    const char *e = strrchr(n, '.');
    return e && (!strcasecmp(e, ".png") || !strcasecmp(e, ".jpg") || !strcasecmp(e, ".jpeg") || !strcasecmp(e, ".ppm") ||
                 !strcasecmp(e, ".pgm") || !strcasecmp(e, ".npy"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The first `count` image files of a flat folder (sorted by name), read with the model's preprocessing. */
static int calibrate_files(calib_ctx *c, const char *dir, int count) {
    DIR *d = opendir(dir);
    if (!d) return fprintf(stderr, "vitc quantize: cannot open %s\n", dir), 1;
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_image_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nn = realloc(names, sizeof *nn * (size_t)cap);
            if (!nn) { rc = 1; break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = 1; break; }
        n++;
    }
    closedir(d);
    if (rc) fprintf(stderr, "vitc quantize: out of memory listing %s\n", dir);
    if (!rc && !n) rc = (fprintf(stderr, "vitc quantize: no images in %s\n", dir), 1);
    if (!rc) qsort(names, (size_t)n, sizeof *names, cmp_str);
    vitc_model_info info;
    vitc_model_get_info(c->m, &info);
    size_t px = (size_t)3 * info.preprocess.size * info.preprocess.size;
    float *img = rc ? NULL : malloc(sizeof(float) * px);
    if (!rc && !img) rc = (fprintf(stderr, "vitc quantize: out of memory\n"), 1);
    for (int i = 0; i < n && i < count && !rc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = vt_cli_read_input("quantize", path, info.in_chans, &info.preprocess, img, calib_emit, c);
    }
    if (!rc) rc = calib_flush(c);
    free(img);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* mnist, fashion-mnist, IDX or class folders: the training split's first `count` images. */
static int calibrate_dataset(calib_ctx *c, const char *spec, int count) {
    vitc_model *m = c->m;
    vt_dataset d;
    if (vt_dataset_open(spec, VT_SPLIT_TRAIN, vt_dataset_default_val_frac(spec), &m->pre, m->cfg.img_size, &d)) {
        fprintf(stderr, "vitc quantize: %s\n", vitc_last_error());
        return 1;
    }
    int rc = 0;
    c->h = d.h, c->w = d.w;
    int *idx = malloc(sizeof(int) * (size_t)c->cap), *lab = malloc(sizeof(int) * (size_t)c->cap);
    if (!idx || !lab) rc = (fprintf(stderr, "vitc quantize: out of memory\n"), 1);
    int total = count < d.n ? count : d.n;
    for (int i0 = 0; i0 < total && !rc; i0 += c->cap) {
        int k = total - i0 < c->cap ? total - i0 : c->cap;
        for (int i = 0; i < k; i++) idx[i] = i0 + i;
        vt_dataset_batch(&d, idx, k, m->cfg.in_chans, m->pre.mean, m->pre.std, NULL, 0, 0, c->batch, lab);
        c->n = k;
        rc = calib_flush(c);
    }
    free(idx), free(lab);
    vt_dataset_free(&d);
    return rc;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_images(const char *dir) {
    DIR *d = opendir(dir);
    int any = 0;
    for (struct dirent *e; d && !any && (e = readdir(d));) any = is_image_name(e->d_name);
    if (d) closedir(d);
    return any;
}

/* Static scales from `count` images of spec: a scene folder's (or any folder's) images/ sub-folder, a
 * flat folder of images, else a dataset (mnist, fashion-mnist, IDX or class folders: the training split). */
static int calibrate(vitc_model *m, const char *spec, int count) {
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    int chans = m->cfg.in_chans > 3 ? m->cfg.in_chans : 3;
    calib_ctx c = {.m = m, .cap = 16};
    c.batch = malloc(sizeof(float) * (size_t)chans * info.preprocess.size * info.preprocess.size * (size_t)c.cap);
    if (!c.batch) return fprintf(stderr, "vitc quantize: out of memory\n"), 1;
    int rc = 0;
    char imgs[4096];
    snprintf(imgs, sizeof imgs, "%s/images", spec);
    if (vitc_model_calibrate(m, NULL, 0, 0, 0, 1)) rc = (fprintf(stderr, "vitc quantize: %s\n", vitc_last_error()), 1);
    else if (!vt_dataset_is_idx(spec) && is_dir(imgs)) rc = calibrate_files(&c, imgs, count);
    else if (!vt_dataset_is_idx(spec) && is_dir(spec) && has_images(spec)) rc = calibrate_files(&c, spec, count);
    else rc = calibrate_dataset(&c, spec, count);
    if (!rc) fprintf(stderr, "vitc quantize: calibrated on %d images\n", c.total);
    free(c.batch);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    vt_model_opts mo;
    const char *out = NULL, *mode = "dynamic", *calib = NULL;
    int count = 64;
    enum { OWN = 4 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    vt_option own[OWN] = {
        {"out", VT_OPT_STRING, &out, "the quantized model file to write", 0},
        {"mode", VT_OPT_STRING, &mode, "dynamic (per-token input scales at run time, default) or static", 0},
        {"calib", VT_OPT_STRING, &calib, "static: calibration images (mnist, fashion-mnist, a folder, a scene folder)", 0},
        {"calib-count", VT_OPT_INT, &count, "static: calibration images used (default 64)", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[2];
    int npos;
    int r = vt_parse_args("quantize", "vitc quantize MODEL --out Q.safetensors [--mode dynamic|static --calib DATA [--calib-count N]] [--int8-attention]",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, 2, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) return fprintf(stderr, "vitc quantize: needs exactly one MODEL\n"), 2;
    if (!out) return fprintf(stderr, "vitc quantize: --out is required\n"), 2;
    int is_static = !strcmp(mode, "static");
    if (!is_static && strcmp(mode, "dynamic")) return fprintf(stderr, "vitc quantize: --mode must be dynamic or static\n"), 2;
    if (is_static && !calib) return fprintf(stderr, "vitc quantize: --mode static needs --calib DATA\n"), 2;
    if (!is_static && calib) return fprintf(stderr, "vitc quantize: --calib is for --mode static\n"), 2;
    if (count <= 0) return fprintf(stderr, "vitc quantize: --calib-count must be positive\n"), 2;
    if (mo.int8) return fprintf(stderr, "vitc quantize: --int8 does not apply (the output is int8)\n"), 2;
    int att8 = mo.int8_attn; /* recorded in the file: set once the float model has been calibrated */
    mo.int8_attn = 0;
    vitc_model *m = vt_model_opts_load("quantize", pos[0], &mo, opts);
    if (!m) return 1;
    int rc = 0;
    if (m->q8src) rc = (fprintf(stderr, "vitc quantize: %s is already quantized\n", pos[0]), 1);
    if (!rc && is_static) rc = calibrate(m, calib, count);
    if (!rc && att8 && (vitc_model_set_int8(m, 1) || vitc_model_set_int8_attention(m, 1)))
        rc = (fprintf(stderr, "vitc quantize: %s\n", vitc_last_error()), 1);
    if (!rc && vitc_model_save_int8(m, out, is_static)) rc = (fprintf(stderr, "vitc quantize: %s\n", vitc_last_error()), 1);
    if (!rc)
        printf("wrote %s (int8 blocks, %s activations%s)\n", out, is_static ? "static" : "dynamic", att8 ? ", int8 attention" : "");
    vitc_model_free(m);
    return rc;
}
