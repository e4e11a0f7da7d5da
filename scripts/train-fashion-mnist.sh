#!/usr/bin/env bash
# Fashion-MNIST from scratch with vitc train, the bundled default model's recipe: a small ViT (dim
# 128, depth 6, 4 heads of 32, MLP 512, patch 4: 49 tokens, average pooling + fc_norm, 1.2 M
# parameters), AdamW lr 5e-4 / wd 0.05, 1 warm-up epoch then cosine to 1e-5 over 100 epochs, batch
# 32, random crop (padding 2), horizontal flips, no label smoothing or random erasing, and an EMA of
# the weights (decay 0.9998; the model file holds the average). Validation each epoch is on the
# 10,000 test images. 92.78% (epoch 100; stage 1 of models/default.safetensors, whose run started its EMA at
# epoch 39 and used BF16=1).
# What the runs showed: batch 32 / lr 5e-4 gave MNIST 79.6% vs 51.7% for batch 128 / lr 1e-3 at the
# same images/s (these ViTs need optimizer steps). Patch 4 against patch 7 (16 tokens): level for
# the first ~10 epochs, then ahead by ~1 point at the same epoch (60-epoch runs: 91.1 vs 90.1 at
# epoch 40, 92.40 vs 91.42 at 60); patch 4 costs ~2x the time per epoch. The 60-epoch models
# underfit (training accuracy without augmentation 93.8% vs 92.4% on test), hence MLP 512, no label
# smoothing or erasing and 100 epochs. The EMA was 1.1-1.9 points above the weights while the
# learning rate was high (epochs 40-50) and nothing (92.78% against 92.86% for the weights) at the end.
#
# Usage: scripts/train-fashion-mnist.sh [RUN_DIR]      (default runs/fmnist; writes run.log there)
#   VITC=path/to/vitc   the binary (copied into RUN_DIR so that rebuilding does not touch the run;
#                       default build/vitc, or the copy already in RUN_DIR when resuming)
#   RESUME=1            continue from RUN_DIR/model.ckpt.safetensors (checkpointed every epoch and
#                       every 100 steps)
#   THREADS=2           threads; NICE=10 the niceness; EPOCHS overrides the epoch count (with
#                       RESUME=1 it lengthens the run: the cosine is recomputed for the new total)
#   LS, ERASE           label smoothing and random-erasing probability (default 0 and 0)
#   BF16=1              bfloat16 matrix products (--bf16; AVX512-BF16 CPUs): 1.3-1.5x the images/s,
#                       the same accuracy in a 3-epoch check (82.81% vs 82.93%)
#   EMA                 the weights' EMA decay (--ema; default 0.9998, EMA=0 for none): validated beside
#                       the weights each epoch and written as the model
#   DROP_PATH           stochastic depth rate of the last block (--drop-path; default 0)
#   MIXUP, CUTMIX       mixup / CutMix alphas (--mixup / --cutmix; default off), MIX_PROB their share of batches
#   PATCH_KERNEL=8      overlapping patches (--patch-kernel: an 8x8 window at stride PATCH, zero-padded)
#   DIM, DEPTH, HEADS, MLP, PATCH override the model (e.g. PATCH=7: 16 tokens, ~half the time per
#                       epoch); a resumed run keeps the model of its checkpoint
#   Earlier default models: MLP=256 LS=0.1 ERASE=0.1 EPOCHS=60 EMA=0 (92.40%), PATCH=7 MLP=512 EPOCHS=60 EMA=0
#   (91.42%), PATCH=7 MLP=256 LS=0.1 ERASE=0.1 EPOCHS=30 EMA=0 (90.22%)
# Start detached:  setsid nohup scripts/train-fashion-mnist.sh runs/fmnist >/dev/null 2>&1 &
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bf16=()
if [[ ${BF16:-0} == 1 ]]; then bf16=(--bf16); fi  # as in refine-/distill-fashion-mnist.sh: BF16=0 means float
exec "$root/scripts/train-run.sh" "${1:-$root/runs/fmnist}" \
  --data fashion-mnist --dim "${DIM:-128}" --depth "${DEPTH:-6}" --heads "${HEADS:-4}" --mlp-dim "${MLP:-512}" \
  --patch "${PATCH:-4}" ${PATCH_KERNEL:+--patch-kernel "$PATCH_KERNEL"} --pool avg \
  --epochs "${EPOCHS:-100}" --batch 32 --lr 5e-4 --min-lr 1e-5 --wd 0.05 --warmup 1 --label-smoothing "${LS:-0}" \
  --pad 2 --erase "${ERASE:-0}" --seed 1 "${bf16[@]}" --ema "${EMA:-0.9998}" \
  ${DROP_PATH:+--drop-path "$DROP_PATH"} ${MIXUP:+--mixup "$MIXUP"} ${CUTMIX:+--cutmix "$CUTMIX"} ${MIX_PROB:+--mix-prob "$MIX_PROB"}
