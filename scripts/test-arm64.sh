#!/usr/bin/env bash
# ARM64 (issue 19): cross-compiles vitc with Debian's aarch64 gcc into BUILD_DIR (default
# build-arm64) and runs the C unit tests under qemu-aarch64 (Debian qemu-user), once per kernel set
# an aarch64 CPU has: neon (the default there) and ref. test_kernels and test_train_ops check every
# set themselves, so they run in the neon pass only. The CLI and Python tests are left out: they
# run the host's vitc and Python. Uses the fixtures tests/run.sh uses (tests/fixtures/gen when
# `make test` made them, else the committed small set).
# Usage: scripts/test-arm64.sh [BUILD_DIR]. Ends with "N passed, N failed" over both passes.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-arm64}
scripts/install-arm64-deps.sh || exit 1
make -j2 CC=aarch64-linux-gnu-gcc BUILD="$BUILD" all tests >/dev/null || { echo "arm64 build failed"; exit 1; }
# The arm64 C library and libgomp of the cross toolchain; the image libraries come from multiarch.
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
# Idle OpenMP and pool threads sleep at once: spinning costs much more under emulation.
export OMP_WAIT_POLICY=passive VITC_SPIN_US=0 VITC_TEST_WRAP=qemu-aarch64 VITC_UNIT_ONLY=1

passed=0; failed=0
for kernels in neon ref; do
  echo "== unit tests under qemu-aarch64, VITC_KERNELS=$kernels"
  out=$(VITC_KERNELS=$kernels VITC_SKIP_TESTS=$([[ $kernels == ref ]] && echo "test_kernels test_train_ops") \
        tests/run.sh "$BUILD" 2>&1)
  printf '%s\n' "$out"
  last=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
  passed=$((passed + ${last%% *})); f=${last#*, }; failed=$((failed + ${f%% *}))
  [[ -n $last ]] || failed=$((failed + 1))
done
echo "arm64: $passed passed, $failed failed"
((failed == 0))
