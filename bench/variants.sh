#!/usr/bin/env bash
# Tuning sweep: builds the library with several micro-kernel/blocking variants (compile-time
# knobs VT512_MR, VT512_NV, VT512_KC, VT512_MCF, VT256_MR, VT256_NV) and runs gemm_bench on each,
# rounds interleaved. Usage: bench/variants.sh [rounds] [bench args...]
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; shift || true
out=${VARIANTS_DIR:-/tmp/vitc-variants}
variants=(
  "z14x2:-DVT512_MR=14 -DVT512_NV=2"
  "z14x2k192:-DVT512_MR=14 -DVT512_NV=2 -DVT512_KC=192"
  "z14x2k384:-DVT512_MR=14 -DVT512_NV=2 -DVT512_KC=384"
  "z14x2m6:-DVT512_MR=14 -DVT512_NV=2 -DVT512_MCF=6"
  "z14x2m24:-DVT512_MR=14 -DVT512_NV=2 -DVT512_MCF=24"
  "z12x2:-DVT512_MR=12 -DVT512_NV=2"
  "z6x4:-DVT512_MR=6 -DVT512_NV=4"
  "z8x3:-DVT512_MR=8 -DVT512_NV=3"
)
extra=() libs=()
if ldconfig -p | grep libopenblas >/dev/null; then
  extra=(-DVT_HAVE_OPENBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread); libs=(-lopenblas)
fi
for v in "${variants[@]}"; do
  name=${v%%:*}
  make -s BUILD="$out/$name" EXTRA_CFLAGS="${v#*:}" -j"$(nproc)" "$out/$name/libvitc.a" 2>/dev/null
  cc -std=c11 -O2 -fopenmp -Isrc "${extra[@]}" -o "$out/$name/gemm_bench" bench/gemm_bench.c \
    "$out/$name/libvitc.a" "${libs[@]}" -lm
done
for ((r = 0; r < rounds; r++)); do
  for v in "${variants[@]}"; do
    name=${v%%:*}
    "$out/$name/gemm_bench" "$@" | tail -n +3 | sed "s/^/$name /"
  done
done
