#!/usr/bin/env bash
# Builds every libFuzzer target fuzz/fuzz_<name>.c (with ASan + UBSan) against the library
# sources and runs each for a bounded time.
#   scripts/fuzz.sh                 all targets, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh json image      only fuzz/fuzz_json.c and fuzz/fuzz_image.c
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (default 65536), FUZZ_CC (default clang),
#   FUZZ_BUILD (default build-fuzz). Seeds come from fuzz/corpus/<name>/ when present; they are
#   copied to a scratch directory so the committed corpus does not grow; fuzz/<name>.dict is
#   passed as a libFuzzer dictionary when present.
# Crash inputs are saved as $FUZZ_BUILD/artifacts/<name>-crash-*; the script exits non-zero
# if any target crashed, leaked, timed out or failed to build.
set -uo pipefail
cd "$(dirname "$0")/.."

CC=${FUZZ_CC:-clang}
OUT=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
MAX_LEN=${FUZZ_MAX_LEN:-65536}
CFLAGS=(-g -O1 -std=c11 -D_DEFAULT_SOURCE -fopenmp -Iinclude -Isrc -fno-omit-frame-pointer
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -Wno-pass-failed)   # instrumented -O1 code cannot honour the reference layers' `omp simd` hints
KERNEL_CFLAGS=(-g -O2 -std=c11 -D_DEFAULT_SOURCE -fopenmp -Iinclude -Isrc)
LIBS=(-ljpeg -lpng -lz -lm)
AVX2_FLAGS=(-mavx2 -mfma -mf16c)
AVX512_FLAGS=(-mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c)

if ! command -v "$CC" >/dev/null; then
  echo "fuzz: $CC not found (libFuzzer needs clang)" >&2
  exit 2
fi

# Targets: every fuzz/fuzz_*.c, or the names given on the command line.
targets=()
if (($#)); then
  for n in "$@"; do
    n=${n#fuzz_}; n=${n%.c}
    [[ -f fuzz/fuzz_$n.c ]] || { echo "fuzz: no such target fuzz/fuzz_$n.c" >&2; exit 2; }
    targets+=("fuzz/fuzz_$n.c")
  done
else
  while IFS= read -r f; do targets+=("$f"); done < <(find fuzz -maxdepth 1 -name 'fuzz_*.c' | sort)
fi
((${#targets[@]})) || { echo "fuzz: no targets in fuzz/" >&2; exit 2; }

mkdir -p "$OUT/obj" "$OUT/artifacts"

# Library objects, instrumented for coverage but without libFuzzer's main. Rebuilt when the
# source or any header is newer than the object.
objs=()
build_failed=0
# Kernel sets for another ISA are left out, as the Makefile does (NEON on x86, AVX on arm64).
case $("$CC" -dumpmachine) in
  x86_64*|i?86*) arch_skip=(-not -name '*_neon.c') ;;
  aarch64*) arch_skip=(-not -name '*_avx2.c' -not -name '*_avx512*.c') ;;
  *) arch_skip=(-not -name '*_neon.c' -not -name '*_avx2.c' -not -name '*_avx512*.c') ;;
esac
while IFS= read -r src; do
  obj=$OUT/obj/${src%.c}.o
  objs+=("$obj")
  extra=()
  case $src in
    *_avx512bf16*) extra=("${AVX512_FLAGS[@]}" -mavx512bf16) ;;
    *vnni_avx512*) extra=("${AVX512_FLAGS[@]}" -mavx512vnni) ;;
    *vnni_avx2*) extra=("${AVX2_FLAGS[@]}" -mavxvnni) ;;
    *_avx512*) extra=("${AVX512_FLAGS[@]}") ;;
    *_avx2*) extra=("${AVX2_FLAGS[@]}") ;;
  esac
  if [[ -f $obj && $obj -nt $src && -z $(find include src -name '*.h' -newer "$obj" -print -quit) ]]; then
    continue
  fi
  mkdir -p "$(dirname "$obj")"
  echo "  CC $src"
  if [[ $src == src/kernels/* ]]; then
    # the compute kernels parse nothing: plain optimized code (instrumented, the AVX-512 BF16 GEMM
    # alone took 12-15 minutes to compile); every caller in the parsers stays instrumented
    "$CC" "${KERNEL_CFLAGS[@]}" "${extra[@]}" -c "$src" -o "$obj" || build_failed=1
  else
    "$CC" "${CFLAGS[@]}" "${extra[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || build_failed=1
  fi
done < <(find src -name '*.c' -not -path 'src/cli/*' -not -path 'src/train/*' "${arch_skip[@]}" | sort)  # the parsers need no training code
if ((build_failed)); then
  echo "fuzz: library build failed" >&2
  exit 1
fi

failed=()
for src in "${targets[@]}"; do
  base=$(basename "$src" .c)   # fuzz_json
  name=${base#fuzz_}           # json
  bin=$OUT/$base
  echo "== $base"
  if ! "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer "$src" "${objs[@]}" -o "$bin" "${LIBS[@]}"; then
    echo "fuzz: building $base failed" >&2
    failed+=("$base(build)")
    continue
  fi
  scratch=$OUT/corpus/$name
  rm -rf "$scratch"
  mkdir -p "$scratch"
  if [[ -d fuzz/corpus/$name ]]; then
    cp -r "fuzz/corpus/$name/." "$scratch/"
  fi
  dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  log=$OUT/$base.log
  OMP_NUM_THREADS=1 "$bin" "$scratch" "${dict[@]}" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" \
    -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$name-" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
  if ((rc == 0)); then
    echo "   ok: ${SECONDS_EACH}s, ${execs:-?} executions, ${cov:-cov: ?}, corpus $(ls "$scratch" | wc -l) inputs"
  else
    echo "   FAILED (exit $rc) after ${execs:-?} executions; log: $log"
    grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -10 | sed 's/^/   | /'
    failed+=("$base")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failures in ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran clean"
