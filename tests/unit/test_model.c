/* Parity of the whole model against the PyTorch reference (tests/ref/make_model_fixtures.py):
 * per-block activations, pooled features and logits within 1e-4, identical top-5 order. */
#include "check.h"
#include "fixture_npy.h"
#include "kernels/bf16.h"
#include "core/npy.h"
#include "model/model.h"

#define TOL 1e-4f


static void top5_same(const char *name, const float *a, const float *b, int n, int C) {
    int k = C < 5 ? C : 5;
    for (int i = 0; i < n; i++) {
        int ia[5], ib[5];
        float pa[5], pb[5];
        vitc_topk(a + (size_t)i * C, C, k, ia, pa);
        vitc_topk(b + (size_t)i * C, C, k, ib, pb);
        int same = 1;
        for (int j = 0; j < k; j++) same &= ia[j] == ib[j];
        CHECK(same, "%s: image %d top-%d order differs", name, i, k);
    }
}

/* Every way of spreading a batch over threads gives the same bits: whole images per thread (batch
 * >= threads; vit.c), the images left over split layer by layer, one thread, and the split path
 * alone (VITC_IMAGE_PARALLEL=0). Compares all outputs, the blocks' and attention maps included. */
static void same_bits_any_threads(const char *name, vitc_model *m, const float *in, int n, int H, int W) {
    int C = m->cfg.num_classes, D = m->cfg.dim, T = (H / m->cfg.patch) * (W / m->cfg.patch) + vt_prefix_tokens(&m->cfg);
    size_t sizes[5] = {(size_t)n * C, (size_t)n * D, (size_t)n * T * D, (size_t)m->cfg.depth * n * T * D,
                       (size_t)n * m->cfg.heads * T * T};
    float *ref[5], *got[5];
    for (int k = 0; k < 5; k++) ref[k] = calloc(sizes[k] + 1, sizeof(float)), got[k] = calloc(sizes[k] + 1, sizeof(float));
    int first = 1;
    for (int run = 0; run < 5; run++) {
        int threads = run < 3 ? run + 1 : (run == 3 ? n : 2);
        if (run == 4) setenv("VITC_IMAGE_PARALLEL", "0", 1);
        vitc_model_set_threads(m, threads);
        float **o = first ? ref : got;
        vt_forward_out fo = {.logits = C ? o[0] : NULL, .features = o[1], .tokens = o[2], .blocks = o[3], .attn = o[4]};
        vitc_status s = vt_vit_forward(m, in, n, H, W, &fo);
        CHECK(s == VITC_OK, "%s: forward with %d threads: %s", name, threads, vitc_last_error());
        if (!first)
            for (int k = 0; k < 5; k++)
                CHECK(memcmp(ref[k], got[k], sizes[k] * sizeof(float)) == 0,
                      "%s: output %d with %d threads%s differs from 1 thread", name, k, threads,
                      run == 4 ? " (split path)" : "");
        first = 0;
        if (run == 4) unsetenv("VITC_IMAGE_PARALLEL");
    }
    vitc_model_set_threads(m, 0);
    for (int k = 0; k < 5; k++) free(ref[k]), free(got[k]);
}

/* bf16 mode (vitc_model_set_bf16): the blocks' products with bfloat16 operands move the logits by
 * about 1e-2 relative to their scale; BF16_TOL bounds it (max |diff| <= BF16_TOL * (1 + max |logit|)).
 * Switched back, the float logits return bit for bit. */
#define BF16_TOL 0.05f
static float bf16_worst;
static void bf16_close(const char *name, vitc_model *m, const float *in, int n, int H, int W, const float *f32) {
    int C = m->cfg.num_classes;
    float *z = calloc((size_t)n * C, sizeof(float)), scale = 0.0f;
    CHECK(vitc_model_set_bf16(m, 1) == VITC_OK && vitc_model_classify(m, in, n, H, W, z) == VITC_OK, "%s: bf16 forward", name);
    for (size_t i = 0; i < (size_t)n * C; i++) scale = fmaxf(scale, fabsf(f32[i]));
    float e = max_abs_diff(z, f32, (size_t)n * C) / (1.0f + scale);
    if (e > bf16_worst) bf16_worst = e;
    CHECK(e <= BF16_TOL && e > 0.0f, "%s: bf16 logits differ by %g of the logits' scale", name, e);
    CHECK(vitc_model_set_bf16(m, 0) == VITC_OK && vitc_model_classify(m, in, n, H, W, z) == VITC_OK &&
              !memcmp(z, f32, sizeof(float) * (size_t)n * C),
          "%s: back to float, the same logits", name);
    free(z);
}

/* int8 blocks (vitc_model_set_int8): per-image logits cosine >= INT8_COS against float (the
 * issue's goal; with per-token zero points the worst fixture is at 0.9996, hf_deit_teacher, which
 * symmetric activations left at 0.9973), top-1 agreement counted; the same model written as a quantized file and loaded gives the same bits;
 * back to float, the float bits. */
#define INT8_COS 0.999
static double int8_worst_cos = 1.0, int8a_worst_cos = 1.0;
static int int8_top1_same, int8_images, int8a_top1_same;
static double logits_cos(const float *a, const float *b, int C) {
    double ab = 0, aa = 0, bb = 0;
    for (int c = 0; c < C; c++) ab += (double)a[c] * b[c], aa += (double)a[c] * a[c], bb += (double)b[c] * b[c];
    return ab / (sqrt(aa * bb) + 1e-30);
}
static int argmax(const float *a, int C) {
    int t = 0;
    for (int c = 1; c < C; c++) t = a[c] > a[t] ? c : t;
    return t;
}
static void int8_close(const char *name, vitc_model *m, const char *dir, const float *in, int n, int H, int W,
                       const float *f32) {
    int C = m->cfg.num_classes;
    float *z = calloc((size_t)n * C, sizeof(float)), *zf = calloc((size_t)n * C, sizeof(float));
    CHECK(vitc_model_set_int8(m, 1) == VITC_OK && vitc_model_classify(m, in, n, H, W, z) == VITC_OK, "%s: int8 forward", name);
    for (int i = 0; i < n; i++) {
        const float *a = z + (size_t)i * C, *b = f32 + (size_t)i * C;
        double ab = 0, aa = 0, bb = 0;
        int ta = 0, tb = 0;
        for (int c = 0; c < C; c++) {
            ab += (double)a[c] * b[c], aa += (double)a[c] * a[c], bb += (double)b[c] * b[c];
            if (a[c] > a[ta]) ta = c;
            if (b[c] > b[tb]) tb = c;
        }
        double cs = ab / (sqrt(aa * bb) + 1e-30);
        if (cs < int8_worst_cos) int8_worst_cos = cs;
        CHECK(cs >= INT8_COS, "%s: int8 logits cosine %.5f for image %d", name, cs, i);
        int8_top1_same += ta == tb;
        int8_images++;
    }
    /* attention's products in int8 too */
    float *za = calloc((size_t)n * C, sizeof(float));
    CHECK(vitc_model_set_int8_attention(m, 1) == VITC_OK && vitc_model_classify(m, in, n, H, W, za) == VITC_OK,
          "%s: int8 attention forward", name);
    for (int i = 0; i < n; i++) {
        double cs = logits_cos(za + (size_t)i * C, f32 + (size_t)i * C, C);
        if (cs < int8a_worst_cos) int8a_worst_cos = cs;
        CHECK(cs >= INT8_COS, "%s: int8-attention logits cosine %.5f for image %d", name, cs, i);
        int8a_top1_same += argmax(za + (size_t)i * C, C) == argmax(f32 + (size_t)i * C, C);
    }
    vitc_model_set_int8_attention(m, 0);
    free(za);
    char q8[1200];
    snprintf(q8, sizeof q8, "%s/int8.q8.safetensors", dir);
    vitc_model *mq = NULL;
    CHECK(vitc_model_save_int8(m, q8, 0) == VITC_OK, "%s: save int8: %s", name, vitc_last_error());
    CHECK(vitc_model_load(q8, NULL, &mq) == VITC_OK && vitc_model_int8(mq) == 1, "%s: load int8 file: %s", name,
          vitc_last_error());
    if (mq) {
        CHECK(vitc_model_classify(mq, in, n, H, W, zf) == VITC_OK && !memcmp(zf, z, sizeof(float) * (size_t)n * C),
              "%s: the quantized file gives the in-memory int8 logits", name);
        CHECK(vitc_model_set_int8(mq, 0) != VITC_OK, "%s: a quantized file cannot go back to float", name);
        vitc_model_free(mq);
    }
    remove(q8);
    CHECK(vitc_model_set_int8(m, 0) == VITC_OK && vitc_model_classify(m, in, n, H, W, zf) == VITC_OK &&
              !memcmp(zf, f32, sizeof(float) * (size_t)n * C),
          "%s: back to float, the same logits", name);
    free(z), free(zf);
}

static void run_case(const char *name, int heads, FILE *table) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/models/%s", fixture_dir(), name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = heads;
    vitc_model *m;
    vitc_status s = vitc_model_load(path, &lp, &m);
    CHECK(s == VITC_OK, "%s: load: %s", name, vitc_last_error());
    if (s) return;
    vt_npy in, logits, feats, blocks;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "logits.npy", &logits) ||
        load_npy(dir, "features.npy", &feats) || load_npy(dir, "blocks.npy", &blocks)) {
        CHECK(0, "%s: fixtures unreadable", name);
        vitc_model_free(m);
        return;
    }
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3];
    int C = m->cfg.num_classes, D = m->cfg.dim;
    float *got_logits = calloc((size_t)n * C, sizeof(float));
    float *got_feats = calloc((size_t)n * D, sizeof(float));
    float *got_blocks = calloc(blocks.count, sizeof(float));
    vt_forward_out o = {.logits = got_logits, .features = got_feats, .blocks = got_blocks};
    s = vt_vit_forward(m, in.data, n, H, W, &o);
    CHECK(s == VITC_OK, "%s: forward: %s", name, vitc_last_error());
    CHECK(blocks.count == (size_t)m->cfg.depth * n * (H / m->cfg.patch * (W / m->cfg.patch) + vt_prefix_tokens(&m->cfg)) * D,
          "%s: block activation count", name);
    float eb = 0.0f;
    size_t per_block = blocks.count / (size_t)(m->cfg.depth ? m->cfg.depth : 1);
    for (int l = 0; l < m->cfg.depth; l++) {
        float e = max_abs_diff(got_blocks + l * per_block, blocks.data + l * per_block, per_block);
        CHECK(e <= TOL, "%s: block %d max abs error %g", name, l, e);
        if (!(e <= eb)) eb = e;
    }
    float ef = max_abs_diff(got_feats, feats.data, feats.count);
    float el = max_abs_diff(got_logits, logits.data, logits.count);
    CHECK(ef <= TOL, "%s: features max abs error %g", name, ef);
    CHECK(el <= TOL, "%s: logits max abs error %g", name, el);
    top5_same(name, got_logits, logits.data, n, C);

    /* the public entry points agree with the internal one */
    float *pub = calloc((size_t)n * C, sizeof(float));
    CHECK(vitc_model_classify(m, in.data, n, H, W, pub) == VITC_OK, "%s: classify", name);
    CHECK(max_abs_diff(pub, got_logits, (size_t)n * C) == 0.0f, "%s: classify differs from forward", name);
    /* batch of one gives the same numbers as the batch */
    size_t img = (size_t)3 * H * W;
    CHECK(vitc_model_classify(m, in.data + img * (n - 1), 1, H, W, pub) == VITC_OK, "%s: classify 1", name);
    float e1 = max_abs_diff(pub, got_logits + (size_t)(n - 1) * C, (size_t)C);
    CHECK(e1 <= 1e-5f, "%s: batch-1 vs batch-%d logits differ by %g", name, n, e1);
    same_bits_any_threads(name, m, in.data, n, H, W);
    if (vt_bf16_supported()) bf16_close(name, m, in.data, n, H, W, got_logits);
    if (m->cfg.depth > 0) int8_close(name, m, dir, in.data, n, H, W, got_logits);
    if (table)
        fprintf(table, "| %s | %s | %dx%d, batch %d | %.2e | %.2e | %.2e |\n", name, m->source, H, W, n, eb, ef, el);
    printf("  %-22s %-4s %3dx%-3d batch %d  blocks %.2e  features %.2e  logits %.2e\n", name, m->source, H, W, n, eb,
           ef, el);
    free(pub);
    free(got_logits);
    free(got_feats);
    free(got_blocks);
    vt_npy_free(&in);
    vt_npy_free(&logits);
    vt_npy_free(&feats);
    vt_npy_free(&blocks);
    vitc_model_free(m);
}

int main(void) {
    char manifest[1024];
    snprintf(manifest, sizeof manifest, "%s/models/manifest.txt", fixture_dir());
    FILE *fp = fopen(manifest, "r");
    CHECK(fp != NULL, "cannot open %s", manifest);
    if (!fp) return check_report("test_model");
    const char *table_path = getenv("VITC_PARITY_TABLE"); /* docs/parity.md is written from this */
    FILE *table = table_path ? fopen(table_path, "w") : NULL;
    if (table)
        fprintf(table, "| configuration | names | input | max err blocks | max err features | max err logits |\n"
                       "| --- | --- | --- | --- | --- | --- |\n");
    char name[256];
    int heads, cases = 0;
    while (fscanf(fp, "%255s %d", name, &heads) == 2) {
        run_case(name, heads, table);
        cases++;
    }
    fclose(fp);
    if (table) fclose(table);
    CHECK(cases >= (getenv("VITC_QUICK") ? 3 : 10), "only %d cases in the manifest", cases);
    if (vt_bf16_supported()) printf("  bf16 mode: worst logit difference %.2e of the logits' scale (tolerance %.0e)\n", bf16_worst, BF16_TOL);
    else printf("  bf16 mode: skipped (no AVX512-BF16)\n");
    printf("  int8 mode (%s kernel): worst logits cosine %.5f (at least %.3f), top-1 agreement %d of %d images\n",
           vt_q8_kernel_name(), int8_worst_cos, INT8_COS, int8_top1_same, int8_images);
    printf("  int8 with int8 attention: worst logits cosine %.5f (at least %.3f), top-1 agreement %d of %d images\n",
           int8a_worst_cos, INT8_COS, int8a_top1_same, int8_images);
    return check_report("test_model");
}
