#!/usr/bin/env bash
# vitc benchmark against PyTorch (eager and its fastest mode) and ONNX Runtime on identical
# random-weight ViT-Ti/16, ViT-S/16 and ViT-B/16 at 224, batch 1 and 8, interleaved rounds, medians.
# Prints a Markdown table and writes bench/results.md and bench/results.json.
#
#   bench/run.sh                      everything (slow with the portable kernels)
#   bench/run.sh --quick              smoke test: ViT-Ti/16 and ViT-S/16, 2 short rounds
#   bench/run.sh --models ti,b --batches 1 --threads 2 --rounds 5
#   bench/run.sh --help               every option (bench/bench.py)
# Environment: BUILD (vitc build folder, default build), PYTHON (a python3 with torch, default
# /usr/bin/python3), CC (compiler for the clock probe).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}

if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then exec "$PY" bench/bench.py --help; fi

# Debian packages (python3-torch, nodejs, npm, ...) and onnxruntime-node from npm into bench/node_modules.
scripts/install-deps.sh --bench
if [[ ! -f bench/node_modules/onnxruntime-node/package.json ]]; then
  echo "bench: installing onnxruntime-node into bench/node_modules" >&2
  # bench/.npmrc sets onnxruntime-node-install=skip: its install script would fetch GPU add-ons.
  (cd bench && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
make -s BUILD="$BUILD" all >&2

exec "$PY" bench/bench.py --vitc "$BUILD/vitc" --python "$PY" --command "bench/run.sh $*" "$@"
