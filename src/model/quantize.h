/* Quantized model files (quantize.c): which parameters are stored in int8, and binding them. */
#ifndef VT_MODEL_QUANTIZE_H
#define VT_MODEL_QUANTIZE_H

#include "model/model.h"

/* 1 when name is a backbone block's Linear weight (blocks.L.attn.qkv.weight, ...), with its layer
 * and role (VT_Q8_*); 0 otherwise. */
int vt_q8_param_index(const char *name, int depth, int *layer, int *which);
/* Starts loading a quantized file: checks the vitc.quant metadata, sets the mode, allocates q8src. */
vitc_status vt_q8_begin(vitc_model *m, const char *meta_json);
/* Binds one int8 weight with its scale(s) into m->q8src; *slot (its float slot) becomes NULL. */
vitc_status vt_q8_bind(vitc_model *m, const char *name, int layer, int which, float **slot);
/* Keeps a malloc'ed block owned by the model (freed with it): 0, or -1 out of memory. */
int vt_model_keep_owned(vitc_model *m, void *p);
/* A floating tensor of the model's file as floats (in place, or a converted copy the model keeps). */
vitc_status vt_model_tensor_f32(vitc_model *m, const vt_st_tensor *t, const float **out);

#endif
