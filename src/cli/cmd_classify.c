/* vitc classify MODEL IMAGE...: top-k classes per image, as text or JSON lines. */
#include "cli/commands.h"
#include "cli/dist.h"
#include "cli/json_out.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "core/npy.h"
#include "model/layers.h"
#include "vitc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct batch {
    int n, cap, h, w;
    float *data;          /* n x 3 x h x w */
    const char **files;   /* the source file of each image */
    int *sub;             /* index inside an N x C x H x W .npy (-1 for single images) */
} batch;

typedef struct classify_ctx {
    vitc_model *model;
    int top, json, logits, num_classes, chans, tta_flip;
    float *out, *out_flip; /* out_flip: the mirrored batch's logits (tta_flip) */
} classify_ctx;

static void print_result(const classify_ctx *c, const char *file, int sub, const float *logits) {
    int k = c->top < c->num_classes ? c->top : c->num_classes;
    int idx[k > 0 ? k : 1];
    float prob[k > 0 ? k : 1];
    vitc_topk(logits, c->num_classes, k, idx, prob);
    if (c->json) {
        vt_strbuf b = {0};
        vt_json_classify(&b, c->model, file, sub, logits, c->num_classes, c->top, c->logits);
        if (!b.failed) printf("%s\n", b.data);
        vt_strbuf_free(&b);
        return;
    }
    if (sub >= 0) printf("%s[%d]\n", file, sub);
    else printf("%s\n", file);
    for (int i = 0; i < k; i++) {
        const char *label = vitc_model_label(c->model, idx[i]);
        printf("  %7.4f  %5d  %s\n", (double)prob[i], idx[i], label ? label : "");
    }
    if (c->logits) {
        printf("  logits:");
        for (int i = 0; i < c->num_classes; i++) printf(" %.6g", (double)logits[i]);
        printf("\n");
    }
}

/* Mirrors every row of the n images (chans x h x w) in place. */
static void mirror(float *x, int n, int chans, int h, int w) {
    for (size_t r = 0; r < (size_t)n * chans * h; r++)
        for (int i = 0, j = w - 1; i < j; i++, j--) {
            float t = x[r * w + i];
            x[r * w + i] = x[r * w + j];
            x[r * w + j] = t;
        }
}

/* Test-time flip: out becomes the log of the mean of the two views' class probabilities, so that
 * the top-k softmax of it is that mean. Returns -1 out of memory. */
static int average_views(float *out, const float *flip, int n, int C) {
    double *p = malloc(sizeof(double) * (size_t)C);
    if (!p) return -1;
    for (int i = 0; i < n; i++) {
        float *a = out + (size_t)i * C;
        for (int k = 0; k < C; k++) p[k] = 0.0;
        vt_softmax_add(a, C, 0.5, p);
        vt_softmax_add(flip + (size_t)i * C, C, 0.5, p);
        for (int k = 0; k < C; k++) a[k] = (float)log(p[k]);
    }
    free(p);
    return 0;
}

/* Classifies and prints the pending batch; on failure the batch is dropped (nothing printed). */
static int flush(classify_ctx *c, batch *b) {
    if (!b->n) return 0;
    const char *why = NULL;
    if (vitc_model_classify(c->model, b->data, b->n, b->h, b->w, c->out) != VITC_OK) why = vitc_last_error();
    if (!why && c->tta_flip) {
        mirror(b->data, b->n, c->chans, b->h, b->w);
        if (vitc_model_classify(c->model, b->data, b->n, b->h, b->w, c->out_flip) != VITC_OK) why = vitc_last_error();
        else if (average_views(c->out, c->out_flip, b->n, c->num_classes)) why = "out of memory";
    }
    if (why) {
        fprintf(stderr, "vitc classify: %s: %s\n", b->files[0], why);
        b->n = 0;
        return 1;
    }
    for (int i = 0; i < b->n; i++) print_result(c, b->files[i], b->sub[i], c->out + (size_t)i * c->num_classes);
    fflush(stdout);
    b->n = 0;
    return 0;
}

/* Appends one 3 x h x w image; flushes first when the batch is full or the size changes. */
static int push(classify_ctx *c, batch *b, const char *file, int sub, const float *img, int h, int w) {
    if (b->n && (b->n == b->cap || h != b->h || w != b->w) && flush(c, b)) return 1;
    size_t sz = (size_t)c->chans * h * w;
    if (!b->n && (h != b->h || w != b->w)) {
        float *d = realloc(b->data, sizeof(float) * sz * b->cap);
        if (!d) {
            fprintf(stderr, "vitc classify: %s: out of memory\n", file);
            return 1;
        }
        b->data = d;
        b->h = h;
        b->w = w;
    }
    memcpy(b->data + sz * b->n, img, sizeof(float) * sz);
    b->files[b->n] = file;
    b->sub[b->n] = sub;
    b->n++;
    return 0;
}

typedef struct classify_emit_ctx {
    classify_ctx *c;
    batch *b;
} classify_emit_ctx;

static int classify_emit(void *ctx, const char *file, int sub, const float *x, int h, int w) {
    classify_emit_ctx *e = ctx;
    return push(e->c, e->b, file, sub, x, h, w);
}

static int classify_main(int argc, char **argv);

/* build/vitc-mpi under mpirun: each process classifies a contiguous share of the images, and rank 0
 * prints the results in the images' order (dist.h) */
int cmd_classify(int argc, char **argv) {
    vt_dist_init(&argc, &argv);
    int rc = classify_main(argc, argv);
    vt_dist_finalize();
    return rc;
}

static int classify_main(int argc, char **argv) {
    vt_model_opts mo;
    int top = 5, json = 0, logits = 0, batch_size = 8, tta_flip = 0, bf16 = 0;
    vt_option opts[VT_MODEL_OPTS_COUNT + 6];
    vt_model_opts_bind(&mo, opts);
    vt_option own[6] = {
        {"top", VT_OPT_INT, &top, "how many classes to print per image (default 5)", 0},
        {"json", VT_OPT_FLAG, &json, "one JSON object per image", 0},
        {"logits", VT_OPT_FLAG, &logits, "also print every logit", 0},
        {"batch", VT_OPT_INT, &batch_size, "images per forward pass (default 8)", 0},
        {"tta-flip", VT_OPT_FLAG, &tta_flip, "average each image's class probabilities with its mirror image's "
                                             "(--logits then prints their log)", 0},
        {"bf16", VT_OPT_FLAG, &bf16, "the blocks' products in bfloat16 (AVX512-BF16 CPUs; ~1e-2 on the logits)", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[4096];
    int npos;
    int r = vt_parse_args("classify",
                          "vitc classify MODEL IMAGE... [--top K] [--json] [--logits] [--batch N] [--tta-flip] "
                          "[--bf16] [--threads N]\n"
                          "IMAGE is a JPEG, PNG or PPM/PGM file, or a preprocessed float32 .npy (C x H x W or "
                          "N x C x H x W)",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + 6, pos, 4096, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) {
        fprintf(stderr, "vitc classify: needs a MODEL and at least one IMAGE (see vitc classify --help)\n");
        return 2;
    }
    if (top <= 0 || batch_size <= 0 || batch_size > 4096) {
        fprintf(stderr, "vitc classify: --top and --batch must be positive (batch at most 4096)\n");
        return 2;
    }
    vitc_model *m = vt_model_opts_load("classify", pos[0], &mo, opts);
    if (!m) return 1;
    if (bf16 && vitc_model_set_bf16(m, 1)) {
        fprintf(stderr, "vitc classify: %s\n", vitc_last_error());
        vitc_model_free(m);
        return 1;
    }
    vitc_preprocess_params pp;
    if (vt_model_opts_preprocess("classify", m, &mo, opts, &pp)) {
        vitc_model_free(m);
        return 2;
    }
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    if (strcmp(info.task, "classify")) {
        fprintf(stderr, "vitc classify: %s is a %s model, not a classifier (use vitc %s)\n", pos[0],
                !strcmp(info.task, "detect") ? "detection" : "segmentation", info.task);
        vitc_model_free(m);
        return 1;
    }
    if (!info.num_classes) {
        fprintf(stderr, "vitc classify: %s: the model has no classification head (%s: use vitc embed for its features)\n",
                pos[0], info.name);
        vitc_model_free(m);
        return 1;
    }
    if (!strncmp(info.name, "untrained", 9))
        fprintf(stderr, "vitc classify: note: %s is an untrained model with random weights; its labels mean nothing\n",
                pos[0]);
    classify_ctx c = {m, top, json, logits, info.num_classes, info.in_chans, tta_flip, NULL, NULL};
    batch b = {0, batch_size, 0, 0, NULL, NULL, NULL};
    c.out = malloc(sizeof(float) * (size_t)batch_size * info.num_classes);
    c.out_flip = malloc(sizeof(float) * (size_t)batch_size * info.num_classes);
    b.files = malloc(sizeof *b.files * (size_t)batch_size);
    b.sub = malloc(sizeof *b.sub * (size_t)batch_size);
    float *img = malloc(sizeof(float) * 3 * (size_t)pp.size * pp.size);
    int rc = (!c.out || !c.out_flip || !b.files || !b.sub || !img) ? 1 : 0;
    if (rc) fprintf(stderr, "vitc classify: out of memory\n");
    int64_t lo = 0, hi = 0;
    vt_dist_share(npos - 1, &lo, &hi);
    if (!rc && vt_dist_capture_begin()) rc = 1, fprintf(stderr, "vitc classify: cannot capture this process's output\n");
    for (int i = 1 + (int)lo; i < 1 + hi && !rc; i++) {
        const char *file = pos[i];
        rc = vt_cli_read_input("classify", file, info.in_chans, &pp, img, classify_emit, &(classify_emit_ctx){&c, &b});
    }
    /* the images before one that could not be read still get their lines */
    int frc = flush(&c, &b);
    if (!rc) rc = frc;
    rc = vt_dist_capture_end(rc);
    free(img);
    free(c.out);
    free(c.out_flip);
    free(b.data);
    free(b.files);
    free(b.sub);
    vitc_model_free(m);
    return rc;
}
