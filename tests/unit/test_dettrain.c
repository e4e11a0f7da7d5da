/* Detection training (YOLOS: detection tokens, mid position embeddings, the class and box MLPs,
 * the DETR set loss) against the float64 PyTorch reference of tests/ref/make_dettrain_fixtures.py,
 * for a model without and one with mid position embeddings:
 *
 *   step 1: vt_trainer_forward_backward_det's ce, l1, giou and total (relative 1e-5), num_boxes,
 *     the head outputs (1e-4; vitc_model_detect_raw too), the matching, and every parameter's
 *     gradient (max |diff| <= 1e-4 * max |grad| + 1e-6, as test_seg.c);
 *   threads: 1 and 2 threads give bitwise-identical losses, outputs and gradients;
 *   ten AdamW steps: the matching of each step identical to the reference's, the losses (relative
 *     1e-4) and the final parameters (1e-4; key biases as test_train.c); inference after training
 *     equals the training pass's outputs;
 *   central finite differences at the initial weights on the heads, the detection tokens, the
 *     detection rows of pos_embed and of each mid_pos_embed table, and a few backbone scalars,
 *     skipping any perturbation that changes the matching;
 *   errors: bad targets (class outside 0..C-1, negative size, non-finite box, more targets than
 *     tokens, a negative count, missing arrays) refused with VITC_ERR_ARG and a one-line message, the
 *     trainer still working after them; labels, masks for a detector and boxes for a classifier. */
#include "check.h"
#include "compare_params.h"
#include "core/npy.h"
#include "formats/safetensors.h"
#include "model/model.h"
#include "train/detr_loss.h"
#include "train/train.h"

#include <stdint.h>

static const char *CASES[] = {"plain", "mid"};
#define NCASES 2

static double worst_loss, worst_loss_steps, worst_out, worst_grad, worst_param, worst_fd, lr_sum;
static int fd_checked, fd_skipped;
static char worst_fd_at[200];

static int load_npy(const char *dir, const char *file, vt_npy *a) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (vt_npy_read(path, a)) {
        fprintf(stderr, "%s\n", vitc_last_error());
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

static vt_train_hparams fixture_hparams(const float *h) {
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = h[0], hp.min_lr = h[1], hp.weight_decay = h[2], hp.beta1 = h[3], hp.beta2 = h[4], hp.eps = h[5];
    hp.clip = h[6], hp.label_smoothing = h[7], hp.warmup_steps = (int64_t)h[8], hp.total_steps = (int64_t)h[9];
    return hp;
}

static vt_trainer *trainer_from(const char *path, const vt_train_hparams *hp, int threads) {
    vitc_model *src, *m;
    if (vitc_model_load(path, NULL, &src)) return NULL;
    vitc_status s = vt_model_adapt(src, &src->cfg, 0, &m);
    vitc_model_free(src);
    if (s) return NULL;
    vt_trainer *t;
    if (vt_trainer_new(m, hp, threads, &t)) {
        vitc_model_free(m);
        return NULL;
    }
    return t;
}

/* The fixture case: batch, targets, hyperparameters and reference results. */
typedef struct det_case {
    char dir[1024];
    vt_npy in, nt, tc, tb, hpa, l0, lg, bx, losses, parts, matches;
    int n, Q, C1, S, N;
    int *n_targets, *tclass;
    vt_train_hparams hp;
} det_case;

static void case_free(det_case *k) {
    vt_npy_free(&k->in), vt_npy_free(&k->nt), vt_npy_free(&k->tc), vt_npy_free(&k->tb), vt_npy_free(&k->hpa);
    vt_npy_free(&k->l0), vt_npy_free(&k->lg), vt_npy_free(&k->bx), vt_npy_free(&k->losses);
    vt_npy_free(&k->parts), vt_npy_free(&k->matches);
    free(k->n_targets), free(k->tclass);
}

static int case_load(det_case *k, const char *name) {
    memset(k, 0, sizeof *k);
    snprintf(k->dir, sizeof k->dir, "%s/dettrain/%s", fixture_dir(), name);
    const char *d = k->dir;
    if (load_npy(d, "input.npy", &k->in) || load_npy(d, "n_targets.npy", &k->nt) || load_npy(d, "tclass.npy", &k->tc) ||
        load_npy(d, "tbox.npy", &k->tb) || load_npy(d, "hparams.npy", &k->hpa) || load_npy(d, "losses0.npy", &k->l0) ||
        load_npy(d, "logits.npy", &k->lg) || load_npy(d, "boxes.npy", &k->bx) || load_npy(d, "losses.npy", &k->losses) ||
        load_npy(d, "parts.npy", &k->parts) || load_npy(d, "matches.npy", &k->matches))
        return -1;
    k->n = (int)k->in.shape[0], k->S = (int)k->in.shape[2], k->Q = (int)k->lg.shape[1], k->C1 = (int)k->lg.shape[2];
    k->N = (int)k->tc.count;
    k->n_targets = malloc(sizeof(int) * (size_t)k->n);
    k->tclass = malloc(sizeof(int) * (size_t)(k->N ? k->N : 1));
    for (int i = 0; i < k->n; i++) k->n_targets[i] = (int)k->nt.data[i];
    for (int i = 0; i < k->N; i++) k->tclass[i] = (int)k->tc.data[i];
    k->hp = fixture_hparams(k->hpa.data);
    return 0;
}

/* One training pass on the case's batch; the head outputs in logits / boxes (may be NULL). */
static vitc_status step(vt_trainer *t, const det_case *k, vt_detr_losses *l, float *logits, float *boxes) {
    return vt_trainer_forward_backward_det(t, k->in.data, k->n, k->n_targets, k->tclass, k->tb.data, l, logits, boxes);
}

/* The matching of the head outputs (boxes after the sigmoid), as the loss computes it. */
static int match_of(const det_case *k, const float *logits, const float *boxes, int *match) {
    vt_detr_params p = vt_detr_params_default();
    vt_detr_batch b = {k->n, k->Q, k->C1 - 1, logits, boxes, 1, k->n_targets, k->tclass, k->tb.data, 0, 0};
    vt_detr_losses l;
    return vt_detr_loss(&p, &b, &l, NULL, NULL, match) == VITC_OK ? 0 : -1;
}

/* Which side of each of the loss's kinks the matched pairs are on: per matched query, the signs of
 * box - target (L1) and of its corners - the target's (GIoU's max / min), and whether the
 * intersection is empty in x and in y (GIoU's clamp). 10 entries per query, 0 unmatched. */
static void kink_side(const det_case *k, const float *boxes, const int *match, signed char *side) {
    for (int b = 0, off = 0; b < k->n; off += k->n_targets[b], b++)
        for (int q = 0; q < k->Q; q++) {
            signed char *s = side + ((size_t)b * k->Q + q) * 10;
            memset(s, 0, 10);
            int m = match[b * k->Q + q];
            if (m < 0) continue;
            const float *p = boxes + ((size_t)b * k->Q + q) * 4, *t = k->tb.data + (size_t)(off + m) * 4;
            double pc[4], tc[4];
            for (int a = 0; a < 2; a++) {
                pc[a] = p[a] - 0.5 * p[a + 2], pc[a + 2] = p[a] + 0.5 * p[a + 2];
                tc[a] = t[a] - 0.5 * t[a + 2], tc[a + 2] = t[a] + 0.5 * t[a + 2];
            }
            for (int a = 0; a < 4; a++) {
                s[a] = (signed char)((p[a] > t[a]) - (p[a] < t[a]));
                s[4 + a] = (signed char)((pc[a] > tc[a]) - (pc[a] < tc[a]));
            }
            for (int a = 0; a < 2; a++) s[8 + a] = fmin(pc[a + 2], tc[a + 2]) - fmax(pc[a], tc[a]) > 0;
        }
}

static void compare_tensors(const char *what, vt_trainer *t, const float *base, const char *path, int grads) {
    param_check pc = {lr_sum, worst_grad, worst_param, 1};
    compare_params(what, t, base, path, grads, &pc);
    worst_grad = pc.worst_grad, worst_param = pc.worst_param;
}

static int param_index(const vt_trainer *t, const char *name) {
    for (int i = 0; i < t->n_params; i++)
        if (!strcmp(t->params[i].name, name)) return i;
    return -1;
}

static double rel_err(double got, double ref) { return fabs(got - ref) / fmax(fabs(ref), 1e-12); }

/* ---------------------------------------------------------------- step 1, threads, ten steps */

static void test_training(const char *name) {
    det_case k;
    if (case_load(&k, name)) {
        CHECK(0, "%s: fixtures unreadable", name);
        case_free(&k);
        return;
    }
    char path[1200], what[160];
    snprintf(path, sizeof path, "%s/model.safetensors", k.dir);
    vt_trainer *t = trainer_from(path, &k.hp, 2);
    CHECK(t != NULL, "%s: trainer: %s", name, vitc_last_error());
    if (!t) {
        case_free(&k);
        return;
    }
    const vt_vit_config *c = &t->m->cfg;
    int mid = !strcmp(name, "mid");
    CHECK(c->task == VT_TASK_DETECT && c->det_tokens == k.Q && c->num_classes + 1 == k.C1 && c->mid_pos == mid &&
              (t->m->w.mid_pos_embed != NULL) == mid,
          "%s: config task %d, %d tokens, %d classes, mid_pos %d", name, (int)c->task, c->det_tokens, c->num_classes,
          c->mid_pos);
    size_t nl = (size_t)k.n * k.Q * k.C1, nb = (size_t)k.n * k.Q * 4;
    float *lg = malloc(sizeof(float) * nl), *bx = malloc(sizeof(float) * nb);
    float *lg1 = malloc(sizeof(float) * nl), *bx1 = malloc(sizeof(float) * nb);
    int *match = malloc(sizeof(int) * (size_t)k.n * k.Q);

    /* step 1 */
    vt_detr_losses l = {0};
    CHECK(step(t, &k, &l, lg, bx) == VITC_OK, "%s: step 1: %s", name, vitc_last_error());
    double got[4] = {l.ce, l.l1, l.giou, l.total};
    static const char *part[4] = {"ce", "l1", "giou", "total"};
    for (int i = 0; i < 4; i++) {
        double e = rel_err(got[i], k.l0.data[i]);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-5, "%s: step 1 %s %.8f vs PyTorch %.8f", name, part[i], got[i], (double)k.l0.data[i]);
    }
    CHECK(l.num_boxes == k.l0.data[4], "%s: num_boxes %g vs %g", name, l.num_boxes, (double)k.l0.data[4]);
    float el = max_abs_diff(lg, k.lg.data, nl), eb = max_abs_diff(bx, k.bx.data, nb);
    worst_out = fmax(worst_out, fmax(el, eb));
    CHECK(el <= 1e-4f && eb <= 1e-4f, "%s: step 1 logits max error %g, boxes %g", name, el, eb);
    CHECK(!match_of(&k, lg, bx, match), "%s: matching: %s", name, vitc_last_error());
    int same = 1;
    for (int i = 0; i < k.n * k.Q; i++) same &= match[i] == (int)k.matches.data[i];
    CHECK(same, "%s: step 1 matching differs from PyTorch's", name);
    snprintf(path, sizeof path, "%s/grads.safetensors", k.dir);
    snprintf(what, sizeof what, "%s step 1", name);
    compare_tensors(what, t, t->grad, path, 1);
    /* the inference path on the same weights */
    CHECK(vitc_model_detect_raw(t->m, k.in.data, k.n, k.S, k.S, lg1, bx1) == VITC_OK, "%s: detect_raw: %s", name,
          vitc_last_error());
    el = max_abs_diff(lg1, k.lg.data, nl), eb = max_abs_diff(bx1, k.bx.data, nb);
    worst_out = fmax(worst_out, fmax(el, eb));
    CHECK(el <= 1e-4f && eb <= 1e-4f, "%s: detect_raw logits max error %g, boxes %g", name, el, eb);

    /* one thread: the same bits */
    snprintf(path, sizeof path, "%s/model.safetensors", k.dir);
    vt_trainer *t1 = trainer_from(path, &k.hp, 1);
    CHECK(t1 != NULL, "%s: trainer (1 thread): %s", name, vitc_last_error());
    if (t1) {
        vt_detr_losses l1 = {0};
        CHECK(step(t1, &k, &l1, lg1, bx1) == VITC_OK, "%s: 1 thread: %s", name, vitc_last_error());
        CHECK(t1->numel == t->numel && !memcmp(t1->grad, t->grad, sizeof(float) * (size_t)t->numel),
              "%s: 1 and 2 threads give different gradients", name);
        CHECK(!memcmp(lg1, lg, sizeof(float) * nl) && !memcmp(bx1, bx, sizeof(float) * nb) && l1.total == l.total &&
                  l1.ce == l.ce && l1.l1 == l.l1 && l1.giou == l.giou,
              "%s: 1 and 2 threads give different outputs or losses", name);
        vt_trainer_free(t1);
    }

    /* ten AdamW steps; the fixture trainer is at step 0 still (no update yet) */
    int steps = (int)k.losses.count, mismatched = 0;
    lr_sum = 0;
    for (int s = 0; s < steps; s++) lr_sum += vt_train_lr(&k.hp, s);
    double first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        CHECK(step(t, &k, &l, lg, bx) == VITC_OK, "%s: step %d: %s", name, s, vitc_last_error());
        if (!match_of(&k, lg, bx, match)) {
            same = 1;
            for (int i = 0; i < k.n * k.Q; i++) same &= match[i] == (int)k.matches.data[(size_t)s * k.n * k.Q + i];
            mismatched += !same;
            CHECK(same, "%s: step %d: matching differs from PyTorch's", name, s);
        }
        double e = rel_err(l.total, k.losses.data[s]);
        const float *pr = k.parts.data + (size_t)s * 3;
        e = fmax(e, fmax(rel_err(l.ce, pr[0]), fmax(rel_err(l.l1, pr[1]), rel_err(l.giou, pr[2]))));
        if (e > worst_loss_steps) worst_loss_steps = e;
        CHECK(e < 1e-4, "%s: step %d losses %.7f (ce %.7f l1 %.7f giou %.7f) vs PyTorch %.7f (%.7f %.7f %.7f)", name, s,
              l.total, l.ce, l.l1, l.giou, (double)k.losses.data[s], (double)pr[0], (double)pr[1], (double)pr[2]);
        if (s == 0) first = l.total;
        last = l.total;
        vt_trainer_update(t);
    }
    snprintf(path, sizeof path, "%s/params.safetensors", k.dir);
    snprintf(what, sizeof what, "%s after %d steps", name, steps);
    compare_tensors(what, t, t->m->param_buf, path, 0);
    /* inference on the trained weights (packed again after the updates) = the training pass */
    CHECK(step(t, &k, &l, lg, bx) == VITC_OK && vitc_model_detect_raw(t->m, k.in.data, k.n, k.S, k.S, lg1, bx1) == VITC_OK,
          "%s: inference after training: %s", name, vitc_last_error());
    el = max_abs_diff(lg1, lg, nl), eb = max_abs_diff(bx1, bx, nb);
    CHECK(el <= 1e-5f && eb <= 1e-5f, "%s: inference after training differs from the training pass by %g / %g", name,
          el, eb);
    printf("  %-6s loss %.5f -> %.5f over %d AdamW steps (PyTorch %.5f -> %.5f), %d matchings differ\n", name, first,
           last, steps, (double)k.losses.data[0], (double)k.losses.data[steps - 1], mismatched);
    vt_trainer_free(t);
    free(lg), free(bx), free(lg1), free(bx1), free(match);
    case_free(&k);
}

/* ---------------------------------------------------------------- finite differences */

/* Central differences (h = 1e-3) of the total loss against the analytic gradient at the
 * largest-gradient entry and two others of parameter `name`'s flat range [j0, j0 + len); a
 * perturbation that changes the matching or crosses one of the loss's kinks (side0: kink_side at
 * the weights) is skipped. */
static void fd_range(const char *cname, vt_trainer *t, const det_case *k, const float *g0, const int *match0,
                     const signed char *side0, const char *name, int64_t j0, int64_t len, float *lg, float *bx,
                     int *match) {
    int i = param_index(t, name);
    CHECK(i >= 0, "%s: no parameter %s", cname, name);
    if (i < 0) return;
    const vt_param *p = &t->params[i];
    CHECK(j0 >= 0 && len > 0 && j0 + len <= p->numel, "%s: %s range", cname, name);
    if (!(j0 >= 0 && len > 0 && j0 + len <= p->numel)) return;
    const float *g = g0 + t->offsets[i];
    float *w = t->m->param_buf + t->offsets[i];
    int64_t jmax = j0;
    float gmax = 0.0f;
    for (int64_t j = j0; j < j0 + len; j++)
        if (fabsf(g[j]) > gmax) gmax = fabsf(g[j]), jmax = j;
    int64_t js[3] = {jmax, j0 + (jmax - j0 + len / 2 + 1) % len, j0 + (jmax - j0 + len / 3 + 2) % len};
    for (int r = 0; r < 3; r++) {
        int64_t j = js[r];
        const float h = 1e-3f, w0 = w[j];
        double lp[2];
        int switched = 0;
        for (int sgn = 0; sgn < 2; sgn++) {
            vt_detr_losses l;
            w[j] = sgn ? w0 - h : w0 + h;
            vt_model_weights_changed(t->m);
            CHECK(step(t, k, &l, lg, bx) == VITC_OK, "%s: fd step", cname);
            lp[sgn] = l.total;
            if (match_of(k, lg, bx, match) || memcmp(match, match0, sizeof(int) * (size_t)k->n * k->Q)) {
                switched = 1;
                continue;
            }
            signed char side[8 * 64 * 10];
            kink_side(k, bx, match, side);
            if (memcmp(side, side0, (size_t)k->n * k->Q * 10)) switched = 1;
        }
        w[j] = w0;
        vt_model_weights_changed(t->m);
        if (switched) {
            fd_skipped++;
            continue;
        }
        double fd = (lp[0] - lp[1]) / ((double)(w0 + h) - (double)(w0 - h));
        double e = fabs(fd - g[j]) / (gmax + 1e-3);
        if (e > worst_fd) {
            worst_fd = e;
            snprintf(worst_fd_at, sizeof worst_fd_at, "%.20s %.120s[%lld]", cname, p->name, (long long)j);
        }
        CHECK(e < 2e-2, "%s: %s[%lld] finite difference %.6g vs gradient %.6g (max %.3g)", cname, p->name, (long long)j,
              fd, (double)g[j], (double)gmax);
        fd_checked++;
    }
}

static void test_fd_and_errors(const char *name) {
    det_case k;
    if (case_load(&k, name)) {
        CHECK(0, "%s: fixtures unreadable", name);
        case_free(&k);
        return;
    }
    if (k.n > 8 || k.Q > 64) { /* the fixed-size arrays below */
        CHECK(0, "%s: batch %d x %d tokens too large for the test", name, k.n, k.Q);
        case_free(&k);
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/model.safetensors", k.dir);
    vt_trainer *t = trainer_from(path, &k.hp, 2);
    CHECK(t != NULL, "%s: trainer: %s", name, vitc_last_error());
    if (!t) {
        case_free(&k);
        return;
    }
    const vt_vit_config *c = &t->m->cfg;
    size_t nl = (size_t)k.n * k.Q * k.C1, nb = (size_t)k.n * k.Q * 4, HW3 = (size_t)3 * k.S * k.S;
    float *lg = malloc(sizeof(float) * nl), *bx = malloc(sizeof(float) * nb);
    int *match0 = malloc(sizeof(int) * (size_t)k.n * k.Q), *match = malloc(sizeof(int) * (size_t)k.n * k.Q);
    vt_detr_losses l;

    /* a batch of one first (the image with as many targets as tokens): the activations are laid
     * out again for the larger batch */
    int b_full = -1, off = 0;
    for (int b = 0; b < k.n && b_full < 0; b++) {
        if (k.n_targets[b] == k.Q) b_full = b;
        else off += k.n_targets[b];
    }
    CHECK(b_full >= 0, "%s: no image with as many targets as tokens", name);
    if (b_full >= 0)
        CHECK(vt_trainer_forward_backward_det(t, k.in.data + (size_t)b_full * HW3, 1, &k.n_targets[b_full],
                                              k.tclass + off, k.tb.data + (size_t)off * 4, &l, NULL, NULL) == VITC_OK &&
                  l.num_boxes == k.Q && l.total > 0,
              "%s: a batch of one: %s", name, vitc_last_error());
    CHECK(step(t, &k, &l, lg, bx) == VITC_OK, "%s: full batch: %s", name, vitc_last_error());
    double e = rel_err(l.total, k.l0.data[3]);
    if (e > worst_loss) worst_loss = e;
    CHECK(e < 1e-5, "%s: loss %.8f after a smaller batch vs PyTorch %.8f", name, l.total, (double)k.l0.data[3]);
    double base_total = l.total;
    CHECK(!match_of(&k, lg, bx, match0), "%s: matching", name);
    signed char side0[8 * 64 * 10];
    kink_side(&k, bx, match0, side0);
    float *g0 = malloc(sizeof(float) * (size_t)t->numel);
    memcpy(g0, t->grad, sizeof(float) * (size_t)t->numel);

    int D = c->dim, gs = c->img_size / c->patch, N = gs * gs, Q = c->det_tokens, T = 1 + N + Q;
    int before = fd_checked;
    static const char *heads[] = {"det_head.class.0.weight", "det_head.class.1.bias", "det_head.class.2.weight",
                                  "det_head.class.2.bias", "det_head.box.0.weight", "det_head.box.1.weight",
                                  "det_head.box.2.weight", "det_head.box.2.bias", "norm.weight", "cls_token",
                                  "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc2.bias"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        int pi = param_index(t, heads[i]);
        if (pi >= 0) fd_range(name, t, &k, g0, match0, side0, heads[i], 0, t->params[pi].numel, lg, bx, match);
        else CHECK(0, "%s: no parameter %s", name, heads[i]);
    }
    fd_range(name, t, &k, g0, match0, side0, "det_token", 0, (int64_t)Q * D, lg, bx, match);
    fd_range(name, t, &k, g0, match0, side0, "pos_embed", (int64_t)(1 + N) * D, (int64_t)Q * D, lg, bx, match); /* det rows */
    fd_range(name, t, &k, g0, match0, side0, "pos_embed", 0, (int64_t)(1 + N) * D, lg, bx, match);             /* cls, patches */
    if (t->m->w.mid_pos_embed)
        for (int tab = 0; tab < c->depth - 1; tab++) {
            int64_t base = (int64_t)tab * T * D;
            fd_range(name, t, &k, g0, match0, side0, "mid_pos_embed", base + (int64_t)(1 + N) * D, (int64_t)Q * D, lg, bx, match);
            fd_range(name, t, &k, g0, match0, side0, "mid_pos_embed", base, (int64_t)(1 + N) * D, lg, bx, match);
        }
    CHECK(fd_checked - before >= 30, "%s: only %d finite differences", name, fd_checked - before);

    /* bad targets: refused with one line, then the trainer still gives the same loss */
    int *cls = malloc(sizeof(int) * (size_t)(k.N + 1)), nt[8];
    float *box = malloc(sizeof(float) * 4 * (size_t)(k.N + 1));
    for (int kind = 0; kind < 9; kind++) {
        memcpy(cls, k.tclass, sizeof(int) * (size_t)k.N);
        memcpy(box, k.tb.data, sizeof(float) * 4 * (size_t)k.N);
        memcpy(nt, k.n_targets, sizeof(int) * (size_t)k.n);
        const int *pc = cls;
        const float *pb = box;
        const char *kinds[] = {"class C", "class -1", "negative width", "negative height", "NaN box",
                               "more targets than tokens", "a negative count", "no classes", "no boxes"};
        switch (kind) {
        case 0: cls[k.N - 1] = k.C1 - 1; break;
        case 1: cls[0] = -1; break;
        case 2: box[2] = -0.1f; break;
        case 3: box[4 * (k.N - 1) + 3] = -1e-3f; break;
        case 4: box[5] = NAN; break;
        case 5: /* the full image gets one more target, the last image one less */
            nt[b_full] = k.Q + 1;
            for (int b = k.n - 1; b >= 0; b--)
                if (nt[b] > 0 && b != b_full) {
                    nt[b]--;
                    break;
                }
            break;
        case 6:
            nt[b_full == 0 ? 1 : 0] = -1;
            break;
        case 7: pc = NULL; break;
        case 8: pb = NULL; break;
        }
        vitc_status s = vt_trainer_forward_backward_det(t, k.in.data, k.n, nt, pc, pb, &l, NULL, NULL);
        const char *msg = vitc_last_error();
        CHECK(s == VITC_ERR_ARG && msg && *msg && !strchr(msg, '\n'), "%s: %s: status %d, message '%s'", name, kinds[kind],
              (int)s, msg ? msg : "(null)");
    }
    free(cls), free(box);
    CHECK(step(t, &k, &l, NULL, NULL) == VITC_OK && l.total == base_total,
          "%s: after the refusals the loss is %.8f, was %.8f", name, l.total, base_total);
    CHECK(!memcmp(g0, t->grad, sizeof(float) * (size_t)t->numel), "%s: after the refusals the gradients differ", name);

    /* labels or masks for a detector */
    int lab[4] = {0, 1, 2, 0};
    double loss;
    CHECK(vt_trainer_forward_backward(t, k.in.data, lab, k.n, &loss, NULL) == VITC_ERR_ARG, "%s: labels for a detector",
          name);
    uint8_t *masks = calloc((size_t)k.n * k.S * k.S, 1);
    CHECK(vt_trainer_forward_backward_seg(t, k.in.data, masks, k.n, &loss, NULL) == VITC_ERR_ARG,
          "%s: masks for a detector", name);
    free(masks);
    CHECK(vt_trainer_forward_backward_det(t, k.in.data, 0, k.n_targets, k.tclass, k.tb.data, &l, NULL, NULL) ==
              VITC_ERR_ARG,
          "%s: an empty batch", name);

    /* boxes for a classifier (the same backbone) */
    vt_vit_config cc = *c;
    cc.task = VT_TASK_CLASSIFY, cc.det_tokens = 0, cc.mid_pos = 0;
    vitc_model *cm;
    vt_trainer *ct;
    if (vt_model_new(&cc, &cm) == VITC_OK) {
        if (vt_trainer_new(cm, &k.hp, 1, &ct) == VITC_OK) {
            vitc_status s = vt_trainer_forward_backward_det(ct, k.in.data, k.n, k.n_targets, k.tclass, k.tb.data, &l,
                                                            NULL, NULL);
            CHECK(s == VITC_ERR_ARG && strstr(vitc_last_error(), "classify"), "%s: boxes for a classifier: %d %s", name,
                  (int)s, vitc_last_error());
            vt_trainer_free(ct);
        } else {
            vitc_model_free(cm);
            CHECK(0, "%s: classifier trainer: %s", name, vitc_last_error());
        }
    } else {
        CHECK(0, "%s: classifier: %s", name, vitc_last_error());
    }
    free(g0), free(lg), free(bx), free(match0), free(match);
    vt_trainer_free(t);
    case_free(&k);
}

int main(void) {
    for (int i = 0; i < NCASES; i++) test_training(CASES[i]);
    for (int i = 0; i < NCASES; i++) test_fd_and_errors(CASES[i]);
    printf("  worst: step-1 loss rel %.3g, step losses rel %.3g, outputs %.3g, gradient rel %.3g, parameter %.3g, "
           "finite difference rel %.3g (%s; %d checked, %d skipped at matching switches or kinks)\n",
           worst_loss, worst_loss_steps, worst_out, worst_grad, worst_param, worst_fd, worst_fd_at, fd_checked,
           fd_skipped);
    return check_report("test_dettrain");
}
