/* Random initialization for training from scratch and for benchmark models, following timm:
 * Linear and patch weights truncated normal (std 0.02), biases 0, norms 1/0, class/register
 * tokens and position embeddings normal (std 0.02 / 1e-6 for cls), LayerScale gamma init_values. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 + Box-Muller: tiny, seedable, identical on every platform */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double uniform01(uint64_t *s) { return ((next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static double normal(uint64_t *s) {
    double u = uniform01(s), v = uniform01(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
static float trunc_normal(uint64_t *s, double std) {
    for (;;) {
        double x = normal(s);
        if (x >= -2.0 && x <= 2.0) return (float)(x * std);
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

void vt_model_init_random(vitc_model *m, uint64_t seed, float layer_scale_init) {
    vt_param *t;
    int n = vt_param_table(&m->cfg, &m->w, &t);
    if (n < 0) return;
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    for (int i = 0; i < n; i++) {
        float *p = *t[i].slot;
        const char *name = t[i].name;
        for (int64_t j = 0; j < t[i].numel; j++) {
            float v;
            if (ends_with(name, "gamma")) v = layer_scale_init;
            else if (strstr(name, "norm") && ends_with(name, ".weight")) v = 1.0f;
            else if (ends_with(name, ".bias")) v = 0.0f;
            else if (!strcmp(name, "cls_token") || !strcmp(name, "dist_token")) v = trunc_normal(&s, 1e-6);
            else v = trunc_normal(&s, 0.02);
            p[j] = v;
        }
    }
    free(t);
}
