#!/usr/bin/env bash
# CLI: vitc train / vitc eval. Errors are one line with a non-zero exit and leave no output file;
# a short Fashion-MNIST run learns; an interrupted run resumed with --resume ends with the same
# model, byte for byte; classify on a test PNG agrees with eval on the same test image.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
O=$TMP/m.safetensors

expect_fail "train: unknown option" "unknown option" "$VITC" train --data mnist --out "$O" --bogus 1
expect_fail "train: no --out" "--out" "$VITC" train --data mnist
expect_fail "train: missing data" "no such dataset" "$VITC" train --data "$TMP/nothing" --out "$O"
expect_fail "train: bad --epochs" "positive" "$VITC" train --data mnist --epochs 0 --out "$O"
expect_fail "train: bad --ema" "--ema" "$VITC" train --data mnist --ema 1.5 --out "$O"
expect_fail "train: bad --mixup" "--mixup" "$VITC" train --data mnist --mixup -1 --out "$O"
expect_fail "train: bad --drop-path" "--drop-path" "$VITC" train --data mnist --drop-path 1 --out "$O"
expect_fail "train: bad --patch-kernel" "--patch-kernel" "$VITC" train --data mnist --patch-kernel 0 --out "$O"
expect_fail "train: bad --mix-prob" "--mix-prob" "$VITC" train --data mnist --cutmix 1 --mix-prob 2 --out "$O"
printf 'not a checkpoint' >"$TMP/bad.safetensors"
expect_fail "train: corrupt resume file" "bad.safetensors" "$VITC" train --resume "$TMP/bad.safetensors" --out "$O"
[[ -e $O ]] && bad "a failed train left $O" || ok
expect_fail "eval: no model" "MODEL" "$VITC" eval --data mnist
expect_fail "eval: missing model file" "nothing.safetensors" "$VITC" eval "$TMP/nothing.safetensors" --data mnist
expect_fail "eval: unknown option" "unknown option" "$VITC" eval "$TMP/x" --data mnist --bogus

# scripts/run-status.sh on a made-up run log: the validated epochs, weights and EMA, the last progress line
mkdir -p "$TMP/run"
printf '%s\n' 'epoch 1/100  step 50/187500  loss 2.0  lr 1e-4  300 img/s  ETA 5h00m' \
  'epoch 1/100: train loss 1.1, train accuracy 67.66%, val loss 0.8, val accuracy 72.15% (10000 images), EMA 74.25%, 84 s' \
  'epoch 2/100: train loss 1.0, train accuracy 70.00%, 80 s' \
  'epoch 3/10: train loss 0.9, train accuracy 71.00%, val loss 0.7, val accuracy 75.50% (200 images), 80 s' \
  'epoch 4/10  step 60/100  loss 0.9  lr 1e-4  300 img/s  ETA 1m00s' >"$TMP/run/run.log"
expect_ok "run-status.sh" bash "$(dirname "$0")/../../scripts/run-status.sh" "$TMP/run"
grep -q '^  1/100  72.15%  74.25%' "$TMP/out" && grep -q '^  3/10   75.50%  -' "$TMP/out" && ! grep -q '^  2/100' "$TMP/out" &&
  grep -q '^last: epoch 4/10  step 60/100' "$TMP/out" && grep -q '^not running' "$TMP/out" && ok || bad "run-status.sh output: $(cat "$TMP/out")"
expect_fail "run-status.sh without a log" "no " bash "$(dirname "$0")/../../scripts/run-status.sh" "$TMP/nothing"

# an image folder with too few classes
mkdir -p "$TMP/folder/only"
expect_fail "train: folder with one class" "two class" "$VITC" train --data "$TMP/folder" --out "$O"

if [[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || -n ${VITC_FASHION_MNIST:-} ]]; then
  TR=(--data fashion-mnist --dim 64 --depth 1 --heads 2 --mlp-dim 128 --patch 7 --pool avg --pad 0 --limit 512 --val-limit 200
      --batch 16 --lr 5e-3 --warmup 0.3 --seed 3 --threads 2 --quiet)
  # the uninterrupted run
  expect_ok "train: short Fashion-MNIST run" "$VITC" train "${TR[@]}" --epochs 4 --out "$TMP/a.safetensors"
  cp "$TMP/out" "$TMP/train.log"
  # the same run stopped after 50 steps (in its second epoch) (checkpointed every 10), then resumed
  expect_ok "train: interrupted run" "$VITC" train "${TR[@]}" --epochs 4 --max-steps 50 --save-every 10 --out "$TMP/b.safetensors"
  expect_ok "train: --resume" "$VITC" train --resume "$TMP/b.ckpt.safetensors" --threads 2 --quiet --out "$TMP/b.safetensors"
  grep -q "200 validation images" "$TMP/out" && ok || bad "resumed run does not keep --val-limit"
  cmp -s "$TMP/a.safetensors" "$TMP/b.safetensors" && ok || bad "resumed run differs from the uninterrupted one"
  # validation accuracy printed per epoch, well above chance (10 %)
  acc=$(grep -o 'val accuracy [0-9.]*' "$TMP/train.log" | tail -1 | awk '{print $3}')
  awk -v a="${acc:-0}" 'BEGIN { exit !(a > 40) }' && ok || bad "short run accuracy ${acc:-?}% (want > 40%)"
  # and the accuracy on the batches trained on, which rises from epoch 1 to epoch 4
  tacc=$(grep -o 'train accuracy [0-9.]*' "$TMP/train.log" | awk '{print $3}' | tr '\n' ' ')
  awk -v s="$tacc" 'BEGIN { n = split(s, a, " "); exit !(n == 4 && a[4] > a[1] && a[4] > 30) }' && ok ||
    bad "training accuracy per epoch: ${tacc:-none}"
  expect_fail "train: odd --patch-kernel" "patch kernel 8 must be the patch size 7 plus an even number" "$VITC" train "${TR[@]}" --patch-kernel 8 --out "$TMP/ov.safetensors"
  [[ ! -e $TMP/ov.safetensors ]] && ok || bad "refused --patch-kernel left an output file"
  # overlapping patches (kernel 11 at stride 7, zero padding 2): trains, resumes byte for byte, and the
  # model file says so
  expect_ok "train --patch-kernel" "$VITC" train "${TR[@]}" --patch-kernel 11 --epochs 2 --out "$TMP/ov.safetensors"
  cp "$TMP/out" "$TMP/ov.log"
  kacc=$(grep -o 'val accuracy [0-9.]*' "$TMP/ov.log" | tail -1 | awk '{print $3}')
  awk -v a="${kacc:-0}" 'BEGIN { exit !(a > 30) }' && ok || bad "overlapping patches: accuracy ${kacc:-?}% (want > 30%)"
  expect_ok "train --patch-kernel: interrupted" "$VITC" train "${TR[@]}" --patch-kernel 11 --epochs 2 --max-steps 40 --save-every 20 --out "$TMP/ov2.safetensors"
  expect_ok "train --patch-kernel: --resume" "$VITC" train --resume "$TMP/ov2.ckpt.safetensors" --threads 2 --quiet --out "$TMP/ov2.safetensors"
  cmp -s "$TMP/ov.safetensors" "$TMP/ov2.safetensors" && ok || bad "overlapping patches: resumed run differs"
  expect_ok "info: overlapping patches" "$VITC" info "$TMP/ov.safetensors" --json
  $PY -c "import json; d = json.load(open('$TMP/out')); assert d['patch_size'] == 7 and d['patch_kernel'] == 11, d" && ok ||
    bad "info --json: patch_kernel"
  # --sam: two passes per step; said at the start, kept by the checkpoint (resume byte for byte)
  expect_ok "train --sam" "$VITC" train "${TR[@]}" --sam 0.05 --epochs 2 --out "$TMP/sam.safetensors"
  grep -q "SAM (sharpness-aware minimization), radius 0.05" "$TMP/out" && ok || bad "--sam run does not say so"
  samacc=$(grep -o 'val accuracy [0-9.]*' "$TMP/out" | tail -1 | awk '{print $3}')
  awk -v a="${samacc:-0}" 'BEGIN { exit !(a > 30) }' && ok || bad "--sam: accuracy ${samacc:-?}% (want > 30%)"
  expect_ok "train --sam: interrupted" "$VITC" train "${TR[@]}" --sam 0.05 --epochs 2 --max-steps 40 --save-every 20 --out "$TMP/sam2.safetensors"
  expect_ok "train --sam: --resume" "$VITC" train --resume "$TMP/sam2.ckpt.safetensors" --threads 2 --quiet --out "$TMP/sam2.safetensors"
  cmp -s "$TMP/sam.safetensors" "$TMP/sam2.safetensors" && ok || bad "resumed --sam run differs from the uninterrupted one"
  expect_fail "train: bad --sam" "--sam" "$VITC" train "${TR[@]}" --sam -1 --out "$TMP/sam3.safetensors"
  expect_fail "train: --sam with --resume" "--sam" "$VITC" train --resume "$TMP/sam2.ckpt.safetensors" --sam 0.1 --out "$TMP/sam3.safetensors"
  [[ ! -e $TMP/sam3.safetensors ]] && ok || bad "a refused --sam run left an output file"
  # --bf16: bfloat16 products; the portable kernels refuse it with one line
  expect_fail "train: --bf16 without AVX512-BF16" "AVX512-BF16" env VITC_KERNELS=ref "$VITC" train "${TR[@]}" --epochs 1 --bf16 --out "$TMP/r.safetensors"
  [[ ! -e $TMP/r.safetensors ]] && ok || bad "refused --bf16 run left an output file"
  if grep -qw avx512_bf16 /proc/cpuinfo; then
    expect_ok "train --bf16" "$VITC" train "${TR[@]}" --epochs 4 --bf16 --out "$TMP/h.safetensors"
    grep -q "bfloat16 products" "$TMP/out" && ok || bad "--bf16 run does not say so"
    acc=$(grep -o 'val accuracy [0-9.]*' "$TMP/out" | tail -1 | awk '{print $3}')
    awk -v a="${acc:-0}" 'BEGIN { exit !(a > 40) }' && ok || bad "bf16 short run accuracy ${acc:-?}% (want > 40%)"
    # interrupted and resumed without the flag: the checkpoint keeps bf16, the result is the same bytes
    expect_ok "train --bf16: interrupted" "$VITC" train "${TR[@]}" --epochs 4 --bf16 --max-steps 50 --save-every 10 --out "$TMP/i.safetensors"
    expect_ok "train --bf16: --resume" "$VITC" train --resume "$TMP/i.ckpt.safetensors" --threads 2 --quiet --out "$TMP/i.safetensors"
    cmp -s "$TMP/h.safetensors" "$TMP/i.safetensors" && ok || bad "resumed bf16 run differs from the uninterrupted one"
    expect_fail "train: bf16 run resumed without AVX512-BF16" "AVX512-BF16" env VITC_KERNELS=ref "$VITC" train --resume "$TMP/i.ckpt.safetensors" --out "$TMP/j.safetensors"
  fi
  # --ema: validated beside the weights, written as the model; resumes byte for byte
  expect_ok "train --ema" "$VITC" train "${TR[@]}" --epochs 2 --ema 0.99 --out "$TMP/e.safetensors"
  grep -q "EMA [0-9.]*%" "$TMP/out" && ok || bad "--ema run prints no EMA accuracy"
  cmp -s "$TMP/e.safetensors" "$TMP/a.safetensors" && bad "--ema model equals the plain one" || ok
  expect_ok "train --ema: interrupted" "$VITC" train "${TR[@]}" --epochs 2 --ema 0.99 --max-steps 45 --save-every 15 --out "$TMP/f.safetensors"
  expect_ok "train --ema: --resume" "$VITC" train --resume "$TMP/f.ckpt.safetensors" --threads 2 --quiet --out "$TMP/f.safetensors"
  cmp -s "$TMP/e.safetensors" "$TMP/f.safetensors" && ok || bad "resumed --ema run differs from the uninterrupted one"
  # --mixup / --cutmix: soft targets; the mixing is seeded per batch, so a resumed run is the same bytes
  expect_ok "train --mixup --cutmix" "$VITC" train "${TR[@]}" --epochs 2 --mixup 0.8 --cutmix 1 --out "$TMP/x.safetensors"
  grep -q "mixup alpha 0.8, CutMix alpha 1" "$TMP/out" && ok || bad "--mixup run does not say so"
  acc=$(grep -o 'val accuracy [0-9.]*' "$TMP/out" | tail -1 | awk '{print $3}')
  awk -v a="${acc:-0}" 'BEGIN { exit !(a > 25) }' && ok || bad "mixed run accuracy ${acc:-?}% (want > 25%)"
  expect_ok "train --mixup --cutmix --mix-prob 0" "$VITC" train "${TR[@]}" --epochs 2 --mixup 0.8 --cutmix 1 --mix-prob 0 --out "$TMP/z.safetensors"
  expect_ok "train: 2 epochs, no mixing" "$VITC" train "${TR[@]}" --epochs 2 --out "$TMP/p.safetensors"
  cmp -s "$TMP/z.safetensors" "$TMP/p.safetensors" && ok || bad "--mix-prob 0 differs from a run without mixing"
  cmp -s "$TMP/x.safetensors" "$TMP/p.safetensors" && bad "--mixup run equals the plain one" || ok
  expect_ok "train --mixup: interrupted" "$VITC" train "${TR[@]}" --epochs 2 --mixup 0.8 --cutmix 1 --max-steps 45 --save-every 15 --out "$TMP/y.safetensors"
  expect_ok "train --mixup: --resume" "$VITC" train --resume "$TMP/y.ckpt.safetensors" --threads 2 --out "$TMP/y.safetensors"
  grep -q "mixup alpha 0.8" "$TMP/out" && ok || bad "resumed run forgot --mixup"
  cmp -s "$TMP/x.safetensors" "$TMP/y.safetensors" && ok || bad "resumed --mixup run differs from the uninterrupted one"
  # the plain run stopped after 45 steps and resumed with mixing: it says so and ends elsewhere
  expect_ok "train: interrupted plain run" "$VITC" train "${TR[@]}" --epochs 2 --max-steps 45 --save-every 15 --out "$TMP/u.safetensors"
  expect_ok "train: --resume --cutmix" "$VITC" train --resume "$TMP/u.ckpt.safetensors" --threads 2 --cutmix 1 --out "$TMP/u.safetensors"
  grep -q "CutMix alpha 1" "$TMP/out" && ok || bad "--resume --cutmix does not mix"
  cmp -s "$TMP/u.safetensors" "$TMP/p.safetensors" && bad "--resume --cutmix ignored" || ok
  # --drop-path: stochastic depth, seeded per step; in the checkpoint's recipe, so a resumed run is the same bytes
  TD=("${TR[@]}" --depth 3)
  expect_ok "train --drop-path" "$VITC" train "${TD[@]}" --epochs 2 --drop-path 0.3 --out "$TMP/dp.safetensors"
  grep -q "drop path (stochastic depth) rising to 0.3" "$TMP/out" && ok || bad "--drop-path run does not say so"
  expect_ok "train: depth 3, no drop path" "$VITC" train "${TD[@]}" --epochs 2 --out "$TMP/dq.safetensors"
  cmp -s "$TMP/dp.safetensors" "$TMP/dq.safetensors" && bad "--drop-path run equals the plain one" || ok
  expect_ok "train --drop-path: interrupted" "$VITC" train "${TD[@]}" --epochs 2 --drop-path 0.3 --max-steps 45 --save-every 15 --out "$TMP/dr.safetensors"
  expect_fail "train: --drop-path with --resume" "--drop-path" "$VITC" train --resume "$TMP/dr.ckpt.safetensors" --drop-path 0.2 --out "$TMP/dr.safetensors"
  expect_ok "train --drop-path: --resume" "$VITC" train --resume "$TMP/dr.ckpt.safetensors" --threads 2 --out "$TMP/dr.safetensors"
  grep -q "rising to 0.3" "$TMP/out" && ok || bad "resumed run forgot --drop-path"
  cmp -s "$TMP/dp.safetensors" "$TMP/dr.safetensors" && ok || bad "resumed --drop-path run differs from the uninterrupted one"
  # --val-every 3 over 4 epochs: validation after epochs 3 and 4 only; the training is unchanged
  expect_ok "train --val-every 3" "$VITC" train "${TR[@]}" --epochs 4 --val-every 3 --out "$TMP/v.safetensors"
  [[ $(grep -c "val accuracy" "$TMP/out") -eq 2 && $(grep -c "^epoch [0-9]/4: train loss" "$TMP/out") -eq 4 ]] && ok ||
    bad "--val-every 3: $(grep -c 'val accuracy' "$TMP/out") validations"
  grep -q "^epoch 3/4.*val accuracy" "$TMP/out" && grep -q "^epoch 4/4.*val accuracy" "$TMP/out" && ok || bad "--val-every 3 validated the wrong epochs"
  cmp -s "$TMP/v.safetensors" "$TMP/a.safetensors" && ok || bad "--val-every changed the trained model"
  expect_fail "train: bad --val-every" "--val-every" "$VITC" train "${TR[@]}" --val-every 0 --out "$TMP/w.safetensors"
  # --val-split on IDX data: a fixed tenth of the training images is held out and validates (the
  # test set stays unseen); eval --split val scores the same images; the run resumes byte for byte
  expect_ok "train --val-split 0.1 (IDX)" "$VITC" train "${TR[@]}" --epochs 2 --val-split 0.1 --out "$TMP/hv.safetensors"
  grep -q "200 validation images (held out of the training images)" "$TMP/out" && ok || bad "--val-split run: $(grep '^data' "$TMP/out")"
  hacc=$(grep -o 'val accuracy [0-9.]*' "$TMP/out" | tail -1 | awk '{print $3}')
  expect_ok "eval --split val" "$VITC" eval "$TMP/hv.safetensors" --data fashion-mnist --split val --val-split 0.1 --limit 200 --threads 2
  grep -q "(val, 200 images): accuracy ${hacc:-none}%" "$TMP/out" && ok || bad "eval --split val ($(head -1 "$TMP/out")) vs training's ${hacc:-?}%"
  expect_ok "eval --split val, all" "$VITC" eval "$TMP/hv.safetensors" --data fashion-mnist --split val --val-split 0.1 --threads 2
  nval=$(head -1 "$TMP/out" | grep -o '(val, [0-9]* images' | grep -o '[0-9]*')
  expect_ok "eval --split train --val-split" "$VITC" eval "$TMP/hv.safetensors" --data fashion-mnist --split train --val-split 0.1 --threads 2
  ntr=$(head -1 "$TMP/out" | grep -o '(train, [0-9]* images' | grep -o '[0-9]*')
  [[ -n $nval && -n $ntr && $((nval + ntr)) -eq 60000 && $nval -gt 5700 && $nval -lt 6300 ]] && ok ||
    bad "--val-split 0.1 split 60000 into ${ntr:-?} + ${nval:-?}"
  expect_ok "train --val-split: interrupted" "$VITC" train "${TR[@]}" --epochs 2 --val-split 0.1 --max-steps 40 --save-every 20 --out "$TMP/hw.safetensors"
  expect_fail "train: --val-split with --resume" "--val-split" "$VITC" train --resume "$TMP/hw.ckpt.safetensors" --val-split 0.2 --out "$TMP/hw.safetensors"
  expect_ok "train --val-split: --resume" "$VITC" train --resume "$TMP/hw.ckpt.safetensors" --threads 2 --out "$TMP/hw.safetensors"
  grep -q "held out of the training images" "$TMP/out" && ok || bad "resumed run forgot --val-split"
  cmp -s "$TMP/hv.safetensors" "$TMP/hw.safetensors" && ok || bad "resumed --val-split run differs from the uninterrupted one"
  cmp -s "$TMP/hv.safetensors" "$TMP/p.safetensors" && bad "--val-split run equals one on all the images" || ok
  expect_fail "eval: --split val of IDX data without --val-split" "no validation split" "$VITC" eval "$TMP/hv.safetensors" --data fashion-mnist --split val
  expect_fail "eval: bad --split" "--split" "$VITC" eval "$TMP/hv.safetensors" --data fashion-mnist --split nope
  expect_ok "eval of the EMA model" "$VITC" eval "$TMP/e.safetensors" --data fashion-mnist --limit 100
  expect_ok "eval --json" "$VITC" eval "$TMP/a.safetensors" --data fashion-mnist --limit 300 --json
  if $PY - "$TMP/out" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["images"] == 300 and r["accuracy"] > 0.4, r["accuracy"]
assert len(r["classes"]) == 10 and r["classes"][9]["name"] == "Ankle boot"
assert sum(map(sum, r["confusion"])) == 300
PYEOF
  then ok; else bad "eval --json content"; fi
  expect_ok "eval --tta-flip --json" "$VITC" eval "$TMP/a.safetensors" --data fashion-mnist --limit 300 --tta-flip --json
  $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["tta"] == "flip" and r["images"] == 300 and sum(map(sum, r["confusion"])) == 300' "$TMP/out" \
    && ok || bad "eval --tta-flip --json content"
  expect_ok "eval text" "$VITC" eval "$TMP/a.safetensors" --data fashion-mnist --limit 50
  grep -q "confusion matrix" "$TMP/out" && ok || bad "eval prints no confusion matrix"
  # classify on test image 0 as PNG == eval on test image 0
  expect_ok "eval first test image" "$VITC" eval "$TMP/a.safetensors" --data fashion-mnist --limit 1 --json
  pred_eval=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print([j for j, v in enumerate(r["confusion"][9]) if v][0])' "$TMP/out")
  expect_ok "classify the PNG" "$VITC" classify "$TMP/a.safetensors" examples/images/0000_ankle_boot.png --json --top 1
  pred_cls=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["top"][0]["index"])' "$TMP/out")
  [[ -n $pred_eval && $pred_eval == "$pred_cls" ]] && ok || bad "classify ($pred_cls) and eval ($pred_eval) disagree"
  # ensembles: eval of several models averages their probabilities; a model twice is the model
  expect_ok "eval: an ensemble" "$VITC" eval "$TMP/a.safetensors" "$TMP/e.safetensors" --data fashion-mnist --limit 300 --json
  $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["models"]) == 2 and r["images"] == 300 and r["accuracy"] > 0.3' "$TMP/out" \
    && ok || bad "ensemble eval --json content"
  expect_ok "eval: a model twice" "$VITC" eval "$TMP/a.safetensors" "$TMP/a.safetensors" --data fashion-mnist --limit 300 --json
  acc2=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$TMP/out")
  expect_ok "eval: the model once" "$VITC" eval "$TMP/a.safetensors" --data fashion-mnist --limit 300 --json
  acc1=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$TMP/out")
  [[ -n $acc1 && $acc1 == "$acc2" ]] && ok || bad "eval of a model twice ($acc2) != once ($acc1)"
  expect_ok "create: a 5-class model" "$VITC" create --dim 32 --depth 1 --heads 2 --patch 7 --img-size 28 --classes 5 --out "$TMP/c5.safetensors"
  expect_fail "eval: more than 8 models" "at most 8 models" "$VITC" eval $(for i in 1 2 3 4 5 6 7 8 9; do echo "$TMP/a.safetensors"; done) --data fashion-mnist --limit 10
  expect_fail "eval: an ensemble with other classes" "classes" "$VITC" eval "$TMP/a.safetensors" "$TMP/c5.safetensors" --data fashion-mnist --limit 10
  # vitc average (checkpoint averaging): a model with itself is the model; another architecture is refused
  expect_ok "average: a model twice" "$VITC" average "$TMP/a.safetensors" "$TMP/a.safetensors" --out "$TMP/avg.safetensors"
  expect_ok "eval: the average" "$VITC" eval "$TMP/avg.safetensors" --data fashion-mnist --limit 300 --json
  accv=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$TMP/out")
  [[ -n $accv && $accv == "$acc1" ]] && ok || bad "the average of a model and itself ($accv) != the model ($acc1)"
  expect_ok "average: two runs" "$VITC" average "$TMP/a.safetensors" "$TMP/e.safetensors" --out "$TMP/avg2.safetensors"
  $PY - "$TMP/a.safetensors" "$TMP/e.safetensors" "$TMP/avg2.safetensors" <<'PYEOF' && ok || bad "average of two: not the mean of the tensors"
import json, struct, sys
import numpy as np
def read(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    h.pop("__metadata__", None)
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], np.float32) for k, v in h.items()}
a, b, m = (read(p) for p in sys.argv[1:])
assert set(a) == set(m) and len(m) > 10
for k in m:
    want = ((a[k].astype(np.float64) + b[k]) / 2).astype(np.float32)
    assert np.array_equal(m[k], want), k
PYEOF
  expect_fail "average: one model" "two or more" "$VITC" average "$TMP/a.safetensors" --out "$TMP/avg3.safetensors"
  expect_fail "average: no --out" "--out" "$VITC" average "$TMP/a.safetensors" "$TMP/a.safetensors"
  expect_fail "average: another architecture" "model 2 has another architecture" "$VITC" average "$TMP/a.safetensors" "$TMP/c5.safetensors" --out "$TMP/avg3.safetensors"
  expect_fail "average: missing model" "nothing.safetensors" "$VITC" average "$TMP/a.safetensors" "$TMP/nothing.safetensors" --out "$TMP/avg3.safetensors"
  [[ ! -e $TMP/avg3.safetensors ]] && ok || bad "a refused average left an output file"
  # --teacher: knowledge distillation (DeiT). The plain student learns a blend of the labels and the
  # teacher's probabilities; an interrupted run resumes with its teacher, byte for byte
  expect_fail "train: --distill without --teacher" "--teacher" "$VITC" train "${TR[@]}" --distill hard --out "$TMP/k.safetensors"
  expect_fail "train: bad --distill" "--distill" "$VITC" train "${TR[@]}" --teacher "$TMP/a.safetensors" --distill medium --out "$TMP/k.safetensors"
  expect_fail "train: bad --distill-alpha" "--distill-alpha" "$VITC" train "${TR[@]}" --teacher "$TMP/a.safetensors" --distill-alpha 2 --out "$TMP/k.safetensors"
  expect_fail "train: missing teacher" "teacher" "$VITC" train "${TR[@]}" --teacher "$TMP/nothing.safetensors" --out "$TMP/k.safetensors"
  expect_fail "train: teacher with other classes" "teacher" "$VITC" train "${TR[@]}" --teacher "$TMP/c5.safetensors" --out "$TMP/k.safetensors"
  [[ ! -e $TMP/k.safetensors ]] && ok || bad "a refused distillation run left an output file"
  expect_ok "train --teacher" "$VITC" train "${TR[@]}" --epochs 2 --teacher "$TMP/a.safetensors" --out "$TMP/t.safetensors"
  grep -q "distilling from 1 teacher (soft labels): targets 0.5 x the data's labels + 0.5 x the teachers'" "$TMP/out" && ok ||
    bad "--teacher run does not say so"
  cmp -s "$TMP/t.safetensors" "$TMP/p.safetensors" && bad "--teacher run equals the plain one" || ok
  expect_ok "train --teacher: interrupted" "$VITC" train "${TR[@]}" --epochs 2 --teacher "$TMP/a.safetensors" --max-steps 45 --save-every 15 --out "$TMP/t2.safetensors"
  expect_ok "train --teacher: --resume" "$VITC" train --resume "$TMP/t2.ckpt.safetensors" --threads 2 --out "$TMP/t2.safetensors"
  grep -q "distilling from 1 teacher" "$TMP/out" && ok || bad "resumed run forgot its teacher"
  cmp -s "$TMP/t.safetensors" "$TMP/t2.safetensors" && ok || bad "resumed --teacher run differs from the uninterrupted one"
  # a teacher named relative to the folder the run started in is found when resuming from another
  (cd "$TMP" && "$VITC" train "${TR[@]}" --epochs 1 --max-steps 5 --save-every 5 --teacher a.safetensors --out rel.safetensors >/dev/null 2>&1) \
    && ok || bad "train with a relative --teacher"
  expect_ok "train --teacher: --resume from another folder" "$VITC" train --resume "$TMP/rel.ckpt.safetensors" --threads 2 --quiet --out "$TMP/rel.safetensors"
  # the student learns the teacher's labels: a teacher whose head calls class k "k + 1", taught with
  # --distill hard --distill-alpha 1 (no data labels), gives a student that mostly answers y + 1
  $PY - "$TMP/a.safetensors" "$TMP/rot.safetensors" <<'PYEOF' && ok || bad "could not write the rotated teacher"
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data = bytearray(raw[8 + n:])
for name in ("head.weight", "head.bias"):
    t = hdr[name]
    a, b = t["data_offsets"]
    x = np.frombuffer(bytes(data[a:b]), dtype="<f4").reshape(t["shape"])
    data[a:b] = np.roll(x, 1, axis=0).astype("<f4").tobytes()  # row k <- row k - 1
open(sys.argv[2], "wb").write(raw[:8 + n] + bytes(data))
PYEOF
  expect_ok "train: hard distillation from the rotated teacher" "$VITC" train "${TR[@]}" --epochs 4 --teacher "$TMP/rot.safetensors" \
    --distill hard --distill-alpha 1 --out "$TMP/rs.safetensors"
  expect_ok "eval the rotated teacher's student" "$VITC" eval "$TMP/rs.safetensors" --data fashion-mnist --limit 300 --json
  $PY - "$TMP/out" <<'PYEOF' && ok || bad "the student did not learn the teacher's labels"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["confusion"]
shifted = sum(m[k][(k + 1) % 10] for k in range(10)) / 300
right = sum(m[k][k] for k in range(10)) / 300
print(f"student of the rotated teacher: {shifted:.1%} answer y + 1, {right:.1%} answer y")
assert shifted > 0.25 and right < 0.15, (shifted, right)
PYEOF
  # --teacher-offline: the teachers label each training image once, unaugmented; the rotated teacher
  # still makes a y + 1 student, and an interrupted run resumes to the same bytes
  expect_ok "train --teacher-offline" "$VITC" train "${TR[@]}" --epochs 4 --teacher "$TMP/rot.safetensors" --teacher-offline \
    --distill hard --distill-alpha 1 --out "$TMP/ro.safetensors"
  grep -q "the teachers labelled the 512 training images (unaugmented)" "$TMP/out" && ok || bad "--teacher-offline run does not say so"
  expect_ok "eval the offline student" "$VITC" eval "$TMP/ro.safetensors" --data fashion-mnist --limit 300 --json
  $PY - "$TMP/out" <<'PYEOF' && ok || bad "the offline student did not learn the teacher's labels"
import json, sys
m = json.load(open(sys.argv[1]))["confusion"]
shifted = sum(m[k][(k + 1) % 10] for k in range(10)) / 300
right = sum(m[k][k] for k in range(10)) / 300
print(f"student of the rotated teacher, offline: {shifted:.1%} answer y + 1, {right:.1%} answer y")
assert shifted > 0.25 and right < 0.15, (shifted, right)
PYEOF
  expect_ok "train --teacher-offline --mixup" "$VITC" train "${TR[@]}" --epochs 2 --teacher "$TMP/a.safetensors" --teacher-offline --mixup 0.8 --out "$TMP/to.safetensors"
  expect_ok "train --teacher-offline: interrupted" "$VITC" train "${TR[@]}" --epochs 2 --teacher "$TMP/a.safetensors" --teacher-offline --mixup 0.8 \
    --max-steps 45 --save-every 15 --out "$TMP/to2.safetensors"
  expect_ok "train --teacher-offline: --resume" "$VITC" train --resume "$TMP/to2.ckpt.safetensors" --threads 2 --out "$TMP/to2.safetensors"
  grep -q "the teachers labelled" "$TMP/out" && ok || bad "resumed run forgot --teacher-offline"
  cmp -s "$TMP/to.safetensors" "$TMP/to2.safetensors" && ok || bad "resumed --teacher-offline run differs from the uninterrupted one"
  expect_fail "train: --teacher-offline without --teacher" "--teacher" "$VITC" train "${TR[@]}" --teacher-offline --out "$TMP/k.safetensors"
  # a student with a distillation token (DeiT) learns the teacher in its distillation head
  expect_ok "train --dist-token --teacher" "$VITC" train "${TR[@]}" --pool token --dist-token --epochs 2 --teacher "$TMP/a.safetensors" \
    --distill hard --out "$TMP/dt.safetensors"
  grep -q "the distillation head learns them, the class head the data's labels" "$TMP/out" && ok || bad "DeiT student run does not say so"
  expect_ok "info: the DeiT student" "$VITC" info "$TMP/dt.safetensors"
  grep -q "distillation yes" "$TMP/out" && ok || bad "--dist-token model has no distillation token"
  expect_fail "train: --distill-alpha for a DeiT student" "distillation token" "$VITC" train "${TR[@]}" --pool token --dist-token \
    --teacher "$TMP/a.safetensors" --distill-alpha 0.3 --out "$TMP/k.safetensors"
  # fine-tuning from a checkpoint at another resolution with another number of classes
  mkdir -p "$TMP/imgs/a" "$TMP/imgs/b" "$TMP/imgs/c"
  for i in 0 1 2 3 4 5 6 7 8 9; do
    cp examples/images/0000_ankle_boot.png "$TMP/imgs/a/$i.png"
    cp examples/images/0002_trouser.png "$TMP/imgs/b/$i.png"
    cp examples/images/0018_bag.png "$TMP/imgs/c/$i.png"
  done
  expect_ok "train: --init at another size, new head" "$VITC" train --data "$TMP/imgs" --init "$TMP/a.safetensors" \
    --img-size 35 --epochs 1 --batch 4 --threads 2 --val-split 0.3 --out "$TMP/ft.safetensors"
  grep -q "augmentation: random-resized crops (0.08-1 of the area, aspect 3/4-4/3), flips, erasing 0.25" "$TMP/out" && ok ||
    bad "an image folder does not get random-resized crops by default: $(grep augmentation "$TMP/out")"
  # the crop kind is chosen, kept by the checkpoint (resume byte for byte), and refused mixed or on resume
  FOLD=(--data "$TMP/imgs" --init "$TMP/a.safetensors" --img-size 35 --epochs 2 --batch 4 --threads 2 --val-split 0.3 --seed 4)
  expect_ok "train: folder, --rrc-scale 0.5" "$VITC" train "${FOLD[@]}" --rrc-scale 0.5 --out "$TMP/rr.safetensors"
  grep -q "random-resized crops (0.5-1 of the area" "$TMP/out" && ok || bad "--rrc-scale not applied"
  expect_ok "train: folder, --rrc-scale 0.5, interrupted" "$VITC" train "${FOLD[@]}" --rrc-scale 0.5 --max-steps 7 --save-every 3 --out "$TMP/rr2.safetensors"
  expect_ok "train: folder, --rrc-scale 0.5, resumed" "$VITC" train --resume "$TMP/rr2.ckpt.safetensors" --threads 2 --out "$TMP/rr2.safetensors"
  grep -q "random-resized crops (0.5-1 of the area" "$TMP/out" && ok || bad "resumed run forgot its crops"
  cmp -s "$TMP/rr.safetensors" "$TMP/rr2.safetensors" && ok || bad "resumed random-resized-crop run differs"
  expect_ok "train: folder with --pad" "$VITC" train "${FOLD[@]}" --epochs 1 --pad 4 --out "$TMP/rr3.safetensors"
  grep -q "augmentation: crops padded by 4 px, flips" "$TMP/out" && ok || bad "--pad on a folder: $(grep augmentation "$TMP/out")"
  expect_fail "train: --pad with --rrc-scale" "give one" "$VITC" train "${FOLD[@]}" --pad 4 --rrc-scale 0.3 --out "$TMP/rr4.safetensors"
  expect_fail "train: bad --rrc-scale" "--rrc-scale" "$VITC" train "${FOLD[@]}" --rrc-scale 2 --out "$TMP/rr4.safetensors"
  expect_fail "train: --rrc-scale with --resume" "recipe" "$VITC" train --resume "$TMP/rr2.ckpt.safetensors" --rrc-scale 0.3 --out "$TMP/rr4.safetensors"
  [[ ! -e $TMP/rr4.safetensors ]] && ok || bad "a refused crop option left an output file"
  expect_ok "info on the fine-tuned model" "$VITC" info "$TMP/ft.safetensors"
  grep -q "35" "$TMP/out" && ok || bad "fine-tuned model is not 35x35"
  # layer-wise learning-rate decay (fine-tuning): said at the start, kept by the checkpoint (resume byte
  # for byte), and a different model from the same run without it
  FT=(--data fashion-mnist --init "$TMP/a.safetensors" --limit 256 --val-limit 100 --batch 16 --lr 2e-3 --seed 5 --threads 2 --quiet --epochs 2)
  expect_ok "train --layer-decay" "$VITC" train "${FT[@]}" --layer-decay 0.6 --out "$TMP/ld.safetensors"
  grep -q "layer-wise learning-rate decay 0.6: blocks.0 x0.6 ... embeddings x0.36, head x1" "$TMP/out" && ok ||
    bad "--layer-decay run does not say so: $(head -3 "$TMP/out")"
  expect_ok "train --layer-decay: interrupted" "$VITC" train "${FT[@]}" --layer-decay 0.6 --max-steps 20 --save-every 10 --out "$TMP/ld2.safetensors"
  expect_ok "train --layer-decay: --resume" "$VITC" train --resume "$TMP/ld2.ckpt.safetensors" --threads 2 --quiet --out "$TMP/ld2.safetensors"
  cmp -s "$TMP/ld.safetensors" "$TMP/ld2.safetensors" && ok || bad "resumed --layer-decay run differs from the uninterrupted one"
  expect_ok "train: the same without --layer-decay" "$VITC" train "${FT[@]}" --out "$TMP/ld3.safetensors"
  cmp -s "$TMP/ld.safetensors" "$TMP/ld3.safetensors" && bad "--layer-decay changed nothing" || ok
  expect_fail "train: bad --layer-decay" "--layer-decay" "$VITC" train "${FT[@]}" --layer-decay 1.5 --out "$TMP/ld4.safetensors"
  expect_fail "train: --layer-decay with --resume" "--layer-decay" "$VITC" train --resume "$TMP/ld2.ckpt.safetensors" --layer-decay 0.5 --out "$TMP/ld4.safetensors"
  [[ ! -e $TMP/ld4.safetensors ]] && ok || bad "a refused --layer-decay run left an output file"
  # fine-tuning each family's tower (the PyTorch-checked layers: SwiGLU + LayerScale, quick_gelu, the tanh
  # GELU, the attention-pooling head): a run that learns something and writes a loadable classifier; CLIP's
  # projection (embeddings only) comes out as it went in
  F=$VITC_FIXTURES/families
  for fam in dinov2_reg_swiglu_timm dinov2_reg_swiglu_hf clip_proj_hf clip_quickgelu_timm siglip_hf siglip_timm; do
    [[ -f $F/$fam/model.safetensors ]] || { bad "family fixture $fam missing"; continue; }
    expect_ok "train --init $fam" "$VITC" train --init "$F/$fam/model.safetensors" --heads 2 --data fashion-mnist \
      --limit 128 --val-limit 32 --batch 16 --epochs 1 --threads 2 --quiet --out "$TMP/fam_$fam.safetensors"
    expect_ok "classify with the fine-tuned $fam" "$VITC" classify "$TMP/fam_$fam.safetensors" "$VITC_FIXTURES/images/chelsea.png" --json
    grep -q '"label"' "$TMP/out" && ok || bad "fine-tuned $fam classifies nothing: $(head -c 200 "$TMP/out")"
  done
  # BEiT (relative position bias; its heads from the tables, no --heads): fine-tunes at its own 32x32 grid
  expect_ok "train --init beit_timm" "$VITC" train --init "$F/beit_timm/model.safetensors" --data fashion-mnist \
    --limit 128 --val-limit 32 --batch 16 --epochs 1 --threads 2 --quiet --out "$TMP/fam_beit.safetensors"
  expect_ok "classify with the fine-tuned beit_timm" "$VITC" classify "$TMP/fam_beit.safetensors" "$VITC_FIXTURES/images/chelsea.png" --json
  grep -q '"label"' "$TMP/out" && ok || bad "fine-tuned beit classifies nothing: $(head -c 200 "$TMP/out")"
  # and at another size (HF's BEiT, 24x24 -> 40x40: the bias tables resampled as HF does)
  expect_ok "train --init beit_hf --img-size 40" "$VITC" train --init "$F/beit_hf/model.safetensors" --data fashion-mnist \
    --img-size 40 --limit 64 --val-limit 16 --batch 16 --epochs 1 --threads 2 --quiet --out "$TMP/fam_beit40.safetensors"
  expect_ok "info on the 40x40 BEiT" "$VITC" info "$TMP/fam_beit40.safetensors" --json
  grep -q '"image_size":40' "$TMP/out" && ok || bad "fine-tuned BEiT is not 40x40: $(head -c 300 "$TMP/out")"
  "$PY" - "$F/clip_proj_hf/model.safetensors" "$TMP/fam_clip_proj_hf.safetensors" <<'PY' && ok || bad "fine-tuning changed CLIP's projection"
import sys
sys.path.insert(0, "tests/cli")
from compare_safetensors import load
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if (a["visual_projection.weight"] == b["embed_proj.weight"]).all() else 1)
PY
fi
report test_train
