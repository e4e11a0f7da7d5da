#include "cli/model_opts.h"
#include "core/npy.h"

#include <stdio.h>
#include <string.h>

void vt_model_opts_bind(vt_model_opts *o, vt_option *opts) {
    memset(o, 0, sizeof *o);
    vt_option shared[VT_MODEL_OPTS_COUNT] = {
        {"heads", VT_OPT_INT, &o->heads, "attention heads when the checkpoint does not say (default dim/64)", 0},
        {"labels", VT_OPT_STRING, &o->labels, "class names, one per line", 0},
        {"config", VT_OPT_STRING, &o->config, "Hugging Face config.json (default: beside the weights)", 0},
        {"threads", VT_OPT_INT, &o->threads, "threads (default $VITC_NUM_THREADS or all cores)", 0},
        {"size", VT_OPT_INT, &o->size, "input size (default: the model's)", 0},
        {"crop-pct", VT_OPT_FLOAT, &o->crop_pct, "center crop fraction (default: the model's)", 0},
        {"interp", VT_OPT_STRING, &o->interp, "bicubic or bilinear (default: the model's)", 0},
        {"mean", VT_OPT_FLOAT3, o->mean, "normalization mean R,G,B (default: the model's)", 0},
        {"std", VT_OPT_FLOAT3, o->std, "normalization std R,G,B (default: the model's)", 0},
        {"squash", VT_OPT_FLAG, &o->squash, "resize both sides instead of the shorter one", 0},
        {"int8", VT_OPT_FLAG, &o->int8, "the blocks' Linear layers in int8 (per-token dynamic quantization)", 0},
        {"int8-attention", VT_OPT_FLAG, &o->int8_attn, "attention's Q.K^T and P.V in int8 too (an int8 model)", 0},
    };
    memcpy(opts, shared, sizeof shared);
}

int vt_parse_interp(const char *s, vitc_interp *out) {
    if (!strcmp(s, "bicubic")) *out = VITC_INTERP_BICUBIC;
    else if (!strcmp(s, "bilinear")) *out = VITC_INTERP_BILINEAR;
    else return -1;
    return 0;
}

vitc_model *vt_model_opts_load(const char *command, const char *path, const vt_model_opts *o, const vt_option *opts) {
    if (opts[0].seen && o->heads <= 0) {
        fprintf(stderr, "vitc %s: --heads must be positive\n", command);
        return NULL;
    }
    if (opts[3].seen && o->threads <= 0) {
        fprintf(stderr, "vitc %s: --threads must be positive\n", command);
        return NULL;
    }
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = o->heads;
    lp.labels_path = o->labels;
    lp.config_path = o->config;
    lp.threads = o->threads;
    vitc_model *m;
    if (vitc_model_load(path, &lp, &m) != VITC_OK) {
        fprintf(stderr, "vitc %s: %s\n", command, vitc_last_error());
        return NULL;
    }
    if ((o->int8 && vitc_model_set_int8(m, 1)) || (o->int8_attn && vitc_model_set_int8_attention(m, 1))) {
        fprintf(stderr, "vitc %s: %s\n", command, vitc_last_error());
        vitc_model_free(m);
        return NULL;
    }
    return m;
}

int vt_model_opts_preprocess(const char *command, const vitc_model *m, const vt_model_opts *o, const vt_option *opts,
                             vitc_preprocess_params *p) {
    if (m) {
        vitc_model_info info;
        vitc_model_get_info(m, &info);
        *p = info.preprocess;
    } else {
        *p = vitc_preprocess_default_params();
    }
    if (opts[4].seen) {
        if (o->size <= 0 || o->size > 8192) {
            fprintf(stderr, "vitc %s: --size must be between 1 and 8192\n", command);
            return 2;
        }
        p->size = o->size;
    }
    if (opts[5].seen) {
        if (!(o->crop_pct > 0.0f && o->crop_pct <= 10.0f)) {
            fprintf(stderr, "vitc %s: --crop-pct must be in (0, 10]\n", command);
            return 2;
        }
        p->crop_pct = o->crop_pct;
    }
    if (opts[6].seen && vt_parse_interp(o->interp, &p->interp)) {
        fprintf(stderr, "vitc %s: --interp must be bicubic or bilinear, not '%s'\n", command, o->interp);
        return 2;
    }
    if (opts[7].seen) memcpy(p->mean, o->mean, sizeof p->mean);
    if (opts[8].seen) {
        if (o->std[0] == 0 || o->std[1] == 0 || o->std[2] == 0) {
            fprintf(stderr, "vitc %s: --std values must be non-zero\n", command);
            return 2;
        }
        memcpy(p->std, o->std, sizeof p->std);
    }
    if (opts[9].seen) p->squash = 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int vt_cli_read_input(const char *command, const char *file, int in_chans, const vitc_preprocess_params *pp,
                      float *scratch, vt_cli_input_fn emit, void *ctx) {
    if (ends_with(file, ".npy")) {
        vt_npy a;
        if (vt_npy_read(file, &a) != VITC_OK) {
            fprintf(stderr, "vitc %s: %s\n", command, vitc_last_error());
            return 1;
        }
        int four = a.ndim == 4, rc = 0;
        if (!(a.ndim == 3 || four) || a.shape[four] != in_chans) {
            fprintf(stderr, "vitc %s: %s: expected a float32 array of %d x H x W or N x %d x H x W\n", command, file,
                    in_chans, in_chans);
            vt_npy_free(&a);
            return 1;
        }
        int n = four ? (int)a.shape[0] : 1, h = (int)a.shape[1 + four], w = (int)a.shape[2 + four];
        for (int k = 0; k < n && !rc; k++)
            rc = emit(ctx, file, four ? k : -1, a.data + (size_t)k * in_chans * h * w, h, w);
        vt_npy_free(&a);
        return rc;
    }
    if (in_chans != 3) {
        fprintf(stderr, "vitc %s: %s: the model takes %d channels; give it a preprocessed .npy\n", command, file,
                in_chans);
        return 1;
    }
    vitc_image *im;
    if (vitc_image_load(file, &im) != VITC_OK) {
        fprintf(stderr, "vitc %s: %s\n", command, vitc_last_error());
        return 1;
    }
    vitc_status s = vitc_preprocess(im, pp, scratch);
    vitc_image_free(im);
    if (s != VITC_OK) {
        fprintf(stderr, "vitc %s: %s: %s\n", command, file, vitc_last_error());
        return 1;
    }
    return emit(ctx, file, -1, scratch, pp->size, pp->size);
}
