/* Comparing a trainer's parameter-shaped buffer (parameters or gradients, at base) with a reference
 * safetensors file of the same names: the training parity tests' one comparison. */
#ifndef VT_TEST_COMPARE_PARAMS_H
#define VT_TEST_COMPARE_PARAMS_H

#include "check.h"
#include "formats/safetensors.h"
#include "train/train.h"

typedef struct param_check {
    double lr_sum;              /* the summed learning rate of the steps taken (parameters) */
    double worst_grad, worst_param; /* the worst errors seen so far (updated) */
    int require_all;            /* the file must hold exactly the trainer's tensors */
} param_check;

/* Gradients (grads 1): each tensor within 1e-4 of its largest |value| (+1e-6). Parameters: within 1e-4,
 * except key biases (qkv.bias rows D..2D, k_norm.bias), whose gradient is exactly zero (softmax is
 * shift invariant), so Adam turns round-off into steps of up to lr either way: those only have to
 * stay within 2 x the summed learning rate. D is the decoder's width for "decoder." tensors. */
static void compare_params(const char *what, vt_trainer *t, const float *base, const char *path, int grads,
                           param_check *pc) {
    vt_safetensors *st;
    if (vt_st_open(path, &st)) {
        CHECK(0, "%s: %s", what, vitc_last_error());
        return;
    }
    int seen = 0;
    for (int i = 0; i < t->n_params; i++) {
        const vt_param *p = &t->params[i];
        const vt_st_tensor *ref = vt_st_find(st, p->name);
        CHECK(ref && ref->numel == p->numel, "%s: %s missing or wrong size", what, p->name);
        if (!ref || ref->numel != p->numel) continue;
        seen++;
        const float *r;
        int owned;
        vt_st_to_f32(st, ref, &r, &owned);
        const float *got = base + t->offsets[i];
        float mx = 0.0f;
        for (int64_t j = 0; j < p->numel; j++) mx = fmaxf(mx, fabsf(r[j]));
        if (grads) {
            float e = max_abs_diff(got, r, (size_t)p->numel);
            double rel = e / (mx + 1e-12);
            if (mx > 1e-4f && rel > pc->worst_grad) pc->worst_grad = rel; /* tensors with zero gradient aside */
            CHECK(e <= 1e-4f * mx + 1e-6f, "%s: gradient %s max error %g (max |grad| %g)", what, p->name, e, mx);
        } else {
            int64_t D = !strncmp(p->name, "decoder.", 8) ? t->m->cfg.dec_dim : t->m->cfg.dim, k0 = 0, k1 = 0;
            if (strstr(p->name, "k_norm.bias")) k1 = p->numel;
            if (strstr(p->name, "qkv.bias")) k0 = D, k1 = 2 * D;
            float eo = 0.0f, ek = 0.0f;
            for (int64_t j = 0; j < p->numel; j++) {
                float d = fabsf(got[j] - r[j]);
                if (!(d <= 0.0f) && !(d > 0.0f)) d = INFINITY; /* NaN */
                if (j >= k0 && j < k1) ek = fmaxf(ek, d);
                else eo = fmaxf(eo, d);
            }
            if (eo > pc->worst_param) pc->worst_param = eo;
            /* AdamW divides by sqrt(v): an element whose gradient is near cancellation turns float
             * summation-order differences (kernel sets differ) into up to lr per step, so beside the
             * 1e-4 bound a small share of the steps' total learning rate is allowed (measured: 1.12e-4
             * in "swiglu sam" on the AVX-512 set, 9.0e-5 on AVX2, with lr_sum 0.02) */
            CHECK(eo <= 1e-4 + 0.005 * pc->lr_sum, "%s: parameter %s max error %g", what, p->name, eo);
            CHECK(ek <= 2 * pc->lr_sum, "%s: parameter %s key-bias error %g", what, p->name, ek);
        }
        if (owned) free((void *)r);
    }
    if (pc->require_all)
        CHECK(seen == t->n_params && (int)st->n_tensors == t->n_params, "%s: %d of %d tensors compared (file has %d)",
              what, seen, t->n_params, (int)st->n_tensors);
    vt_st_close(st);
}

#endif
