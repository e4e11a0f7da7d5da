/* Fashion-MNIST scenes: generator and reader (see scenes.h and SCENES.md). */
#include "train/scenes.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/json.h"
#include "image/image.h"
#include "image/resample.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- random numbers */

/* splitmix64: the generator data.c uses; every scene starts from a state made of (seed, index). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t next_u64(uint64_t *s) { return mix64(*s += 0x9e3779b97f4a7c15ull); }
/* uniform in [0, n) (the modulo bias is below n / 2^64) */
static int uniform_int(uint64_t *s, int n) { return (int)(next_u64(s) % (uint64_t)n); }

/* ---------------------------------------------------------------- generation */

typedef struct scene_item {
    int src, label, side, x, y;
} scene_item;

/* Draws the items of scene `index` (SCENES.md): k uniform in 1..4; for each, a source image, then
 * (side, x, y) until the square meets no placed square (at most VT_SCENE_TRIES tries; after that the
 * scene keeps the items it has). Returns the number placed. */
static int draw_items(uint64_t seed, int index, int n_src, const int *labels, scene_item *it) {
    uint64_t st = mix64(mix64(seed ^ 0x7363656e6573ull) + (uint64_t)index * 0xd1b54a32d192ed03ull);
    int k = 1 + uniform_int(&st, VT_SCENE_MAX_ITEMS), n = 0;
    for (int j = 0; j < k; j++) {
        int src = uniform_int(&st, n_src), placed = 0;
        for (int t = 0; t < VT_SCENE_TRIES && !placed; t++) {
            int s = VT_SCENE_MIN_SIDE + uniform_int(&st, VT_SCENE_MAX_SIDE - VT_SCENE_MIN_SIDE + 1);
            int x = uniform_int(&st, VT_SCENE_SIZE - s + 1), y = uniform_int(&st, VT_SCENE_SIZE - s + 1);
            int free_spot = 1;
            for (int q = 0; q < n && free_spot; q++)
                if (x < it[q].x + it[q].side && it[q].x < x + s && y < it[q].y + it[q].side && it[q].y < y + s)
                    free_spot = 0;
            if (free_spot) {
                it[n++] = (scene_item){src, labels[src], s, x, y};
                placed = 1;
            }
        }
        if (!placed) break;
    }
    return n;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p */
static vitc_status make_dirs(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return vt_error(VITC_ERR_ARG, "%s: bad output folder name", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return vt_error(VITC_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
        if (!is_dir(buf)) return vt_error(VITC_ERR_IO, "%s: exists and is not a folder", buf);
        buf[i] = c;
    }
    return VITC_OK;
}

vitc_status vt_scenes_generate_counted(const char *out_dir, int test_split, int count, uint64_t seed,
                                       const char *fashion_spec, int64_t *n_items) {
    if (n_items) *n_items = 0;
    if (!out_dir || !*out_dir) return vt_error(VITC_ERR_ARG, "scenes: no output folder");
    if (test_split != 0 && test_split != 1) return vt_error(VITC_ERR_ARG, "scenes: the split must be train or test");
    if (count < 1 || count > VT_SCENE_MAX_COUNT)
        return vt_error(VITC_ERR_ARG, "scenes: the count must be in 1..%d (got %d)", VT_SCENE_MAX_COUNT, count);
    if (strlen(out_dir) > 3000) return vt_error(VITC_ERR_ARG, "scenes: output folder name too long");
    const char *spec = fashion_spec ? fashion_spec : "fashion-mnist";
    if (!vt_dataset_is_idx(spec))
        return vt_error(VITC_ERR_ARG, "%s: not Fashion-MNIST (fashion-mnist, or a folder with the IDX files)", spec);

    vt_dataset d;
    vitc_preprocess_params pp = vitc_preprocess_default_params();
    vitc_status s = vt_dataset_open(spec, test_split ? VT_SPLIT_TEST : VT_SPLIT_TRAIN, 0.0f, &pp, 0, &d);
    if (s) return s;
    if (d.c != 1 || d.h != 28 || d.w != 28 || d.n < 1 || d.num_classes > 10) {
        s = vt_error(VITC_ERR_FORMAT, "%s: expected 28x28 gray images of 10 classes (got %dx%dx%d, %d classes)", spec,
                     d.w, d.h, d.c, d.num_classes);
        vt_dataset_free(&d);
        return s;
    }
    for (int i = 0; i < d.n; i++)
        if (d.labels[i] < 0 || d.labels[i] > 9) {
            s = vt_error(VITC_ERR_FORMAT, "%s: label %d of image %d is not in 0..9", spec, d.labels[i], i);
            vt_dataset_free(&d);
            return s;
        }

    char path[4200], ann_path[4200];
    snprintf(ann_path, sizeof ann_path, "%s/annotations.json", out_dir);
    if (!(s = make_dirs(out_dir))) {
        if (unlink(ann_path) != 0 && errno != ENOENT)
            s = vt_error(VITC_ERR_IO, "%s: cannot remove the old annotations: %s", ann_path, strerror(errno));
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/images", out_dir);
        s = make_dirs(path);
    }
    if (!s) {
        snprintf(path, sizeof path, "%s/masks", out_dir);
        s = make_dirs(path);
    }

    enum { S = VT_SCENE_SIZE };
    uint8_t canvas[S * S], mask[S * S], item_px[VT_SCENE_MAX_SIDE * VT_SCENE_MAX_SIDE];
    vt_strbuf images = {0}, anns = {0};
    int64_t ann_id = 0;
    for (int i = 0; i < count && !s; i++) {
        scene_item it[VT_SCENE_MAX_ITEMS];
        int n = draw_items(seed, i, d.n, d.labels, it);
        memset(canvas, 0, sizeof canvas);
        memset(mask, 0, sizeof mask);
        char name[32];
        snprintf(name, sizeof name, "%06d.png", i);
        for (int j = 0; j < n && !s; j++) {
            int side = it[j].side;
            s = vt_resample_u8(d.pixels + (size_t)it[j].src * 28 * 28, 28, 28, 1, item_px, side, side,
                               VITC_INTERP_BILINEAR);
            if (s) break;
            int x0 = S, y0 = S, x1 = 0, y1 = 0, area = 0;
            for (int v = 0; v < side; v++)
                for (int u = 0; u < side; u++) {
                    uint8_t p = item_px[v * side + u];
                    int cx = it[j].x + u, cy = it[j].y + v;
                    canvas[cy * S + cx] = p;
                    if (p >= VT_SCENE_VISIBLE) {
                        mask[cy * S + cx] = (uint8_t)(it[j].label + 1);
                        area++;
                        if (cx < x0) x0 = cx;
                        if (cy < y0) y0 = cy;
                        if (cx + 1 > x1) x1 = cx + 1;
                        if (cy + 1 > y1) y1 = cy + 1;
                    }
                }
            if (area == 0) continue; /* no visible pixel: in the image, not in the annotations */
            vt_strbuf_printf(&anns,
                             "%s\n    {\"id\": %lld, \"image_id\": %d, \"category_id\": %d, \"bbox\": [%d, %d, %d, %d], "
                             "\"area\": %d, \"iscrowd\": 0, \"source_index\": %d, \"square\": [%d, %d, %d, %d]}",
                             ann_id ? "," : "", (long long)(ann_id + 1), i, it[j].label, x0, y0, x1 - x0, y1 - y0, area,
                             it[j].src, it[j].x, it[j].y, side, side);
            ann_id++;
        }
        if (s) break;
        vt_strbuf_printf(&images, "%s\n    {\"id\": %d, \"file_name\": \"%s\", \"width\": %d, \"height\": %d}",
                         i ? "," : "", i, name, S, S);
        snprintf(path, sizeof path, "%s/images/%s", out_dir, name);
        if ((s = vt_png_write(path, S, S, 1, canvas))) break;
        snprintf(path, sizeof path, "%s/masks/%s", out_dir, name);
        if ((s = vt_png_write(path, S, S, 1, mask))) break;
    }
    if (!s && (images.failed || anns.failed)) s = vt_error(VITC_ERR_NOMEM, "scenes: out of memory");
    if (!s) {
        vt_strbuf js = {0};
        vt_strbuf_printf(&js,
                         "{\n  \"info\": {\"description\": \"Fashion-MNIST scenes (SCENES.md)\", \"split\": \"%s\", "
                         "\"seed\": %llu, \"count\": %d},\n  \"images\": [",
                         test_split ? "test" : "train", (unsigned long long)seed, count);
        vt_strbuf_append(&js, images.data, images.len);
        vt_strbuf_printf(&js, "\n  ],\n  \"annotations\": [");
        if (anns.len) vt_strbuf_append(&js, anns.data, anns.len);
        vt_strbuf_printf(&js, "\n  ],\n  \"categories\": [");
        for (int c = 0; c < 10; c++) {
            vt_strbuf_printf(&js, "%s\n    {\"id\": %d, \"name\": ", c ? "," : "", c);
            vt_strbuf_json_string(&js, c < d.num_classes && d.class_names ? d.class_names[c] : "?");
            vt_strbuf_printf(&js, "}");
        }
        vt_strbuf_printf(&js, "\n  ]\n}\n");
        if (js.failed) {
            s = vt_error(VITC_ERR_NOMEM, "scenes: out of memory");
        } else {
            vt_atomic_file f;
            if (!(s = vt_atomic_open(ann_path, &f))) {
                if (fwrite(js.data, 1, js.len, f.fp) != js.len) {
                    vt_atomic_abort(&f);
                    s = vt_error(VITC_ERR_IO, "%s: write failed", ann_path);
                } else {
                    s = vt_atomic_commit(&f);
                }
            }
        }
        vt_strbuf_free(&js);
    }
    vt_strbuf_free(&images);
    vt_strbuf_free(&anns);
    vt_dataset_free(&d);
    if (!s && n_items) *n_items = ann_id;
    return s;
}

vitc_status vt_scenes_generate(const char *out_dir, int test_split, int count, uint64_t seed, const char *fashion_spec) {
    return vt_scenes_generate_counted(out_dir, test_split, count, seed, fashion_spec, NULL);
}

/* ---------------------------------------------------------------- reading */

void vt_scenes_free(vt_scenes *s) {
    if (!s) return;
    free(s->pixels);
    free(s->masks);
    if (s->class_names)
        for (int i = 0; i < s->num_classes; i++) free(s->class_names[i]);
    free(s->class_names);
    if (s->file_names)
        for (int i = 0; i < s->n; i++) free(s->file_names[i]);
    free(s->file_names);
    free(s->boxes);
    memset(s, 0, sizeof *s);
}

typedef struct id_index {
    double id;
    int index; /* the scene's index among those read, -1 when not read (other split) */
} id_index;

static int cmp_id(const void *a, const void *b) {
    double x = ((const id_index *)a)->id, y = ((const id_index *)b)->id;
    return x < y ? -1 : x > y;
}

static int safe_name(const char *f) {
    return f[0] && f[0] != '/' && !strstr(f, "..") && strlen(f) < 1024;
}

/* Reads masks/<name>: an 8-bit gray PNG (checked in its IHDR) of w x h, values 0..max_value or 255. */
static vitc_status read_mask(const char *path, int w, int h, int max_value, uint8_t *out) {
    char *data = NULL;
    size_t size = 0;
    vitc_status s = vt_read_file(path, (size_t)1 << 28, &data, &size);
    if (s) {
        free(data);
        return access(path, F_OK) != 0 ? vt_error(VITC_ERR_IO, "%s: mask missing", path) : s;
    }
    const uint8_t *b = (const uint8_t *)data;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size < 33 || memcmp(b, sig, 8) || memcmp(b + 12, "IHDR", 4)) {
        free(data);
        return vt_error(VITC_ERR_FORMAT, "%s: the mask is not a PNG", path);
    }
    int depth = b[24], color = b[25];
    if (depth != 8 || color != 0) {
        free(data);
        return vt_error(VITC_ERR_FORMAT, "%s: the mask is not an 8-bit grayscale PNG (bit depth %d, color type %d)",
                        path, depth, color);
    }
    vitc_image *im = NULL;
    s = vt_decode_png(b, size, path, &im);
    free(data);
    if (s) return s;
    if (im->width != w || im->height != h) {
        s = vt_error(VITC_ERR_FORMAT, "%s: the mask is %dx%d, its image %dx%d", path, im->width, im->height, w, h);
        vitc_image_free(im);
        return s;
    }
    for (size_t k = 0; k < (size_t)w * h; k++) {
        uint8_t v = im->rgb[3 * k];
        if (v > max_value && v != VT_SCENE_IGNORE) {
            s = vt_error(VITC_ERR_FORMAT, "%s: mask value %d at (%d, %d) is not in 0..%d or 255", path, v,
                         (int)(k % (size_t)w), (int)(k / (size_t)w), max_value);
            break;
        }
        out[k] = v;
    }
    vitc_image_free(im);
    return s;
}

static vitc_status scenes_read(const char *dir, vt_data_split split, float val_frac, vt_scenes *out) {
    char path[4200];
    if (!(val_frac >= 0 && val_frac < 1))
        return vt_error(VITC_ERR_ARG, "%s: the validation fraction must be in [0, 1)", dir);
    if (strlen(dir) > 3000) return vt_error(VITC_ERR_ARG, "scene folder name too long");
    snprintf(path, sizeof path, "%s/annotations.json", dir);
    if (access(path, F_OK) != 0) return vt_error(VITC_ERR_IO, "scene folder %s has no annotations.json", dir);
    char *text = NULL;
    size_t len = 0;
    vitc_status s = vt_read_file(path, (size_t)1 << 31, &text, &len);
    if (s) {
        free(text);
        return s;
    }
    char err[200] = "";
    vt_json *root = vt_json_parse(text, len, err, sizeof err);
    free(text);
    if (!root) return vt_error(VITC_ERR_FORMAT, "%s: not valid JSON: %s", path, err);
    const vt_json *ims = vt_json_get(root, "images"), *anns = vt_json_get(root, "annotations"),
                  *cats = vt_json_get(root, "categories");
    id_index *ids = NULL;
    if (!ims || ims->type != VT_JSON_ARRAY || !cats || cats->type != VT_JSON_ARRAY ||
        (anns && anns->type != VT_JSON_ARRAY)) {
        s = vt_error(VITC_ERR_FORMAT, "%s: needs the arrays \"images\", \"annotations\" and \"categories\"", path);
        goto done;
    }
    if (ims->count == 0) {
        s = vt_error(VITC_ERR_FORMAT, "%s: no scenes", path);
        goto done;
    }
    if (ims->count > (size_t)VT_SCENE_MAX_COUNT * 10) {
        s = vt_error(VITC_ERR_LIMIT, "%s: too many scenes (%zu)", path, ims->count);
        goto done;
    }
    /* categories: ids 0..K-1, each once */
    int K = (int)cats->count;
    if (K < 1 || K > 254) {
        s = vt_error(VITC_ERR_FORMAT, "%s: %d categories (1..254 needed)", path, K);
        goto done;
    }
    out->num_classes = K + 1;
    out->class_names = calloc((size_t)K + 1, sizeof *out->class_names);
    if (!out->class_names) {
        s = vt_error(VITC_ERR_NOMEM, "out of memory");
        goto done;
    }
    out->class_names[0] = strdup("background");
    for (int c = 0; c < K; c++) {
        const vt_json *cat = &cats->items[c];
        double id = vt_json_get_number(cat, "id", -1);
        const char *nm = vt_json_get_string(cat, "name", NULL);
        int ci = (int)id;
        if (cat->type != VT_JSON_OBJECT || !nm || id != (double)ci || ci < 0 || ci >= K || out->class_names[ci + 1]) {
            s = vt_error(VITC_ERR_FORMAT, "%s: category %d: needs a name and a distinct id in 0..%d", path, c, K - 1);
            goto done;
        }
        out->class_names[ci + 1] = strdup(nm);
    }
    for (int c = 0; c <= K; c++)
        if (!out->class_names[c]) {
            s = vt_error(VITC_ERR_NOMEM, "out of memory");
            goto done;
        }
    /* images: which ones this split reads */
    int total = (int)ims->count, n = 0;
    ids = malloc(sizeof *ids * (size_t)total);
    if (!ids) {
        s = vt_error(VITC_ERR_NOMEM, "out of memory");
        goto done;
    }
    int all = split == VT_SPLIT_TEST || val_frac <= 0;
    for (int i = 0; i < total; i++) {
        const vt_json *im = &ims->items[i];
        const char *fn = vt_json_get_string(im, "file_name", NULL);
        const vt_json *idv = vt_json_get(im, "id");
        if (im->type != VT_JSON_OBJECT || !fn || !idv || idv->type != VT_JSON_NUMBER || !safe_name(fn)) {
            s = vt_error(VITC_ERR_FORMAT, "%s: image %d: needs an id and a relative file_name", path, i);
            goto done;
        }
        int keep = all || vt_name_held_out(fn, val_frac) == (split == VT_SPLIT_VAL);
        ids[i] = (id_index){idv->number, keep ? n++ : -1};
    }
    if (n == 0) {
        s = vt_error(VITC_ERR_ARG, "%s: no scenes in the %s split (validation fraction %g)", dir,
                     split == VT_SPLIT_VAL ? "validation" : "training", (double)val_frac);
        goto done;
    }
    out->file_names = calloc((size_t)n, sizeof *out->file_names);
    if (!out->file_names) {
        s = vt_error(VITC_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* the images and masks */
    out->c = 1;
    for (int i = 0; i < total; i++) {
        if (ids[i].index < 0) continue;
        int j = ids[i].index;
        const vt_json *im = &ims->items[i];
        const char *fn = vt_json_get_string(im, "file_name", NULL);
        snprintf(path, sizeof path, "%s/images/%s", dir, fn);
        if (access(path, F_OK) != 0) {
            s = vt_error(VITC_ERR_IO, "%s: image missing (listed in %s/annotations.json)", path, dir);
            goto done;
        }
        vitc_image *img = NULL;
        if ((s = vitc_image_load(path, &img))) goto done;
        int W = img->width, H = img->height;
        int jw = (int)vt_json_get_number(im, "width", W), jh = (int)vt_json_get_number(im, "height", H);
        if (j == 0) {
            out->w = W, out->h = H;
            size_t plane = (size_t)W * H;
            out->pixels = malloc(plane * (size_t)n);
            out->masks = malloc(plane * (size_t)n);
            if (!out->pixels || !out->masks) {
                vitc_image_free(img);
                s = vt_error(VITC_ERR_NOMEM, "%s: out of memory for %d scenes", dir, n);
                goto done;
            }
        } else if (W != out->w || H != out->h) {
            vitc_image_free(img);
            s = vt_error(VITC_ERR_FORMAT, "%s: %dx%d, the folder's first image is %dx%d (one size per folder)", path, W,
                         H, out->w, out->h);
            goto done;
        }
        if (jw != W || jh != H) {
            vitc_image_free(img);
            s = vt_error(VITC_ERR_FORMAT, "%s: %dx%d, annotations.json says %dx%d", path, W, H, jw, jh);
            goto done;
        }
        size_t plane = (size_t)W * H;
        int gray = 1;
        for (size_t k = 0; k < plane && gray; k++)
            gray = img->rgb[3 * k] == img->rgb[3 * k + 1] && img->rgb[3 * k] == img->rgb[3 * k + 2];
        if (!gray && out->c == 1) { /* the first color image: the folder is read as RGB */
            uint8_t *np = realloc(out->pixels, plane * 3 * (size_t)n);
            if (!np) {
                vitc_image_free(img);
                s = vt_error(VITC_ERR_NOMEM, "%s: out of memory for %d scenes", dir, n);
                goto done;
            }
            out->pixels = np;
            for (size_t k = plane * (size_t)j; k-- > 0;) np[3 * k] = np[3 * k + 1] = np[3 * k + 2] = np[k];
            out->c = 3;
        }
        if (out->c == 1)
            for (size_t k = 0; k < plane; k++) out->pixels[plane * (size_t)j + k] = img->rgb[3 * k];
        else
            memcpy(out->pixels + plane * 3 * (size_t)j, img->rgb, plane * 3);
        vitc_image_free(img);
        out->file_names[j] = strdup(fn);
        if (!out->file_names[j]) {
            s = vt_error(VITC_ERR_NOMEM, "out of memory");
            goto done;
        }
        out->n = j + 1; /* file_names[0..n) are set (freed on failure) */
        snprintf(path, sizeof path, "%s/masks/%s", dir, fn);
        if ((s = read_mask(path, W, H, K, out->masks + plane * (size_t)j))) goto done;
    }
    out->n = n;
    /* the annotations of the scenes read */
    if (anns && anns->count) {
        qsort(ids, (size_t)total, sizeof *ids, cmp_id);
        for (int i = 1; i < total; i++)
            if (ids[i].id == ids[i - 1].id) {
                s = vt_error(VITC_ERR_FORMAT, "%s/annotations.json: image id %g is given twice", dir, ids[i].id);
                goto done;
            }
        out->boxes = malloc(sizeof *out->boxes * anns->count);
        if (!out->boxes) {
            s = vt_error(VITC_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t a = 0; a < anns->count; a++) {
            const vt_json *an = &anns->items[a], *bb = vt_json_get(an, "bbox");
            id_index key = {vt_json_get_number(an, "image_id", -1e300), 0};
            const id_index *hit = bsearch(&key, ids, (size_t)total, sizeof *ids, cmp_id);
            double cat = vt_json_get_number(an, "category_id", -1);
            int ok = hit && cat == (double)(int)cat && cat >= 0 && cat < K && bb && bb->type == VT_JSON_ARRAY &&
                     bb->count == 4;
            for (int q = 0; ok && q < 4; q++) ok = bb->items[q].type == VT_JSON_NUMBER;
            if (!ok) {
                s = vt_error(VITC_ERR_FORMAT, "%s/annotations.json: annotation %zu: needs a known image_id, a "
                             "category_id in 0..%d and a bbox [x, y, w, h]", dir, a, K - 1);
                goto done;
            }
            double bx = bb->items[0].number, by = bb->items[1].number, bw = bb->items[2].number, bh = bb->items[3].number;
            if (!(bw >= 0 && bh >= 0)) {
                s = vt_error(VITC_ERR_FORMAT, "%s/annotations.json: annotation %zu: negative box size %gx%g", dir, a, bw, bh);
                goto done;
            }
            if (!(bx >= 0 && by >= 0 && bx + bw <= out->w && by + bh <= out->h)) {
                s = vt_error(VITC_ERR_FORMAT, "%s/annotations.json: annotation %zu: box [%g, %g, %g, %g] is outside the "
                             "%dx%d image", dir, a, bx, by, bw, bh, out->w, out->h);
                goto done;
            }
            if (hit->index < 0) continue;
            out->boxes[out->n_boxes++] = (vt_scene_box){hit->index, (int)cat, (float)bb->items[0].number,
                                                        (float)bb->items[1].number, (float)bb->items[2].number,
                                                        (float)bb->items[3].number};
        }
    }
done:
    free(ids);
    vt_json_free(root);
    return s;
}

vitc_status vt_scenes_open(const char *dir, vt_data_split split, float val_frac, vt_scenes *out) {
    memset(out, 0, sizeof *out);
    vitc_status s = scenes_read(dir, split, val_frac, out);
    if (s) vt_scenes_free(out); /* nothing half-read is left to the caller */
    return s;
}

void vt_scenes_truncate(vt_scenes *s, int n) {
    if (n <= 0 || n >= s->n) return;
    if (s->file_names)
        for (int i = n; i < s->n; i++) free(s->file_names[i]);
    int k = 0;
    for (int i = 0; i < s->n_boxes; i++)
        if (s->boxes[i].scene < n) s->boxes[k++] = s->boxes[i];
    s->n_boxes = k;
    s->n = n;
}
