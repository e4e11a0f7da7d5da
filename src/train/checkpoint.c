/* Checkpoints (model + AdamW moments + step) and adapting a loaded model for training. */
#include "core/error.h"
#include "core/json.h"
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_NAME "optim.exp_avg."
#define V_NAME "optim.exp_avg_sq."
#define E_NAME "optim.ema."

/* the k-th optimizer tensor family: moments, second moments, the weights' EMA */
static const char *family_name(int k) { return k == 0 ? M_NAME : k == 1 ? V_NAME : E_NAME; }
static float *family_buf(const vt_trainer *t, int k) { return k == 0 ? t->adam_m : k == 1 ? t->adam_v : t->ema; }

vitc_status vt_trainer_save(const vt_trainer *t, const char *path, const char *extra_json) {
    int n = t->n_params, fams = t->ema ? 3 : 2;
    vt_st_write_tensor *ts = calloc((size_t)fams * n, sizeof *ts);
    char *names = calloc((size_t)fams * n, 128);
    vt_strbuf meta = {0};
    const vt_train_hparams *h = &t->hp;
    vt_strbuf_printf(&meta,
                     "{\"step\":%lld,\"hparams\":{\"lr\":%.9g,\"min_lr\":%.9g,\"weight_decay\":%.9g,\"beta1\":%.9g,"
                     "\"beta2\":%.9g,\"eps\":%.9g,\"clip\":%.9g,\"label_smoothing\":%.9g,\"ema_decay\":%.9g,"
                     "\"drop_path\":%.9g,\"layer_decay\":%.9g,\"sam_rho\":%.9g,\"seed\":%lld,\"warmup_steps\":%lld,\"total_steps\":%lld}%s%s}",
                     (long long)t->step, (double)h->lr, (double)h->min_lr, (double)h->weight_decay, (double)h->beta1,
                     (double)h->beta2, (double)h->eps, (double)h->clip, (double)h->label_smoothing,
                     (double)(t->ema ? h->ema_decay : 0.0f), (double)h->drop_path, (double)h->layer_decay, (double)h->sam_rho, (long long)(int64_t)h->seed,
                     (long long)h->warmup_steps, (long long)h->total_steps,
                     extra_json && *extra_json ? "," : "",
                     extra_json ? extra_json : "");
    vitc_status s;
    if (!ts || !names || meta.failed) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    } else {
        for (int i = 0; i < n; i++) {
            const vt_param *p = &t->params[i];
            for (int k = 0; k < fams; k++) {
                char *nm = names + (size_t)(fams * i + k) * 128;
                snprintf(nm, 128, "%s%s", family_name(k), p->name);
                vt_st_write_tensor *w = &ts[fams * i + k];
                w->name = nm;
                w->ndim = p->ndim;
                for (int d = 0; d < p->ndim; d++) w->shape[d] = p->shape[d];
                w->data = family_buf(t, k) + t->offsets[i];
            }
        }
        const char *key = "vitc.train", *val = meta.data;
        s = vt_model_save_ex(t->m, path, ts, fams * n, &key, &val, 1);
    }
    free(ts);
    free(names);
    vt_strbuf_free(&meta);
    return s;
}

static char **copy_labels(const vitc_model *src, int want) {
    if (!src->labels || src->n_labels != want) return NULL;
    char **l = calloc((size_t)want, sizeof *l);
    if (!l) return NULL;
    for (int i = 0; i < want; i++) l[i] = strdup(src->labels[i] ? src->labels[i] : "");
    return l;
}

/* small seeded generator for a fresh head */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float trunc_normal(uint64_t *s, double std) {
    for (;;) {
        double u = ((mix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0), v = ((mix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
        double x = sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
        if (x >= -2.0 && x <= 2.0) return (float)(x * std);
    }
}

vitc_status vt_model_adapt(vitc_model *src, const vt_vit_config *cfg, uint64_t seed, vitc_model **out) {
    *out = NULL;
    const vt_vit_config *sc = &src->cfg;
    if (cfg->dim != sc->dim || cfg->depth != sc->depth || cfg->patch != sc->patch ||
        vt_patch_kernel(cfg) != vt_patch_kernel(sc) || cfg->in_chans != sc->in_chans ||
        cfg->mlp_dim != sc->mlp_dim || vt_prefix_tokens(cfg) != vt_prefix_tokens(sc))
        return vt_error(VITC_ERR_ARG, "the new configuration must keep the architecture of the initial model");
    /* detection tokens are kept, added or dropped, not resized */
    if (sc->det_tokens && cfg->det_tokens && sc->det_tokens != cfg->det_tokens)
        return vt_error(VITC_ERR_ARG, "the initial model has %d detection tokens, the new one %d", sc->det_tokens,
                        cfg->det_tokens);
    vitc_model *m;
    vitc_status s = vt_model_new(cfg, &m);
    if (s) return s;
    vt_param *dst_t, *src_t;
    int nd = vt_param_table(&m->cfg, &m->w, &dst_t), ns = vt_param_table(sc, &src->w, &src_t);
    if (nd < 0 || ns < 0) {
        free(nd >= 0 ? dst_t : NULL);
        free(ns >= 0 ? src_t : NULL);
        vitc_model_free(m);
        return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    int gs = cfg->img_size / cfg->patch;
    const float *pos = vt_model_pos_embed(src, gs, gs);
    uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 12345;
    s = VITC_OK;
    for (int i = 0; i < nd && !s; i++) {
        vt_param *p = &dst_t[i];
        float *d = *p->slot;
        const vt_param *q = NULL;
        for (int j = 0; j < ns; j++)
            if (!strcmp(src_t[j].name, p->name)) q = &src_t[j];
        int is_head = !strncmp(p->name, "head", 4) || !strncmp(p->name, "decoder.", 8) ||
                      !strncmp(p->name, "det_head.", 9);
        /* YOLOS' new parameters from a classifier: detection tokens and mid position embeddings
         * (trunc normal 0.02, as YOLOS initializes them) */
        int is_det_new = !q && (!strcmp(p->name, "det_token") || !strcmp(p->name, "mid_pos_embed"));
        /* a segmentation model's final norm from a classifier that normalized its pooled features */
        if (!q && !strncmp(p->name, "norm.", 5) && sc->fc_norm) {
            char alt[160];
            snprintf(alt, sizeof alt, "fc_%s", p->name);
            for (int j = 0; j < ns; j++)
                if (!strcmp(src_t[j].name, alt)) q = &src_t[j];
        }
        if (!strcmp(p->name, "pos_embed")) {
            /* the source's rows ([prefix, grid], and its detection tokens' when it has as many);
             * rows for new detection tokens drawn as the tokens themselves; a detector's backbone
             * for a model without detection tokens keeps [prefix, grid] */
            int64_t keep = (int64_t)(vt_pos_len(cfg) - cfg->det_tokens) * cfg->dim;
            if (sc->det_tokens == cfg->det_tokens) keep = p->numel;
            if (!pos) s = vt_error(VITC_ERR_NOMEM, "out of memory resampling position embeddings");
            else memcpy(d, pos, sizeof(float) * (size_t)keep);
            for (int64_t k = keep; k < p->numel && !s; k++) d[k] = trunc_normal(&rng, 0.02);
        } else if (q && cfg->rel_pos_bias && sc->rel_pos_bias && q->numel != p->numel &&
                   strstr(p->name, ".attn.relative_position_bias_table")) {
            /* BEiT fine-tuned at another size: the table resampled as its library does (timm's
             * checkpoint_filter_fn, HF's interpolation) */
            if (p->numel != (int64_t)vt_rel_pos_rows(vt_pos_grid_h(cfg), vt_pos_grid_w(cfg)) * sc->heads ||
                cfg->heads != sc->heads)
                s = vt_error(VITC_ERR_SHAPE, "%s: the initial model's heads differ", p->name);
            else if (vt_rel_table_resample(sc, *q->slot, vt_pos_grid_h(cfg), vt_pos_grid_w(cfg), d))
                s = vt_error(VITC_ERR_NOMEM, "out of memory resampling %s", p->name);
        } else if (is_det_new) {
            for (int64_t k = 0; k < p->numel; k++) d[k] = trunc_normal(&rng, 0.02);
        } else if (q && q->numel == p->numel) {
            memcpy(d, *q->slot, sizeof(float) * (size_t)p->numel);
        } else if (is_head) { /* a new head: timm init (trunc normal 0.02 weights, zero bias, norms 1) */
            int bias = strstr(p->name, ".bias") != NULL;
            int norm_w = !bias && strstr(p->name, "norm") != NULL;
            for (int64_t k = 0; k < p->numel; k++) d[k] = bias ? 0.0f : norm_w ? 1.0f : trunc_normal(&rng, 0.02);
        } else {
            s = vt_error(VITC_ERR_MISSING, "initial model lacks a matching %s", p->name);
        }
    }
    free(dst_t);
    free(src_t);
    if (s) {
        vitc_model_free(m);
        return s;
    }
    m->pre = src->pre;
    m->pre.size = cfg->img_size;
    snprintf(m->source, sizeof m->source, "vitc");
    m->labels = copy_labels(src, cfg->num_classes);
    m->n_labels = m->labels ? cfg->num_classes : 0;
    *out = m;
    return VITC_OK;
}

vitc_status vt_trainer_resume(const char *path, int threads, vt_trainer **out, char **train_json) {
    *out = NULL;
    if (train_json) *train_json = NULL;
    vitc_load_params lp = vitc_load_default_params();
    lp.threads = threads;
    vitc_model *src;
    vitc_status s = vitc_model_load(path, &lp, &src);
    if (!s) s = vt_model_need_float(src, path);
    if (s) {
        vitc_model_free(src);
        return s;
    }
    const char *text = vt_st_meta(src->st, "vitc.train");
    char err[128];
    vt_json *j = text ? vt_json_parse(text, strlen(text), err, sizeof err) : NULL;
    const vt_json *hj = j ? vt_json_get(j, "hparams") : NULL;
    if (!j || j->type != VT_JSON_OBJECT || !hj) {
        vt_json_free(j);
        vitc_model_free(src);
        return vt_error(VITC_ERR_FORMAT, "%s: not a training checkpoint (no valid vitc.train metadata)", path);
    }
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = (float)vt_json_get_number(hj, "lr", hp.lr);
    hp.min_lr = (float)vt_json_get_number(hj, "min_lr", hp.min_lr);
    hp.weight_decay = (float)vt_json_get_number(hj, "weight_decay", hp.weight_decay);
    hp.beta1 = (float)vt_json_get_number(hj, "beta1", hp.beta1);
    hp.beta2 = (float)vt_json_get_number(hj, "beta2", hp.beta2);
    hp.eps = (float)vt_json_get_number(hj, "eps", hp.eps);
    hp.clip = (float)vt_json_get_number(hj, "clip", hp.clip);
    hp.label_smoothing = (float)vt_json_get_number(hj, "label_smoothing", hp.label_smoothing);
    hp.ema_decay = (float)vt_json_get_number(hj, "ema_decay", 0.0);
    hp.drop_path = (float)vt_json_get_number(hj, "drop_path", 0.0);
    hp.layer_decay = (float)vt_json_get_number(hj, "layer_decay", 0.0);
    hp.sam_rho = (float)vt_json_get_number(hj, "sam_rho", 0.0);
    hp.seed = (uint64_t)(int64_t)vt_json_get_number(hj, "seed", 0.0); /* written as a signed integer */
    hp.warmup_steps = (int64_t)vt_json_get_number(hj, "warmup_steps", 0);
    hp.total_steps = (int64_t)vt_json_get_number(hj, "total_steps", 1);
    double step = vt_json_get_number(j, "step", -1);
    vt_json_free(j);
    if (step < 0) {
        vitc_model_free(src);
        return vt_error(VITC_ERR_FORMAT, "%s: vitc.train has no step", path);
    }
    vitc_model *m;
    if ((s = vt_model_adapt(src, &src->cfg, 0, &m))) {
        vitc_model_free(src);
        return s;
    }
    m->pre = src->pre;
    vt_trainer *t;
    if ((s = vt_trainer_new(m, &hp, threads, &t))) {
        vitc_model_free(m);
        vitc_model_free(src);
        return s;
    }
    t->step = (int64_t)step;
    int fams = t->ema ? 3 : 2;
    for (int i = 0; i < t->n_params && !s; i++) {
        for (int k = 0; k < fams && !s; k++) {
            char nm[160];
            snprintf(nm, sizeof nm, "%s%s", family_name(k), t->params[i].name);
            const vt_st_tensor *st = vt_st_find(src->st, nm);
            if (!st) {
                s = vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, nm);
                break;
            }
            if (st->numel != t->params[i].numel) {
                s = vt_error(VITC_ERR_SHAPE, "%s: tensor %s has the wrong size", path, nm);
                break;
            }
            const float *data;
            int owned;
            if ((s = vt_st_to_f32(src->st, st, &data, &owned))) break;
            memcpy(family_buf(t, k) + t->offsets[i], data, sizeof(float) * (size_t)st->numel);
            if (owned) free((void *)data);
        }
    }
    if (!s && train_json) *train_json = strdup(text);
    vitc_model_free(src);
    if (s) {
        vt_trainer_free(t);
        return s;
    }
    *out = t;
    return VITC_OK;
}
