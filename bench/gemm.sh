#!/usr/bin/env bash
# Builds vitc's library and the GEMM micro-benchmark, then runs it (arguments pass through,
# e.g. bench/gemm.sh -r 9 -t 1,2 -s all). Compares against OpenBLAS when libopenblas-dev is there.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
CC=${CC:-cc}
make -s CC="$CC" BUILD="$BUILD" -j"$(nproc)" "$BUILD/libvitc.a"
extra=() libs=()
if [[ -f /usr/include/x86_64-linux-gnu/cblas.h || -f /usr/include/cblas.h || -f /usr/include/openblas/cblas.h ]] &&
   ldconfig -p | grep libopenblas >/dev/null; then
  extra=(-DVT_HAVE_OPENBLAS -I/usr/include/openblas -I/usr/include/x86_64-linux-gnu/openblas-pthread)
  libs=(-lopenblas)
else
  echo "gemm.sh: OpenBLAS not found (apt-get install libopenblas-dev to compare); vitc only"
fi
"$CC" -std=c11 -O2 -Wall -Wextra -fopenmp -Isrc "${extra[@]}" -o "$BUILD/gemm_bench" bench/gemm_bench.c \
  "$BUILD/libvitc.a" "${libs[@]}" -lm
exec "$BUILD/gemm_bench" "$@"
