#!/usr/bin/env bash
# Detection from the shell: vitc detect on a Hugging Face YOLOS checkpoint (random weights,
# tests/ref/make_yolos_fixtures.py): JSON detections equal a PyTorch run of the same image through
# YolosImageProcessor's resize (restated: shortest/longest edge, PIL bilinear) and the restated model
# with post_process_object_detection; the picture; info; and one-line errors that leave nothing behind.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX=${VITC_FIXTURES:-$ROOT/tests/fixtures/gen}/yolos
if [[ ! -f $FIX/yolos_plain/model.safetensors ]]; then
  echo "test_detect: no YOLOS fixtures in $FIX: skipped"
  report test_detect
  exit
fi
export VITC_NUM_THREADS=2
cp -r "$FIX/yolos_mid_resized" "$TMP/m"
# the processor's sizes made small so the test is quick: shorter side 40, longer at most 56
$PY - "$TMP/m/preprocessor_config.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1])); p["size"] = {"shortest_edge": 40, "longest_edge": 56}
json.dump(p, open(sys.argv[1], "w"))
PYEOF
$PY -c "
from PIL import Image
Image.open('$ROOT/examples/scenes/scene0.png').convert('RGB').resize((150, 100), Image.BILINEAR).save('$TMP/wide.png')
Image.open('$ROOT/examples/scenes/scene1.png').convert('RGB').resize((60, 130), Image.BILINEAR).save('$TMP/tall.png')"

expect_ok "info" "$VITC" info "$TMP/m/model.safetensors"
if grep -q "detect: 3 classes + no object, 6 detection tokens, mid position embeddings yes" "$TMP/out" &&
   grep -q "shorter side to 40, longer at most 56" "$TMP/out"; then ok; else bad "info: $(cat "$TMP/out")"; fi

expect_ok "detect json" "$VITC" detect "$TMP/m/model.safetensors" "$TMP/wide.png" "$TMP/tall.png" --threshold 0.2 \
  --json --out "$TMP/pics"
cp "$TMP/out" "$TMP/det.json"
if (cd "$ROOT/tests/ref" && $PY - "$TMP/m" "$TMP/det.json" "$TMP/wide.png" "$TMP/tall.png") <<'PYEOF'
import json, sys
import numpy as np
import torch
from PIL import Image
from make_yolos_fixtures import yolos_forward, post_process
d, det, *images = sys.argv[1:]
cfg = json.load(open(d + "/config.json"))
cfg["num_labels"] = len(cfg["id2label"])
pp = json.load(open(d + "/preprocessor_config.json"))
W = {}
raw = open(d + "/model.safetensors", "rb").read()
n = int.from_bytes(raw[:8], "little")
hdr = json.loads(raw[8:8 + n])
for k, v in hdr.items():
    if k == "__metadata__":
        continue
    a, b = v["data_offsets"]
    W[k] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], np.float32).reshape(v["shape"]).astype(np.float64))
def resize_size(w, h, size, max_size):  # DETR's get_size_with_aspect_ratio
    lo, hi = float(min(w, h)), float(max(w, h)); raw = None
    if hi / lo * size > max_size:
        raw = max_size * lo / hi; size = int(round(raw))
    if (h <= w and h == size) or (w <= h and w == size):
        return w, h
    if w < h:
        return size, int((raw if raw is not None else size) * h / w)
    return int((raw if raw is not None else size) * w / h), size
got = [json.loads(l) for l in open(det)]
mean, std = np.array(pp["image_mean"]), np.array(pp["image_std"])
for im_path, g in zip(images, got):
    im = Image.open(im_path).convert("RGB")
    ow, oh = resize_size(im.width, im.height, pp["size"]["shortest_edge"], pp["size"]["longest_edge"])
    x = (np.asarray(im.resize((ow, oh), Image.BILINEAR), np.float64) / 255 - mean) / std
    x = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        logits, boxes, _ = yolos_forward(W, cfg, x)
    want = post_process(logits, boxes, 0.2, [(im.height, im.width)])[0]
    want.sort(key=lambda r: -r["score"])
    assert len(want) == len(g["detections"]), (im_path, len(want), len(g["detections"]))
    for a, b in zip(want, g["detections"]):
        assert a["label"] == b["index"] and abs(a["score"] - b["score"]) < 1e-4, (a, b)
        assert max(abs(p - q) for p, q in zip(a["box"], b["box"])) < 2e-3 * max(im.width, im.height), (a, b)
        assert b["label"] == cfg["id2label"][str(a["label"])]
    assert g["width"] == im.width and g["height"] == im.height
PYEOF
then ok; else bad "detect json against the PyTorch restatement"; fi
if [[ -f $TMP/pics/wide.detections.png && -f $TMP/pics/tall.detections.png ]] &&
   $PY -c "
from PIL import Image
a = Image.open('$TMP/pics/wide.detections.png'); b = Image.open('$TMP/wide.png')
assert a.size == b.size and a.mode == 'RGB' and a.tobytes() != b.convert('RGB').tobytes()"; then ok; else bad "pictures"; fi

expect_ok "detect text" "$VITC" detect "$TMP/m/model.safetensors" "$TMP/wide.png" --threshold 0.2 --top 2
if [[ $(grep -c '^  thing' "$TMP/out") -le 2 ]] && grep -q "wide.png: " "$TMP/out"; then ok; else bad "text: $(cat "$TMP/out")"; fi

# bad input: one line, nothing written
expect_fail "classifier" "not a detection model" "$VITC" detect "$ROOT/models/default.safetensors" "$TMP/wide.png" --out "$TMP/no1"
[[ ! -e $TMP/no1 ]] && ok || bad "classifier: output folder made"
expect_fail "segmentation model" "use vitc segment" "$VITC" detect "$ROOT/models/segment.safetensors" "$TMP/wide.png"
expect_fail "threshold" "--threshold" "$VITC" detect "$TMP/m/model.safetensors" "$TMP/wide.png" --threshold 2
expect_fail "top" "--top" "$VITC" detect "$TMP/m/model.safetensors" "$TMP/wide.png" --top 0
head -c 200 "$TMP/wide.png" >"$TMP/trunc.png"
expect_fail "truncated image" "trunc.png" "$VITC" detect "$TMP/m/model.safetensors" "$TMP/trunc.png" --out "$TMP/no2"
[[ -z $(ls "$TMP/no2" 2>/dev/null) ]] && ok || bad "truncated: files written"
expect_fail "detector to classify" "detection model" "$VITC" classify "$TMP/m/model.safetensors" "$TMP/wide.png"
expect_fail "detector to segment" "detection model" "$VITC" segment "$TMP/m/model.safetensors" "$TMP/wide.png" --out "$TMP/no3"
expect_fail "no image" "needs a MODEL" "$VITC" detect "$TMP/m/model.safetensors"

# training a detector on scenes (tiny, from scratch and from the bundled classifier), eval, resume
FM=${VITC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
if [[ -f $FM/train-images-idx3-ubyte.gz || -f $FM/train-images-idx3-ubyte ]]; then
  expect_ok "train scenes" "$VITC" scenes --split train --count 80 --seed 31 --out "$TMP/tr"
  expect_ok "test scenes" "$VITC" scenes --split test --count 12 --seed 32 --out "$TMP/te"
  DET=("$VITC" train --task detect --data "$TMP/tr" --dim 32 --depth 2 --heads 2 --patch 8 --det-tokens 6 --epochs 2
       --batch 8 --val-limit 6 --quiet)
  expect_ok "train detector" "${DET[@]}" --mid-pos --out "$TMP/d.safetensors"
  if grep -q "YOLOS: 6 detection tokens, mid position embeddings" "$TMP/out" && grep -Eq "val mAP [0-9.]+, mAP@0.5 [0-9.]+" "$TMP/out" &&
     grep -Eq "ce [0-9.]+, l1 [0-9.]+, giou [0-9.]+" "$TMP/out"; then ok; else bad "train output: $(cat "$TMP/out")"; fi
  expect_ok "info" "$VITC" info "$TMP/d.safetensors"
  grep -q "detect: 10 classes + no object, 6 detection tokens, mid position embeddings yes" "$TMP/out" && ok || bad "info: $(cat "$TMP/out")"
  expect_ok "eval" "$VITC" eval "$TMP/d.safetensors" --data "$TMP/te" --json
  if $PY -c "
import json, sys
r = json.load(open('$TMP/out'))
assert r['task'] == 'detect' and r['scenes'] == 12 and 0 <= r['map'] <= r['map50'] <= 1
assert len(r['classes']) == 10 and sum(c['objects'] for c in r['classes']) == r['objects']"; then ok; else bad "eval json: $(head -c 300 "$TMP/out")"; fi
  expect_ok "eval text" "$VITC" eval "$TMP/d.safetensors" --data "$TMP/te"
  grep -Eq "mAP@\[.5:.95\] [0-9.]+, mAP@0.5 [0-9.]+" "$TMP/out" && grep -q "Ankle boot" "$TMP/out" && ok || bad "eval text: $(head -3 "$TMP/out")"
  expect_ok "detect with the trained model" "$VITC" detect "$TMP/d.safetensors" "$TMP/te/images/000000.png" --threshold 0 --top 3 --json
  # resume: 6 steps, stop at 3, resume: the same checkpoint as without the stop
  expect_ok "uninterrupted" "${DET[@]}" --limit 48 --epochs 1 --out "$TMP/a.safetensors"
  expect_ok "stopped" "${DET[@]}" --limit 48 --epochs 1 --out "$TMP/b.safetensors" --max-steps 3 --save-every 3
  expect_ok "resumed" "$VITC" train --task detect --resume "$TMP/b.ckpt.safetensors" --quiet --out "$TMP/b.safetensors"
  cmp -s "$TMP/a.ckpt.safetensors" "$TMP/b.ckpt.safetensors" && ok || bad "resume: checkpoints differ"
  expect_fail "resume as segmentation" "not a segmentation run" "$VITC" train --task segment --resume "$TMP/b.ckpt.safetensors" --out "$TMP/c.safetensors"
  expect_ok "from the classifier" "$VITC" train --task detect --data "$TMP/tr" --init "$ROOT/models/default.safetensors" \
    --det-tokens 5 --epochs 1 --batch 8 --limit 16 --val-limit 4 --quiet --out "$TMP/f.safetensors"
  # a detector's backbone fine-tuned for segmentation (its detection tokens dropped); another token count refused
  expect_ok "segmentation from the detector" "$VITC" train --task segment --data "$TMP/tr" --init "$TMP/d.safetensors" \
    --epochs 1 --batch 8 --limit 16 --val-limit 4 --quiet --out "$TMP/s.safetensors"
  expect_ok "info of the segmentation model" "$VITC" info "$TMP/s.safetensors"
  grep -q "head:         segment: 11 classes" "$TMP/out" && ! grep -q "detection tokens" "$TMP/out" && ok || bad "seg from det: $(cat "$TMP/out")"
  expect_fail "detector from a detector with other tokens" "6 detection tokens, the new one 4" "$VITC" train --task detect \
    --data "$TMP/tr" --init "$TMP/d.safetensors" --det-tokens 4 --epochs 1 --batch 8 --limit 16 --out "$TMP/x.safetensors"
  # bad annotations: one line, no model written
  for case in outside negative category empty; do
    rm -rf "$TMP/bad"; cp -r "$TMP/tr" "$TMP/bad"
    $PY - "$TMP/bad/annotations.json" "$case" <<'PYEOF'
import json, sys
p, case = sys.argv[1:]
a = json.load(open(p))
if case == "outside": a["annotations"][0]["bbox"] = [90, 10, 20, 5]
if case == "negative": a["annotations"][0]["bbox"] = [10, 10, -3, 5]
if case == "category": a["annotations"][0]["category_id"] = 10
if case == "empty": a["annotations"] = []
json.dump(a, open(p, "w"))
PYEOF
    pat=$([[ $case == outside ]] && echo "outside the" || ([[ $case == negative ]] && echo "negative box size") ||
          ([[ $case == category ]] && echo "category_id in") || echo "no boxes")
    expect_fail "annotations: $case" "$pat" "$VITC" train --task detect --data "$TMP/bad" --dim 32 --depth 1 --heads 2 \
      --patch 8 --epochs 1 --batch 8 --quiet --out "$TMP/bad.safetensors"
    [[ ! -e $TMP/bad.safetensors ]] && ok || bad "annotations $case: a model was written"
  done
  expect_fail "eval on no boxes" "no boxes" "$VITC" eval "$TMP/d.safetensors" --data "$TMP/bad"
  expect_fail "detection options for segmentation" "detection options" "$VITC" train --task segment --data "$TMP/tr" --det-tokens 4 --out "$TMP/x.safetensors"
fi
report test_detect
