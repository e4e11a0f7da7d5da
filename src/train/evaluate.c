/* Accuracy and confusion matrix of a model (or an ensemble of models) on a dataset, each model with
 * its own preprocessing. */
#include "core/error.h"
#include "model/layers.h"
#include "model/model.h"
#include "train/data.h"

#include <math.h>
#include <stdlib.h>

/* Mirrors n images of chans x S x S left to right, in place. */
static void flip_images(float *img, int n, int chans, int S) {
    for (size_t r = 0; r < (size_t)n * chans * S; r++) {
        float *row = img + r * S;
        for (int x = 0; x < S / 2; x++) {
            float t = row[x];
            row[x] = row[S - 1 - x];
            row[S - 1 - x] = t;
        }
    }
}

vitc_status vt_evaluate(vitc_model *const *models, int n_models, const vt_dataset *d, int batch,
                        const int *label_map, int tta_flip, int64_t *confusion, double *loss) {
    if (n_models < 1) return vt_error(VITC_ERR_ARG, "evaluation needs a model");
    const vt_vit_config *c = &models[0]->cfg;
    int C = c->num_classes, chans = c->in_chans, S = d->h, views = tta_flip ? 2 : 1;
    if (d->h != d->w) return vt_error(VITC_ERR_SHAPE, "evaluation needs square images");
    if (d->c == 3 && chans != 3) return vt_error(VITC_ERR_SHAPE, "RGB images for a %d-channel model", chans);
    for (int e = 1; e < n_models; e++)
        if (models[e]->cfg.num_classes != C || models[e]->cfg.in_chans != chans || models[e]->cfg.img_size != c->img_size)
            return vt_error(VITC_ERR_SHAPE,
                            "ensemble model %d has %d classes, %d channels and %d px images; the first %d, %d and %d",
                            e + 1, models[e]->cfg.num_classes, models[e]->cfg.in_chans, models[e]->cfg.img_size, C,
                            chans, c->img_size);
    /* one model, one view: the arg max of the logits (the probabilities' average needs no softmax) */
    int average = n_models > 1 || tta_flip;
    if (batch <= 0) batch = 64;
    float *img = malloc(sizeof(float) * (size_t)batch * chans * S * S);
    float *logits = malloc(sizeof(float) * (size_t)batch * C);
    double *p = malloc(sizeof(double) * (size_t)batch * C);
    int *idx = malloc(sizeof(int) * (size_t)batch), *lab = malloc(sizeof(int) * (size_t)batch);
    vitc_status s = (img && logits && p && idx && lab) ? VITC_OK : vt_error(VITC_ERR_NOMEM, "out of memory");
    double total = 0.0;
    for (int b0 = 0; b0 < d->n && !s; b0 += batch) {
        int n = d->n - b0 < batch ? d->n - b0 : batch;
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        for (size_t k = 0; k < (size_t)n * C; k++) p[k] = 0.0;
        for (int e = 0; e < n_models && !s; e++) {
            vitc_model *m = models[e];
            vt_dataset_batch(d, idx, n, chans, m->pre.mean, m->pre.std, NULL, 0, 0, img, lab);
            for (int v = 0; v < views && !s; v++) {
                if (v) flip_images(img, n, chans, S);
                vt_forward_out o = {.logits = logits};
                if ((s = vt_vit_forward(m, img, n, S, S, &o))) break;
                if (average)
                    for (int i = 0; i < n; i++) vt_softmax_add(logits + (size_t)i * C, C, 1.0, p + (size_t)i * C);
            }
        }
        for (int i = 0; i < n && !s; i++) {
            int y = label_map ? label_map[lab[i]] : lab[i];
            if (y < 0 || y >= C) {
                s = vt_error(VITC_ERR_SHAPE, "dataset class %d has no counterpart among the model's %d classes", lab[i], C);
                break;
            }
            int best = 0;
            if (!average) {
                const float *z = logits + (size_t)i * C;
                for (int k = 1; k < C; k++)
                    if (z[k] > z[best]) best = k;
                if (loss) total += vt_xent_forward_backward(NULL, z, &y, 1, C, 0.0f);
            } else {
                /* the mean of the views' and models' class probabilities */
                double *q = p + (size_t)i * C;
                for (int k = 1; k < C; k++)
                    if (q[k] > q[best]) best = k;
                double py = q[y] / (n_models * views);
                total -= log(py > 1e-300 ? py : 1e-300);
            }
            confusion[(size_t)y * C + best]++;
        }
    }
    if (loss) *loss = d->n ? total / d->n : 0.0;
    free(img), free(logits), free(p), free(idx), free(lab);
    return s;
}
