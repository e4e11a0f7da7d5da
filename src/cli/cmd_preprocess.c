/* vitc preprocess IMAGE [--model MODEL] [options] --out x.npy: the model input tensor (float32 3 x N x N). */
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "core/npy.h"
#include "vitc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_preprocess(int argc, char **argv) {
    vt_model_opts mo;
    const char *out_path = NULL, *model_path = NULL;
    vt_option opts[VT_MODEL_OPTS_COUNT + 2];
    vt_model_opts_bind(&mo, opts);
    opts[VT_MODEL_OPTS_COUNT] = (vt_option){"model", VT_OPT_STRING, &model_path,
                                            "take the preprocessing from this model (flags still override)", 0};
    opts[VT_MODEL_OPTS_COUNT + 1] = (vt_option){"out", VT_OPT_STRING, &out_path, "output .npy file (required)", 0};
    const char *pos[1];
    int n_pos = 0;
    int r = vt_parse_args("preprocess",
                          "vitc preprocess IMAGE [--model MODEL] [--size N] [--crop-pct F] [--interp bicubic|bilinear] "
                          "[--mean R,G,B] [--std R,G,B] [--squash] --out x.npy\n"
                          "defaults without --model: 224, crop_pct 0.9, bicubic, mean = std = 0.5 (timm ViT augreg)",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + 2, pos, 1, &n_pos);
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
    vitc_model *model = NULL;
    if (model_path && !(model = vt_model_opts_load("preprocess", model_path, &mo, opts))) return 1;
    vitc_preprocess_params p;
    r = vt_model_opts_preprocess("preprocess", model, &mo, opts, &p);
    vitc_model_free(model);
    if (r) return r;

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
