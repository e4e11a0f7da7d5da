#!/usr/bin/env bash
# Generates the Fashion-MNIST scene folders (SCENES.md) used to train and score the detection and
# segmentation models: data/scenes/train (20000 scenes, seed 1, items from the training images) and
# data/scenes/test (2000 scenes, seed 3, items from the test images). A folder whose
# annotations.json exists is complete (it is written last) and is skipped.
# Usage: scripts/make-scenes.sh [BUILD_DIR]   (default build; needs BUILD_DIR/vitc)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
VITC=$BUILD/vitc
[[ -x $VITC ]] || { echo "make-scenes: $VITC not found (run make first)" >&2; exit 1; }
make_one() { # split count seed dir
  if [[ -f $4/annotations.json ]]; then
    echo "$4: already there (remove it to regenerate)"
    return
  fi
  "$VITC" scenes --split "$1" --count "$2" --seed "$3" --out "$4"
}
make_one train 20000 1 data/scenes/train
make_one test 2000 3 data/scenes/test
