/* Checkpoint averaging (vt_models_average, `vitc average`): the mean of the parameters, checked
 * against the models' contiguous parameter buffers (independent of the parameter table the
 * function walks); the averaged model runs and keeps the first model's labels and preprocessing;
 * other architectures or class names are refused. */
#include "check.h"
#include "model/model.h"
#include "train/train.h"

enum { S = 16, C = 3 };

static vitc_model *tiny_model(uint64_t seed, int depth, int patch_kernel) {
    vt_vit_config c;
    vt_config_defaults(&c);
    c.dim = 32, c.depth = depth, c.heads = 2, c.mlp_dim = 64, c.patch = 4, c.img_size = S, c.num_classes = C;
    c.patch_kernel = patch_kernel;
    snprintf(c.name, sizeof c.name, "tiny_%llu", (unsigned long long)seed); /* names may differ */
    vitc_model *m = NULL;
    if (vt_model_new(&c, &m)) return NULL;
    vt_model_init_random(m, seed, 1.0f);
    m->pre = vitc_preprocess_default_params();
    m->pre.size = S;
    m->pre.mean[0] = 0.1f * (float)seed;
    m->labels = calloc(C, sizeof *m->labels);
    m->n_labels = C;
    const char *names[C] = {"cat", "dog", "fox"};
    for (int k = 0; k < C; k++) m->labels[k] = strdup(names[k]);
    return m;
}

static int64_t n_params(const vitc_model *m) { return vt_config_num_params(&m->cfg); }

int main(void) {
    vitc_model *a = tiny_model(1, 2, 0), *b = tiny_model(2, 2, 0), *c = tiny_model(3, 2, 0);
    CHECK(a && b && c, "models");
    if (!a || !b || !c) return check_report("test_average");
    int64_t n = n_params(a);

    /* one model, and a model twice: the model itself, bit for bit */
    vitc_model *one[1] = {a}, *twice[2] = {a, a}, *avg = NULL;
    CHECK(vt_models_average(one, 1, &avg) == VITC_OK && !memcmp(avg->param_buf, a->param_buf, sizeof(float) * (size_t)n),
          "the average of one model is the model");
    vitc_model_free(avg);
    CHECK(vt_models_average(twice, 2, &avg) == VITC_OK && !memcmp(avg->param_buf, a->param_buf, sizeof(float) * (size_t)n),
          "the average of a model and itself is the model");
    vitc_model_free(avg);

    /* three models: every parameter the mean of the three */
    vitc_model *three[3] = {a, b, c};
    CHECK(vt_models_average(three, 3, &avg) == VITC_OK, "average of three: %s", vitc_last_error());
    if (avg) {
        float worst = 0.0f;
        for (int64_t k = 0; k < n; k++) {
            float want = (float)(((double)a->param_buf[k] + b->param_buf[k] + c->param_buf[k]) / 3.0);
            worst = fmaxf(worst, fabsf(avg->param_buf[k] - want));
        }
        CHECK(worst == 0.0f, "mean of three: max error %g", worst);
        CHECK(memcmp(avg->param_buf, a->param_buf, sizeof(float) * (size_t)n) != 0, "the average differs from the first");
        CHECK(avg->pre.mean[0] == a->pre.mean[0] && avg->labels && !strcmp(avg->labels[2], "fox"),
              "the first model's preprocessing and labels");
        /* it runs, and as a model whose parameters were averaged by hand */
        float img[3 * S * S], z1[C], z2[C];
        for (int k = 0; k < 3 * S * S; k++) img[k] = sinf(0.37f * (float)k);
        vitc_model *hand = tiny_model(9, 2, 0);
        for (int64_t k = 0; k < n; k++)
            hand->param_buf[k] = (float)(((double)a->param_buf[k] + b->param_buf[k] + c->param_buf[k]) / 3.0);
        vt_model_weights_changed(hand);
        CHECK(vitc_model_classify(avg, img, 1, S, S, z1) == VITC_OK && vitc_model_classify(hand, img, 1, S, S, z2) == VITC_OK &&
                  max_abs_diff(z1, z2, C) == 0.0f,
              "the averaged model's logits");
        vitc_model_free(hand);
        vitc_model_free(avg);
    }

    /* refusals: another depth, another patch kernel, other class names */
    vitc_model *deep = tiny_model(4, 3, 0), *overlap = tiny_model(5, 2, 8), *renamed = tiny_model(6, 2, 0);
    free(renamed->labels[1]);
    renamed->labels[1] = strdup("wolf");
    vitc_model *bad1[2] = {a, deep}, *bad2[2] = {a, overlap}, *bad3[3] = {a, b, renamed};
    avg = NULL;
    CHECK(vt_models_average(bad1, 2, &avg) != VITC_OK && !avg && strstr(vitc_last_error(), "model 2 has another architecture"),
          "another depth refused: %s", vitc_last_error());
    CHECK(vt_models_average(bad2, 2, &avg) != VITC_OK && !avg && strstr(vitc_last_error(), "architecture"),
          "another patch kernel refused: %s", vitc_last_error());
    CHECK(vt_models_average(bad3, 3, &avg) != VITC_OK && !avg && strstr(vitc_last_error(), "model 3 names its classes"),
          "other class names refused: %s", vitc_last_error());
    CHECK(vt_models_average(bad3, 0, &avg) != VITC_OK && !avg, "no models refused");
    /* overlapping-patch models average like any other */
    vitc_model *overlap2 = tiny_model(7, 2, 8), *ov[2] = {overlap, overlap2};
    CHECK(vt_models_average(ov, 2, &avg) == VITC_OK && avg && avg->cfg.patch_kernel == 8, "overlapping patches");
    vitc_model_free(avg);

    vitc_model_free(overlap2);
    vitc_model_free(deep);
    vitc_model_free(overlap);
    vitc_model_free(renamed);
    vitc_model_free(a);
    vitc_model_free(b);
    vitc_model_free(c);
    return check_report("test_average");
}
