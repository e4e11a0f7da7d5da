#!/usr/bin/env bash
# Runs every vitc test: reference fixtures (regenerated with live PyTorch), C unit tests,
# CLI tests, the Python package's tests. Usage: tests/run.sh [BUILD_DIR]. Ends with "N passed, N failed".
# VITC_TEST_WRAP: a command the unit test binaries run under (qemu-aarch64 for a cross build, see
# scripts/test-arm64.sh); VITC_UNIT_ONLY=1 runs the unit tests alone (no CLI or Python tests);
# VITC_SKIP_TESTS: unit test names (space-separated) to leave out.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PY=${PYTHON:-/usr/bin/python3}
export VITC_FIXTURES=${VITC_FIXTURES:-$PWD/tests/fixtures/gen}
export VITC=$PWD/$BUILD/vitc
export VITC_BUILD=$PWD/$BUILD

# Fixtures: the committed reference scripts run against live PyTorch. Regenerated when a
# script is newer than the stamp, so repeated runs are quick. VITC_QUICK=1 (or no PyTorch)
# takes the small committed set in tests/fixtures/small and runs the tests it covers.
quick=${VITC_QUICK:-}
if [[ -z $quick ]] && ! $PY -c 'import torch, torchvision, PIL' 2>/dev/null; then
  echo "== PyTorch not available: quick path with the committed fixtures in tests/fixtures/small"
  quick=1
fi
if [[ -n $quick ]]; then
  export VITC_QUICK=1 VITC_FIXTURES=$PWD/tests/fixtures/small
fi
stamp=$VITC_FIXTURES/.stamp
if [[ -z $quick ]] && [[ ! -f $stamp || tests/ref -nt $stamp || -n "$(find tests/ref -newer "$stamp" -name '*.py' 2>/dev/null)" ]]; then
  echo "== generating reference fixtures with PyTorch into $VITC_FIXTURES"
  mkdir -p "$VITC_FIXTURES"
  for gen in tests/ref/make_*.py; do
    $PY "$gen" --out "$VITC_FIXTURES" || { echo "fixture generation failed: $gen"; exit 1; }
  done
  touch "$stamp"
fi
# tests that need the generated (PyTorch) fixtures; skipped on the quick path
# (test_detmath reads them too but skips those parts itself on the quick path, running the rest)
needs_generated=" test_image test_train test_attention test_seg test_yolos test_dettrain test_families "

read -r -a wrap <<<"${VITC_TEST_WRAP:-}"
passed=0; failed=0; failed_names=()
tally() { # parse "name: N passed, M failed" lines from a test's output
  local out=$1 name=$2 rc=$3 p f
  p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1 | awk '{print $1}')
  f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1 | awk '{print $3}')
  p=${p:-0}; f=${f:-0}
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  ((f)) && failed_names+=("$name")
}

for t in "$BUILD"/tests/test_*; do
  [[ -x $t ]] || continue
  name=$(basename "$t")
  if [[ -n $quick && $needs_generated == *" $name "* ]]; then echo "  $name: skipped (quick path)"; continue; fi
  if [[ " ${VITC_SKIP_TESTS:-} " == *" $name "* ]]; then echo "  $name: skipped (VITC_SKIP_TESTS)"; continue; fi
  out=$("${wrap[@]}" "$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E 'FAIL|passed' | sed "s/^/  /"
  [[ $rc -ne 0 ]] && printf '%s\n' "$out" | tail -20 | sed "s/^/    | /"
  tally "$out" "$name" $rc
done

if [[ -n ${VITC_UNIT_ONLY:-} ]]; then
  ((failed)) && echo "failed: ${failed_names[*]}"
  echo "$passed passed, $failed failed"
  ((failed == 0)); exit
fi

for t in tests/cli/test_*.sh; do
  [[ -f $t ]] || continue
  name=$(basename "$t" .sh)
  if [[ -n $quick ]]; then echo "  $name: skipped (quick path)"; continue; fi
  out=$(bash "$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E 'FAIL|passed' | sed "s/^/  /"
  tally "$out" "$name" $rc
done

# The Python package (python/tests, pytest) on this build's library, after the CLI tests. A sanitizer
# build's library loads into Python only with its runtimes preloaded (Python's own allocations kept
# out of the leak check), as tests/cli/test_attention.sh does; the venv install test skips itself there.
if $PY -c 'import pytest, numpy, PIL' 2>/dev/null; then
  lib=$PWD/$BUILD/libvitc.so
  san_rt=$(ldd "$lib" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ {printf "%s:", $3}')
  pyenv=(env PYTHONPATH=$PWD/python VITC_LIBRARY=$lib)
  [[ -n $san_rt ]] && pyenv+=(LD_PRELOAD=${san_rt%:} ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0)
  out=$("${pyenv[@]}" $PY -m pytest -q -rs -p no:cacheprovider python/tests 2>&1); rc=$?
  summary=$(tail -1 <<<"$out")
  p=$(grep -Eo '[0-9]+ passed' <<<"$summary" | awk '{print $1}'); p=${p:-0}
  f=$(grep -Eo '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{s += $1} END {print s + 0}')
  printf '%s\n' "$out" | grep -E '^(FAILED|ERROR|SKIPPED)' | sed "s/^/  /"
  [[ $rc -ne 0 ]] && printf '%s\n' "$out" | tail -30 | sed "s/^/    | /"
  echo "  python_tests: $p passed, $f failed (pytest: $summary)"
  tally "python_tests: $p passed, $f failed" python_tests $rc
else
  echo "  python_tests: skipped (pytest, numpy or PIL missing: scripts/install-deps.sh installs them)"
fi

((failed)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
