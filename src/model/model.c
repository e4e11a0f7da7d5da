/* Public model API: lifetime, description, classification and embeddings. */
#include "model/model.h"
#include "core/error.h"
#include "image/resample.h"
#include "kernels/kernels.h"
#include "model/layers.h"

#include <math.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

vitc_load_params vitc_load_default_params(void) {
    vitc_load_params p = {0};
    return p;
}

vitc_status vt_model_new(const vt_vit_config *cfg, vitc_model **out) {
    *out = NULL;
    vitc_status s = vt_config_validate(cfg, "model");
    if (s) return s;
    vitc_model *m = calloc(1, sizeof *m);
    if (!m) return vt_error(VITC_ERR_NOMEM, "out of memory creating a model");
    m->cfg = *cfg;
    m->param_buf = vt_weights_alloc(cfg, &m->w, NULL);
    if (!m->param_buf) {
        vitc_model_free(m);
        return vt_error(VITC_ERR_NOMEM, "out of memory for model parameters");
    }
    snprintf(m->source, sizeof m->source, "vitc");
    m->pre = vitc_preprocess_default_params();
    m->pre.size = cfg->img_size;
    *out = m;
    return VITC_OK;
}

/* Once a weight is packed, inference reads only the packed copy: the pages of the checkpoint
 * mapping it came from (if it did) are dropped right away, so packing never holds the whole
 * checkpoint twice (the mapping is read-only; touched again, the pages are re-read from the file). */
static void drop_source_bytes(const vitc_model *m, const void *p, size_t bytes) {
    if (!m->st || !p || !bytes) return;
    const char *base = m->st->map.data, *lo = (const char *)p, *hi = lo + bytes;
    if (!base || lo < base || hi > base + m->st->map.size) return;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)lo + pg - 1) / pg * pg, b = (uintptr_t)hi / pg * pg; /* whole pages inside */
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}
static void drop_source(const vitc_model *m, const float *p, size_t n) { drop_source_bytes(m, p, n * sizeof(float)); }

static vt_packed_b *pack_weight(const vitc_model *m, const float *W, int N, int K) {
    vt_packed_b *pb = vt_pack_b(W, N, K);
    if (pb) drop_source(m, W, (size_t)N * K);
    return pb;
}

static vt_bf16_linear_w *pack_weight16(const vitc_model *m, const float *W, int N, int K) {
    vt_bf16_linear_w *pb = vt_bf16_linear_pack(W, N, K);
    if (pb) drop_source(m, W, (size_t)N * K);
    return pb;
}

vitc_status vitc_model_set_bf16(vitc_model *m, int on) {
    if (on && !vt_bf16_supported())
        return vt_error(VITC_ERR_UNSUPPORTED, "bfloat16 inference needs a CPU with AVX512-BF16 and the AVX-512 kernels");
    if (on && m->int8) return vt_error(VITC_ERR_ARG, "int8 and bfloat16 inference cannot be combined");
    if ((on != 0) != m->bf16) {
        m->bf16 = on != 0;
        vt_model_weights_changed(m); /* packed again, the other way, on first use */
    }
    return VITC_OK;
}

vitc_status vitc_model_set_int8(vitc_model *m, int on) {
    if (!on && m->q8src)
        return vt_error(VITC_ERR_UNSUPPORTED, "this model was loaded from a quantized file: it has no float block weights");
    if (on && m->bf16) return vt_error(VITC_ERR_ARG, "int8 and bfloat16 inference cannot be combined");
    if (m->q8src) return VITC_OK;
    if ((on != 0) != (m->int8 != 0)) {
        m->int8 = on != 0;
        vt_model_weights_changed(m);
    }
    if (!on) m->int8_attn = 0;
    return VITC_OK;
}

int vitc_model_int8(const vitc_model *m) { return m->int8; }

vitc_status vitc_model_set_int8_attention(vitc_model *m, int on) {
    if (on && !m->int8) return vt_error(VITC_ERR_ARG, "int8 attention needs an int8 model (--int8, or a quantized file)");
    m->int8_attn = on != 0;
    return VITC_OK;
}

int vitc_model_int8_attention(const vitc_model *m) { return m->int8 && m->int8_attn; }

/* The blocks' Linear layers in int8: from a quantized file's tensors, or quantized from the float ones. */
static int pack_blocks_q8(const vitc_model *m, vt_block_packed *q) {
    const vt_vit_config *c = &m->cfg;
    int D = c->dim;
    for (int l = 0; l < c->depth; l++) {
        const vt_block_w *b = &m->w.blocks[l];
        const float *W[4] = {b->qkv.w, b->proj.w, b->fc1.w, b->fc2.w};
        int N[4] = {3 * D, D, vt_fc1_rows(c), D}, K[4] = {D, D, D, c->mlp_dim};
        for (int j = 0; j < 4; j++) {
            const vt_q8_src *src = m->q8src ? &m->q8src[l * 4 + j] : NULL;
            vt_q8_linear_w *w = src ? vt_q8_linear_from_q(src->q, src->scale, N[j], K[j]) : vt_q8_linear_quantize(W[j], N[j], K[j]);
            if (!w) return 1;
            if (src) {
                w->in_scale = src->in_scale;
                drop_source_bytes(m, src->q, (size_t)N[j] * K[j]);
            } else {
                drop_source(m, W[j], (size_t)N[j] * K[j]);
            }
            q[l].q8[j] = w;
        }
    }
    return 0;
}

/* The float blocks of a stack (decoder blocks stay float in bf16 mode). */
static int pack_blocks_f32(const vitc_model *m, const vt_block_w *blocks, vt_block_packed *q, int L, int D, int mlp,
                           int fc1_rows) {
    int bad = 0;
    for (int l = 0; l < L && !bad; l++) {
        bad |= !(q[l].qkv = pack_weight(m, blocks[l].qkv.w, 3 * D, D));
        bad |= !(q[l].proj = pack_weight(m, blocks[l].proj.w, D, D));
        bad |= !(q[l].fc1 = pack_weight(m, blocks[l].fc1.w, fc1_rows, D));
        bad |= !(q[l].fc2 = pack_weight(m, blocks[l].fc2.w, D, mlp));
    }
    return bad;
}

static int pack_decoder(vitc_model *m) {
    const vt_vit_config *c = &m->cfg;
    vt_model_packed *p = &m->packed;
    int D = c->dim, C = c->num_classes, E = c->dec_dim;
    if (c->seg_decoder == VT_SEG_LINEAR) return !(p->seg_head = pack_weight(m, m->w.seg_head.w, C, D));
    int bad = !(p->dec_blocks = calloc((size_t)(c->dec_depth ? c->dec_depth : 1), sizeof *p->dec_blocks));
    bad = bad || !(p->dec_proj = pack_weight(m, m->w.dec_proj.w, E, D));
    bad = bad || !(p->proj_patch = pack_weight(m, m->w.proj_patch.w, E, E));
    bad = bad || !(p->proj_classes = pack_weight(m, m->w.proj_classes.w, E, E));
    return bad || pack_blocks_f32(m, m->w.dec_blocks, p->dec_blocks, c->dec_depth, E, 4 * E, 4 * E);
}

static void free_blocks_packed(vt_block_packed *b, int L) {
    for (int l = 0; b && l < L; l++) {
        vt_packed_b_free(b[l].qkv);
        vt_packed_b_free(b[l].proj);
        vt_packed_b_free(b[l].fc1);
        vt_packed_b_free(b[l].fc2);
        vt_bf16_linear_free(b[l].qkv16);
        vt_bf16_linear_free(b[l].proj16);
        vt_bf16_linear_free(b[l].fc116);
        vt_bf16_linear_free(b[l].fc216);
        for (int j = 0; j < 4; j++) vt_q8_linear_free(b[l].q8[j]);
    }
    free(b);
}

int vt_model_pack(vitc_model *m) {
    if (m->is_packed) return 0;
    const vt_vit_config *c = &m->cfg;
    vt_model_packed *p = &m->packed;
    int D = c->dim, K = vt_patch_inputs(c), bad = 0;
    p->blocks = calloc((size_t)(c->depth ? c->depth : 1), sizeof *p->blocks);
    bad |= !p->blocks;
    bad |= !(p->patch = pack_weight(m, m->w.patch.w, D, K));
    if (!bad && m->int8) bad |= pack_blocks_q8(m, p->blocks);
    else if (!bad && !m->bf16) bad |= pack_blocks_f32(m, m->w.blocks, p->blocks, c->depth, D, c->mlp_dim, vt_fc1_rows(c));
    for (int l = 0; l < c->depth && !bad && m->bf16; l++) {
        const vt_block_w *b = &m->w.blocks[l];
        vt_block_packed *q = &p->blocks[l];
        bad |= !(q->qkv16 = pack_weight16(m, b->qkv.w, 3 * D, D));
        bad |= !(q->proj16 = pack_weight16(m, b->proj.w, D, D));
        bad |= !(q->fc116 = pack_weight16(m, b->fc1.w, vt_fc1_rows(c), D));
        bad |= !(q->fc216 = pack_weight16(m, b->fc2.w, D, c->mlp_dim));
    }
    if (!bad && vt_has_cls_head(c)) {
        bad |= !(p->head = pack_weight(m, m->w.head.w, c->num_classes, D));
        if (m->w.head_dist.w) bad |= !(p->head_dist = pack_weight(m, m->w.head_dist.w, c->num_classes, D));
    }
    if (!bad && c->task == VT_TASK_SEGMENT) bad |= pack_decoder(m);
    for (int i = 0; i < 3 && !bad && c->task == VT_TASK_DETECT; i++) {
        int out_c = i == 2 ? c->num_classes + 1 : D, out_b = i == 2 ? 4 : D;
        bad |= !(p->det_class[i] = pack_weight(m, m->w.det_class[i].w, out_c, D));
        bad |= !(p->det_box[i] = pack_weight(m, m->w.det_box[i].w, out_b, D));
    }
    m->is_packed = 1;
    if (bad) {
        vt_model_weights_changed(m);
        return -1;
    }
    return 0;
}

void vt_model_weights_changed(vitc_model *m) {
    vt_model_packed *p = &m->packed;
    free_blocks_packed(p->blocks, m->cfg.depth);
    free_blocks_packed(p->dec_blocks, m->cfg.dec_depth);
    vt_packed_b_free(p->patch);
    vt_packed_b_free(p->head);
    vt_packed_b_free(p->head_dist);
    vt_packed_b_free(p->seg_head);
    vt_packed_b_free(p->dec_proj);
    vt_packed_b_free(p->proj_patch);
    vt_packed_b_free(p->proj_classes);
    for (int i = 0; i < 3; i++) {
        vt_packed_b_free(p->det_class[i]);
        vt_packed_b_free(p->det_box[i]);
    }
    memset(p, 0, sizeof *p);
    m->is_packed = 0;
    free(m->pos_cache);
    m->pos_cache = NULL;
    m->pos_gh = m->pos_gw = 0;
    free(m->rel_bias);
    m->rel_bias = NULL;
    m->rel_gh = m->rel_gw = 0;
}

void vitc_model_free(vitc_model *m) {
    if (!m) return;
    vt_model_weights_changed(m);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_labels; i++) free(m->labels[i]);
    free(m->labels);
    free(m->param_buf);
    free(m->pos_cache);
    free(m->q8src);
    free(m->calib);
    vt_weights_free_blocks(&m->w);
    vt_arena_free(&m->arena);
    for (int i = 0; i < m->n_img_arenas; i++) vt_arena_free(&m->img_arenas[i]);
    free(m->img_arenas);
    if (m->st) vt_st_close(m->st);
    free(m);
}

/* One table of position embeddings resampled to a gh x gw grid: the prefix rows and the detection
 * tokens' rows kept, the grid part resampled as a D-channel image (timm's antialiased bicubic, or
 * torch's plain bicubic for HF YOLOS). Returns 0, or -1 out of memory. */
static int resample_pos_table(const vt_vit_config *c, const float *pos, int gh, int gw, float *out) {
    int D = c->dim, keep = c->no_embed_class ? 0 : vt_prefix_tokens(c), g0h = vt_pos_grid_h(c), g0w = vt_pos_grid_w(c);
    size_t n_old = (size_t)g0h * g0w, n_new = (size_t)gh * gw;
    float *src = malloc(sizeof(float) * n_old * D), *dst = malloc(sizeof(float) * n_new * D);
    if (!src || !dst) {
        free(src), free(dst);
        return -1;
    }
    const float *grid = pos + (size_t)keep * D;
    for (size_t p = 0; p < n_old; p++)
        for (int d = 0; d < D; d++) src[(size_t)d * n_old + p] = grid[p * D + d];
    vitc_status s = c->pos_interp == VT_POS_TORCH ? vt_resample_f32_torch_bicubic(src, D, g0h, g0w, dst, gh, gw)
                                                  : vt_resample_f32(src, D, g0h, g0w, dst, gh, gw, VITC_INTERP_BICUBIC);
    if (s == VITC_OK) {
        memcpy(out, pos, sizeof(float) * (size_t)keep * D);
        for (size_t p = 0; p < n_new; p++)
            for (int d = 0; d < D; d++) out[((size_t)keep + p) * D + d] = dst[(size_t)d * n_new + p];
        memcpy(out + ((size_t)keep + n_new) * D, grid + n_old * D, sizeof(float) * (size_t)c->det_tokens * D);
    }
    free(src);
    free(dst);
    return s == VITC_OK ? 0 : -1;
}

/* Rows of one position table for a gh x gw grid: [prefix (unless no_embed_class), grid, detection]. */
static size_t pos_rows(const vt_vit_config *c, int gh, int gw) {
    return (size_t)(c->no_embed_class ? 0 : vt_prefix_tokens(c)) + (size_t)gh * gw + (size_t)c->det_tokens;
}

/* Resamples the position embeddings (and YOLOS' mid position embeddings after them) for gh x gw
 * into m->pos_cache. */
static int fill_pos_cache(vitc_model *m, int gh, int gw) {
    const vt_vit_config *c = &m->cfg;
    if (m->pos_cache && m->pos_gh == gh && m->pos_gw == gw) return 0;
    int D = c->dim, mids = m->w.mid_pos_embed ? c->depth - 1 : 0;
    size_t len = pos_rows(c, gh, gw), len0 = (size_t)vt_pos_len(c);
    float *cache = malloc(sizeof(float) * len * D * (size_t)(1 + mids));
    int bad = !cache || resample_pos_table(c, m->w.pos_embed, gh, gw, cache);
    for (int l = 0; l < mids && !bad; l++)
        bad = resample_pos_table(c, m->w.mid_pos_embed + (size_t)l * len0 * D, gh, gw, cache + (size_t)(1 + l) * len * D);
    if (bad) {
        free(cache);
        return -1;
    }
    free(m->pos_cache);
    m->pos_cache = cache;
    m->pos_gh = gh;
    m->pos_gw = gw;
    return 0;
}

/* BEiT's relative position index of query token i and key token j (token 0 the class token) on a
 * gh x gw grid: (dy + gh - 1) (2 gw - 1) + (dx + gw - 1) between patches, then the table's last three
 * rows for class -> patch, patch -> class and class -> class. */
static int rel_index(int i, int j, int gh, int gw) {
    int R = vt_rel_pos_rows(gh, gw);
    if (i == 0) return j == 0 ? R - 1 : R - 3;
    if (j == 0) return R - 2;
    int yi = (i - 1) / gw, xi = (i - 1) % gw, yj = (j - 1) / gw, xj = (j - 1) % gw;
    return (yi - yj + gh - 1) * (2 * gw - 1) + (xi - xj + gw - 1);
}

/* One block's bias (heads x T x T) on a gh x gw grid from a table for that grid. */
static void rel_bias_expand_grid(const float *table, int gh, int gw, int H, float *out) {
    int T = gh * gw + 1;
    size_t plane = (size_t)T * T;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            const float *row = table + (size_t)rel_index(i, j, gh, gw) * H;
            for (int h = 0; h < H; h++) out[(size_t)h * plane + (size_t)i * T + j] = row[h];
        }
}

void vt_rel_bias_expand(const vt_vit_config *c, const float *table, float *out) {
    rel_bias_expand_grid(table, vt_pos_grid_h(c), vt_pos_grid_w(c), c->heads, out);
}

void vt_rel_bias_grad(const vt_vit_config *c, const float *dfull, float *dtable) {
    int gh = vt_pos_grid_h(c), gw = vt_pos_grid_w(c), T = gh * gw + 1, H = c->heads;
    size_t plane = (size_t)T * T;
    for (int i = 0; i < T; i++) /* a fixed order: every table row sums its pairs row by row */
        for (int j = 0; j < T; j++) {
            float *row = dtable + (size_t)rel_index(i, j, gh, gw) * H;
            for (int h = 0; h < H; h++) row[h] += dfull[(size_t)h * plane + (size_t)i * T + j];
        }
}

/* timm's sample positions of a trained table's src = 2 g0 - 1 offsets along one axis, for dst = 2 g - 1
 * new ones: 0, then +-1, +-(1 + q), +-(1 + q + q^2), ... with q in [1.01, 1.5] bisected (in doubles, to
 * 1e-6, the last midpoint kept, as timm does) so that the sum of the src / 2 terms reaches dst / 2;
 * the positions then become float32 (torch.tensor of the list). */
static void timm_rel_positions(int src, int dst, double *pos) {
    double left = 1.01, right = 1.5, q = 1.25;
    int n = src / 2;
    while (right - left > 1e-6) {
        q = (left + right) / 2.0;
        double gp = (1.0 - pow(q, n)) / (1.0 - q);
        if (gp > dst / 2) right = q;
        else left = q;
    }
    double cur = 1.0;
    pos[n] = 0.0;
    for (int i = 0; i < n; i++) {
        pos[n + 1 + i] = (double)(float)cur;
        pos[n - 1 - i] = -(double)(float)cur;
        cur += pow(q, i + 1);
    }
}

/* timm's RegularGridInterpolator along one axis: the bracketing points of x (the first point >= x on
 * the right, clamped to the ends) and their distances, both set to 1 when both are 0. */
static void grid_bracket(const double *p, int m, double x, int *l, int *r, double *dl, double *dr) {
    int i = 0;
    while (i < m && p[i] < x) i++;
    if (i >= m) i = m - 1;
    *r = i;
    *l = i - 1 < 0 ? 0 : i - 1;
    *dl = x - p[*l], *dr = p[*r] - x;
    if (*dl < 0) *dl = 0;
    if (*dr < 0) *dr = 0;
    if (*dl == 0 && *dr == 0) *dl = *dr = 1;
}

int vt_rel_table_resample(const vt_vit_config *c, const float *table, int gh, int gw, float *out) {
    int H = c->heads, g0h = vt_pos_grid_h(c), g0w = vt_pos_grid_w(c);
    int sh = 2 * g0h - 1, sw = 2 * g0w - 1, dh = 2 * gh - 1, dw = 2 * gw - 1;
    size_t n_old = (size_t)sh * sw, n_new = (size_t)dh * dw;
    if (c->pos_interp == VT_POS_TORCH) {
        /* HF views the offsets as (2 g0w - 1) rows of (2 g0h - 1): the same for the square grids of its configs */
        float *src = malloc(sizeof(float) * n_old * H), *dst = malloc(sizeof(float) * n_new * H);
        if (!src || !dst) {
            free(src), free(dst);
            return -1;
        }
        for (size_t r = 0; r < n_old; r++)
            for (int h = 0; h < H; h++) src[(size_t)h * n_old + r] = table[r * H + h];
        vt_bilinear_planes(dst, src, H, sw, sh, dh, dw, (double)sw / dh, 0.0, (double)sh / dw, 0.0);
        for (size_t r = 0; r < n_new; r++)
            for (int h = 0; h < H; h++) out[r * H + h] = dst[(size_t)h * n_new + r];
        free(src), free(dst);
    } else {
        double *py = malloc(sizeof(double) * (size_t)sh), *px = malloc(sizeof(double) * (size_t)sw);
        if (!py || !px) {
            free(py), free(px);
            return -1;
        }
        timm_rel_positions(sh, dh, py);
        timm_rel_positions(sw, dw, px);
        for (int y = 0; y < dh; y++) {
            int y0, y1, x0, x1;
            double ay, by, ax, bx;
            grid_bracket(py, sh, (double)(y - dh / 2), &y0, &y1, &ay, &by);
            for (int x = 0; x < dw; x++) {
                grid_bracket(px, sw, (double)(x - dw / 2), &x0, &x1, &ax, &bx);
                const float *v00 = table + ((size_t)y0 * sw + x0) * H, *v01 = table + ((size_t)y0 * sw + x1) * H;
                const float *v10 = table + ((size_t)y1 * sw + x0) * H, *v11 = table + ((size_t)y1 * sw + x1) * H;
                float *o = out + ((size_t)y * dw + x) * H;
                for (int h = 0; h < H; h++) /* each end weighted by the distance to the other */
                    o[h] = (float)((v00[h] * by * bx + v01[h] * by * ax + v10[h] * ay * bx + v11[h] * ay * ax) /
                                   ((ay + by) * (ax + bx)));
            }
        }
        free(py), free(px);
    }
    memcpy(out + n_new * H, table + n_old * H, sizeof(float) * 3 * (size_t)H); /* class-token rows */
    return 0;
}

int vt_model_rel_bias(vitc_model *m, int gh, int gw) {
    const vt_vit_config *c = &m->cfg;
    if (!c->rel_pos_bias || (m->rel_bias && m->rel_gh == gh && m->rel_gw == gw)) return 0;
    int T = gh * gw + 1, H = c->heads, trained = gh == vt_pos_grid_h(c) && gw == vt_pos_grid_w(c);
    size_t plane = (size_t)T * T;
    float *b = malloc(sizeof(float) * plane * (size_t)H * (size_t)(c->depth > 0 ? c->depth : 1));
    float *tab = trained ? NULL : malloc(sizeof(float) * (size_t)vt_rel_pos_rows(gh, gw) * H);
    if (!b || (!trained && !tab)) {
        free(b), free(tab);
        return -1;
    }
    for (int l = 0; l < c->depth; l++) {
        const float *t = m->w.blocks[l].rel_bias;
        if (!trained && vt_rel_table_resample(c, t, gh, gw, tab)) {
            free(b), free(tab);
            return -1;
        }
        rel_bias_expand_grid(trained ? t : tab, gh, gw, H, b + (size_t)l * H * plane);
    }
    free(tab);
    free(m->rel_bias);
    m->rel_bias = b;
    m->rel_gh = gh, m->rel_gw = gw;
    return 0;
}

const float *vt_model_pos_embed(vitc_model *m, int gh, int gw) {
    const vt_vit_config *c = &m->cfg;
    if (gh == vt_pos_grid_h(c) && gw == vt_pos_grid_w(c)) return m->w.pos_embed;
    return fill_pos_cache(m, gh, gw) ? NULL : m->pos_cache;
}

const float *vt_model_mid_pos_embed(vitc_model *m, int gh, int gw) {
    const vt_vit_config *c = &m->cfg;
    if (!m->w.mid_pos_embed) return NULL;
    if (gh == vt_pos_grid_h(c) && gw == vt_pos_grid_w(c)) return m->w.mid_pos_embed;
    if (fill_pos_cache(m, gh, gw)) return NULL;
    return m->pos_cache + pos_rows(c, gh, gw) * c->dim;
}

void vitc_model_get_info(const vitc_model *m, vitc_model_info *o) {
    const vt_vit_config *c = &m->cfg;
    memset(o, 0, sizeof *o);
    o->name = c->name;
    o->source = m->source;
    o->dim = c->dim;
    o->depth = c->depth;
    o->heads = c->heads;
    o->mlp_dim = c->mlp_dim;
    o->patch_size = c->patch;
    o->patch_kernel = vt_patch_kernel(c);
    o->image_size = c->img_size;
    o->in_chans = c->in_chans;
    o->num_classes = c->num_classes;
    o->class_token = c->class_token;
    o->dist_token = c->dist_token;
    o->reg_tokens = c->reg_tokens;
    o->num_prefix_tokens = vt_prefix_tokens(c);
    o->no_embed_class = c->no_embed_class;
    o->pre_norm = c->pre_norm;
    o->qkv_bias = c->qkv_bias;
    o->qk_norm = c->qk_norm;
    o->layer_scale = c->layer_scale;
    o->fc_norm = c->fc_norm;
    o->pool = c->pool;
    o->ln_eps = c->ln_eps;
    o->num_params = vt_config_num_params(c);
    o->flops = vt_config_flops(c, c->img_size, c->img_size);
    o->has_labels = m->labels != NULL;
    o->preprocess = m->pre;
    o->task = vt_task_name(c->task);
    if (c->task == VT_TASK_SEGMENT) {
        o->decoder = c->seg_decoder == VT_SEG_MASK ? "mask" : "linear";
        o->dec_dim = c->dec_dim, o->dec_depth = c->dec_depth, o->dec_heads = c->dec_heads;
    }
    o->det_tokens = c->det_tokens;
    o->mid_pos = c->mid_pos;
}

int vt_model_labels_agree(const vitc_model *a, const vitc_model *b) {
    if (!a->labels || !b->labels) return 1;
    if (a->n_labels != b->n_labels) return 0;
    for (int k = 0; k < a->n_labels; k++)
        if (!a->labels[k] != !b->labels[k] || (a->labels[k] && strcmp(a->labels[k], b->labels[k]))) return 0;
    return 1;
}

const char *vitc_model_label(const vitc_model *m, int i) {
    if (!m->labels || i < 0 || i >= m->n_labels) return NULL;
    return m->labels[i];
}

double vitc_model_flops(const vitc_model *m, int height, int width) {
    return vt_config_flops(&m->cfg, height, width);
}

void vitc_model_set_threads(vitc_model *m, int threads) { m->threads = threads > 0 ? threads : 0; }

vitc_status vitc_model_classify(vitc_model *m, const float *images, int n, int height, int width, float *logits) {
    if (!m || !logits) return vt_error(VITC_ERR_ARG, "classify: null argument");
    if (m->cfg.task == VT_TASK_SEGMENT)
        return vt_error(VITC_ERR_UNSUPPORTED, "classify: the model is a segmentation model (use vitc segment)");
    if (m->cfg.task == VT_TASK_DETECT)
        return vt_error(VITC_ERR_UNSUPPORTED, "classify: the model is a detection model (use vitc detect)");
    if (!m->cfg.num_classes) return vt_error(VITC_ERR_UNSUPPORTED, "classify: the model has no classification head");
    vt_forward_out o = {0};
    o.logits = logits;
    return vt_vit_forward(m, images, n, height, width, &o);
}

vitc_status vitc_model_embed(vitc_model *m, const float *images, int n, int height, int width, float *features) {
    if (!m || !features) return vt_error(VITC_ERR_ARG, "embed: null argument");
    vt_forward_out o = {0};
    o.features = features;
    return vt_vit_forward(m, images, n, height, width, &o);
}

void vitc_topk(const float *logits, int n, int k, int *idx, float *prob) {
    if (k > n) k = n;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < r; q++) taken |= idx[q] == i;
            if (!taken && (best < 0 || logits[i] > logits[best])) best = i;
        }
        idx[r] = best;
        prob[r] = (float)(exp((double)logits[best] - mx) / sum);
    }
}
