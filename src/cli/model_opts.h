/* Options shared by the commands that load a model and preprocess images. */
#ifndef VT_CLI_MODEL_OPTS_H
#define VT_CLI_MODEL_OPTS_H

#include "cli/args.h"
#include "vitc.h"

typedef struct vt_model_opts {
    int heads, threads, size, squash;
    float crop_pct;
    const char *labels, *config, *interp;
    float mean[3], std[3];
} vt_model_opts;

#define VT_MODEL_OPTS_COUNT 10
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

#endif
