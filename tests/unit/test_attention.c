/* Attention maps (last block per head and averaged, rollout) and the final tokens against the
 * PyTorch reference (tests/ref/make_attention_fixtures.py), within 1e-4; argument errors. */
#include "check.h"
#include "fixture_npy.h"
#include "core/npy.h"
#include "model/model.h"

#define TOL 1e-4f


static void run_case(const char *name) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/attention/%s", fixture_dir(), name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vitc_model *m;
    vitc_status s = vitc_model_load(path, NULL, &m);
    CHECK(s == VITC_OK, "%s: load: %s", name, vitc_last_error());
    if (s) return;
    vt_npy in, heads, mean, roll, roll_h, tokens, feats;
    if (load_npy(dir, "input.npy", &in) || load_npy(dir, "last_heads.npy", &heads) ||
        load_npy(dir, "last_mean.npy", &mean) || load_npy(dir, "rollout_mean.npy", &roll) ||
        load_npy(dir, "rollout_head.npy", &roll_h) || load_npy(dir, "tokens.npy", &tokens) ||
        load_npy(dir, "features.npy", &feats)) {
        CHECK(0, "%s: fixtures unreadable", name);
        vitc_model_free(m);
        return;
    }
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    int n = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3], P = info.patch_size;
    int N = (H / P) * (W / P), T = vitc_model_num_tokens(m, H, W), nh = info.heads;
    CHECK(T == N + info.num_prefix_tokens && (size_t)n * T * info.dim == tokens.count, "%s: %d tokens", name, T);
    CHECK(heads.count == (size_t)n * nh * N && mean.count == (size_t)n * N, "%s: fixture shapes", name);
    float *map = calloc((size_t)n * N, sizeof(float)), *one = calloc((size_t)N, sizeof(float));
    float *tok = calloc(tokens.count, sizeof(float)), *ft = calloc(feats.count, sizeof(float));

    CHECK(vitc_model_attention(m, in.data, n, H, W, -1, 0, map) == VITC_OK, "%s: attention: %s", name, vitc_last_error());
    float e = max_abs_diff(map, mean.data, mean.count);
    CHECK(e <= TOL, "%s: last-block mean map max abs error %g", name, e);
    float worst = e;
    for (int h = 0; h < nh; h++) {
        CHECK(vitc_model_attention(m, in.data, n, H, W, h, 0, map) == VITC_OK, "%s: head %d: %s", name, h, vitc_last_error());
        float eh = 0.0f;
        for (int b = 0; b < n; b++) {
            float d = max_abs_diff(map + (size_t)b * N, heads.data + ((size_t)b * nh + h) * N, (size_t)N);
            if (d > eh) eh = d;
        }
        CHECK(eh <= TOL, "%s: last-block head %d max abs error %g", name, h, eh);
        if (eh > worst) worst = eh;
    }
    CHECK(vitc_model_attention(m, in.data, n, H, W, -1, 1, map) == VITC_OK, "%s: rollout: %s", name, vitc_last_error());
    float er = max_abs_diff(map, roll.data, roll.count);
    CHECK(er <= TOL, "%s: rollout (mean) max abs error %g", name, er);
    /* a batch of one gives the last image's map */
    CHECK(vitc_model_attention(m, in.data + (size_t)(n - 1) * 3 * H * W, 1, H, W, -1, 1, one) == VITC_OK, "%s: rollout 1", name);
    CHECK(max_abs_diff(one, map + (size_t)(n - 1) * N, (size_t)N) <= 1e-6f, "%s: rollout batch 1 differs", name);
    CHECK(vitc_model_attention(m, in.data, n, H, W, 1, 1, map) == VITC_OK, "%s: rollout head 1: %s", name, vitc_last_error());
    float erh = max_abs_diff(map, roll_h.data, roll_h.count);
    CHECK(erh <= TOL, "%s: rollout (head 1) max abs error %g", name, erh);
    if (info.class_token) { /* rollout rows are distributions: the patch share is at most 1 */
        double sum = 0.0;
        for (int j = 0; j < N; j++) sum += map[j];
        CHECK(sum > 0.0 && sum <= 1.0 + 1e-5, "%s: rollout patch share %g", name, sum);
    }

    CHECK(vitc_model_embed_tokens(m, in.data, n, H, W, tok) == VITC_OK, "%s: tokens: %s", name, vitc_last_error());
    float et = max_abs_diff(tok, tokens.data, tokens.count);
    CHECK(et <= TOL, "%s: tokens max abs error %g", name, et);
    CHECK(vitc_model_embed(m, in.data, n, H, W, ft) == VITC_OK, "%s: embed: %s", name, vitc_last_error());
    float ef = max_abs_diff(ft, feats.data, feats.count);
    CHECK(ef <= TOL, "%s: features max abs error %g", name, ef);

    /* errors: head out of range names the valid range; a size off the patch grid */
    vitc_status bad = vitc_model_attention(m, in.data, n, H, W, nh, 0, map);
    char want[64];
    snprintf(want, sizeof want, "0..%d", nh - 1);
    CHECK(bad == VITC_ERR_ARG && strstr(vitc_last_error(), want), "%s: head %d: status %d, '%s'", name, nh, bad,
          vitc_last_error());
    CHECK(vitc_model_attention(m, in.data, n, H, W, -2, 1, map) == VITC_ERR_ARG, "%s: head -2 accepted", name);
    CHECK(vitc_model_attention(m, in.data, n, H + 1, W, -1, 0, map) == VITC_ERR_SHAPE, "%s: odd size accepted", name);
    CHECK(vitc_model_attention(m, in.data, 0, H, W, -1, 0, map) == VITC_ERR_ARG, "%s: n = 0 accepted", name);
    CHECK(vitc_model_attention(m, in.data, n, H, W, -1, 0, NULL) == VITC_ERR_ARG, "%s: NULL maps accepted", name);
    CHECK(vitc_model_embed_tokens(m, in.data, n, H, W, NULL) == VITC_ERR_ARG, "%s: NULL tokens accepted", name);
    CHECK(vitc_model_num_tokens(m, H + 1, W) == -1, "%s: num_tokens of an odd size", name);
    printf("  %-10s %dx%d batch %d  last %.2e  rollout %.2e / %.2e  tokens %.2e  features %.2e\n", name, H, W, n, worst,
           er, erh, et, ef);
    free(map);
    free(one);
    free(tok);
    free(ft);
    vt_npy_free(&in);
    vt_npy_free(&heads);
    vt_npy_free(&mean);
    vt_npy_free(&roll);
    vt_npy_free(&roll_h);
    vt_npy_free(&tokens);
    vt_npy_free(&feats);
    vitc_model_free(m);
}

int main(void) {
    char manifest[1024];
    snprintf(manifest, sizeof manifest, "%s/attention/manifest.txt", fixture_dir());
    FILE *fp = fopen(manifest, "r");
    CHECK(fp != NULL, "cannot open %s", manifest);
    if (!fp) return check_report("test_attention");
    char name[256];
    int cases = 0;
    while (fscanf(fp, "%255s", name) == 1) {
        run_case(name);
        cases++;
    }
    fclose(fp);
    CHECK(cases >= 3, "only %d cases in the manifest", cases);
    return check_report("test_attention");
}
