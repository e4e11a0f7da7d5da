#include "formats/hf.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prefixes[] = {"vit.", "deit.", "beit.", "data2vec_vision.", ""};

const char *vt_hf_prefix(const vt_safetensors *st) {
    char name[160];
    /* CLIPVisionModel, CLIPVisionModelWithProjection, CLIPModel (its vision half) */
    if (vt_st_find(st, "vision_model.embeddings.patch_embedding.weight")) return "vision_model.";
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(name, sizeof name, "%sembeddings.patch_embeddings.projection.weight", prefixes[i]);
        if (vt_st_find(st, name)) return prefixes[i];
    }
    return NULL;
}

/* DINOv2 (Dinov2Model, Dinov2WithRegistersModel) and CLIP's vision tower: their block and top-level names. */
static int family_name(const vt_vit_config *c, const char *timm, const char *prefix, char parts[3][160]) {
    int clip = c->family == VT_FAMILY_CLIP || c->family == VT_FAMILY_SIGLIP, layer, used = 0;
    char rest[96];
    if (sscanf(timm, "blocks.%d.%95s%n", &layer, rest, &used) == 2 && timm[used] == '\0') {
        const char *layers = clip ? "encoder.layers" : "encoder.layer";
        if (!strncmp(rest, "attn.qkv.", 9)) {
            static const char *dino[3] = {"attention.attention.query", "attention.attention.key",
                                          "attention.attention.value"};
            static const char *cl[3] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
            for (int i = 0; i < 3; i++)
                snprintf(parts[i], 160, "%s%s.%d.%s.%s", prefix, layers, layer, clip ? cl[i] : dino[i], rest + 9);
            return 3;
        }
        static const struct { const char *timm, *dino, *clip; } map[] = {
            {"norm1.", "norm1.", "layer_norm1."}, {"norm2.", "norm2.", "layer_norm2."},
            {"attn.proj.", "attention.output.dense.", "self_attn.out_proj."},
            {"mlp.fc1.", "mlp.fc1.", "mlp.fc1."}, {"mlp.fc2.", "mlp.fc2.", "mlp.fc2."},
            {"ls1.gamma", "layer_scale1.lambda1", NULL}, {"ls2.gamma", "layer_scale2.lambda1", NULL},
        };
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            size_t l = strlen(map[i].timm);
            if (strncmp(rest, map[i].timm, l)) continue;
            const char *hf = clip ? map[i].clip : map[i].dino;
            if (!hf) return 0;
            if (!clip && c->mlp_swiglu && !strncmp(rest, "mlp.fc", 6)) hf = rest[6] == '1' ? "mlp.weights_in." : "mlp.weights_out.";
            snprintf(parts[0], 160, "%s%s.%d.%s%s", prefix, layers, layer, hf, rest + l);
            return 1;
        }
        return 0;
    }
    static const struct { const char *timm, *dino, *clip; } top[] = {
        {"cls_token", "embeddings.cls_token", "embeddings.class_embedding"},
        {"reg_token", "embeddings.register_tokens", NULL},
        {"pos_embed", "embeddings.position_embeddings", "embeddings.position_embedding.weight"},
        {"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight", "embeddings.patch_embedding.weight"},
        {"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias", "embeddings.patch_embedding.bias"},
        {"norm_pre.weight", NULL, "pre_layrnorm.weight"}, /* sic: HF's name */
        {"norm_pre.bias", NULL, "pre_layrnorm.bias"},
        {"norm.weight", "layernorm.weight", "post_layernorm.weight"},
        {"norm.bias", "layernorm.bias", "post_layernorm.bias"},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(timm, top[i].timm)) {
            const char *hf = clip ? top[i].clip : top[i].dino;
            if (!hf) return 0;
            snprintf(parts[0], 160, "%s%s", prefix, hf);
            return 1;
        }
    if (c->family == VT_FAMILY_SIGLIP && !strncmp(timm, "map_head.", 9)) { /* SiglipMultiheadAttentionPoolingHead */
        snprintf(parts[0], 160, "%shead.%s", prefix, timm + 9);
        return 1;
    }
    if (clip && !strcmp(timm, "embed_proj.weight")) {
        snprintf(parts[0], 160, "visual_projection.weight"); /* outside vision_model. */
        return 1;
    }
    return 0;
}

/* BeitModel / BeitForImageClassification and Data2VecVision*: HF ViT's block names plus lambda_1 /
 * lambda_2 (LayerScale), the pooler's layernorm (mean pooling) and the classifier. The relative position
 * bias tables, the q / v biases and absent position embeddings are bound by the loader (vt_hf_beit_*). */
static int beit_name(const char *timm, const char *prefix, char parts[3][160]) {
    int layer, used = 0;
    char rest[96];
    if (sscanf(timm, "blocks.%d.%95s%n", &layer, rest, &used) == 2 && timm[used] == '\0') {
        const char *hf = !strcmp(rest, "ls1.gamma") ? "lambda_1" : !strcmp(rest, "ls2.gamma") ? "lambda_2" : NULL;
        if (!hf) return -1; /* as HF ViT */
        snprintf(parts[0], 160, "%sencoder.layer.%d.%s", prefix, layer, hf);
        return 1;
    }
    if (!strncmp(timm, "fc_norm.", 8)) {
        snprintf(parts[0], 160, "%spooler.layernorm.%s", prefix, timm + 8);
        return 1;
    }
    return -1;
}

int vt_hf_name(const vt_vit_config *c, const char *timm, const char *prefix, char parts[3][160]) {
    if (c->family == VT_FAMILY_BEIT) {
        int k = beit_name(timm, prefix, parts);
        if (k >= 0) return k;
    } else if (c->family != VT_FAMILY_VIT) {
        return family_name(c, timm, prefix, parts);
    }
    int dist_average = c->dist_average;
    int layer, used = 0;
    char rest[96];
    if (sscanf(timm, "blocks.%d.%95s%n", &layer, rest, &used) == 2 && timm[used] == '\0') {
        static const struct { const char *timm, *hf; } map[] = {
            {"norm1.", "layernorm_before."}, {"norm2.", "layernorm_after."},
            {"attn.proj.", "attention.output.dense."}, {"mlp.fc1.", "intermediate.dense."},
            {"mlp.fc2.", "output.dense."},
        };
        if (!strncmp(rest, "attn.qkv.", 9)) {
            static const char *qkv[3] = {"query", "key", "value"};
            for (int i = 0; i < 3; i++)
                snprintf(parts[i], 160, "%sencoder.layer.%d.attention.attention.%s.%s", prefix, layer, qkv[i], rest + 9);
            return 3;
        }
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            size_t l = strlen(map[i].timm);
            if (!strncmp(rest, map[i].timm, l)) {
                snprintf(parts[0], 160, "%sencoder.layer.%d.%s%s", prefix, layer, map[i].hf, rest + l);
                return 1;
            }
        }
        return 0;
    }
    static const struct { const char *timm, *hf; int prefixed; } top[] = {
        {"cls_token", "embeddings.cls_token", 1},
        {"dist_token", "embeddings.distillation_token", 1},
        {"pos_embed", "embeddings.position_embeddings", 1},
        {"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight", 1},
        {"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias", 1},
        {"norm.weight", "layernorm.weight", 1},
        {"norm.bias", "layernorm.bias", 1},
        {"det_token", "embeddings.detection_tokens", 1},
        {"mid_pos_embed", "encoder.mid_position_embeddings", 1},
        {"head_dist.weight", "distillation_classifier.weight", 0},
        {"head_dist.bias", "distillation_classifier.bias", 0},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(timm, top[i].timm)) {
            snprintf(parts[0], 160, "%s%s", top[i].prefixed ? prefix : "", top[i].hf);
            return 1;
        }
    int i, n = 0;
    char what[8];
    if (sscanf(timm, "det_head.class.%d.%7s%n", &i, what, &n) == 2 && timm[n] == '\0') {
        snprintf(parts[0], 160, "class_labels_classifier.layers.%d.%s", i, what);
        return 1;
    }
    if (sscanf(timm, "det_head.box.%d.%7s%n", &i, what, &n) == 2 && timm[n] == '\0') {
        snprintf(parts[0], 160, "bbox_predictor.layers.%d.%s", i, what);
        return 1;
    }
    if (!strcmp(timm, "head.weight") || !strcmp(timm, "head.bias")) {
        snprintf(parts[0], 160, "%s.%s", dist_average ? "cls_classifier" : "classifier", timm + 5);
        return 1;
    }
    return 0;
}

static int cfg_int(const vt_json *j, const char *key, int fallback) {
    const vt_json *v = vt_json_get(j, key);
    if (v && v->type == VT_JSON_NUMBER && v->number == floor(v->number) && fabs(v->number) < 1e9) return (int)v->number;
    return fallback;
}

/* From an HF layout's tensors prefix + layers + ".i." + name: depth (the layers that have `norm`), mlp_dim
 * (layer 0's `fc1` rows; absent: 4 dim) and qkv_bias (layer 0 has `qbias`, or there are no layers). */
static void hf_block_shape(const vt_safetensors *st, const char *prefix, const char *layers, const char *norm,
                           const char *fc1, const char *qbias, vt_vit_config *c) {
    char name[200];
    c->depth = 0;
    for (;;) {
        snprintf(name, sizeof name, "%s%s.%d.%s", prefix, layers, c->depth, norm);
        if (!vt_st_find(st, name)) break;
        c->depth++;
    }
    snprintf(name, sizeof name, "%s%s.0.%s", prefix, layers, fc1);
    const vt_st_tensor *t = vt_st_find(st, name);
    c->mlp_dim = t && t->ndim == 2 ? (int)t->shape[0] : 4 * c->dim;
    snprintf(name, sizeof name, "%s%s.0.%s", prefix, layers, qbias);
    c->qkv_bias = c->depth == 0 || vt_st_find(st, name) != NULL;
}

/* The config.json settings every family reads alike: hidden_act (one of `acts`, a mask of 1 << vt_act;
 * absent: act_default), num_attention_heads, layer_norm_eps (absent: eps_default), and hidden_size /
 * num_hidden_layers checked against the weights. */
static vitc_status config_common(const vt_json *cj, const char *path, vt_act act_default, unsigned acts,
                                 double eps_default, vt_vit_config *c) {
    static const char *act_names[] = {"gelu", "quick_gelu", "gelu_pytorch_tanh"}; /* by vt_act */
    if (cj->type != VT_JSON_OBJECT) return vt_error(VITC_ERR_FORMAT, "%s: config.json is not an object", path);
    const char *act = vt_json_get_string(cj, "hidden_act", act_names[act_default]);
    int found = -1;
    for (int i = 0; i < 3; i++)
        if ((acts >> i & 1u) && !strcmp(act, act_names[i])) found = i;
    if (found < 0) {
        char list[64] = "";
        for (int i = 0; i < 3; i++)
            if (acts >> i & 1u)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", *list ? ", " : "", act_names[i]);
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (%s)", path, act, list);
    }
    c->act = (vt_act)found;
    c->heads = cfg_int(cj, "num_attention_heads", c->heads);
    c->ln_eps = (float)vt_json_get_number(cj, "layer_norm_eps", eps_default);
    int cfg_dim = cfg_int(cj, "hidden_size", c->dim), cfg_depth = cfg_int(cj, "num_hidden_layers", c->depth);
    if (cfg_dim != c->dim || cfg_depth != c->depth)
        return vt_error(VITC_ERR_SHAPE, "%s: config.json (hidden_size %d, %d layers) does not match the weights "
                                        "(%d, %d layers)", path, cfg_dim, cfg_depth, c->dim, c->depth);
    return VITC_OK;
}

static void arch_name(const vt_json *cj, vt_vit_config *c) {
    const vt_json *arch = cj ? vt_json_get(cj, "architectures") : NULL;
    if (arch && arch->type == VT_JSON_ARRAY && arch->count && arch->items[0].type == VT_JSON_STRING)
        snprintf(c->name, sizeof c->name, "%s", arch->items[0].string);
}

/* YolosForObjectDetection: the class token, detection tokens after the patches, position embeddings
 * [cls, grid, detection] at config.json's image_size (height, width), resampled with torch's plain
 * bicubic; optional mid position embeddings; two 3-layer MLP heads. c arrives with the backbone's
 * sizes read from the tensors. */
static vitc_status yolos_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                                const vt_st_tensor *det, const vt_st_tensor *pe, vt_vit_config *c) {
    const char *path = st->path;
    char name[160];
    if (det->ndim != 3 || det->shape[0] != 1 || det->shape[2] != c->dim || det->shape[1] < 1)
        return vt_error(VITC_ERR_SHAPE, "%s: %sembeddings.detection_tokens must be (1, tokens, %d)", path, prefix, c->dim);
    c->task = VT_TASK_DETECT;
    c->det_tokens = (int)det->shape[1];
    c->pos_interp = VT_POS_TORCH;
    const vt_st_tensor *cls = vt_st_find(st, "class_labels_classifier.layers.2.weight");
    if (!cls || cls->ndim != 2 || cls->shape[0] < 2)
        return vt_error(VITC_ERR_MISSING, "%s: missing tensor class_labels_classifier.layers.2.weight", path);
    c->num_classes = (int)cls->shape[0] - 1;
    snprintf(name, sizeof name, "%sencoder.mid_position_embeddings", prefix);
    c->mid_pos = vt_st_find(st, name) != NULL;
    int64_t grid = pe->shape[1] - 1 - c->det_tokens;
    int gh = 0, gw = 0;
    const vt_json *size = cj && cj->type == VT_JSON_OBJECT ? vt_json_get(cj, "image_size") : NULL;
    if (size && size->type == VT_JSON_ARRAY && size->count == 2) {
        gh = size->items[0].type == VT_JSON_NUMBER ? (int)size->items[0].number / c->patch : 0;
        gw = size->items[1].type == VT_JSON_NUMBER ? (int)size->items[1].number / c->patch : 0;
    } else if (size && size->type == VT_JSON_NUMBER) {
        gh = gw = (int)size->number / c->patch;
    } else { /* no config: a square grid */
        gh = gw = (int)llround(sqrt((double)(grid > 0 ? grid : 0)));
    }
    if (gh <= 0 || gw <= 0 || (int64_t)gh * gw != grid)
        return vt_error(VITC_ERR_SHAPE, "%s: %sembeddings.position_embeddings has %lld rows, not 1 + a %dx%d grid + %d "
                                        "detection tokens", path, prefix, (long long)pe->shape[1], gh, gw, c->det_tokens);
    c->pos_gh = gh, c->pos_gw = gw;
    c->img_size = gh * c->patch;
    c->heads = c->dim % 64 == 0 ? c->dim / 64 : 1;
    snprintf(c->name, sizeof c->name, "hf_yolos");
    if (cj) {
        vitc_status s = config_common(cj, path, VT_ACT_GELU, 1u << VT_ACT_GELU, 1e-12, c);
        if (s) return s;
        int n_det = cfg_int(cj, "num_detection_tokens", c->det_tokens);
        if (n_det != c->det_tokens)
            return vt_error(VITC_ERR_SHAPE, "%s: config.json has %d detection tokens, the weights %d", path, n_det,
                            c->det_tokens);
        if (vt_json_get_bool(cj, "use_mid_position_embeddings", c->mid_pos) != c->mid_pos)
            return vt_error(VITC_ERR_MISSING, "%s: config.json's use_mid_position_embeddings does not match the weights",
                            path);
        arch_name(cj, c);
    }
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}


/* A square grid of g x g rows in the position embeddings after `prefix` rows, or an error. */
static vitc_status square_grid(const char *path, const char *name, int64_t rows, int prefix, int *g) {
    int64_t grid = rows - prefix;
    *g = (int)llround(sqrt((double)(grid > 0 ? grid : 0)));
    if (grid <= 0 || (int64_t)*g * *g != grid)
        return vt_error(VITC_ERR_SHAPE, "%s: %s has %lld rows, not a square patch grid plus %d prefix token(s)", path,
                        name, (long long)rows, prefix);
    return VITC_OK;
}

/* Dinov2Model / Dinov2WithRegistersModel (prefix ""): LayerScale in every block, optional registers
 * (between the class token and the patches, without position embeddings: the class token's row is
 * folded into the class token at load, as timm converts them) and SwiGLU MLPs (mlp.weights_in /
 * weights_out). Position embeddings resampled as HF does: Dinov2Model with torch's plain bicubic
 * (size=, no antialias), Dinov2WithRegistersModel with antialias (timm's resampling). */
static vitc_status dinov2_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                                 vt_vit_config *c) {
    const char *path = st->path;
    char name[160];
    c->family = VT_FAMILY_DINOV2;
    c->layer_scale = 1;
    c->ln_eps = 1e-6f;
    c->num_classes = 0;
    c->dist_token = c->dist_average = 0;
    if (vt_st_find(st, "classifier.weight"))
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: Dinov2ForImageClassification's classifier is not supported (load the "
                                              "backbone, Dinov2Model, and use vitc embed --feature cls+mean)", path);
    c->depth = 0;
    for (;;) {
        snprintf(name, sizeof name, "%sencoder.layer.%d.norm1.weight", prefix, c->depth);
        if (!vt_st_find(st, name)) break;
        c->depth++;
    }
    snprintf(name, sizeof name, "%sencoder.layer.0.mlp.weights_out.weight", prefix);
    const vt_st_tensor *wo = vt_st_find(st, name);
    c->mlp_swiglu = wo != NULL;
    snprintf(name, sizeof name, "%sencoder.layer.0.mlp.fc1.weight", prefix);
    const vt_st_tensor *fc1 = vt_st_find(st, name);
    if (wo && wo->ndim == 2) c->mlp_dim = (int)wo->shape[1];
    else if (fc1 && fc1->ndim == 2) c->mlp_dim = (int)fc1->shape[0];
    else c->mlp_dim = 4 * c->dim;
    snprintf(name, sizeof name, "%sencoder.layer.0.attention.attention.query.bias", prefix);
    c->qkv_bias = c->depth == 0 || vt_st_find(st, name) != NULL;
    snprintf(name, sizeof name, "%sembeddings.register_tokens", prefix);
    const vt_st_tensor *reg = vt_st_find(st, name);
    if (reg && (reg->ndim != 3 || reg->shape[2] != c->dim))
        return vt_error(VITC_ERR_SHAPE, "%s: %s must be (1, registers, %d)", path, name, c->dim);
    c->reg_tokens = reg ? (int)reg->shape[1] : 0;
    c->no_embed_class = c->reg_tokens > 0;
    c->pos_interp = c->reg_tokens ? VT_POS_TIMM : VT_POS_TORCH;
    snprintf(name, sizeof name, "%sembeddings.position_embeddings", prefix);
    const vt_st_tensor *pe = vt_st_find(st, name);
    int g;
    vitc_status s = square_grid(path, name, pe->shape[1], 1, &g);
    if (s) return s;
    c->img_size = g * c->patch;
    c->heads = c->dim % 64 == 0 ? c->dim / 64 : 1;
    snprintf(c->name, sizeof c->name, "%s", c->reg_tokens ? "Dinov2WithRegistersModel" : "Dinov2Model");
    if (cj) {
        if ((s = config_common(cj, path, VT_ACT_GELU, 1u << VT_ACT_GELU, 1e-6, c))) return s;
        if (vt_json_get_bool(cj, "use_swiglu_ffn", c->mlp_swiglu) != c->mlp_swiglu)
            return vt_error(VITC_ERR_MISSING, "%s: missing tensor %sencoder.layer.0.mlp.%s.weight (config.json's "
                                              "use_swiglu_ffn)", path, prefix, c->mlp_swiglu ? "fc1" : "weights_in");
        int regs = cfg_int(cj, "num_register_tokens", c->reg_tokens);
        if (regs && !c->reg_tokens)
            return vt_error(VITC_ERR_MISSING, "%s: missing tensor %sembeddings.register_tokens", path, prefix);
        if (regs != c->reg_tokens)
            return vt_error(VITC_ERR_SHAPE, "%s: config.json has %d register tokens, the weights %d", path, regs,
                            c->reg_tokens);
        arch_name(cj, c);
    }
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}

/* CLIPVisionModel / CLIPVisionModelWithProjection / CLIPModel (prefix "vision_model."): patch
 * projection without bias, pre_layrnorm, post_layernorm on the class token (applied to every final
 * token here: the same pooled numbers), quick_gelu or gelu, visual_projection when present.
 * config.json's vision settings are its "vision_config" object for CLIPModel. */
static vitc_status clip_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                               vt_vit_config *c) {
    const char *path = st->path;
    char name[160];
    c->family = VT_FAMILY_CLIP;
    c->act = VT_ACT_QUICK_GELU; /* CLIPVisionConfig's default */
    c->pre_norm = 1;
    c->patch_bias = 0;
    c->ln_eps = 1e-5f;
    c->num_classes = 0;
    c->dist_token = c->dist_average = 0;
    c->pos_interp = VT_POS_TORCH;
    hf_block_shape(st, prefix, "encoder.layers", "layer_norm1.weight", "mlp.fc1.weight", "self_attn.q_proj.bias", c);
    const vt_st_tensor *proj = vt_st_find(st, "visual_projection.weight");
    if (proj && (proj->ndim != 2 || proj->shape[1] != c->dim || proj->shape[0] < 1))
        return vt_error(VITC_ERR_SHAPE, "%s: visual_projection.weight must be (projection_dim, %d)", path, c->dim);
    c->proj_dim = proj ? (int)proj->shape[0] : 0;
    snprintf(name, sizeof name, "%sembeddings.position_embedding.weight", prefix);
    const vt_st_tensor *pe = vt_st_find(st, name);
    if (!pe) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    if (pe->ndim != 2 || pe->shape[1] != c->dim)
        return vt_error(VITC_ERR_SHAPE, "%s: %s must be (positions, %d)", path, name, c->dim);
    int g;
    vitc_status s = square_grid(path, name, pe->shape[0], 1, &g);
    if (s) return s;
    c->img_size = g * c->patch;
    c->heads = c->dim % 64 == 0 ? c->dim / 64 : 1;
    snprintf(c->name, sizeof c->name, "%s", c->proj_dim ? "CLIPVisionModelWithProjection" : "CLIPVisionModel");
    const vt_json *vc = cj ? vt_json_get(cj, "vision_config") : NULL;
    if (cj) arch_name(cj, c);
    if (vc && vc->type == VT_JSON_OBJECT) cj = vc;
    if (cj && (s = config_common(cj, path, VT_ACT_QUICK_GELU, 1u << VT_ACT_QUICK_GELU | 1u << VT_ACT_GELU, 1e-5, c)))
        return s;
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}

/* SiglipVisionModel / SiglipModel (prefix "vision_model.", no class_embedding): patch projection with bias,
 * no class token, no pre-norm, post_layernorm on every token, gelu_pytorch_tanh, and the pooled output from
 * the attention-pooling head vision_model.head.* (vision_use_head). Position embeddings at other sizes with
 * torch's plain bicubic (size=). config.json's vision settings are "vision_config" for SiglipModel. */
static vitc_status siglip_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                                 vt_vit_config *c) {
    const char *path = st->path;
    char name[160];
    c->family = VT_FAMILY_SIGLIP;
    c->act = VT_ACT_GELU_TANH;
    c->class_token = 0;
    c->pool = VITC_POOL_AVG;
    c->fc_norm = 0;
    c->map_head = 1;
    c->ln_eps = 1e-6f;
    c->num_classes = 0;
    c->dist_token = c->dist_average = 0;
    c->pos_interp = VT_POS_TORCH;
    snprintf(name, sizeof name, "%sembeddings.patch_embedding.bias", prefix);
    c->patch_bias = vt_st_find(st, name) != NULL;
    hf_block_shape(st, prefix, "encoder.layers", "layer_norm1.weight", "mlp.fc1.weight", "self_attn.q_proj.bias", c);
    snprintf(name, sizeof name, "%sembeddings.position_embedding.weight", prefix);
    const vt_st_tensor *pe = vt_st_find(st, name);
    if (!pe) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    if (pe->ndim != 2 || pe->shape[1] != c->dim)
        return vt_error(VITC_ERR_SHAPE, "%s: %s must be (positions, %d)", path, name, c->dim);
    int g;
    vitc_status s = square_grid(path, name, pe->shape[0], 0, &g);
    if (s) return s;
    c->img_size = g * c->patch;
    c->heads = c->dim % 64 == 0 ? c->dim / 64 : 1;
    snprintf(c->name, sizeof c->name, "SiglipVisionModel");
    const vt_json *vc = cj ? vt_json_get(cj, "vision_config") : NULL;
    if (cj) arch_name(cj, c);
    if (vc && vc->type == VT_JSON_OBJECT) cj = vc;
    int use_head = 1;
    if (cj) {
        if ((s = config_common(cj, path, VT_ACT_GELU_TANH, 1u << VT_ACT_GELU_TANH | 1u << VT_ACT_GELU, 1e-6, c)))
            return s;
        use_head = vt_json_get_bool(cj, "vision_use_head", 1);
    }
    if (!use_head)
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: a SigLIP tower without its attention-pooling head (vision_use_head "
                                              "false) is not supported", path);
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}

/* BeitModel / BeitForImageClassification / Data2VecVision*: HF ViT's layout with the relative position bias
 * (per layer, or one shared table under encoder.relative_position_bias), query and value biases without a
 * key bias, LayerScale (lambda_1 / lambda_2), mean pooling through pooler.layernorm (use_mean_pooling) or the
 * final layernorm on the class token, absolute position embeddings only when the file has them. */
static vitc_status beit_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                               vt_vit_config *c) {
    const char *path = st->path;
    char name[200];
    c->family = VT_FAMILY_BEIT;
    c->rel_pos_bias = 1;
    c->pos_interp = VT_POS_TORCH; /* at other sizes: bicubic position embeddings, bilinear bias tables (HF's rules) */
    c->class_token = 1;
    c->dist_token = c->dist_average = 0;
    c->ln_eps = 1e-12f;
    hf_block_shape(st, prefix, "encoder.layer", "layernorm_before.weight", "intermediate.dense.weight",
                   "attention.attention.query.bias", c);
    snprintf(name, sizeof name, "%sencoder.layer.0.lambda_1", prefix);
    c->layer_scale = vt_st_find(st, name) != NULL;
    snprintf(name, sizeof name, "%spooler.layernorm.weight", prefix);
    c->fc_norm = vt_st_find(st, name) != NULL;
    c->pool = c->fc_norm ? VITC_POOL_AVG : VITC_POOL_TOKEN;
    const vt_st_tensor *head = vt_st_find(st, "classifier.weight");
    c->num_classes = head && head->ndim == 2 ? (int)head->shape[0] : 0;
    const vt_st_tensor *tab = vt_hf_beit_table(st, prefix, 0);
    if (!tab) {
        snprintf(name, sizeof name, "%sencoder.layer.0.attention.attention.relative_position_bias.relative_position_bias_table",
                 prefix);
        return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s (or a shared %sencoder.relative_position_bias."
                        "relative_position_bias_table)", path, name, prefix);
    }
    int64_t side = tab->ndim == 2 ? (int64_t)llround(sqrt((double)(tab->shape[0] - 3))) : 0;
    if (tab->ndim != 2 || side < 1 || side * side != tab->shape[0] - 3 || side % 2 == 0)
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be ((2 g - 1)^2 + 3, heads) for a g x g patch grid", path,
                        tab->name);
    int g = (int)(side + 1) / 2;
    c->img_size = g * c->patch;
    c->heads = (int)tab->shape[1];
    snprintf(name, sizeof name, "%sembeddings.position_embeddings", prefix);
    const vt_st_tensor *pe = vt_st_find(st, name);
    if (pe && (pe->ndim != 3 || pe->shape[1] != (int64_t)g * g + 1 || pe->shape[2] != c->dim))
        return vt_error(VITC_ERR_SHAPE, "%s: %s must be (1, %d, %d)", path, name, g * g + 1, c->dim);
    snprintf(c->name, sizeof c->name, "%s", c->num_classes ? "BeitForImageClassification" : "BeitModel");
    if (cj) {
        vitc_status s = config_common(cj, path, VT_ACT_GELU, 1u << VT_ACT_GELU, 1e-12, c);
        if (s) return s;
        arch_name(cj, c);
        int cfg_heads = cfg_int(cj, "num_attention_heads", c->heads);
        if (cfg_heads != (int)tab->shape[1])
            return vt_error(VITC_ERR_SHAPE, "%s: config.json has %d heads, the relative position bias %lld", path,
                            cfg_heads, (long long)tab->shape[1]);
    }
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}

const vt_st_tensor *vt_hf_beit_table(const vt_safetensors *st, const char *prefix, int layer) {
    char name[200];
    snprintf(name, sizeof name, "%sencoder.layer.%d.attention.attention.relative_position_bias.relative_position_bias_table",
             prefix, layer);
    const vt_st_tensor *t = vt_st_find(st, name);
    if (t) return t;
    snprintf(name, sizeof name, "%sencoder.relative_position_bias.relative_position_bias_table", prefix);
    return vt_st_find(st, name);
}

vitc_status vt_hf_config(const vt_safetensors *st, const char *prefix, const vt_json *cj, int heads_override,
                         vt_vit_config *c) {
    const char *path = st->path;
    char name[160];
    vt_config_defaults(c);
    if (cj && cj->type != VT_JSON_OBJECT) return vt_error(VITC_ERR_FORMAT, "%s: config.json is not an object", path);
    if (!strcmp(prefix, "vision_model.")) {
        snprintf(name, sizeof name, "%sembeddings.patch_embedding.weight", prefix);
        const vt_st_tensor *pw = vt_st_find(st, name);
        if (!pw || pw->ndim != 4 || pw->shape[2] != pw->shape[3])
            return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be (dim, channels, patch, patch)", path, name);
        c->dim = (int)pw->shape[0], c->in_chans = (int)pw->shape[1], c->patch = (int)pw->shape[2];
        snprintf(name, sizeof name, "%sembeddings.class_embedding", prefix);
        if (!vt_st_find(st, name)) return siglip_config(st, prefix, cj, heads_override, c);
        return clip_config(st, prefix, cj, heads_override, c);
    }
    c->ln_eps = 1e-12f; /* HF ViTConfig default */
    snprintf(name, sizeof name, "%sembeddings.patch_embeddings.projection.weight", prefix);
    const vt_st_tensor *pw = vt_st_find(st, name);
    if (!pw || pw->ndim != 4 || pw->shape[2] != pw->shape[3])
        return vt_error(VITC_ERR_SHAPE, "%s: tensor %s must be (dim, channels, patch, patch)", path, name);
    c->dim = (int)pw->shape[0];
    c->in_chans = (int)pw->shape[1];
    c->patch = (int)pw->shape[2];
    if (vt_hf_beit_table(st, prefix, 0)) return beit_config(st, prefix, cj, heads_override, c);
    snprintf(name, sizeof name, "%sencoder.layer.0.norm1.weight", prefix);
    const vt_st_tensor *dino_norm = vt_st_find(st, name);
    snprintf(name, sizeof name, "%sembeddings.position_embeddings", prefix);
    if (dino_norm && vt_st_find(st, name) && vt_st_find(st, name)->ndim == 3) return dinov2_config(st, prefix, cj, heads_override, c);
    snprintf(name, sizeof name, "%sembeddings.distillation_token", prefix);
    c->dist_token = vt_st_find(st, name) != NULL;
    c->dist_average = vt_st_find(st, "cls_classifier.weight") != NULL;
    hf_block_shape(st, prefix, "encoder.layer", "layernorm_before.weight", "intermediate.dense.weight",
                   "attention.attention.query.bias", c);
    const vt_st_tensor *head = vt_st_find(st, c->dist_average ? "cls_classifier.weight" : "classifier.weight");
    c->num_classes = head && head->ndim == 2 ? (int)head->shape[0] : 0;
    snprintf(name, sizeof name, "%sembeddings.position_embeddings", prefix);
    const vt_st_tensor *pe = vt_st_find(st, name);
    if (!pe || pe->ndim != 3) return vt_error(VITC_ERR_MISSING, "%s: missing tensor %s", path, name);
    snprintf(name, sizeof name, "%sembeddings.detection_tokens", prefix);
    const vt_st_tensor *det = vt_st_find(st, name);
    if (det) return yolos_config(st, prefix, cj, heads_override, det, pe, c);
    int64_t grid = pe->shape[1] - 1 - c->dist_token;
    int g = (int)llround(sqrt((double)(grid > 0 ? grid : 0)));
    if (grid <= 0 || (int64_t)g * g != grid)
        return vt_error(VITC_ERR_SHAPE, "%s: %s has %lld rows, not a square patch grid plus prefix tokens", path, name,
                        (long long)pe->shape[1]);
    c->img_size = g * c->patch;
    c->heads = c->dim % 64 == 0 ? c->dim / 64 : 1;
    snprintf(c->name, sizeof c->name, "%s", c->dist_token ? "hf_deit" : "hf_vit");
    if (cj) {
        vitc_status s = config_common(cj, path, VT_ACT_GELU, 1u << VT_ACT_GELU, 1e-12, c);
        if (s) return s;
        arch_name(cj, c);
    }
    if (heads_override > 0) c->heads = heads_override;
    return vt_config_validate(c, path);
}

void vt_hf_preprocess(const vt_json *pp, const vt_vit_config *c, vitc_preprocess_params *p) {
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    *p = vitc_preprocess_default_params();
    p->size = c->img_size;
    if (c->task == VT_TASK_DETECT) { /* YolosImageProcessor: shortest edge 800, longest 1333, bilinear, ImageNet */
        p->size = 800;
        p->max_size = 1333;
        p->crop_pct = 1.0f;
        p->interp = VITC_INTERP_BILINEAR;
        memcpy(p->mean, imagenet_mean, sizeof p->mean);
        memcpy(p->std, imagenet_std, sizeof p->std);
        if (!pp || pp->type != VT_JSON_OBJECT) return;
        const vt_json *size = vt_json_get(pp, "size");
        if (size && size->type == VT_JSON_OBJECT) {
            p->size = cfg_int(size, "shortest_edge", p->size);
            p->max_size = cfg_int(size, "longest_edge", p->max_size);
        }
        if (p->size <= 0 || p->size > 16384) p->size = 800;
        if (p->max_size < p->size || p->max_size > 16384) p->max_size = 16384;
    } else if (c->family == VT_FAMILY_CLIP) { /* CLIPImageProcessor: shortest edge 224, centre crop 224, bicubic */
        static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
        static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
        p->size = 224;
        p->squash = 0;
        p->crop_pct = 1.0f;
        p->interp = VITC_INTERP_BICUBIC;
        memcpy(p->mean, clip_mean, sizeof p->mean);
        memcpy(p->std, clip_std, sizeof p->std);
    } else if (c->family == VT_FAMILY_SIGLIP) { /* SiglipImageProcessor: squash to the size, bicubic, mean = std = 0.5 */
        p->squash = 1;
        p->crop_pct = 1.0f;
        p->interp = VITC_INTERP_BICUBIC;
    } else if (c->family == VT_FAMILY_DINOV2) { /* BitImageProcessor (DINOv2): shortest edge 256, crop 224, bicubic */
        p->size = 224;
        p->squash = 0;
        p->crop_pct = 224.0f / 256.0f;
        p->interp = VITC_INTERP_BICUBIC;
        memcpy(p->mean, imagenet_mean, sizeof p->mean);
        memcpy(p->std, imagenet_std, sizeof p->std);
    } else if (c->dist_token) { /* DeiTImageProcessor defaults: 256 x 256, centre crop 224, bicubic, ImageNet stats */
        p->squash = 1;
        p->crop_pct = 224.0f / 256.0f;
        p->interp = VITC_INTERP_BICUBIC;
        memcpy(p->mean, imagenet_mean, sizeof p->mean);
        memcpy(p->std, imagenet_std, sizeof p->std);
    } else { /* ViTImageProcessor defaults: squash to size, bilinear, mean = std = 0.5 */
        p->squash = 1;
        p->crop_pct = 1.0f;
        p->interp = VITC_INTERP_BILINEAR;
    }
    if (!pp || pp->type != VT_JSON_OBJECT) return;
    int resize = p->size, squash = 1;
    if (c->task == VT_TASK_DETECT) goto stats;
    const vt_json *size = vt_json_get(pp, "size");
    if (size && size->type == VT_JSON_NUMBER) {
        resize = (int)size->number;
        squash = c->family == VT_FAMILY_VIT; /* CLIP's and BitImageProcessor's int size is the shortest edge */
    }
    else if (size && size->type == VT_JSON_OBJECT) {
        if (vt_json_get(size, "shortest_edge")) {
            resize = cfg_int(size, "shortest_edge", resize);
            squash = 0;
        } else {
            resize = cfg_int(size, "height", resize);
        }
    }
    int out = resize;
    if (vt_json_get_bool(pp, "do_center_crop", 0)) {
        const vt_json *crop = vt_json_get(pp, "crop_size");
        if (crop && crop->type == VT_JSON_NUMBER) out = (int)crop->number;
        else if (crop && crop->type == VT_JSON_OBJECT) out = cfg_int(crop, "height", out);
    }
    if (resize > 0 && out > 0 && out <= resize) {
        p->size = out;
        p->crop_pct = (float)out / (float)resize;
        p->squash = squash;
    }
stats:;
    int resample = cfg_int(pp, "resample", p->interp == VITC_INTERP_BILINEAR ? 2 : 3);
    p->interp = resample == 2 ? VITC_INTERP_BILINEAR : VITC_INTERP_BICUBIC;
    const vt_json *mean = vt_json_get(pp, "image_mean"), *std = vt_json_get(pp, "image_std");
    for (int i = 0; i < 3; i++) {
        if (mean && mean->type == VT_JSON_ARRAY && mean->count == 3 && mean->items[i].type == VT_JSON_NUMBER)
            p->mean[i] = (float)mean->items[i].number;
        if (std && std->type == VT_JSON_ARRAY && std->count == 3 && std->items[i].type == VT_JSON_NUMBER &&
            std->items[i].number > 0)
            p->std[i] = (float)std->items[i].number;
    }
}
