/* vitc average: checkpoint averaging (a "model soup", timm's avg_checkpoints): one model whose
 * parameters are the element-wise mean of several models of the same architecture, e.g. the
 * last checkpoints of a run or fine-tunings of one model. */
#include "cli/commands.h"
#include "cli/args.h"
#include "core/error.h"
#include "model/model.h"
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>

enum { MAX_AVERAGED = 64 };

int cmd_average(int argc, char **argv) {
    const char *out = NULL;
    int heads = 0;
    vt_option opts[] = {
        {"out", VT_OPT_STRING, &out, "the averaged model (.safetensors)", 0},
        {"heads", VT_OPT_INT, &heads, "attention heads when the checkpoints do not say", 0},
    };
    const char *pos[MAX_AVERAGED + 1]; /* one more, to name the limit instead of a generic error */
    int npos;
    int r = vt_parse_args("average", "vitc average MODEL MODEL... --out MODEL", argc, argv, opts,
                          (int)(sizeof opts / sizeof opts[0]), pos, MAX_AVERAGED + 1, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) return fprintf(stderr, "vitc average: two or more MODEL files are required\n"), 2;
    if (npos > MAX_AVERAGED) return fprintf(stderr, "vitc average: at most %d models\n", MAX_AVERAGED), 2;
    if (!out) return fprintf(stderr, "vitc average: --out MODEL is required\n"), 2;
    if (heads < 0) return fprintf(stderr, "vitc average: --heads must be positive\n"), 2;
    vitc_load_params lp = vitc_load_default_params();
    lp.heads = heads;
    vitc_model *models[MAX_AVERAGED] = {0}, *avg = NULL;
    int rc = 0, loaded = 0;
    for (; loaded < npos; loaded++)
        if (vitc_model_load(pos[loaded], &lp, &models[loaded]) || vt_model_need_float(models[loaded], pos[loaded])) {
            fprintf(stderr, "vitc average: %s\n", vitc_last_error());
            vitc_model_free(models[loaded]); /* loaded, but quantized */
            models[loaded] = NULL;
            rc = 1;
            break;
        }
    if (!rc && vt_models_average(models, npos, &avg)) {
        fprintf(stderr, "vitc average: %s\n", vitc_last_error());
        rc = 1;
    }
    if (!rc && vt_model_save(avg, out)) {
        fprintf(stderr, "vitc average: %s\n", vitc_last_error());
        rc = 1;
    }
    if (!rc)
        printf("%s: the mean of %d models (%s, %.2f M parameters)\n", out, npos, avg->cfg.name,
               (double)vt_config_num_params(&avg->cfg) / 1e6);
    vitc_model_free(avg);
    for (int j = 0; j < loaded; j++) vitc_model_free(models[j]);
    return rc;
}
