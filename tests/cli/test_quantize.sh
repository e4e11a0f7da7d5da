#!/usr/bin/env bash
# vitc quantize: dynamic and static int8 files of the bundled model load in classify/eval/bench/embed
# with no flag, agree with the float model; --int8 does the same at run time; bad input fails in one
# line and leaves no file; a quantized file cannot be trained from.
set -u
source "$(dirname "$0")/lib.sh"
VITC=${VITC:-build/vitc}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=$ROOT/models/default.safetensors
SEG=$ROOT/models/segment.safetensors
PY=${PYTHON:-/usr/bin/python3}
IMGS=("$ROOT"/examples/images/*.png)

expect_ok "quantize dynamic" "$VITC" quantize "$MODEL" --out "$TMP/q.safetensors"
grep -q "dynamic" "$TMP/out" || bad "quantize: no mode in the report"
expect_ok "info" "$VITC" info "$TMP/q.safetensors" --json
grep -q '"int8":"dynamic"' "$TMP/out" || bad "info: no int8 mode: $(head -c 300 "$TMP/out")"
size_f=$(stat -c %s "$MODEL"); size_q=$(stat -c %s "$TMP/q.safetensors")
[[ $((size_q * 100 / size_f)) -le 35 ]] || bad "quantized file is $size_q bytes of $size_f"

# the quantized file and --int8 give the same logits; both close to the float ones, same top-1
expect_ok "classify float" "$VITC" classify "$MODEL" "${IMGS[@]}" --json --logits
cp "$TMP/out" "$TMP/f32.jsonl"
expect_ok "classify q8 file" "$VITC" classify "$TMP/q.safetensors" "${IMGS[@]}" --json --logits
cp "$TMP/out" "$TMP/q8.jsonl"
expect_ok "classify --int8" "$VITC" classify "$MODEL" "${IMGS[@]}" --json --logits --int8
cp "$TMP/out" "$TMP/rt.jsonl"
if "$PY" - "$TMP/f32.jsonl" "$TMP/q8.jsonl" "$TMP/rt.jsonl" <<'PYEOF'
import json, math, sys
f, q, r = ([json.loads(l) for l in open(p)] for p in sys.argv[1:4])
assert len(f) == len(q) == len(r) > 0
for a, b, c in zip(f, q, r):
    assert b["logits"] == c["logits"], "file and --int8 differ"
    x, y = a["logits"], b["logits"]
    cos = sum(u * v for u, v in zip(x, y)) / math.sqrt(sum(u * u for u in x) * sum(v * v for v in y))
    assert cos > 0.999, cos
    assert a["top"][0]["label"] == b["top"][0]["label"], (a["file"], a["top"][0], b["top"][0])
PYEOF
then ok; else bad "int8 logits disagree"; fi

# int8 attention (Q.K^T and P.V): recorded by quantize, the same logits as the flag, close to float
expect_ok "quantize --int8-attention" "$VITC" quantize "$MODEL" --out "$TMP/qa.safetensors" --int8-attention
grep -q "int8 attention" "$TMP/out" || bad "quantize --int8-attention: not in the report"
expect_ok "info int8 attention" "$VITC" info "$TMP/qa.safetensors" --json
grep -q '"int8_attention":true' "$TMP/out" || bad "info: int8_attention not true: $(head -c 300 "$TMP/out")"
expect_ok "classify qa file" "$VITC" classify "$TMP/qa.safetensors" "${IMGS[@]}" --json --logits
cp "$TMP/out" "$TMP/qa.jsonl"
expect_ok "classify --int8 --int8-attention" "$VITC" classify "$MODEL" "${IMGS[@]}" --json --logits --int8 --int8-attention
cmp -s "$TMP/out" "$TMP/qa.jsonl" && ok || bad "the int8-attention file and the flags differ"
cmp -s "$TMP/qa.jsonl" "$TMP/q8.jsonl" && bad "int8 attention changed nothing" || ok
if "$PY" - "$TMP/f32.jsonl" "$TMP/qa.jsonl" <<'PYEOF'
import json, math, sys
f, q = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
for a, b in zip(f, q):
    x, y = a["logits"], b["logits"]
    cos = sum(u * v for u, v in zip(x, y)) / math.sqrt(sum(u * u for u in x) * sum(v * v for v in y))
    assert cos > 0.999, cos
    assert a["top"][0]["label"] == b["top"][0]["label"]
PYEOF
then ok; else bad "int8-attention logits disagree with float"; fi
VITC_INT8=ref "$VITC" classify "$TMP/qa.safetensors" "${IMGS[@]}" --json --logits >"$TMP/k.jsonl" 2>/dev/null &&
  cmp -s "$TMP/k.jsonl" "$TMP/qa.jsonl" && ok || bad "int8 attention: the portable kernel's bits differ"
expect_fail "--int8-attention on a float model" "needs an int8 model" "$VITC" classify "$MODEL" "${IMGS[0]}" --int8-attention

# every int8 kernel this CPU has (VITC_INT8) gives the same bits: the integer sums are exact
for k in ref avx2 avx512bw avx-vnni avx512-vnni neon-dotprod; do
  VITC_INT8=$k "$VITC" classify "$TMP/q.safetensors" "${IMGS[@]}" --json --logits >"$TMP/k.jsonl" 2>"$TMP/k.err" ||
    { bad "VITC_INT8=$k: exit $?"; continue; }
  if grep -q "unsupported on this CPU" "$TMP/k.err"; then continue; fi
  cmp -s "$TMP/k.jsonl" "$TMP/q8.jsonl" && ok || bad "VITC_INT8=$k: not the default kernel's logits"
done
VITC_INT8=int4 "$VITC" classify "$TMP/q.safetensors" "${IMGS[0]}" >/dev/null 2>"$TMP/k.err" &&
  grep -q "VITC_INT8=int4 is unknown" "$TMP/k.err" && ok || bad "VITC_INT8=int4: no warning: $(show_err "$TMP/k.err")"

expect_ok "bench q8" "$VITC" bench "$TMP/q.safetensors" --iters 1 --warmup 0 --json
grep -q '"kernel":"[a-z0-9]*+int8' "$TMP/out" || bad "bench: kernel does not say int8: $(head -c 300 "$TMP/out")"
expect_ok "embed q8" "$VITC" embed "$TMP/q.safetensors" "${IMGS[0]}" --json
expect_ok "segment q8" "$VITC" quantize "$SEG" --out "$TMP/seg.q8.safetensors"
expect_ok "segment with the q8 file" "$VITC" segment "$TMP/seg.q8.safetensors" "${IMGS[0]}" --out "$TMP/segout"

# static: calibrated on images, one input scale per layer
expect_ok "quantize static" "$VITC" quantize "$MODEL" --mode static --calib "$ROOT/examples/images" --out "$TMP/s.safetensors"
grep -q "calibrated on" "$TMP/err" || bad "static: no calibration report"
expect_ok "classify static" "$VITC" classify "$TMP/s.safetensors" "${IMGS[@]}" --json
expect_ok "info static" "$VITC" info "$TMP/s.safetensors" --json
grep -q '"int8":"static"' "$TMP/out" || bad "info: not static"

FM=${VITC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
if [[ -f $FM/t10k-images-idx3-ubyte.gz ]]; then
  expect_ok "eval float" "$VITC" eval "$MODEL" --data fashion-mnist --limit 300 --json
  cp "$TMP/out" "$TMP/ef.json"
  expect_ok "eval q8" "$VITC" eval "$TMP/q.safetensors" --data fashion-mnist --limit 300 --json
  cp "$TMP/out" "$TMP/eq.json"
  if "$PY" - "$TMP/ef.json" "$TMP/eq.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert abs(a["accuracy"] - b["accuracy"]) <= 0.01, (a["accuracy"], b["accuracy"])
PYEOF
  then ok; else bad "eval: int8 accuracy more than a point off"; fi
  expect_ok "quantize static on fashion-mnist" "$VITC" quantize "$MODEL" --mode static --calib fashion-mnist --calib-count 32 --out "$TMP/s2.safetensors"
fi

# refusals
expect_fail "no --out" "--out is required" "$VITC" quantize "$MODEL"
expect_fail "bad mode" "--mode must be" "$VITC" quantize "$MODEL" --mode fast --out "$TMP/x.safetensors"
expect_fail "static without calib" "needs --calib" "$VITC" quantize "$MODEL" --mode static --out "$TMP/x.safetensors"
expect_fail "calib for dynamic" "--calib is for" "$VITC" quantize "$MODEL" --calib "$ROOT/examples/images" --out "$TMP/x.safetensors"
mkdir -p "$TMP/emptydir"
expect_fail "empty calib folder" "emptydir" "$VITC" quantize "$MODEL" --mode static --calib "$TMP/emptydir" --out "$TMP/x.safetensors"
[[ ! -e $TMP/x.safetensors ]] || bad "a refused quantize left a file"
expect_fail "quantize twice" "already quantized" "$VITC" quantize "$TMP/q.safetensors" --out "$TMP/x.safetensors"
expect_fail "train from q8" "quantized" "$VITC" train --data fashion-mnist --init "$TMP/q.safetensors" --epochs 1 --out "$TMP/t.safetensors"
expect_fail "average q8" "quantized" "$VITC" average "$TMP/q.safetensors" "$MODEL" --out "$TMP/avg.safetensors"
[[ ! -e $TMP/t.safetensors && ! -e $TMP/avg.safetensors ]] || bad "a refused command left a file"
head -c 20000 "$TMP/q.safetensors" >"$TMP/trunc.safetensors"
expect_fail "truncated q8" "trunc.safetensors" "$VITC" classify "$TMP/trunc.safetensors" "${IMGS[0]}"
report test_quantize
