#!/usr/bin/env bash
# The README's main command: classify the bundled example images with the bundled model.
# Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
"$BUILD/vitc" info models/default.safetensors
echo
"$BUILD/vitc" classify models/default.safetensors examples/images/*.png --top 3
