/* vitc info MODEL: architecture, parameters, FLOPs, preprocessing and labels. */
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "model/model.h"
#include "kernels/int8.h"
#include "vitc.h"

#include <stdio.h>
#include <string.h>

static const char *yes(int v) { return v ? "yes" : "no"; }

int cmd_info(int argc, char **argv) {
    vt_model_opts mo;
    int json = 0;
    vt_option opts[VT_MODEL_OPTS_COUNT + 1];
    vt_model_opts_bind(&mo, opts);
    opts[VT_MODEL_OPTS_COUNT] = (vt_option){"json", VT_OPT_FLAG, &json, "print one JSON object", 0};
    const char *pos[1];
    int npos;
    int r = vt_parse_args("info", "vitc info MODEL [--json] [--heads N] [--labels FILE] [--config FILE]", argc, argv,
                          opts, VT_MODEL_OPTS_COUNT + 1, pos, 1, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "vitc info: needs exactly one MODEL (see vitc info --help)\n");
        return 2;
    }
    vitc_model *m = vt_model_opts_load("info", pos[0], &mo, opts);
    if (!m) return 1;
    vitc_model_info i;
    vitc_model_get_info(m, &i);
    const vitc_preprocess_params *p = &i.preprocess;
    const char *interp = p->interp == VITC_INTERP_BILINEAR ? "bilinear" : "bicubic";
    const char *pool = i.pool == VITC_POOL_AVG ? "avg" : "token";
    if (json) {
        vt_strbuf b = {0};
        vt_strbuf_append(&b, "{\"file\":", 8);
        vt_strbuf_json_string(&b, pos[0]);
        vt_strbuf_append(&b, ",\"name\":", 8);
        vt_strbuf_json_string(&b, i.name);
        vt_strbuf_printf(&b, ",\"task\":\"%s\"", i.task);
        if (vitc_model_int8(m)) vt_strbuf_printf(&b, ",\"int8\":\"%s\"", vitc_model_int8(m) == 2 ? "static" : "dynamic");
        if (vitc_model_int8(m)) vt_strbuf_printf(&b, ",\"int8_attention\":%s", vitc_model_int8_attention(m) ? "true" : "false");
        const vt_vit_config *fc = &m->cfg; /* the families' keys: absent for plain ViTs */
        if (fc->family != VT_FAMILY_VIT)
            vt_strbuf_printf(&b, ",\"family\":\"%s\",\"mlp\":\"%s\",\"act\":\"%s\",\"proj_dim\":%d",
                             vt_family_name(fc->family), fc->mlp_swiglu ? "swiglu" : "mlp",
                             fc->mlp_swiglu ? "silu" : fc->act == VT_ACT_QUICK_GELU ? "quick_gelu"
                             : fc->act == VT_ACT_GELU_TANH ? "gelu_tanh" : "gelu", fc->proj_dim);
        if (fc->rel_pos_bias) vt_strbuf_printf(&b, ",\"rel_pos_bias\":true");
        if (i.decoder)
            vt_strbuf_printf(&b, ",\"decoder\":{\"type\":\"%s\",\"dim\":%d,\"depth\":%d,\"heads\":%d}", i.decoder,
                             i.dec_dim, i.dec_depth, i.dec_heads);
        if (i.det_tokens)
            vt_strbuf_printf(&b, ",\"detection\":{\"det_tokens\":%d,\"mid_pos\":%s,\"max_size\":%d}", i.det_tokens,
                             i.mid_pos ? "true" : "false", p->max_size);
        vt_strbuf_printf(&b,
                         ",\"source\":\"%s\",\"dim\":%d,\"depth\":%d,\"heads\":%d,\"mlp_dim\":%d,\"patch_size\":%d,"
                         "\"patch_kernel\":%d,\"image_size\":%d,\"in_chans\":%d,\"num_classes\":%d,\"class_token\":%d,\"dist_token\":%d,"
                         "\"reg_tokens\":%d,\"no_embed_class\":%d,\"pre_norm\":%d,\"qkv_bias\":%d,\"qk_norm\":%d,"
                         "\"layer_scale\":%d,\"fc_norm\":%d,\"pool\":\"%s\",\"ln_eps\":%g,\"params\":%lld,"
                         "\"flops\":%.6g,\"preprocess\":{\"size\":%d,\"crop_pct\":%g,\"interpolation\":\"%s\","
                         "\"mean\":[%g,%g,%g],\"std\":[%g,%g,%g],\"squash\":%s},\"labels\":",
                         i.source, i.dim, i.depth, i.heads, i.mlp_dim, i.patch_size, i.patch_kernel, i.image_size, i.in_chans,
                         i.num_classes, i.class_token, i.dist_token, i.reg_tokens, i.no_embed_class, i.pre_norm,
                         i.qkv_bias, i.qk_norm, i.layer_scale, i.fc_norm, pool, (double)i.ln_eps,
                         (long long)i.num_params, i.flops, p->size, (double)p->crop_pct, interp, (double)p->mean[0],
                         (double)p->mean[1], (double)p->mean[2], (double)p->std[0], (double)p->std[1],
                         (double)p->std[2], p->squash ? "true" : "false");
        if (i.has_labels) {
            vt_strbuf_append(&b, "[", 1);
            for (int k = 0; k < i.num_classes; k++) {
                if (k) vt_strbuf_append(&b, ",", 1);
                const char *l = vitc_model_label(m, k);
                vt_strbuf_json_string(&b, l ? l : "");
            }
            vt_strbuf_append(&b, "]}", 2);
        } else {
            vt_strbuf_append(&b, "null}", 5);
        }
        if (!b.failed) printf("%s\n", b.data);
        vt_strbuf_free(&b);
    } else {
        printf("model:        %s\n", pos[0]);
        printf("architecture: %s (%s names)\n", i.name, i.source);
        char kernel[48] = "";
        if (i.patch_kernel != i.patch_size)
            snprintf(kernel, sizeof kernel, " (overlapping: kernel %d)", i.patch_kernel);
        printf("shape:        dim %d, depth %d, heads %d, mlp %d, patch %d%s, image %d, %d channels\n", i.dim,
               i.depth, i.heads, i.mlp_dim, i.patch_size, kernel, i.image_size, i.in_chans);
        printf("tokens:       class %s, distillation %s, registers %d, position embeddings %s\n", yes(i.class_token),
               yes(i.dist_token), i.reg_tokens, i.no_embed_class ? "on patches only" : "on every token");
        printf("blocks:       qkv bias %s, qk norm %s, layer scale %s, pre-norm %s, layer norm eps %g\n",
               yes(i.qkv_bias), yes(i.qk_norm), yes(i.layer_scale), yes(i.pre_norm), (double)i.ln_eps);
        const vt_vit_config *fc = &m->cfg;
        if (fc->family != VT_FAMILY_VIT)
            printf("family:       %s: MLP %s, pooled output %s%s\n", vt_family_name(fc->family),
                   fc->mlp_swiglu ? "SwiGLU" : fc->act == VT_ACT_QUICK_GELU ? "quick_gelu"
                   : fc->act == VT_ACT_GELU_TANH ? "tanh GELU" : "gelu",
                   fc->map_head ? "the attention-pooling head over post_layernorm(tokens)"
                   : fc->family == VT_FAMILY_CLIP ? "post_layernorm(class token)"
                   : fc->fc_norm ? "fc_norm(mean patch token)" : "layernorm(class token)",
                   fc->proj_dim ? ", projected to the image embedding"
                   : fc->rel_pos_bias ? "; a relative position bias per block" : "");
        if (!i.num_classes && !strcmp(i.task, "classify"))
            printf("head:         none: features only (vitc embed; %s)\n",
                   fc->proj_dim ? "the projected embedding by default"
                   : fc->class_token ? "--feature cls+mean: class token + mean patch token" : "the pooled output");
        else if (i.det_tokens)
            printf("head:         detect: %d classes + no object, %d detection tokens, mid position embeddings %s\n",
                   i.num_classes, i.det_tokens, yes(i.mid_pos));
        else if (!i.decoder)
            printf("head:         classify: %d classes, pool %s%s\n", i.num_classes, pool, i.fc_norm ? " + fc_norm" : "");
        else if (!strcmp(i.decoder, "mask"))
            printf("head:         segment: %d classes, mask transformer (dim %d, depth %d, heads %d)\n", i.num_classes,
                   i.dec_dim, i.dec_depth, i.dec_heads);
        else
            printf("head:         segment: %d classes, linear decoder on the patch tokens\n", i.num_classes);
        printf("parameters:   %lld (%.2f M, %.1f MB as f32)\n", (long long)i.num_params, i.num_params / 1e6,
               i.num_params * 4.0 / 1e6);
        printf("FLOPs:        %.3f G per image at %dx%d\n", i.flops / 1e9, i.image_size, i.image_size);
        if (vitc_model_int8(m))
            printf("int8:         blocks' Linear weights per-channel int8, %s input scales, %s attention (%s kernel)\n",
                   vitc_model_int8(m) == 2 ? "static (calibrated)" : "dynamic (per-token)",
                   vitc_model_int8_attention(m) ? "int8" : "float", vt_q8_kernel_name());
        if (p->max_size > 0)
            printf("preprocess:   shorter side to %d, longer at most %d (no crop), %s, mean %g,%g,%g, std %g,%g,%g\n",
                   p->size, p->max_size, interp, (double)p->mean[0], (double)p->mean[1], (double)p->mean[2],
                   (double)p->std[0], (double)p->std[1], (double)p->std[2]);
        else
        printf("preprocess:   %s %d, crop_pct %g, %s, mean %g,%g,%g, std %g,%g,%g\n",
               p->squash ? "squash to" : "shorter side to", (int)(p->size / p->crop_pct + 1e-4), (double)p->crop_pct,
               interp, (double)p->mean[0], (double)p->mean[1], (double)p->mean[2], (double)p->std[0],
               (double)p->std[1], (double)p->std[2]);
        if (i.has_labels) {
            printf("labels:       ");
            int show = i.num_classes < 5 ? i.num_classes : 5;
            for (int k = 0; k < show; k++) printf("%s%s", k ? ", " : "", vitc_model_label(m, k));
            printf("%s\n", i.num_classes > show ? ", ..." : "");
        } else {
            printf("labels:       none (class indices are printed)\n");
        }
    }
    vitc_model_free(m);
    return 0;
}
