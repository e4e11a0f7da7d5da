/* vitc detect MODEL IMAGE... [--threshold T] [--top K] [--json] [--out DIR]: object detection with a
 * YOLOS model (HF YolosForObjectDetection or vitc's own): per image the detections above the threshold,
 * best first, boxes [x0, y0, x1, y1] in the image's pixels; with --out a PNG of the image with the boxes
 * (one colour per class) and their labels. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "image/draw.h"
#include "image/image.h"
#include "model/model.h"
#include "vitc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *label_or_class(const vitc_model *m, int k, char *buf, size_t n) {
    const char *l = vitc_model_label(m, k);
    if (l) return l;
    snprintf(buf, n, "class %d", k);
    return buf;
}

/* The picture: every box drawn in its class's palette colour (index label + 1: 0 is the palette's
 * background black), its label and score on a filled tab above the box (inside it at the top edge). */
static vitc_status write_picture(const char *path, const vitc_image *im, const vitc_detection *d, int n,
                                 const vitc_model *m) {
    int w = vitc_image_width(im), h = vitc_image_height(im);
    uint8_t *pic = malloc((size_t)w * h * 3);
    if (!pic) return VITC_ERR_NOMEM;
    memcpy(pic, vitc_image_pixels(im), (size_t)w * h * 3);
    int scale = w >= 512 || h >= 512 ? 2 : 1, thick = w >= 256 || h >= 256 ? 2 : 1;
    static const uint8_t dark[3] = {0, 0, 0};
    for (int i = n - 1; i >= 0; i--) { /* the best box drawn last, on top */
        uint8_t col[3];
        vt_palette_color(d[i].label + 1, col);
        int x0 = (int)floorf(d[i].box[0]), y0 = (int)floorf(d[i].box[1]);
        int x1 = (int)ceilf(d[i].box[2]) - 1, y1 = (int)ceilf(d[i].box[3]) - 1;
        vt_draw_rect(pic, w, h, x0, y0, x1, y1, col, thick);
        char text[160], buf[32];
        snprintf(text, sizeof text, "%s %.2f", label_or_class(m, d[i].label, buf, sizeof buf), (double)d[i].score);
        int tw, th;
        vt_text_size(text, scale, &tw, &th);
        int ty = y0 - th >= 0 ? y0 - th : y0; /* above the box when it fits */
        int tx = x0 + tw > w ? w - tw : x0; /* inside the picture when it fits */
        if (tx < 0) tx = 0;
        vt_draw_fill_rect(pic, w, h, tx, ty, tx + tw, ty + th - 1, col);
        vt_draw_text(pic, w, h, tx + 1, ty + 1, text, dark, scale);
    }
    vitc_status s = vt_png_write(path, w, h, 3, pic);
    free(pic);
    return s;
}

static void print_json(const char *file, int w, int h, const char *pic, const vitc_detection *d, int n,
                       const vitc_model *m) {
    vt_strbuf sb = {0};
    vt_json_detect(&sb, m, file, w, h, pic, d, n);
    printf("%s\n", sb.failed ? "{\"error\":\"out of memory\"}" : sb.data);
    vt_strbuf_free(&sb);
}

int cmd_detect(int argc, char **argv) {
    vt_model_opts mo;
    enum { OWN = 4 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    const char *out_dir = NULL;
    int json = 0, top = 100;
    float threshold = 0.5f;
    vt_option own[OWN] = {
        {"threshold", VT_OPT_FLOAT, &threshold, "keep detections scoring above this, 0..1 (default 0.5)", 0},
        {"top", VT_OPT_INT, &top, "at most this many detections per image, best first (default 100)", 0},
        {"json", VT_OPT_FLAG, &json, "print one JSON object per image: its detections (index, label, score, box)", 0},
        {"out", VT_OPT_STRING, &out_dir, "write DIR/<stem>.detections.png: the image with the boxes and labels", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[4096];
    int npos;
    int r = vt_parse_args("detect",
                          "vitc detect MODEL IMAGE... [--threshold T] [--top K] [--json] [--out DIR]\n"
                          "Object detection with a YOLOS model (a Hugging Face YolosForObjectDetection checkpoint with\n"
                          "its config.json, or a model of vitc train --task detect): the image preprocessed as the\n"
                          "model says, one prediction per detection token, then Hugging Face's post-processing\n"
                          "(softmax, the best class other than \"no object\", scores above the threshold). Boxes are\n"
                          "[x0, y0, x1, y1] in the image's pixels, best score first. Labels from the config's\n"
                          "id2label, the model's metadata or --labels.",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, 4096, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) {
        fprintf(stderr, "vitc detect: needs a MODEL and at least one IMAGE (see vitc detect --help)\n");
        return 2;
    }
    if (!(threshold >= 0.0f && threshold <= 1.0f)) {
        fprintf(stderr, "vitc detect: --threshold must be between 0 and 1\n");
        return 2;
    }
    if (top < 1) {
        fprintf(stderr, "vitc detect: --top must be positive\n");
        return 2;
    }
    if (out_dir && !*out_dir) {
        fprintf(stderr, "vitc detect: --out needs a folder\n");
        return 2;
    }
    if (out_dir && vt_cli_stems_collide("detect", pos + 1, npos - 1)) return 2;
    vitc_model *m = vt_model_opts_load("detect", pos[0], &mo, opts);
    if (!m) return 1;
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    if (strcmp(info.task, "detect")) {
        fprintf(stderr, "vitc detect: %s is a %s model, not a detection model (use vitc %s)\n", pos[0],
                !strcmp(info.task, "segment") ? "segmentation" : "classification", info.task);
        vitc_model_free(m);
        return 1;
    }
    if (vt_model_opts_preprocess("detect", m, &mo, opts, &m->pre)) {
        vitc_model_free(m);
        return 2;
    }
    if (out_dir && vt_cli_make_dirs(out_dir)) {
        fprintf(stderr, "vitc detect: cannot make the folder %s\n", out_dir);
        vitc_model_free(m);
        return 1;
    }
    int rc = 0;
    vitc_detection *dets = malloc(sizeof *dets * (size_t)top);
    if (!dets) {
        fprintf(stderr, "vitc detect: out of memory\n");
        rc = 1;
    }
    for (int i = 1; i < npos && !rc; i++) {
        const char *file = pos[i];
        vitc_image *im = NULL;
        if (vitc_image_load(file, &im)) {
            fprintf(stderr, "vitc detect: %s\n", vitc_last_error());
            rc = 1;
            break;
        }
        int n = 0;
        char stem[256], pic_path[4400];
        vitc_status s = vitc_model_detect(m, im, threshold, dets, top, &n);
        if (!s && out_dir) {
            vt_cli_file_stem(file, stem, sizeof stem);
            snprintf(pic_path, sizeof pic_path, "%s/%s.detections.png", out_dir, stem);
            s = write_picture(pic_path, im, dets, n, m);
        }
        if (s) {
            fprintf(stderr, "vitc detect: %s: %s\n", file, s == VITC_ERR_NOMEM ? "out of memory" : vitc_last_error());
            rc = 1;
        } else if (json) {
            print_json(file, vitc_image_width(im), vitc_image_height(im), out_dir ? pic_path : NULL, dets, n, m);
        } else {
            printf("%s: %d detection%s%s%s\n", file, n, n == 1 ? "" : "s", out_dir ? " -> " : "", out_dir ? pic_path : "");
            for (int k = 0; k < n; k++) {
                char buf[32];
                printf("  %-20s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", label_or_class(m, dets[k].label, buf, sizeof buf),
                       (double)dets[k].score, (double)dets[k].box[0], (double)dets[k].box[1], (double)dets[k].box[2],
                       (double)dets[k].box[3]);
            }
        }
        vitc_image_free(im);
    }
    free(dets);
    vitc_model_free(m);
    return rc;
}
