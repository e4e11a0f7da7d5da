/* The ViT forward pass: embeddings, pre-norm blocks, final norm, pooling, heads.
 * Activations live in the model's arena, sized once per (batch, image size). */
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The widest row the segmentation head keeps per patch: tokens, decoder features or scores. */
static size_t seg_width(const vt_vit_config *c) {
    int w = c->dim > c->num_classes ? c->dim : c->num_classes;
    return (size_t)(c->dec_dim > w ? c->dec_dim : w);
}

static size_t arena_bytes(const vt_vit_config *c, size_t n, size_t N, size_t T) {
    size_t rows = n * T, D = (size_t)c->dim, K = (size_t)vt_patch_inputs(c), C = (size_t)c->num_classes;
    size_t bytes = vt_arena_size_floats(rows * D) * 3  /* x, ln, attention output */
                   + vt_arena_size_floats(rows * 3 * D)        /* qkv */
                   + vt_arena_size_floats(rows * vt_fc1_rows(c)) /* mlp hidden (gate | value for SwiGLU) */
                   + vt_arena_size_floats(n * N * K)           /* unfolded patches */
                   + vt_arena_size_floats(n * D) * 2           /* pooled tokens */
                   + vt_arena_size_floats(n * C);              /* second head's logits */
    if (c->map_head) bytes += vt_arena_size_floats((2 * n + 1) * D); /* SigLIP's pooling head */
    if (c->task == VT_TASK_DETECT) /* the detection tokens and the heads' two hidden layers */
        bytes += vt_arena_size_floats(n * c->det_tokens * D) * 3;
    if (c->task == VT_TASK_SEGMENT) {
        size_t E = (size_t)c->dec_dim, rd = n * (N + C);
        bytes += vt_arena_size_floats(n * N * seg_width(c)) * 2; /* patch tokens, per-patch scores */
        if (c->seg_decoder == VT_SEG_MASK)
            bytes += vt_arena_size_floats(rd * E) * 3 + vt_arena_size_floats(rd * 3 * E) +
                     vt_arena_size_floats(rd * 4 * E) + vt_arena_size_floats(n * N * E) +
                     vt_arena_size_floats(n * C * E) * 2;
    }
    return bytes;
}

static void pool_tokens(const vt_vit_config *c, const float *xn, float *pooled, int n, int T) {
    int D = c->dim, pre = vt_prefix_tokens(c), end = T - c->det_tokens; /* average: the patch tokens */
    for (int b = 0; b < n; b++) {
        const float *x = xn + (size_t)b * T * D;
        float *p = pooled + (size_t)b * D;
        if (c->pool == VITC_POOL_AVG) {
            memset(p, 0, sizeof(float) * (size_t)D);
            for (int t = pre; t < end; t++)
                for (int d = 0; d < D; d++) p[d] += x[(size_t)t * D + d];
            float inv = 1.0f / (float)(end - pre);
            for (int d = 0; d < D; d++) p[d] *= inv;
        } else if (c->dist_token && c->dist_average) {
            for (int d = 0; d < D; d++) p[d] = 0.5f * (x[d] + x[D + d]);
        } else {
            memcpy(p, x, sizeof(float) * (size_t)D);
        }
    }
}

/* SigLIP's attention-pooling head (HF SiglipMultiheadAttentionPoolingHead, timm AttentionPoolLatent): a
 * learned probe attends over the n x T final tokens xn with nn.MultiheadAttention's in_proj (q | k | v) and
 * out_proj, then y = a + MLP(LayerNorm(a)). Scratch: kv (n T x 2D), hid (at least T and mlp floats: the
 * scores, then one row's MLP hidden), tmp ((2 n + 1) x D). pooled receives n x D. */
static void map_pool(const vt_vit_config *c, const vt_vit_weights *w, const float *xn, int n, int T, float *kv,
                     float *hid, float *tmp, float *pooled) {
    int D = c->dim, heads = c->heads, hd = D / heads, H = c->mlp_dim;
    float *q = tmp, *a = tmp + D, *ln = a + (size_t)n * D;
    vt_linear(q, w->map_probe, w->map_in.w, w->map_in.b, 1, D, D);
    vt_linear(kv, xn, w->map_in.w + (size_t)D * D, w->map_in.b + D, n * T, D, 2 * D);
    float scale = 1.0f / sqrtf((float)hd);
    float *p = hid; /* one head's T scores */
    for (int b = 0; b < n; b++) {
        float *ab = ln; /* the heads' weighted sums, then projected into a */
        for (int h = 0; h < heads; h++) {
            const float *qh = q + h * hd;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t < T; t++) {
                const float *k = kv + ((size_t)b * T + t) * 2 * D + h * hd;
                float sdot = 0.0f;
                for (int d = 0; d < hd; d++) sdot += qh[d] * k[d];
                p[t] = sdot * scale;
                if (p[t] > mx) mx = p[t];
            }
            for (int t = 0; t < T; t++) sum += (p[t] = expf(p[t] - (float)mx));
            float *o = ab + h * hd;
            for (int d = 0; d < hd; d++) o[d] = 0.0f;
            for (int t = 0; t < T; t++) {
                const float *v = kv + ((size_t)b * T + t) * 2 * D + D + h * hd;
                float pt = (float)(p[t] / sum);
                for (int d = 0; d < hd; d++) o[d] += pt * v[d];
            }
        }
        vt_linear(a + (size_t)b * D, ab, w->map_out.w, w->map_out.b, 1, D, D);
    }
    vt_layernorm_forward(ln, NULL, NULL, a, w->map_norm.w, w->map_norm.b, n, D, c->ln_eps);
    for (int b = 0; b < n; b++) { /* the MLP a row at a time */
        float *h1 = hid;
        vt_linear(h1, ln + (size_t)b * D, w->map_fc1.w, w->map_fc1.b, 1, D, H);
        if (c->act == VT_ACT_GELU_TANH) vt_gelu_tanh_forward(h1, h1, (size_t)H);
        else if (c->act == VT_ACT_QUICK_GELU) vt_quick_gelu_forward(h1, h1, (size_t)H);
        else vt_gelu_forward(h1, h1, (size_t)H);
        vt_linear(pooled + (size_t)b * D, h1, w->map_fc2.w, w->map_fc2.b, 1, H, D);
        for (int d = 0; d < D; d++) pooled[(size_t)b * D + d] += a[(size_t)b * D + d];
    }
}

/* Buffers and sizes for a stack of pre-norm blocks over n sequences of T tokens of width D. */
typedef struct block_run {
    int n, T, D, heads, mlp, qk_norm;
    int swiglu;                         /* SwiGLU MLP: fc1 gives 2 x mlp per row */
    vt_act act;                         /* the plain MLP's activation */
    float eps;
    float *x, *ln, *ao, *qkv, *hid;     /* the stream, the normalized stream, scratch */
    float *attn_last, *attn_blocks, *blocks_out; /* optional outputs (vt_forward_out's) */
    const float *mid_pos;               /* YOLOS: (L - 1) x T x D added to every sequence after blocks 0..L-2 */
    int n_all;                          /* the batch the optional outputs are laid out for */
    float *calib;                       /* L x 4: max |input| per Linear (calibration), or NULL */
    const float *rel_bias;              /* BEiT: L x heads x T x T relative position biases, or NULL */
    atomic_int *failed;                 /* set to 1 when an int8 product runs out of memory */
    int q8_attn;                        /* attention's products in int8 */
} block_run;

/* Block l's Linear layer `which` (VT_Q8_*): int8, bfloat16 or float, whichever the block was packed
 * for. Calibration records the largest |x| first. */
static void block_linear(const block_run *r, int l, int which, float *y, const float *x, const vt_block_packed *bp,
                         const float *b, int M, int K, int epilogue) {
    if (r->calib) {
        float amax = r->calib[l * 4 + which];
        for (size_t i = 0; i < (size_t)M * K; i++) amax = fmaxf(amax, fabsf(x[i]));
        r->calib[l * 4 + which] = amax;
    }
    const vt_packed_b *f = which == VT_Q8_QKV ? bp->qkv : which == VT_Q8_PROJ ? bp->proj : which == VT_Q8_FC1 ? bp->fc1 : bp->fc2;
    const vt_bf16_linear_w *h = which == VT_Q8_QKV    ? bp->qkv16
                                : which == VT_Q8_PROJ ? bp->proj16
                                : which == VT_Q8_FC1  ? bp->fc116
                                                      : bp->fc216;
    if (bp->q8[which]) {
        if (vt_q8_linear(y, x, bp->q8[which], b, M, epilogue) && r->failed) atomic_store(r->failed, 1);
    } else if (h) vt_bf16_linear(y, x, h, b, M, epilogue);
    else vt_linear_packed(y, x, f, b, M, epilogue);
}

/* Runs L blocks over r->x. Each residual add is fused with the LayerNorm that follows it (the
 * block's norm2, the next block's norm1, or the final norm). Returns 1 when r->ln holds
 * final(x) on return, 0 when final is NULL (x then holds the raw stream). */
static int run_blocks(const block_run *r, const vt_block_w *blocks, const vt_block_packed *packed, int L,
                      const vt_norm_w *final) {
    int n = r->n, T = r->T, D = r->D, rows = n * T;
    float *x = r->x, *ln = r->ln;
    if (L == 0) {
        if (!final) return 0;
        vt_layernorm_forward(ln, NULL, NULL, x, final->w, final->b, rows, D, r->eps);
        return 1;
    }
    vt_layernorm_forward(ln, NULL, NULL, x, blocks[0].norm1.w, blocks[0].norm1.b, rows, D, r->eps);
    for (int l = 0; l < L; l++) {
        const vt_block_w *bw = &blocks[l];
        const vt_block_packed *bp = &packed[l];
        block_linear(r, l, VT_Q8_QKV, r->qkv, ln, bp, bw->qkv.b, rows, D, VT_EPILOGUE_NONE);
        size_t per_block = (size_t)r->n_all * r->heads * T * T;
        float *att = r->attn_blocks ? r->attn_blocks + (size_t)l * per_block : l == L - 1 ? r->attn_last : NULL;
        vt_attention_forward_ex(r->ao, att, r->qkv, n, T, D, r->heads, r->qk_norm ? bw->q_norm.w : NULL, bw->q_norm.b,
                                r->qk_norm ? bw->k_norm.w : NULL, bw->k_norm.b, r->eps,
                                r->rel_bias ? r->rel_bias + (size_t)l * r->heads * T * T : NULL, r->q8_attn);
        block_linear(r, l, VT_Q8_PROJ, ln, r->ao, bp, bw->proj.b, rows, D, VT_EPILOGUE_NONE);
        vt_residual_layernorm_forward(x, ln, bw->ls1, ln, NULL, NULL, bw->norm2.w, bw->norm2.b, rows, D, r->eps);
        if (r->swiglu) { /* gate | value rows, then silu(gate) * value packed to mlp per row */
            block_linear(r, l, VT_Q8_FC1, r->hid, ln, bp, bw->fc1.b, rows, D, VT_EPILOGUE_NONE);
            vt_swiglu_forward(r->hid, r->hid, rows, r->mlp);
        } else if (r->act != VT_ACT_GELU) { /* bias in the GEMM, quick / tanh GELU after it */
            block_linear(r, l, VT_Q8_FC1, r->hid, ln, bp, bw->fc1.b, rows, D, VT_EPILOGUE_NONE);
            if (r->act == VT_ACT_QUICK_GELU) vt_quick_gelu_forward(r->hid, r->hid, (size_t)rows * r->mlp);
            else vt_gelu_tanh_forward(r->hid, r->hid, (size_t)rows * r->mlp);
        } else {
            block_linear(r, l, VT_Q8_FC1, r->hid, ln, bp, bw->fc1.b, rows, D, VT_EPILOGUE_GELU); /* bias + exact GELU fused */
        }
        block_linear(r, l, VT_Q8_FC2, ln, r->hid, bp, bw->fc2.b, rows, r->mlp, VT_EPILOGUE_NONE);
        const vt_norm_w *next = l + 1 < L ? &blocks[l + 1].norm1 : final;
        if (r->mid_pos && l + 1 < L) { /* residual, + mid position embeddings, then the next norm */
            vt_residual_forward(x, ln, bw->ls2, rows, D);
            const float *mp = r->mid_pos + (size_t)l * T * D;
            for (int b = 0; b < n; b++) {
                float *xb = x + (size_t)b * T * D;
                for (size_t i = 0; i < (size_t)T * D; i++) xb[i] += mp[i];
            }
            vt_layernorm_forward(ln, NULL, NULL, x, next->w, next->b, rows, D, r->eps);
        } else if (next) vt_residual_layernorm_forward(x, ln, bw->ls2, ln, NULL, NULL, next->w, next->b, rows, D, r->eps);
        else vt_residual_forward(x, ln, bw->ls2, rows, D);
        if (r->blocks_out) memcpy(r->blocks_out + (size_t)l * r->n_all * T * D, x, sizeof(float) * (size_t)rows * D);
        if (r->attn_last && r->attn_blocks && l == L - 1)
            memcpy(r->attn_last, att, sizeof(float) * (size_t)n * r->heads * T * T);
    }
    return final != NULL;
}

/* Per-patch class scores (n x C x gh x gw) from the final tokens xn (n x T x D): Segmenter's
 * linear decoder or its mask transformer. */
static void segment_head(vitc_model *m, vt_arena *a, const float *xn, int n, int N, int T, float *seg) {
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    const vt_model_packed *pk = &m->packed;
    int D = c->dim, C = c->num_classes, pre = vt_prefix_tokens(c);
    float *pt = vt_arena_floats(a, (size_t)n * N * seg_width(c)), *sc = vt_arena_floats(a, (size_t)n * N * seg_width(c));
    for (int b = 0; b < n; b++) /* the patch tokens, prefix tokens dropped */
        memcpy(pt + (size_t)b * N * D, xn + ((size_t)b * T + pre) * D, sizeof(float) * (size_t)N * D);
    if (c->seg_decoder == VT_SEG_LINEAR) {
        vt_linear_packed(sc, pt, pk->seg_head, w->seg_head.b, n * N, VT_EPILOGUE_NONE);
    } else {
        int E = c->dec_dim, Td = N + C;
        size_t rd = (size_t)n * Td;
        float *x = vt_arena_floats(a, rd * E), *ln = vt_arena_floats(a, rd * E), *ao = vt_arena_floats(a, rd * E);
        float *qkv = vt_arena_floats(a, rd * 3 * E), *hid = vt_arena_floats(a, rd * 4 * E);
        float *pp = vt_arena_floats(a, (size_t)n * N * E), *cc = vt_arena_floats(a, (size_t)n * C * E);
        float *cp = vt_arena_floats(a, (size_t)n * C * E);
        vt_linear_packed(pp, pt, pk->dec_proj, w->dec_proj.b, n * N, VT_EPILOGUE_NONE);
        for (int b = 0; b < n; b++) { /* [projected patches, class embeddings] */
            memcpy(x + (size_t)b * Td * E, pp + (size_t)b * N * E, sizeof(float) * (size_t)N * E);
            memcpy(x + ((size_t)b * Td + N) * E, w->cls_emb, sizeof(float) * (size_t)C * E);
        }
        block_run br = {.n = n, .T = Td, .D = E, .heads = c->dec_heads, .mlp = 4 * E, .eps = c->ln_eps, .x = x,
                        .ln = ln, .ao = ao, .qkv = qkv, .hid = hid, .n_all = n};
        run_blocks(&br, w->dec_blocks, pk->dec_blocks, c->dec_depth, &w->dec_norm);
        for (int b = 0; b < n; b++) {
            memcpy(pt + (size_t)b * N * E, ln + (size_t)b * Td * E, sizeof(float) * (size_t)N * E);
            memcpy(cc + (size_t)b * C * E, ln + ((size_t)b * Td + N) * E, sizeof(float) * (size_t)C * E);
        }
        vt_linear_packed(pp, pt, pk->proj_patch, NULL, n * N, VT_EPILOGUE_NONE);
        vt_linear_packed(cp, cc, pk->proj_classes, NULL, n * C, VT_EPILOGUE_NONE);
        vt_l2_normalize_rows(pp, n * N, E);
        vt_l2_normalize_rows(cp, n * C, E);
        for (int b = 0; b < n; b++) /* masks = patches . classes^T */
            vt_linear(sc + (size_t)b * N * C, pp + (size_t)b * N * E, cp + (size_t)b * C * E, NULL, N, E, C);
        vt_layernorm_forward(sc, NULL, NULL, sc, w->mask_norm.w, w->mask_norm.b, n * N, C, c->ln_eps);
    }
    for (int b = 0; b < n; b++) /* N x C rows -> C planes of gh x gw */
        for (int p = 0; p < N; p++)
            for (int k = 0; k < C; k++) seg[((size_t)b * C + k) * N + p] = sc[((size_t)b * N + p) * C + k];
}

/* YOLOS' heads on the detection tokens of the final tokens xn: class scores (classes + 1) and
 * sigmoid boxes, each a 3-layer MLP with ReLU between the layers. */
static void detect_head(vitc_model *m, vt_arena *a, const float *xn, int n, int T, float *logits, float *boxes) {
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    const vt_model_packed *pk = &m->packed;
    int D = c->dim, Q = c->det_tokens, rows = n * Q;
    float *dt = vt_arena_floats(a, (size_t)rows * D), *h1 = vt_arena_floats(a, (size_t)rows * D);
    float *h2 = vt_arena_floats(a, (size_t)rows * D);
    for (int b = 0; b < n; b++)
        memcpy(dt + (size_t)b * Q * D, xn + ((size_t)b * T + T - Q) * D, sizeof(float) * (size_t)Q * D);
    for (int head = 0; head < 2; head++) {
        const vt_linear_w *l = head ? w->det_box : w->det_class;
        vt_packed_b *const *p = head ? pk->det_box : pk->det_class;
        vt_linear_packed(h1, dt, p[0], l[0].b, rows, VT_EPILOGUE_NONE);
        for (size_t i = 0; i < (size_t)rows * D; i++) h1[i] = h1[i] > 0.0f ? h1[i] : 0.0f;
        vt_linear_packed(h2, h1, p[1], l[1].b, rows, VT_EPILOGUE_NONE);
        for (size_t i = 0; i < (size_t)rows * D; i++) h2[i] = h2[i] > 0.0f ? h2[i] : 0.0f;
        float *out = head ? boxes : logits;
        if (out) vt_linear_packed(out, h2, p[2], l[2].b, rows, VT_EPILOGUE_NONE);
    }
    if (boxes)
        for (size_t i = 0; i < (size_t)rows * 4; i++) boxes[i] = 1.0f / (1.0f + expf(-boxes[i]));
}

/* The forward pass of images [b0, b0 + n) of a batch of n_all, with activations in arena a
 * (reserved by the caller) and position embeddings pos for this grid; out's arrays are the
 * whole batch's. */
static void forward_images(vitc_model *m, vt_arena *a, const float *pos, const float *mid_pos, const float *images_all,
                           int b0, int n, int n_all, int height, int width, const vt_forward_out *out) {
    const vt_vit_config *c = &m->cfg;
    const vt_vit_weights *w = &m->w;
    const vt_model_packed *pk = &m->packed;
    int gh = height / c->patch, gw = width / c->patch, N = gh * gw, pre = vt_prefix_tokens(c), Q = c->det_tokens;
    int T = N + pre + Q;
    int D = c->dim, K = vt_patch_inputs(c);
    size_t rows = (size_t)n * T;
    const float *images = images_all + (size_t)b0 * c->in_chans * height * width;
    vt_forward_out o = {0};
    if (out) {
        o.logits = out->logits ? out->logits + (size_t)b0 * c->num_classes : NULL;
        o.features = out->features ? out->features + (size_t)b0 * D : NULL;
        o.tokens = out->tokens ? out->tokens + (size_t)b0 * T * D : NULL;
        o.blocks = out->blocks ? out->blocks + (size_t)b0 * T * D : NULL;
        o.attn = out->attn ? out->attn + (size_t)b0 * c->heads * T * T : NULL;
        o.attn_blocks = out->attn_blocks ? out->attn_blocks + (size_t)b0 * c->heads * T * T : NULL;
        o.seg = out->seg ? out->seg + (size_t)b0 * c->num_classes * N : NULL;
        o.det_logits = out->det_logits ? out->det_logits + (size_t)b0 * Q * (c->num_classes + 1) : NULL;
        o.det_boxes = out->det_boxes ? out->det_boxes + (size_t)b0 * Q * 4 : NULL;
        o.embeds = out->embeds ? out->embeds + (size_t)b0 * c->proj_dim : NULL;
        o.cls_mean = out->cls_mean ? out->cls_mean + (size_t)b0 * 2 * D : NULL;
    }
    vt_arena_reset(a);
    float *x = vt_arena_floats(a, rows * D), *ln = vt_arena_floats(a, rows * D);
    float *ao = vt_arena_floats(a, rows * D), *qkv = vt_arena_floats(a, rows * 3 * D);
    float *hid = vt_arena_floats(a, rows * c->mlp_dim), *patches = vt_arena_floats(a, (size_t)n * N * K);
    float *pooled = vt_arena_floats(a, (size_t)n * D), *pooled2 = vt_arena_floats(a, (size_t)n * D);
    float *logits2 = vt_arena_floats(a, (size_t)n * c->num_classes);

    /* patch embedding: a stride-P convolution as a GEMM over unfolded patches */
    vt_patchify(patches, images, n, c->in_chans, height, width, c->patch, vt_patch_kernel(c));
    vt_linear_packed(ln, patches, pk->patch, w->patch.b, n * N, VT_EPILOGUE_NONE);
    if (c->patch_norm) vt_layernorm_forward(ln, NULL, NULL, ln, w->patch_norm.w, w->patch_norm.b, n * N, D, c->ln_eps);

    /* tokens: [cls, dist, registers, patches, detection tokens] + position embeddings */
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
        for (size_t i = 0; i < (size_t)Q * D; i++) xp[(size_t)N * D + i] = w->det_token[i] + pp[(size_t)N * D + i];
    }
    if (c->pre_norm) vt_layernorm_forward(x, NULL, NULL, x, w->norm_pre.w, w->norm_pre.b, (int)rows, D, c->ln_eps);

    const float *xn = x;
    block_run br = {.n = n, .T = T, .D = D, .heads = c->heads, .mlp = c->mlp_dim, .qk_norm = c->qk_norm,
                    .swiglu = c->mlp_swiglu, .act = c->act, .eps = c->ln_eps, .x = x, .ln = ln, .ao = ao, .qkv = qkv, .hid = hid, .attn_last = o.attn,
                    .attn_blocks = o.attn_blocks, .blocks_out = o.blocks, .mid_pos = mid_pos, .n_all = n_all,
                    .calib = m->calibrating ? m->calib : NULL, .failed = &m->q8_failed, .rel_bias = m->rel_bias,
                    .q8_attn = m->int8 && m->int8_attn};
    if (run_blocks(&br, w->blocks, pk->blocks, c->depth, c->fc_norm ? NULL : &w->norm)) xn = ln;
    if (o.tokens) memcpy(o.tokens, xn, sizeof(float) * rows * D);
    if (c->map_head) map_pool(c, w, xn, n, T, qkv, hid, vt_arena_floats(a, (size_t)(2 * n + 1) * D), pooled);
    else pool_tokens(c, xn, pooled, n, T);
    if (c->fc_norm) vt_layernorm_forward(pooled, NULL, NULL, pooled, w->fc_norm.w, w->fc_norm.b, n, D, c->ln_eps);
    if (o.features) memcpy(o.features, pooled, sizeof(float) * (size_t)n * D);
    if (o.embeds && c->proj_dim) /* CLIP: image_embeds = visual_projection(pooled) */
        vt_linear(o.embeds, pooled, w->embed_proj.w, NULL, n, D, c->proj_dim);
    if (o.cls_mean && c->class_token) /* DINOv2's linear-probe feature: [class token, mean patch token] */
        for (int b = 0; b < n; b++) {
            const float *xb = xn + (size_t)b * T * D;
            float *f = o.cls_mean + (size_t)b * 2 * D;
            memcpy(f, xb, sizeof(float) * (size_t)D);
            for (int d = 0; d < D; d++) f[D + d] = 0.0f;
            for (int t = pre; t < T - Q; t++)
                for (int d = 0; d < D; d++) f[D + d] += xb[(size_t)t * D + d];
            for (int d = 0; d < D; d++) f[D + d] /= (float)(T - Q - pre);
        }

    if (o.seg && c->task == VT_TASK_SEGMENT) segment_head(m, a, xn, n, N, T, o.seg);
    if ((o.det_logits || o.det_boxes) && c->task == VT_TASK_DETECT) detect_head(m, a, xn, n, T, o.det_logits, o.det_boxes);
    if (o.logits && vt_has_cls_head(c)) {
        int C = c->num_classes;
        if (c->pool == VITC_POOL_TOKEN && c->dist_token && c->dist_average) {
            /* DeiT distilled: mean of the class-token head and the distillation-token head */
            for (int b = 0; b < n; b++) {
                memcpy(pooled + (size_t)b * D, xn + (size_t)b * T * D, sizeof(float) * (size_t)D);
                memcpy(pooled2 + (size_t)b * D, xn + ((size_t)b * T + 1) * D, sizeof(float) * (size_t)D);
            }
            vt_linear_packed(o.logits, pooled, pk->head, w->head.b, n, VT_EPILOGUE_NONE);
            vt_linear_packed(logits2, pooled2, pk->head_dist, w->head_dist.b, n, VT_EPILOGUE_NONE);
            for (size_t i = 0; i < (size_t)n * C; i++) o.logits[i] = 0.5f * (o.logits[i] + logits2[i]);
        } else {
            vt_linear_packed(o.logits, pooled, pk->head, w->head.b, n, VT_EPILOGUE_NONE);
        }
    }
}

/* Whole images per thread: when the batch has at least as many images as there are threads, each
 * thread runs the forward pass of one image at a time with single-threaded kernels (its own
 * activations, the shared packed weights), taking the next image when done. No thread waits for
 * another inside a layer, and an image's activations stay in that core's cache. Batch 8, 2
 * threads, against splitting every layer between the threads (2026-11-27, Zen 4): ViT-Ti/16
 * 2-8% faster, ViT-S/16 1-4%, ViT-B/16 0-1%. The results are bitwise those of the split path
 * (no kernel's arithmetic depends on the thread count; tests/unit/test_model.c checks). */
typedef struct image_job {
    vitc_model *m;
    const float *images, *pos, *mid_pos;
    int n, n_all, height, width;
    const vt_forward_out *out;
    atomic_int next;
} image_job;

static void image_task(void *ctx, int tid, int nt) {
    (void)nt;
    image_job *j = ctx;
    vt_arena *a = &j->m->img_arenas[tid];
    for (int i; (i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n;)
        forward_images(j->m, a, j->pos, j->mid_pos, j->images, i, 1, j->n_all, j->height, j->width, j->out);
}

static int image_parallel_enabled(void) {
    const char *e = getenv("VITC_IMAGE_PARALLEL");
    return !(e && *e == '0');
}

vitc_status vt_vit_forward(vitc_model *m, const float *images, int n, int height, int width, vt_forward_out *out) {
    const vt_vit_config *c = &m->cfg;
    if (!images || n <= 0) return vt_error(VITC_ERR_ARG, "forward: no input images");
    if (height <= 0 || width <= 0 || height % c->patch || width % c->patch)
        return vt_error(VITC_ERR_SHAPE, "input size %dx%d is not a positive multiple of the patch size %d", height,
                        width, c->patch);
    if (height > 16384 || width > 16384) return vt_error(VITC_ERR_LIMIT, "input size %dx%d too large", height, width);
    vt_set_threads(m->threads);
    int gh = height / c->patch, gw = width / c->patch, N = gh * gw, T = N + vt_prefix_tokens(c) + c->det_tokens;
    if (vt_model_pack(m)) return vt_error(VITC_ERR_NOMEM, "out of memory packing weights");
    const float *pos = vt_model_pos_embed(m, gh, gw), *mid_pos = vt_model_mid_pos_embed(m, gh, gw);
    if (!pos || (m->w.mid_pos_embed && !mid_pos))
        return vt_error(VITC_ERR_NOMEM, "out of memory resampling position embeddings");
    if (vt_model_rel_bias(m, gh, gw)) return vt_error(VITC_ERR_NOMEM, "out of memory for the relative position bias");

    int nt = vt_usable_threads();
    /* whole rounds of images (not while calibrating: the maxima are gathered by one thread) */
    int n_img = nt > 1 && n >= nt && image_parallel_enabled() && !m->calibrating ? n / nt * nt : 0;
    atomic_store(&m->q8_failed, 0);
    if (n_img) {
        if (m->n_img_arenas < nt) {
            vt_arena *na = realloc(m->img_arenas, sizeof(vt_arena) * (size_t)nt);
            if (!na) return vt_error(VITC_ERR_NOMEM, "out of memory for activations");
            memset(na + m->n_img_arenas, 0, sizeof(vt_arena) * (size_t)(nt - m->n_img_arenas));
            m->img_arenas = na;
            m->n_img_arenas = nt;
        }
        for (int t = 0; t < nt; t++)
            if (vt_arena_reserve(&m->img_arenas[t], arena_bytes(c, 1, (size_t)N, (size_t)T)))
                return vt_error(VITC_ERR_NOMEM, "out of memory for activations (%dx%d)", height, width);
    }
    if (n > n_img && vt_arena_reserve(&m->arena, arena_bytes(c, (size_t)(n - n_img), (size_t)N, (size_t)T)))
        return vt_error(VITC_ERR_NOMEM, "out of memory for activations (batch %d, %dx%d)", n - n_img, height, width);
    if (n_img) {
        image_job j = {.m = m, .images = images, .pos = pos, .mid_pos = mid_pos, .n = n_img, .n_all = n, .height = height, .width = width, .out = out};
        atomic_init(&j.next, 0);
        vt_parallel_run(image_task, &j, nt);
    }
    /* the images left over after whole rounds share the threads layer by layer */
    if (n > n_img) forward_images(m, &m->arena, pos, mid_pos, images, n_img, n - n_img, n, height, width, out);
    if (atomic_load(&m->q8_failed)) return vt_error(VITC_ERR_NOMEM, "out of memory for int8 activations");
    return VITC_OK;
}
