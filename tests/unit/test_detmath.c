/* Detection math (src/train/hungarian, detr_loss, det_eval) against tests/ref/make_det_fixtures.py
 * and by hand:
 *   matcher: scipy's linear_sum_assignment on 21 matrices (the same total cost always, the same
 *     assignment where there are no ties), brute force over all assignments of small random and
 *     tied matrices, zero targets, more targets than queries and non-finite costs refused;
 *   loss: the PyTorch restatement of HF's YolosHungarianMatcher + YolosLoss (five batches, one
 *     image and one whole batch without targets, non-default weights): losses relative 1e-5,
 *     gradients (raw and post-sigmoid boxes) within 1e-5, the matching identical, image 0's cost
 *     matrix; central finite differences of the losses and of GIoU; bad inputs;
 *   mAP: an independent NumPy statement of COCO's bbox evaluation on five sets (random, 100 per
 *     image cap, ties in IoU and in score), and hand-made cases: a perfect detector, a box at
 *     IoU 0.6, duplicates, a class without ground truth, no detections, streaming, bad inputs.
 * Fixture parts are skipped on the quick path (VITC_QUICK); the rest runs everywhere. */
#include "check.h"
#include "core/npy.h"
#include "train/det_eval.h"
#include "train/detr_loss.h"
#include "train/hungarian.h"

#include <float.h>
#include <stdint.h>

static double worst_loss, worst_grad, worst_fd, worst_map;

static int load(const char *dir, const char *file, vt_npy *a) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (vt_npy_read(path, a)) {
        CHECK(0, "%s", vitc_last_error());
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

static int *to_int(const vt_npy *a) {
    int *r = malloc(sizeof(int) * (a->count + 1));
    for (size_t i = 0; i < a->count; i++) r[i] = (int)a->data[i];
    return r;
}

static unsigned long long rng_state = 88172645463325252ull;
static double urand(void) { /* uniform [0, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* ================================================================ matcher */

static void check_assignment(const char *what, const double *cost, int Q, int n, const int *qot, const int *toq) {
    int bad = 0;
    for (int t = 0; t < n; t++) {
        if (qot[t] < 0 || qot[t] >= Q || toq[qot[t]] != t) bad++;
        for (int u = 0; u < t; u++) bad += qot[u] == qot[t];
    }
    int matched = 0;
    for (int q = 0; q < Q; q++) matched += toq[q] >= 0;
    CHECK(!bad && matched == n, "%s: not a one-to-one assignment (%d bad, %d matched)", what, bad, matched);
    (void)cost;
}

static void test_hungarian_fixtures(void) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/det/hungarian", fixture_dir());
    vt_npy cases;
    if (load(dir, "cases.npy", &cases)) return;
    int nc = (int)cases.shape[0], same_assign = 0;
    for (int k = 0; k < nc; k++) {
        int Q = (int)cases.data[k * 3], n = (int)cases.data[k * 3 + 1], ties = (int)cases.data[k * 3 + 2];
        char f[64], what[64];
        vt_npy c, r;
        snprintf(f, sizeof f, "%03d_cost.npy", k);
        if (load(dir, f, &c)) continue;
        snprintf(f, sizeof f, "%03d_qot.npy", k);
        if (load(dir, f, &r)) { vt_npy_free(&c); continue; }
        snprintf(what, sizeof what, "hungarian %03d (%d x %d%s)", k, Q, n, ties ? ", ties" : "");
        double *cost = malloc(sizeof(double) * Q * n), total, ref = 0;
        int *qot = malloc(sizeof(int) * n), *toq = malloc(sizeof(int) * Q);
        for (int i = 0; i < Q * n; i++) cost[i] = c.data[i];
        for (int t = 0; t < n; t++) ref += cost[(size_t)r.data[t] * n + t];
        CHECK(vt_hungarian(cost, Q, n, qot, toq, &total) == VITC_OK, "%s: %s", what, vitc_last_error());
        check_assignment(what, cost, Q, n, qot, toq);
        CHECK(fabs(total - ref) <= 1e-12 * (fabs(ref) + 1), "%s: total %.17g, scipy %.17g", what, total, ref);
        int same = 1;
        for (int t = 0; t < n; t++) same &= qot[t] == (int)r.data[t];
        if (!ties) CHECK(same, "%s: the assignment differs from scipy's", what);
        same_assign += same;
        free(cost), free(qot), free(toq);
        vt_npy_free(&c), vt_npy_free(&r);
    }
    printf("  matcher: %d scipy cases, %d with scipy's very assignment\n", nc, same_assign);
    vt_npy_free(&cases);
}

/* the least total over all injective maps of targets to queries */
static double brute(const double *cost, int Q, int n, int t, unsigned used) {
    if (t == n) return 0;
    double best = HUGE_VAL;
    for (int q = 0; q < Q; q++) {
        if (used >> q & 1) continue;
        double v = cost[q * n + t] + brute(cost, Q, n, t + 1, used | 1u << q);
        if (v < best) best = v;
    }
    return best;
}

static void test_hungarian_brute(void) {
    int cases = 0, bad = 0, again = 0;
    double cost[49];
    for (int Q = 1; Q <= 7; Q++)
        for (int n = 0; n <= Q; n++)
            for (int rep = 0; rep < 6; rep++) {
                for (int i = 0; i < Q * n; i++) cost[i] = rep & 1 ? floor(urand() * 3) : urand() * 20 - 10;
                int qot[7], toq[7], qot2[7];
                double total, total2;
                if (vt_hungarian(cost, Q, n, qot, toq, &total)) { bad++; continue; }
                check_assignment("brute force", cost, Q, n, qot, toq);
                double ref = brute(cost, Q, n, 0, 0);
                if (fabs(total - ref) > 1e-12 * (fabs(ref) + 1)) bad++;
                /* deterministic: the same matrix gives the same assignment */
                vt_hungarian(cost, Q, n, qot2, NULL, &total2);
                again += memcmp(qot, qot2, sizeof(int) * n) != 0 || total != total2;
                cases++;
            }
    CHECK(bad == 0, "brute force: %d of %d totals differ", bad, cases);
    CHECK(again == 0, "brute force: %d repeated runs differ", again);
    /* no targets: nothing matched; no queries and no targets: fine too */
    int toq[3] = {5, 5, 5};
    double total = 7;
    CHECK(vt_hungarian(cost, 3, 0, NULL, toq, &total) == VITC_OK && toq[0] == -1 && toq[2] == -1 && total == 0,
          "zero targets: %s", vitc_last_error());
    CHECK(vt_hungarian(NULL, 0, 0, NULL, NULL, NULL) == VITC_OK, "0 x 0: %s", vitc_last_error());
    /* more targets than queries, non-finite costs */
    CHECK(vt_hungarian(cost, 2, 3, NULL, NULL, NULL) == VITC_ERR_ARG && strstr(vitc_last_error(), "3 targets"),
          "3 targets on 2 queries: %s", vitc_last_error());
    for (int i = 0; i < 6; i++) cost[i] = i;
    cost[4] = NAN;
    CHECK(vt_hungarian(cost, 3, 2, NULL, NULL, NULL) == VITC_ERR_ARG && !strchr(vitc_last_error(), '\n'),
          "NaN cost: %s", vitc_last_error());
    cost[4] = -INFINITY;
    CHECK(vt_hungarian(cost, 3, 2, NULL, NULL, NULL) == VITC_ERR_ARG, "-inf cost accepted");
    printf("  matcher: %d brute-force cases\n", cases);
}

/* ================================================================ loss */

typedef struct loss_case {
    vt_npy logits, boxes, nt, tcls, tbox, params, losses, dl, db, dbp, match, cost0;
} loss_case;

static void free_case(loss_case *c) {
    vt_npy *a = &c->logits;
    for (int i = 0; i < 12; i++) vt_npy_free(&a[i]);
}

static vt_detr_params params_of(const float *p) {
    vt_detr_params r = {p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
    return r;
}

static void compare_grad(const char *what, const float *got, const float *ref, size_t n) {
    float e = max_abs_diff(got, ref, n);
    if (e > worst_grad) worst_grad = e;
    CHECK(e <= 1e-5f, "%s: gradient max error %g", what, e);
}

static void compare_loss(const char *what, const vt_detr_losses *l, const float *ref) {
    double got[5] = {l->ce, l->l1, l->giou, l->total, l->num_boxes};
    for (int k = 0; k < 5; k++) {
        double e = fabs(got[k] - ref[k]) / fmax(fabs(ref[k]), 1e-3);
        if (e > worst_loss) worst_loss = e;
        CHECK(e <= 1e-5, "%s: loss %d is %.9g, torch %.9g", what, k, got[k], ref[k]);
    }
}

static void test_loss_case(const char *name) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/det/loss/%s", fixture_dir(), name);
    loss_case c;
    const char *files[12] = {"logits.npy", "boxes.npy", "n_targets.npy", "tclass.npy", "tbox.npy", "params.npy",
                             "losses.npy", "d_logits.npy", "d_boxes.npy", "d_boxes_post.npy", "match.npy", "cost0.npy"};
    vt_npy *a = &c.logits;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 12; i++)
        if (load(dir, files[i], &a[i])) { free_case(&c); return; }
    int B = (int)c.logits.shape[0], Q = (int)c.logits.shape[1], C = (int)c.logits.shape[2] - 1;
    int *nt = to_int(&c.nt), *tcls = to_int(&c.tcls), *match = malloc(sizeof(int) * B * Q);
    float *dl = malloc(sizeof(float) * c.logits.count), *db = malloc(sizeof(float) * c.boxes.count);
    vt_detr_params p = params_of(c.params.data);
    vt_detr_batch b = {B, Q, C, c.logits.data, c.boxes.data, 0, nt, tcls, c.tbox.data, 0, 0};
    vt_detr_losses l;
    char what[128];
    snprintf(what, sizeof what, "loss %s", name);
    if (vt_detr_loss(&p, &b, &l, dl, db, match)) {
        CHECK(0, "%s: %s", what, vitc_last_error());
    } else {
        compare_loss(what, &l, c.losses.data);
        compare_grad(what, dl, c.dl.data, c.logits.count);
        compare_grad(what, db, c.db.data, c.boxes.count);
        int diff = 0;
        for (int i = 0; i < B * Q; i++) diff += match[i] != (int)c.match.data[i];
        CHECK(diff == 0, "%s: %d queries matched differently", what, diff);
    }
    /* the same after the sigmoid (boxes rounded to float: the looser of the two tolerances) */
    float *post = malloc(sizeof(float) * c.boxes.count);
    for (size_t i = 0; i < c.boxes.count; i++) post[i] = (float)(1.0 / (1.0 + exp(-(double)c.boxes.data[i])));
    b.boxes = post, b.post_sigmoid = 1;
    snprintf(what, sizeof what, "loss %s post-sigmoid", name);
    if (vt_detr_loss(&p, &b, &l, NULL, db, NULL)) {
        CHECK(0, "%s: %s", what, vitc_last_error());
    } else {
        compare_loss(what, &l, c.losses.data);
        compare_grad(what, db, c.dbp.data, c.boxes.count);
    }
    /* image 0's cost matrix and matching alone */
    int n0 = nt[0];
    double *cost = malloc(sizeof(double) * Q * (n0 + 1));
    int *toq = malloc(sizeof(int) * Q);
    snprintf(what, sizeof what, "match %s", name);
    if (vt_detr_match(&p, Q, C, c.logits.data, c.boxes.data, 0, n0, tcls, c.tbox.data, cost, toq)) {
        CHECK(0, "%s: %s", what, vitc_last_error());
    } else {
        double e = 0;
        for (int i = 0; i < Q * n0; i++) e = fmax(e, fabs(cost[i] - c.cost0.data[i]));
        CHECK(e <= 1e-5, "%s: cost max error %g", what, e);
        int diff = 0;
        for (int q = 0; q < Q; q++) diff += toq[q] != (int)c.match.data[q];
        CHECK(diff == 0, "%s: %d queries matched differently", what, diff);
    }
    free(cost), free(toq), free(post), free(nt), free(tcls), free(match), free(dl), free(db);
    free_case(&c);
}

/* ---------------------------------------------------------------- finite differences */

static void test_giou_fd(void) {
    /* overlapping, disjoint, nested and one-axis-overlap pairs, away from the kinks */
    const double pairs[][8] = {
        {0.1, 0.2, 0.6, 0.7, 0.3, 0.1, 0.8, 0.5},  {0.0, 0.0, 0.2, 0.3, 0.5, 0.6, 0.9, 0.8},
        {0.1, 0.1, 0.9, 0.8, 0.3, 0.2, 0.5, 0.6},  {0.3, 0.2, 0.5, 0.6, 0.1, 0.1, 0.9, 0.8},
        {0.1, 0.1, 0.4, 0.5, 0.2, 0.7, 0.35, 0.9}, {0.05, 0.3, 0.45, 0.41, 0.6, 0.33, 0.7, 0.4}};
    int n = (int)(sizeof pairs / sizeof pairs[0]);
    for (int k = 0; k < n; k++) {
        double a[4], g[4], h = 1e-6;
        memcpy(a, pairs[k], sizeof a);
        vt_giou_xyxy(a, pairs[k] + 4, g);
        for (int i = 0; i < 4; i++) {
            double ap[4], am[4];
            memcpy(ap, a, sizeof a), memcpy(am, a, sizeof a);
            ap[i] += h, am[i] -= h;
            double fd = (vt_giou_xyxy(ap, pairs[k] + 4, NULL) - vt_giou_xyxy(am, pairs[k] + 4, NULL)) / (2 * h);
            double e = fabs(fd - g[i]);
            if (e > worst_fd) worst_fd = e;
            CHECK(e <= 1e-7 * fmax(1, fabs(g[i])), "giou pair %d corner %d: %.9g vs finite difference %.9g", k, i,
                  g[i], fd);
        }
    }
    double a[4] = {0.1, 0.1, 0.5, 0.5};
    CHECK(fabs(vt_giou_xyxy(a, a, NULL) - 1) < 1e-15, "giou of a box with itself");
    double far[4] = {0.6, 0.6, 1.0, 1.0}; /* disjoint corners: iou 0, enclosing 0.81, union 0.32 */
    CHECK(fabs(vt_giou_xyxy(a, far, NULL) - (0.32 / 0.81 - 1)) < 1e-12, "giou of disjoint boxes %g",
          vt_giou_xyxy(a, far, NULL));
}

/* a seeded batch: B = 3 images, Q = 7 queries, C = 4 classes, targets 2, 0, 4 */
typedef struct fd_batch {
    float logits[3 * 7 * 5], boxes[3 * 7 * 4], tbox[6 * 4];
    int nt[3], tcls[6];
} fd_batch;

static void make_fd_batch(fd_batch *f, int post) {
    f->nt[0] = 2, f->nt[1] = 0, f->nt[2] = 4;
    for (int i = 0; i < 3 * 7 * 5; i++) f->logits[i] = (float)(urand() * 4 - 2);
    for (int q = 0; q < 3 * 7; q++)
        for (int k = 0; k < 4; k++) {
            double raw = k < 2 ? urand() * 2 - 1 : urand() - 1.7;
            f->boxes[q * 4 + k] = (float)(post ? 1 / (1 + exp(-raw)) : raw);
        }
    for (int t = 0; t < 6; t++) {
        f->tcls[t] = (int)(urand() * 4);
        f->tbox[t * 4] = (float)(0.2 + 0.6 * urand()), f->tbox[t * 4 + 1] = (float)(0.2 + 0.6 * urand());
        f->tbox[t * 4 + 2] = (float)(0.05 + 0.3 * urand()), f->tbox[t * 4 + 3] = (float)(0.05 + 0.3 * urand());
    }
}

/* central differences of the total with respect to every input; elements whose perturbation
 * changes the matching are skipped (counted) */
static void fd_check(fd_batch *f, int post) {
    vt_detr_params p = vt_detr_params_default();
    vt_detr_batch b = {3, 7, 4, f->logits, f->boxes, post, f->nt, f->tcls, f->tbox, 0, 0};
    float dl[3 * 7 * 5], db[3 * 7 * 4];
    int m0[21], m1[21], m2[21], skipped = 0, checked = 0;
    vt_detr_losses l0, lp, lm;
    if (vt_detr_loss(&p, &b, &l0, dl, db, m0)) {
        CHECK(0, "finite differences: %s", vitc_last_error());
        return;
    }
    for (int which = 0; which < 2; which++) {
        float *x = which ? f->boxes : f->logits, *g = which ? db : dl;
        int n = which ? 3 * 7 * 4 : 3 * 7 * 5;
        for (int i = 0; i < n; i++) {
            float keep = x[i], h = post && which ? 1e-4f : 1e-3f;
            x[i] = keep + h;
            double xp = x[i];
            vt_detr_loss(&p, &b, &lp, NULL, NULL, m1);
            x[i] = keep - h;
            double xm = x[i];
            vt_detr_loss(&p, &b, &lm, NULL, NULL, m2);
            x[i] = keep;
            if (memcmp(m0, m1, sizeof m0) || memcmp(m0, m2, sizeof m0)) { skipped++; continue; }
            double fd = (lp.total - lm.total) / (xp - xm), e = fabs(fd - g[i]);
            if (e > worst_fd) worst_fd = e;
            CHECK(e <= 2e-5 * fmax(1, fabs(g[i])), "finite differences (%s) %s[%d]: %.8g vs %.8g",
                  post ? "post-sigmoid" : "raw", which ? "boxes" : "logits", i, g[i], fd);
            checked++;
        }
    }
    CHECK(checked >= 150, "finite differences: only %d elements checked (%d skipped)", checked, skipped);
    printf("  finite differences (%s boxes): %d elements, %d skipped (matching changes)\n", post ? "post-sigmoid" : "raw",
           checked, skipped);
}

static void test_loss_fd(void) {
    fd_batch f;
    make_fd_batch(&f, 0);
    fd_check(&f, 0);
    make_fd_batch(&f, 1);
    fd_check(&f, 1);
}

static void test_loss_errors(void) {
    fd_batch f;
    make_fd_batch(&f, 0);
    vt_detr_params p = vt_detr_params_default();
    vt_detr_batch b = {3, 7, 4, f.logits, f.boxes, 0, f.nt, f.tcls, f.tbox, 0, 0};
    vt_detr_losses l;
    CHECK(p.class_cost == 1 && p.bbox_cost == 5 && p.giou_cost == 2 && p.ce_weight == 1 && p.l1_weight == 5 &&
              p.giou_weight == 2 && p.eos_coef == 0.1,
          "default parameters");
#define EXPECT_ERR(what, ...)                                                                                  \
    do {                                                                                                       \
        vitc_status s_ = vt_detr_loss(&p, &b, &l, NULL, NULL, NULL);                                           \
        CHECK(s_ == VITC_ERR_ARG && strstr(vitc_last_error(), what) && !strchr(vitc_last_error(), '\n'),       \
              "expected an error with \"%s\", got %d: %s", what, s_, vitc_last_error());                      \
    } while (0)
    f.nt[2] = 8; /* more targets than the 7 queries */
    EXPECT_ERR("8 targets but only 7");
    f.nt[2] = 4, f.tcls[3] = 4;
    EXPECT_ERR("class 4 outside 0..3");
    f.tcls[3] = 1, f.tbox[2 * 4 + 3] = -0.1f;
    EXPECT_ERR("negative size");
    f.tbox[2 * 4 + 3] = 0.1f, f.logits[17] = NAN;
    EXPECT_ERR("image 0: logits[17] is not finite");
    f.logits[17] = 0, f.boxes[30] = INFINITY;
    EXPECT_ERR("image 1: boxes[2] is not finite");
    f.boxes[30] = 0.5f, b.post_sigmoid = 1, f.boxes[2] = -0.5f;
    EXPECT_ERR("negative predicted size");
    b.post_sigmoid = 0;
    CHECK(vt_detr_loss(&p, &b, &l, NULL, NULL, NULL) == VITC_OK, "valid again: %s", vitc_last_error());
    int zero[3] = {0, 0, 0};
    b.n_targets = zero, p.eos_coef = 0;
    EXPECT_ERR("every weight is 0");
    /* no targets in the batch: only the no-object cross-entropy, num_boxes clamped to 1 */
    p.eos_coef = 0.1;
    float dl[3 * 7 * 5], db[3 * 7 * 4];
    CHECK(vt_detr_loss(&p, &b, &l, dl, db, NULL) == VITC_OK && l.l1 == 0 && l.giou == 0 && l.num_boxes == 1 &&
              l.total == l.ce && max_abs_diff(db, (float[84]){0}, 84) == 0,
          "no targets: %s", vitc_last_error());
#undef EXPECT_ERR
}

/* ================================================================ mAP */

static void test_map_case(const char *name) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/det/map/%s", fixture_dir(), name);
    vt_npy det, gt, meta, res;
    if (load(dir, "det.npy", &det) || load(dir, "gt.npy", &gt) || load(dir, "meta.npy", &meta) ||
        load(dir, "result.npy", &res))
        return;
    int images = (int)meta.data[0], C = (int)meta.data[1], nd = (int)det.shape[0], ng = (int)gt.shape[0];
    vt_det_eval *e;
    CHECK(vt_det_eval_create(C, &e) == VITC_OK, "create: %s", vitc_last_error());
    float *db = malloc(sizeof(float) * 4 * (nd + 1)), *ds = malloc(sizeof(float) * (nd + 1)),
          *gb = malloc(sizeof(float) * 4 * (ng + 1));
    int *dc = malloc(sizeof(int) * (nd + 1)), *gc = malloc(sizeof(int) * (ng + 1));
    for (int img = 0; img < images; img++) { /* each image's rows, in file order */
        int a = 0, g = 0;
        for (int i = 0; i < nd; i++) {
            const float *r = det.data + (size_t)i * 7;
            if ((int)r[0] != img) continue;
            dc[a] = (int)r[1], ds[a] = r[2], memcpy(db + a * 4, r + 3, 4 * sizeof(float)), a++;
        }
        for (int j = 0; j < ng; j++) {
            const float *r = gt.data + (size_t)j * 6;
            if ((int)r[0] != img) continue;
            gc[g] = (int)r[1], memcpy(gb + g * 4, r + 2, 4 * sizeof(float)), g++;
        }
        CHECK(vt_det_eval_add(e, a, db, ds, dc, g, gb, gc) == VITC_OK, "%s image %d: %s", name, img, vitc_last_error());
    }
    vt_det_scores s;
    double *ap = malloc(sizeof(double) * C * 2), *ap50 = ap + C;
    CHECK(vt_det_eval_scores(e, &s, ap, ap50) == VITC_OK, "%s: %s", name, vitc_last_error());
    double got[4] = {s.map, s.map50, s.map75, s.classes_present}, err = 0;
    /* not fmax: Debian's aarch64 cross gcc 12.2 crashes vectorizing that 4-step fmax reduction */
    for (int k = 0; k < 4; k++) {
        double d = fabs(got[k] - res.data[k]);
        if (d > err) err = d;
    }
    for (int c = 0; c < C; c++) err = fmax(err, fmax(fabs(ap[c] - res.data[4 + c]), fabs(ap50[c] - res.data[4 + C + c])));
    if (err > worst_map) worst_map = err;
    CHECK(err <= 1e-6, "mAP %s: max error %g (mAP %.7f vs %.7f, mAP50 %.7f vs %.7f)", name, err, s.map, res.data[0],
          s.map50, res.data[1]);
    CHECK(s.images == images, "%s: %d images counted", name, s.images);
    vt_det_eval_free(e);
    free(db), free(ds), free(gb), free(dc), free(gc), free(ap);
    vt_npy_free(&det), vt_npy_free(&gt), vt_npy_free(&meta), vt_npy_free(&res);
}

/* scores of one accumulator fed images given as (n_det, boxes, scores, classes, n_gt, boxes, classes) */
static vt_det_scores score_of(vt_det_eval *e, double *ap) {
    vt_det_scores s;
    CHECK(vt_det_eval_scores(e, &s, ap, NULL) == VITC_OK, "scores: %s", vitc_last_error());
    return s;
}

static void test_map_hand(void) {
    vt_det_eval *e;
    vt_det_scores s;
    double ap[3];
    const float g0[] = {10, 10, 40, 50, 50, 20, 80, 45}, g1[] = {5, 5, 30, 30};
    const int c0[] = {0, 1}, c1[] = {0};
    const float sc0[] = {0.9f, 0.3f}, sc1[] = {0.5f};

    /* a perfect detector */
    vt_det_eval_create(3, &e);
    vt_det_eval_add(e, 2, g0, sc0, c0, 2, g0, c0);
    vt_det_eval_add(e, 1, g1, sc1, c1, 1, g1, c1);
    s = score_of(e, ap);
    CHECK(fabs(s.map - 1) < 1e-12 && fabs(s.map50 - 1) < 1e-12 && fabs(s.map75 - 1) < 1e-12 && s.classes_present == 2 &&
              ap[2] == -1,
          "perfect detector: mAP %.17g, %d classes, ap[2] %g", s.map, s.classes_present, ap[2]);
    vt_det_eval_free(e);

    /* shifted by a quarter of its width: IoU 75 / 125 = 0.6, a hit at .5, .55, .6 only */
    const float gt[] = {0, 0, 10, 10}, shifted[] = {2.5f, 0, 12.5f, 10};
    const float iou_box[] = {2.5f, 0, 12.5f, 10};
    CHECK(fabs(vt_det_iou(iou_box, gt) - 0.6) < 1e-15, "IoU %g", vt_det_iou(iou_box, gt));
    vt_det_eval_create(1, &e);
    vt_det_eval_add(e, 1, shifted, sc1, c1, 1, gt, c1);
    s = score_of(e, NULL);
    CHECK(fabs(s.map50 - 1) < 1e-12 && s.map75 == 0 && fabs(s.map - 0.3) < 1e-12, "IoU 0.6: mAP50 %g mAP75 %g mAP %g",
          s.map50, s.map75, s.map);
    vt_det_eval_free(e);

    /* a duplicate of image 0's object scoring above image 1's true positive is a false positive */
    const float dup[] = {0, 0, 10, 10, 0.5f, 0, 10.5f, 10}, dup_sc[] = {0.9f, 0.8f}, tp_sc[] = {0.7f};
    const int dup_c[] = {0, 0};
    vt_det_eval_create(1, &e);
    vt_det_eval_add(e, 2, dup, dup_sc, dup_c, 1, gt, c1);
    vt_det_eval_add(e, 1, gt, tp_sc, c1, 1, gt, c1);
    s = score_of(e, NULL);
    double want = (51 + 50 * (2 / (3 + DBL_EPSILON))) / 101; /* precision 1 to recall .5, then 2/3 */
    CHECK(fabs(s.map50 - want) < 1e-12 && fabs(s.map - want) < 1e-12, "duplicate: mAP50 %.17g, want %.17g", s.map50, want);
    vt_det_eval_free(e);
    /* ... and costs nothing when it scores below every true positive */
    const float low_sc[] = {0.9f, 0.1f};
    vt_det_eval_create(1, &e);
    vt_det_eval_add(e, 2, dup, low_sc, dup_c, 1, gt, c1);
    vt_det_eval_add(e, 1, gt, tp_sc, c1, 1, gt, c1);
    s = score_of(e, NULL);
    CHECK(fabs(s.map - 1) < 1e-12, "low duplicate: mAP %.17g", s.map);

    /* streaming: scores may be read and more images added; a class with detections only is left out */
    const float fp_box[] = {50, 50, 60, 60};
    const int fp_c[] = {2};
    vt_det_eval_add(e, 1, fp_box, sc1, fp_c, 0, NULL, NULL);
    s = score_of(e, ap);
    CHECK(fabs(s.map - 1) < 1e-12 && s.classes_present == 1 && ap[0] > 0.99, "class without ground truth: mAP %g, %d",
          s.map, s.classes_present);
    vt_det_eval_free(e);

    /* no detections: 0; no ground truth at all: -1 */
    vt_det_eval_create(2, &e);
    s = score_of(e, NULL);
    CHECK(s.map == -1 && s.classes_present == 0 && s.images == 0, "nothing added: mAP %g", s.map);
    vt_det_eval_add(e, 0, NULL, NULL, NULL, 2, g0, c0);
    s = score_of(e, ap);
    CHECK(s.map == 0 && s.map50 == 0 && s.classes_present == 2 && ap[1] == 0, "no detections: mAP %g", s.map);

    /* bad input: one line each, the accumulator unchanged */
    const float neg[] = {10, 10, 5, 20}, nan_box[] = {0, 0, NAN, 5};
    const float nan_sc[] = {NAN};
    const int bad_c[] = {2}, neg_c[] = {-1};
#define EXPECT_ERR(call, what)                                                                                \
    CHECK((call) == VITC_ERR_ARG && strstr(vitc_last_error(), what) && !strchr(vitc_last_error(), '\n'),       \
          "expected \"%s\": %s", what, vitc_last_error())
    EXPECT_ERR(vt_det_eval_add(e, 1, neg, sc1, c1, 0, NULL, NULL), "negative size");
    EXPECT_ERR(vt_det_eval_add(e, 0, NULL, NULL, NULL, 1, neg, c1), "ground truth 0: negative size");
    EXPECT_ERR(vt_det_eval_add(e, 1, nan_box, sc1, c1, 0, NULL, NULL), "not finite");
    EXPECT_ERR(vt_det_eval_add(e, 1, gt, nan_sc, c1, 0, NULL, NULL), "not finite");
    EXPECT_ERR(vt_det_eval_add(e, 1, gt, sc1, bad_c, 1, gt, c1), "class 2 outside 0..1");
    EXPECT_ERR(vt_det_eval_add(e, 1, gt, sc1, c1, 1, gt, neg_c), "class -1 outside");
    EXPECT_ERR(vt_det_eval_add(e, -1, NULL, NULL, NULL, 0, NULL, NULL), "negative number");
    EXPECT_ERR(vt_det_eval_add(e, 1, gt, NULL, c1, 0, NULL, NULL), "no scores");
    s = score_of(e, NULL);
    CHECK(s.images == 1 && s.map == 0, "after the errors: %d images, mAP %g", s.images, s.map);
    vt_det_eval *e2;
    EXPECT_ERR(vt_det_eval_create(0, &e2), "0 classes");
#undef EXPECT_ERR
    vt_det_eval_free(e);
}

int main(void) {
    int quick = getenv("VITC_QUICK") != NULL;
    test_hungarian_brute();
    test_giou_fd();
    test_loss_fd();
    test_loss_errors();
    test_map_hand();
    if (quick) {
        printf("  fixtures (scipy, PyTorch, NumPy mAP): skipped (quick path)\n");
    } else {
        test_hungarian_fixtures();
        const char *loss_cases[] = {"mixed", "full", "empty", "params", "large"};
        for (int i = 0; i < 5; i++) test_loss_case(loss_cases[i]);
        const char *map_cases[] = {"random", "scenes", "cap100", "equal_iou", "score_ties"};
        for (int i = 0; i < 5; i++) test_map_case(map_cases[i]);
        printf("  worst: loss %.2g (relative), gradient %.2g, mAP %.2g\n", worst_loss, worst_grad, worst_map);
    }
    printf("  worst finite difference error %.2g\n", worst_fd);
    return check_report("test_detmath");
}
