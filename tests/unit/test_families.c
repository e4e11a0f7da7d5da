/* Parity of the model families (issue 21: DINOv2, CLIP's vision tower, BEiT / data2vec-vision, under HF's
 * and timm's names) against the float64 PyTorch
 * restatement in tests/ref/make_family_fixtures.py (and SigLIP's vision tower): per-block activations, the pooled output, DINOv2's
 * class + mean patch feature and CLIP's projected embedding within 1e-4 of max(1, |x|), the top-5 order
 * of the embedding identical; the family recognized; saved as a vitc file and loaded back, the same bits;
 * a checkpoint missing one family tensor refused in one line that names it. */
#include "check.h"
#include "core/npy.h"
#include "model/model.h"
#include "train/train.h"

#include <unistd.h>

#define TOL 1e-4f

/* max |a - b| / max(1, |b|) */
static float rel_err(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / fmaxf(1.0f, fabsf(b[i]));
        if (!(d <= m)) m = d;
    }
    return m;
}

static int load_npy(const char *dir, const char *file, vt_npy *a, int required) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "rb");
    if (!fp && !required) return 1;
    if (fp) fclose(fp);
    if (vt_npy_read(path, a)) {
        fprintf(stderr, "%s\n", vitc_last_error());
        return -1;
    }
    return 0;
}

static void top5_same(const char *name, const float *a, const float *b, int n, int C) {
    int k = C < 5 ? C : 5;
    for (int i = 0; i < n; i++) {
        int ia[5], ib[5];
        float pa[5], pb[5];
        vitc_topk(a + (size_t)i * C, C, k, ia, pa);
        vitc_topk(b + (size_t)i * C, C, k, ib, pb);
        int same = 1;
        for (int j = 0; j < k; j++) same &= ia[j] == ib[j];
        CHECK(same, "%s: image %d top-%d order of the embedding differs", name, i, k);
    }
}

static float worst_blocks, worst_feats, worst_extra;

static void run_ok(const char *name, const char *dir, const char *model_dir, const char *family, int heads) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
    vitc_model *m;
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = heads;
    vitc_status s = vitc_model_load(path, &lp, &m);
    CHECK(s == VITC_OK, "%s: load: %s", name, vitc_last_error());
    if (s) return;
    const vt_vit_config *c = &m->cfg;
    CHECK(!strcmp(vt_family_name(c->family), family), "%s: family %s, expected %s", name, vt_family_name(c->family),
          family);
    if (strstr(name, "_timm") && (c->family == VT_FAMILY_CLIP || c->family == VT_FAMILY_SIGLIP)) { /* the hub config.json's pretrained_cfg */
        int clip = c->family == VT_FAMILY_CLIP;
        CHECK(!strcmp(m->source, "timm") && fabsf(m->pre.mean[0] - (clip ? 0.48145466f : 0.5f)) < 1e-7f &&
                  fabsf(m->pre.crop_pct - (clip ? 0.9f : 1.0f)) < 1e-7f && m->pre.interp == VITC_INTERP_BICUBIC,
              "%s: timm's pretrained_cfg not applied (mean %g, crop %g)", name, m->pre.mean[0], m->pre.crop_pct);
        CHECK(!strncmp(c->name, "vit_base_patch16_", 17), "%s: named %s, not the config's architecture", name, c->name);
        CHECK(c->act == (clip ? VT_ACT_QUICK_GELU : VT_ACT_GELU_TANH), "%s: activation %d", name, (int)c->act);
    }
    vt_param *table;
    int np = vt_param_table(c, &m->w, &table);
    int64_t count = 0;
    for (int i = 0; i < np; i++) count += table[i].numel;
    free(table);
    CHECK(np > 0 && count == vt_config_num_params(c), "%s: %lld parameters in the table, %lld counted", name,
          (long long)count, (long long)vt_config_num_params(c));
    vt_npy in, blocks, feats, extra;
    int has_cm = 0, has_emb = 0;
    if (load_npy(dir, "input.npy", &in, 1) || load_npy(dir, "blocks.npy", &blocks, 1) ||
        load_npy(dir, "features.npy", &feats, 1)) {
        CHECK(0, "%s: fixtures unreadable", name);
        vitc_model_free(m);
        return;
    }
    int r = load_npy(dir, "cls_mean.npy", &extra, 0);
    if (r == 0) has_cm = 1;
    else if (r == 1 && !(r = load_npy(dir, "embeds.npy", &extra, 0))) has_emb = 1;
    CHECK(r >= 0, "%s: fixtures unreadable", name);
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3], D = c->dim;
    int T = vitc_model_num_tokens(m, H, W);
    size_t per_block = (size_t)n * T * D;
    CHECK(blocks.count == (size_t)c->depth * per_block, "%s: block activation count", name);
    CHECK(!has_emb || extra.count == (size_t)n * c->proj_dim, "%s: embedding width %d", name, c->proj_dim);
    float *got_blocks = calloc(blocks.count + 1, sizeof(float)), *got_feats = calloc((size_t)n * D, sizeof(float));
    float *got_extra = calloc((size_t)n * 2 * D + (size_t)n * c->proj_dim + 1, sizeof(float));
    vt_forward_out o = {.features = got_feats, .blocks = got_blocks};
    if (has_cm) o.cls_mean = got_extra;
    if (has_emb) o.embeds = got_extra;
    s = vt_vit_forward(m, in.data, n, H, W, &o);
    CHECK(s == VITC_OK, "%s: forward: %s", name, vitc_last_error());
    float eb = 0.0f;
    for (int l = 0; l < c->depth && blocks.count == (size_t)c->depth * per_block; l++) {
        float e = rel_err(got_blocks + l * per_block, blocks.data + l * per_block, per_block);
        CHECK(e <= TOL, "%s: block %d error %g", name, l, e);
        eb = fmaxf(eb, e);
    }
    float ef = rel_err(got_feats, feats.data, feats.count), ex = 0.0f;
    CHECK(ef <= TOL, "%s: pooled output error %g", name, ef);
    if (has_cm || has_emb) {
        ex = rel_err(got_extra, extra.data, extra.count);
        CHECK(ex <= TOL, "%s: %s error %g", name, has_cm ? "cls+mean" : "projected embedding", ex);
        top5_same(name, got_extra, extra.data, n, (int)(extra.count / (size_t)n));
    }
    top5_same(name, got_feats, feats.data, n, D);
    worst_blocks = fmaxf(worst_blocks, eb), worst_feats = fmaxf(worst_feats, ef), worst_extra = fmaxf(worst_extra, ex);

    /* the public embedding entry point gives the pooled output */
    float *pub = calloc((size_t)n * D, sizeof(float));
    CHECK(vitc_model_embed(m, in.data, n, H, W, pub) == VITC_OK && !memcmp(pub, got_feats, sizeof(float) * (size_t)n * D),
          "%s: vitc_model_embed differs from the forward's pooled output", name);
    vt_npy logits;
    if (!load_npy(dir, "logits.npy", &logits, 0)) { /* a classifier (BEiT): its logits */
        float *got = calloc(logits.count + 1, sizeof(float));
        CHECK(c->num_classes > 0 && logits.count == (size_t)n * c->num_classes, "%s: %d classes", name, c->num_classes);
        if (logits.count == (size_t)n * c->num_classes) {
            CHECK(vitc_model_classify(m, in.data, n, H, W, got) == VITC_OK, "%s: classify: %s", name, vitc_last_error());
            float e = rel_err(got, logits.data, logits.count);
            CHECK(e <= TOL, "%s: logits error %g", name, e);
            top5_same(name, got, logits.data, n, c->num_classes);
            worst_extra = fmaxf(worst_extra, e);
        }
        free(got);
        vt_npy_free(&logits);
    } else {
        float z = 0.0f;
        CHECK(vitc_model_classify(m, in.data, n, H, W, &z) == VITC_ERR_UNSUPPORTED,
              "%s: classify without a head refused", name);
    }
    if (c->rel_pos_bias) { /* the bias tables are cached per grid: another size, then this one again, the same bits */
        float *big = calloc((size_t)3 * (H + c->patch) * W, sizeof(float)), *f = calloc((size_t)D, sizeof(float));
        float *again = calloc((size_t)n * D, sizeof(float));
        s = vitc_model_embed(m, big, 1, H + c->patch, W, f);
        CHECK(s == VITC_OK && isfinite(f[0]), "%s: another input size: %s", name, vitc_last_error());
        CHECK(vitc_model_embed(m, in.data, n, H, W, again) == VITC_OK &&
              !memcmp(again, pub, sizeof(float) * (size_t)n * D), "%s: back at %dx%d: other features", name, H, W);
        /* fine-tuning at another size (train --init --img-size) starts from the tables resampled as the
         * forward resamples them: the adapted model's features at that size are the original's */
        vt_vit_config big_cfg = m->cfg;
        big_cfg.img_size = H == W ? H + c->patch : vt_pos_grid_h(c) * c->patch + c->patch;
        big_cfg.pos_gh = big_cfg.pos_gw = 0;
        int S2 = big_cfg.img_size;
        float *sq = calloc((size_t)3 * S2 * S2, sizeof(float)), *f1 = calloc((size_t)D, sizeof(float)),
              *f2 = calloc((size_t)D, sizeof(float));
        for (int k = 0; k < 3 * S2 * S2; k++) sq[k] = (float)sin(0.37 * k);
        vitc_model *ad = NULL;
        CHECK(vt_model_adapt(m, &big_cfg, 0, &ad) == VITC_OK, "%s: adapt to %d: %s", name, S2, vitc_last_error());
        if (ad) {
            CHECK(vitc_model_embed(m, sq, 1, S2, S2, f1) == VITC_OK && vitc_model_embed(ad, sq, 1, S2, S2, f2) == VITC_OK,
                  "%s: embed at %d: %s", name, S2, vitc_last_error());
            float e = rel_err(f2, f1, (size_t)D);
            CHECK(e <= 1e-6f, "%s: adapted to %d: features differ by %g", name, S2, e);
        }
        vitc_model_free(ad);
        free(sq), free(f1), free(f2);
        free(big);
        free(f);
        free(again);
    }

    /* saved as a vitc file (timm names + metadata) and loaded back: the same architecture, the same bits */
    char saved[256];
    snprintf(saved, sizeof saved, "/tmp/vitc_test_families_%d.safetensors", (int)getpid());
    s = vt_model_save(m, saved);
    CHECK(s == VITC_OK, "%s: save: %s", name, vitc_last_error());
    vitc_model *m2 = NULL;
    if (!s && (s = vitc_model_load(saved, NULL, &m2)) == VITC_OK) {
        CHECK(vt_config_same_arch(&m->cfg, &m2->cfg), "%s: the saved file's architecture differs", name);
        float *f2 = calloc((size_t)n * D, sizeof(float)), *x2 = calloc((size_t)n * 2 * D + (size_t)n * c->proj_dim + 1, sizeof(float));
        vt_forward_out o2 = {.features = f2, .cls_mean = has_cm ? x2 : NULL, .embeds = has_emb ? x2 : NULL};
        CHECK(vt_vit_forward(m2, in.data, n, H, W, &o2) == VITC_OK, "%s: forward of the saved file", name);
        CHECK(!memcmp(f2, got_feats, sizeof(float) * (size_t)n * D), "%s: the saved file's pooled output differs", name);
        size_t ne = has_cm ? (size_t)n * 2 * D : has_emb ? (size_t)n * c->proj_dim : 0;
        CHECK(!memcmp(x2, got_extra, sizeof(float) * ne), "%s: the saved file's embedding differs", name);
        free(f2);
        free(x2);
    }
    CHECK(s == VITC_OK, "%s: reload: %s", name, vitc_last_error());
    vitc_model_free(m2);
    remove(saved);

    printf("  %-30s %-6s %3dx%-3d batch %d  blocks %.2e  pooled %.2e  %s %.2e\n", name, family, H, W, n, eb, ef,
           has_cm ? "cls+mean" : has_emb ? "embeds  " : "-       ", ex);
    free(pub);
    free(got_blocks);
    free(got_feats);
    free(got_extra);
    vt_npy_free(&in);
    vt_npy_free(&blocks);
    vt_npy_free(&feats);
    if (has_cm || has_emb) vt_npy_free(&extra);
    vitc_model_free(m);
}

static void run_bad(const char *name, const char *model_dir, const char *missing) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
    vitc_model *m = NULL;
    vitc_status s = vitc_model_load(path, NULL, &m);
    const char *e = vitc_last_error();
    CHECK(s == VITC_ERR_MISSING, "%s: a checkpoint without %s: status %d (%s)", name, missing, (int)s, e);
    CHECK(strstr(e, missing) != NULL && !strchr(e, '\n'), "%s: the error names %s in one line: %s", name, missing, e);
    if (!s) vitc_model_free(m);
    printf("  %-30s refused: %s\n", name, e);
}

int main(void) {
    char manifest[1024];
    snprintf(manifest, sizeof manifest, "%s/families/manifest.txt", fixture_dir());
    FILE *fp = fopen(manifest, "r");
    CHECK(fp != NULL, "cannot open %s", manifest);
    if (!fp) return check_report("test_families");
    char name[256], model[256], family[32], kind[256];
    int cases = 0, heads;
    while (fscanf(fp, "%255s %255s %31s %255s %d", name, model, family, kind, &heads) == 5) {
        char dir[700], mdir[700];
        snprintf(dir, sizeof dir, "%s/families/%s", fixture_dir(), name);
        snprintf(mdir, sizeof mdir, "%s/families/%s", fixture_dir(), model);
        if (!strcmp(kind, "ok")) run_ok(name, dir, mdir, family, heads);
        else run_bad(name, mdir, kind);
        cases++;
    }
    fclose(fp);
    CHECK(cases >= 24, "only %d cases in the manifest", cases);
    printf("  worst relative errors: blocks %.2e, pooled %.2e, cls+mean / projected / logits %.2e (tolerance %.0e)\n",
           worst_blocks, worst_feats, worst_extra, TOL);
    return check_report("test_families");
}
