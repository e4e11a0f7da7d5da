#!/usr/bin/env bash
# vitc serve with a real client (curl): every endpoint's answer equals the CLI's --json for the same
# image (classify, embed, segment JSON and PNG mask, detect), raw bodies and multipart forms; bad input
# (truncated image, not an image, a header declaring huge dimensions, an oversized body, unknown
# route / model, wrong method, ...) answered 4xx with a JSON error and the server healthy afterwards;
# concurrent requests batched and answered correctly; a short wrk load run without errors or memory
# growth; SIGTERM drains a request in flight and exits 0.
set -u
source "$(dirname "$0")/lib.sh"
VITC=${VITC:-build/vitc}
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v curl >/dev/null; then
  echo "test_serve: curl not installed (scripts/install-deps.sh installs it): skipped"
  report test_serve
  exit
fi
export VITC_NUM_THREADS=2
CLS=$ROOT/models/default.safetensors SEG=$ROOT/models/segment.safetensors DET=$ROOT/checkpoints/detect.ckpt.safetensors
IMGS=("$ROOT"/examples/images/*.png)
SCENES=("$ROOT"/examples/scenes/scene0.png "$ROOT"/examples/scenes/scene3.png)

SRV_PID=
stop_server() { [[ -n $SRV_PID ]] && kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=; }
trap 'stop_server; rm -rf "$TMP"' EXIT
start_server() { # args: vitc serve's; sets SRV_PID and URL
  "$VITC" serve "$@" --host 127.0.0.1 --port 0 >"$TMP/srv.out" 2>"$TMP/srv.err" &
  SRV_PID=$!
  for _ in $(seq 600); do
    grep -q "listening on" "$TMP/srv.out" 2>/dev/null && break
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  URL=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$TMP/srv.out")
  [[ -n $URL ]]
}
# post PATH FILE [curl args...]: the body in $TMP/resp, the status in $TMP/code
post() {
  local path=$1 file=$2; shift 2
  curl -s -o "$TMP/resp" -w '%{http_code}' --data-binary @"$file" -H 'Content-Type: application/octet-stream' \
    "$@" "$URL$path" >"$TMP/code"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_idle() { # until the requests a client left behind are answered (at most 30 s)
  for _ in $(seq 300); do
    curl -s "$URL/health" | grep -q '"in_flight":0,' && return
    sleep 0.1
  done
}
healthy() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/health") == 200 ]]; }

if start_server "$CLS" "$SEG" "$DET" --threads 2 --max-batch 8 --batch-wait 20 --max-body 1 --max-pixels 1; then ok
else bad "server did not start: $(cat "$TMP/srv.err")"; report test_serve; exit 1; fi

# GET routes
curl -s "$URL/health" >"$TMP/health" && $PY -c "
import json; h = json.load(open('$TMP/health')); assert h['status'] == 'ok' and h['models'] == 3, h" && ok || bad "health: $(cat "$TMP/health")"
curl -s "$URL/v1/models" >"$TMP/models" && $PY -c "
import json; m = json.load(open('$TMP/models'))['models']
assert [x['name'] for x in m] == ['default', 'segment', 'detect.ckpt'], m
assert [x['task'] for x in m] == ['classify', 'segment', 'detect'] and m[0]['default'] and m[0]['classes'] == 10, m" \
  && ok || bad "models: $(head -c 300 "$TMP/models")"

# compare KIND CLI_JSON_LINES SERVER_JSON_FILES...: the fields the CLI and the server share, equal
cat >"$TMP/compare.py" <<'PYEOF'
import json, sys
kind, cli = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
srv = [json.load(open(f)) for f in sys.argv[3:]]
assert len(cli) == len(srv), (len(cli), len(srv))
tol = float(__import__("os").environ.get("TOL", "0"))
def close(a, b):
    return abs(a - b) <= tol * max(1.0, abs(a))
for c, s in zip(cli, srv):
    if kind == "classify":
        assert [(t["index"], t["label"]) for t in c["top"]] == [(t["index"], t["label"]) for t in s["top"]], (c, s)
        assert all(close(a["prob"], b["prob"]) for a, b in zip(c["top"], s["top"])), (c, s)
    elif kind == "embed":
        assert c["dim"] == s["dim"] and len(s["features"]) == s["dim"], (c["dim"], s["dim"])
        assert all(close(a, b) for a, b in zip(c["features"], s["features"])) and close(c["norm"], s["norm"])
    elif kind == "segment":
        assert (c["width"], c["height"], c["classes"]) == (s["width"], s["height"], s["classes"]), (c, s)
    elif kind == "detect":
        assert (c["width"], c["height"], c["detections"]) == (s["width"], s["height"], s["detections"]), (c, s)
PYEOF
cmp_json() { # description kind cli_file server_files...
  local d=$1; shift
  if $PY "$TMP/compare.py" "$@" 2>"$TMP/cmp.err"; then ok; else bad "$d: $(tail -c 400 "$TMP/cmp.err")"; fi
}

# classify: every example image, top 3, against vitc classify --json; one also as multipart
"$VITC" classify "$CLS" "${IMGS[@]}" --top 3 --json --batch 1 >"$TMP/cli_cls" 2>/dev/null
files=()
for i in "${!IMGS[@]}"; do
  post "/v1/classify?top=3" "${IMGS[$i]}"
  cp "$TMP/resp" "$TMP/cls$i"; files+=("$TMP/cls$i")
  [[ $(cat "$TMP/code") == 200 ]] || bad "classify ${IMGS[$i]}: status $(cat "$TMP/code")"
done
cmp_json "classify = CLI" classify "$TMP/cli_cls" "${files[@]}"
curl -s -F "image=@${IMGS[0]}" "$URL/v1/classify?top=3&model=default" >"$TMP/form"
head -1 "$TMP/cli_cls" >"$TMP/cli_cls0"
cmp_json "classify multipart" classify "$TMP/cli_cls0" "$TMP/form"
grep -q "\"file\":\"$(basename "${IMGS[0]}")\"" "$TMP/form" && ok || bad "multipart file name: $(head -c 200 "$TMP/form")"
# a JPEG too (made from an example with PIL)
$PY -c "from PIL import Image; Image.open('${IMGS[3]}').convert('RGB').resize((70, 50)).save('$TMP/x.jpg', quality=90)"
"$VITC" classify "$CLS" "$TMP/x.jpg" --top 5 --json >"$TMP/cli_jpg" 2>/dev/null
post "/v1/classify?top=5" "$TMP/x.jpg"
cmp_json "classify jpeg" classify "$TMP/cli_jpg" "$TMP/resp"

# embed
"$VITC" embed "$CLS" "${IMGS[0]}" "${IMGS[5]}" --json --batch 1 >"$TMP/cli_emb" 2>/dev/null
post /v1/embed "${IMGS[0]}"; cp "$TMP/resp" "$TMP/emb0"
post /v1/embed "${IMGS[5]}"; cp "$TMP/resp" "$TMP/emb1"
cmp_json "embed = CLI" embed "$TMP/cli_emb" "$TMP/emb0" "$TMP/emb1"

# segment: JSON areas and the PNG mask against vitc segment
"$VITC" segment "$SEG" "${SCENES[@]}" --json --out "$TMP/seg" >"$TMP/cli_seg" 2>/dev/null
post "/v1/segment?model=segment" "${SCENES[0]}"; cp "$TMP/resp" "$TMP/seg0"
post "/v1/segment?model=segment" "${SCENES[1]}"; cp "$TMP/resp" "$TMP/seg1"
cmp_json "segment = CLI" segment "$TMP/cli_seg" "$TMP/seg0" "$TMP/seg1"
post "/v1/segment?model=segment&format=png" "${SCENES[0]}"; cp "$TMP/resp" "$TMP/mask_q.png"
post "/v1/segment?model=segment" "${SCENES[1]}" -H 'Accept: image/png'; cp "$TMP/resp" "$TMP/mask_a.png"
if $PY -c "
import numpy as np; from PIL import Image
for got, want in (('$TMP/mask_q.png', '$TMP/seg/scene0.mask.png'), ('$TMP/mask_a.png', '$TMP/seg/scene3.mask.png')):
    a, b = Image.open(got), Image.open(want)
    assert a.mode == 'L' and (np.asarray(a) == np.asarray(b)).all(), got"; then ok; else bad "segment png mask differs"; fi

# detect, default and explicit threshold
"$VITC" detect "$DET" "${SCENES[0]}" --json >"$TMP/cli_det" 2>/dev/null
"$VITC" detect "$DET" "${SCENES[1]}" --json --threshold 0.2 --top 3 >>"$TMP/cli_det" 2>/dev/null
post "/v1/detect?model=detect.ckpt" "${SCENES[0]}"; cp "$TMP/resp" "$TMP/det0"
post "/v1/detect?model=detect.ckpt&threshold=0.2&top=3" "${SCENES[1]}"; cp "$TMP/resp" "$TMP/det1"
cmp_json "detect = CLI" detect "$TMP/cli_det" "$TMP/det0" "$TMP/det1"

# bad input: a 4xx with a JSON error each, and the server healthy afterwards
head -c 200 "${IMGS[0]}" >"$TMP/trunc.png"
echo "this is not an image" >"$TMP/text.txt"
: >"$TMP/empty"
$PY - "$TMP/huge.png" <<'PYEOF'
import struct, sys, zlib
ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)   # 900 megapixels declared, 60 bytes sent
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)))
PYEOF
printf 'P6\n5000 4000\n255\n' >"$TMP/huge.ppm"   # 20 megapixels over the 1 MP limit
head -c $((1536 * 1024)) /dev/urandom >"$TMP/big.bin"
bad_case() { # description expected-status-prefix curl-args...
  local d=$1 want=$2; shift 2
  local code; code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$@")
  if [[ $code != $want* ]]; then bad "$d: status $code, wanted $want: $(head -c 200 "$TMP/resp")"; return; fi
  if ! $PY -c "import json, sys; e = json.load(open('$TMP/resp'))['error']; assert isinstance(e, str) and e" 2>/dev/null; then
    bad "$d: no JSON error: $(head -c 200 "$TMP/resp")"; return; fi
  healthy && ok || bad "$d: server not healthy afterwards"
}
B=(-H 'Content-Type: application/octet-stream')
bad_case "truncated image" 400 "${B[@]}" --data-binary @"$TMP/trunc.png" "$URL/v1/classify"
bad_case "not an image" 400 "${B[@]}" --data-binary @"$TMP/text.txt" "$URL/v1/classify"
bad_case "empty body" 400 "${B[@]}" --data-binary @"$TMP/empty" "$URL/v1/classify"
bad_case "huge png header" 413 "${B[@]}" --data-binary @"$TMP/huge.png" "$URL/v1/classify"
bad_case "huge ppm header" 413 "${B[@]}" --data-binary @"$TMP/huge.ppm" "$URL/v1/segment?model=segment"
bad_case "oversized body" 413 "${B[@]}" --data-binary @"$TMP/big.bin" "$URL/v1/classify"
bad_case "oversized chunked body" 413 "${B[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.bin" "$URL/v1/embed"
bad_case "oversized multipart" 413 -F "image=@$TMP/big.bin" "$URL/v1/classify"
bad_case "multipart without a file" 400 -F "note=hello" "$URL/v1/classify"
bad_case "unknown route" 404 "$URL/v2/nothing"
bad_case "unknown POST route" 404 "${B[@]}" --data-binary @"${IMGS[0]}" "$URL/v1/nothing"
bad_case "unknown model" 404 "${B[@]}" --data-binary @"${IMGS[0]}" "$URL/v1/classify?model=nope"
bad_case "GET on classify" 405 "$URL/v1/classify"
bad_case "POST on health" 405 -X POST "$URL/health"
bad_case "DELETE on models" 405 -X DELETE "$URL/v1/models"
bad_case "bad top" 400 "${B[@]}" --data-binary @"${IMGS[0]}" "$URL/v1/classify?top=0"
bad_case "bad threshold" 400 "${B[@]}" --data-binary @"${SCENES[0]}" "$URL/v1/detect?model=detect.ckpt&threshold=2"
bad_case "classify on a segmentation model" 400 "${B[@]}" --data-binary @"${IMGS[0]}" "$URL/v1/classify?model=segment"
bad_case "segment on a classifier" 400 "${B[@]}" --data-binary @"${IMGS[0]}" "$URL/v1/segment"
bad_case "gif" 415 "${B[@]}" --data-binary 'GIF89a................' "$URL/v1/classify"
grep -q Allow: <(curl -s -D - -o /dev/null "$URL/v1/classify") && ok || bad "405 without an Allow header"

# concurrent requests: 20 in parallel, each answer equal to the CLI's (batched: numbers within 1e-5)
curl -s "$URL/v1/models" >"$TMP/models0"
args=(); files=(); cli_in=()
for k in $(seq 0 19); do
  i=$((k % ${#IMGS[@]})); cli_in+=("${IMGS[$i]}")
  args+=(--data-binary "@${IMGS[$i]}" -H 'Content-Type: application/octet-stream' -o "$TMP/par$k" "$URL/v1/classify?top=3")
  [[ $k -lt 19 ]] && args+=(--next)
  files+=("$TMP/par$k")
done
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 20 "${args[@]}"
"$VITC" classify "$CLS" "${cli_in[@]}" --top 3 --json --batch 1 >"$TMP/cli_par" 2>/dev/null
TOL=1e-5 cmp_json "parallel classify = CLI" classify "$TMP/cli_par" "${files[@]}"
# parallel embeds from separate curl processes too
pids=()
for k in 0 1 2 3 4 5; do curl -s --data-binary @"${IMGS[$k]}" -o "$TMP/pe$k" "$URL/v1/embed" & pids+=($!); done
wait "${pids[@]}"
"$VITC" embed "$CLS" "${IMGS[@]:0:6}" --json --batch 1 >"$TMP/cli_pe" 2>/dev/null
TOL=1e-4 cmp_json "parallel embed = CLI" embed "$TMP/cli_pe" "$TMP"/pe{0,1,2,3,4,5}
curl -s "$URL/v1/models" >"$TMP/models1"
if $PY -c "
import json
a, b = (json.load(open(f))['models'][0] for f in ('$TMP/models0', '$TMP/models1'))
passes, images = b['forward_passes'] - a['forward_passes'], b['batched_images'] - a['batched_images']
assert images == 26 and passes < images, (passes, images)
print(f'  batching: 26 requests in {passes} forward passes')"; then ok; else bad "no batching: $(cat "$TMP/models1")"; fi
# parallel segment requests: batched too, and the same masks as the CLI's
curl -s "$URL/v1/models" >"$TMP/models2"
args=(); files=()
for k in $(seq 0 7); do
  i=$((k % ${#SCENES[@]}))
  args+=(--data-binary "@${SCENES[$i]}" -o "$TMP/pseg$k" "$URL/v1/segment?model=segment")
  [[ $k -lt 7 ]] && args+=(--next)
  files+=("$TMP/pseg$k")
done
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 8 "${args[@]}"
"$VITC" segment "$SEG" "${SCENES[@]}" --json --out "$TMP/pseg_cli" >"$TMP/cli_pseg2" 2>/dev/null
for k in $(seq 0 7); do sed -n "$((k % ${#SCENES[@]} + 1))p" "$TMP/cli_pseg2"; done >"$TMP/cli_pseg"  # the requests' order
cmp_json "parallel segment = CLI" segment "$TMP/cli_pseg" "${files[@]}"
curl -s "$URL/v1/models" >"$TMP/models3"
if $PY -c "
import json
a, b = (json.load(open(f))['models'][1] for f in ('$TMP/models2', '$TMP/models3'))
passes, images = b['forward_passes'] - a['forward_passes'], b['batched_images'] - a['batched_images']
assert images == 8 and passes < images, (passes, images)
print(f'  segment batching: 8 requests in {passes} forward passes')"; then ok; else bad "no segment batching: $(cat "$TMP/models3")"; fi

# a short load run with wrk (loopback, 3 s): no errors, no memory growth
if command -v wrk >/dev/null; then
  cat >"$TMP/post.lua" <<'LUAEOF'
local f = assert(io.open(os.getenv("VITC_WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUAEOF
  # 4 connections, for at least 3 s and 12 times one request's latency: a sanitizer build on a busy
  # machine still finishes several batches of 4 within the run
  lat=$(curl -s -o /dev/null -w '%{time_total}' --data-binary @"${IMGS[0]}" "$URL/v1/classify")
  dur=$($PY -c "import math; print(max(3, math.ceil(12 * $lat)))")
  VITC_WRK_BODY=${IMGS[0]} wrk -t 2 -c 4 -d 1s --timeout 60s -s "$TMP/post.lua" "$URL/v1/classify" >/dev/null 2>&1  # warm-up
  wait_idle
  rss0=$(rss_kb "$SRV_PID")
  VITC_WRK_BODY=${IMGS[0]} wrk -t 2 -c 4 -d "${dur}s" --timeout 60s -s "$TMP/post.lua" "$URL/v1/classify" >"$TMP/wrk" 2>&1
  wait_idle
  rss1=$(rss_kb "$SRV_PID")
  reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk")
  if [[ ${reqs:-0} -gt 0 ]] && ! grep -q -E "Non-2xx|Socket errors" "$TMP/wrk"; then ok; else bad "wrk: $(cat "$TMP/wrk")"; fi
  # growth allowed: 16 MB (allocator caches, the threads' stacks), far below a leak of every request's image
  if ((rss1 - rss0 < 16384)); then ok; else bad "RSS grew from $rss0 kB to $rss1 kB over $reqs requests"; fi
  echo "  wrk: $reqs requests in $dur s, RSS $rss0 -> $rss1 kB"
  healthy && ok || bad "unhealthy after wrk"
else
  echo "  wrk not installed: load run skipped"
fi

# SIGTERM drains: a slow upload in flight gets its answer, then exit 0
curl -s --limit-rate 2k -o "$TMP/slow" -w '%{http_code}' --data-binary @"${IMGS[2]}" "$URL/v1/classify?top=3" >"$TMP/slow_code" &
CURL_PID=$!
sleep 0.5
kill -TERM "$SRV_PID"
wait "$SRV_PID"; rc=$?; SRV_PID=
wait "$CURL_PID"
[[ $rc -eq 0 ]] && ok || bad "SIGTERM: exit $rc: $(tail -3 "$TMP/srv.err")"
sed -n 3p "$TMP/cli_cls" >"$TMP/cli_slow"
if [[ $(cat "$TMP/slow_code") == 200 ]]; then cmp_json "drained request" classify "$TMP/cli_slow" "$TMP/slow"
else bad "request in flight at SIGTERM: status $(cat "$TMP/slow_code")"; fi
grep -q "finishing the requests in flight" "$TMP/srv.err" && ok || bad "no drain message: $(cat "$TMP/srv.err")"
# SIGINT, idle
start_server "$CLS" --threads 1 && ok || bad "restart"
kill -INT "$SRV_PID"; wait "$SRV_PID"; rc=$?; SRV_PID=
[[ $rc -eq 0 ]] && ok || bad "SIGINT: exit $rc"

# start-up errors: one line, non-zero exit
expect_fail "no model" "needs at least one MODEL" "$VITC" serve
expect_fail "missing model" "serve" "$VITC" serve "$TMP/nope.safetensors"
expect_fail "same names" "two models named" "$VITC" serve "$CLS" "$CLS"
expect_fail "bad batch" "--max-batch" "$VITC" serve "$CLS" --max-batch 0
expect_fail "bad host" "cannot" "$VITC" serve "$CLS" --host no.such.host.invalid --port 0
report test_serve
