#!/usr/bin/env bash
# The recipe of the bundled models/default.safetensors: Fashion-MNIST from scratch in about 30
# minutes on 2 cores — dim 128, depth 6, 4 heads, MLP 256, patch 4 (49 tokens), average pooling +
# fc_norm (0.8 M parameters), 14 epochs, AdamW lr 1e-3 / wd 0.05, 1 warm-up epoch then cosine to
# 1e-5, label smoothing 0.1, batch 128, random crop (padding 2), horizontal flips, erasing p 0.1.
# (scripts/train-fashion-mnist.sh is the longer recipe aimed at the 93.5 % target.)
#
# Usage: scripts/train-default-model.sh [RUN_DIR]     (default runs/default; log in RUN_DIR/run.log)
#   RESUME=1 continues from RUN_DIR/model.ckpt.safetensors; VITC=path/to/vitc picks the binary.
# Then: cp RUN_DIR/model.safetensors models/default.safetensors
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$root/runs/default}
mkdir -p "$run"
if [[ -z ${RESUME:-} || ! -x $run/vitc ]]; then cp "${VITC:-$root/build/vitc}" "$run/vitc"; fi
cd "$run"
args=(--data fashion-mnist --dim 128 --depth 6 --heads 4 --mlp-dim 256 --patch 4 --pool avg
      --epochs 14 --batch 128 --lr 1e-3 --min-lr 1e-5 --wd 0.05 --warmup 1 --label-smoothing 0.1
      --pad 2 --erase 0.1 --seed 1 --threads 2 --save-every 100 --out model.safetensors)
[[ -n ${RESUME:-} ]] && args=(--resume model.ckpt.safetensors --threads 2 --save-every 100 --out model.safetensors)
echo "== $(date -u +%FT%TZ): vitc train ${args[*]}" >>run.log
exec ./vitc train "${args[@]}" >>run.log 2>&1
