/* Fashion-MNIST scenes (the detection and segmentation data set defined in SCENES.md): a seeded
 * generator that writes a scene folder (images/, masks/, annotations.json in COCO style) and a
 * reader that loads one for training and evaluation. */
#ifndef VT_SCENES_H
#define VT_SCENES_H

#include "train/data.h"
#include "vitc.h"
#include <stdint.h>

/* The constants of SCENES.md. */
enum {
    VT_SCENE_SIZE = 96,       /* canvas side */
    VT_SCENE_MAX_ITEMS = 4,   /* items per scene: uniform in 1..4 */
    VT_SCENE_MIN_SIDE = 24,   /* item side: uniform in [24, 48] */
    VT_SCENE_MAX_SIDE = 48,
    VT_SCENE_TRIES = 100,     /* placements tried per item before the scene stops */
    VT_SCENE_VISIBLE = 32,    /* a pixel of an item is visible when >= this */
    VT_SCENE_IGNORE = 255,    /* mask value that scorers and losses ignore */
    VT_SCENE_MAX_COUNT = 1000000
};

/* Writes count scenes (1..VT_SCENE_MAX_COUNT) into out_dir (created if needed, parents too):
 * images/NNNNNN.png and masks/NNNNNN.png from 000000, then annotations.json last and atomically
 * (an existing one is removed first, so a failed run leaves no annotations.json). Items are
 * Fashion-MNIST images of the training split (test_split 0) or the test split (1) of
 * fashion_spec ("fashion-mnist" or a directory holding the IDX files; NULL: "fashion-mnist").
 * Scene i depends only on (seed, i). Annotations carry COCO's fields plus "source_index" (the
 * item's index in its split) and "square" [x, y, s, s] (where it was pasted). */
vitc_status vt_scenes_generate(const char *out_dir, int test_split, int count, uint64_t seed, const char *fashion_spec);
/* The same, with the number of annotations written in *n_items (may be NULL). */
vitc_status vt_scenes_generate_counted(const char *out_dir, int test_split, int count, uint64_t seed,
                                       const char *fashion_spec, int64_t *n_items);

/* One annotated object of a scene that was read. */
typedef struct vt_scene_box {
    int scene;          /* index into the scenes read (0..n) */
    int category;       /* 0..num_classes-2 (mask value category + 1) */
    float x, y, w, h;   /* COCO bbox in pixels: [x, x + w) x [y, y + h) */
} vt_scene_box;

typedef struct vt_scenes {
    int n, h, w;          /* all scenes share one size */
    int c;                /* 1 (gray) or 3 (RGB) channels in pixels */
    uint8_t *pixels;      /* n x h x w x c interleaved */
    uint8_t *masks;       /* n x h x w: 0 background, 1..10 = class + 1, 255 ignore */
    int num_classes;      /* 11: background + the 10 categories */
    char **class_names;   /* num_classes names: "background", then the categories' names from annotations.json */
    char **file_names;    /* n image file names (relative to images/) */
    int n_boxes;          /* the annotations of the scenes read, in the order of annotations.json */
    vt_scene_box *boxes;
} vt_scenes;

/* Reads a scene folder (annotations.json, images/, masks/). split: VT_SPLIT_TRAIN / VT_SPLIT_VAL hold
 * out a fraction val_frac of the scenes by a hash of the file name (vt_name_held_out, the same for
 * every run), VT_SPLIT_TEST (or val_frac 0) reads all. On failure nothing is left allocated in *out
 * and the message names the file and the problem. */
vitc_status vt_scenes_open(const char *dir, vt_data_split split, float val_frac, vt_scenes *out);
void vt_scenes_free(vt_scenes *s);
/* Keeps the first n scenes (n < s->n) and their boxes. */
void vt_scenes_truncate(vt_scenes *s, int n);

#endif
