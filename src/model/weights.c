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
    ADD3(&w->pos_embed, 1, 1, vt_pos_len(c), D, "pos_embed");
    if (c->pre_norm) add_norm(&t, &w->norm_pre, D, "norm_pre");
    char name[64];
    for (int i = 0; i < c->depth; i++) {
        vt_block_w *b = &w->blocks[i];
        snprintf(name, sizeof name, "blocks.%d.norm1", i);
        add_norm(&t, &b->norm1, D, name);
        snprintf(name, sizeof name, "blocks.%d.attn.qkv", i);
        add_linear(&t, &b->qkv, 3 * D, D, c->qkv_bias, name);
        if (c->qk_norm) {
            snprintf(name, sizeof name, "blocks.%d.attn.q_norm", i);
            add_norm(&t, &b->q_norm, D / c->heads, name);
            snprintf(name, sizeof name, "blocks.%d.attn.k_norm", i);
            add_norm(&t, &b->k_norm, D / c->heads, name);
        }
        snprintf(name, sizeof name, "blocks.%d.attn.proj", i);
        add_linear(&t, &b->proj, D, D, 1, name);
        if (c->layer_scale) ADD1(&b->ls1, 1, D, "blocks.%d.ls1.gamma", i);
        snprintf(name, sizeof name, "blocks.%d.norm2", i);
        add_norm(&t, &b->norm2, D, name);
        snprintf(name, sizeof name, "blocks.%d.mlp.fc1", i);
        add_linear(&t, &b->fc1, c->mlp_dim, D, 1, name);
        snprintf(name, sizeof name, "blocks.%d.mlp.fc2", i);
        add_linear(&t, &b->fc2, D, c->mlp_dim, 1, name);
        if (c->layer_scale) ADD1(&b->ls2, 1, D, "blocks.%d.ls2.gamma", i);
    }
    if (c->fc_norm) add_norm(&t, &w->fc_norm, D, "fc_norm");
    else add_norm(&t, &w->norm, D, "norm");
    if (c->num_classes) {
        add_linear(&t, &w->head, c->num_classes, D, 1, "head");
        if (c->dist_token && c->dist_average) add_linear(&t, &w->head_dist, c->num_classes, D, 1, "head_dist");
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
    w->blocks = calloc((size_t)(c->depth > 0 ? c->depth : 1), sizeof *w->blocks);
    if (!w->blocks) return NULL;
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

void vt_weights_free_blocks(vt_vit_weights *w) {
    free(w->blocks);
    w->blocks = NULL;
}
