/* Training YOLOS' heads on the detection tokens: the class and box MLPs (Linear, ReLU, Linear,
 * ReLU, Linear) forward and backward side by side, scored by the DETR set loss (detr_loss.c) on the
 * box head's raw outputs (the sigmoid is inside the loss's gradient). The backbone's passes are
 * train.c's. */
#include "core/error.h"
#include "train/detr_loss.h"
#include "train/train_internal.h"
#include "train/train_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One 3-layer MLP's activations: h1 = x W0 + b0, a1 = relu(h1), h2 = a1 W1 + b1, a2 = relu(h2), out. */
typedef struct mlp_acts {
    float *h1, *a1, *h2, *a2, *out, *dout;
} mlp_acts;

struct vt_det_acts {
    int cap;
    float *buf;
    float *dt, *ddt, *dh, *dh2; /* the detection tokens, their gradient, scratch */
    mlp_acts cls, box;
};

void vt_det_acts_free(struct vt_det_acts *s) {
    if (!s) return;
    free(s->buf);
    free(s);
}

static vitc_status ensure_det_acts(vt_trainer *t, int n) {
    struct vt_det_acts *s = t->det;
    if (s && s->cap >= n) return VITC_OK;
    if (!s && !(s = t->det = calloc(1, sizeof *s))) return vt_error(VITC_ERR_NOMEM, "out of memory");
    const vt_vit_config *c = &t->m->cfg;
    size_t rows = (size_t)n * c->det_tokens, D = (size_t)c->dim, C1 = (size_t)c->num_classes + 1;
    size_t per_mlp = 4 * rows * D, total = 4 * rows * D + 2 * per_mlp + 2 * rows * C1 + 2 * rows * 4;
    float *buf = malloc(sizeof(float) * total);
    if (!buf) return vt_error(VITC_ERR_NOMEM, "out of memory for the detection heads (batch %d)", n);
    free(s->buf);
    s->buf = buf;
    s->cap = n;
    float *p = buf;
#define TAKE(k) (p += (k), p - (k))
    s->dt = TAKE(rows * D), s->ddt = TAKE(rows * D), s->dh = TAKE(rows * D), s->dh2 = TAKE(rows * D);
    mlp_acts *m[2] = {&s->cls, &s->box};
    for (int i = 0; i < 2; i++) {
        size_t out = i ? 4 : C1;
        m[i]->h1 = TAKE(rows * D), m[i]->a1 = TAKE(rows * D), m[i]->h2 = TAKE(rows * D), m[i]->a2 = TAKE(rows * D);
        m[i]->out = TAKE(rows * out), m[i]->dout = TAKE(rows * out);
    }
#undef TAKE
    return VITC_OK;
}

static void relu(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void mlp_forward(mlp_acts *a, const float *x, const vt_linear_w *l, int rows, int D, int out) {
    vt_tr_linear_forward(a->h1, x, l[0].w, l[0].b, rows, D, D);
    relu(a->a1, a->h1, (size_t)rows * D);
    vt_tr_linear_forward(a->h2, a->a1, l[1].w, l[1].b, rows, D, D);
    relu(a->a2, a->h2, (size_t)rows * D);
    vt_tr_linear_forward(a->out, a->a2, l[2].w, l[2].b, rows, D, out);
}

/* From a->dout: the three layers' parameter gradients, and d(x) added into dx. dh, dh2: scratch. */
static void mlp_backward(const mlp_acts *a, const float *x, const vt_linear_w *l, vt_linear_w *g, int rows, int D,
                         int out, float *dx, float *dh, float *dh2) {
    size_t RD = (size_t)rows * D;
    vt_tr_linear_backward(dh, g[2].w, g[2].b, a->dout, a->a2, l[2].w, rows, D, out, 0.0f);
    for (size_t i = 0; i < RD; i++) dh[i] = a->h2[i] > 0.0f ? dh[i] : 0.0f;
    vt_tr_linear_backward(dh2, g[1].w, g[1].b, dh, a->a1, l[1].w, rows, D, D, 0.0f);
    for (size_t i = 0; i < RD; i++) dh2[i] = a->h1[i] > 0.0f ? dh2[i] : 0.0f;
    vt_tr_linear_backward(dx, g[0].w, g[0].b, dh2, x, l[0].w, rows, D, D, 1.0f);
}

vitc_status vt_trainer_forward_backward_det(vt_trainer *t, const float *images, int n, const int *n_targets,
                                            const int *target_class, const float *target_box, vt_detr_losses *losses,
                                            float *logits_out, float *boxes_out) {
    const vt_vit_config *c = &t->m->cfg;
    const vt_vit_weights *w = &t->m->w;
    vt_vit_weights *g = &t->g;
    if (c->task != VT_TASK_DETECT) return vt_error(VITC_ERR_ARG, "training step: boxes for a %s model", vt_task_name(c->task));
    if (n <= 0 || !images || !n_targets) return vt_error(VITC_ERR_ARG, "training step: empty batch");
    int64_t n_total = 0;
    for (int b = 0; b < n; b++) {
        if (n_targets[b] < 0 || n_targets[b] > c->det_tokens)
            return vt_error(VITC_ERR_ARG, "training step: image %d has %d targets, not 0..%d (detection tokens)", b,
                            n_targets[b], c->det_tokens);
        n_total += n_targets[b];
    }
    if (n_total && (!target_class || !target_box))
        return vt_error(VITC_ERR_ARG, "training step: %lld targets without their classes or boxes", (long long)n_total);
    vitc_status st = vt_trainer_prepare(t, n);
    if (!st) st = ensure_det_acts(t, n);
    if (st) return st;
    struct vt_det_acts *s = t->det;
    int gs = c->img_size / c->patch, Q = c->det_tokens, T = gs * gs + vt_prefix_tokens(c) + Q, D = c->dim;
    int C1 = c->num_classes + 1, rows = n * Q;

    const float *tok = vt_trainer_backbone_forward(t, images, n);
    for (int b = 0; b < n; b++) /* the detection tokens are the last Q of each image */
        memcpy(s->dt + (size_t)b * Q * D, tok + ((size_t)b * T + T - Q) * D, sizeof(float) * (size_t)Q * D);
    mlp_forward(&s->cls, s->dt, w->det_class, rows, D, C1);
    mlp_forward(&s->box, s->dt, w->det_box, rows, D, 4);

    vt_detr_params p = vt_detr_params_default();
    vt_detr_batch db = {n, Q, c->num_classes, s->cls.out, s->box.out, 0, n_targets, target_class, target_box,
                       t->det_norm_images, t->det_norm_boxes};
    vt_detr_losses l;
    if ((st = vt_detr_loss(&p, &db, &l, s->cls.dout, s->box.dout, NULL))) return st;
    if (losses) *losses = l;
    if (logits_out) memcpy(logits_out, s->cls.out, sizeof(float) * (size_t)rows * C1);
    if (boxes_out)
        for (size_t i = 0; i < (size_t)rows * 4; i++) boxes_out[i] = 1.0f / (1.0f + expf(-s->box.out[i]));

    /* ---- backward */
    float *dtok = vt_trainer_token_grad(t, n);
    memset(s->ddt, 0, sizeof(float) * (size_t)rows * D);
    mlp_backward(&s->cls, s->dt, w->det_class, g->det_class, rows, D, C1, s->ddt, s->dh, s->dh2);
    mlp_backward(&s->box, s->dt, w->det_box, g->det_box, rows, D, 4, s->ddt, s->dh, s->dh2);
    for (int b = 0; b < n; b++)
        memcpy(dtok + ((size_t)b * T + T - Q) * D, s->ddt + (size_t)b * Q * D, sizeof(float) * (size_t)Q * D);
    vt_trainer_backbone_backward(t, n);
    return VITC_OK;
}
