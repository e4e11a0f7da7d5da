#include "model/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct table_builder {
    vt_param *p;
    int n, cap;
} table_builder;

static void add(table_builder *t, float **slot, int no_decay, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        vt_param *p = realloc(t->p, sizeof *p * (size_t)cap);
        if (!p) {
            t->cap = -1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    if (t->cap < 0) return;
    vt_param *q = &t->p[t->n++];
    memset(q, 0, sizeof *q);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->name, sizeof q->name, fmt, ap);
    va_end(ap);
    q->ndim = ndim;
    q->numel = 1;
    for (int i = 0; i < ndim; i++) {
        q->shape[i] = shape[i];
        q->numel *= shape[i];
    }
    q->slot = slot;
    q->no_decay = no_decay;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define ADD1(slot, nd, n0, ...) add(&t, slot, nd, 1, SHAPE(n0), __VA_ARGS__)
#define ADD2(slot, nd, n0, n1, ...) add(&t, slot, nd, 2, SHAPE(n0, n1), __VA_ARGS__)
#define ADD3(slot, nd, n0, n1, n2, ...) add(&t, slot, nd, 3, SHAPE(n0, n1, n2), __VA_ARGS__)

static void add_norm(table_builder *tb, vt_norm_w *n, int64_t d, const char *name) {
    add(tb, &n->w, 1, 1, SHAPE(d), "%s.weight", name);
    add(tb, &n->b, 1, 1, SHAPE(d), "%s.bias", name);
}

static void add_linear(table_builder *tb, vt_linear_w *l, int64_t out, int64_t in, int bias, const char *name) {
    add(tb, &l->w, 0, 2, SHAPE(out, in), "%s.weight", name);
    if (bias) add(tb, &l->b, 1, 1, SHAPE(out), "%s.bias", name);
}

/* A pre-norm transformer block's parameters under prefix.i (timm's names). */
static void add_block(table_builder *t, vt_block_w *b, const char *prefix, int i, int64_t D, int64_t mlp,
                      int64_t fc1_rows, int heads, int qkv_bias, int qk_norm, int layer_scale, int64_t rel_rows) {
    char name[96];
    snprintf(name, sizeof name, "%s.%d.norm1", prefix, i);
    add_norm(t, &b->norm1, D, name);
    snprintf(name, sizeof name, "%s.%d.attn.qkv", prefix, i);
    add_linear(t, &b->qkv, 3 * D, D, qkv_bias, name);
    if (rel_rows)
        add(t, &b->rel_bias, 1, 2, SHAPE(rel_rows, heads), "%s.%d.attn.relative_position_bias_table", prefix, i);
    if (qk_norm) {
        snprintf(name, sizeof name, "%s.%d.attn.q_norm", prefix, i);
        add_norm(t, &b->q_norm, D / heads, name);
        snprintf(name, sizeof name, "%s.%d.attn.k_norm", prefix, i);
        add_norm(t, &b->k_norm, D / heads, name);
    }
    snprintf(name, sizeof name, "%s.%d.attn.proj", prefix, i);
    add_linear(t, &b->proj, D, D, 1, name);
    if (layer_scale) add(t, &b->ls1, 1, 1, SHAPE(D), "%s.%d.ls1.gamma", prefix, i);
    snprintf(name, sizeof name, "%s.%d.norm2", prefix, i);
    add_norm(t, &b->norm2, D, name);
    snprintf(name, sizeof name, "%s.%d.mlp.fc1", prefix, i);
    add_linear(t, &b->fc1, fc1_rows, D, 1, name);
    snprintf(name, sizeof name, "%s.%d.mlp.fc2", prefix, i);
    add_linear(t, &b->fc2, D, mlp, 1, name);
    if (layer_scale) add(t, &b->ls2, 1, 1, SHAPE(D), "%s.%d.ls2.gamma", prefix, i);
}

int vt_param_table(const vt_vit_config *c, vt_vit_weights *w, vt_param **out) {
    table_builder t = {0};
    int64_t D = c->dim, k = vt_patch_kernel(c);
    /* the conv weight (D, C, k, k) is used as a D x (C*k*k) matrix */
    add(&t, &w->patch.w, 0, 4, SHAPE(D, c->in_chans, k, k), "patch_embed.proj.weight");
    if (c->patch_bias) ADD1(&w->patch.b, 1, D, "patch_embed.proj.bias");
    if (c->patch_norm) add_norm(&t, &w->patch_norm, D, "patch_embed.norm");
    if (c->class_token) ADD3(&w->cls_token, 1, 1, 1, D, "cls_token");
    if (c->reg_tokens) ADD3(&w->reg_token, 1, 1, c->reg_tokens, D, "reg_token");
    if (c->dist_token) ADD3(&w->dist_token, 1, 1, 1, D, "dist_token");
    if (c->task == VT_TASK_DETECT) ADD3(&w->det_token, 1, 1, c->det_tokens, D, "det_token");
    ADD3(&w->pos_embed, 1, 1, vt_pos_len(c), D, "pos_embed");
    if (c->pre_norm) add_norm(&t, &w->norm_pre, D, "norm_pre");
    for (int i = 0; i < c->depth; i++)
        add_block(&t, &w->blocks[i], "blocks", i, D, c->mlp_dim, vt_fc1_rows(c), c->heads, c->qkv_bias, c->qk_norm,
                  c->layer_scale, c->rel_pos_bias ? vt_rel_pos_rows(vt_pos_grid_h(c), vt_pos_grid_w(c)) : 0);
    if (c->task == VT_TASK_DETECT && c->mid_pos && c->depth > 1)
        add(&t, &w->mid_pos_embed, 1, 4, SHAPE(c->depth - 1, 1, vt_pos_len(c), D), "mid_pos_embed");
    if (c->fc_norm) add_norm(&t, &w->fc_norm, D, "fc_norm");
    else add_norm(&t, &w->norm, D, "norm");
    if (vt_has_cls_head(c)) {
        add_linear(&t, &w->head, c->num_classes, D, 1, "head");
        if (c->dist_token && c->dist_average) add_linear(&t, &w->head_dist, c->num_classes, D, 1, "head_dist");
    }
    if (c->proj_dim) add_linear(&t, &w->embed_proj, c->proj_dim, D, 0, "embed_proj");
    if (c->map_head) {
        ADD3(&w->map_probe, 1, 1, 1, D, "map_head.probe");
        ADD2(&w->map_in.w, 0, 3 * D, D, "map_head.attention.in_proj_weight");
        ADD1(&w->map_in.b, 1, 3 * D, "map_head.attention.in_proj_bias");
        add_linear(&t, &w->map_out, D, D, 1, "map_head.attention.out_proj");
        add_norm(&t, &w->map_norm, D, "map_head.layernorm");
        add_linear(&t, &w->map_fc1, c->mlp_dim, D, 1, "map_head.mlp.fc1");
        add_linear(&t, &w->map_fc2, D, c->mlp_dim, 1, "map_head.mlp.fc2");
    }
    if (c->task == VT_TASK_SEGMENT && c->seg_decoder == VT_SEG_LINEAR)
        add_linear(&t, &w->seg_head, c->num_classes, D, 1, "decoder.head");
    if (c->task == VT_TASK_SEGMENT && c->seg_decoder == VT_SEG_MASK) {
        int64_t E = c->dec_dim, C = c->num_classes;
        add_linear(&t, &w->dec_proj, E, D, 1, "decoder.proj_dec");
        ADD3(&w->cls_emb, 1, 1, C, E, "decoder.cls_emb");
        for (int i = 0; i < c->dec_depth; i++)
            add_block(&t, &w->dec_blocks[i], "decoder.blocks", i, E, 4 * E, 4 * E, c->dec_heads, 1, 0, 0, 0);
        add_norm(&t, &w->dec_norm, E, "decoder.decoder_norm");
        add_linear(&t, &w->proj_patch, E, E, 0, "decoder.proj_patch");
        add_linear(&t, &w->proj_classes, E, E, 0, "decoder.proj_classes");
        add_norm(&t, &w->mask_norm, C, "decoder.mask_norm");
    }
    if (c->task == VT_TASK_DETECT) {
        char name[64];
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "det_head.class.%d", i);
            add_linear(&t, &w->det_class[i], i == 2 ? c->num_classes + 1 : D, D, 1, name);
        }
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "det_head.box.%d", i);
            add_linear(&t, &w->det_box[i], i == 2 ? 4 : D, D, 1, name);
        }
    }
    if (t.cap < 0) {
        free(t.p);
        *out = NULL;
        return -1;
    }
    *out = t.p;
    return t.n;
}

float *vt_weights_alloc(const vt_vit_config *c, vt_vit_weights *w, int64_t *numel) {
    memset(w, 0, sizeof *w);
    if (vt_weights_alloc_blocks(c, w)) return NULL;
    vt_param *p;
    int n = vt_param_table(c, w, &p);
    if (n < 0) return NULL;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += (p[i].numel + 15) & ~(int64_t)15; /* 64-byte aligned slices */
    float *buf = aligned_alloc(64, sizeof(float) * (size_t)(total ? total : 16));
    if (buf) {
        memset(buf, 0, sizeof(float) * (size_t)total);
        int64_t off = 0;
        for (int i = 0; i < n; i++) {
            *p[i].slot = buf + off;
            off += (p[i].numel + 15) & ~(int64_t)15;
        }
    }
    free(p);
    if (numel) *numel = total;
    return buf;
}

int vt_weights_alloc_blocks(const vt_vit_config *c, vt_vit_weights *w) {
    w->blocks = calloc((size_t)(c->depth > 0 ? c->depth : 1), sizeof *w->blocks);
    w->dec_blocks = calloc((size_t)(c->dec_depth > 0 ? c->dec_depth : 1), sizeof *w->dec_blocks);
    if (w->blocks && w->dec_blocks) return 0;
    vt_weights_free_blocks(w);
    return -1;
}

void vt_weights_free_blocks(vt_vit_weights *w) {
    free(w->blocks);
    free(w->dec_blocks);
    w->blocks = NULL;
    w->dec_blocks = NULL;
}
