/* int8 model files: writing the blocks' Linear weights quantized (vitc_model_save_int8), static
 * quantization's calibration, and reading such files' tensors back (vt_q8_bind). */
#include "core/error.h"
#include "core/json.h"
#include "model/model.h"
#include "model/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const q8_roles[4] = {"attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"};

int vt_q8_param_index(const char *name, int depth, int *layer, int *which) {
    int l, end = 0;
    if (sscanf(name, "blocks.%d.%n", &l, &end) != 1 || !end || l < 0 || l >= depth) return 0;
    for (int j = 0; j < 4; j++) {
        size_t n = strlen(q8_roles[j]);
        if (!strncmp(name + end, q8_roles[j], n) && !strcmp(name + end + n, ".weight")) {
            *layer = l, *which = j;
            return 1;
        }
    }
    return 0;
}

static void q8_dims(const vt_vit_config *c, int which, int *N, int *K) {
    int D = c->dim;
    *N = which == VT_Q8_QKV ? 3 * D : which == VT_Q8_FC1 ? vt_fc1_rows(c) : D;
    *K = which == VT_Q8_FC2 ? c->mlp_dim : D;
}

vitc_status vitc_model_calibrate(vitc_model *m, const float *images, int n, int height, int width, int reset) {
    if (m->int8) return vt_error(VITC_ERR_ARG, "calibration runs the float model (this one is int8)");
    size_t slots = (size_t)(m->cfg.depth ? m->cfg.depth : 1) * 4;
    if (!m->calib || reset) {
        free(m->calib);
        if (!(m->calib = calloc(slots, sizeof(float)))) return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    if (n == 0) return VITC_OK; /* a reset only */
    vt_forward_out out = {0};
    float *feat = malloc(sizeof(float) * (size_t)n * m->cfg.dim);
    if (!feat) return vt_error(VITC_ERR_NOMEM, "out of memory");
    out.features = feat;
    m->calibrating = 1;
    vitc_status s = vt_vit_forward(m, images, n, height, width, &out);
    m->calibrating = 0;
    free(feat);
    return s;
}

vitc_status vitc_model_save_int8(vitc_model *m, const char *path, int static_scales) {
    const vt_vit_config *c = &m->cfg;
    if (m->q8src) return vt_error(VITC_ERR_UNSUPPORTED, "the model is already quantized: quantize its float file");
    if (c->depth <= 0) return vt_error(VITC_ERR_UNSUPPORTED, "a model without blocks has nothing to quantize");
    if (static_scales) {
        if (!m->calib) return vt_error(VITC_ERR_ARG, "static quantization needs calibration images first");
        for (int i = 0; i < c->depth * 4; i++)
            if (!(m->calib[i] > 0.0f) || !isfinite(m->calib[i]))
                return vt_error(VITC_ERR_ARG, "calibration gave no usable range for blocks.%d.%s", i / 4, q8_roles[i % 4]);
    }
    int L = c->depth, per = static_scales ? 3 : 2;
    vt_st_write_tensor *ex = calloc((size_t)L * 4 * per, sizeof *ex);
    int8_t **qbuf = calloc((size_t)L * 4, sizeof *qbuf);
    float **sbuf = calloc((size_t)L * 4, sizeof *sbuf), *in_scale = calloc((size_t)L * 4, sizeof(float));
    char(*names)[3][112] = calloc((size_t)L * 4, sizeof *names);
    vitc_status s = VITC_OK;
    if (!ex || !qbuf || !sbuf || !in_scale || !names) s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    int k = 0;
    for (int l = 0; l < L && !s; l++) {
        const vt_block_w *b = &m->w.blocks[l];
        const float *W[4] = {b->qkv.w, b->proj.w, b->fc1.w, b->fc2.w};
        for (int j = 0; j < 4 && !s; j++) {
            int i = l * 4 + j, N, K;
            q8_dims(c, j, &N, &K);
            qbuf[i] = malloc((size_t)N * K), sbuf[i] = malloc(sizeof(float) * (size_t)N);
            if (!qbuf[i] || !sbuf[i]) {
                s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            for (int r = 0; r < N; r++) sbuf[i][r] = vt_q8_quantize_row(qbuf[i] + (size_t)r * K, W[j] + (size_t)r * K, K);
            snprintf(names[i][0], sizeof names[i][0], "blocks.%d.%s.weight", l, q8_roles[j]);
            snprintf(names[i][1], sizeof names[i][1], "blocks.%d.%s.weight_scale", l, q8_roles[j]);
            snprintf(names[i][2], sizeof names[i][2], "blocks.%d.%s.input_scale", l, q8_roles[j]);
            ex[k++] = (vt_st_write_tensor){.name = names[i][0], .ndim = 2, .shape = {N, K}, .data_i8 = qbuf[i]};
            ex[k++] = (vt_st_write_tensor){.name = names[i][1], .ndim = 1, .shape = {N}, .data = sbuf[i]};
            if (static_scales) {
                in_scale[i] = m->calib[i] / 127.0f;
                ex[k++] = (vt_st_write_tensor){.name = names[i][2], .ndim = 1, .shape = {1}, .data = &in_scale[i]};
            }
        }
    }
    if (!s) {
        const char *key = "vitc.quant";
        char val[160];
        snprintf(val, sizeof val, "{\"scheme\":\"int8\",\"weights\":\"per-channel symmetric\",\"activations\":\"%s\"%s}",
                 static_scales ? "static" : "dynamic", m->int8_attn ? ",\"attention\":\"int8\"" : "");
        const char *vp = val;
        s = vt_model_save_ex(m, path, ex, k, &key, &vp, 1);
    }
    for (int i = 0; qbuf && sbuf && i < L * 4; i++) free(qbuf[i]), free(sbuf[i]);
    free(ex), free(qbuf), free(sbuf), free(in_scale), free(names);
    return s;
}

vitc_status vt_model_need_float(const vitc_model *m, const char *what) {
    if (m && m->q8src)
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: a quantized (int8) model cannot be trained, averaged or saved as float; "
                                              "use the float model it was made from", what ? what : "model");
    return VITC_OK;
}

/* ---- loading */

vitc_status vt_q8_begin(vitc_model *m, const char *meta_json) {
    const char *path = m->st->path;
    char err[128];
    vt_json *j = vt_json_parse(meta_json, strlen(meta_json), err, sizeof err);
    const char *scheme = j ? vt_json_get_string(j, "scheme", NULL) : NULL;
    const char *act = j ? vt_json_get_string(j, "activations", NULL) : NULL;
    const char *att = j ? vt_json_get_string(j, "attention", "float") : NULL;
    int mode = act && !strcmp(act, "dynamic") ? 1 : act && !strcmp(act, "static") ? 2 : 0;
    int att8 = att && !strcmp(att, "int8");
    int ok = scheme && !strcmp(scheme, "int8") && mode && att && (att8 || !strcmp(att, "float"));
    vt_json_free(j);
    if (!ok) return vt_error(VITC_ERR_FORMAT, "%s: vitc.quant metadata is not a known int8 scheme", path);
    if (!(m->q8src = calloc((size_t)(m->cfg.depth ? m->cfg.depth : 1) * 4, sizeof *m->q8src)))
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    m->int8 = mode, m->int8_attn = att8;
    return VITC_OK;
}

/* A float tensor of exactly n values, all finite and > 0 (scales). */
static vitc_status positive_vector(vitc_model *m, const char *name, int64_t n, const float **out) {
    const char *path = m->st->path;
    const vt_st_tensor *t = vt_st_find(m->st, name);
    if (!t) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    if (t->dtype != VT_DTYPE_F32 || t->numel != n)
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be F32 with %lld values", path, name, (long long)n);
    const float *v;
    vitc_status s = vt_model_tensor_f32(m, t, &v);
    if (s) return s;
    for (int64_t i = 0; i < n; i++)
        if (!(v[i] > 0.0f) || !isfinite(v[i]))
            return vt_error(VITC_ERR_FORMAT, "%s: tensor %s has a scale that is not finite and positive (%g at %lld)",
                            path, name, (double)v[i], (long long)i);
    *out = v;
    return VITC_OK;
}

vitc_status vt_q8_bind(vitc_model *m, const char *name, int layer, int which, float **slot) {
    const char *path = m->st->path;
    const vt_st_tensor *t = vt_st_find(m->st, name);
    int N, K;
    q8_dims(&m->cfg, which, &N, &K);
    if (!t) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    if (t->dtype != VT_DTYPE_I8 || t->ndim != 2 || t->shape[0] != N || t->shape[1] != K)
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be I8 of shape (%d,%d) in a quantized file", path, name, N, K);
    for (int64_t i = 0; i < t->numel; i++)
        if ((int8_t)t->data[i] == -128)
            return vt_error(VITC_ERR_FORMAT, "%s: tensor %s holds -128 (symmetric int8 is -127..127)", path, name);
    vt_q8_src *src = &m->q8src[layer * 4 + which];
    char sname[128];
    snprintf(sname, sizeof sname, "%s_scale", name);
    vitc_status s = positive_vector(m, sname, N, &src->scale);
    if (s) return s;
    if (m->int8 == 2) {
        const float *in;
        snprintf(sname, sizeof sname, "blocks.%d.%s.input_scale", layer, q8_roles[which]);
        if ((s = positive_vector(m, sname, 1, &in))) return s;
        src->in_scale = in[0];
    }
    src->q = (const int8_t *)t->data;
    *slot = NULL; /* no float copy: inference uses the int8 tensor, training and saving refuse */
    return VITC_OK;
}
