/* The ViT forward pass: embeddings, pre-norm blocks, final norm, pooling, heads.
 * Activations live in the model's arena, sized once per (batch, image size). */
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"

#include <string.h>

static size_t arena_bytes(const vt_vit_config *c, size_t n, size_t N, size_t T) {
    size_t rows = n * T, D = (size_t)c->dim, K = (size_t)c->in_chans * c->patch * c->patch;
    return vt_arena_size_floats(rows * D) * 3          /* x, ln, attention output */
           + vt_arena_size_floats(rows * 3 * D)        /* qkv */
           + vt_arena_size_floats(rows * c->mlp_dim)   /* mlp hidden */
           + vt_arena_size_floats(n * N * K)           /* unfolded patches */
           + vt_arena_size_floats(n * D) * 2           /* pooled tokens */
           + vt_arena_size_floats(n * (size_t)c->num_classes); /* second head's logits */
}

static void pool_tokens(const vt_vit_config *c, const float *xn, float *pooled, int n, int T) {
    int D = c->dim, pre = vt_prefix_tokens(c);
    for (int b = 0; b < n; b++) {
        const float *x = xn + (size_t)b * T * D;
        float *p = pooled + (size_t)b * D;
        if (c->pool == VITC_POOL_AVG) {
            memset(p, 0, sizeof(float) * (size_t)D);
            for (int t = pre; t < T; t++)
                for (int d = 0; d < D; d++) p[d] += x[(size_t)t * D + d];
            float inv = 1.0f / (float)(T - pre);
            for (int d = 0; d < D; d++) p[d] *= inv;
        } else if (c->dist_token && c->dist_average) {
            for (int d = 0; d < D; d++) p[d] = 0.5f * (x[d] + x[D + d]);
        } else {
            memcpy(p, x, sizeof(float) * (size_t)D);
        }
    }
}

vitc_status vt_vit_forward(vitc_model *m, const float *images, int n, int height, int width, vt_forward_out *out) {
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    if (!images || n <= 0) return vt_error(VITC_ERR_ARG, "forward: no input images");
    if (height <= 0 || width <= 0 || height % c->patch || width % c->patch)
        return vt_error(VITC_ERR_SHAPE, "input size %dx%d is not a positive multiple of the patch size %d", height,
                        width, c->patch);
    if (height > 16384 || width > 16384) return vt_error(VITC_ERR_LIMIT, "input size %dx%d too large", height, width);
    vt_set_threads(m->threads);
    int gh = height / c->patch, gw = width / c->patch, N = gh * gw, pre = vt_prefix_tokens(c), T = N + pre;
    int D = c->dim, K = c->in_chans * c->patch * c->patch;
    size_t rows = (size_t)n * T;

    if (vt_model_pack(m)) return vt_error(VITC_ERR_NOMEM, "out of memory packing weights");
    const vt_model_packed *pk = &m->packed;
    const float *pos = vt_model_pos_embed(m, gh, gw);
    if (!pos) return vt_error(VITC_ERR_NOMEM, "out of memory resampling position embeddings");
    if (vt_arena_reserve(&m->arena, arena_bytes(c, (size_t)n, (size_t)N, (size_t)T)))
        return vt_error(VITC_ERR_NOMEM, "out of memory for activations (batch %d, %dx%d)", n, height, width);
    vt_arena *a = &m->arena;
    vt_arena_reset(a);
    float *x = vt_arena_floats(a, rows * D), *ln = vt_arena_floats(a, rows * D);
    float *ao = vt_arena_floats(a, rows * D), *qkv = vt_arena_floats(a, rows * 3 * D);
    float *hid = vt_arena_floats(a, rows * c->mlp_dim), *patches = vt_arena_floats(a, (size_t)n * N * K);
    float *pooled = vt_arena_floats(a, (size_t)n * D), *pooled2 = vt_arena_floats(a, (size_t)n * D);
    float *logits2 = vt_arena_floats(a, (size_t)n * c->num_classes);

    /* patch embedding: a stride-P convolution as a GEMM over unfolded patches */
    vt_patchify(patches, images, n, c->in_chans, height, width, c->patch);
    vt_linear_packed(ln, patches, pk->patch, w->patch.b, n * N, VT_EPILOGUE_NONE);
    if (c->patch_norm) vt_layernorm_forward(ln, NULL, NULL, ln, w->patch_norm.w, w->patch_norm.b, n * N, D, c->ln_eps);

    /* tokens: [cls, dist, registers, patches] + position embeddings */
    int pos_prefix = c->no_embed_class ? 0 : pre;
    for (int b = 0; b < n; b++) {
        float *xb = x + (size_t)b * T * D;
        int t = 0;
        if (c->class_token) memcpy(xb + (size_t)D * t++, w->cls_token, sizeof(float) * (size_t)D);
        if (c->dist_token) memcpy(xb + (size_t)D * t++, w->dist_token, sizeof(float) * (size_t)D);
        if (c->reg_tokens) memcpy(xb + (size_t)D * t, w->reg_token, sizeof(float) * (size_t)D * c->reg_tokens);
        if (pos_prefix)
            for (size_t i = 0; i < (size_t)pre * D; i++) xb[i] += pos[i];
        const float *pp = pos + (size_t)pos_prefix * D;
        const float *eb = ln + (size_t)b * N * D;
        float *xp = xb + (size_t)pre * D;
        for (size_t i = 0; i < (size_t)N * D; i++) xp[i] = eb[i] + pp[i];
    }
    if (c->pre_norm) vt_layernorm_forward(x, NULL, NULL, x, w->norm_pre.w, w->norm_pre.b, (int)rows, D, c->ln_eps);

    /* Each residual add is fused with the LayerNorm that follows it (the block's norm2, the next
     * block's norm1, or the final norm). */
    const float *xn = x;
    if (c->depth > 0)
        vt_layernorm_forward(ln, NULL, NULL, x, w->blocks[0].norm1.w, w->blocks[0].norm1.b, (int)rows, D, c->ln_eps);
    for (int l = 0; l < c->depth; l++) {
        const vt_block_w *bw = &w->blocks[l];
        const vt_block_packed *bp = &pk->blocks[l];
        vt_linear_packed(qkv, ln, bp->qkv, bw->qkv.b, (int)rows, VT_EPILOGUE_NONE);
        vt_attention_forward(ao, l == c->depth - 1 && out ? out->attn : NULL, qkv, n, T, D, c->heads,
                             c->qk_norm ? bw->q_norm.w : NULL, bw->q_norm.b, c->qk_norm ? bw->k_norm.w : NULL,
                             bw->k_norm.b, c->ln_eps);
        vt_linear_packed(ln, ao, bp->proj, bw->proj.b, (int)rows, VT_EPILOGUE_NONE);
        vt_residual_layernorm_forward(x, ln, bw->ls1, ln, NULL, NULL, bw->norm2.w, bw->norm2.b, (int)rows, D,
                                      c->ln_eps);
        vt_linear_packed(hid, ln, bp->fc1, bw->fc1.b, (int)rows, VT_EPILOGUE_GELU); /* bias + exact GELU fused */
        vt_linear_packed(ln, hid, bp->fc2, bw->fc2.b, (int)rows, VT_EPILOGUE_NONE);
        if (l + 1 < c->depth) {
            const vt_block_w *nw = &w->blocks[l + 1];
            vt_residual_layernorm_forward(x, ln, bw->ls2, ln, NULL, NULL, nw->norm1.w, nw->norm1.b, (int)rows, D,
                                          c->ln_eps);
        } else if (!c->fc_norm) { /* final norm (all tokens) unless the pooled features get fc_norm */
            vt_residual_layernorm_forward(x, ln, bw->ls2, ln, NULL, NULL, w->norm.w, w->norm.b, (int)rows, D,
                                          c->ln_eps);
            xn = ln;
        } else {
            vt_residual_forward(x, ln, bw->ls2, (int)rows, D);
        }
        if (out && out->blocks) memcpy(out->blocks + (size_t)l * rows * D, x, sizeof(float) * rows * D);
    }
    if (c->depth == 0 && !c->fc_norm) {
        vt_layernorm_forward(ln, NULL, NULL, x, w->norm.w, w->norm.b, (int)rows, D, c->ln_eps);
        xn = ln;
    }
    if (out && out->tokens) memcpy(out->tokens, xn, sizeof(float) * rows * D);
    pool_tokens(c, xn, pooled, n, T);
    if (c->fc_norm) vt_layernorm_forward(pooled, NULL, NULL, pooled, w->fc_norm.w, w->fc_norm.b, n, D, c->ln_eps);
    if (out && out->features) memcpy(out->features, pooled, sizeof(float) * (size_t)n * D);

    if (out && out->logits && c->num_classes) {
        int C = c->num_classes;
        if (c->pool == VITC_POOL_TOKEN && c->dist_token && c->dist_average) {
            /* DeiT distilled: mean of the class-token head and the distillation-token head */
            for (int b = 0; b < n; b++) {
                memcpy(pooled + (size_t)b * D, xn + (size_t)b * T * D, sizeof(float) * (size_t)D);
                memcpy(pooled2 + (size_t)b * D, xn + ((size_t)b * T + 1) * D, sizeof(float) * (size_t)D);
            }
            vt_linear_packed(out->logits, pooled, pk->head, w->head.b, n, VT_EPILOGUE_NONE);
            vt_linear_packed(logits2, pooled2, pk->head_dist, w->head_dist.b, n, VT_EPILOGUE_NONE);
            for (size_t i = 0; i < (size_t)n * C; i++) out->logits[i] = 0.5f * (out->logits[i] + logits2[i]);
        } else {
            vt_linear_packed(out->logits, pooled, pk->head, w->head.b, n, VT_EPILOGUE_NONE);
        }
    }
    return VITC_OK;
}
