/* A minimal program on the installed library: classifies one image and prints the best class as
 * "INDEX PROBABILITY LABEL". Build it through pkg-config:
 *   cc classify.c $(pkg-config --cflags --libs vitc) -o classify               (shared library)
 *   cc classify.c $(pkg-config --static --cflags --libs vitc) -static-... -o classify   (see README)
 */
#include <stdio.h>
#include <stdlib.h>

#include <vitc.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE\n", argv[0]);
        return 2;
    }
    vitc_model *model = NULL;
    vitc_image *img = NULL;
    float *x = NULL, *logits = NULL;
    int rc = 1;
    vitc_load_params lp = vitc_load_default_params();
    if (vitc_model_load(argv[1], &lp, &model) != VITC_OK || vitc_image_load(argv[2], &img) != VITC_OK) {
        fprintf(stderr, "%s\n", vitc_last_error());
        goto done;
    }
    vitc_model_info info;
    vitc_model_get_info(model, &info);
    int s = info.preprocess.size;
    x = malloc(sizeof(float) * 3 * (size_t)s * (size_t)s);
    logits = malloc(sizeof(float) * (size_t)info.num_classes);
    if (!x || !logits) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (vitc_preprocess(img, &info.preprocess, x) != VITC_OK ||
        vitc_model_classify(model, x, 1, s, s, logits) != VITC_OK) {
        fprintf(stderr, "%s\n", vitc_last_error());
        goto done;
    }
    int idx;
    float prob;
    vitc_topk(logits, info.num_classes, 1, &idx, &prob);
    const char *label = vitc_model_label(model, idx);
    printf("%d %.6g %s\n", idx, (double)prob, label ? label : "");
    printf("library %s, header %s\n", vitc_version(), VITC_VERSION);
    rc = 0;
done:
    free(logits);
    free(x);
    vitc_image_free(img);
    vitc_model_free(model);
    return rc;
}
