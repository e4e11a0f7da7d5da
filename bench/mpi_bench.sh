#!/usr/bin/env bash
# Data-parallel training time per step, split into compute and the time spent waiting for the gradient
# all-reduce (vitc-mpi's fixed-order sums, dist.c; overlapped with the backward pass block by block, and,
# for comparison, with VITC_MPI_OVERLAP=0 all after it), for ViT-S (dim 384, depth 12, 6 heads, Fashion-MNIST 28x28 at patch 4:
# 50 tokens; about 21 M parameters, an 85 MB gradient) on 1 process and on 2 processes over Open MPI's
# shared-memory transport and over TCP on the loopback device; then the measured all-reduce bandwidth
# and, labelled as an estimate, a projection to N machines.
#   bench/mpi_bench.sh [STEPS (default 12)] [GLOBAL_BATCH (default 32)]
# Needs build/vitc-mpi (make, with Open MPI) and Fashion-MNIST (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-12} batch=${2:-32}
mpivitc=${VITC_MPI:-build/vitc-mpi} vitc=${VITC:-build/vitc}
[[ -x $mpivitc ]] || { echo "mpi_bench: $mpivitc missing (make with Open MPI installed)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
model=(--data fashion-mnist --dim 384 --depth 12 --heads 6 --mlp-dim 1536 --patch 4 --limit $((steps * batch))
       --val-limit 1 --batch "$batch" --epochs 1 --seed 1)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "CPU: $cpu, $(nproc) cores; $(date -u +%Y-%m-%d); ViT-S, global batch $batch, $steps steps, 1 thread per process"
run() { # label, command...: prints "label step_s allreduce_s"
  local label=$1; shift
  local t0 t1 sum params
  t0=$(date +%s.%N)
  "$@" --out "$tmp/m.safetensors" >"$tmp/log" 2>&1 || { echo "mpi_bench: $label failed: $(tail -3 "$tmp/log")" >&2; exit 1; }
  t1=$(date +%s.%N)
  sum=$(sed -n 's/^gradient sums across the [0-9]* processes: \([0-9.]*\) s of.*/\1/p' "$tmp/log")
  params=$(sed -n 's/.*, \([0-9.]*\) M parameters.*/\1/p' "$tmp/log" | head -1)
  # s / step: the command's wall time (start-up, data loading and the one validation image included, the
  # same in every run) over the steps; the progress line's img/s is rounded to whole images
  echo "$label $(awk -v a="$t0" -v b="$t1" -v n="$steps" 'BEGIN { printf "%.4f", (b - a) / n }') $(awk -v s="${sum:-0}" -v n="$steps" 'BEGIN { printf "%.4f", s / n }') $params"
}
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
mpi=(mpirun -q --oversubscribe --allow-run-as-root -np 2)
r1=$(run "1 process" "$vitc" train "${model[@]}" --threads 1)
r2=$(OMPI_MCA_btl=self,vader run "2 processes, shared memory" "${mpi[@]}" "$mpivitc" train "${model[@]}" --threads 1)
r2b=$(OMPI_MCA_btl=self,vader VITC_MPI_OVERLAP=0 run "2 processes, shared memory, sums after the backward pass" \
  "${mpi[@]}" -x VITC_MPI_OVERLAP "$mpivitc" train "${model[@]}" --threads 1)
r3=$(OMPI_MCA_btl=self,tcp run "2 processes, TCP (loopback)" "${mpi[@]}" "$mpivitc" train "${model[@]}" --threads 1)
r3b=$(OMPI_MCA_btl=self,tcp VITC_MPI_OVERLAP=0 run "2 processes, TCP (loopback), sums after the backward pass" \
  "${mpi[@]}" -x VITC_MPI_OVERLAP "$mpivitc" train "${model[@]}" --threads 1)
printf '\n| run | s / step | s / step not waiting for the sums | waiting for the sums, s / step (incl. the other rank) | effective all-reduce GB/s (of the wait) |\n| --- | ---: | ---: | ---: | ---: |\n'
for r in "$r1" "$r2" "$r2b" "$r3" "$r3b"; do
  label=${r% * * *}; set -- ${r##"$label" }
  awk -v l="$label" -v st="$1" -v ar="$2" -v p="$3" 'BEGIN {
    bytes = 2 * (2 - 1) / 2 * p * 1e6 * 4;  # per process, as a ring all-reduce moves
    bw = ar > 0 ? sprintf("%.2f", bytes / ar / 1e9) : "-";
    printf "| %s | %.3f | %.3f | %.3f | %s |\n", l, st, st - ar, ar, bw }'
done
# projection: N machines of this speed, each with the global batch / N; the sums move 2 (N - 1) / N of
# the gradient per process at the bandwidth measured over TCP above (sums after the pass)
set -- ${r1##"1 process" }; one=$1; params=$3
set -- ${r3b##"2 processes, TCP (loopback), sums after the backward pass" }; ar2=$2
echo
echo "Estimate (not measured): N machines like this one (1 process each, global batch $batch), all-reduce at the"
echo "TCP bandwidth above with the sums after the backward pass (no overlap counted: a conservative estimate);"
echo "compute = one process's step / N:"
awk -v one="$one" -v ar2="$ar2" -v p="$params" 'BEGIN {
  bw = 2 * 0.5 * p * 1e6 * 4 / ar2;
  printf "| N | s / step (estimate) | speed-up |\n| ---: | ---: | ---: |\n";
  for (n = 1; n <= 16; n *= 2) {
    t = one / n + (n > 1 ? 2 * (n - 1) / n * p * 1e6 * 4 / bw : 0);
    printf "| %d | %.3f | %.2fx |\n", n, t, one / t }
}'
