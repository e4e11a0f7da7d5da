/* Hugging Face ViT / DeiT checkpoints: parameter names, config.json and preprocessor_config.json. */
#ifndef VT_HF_H
#define VT_HF_H

#include "vitc.h"
#include "core/json.h"
#include "formats/safetensors.h"
#include "model/config.h"

/* The tensor-name prefix of an HF checkpoint ("vit.", "deit." or "" for a bare ViTModel / Dinov2Model,
 * "vision_model." for CLIP's vision tower),
 * or NULL when the file does not look like one. */
const char *vt_hf_prefix(const vt_safetensors *st);

/* Maps a timm parameter name to its HF name. For "blocks.i.attn.qkv.{weight,bias}" writes the
 * query/key/value names into parts[3] and returns 3; otherwise writes hf and returns 1;
 * returns 0 for names HF does not have. The family (c->family) picks the naming scheme. */
int vt_hf_name(const vt_vit_config *c, const char *timm, const char *prefix, char parts[3][160]);

/* Builds the config from config.json (when cfg_json is not NULL) checked against the tensors,
 * or from the tensors alone. heads_override > 0 wins. */
vitc_status vt_hf_config(const vt_safetensors *st, const char *prefix, const vt_json *cfg_json, int heads_override,
                         vt_vit_config *c);

/* Preprocessing from preprocessor_config.json (pp_json may be NULL: HF's defaults for the model). */
/* BEiT: layer's relative position bias table, or the shared one when the file has that; NULL: neither. */
const vt_st_tensor *vt_hf_beit_table(const vt_safetensors *st, const char *prefix, int layer);
void vt_hf_preprocess(const vt_json *pp_json, const vt_vit_config *c, vitc_preprocess_params *p);

#endif
