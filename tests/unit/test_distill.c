/* Knowledge distillation's teachers and ensembles: the teachers' labels of a batch (each teacher
 * with its own normalization; several averaged over probabilities; hard = the mean's arg max),
 * the blend a student without a distillation head learns (its cross-entropy the blend of the two
 * cross-entropies), the refusals of unfit teachers, and ensemble evaluation (vt_evaluate over
 * several models). The DeiT two-head loss is checked against PyTorch in test_train.c. */
#include "check.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"
#include "train/data.h"
#include "train/distill.h"

#include <unistd.h>

enum { S = 16, C = 4, N = 6 };

static vitc_model *tiny_model(uint64_t seed, float mean, float std) {
    vt_vit_config c;
    vt_config_defaults(&c);
    c.dim = 32, c.depth = 1, c.heads = 2, c.mlp_dim = 64, c.patch = 4, c.img_size = S, c.num_classes = C;
    vitc_model *m = NULL;
    if (vt_model_new(&c, &m)) return NULL;
    vt_model_init_random(m, seed, 1.0f);
    /* a head large enough that the teachers disagree with one another and are confident */
    for (int64_t k = 0; k < (int64_t)c.dim * C; k++) m->w.head.w[k] *= 40.0f;
    m->pre = vitc_preprocess_default_params();
    m->pre.size = S;
    for (int k = 0; k < 3; k++) m->pre.mean[k] = mean + 0.05f * k, m->pre.std[k] = std + 0.02f * k;
    return m;
}

static void softmax_into(const float *z, double *acc) {
    double mx = z[0], sum = 0.0;
    for (int k = 1; k < C; k++) mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < C; k++) sum += exp(z[k] - mx);
    for (int k = 0; k < C; k++) acc[k] += exp(z[k] - mx) / sum;
}

static int save_tmp(vitc_model *m, char *path) {
    strcpy(path, "/tmp/vitc_test_distill_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    return vt_model_save(m, path) ? -1 : 0;
}

static void test_teachers(void) {
    vitc_model *student = tiny_model(1, 0.5f, 0.25f), *ta = tiny_model(2, 0.2f, 0.3f), *tb = tiny_model(3, 0.6f, 0.2f);
    char pa[64], pb[64], list[160];
    CHECK(student && ta && tb && !save_tmp(ta, pa) && !save_tmp(tb, pb), "teacher files: %s", vitc_last_error());
    if (!student || !ta || !tb) return;
    snprintf(list, sizeof list, "%s,%s", pa, pb);
    /* images normalized with the student's statistics */
    static float x[N * 3 * S * S], xt[N * 3 * S * S], lg[N * C], got[N * C], hard[N * C];
    uint64_t r = 5;
    for (size_t k = 0; k < sizeof x / sizeof x[0]; k++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[k] = (float)((double)(r >> 40) / 16777216.0 * 4.0 - 2.0);
    }
    /* the reference: each teacher on the images renormalized with its own statistics */
    double want[N * C] = {0};
    vitc_model *ts[2] = {ta, tb};
    for (int e = 0; e < 2; e++) {
        for (int i = 0; i < N; i++)
            for (int ch = 0; ch < 3; ch++)
                for (int p = 0; p < S * S; p++) {
                    size_t k = ((size_t)i * 3 + ch) * S * S + p;
                    float raw = x[k] * student->pre.std[ch] + student->pre.mean[ch];
                    xt[k] = (raw - ts[e]->pre.mean[ch]) / ts[e]->pre.std[ch];
                }
        vt_forward_out o = {.logits = lg};
        CHECK(vt_vit_forward(ts[e], xt, N, S, S, &o) == VITC_OK, "teacher %d forward", e);
        for (int i = 0; i < N; i++) softmax_into(lg + i * C, want + i * C);
    }
    vt_teachers tc;
    CHECK(vt_teachers_open(&tc, list, student, 2, VT_DISTILL_SOFT) == VITC_OK, "open two teachers: %s", vitc_last_error());
    CHECK(tc.n == 2, "two teachers loaded (%d)", tc.n);
    CHECK(vt_teachers_targets(&tc, x, N, 3, S, S, student->pre.mean, student->pre.std, got) == VITC_OK, "soft targets");
    double err = 0.0, sum_err = 0.0, sharp = 0.0;
    for (int i = 0; i < N; i++) {
        double rs = 0.0;
        for (int k = 0; k < C; k++) {
            err = fmax(err, fabs(got[i * C + k] - want[i * C + k] / 2));
            rs += got[i * C + k];
            sharp = fmax(sharp, got[i * C + k]);
        }
        sum_err = fmax(sum_err, fabs(rs - 1.0));
    }
    CHECK(err < 1e-6, "soft targets = the mean of the teachers' probabilities, each on its own normalization (err %g)", err);
    CHECK(sum_err < 1e-5 && sharp > 0.5, "targets are distributions (row sums off by %g, largest %g)", sum_err, sharp);
    vt_teachers_free(&tc);

    /* hard: the one-hot of the mean's arg max */
    CHECK(vt_teachers_open(&tc, list, student, 2, VT_DISTILL_HARD) == VITC_OK, "open hard: %s", vitc_last_error());
    CHECK(vt_teachers_targets(&tc, x, N, 3, S, S, student->pre.mean, student->pre.std, hard) == VITC_OK, "hard targets");
    int ok = 1;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int k = 1; k < C; k++) best = want[i * C + k] > want[i * C + best] ? k : best;
        for (int k = 0; k < C; k++) ok &= hard[i * C + k] == (k == best ? 1.0f : 0.0f);
    }
    CHECK(ok, "hard targets: one-hot of the teachers' mean's arg max");
    vt_teachers_free(&tc);

    /* one teacher alone: its own probabilities, which differ from the pair's mean */
    CHECK(vt_teachers_open(&tc, pa, student, 2, VT_DISTILL_SOFT) == VITC_OK, "open one teacher");
    CHECK(vt_teachers_targets(&tc, x, N, 3, S, S, student->pre.mean, student->pre.std, hard) == VITC_OK, "one teacher");
    double d1 = max_abs_diff(hard, got, N * C);
    CHECK(d1 > 1e-3, "one teacher's targets differ from two teachers' (%g)", d1);
    vt_teachers_free(&tc);

    /* refusals: a missing file, an empty name, other classes, other labels */
    CHECK(vt_teachers_open(&tc, "/nonexistent/teacher.safetensors", student, 2, VT_DISTILL_SOFT) != VITC_OK &&
              strstr(vitc_last_error(), "teacher"),
          "a missing teacher is refused, naming it: %s", vitc_last_error());
    snprintf(list, sizeof list, "%s,,%s", pa, pb);
    CHECK(vt_teachers_open(&tc, list, student, 2, VT_DISTILL_SOFT) != VITC_OK, "an empty name in the list is refused");
    CHECK(tc.n == 0 && !tc.models, "a refused list leaves nothing loaded");
    student->cfg.num_classes = C + 1;
    CHECK(vt_teachers_open(&tc, pa, student, 2, VT_DISTILL_SOFT) != VITC_OK && strstr(vitc_last_error(), "classes"),
          "a teacher with other classes is refused: %s", vitc_last_error());
    student->cfg.num_classes = C;
    char *names[C] = {"a", "b", "c", "d"}, *other[C] = {"a", "b", "d", "c"};
    student->labels = names, student->n_labels = C;
    ta->labels = other, ta->n_labels = C;
    char pl[64];
    CHECK(!save_tmp(ta, pl), "labelled teacher saved");
    CHECK(vt_teachers_open(&tc, pl, student, 2, VT_DISTILL_SOFT) != VITC_OK && strstr(vitc_last_error(), "names"),
          "a teacher naming its classes in another order is refused: %s", vitc_last_error());
    ta->labels = names;
    CHECK(!save_tmp(ta, pl) && vt_teachers_open(&tc, pl, student, 2, VT_DISTILL_SOFT) == VITC_OK,
          "the same labels are accepted");
    vt_teachers_free(&tc);
    student->labels = NULL, student->n_labels = 0, ta->labels = NULL, ta->n_labels = 0;
    unlink(pa), unlink(pb), unlink(pl);
    vitc_model_free(student), vitc_model_free(ta), vitc_model_free(tb);
}

/* Offline teaching: the labels of every image of a dataset equal the teachers' targets of the same
 * images in one batch; a batch's rows are those labels, mixed with the reversed batch's by lam. */
static void test_offline(void) {
    enum { NI = 300 }; /* more than one chunk of 256 */
    vitc_model *student = tiny_model(1, 0.5f, 0.25f), *ta = tiny_model(2, 0.2f, 0.3f);
    char pa[64];
    CHECK(student && ta && !save_tmp(ta, pa), "teacher file");
    if (!student || !ta) return;
    static uint8_t px[NI * S * S];
    static int lab[NI], idx[NI], lb[NI];
    random_images(px, lab, NI, S * S, C, 3);
    for (int i = 0; i < NI; i++) idx[i] = i;
    vt_dataset d = {.n = NI, .c = 1, .h = S, .w = S, .pixels = px, .labels = lab, .num_classes = C};
    static float all[NI * C], direct[NI * C], img[NI * 3 * S * S], rows[4 * C];
    vt_teachers tc;
    CHECK(vt_teachers_open(&tc, pa, student, 2, VT_DISTILL_SOFT) == VITC_OK, "open");
    CHECK(vt_teachers_label_dataset(&tc, &d, 3, student->pre.mean, student->pre.std, all) == VITC_OK, "label the dataset");
    vt_dataset_batch(&d, idx, NI, 3, student->pre.mean, student->pre.std, NULL, 0, 0, img, lb);
    CHECK(vt_teachers_targets(&tc, img, NI, 3, S, S, student->pre.mean, student->pre.std, direct) == VITC_OK, "direct");
    float e = max_abs_diff(all, direct, NI * C);
    CHECK(e < 1e-6f, "offline labels = the teachers' targets of the unaugmented images (err %g)", (double)e);
    int bi[4] = {7, 299, 0, 42};
    vt_teachers_rows(all, bi, 4, C, 0, 1.0, rows);
    CHECK(!memcmp(rows, all + 7 * C, sizeof(float) * C) && !memcmp(rows + 3 * C, all + 42 * C, sizeof(float) * C),
          "unmixed rows are the images' labels");
    vt_teachers_rows(all, bi, 4, C, 1, 0.3, rows);
    float em = 0.0f;
    for (int k = 0; k < C; k++) {
        em = fmaxf(em, fabsf(rows[k] - (0.3f * all[7 * C + k] + 0.7f * all[42 * C + k])));
        em = fmaxf(em, fabsf(rows[C + k] - (0.3f * all[299 * C + k] + 0.7f * all[0 * C + k])));
    }
    CHECK(em < 1e-6f, "mixed rows: lam of the image's labels + (1 - lam) of its partner's (err %g)", (double)em);
    vt_teachers_free(&tc);
    unlink(pa);
    vitc_model_free(student), vitc_model_free(ta);
}

/* The target a student without a distillation head learns: (1 - a) q + a t, whose cross-entropy is
 * (1 - a) CE(q) + a CE(t), gradients included (the cross-entropy is linear in the target). */
static void test_blend(void) {
    enum { B = 3 };
    int y[B] = {0, 3, 1};
    float q[B * C], t[B * C], z[B * C], g1[B * C], g2[B * C], g3[B * C];
    vt_onehot_smooth(q, y, B, C, 0.1f);
    CHECK(fabsf(q[0] - (0.9f + 0.025f)) < 1e-7f && fabsf(q[1] - 0.025f) < 1e-7f && fabsf(q[C + 3] - 0.925f) < 1e-7f,
          "smoothed one-hot rows");
    for (int k = 0; k < B * C; k++) z[k] = sinf(1.7f * k), t[k] = 0.0f;
    for (int i = 0; i < B; i++) t[i * C + (i + 2) % C] = 0.7f, t[i * C + (i + 1) % C] = 0.3f;
    double lq = vt_xent_soft_forward_backward(g1, z, q, B, C), lt = vt_xent_soft_forward_backward(g2, z, t, B, C);
    float a = 0.35f, mix[B * C];
    memcpy(mix, q, sizeof mix);
    vt_distill_blend(mix, t, B, C, a);
    double lm = vt_xent_soft_forward_backward(g3, z, mix, B, C);
    float ge = 0.0f;
    for (int k = 0; k < B * C; k++) ge = fmaxf(ge, fabsf(g3[k] - ((1 - a) * g1[k] + a * g2[k])));
    CHECK(fabs(lm - ((1 - a) * lq + a * lt)) < 1e-6 && ge < 1e-6f, "blend: loss %.8f vs %.8f, gradient err %g", lm,
          (1 - a) * lq + a * lt, (double)ge);
    memcpy(mix, q, sizeof mix);
    vt_distill_blend(mix, t, B, C, 0.0f);
    CHECK(!memcmp(mix, q, sizeof mix), "alpha 0 keeps the labels");
}

/* vt_evaluate over an ensemble: the same model twice = the model alone; two models = the mean of
 * their probabilities (loss and predictions against a reference computed here). */
static void test_ensemble_eval(void) {
    enum { NI = 40 };
    vitc_model *a = tiny_model(7, 0.5f, 0.25f), *b = tiny_model(8, 0.4f, 0.3f);
    CHECK(a && b, "models");
    if (!a || !b) return;
    static uint8_t px[NI * S * S];
    int lab[NI];
    random_images(px, lab, NI, S * S, C, 11);
    vt_dataset d = {.n = NI, .c = 1, .h = S, .w = S, .pixels = px, .labels = lab, .num_classes = C};
    int64_t c1[C * C] = {0}, c2[C * C] = {0}, c3[C * C] = {0};
    double l1, l2, l3;
    vitc_model *one[1] = {a}, *twice[2] = {a, a}, *pair[2] = {a, b};
    CHECK(vt_evaluate(one, 1, &d, 16, NULL, 0, c1, &l1) == VITC_OK, "evaluate one");
    CHECK(vt_evaluate(twice, 2, &d, 16, NULL, 0, c2, &l2) == VITC_OK, "evaluate the same model twice");
    CHECK(!memcmp(c1, c2, sizeof c1) && fabs(l1 - l2) < 1e-5 * l1, "a model twice = the model (loss %.7f vs %.7f)", l2, l1);
    CHECK(vt_evaluate(pair, 2, &d, 16, NULL, 0, c3, &l3) == VITC_OK, "evaluate a pair");
    /* reference: each model on the images with its own normalization */
    static float img[NI * 3 * S * S], lg[NI * C];
    int lb[NI], idx[NI];
    for (int i = 0; i < NI; i++) idx[i] = i;
    double p[NI * C] = {0};
    for (int e = 0; e < 2; e++) {
        vt_dataset_batch(&d, idx, NI, 3, pair[e]->pre.mean, pair[e]->pre.std, NULL, 0, 0, img, lb);
        vt_forward_out o = {.logits = lg};
        CHECK(vt_vit_forward(pair[e], img, NI, S, S, &o) == VITC_OK, "reference forward");
        for (int i = 0; i < NI; i++) softmax_into(lg + i * C, p + i * C);
    }
    int64_t want[C * C] = {0};
    double wl = 0.0;
    for (int i = 0; i < NI; i++) {
        int best = 0;
        for (int k = 1; k < C; k++) best = p[i * C + k] > p[i * C + best] ? k : best;
        want[lab[i] * C + best]++;
        wl -= log(p[i * C + lab[i]] / 2) / NI;
    }
    CHECK(!memcmp(c3, want, sizeof want) && fabs(l3 - wl) < 1e-6 * wl, "pair: probabilities averaged (loss %.7f vs %.7f)",
          l3, wl);
    CHECK(memcmp(c3, c1, sizeof c1) || fabs(l3 - l1) > 1e-3, "the pair differs from one model");
    /* with flips: four views per image; the count is still one per image */
    int64_t c4[C * C] = {0}, tot = 0;
    CHECK(vt_evaluate(pair, 2, &d, 16, NULL, 1, c4, NULL) == VITC_OK, "pair with flips");
    for (int k = 0; k < C * C; k++) tot += c4[k];
    CHECK(tot == NI, "each image counted once (%lld)", (long long)tot);
    /* refused: models that disagree on classes */
    b->cfg.num_classes = C - 1;
    CHECK(vt_evaluate(pair, 2, &d, 16, NULL, 0, c4, NULL) != VITC_OK, "an ensemble with other classes is refused");
    b->cfg.num_classes = C;
    vitc_model_free(a), vitc_model_free(b);
}

int main(void) {
    vt_set_threads(2);
    test_blend();
    test_teachers();
    test_offline();
    test_ensemble_eval();
    return check_report("test_distill");
}
