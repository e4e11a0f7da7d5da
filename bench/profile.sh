#!/usr/bin/env bash
# Where vitc's forward pass spends its time, per function (perf sampling on the software cpu-clock
# event, so it works in VMs without hardware counters). Converts sample shares to ms per image.
#   bench/profile.sh [MODEL.safetensors] [THREADS] [BATCH]
# Default model: bench/work/s.safetensors (ViT-S/16, made by bench/run.sh). Needs perf (linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${1:-bench/work/s.safetensors}
THREADS=${2:-1}
BATCH=${3:-1}
ITERS=${ITERS:-3}
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
[[ -f $MODEL ]] || { echo "profile: $MODEL not found (bench/run.sh --models s makes it)" >&2; exit 1; }
make -s BUILD="$BUILD" all >&2
data=$(mktemp); trap 'rm -f "$data"' EXIT
json=$(perf record -q -e cpu-clock -F 999 -o "$data" "$BUILD/vitc" bench "$MODEL" --threads "$THREADS" \
       --batch "$BATCH" --iters "$ITERS" --warmup 0 --json 2>/dev/null)
ms=$(sed -E 's/.*"ms_per_image":([0-9.]+).*/\1/' <<<"$json")
echo "vitc bench: $json"
echo
echo "| function | share | ms per image (of $ms, $THREADS threads, batch $BATCH) |"
echo "|---|---:|---:|"
perf report -i "$data" --stdio --sort symbol 2>/dev/null | grep -E '^ +[0-9.]+%' |
  awk -v ms="$ms" '{ p = $1; sub("%", "", p); if (p + 0 < 0.1) next; $1 = ""; $2 = "";
                     sub(/^ +/, ""); sub(/ +- +- *$/, "");
                     printf("| %s | %.2f%% | %.2f |\n", $0, p, p * ms / 100) }'
