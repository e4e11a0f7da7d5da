#!/usr/bin/env bash
# vitc bench: JSON report with the documented keys on a small fixture model; bad options fail in one line.
set -u
source "$(dirname "$0")/lib.sh"
VITC=${VITC:-build/vitc}
M=$VITC_FIXTURES/models/nocls_avg/model.safetensors
PY=${PYTHON:-/usr/bin/python3}

expect_ok "bench text" "$VITC" bench "$M" --iters 2 --warmup 0 --threads 1
grep -q "ms per image" "$TMP/out" || bad "bench text: no latency line"

expect_ok "bench json" "$VITC" bench "$M" --json --batch 2 --iters 3 --warmup 1 --threads 1 --size 64
cp "$TMP/out" "$TMP/bench.json"
if "$PY" - "$TMP/bench.json" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, f"{len(lines)} lines"
r = json.loads(lines[0])
for k in ("ms_per_image", "images_per_second", "gflops", "load_ms", "peak_rss_mb", "batch", "threads", "kernel", "cpu", "isa"):
    assert k in r, f"missing {k}"
assert r["batch"] == 2 and r["threads"] == 1 and r["size"] == 64 and r["iters"] == 3, r
assert r["ms_per_image"] > 0 and r["gflops"] > 0 and r["peak_rss_mb"] > 0 and r["load_ms"] >= 0, r
assert abs(r["images_per_second"] * r["ms_per_image"] - 1000) < 1, r
assert abs(r["ms_per_batch"] / r["batch"] - r["ms_per_image"]) < 1e-3, r
PYEOF
then ok; else bad "bench json: invalid report: $(head -c 300 "$TMP/bench.json")"; fi

expect_fail "no model" "needs exactly one MODEL" "$VITC" bench
expect_fail "missing file" "bench" "$VITC" bench "$TMP/nope.safetensors"
expect_fail "zero batch" "--batch" "$VITC" bench "$M" --batch 0
expect_fail "negative iters" "--iters" "$VITC" bench "$M" --iters -1
expect_fail "bad warmup" "--warmup" "$VITC" bench "$M" --warmup -2
expect_fail "zero threads" "--threads" "$VITC" bench "$M" --threads 0
expect_fail "size not a patch multiple" "patch size" "$VITC" bench "$M" --size 100
expect_fail "non-numeric batch" "batch" "$VITC" bench "$M" --batch many
expect_fail "unknown option" "frobnicate" "$VITC" bench "$M" --frobnicate
# --bf16: the report names it; refused in one line by the portable kernels
expect_fail "bench --bf16 with the portable kernels" "AVX512-BF16" env VITC_KERNELS=ref "$VITC" bench "$M" --bf16 --iters 1
if grep -qw avx512_bf16 /proc/cpuinfo; then
  expect_ok "bench --bf16" "$VITC" bench "$M" --json --bf16 --iters 2 --warmup 1 --threads 1
  grep -q '"kernel":"avx512+bf16"' "$TMP/out" && ok || bad "bench --bf16 does not say so: $(cat "$TMP/out")"
fi
report test_bench
