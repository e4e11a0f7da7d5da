#!/usr/bin/env bash
# A bounded load run of vitc serve with wrk on loopback: requests/s, p50/p99 latency, errors, and the
# server's RSS before and after (a leak shows as growth). Usage:
#   bench/serve_load.sh [BUILD_DIR]     env: DURATION (10s), CONNECTIONS (8), WRK_THREADS (2),
#                                       MODEL (models/default.safetensors), IMAGE, ENDPOINT (/v1/classify),
#                                       SERVE_ARGS (extra vitc serve options, e.g. "--max-batch 16")
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
VITC=${VITC:-$BUILD/vitc}
MODEL=${MODEL:-models/default.safetensors}
IMAGE=${IMAGE:-examples/images/0000_ankle_boot.png}
ENDPOINT=${ENDPOINT:-/v1/classify}
DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-8} WRK_THREADS=${WRK_THREADS:-2}
command -v wrk >/dev/null || { echo "serve_load: wrk is not installed (scripts/install-deps.sh installs it)"; exit 1; }
TMP=$(mktemp -d)
SRV=
trap '[[ -n $SRV ]] && kill -TERM "$SRV" 2>/dev/null; rm -rf "$TMP"' EXIT
# shellcheck disable=SC2086
"$VITC" serve "$MODEL" --host 127.0.0.1 --port 0 ${SERVE_ARGS:-} >"$TMP/out" 2>"$TMP/err" &
SRV=$!
for _ in $(seq 300); do grep -q "listening on" "$TMP/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$TMP/out") || { echo "serve_load: the server did not start: $(cat "$TMP/err")"; exit 1; }
cat >"$TMP/post.lua" <<'LUAEOF'
local f = assert(io.open(os.getenv("VITC_WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUAEOF
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SRV/status"; }
export VITC_WRK_BODY=$IMAGE
wrk -t "$WRK_THREADS" -c "$CONNECTIONS" --timeout 30s -d 2s -s "$TMP/post.lua" "$URL$ENDPOINT" >/dev/null  # warm-up
rss0=$(rss)
curl -s "$URL/v1/models" >"$TMP/m0"
wrk -t "$WRK_THREADS" -c "$CONNECTIONS" --timeout 30s -d "$DURATION" --latency -s "$TMP/post.lua" "$URL$ENDPOINT" | tee "$TMP/wrk"
rss1=$(rss)
curl -s "$URL/v1/models" >"$TMP/m1"
kill -TERM "$SRV"; wait "$SRV"; rc=$?; SRV=
rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk")
p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk")
p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk")
errors=$(grep -E "Non-2xx|Socket errors" "$TMP/wrk" || true)
batch=$(/usr/bin/python3 -c "
import json
a, b = (json.load(open(f))['models'][0] for f in ('$TMP/m0', '$TMP/m1'))
p, i = b['forward_passes'] - a['forward_passes'], b['batched_images'] - a['batched_images']
print(f'{i / p:.2f}' if p else 'n/a')")
echo
echo "serve_load: $ENDPOINT $(basename "$MODEL"), $CONNECTIONS connections, $DURATION: $rps requests/s, p50 $p50, p99 $p99," \
  "mean batch $batch, errors: ${errors:-none}, RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MB, exit $rc"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
[[ -z $errors && $rc -eq 0 ]]
