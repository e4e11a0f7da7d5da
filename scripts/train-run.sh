#!/usr/bin/env bash
# The run-folder mechanics shared by the training recipes (train-mnist.sh, train-fashion-mnist.sh):
# copies the vitc binary into RUN_DIR (so rebuilding does not touch a running or resumed run), then
# runs `vitc train ARGS...` there with its output appended to RUN_DIR/run.log. With RESUME=1 the
# ARGS are replaced by a resume from RUN_DIR/model.ckpt.safetensors (the run keeps its recipe; with
# EPOCHS set too, its length changes to EPOCHS).
#   scripts/train-run.sh RUN_DIR ARGS...    (ARGS without --threads/--save-every/--out: added here)
#   VITC (binary; default build/vitc, or RUN_DIR's copy when resuming), RESUME=1 [EPOCHS=N] [EMA=D], THREADS=2,
#   NICE=10, VAL_EVERY=N
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=$1
shift
mkdir -p "$run"
if [[ -n ${VITC:-} || ! -x $run/vitc || -z ${RESUME:-} ]]; then cp "${VITC:-$root/build/vitc}" "$run/vitc.new" && mv "$run/vitc.new" "$run/vitc"; fi
cd "$run"
args=("$@")
if [[ -n ${RESUME:-} ]]; then
  args=(--resume model.ckpt.safetensors)
  # EPOCHS with RESUME=1 lengthens (or shortens) the run: the cosine is recomputed for the new total
  if [[ -n ${EPOCHS:-} ]]; then args+=(--epochs "$EPOCHS"); fi
  # EMA=D with RESUME=1 starts a weights' EMA from here (or changes the decay of the run's own)
  if [[ -n ${EMA:-} ]]; then args+=(--ema "$EMA"); fi
fi
# VAL_EVERY=N validates every N epochs (and after the last) instead of every epoch
if [[ -n ${VAL_EVERY:-} ]]; then args+=(--val-every "$VAL_EVERY"); fi
args+=(--threads "${THREADS:-2}" --save-every 100 --out model.safetensors)
echo "== $(date -u +%FT%TZ) pid $$: vitc train ${args[*]}" >>run.log
exec nice -n "${NICE:-10}" ./vitc train "${args[@]}" >>run.log 2>&1
