/* Training against PyTorch (tests/ref/make_train_fixtures.py): loss and every gradient after one
 * forward/backward, losses and parameters after ten AdamW steps (warm-up + cosine, clipping,
 * label smoothing, decoupled weight decay with no-decay groups). Then: checkpoint + resume
 * continues bit for bit, and a short run on a synthetic task learns. Last, the weights' EMA
 * and the flip test-time augmentation of vt_evaluate. DeiT distillation's two-head loss is
 * checked here too (the teachers themselves in test_distill.c).
 *
 * Tolerances (float32 here, float64 in PyTorch):
 *   loss: relative 1e-5;  gradients: max |diff| <= 1e-4 * max |grad| of the tensor + 1e-6;
 *   ten AdamW steps: each loss relative 1e-4, parameters max |diff| <= 1e-4 (Adam steps are
 *   about lr = 3e-3 per entry, so this is ~3% of one step), except the key biases whose true
 *   gradient is exactly zero (see compare_tensors). */
#include "check.h"
#include "compare_params.h"
#include "fixture_npy.h"
#include "core/npy.h"
#include "kernels/kernels.h"
#include "train/data.h"
#include "train/train.h"
#include "train/train_ops.h"

#include <unistd.h>


static double worst_grad = 0, worst_param = 0, worst_loss = 0, lr_sum = 0;

/* compares every parameter-shaped buffer of t (at base) with the tensors of a safetensors file */
static void compare_tensors(const char *what, vt_trainer *t, const float *base, const char *path, int grads) {
    param_check pc = {lr_sum, worst_grad, worst_param, 0};
    compare_params(what, t, base, path, grads, &pc);
    worst_grad = pc.worst_grad, worst_param = pc.worst_param;
}

static vt_trainer *trainer_from(const char *path, const vt_train_hparams *hp) {
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = 2;
    vitc_model *src, *m;
    if (vitc_model_load(path, &lp, &src)) return NULL;
    vitc_status s = vt_model_adapt(src, &src->cfg, 0, &m);
    vitc_model_free(src);
    if (s) return NULL;
    vt_trainer *t;
    if (vt_trainer_new(m, hp, 2, &t)) {
        vitc_model_free(m);
        return NULL;
    }
    return t;
}

/* The trainer of fixture case dir (its model.safetensors) with default hyperparameters but this
 * label smoothing; NULL (a failed CHECK) when it cannot be built. */
static vt_trainer *case_trainer(const char *dir, const char *name, float label_smoothing) {
    char path[1200];
    vt_train_hparams hp = vt_train_default_hparams();
    hp.label_smoothing = label_smoothing;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vt_trainer *t = trainer_from(path, &hp);
    CHECK(t != NULL, "%s: load: %s", name, vitc_last_error());
    return t;
}

/* The hyperparameters of hparams.npy: [lr, min_lr, wd, beta1, beta2, eps, clip, ls, warmup, total]. */
static vt_train_hparams fixture_hparams(const float *h) {
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = h[0], hp.min_lr = h[1], hp.weight_decay = h[2], hp.beta1 = h[3], hp.beta2 = h[4], hp.eps = h[5];
    hp.clip = h[6], hp.label_smoothing = h[7], hp.warmup_steps = (int64_t)h[8], hp.total_steps = (int64_t)h[9];
    return hp;
}

static void run_case(const char *name) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train/%s", fixture_dir(), name);
    vt_npy in, lab, loss0, losses, hpa;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "labels.npy", &lab) || load_npy(dir, "loss.npy", &loss0) ||
        load_npy(dir, "losses.npy", &losses) || load_npy(dir, "hparams.npy", &hpa)) {
        CHECK(0, "%s: fixtures unreadable", name);
        return;
    }
    vt_train_hparams hp = fixture_hparams(hpa.data);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vt_trainer *t = trainer_from(path, &hp);
    CHECK(t != NULL, "%s: load: %s", name, vitc_last_error());
    if (!t) return;
    int n = (int)in.shape[0];
    int *y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) y[i] = (int)lab.data[i];
    double loss;
    CHECK(vt_trainer_forward_backward(t, in.data, y, n, &loss, NULL) == VITC_OK, "%s: step", name);
    double el = fabs(loss - loss0.data[0]) / fabs(loss0.data[0]);
    if (el > worst_loss) worst_loss = el;
    CHECK(el < 1e-5, "%s: loss %.7f vs PyTorch %.7f", name, loss, (double)loss0.data[0]);
    snprintf(path, sizeof path, "%s/grads.safetensors", dir);
    compare_tensors(name, t, t->grad, path, 1);
    double first_loss = loss;
    int steps = (int)losses.count;
    lr_sum = 0;
    for (int s = 0; s < steps; s++) lr_sum += vt_train_lr(&hp, s);
    for (int s = 0; s < steps; s++) {
        if (s) vt_trainer_forward_backward(t, in.data, y, n, &loss, NULL);
        double e = fabs(loss - losses.data[s]) / fabs(losses.data[s]);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-4, "%s: step %d loss %.7f vs PyTorch %.7f", name, s, loss, (double)losses.data[s]);
        vt_trainer_update(t);
    }
    snprintf(path, sizeof path, "%s/params.safetensors", dir);
    compare_tensors(name, t, t->m->param_buf, path, 0);
    printf("  %-10s loss %.5f -> %.5f over %d AdamW steps (PyTorch %.5f -> %.5f)\n", name, first_loss, loss, steps,
           (double)losses.data[0], (double)losses.data[steps - 1]);
    free(y);
    vt_trainer_free(t);
    vt_npy_free(&in), vt_npy_free(&lab), vt_npy_free(&loss0), vt_npy_free(&losses), vt_npy_free(&hpa);
}

/* The ten AdamW steps again from the same weights, against PyTorch, same tolerances:
 * "ld": layer-wise learning-rate decay 0.75, each tensor with its layer's factor on the learning
 *       rate (and so on the decoupled weight decay), PyTorch with one parameter group per tensor;
 * "sam": SAM with radius 0.05, each step's gradients taken at w + rho g / |g|, w restored. */
static void run_case_variant(const char *name, const char *variant) {
    int sam = !strcmp(variant, "sam");
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train/%s", fixture_dir(), name);
    vt_npy in, lab, losses, hpa;
    char file[64];
    snprintf(file, sizeof file, "losses_%s.npy", variant);
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "labels.npy", &lab) || load_npy(dir, file, &losses) ||
        load_npy(dir, "hparams.npy", &hpa)) {
        CHECK(0, "%s: %s fixtures unreadable", name, variant);
        return;
    }
    vt_train_hparams hp = fixture_hparams(hpa.data);
    if (sam) hp.sam_rho = 0.05f;
    else hp.layer_decay = 0.75f;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vt_trainer *t = trainer_from(path, &hp);
    CHECK(t != NULL, "%s: load: %s", name, vitc_last_error());
    if (!t) return;
    int n = (int)in.shape[0], steps = (int)losses.count, depth = t->m->cfg.depth;
    int *y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) y[i] = (int)lab.data[i];
    if (!sam) {
        /* the factors: head and final norm 1, the last block 0.75, the stem 0.75^(depth + 1) */
        CHECK(vt_train_lr_scale("head.weight", depth, 0.75f) == 1.0f && vt_train_lr_scale("norm.bias", depth, 0.75f) == 1.0f &&
                  vt_train_lr_scale("fc_norm.weight", depth, 0.75f) == 1.0f,
              "%s: head / norm factor", name);
        CHECK(fabsf(vt_train_lr_scale("blocks.1.mlp.fc1.weight", 2, 0.75f) - 0.75f) < 1e-7f &&
                  fabsf(vt_train_lr_scale("blocks.0.attn.qkv.weight", 2, 0.75f) - 0.5625f) < 1e-7f &&
                  fabsf(vt_train_lr_scale("patch_embed.proj.weight", 2, 0.75f) - 0.421875f) < 1e-7f &&
                  fabsf(vt_train_lr_scale("cls_token", 2, 0.75f) - 0.421875f) < 1e-7f &&
                  vt_train_lr_scale("blocks.0.norm1.weight", 2, 0.0f) == 1.0f && vt_train_lr_scale("pos_embed", 2, 1.0f) == 1.0f,
              "%s: block / stem factors", name);
    }
    double loss = 0, first_loss = 0;
    lr_sum = 0;
    for (int s = 0; s < steps; s++) lr_sum += vt_train_lr(&hp, s);
    for (int s = 0; s < steps; s++) {
        vt_trainer_forward_backward(t, in.data, y, n, &loss, NULL);
        if (!s) first_loss = loss;
        if (sam) {
            double l2;
            CHECK(vt_trainer_sam_ascend(t, hp.sam_rho) == VITC_OK, "%s: SAM ascent", name);
            vt_trainer_forward_backward(t, in.data, y, n, &l2, NULL);
            vt_trainer_sam_descend(t);
            CHECK(l2 > loss, "%s: SAM step %d: the loss at the perturbed weights (%.6f) is not above %.6f", name, s, l2, loss);
        }
        double e = fabs(loss - losses.data[s]) / fabs(losses.data[s]);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-4, "%s %s: step %d loss %.7f vs PyTorch %.7f", name, variant, s, loss, (double)losses.data[s]);
        vt_trainer_update(t);
    }
    snprintf(path, sizeof path, "%s/params_%s.safetensors", dir, variant);
    char what[64];
    snprintf(what, sizeof what, "%s %s", name, variant);
    compare_tensors(what, t, t->m->param_buf, path, 0);
    printf("  %-10s %-18s loss %.5f -> %.5f over %d AdamW steps (PyTorch %.5f -> %.5f)\n", name,
           sam ? "SAM 0.05:" : "layer decay 0.75:", first_loss, loss, steps, (double)losses.data[0], (double)losses.data[steps - 1]);
    free(y);
    vt_trainer_free(t);
    vt_npy_free(&in), vt_npy_free(&lab), vt_npy_free(&losses), vt_npy_free(&hpa);
}

/* Soft targets (a batch mixed with itself reversed, lam 0.65, label smoothing) against PyTorch's
 * -sum(q log softmax): the loss and every gradient at the initial weights, the same tolerances
 * as the hard-label step. */
static void run_case_soft(const char *name) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train/%s", fixture_dir(), name);
    vt_npy in, q, loss0;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "targets.npy", &q) || load_npy(dir, "loss_soft.npy", &loss0)) {
        CHECK(0, "%s: soft-target fixtures unreadable", name);
        return;
    }
    vt_trainer *t = case_trainer(dir, name, vt_train_default_hparams().label_smoothing);
    if (!t) return;
    int n = (int)in.shape[0];
    CHECK(q.shape[0] == n && q.shape[1] == t->m->cfg.num_classes, "%s: targets shape", name);
    double loss;
    CHECK(vt_trainer_forward_backward_soft(t, in.data, q.data, n, &loss, NULL) == VITC_OK, "%s: soft step", name);
    double el = fabs(loss - loss0.data[0]) / fabs(loss0.data[0]);
    if (el > worst_loss) worst_loss = el;
    CHECK(el < 1e-5, "%s soft targets: loss %.7f vs PyTorch %.7f", name, loss, (double)loss0.data[0]);
    snprintf(path, sizeof path, "%s/grads_soft.safetensors", dir);
    compare_tensors(name, t, t->grad, path, 1);
    printf("  %-10s soft targets (mixup / CutMix): loss rel err %.2e vs PyTorch\n", name, el);
    /* a target outside [0, 1] is refused */
    float saved = q.data[0];
    q.data[0] = 1.5f;
    CHECK(vt_trainer_forward_backward_soft(t, in.data, q.data, n, &loss, NULL) != VITC_OK, "%s: bad target refused", name);
    q.data[0] = saved;
    vt_trainer_free(t);
    vt_npy_free(&in), vt_npy_free(&q), vt_npy_free(&loss0);
}

/* DeiT distillation (the "distilled" case): the class head against the labels with label smoothing,
 * the distillation head against teacher probabilities, the loss the mean of the two; loss and every
 * gradient against PyTorch with the hard-label step's tolerances. The output is the heads' average. */
static void run_case_deit(const char *name) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train/%s", fixture_dir(), name);
    vt_npy in, lab, tq, loss0, hpa;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "labels.npy", &lab) || load_npy(dir, "dist_targets.npy", &tq) ||
        load_npy(dir, "loss_deit.npy", &loss0) || load_npy(dir, "hparams.npy", &hpa)) {
        CHECK(0, "%s: DeiT fixtures unreadable", name);
        return;
    }
    vt_trainer *t = case_trainer(dir, name, hpa.data[7]);
    if (!t) return;
    int n = (int)in.shape[0], C = t->m->cfg.num_classes;
    int *y = malloc(sizeof(int) * (size_t)n);
    float *lg = malloc(sizeof(float) * (size_t)n * C), *ref = malloc(sizeof(float) * (size_t)n * C);
    for (int i = 0; i < n; i++) y[i] = (int)lab.data[i];
    double loss;
    CHECK(vt_trainer_forward_backward_deit(t, in.data, y, NULL, tq.data, n, &loss, lg) == VITC_OK, "%s: DeiT step: %s",
          name, vitc_last_error());
    double el = fabs(loss - loss0.data[0]) / fabs(loss0.data[0]);
    if (el > worst_loss) worst_loss = el;
    CHECK(el < 1e-5, "%s DeiT distillation: loss %.7f vs PyTorch %.7f", name, loss, (double)loss0.data[0]);
    snprintf(path, sizeof path, "%s/grads_deit.safetensors", dir);
    compare_tensors(name, t, t->grad, path, 1);
    /* the logits it reports are the model's inference output */
    vt_forward_out o = {.logits = ref};
    CHECK(vt_vit_forward(t->m, in.data, n, t->m->cfg.img_size, t->m->cfg.img_size, &o) == VITC_OK, "%s: forward", name);
    float e = 0.0f;
    for (int k = 0; k < n * C; k++) e = fmaxf(e, fabsf(lg[k] - ref[k]));
    CHECK(e < 1e-4f, "%s DeiT step: logits differ from inference by %g", name, (double)e);
    printf("  %-10s DeiT distillation (two heads): loss rel err %.2e vs PyTorch\n", name, el);
    /* refused: both labels and targets, no distillation targets, a target outside [0, 1] */
    CHECK(vt_trainer_forward_backward_deit(t, in.data, y, tq.data, tq.data, n, &loss, NULL) != VITC_OK, "%s: labels and targets", name);
    CHECK(vt_trainer_forward_backward_deit(t, in.data, y, NULL, NULL, n, &loss, NULL) != VITC_OK, "%s: no teacher", name);
    float saved = tq.data[1];
    tq.data[1] = -0.5f;
    CHECK(vt_trainer_forward_backward_deit(t, in.data, y, NULL, tq.data, n, &loss, NULL) != VITC_OK, "%s: bad target", name);
    tq.data[1] = saved;
    vt_trainer_free(t);
    /* a model without a distillation head refuses distillation targets */
    snprintf(dir, sizeof dir, "%s/train/avg", fixture_dir());
    t = case_trainer(dir, "avg", 0.0f);
    CHECK(t && vt_trainer_forward_backward_deit(t, in.data, NULL, tq.data, tq.data, n, &loss, NULL) != VITC_OK &&
              strstr(vitc_last_error(), "distillation head"),
          "distillation targets for a model without a distillation head are refused");
    free(y), free(lg), free(ref);
    vt_trainer_free(t);
    vt_npy_free(&in), vt_npy_free(&lab), vt_npy_free(&tq), vt_npy_free(&loss0), vt_npy_free(&hpa);
}

/* The same first step with bfloat16 products (vitc train --bf16) against PyTorch's float64:
 * the loss within 1e-2 relative and every gradient within 3e-2 of its tensor's largest entry
 * (bf16 keeps 8 bits of mantissa: each product's operands are off by up to 2^-9). */
static void run_case_bf16(const char *name) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/train/%s", fixture_dir(), name);
    vt_npy in, lab, loss0, hpa;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "labels.npy", &lab) || load_npy(dir, "loss.npy", &loss0) ||
        load_npy(dir, "hparams.npy", &hpa)) {
        CHECK(0, "%s: fixtures unreadable", name);
        return;
    }
    vt_trainer *t = case_trainer(dir, name, hpa.data[7]);
    if (!t) return;
    int n = (int)in.shape[0];
    int *y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) y[i] = (int)lab.data[i];
    double loss;
    vt_tr_set_bf16(1);
    CHECK(vt_trainer_forward_backward(t, in.data, y, n, &loss, NULL) == VITC_OK, "%s bf16: step", name);
    vt_tr_set_bf16(0);
    double el = fabs(loss - loss0.data[0]) / fabs(loss0.data[0]);
    CHECK(el < 1e-2, "%s bf16: loss %.7f vs PyTorch %.7f", name, loss, (double)loss0.data[0]);
    snprintf(path, sizeof path, "%s/grads.safetensors", dir);
    vt_safetensors *st;
    double worst = 0;
    if (vt_st_open(path, &st) == VITC_OK) {
        for (int i = 0; i < t->n_params; i++) {
            const vt_param *p = &t->params[i];
            const vt_st_tensor *ref = vt_st_find(st, p->name);
            if (!ref || ref->numel != p->numel) continue;
            const float *r;
            int owned;
            vt_st_to_f32(st, ref, &r, &owned);
            float mx = 0.0f;
            for (int64_t j = 0; j < p->numel; j++) mx = fmaxf(mx, fabsf(r[j]));
            float e = max_abs_diff(t->grad + t->offsets[i], r, (size_t)p->numel);
            if (mx > 1e-4f && e / mx > worst) worst = e / mx;
            CHECK(e <= 3e-2f * mx + 1e-5f, "%s bf16: gradient %s max error %g (max |grad| %g)", name, p->name, e, mx);
            if (owned) free((void *)r);
        }
        vt_st_close(st);
    }
    printf("  %-10s bf16 products: loss rel err %.2e, worst gradient err %.2e of the tensor's max\n", name, el, worst);
    free(y);
    vt_trainer_free(t);
    vt_npy_free(&in), vt_npy_free(&lab), vt_npy_free(&loss0), vt_npy_free(&hpa);
}

/* ---------------------------------------------------------------- synthetic task */

/* 4 classes of 16x16 images: a bright horizontal (even classes) or vertical (odd) bar in the first
 * (classes 0, 1) or second half (2, 3) of the image, at a random offset, over noise */
static void synth(uint64_t seed, int n, float *img, int *y) {
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        int c = i % 4;
        y[i] = c;
        float *p = img + (size_t)i * 3 * 256;
        for (int k = 0; k < 256; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            p[k] = 0.3f * ((float)((s >> 40) & 0xffff) / 65536.0f - 0.5f);
        }
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int off = (int)((s >> 33) % 6) + (c >= 2 ? 8 : 0) + 1;
        for (int k = 2; k < 14; k++) {
            if (c % 2) p[k * 16 + off] += 1.5f; /* vertical bar in column off */
            else p[off * 16 + k] += 1.5f;       /* horizontal bar in row off */
        }
        memcpy(p + 256, p, 256 * sizeof(float));
        memcpy(p + 512, p, 256 * sizeof(float));
    }
}

static vt_trainer *small_trainer(uint64_t seed, int steps) {
    vt_vit_config c;
    vt_config_defaults(&c);
    snprintf(c.name, sizeof c.name, "synthetic");
    c.dim = 32, c.depth = 2, c.heads = 2, c.mlp_dim = 64, c.patch = 4, c.img_size = 16, c.num_classes = 4;
    vitc_model *m;
    if (vt_model_new(&c, &m)) return NULL;
    vt_model_init_random(m, seed, 1.0f);
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = 3e-3f;
    hp.warmup_steps = 5;
    hp.total_steps = steps;
    vt_trainer *t;
    if (vt_trainer_new(m, &hp, 2, &t)) return NULL;
    return t;
}

static void test_learns_and_resumes(int bf16) {
    enum { NTRAIN = 384, NTEST = 200, BATCH = 32, EPOCHS = 6 };
    int steps = EPOCHS * NTRAIN / BATCH;
    float *train = malloc(sizeof(float) * NTRAIN * 768), *test = malloc(sizeof(float) * NTEST * 768);
    int ytr[NTRAIN], yte[NTEST];
    synth(1, NTRAIN, train, ytr);
    synth(2, NTEST, test, yte);
    vt_trainer *t = small_trainer(7, steps);
    CHECK(t != NULL, "synthetic trainer");
    vt_tr_set_bf16(bf16);
    if (!t) return;
    double first = 0, last = 0;
    char ckpt[] = "/tmp/vitc_test_train_XXXXXX";
    int fd = mkstemp(ckpt);
    if (fd >= 0) close(fd);
    double after_ckpt[8];
    int n_after = 0;
    for (int s = 0; s < steps; s++) {
        int b0 = (s * BATCH) % NTRAIN;
        double loss;
        vt_trainer_forward_backward(t, train + (size_t)b0 * 768, ytr + b0, BATCH, &loss, NULL);
        vt_trainer_update(t);
        if (s == 0) first = loss;
        if (s >= steps - 12) last += loss / 12;
        if (s == steps / 2) CHECK(vt_trainer_save(t, ckpt, "\"note\":\"test\"") == VITC_OK, "save: %s", vitc_last_error());
        if (s > steps / 2 && n_after < 8) after_ckpt[n_after++] = loss;
    }
    CHECK(last < 0.6 * first, "loss falls: %.4f -> %.4f", first, last);
    float *logits = malloc(sizeof(float) * NTEST * 4);
    vt_forward_out o = {.logits = logits};
    vt_vit_forward(t->m, test, NTEST, 16, 16, &o);
    int correct = 0;
    for (int i = 0; i < NTEST; i++) {
        int best = 0;
        for (int k = 1; k < 4; k++)
            if (logits[i * 4 + k] > logits[i * 4 + best]) best = k;
        correct += best == yte[i];
    }
    double acc = (double)correct / NTEST;
    CHECK(acc >= 0.8, "held-out accuracy %.3f (chance 0.25)", acc);
    printf("  synthetic%s loss %.4f -> %.4f in %d steps, held-out accuracy %.1f%%\n", bf16 ? " (bf16)" : "", first, last,
           steps, 100 * acc);

    /* resume from the checkpoint: the following steps give the same losses, bit for bit */
    vt_trainer *r;
    char *meta = NULL;
    CHECK(vt_trainer_resume(ckpt, 2, &r, &meta) == VITC_OK, "resume: %s", vitc_last_error());
    if (r) {
        CHECK(r->step == steps / 2 + 1, "resumed step %lld", (long long)r->step);
        CHECK(meta && strstr(meta, "\"note\":\"test\""), "extra metadata kept");
        int same = 1;
        for (int k = 0; k < n_after; k++) {
            int s = (int)r->step;
            int b0 = (s * BATCH) % NTRAIN;
            double loss;
            vt_trainer_forward_backward(r, train + (size_t)b0 * 768, ytr + b0, BATCH, &loss, NULL);
            vt_trainer_update(r);
            same &= loss == after_ckpt[k];
        }
        CHECK(same, "resumed run reproduces the losses exactly");
        vt_trainer_free(r);
    }
    free(meta);
    /* a corrupt checkpoint is an error, not a crash */
    FILE *fp = fopen(ckpt, "r+b");
    if (fp) {
        fseek(fp, 3, SEEK_SET);
        fputc(0x7f, fp);
        fclose(fp);
    }
    r = NULL;
    CHECK(vt_trainer_resume(ckpt, 2, &r, NULL) != VITC_OK && r == NULL, "corrupt checkpoint rejected");
    remove(ckpt);
    vt_tr_set_bf16(0);
    free(logits);
    free(train);
    free(test);
    vt_trainer_free(t);
}

static void test_schedule(void) {
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = 1.0f, hp.min_lr = 0.0f, hp.warmup_steps = 4, hp.total_steps = 14;
    CHECK(fabsf(vt_train_lr(&hp, 0) - 0.25f) < 1e-7f, "warmup first");
    CHECK(fabsf(vt_train_lr(&hp, 3) - 1.0f) < 1e-7f, "warmup end");
    CHECK(fabsf(vt_train_lr(&hp, 4) - 1.0f) < 1e-7f, "cosine start");
    CHECK(fabsf(vt_train_lr(&hp, 9) - 0.5f) < 1e-6f, "cosine middle");
    CHECK(fabsf(vt_train_lr(&hp, 14)) < 1e-7f, "cosine end");
}

/* ---------------------------------------------------------------- the weights' EMA */

/* The EMA follows e += (1 - d_s) (w_s - e) after each update s, from the weights it started at;
 * it survives a checkpoint exactly; swapping twice restores the weights. */
static void test_ema(void) {
    enum { N = 32, STEPS = 6 };
    CHECK(fabsf(vt_train_ema_decay(0.999f, 1) - 2.0f / 11.0f) < 1e-7f, "EMA decay warm-up at step 1");
    CHECK(vt_train_ema_decay(0.999f, 100000) == 0.999f, "EMA decay after warm-up");
    float *img = malloc(sizeof(float) * N * 768);
    int y[N];
    synth(5, N, img, y);
    vt_trainer *t = small_trainer(3, 20);
    if (!t || !img) {
        CHECK(0, "EMA trainer");
        free(img);
        vt_trainer_free(t);
        return;
    }
    CHECK(vt_trainer_start_ema(t, 1.5f) != VITC_OK, "EMA decay 1.5 refused");
    CHECK(vt_trainer_start_ema(t, 0.7f) == VITC_OK, "EMA start");
    size_t bytes = sizeof(float) * (size_t)t->numel;
    float *want = malloc(bytes), *w0 = malloc(bytes);
    memcpy(want, t->m->param_buf, bytes);
    double loss;
    char ckpt[] = "/tmp/vitc_test_ema_XXXXXX";
    int fd = mkstemp(ckpt);
    if (fd >= 0) close(fd);
    for (int s = 0; s < STEPS; s++) {
        vt_trainer_forward_backward(t, img, y, N, &loss, NULL);
        vt_trainer_update(t);
        float d = vt_train_ema_decay(0.7f, t->step), wgt = 1.0f - d;
        for (int64_t i = 0; i < t->numel; i++) want[i] += wgt * (t->m->param_buf[i] - want[i]);
        if (s == 2) CHECK(vt_trainer_save(t, ckpt, NULL) == VITC_OK, "EMA save: %s", vitc_last_error());
    }
    CHECK(!memcmp(t->ema, want, bytes), "EMA after %d updates follows the recurrence exactly", STEPS);
    CHECK(memcmp(t->ema, t->m->param_buf, bytes) != 0, "EMA differs from the weights");
    memcpy(w0, t->m->param_buf, bytes);
    vt_trainer_swap_ema(t);
    CHECK(!memcmp(t->m->param_buf, want, bytes) && !memcmp(t->ema, w0, bytes), "swap exchanges weights and EMA");
    vt_trainer_swap_ema(t);
    CHECK(!memcmp(t->m->param_buf, w0, bytes), "swapping twice restores the weights");
    /* the checkpoint after update 3 holds the EMA; three more updates give the same bits */
    vt_trainer *r = NULL;
    CHECK(vt_trainer_resume(ckpt, 2, &r, NULL) == VITC_OK && r && r->ema && r->hp.ema_decay == 0.7f,
          "EMA resumed: %s", vitc_last_error());
    if (r && r->ema) {
        for (int s = 3; s < STEPS; s++) {
            vt_trainer_forward_backward(r, img, y, N, &loss, NULL);
            vt_trainer_update(r);
        }
        CHECK(!memcmp(r->ema, t->ema, bytes) && !memcmp(r->m->param_buf, t->m->param_buf, bytes),
              "resumed EMA run matches bit for bit");
    }
    vt_trainer_free(r);
    remove(ckpt);
    free(want), free(w0), free(img);
    vt_trainer_free(t);
}

/* ---------------------------------------------------------------- drop path */

/* The masks: block l drops with rate P l / (L - 1), keeps with factor 1 / (1 - rate), differently
 * per image, step and seed; a drop-path run resumes from a checkpoint bit for bit (the rate and
 * the seed, here a negative one, travel in its hyperparameters). */
static void test_drop_path(void) {
    vt_train_hparams hp = vt_train_default_hparams();
    hp.drop_path = 0.3f;
    hp.seed = (uint64_t)(int64_t)-5;
    int drops[3] = {0}, other = 0, n = 20000;
    for (int i = 0; i < n; i++)
        for (int l = 0; l < 3; l++) {
            float f = vt_train_drop_scale(&hp, 3, i / 8, l, i % 2, i % 8);
            float keep = l == 0 ? 1.0f : (float)(1.0 / (1.0 - 0.15 * l));
            drops[l] += f == 0.0f;
            other += f != 0.0f && f != keep;
        }
    CHECK(drops[0] == 0 && fabs(drops[1] / (double)n - 0.15) < 0.015 && fabs(drops[2] / (double)n - 0.3) < 0.015 && !other,
          "drop-path rates per block: %d %d %d of %d (want 0, 15%%, 30%%), %d odd factors", drops[0], drops[1], drops[2], n,
          other);
    int differ = 0;
    vt_train_hparams h2 = hp;
    h2.seed = 6;
    for (int b = 0; b < 64; b++) differ += vt_train_drop_scale(&hp, 3, 7, 2, 0, b) != vt_train_drop_scale(&h2, 3, 7, 2, 0, b);
    CHECK(differ > 5, "another seed, other masks (%d of 64 differ)", differ);

    enum { N = 32, STEPS = 4 };
    float *img = malloc(sizeof(float) * N * 768);
    int y[N];
    synth(9, N, img, y);
    vt_trainer *t = small_trainer(3, 20), *plain = small_trainer(3, 20);
    if (!t || !plain || !img) {
        CHECK(0, "drop-path trainers");
        free(img), vt_trainer_free(t), vt_trainer_free(plain);
        return;
    }
    /* small_trainer's hyperparameters plus drop path: a new trainer over the same model */
    vt_train_hparams th = t->hp;
    th.drop_path = 0.5f;
    th.seed = hp.seed;
    vitc_model *m = t->m;
    t->m = NULL;
    vt_trainer_free(t);
    t = NULL;
    CHECK(vt_trainer_new(m, &th, 2, &t) == VITC_OK, "drop-path trainer: %s", vitc_last_error());
    if (!t) {
        free(img), vt_trainer_free(plain);
        return;
    }
    char ckpt[] = "/tmp/vitc_test_dp_XXXXXX";
    int fd = mkstemp(ckpt);
    if (fd >= 0) close(fd);
    double loss, lp;
    for (int s = 0; s < STEPS; s++) {
        vt_trainer_forward_backward(t, img, y, N, &loss, NULL);
        vt_trainer_update(t);
        vt_trainer_forward_backward(plain, img, y, N, &lp, NULL);
        vt_trainer_update(plain);
        if (s == 1) CHECK(vt_trainer_save(t, ckpt, NULL) == VITC_OK, "drop-path save: %s", vitc_last_error());
    }
    size_t bytes = sizeof(float) * (size_t)t->numel;
    CHECK(memcmp(t->m->param_buf, plain->m->param_buf, bytes) != 0, "drop path changes training");
    vt_trainer *r = NULL;
    CHECK(vt_trainer_resume(ckpt, 2, &r, NULL) == VITC_OK && r && r->hp.drop_path == 0.5f && r->hp.seed == hp.seed,
          "drop-path checkpoint keeps rate and seed: %s", vitc_last_error());
    if (r) {
        for (int s = 2; s < STEPS; s++) {
            vt_trainer_forward_backward(r, img, y, N, &loss, NULL);
            vt_trainer_update(r);
        }
        CHECK(!memcmp(r->m->param_buf, t->m->param_buf, bytes), "resumed drop-path run matches bit for bit");
    }
    vt_trainer_free(r);
    remove(ckpt);
    free(img);
    vt_trainer_free(t);
    vt_trainer_free(plain);
}

/* ---------------------------------------------------------------- evaluation with flip TTA */

/* Properties that hold only if the second view is the left-right mirror image and the two views'
 * probabilities are averaged: (1) on mirror-symmetric images TTA changes nothing; (2) TTA gives a
 * set of images and its mirror set the same results, though plain evaluation does not. */
static void test_evaluate_flip(void) {
    enum { N = 48, S = 16, C = 4 };
    vt_vit_config c;
    vt_config_defaults(&c);
    c.dim = 32, c.depth = 2, c.heads = 2, c.mlp_dim = 64, c.patch = 4, c.img_size = S, c.num_classes = C;
    vitc_model *m;
    if (vt_model_new(&c, &m)) {
        CHECK(0, "evaluate: model");
        return;
    }
    vt_model_init_random(m, 7, 1.0f);
    uint8_t *px = malloc(3 * N * S * S);
    int lab[N];
    random_images(px, lab, N, S * S, C, 99);
    uint8_t *mir = px + N * S * S, *sym = px + 2 * N * S * S;
    for (int i = 0; i < N; i++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                const uint8_t *row = px + ((size_t)i * S + y) * S;
                mir[((size_t)i * S + y) * S + x] = row[S - 1 - x];
                sym[((size_t)i * S + y) * S + x] = row[x < S / 2 ? x : S - 1 - x];
            }
    vt_dataset d = {.n = N, .c = 1, .h = S, .w = S, .labels = lab, .num_classes = C};
    int64_t conf[6][C * C];
    double loss[6];
    memset(conf, 0, sizeof conf);
    const uint8_t *sets[3] = {px, mir, sym};
    for (int k = 0; k < 6; k++) {
        d.pixels = (uint8_t *)sets[k / 2];
        CHECK(vt_evaluate(&m, 1, &d, 20, NULL, k % 2, conf[k], &loss[k]) == VITC_OK, "evaluate %d", k);
    }
    /* k = 2 * set + tta: 0/1 images, 2/3 their mirrors, 4/5 symmetric images */
    CHECK(fabs(loss[0] - loss[2]) > 1e-4, "plain evaluation of images and mirrors differs (%g vs %g)", loss[0], loss[2]);
    CHECK(fabs(loss[1] - loss[3]) <= 1e-6 * loss[1], "flip TTA: images and mirrors agree (%.9g vs %.9g)", loss[1], loss[3]);
    CHECK(!memcmp(conf[1], conf[3], sizeof conf[1]), "flip TTA: same confusion for images and mirrors");
    CHECK(fabs(loss[4] - loss[5]) <= 1e-5 * loss[4], "flip TTA on symmetric images changes nothing (%.9g vs %.9g)",
          loss[4], loss[5]);
    CHECK(!memcmp(conf[4], conf[5], sizeof conf[4]), "flip TTA on symmetric images: same confusion");
    int64_t tot = 0;
    for (int k = 0; k < C * C; k++) tot += conf[1][k];
    CHECK(tot == N, "every image counted once (%lld)", (long long)tot);
    free(px);
    vitc_model_free(m);
}

/* ---------------------------------------------------------------- mixup / CutMix */

static void test_beta(void) {
    const double ab[3][2] = {{0.8, 0.8}, {1.0, 1.0}, {2.0, 5.0}};
    for (int c = 0; c < 3; c++) {
        double a = ab[c][0], b = ab[c][1], sum = 0, sq = 0;
        int n = 40000, inside = 1;
        uint64_t st = 7 + (uint64_t)c;
        for (int i = 0; i < n; i++) {
            double x = vt_sample_beta(&st, a, b);
            inside &= x >= 0.0 && x <= 1.0;
            sum += x, sq += x * x;
        }
        double mean = sum / n, var = sq / n - mean * mean;
        double want_m = a / (a + b), want_v = a * b / ((a + b) * (a + b) * (a + b + 1));
        /* 40000 samples: the mean's standard error is below 0.0025, the variance's below 0.001 */
        CHECK(inside && fabs(mean - want_m) < 0.01 && fabs(var - want_v) < 0.004,
              "Beta(%g, %g): mean %.4f (want %.4f), variance %.4f (want %.4f)", a, b, mean, want_m, var, want_v);
    }
}

static void test_mix(void) {
    enum { N = 5, CH = 3, H = 8, W = 8, K = 6 };
    const int img = CH * H * W;
    static float x0[N * CH * H * W], x[N * CH * H * W], q[N * K], q2[N * K];
    int y[N] = {0, 1, 2, 3, 4};
    uint64_t st = 99;
    for (int i = 0; i < N * img; i++) x0[i] = (float)(st = st * 6364136223846793005ull + 1442695040888963407ull) / 1.8e19f;
    const float eps = 0.1f;
    double lam;

    /* mixup: out_i = lam x_i + (1 - lam) x_{n-1-i}, the middle image of an odd batch unchanged */
    vt_mix mu = {0.8f, 0.0f, 1.0f};
    memcpy(x, x0, sizeof x);
    int mode = vt_mix_batch(x, y, N, CH, H, W, K, eps, &mu, 5, 17, q, &lam);
    CHECK(mode == VT_MIX_MIXUP && lam > 0 && lam < 1, "mixup: mode %d, lam %g", mode, lam);
    float e = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < img; k++) {
            float want = (float)(lam * x0[i * img + k] + (1 - lam) * x0[(N - 1 - i) * img + k]);
            e = fmaxf(e, fabsf(x[i * img + k] - want));
        }
    CHECK(e < 1e-6f, "mixup pixels: max error %g", e);
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int k = 0; k < K; k++) sum += q[i * K + k];
        int j = N - 1 - i;
        double want_i = (i == j ? 1.0 : lam) * (1 - eps) + eps / K;
        CHECK(fabs(sum - 1) < 1e-6 && fabs(q[i * K + y[i]] - want_i) < 1e-6, "mixup targets row %d: sum %g, q[y] %g vs %g",
              i, sum, q[i * K + y[i]], want_i);
    }
    /* the same (seed, batch) mixes the same way; another batch draws another lam */
    memcpy(x, x0, sizeof x);
    double lam2;
    vt_mix_batch(x, y, N, CH, H, W, K, eps, &mu, 5, 17, q2, &lam2);
    CHECK(lam2 == lam && !memcmp(q, q2, sizeof q), "mixup repeatable");
    memcpy(x, x0, sizeof x);
    vt_mix_batch(x, y, N, CH, H, W, K, eps, &mu, 5, 18, q2, &lam2);
    CHECK(lam2 != lam, "another batch, another lam");

    /* CutMix: every pixel of out_i is x_i's or x_j's at the same place, one box for every channel,
     * and the share of x_j's pixels is exactly 1 - lam */
    vt_mix cm = {0.0f, 1.0f, 1.0f};
    int boxes = 0;
    for (int64_t bid = 0; bid < 20; bid++) {
        memcpy(x, x0, sizeof x);
        mode = vt_mix_batch(x, y, N, CH, H, W, K, eps, &cm, 5, bid, q, &lam);
        CHECK(mode == VT_MIX_CUTMIX, "cutmix mode");
        int ok = 1, from_j = 0;
        for (int k = 0; k < img; k++) {
            float a = x0[0 * img + k], b = x0[(N - 1) * img + k], o = x[0 * img + k];
            ok &= o == a || o == b;
            ok &= (o == b) == (x[0 * img + k % (H * W)] == x0[(N - 1) * img + k % (H * W)]); /* same box in each channel */
            ok &= x[(N - 1) * img + k] == (o == b ? a : b);                                 /* and the partner's swap */
            from_j += o == b;
        }
        ok &= !memcmp(x + 2 * img, x0 + 2 * img, sizeof(float) * img);
        double share = (double)from_j / img;
        boxes += from_j > 0;
        CHECK(ok && fabs(share - (1 - lam)) < 1e-9, "cutmix batch %d: pixels from the partner %.4f vs 1 - lam %.4f",
              (int)bid, share, 1 - lam);
        CHECK(fabs(q[0 * K + y[0]] - (lam * (1 - eps) + eps / K)) < 1e-6 &&
                  fabs(q[0 * K + y[N - 1]] - ((1 - lam) * (1 - eps) + eps / K)) < 1e-6,
              "cutmix targets follow the box's area");
    }
    CHECK(boxes >= 15, "cutmix pasted a box in %d of 20 batches", boxes);

    /* both: each batch takes one, about half each; prob 0: nothing mixed, plain smoothed targets */
    vt_mix both = {0.8f, 1.0f, 1.0f};
    int counts[3] = {0};
    for (int64_t bid = 0; bid < 400; bid++) {
        memcpy(x, x0, sizeof x);
        counts[vt_mix_batch(x, y, N, CH, H, W, K, eps, &both, 3, bid, q, NULL)]++;
    }
    CHECK(counts[0] == 0 && counts[1] > 150 && counts[2] > 150, "mixup %d / cutmix %d of 400", counts[1], counts[2]);
    vt_mix none = {0.8f, 1.0f, 0.0f};
    memcpy(x, x0, sizeof x);
    mode = vt_mix_batch(x, y, N, CH, H, W, K, eps, &none, 3, 1, q, &lam);
    CHECK(mode == VT_MIX_NONE && lam == 1.0 && !memcmp(x, x0, sizeof x) && fabsf(q[K + 1] - (1 - eps + eps / K)) < 1e-7f,
          "mix-prob 0 leaves the batch alone");
}

int main(void) {
    vt_set_threads(2);
    const char *cases[] = {"full", "distilled", "avg", "overlap", "quick_gelu", "gelu_tanh", "swiglu", "map", "beit"};
    const int ncases = (int)(sizeof cases / sizeof *cases);
    for (int i = 0; i < ncases; i++) run_case(cases[i]);
    for (int i = 0; i < ncases; i++) run_case_soft(cases[i]);
    for (int i = 0; i < ncases; i++) run_case_variant(cases[i], "ld");
    for (int i = 0; i < ncases; i++) run_case_variant(cases[i], "sam");
    run_case_deit("distilled");
    printf("  vs PyTorch: worst loss rel err %.2e, worst gradient err %.2e of the tensor's max, worst parameter "
           "err after 10 steps %.2e\n",
           worst_loss, worst_grad, worst_param);
    test_schedule();
    test_learns_and_resumes(0);
    if (vt_tr_bf16_supported()) {
        run_case_bf16("full");
        run_case_bf16("avg");
        run_case_bf16("overlap");
        test_learns_and_resumes(1);
    } else {
        printf("  bf16: skipped (no AVX512-BF16 on this CPU)\n");
    }
    test_ema();
    test_drop_path();
    test_evaluate_flip();
    test_beta();
    test_mix();
    return check_report("test_train");
}
