/* vitc scenes: writes a folder of Fashion-MNIST scenes (SCENES.md), the detection and segmentation
 * data set: images/, masks/ and a COCO-style annotations.json. */
#include "cli/args.h"
#include "cli/commands.h"
#include "train/scenes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cmd_scenes(int argc, char **argv) {
    const char *split = "train", *out = NULL, *data = "fashion-mnist", *seed_s = "0";
    int count = 0;
    vt_option opts[] = {
        {"split", VT_OPT_STRING, &split, "train (items from the 60,000 training images) or test (the 10,000 test "
                                         "images); default train", 0},
        {"count", VT_OPT_INT, &count, "number of scenes (1..1000000, required)", 0},
        {"seed", VT_OPT_STRING, &seed_s, "seed (0..2^64-1, default 0): scene i depends only on (seed, i)", 0},
        {"out", VT_OPT_STRING, &out, "output folder: images/, masks/, annotations.json (required)", 0},
        {"data", VT_OPT_STRING, &data, "fashion-mnist (default; $VITC_FASHION_MNIST) or a folder with its IDX files",
         0},
    };
    const char *pos[1];
    int npos;
    int r = vt_parse_args("scenes",
                          "vitc scenes --count N --out DIR [--split train|test] [--seed S] [--data fashion-mnist|DIR]\n\n"
                          "Writes N scenes of Fashion-MNIST items (SCENES.md): 96x96 gray images with 1-4 items,\n"
                          "DIR/images/NNNNNN.png, DIR/masks/NNNNNN.png (0 background, class + 1 on visible\n"
                          "pixels) and DIR/annotations.json (COCO: images, annotations with bbox, area, source_index,\n"
                          "square; categories). annotations.json is written last, atomically.",
                          argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &npos);
    if (r) return r == 1 ? 0 : 2;
    int test_split;
    if (!strcmp(split, "train")) test_split = 0;
    else if (!strcmp(split, "test")) test_split = 1;
    else return fprintf(stderr, "vitc scenes: --split must be train or test (got '%s')\n", split), 2;
    if (!vt_opt_seen(opts, (int)(sizeof opts / sizeof opts[0]), "count"))
        return fprintf(stderr, "vitc scenes: --count N is required\n"), 2;
    if (count < 1 || count > VT_SCENE_MAX_COUNT)
        return fprintf(stderr, "vitc scenes: --count must be in 1..%d (got %d)\n", VT_SCENE_MAX_COUNT, count), 2;
    if (!out || !*out) return fprintf(stderr, "vitc scenes: --out DIR is required\n"), 2;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(seed_s, &end, 10);
    if (!*seed_s || *end || errno || seed_s[0] == '-')
        return fprintf(stderr, "vitc scenes: invalid value '%s' for option '--seed' (0..2^64-1)\n", seed_s), 2;
    double t0 = now_s();
    int64_t items = 0;
    if (vt_scenes_generate_counted(out, test_split, count, (uint64_t)seed, data, &items)) {
        fprintf(stderr, "vitc scenes: %s\n", vitc_last_error());
        return 1;
    }
    double dt = now_s() - t0;
    printf("%s: %d scenes, %lld items (%s split, seed %llu) in %.2f s\n", out, count, (long long)items, split, seed, dt);
    return 0;
}
