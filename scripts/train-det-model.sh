#!/usr/bin/env bash
# The recipe of the detector (models/detect.safetensors): YOLOS on the bundled segmentation model's
# backbone (models/segment.safetensors: dim 128, depth 6, 4 heads, patch 4, trained on these scenes),
# 20 detection tokens appended after the 576 patch tokens, the two 3-layer MLP heads new, trained on the
# Fashion-MNIST scenes (SCENES.md) of data/scenes/train with 10% of them held out (300 scored for COCO
# mAP after every epoch): the DETR set loss (Hungarian matching; CE with "no object" at 0.1, 5 L1,
# 2 GIoU), batch 32, AdamW lr 3e-4 with weight decay 1e-4, warm-up 1 epoch, cosine over 40 epochs,
# EMA 0.999 (the EMA is the model), horizontal flips with their boxes.
# DETR-style training converges slowly: the run is planned for 40 epochs (about 10 min each with 2
# threads on the 2-core development machine) and goes on across sessions from its checkpoint:
#   scripts/train-det-model.sh [RUN_DIR]        starts, or resumes RUN_DIR/model.ckpt.safetensors
# checkpoints/detect.ckpt.safetensors is the committed state of the run (copied to RUN_DIR when
# RUN_DIR has none). The test scenes (data/scenes/test) are read once, by the final vitc eval, when
# the run has ended (FINAL=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$root/runs/det}
vitc=${VITC:-$root/build/vitc}
threads=(); [[ -n ${THREADS:-} ]] && threads=(--threads "$THREADS")
"$root/scripts/make-scenes.sh"
mkdir -p "$run"
if [[ ! -f $run/model.ckpt.safetensors && -f $root/checkpoints/detect.ckpt.safetensors ]]; then
  cp "$root/checkpoints/detect.ckpt.safetensors" "$run/model.ckpt.safetensors"
fi
if [[ -f $run/model.ckpt.safetensors ]]; then
  "$vitc" train --task detect --resume "$run/model.ckpt.safetensors" --save-every 100 "${threads[@]}" \
    --out "$run/model.safetensors" 2>&1 | tee -a "$run/run.log"
else
  "$vitc" train --task detect --data "$root/data/scenes/train" --init "$root/models/segment.safetensors" \
    --det-tokens 20 --epochs 40 --batch 32 --lr 3e-4 --wd 1e-4 --warmup 1 --ema 0.999 --val-limit 300 \
    --save-every 100 --seed 1 "${threads[@]}" --out "$run/model.safetensors" 2>&1 | tee "$run/run.log"
fi
if [[ ${FINAL:-0} == 1 ]]; then
  "$vitc" eval "$run/model.safetensors" --data "$root/data/scenes/test" | tee "$run/test.txt"
  cp "$run/model.safetensors" "$root/models/detect.safetensors"
fi
