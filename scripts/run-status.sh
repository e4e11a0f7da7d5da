#!/usr/bin/env bash
# Where a training run stands: its validated epochs (test accuracy of the weights and, with --ema,
# of their average), the last progress line (step, images/s, ETA) and whether it is running.
# Usage: scripts/run-status.sh RUN_DIR      (a folder made by train-run.sh: RUN_DIR/run.log)
set -euo pipefail
log=${1:?usage: scripts/run-status.sh RUN_DIR}/run.log
[[ -f $log ]] || { echo "run-status: no $log" >&2; exit 1; }
grep -E '^epoch [0-9]+/[0-9]+: .*val accuracy' "$log" |
  sed -E 's|^epoch ([0-9]+)/([0-9]+): .*val accuracy ([0-9.]+)%[^,]*(, EMA ([0-9.]+)%)?.*|\1 \2 \3 \5|' |
  awk 'BEGIN { print "epoch  weights  EMA" } { printf "%3d/%-3d %6.2f%%  %s\n", $1, $2, $3, ($4 == "" ? "-" : $4 "%") }'
last=$(grep -E '^epoch [0-9]+/[0-9]+ +step' "$log" | tail -1 || true)
[[ -n $last ]] && echo "last: $last"
dir=$(cd "$(dirname "$log")" && pwd)
running=
for pid in $(pgrep -f "vitc train" 2>/dev/null || true); do
  [[ $(readlink -f "/proc/$pid/cwd" 2>/dev/null) == "$dir" ]] && running=$pid
done
if [[ -n $running ]]; then echo "running (pid $running)"; else echo "not running (resume: RESUME=1 with the run's script, e.g. RESUME=1 scripts/train-fashion-mnist.sh $dir)"; fi
