#!/usr/bin/env python3
"""Checks a scene folder written by `vitc scenes` against SCENES.md, restated here independently
(NumPy + PIL): every item is re-made from its Fashion-MNIST source image (source_index) with PIL's
bilinear resize, and the image, the mask, the box and the area must follow from it exactly.

usage: check_scenes.py DIR --split train|test [--data FASHION_MNIST_DIR]
Prints statistics and "check_scenes: N passed, M failed"; exits 1 on any failure.
(Not named make_*.py: tests/run.sh runs those as fixture generators.)"""
import argparse
import collections
import gzip
import json
import os
import sys

import numpy as np
from PIL import Image

SIZE, MIN_SIDE, MAX_SIDE, VISIBLE = 96, 24, 48, 32
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    if not os.path.exists(path):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--split", choices=["train", "test"], required=True)
    ap.add_argument("--data", default=os.environ.get("VITC_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    pre = "train" if a.split == "train" else "t10k"
    src_images = read_idx(os.path.join(a.data, pre + "-images-idx3-ubyte"))
    src_labels = read_idx(os.path.join(a.data, pre + "-labels-idx1-ubyte"))

    passed, failed = collections.Counter(), collections.Counter()
    shown = [0]

    def check(kind, cond, msg=""):
        if cond:
            passed[kind] += 1
        else:
            failed[kind] += 1
            if shown[0] < 20:
                print("FAIL %s: %s" % (kind, msg))
                shown[0] += 1
        return cond

    with open(os.path.join(a.dir, "annotations.json")) as f:
        js = json.load(f)
    images, anns, cats = js["images"], js["annotations"], js["categories"]

    # categories, ids, file names
    check("categories", [(c["id"], c["name"]) for c in cats] == list(enumerate(NAMES)), str(cats))
    for i, im in enumerate(images):
        check("image entry", im["id"] == i and im["file_name"] == "%06d.png" % i and im["width"] == SIZE
              and im["height"] == SIZE, str(im))
    check("image files", sorted(os.listdir(os.path.join(a.dir, "images"))) == [im["file_name"] for im in images])
    check("mask files", sorted(os.listdir(os.path.join(a.dir, "masks"))) == [im["file_name"] for im in images])
    check("annotation ids", len({an["id"] for an in anns}) == len(anns))
    by_image = collections.defaultdict(list)
    for an in anns:
        ok = check("annotation refs", an["image_id"] in range(len(images)) and 0 <= an["source_index"] < len(src_images)
                   and an["iscrowd"] == 0 and an["category_id"] == int(src_labels[an["source_index"]]), str(an))
        if ok:
            by_image[an["image_id"]].append(an)

    per_scene, classes, sides = collections.Counter(), collections.Counter(), []
    for i, im in enumerate(images):
        img = Image.open(os.path.join(a.dir, "images", im["file_name"]))
        msk = Image.open(os.path.join(a.dir, "masks", im["file_name"]))
        check("8-bit gray PNGs", img.mode == "L" and msk.mode == "L" and img.size == (SIZE, SIZE)
              and msk.size == (SIZE, SIZE), "%s: %s %s" % (im["file_name"], img.mode, msk.mode))
        px, mk = np.array(img.convert("L")), np.array(msk.convert("L"))
        check("mask values", mk.max() <= 10, im["file_name"])
        items = by_image[i]
        per_scene[len(items)] += 1
        covered = np.zeros((SIZE, SIZE), bool)
        squares = []
        for an in items:
            x, y, s, s2 = an["square"]
            sides.append(s)
            classes[an["category_id"]] += 1
            where = "%s item %d" % (im["file_name"], an["id"])
            check("square side", s == s2 and MIN_SIDE <= s <= MAX_SIDE, where)
            if not check("square inside", 0 <= x and 0 <= y and x + s <= SIZE and y + s <= SIZE, where):
                continue
            for (qx, qy, qs) in squares:
                check("no overlap", not (x < qx + qs and qx < x + s and y < qy + qs and qy < y + s), where)
            squares.append((x, y, s))
            covered[y:y + s, x:x + s] = True
            ref = np.array(Image.fromarray(src_images[an["source_index"]], "L").resize((s, s), Image.BILINEAR))
            check("pixels = PIL bilinear resize", np.array_equal(px[y:y + s, x:x + s], ref), where)
            vis = ref >= VISIBLE
            want = np.where(vis, an["category_id"] + 1, 0)
            check("mask = class + 1 on visible pixels", np.array_equal(mk[y:y + s, x:x + s], want), where)
            ys, xs = np.nonzero(vis)
            if check("has visible pixels", len(xs) > 0, where):
                box = [x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min()) + 1, int(ys.max() - ys.min()) + 1]
                check("bbox = tight box", an["bbox"] == box, "%s: %s != %s" % (where, an["bbox"], box))
            check("area = visible count", an["area"] == int(vis.sum()), where)
        check("background 0 outside squares", not px[~covered].any() and not mk[~covered].any(), im["file_name"])

    n = len(images)
    freq = [per_scene[k] / n for k in range(5)]
    print("scenes %d, items %d; items per scene 0-4: %s" % (n, len(anns), " ".join("%.3f" % p for p in freq)))
    check("items per scene in 1..4", per_scene[0] == 0 and sum(per_scene[k] for k in range(1, 5)) == n, str(per_scene))
    for k in range(1, 5):  # uniform k (4 a little rarer: a crowded scene can stop early)
        check("items per scene ~ uniform", 0.15 <= freq[k] <= 0.35, "k=%d: %.3f" % (k, freq[k]))
    total = sum(classes.values())
    chi2 = sum((classes[c] - total / 10) ** 2 / (total / 10) for c in range(10))
    print("classes: %s; chi-square (9 dof) %.1f" % (" ".join(str(classes[c]) for c in range(10)), chi2))
    check("class balance (chi-square < 30)", chi2 < 30, "%.1f" % chi2)
    print("sides: mean %.1f, min %d, max %d" % (np.mean(sides), min(sides), max(sides)))
    for kind in sorted(set(passed) | set(failed)):
        if failed[kind]:
            print("  %s: %d passed, %d failed" % (kind, passed[kind], failed[kind]))
    print("check_scenes: %d passed, %d failed" % (sum(passed.values()), sum(failed.values())))
    return 1 if sum(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
