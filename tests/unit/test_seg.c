/* Semantic segmentation against the float64 PyTorch Segmenter reference (tests/ref/make_seg_fixtures.py):
 * the linear decoder and the mask transformer, each with and without a class token.
 *
 *   inference: vitc_model_segment_grid / vitc_model_segment (square and 16 x 24, batch 3 so that
 *     whole images per thread and the leftover split path both run) and vitc_model_segment_image
 *     on the identity geometry: scores max |diff| <= 1e-4, masks identical except at near-ties
 *     (reference top-two scores within 1e-4);
 *   training: vt_trainer_forward_backward_seg's loss (relative 1e-5, label smoothing 0 and 0.1),
 *     the upsampled scores, every gradient (max |diff| <= 1e-4 * max |grad| + 1e-6, as test_train.c),
 *     ten AdamW steps (losses relative 1e-4, parameters 1e-4; key biases as test_train.c), central
 *     finite differences of a few parameters (decoder.cls_emb and decoder.mask_norm among them);
 *   pieces: vt_seg_xent_forward_backward against torch and a direct computation (all ignored: 0),
 *     vt_bilinear_planes(_backward) against F.interpolate (up, down, mixed, non-square),
 *     vt_seg_scores_of against a NumPy confusion matrix;
 *   errors: mask values outside 0..C-1 other than 255, segmentation calls on a classifier and
 *     classification on a segmentation model. */
#include "check.h"
#include "compare_params.h"
#include "core/npy.h"
#include "formats/safetensors.h"
#include "image/image.h"
#include "model/layers.h"
#include "model/model.h"
#include "train/seg_eval.h"
#include "train/train.h"

#include <stdint.h>

static const char *CASES[] = {"linear_cls", "linear_avg", "mask_cls", "mask_avg", "mask_d0"};
#define NCASES 5

static double worst_score, worst_grad, worst_param, worst_loss, worst_fd, worst_bil, lr_sum;
static int near_ties;

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

static void case_dir(char *dir, size_t n, const char *name) { snprintf(dir, n, "%s/seg/%s", fixture_dir(), name); }

/* got vs ref scores (n images of C planes of P pixels): max |diff|, and the arg max masks agree
 * except where the reference's two best scores are within 1e-4 */
static void compare_scores(const char *what, const float *got, const float *ref, const uint8_t *mask,
                           const float *ref_mask, int n, int C, size_t P) {
    if (got) {
        float e = max_abs_diff(got, ref, (size_t)n * C * P);
        if (e > worst_score) worst_score = e;
        CHECK(e <= 1e-4f, "%s: scores max error %g", what, e);
    }
    if (!mask) return;
    int bad = 0;
    for (int b = 0; b < n; b++)
        for (size_t p = 0; p < P; p++) {
            int r = (int)ref_mask[(size_t)b * P + p], g = mask[(size_t)b * P + p];
            if (r == g) continue;
            const float *s = ref + (size_t)b * C * P + p;
            if (g < C && fabsf(s[(size_t)r * P] - s[(size_t)g * P]) <= 1e-4f) near_ties++;
            else bad++;
        }
    CHECK(bad == 0, "%s: %d mask pixels differ (not ties)", what, bad);
}

/* ---------------------------------------------------------------- inference */

static void test_inference(const char *name) {
    char dir[1024], path[1200];
    case_dir(dir, sizeof dir, name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_model *m;
    if (vitc_model_load(path, NULL, &m)) {
        CHECK(0, "%s: load: %s", name, vitc_last_error());
        return;
    }
    vitc_model_set_threads(m, 2);
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    CHECK(!strcmp(info.task, "segment") && info.decoder && !strcmp(info.decoder, !strncmp(name, "mask", 4) ? "mask" : "linear"),
          "%s: info task %s decoder %s", name, info.task, info.decoder ? info.decoder : "(null)");
    int C = m->cfg.num_classes, P = m->cfg.patch;
    for (int ns = 0; ns < 2; ns++) {
        vt_npy in, grid, sc, mk;
        char f[4][32];
        const char *tag = ns ? "_ns" : "";
        snprintf(f[0], 32, "input%s.npy", tag), snprintf(f[1], 32, "grid%s.npy", tag);
        snprintf(f[2], 32, "scores%s.npy", tag), snprintf(f[3], 32, "mask%s.npy", tag);
        if (load_npy(dir, f[0], &in) || load_npy(dir, f[1], &grid) || load_npy(dir, f[2], &sc) || load_npy(dir, f[3], &mk)) {
            CHECK(0, "%s: inference fixtures unreadable", name);
            return;
        }
        int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3];
        size_t HW = (size_t)H * W, G = (size_t)(H / P) * (W / P);
        float *g = malloc(sizeof(float) * n * C * G), *up = malloc(sizeof(float) * n * C * HW);
        uint8_t *mask = malloc((size_t)n * HW), *mask2 = malloc((size_t)n * HW);
        char what[128];
        snprintf(what, sizeof what, "%s %dx%d grid", name, H, W);
        CHECK(vitc_model_segment_grid(m, in.data, n, H, W, g) == VITC_OK, "%s: %s", what, vitc_last_error());
        compare_scores(what, g, grid.data, NULL, NULL, n, C, G);
        snprintf(what, sizeof what, "%s %dx%d", name, H, W);
        CHECK(vitc_model_segment(m, in.data, n, H, W, up, mask) == VITC_OK, "%s: %s", what, vitc_last_error());
        compare_scores(what, up, sc.data, mask, mk.data, n, C, HW);
        CHECK(vitc_model_segment(m, in.data, n, H, W, NULL, mask2) == VITC_OK && !memcmp(mask, mask2, (size_t)n * HW),
              "%s: the mask alone differs", what);
        /* one image at a time gives the same bits as the batch */
        CHECK(vitc_model_segment(m, in.data + (size_t)3 * HW, 1, H, W, NULL, mask2) == VITC_OK &&
                  !memcmp(mask + HW, mask2, HW),
              "%s: image 1 alone differs", what);
        free(g), free(up), free(mask), free(mask2);
        vt_npy_free(&in), vt_npy_free(&grid), vt_npy_free(&sc), vt_npy_free(&mk);
    }
    /* an 8-bit image through the model's preprocessing (crop_pct 1 at its own size: identity) */
    vt_npy im, si;
    if (!load_npy(dir, "image.npy", &im) && !load_npy(dir, "scores_img.npy", &si)) {
        int H = (int)im.shape[0], W = (int)im.shape[1];
        uint8_t *rgb = malloc((size_t)H * W * 3), *mask = malloc((size_t)H * W);
        for (size_t i = 0; i < (size_t)H * W * 3; i++) rgb[i] = (uint8_t)im.data[i];
        vitc_image *img;
        CHECK(vitc_image_from_rgb(W, H, rgb, &img) == VITC_OK, "image");
        float *up = malloc(sizeof(float) * C * H * W), *ref_mask = malloc(sizeof(float) * H * W);
        vt_pre_geom geo;
        CHECK(vt_preprocess_geometry(&m->pre, W, H, &geo) == VITC_OK && geo.rw == W && geo.rh == H && !geo.cx0 && !geo.cy0,
              "%s: not the identity geometry", name);
        char what[128];
        snprintf(what, sizeof what, "%s image", name);
        CHECK(vitc_model_segment_image(m, img, up, mask) == VITC_OK, "%s: %s", what, vitc_last_error());
        for (int p = 0; p < H * W; p++) {
            int best = 0;
            for (int k = 1; k < C; k++)
                if (si.data[(size_t)k * H * W + p] > si.data[(size_t)best * H * W + p]) best = k;
            ref_mask[p] = (float)best;
        }
        compare_scores(what, up, si.data, mask, ref_mask, 1, C, (size_t)H * W);
        vitc_image_free(img);
        free(rgb), free(mask), free(up), free(ref_mask);
    } else {
        CHECK(0, "%s: image fixtures unreadable", name);
    }
    vt_npy_free(&im), vt_npy_free(&si);

    /* errors */
    float dummy[3 * 16 * 16] = {0}, out[16 * C];
    uint8_t mask[16 * 16];
    CHECK(vitc_model_classify(m, dummy, 1, 16, 16, out) == VITC_ERR_UNSUPPORTED, "%s: classify on a segmentation model",
          name);
    CHECK(vitc_model_segment(m, dummy, 1, 16, 15, NULL, mask) == VITC_ERR_SHAPE, "%s: 16x15 input", name);
    CHECK(vitc_model_segment(m, dummy, 1, 16, 16, NULL, NULL) == VITC_ERR_ARG, "%s: no outputs", name);
    vitc_model_free(m);
}

/* vt_segment_map_back through crops and pads: planes linear in the grid coordinates (plane 0: the
 * column index, plane 1: the row index) come back as the grid coordinate of each original pixel,
 * u = ((x + 0.5) rw / w - cx0) / P - 0.5 clamped to the grid (bilinear interpolation is exact on
 * linear functions), whatever the resize and center crop. */
static void test_map_back(void) {
    char dir[1024], path[1200];
    case_dir(dir, sizeof dir, "linear_cls");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_model *m;
    if (vitc_model_load(path, NULL, &m)) {
        CHECK(0, "map back: load: %s", vitc_last_error());
        return;
    }
    int C = m->cfg.num_classes, P = m->cfg.patch, gs = m->pre.size / P;
    float *grid = calloc((size_t)C * gs * gs, sizeof(float));
    for (int i = 0; i < gs; i++)
        for (int j = 0; j < gs; j++) {
            grid[i * gs + j] = (float)j;
            grid[gs * gs + i * gs + j] = (float)i;
            grid[2 * gs * gs + i * gs + j] = 10.0f; /* the arg max everywhere */
        }
    static const struct { int w, h; float crop; int squash; } geo[] = {
        {16, 16, 0.8f, 0}, {24, 16, 0.8f, 0}, {16, 40, 0.875f, 0}, {20, 20, 1.6f, 0}, {30, 18, 2.0f, 1}, {9, 13, 1.0f, 0}};
    for (size_t k = 0; k < sizeof geo / sizeof geo[0]; k++) {
        m->pre.crop_pct = geo[k].crop;
        m->pre.squash = geo[k].squash;
        int w = geo[k].w, h = geo[k].h;
        vt_pre_geom g;
        CHECK(vt_preprocess_geometry(&m->pre, w, h, &g) == VITC_OK, "map back: geometry");
        float *sc = malloc(sizeof(float) * C * w * h);
        uint8_t *mask = malloc((size_t)w * h);
        CHECK(vt_segment_map_back(m, grid, w, h, sc, mask) == VITC_OK, "map back: %s", vitc_last_error());
        double e = 0;
        int wrong = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double u = ((x + 0.5) * g.rw / w - g.cx0) / P - 0.5, v = ((y + 0.5) * g.rh / h - g.cy0) / P - 0.5;
                u = fmin(fmax(u, 0.0), gs - 1.0), v = fmin(fmax(v, 0.0), gs - 1.0);
                e = fmax(e, fabs(sc[y * w + x] - u));
                e = fmax(e, fabs(sc[(size_t)w * h + y * w + x] - v));
                wrong += mask[y * w + x] != 2;
            }
        CHECK(e < 1e-5 && !wrong, "map back %dx%d crop %.3f (resized %dx%d, crop at %d,%d): max error %g, %d mask pixels",
              w, h, (double)geo[k].crop, g.rw, g.rh, g.cx0, g.cy0, e, wrong);
        free(sc), free(mask);
    }
    free(grid);
    vitc_model_free(m);
}

/* ---------------------------------------------------------------- training */

static vt_train_hparams fixture_hparams(const float *h) {
    vt_train_hparams hp = vt_train_default_hparams();
    hp.lr = h[0], hp.min_lr = h[1], hp.weight_decay = h[2], hp.beta1 = h[3], hp.beta2 = h[4], hp.eps = h[5];
    hp.clip = h[6], hp.label_smoothing = h[7], hp.warmup_steps = (int64_t)h[8], hp.total_steps = (int64_t)h[9];
    return hp;
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

/* Central differences (h = 2e-3) of the loss at the largest-gradient entry and one other entry
 * of each named parameter, against the analytic gradient. */
static void finite_differences(const char *name, vt_trainer *t, const float *x, const uint8_t *y, int n, double ref) {
    static const char *names[] = {"decoder.cls_emb", "decoder.mask_norm.weight", "decoder.mask_norm.bias",
                                  "decoder.proj_patch.weight", "decoder.proj_classes.weight",
                                  "decoder.blocks.0.attn.qkv.weight", "decoder.proj_dec.bias", "decoder.head.weight",
                                  "decoder.head.bias", "blocks.1.mlp.fc2.weight", "pos_embed", "norm.weight"};
    double loss;
    CHECK(vt_trainer_forward_backward_seg(t, x, y, n, &loss, NULL) == VITC_OK, "%s: fd step", name);
    CHECK(fabs(loss - ref) < 1e-5 * ref, "%s: loss %.7f after a smaller batch vs PyTorch %.7f", name, loss, ref);
    float *g0 = malloc(sizeof(float) * (size_t)t->numel);
    memcpy(g0, t->grad, sizeof(float) * (size_t)t->numel);
    int checked = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int i = param_index(t, names[k]);
        if (i < 0) continue;
        const vt_param *p = &t->params[i];
        const float *g = g0 + t->offsets[i];
        float *w = t->m->param_buf + t->offsets[i];
        int64_t jmax = 0;
        float gmax = 0.0f;
        for (int64_t j = 0; j < p->numel; j++)
            if (fabsf(g[j]) > gmax) gmax = fabsf(g[j]), jmax = j;
        int64_t js[2] = {jmax, (jmax + p->numel / 2 + 1) % p->numel};
        for (int r = 0; r < 2; r++) {
            int64_t j = js[r];
            const float h = 2e-3f, w0 = w[j];
            double lp, lm;
            w[j] = w0 + h;
            vt_trainer_forward_backward_seg(t, x, y, n, &lp, NULL);
            w[j] = w0 - h;
            vt_trainer_forward_backward_seg(t, x, y, n, &lm, NULL);
            w[j] = w0;
            double fd = (lp - lm) / (2.0 * ((double)(w0 + h) - (double)w0));
            double e = fabs(fd - g[j]) / (gmax + 1e-3);
            if (e > worst_fd) worst_fd = e;
            CHECK(e < 2e-2, "%s: %s[%lld] finite difference %.6g vs gradient %.6g", name, p->name, (long long)j, fd,
                  (double)g[j]);
            checked++;
        }
    }
    CHECK(checked >= 8, "%s: only %d finite differences", name, checked);
    free(g0);
}

static void test_training(const char *name) {
    char dir[1024], path[1200];
    case_dir(dir, sizeof dir, name);
    vt_npy in, mk, hpa, l0, l1, losses, upr;
    if (load_npy(dir, "train_input.npy", &in) || load_npy(dir, "train_masks.npy", &mk) ||
        load_npy(dir, "hparams.npy", &hpa) || load_npy(dir, "loss_ls0.npy", &l0) || load_npy(dir, "loss.npy", &l1) ||
        load_npy(dir, "losses.npy", &losses) || load_npy(dir, "train_up.npy", &upr)) {
        CHECK(0, "%s: training fixtures unreadable", name);
        return;
    }
    vt_train_hparams hp = fixture_hparams(hpa.data);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vt_trainer *t = trainer_from(path, &hp);
    CHECK(t != NULL, "%s: trainer: %s", name, vitc_last_error());
    if (!t) return;
    int n = (int)in.shape[0], S = (int)in.shape[2], C = t->m->cfg.num_classes;
    size_t HW = (size_t)S * S;
    uint8_t *y = malloc((size_t)n * HW);
    for (size_t i = 0; i < (size_t)n * HW; i++) y[i] = (uint8_t)mk.data[i];
    float *up = malloc(sizeof(float) * n * C * HW);
    double loss;
    char what[128];

    /* label smoothing 0, then the fixture's 0.1 (with the upsampled scores) */
    for (int ls = 0; ls < 2; ls++) {
        t->hp.label_smoothing = ls ? hp.label_smoothing : 0.0f;
        snprintf(what, sizeof what, "%s ls %.1f", name, (double)t->hp.label_smoothing);
        CHECK(vt_trainer_forward_backward_seg(t, in.data, y, n, &loss, ls ? up : NULL) == VITC_OK, "%s: step: %s",
              what, vitc_last_error());
        double ref = ls ? l1.data[0] : l0.data[0], e = fabs(loss - ref) / fabs(ref);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-5, "%s: loss %.7f vs PyTorch %.7f", what, loss, ref);
        snprintf(path, sizeof path, "%s/grads%s.safetensors", dir, ls ? "" : "_ls0");
        compare_tensors(what, t, t->grad, path, 1);
        if (ls) {
            float eu = max_abs_diff(up, upr.data, (size_t)n * C * HW);
            if (eu > worst_score) worst_score = eu;
            CHECK(eu <= 1e-4f, "%s: training scores max error %g", what, eu);
        }
    }

    /* ten AdamW steps */
    double first_loss = loss;
    int steps = (int)losses.count;
    lr_sum = 0;
    for (int s = 0; s < steps; s++) lr_sum += vt_train_lr(&hp, s);
    for (int s = 0; s < steps; s++) {
        CHECK(vt_trainer_forward_backward_seg(t, in.data, y, n, &loss, NULL) == VITC_OK, "%s: step %d", name, s);
        double e = fabs(loss - losses.data[s]) / fabs(losses.data[s]);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-4, "%s: step %d loss %.7f vs PyTorch %.7f", name, s, loss, (double)losses.data[s]);
        vt_trainer_update(t);
    }
    snprintf(path, sizeof path, "%s/params.safetensors", dir);
    compare_tensors(name, t, t->m->param_buf, path, 0);
    double last_loss = loss;
    /* inference on the trained weights (packed again after the updates) = the training pass's scores */
    float *inf = malloc(sizeof(float) * n * C * HW);
    CHECK(vt_trainer_forward_backward_seg(t, in.data, y, n, &loss, up) == VITC_OK &&
              vitc_model_segment(t->m, in.data, n, S, S, inf, NULL) == VITC_OK,
          "%s: inference after training: %s", name, vitc_last_error());
    float ei = max_abs_diff(inf, up, (size_t)n * C * HW);
    CHECK(ei <= 1e-5f, "%s: inference after training differs from the training pass by %g", name, ei);
    free(inf);
    printf("  %-10s loss %.5f -> %.5f over %d AdamW steps (PyTorch %.5f -> %.5f)\n", name, first_loss, last_loss, steps, (double)losses.data[0], (double)losses.data[steps - 1]);
    vt_trainer_free(t);

    /* finite differences at the initial weights */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    t = trainer_from(path, &hp);
    CHECK(t != NULL, "%s: trainer: %s", name, vitc_last_error());
    if (t) {
        /* a batch of one first: the activations are laid out again for the larger batch */
        double l_one = -1;
        CHECK(vt_trainer_forward_backward_seg(t, in.data + 3 * HW, y + HW, 1, &l_one, NULL) == VITC_OK && l_one > 0,
              "%s: batch of one", name);
        finite_differences(name, t, in.data, y, n, l1.data[0]);

        /* every pixel ignored: loss 0, every gradient 0 */
        uint8_t *none = malloc((size_t)n * HW);
        memset(none, 255, (size_t)n * HW);
        loss = -1;
        CHECK(vt_trainer_forward_backward_seg(t, in.data, none, n, &loss, NULL) == VITC_OK && loss == 0.0,
              "%s: all ignored: loss %g", name, loss);
        int nonzero = 0;
        for (int64_t i = 0; i < t->numel; i++) nonzero += t->grad[i] != 0.0f;
        CHECK(nonzero == 0, "%s: all ignored: %d nonzero gradients", name, nonzero);

        /* a mask value outside 0..C-1 that is not 255 */
        memcpy(none, y, (size_t)n * HW);
        none[(size_t)n * HW - 1] = (uint8_t)C;
        CHECK(vt_trainer_forward_backward_seg(t, in.data, none, n, &loss, NULL) == VITC_ERR_ARG, "%s: mask value C", name);
        none[(size_t)n * HW - 1] = 7;
        none[0] = 254;
        CHECK(vt_trainer_forward_backward_seg(t, in.data, none, n, &loss, NULL) == VITC_ERR_ARG, "%s: mask value 254",
              name);
        int lab[2] = {0, 1};
        CHECK(vt_trainer_forward_backward(t, in.data, lab, n, &loss, NULL) == VITC_ERR_ARG,
              "%s: class labels for a segmentation model", name);
        free(none);
        vt_trainer_free(t);
    }
    free(y), free(up);
    vt_npy_free(&in), vt_npy_free(&mk), vt_npy_free(&hpa), vt_npy_free(&l0), vt_npy_free(&l1);
    vt_npy_free(&losses), vt_npy_free(&upr);
}

/* ---------------------------------------------------------------- pieces */

static void test_classifier(void) {
    char dir[1024], path[1200];
    case_dir(dir, sizeof dir, "classifier");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = 2;
    vitc_model *m;
    if (vitc_model_load(path, &lp, &m)) {
        CHECK(0, "classifier: load: %s", vitc_last_error());
        return;
    }
    float x[3 * 16 * 16] = {0}, out[5 * 16 * 16];
    uint8_t mask[16 * 16];
    CHECK(vitc_model_classify(m, x, 1, 16, 16, out) == VITC_OK, "classifier: classify: %s", vitc_last_error());
    CHECK(vitc_model_segment(m, x, 1, 16, 16, out, mask) == VITC_ERR_UNSUPPORTED, "classifier: segment");
    CHECK(vitc_model_segment_grid(m, x, 1, 16, 16, out) == VITC_ERR_UNSUPPORTED, "classifier: segment_grid");
    uint8_t rgb[16 * 16 * 3] = {0};
    vitc_image *img;
    if (vitc_image_from_rgb(16, 16, rgb, &img) == VITC_OK) {
        CHECK(vitc_model_segment_image(m, img, NULL, mask) == VITC_ERR_UNSUPPORTED, "classifier: segment_image");
        vitc_image_free(img);
    }
    vitc_model *a;
    vt_trainer *t;
    if (!vt_model_adapt(m, &m->cfg, 0, &a)) {
        vt_train_hparams hp = vt_train_default_hparams();
        if (!vt_trainer_new(a, &hp, 1, &t)) {
            double loss;
            memset(mask, 0, sizeof mask);
            CHECK(vt_trainer_forward_backward_seg(t, x, mask, 1, &loss, NULL) == VITC_ERR_ARG, "classifier: masks");
            vt_trainer_free(t);
        } else {
            vitc_model_free(a);
        }
    }
    vitc_model_free(m);
}

static void test_xent(void) {
    char dir[1024];
    case_dir(dir, sizeof dir, "xent");
    vt_npy z, lab, l, g;
    if (load_npy(dir, "logits.npy", &z) || load_npy(dir, "labels.npy", &lab) || load_npy(dir, "loss.npy", &l) ||
        load_npy(dir, "grad.npy", &g)) {
        CHECK(0, "xent fixtures unreadable");
        return;
    }
    int n = (int)z.shape[0], C = (int)z.shape[1];
    size_t P = (size_t)z.shape[2] * z.shape[3];
    uint8_t *y = malloc(lab.count);
    for (size_t i = 0; i < lab.count; i++) y[i] = (uint8_t)lab.data[i];
    float *dz = malloc(sizeof(float) * z.count);
    int64_t counted = -1;
    double loss = vt_seg_xent_forward_backward(dz, z.data, y, n, C, P, 0.1f, &counted);
    CHECK(fabs(loss - l.data[0]) <= 1e-6 * fabs(l.data[0]), "xent: loss %.8f vs torch %.8f", loss, (double)l.data[0]);
    CHECK(counted == (int64_t)(n * P) - 5, "xent: counted %lld", (long long)counted);
    float e = max_abs_diff(dz, g.data, z.count);
    CHECK(e <= 1e-7f, "xent: gradient max error %g", e);
    free(y), free(dz);
    vt_npy_free(&z), vt_npy_free(&lab), vt_npy_free(&l), vt_npy_free(&g);

    /* a direct double computation, several images, both smoothing settings */
    enum { N = 3, K = 6, Q = 37 };
    static float zz[N * K * Q], d[N * K * Q];
    static uint8_t yy[N * Q];
    uint64_t s = 12345;
    for (int i = 0; i < N * K * Q; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        zz[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 8.0 - 4.0);
    }
    int cnt = 0;
    for (int i = 0; i < N * Q; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        yy[i] = (s >> 60) < 3 ? 255 : (uint8_t)((s >> 33) % K);
        cnt += yy[i] != 255;
    }
    for (int ls = 0; ls < 2; ls++) {
        double eps = ls ? 0.25 : 0.0, ref = 0.0, ge = 0.0;
        loss = vt_seg_xent_forward_backward(d, zz, yy, N, K, Q, (float)eps, &counted);
        for (int b = 0; b < N; b++)
            for (int p = 0; p < Q; p++) {
                int t = yy[b * Q + p];
                double mx = -1e30, se = 0.0;
                for (int k = 0; k < K; k++) mx = fmax(mx, zz[(b * K + k) * Q + p]);
                for (int k = 0; k < K; k++) se += exp(zz[(b * K + k) * Q + p] - mx);
                for (int k = 0; k < K; k++) {
                    double lp = zz[(b * K + k) * Q + p] - mx - log(se);
                    double q = t == 255 ? 0.0 : (k == t ? 1.0 - eps : 0.0) + eps / K;
                    ref -= q * lp;
                    double gr = t == 255 ? 0.0 : (exp(lp) - q) / cnt;
                    ge = fmax(ge, fabs(gr - d[(b * K + k) * Q + p]));
                }
            }
        ref /= cnt;
        CHECK(fabs(loss - ref) <= 1e-6 * ref && counted == cnt, "xent direct eps %g: loss %.8f vs %.8f (%lld of %d)", eps,
              loss, ref, (long long)counted, cnt);
        CHECK(ge <= 1e-7, "xent direct eps %g: gradient max error %g", eps, ge);
    }
    /* all ignored */
    memset(yy, 255, sizeof yy);
    for (int i = 0; i < N * K * Q; i++) d[i] = NAN;
    loss = vt_seg_xent_forward_backward(d, zz, yy, N, K, Q, 0.1f, &counted);
    int nz = 0;
    for (int i = 0; i < N * K * Q; i++) nz += d[i] != 0.0f;
    CHECK(loss == 0.0 && counted == 0 && nz == 0, "xent all ignored: loss %g, counted %lld, %d nonzero gradients", loss,
          (long long)counted, nz);
    CHECK(vt_seg_xent_forward_backward(NULL, zz, yy, N, K, Q, 0.0f, NULL) == 0.0, "xent all ignored, no gradient");
}

static void test_bilinear(void) {
    char dir[1024];
    case_dir(dir, sizeof dir, "bilinear");
    for (int k = 0;; k++) {
        vt_npy in, out, dout, din;
        char f[4][32];
        snprintf(f[0], 32, "%d_in.npy", k), snprintf(f[1], 32, "%d_out.npy", k);
        snprintf(f[2], 32, "%d_dout.npy", k), snprintf(f[3], 32, "%d_din.npy", k);
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, f[0]);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            CHECK(k == 5, "bilinear: %d cases", k);
            break;
        }
        fclose(fp);
        if (load_npy(dir, f[0], &in) || load_npy(dir, f[1], &out) || load_npy(dir, f[2], &dout) ||
            load_npy(dir, f[3], &din)) {
            CHECK(0, "bilinear %d: unreadable", k);
            break;
        }
        int C = (int)in.shape[0], h = (int)in.shape[1], w = (int)in.shape[2], H = (int)out.shape[1], W = (int)out.shape[2];
        float *o = malloc(sizeof(float) * out.count), *di = calloc(in.count, sizeof(float));
        vt_bilinear_planes(o, in.data, C, h, w, H, W, (double)h / H, 0.0, (double)w / W, 0.0);
        vt_bilinear_planes_backward(di, dout.data, C, h, w, H, W, (double)h / H, 0.0, (double)w / W, 0.0);
        float e1 = max_abs_diff(o, out.data, out.count), e2 = max_abs_diff(di, din.data, in.count);
        if (e1 > worst_bil) worst_bil = e1;
        if (e2 > worst_bil) worst_bil = e2;
        CHECK(e1 <= 1e-5f, "bilinear %dx%d -> %dx%d: max error %g", h, w, H, W, e1);
        CHECK(e2 <= 1e-5f, "bilinear %dx%d -> %dx%d backward: max error %g", h, w, H, W, e2);
        free(o), free(di);
        vt_npy_free(&in), vt_npy_free(&out), vt_npy_free(&dout), vt_npy_free(&din);
    }
}

static void test_scores_of(void) {
    char dir[1024];
    case_dir(dir, sizeof dir, "scores");
    vt_npy tr, pr, cf, io, sm;
    if (load_npy(dir, "truth.npy", &tr) || load_npy(dir, "pred.npy", &pr) || load_npy(dir, "conf.npy", &cf) ||
        load_npy(dir, "iou.npy", &io) || load_npy(dir, "summary.npy", &sm)) {
        CHECK(0, "scores fixtures unreadable");
        return;
    }
    int K = (int)cf.shape[0];
    int64_t *conf = calloc((size_t)K * K, sizeof *conf);
    for (size_t p = 0; p < tr.count; p++)
        if (tr.data[p] != 255.0f) conf[(size_t)tr.data[p] * K + (size_t)pr.data[p]]++;
    int same = 1;
    for (int i = 0; i < K * K; i++) same &= conf[i] == (int64_t)cf.data[i];
    CHECK(same, "scores: confusion matrix differs from NumPy's");
    double *iou = malloc(sizeof(double) * K);
    vt_seg_scores r = vt_seg_scores_of(conf, K, iou);
    for (int k = 0; k < K; k++)
        CHECK(isnan(io.data[k]) ? isnan(iou[k]) : fabs(iou[k] - io.data[k]) < 1e-6, "scores: class %d IoU %g vs %g", k,
              iou[k], (double)io.data[k]);
    CHECK(fabs(r.miou - sm.data[0]) < 1e-6 && fabs(r.pixel_acc - sm.data[1]) < 1e-6 && r.classes_present == (int)sm.data[2],
          "scores: mIoU %g vs %g, pixel accuracy %g vs %g, %d vs %d classes", r.miou, (double)sm.data[0], r.pixel_acc,
          (double)sm.data[1], r.classes_present, (int)sm.data[2]);
    /* an empty matrix */
    memset(conf, 0, sizeof *conf * (size_t)K * K);
    r = vt_seg_scores_of(conf, K, NULL);
    CHECK(r.miou == 0.0 && r.pixel_acc == 0.0 && r.classes_present == 0, "scores: empty matrix");
    free(conf), free(iou);
    vt_npy_free(&tr), vt_npy_free(&pr), vt_npy_free(&cf), vt_npy_free(&io), vt_npy_free(&sm);
}

int main(void) {
    for (int i = 0; i < NCASES; i++) test_inference(CASES[i]);
    for (int i = 0; i < NCASES; i++) test_training(CASES[i]);
    test_map_back();
    test_classifier();
    test_xent();
    test_bilinear();
    test_scores_of();
    printf("  worst: scores %.3g, loss rel %.3g, gradient rel %.3g, parameter %.3g, finite difference rel %.3g, "
           "bilinear %.3g; %d near-tie mask pixels\n",
           worst_score, worst_loss, worst_grad, worst_param, worst_fd, worst_bil, near_ties);
    return check_report("test_seg");
}
