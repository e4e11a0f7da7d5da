/* Accuracy and confusion matrix of a model on a dataset, with the model's own preprocessing. */
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

/* Softmax of z[0..C) into p, in double (the flip average is taken over probabilities). */
static void softmax_d(const float *z, int C, double *p) {
    float mx = z[0];
    for (int k = 1; k < C; k++) mx = z[k] > mx ? z[k] : mx;
    double sum = 0.0;
    for (int k = 0; k < C; k++) sum += p[k] = exp((double)z[k] - mx);
    for (int k = 0; k < C; k++) p[k] /= sum;
}

vitc_status vt_evaluate(vitc_model *m, const vt_dataset *d, int batch, const int *label_map, int tta_flip,
                        int64_t *confusion, double *loss) {
    const vt_vit_config *c = &m->cfg;
    int C = c->num_classes, chans = c->in_chans, S = d->h;
    if (d->h != d->w) return vt_error(VITC_ERR_SHAPE, "evaluation needs square images");
    if (d->c == 3 && chans != 3) return vt_error(VITC_ERR_SHAPE, "RGB images for a %d-channel model", chans);
    if (batch <= 0) batch = 64;
    float *img = malloc(sizeof(float) * (size_t)batch * chans * S * S);
    float *logits = malloc(sizeof(float) * (size_t)batch * C * (tta_flip ? 2 : 1));
    double *p = malloc(sizeof(double) * (size_t)C * 2);
    int *idx = malloc(sizeof(int) * (size_t)batch), *lab = malloc(sizeof(int) * (size_t)batch);
    vitc_status s = (img && logits && p && idx && lab) ? VITC_OK : vt_error(VITC_ERR_NOMEM, "out of memory");
    double total = 0.0;
    for (int b0 = 0; b0 < d->n && !s; b0 += batch) {
        int n = d->n - b0 < batch ? d->n - b0 : batch;
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        vt_dataset_batch(d, idx, n, chans, m->pre.mean, m->pre.std, NULL, 0, 0, img, lab);
        vt_forward_out o = {.logits = logits};
        if ((s = vt_vit_forward(m, img, n, S, S, &o))) break;
        if (tta_flip) {
            flip_images(img, n, chans, S);
            vt_forward_out of = {.logits = logits + (size_t)batch * C};
            if ((s = vt_vit_forward(m, img, n, S, S, &of))) break;
        }
        for (int i = 0; i < n; i++) {
            int y = label_map ? label_map[lab[i]] : lab[i];
            if (y < 0 || y >= C) {
                s = vt_error(VITC_ERR_SHAPE, "dataset class %d has no counterpart among the model's %d classes", lab[i], C);
                break;
            }
            const float *z = logits + (size_t)i * C;
            int best = 0;
            if (!tta_flip) {
                for (int k = 1; k < C; k++)
                    if (z[k] > z[best]) best = k;
                if (loss) total += vt_xent_forward_backward(NULL, z, &y, 1, C, 0.0f);
            } else {
                /* the mean of the two views' class probabilities */
                softmax_d(z, C, p);
                softmax_d(logits + (size_t)(batch + i) * C, C, p + C);
                for (int k = 0; k < C; k++) p[k] = 0.5 * (p[k] + p[C + k]);
                for (int k = 1; k < C; k++)
                    if (p[k] > p[best]) best = k;
                total -= log(p[y] > 1e-300 ? p[y] : 1e-300);
            }
            confusion[(size_t)y * C + best]++;
        }
    }
    if (loss) *loss = d->n ? total / d->n : 0.0;
    free(img), free(logits), free(p), free(idx), free(lab);
    return s;
}
