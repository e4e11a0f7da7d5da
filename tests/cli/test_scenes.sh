#!/usr/bin/env bash
# vitc scenes: folders that follow SCENES.md (tests/ref/check_scenes.py, item by item), the same
# bytes for the same seed, --help, and one-line errors that leave nothing behind.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
CHECK=$(dirname "$0")/../ref/check_scenes.py
FM=${VITC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}

if [[ ! -f $FM/train-images-idx3-ubyte.gz && ! -f $FM/train-images-idx3-ubyte ]]; then
  echo "test_scenes: Fashion-MNIST not found in $FM: skipped"
  report test_scenes
  exit
fi

expect_ok "help" "$VITC" scenes --help
if grep -q -- "--count" "$TMP/out" && grep -q -- "--split" "$TMP/out"; then ok; else bad "help lacks the options"; fi

expect_ok "train scenes" "$VITC" scenes --split train --count 300 --seed 11 --out "$TMP/train"
if grep -Eq '300 scenes, [0-9]+ items .* s$' "$TMP/out"; then ok; else bad "summary line: $(cat "$TMP/out")"; fi
expect_ok "test scenes" "$VITC" scenes --split test --count 300 --seed 12 --out "$TMP/test"
for split in train test; do
  if $PY "$CHECK" "$TMP/$split" --split $split --data "$FM" >"$TMP/check" 2>&1; then ok; else bad "check_scenes $split"; fi
  sed "s/^/  $split: /" "$TMP/check" | grep -v 'check_scenes:' | head -25
done

# reproducible: the same seed gives the same bytes, another seed other scenes
expect_ok "again" "$VITC" scenes --split train --count 300 --seed 11 --out "$TMP/train2"
if cmp -s "$TMP/train/annotations.json" "$TMP/train2/annotations.json" &&
   cmp -s "$TMP/train/images/000123.png" "$TMP/train2/images/000123.png" &&
   cmp -s "$TMP/train/masks/000299.png" "$TMP/train2/masks/000299.png"; then ok; else bad "same seed, other bytes"; fi
expect_ok "other seed" "$VITC" scenes --split train --count 300 --seed 13 --out "$TMP/train3"
if ! cmp -s "$TMP/train/annotations.json" "$TMP/train3/annotations.json"; then ok; else bad "another seed, same scenes"; fi
# scene i depends only on (seed, i): a shorter run is a prefix
expect_ok "prefix" "$VITC" scenes --split train --count 5 --seed 11 --out "$TMP/train5"
if cmp -s "$TMP/train/images/000004.png" "$TMP/train5/images/000004.png"; then ok; else bad "scene 4 differs"; fi

# errors: one line, exit 2, nothing written
expect_fail "unknown option" "unknown option" "$VITC" scenes --count 3 --out "$TMP/e1" --colour red
expect_fail "count 0" "count" "$VITC" scenes --count 0 --out "$TMP/e2"
expect_fail "count too big" "count" "$VITC" scenes --count 2000000 --out "$TMP/e3"
expect_fail "bad count" "count" "$VITC" scenes --count many --out "$TMP/e4"
expect_fail "split foo" "split" "$VITC" scenes --split foo --count 3 --out "$TMP/e5"
expect_fail "no --out" "out" "$VITC" scenes --count 3
expect_fail "no --count" "count" "$VITC" scenes --out "$TMP/e6"
expect_fail "bad seed" "seed" "$VITC" scenes --count 3 --seed -1 --out "$TMP/e7"
expect_fail "bad data" "not-there" "$VITC" scenes --count 3 --data "$TMP/not-there" --out "$TMP/e8"
"$VITC" scenes --count 3 --out "$TMP/e9" --colour red >/dev/null 2>&1
if [[ $? -eq 2 ]]; then ok; else bad "unknown option: exit status not 2"; fi
for e in e1 e2 e3 e4 e5 e6 e7 e8 e9; do
  if [[ ! -e $TMP/$e ]]; then ok; else bad "$e: output left behind"; fi
done
# an output that cannot be written: one line, no annotations.json
touch "$TMP/file"
expect_fail "out is a file" "file" "$VITC" scenes --count 3 --out "$TMP/file/sub"
# a failure midway (scene 2's image cannot be written) leaves no annotations.json, not even an old one
mkdir -p "$TMP/mid/images/000002.png" && echo '{}' >"$TMP/mid/annotations.json"
expect_fail "fails midway" "000002.png" "$VITC" scenes --count 5 --out "$TMP/mid"
if [[ ! -e $TMP/mid/annotations.json ]]; then ok; else bad "annotations.json after a failed run"; fi
mkdir -p "$TMP/ro/images" && chmod 555 "$TMP/ro/images"
if [[ $(id -u) -ne 0 ]]; then
  expect_fail "unwritable images" "ro" "$VITC" scenes --count 3 --out "$TMP/ro"
  if [[ ! -e $TMP/ro/annotations.json ]]; then ok; else bad "annotations.json after a failed run"; fi
fi
chmod 755 "$TMP/ro/images"

report test_scenes
