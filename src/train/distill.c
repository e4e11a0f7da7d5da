/* Teachers for knowledge distillation: their labels of a training batch. */
#include "train/distill.h"
#include "core/error.h"
#include "model/layers.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vitc_status vt_teachers_open(vt_teachers *tc, const char *list, const vitc_model *student, int threads,
                             vt_distill_kind kind) {
    memset(tc, 0, sizeof *tc);
    tc->kind = kind;
    tc->classes = student->cfg.num_classes;
    if (!list || !*list) return vt_error(VITC_ERR_ARG, "no teacher model given");
    int count = 1;
    for (const char *p = list; *p; p++) count += *p == ',';
    tc->models = calloc((size_t)count, sizeof *tc->models);
    if (!tc->models) return vt_error(VITC_ERR_NOMEM, "out of memory");
    vitc_load_params lp = vitc_load_default_params();
    lp.threads = threads;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t L = e ? (size_t)(e - p) : strlen(p);
        char path[4096];
        if (!L || L >= sizeof path) {
            vt_teachers_free(tc);
            return vt_error(VITC_ERR_ARG, "teacher list '%.200s': an empty or overlong file name", list);
        }
        memcpy(path, p, L);
        path[L] = 0;
        vitc_model *m;
        vitc_status s = vitc_model_load(path, &lp, &m);
        if (s) {
            char why[512];
            snprintf(why, sizeof why, "%s", vitc_last_error());
            vt_teachers_free(tc);
            return vt_error(s, "teacher: %s", why);
        }
        tc->models[tc->n++] = m;
        /* the list again with absolute names, for the checkpoint: a resumed run finds them anywhere */
        char full[PATH_MAX];
        const char *name = realpath(path, full) ? full : path;
        size_t had = tc->paths ? strlen(tc->paths) : 0;
        char *grown = realloc(tc->paths, had + strlen(name) + 2);
        if (!grown) {
            vt_teachers_free(tc);
            return vt_error(VITC_ERR_NOMEM, "out of memory");
        }
        tc->paths = grown;
        snprintf(tc->paths + had, strlen(name) + 2, "%s%s", had ? "," : "", name);
        const char *why = NULL;
        if (m->cfg.num_classes != tc->classes) why = "classifies into another number of classes than the student";
        else if (!vt_model_labels_agree(m, student)) why = "names its classes differently from the student";
        else if (m->cfg.in_chans != student->cfg.in_chans) why = "takes another number of channels than the student";
        if (why) {
            vitc_status bad = vt_error(VITC_ERR_SHAPE, "teacher %s %s", path, why);
            vt_teachers_free(tc);
            return bad;
        }
        p += L;
        if (*p == ',') p++;
    }
    return VITC_OK;
}

void vt_teachers_free(vt_teachers *tc) {
    for (int e = 0; e < tc->n; e++) vitc_model_free(tc->models[e]);
    free(tc->models), free(tc->paths), free(tc->images), free(tc->logits), free(tc->acc);
    memset(tc, 0, sizeof *tc);
}

vitc_status vt_teachers_targets(vt_teachers *tc, const float *images, int n, int chans, int h, int w,
                                const float mean[3], const float std[3], float *out) {
    int C = tc->classes;
    size_t plane = (size_t)h * w, img = (size_t)chans * plane;
    if (n > tc->cap) {
        free(tc->images), free(tc->logits), free(tc->acc);
        tc->images = malloc(sizeof(float) * (size_t)n * img);
        tc->logits = malloc(sizeof(float) * (size_t)n * C);
        tc->acc = malloc(sizeof(double) * (size_t)n * C);
        tc->cap = tc->images && tc->logits && tc->acc ? n : 0;
        if (!tc->cap) return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < (size_t)n * C; k++) tc->acc[k] = 0.0;
    for (int e = 0; e < tc->n; e++) {
        vitc_model *m = tc->models[e];
        const float *x = images;
        if (memcmp(m->pre.mean, mean, sizeof(float) * 3) || memcmp(m->pre.std, std, sizeof(float) * 3)) {
            /* x * std + mean undoes the student's normalization; the teacher's is then applied */
            x = tc->images;
            for (int i = 0; i < n; i++)
                for (int ch = 0; ch < chans; ch++) {
                    int k = ch < 3 ? ch : 2;
                    float a = std[k] / m->pre.std[k], b = (mean[k] - m->pre.mean[k]) / m->pre.std[k];
                    const float *src = images + (size_t)i * img + (size_t)ch * plane;
                    float *dst = tc->images + (size_t)i * img + (size_t)ch * plane;
                    for (size_t p = 0; p < plane; p++) dst[p] = src[p] * a + b;
                }
        }
        vt_forward_out o = {.logits = tc->logits};
        vitc_status s = vt_vit_forward(m, x, n, h, w, &o);
        if (s) return s;
        for (int i = 0; i < n; i++) vt_softmax_add(tc->logits + (size_t)i * C, C, 1.0, tc->acc + (size_t)i * C);
    }
    for (int i = 0; i < n; i++) {
        const double *q = tc->acc + (size_t)i * C;
        float *o = out + (size_t)i * C;
        int best = 0;
        for (int k = 1; k < C; k++)
            if (q[k] > q[best]) best = k;
        for (int k = 0; k < C; k++)
            o[k] = tc->kind == VT_DISTILL_HARD ? (float)(k == best) : (float)(q[k] / tc->n);
    }
    return VITC_OK;
}

vitc_status vt_teachers_label_dataset(vt_teachers *tc, const vt_dataset *d, int chans, const float mean[3],
                                      const float std[3], float *out) {
    enum { CHUNK = 256 };
    float *img = malloc(sizeof(float) * (size_t)CHUNK * chans * d->h * d->w);
    int *idx = malloc(sizeof(int) * CHUNK), *lab = malloc(sizeof(int) * CHUNK);
    vitc_status s = img && idx && lab ? VITC_OK : vt_error(VITC_ERR_NOMEM, "out of memory");
    for (int b0 = 0; b0 < d->n && !s; b0 += CHUNK) {
        int n = d->n - b0 < CHUNK ? d->n - b0 : CHUNK;
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        vt_dataset_batch(d, idx, n, chans, mean, std, NULL, 0, 0, img, lab);
        s = vt_teachers_targets(tc, img, n, chans, d->h, d->w, mean, std, out + (size_t)b0 * tc->classes);
    }
    free(img), free(idx), free(lab);
    return s;
}

void vt_teachers_rows(const float *labels, const int *idx, int n, int classes, int mixed, double lam, float *out) {
    for (int i = 0; i < n; i++) {
        const float *a = labels + (size_t)idx[i] * classes, *b = labels + (size_t)idx[n - 1 - i] * classes;
        float *o = out + (size_t)i * classes;
        for (int k = 0; k < classes; k++) o[k] = mixed ? (float)(lam * a[k] + (1.0 - lam) * b[k]) : a[k];
    }
}

void vt_onehot_smooth(float *q, const int *labels, int n, int classes, float eps) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < classes; k++)
            q[(size_t)i * classes + k] = (k == labels[i] ? 1.0f - eps : 0.0f) + eps / (float)classes;
}

void vt_distill_blend(float *q, const float *teacher, int n, int classes, float alpha) {
    for (size_t k = 0; k < (size_t)n * classes; k++) q[k] = (1.0f - alpha) * q[k] + alpha * teacher[k];
}
