#!/usr/bin/env bash
# vitc preprocess: output equals the torchvision reference; errors are one line, no partial output.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
FX=$VITC_FIXTURES

compare() { # a.npy b.npy: max abs diff <= 0.02 and mean <= 0.002
  $PY - "$1" "$2" <<'PYEOF'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.dtype == np.float32 and a.shape == b.shape, (a.dtype, a.shape, b.shape)
d = np.abs(a.astype(np.float64) - b)
assert d.max() <= 0.02 and d.mean() <= 0.002, (d.max(), d.mean())
PYEOF
}

if [[ -f $FX/preprocess/dog.jpg.bicubic224.npy ]]; then
  expect_ok "preprocess default" "$VITC" preprocess "$FX/images/dog.jpg" --out "$TMP/a.npy"
  expect_ok "default matches torchvision" compare "$TMP/a.npy" "$FX/preprocess/dog.jpg.bicubic224.npy"
  expect_ok "preprocess bilinear imagenet" "$VITC" preprocess "$FX/images/portrait.png" --size 224 --crop-pct 0.875 \
    --interp bilinear --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --out "$TMP/b.npy"
  expect_ok "bilinear matches torchvision" compare "$TMP/b.npy" "$FX/preprocess/portrait.png.bilinear224.npy"
  expect_ok "preprocess squash" "$VITC" preprocess "$FX/images/chelsea.png" --crop-pct=1 --interp=bilinear --squash \
    --out "$TMP/c.npy"
  expect_ok "squash matches torchvision" compare "$TMP/c.npy" "$FX/preprocess/chelsea.png.squash224.npy"
  expect_ok "preprocess 384" "$VITC" preprocess "$FX/images/dog.jpg" --size 384 --crop-pct 1.0 --out "$TMP/d.npy"
  expect_ok "384 matches torchvision" compare "$TMP/d.npy" "$FX/preprocess/dog.jpg.bicubic384.npy"
else
  bad "fixtures missing in $FX (run tests/ref/make_preprocess_fixtures.py)"
fi
expect_ok "--help" "$VITC" preprocess --help

expect_fail "unknown option" "unknown option" "$VITC" preprocess "$FX/images/dog.jpg" --bogus --out "$TMP/e.npy"
expect_fail "missing --out" "--out" "$VITC" preprocess "$FX/images/dog.jpg"
expect_fail "missing image" "IMAGE" "$VITC" preprocess --out "$TMP/e.npy"
expect_fail "bad interp" "interp" "$VITC" preprocess "$FX/images/dog.jpg" --interp nearest --out "$TMP/e.npy"
expect_fail "bad mean" "mean" "$VITC" preprocess "$FX/images/dog.jpg" --mean 1,2 --out "$TMP/e.npy"
expect_fail "missing file" "$TMP/nope.jpg" "$VITC" preprocess "$TMP/nope.jpg" --out "$TMP/e.npy"
head -c 20000 "$FX/images/dog.jpg" >"$TMP/trunc.jpg"
expect_fail "truncated image" "trunc.jpg" "$VITC" preprocess "$TMP/trunc.jpg" --out "$TMP/e.npy"
if [[ -e $TMP/e.npy ]] || ls "$TMP"/e.npy.tmp.* >/dev/null 2>&1; then bad "output left behind after errors"; else ok; fi
# a failed run leaves an existing output untouched
cp "$FX/images/dog.jpg" "$TMP/keep.npy" 2>/dev/null
expect_fail "truncated keeps old output" "trunc.jpg" "$VITC" preprocess "$TMP/trunc.jpg" --out "$TMP/keep.npy"
if cmp -s "$TMP/keep.npy" "$FX/images/dog.jpg"; then ok; else bad "existing output was modified"; fi
expect_fail "unwritable output" "nodir" "$VITC" preprocess "$FX/images/dog.jpg" --out "$TMP/nodir/x.npy"
# a 2000x1 bitmap: resized to 18 on its short side it would be 36000 pixels long, past the limit:
# one clean line and no file; squashed (no aspect kept) it preprocesses
{ printf 'P4\n2000 1\n'; head -c 250 /dev/zero; } >"$TMP/thin.pbm"
expect_fail "extreme aspect ratio" "limit 32768" "$VITC" preprocess "$TMP/thin.pbm" --size 16 --out "$TMP/thin.npy"
[[ ! -e $TMP/thin.npy ]] && ok || bad "refused preprocess left $TMP/thin.npy"
expect_ok "extreme aspect ratio, squashed" "$VITC" preprocess "$TMP/thin.pbm" --size 16 --squash --out "$TMP/thin.npy"

report test_preprocess
