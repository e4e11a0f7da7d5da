/* Options shared by the commands that load a model and preprocess images. */
#ifndef VT_CLI_MODEL_OPTS_H
#define VT_CLI_MODEL_OPTS_H

#include "cli/args.h"
#include "vitc.h"

typedef struct vt_model_opts {
    int heads, threads, size, squash, int8, int8_attn;
    float crop_pct;
    const char *labels, *config, *interp;
    float mean[3], std[3];
} vt_model_opts;

#define VT_MODEL_OPTS_COUNT 12
/* Fills opts[0..VT_MODEL_OPTS_COUNT) with the shared options bound to o. */
void vt_model_opts_bind(vt_model_opts *o, vt_option *opts);
/* Loads the model with the load-time options; prints a one-line error and returns NULL on failure. */
vitc_model *vt_model_opts_load(const char *command, const char *path, const vt_model_opts *o, const vt_option *opts);
/* The model's preprocessing with the flags given on the command line applied on top.
 * Returns 0, or prints a one-line error and returns 2. */
int vt_model_opts_preprocess(const char *command, const vitc_model *m, const vt_model_opts *o, const vt_option *opts,
                             vitc_preprocess_params *p);
/* Parses "bicubic" / "bilinear"; returns 0 on success. */
int vt_parse_interp(const char *s, vitc_interp *out);

/* One input of a model command: a float32 .npy taken as preprocessed (C x H x W, or N x C x H x W:
 * N tensors), else an image loaded and preprocessed with pp into scratch (3 x size x size floats;
 * models with other than 3 channels take .npy only). emit gets each tensor (sub: its index in a 4-D
 * .npy, -1 otherwise). Returns 0, emit's non-zero result, or 1 after a one-line error. */
typedef int (*vt_cli_input_fn)(void *ctx, const char *file, int sub, const float *x, int h, int w);
int vt_cli_read_input(const char *command, const char *file, int in_chans, const vitc_preprocess_params *pp,
                      float *scratch, vt_cli_input_fn emit, void *ctx);

#endif
