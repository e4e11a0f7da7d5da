/* Loading checkpoints: vitc files (timm names + metadata), plain timm state dicts (config inferred
 * from tensor shapes) and Hugging Face ViT/DeiT (config.json beside the weights). */
#include "core/error.h"
#include "core/fileio.h"
#include "formats/hf.h"
#include "model/model.h"
#include "model/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vt_model_keep_owned(vitc_model *m, void *p) {
    void **o = realloc(m->owned, sizeof *o * (size_t)(m->n_owned + 1));
    if (!o) return -1;
    m->owned = o;
    m->owned[m->n_owned++] = p;
    return 0;
}

vitc_status vt_model_tensor_f32(vitc_model *m, const vt_st_tensor *t, const float **out) {
    int owned;
    vitc_status s = vt_st_to_f32(m->st, t, out, &owned);
    if (s) return s;
    if (owned && vt_model_keep_owned(m, (void *)*out)) {
        free((void *)*out);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", m->st->path);
    }
    return VITC_OK;
}

static const vt_st_tensor *find(const vt_safetensors *st, const char *name) { return vt_st_find(st, name); }

/* ---- timm: the architecture from the tensors */

static vitc_status infer_timm(const vt_safetensors *st, int heads, vt_vit_config *c) {
    const char *path = st->path;
    vt_config_defaults(c);
    const vt_st_tensor *pw = find(st, "patch_embed.proj.weight");
    if (!pw || pw->ndim != 4 || pw->shape[2] != pw->shape[3] || pw->shape[0] <= 0)
        return vt_error(VITC_ERR_SHAPE, "%s: patch_embed.proj.weight must be (dim, channels, patch, patch)", path);
    c->dim = (int)pw->shape[0];
    c->in_chans = (int)pw->shape[1];
    c->patch = (int)pw->shape[2];
    c->patch_bias = find(st, "patch_embed.proj.bias") != NULL;
    c->patch_norm = find(st, "patch_embed.norm.weight") != NULL;
    c->class_token = find(st, "cls_token") != NULL;
    c->dist_token = find(st, "dist_token") != NULL;
    const vt_st_tensor *reg = find(st, "reg_token");
    c->reg_tokens = reg && reg->ndim == 3 ? (int)reg->shape[1] : 0;
    c->pre_norm = find(st, "norm_pre.weight") != NULL;
    char name[96];
    c->depth = 0;
    for (;;) {
        snprintf(name, sizeof name, "blocks.%d.norm1.weight", c->depth);
        if (!find(st, name)) break;
        c->depth++;
    }
    const vt_st_tensor *fc1 = find(st, "blocks.0.mlp.fc1.weight"), *fc2 = find(st, "blocks.0.mlp.fc2.weight");
    c->mlp_dim = fc1 && fc1->ndim == 2 ? (int)fc1->shape[0] : 4 * c->dim;
    if (fc1 && fc2 && fc1->ndim == 2 && fc2->ndim == 2 && fc1->shape[0] == 2 * fc2->shape[1]) {
        c->mlp_swiglu = 1; /* timm's SwiGLUPacked (DINOv2 giant): fc1 gives gate | value */
        c->mlp_dim = (int)fc2->shape[1];
    }
    c->qkv_bias = c->depth == 0 || find(st, "blocks.0.attn.qkv.bias") != NULL;
    c->qk_norm = find(st, "blocks.0.attn.q_norm.weight") != NULL;
    c->layer_scale = find(st, "blocks.0.ls1.gamma") != NULL;
    /* timm's Beit: relative position bias (per block or shared), q_bias / v_bias, gamma_1 / gamma_2 */
    const vt_st_tensor *rel = find(st, "blocks.0.attn.relative_position_bias_table");
    if (!rel) rel = find(st, "rel_pos_bias.relative_position_bias_table");
    if (rel) {
        c->family = VT_FAMILY_BEIT;
        c->rel_pos_bias = 1;
        c->qkv_bias = find(st, "blocks.0.attn.q_bias") != NULL;
        c->layer_scale = find(st, "blocks.0.gamma_1") != NULL;
    }
    c->fc_norm = find(st, "fc_norm.weight") != NULL;
    c->pool = c->fc_norm || !c->class_token ? VITC_POOL_AVG : VITC_POOL_TOKEN;
    const vt_st_tensor *head = find(st, "head.weight");
    if (head && (head->ndim != 2 || head->shape[1] != c->dim))
        return vt_error(VITC_ERR_SHAPE, "%s: tensor head.weight must be (classes, %d)", path, c->dim);
    c->num_classes = head ? (int)head->shape[0] : 0;
    c->dist_average = c->dist_token && find(st, "head_dist.weight") != NULL;
    const vt_st_tensor *pe = find(st, "pos_embed");
    if (rel) { /* the grid from the bias table: (2 g - 1)^2 + 3 rows, heads columns */
        int64_t side = rel->ndim == 2 ? (int64_t)llround(sqrt((double)(rel->shape[0] - 3))) : 0;
        if (rel->ndim != 2 || side < 1 || side * side != rel->shape[0] - 3 || side % 2 == 0)
            return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be ((2 g - 1)^2 + 3, heads) for a g x g patch grid",
                            path, rel->name);
        int g = (int)(side + 1) / 2;
        if (pe && (pe->ndim != 3 || pe->shape[1] != (int64_t)g * g + 1))
            return vt_error(VITC_ERR_SHAPE, "%s: pos_embed must be (1, %d, dim) beside the relative position bias", path,
                            g * g + 1);
        c->img_size = g * c->patch;
        c->heads = heads > 0 ? heads : (int)rel->shape[1];
        snprintf(c->name, sizeof c->name, "beit");
        return vt_config_validate(c, path);
    }
    if (!pe) return vt_error(VITC_ERR_MISSING, "%s: missing tensor pos_embed", path);
    if (pe->ndim != 3) return vt_error(VITC_ERR_SHAPE, "%s: pos_embed must be (1, tokens, dim)", path);
    int prefix = vt_prefix_tokens(c);
    int64_t len = pe->shape[1];
    int g = (int)llround(sqrt((double)len));
    if ((int64_t)g * g == len && prefix > 0) {
        c->no_embed_class = 1;
    } else {
        g = (int)llround(sqrt((double)(len - prefix > 0 ? len - prefix : 0)));
        if (len - prefix <= 0 || (int64_t)g * g != len - prefix)
            return vt_error(VITC_ERR_SHAPE, "%s: pos_embed has %lld rows, not a square patch grid (+%d prefix tokens)",
                            path, (long long)len, prefix);
    }
    c->img_size = g * c->patch;
    /* timm's vit_*_patch14_dinov2 / *_reg4_dinov2: LayerScale, a class token, 14-pixel patches */
    if (c->layer_scale && c->class_token && c->patch == 14 && !c->dist_token && !c->pre_norm) c->family = VT_FAMILY_DINOV2;
    if (heads > 0) c->heads = heads;
    else if (c->dim % 64 == 0) c->heads = c->dim / 64;
    else
        return vt_error(VITC_ERR_ARG, "%s: cannot infer the number of heads for dim %d (pass --heads)", path, c->dim);
    /* a known name when the shape matches one */
    static const char *sizes[] = {"tiny", "small", "base", "large", "huge"};
    snprintf(c->name, sizeof c->name, "custom");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vt_vit_config k;
        char nm[64];
        snprintf(nm, sizeof nm, "%s_%s%s_patch%d_%d", c->dist_token ? "deit" : "vit", sizes[i],
                 c->dist_token ? "_distilled" : "", c->patch, c->img_size);
        if (!vt_config_from_name(nm, &k) && k.dim == c->dim && k.depth == c->depth && k.heads == c->heads &&
            k.mlp_dim == c->mlp_dim && !c->reg_tokens && !c->qk_norm && !c->pre_norm && !c->mlp_swiglu)
            snprintf(c->name, sizeof c->name, "%s", nm);
    }
    return vt_config_validate(c, path);
}

/* timm's CLIP and SigLIP towers. The tensors say SigLIP (attn_pool.*, its attention-pooling head;
 * timm's vit_*_siglip_* all use the tanh GELU); CLIP needs the config.json that timm's hub files carry
 * ({"architecture": "vit_*_clip_*", "pretrained_cfg": {...}}): its LayerNorms' eps 1e-5, quick_gelu
 * for *_quickgelu_*, and the visual projection as a head without bias (after _convert_openai_clip: a
 * zero head.bias), which becomes the embedding projection. Other timm files are left as they are. */
static vitc_status timm_family(const vt_safetensors *st, const vt_json *cj, vt_vit_config *c) {
    const char *arch = cj ? vt_json_get_string(cj, "architecture", "") : "";
    if (find(st, "attn_pool.latent")) {
        if (c->class_token || c->dist_token || c->reg_tokens || c->fc_norm)
            return vt_error(VITC_ERR_UNSUPPORTED, "%s: an attention-pooling head (attn_pool) with prefix tokens or "
                            "fc_norm is not supported", st->path);
        c->family = VT_FAMILY_SIGLIP;
        c->map_head = 1;
        c->act = VT_ACT_GELU_TANH;
        c->pool = VITC_POOL_AVG;
    } else if (strstr(arch, "_clip_") && c->pre_norm && c->class_token && !c->dist_token && !c->fc_norm) {
        c->family = VT_FAMILY_CLIP;
        c->ln_eps = 1e-5f;
        const vt_st_tensor *hb = find(st, "head.bias");
        int zero_bias = 1;
        if (hb && c->num_classes) {
            const float *b;
            int owned;
            vitc_status s = vt_st_to_f32(st, hb, &b, &owned);
            if (s) return s;
            for (int64_t i = 0; i < hb->numel; i++) zero_bias &= b[i] == 0.0f;
            if (owned) free((void *)b);
        }
        if (c->num_classes && zero_bias) c->proj_dim = c->num_classes, c->num_classes = 0;
    }
    if (strstr(arch, "quickgelu")) c->act = VT_ACT_QUICK_GELU;
    if (c->family != VT_FAMILY_VIT && *arch) snprintf(c->name, sizeof c->name, "%s", arch);
    return vt_config_validate(c, st->path);
}

/* pretrained_cfg of a timm hub config.json: mean, std, crop_pct, interpolation */
static void timm_pretrained_cfg(const vt_json *cj, vitc_preprocess_params *p) {
    const vt_json *pc = cj ? vt_json_get(cj, "pretrained_cfg") : NULL;
    if (!pc || pc->type != VT_JSON_OBJECT) return;
    const char *keys[2] = {"mean", "std"};
    float *dst[2] = {p->mean, p->std};
    for (int k = 0; k < 2; k++) {
        const vt_json *a = vt_json_get(pc, keys[k]);
        if (!a || a->type != VT_JSON_ARRAY || a->count != 3) continue;
        float v[3];
        int ok = 1;
        for (int i = 0; i < 3; i++) {
            ok &= a->items[i].type == VT_JSON_NUMBER && (k == 0 || a->items[i].number > 0);
            v[i] = ok ? (float)a->items[i].number : 0.0f;
        }
        if (ok) memcpy(dst[k], v, sizeof v);
    }
    double crop = vt_json_get_number(pc, "crop_pct", p->crop_pct);
    if (crop > 0 && crop <= 1) p->crop_pct = (float)crop;
    const char *interp = vt_json_get_string(pc, "interpolation", "");
    if (!strcmp(interp, "bilinear")) p->interp = VITC_INTERP_BILINEAR;
    else if (!strcmp(interp, "bicubic")) p->interp = VITC_INTERP_BICUBIC;
}

static void timm_preprocess(const vt_vit_config *c, vitc_preprocess_params *p) {
    *p = vitc_preprocess_default_params();
    p->size = c->img_size;
    if (c->family == VT_FAMILY_DINOV2) { /* timm's DINOv2 pretrained config: ImageNet statistics, no crop */
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        memcpy(p->mean, mean, sizeof mean);
        memcpy(p->std, std, sizeof std);
        p->crop_pct = 1.0f;
    } else if (c->dist_token) { /* DeiT weights: ImageNet statistics, crop 0.875 */
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        memcpy(p->mean, mean, sizeof mean);
        memcpy(p->std, std, sizeof std);
        p->crop_pct = 0.875f;
    }
}

/* ---- vitc metadata */

static vt_json *parse_meta(const vt_safetensors *st, const char *key, vitc_status *s) {
    const char *text = vt_st_meta(st, key);
    *s = VITC_OK;
    if (!text) return NULL;
    char err[128];
    vt_json *j = vt_json_parse(text, strlen(text), err, sizeof err);
    if (!j) *s = vt_error(VITC_ERR_FORMAT, "%s: metadata %s is not valid JSON (%s)", st->path, key, err);
    return j;
}

static vitc_status preprocess_from_json(const vt_json *j, vitc_preprocess_params *p, const char *path) {
    if (!j || j->type != VT_JSON_OBJECT) return vt_error(VITC_ERR_FORMAT, "%s: vitc.preprocess is not an object", path);
    p->size = (int)vt_json_get_number(j, "size", p->size);
    p->crop_pct = (float)vt_json_get_number(j, "crop_pct", p->crop_pct);
    const char *interp = vt_json_get_string(j, "interpolation", "bicubic");
    if (!strcmp(interp, "bicubic")) p->interp = VITC_INTERP_BICUBIC;
    else if (!strcmp(interp, "bilinear")) p->interp = VITC_INTERP_BILINEAR;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown interpolation '%s' in vitc.preprocess", path, interp);
    p->squash = vt_json_get_bool(j, "squash", 0);
    p->max_size = (int)vt_json_get_number(j, "max_size", 0);
    if (p->max_size < 0 || p->max_size > 16384)
        return vt_error(VITC_ERR_FORMAT, "%s: vitc.preprocess max_size %d out of range", path, p->max_size);
    const char *keys[2] = {"mean", "std"};
    float *dst[2] = {p->mean, p->std};
    for (int k = 0; k < 2; k++) {
        const vt_json *a = vt_json_get(j, keys[k]);
        if (!a) continue;
        if (a->type != VT_JSON_ARRAY || a->count != 3)
            return vt_error(VITC_ERR_FORMAT, "%s: vitc.preprocess %s must be 3 numbers", path, keys[k]);
        for (int i = 0; i < 3; i++) dst[k][i] = (float)a->items[i].number;
    }
    if (p->size <= 0 || p->size > 16384 || !(p->crop_pct > 0.0f && p->crop_pct <= 1.0f) || p->std[0] <= 0 ||
        p->std[1] <= 0 || p->std[2] <= 0)
        return vt_error(VITC_ERR_FORMAT, "%s: vitc.preprocess has out-of-range values", path);
    return VITC_OK;
}

/* ---- labels */

static vitc_status set_labels_from_json(vitc_model *m, const vt_json *arr, const char *what) {
    if (arr->type != VT_JSON_ARRAY) return vt_error(VITC_ERR_FORMAT, "%s: labels must be a JSON array", what);
    m->labels = calloc(arr->count ? arr->count : 1, sizeof *m->labels);
    if (!m->labels) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < arr->count; i++) {
        if (arr->items[i].type != VT_JSON_STRING) return vt_error(VITC_ERR_FORMAT, "%s: label %zu is not a string", what, i);
        m->labels[m->n_labels++] = strdup(arr->items[i].string);
    }
    return VITC_OK;
}

static vitc_status labels_from_id2label(vitc_model *m, const vt_json *id2label, const char *what) {
    int C = m->cfg.num_classes;
    if (!id2label || id2label->type != VT_JSON_OBJECT || !C) return VITC_OK;
    m->labels = calloc((size_t)C, sizeof *m->labels);
    if (!m->labels) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", what);
    m->n_labels = C;
    for (size_t i = 0; i < id2label->count; i++) {
        char *end;
        long k = strtol(id2label->keys[i], &end, 10);
        if (*end || k < 0 || k >= C || id2label->items[i].type != VT_JSON_STRING) continue;
        free(m->labels[k]);
        m->labels[k] = strdup(id2label->items[i].string);
    }
    for (int i = 0; i < C; i++)
        if (!m->labels[i]) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "LABEL_%d", i);
            m->labels[i] = strdup(tmp);
        }
    return VITC_OK;
}

static vitc_status labels_from_file(vitc_model *m, const char *path) {
    char *text;
    size_t size;
    vitc_status s = vt_read_file(path, 64u << 20, &text, &size);
    if (s) return s;
    int n = 0;
    for (size_t i = 0; i < size; i++) n += text[i] == '\n';
    n += size && text[size - 1] != '\n';
    m->labels = calloc((size_t)(n ? n : 1), sizeof *m->labels);
    if (!m->labels) {
        free(text);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    char *line = text;
    while (line < text + size) {
        char *nl = memchr(line, '\n', (size_t)(text + size - line));
        if (!nl) nl = text + size;
        size_t len = (size_t)(nl - line);
        if (len && line[len - 1] == '\r') len--;
        m->labels[m->n_labels] = strndup(line, len);
        m->n_labels++;
        line = nl + 1;
    }
    free(text);
    if (m->cfg.num_classes && m->n_labels != m->cfg.num_classes)
        return vt_error(VITC_ERR_SHAPE, "%s: %d labels for a model with %d classes", path, m->n_labels,
                        m->cfg.num_classes);
    return VITC_OK;
}

/* ---- binding tensors to parameters */

static vitc_status bind_tensor(vitc_model *m, const vt_param *p, const vt_st_tensor *t, float **dst) {
    const char *path = m->st->path;
    if (t->numel != p->numel) goto bad_shape;
    /* the same numbers in the same order; allow squeezed/expanded leading 1s */
    const float *data;
    vitc_status s = vt_model_tensor_f32(m, t, &data);
    if (s) return s;
    *dst = (float *)data; /* read-only mapping: inference never writes parameters */
    {
        int i = t->ndim - 1, j = p->ndim - 1;
        for (; i >= 0 && j >= 0; i--, j--)
            if (t->shape[i] != p->shape[j]) goto bad_shape;
    }
    return VITC_OK;
bad_shape:;
    char want[96] = "", got[96] = "";
    for (int i = 0; i < p->ndim; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)p->shape[i]);
    for (int i = 0; i < t->ndim; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
    return vt_error(VITC_ERR_SHAPE, "%s: tensor %s has shape (%s), expected (%s)", path, t->name, got, want);
}

/* HF DINOv2 with registers: its position embeddings (1, 1 + grid, D) cover the class token and the
 * patches, not the registers between them. As timm converts them: the class token's row is added to
 * the class token (it is never resampled) and the grid rows become a no_embed_class table. */
static vitc_status bind_dinov2_registers(vitc_model *m, const vt_param *p, const char *prefix) {
    const char *path = m->st->path;
    char name[160];
    int64_t D = m->cfg.dim;
    snprintf(name, sizeof name, "%sembeddings.position_embeddings", prefix);
    const vt_st_tensor *pt = find(m->st, name);
    if (!pt) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    int64_t grid = (int64_t)vt_pos_grid_h(&m->cfg) * vt_pos_grid_w(&m->cfg);
    if (pt->numel != (grid + 1) * D)
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s has %lld values, expected (1, %lld, %lld)", path, name,
                        (long long)pt->numel, (long long)(grid + 1), (long long)D);
    const float *pos;
    vitc_status s = vt_model_tensor_f32(m, pt, &pos);
    if (s) return s;
    int owned;
    if (!strcmp(p->name, "pos_embed")) {
        *p->slot = (float *)pos + D;
        return VITC_OK;
    }
    snprintf(name, sizeof name, "%sembeddings.cls_token", prefix);
    const vt_st_tensor *ct = find(m->st, name);
    if (!ct) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    if (ct->numel != D)
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be (1, 1, %lld)", path, name, (long long)D);
    const float *cls;
    if ((s = vt_st_to_f32(m->st, ct, &cls, &owned))) return s;
    float *sum = malloc(sizeof(float) * (size_t)D);
    if (!sum || vt_model_keep_owned(m, sum)) {
        free(sum);
        if (owned) free((void *)cls);
        return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int64_t d = 0; d < D; d++) sum[d] = cls[d] + pos[d];
    if (owned) free((void *)cls);
    *p->slot = sum;
    return VITC_OK;
}

/* timm's AttentionPoolLatent (attn_pool.*) as the attention-pooling head: latent is the probe, q and kv
 * (the key rows, then the value rows) stacked are nn.MultiheadAttention's in_proj, proj its out_proj. */
static vitc_status bind_timm_attn_pool(vitc_model *m, const vt_param *p) {
    const char *path = m->st->path, *rest = p->name + 9;
    char name[160];
    int w = !strcmp(rest, "attention.in_proj_weight"), b = !strcmp(rest, "attention.in_proj_bias");
    if (!w && !b) {
        static const struct { const char *vitc, *timm; } map[] = {
            {"probe", "latent"}, {"attention.out_proj.", "proj."}, {"layernorm.", "norm."}, {"mlp.", "mlp."}};
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            size_t l = strlen(map[i].vitc);
            if (strncmp(rest, map[i].vitc, l)) continue;
            snprintf(name, sizeof name, "attn_pool.%s%s", map[i].timm, rest + l);
            const vt_st_tensor *t = find(m->st, name);
            return t ? bind_tensor(m, p, t, p->slot) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
        }
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: %s has no timm equivalent", path, p->name);
    }
    float *in = malloc(sizeof(float) * (size_t)p->numel);
    if (!in || vt_model_keep_owned(m, in)) {
        free(in);
        return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    vt_param part = *p;
    int64_t D = p->shape[0] / 3, per_row = p->numel / p->shape[0];
    vitc_status s = VITC_OK;
    for (int j = 0; j < 2 && !s; j++) { /* q: D rows, kv: 2 D rows */
        snprintf(name, sizeof name, "attn_pool.%s.%s", j ? "kv" : "q", w ? "weight" : "bias");
        part.shape[0] = j ? 2 * D : D;
        part.numel = part.shape[0] * per_row;
        const vt_st_tensor *t = find(m->st, name);
        float *src = NULL;
        s = t ? bind_tensor(m, &part, t, &src) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
        if (!s) memcpy(in + (j ? D * per_row : 0), src, sizeof(float) * (size_t)part.numel);
    }
    *p->slot = in;
    return s;
}

/* A zero-filled parameter the model owns (BEiT without absolute position embeddings). */
static vitc_status bind_zeros(vitc_model *m, const vt_param *p) {
    float *z = calloc((size_t)p->numel, sizeof(float));
    if (!z || vt_model_keep_owned(m, z)) {
        free(z);
        return vt_error(VITC_ERR_NOMEM, "out of memory");
    }
    *p->slot = z;
    return VITC_OK;
}

/* BEiT's parameters that are not one tensor each in timm's or HF's files (hf_prefix NULL: timm):
 * position embeddings (zeros when absent: BEiT uses none), the qkv bias = [q bias, 0, v bias] (no key
 * bias), the relative position bias table (the block's, or the one shared by every block), LayerScale
 * (timm's gamma_1 / gamma_2). Returns 1 when p is not one of them. */
static int bind_beit(vitc_model *m, const vt_param *p, const char *hf_prefix, vitc_status *s) {
    const char *path = m->st->path, *pre = hf_prefix ? hf_prefix : "";
    char name[200], rest[96];
    int l, used = 0;
    if (!strcmp(p->name, "pos_embed")) {
        snprintf(name, sizeof name, hf_prefix ? "%sembeddings.position_embeddings" : "%spos_embed", pre);
        const vt_st_tensor *t = find(m->st, name);
        *s = t ? bind_tensor(m, p, t, p->slot) : bind_zeros(m, p);
        return 0;
    }
    if (sscanf(p->name, "blocks.%d.%95s%n", &l, rest, &used) != 2 || p->name[used]) return 1;
    if (!strcmp(rest, "attn.relative_position_bias_table")) {
        const vt_st_tensor *t;
        if (hf_prefix) {
            snprintf(name, sizeof name,
                     "%sencoder.layer.%d.attention.attention.relative_position_bias.relative_position_bias_table", pre, l);
            t = vt_hf_beit_table(m->st, hf_prefix, l);
        } else {
            snprintf(name, sizeof name, "blocks.%d.attn.relative_position_bias_table", l);
            if (!(t = find(m->st, name))) t = find(m->st, "rel_pos_bias.relative_position_bias_table");
        }
        *s = t ? bind_tensor(m, p, t, p->slot) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
        return 0;
    }
    if (!hf_prefix && (!strcmp(rest, "ls1.gamma") || !strcmp(rest, "ls2.gamma"))) {
        snprintf(name, sizeof name, "blocks.%d.gamma_%c", l, rest[2]);
        const vt_st_tensor *t = find(m->st, name);
        *s = t ? bind_tensor(m, p, t, p->slot) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
        return 0;
    }
    if (strcmp(rest, "attn.qkv.bias")) return 1;
    float *b = calloc((size_t)p->numel, sizeof(float));
    if (!b || vt_model_keep_owned(m, b)) {
        free(b);
        *s = vt_error(VITC_ERR_NOMEM, "out of memory");
        return 0;
    }
    vt_param part = *p;
    part.shape[0] /= 3, part.numel /= 3;
    *s = VITC_OK;
    for (int j = 0; j < 2 && !*s; j++) { /* q into the first third, v into the last; k stays 0 */
        if (hf_prefix)
            snprintf(name, sizeof name, "%sencoder.layer.%d.attention.attention.%s.bias", pre, l, j ? "value" : "query");
        else
            snprintf(name, sizeof name, "blocks.%d.attn.%c_bias", l, j ? 'v' : 'q');
        const vt_st_tensor *t = find(m->st, name);
        float *src = NULL;
        *s = t ? bind_tensor(m, &part, t, &src) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
        if (!*s) memcpy(b + (size_t)(j ? 2 : 0) * part.numel, src, sizeof(float) * (size_t)part.numel);
    }
    *p->slot = b;
    return 0;
}

static vitc_status bind_weights(vitc_model *m, const char *hf_prefix) {
    vt_param *table;
    int n = vt_param_table(&m->cfg, &m->w, &table);
    if (n < 0) return vt_error(VITC_ERR_NOMEM, "out of memory");
    vitc_status s = VITC_OK;
    const char *path = m->st->path;
    for (int i = 0; i < n && !s; i++) {
        vt_param *p = &table[i];
        int layer, which;
        if (m->q8src && vt_q8_param_index(p->name, m->cfg.depth, &layer, &which)) {
            s = vt_q8_bind(m, p->name, layer, which, p->slot);
            continue;
        }
        int timm = !hf_prefix && !strcmp(m->source, "timm"); /* else vitc's own names */
        if ((timm || hf_prefix) && m->cfg.family == VT_FAMILY_BEIT && !bind_beit(m, p, hf_prefix, &s)) continue;
        if (timm && m->cfg.family == VT_FAMILY_SIGLIP && !strncmp(p->name, "map_head.", 9)) {
            s = bind_timm_attn_pool(m, p);
            continue;
        }
        if (!hf_prefix) {
            const char *name =
                timm && m->cfg.family == VT_FAMILY_CLIP && !strcmp(p->name, "embed_proj.weight") ? "head.weight" : p->name;
            const vt_st_tensor *t = find(m->st, name);
            s = t ? bind_tensor(m, p, t, p->slot) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
            continue;
        }
        if (m->cfg.family == VT_FAMILY_DINOV2 && m->cfg.reg_tokens &&
            (!strcmp(p->name, "pos_embed") || !strcmp(p->name, "cls_token"))) {
            s = bind_dinov2_registers(m, p, hf_prefix);
            continue;
        }
        char parts[3][160];
        int k = vt_hf_name(&m->cfg, p->name, hf_prefix, parts);
        if (k == 0) {
            s = vt_error(VITC_ERR_UNSUPPORTED, "%s: %s has no Hugging Face equivalent", path, p->name);
        } else if (k == 1) {
            const vt_st_tensor *t = find(m->st, parts[0]);
            s = t ? bind_tensor(m, p, t, p->slot) : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, parts[0]);
        } else { /* q, k, v stacked into one qkv parameter */
            float *qkv = malloc(sizeof(float) * (size_t)p->numel);
            if (!qkv || vt_model_keep_owned(m, qkv)) {
                free(qkv);
                s = vt_error(VITC_ERR_NOMEM, "out of memory");
                break;
            }
            vt_param part = *p;
            part.shape[0] /= 3;
            part.numel /= 3;
            for (int j = 0; j < 3 && !s; j++) {
                const vt_st_tensor *t = find(m->st, parts[j]);
                float *src = NULL;
                s = t ? bind_tensor(m, &part, t, &src)
                      : vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, parts[j]);
                if (!s) memcpy(qkv + (size_t)j * part.numel, src, sizeof(float) * (size_t)part.numel);
            }
            *p->slot = qkv;
        }
    }
    free(table);
    return s;
}

/* config.json and preprocessor_config.json beside the weights */
static vt_json *read_json_beside(const char *weights, const char *explicit_path, const char *file, vitc_status *s) {
    char path[4096];
    *s = VITC_OK;
    if (explicit_path) {
        snprintf(path, sizeof path, "%s", explicit_path);
    } else {
        const char *slash = strrchr(weights, '/');
        int dir = slash ? (int)(slash - weights) + 1 : 0;
        snprintf(path, sizeof path, "%.*s%s", dir, weights, file);
        FILE *fp = fopen(path, "rb");
        if (!fp) return NULL;
        fclose(fp);
    }
    char *text;
    size_t size;
    if ((*s = vt_read_file(path, 16u << 20, &text, &size))) return NULL;
    char err[128];
    vt_json *j = vt_json_parse(text, size, err, sizeof err);
    free(text);
    if (!j) *s = vt_error(VITC_ERR_FORMAT, "%s: invalid JSON (%s)", path, err);
    return j;
}

vitc_status vitc_model_load(const char *path, const vitc_load_params *params, vitc_model **out) {
    vitc_load_params defaults = vitc_load_default_params();
    if (!params) params = &defaults;
    *out = NULL;
    if (!path) return vt_error(VITC_ERR_ARG, "model path is NULL");
    vitc_model *m = calloc(1, sizeof *m);
    if (!m) return vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    m->threads = params->threads;
    vt_json *cfg_json = NULL, *pp_json = NULL, *meta = NULL;
    vitc_status s = vt_st_open(path, &m->st);
    if (s) goto fail;
    const char *hf_prefix = NULL;
    if (vt_st_meta(m->st, "vitc.config")) {
        snprintf(m->source, sizeof m->source, "vitc");
        if (!(meta = parse_meta(m->st, "vitc.config", &s))) goto fail;
        if ((s = vt_config_from_json(meta, &m->cfg, path))) goto fail;
        if (params->heads > 0) m->cfg.heads = params->heads;
        if ((s = vt_config_validate(&m->cfg, path))) goto fail;
        const char *quant = vt_st_meta(m->st, "vitc.quant");
        if (quant && (s = vt_q8_begin(m, quant))) goto fail;
        m->pre = vitc_preprocess_default_params();
        m->pre.size = m->cfg.img_size;
        vt_json_free(meta);
        if ((meta = parse_meta(m->st, "vitc.preprocess", &s)) && (s = preprocess_from_json(meta, &m->pre, path)))
            goto fail;
        if (s) goto fail;
    } else if (find(m->st, "patch_embed.proj.weight")) {
        snprintf(m->source, sizeof m->source, "timm");
        cfg_json = read_json_beside(path, params->config_path, "config.json", &s);
        if (s) goto fail;
        if ((s = infer_timm(m->st, params->heads, &m->cfg)) || (s = timm_family(m->st, cfg_json, &m->cfg))) goto fail;
        timm_preprocess(&m->cfg, &m->pre);
        timm_pretrained_cfg(cfg_json, &m->pre);
    } else if ((hf_prefix = vt_hf_prefix(m->st))) {
        snprintf(m->source, sizeof m->source, "hf");
        cfg_json = read_json_beside(path, params->config_path, "config.json", &s);
        if (s) goto fail;
        if ((s = vt_hf_config(m->st, hf_prefix, cfg_json, params->heads, &m->cfg))) goto fail;
        pp_json = read_json_beside(path, NULL, "preprocessor_config.json", &s);
        if (s) goto fail;
        vt_hf_preprocess(pp_json, &m->cfg, &m->pre);
    } else {
        s = vt_error(VITC_ERR_MISSING, "%s: not a ViT checkpoint (no patch embedding tensor)", path);
        goto fail;
    }
    if (vt_weights_alloc_blocks(&m->cfg, &m->w)) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((s = bind_weights(m, hf_prefix))) goto fail;

    /* labels: --labels file, vitc metadata, HF id2label */
    if (params->labels_path) {
        if ((s = labels_from_file(m, params->labels_path))) goto fail;
    } else if (vt_st_meta(m->st, "vitc.labels")) {
        vt_json_free(meta);
        if (!(meta = parse_meta(m->st, "vitc.labels", &s))) goto fail;
        if ((s = set_labels_from_json(m, meta, path))) goto fail;
        if (m->n_labels != m->cfg.num_classes) {
            s = vt_error(VITC_ERR_SHAPE, "%s: %d labels for %d classes", path, m->n_labels, m->cfg.num_classes);
            goto fail;
        }
    } else if (cfg_json) {
        if ((s = labels_from_id2label(m, vt_json_get(cfg_json, "id2label"), path))) goto fail;
    }
    /* Pack the linear weights for the GEMM kernels now, then let the kernel drop the mapped
     * pages: inference reads only the packed copies of the big matrices, so the checkpoint is
     * held in memory once, not twice. */
    if (vt_model_pack(m)) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory packing weights", path);
        goto fail;
    }
    vt_mapping_drop_pages(&m->st->map);
    vt_json_free(meta);
    vt_json_free(cfg_json);
    vt_json_free(pp_json);
    *out = m;
    return VITC_OK;
fail:
    vt_json_free(meta);
    vt_json_free(cfg_json);
    vt_json_free(pp_json);
    vitc_model_free(m);
    return s;
}

/* ---- saving as a vitc file */

vitc_status vt_model_save(const vitc_model *m, const char *path) { return vt_model_save_ex(m, path, NULL, 0, NULL, NULL, 0); }

vitc_status vt_model_save_ex(const vitc_model *m, const char *path, const vt_st_write_tensor *extra, int n_extra,
                             const char *const *meta_keys, const char *const *meta_values, int n_meta) {
    if (vt_model_need_float(m, path)) return VITC_ERR_UNSUPPORTED;
    vt_param *table;
    vt_vit_weights w = m->w; /* the table points at slots of a copy: nothing is modified */
    int n = vt_param_table(&m->cfg, &w, &table);
    if (n < 0) return vt_error(VITC_ERR_NOMEM, "out of memory");
    vt_st_write_tensor *ts = calloc((size_t)(n + n_extra), sizeof *ts);
    const char **keys = calloc((size_t)(4 + n_meta), sizeof *keys), **vals = calloc((size_t)(4 + n_meta), sizeof *vals);
    char *cfg = vt_config_to_json(&m->cfg);
    vt_strbuf pre = {0}, labels = {0};
    const vitc_preprocess_params *p = &m->pre;
    vt_strbuf_printf(&pre, "{\"size\":%d,\"crop_pct\":%.9g,\"interpolation\":\"%s\",\"mean\":[%.9g,%.9g,%.9g],"
                           "\"std\":[%.9g,%.9g,%.9g],\"squash\":%s}",
                     p->size, (double)p->crop_pct, p->interp == VITC_INTERP_BILINEAR ? "bilinear" : "bicubic",
                     (double)p->mean[0], (double)p->mean[1], (double)p->mean[2], (double)p->std[0], (double)p->std[1],
                     (double)p->std[2], p->squash ? "true" : "false");
    if (p->max_size > 0 && pre.len) { /* detection processors only: the key is absent elsewhere */
        pre.len--;
        vt_strbuf_printf(&pre, ",\"max_size\":%d}", p->max_size);
    }
    if (m->labels) {
        vt_strbuf_append(&labels, "[", 1);
        for (int i = 0; i < m->n_labels; i++) {
            if (i) vt_strbuf_append(&labels, ",", 1);
            vt_strbuf_json_string(&labels, m->labels[i]);
        }
        vt_strbuf_append(&labels, "]", 1);
    }
    vitc_status s;
    if (!ts || !keys || !vals || !cfg || pre.failed || labels.failed) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", path);
    } else {
        int nt = 0; /* parameters, but an extra tensor of the same name replaces one (quantized weights) */
        for (int i = 0; i < n; i++) {
            int replaced = 0;
            for (int e = 0; e < n_extra && !replaced; e++) replaced = !strcmp(extra[e].name, table[i].name);
            if (replaced) continue;
            ts[nt].name = table[i].name;
            ts[nt].ndim = table[i].ndim;
            for (int d = 0; d < table[i].ndim; d++) ts[nt].shape[d] = table[i].shape[d];
            ts[nt++].data = *table[i].slot;
        }
        for (int i = 0; i < n_extra; i++) ts[nt++] = extra[i];
        int k = 0;
        keys[k] = "format", vals[k++] = "vitc";
        keys[k] = "vitc.config", vals[k++] = cfg;
        keys[k] = "vitc.preprocess", vals[k++] = pre.data;
        if (m->labels) keys[k] = "vitc.labels", vals[k++] = labels.data;
        for (int i = 0; i < n_meta; i++) keys[k] = meta_keys[i], vals[k++] = meta_values[i];
        s = vt_st_write(path, ts, (size_t)nt, keys, vals, (size_t)k);
    }
    free(ts);
    free(keys);
    free(vals);
    free(cfg);
    vt_strbuf_free(&pre);
    vt_strbuf_free(&labels);
    free(table);
    return s;
}
