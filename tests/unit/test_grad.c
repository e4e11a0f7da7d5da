/* Finite-difference gradient checks of every backward pass.
 *
 * Each check compares the analytic gradient with a central difference (f(x+hu) - f(x-hu)) / 2h
 * along random directions u (per-tensor directional derivatives, so float32 round-off averages
 * out), and for the single layers also element by element on a few entries. The scalar f is a
 * fixed random projection of the layer's output, accumulated in double.
 * Tolerance: |analytic - numeric| <= REL * max(|analytic|, |numeric|) + ABS with REL = 2e-2,
 * ABS = 2e-4 (float32 forward passes; steps h = min(1e-2, 3e-2/sqrt(n)) along directions with
 * entries uniform in [-1, 1], 1e-2 * max(1, |x|) for single entries). */
#include "check.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "train/train.h"

#define REL 2e-2
#define ABS 2e-4

static uint64_t rng_state = 42;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * frand();
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static int close_enough(double a, double n) {
    return fabs(a - n) <= REL * fmax(fabs(a), fabs(n)) + ABS;
}

static double worst_rel = 0.0;
static void note(double a, double n) {
    double r = fabs(a - n) / (fmax(fabs(a), fabs(n)) + 1e-12);
    if (fabs(a - n) > ABS && r > worst_rel) worst_rel = r;
}

/* ---------------------------------------------------------------- single layers */

typedef double (*scalar_fn)(void *ctx); /* f at the current inputs */

/* directional check of the gradient grad of f with respect to x[n] */
static void check_dir(const char *what, scalar_fn f, void *ctx, float *x, const float *grad, size_t n, int trials) {
    float *u = malloc(sizeof(float) * n), *x0 = malloc(sizeof(float) * n);
    memcpy(x0, x, sizeof(float) * n);
    for (int t = 0; t < trials; t++) {
        fill(u, n, 1.0f);
        double h = fmin(1e-2, 3e-2 / sqrt((double)n)); /* a step of about the same length in every tensor */
        for (size_t i = 0; i < n; i++) x[i] = x0[i] + (float)h * u[i];
        double fp = f(ctx);
        for (size_t i = 0; i < n; i++) x[i] = x0[i] - (float)h * u[i];
        double fm = f(ctx);
        memcpy(x, x0, sizeof(float) * n);
        double num = (fp - fm) / (2 * h), an = dot(grad, u, n);
        note(an, num);
        CHECK(close_enough(an, num), "%s: direction %d analytic %.6g numeric %.6g", what, t, an, num);
    }
    /* a few single entries */
    for (int t = 0; t < 3; t++) {
        size_t i = (size_t)((frand() + 1.0f) * 0.5f * (float)n) % n;
        double h = 1e-2 * fmax(1.0, fabs(x0[i]));
        x[i] = x0[i] + (float)h;
        double fp = f(ctx);
        x[i] = x0[i] - (float)h;
        double fm = f(ctx);
        x[i] = x0[i];
        double num = (fp - fm) / (2 * h);
        note(grad[i], num);
        CHECK(close_enough(grad[i], num), "%s: entry %zu analytic %.6g numeric %.6g", what, i, grad[i], num);
    }
    free(u);
    free(x0);
}

typedef struct ln_ctx { float *x, *w, *b, *out, *r; int N, C; } ln_ctx;
static double ln_f(void *p) {
    ln_ctx *c = p;
    vt_layernorm_forward(c->out, NULL, NULL, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return dot(c->out, c->r, (size_t)c->N * c->C);
}
static void test_layernorm(void) {
    int N = 70, C = 24; /* > 64 rows: the threaded path */
    size_t n = (size_t)N * C;
    ln_ctx c = {malloc(4 * n), malloc(4 * C), malloc(4 * C), malloc(4 * n), malloc(4 * n), N, C};
    fill(c.x, n, 2.0f);
    for (int i = 0; i < C; i++) c.w[i] = 1.0f + 0.3f * frand(), c.b[i] = 0.2f * frand();
    fill(c.r, n, 1.0f);
    float *mean = malloc(4 * N), *rstd = malloc(4 * N), *dx = calloc(n, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
    vt_layernorm_forward(c.out, mean, rstd, c.x, c.w, c.b, N, C, 1e-5f);
    vt_layernorm_backward(dx, dw, db, c.r, c.x, c.w, mean, rstd, N, C);
    check_dir("layernorm dx", ln_f, &c, c.x, dx, n, 3);
    check_dir("layernorm dw", ln_f, &c, c.w, dw, (size_t)C, 3);
    check_dir("layernorm db", ln_f, &c, c.b, db, (size_t)C, 3);
    free(c.x), free(c.w), free(c.b), free(c.out), free(c.r), free(mean), free(rstd), free(dx), free(dw), free(db);
}

typedef struct gelu_ctx { float *x, *out, *r; size_t n; } gelu_ctx;
static double gelu_f(void *p) {
    gelu_ctx *c = p;
    vt_gelu_forward(c->out, c->x, c->n);
    return dot(c->out, c->r, c->n);
}
static void test_gelu(void) {
    size_t n = 300;
    gelu_ctx c = {malloc(4 * n), malloc(4 * n), malloc(4 * n), n};
    fill(c.x, n, 4.0f);
    fill(c.r, n, 1.0f);
    float *dx = malloc(4 * n);
    vt_gelu_backward(dx, c.x, c.r, n);
    check_dir("gelu", gelu_f, &c, c.x, dx, n, 3);
    free(c.x), free(c.out), free(c.r), free(dx);
}

typedef struct lin_ctx { float *x, *W, *b, *y, *r; int M, K, N; } lin_ctx;
static double lin_f(void *p) {
    lin_ctx *c = p;
    vt_linear(c->y, c->x, c->W, c->b, c->M, c->K, c->N);
    return dot(c->y, c->r, (size_t)c->M * c->N);
}
static void test_linear(void) {
    int M = 9, K = 13, N = 7;
    lin_ctx c = {malloc(4 * M * K), malloc(4 * N * K), malloc(4 * N), malloc(4 * M * N), malloc(4 * M * N), M, K, N};
    fill(c.x, (size_t)M * K, 1.0f), fill(c.W, (size_t)N * K, 0.5f), fill(c.b, N, 0.5f), fill(c.r, (size_t)M * N, 1.0f);
    float *dx = malloc(4 * M * K), *dW = calloc((size_t)N * K, 4), *db = calloc(N, 4);
    vt_linear_backward(dx, dW, db, c.r, c.x, c.W, M, K, N, 0.0f);
    check_dir("linear dx", lin_f, &c, c.x, dx, (size_t)M * K, 2);
    check_dir("linear dW", lin_f, &c, c.W, dW, (size_t)N * K, 2);
    check_dir("linear db", lin_f, &c, c.b, db, (size_t)N, 2);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.r), free(dx), free(dW), free(db);
}

typedef struct att_ctx { float *qkv, *work, *out, *r; int B, T, D, H; } att_ctx;
static double att_f(void *p) {
    att_ctx *c = p;
    size_t n = (size_t)c->B * c->T * 3 * c->D;
    memcpy(c->work, c->qkv, 4 * n);
    vt_attention_forward(c->out, NULL, c->work, c->B, c->T, c->D, c->H, NULL, NULL, NULL, NULL, 1e-6f);
    return dot(c->out, c->r, (size_t)c->B * c->T * c->D);
}
static void test_attention(void) {
    int B = 2, T = 5, D = 8, H = 2;
    size_t n3 = (size_t)B * T * 3 * D, n = (size_t)B * T * D;
    att_ctx c = {malloc(4 * n3), malloc(4 * n3), malloc(4 * n), malloc(4 * n), B, T, D, H};
    fill(c.qkv, n3, 1.5f), fill(c.r, n, 1.0f);
    float *att = malloc(4 * (size_t)B * H * T * T), *dqkv = malloc(4 * n3);
    memcpy(c.work, c.qkv, 4 * n3);
    vt_attention_forward(c.out, att, c.work, B, T, D, H, NULL, NULL, NULL, NULL, 1e-6f);
    vt_attention_backward(dqkv, c.r, c.work, att, B, T, D, H);
    check_dir("attention dqkv", att_f, &c, c.qkv, dqkv, n3, 4);
    free(c.qkv), free(c.work), free(c.out), free(c.r), free(att), free(dqkv);
}

typedef struct xent_ctx { float *z; int *y; int B, C; float eps; } xent_ctx;
static double xent_f(void *p) {
    xent_ctx *c = p;
    return vt_xent_forward_backward(NULL, c->z, c->y, c->B, c->C, c->eps);
}
static void test_xent(void) {
    int B = 4, C = 6, y[4] = {0, 5, 2, 2};
    xent_ctx c = {malloc(4 * B * C), y, B, C, 0.1f};
    fill(c.z, (size_t)B * C, 3.0f);
    float *dz = malloc(4 * B * C);
    double l = vt_xent_forward_backward(dz, c.z, y, B, C, 0.1f);
    check_dir("cross-entropy (smoothing 0.1)", xent_f, &c, c.z, dz, (size_t)B * C, 3);
    /* a known value: uniform logits give log(C) whatever the smoothing */
    float zero[6] = {0};
    int one = 3;
    CHECK(fabs(vt_xent_forward_backward(NULL, zero, &one, 1, 6, 0.3f) - log(6.0)) < 1e-9, "uniform logits loss");
    CHECK(l > 0, "loss positive");
    free(c.z), free(dz);
}

typedef struct soft_ctx { float *z, *q; int B, C; } soft_ctx;
static double soft_f(void *p) {
    soft_ctx *c = p;
    return vt_xent_soft_forward_backward(NULL, c->z, c->q, c->B, c->C);
}
/* Soft targets (mixup / CutMix): the loss is linear in the targets, so a mixture lam s(a) +
 * (1 - lam) s(b) of smoothed one-hot rows must give lam CE(a) + (1 - lam) CE(b), each CE the
 * hard-label loss checked against PyTorch; and the gradient passes the difference check. */
static void test_xent_soft(void) {
    int B = 4, C = 6, ya[4] = {0, 5, 2, 2}, yb[4] = {3, 5, 1, 4};
    float eps = 0.1f, lam[4] = {0.7f, 0.25f, 1.0f, 0.5f};
    soft_ctx c = {malloc(4 * B * C), malloc(4 * B * C), B, C};
    fill(c.z, (size_t)B * C, 3.0f);
    double want = 0.0;
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < C; k++)
            c.q[b * C + k] = lam[b] * ((k == ya[b] ? 1 - eps : 0) + eps / C) + (1 - lam[b]) * ((k == yb[b] ? 1 - eps : 0) + eps / C);
        want += lam[b] * vt_xent_forward_backward(NULL, c.z + b * C, &ya[b], 1, C, eps) +
                (1 - lam[b]) * vt_xent_forward_backward(NULL, c.z + b * C, &yb[b], 1, C, eps);
    }
    want /= B;
    float *dz = malloc(4 * B * C), *dh = malloc(4 * B * C);
    double l = vt_xent_soft_forward_backward(dz, c.z, c.q, B, C);
    CHECK(fabs(l - want) < 1e-6 * fabs(want), "soft cross-entropy %.9f vs mixture of hard ones %.9f", l, want);
    check_dir("cross-entropy (soft targets)", soft_f, &c, c.z, dz, (size_t)B * C, 3);
    /* one-hot smoothed targets: the same loss and gradient as the hard-label function */
    for (int b = 0; b < B; b++)
        for (int k = 0; k < C; k++) c.q[b * C + k] = (k == ya[b] ? 1 - eps : 0) + eps / C;
    double ls = vt_xent_soft_forward_backward(dz, c.z, c.q, B, C), lh = vt_xent_forward_backward(dh, c.z, ya, B, C, eps);
    float e = 0.0f;
    for (int i = 0; i < B * C; i++) e = fmaxf(e, fabsf(dz[i] - dh[i]));
    CHECK(fabs(ls - lh) < 1e-6 * lh && e < 1e-7f, "soft one-hot targets: loss %.9f vs %.9f, gradient diff %g", ls, lh, e);
    free(c.z), free(c.q), free(dz), free(dh);
}

/* ---------------------------------------------------------------- whole models */

typedef struct model_ctx { vt_trainer *t; float *img; int *y; int n; } model_ctx;
static double model_f(void *p) {
    model_ctx *c = p;
    double loss;
    vt_trainer_forward_backward(c->t, c->img, c->y, c->n, &loss, NULL);
    return loss;
}

static void randomize_params(vitc_model *m) {
    vt_param *tab;
    int np = vt_param_table(&m->cfg, &m->w, &tab);
    for (int i = 0; i < np; i++) {
        float *p = *tab[i].slot;
        const char *nm = tab[i].name;
        for (int64_t j = 0; j < tab[i].numel; j++) {
            if (strstr(nm, "gamma")) p[j] = 0.5f + 0.25f * (frand() + 1.0f);
            else if (strstr(nm, "norm") && strstr(nm, ".weight")) p[j] = 1.0f + 0.2f * frand();
            else if (strstr(nm, "head")) p[j] = 0.6f * frand();
            else if (tab[i].ndim >= 2 && strstr(nm, ".weight")) p[j] = frand() * 1.7f / sqrtf((float)(tab[i].numel / tab[i].shape[0]));
            else p[j] = 0.3f * frand();
        }
    }
    free(tab);
}

/* With drop path the training forward of image b must equal the inference forward of a model whose
 * branch outputs are scaled by that image's factors (proj and fc2 weights and biases times s: 0
 * drops the branch). Returns how many branches were dropped. */
static int check_drop_forward(const char *name, vt_trainer *t, const float *img, const float *lg, int n) {
    const vt_vit_config *c = &t->m->cfg;
    size_t per = (size_t)c->in_chans * c->img_size * c->img_size, D = (size_t)c->dim, Hm = (size_t)c->mlp_dim;
    float *saved = malloc(4 * (size_t)t->numel), li[64];
    memcpy(saved, t->m->param_buf, 4 * (size_t)t->numel);
    int dropped = 0;
    for (int b = 0; b < n; b++) {
        for (int l = 0; l < c->depth; l++)
            for (int br = 0; br < 2; br++) {
                float sc = vt_train_drop_scale(&t->hp, c->depth, t->step, l, br, b);
                dropped += sc == 0.0f;
                vt_linear_w *lw = br ? &t->m->w.blocks[l].fc2 : &t->m->w.blocks[l].proj;
                for (size_t i = 0; i < D * (br ? Hm : D); i++) lw->w[i] *= sc;
                for (size_t i = 0; i < D; i++) lw->b[i] *= sc;
            }
        vt_model_weights_changed(t->m);
        vt_forward_out o = {.logits = li};
        vt_vit_forward(t->m, img + b * per, 1, c->img_size, c->img_size, &o);
        CHECK(max_abs_diff(lg + (size_t)b * c->num_classes, li, (size_t)c->num_classes) < 1e-5f,
              "%s: image %d: training logits vs inference with its drop-path factors", name, b);
        memcpy(t->m->param_buf, saved, 4 * (size_t)t->numel);
        vt_model_weights_changed(t->m);
    }
    free(saved);
    return dropped;
}

static void check_model_dp(const char *name, vt_vit_config *c, float drop_path) {
    vitc_model *m;
    CHECK(vt_model_new(c, &m) == VITC_OK, "%s: model: %s", name, vitc_last_error());
    randomize_params(m);
    vt_train_hparams hp = vt_train_default_hparams();
    hp.label_smoothing = 0.1f;
    hp.drop_path = drop_path;
    hp.seed = 5;
    vt_trainer *t;
    CHECK(vt_trainer_new(m, &hp, 2, &t) == VITC_OK, "%s: trainer: %s", name, vitc_last_error());
    int n = 3, y[3] = {1, 0, c->num_classes - 1};
    size_t ni = (size_t)n * c->in_chans * c->img_size * c->img_size;
    float *img = malloc(4 * ni);
    fill(img, ni, 1.0f);
    double loss;
    CHECK(vt_trainer_forward_backward(t, img, y, n, &loss, NULL) == VITC_OK, "%s: step: %s", name, vitc_last_error());
    float *grad = malloc(4 * (size_t)t->numel);
    memcpy(grad, t->grad, 4 * (size_t)t->numel);
    /* the training forward agrees with the inference forward */
    float *lg = malloc(4 * (size_t)n * c->num_classes), *li = malloc(4 * (size_t)n * c->num_classes);
    vt_trainer_forward_backward(t, img, y, n, &loss, lg);
    int dropped = -1;
    if (drop_path > 0) {
        dropped = check_drop_forward(name, t, img, lg, n);
        CHECK(dropped > 0 && dropped < 2 * n * (c->depth - 1), "%s: %d branches dropped: the check proves nothing", name,
              dropped);
    } else {
        vt_forward_out o = {.logits = li};
        vt_vit_forward(t->m, img, n, c->img_size, c->img_size, &o);
        CHECK(max_abs_diff(lg, li, (size_t)n * c->num_classes) < 1e-5f, "%s: training vs inference logits", name);
    }
    model_ctx ctx = {t, img, y, n};
    int checked = 0;
    for (int i = 0; i < t->n_params; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s: %s", name, t->params[i].name);
        check_dir(what, model_f, &ctx, *t->params[i].slot, grad + t->offsets[i], (size_t)t->params[i].numel, 2);
        checked++;
    }
    printf("  %-34s %3d parameter tensors checked, loss %.4f", name, checked, loss);
    if (dropped >= 0) printf(", %d of %d branches dropped", dropped, 2 * n * c->depth);
    printf("\n");
    free(grad), free(img), free(lg), free(li);
    vt_trainer_free(t);
}

static void check_model(const char *name, vt_vit_config *c) { check_model_dp(name, c, 0.0f); }

static vt_vit_config tiny(void) {
    vt_vit_config c;
    vt_config_defaults(&c);
    snprintf(c.name, sizeof c.name, "tiny");
    c.dim = 16;
    c.depth = 2;
    c.heads = 2;
    c.mlp_dim = 24;
    c.patch = 4;
    c.img_size = 8;
    c.in_chans = 3;
    c.num_classes = 5;
    return c;
}

int main(void) {
    vt_set_threads(2);
    test_layernorm();
    test_gelu();
    test_linear();
    test_attention();
    test_xent();
    test_xent_soft();

    vt_vit_config c = tiny(); /* token pool, registers, LayerScale, qk_norm, pre_norm, patch norm */
    c.reg_tokens = 2;
    c.layer_scale = 1;
    c.qk_norm = 1;
    c.pre_norm = 1;
    c.patch_bias = 0;
    c.patch_norm = 1;
    c.qkv_bias = 0;
    check_model("token+reg+ls+qknorm+prenorm", &c);

    c = tiny(); /* avg pool + fc_norm, no class token, position embeddings for patches only */
    c.pool = VITC_POOL_AVG;
    c.fc_norm = 1;
    c.class_token = 0;
    c.reg_tokens = 1;
    c.no_embed_class = 1;
    check_model("avg+fc_norm+no_embed_class", &c);

    c = tiny(); /* DeiT distilled: two heads averaged */
    c.dist_token = 1;
    c.dist_average = 1;
    check_model("deit distilled", &c);

    c = tiny(); /* overlapping patches: kernel 8 at stride 4, zero padding 2 (windows past the edges) */
    c.patch_kernel = 8;
    check_model("overlapping patches", &c);

    /* drop path (stochastic depth, rates 0 / 0.3 / 0.6 over three blocks): in the fused block, with
     * LayerScale + q/k norm, and with q/k norm alone (branch outputs kept apart) */
    c = tiny();
    c.depth = 3;
    check_model_dp("drop path, fused block", &c, 0.6f);
    c.layer_scale = 1;
    c.qk_norm = 1;
    check_model_dp("drop path, ls+qknorm", &c, 0.6f);
    c.layer_scale = 0;
    check_model_dp("drop path, qknorm", &c, 0.6f);

    printf("  worst relative error above the absolute floor: %.2e (tolerance %.0e)\n", worst_rel, REL);
    return check_report("test_grad");
}
