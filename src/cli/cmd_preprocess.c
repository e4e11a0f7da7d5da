/* vitc preprocess IMAGE [options] --out x.npy: the model input tensor (float32 3 x N x N). */
#include "cli/args.h"
#include "cli/commands.h"
#include "core/npy.h"
#include "vitc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_preprocess(int argc, char **argv) {
    vitc_preprocess_params p = vitc_preprocess_default_params();
    const char *out_path = NULL, *interp = NULL;
    int squash = 0;
    vt_option opts[] = {
        {"size", VT_OPT_INT, &p.size, "output size N (N x N; default 224)", 0},
        {"crop-pct", VT_OPT_FLOAT, &p.crop_pct, "resize to floor(N / F) then center-crop N (default 0.9)", 0},
        {"interp", VT_OPT_STRING, &interp, "bicubic or bilinear (default bicubic)", 0},
        {"mean", VT_OPT_FLOAT3, p.mean, "per-channel mean (default 0.5,0.5,0.5)", 0},
        {"std", VT_OPT_FLOAT3, p.std, "per-channel std (default 0.5,0.5,0.5)", 0},
        {"squash", VT_OPT_FLAG, &squash, "resize both sides instead of the shorter one", 0},
        {"out", VT_OPT_STRING, &out_path, "output .npy file (required)", 0},
    };
    const int n_opts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int n_pos = 0;
    int r = vt_parse_args("preprocess", "vitc preprocess IMAGE [options] --out x.npy", argc, argv, opts, n_opts, pos,
                          1, &n_pos);
    if (r == 1) return 0;
    if (r) return 2;
    if (n_pos != 1) {
        fprintf(stderr, "vitc preprocess: expected one IMAGE argument (see vitc preprocess --help)\n");
        return 2;
    }
    if (!out_path) {
        fprintf(stderr, "vitc preprocess: --out is required (see vitc preprocess --help)\n");
        return 2;
    }
    /* A future --model MODEL option goes here: it replaces p with the model's preprocessing
     * (vitc_model_get_info(...).preprocess) before the explicit options below override it. */
    if (interp) {
        if (!strcmp(interp, "bicubic"))
            p.interp = VITC_INTERP_BICUBIC;
        else if (!strcmp(interp, "bilinear"))
            p.interp = VITC_INTERP_BILINEAR;
        else {
            fprintf(stderr, "vitc preprocess: invalid value '%s' for option '--interp' (bicubic or bilinear)\n",
                    interp);
            return 2;
        }
    }
    if (squash) p.squash = 1;
    if (p.size < 1 || p.size > 8192) {
        fprintf(stderr, "vitc preprocess: --size must be between 1 and 8192\n");
        return 2;
    }
    if (!(p.crop_pct > 0.0f && p.crop_pct <= 10.0f)) {
        fprintf(stderr, "vitc preprocess: --crop-pct must be in (0, 10]\n");
        return 2;
    }
    for (int c = 0; c < 3; c++)
        if (p.std[c] == 0.0f) {
            fprintf(stderr, "vitc preprocess: --std values must be non-zero\n");
            return 2;
        }

    vitc_image *img = NULL;
    vitc_status st = vitc_image_load(pos[0], &img);
    if (st != VITC_OK) {
        fprintf(stderr, "vitc preprocess: %s\n", vitc_last_error());
        return 1;
    }
    size_t n = (size_t)3 * (size_t)p.size * (size_t)p.size;
    float *x = malloc(n * sizeof(float));
    if (!x) {
        vitc_image_free(img);
        fprintf(stderr, "vitc preprocess: %s: out of memory\n", pos[0]);
        return 1;
    }
    st = vitc_preprocess(img, &p, x);
    vitc_image_free(img);
    if (st != VITC_OK) {
        free(x);
        fprintf(stderr, "vitc preprocess: %s: %s\n", pos[0], vitc_last_error());
        return 1;
    }
    int64_t shape[3] = {3, p.size, p.size};
    st = vt_npy_write(out_path, x, 3, shape);
    free(x);
    if (st != VITC_OK) {
        fprintf(stderr, "vitc preprocess: %s\n", vitc_last_error());
        return 1;
    }
    return 0;
}
