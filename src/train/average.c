/* Checkpoint averaging ("model soups"): the element-wise mean of several models' parameters.
 * Useful for models that share an origin (the last checkpoints of one run, or fine-tunings of one
 * model): their mean often generalizes like their ensemble at the cost of one model. Models
 * trained from different initializations do not average into anything useful. */
#include "core/error.h"
#include "train/train.h"

#include <stdlib.h>
#include <string.h>

vitc_status vt_models_average(vitc_model *const *models, int n, vitc_model **out) {
    *out = NULL;
    if (n < 1) return vt_error(VITC_ERR_ARG, "nothing to average");
    for (int j = 1; j < n; j++) {
        if (!vt_config_same_arch(&models[0]->cfg, &models[j]->cfg))
            return vt_error(VITC_ERR_ARG, "model %d has another architecture than the first", j + 1);
        if (!vt_model_labels_agree(models[0], models[j]))
            return vt_error(VITC_ERR_ARG, "model %d names its classes differently from the first", j + 1);
    }
    vitc_model *m;
    vitc_status s = vt_model_adapt(models[0], &models[0]->cfg, 0, &m); /* a writable copy */
    if (s) return s;
    vt_param **tabs = calloc((size_t)n, sizeof *tabs);
    int np = tabs ? vt_param_table(&m->cfg, &m->w, &tabs[0]) : -1;
    for (int j = 1; j < n && np >= 0; j++)
        if (vt_param_table(&models[j]->cfg, &models[j]->w, &tabs[j]) != np) np = -1;
    if (np < 0) s = vt_error(VITC_ERR_NOMEM, "out of memory");
    /* the same architecture gives the same table, entry by entry; sums in double so that the mean
     * of identical values is that value */
    for (int i = 0; i < np; i++) {
        float *d = *tabs[0][i].slot;
        for (int64_t k = 0; k < tabs[0][i].numel; k++) {
            double sum = d[k];
            for (int j = 1; j < n; j++) sum += (*tabs[j][i].slot)[k];
            d[k] = (float)(sum / n);
        }
    }
    for (int j = 0; tabs && j < n; j++) free(tabs[j]);
    free(tabs);
    if (s) {
        vitc_model_free(m);
        return s;
    }
    vt_model_weights_changed(m);
    *out = m;
    return VITC_OK;
}
