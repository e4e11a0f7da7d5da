#!/usr/bin/env bash
# CLI: classify / info / create on the reference models, and one clear error per broken input.
source "$(dirname "$0")/lib.sh"
M=$VITC_FIXTURES/models
B=$VITC_FIXTURES/bad
PY=${PYTHON:-/usr/bin/python3}

# classify on the preprocessed reference input reproduces the PyTorch logits
expect_ok "classify npy --json --logits" "$VITC" classify "$M/hf_vit/model.safetensors" "$M/hf_vit/input.npy" --json --logits --top 3
cp "$TMP/out" "$TMP/hf.jsonl"
if $PY - "$TMP/hf.jsonl" "$M/hf_vit/logits.npy" <<'PYEOF'
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
ref = np.load(sys.argv[2])
got = np.array([r["logits"] for r in rows], dtype=np.float64)
assert got.shape == ref.shape, (got.shape, ref.shape)
assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
for r, l in zip(rows, ref):
    assert [t["index"] for t in r["top"]] == list(np.argsort(-l)[:3]), r
    assert r["top"][0]["label"] == "class_%d" % r["top"][0]["index"]
    assert abs(sum(np.exp(l - l.max()) / np.exp(l - l.max()).sum()) - 1) < 1e-6
PYEOF
then ok; else bad "classify --json logits differ from PyTorch"; fi

expect_ok "classify a JPEG" "$VITC" classify "$M/deit_distilled/model.safetensors" /usr/share/darknet/data/dog.jpg --top 2
grep -q "dog.jpg" "$TMP/out" && [[ $(wc -l <"$TMP/out") -eq 3 ]] && ok || bad "classify text output: $(cat "$TMP/out")"
expect_ok "classify batch of images" "$VITC" classify "$M/vit_tiny_patch16_224/model.safetensors" \
  /usr/share/darknet/data/dog.jpg /usr/share/darknet/data/horses.jpg /usr/share/darknet/data/kite.jpg --batch 2 --json
[[ $(wc -l <"$TMP/out") -eq 3 ]] && ok || bad "3 JSON lines expected"
# batching does not change the answer
"$VITC" classify "$M/vit_tiny_patch16_224/model.safetensors" /usr/share/darknet/data/dog.jpg /usr/share/darknet/data/kite.jpg --batch 1 --json --logits >"$TMP/b1"
"$VITC" classify "$M/vit_tiny_patch16_224/model.safetensors" /usr/share/darknet/data/dog.jpg /usr/share/darknet/data/kite.jpg --batch 2 --json --logits >"$TMP/b2"
$PY -c "
import json,sys
a=[json.loads(l)['logits'] for l in open('$TMP/b1')]; b=[json.loads(l)['logits'] for l in open('$TMP/b2')]
assert max(abs(x-y) for r,s in zip(a,b) for x,y in zip(r,s)) < 1e-4" && ok || bad "batch 1 vs 2 differ"

expect_ok "info" "$VITC" info "$M/vit_tiny_patch16_224/model.safetensors"
grep -q "vit_tiny_patch16_224" "$TMP/out" && grep -q "2.507 G" "$TMP/out" && grep -q "5717416" "$TMP/out" && ok || bad "info content: $(cat "$TMP/out")"
expect_ok "info --json" "$VITC" info "$M/hf_deit_teacher/model.safetensors" --json
$PY -c "import json,sys; d=json.load(open('$TMP/out')); assert d['dist_token']==1 and d['ln_eps']<1e-11 and d['labels'][4]=='class_4' and d['preprocess']['crop_pct']==0.875" && ok || bad "info --json content"
expect_ok "info with --heads" "$VITC" info "$M/heads_override/model.safetensors" --heads 8
grep -q "heads 8" "$TMP/out" && ok || bad "--heads not applied"
printf 'a\nb\nc\nd\ne\n' >"$TMP/labels.txt"
expect_ok "classify with --labels" "$VITC" classify "$M/hf_vit/model.safetensors" "$M/hf_vit/input.npy" --labels "$TMP/labels.txt" --top 1
grep -qE '  [a-e]$' "$TMP/out" && ok || bad "--labels not used: $(cat "$TMP/out")"

expect_ok "create" "$VITC" create --arch vit_tiny_patch16_224 --classes 10 --seed 3 --out "$TMP/tiny.safetensors"
expect_ok "created model loads" "$VITC" info "$TMP/tiny.safetensors"
grep -q "vit_tiny_patch16_224 (vitc names)" "$TMP/out" && ok || bad "created model info"

# preprocess --model takes the model's preprocessing (HF DeiT: squash to 256, crop 224, bicubic, ImageNet stats)
expect_ok "preprocess --model" "$VITC" preprocess /usr/share/darknet/data/dog.jpg --model "$M/hf_deit/model.safetensors" --out "$TMP/d.npy"
$PY - "$TMP/d.npy" <<'PYEOF' && ok || bad "preprocess --model differs from torchvision"
import sys, numpy as np, torchvision.transforms as T
from PIL import Image
im = Image.open('/usr/share/darknet/data/dog.jpg').convert('RGB')
t = T.Compose([T.Resize((256, 256), interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
               T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(im).numpy()
assert np.abs(np.load(sys.argv[1]) - t).max() < 0.02
PYEOF

# bad input: one line naming the file and the problem, non-zero exit, nothing on stdout
expect_fail "truncated checkpoint" "truncated.safetensors" "$VITC" classify "$B/truncated.safetensors" "$M/hf_vit/input.npy"
expect_fail "header past end" "header length" "$VITC" info "$B/header_past_end.safetensors"
expect_fail "bad JSON header" "not valid JSON" "$VITC" info "$B/bad_json.safetensors"
expect_fail "offsets out of range" "beyond the data area" "$VITC" info "$B/offset_out_of_range.safetensors"
expect_fail "overlapping tensors" "overlap" "$VITC" info "$B/overlapping.safetensors"
expect_fail "missing tensor" "missing tensor blocks.0.mlp.fc1.bias" "$VITC" info "$B/missing_tensor.safetensors"
expect_fail "wrong shape" "head.weight" "$VITC" info "$B/wrong_shape.safetensors"
expect_fail "wrong dtype" "dtype I32" "$VITC" info "$B/wrong_dtype.safetensors"
expect_fail "empty file" "empty.safetensors" "$VITC" info "$B/empty.safetensors"
expect_fail "not a ViT" "not a ViT checkpoint" "$VITC" info "$B/not_vit.safetensors"
expect_fail "missing model file" "cannot open" "$VITC" info "$TMP/nope.safetensors"
expect_fail "unknown option" "unknown option '--frobnicate'" "$VITC" classify "$B/good.safetensors" x.jpg --frobnicate
expect_fail "unknown command" "unknown command" "$VITC" frobnicate
expect_fail "bad --top" "--top" "$VITC" classify "$B/good.safetensors" x.jpg --top 0
expect_fail "missing image" "nope.jpg" "$VITC" classify "$B/good.safetensors" "$TMP/nope.jpg"
head -c 2000 /usr/share/darknet/data/dog.jpg >"$TMP/trunc.jpg"
expect_fail "truncated image" "trunc.jpg" "$VITC" classify "$B/good.safetensors" "$TMP/trunc.jpg"
printf 'garbage' >"$TMP/x.npy"
expect_fail "corrupt npy input" "x.npy" "$VITC" classify "$B/good.safetensors" "$TMP/x.npy"
$PY -c "import numpy as np; np.save('$TMP/odd.npy', np.zeros((3,30,30), np.float32))"
expect_fail "input size not a multiple of the patch" "multiple of the patch" "$VITC" classify "$B/good.safetensors" "$TMP/odd.npy"
# overlapping patches whose metadata disagrees with the weights, or names an impossible kernel
for k in 6 7; do
  $PY - "$M/overlap_k8/model.safetensors" "$TMP/k$k.safetensors" "$k" <<'PYEOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
cfg = json.loads(h["__metadata__"]["vitc.config"])
cfg["patch_kernel"] = int(sys.argv[3])
h["__metadata__"]["vitc.config"] = json.dumps(cfg)
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PYEOF
done
expect_fail "patch kernel disagrees with the weights" "patch_embed.proj.weight" "$VITC" info "$TMP/k6.safetensors"
expect_fail "impossible patch kernel" "patch kernel 7 must be the patch size 4 plus an even number" "$VITC" info "$TMP/k7.safetensors"
expect_fail "create: odd --patch-kernel" "plus an even number" "$VITC" create --dim 32 --depth 1 --heads 2 --patch 4 --patch-kernel 7 --img-size 28 --out "$TMP/x.safetensors"
expect_fail "bad heads" "dim" "$VITC" info "$M/heads_override/model.safetensors" --heads 7
expect_fail "create unknown arch" "unknown architecture" "$VITC" create --arch vit_gigantic_patch16_224 --out "$TMP/x.safetensors"
[[ ! -e $TMP/x.safetensors ]] && ok || bad "create left a file behind"
expect_fail "labels count mismatch" "labels" "$VITC" info "$M/vit_tiny_patch16_224/model.safetensors" --labels "$TMP/labels.txt"
# the README's main command: the bundled model on the bundled examples (NNNN_class.png, the first
# test image of each class) names the classes right, with the labels from its metadata. A 93.5% model
# misses about one image in fifteen, so one miss of the ten is allowed (the current model takes the
# shirt 0004 for a T-shirt, 0.71 against 0.28); two are a regression.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
expect_ok "classify the bundled examples" "$VITC" classify "$ROOT/models/default.safetensors" "$ROOT"/examples/images/*.png --json
if $PY - "$TMP/out" <<'PYEOF'
import json, os, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 10, len(rows)
miss = []
for r in rows:
    want = re.sub(r"^[0-9]+_", "", os.path.basename(r["file"])[:-4])
    got = re.sub(r"[^a-z]+", "_", r["top"][0]["label"].lower()).strip("_")
    if got != want: miss.append((r["file"], r["top"][0]["label"]))
assert len(miss) <= 1, miss
PYEOF
then ok; else bad "bundled model on the bundled examples"; fi
# --tta-flip: an image and its mirror image get the same probabilities (each is the mean of both
# views), which they do not without it
$PY -c 'import sys; from PIL import Image, ImageOps; ImageOps.mirror(Image.open(sys.argv[1])).save(sys.argv[2])' \
  "$ROOT/examples/images/0004_shirt.png" "$TMP/mirror.png"
"$VITC" classify "$ROOT/models/default.safetensors" "$ROOT/examples/images/0004_shirt.png" "$TMP/mirror.png" --json --top 10 >"$TMP/plain"
expect_ok "classify --tta-flip" "$VITC" classify "$ROOT/models/default.safetensors" "$ROOT/examples/images/0004_shirt.png" \
  "$TMP/mirror.png" --json --top 10 --tta-flip
if $PY - "$TMP/out" "$TMP/plain" <<'PYEOF'
import json, sys
def probs(path):
    return [{t["index"]: t["prob"] for t in json.loads(l)["top"]} for l in open(path)]
a, b = probs(sys.argv[1])
assert max(abs(a[k] - b[k]) for k in a) < 1e-5, (a, b)
assert abs(sum(a.values()) - 1) < 1e-4
p, q = probs(sys.argv[2])
assert max(abs(p[k] - q[k]) for k in p) > 1e-3, "plain views agree: the test proves nothing"
for k in a:
    assert abs(a[k] - (p[k] + q[k]) / 2) < 1e-5, (k, a[k], p[k], q[k])
PYEOF
then ok; else bad "classify --tta-flip: an image and its mirror differ"; fi
# --bf16: the bundled model picks the same class as in float for every bundled example, with
# probabilities within 1e-2 of float's; the portable kernels refuse it in one line
expect_fail "classify --bf16 with the portable kernels" "AVX512-BF16" env VITC_KERNELS=ref "$VITC" classify \
  "$ROOT/models/default.safetensors" "$ROOT/examples/images/0004_shirt.png" --bf16
if grep -qw avx512_bf16 /proc/cpuinfo; then
  "$VITC" classify "$ROOT/models/default.safetensors" "$ROOT"/examples/images/*.png --json >"$TMP/f32.jsonl"
  expect_ok "classify --bf16" "$VITC" classify "$ROOT/models/default.safetensors" "$ROOT"/examples/images/*.png --json --bf16
  if $PY - "$TMP/out" "$TMP/f32.jsonl" <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 10
for r, s in zip(a, b):
    assert r["top"][0]["index"] == s["top"][0]["index"], (r["file"], r["top"][0], s["top"][0])
    assert abs(r["top"][0]["prob"] - s["top"][0]["prob"]) < 1e-2, (r["top"][0], s["top"][0])
PYEOF
  then ok; else bad "classify --bf16 on the bundled examples"; fi
fi

report test_model_cli
