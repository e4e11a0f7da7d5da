#!/usr/bin/env bash
# The recipe of the bundled models/default.safetensors: three `vitc train` stages, then an average:
#  1. scripts/train-fashion-mnist.sh: Fashion-MNIST from scratch (dim 128, depth 6, 4 heads, MLP 512,
#     patch 4 on 28x28, average pooling + fc_norm, 1.2 M parameters, 100 epochs at batch 32, AdamW lr
#     5e-4, random crops (padding 2) and flips, the weights' EMA with decay 0.9998 as the model):
#     92.78%, ~120 s per epoch with BF16=1 and 2 threads on the 2-core development machine (3.4 h).
#  2. scripts/refine-fashion-mnist.sh: 4 epochs without the crops (flips only), lr 3e-5: 93.16% (~8 min).
#  3. the same at 56x56 (IMG=56: images resized bicubically, position embeddings resampled, 196
#     tokens), 5 epochs at lr 1e-4, three times from stage 2's model with seeds 5, 6 and 7 (93.49%,
#     93.46%, 93.55%; ~55 min each on one thread);
#  4. the three averaged parameter by parameter (`vitc average`, a uniform model soup): 93.53%;
# then the soup copied over the bundled model. The bundled model's stage 1 was spread over two
# sessions and started its EMA at epoch 39, so a run in one go lands near its numbers, not on its bits.
#
# Usage: scripts/train-default-model.sh [RUN_DIR]     (default runs/default; stages in RUN_DIR, RUN_DIR-r1,
#   RUN_DIR-r2-sSEED, each with its run.log; the soup RUN_DIR-soup.safetensors)  THREADS, NICE, VITC as in
#   scripts/train-fashion-mnist.sh, BF16=1 by default; FROM_STAGE=2 (or 3, 4) skips the stages whose models
#   exist already; SEEDS="5 6 7" (stage 3's runs), JOBS=1 (how many of them run at once: on the 2-core
#   machine JOBS=2 THREADS=1 is the faster way). Runs in the foreground.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$root/runs/default}
from=${FROM_STAGE:-1}
export BF16=${BF16:-1}  # all three stages of the bundled model ran with --bf16; BF16=0 for float
if ((from <= 1)); then "$root/scripts/train-fashion-mnist.sh" "$run"; fi
if ((from <= 2)); then "$root/scripts/refine-fashion-mnist.sh" "$run-r1" "$run/model.safetensors"; fi
read -ra seeds <<<"${SEEDS:-5 6 7}"
soup=()
for seed in "${seeds[@]}"; do soup+=("$run-r2-s$seed/model.safetensors"); done
if ((from <= 3)); then
  for seed in "${seeds[@]}"; do
    while (($(jobs -rp | wc -l) >= ${JOBS:-1})); do wait -n; done
    IMG=56 EPOCHS=5 LR=1e-4 WARMUP=0.3 EMA=0.9998 SEED=$seed \
      "$root/scripts/refine-fashion-mnist.sh" "$run-r2-s$seed" "$run-r1/model.safetensors" &
  done
  for pid in $(jobs -p); do wait "$pid"; done  # each one's exit status: a failed run stops the recipe
fi
"${VITC:-$root/build/vitc}" average "${soup[@]}" --out "$run-soup.safetensors"
cp "$run-soup.safetensors" "$root/models/default.safetensors"
echo "models/default.safetensors <- $run-soup.safetensors (the mean of ${soup[*]})"
