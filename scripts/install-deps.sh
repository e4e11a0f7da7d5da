#!/usr/bin/env bash
# Installs every Debian package vitc's build, tests and benchmarks need.
# Idempotent: packages already present are skipped, so repeated calls are cheap.
#   scripts/install-deps.sh            build + test dependencies (PyTorch reference, photographs, Fashion-MNIST)
#   scripts/install-deps.sh --build    only what building vitc needs (make demo)
#   scripts/install-deps.sh --data     also the datasets and photographs (training, examples)
#   scripts/install-deps.sh --bench    also what bench/run.sh needs (Node.js and npm for ONNX Runtime, OpenBLAS)
#   scripts/install-deps.sh --mpi      only what building build/vitc-mpi needs (build + OpenMPI); the default
#                                      (test) set includes OpenMPI too, for tests/cli/test_mpi.sh
set -euo pipefail

build_pkgs=(build-essential clang llvm libomp-dev libclang-rt-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev pkg-config
            libmicrohttpd-dev)  # libmicrohttpd: vitc serve's HTTP server
test_pkgs=(python3 python3-numpy python3-scipy python3-torch python3-torchvision python3-pil darknet python3-skimage
           dataset-fashion-mnist python3-pytest python3-setuptools python3-wheel python3-pip python3-venv
           curl wrk)  # curl: tests/cli/test_serve.sh's client; wrk: its load run and bench/serve_load.sh
mpi_pkgs=(libopenmpi-dev openmpi-bin)  # build/vitc-mpi (data-parallel training) and its tests
data_pkgs=(opencv-doc)
# Node.js for ONNX Runtime (plus npm below, unless the nodejs build installed ships its own); OpenBLAS so
# Debian's PyTorch does not run its matmuls on the reference BLAS (libblas3, a few GFLOP/s): the
# alternatives system points libblas.so.3 at OpenBLAS once it is installed. python3-onnx: bench/onnx_int8.py
# writes ONNX Runtime's int8 peer model.
bench_pkgs=(nodejs libopenblas0-pthread python3-onnx)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--build" || "${1:-}" == "--mpi" ]] || want+=("${test_pkgs[@]}")
[[ "${1:-}" == "--build" ]] || want+=("${mpi_pkgs[@]}")
[[ "${1:-}" == "--data" ]] && want+=("${data_pkgs[@]}")
if [[ "${1:-}" == "--bench" ]]; then
  want+=("${bench_pkgs[@]}")
  command -v npm >/dev/null || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
