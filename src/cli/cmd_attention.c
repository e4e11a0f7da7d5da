/* vitc attention MODEL IMAGE... --out DIR: per image an attention heat map blended over the original
 * image (DIR/<stem>.attention.png) and optionally the raw patch-grid map (DIR/<stem>.attention.npy). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "core/npy.h"
#include "image/draw.h"
#include "image/image.h"
#include "model/layers.h"
#include "vitc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses --head: "mean" (-1) or a head index; returns 0, -1 when neither. */
static int parse_head(const char *s, int *head) {
    if (!strcmp(s, "mean")) {
        *head = -1;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < -1000000 || v > 1000000) return -1;
    *head = (int)v;
    return 0;
}

/* Min-max normalizes n values into out (a constant map gives zeros). */
static void min_max(const float *in, float *out, size_t n) {
    float lo = in[0], hi = in[0];
    for (size_t i = 1; i < n; i++) {
        if (in[i] < lo) lo = in[i];
        if (in[i] > hi) hi = in[i];
    }
    float span = hi - lo;
    for (size_t i = 0; i < n; i++) out[i] = span > 0.0f ? (in[i] - lo) / span : 0.0f;
}

int cmd_attention(int argc, char **argv) {
    vt_model_opts mo;
    const char *out_dir = NULL, *head_s = "mean";
    int rollout = 0, npy = 0;
    float alpha = 0.6f;
    enum { OWN = 5 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    vt_option own[OWN] = {
        {"out", VT_OPT_STRING, &out_dir, "directory for the outputs (created if missing; required)", 0},
        {"head", VT_OPT_STRING, &head_s, "a head index 0..heads-1, or mean (default: the mean over the heads)", 0},
        {"rollout", VT_OPT_FLAG, &rollout, "attention rollout over all blocks instead of the last block's attention", 0},
        {"npy", VT_OPT_FLAG, &npy, "also write the raw map (gh x gw float32) as <stem>.attention.npy", 0},
        {"alpha", VT_OPT_FLOAT, &alpha, "opacity of the heat map over the image, 0..1 (default 0.6)", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[4096];
    int npos;
    int r = vt_parse_args(
        "attention",
        "vitc attention MODEL IMAGE... --out DIR [--head H|mean] [--rollout] [--npy] [--alpha A]\n"
        "Writes DIR/<image stem>.attention.png per image: where the model looks, as a heat map (min-max\n"
        "normalized, upsampled onto the original image through the preprocessing's resize and crop)\n"
        "blended over the original image. The map is the last block's attention of the class token's\n"
        "query to the patches (prefix tokens left out); for models without a class token, the mean over\n"
        "the patch queries of their attention to the patches. --rollout: attention rollout (Abnar &\n"
        "Zuidema 2020): per block the head-mean attention plus the identity, rows renormalized,\n"
        "multiplied over the blocks; --head H uses head H instead of the mean (in every block).\n"
        "IMAGE is a JPEG, PNG or PPM/PGM file.",
        argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, 4096, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) {
        fprintf(stderr, "vitc attention: needs a MODEL and at least one IMAGE (see vitc attention --help)\n");
        return 2;
    }
    if (!out_dir || !*out_dir) {
        fprintf(stderr, "vitc attention: --out DIR is required\n");
        return 2;
    }
    int head;
    if (parse_head(head_s, &head) || head < -1) {
        fprintf(stderr, "vitc attention: --head must be a head index or 'mean', not '%s'\n", head_s);
        return 2;
    }
    if (!(alpha >= 0.0f && alpha <= 1.0f)) {
        fprintf(stderr, "vitc attention: --alpha must be between 0 and 1\n");
        return 2;
    }
    if (vt_cli_stems_collide("attention", pos + 1, npos - 1)) return 2;
    vitc_model *m = vt_model_opts_load("attention", pos[0], &mo, opts);
    if (!m) return 1;
    vitc_preprocess_params pp;
    if (vt_model_opts_preprocess("attention", m, &mo, opts, &pp)) {
        vitc_model_free(m);
        return 2;
    }
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    if (head >= info.heads) {
        fprintf(stderr, "vitc attention: --head %d out of range: the model has %d heads (0..%d, or mean)\n", head,
                info.heads, info.heads - 1);
        vitc_model_free(m);
        return 2;
    }
    if (info.in_chans != 3) {
        fprintf(stderr, "vitc attention: %s: the model takes %d channels; attention maps need RGB images\n", pos[0],
                info.in_chans);
        vitc_model_free(m);
        return 1;
    }
    if (pp.size % info.patch_size) {
        fprintf(stderr, "vitc attention: input size %d is not a multiple of the patch size %d\n", pp.size,
                info.patch_size);
        vitc_model_free(m);
        return 2;
    }
    if (vt_cli_make_dirs(out_dir)) {
        fprintf(stderr, "vitc attention: cannot create the output directory %s: %s\n", out_dir, strerror(errno));
        vitc_model_free(m);
        return 1;
    }
    int P = info.patch_size, gh = pp.size / P, gw = pp.size / P;
    size_t N = (size_t)gh * gw;
    float *input = malloc(sizeof(float) * 3 * (size_t)pp.size * pp.size);
    float *grid = malloc(sizeof(float) * N), *norm = malloc(sizeof(float) * N);
    int rc = (!input || !grid || !norm) ? 1 : 0;
    if (rc) fprintf(stderr, "vitc attention: out of memory\n");
    for (int i = 1; i < npos && !rc; i++) {
        const char *file = pos[i];
        vitc_image *im = NULL;
        float *up = NULL;
        uint8_t *pic = NULL;
        rc = 1;
        if (vitc_image_load(file, &im) != VITC_OK) {
            fprintf(stderr, "vitc attention: %s\n", vitc_last_error());
            break;
        }
        int w = vitc_image_width(im), h = vitc_image_height(im);
        vt_pre_geom g;
        if (vitc_preprocess(im, &pp, input) || vt_preprocess_geometry(&pp, w, h, &g) ||
            vitc_model_attention(m, input, 1, pp.size, pp.size, head, rollout, grid)) {
            fprintf(stderr, "vitc attention: %s: %s\n", file, vitc_last_error());
        } else if (!(up = malloc(sizeof(float) * (size_t)w * h)) || !(pic = malloc((size_t)w * h * 3))) {
            fprintf(stderr, "vitc attention: %s: out of memory\n", file);
        } else {
            /* original pixel x sits at resized coordinate (x + 0.5) rw / w, i.e. at model-input
             * coordinate that minus cx0, i.e. at grid coordinate that over P */
            min_max(grid, norm, N);
            vt_bilinear_planes(up, norm, 1, gh, gw, h, w, (double)g.rh / ((double)h * P), -(double)g.cy0 / P,
                               (double)g.rw / ((double)w * P), -(double)g.cx0 / P);
            memcpy(pic, vitc_image_pixels(im), (size_t)w * h * 3);
            vt_draw_blend_heatmap(pic, w, h, up, alpha);
            char stem[256], png_path[4400], npy_path[4400];
            vt_cli_file_stem(file, stem, sizeof stem);
            snprintf(png_path, sizeof png_path, "%s/%s.attention.png", out_dir, stem);
            snprintf(npy_path, sizeof npy_path, "%s/%s.attention.npy", out_dir, stem);
            int64_t shape[2] = {gh, gw};
            if (vt_png_write(png_path, w, h, 3, pic)) {
                fprintf(stderr, "vitc attention: %s\n", vitc_last_error());
            } else if (npy && vt_npy_write(npy_path, grid, 2, shape)) {
                fprintf(stderr, "vitc attention: %s\n", vitc_last_error());
                unlink(png_path); /* the image's outputs come as a pair */
            } else {
                rc = 0;
            }
        }
        free(pic);
        free(up);
        vitc_image_free(im);
    }
    free(input);
    free(grid);
    free(norm);
    vitc_model_free(m);
    return rc;
}
