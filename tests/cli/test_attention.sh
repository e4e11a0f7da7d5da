#!/usr/bin/env bash
# CLI: vitc attention (heat maps over the original image, raw maps) and vitc embed (features,
# tokens, JSON) with the bundled model; the files agree with the library (ctypes on libvitc.so);
# bad inputs fail in one line and leave no file behind.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=$ROOT/models/default.safetensors
LIB=${VITC_BUILD:-$ROOT/build}/libvitc.so
# a sanitizer build's library loads into Python only with its runtimes first (and Python's own
# allocations kept out of the leak check)
SAN_RT=$(ldd "$LIB" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ {printf "%s:", $3}')
PYLIB=$PY
if [[ -n $SAN_RT ]]; then PYLIB="env LD_PRELOAD=${SAN_RT%:} ASAN_OPTIONS=detect_leaks=0 $PY"; fi
SHIRT=$ROOT/examples/images/0004_shirt.png
BOOT=$ROOT/examples/images/0000_ankle_boot.png

# a non-square test image (121 x 61): preprocessing resizes its short side to 56 and crops the width
$PY -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").resize((121, 61), Image.BILINEAR).save(sys.argv[2])' \
  "$SHIRT" "$TMP/wide.png"

# the library's answers, through ctypes: attention maps, embeddings, tokens of preprocessed inputs
cat >"$TMP/lib.py" <<'PYEOF'
import ctypes, sys
import numpy as np
lib = ctypes.CDLL(sys.argv[1])
P = ctypes.c_void_p
def model(path):
    m = P()
    assert lib.vitc_model_load(path.encode(), None, ctypes.byref(m)) == 0, lib
    return m
def run(what, model_path, inp, *args):
    m = model(model_path)
    x = np.ascontiguousarray(np.load(inp), dtype=np.float32)
    if x.ndim == 3: x = x[None]
    n, _, H, W = x.shape
    lib.vitc_model_num_tokens.argtypes = [P, ctypes.c_int, ctypes.c_int]
    T = lib.vitc_model_num_tokens(m, H, W)
    if what == "attention":
        out = np.zeros((n, H // 4, W // 4), np.float32)
        rc = lib.vitc_model_attention(m, P(x.ctypes.data), n, H, W, int(args[0]), int(args[1]), P(out.ctypes.data))
    elif what == "embed":
        out = np.zeros((n, 128), np.float32)
        rc = lib.vitc_model_embed(m, P(x.ctypes.data), n, H, W, P(out.ctypes.data))
    else:
        out = np.zeros((n, T, 128), np.float32)
        rc = lib.vitc_model_embed_tokens(m, P(x.ctypes.data), n, H, W, P(out.ctypes.data))
    assert rc == 0, rc
    return out
if __name__ == "__main__":
    what, model_path, inp, got = sys.argv[2:6]
    ref = run(what, model_path, inp, *sys.argv[6:])
    g = np.load(got)
    if what == "attention": ref = ref[0]
    assert g.dtype == np.float32 and g.shape == ref.shape, (g.dtype, g.shape, ref.shape)
    assert np.array_equal(g, ref), np.abs(g - ref).max()
PYEOF
"$VITC" preprocess "$TMP/wide.png" --model "$MODEL" --out "$TMP/wide.npy"
"$VITC" preprocess "$SHIRT" --model "$MODEL" --out "$TMP/shirt.npy"
"$VITC" preprocess "$BOOT" --model "$MODEL" --out "$TMP/boot.npy"

# ---------------------------------------------------------------- attention
expect_ok "attention --help" "$VITC" attention --help
grep -q "rollout" "$TMP/out" && grep -q "without a class token" "$TMP/out" && ok || bad "attention --help text"
expect_ok "attention" "$VITC" attention "$MODEL" "$TMP/wide.png" "$SHIRT" --out "$TMP/a"
[[ -f $TMP/a/wide.attention.png && -f $TMP/a/0004_shirt.attention.png && ! -e $TMP/a/wide.attention.npy ]] && ok ||
  bad "attention files: $(ls "$TMP/a")"
$PY -c 'import sys; from PIL import Image; assert Image.open(sys.argv[1]).size == (121, 61); assert Image.open(sys.argv[2]).size == (28, 28)' \
  "$TMP/a/wide.attention.png" "$TMP/a/0004_shirt.attention.png" && ok || bad "attention PNG sizes differ from the originals"
expect_ok "attention --npy --rollout into a new nested dir" "$VITC" attention "$MODEL" "$TMP/wide.png" --out "$TMP/b/c" --npy --rollout
$PY -c 'import sys, numpy as np; a = np.load(sys.argv[1]); assert a.shape == (14, 14) and a.dtype == np.float32 and (a > 0).all()' \
  "$TMP/b/c/wide.attention.npy" && ok || bad "attention .npy shape"
$PYLIB "$TMP/lib.py" "$LIB" attention "$MODEL" "$TMP/wide.npy" "$TMP/b/c/wide.attention.npy" -1 1 && ok ||
  bad "attention --rollout .npy differs from vitc_model_attention"
expect_ok "attention --head 2 --npy" "$VITC" attention "$MODEL" "$TMP/wide.png" --out "$TMP/h" --npy --head 2
$PYLIB "$TMP/lib.py" "$LIB" attention "$MODEL" "$TMP/wide.npy" "$TMP/h/wide.attention.npy" 2 0 && ok ||
  bad "attention --head 2 .npy differs from vitc_model_attention"
expect_ok "attention --head mean" "$VITC" attention "$MODEL" "$TMP/wide.png" --out "$TMP/m" --npy --head mean
$PYLIB "$TMP/lib.py" "$LIB" attention "$MODEL" "$TMP/wide.npy" "$TMP/m/wide.attention.npy" -1 0 && ok ||
  bad "attention --head mean .npy differs from vitc_model_attention"
# --alpha 0 gives the original picture; --alpha 1 the heat map alone, its brightest spot where the
# grid's largest value lands on the original image (through the resize to 112 x 56 and the crop
# of 28 columns on the left)
expect_ok "attention --alpha 0" "$VITC" attention "$MODEL" "$TMP/wide.png" --out "$TMP/z" --alpha 0
expect_ok "attention --alpha 1" "$VITC" attention "$MODEL" "$TMP/wide.png" --out "$TMP/o" --alpha 1 --npy
$PY - "$TMP/wide.png" "$TMP/z/wide.attention.png" "$TMP/o/wide.attention.png" "$TMP/o/wide.attention.npy" <<'PYEOF' && ok || bad "attention overlay placement"
import sys, numpy as np
from PIL import Image
orig, a0, a1 = (np.asarray(Image.open(p).convert("RGB")).astype(np.float64) for p in sys.argv[1:4])
assert np.array_equal(orig, a0), "alpha 0 changed the picture"
g = np.load(sys.argv[4])
gy, gx = np.unravel_index(np.argmax(g), g.shape)
w, h, rw, rh, cx0, cy0, P = 121, 61, 112, 56, 28, 0, 4
ex = ((gx + 0.5) * P + cx0) * w / rw - 0.5  # the patch centre in original pixel coordinates
ey = ((gy + 0.5) * P + cy0) * h / rh - 0.5
lum = a1 @ [0.299, 0.587, 0.114]
ys, xs = np.nonzero(lum >= lum.max() - 1e-9)
assert abs(xs.mean() - ex) <= 3 and abs(ys.mean() - ey) <= 3, (xs.mean(), ys.mean(), ex, ey)
PYEOF

expect_fail "attention --head out of range" "0..3" "$VITC" attention "$MODEL" "$SHIRT" --out "$TMP/e1" --head 4
[[ ! -e $TMP/e1 ]] && ok || bad "--head out of range made the output directory"
expect_fail "attention --head not a number" "--head" "$VITC" attention "$MODEL" "$SHIRT" --out "$TMP/e1" --head first
expect_fail "attention without --out" "--out" "$VITC" attention "$MODEL" "$SHIRT"
expect_fail "attention unknown option" "unknown option '--frobnicate'" "$VITC" attention "$MODEL" "$SHIRT" --out "$TMP/e2" --frobnicate
expect_fail "attention --alpha out of range" "--alpha" "$VITC" attention "$MODEL" "$SHIRT" --out "$TMP/e2" --alpha 2
expect_fail "attention without images" "IMAGE" "$VITC" attention "$MODEL" --out "$TMP/e2"
expect_fail "attention: two inputs with one stem" "share the name" "$VITC" attention "$MODEL" "$SHIRT" "$TMP/a/../0004_shirt.png" --out "$TMP/e2"
printf 'not an image' >"$TMP/bad.png"
expect_fail "attention: unreadable image after a good one" "bad.png" "$VITC" attention "$MODEL" "$SHIRT" "$TMP/bad.png" --out "$TMP/e3" --npy
[[ -f $TMP/e3/0004_shirt.attention.png && ! -e $TMP/e3/bad.attention.png && ! -e $TMP/e3/bad.attention.npy ]] && ok ||
  bad "attention after a bad image: $(ls "$TMP/e3")"
[[ -z $(find "$TMP/e3" -name '*.tmp*') ]] && ok || bad "temporary files left behind"
expect_fail "attention: missing image" "nope.png" "$VITC" attention "$MODEL" "$TMP/nope.png" --out "$TMP/e4"
[[ -z $(ls -A "$TMP/e4" 2>/dev/null) ]] && ok || bad "missing image left files"
touch "$TMP/afile"
expect_fail "attention: --out is a file" "output directory" "$VITC" attention "$MODEL" "$SHIRT" --out "$TMP/afile"
expect_fail "attention: missing model" "nope.safetensors" "$VITC" attention "$TMP/nope.safetensors" "$SHIRT" --out "$TMP/e5"

# ---------------------------------------------------------------- embed
expect_ok "embed --help" "$VITC" embed --help
grep -q -- "--tokens" "$TMP/out" && ok || bad "embed --help text"
expect_ok "embed images" "$VITC" embed "$MODEL" "$TMP/wide.png" "$SHIRT" "$BOOT" --out "$TMP/f.npy"
[[ ! -s $TMP/out ]] && ok || bad "embed printed without --json"
$PY -c 'import sys, numpy as np; np.save(sys.argv[4], np.stack([np.load(p) for p in sys.argv[1:4]]))' \
  "$TMP/wide.npy" "$TMP/shirt.npy" "$TMP/boot.npy" "$TMP/three.npy"
$PYLIB "$TMP/lib.py" "$LIB" embed "$MODEL" "$TMP/three.npy" "$TMP/f.npy" && ok || bad "embed .npy differs from vitc_model_embed"
expect_ok "embed --batch 1 on a preprocessed .npy" "$VITC" embed "$MODEL" "$TMP/three.npy" --out "$TMP/f1.npy" --batch 1
cmp -s <($PY -c 'import numpy as np,sys; sys.stdout.buffer.write(np.load(sys.argv[1]).tobytes())' "$TMP/f.npy") \
  <($PY -c 'import numpy as np,sys; sys.stdout.buffer.write(np.load(sys.argv[1]).tobytes())' "$TMP/f1.npy") && ok ||
  bad "embed of the images and of their .npy differ"
expect_ok "embed --tokens" "$VITC" embed "$MODEL" "$SHIRT" "$BOOT" --tokens --out "$TMP/t.npy"
$PY -c 'import sys, numpy as np; np.save(sys.argv[3], np.stack([np.load(p) for p in sys.argv[1:3]]))' "$TMP/shirt.npy" "$TMP/boot.npy" "$TMP/two.npy"
$PY -c 'import sys, numpy as np; assert np.load(sys.argv[1]).shape == (2, 197, 128)' "$TMP/t.npy" && ok || bad "embed --tokens shape"
$PYLIB "$TMP/lib.py" "$LIB" tokens "$MODEL" "$TMP/two.npy" "$TMP/t.npy" && ok || bad "embed --tokens differs from vitc_model_embed_tokens"
expect_ok "embed --json" "$VITC" embed "$MODEL" "$SHIRT" "$TMP/two.npy" --json
$PY - "$TMP/out" "$TMP/f.npy" <<'PYEOF' && ok || bad "embed --json content"
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and rows[0]["file"].endswith("0004_shirt.png") and "index" not in rows[0]
assert rows[1]["index"] == 0 and rows[2]["index"] == 1 and rows[2]["file"].endswith("two.npy")
f = np.load(sys.argv[2])  # wide, shirt, boot
for r, ref in zip(rows, [f[1], f[1], f[2]]):
    v = np.array(r["features"])
    assert r["dim"] == 128 and v.shape == (128,)
    assert np.abs(v - ref).max() < 1e-6 and abs(r["norm"] - np.linalg.norm(ref)) < 1e-4
PYEOF
[[ ! -e features.npy ]] && ok || bad "embed --json wrote features.npy"
(cd "$TMP" && "$VITC" embed "$MODEL" "$SHIRT" >/dev/null 2>&1) && [[ -f $TMP/features.npy ]] && ok || bad "embed default output features.npy"

expect_fail "embed: missing image" "nope.png" "$VITC" embed "$MODEL" "$SHIRT" "$TMP/nope.png" --out "$TMP/g.npy"
[[ ! -e $TMP/g.npy ]] && ok || bad "embed left a file after a failure"
expect_fail "embed: corrupt image" "bad.png" "$VITC" embed "$MODEL" "$TMP/bad.png" --json
expect_fail "embed: unknown option" "unknown option '--frobnicate'" "$VITC" embed "$MODEL" "$SHIRT" --frobnicate
expect_fail "embed: bad --batch" "--batch" "$VITC" embed "$MODEL" "$SHIRT" --batch 0
$PY -c "import numpy as np; np.save('$TMP/s64.npy', np.zeros((3, 64, 64), np.float32))"
expect_fail "embed --tokens: inputs of two sizes" "one input size" "$VITC" embed "$MODEL" "$TMP/shirt.npy" "$TMP/s64.npy" --tokens --out "$TMP/g.npy"
[[ ! -e $TMP/g.npy ]] && ok || bad "embed --tokens left a file after a failure"
expect_ok "embed: inputs of two sizes (pooled)" "$VITC" embed "$MODEL" "$TMP/shirt.npy" "$TMP/s64.npy" --out "$TMP/g.npy"
$PY -c 'import sys, numpy as np; assert np.load(sys.argv[1]).shape == (2, 128)' "$TMP/g.npy" && ok || bad "embed of two sizes"
$PY -c "import numpy as np; np.save('$TMP/odd.npy', np.zeros((3, 30, 30), np.float32))"
expect_fail "embed: size off the patch grid" "multiple of the patch" "$VITC" embed "$MODEL" "$TMP/odd.npy" --json

report test_attention_cli
