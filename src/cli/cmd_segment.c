/* vitc segment MODEL IMAGE... [--out DIR] [--overlay] [--json]: per image an 8-bit class-index
 * PNG of the original image's size (DIR/<stem>.mask.png: the scores mapped back through the
 * preprocessing's resize and crop, then the per-pixel arg max), optionally a colour overlay with a
 * legend of the classes present (DIR/<stem>.overlay.png), and the class areas. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "image/draw.h"
#include "image/image.h"
#include "model/model.h"
#include "vitc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The overlay: the image with each class's pixels blended towards its palette colour and a legend
 * of the classes present (background left out). */
static vitc_status write_overlay(const char *path, const vitc_image *im, const uint8_t *mask, const int64_t *area,
                                 const vitc_model *m, int C, float alpha) {
    int w = vitc_image_width(im), h = vitc_image_height(im);
    uint8_t *pic = malloc((size_t)w * h * 3), *leg = NULL;
    int *entries = malloc(sizeof(int) * (size_t)C), n = 0, lw, lh;
    const char **names = malloc(sizeof(char *) * (size_t)C);
    if (!pic || !entries || !names) {
        free(pic), free(entries), free(names);
        return VITC_ERR_NOMEM;
    }
    memcpy(pic, vitc_image_pixels(im), (size_t)w * h * 3);
    vt_draw_blend_mask(pic, w, h, mask, alpha);
    for (int k = 1; k < C; k++)
        if (area[k]) entries[n] = k, names[n++] = vitc_model_label(m, k);
    vitc_status s = vt_draw_legend(pic, w, h, entries, n, names, &leg, &lw, &lh);
    if (!s) s = vt_png_write(path, lw, lh, 3, leg);
    free(pic), free(leg), free(entries), free(names);
    return s;
}

int cmd_segment(int argc, char **argv) {
    vt_model_opts mo;
    enum { OWN = 4 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    const char *out_dir = ".";
    int overlay = 0, json = 0;
    float alpha = 0.5f;
    vt_option own[OWN] = {
        {"out", VT_OPT_STRING, &out_dir, "folder for the outputs (default .; created when missing)", 0},
        {"overlay", VT_OPT_FLAG, &overlay, "also write <stem>.overlay.png: the classes in colour over the image", 0},
        {"alpha", VT_OPT_FLOAT, &alpha, "opacity of the overlay's colours, 0..1 (default 0.5)", 0},
        {"json", VT_OPT_FLAG, &json, "print one JSON object per image: the files and every class's area", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[4096];
    int npos;
    int r = vt_parse_args("segment",
                          "vitc segment MODEL IMAGE... [--out DIR] [--overlay] [--alpha A] [--json]\n"
                          "Writes DIR/<image stem>.mask.png per image: an 8-bit gray PNG of the image's own size whose\n"
                          "values are class indices (the model's per-patch scores upsampled bilinearly through the\n"
                          "preprocessing's resize and crop onto the image, then the arg max). --overlay adds\n"
                          "<stem>.overlay.png: a fixed palette blended over the image with a legend of the classes\n"
                          "present. Prints the class areas (pixels and fractions). The model must be a segmentation\n"
                          "model (vitc train --task segment); IMAGE is a JPEG, PNG or PPM/PGM file.",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, 4096, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) {
        fprintf(stderr, "vitc segment: needs a MODEL and at least one IMAGE (see vitc segment --help)\n");
        return 2;
    }
    if (!out_dir || !*out_dir) {
        fprintf(stderr, "vitc segment: --out needs a folder\n");
        return 2;
    }
    if (!(alpha >= 0.0f && alpha <= 1.0f)) {
        fprintf(stderr, "vitc segment: --alpha must be between 0 and 1\n");
        return 2;
    }
    if (vt_cli_stems_collide("segment", pos + 1, npos - 1)) return 2;
    vitc_model *m = vt_model_opts_load("segment", pos[0], &mo, opts);
    if (!m) return 1;
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    if (strcmp(info.task, "segment")) {
        fprintf(stderr, "vitc segment: %s is a %s model, not a segmentation model (use vitc %s)\n", pos[0],
                !strcmp(info.task, "detect") ? "detection" : "classification", info.task);
        vitc_model_free(m);
        return 1;
    }
    if (vt_model_opts_preprocess("segment", m, &mo, opts, &m->pre)) {
        vitc_model_free(m);
        return 2;
    }
    if (vt_cli_make_dirs(out_dir)) {
        fprintf(stderr, "vitc segment: cannot make the folder %s\n", out_dir);
        vitc_model_free(m);
        return 1;
    }
    int C = info.num_classes, rc = 0;
    int64_t *area = malloc(sizeof(int64_t) * (size_t)C);
    for (int i = 1; i < npos && area && !rc; i++) {
        const char *file = pos[i];
        vitc_image *im = NULL;
        uint8_t *mask = NULL;
        if (vitc_image_load(file, &im)) {
            fprintf(stderr, "vitc segment: %s\n", vitc_last_error());
            rc = 1;
            break;
        }
        int w = vitc_image_width(im), h = vitc_image_height(im);
        char stem[256], mask_path[4400], over_path[4400];
        vt_cli_file_stem(file, stem, sizeof stem);
        snprintf(mask_path, sizeof mask_path, "%s/%s.mask.png", out_dir, stem);
        snprintf(over_path, sizeof over_path, "%s/%s.overlay.png", out_dir, stem);
        vitc_status s = (mask = malloc((size_t)w * h)) ? vitc_model_segment_image(m, im, NULL, mask) : VITC_ERR_NOMEM;
        if (!s) {
            memset(area, 0, sizeof(int64_t) * (size_t)C);
            for (size_t p = 0; p < (size_t)w * h; p++) area[mask[p]]++;
            s = vt_png_write(mask_path, w, h, 1, mask);
            if (!s && overlay && (s = write_overlay(over_path, im, mask, area, m, C, alpha)))
                unlink(mask_path); /* the image's outputs come together or not at all */
        }
        if (s) {
            fprintf(stderr, "vitc segment: %s: %s\n", file, s == VITC_ERR_NOMEM ? "out of memory" : vitc_last_error());
            rc = 1;
        } else if (json) {
            vt_strbuf sb = {0};
            vt_json_segment(&sb, m, file, w, h, mask_path, overlay ? over_path : NULL, area, C);
            printf("%s\n", sb.data);
            vt_strbuf_free(&sb);
        } else {
            printf("%s: %s%s%s (%dx%d)", file, mask_path, overlay ? ", " : "", overlay ? over_path : "", w, h);
            const char *sep = ":";
            for (int c = 0; c < C; c++)
                if (area[c]) {
                    const char *lab = vitc_model_label(m, c);
                    printf("%s %s %.1f%%", sep, lab ? lab : "?", 100.0 * (double)area[c] / ((double)w * h));
                    sep = ",";
                }
            printf("\n");
        }
        free(mask);
        vitc_image_free(im);
    }
    if (!area) {
        fprintf(stderr, "vitc segment: out of memory\n");
        rc = 1;
    }
    free(area);
    vitc_model_free(m);
    return rc;
}
