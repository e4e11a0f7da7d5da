#!/usr/bin/env bash
# A second, short cosine for a trained Fashion-MNIST model in which teachers (other trained models,
# their probabilities averaged) label every augmented batch beside the dataset's labels: knowledge
# distillation (vitc train --init STUDENT --teacher ...). The student keeps its architecture and
# head; AdamW starts afresh with half an epoch of warm-up.
#
# Usage: scripts/distill-fashion-mnist.sh RUN_DIR STUDENT TEACHER[,TEACHER...]
#   (files may be relative to the current folder; RESUME=1 continues RUN_DIR's run with its teachers)
#   EPOCHS=20 LR=1e-4 MIN_LR=1e-6 ALPHA=0.5 (the teachers' share of the target) DISTILL=soft|hard
#   LS=0.1 ERASE=0.1 DROP_PATH (default 0) EMA=0.9998 BF16=1 (0: float) SEED=2, OFFLINE=1 (the teachers
#   label each training image once, unaugmented: --teacher-offline; no cost per step), and train-run.sh's
#   THREADS, NICE, VAL_EVERY, VITC
# Start detached:  setsid nohup scripts/distill-fashion-mnist.sh runs/fm-kd STUDENT T1,T2 >/dev/null 2>&1 &
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${1:?usage: distill-fashion-mnist.sh RUN_DIR STUDENT TEACHER[,TEACHER...]}
if [[ -n ${RESUME:-} ]]; then exec "$root/scripts/train-run.sh" "$run"; fi
student=$(realpath "${2:?a STUDENT model is required}")
teachers=""
IFS=, read -ra list <<<"${3:?one or more TEACHER models are required}"
for t in "${list[@]}"; do teachers+="${teachers:+,}$(realpath "$t")"; done
bf16=()
if [[ ${BF16:-1} == 1 ]]; then bf16=(--bf16); fi
exec "$root/scripts/train-run.sh" "$run" \
  --data fashion-mnist --init "$student" --teacher "$teachers" --distill "${DISTILL:-soft}" --distill-alpha "${ALPHA:-0.5}" \
  --epochs "${EPOCHS:-20}" --batch 32 --lr "${LR:-1e-4}" --min-lr "${MIN_LR:-1e-6}" --wd 0.05 --warmup 0.5 \
  --label-smoothing "${LS:-0.1}" --pad 2 --erase "${ERASE:-0.1}" --seed "${SEED:-2}" --ema "${EMA:-0.9998}" \
  ${DROP_PATH:+--drop-path "$DROP_PATH"} ${OFFLINE:+--teacher-offline} "${bf16[@]}"
