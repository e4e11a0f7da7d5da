#include "model/config.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vt_config_defaults(vt_vit_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "custom");
    c->dim = 192;
    c->depth = 12;
    c->heads = 3;
    c->mlp_dim = 4 * 192;
    c->patch = 16;
    c->img_size = 224;
    c->in_chans = 3;
    c->num_classes = 1000;
    c->class_token = 1;
    c->patch_bias = 1;
    c->qkv_bias = 1;
    c->pool = VITC_POOL_TOKEN;
    c->dist_average = 1;
    c->ln_eps = 1e-6f;
}

static const struct { const char *word; int dim, depth, heads; } sizes[] = {
    {"tiny", 192, 12, 3}, {"small", 384, 12, 6}, {"base", 768, 12, 12},
    {"large", 1024, 24, 16}, {"huge", 1280, 32, 16},
};

int vt_config_from_name(const char *name, vt_vit_config *c) {
    vt_config_defaults(c);
    char buf[64];
    size_t n = strcspn(name, "."); /* "vit_base_patch16_224.augreg_in21k": the tag does not change the shape */
    if (n >= sizeof buf) return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    const char *p;
    int deit = 0;
    if (!strncmp(buf, "vit_", 4)) p = buf + 4;
    else if (!strncmp(buf, "deit_", 5)) p = buf + 5, deit = 1;
    else return -1;
    int found = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t l = strlen(sizes[i].word);
        if (!strncmp(p, sizes[i].word, l) && p[l] == '_') {
            c->dim = sizes[i].dim;
            c->depth = sizes[i].depth;
            c->heads = sizes[i].heads;
            p += l + 1;
            found = 1;
            break;
        }
    }
    if (!found) return -1;
    if (deit && !strncmp(p, "distilled_", 10)) {
        c->dist_token = 1;
        p += 10;
    }
    int patch, img, used = 0;
    if (sscanf(p, "patch%d_%d%n", &patch, &img, &used) != 2 || p[used] != '\0') return -1;
    if (patch <= 0 || img <= 0 || img % patch) return -1;
    c->patch = patch;
    c->img_size = img;
    c->mlp_dim = 4 * c->dim;
    snprintf(c->name, sizeof c->name, "%s", buf);
    return 0;
}

vitc_status vt_config_validate(const vt_vit_config *c, const char *what) {
    if (c->dim <= 0 || c->depth < 0 || c->heads <= 0 || c->mlp_dim <= 0 || c->patch <= 0 || c->img_size <= 0 ||
        c->in_chans <= 0 || c->num_classes < 0 || c->reg_tokens < 0)
        return vt_error(VITC_ERR_FORMAT, "%s: invalid model configuration (non-positive size)", what);
    if (c->dim % c->heads)
        return vt_error(VITC_ERR_FORMAT, "%s: embedding dim %d is not divisible by %d heads", what, c->dim, c->heads);
    if (c->rel_pos_bias && (c->class_token != 1 || c->dist_token || c->reg_tokens || c->det_tokens))
        return vt_error(VITC_ERR_FORMAT, "%s: a relative position bias needs exactly one prefix token (the class token)",
                        what);
    if (c->img_size % c->patch)
        return vt_error(VITC_ERR_FORMAT, "%s: image size %d is not a multiple of patch size %d", what, c->img_size,
                        c->patch);
    if (c->patch_kernel && (c->patch_kernel < c->patch || (c->patch_kernel - c->patch) % 2))
        return vt_error(VITC_ERR_FORMAT, "%s: patch kernel %d must be the patch size %d plus an even number", what,
                        c->patch_kernel, c->patch);
    if (c->dim > 65536 || c->depth > 1024 || c->mlp_dim > 1 << 20 || c->patch > 1024 || c->patch_kernel > 1024 ||
        c->img_size > 16384 ||
        c->in_chans > 64 || c->num_classes > 1 << 24 || c->reg_tokens > 4096)
        return vt_error(VITC_ERR_LIMIT, "%s: model configuration exceeds vitc's limits", what);
    if (!c->class_token && c->dist_token)
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: a distillation token needs a class token", what);
    if (c->pool == VITC_POOL_TOKEN && !c->class_token)
        return vt_error(VITC_ERR_FORMAT, "%s: token pooling needs a class token", what);
    if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
        return vt_error(VITC_ERR_FORMAT, "%s: invalid layer norm epsilon", what);
    if (c->task == VT_TASK_SEGMENT) {
        if (c->num_classes < 2 || c->num_classes > 255)
            return vt_error(VITC_ERR_FORMAT, "%s: a segmentation model needs 2..255 classes (background included; 255 marks ignored pixels)", what);
        if (c->fc_norm) return vt_error(VITC_ERR_FORMAT, "%s: a segmentation model normalizes all tokens (no fc_norm)", what);
        if (c->dist_token && c->dist_average)
            return vt_error(VITC_ERR_FORMAT, "%s: a segmentation model has no distillation head", what);
        if (c->seg_decoder == VT_SEG_MASK &&
            (c->dec_dim <= 0 || c->dec_depth < 0 || c->dec_heads <= 0 || c->dec_dim % c->dec_heads ||
             c->dec_dim > 65536 || c->dec_depth > 64))
            return vt_error(VITC_ERR_FORMAT, "%s: invalid mask transformer (dim %d, depth %d, heads %d)", what,
                            c->dec_dim, c->dec_depth, c->dec_heads);
    }
    if (c->task == VT_TASK_DETECT) {
        if (c->det_tokens < 1 || c->det_tokens > 4096)
            return vt_error(VITC_ERR_FORMAT, "%s: a detection model needs 1..4096 detection tokens (got %d)", what,
                            c->det_tokens);
        if (c->num_classes < 1) return vt_error(VITC_ERR_FORMAT, "%s: a detection model needs at least one class", what);
        if (c->fc_norm || c->dist_token || c->no_embed_class)
            return vt_error(VITC_ERR_FORMAT, "%s: a detection model has no fc_norm, distillation token or "
                                             "position-free prefix", what);
    } else if (c->det_tokens || c->mid_pos) {
        return vt_error(VITC_ERR_FORMAT, "%s: detection tokens belong to detection models", what);
    }
    if (c->proj_dim < 0 || c->proj_dim > 65536)
        return vt_error(VITC_ERR_FORMAT, "%s: invalid projection width %d", what, c->proj_dim);
    if (c->mlp_swiglu && c->mlp_dim > 1 << 19)
        return vt_error(VITC_ERR_LIMIT, "%s: model configuration exceeds vitc's limits", what);
    if ((unsigned)c->act > VT_ACT_GELU_TANH || (unsigned)c->family > VT_FAMILY_BEIT)
        return vt_error(VITC_ERR_FORMAT, "%s: invalid activation or family", what);
    if (c->pos_gh < 0 || c->pos_gw < 0 || c->pos_gh > 16384 || c->pos_gw > 16384 || (!c->pos_gh) != (!c->pos_gw))
        return vt_error(VITC_ERR_FORMAT, "%s: invalid position-embedding grid %dx%d", what, c->pos_gh, c->pos_gw);
    return VITC_OK;
}

/* ---- JSON */

static int get_int(const vt_json *j, const char *key, int fallback, int *bad) {
    const vt_json *v = vt_json_get(j, key);
    if (!v) return fallback;
    if (v->type == VT_JSON_BOOL) return v->boolean;
    if (v->type != VT_JSON_NUMBER || v->number != (double)(int)v->number) {
        *bad = 1;
        return fallback;
    }
    return (int)v->number;
}

vitc_status vt_config_from_json(const vt_json *j, vt_vit_config *c, const char *what) {
    if (!j || j->type != VT_JSON_OBJECT) return vt_error(VITC_ERR_FORMAT, "%s: model config is not a JSON object", what);
    vt_config_defaults(c);
    int bad = 0;
    snprintf(c->name, sizeof c->name, "%s", vt_json_get_string(j, "name", "custom"));
    c->dim = get_int(j, "dim", c->dim, &bad);
    c->depth = get_int(j, "depth", c->depth, &bad);
    c->heads = get_int(j, "heads", c->heads, &bad);
    c->mlp_dim = get_int(j, "mlp_dim", 4 * c->dim, &bad);
    c->patch = get_int(j, "patch_size", c->patch, &bad);
    c->patch_kernel = get_int(j, "patch_kernel", 0, &bad);
    if (c->patch_kernel == c->patch) c->patch_kernel = 0;
    c->img_size = get_int(j, "image_size", c->img_size, &bad);
    c->in_chans = get_int(j, "in_chans", c->in_chans, &bad);
    c->num_classes = get_int(j, "num_classes", c->num_classes, &bad);
    c->class_token = get_int(j, "class_token", 1, &bad);
    c->dist_token = get_int(j, "dist_token", 0, &bad);
    c->reg_tokens = get_int(j, "reg_tokens", 0, &bad);
    c->no_embed_class = get_int(j, "no_embed_class", 0, &bad);
    c->pre_norm = get_int(j, "pre_norm", 0, &bad);
    c->patch_bias = get_int(j, "patch_bias", !c->pre_norm, &bad);
    c->patch_norm = get_int(j, "patch_norm", 0, &bad);
    c->qkv_bias = get_int(j, "qkv_bias", 1, &bad);
    c->qk_norm = get_int(j, "qk_norm", 0, &bad);
    c->layer_scale = get_int(j, "layer_scale", 0, &bad);
    c->dist_average = get_int(j, "dist_average", 1, &bad);
    const char *pool = vt_json_get_string(j, "pool", "token");
    if (!strcmp(pool, "token")) c->pool = VITC_POOL_TOKEN;
    else if (!strcmp(pool, "avg")) c->pool = VITC_POOL_AVG;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown pooling '%s' in model config", what, pool);
    c->fc_norm = get_int(j, "fc_norm", c->pool == VITC_POOL_AVG, &bad);
    c->ln_eps = (float)vt_json_get_number(j, "ln_eps", 1e-6);
    const char *task = vt_json_get_string(j, "task", "classify");
    if (!strcmp(task, "classify")) c->task = VT_TASK_CLASSIFY;
    else if (!strcmp(task, "segment")) c->task = VT_TASK_SEGMENT;
    else if (!strcmp(task, "detect")) c->task = VT_TASK_DETECT;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown task '%s' in model config", what, task);
    const vt_json *head = vt_json_get(j, "head");
    if (c->task == VT_TASK_SEGMENT) {
        if (!head || head->type != VT_JSON_OBJECT)
            return vt_error(VITC_ERR_FORMAT, "%s: a segmentation model config needs a \"head\" object", what);
        const char *dec = vt_json_get_string(head, "decoder", "");
        if (!strcmp(dec, "linear")) c->seg_decoder = VT_SEG_LINEAR;
        else if (!strcmp(dec, "mask")) c->seg_decoder = VT_SEG_MASK;
        else return vt_error(VITC_ERR_FORMAT, "%s: unknown segmentation decoder '%s'", what, dec);
        c->dec_dim = get_int(head, "dim", 0, &bad);
        c->dec_depth = get_int(head, "depth", 0, &bad);
        c->dec_heads = get_int(head, "heads", 0, &bad);
    }
    if (c->task == VT_TASK_DETECT) {
        if (!head || head->type != VT_JSON_OBJECT)
            return vt_error(VITC_ERR_FORMAT, "%s: a detection model config needs a \"head\" object", what);
        c->det_tokens = get_int(head, "det_tokens", 0, &bad);
        c->mid_pos = get_int(head, "mid_pos", 0, &bad);
    }
    /* the position grid and its resampling: absent for square grids resampled timm's way */
    c->pos_gh = get_int(j, "pos_grid_h", 0, &bad);
    c->pos_gw = get_int(j, "pos_grid_w", 0, &bad);
    const char *pint = vt_json_get_string(j, "pos_interp", "timm");
    if (!strcmp(pint, "timm")) c->pos_interp = VT_POS_TIMM;
    else if (!strcmp(pint, "torch")) c->pos_interp = VT_POS_TORCH;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown position-embedding interpolation '%s'", what, pint);
    const char *fam = vt_json_get_string(j, "family", "vit");
    if (!strcmp(fam, "vit")) c->family = VT_FAMILY_VIT;
    else if (!strcmp(fam, "dinov2")) c->family = VT_FAMILY_DINOV2;
    else if (!strcmp(fam, "clip")) c->family = VT_FAMILY_CLIP;
    else if (!strcmp(fam, "siglip")) c->family = VT_FAMILY_SIGLIP;
    else if (!strcmp(fam, "beit")) c->family = VT_FAMILY_BEIT;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown model family '%s'", what, fam);
    const char *act = vt_json_get_string(j, "act", "gelu");
    if (!strcmp(act, "gelu")) c->act = VT_ACT_GELU;
    else if (!strcmp(act, "quick_gelu")) c->act = VT_ACT_QUICK_GELU;
    else if (!strcmp(act, "gelu_tanh")) c->act = VT_ACT_GELU_TANH;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown activation '%s'", what, act);
    const char *mlp = vt_json_get_string(j, "mlp", "mlp");
    if (!strcmp(mlp, "mlp")) c->mlp_swiglu = 0;
    else if (!strcmp(mlp, "swiglu")) c->mlp_swiglu = 1;
    else return vt_error(VITC_ERR_FORMAT, "%s: unknown MLP kind '%s'", what, mlp);
    c->proj_dim = get_int(j, "proj_dim", 0, &bad);
    c->map_head = get_int(j, "map_head", 0, &bad);
    c->rel_pos_bias = get_int(j, "rel_pos_bias", 0, &bad);
    if (bad) return vt_error(VITC_ERR_FORMAT, "%s: model config has a non-integer field", what);
    return vt_config_validate(c, what);
}

char *vt_config_to_json(const vt_vit_config *c) {
    vt_strbuf b = {0};
    vt_strbuf_append(&b, "{\"name\":", 8);
    vt_strbuf_json_string(&b, c->name);
    vt_strbuf_printf(&b,
                     ",\"dim\":%d,\"depth\":%d,\"heads\":%d,\"mlp_dim\":%d,\"patch_size\":%d,\"image_size\":%d,"
                     "\"in_chans\":%d,\"num_classes\":%d,\"class_token\":%d,\"dist_token\":%d,\"reg_tokens\":%d,"
                     "\"no_embed_class\":%d,\"pre_norm\":%d,\"patch_bias\":%d,\"patch_norm\":%d,\"qkv_bias\":%d,"
                     "\"qk_norm\":%d,\"layer_scale\":%d,\"fc_norm\":%d,\"dist_average\":%d,\"pool\":\"%s\","
                     "\"ln_eps\":%.9g",
                     c->dim, c->depth, c->heads, c->mlp_dim, c->patch, c->img_size, c->in_chans, c->num_classes,
                     c->class_token, c->dist_token, c->reg_tokens, c->no_embed_class, c->pre_norm, c->patch_bias,
                     c->patch_norm, c->qkv_bias, c->qk_norm, c->layer_scale, c->fc_norm, c->dist_average,
                     c->pool == VITC_POOL_AVG ? "avg" : "token", (double)c->ln_eps);
    /* written only when it differs from the patch size: plain ViTs' metadata stays as it was */
    if (vt_patch_kernel(c) != c->patch) vt_strbuf_printf(&b, ",\"patch_kernel\":%d", c->patch_kernel);
    /* likewise the task: classifiers' metadata stays as it was */
    if (c->task == VT_TASK_SEGMENT) {
        if (c->seg_decoder == VT_SEG_MASK)
            vt_strbuf_printf(&b, ",\"task\":\"segment\",\"head\":{\"decoder\":\"mask\",\"dim\":%d,\"depth\":%d,\"heads\":%d}",
                             c->dec_dim, c->dec_depth, c->dec_heads);
        else
            vt_strbuf_printf(&b, ",\"task\":\"segment\",\"head\":{\"decoder\":\"linear\"}");
    }
    if (c->task == VT_TASK_DETECT)
        vt_strbuf_printf(&b, ",\"task\":\"detect\",\"head\":{\"det_tokens\":%d,\"mid_pos\":%d}", c->det_tokens,
                         c->mid_pos);
    if (c->pos_gh || c->pos_gw) vt_strbuf_printf(&b, ",\"pos_grid_h\":%d,\"pos_grid_w\":%d", vt_pos_grid_h(c), vt_pos_grid_w(c));
    if (c->pos_interp == VT_POS_TORCH) vt_strbuf_printf(&b, ",\"pos_interp\":\"torch\"");
    /* the families' keys, written only when they differ from the plain ViT */
    if (c->family != VT_FAMILY_VIT) vt_strbuf_printf(&b, ",\"family\":\"%s\"", vt_family_name(c->family));
    if (c->act == VT_ACT_QUICK_GELU) vt_strbuf_printf(&b, ",\"act\":\"quick_gelu\"");
    if (c->act == VT_ACT_GELU_TANH) vt_strbuf_printf(&b, ",\"act\":\"gelu_tanh\"");
    if (c->map_head) vt_strbuf_printf(&b, ",\"map_head\":1");
    if (c->rel_pos_bias) vt_strbuf_printf(&b, ",\"rel_pos_bias\":1");
    if (c->mlp_swiglu) vt_strbuf_printf(&b, ",\"mlp\":\"swiglu\"");
    if (c->proj_dim) vt_strbuf_printf(&b, ",\"proj_dim\":%d", c->proj_dim);
    vt_strbuf_append(&b, "}", 1);
    if (b.failed) {
        vt_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

int vt_config_same_arch(const vt_vit_config *a, const vt_vit_config *b) {
    vt_vit_config x = *a, y = *b;
    x.name[0] = y.name[0] = '\0';
    char *ja = vt_config_to_json(&x), *jb = vt_config_to_json(&y);
    int same = ja && jb && !strcmp(ja, jb);
    free(ja);
    free(jb);
    return same;
}

/* ---- counts */

int64_t vt_config_num_params(const vt_vit_config *c) {
    int64_t D = c->dim, H = c->mlp_dim, n = 0;
    n += D * vt_patch_inputs(c) + (c->patch_bias ? D : 0) + (c->patch_norm ? 2 * D : 0);
    n += (int64_t)(c->class_token + c->dist_token + c->reg_tokens) * D;
    n += (int64_t)vt_pos_len(c) * D;
    n += c->pre_norm ? 2 * D : 0;
    int64_t blk = 4 * D;                                    /* two norms */
    blk += 3 * D * D + (c->qkv_bias ? 3 * D : 0);           /* qkv */
    blk += c->qk_norm ? 4 * (D / c->heads) : 0;
    blk += D * D + D;                                       /* proj */
    int64_t H1 = vt_fc1_rows(c);
    blk += H1 * D + H1 + D * H + D;                         /* mlp */
    blk += c->layer_scale ? 2 * D : 0;
    blk += c->rel_pos_bias ? (int64_t)vt_rel_pos_rows(vt_pos_grid_h(c), vt_pos_grid_w(c)) * c->heads : 0;
    n += blk * c->depth;
    n += 2 * D;                                             /* norm or fc_norm */
    n += (int64_t)c->proj_dim * D;                          /* CLIP's projection */
    if (c->map_head) n += D + 3 * D * D + 3 * D + D * D + D + 2 * D + 2 * H * D + H + D; /* SigLIP's pooling head */
    if (vt_has_cls_head(c)) n += (D + 1) * c->num_classes * (c->dist_token && c->dist_average ? 2 : 1);
    if (c->task == VT_TASK_SEGMENT) {
        int64_t C = c->num_classes, E = c->dec_dim;
        if (c->seg_decoder == VT_SEG_LINEAR) n += (D + 1) * C;
        else n += (D + 1) * E + C * E + c->dec_depth * (4 * E + 3 * E * E + 3 * E + E * E + E + 8 * E * E + 5 * E) +
                  2 * E + 2 * E * E + 2 * C;
    }
    if (c->task == VT_TASK_DETECT) {
        n += (int64_t)c->det_tokens * D;                              /* detection tokens */
        if (c->mid_pos && c->depth > 1) n += (int64_t)(c->depth - 1) * vt_pos_len(c) * D;
        n += 2 * (2 * (D * D + D)) + (D + 1) * (c->num_classes + 1) + (D + 1) * 4; /* the two 3-layer MLPs */
    }
    return n;
}

double vt_config_flops(const vt_vit_config *c, int height, int width) {
    double D = c->dim, Hd = c->mlp_dim;
    double N = (double)(height / c->patch) * (double)(width / c->patch);
    double T = N + vt_prefix_tokens(c) + c->det_tokens;
    double f = 2.0 * N * D * vt_patch_inputs(c);           /* patch embedding */
    double blk = 2.0 * T * D * 3 * D                        /* qkv */
                 + 2.0 * 2.0 * T * T * D                    /* scores and weighted sum */
                 + 2.0 * T * D * D                          /* proj */
                 + 2.0 * T * D * (vt_fc1_rows(c) + Hd);      /* mlp */
    f += blk * c->depth;
    f += 2.0 * D * c->proj_dim;
    if (c->map_head) f += 2.0 * T * D * 2 * D + 4.0 * T * D + 2.0 * D * D + 4.0 * D * Hd; /* keys, values, pooling */
    if (vt_has_cls_head(c)) f += 2.0 * D * c->num_classes * (c->dist_token && c->dist_average ? 2 : 1);
    if (c->task == VT_TASK_SEGMENT) {
        double C = c->num_classes, E = c->dec_dim, Td = N + C;
        if (c->seg_decoder == VT_SEG_LINEAR) f += 2.0 * N * D * C;
        else f += 2.0 * N * D * E + c->dec_depth * (2.0 * Td * E * 3 * E + 4.0 * Td * Td * E + 2.0 * Td * E * E +
                                                    16.0 * Td * E * E) + 2.0 * Td * E * E + 2.0 * N * C * E;
    }
    if (c->task == VT_TASK_DETECT) f += 2.0 * c->det_tokens * D * (4.0 * D + c->num_classes + 5);
    return f;
}
