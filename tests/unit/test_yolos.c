/* Hugging Face YOLOS against the PyTorch restatement (tests/ref/make_yolos_fixtures.py): HF checkpoints
 * with config.json load as detection models; per-block activations, class scores and boxes within
 * 1e-4 at the checkpoint's grid and at other grids (plain and mid position embeddings); HF's
 * post_process_object_detection identical; the detection API refuses other models. */
#include "check.h"
#include "fixture_npy.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/npy.h"
#include "model/model.h"

#include <math.h>

#define TOL 1e-4f


/* |a - b| <= TOL * max(1, |b|) everywhere */
static float rel_diff(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / (fabsf(b[i]) > 1.0f ? fabsf(b[i]) : 1.0f);
        if (!(d <= m)) m = d;
    }
    return m;
}

static void check_post(const char *name, const char *dir, const float *logits, const float *boxes, int Q, int C) {
    char path[1400], *text;
    size_t size;
    snprintf(path, sizeof path, "%s/post.json", dir);
    if (vt_read_file(path, 1 << 20, &text, &size)) {
        CHECK(0, "%s: %s", name, vitc_last_error());
        return;
    }
    char err[128];
    vt_json *j = vt_json_parse(text, size, err, sizeof err);
    free(text);
    CHECK(j != NULL, "%s: post.json: %s", name, err);
    if (!j) return;
    float thr = (float)vt_json_get_number(j, "threshold", 0.5);
    const vt_json *sizes = vt_json_get(j, "sizes"), *dets = vt_json_get(j, "detections");
    vitc_detection *out = malloc(sizeof *out * (size_t)Q);
    for (int b = 0; b < (int)sizes->count; b++) {
        double h = sizes->items[b].items[0].number, w = sizes->items[b].items[1].number;
        double map[4] = {w, 0.0, h, 0.0};
        int n = vt_detect_postprocess(logits + (size_t)b * Q * C, boxes + (size_t)b * Q * 4, Q, C, thr, map, out);
        const vt_json *want = &dets->items[b];
        CHECK(n == (int)want->count, "%s: image %d: %d detections, reference %d", name, b, n, (int)want->count);
        for (int i = 0; i < n && i < (int)want->count; i++) {
            const vt_json *d = &want->items[i];
            const vt_json *box = vt_json_get(d, "box");
            CHECK(out[i].label == (int)vt_json_get_number(d, "label", -1), "%s: image %d det %d label", name, b, i);
            CHECK(fabs(out[i].score - vt_json_get_number(d, "score", -1)) < 1e-4, "%s: image %d det %d score", name, b, i);
            for (int k = 0; k < 4; k++)
                CHECK(fabs(out[i].box[k] - box->items[k].number) < 1e-4 * (w > h ? w : h), "%s: image %d det %d box[%d] %g vs %g",
                      name, b, i, k, (double)out[i].box[k], box->items[k].number);
        }
    }
    free(out);
    vt_json_free(j);
}

static void check_case(const char *name) {
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/yolos/%s", fixture_dir(), name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_model *m = NULL;
    vitc_status s = vitc_model_load(path, NULL, &m);
    CHECK(s == VITC_OK, "%s: load: %s", name, vitc_last_error());
    if (s) return;
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    CHECK(!strcmp(info.task, "detect"), "%s: task %s", name, info.task);
    vt_npy in, logits, boxes, blocks;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "logits.npy", &logits) || load_npy(dir, "boxes.npy", &boxes) ||
        load_npy(dir, "blocks.npy", &blocks)) {
        CHECK(0, "%s: fixtures missing", name);
        vitc_model_free(m);
        return;
    }
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3], Q = info.det_tokens, C = info.num_classes + 1;
    CHECK(logits.shape[1] == Q && logits.shape[2] == C, "%s: head shape", name);
    float *gl = malloc(sizeof(float) * logits.count), *gb = malloc(sizeof(float) * boxes.count);
    float *gblk = malloc(sizeof(float) * blocks.count);
    for (int threads = 1; threads <= 2; threads++) {
        vitc_model_set_threads(m, threads);
        vt_forward_out o = {0};
        o.det_logits = gl, o.det_boxes = gb, o.blocks = gblk;
        s = vt_vit_forward(m, in.data, n, H, W, &o);
        CHECK(s == VITC_OK, "%s: forward: %s", name, vitc_last_error());
        float e1 = rel_diff(gblk, blocks.data, blocks.count), e2 = rel_diff(gl, logits.data, logits.count);
        float e3 = rel_diff(gb, boxes.data, boxes.count);
        CHECK(e1 <= TOL, "%s (%d threads): blocks differ by %g", name, threads, (double)e1);
        CHECK(e2 <= TOL, "%s (%d threads): logits differ by %g", name, threads, (double)e2);
        CHECK(e3 <= TOL, "%s (%d threads): boxes differ by %g", name, threads, (double)e3);
    }
    /* the public raw API gives the same numbers */
    float *rl = malloc(sizeof(float) * logits.count), *rb = malloc(sizeof(float) * boxes.count);
    s = vitc_model_detect_raw(m, in.data, n, H, W, rl, rb);
    CHECK(s == VITC_OK && !memcmp(rl, gl, sizeof(float) * logits.count) && !memcmp(rb, gb, sizeof(float) * boxes.count),
          "%s: vitc_model_detect_raw differs from the forward pass", name);
    /* post-processing on the reference's own head outputs (no float noise at the threshold) */
    check_post(name, dir, logits.data, boxes.data, Q, C);
    /* saved in vitc's format (timm-style names, metadata) it loads back as the same detector */
    char saved[1300];
    snprintf(saved, sizeof saved, "%s/vitc_copy.safetensors", dir);
    vitc_model *m2 = NULL;
    s = vt_model_save(m, saved);
    CHECK(s == VITC_OK, "%s: save: %s", name, vitc_last_error());
    if (!s && !(s = vitc_model_load(saved, NULL, &m2))) {
        float *l2 = malloc(sizeof(float) * logits.count), *b2 = malloc(sizeof(float) * boxes.count);
        s = vitc_model_detect_raw(m2, in.data, n, H, W, l2, b2);
        CHECK(s == VITC_OK && !memcmp(l2, gl, sizeof(float) * logits.count) && !memcmp(b2, gb, sizeof(float) * boxes.count),
              "%s: the vitc copy detects differently", name);
        CHECK(m2->cfg.pos_gh == m->cfg.pos_gh && m2->cfg.pos_gw == m->cfg.pos_gw && m2->cfg.mid_pos == m->cfg.mid_pos &&
                  m2->cfg.pos_interp == VT_POS_TORCH && m2->pre.max_size == m->pre.max_size,
              "%s: the vitc copy lost the detection config", name);
        free(l2), free(b2);
        vitc_model_free(m2);
    } else {
        CHECK(0, "%s: reload: %s", name, vitc_last_error());
    }
    remove(saved);
    /* a classify call on a detector is refused */
    CHECK(vitc_model_classify(m, in.data, n, H, W, rl) == VITC_ERR_UNSUPPORTED, "%s: classify accepted a detector", name);
    free(rl), free(rb), free(gl), free(gb), free(gblk);
    vt_npy_free(&in), vt_npy_free(&logits), vt_npy_free(&boxes), vt_npy_free(&blocks);
    vitc_model_free(m);
}

/* A detection image end to end: HF's resize (shortest/longest edge), runs, detections sorted by
 * score and inside reason; a classifier is refused by the detection API. */
static void check_image_path(void) {
    char path[1300];
    snprintf(path, sizeof path, "%s/yolos/yolos_plain/model.safetensors", fixture_dir());
    vitc_model *m = NULL;
    if (vitc_model_load(path, NULL, &m)) return;
    uint8_t *rgb = malloc(120 * 80 * 3);
    for (int i = 0; i < 120 * 80 * 3; i++) rgb[i] = (uint8_t)(i * 37 % 251);
    vitc_image *img = NULL;
    CHECK(vitc_image_from_rgb(120, 80, rgb, &img) == VITC_OK, "image");
    vitc_detection d[8];
    int n = -1;
    vitc_status s = vitc_model_detect(m, img, 0.0f, d, 8, &n);
    CHECK(s == VITC_OK, "detect: %s", vitc_last_error());
    CHECK(n == 5, "threshold 0 keeps every token (got %d)", n);
    for (int i = 1; i < n; i++) CHECK(d[i - 1].score >= d[i].score, "detections sorted by score");
    s = vitc_model_detect(m, img, 1.5f, d, 8, &n);
    CHECK(s == VITC_ERR_ARG && n == 0, "threshold out of range refused");
    CHECK(vitc_model_detect(m, img, 0.0f, d, 2, &n) == VITC_OK && n == 2, "max_dets caps the count");
    vitc_model_free(m);
    /* a classifier refuses detection */
    snprintf(path, sizeof path, "%s/models/hf_vit/model.safetensors", fixture_dir());
    if (!vitc_model_load(path, NULL, &m)) {
        s = vitc_model_detect(m, img, 0.5f, d, 8, &n);
        CHECK(s == VITC_ERR_UNSUPPORTED && strstr(vitc_last_error(), "not a detection model"), "classifier: %s",
              vitc_last_error());
        vitc_model_free(m);
    }
    vitc_image_free(img);
    free(rgb);
}

int main(void) {
    char path[1200], *text;
    size_t size;
    snprintf(path, sizeof path, "%s/yolos/cases.txt", fixture_dir());
    if (vt_read_file(path, 1 << 16, &text, &size)) {
        CHECK(0, "no YOLOS fixtures: %s", vitc_last_error());
    } else {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) check_case(line);
        free(text);
        check_image_path();
    }
    printf("test_yolos: %d passed, %d failed\n", check_passed, check_failed);
    return check_failed != 0;
}
