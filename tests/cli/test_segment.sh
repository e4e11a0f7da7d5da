#!/usr/bin/env bash
# Segmentation from the shell: vitc train --task segment (linear decoder and mask transformer,
# resume), vitc info / eval / segment on the result, eval's mIoU against a NumPy confusion
# matrix of vitc segment's masks, and one-line errors that leave nothing behind.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
FM=${VITC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ ! -f $FM/train-images-idx3-ubyte.gz && ! -f $FM/train-images-idx3-ubyte ]]; then
  echo "test_segment: Fashion-MNIST not found in $FM: skipped"
  report test_segment
  exit
fi
export VITC_NUM_THREADS=2

expect_ok "train scenes" "$VITC" scenes --split train --count 120 --seed 21 --out "$TMP/tr"
expect_ok "test scenes" "$VITC" scenes --split test --count 24 --seed 22 --out "$TMP/te"

TRAIN=("$VITC" train --task segment --data "$TMP/tr" --init "$ROOT/models/default.safetensors" --epochs 1
       --batch 8 --val-limit 8 --quiet)
expect_ok "train linear" "${TRAIN[@]}" --out "$TMP/lin.safetensors"
if grep -q "linear decoder" "$TMP/out" && grep -Eq "val mIoU [0-9.]+" "$TMP/out"; then ok; else bad "train output: $(cat "$TMP/out")"; fi
expect_ok "train mask" "${TRAIN[@]}" --decoder mask --dec-depth 1 --dec-dim 64 --out "$TMP/mask.safetensors"
if grep -q "mask transformer: dim 64, depth 1, heads 2" "$TMP/out"; then ok; else bad "mask output: $(head -2 "$TMP/out")"; fi
expect_ok "train from scratch" "$VITC" train --task segment --data "$TMP/tr" --dim 32 --depth 1 --heads 2 --patch 8 \
  --epochs 1 --batch 8 --val-limit 4 --quiet --out "$TMP/scratch.safetensors"

# resume: 7 steps, stop at 3, resume: the same weights as without the stop
expect_ok "uninterrupted" "${TRAIN[@]}" --limit 56 --out "$TMP/a.safetensors"
expect_ok "stopped" "${TRAIN[@]}" --limit 56 --out "$TMP/b.safetensors" --max-steps 3 --save-every 3
expect_ok "resumed" "$VITC" train --task segment --resume "$TMP/b.ckpt.safetensors" --quiet --out "$TMP/b.safetensors"
if cmp -s "$TMP/a.ckpt.safetensors" "$TMP/b.ckpt.safetensors"; then ok; else bad "resume: checkpoints differ"; fi
expect_fail "resume as a classifier" "segmentation run" "$VITC" train --resume "$TMP/b.ckpt.safetensors" --out "$TMP/c.safetensors"

expect_ok "info" "$VITC" info "$TMP/mask.safetensors"
if grep -q "segment: 11 classes, mask transformer (dim 64, depth 1, heads 2)" "$TMP/out"; then ok; else bad "info: $(grep head "$TMP/out")"; fi
expect_ok "info json" "$VITC" info "$TMP/lin.safetensors" --json
if grep -q '"task":"segment","decoder":{"type":"linear"' "$TMP/out"; then ok; else bad "info json: $(head -c 300 "$TMP/out")"; fi

# eval's figures against a NumPy confusion matrix of vitc segment's masks
for model in lin mask; do
  expect_ok "eval $model" "$VITC" eval "$TMP/$model.safetensors" --data "$TMP/te" --json
  cp "$TMP/out" "$TMP/eval_$model.json"
  expect_ok "segment $model" "$VITC" segment "$TMP/$model.safetensors" "$TMP"/te/images/*.png --out "$TMP/pred_$model"
  if $PY - "$TMP/te" "$TMP/pred_$model" "$TMP/eval_$model.json" <<'PYEOF'
import json, sys, glob, os
import numpy as np
from PIL import Image
te, pred, ev = sys.argv[1:]
r = json.load(open(ev))
C = len(r["classes"])
conf = np.zeros((C, C), np.int64)
for f in sorted(glob.glob(os.path.join(te, "masks", "*.png"))):
    t = np.array(Image.open(f)).astype(np.int64)
    p = np.array(Image.open(os.path.join(pred, os.path.basename(f)[:-4] + ".mask.png"))).astype(np.int64)
    assert t.shape == p.shape == (96, 96) and p.max() < C
    keep = t != 255
    np.add.at(conf, (t[keep], p[keep]), 1)
tp = np.diag(conf).astype(float)
den = conf.sum(0) + conf.sum(1) - tp
iou = tp[den > 0] / den[den > 0]
assert (np.array(r["confusion"]) == conf).all(), "confusion matrices differ"
assert abs(iou.mean() - r["miou"]) < 1e-6, (iou.mean(), r["miou"])
assert abs(tp.sum() / conf.sum() - r["pixel_accuracy"]) < 1e-6
PYEOF
  then ok; else bad "eval $model against numpy"; fi
done
expect_ok "eval text" "$VITC" eval "$TMP/lin.safetensors" --data "$TMP/tr" --split val
if grep -Eq "mIoU [0-9.]+ over [0-9]+ classes, pixel accuracy" "$TMP/out" && grep -q "Ankle boot" "$TMP/out"; then ok; else bad "eval text: $(head -3 "$TMP/out")"; fi

# vitc segment on an image of another shape: the mask has the image's own size
$PY -c "
from PIL import Image
im = Image.open('$TMP/te/images/000003.png').convert('RGB').resize((150, 100), Image.BILINEAR)
im.save('$TMP/wide.jpg')"
expect_ok "segment overlay json" "$VITC" segment "$TMP/lin.safetensors" "$TMP/wide.jpg" --out "$TMP/seg" --overlay --json
if $PY - "$TMP/out" "$TMP/seg" <<'PYEOF'
import json, sys
import numpy as np
from PIL import Image
r = json.loads(open(sys.argv[1]).read())
m = Image.open(r["mask"]); o = Image.open(r["overlay"])
assert m.mode == "L" and m.size == (150, 100), (m.mode, m.size)
assert o.mode == "RGB" and o.size[0] >= 150 and o.size[1] >= 100
a = np.array(m)
assert sum(c["pixels"] for c in r["classes"]) == 150 * 100
for c in r["classes"]:
    assert (a == c["class"]).sum() == c["pixels"]
PYEOF
then ok; else bad "segment outputs"; fi
expect_ok "segment text" "$VITC" segment "$TMP/lin.safetensors" "$TMP/wide.jpg" --out "$TMP/seg2"
if grep -q "background" "$TMP/out" && [[ -f $TMP/seg2/wide.mask.png && ! -f $TMP/seg2/wide.overlay.png ]]; then ok; else bad "segment text: $(cat "$TMP/out")"; fi

# errors: one line, non-zero exit, nothing left behind
expect_fail "classify a segmentation model" "segmentation model" "$VITC" classify "$TMP/lin.safetensors" "$TMP/wide.jpg"
expect_fail "segment with a classifier" "not a segmentation model" "$VITC" segment "$ROOT/models/default.safetensors" "$TMP/wide.jpg" --out "$TMP/e1"
[[ ! -e $TMP/e1 ]] && ok || bad "segment with a classifier left $TMP/e1"
echo "not an image" > "$TMP/broken.png"
expect_fail "segment a broken image" "broken.png" "$VITC" segment "$TMP/lin.safetensors" "$TMP/broken.png" --out "$TMP/e2"
[[ -z $(ls "$TMP/e2" 2>/dev/null) ]] && ok || bad "broken image left files"
expect_fail "segment bad alpha" "alpha" "$VITC" segment "$TMP/lin.safetensors" "$TMP/wide.jpg" --alpha 2
expect_fail "segment no image" "IMAGE" "$VITC" segment "$TMP/lin.safetensors"
expect_fail "train bad decoder" "decoder" "$VITC" train --task segment --data "$TMP/tr" --decoder conv --out "$TMP/e3.safetensors"
expect_fail "train bad task" "task" "$VITC" train --task depth --data "$TMP/tr" --out "$TMP/e3.safetensors"
mkdir -p "$TMP/noann"
expect_fail "scenes without annotations" "annotations.json" "${TRAIN[@]}" --data "$TMP/noann" --out "$TMP/e4.safetensors"
[[ ! -e $TMP/e4.safetensors ]] && ok || bad "a model file was left behind"
cp -r "$TMP/te" "$TMP/badmask"
$PY -c "
import numpy as np
from PIL import Image
a = np.array(Image.open('$TMP/badmask/masks/000002.png')); a[5, 5] = 11
Image.fromarray(a).save('$TMP/badmask/masks/000002.png')"
expect_fail "mask value out of range" "000002.png" "$VITC" eval "$TMP/lin.safetensors" --data "$TMP/badmask"
cp "$TMP/te/masks/000000.png" "$TMP/badmask/masks/000002.png"
$PY -c "
from PIL import Image
Image.open('$TMP/te/masks/000001.png').resize((48, 48)).save('$TMP/badmask/masks/000001.png')"
expect_fail "mask of the wrong size" "000001.png" "${TRAIN[@]}" --data "$TMP/badmask" --out "$TMP/e5.safetensors"
[[ ! -e $TMP/e5.safetensors ]] && ok || bad "a model file was left behind"
expect_fail "eval a classifier on scenes" "scene folder" "$VITC" eval "$ROOT/models/default.safetensors" --data "$TMP/te"
report test_segment
