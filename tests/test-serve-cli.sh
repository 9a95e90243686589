#!/usr/bin/env bash
# `panoptes serve` end to end on the cpu backend with the sample looped as a live-looking camera:
# usage and config errors (exit 2, the line and key named), the API on the real pipeline, a bad
# camera failing alone, snapshots, /metrics through promtool, the token, SIGHUP reloads (cameras
# and token), SIGTERM draining to exit 0 with every JSON line whole; the detector family and
# overlapping cameras passed to the pipeline.
set -u
CLI="${PANOPTES_CLI:?set by ctest}"
PY=/usr/bin/python3
SAMPLE=data/vtest.mp4
REPO_ROOT=$(pwd)
[ -f "$SAMPLE" ] && [ -f models/nanodet.json ] || { echo "skipped: run scripts/setup.sh (sample or model missing)"; exit 77; }
"$CLI" serve --help >/dev/null 2>&1 || { echo "skipped: this build has no panoptes serve"; exit 77; }
command -v curl >/dev/null || { echo "skipped: curl missing (scripts/setup.sh installs it)"; exit 77; }
TMP=$(mktemp -d)
SERVE_PID=
cleanup() { [ -n "$SERVE_PID" ] && kill -KILL "$SERVE_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail=0; passed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

# starts `panoptes serve ARGS...` in the background; sets SERVE_PID and PORT (0 when it did not come up)
start_serve() {
    : >"$TMP/serve.err"
    "$CLI" serve "$@" 2>"$TMP/serve.err" &
    SERVE_PID=$!
    PORT=0
    for _ in $(seq 600); do
        PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/serve.err" | head -1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    PORT=0
    cat "$TMP/serve.err"
    return 1
}
# stops it with a signal; sets RC to its exit status
stop_serve() {
    kill -"$1" "$SERVE_PID"
    for _ in $(seq 600); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$SERVE_PID"; RC=$?
    SERVE_PID=
}
# HTTP: status code into CODE, body into $TMP/body
req() { CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' "$@"); }
api() { req -H "Authorization: Bearer $TOKEN" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open('$TMP/body')); print($1)" 2>/dev/null; }
# waits (up to 60 s) until the python expression on GET /api/cameras ("d") is true
wait_cameras() {
    for _ in $(seq 300); do
        api "http://127.0.0.1:$PORT/api/cameras"
        [ "$CODE" = 200 ] && [ "$(json "$1")" = True ] && return 0
        sleep 0.2
    done
    echo "  waited for: $1; last: $(cat "$TMP/body")"
    return 1
}

# 1. usage and config errors: exit 2, the problem named
"$CLI" serve --frobnicate >/dev/null 2>&1; rc=$?
check "unknown option: exit 2" '[ $rc -eq 2 ]'
"$CLI" serve --listen 8080 >/dev/null 2>"$TMP/e.txt"; rc=$?
check "--listen without ADDR: exit 2, says ADDR:PORT" '[ $rc -eq 2 ] && grep -q "ADDR:PORT" "$TMP/e.txt"'
printf 'listen: 127.0.0.1:0\ncameras:\n  - uri: %s\n    timeout_ms: soon\n' "$SAMPLE" >"$TMP/bad.yaml"
"$CLI" serve --config "$TMP/bad.yaml" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "config error: exit 2 naming file, line and key" \
    '[ $rc -eq 2 ] && grep -q "bad.yaml:4: cameras\[0\].timeout_ms: expected an integer" "$TMP/e.txt"'
"$CLI" serve --config "$TMP/none.yaml" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "missing config file: exit 2 naming it" '[ $rc -eq 2 ] && grep -q "none.yaml" "$TMP/e.txt"'
"$CLI" serve --listen 127.0.0.1:0 --token-file "$TMP/none.token" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "missing token file: exit 2 naming it" '[ $rc -eq 2 ] && grep -q "none.token" "$TMP/e.txt"'

# 1b. the detector family (model_type / --model-type, as run's): a name outside the list is a usage
#     error listing the families; a family the model contradicts fails the start naming both;
#     overlaps (overlaps / --overlap) are checked like run's --overlap
"$CLI" serve --listen 127.0.0.1:0 --model-type foo >/dev/null 2>"$TMP/e.txt"; rc=$?
check "--model-type foo: exit 2 listing the families" \
    '[ $rc -eq 2 ] && grep -q "model-type takes one of auto, nanodet, .*, yolov10, rtdetr, not .foo." "$TMP/e.txt"'
printf 'listen: 127.0.0.1:0\nbackend: cpu\nmodel_type: yolo12\n' >"$TMP/bad.yaml"
"$CLI" serve --config "$TMP/bad.yaml" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "model_type: yolo12 in the config: exit 2 naming file, line and key, listing the families" \
    '[ $rc -eq 2 ] && grep -q "bad.yaml:3: model_type: takes one of auto, nanodet, .*, rtdetr, not .yolo12." "$TMP/e.txt"'
printf 'listen: 127.0.0.1:0\nbackend: cpu\nmodel_type: yolov5\ncameras:\n  - %s\n' "$SAMPLE" >"$TMP/mt.yaml"
"$CLI" serve --config "$TMP/mt.yaml" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "model_type: yolov5 on NanoDet reaches the pipeline: exit 3, the disagreement named" \
    '[ $rc -eq 3 ] && grep -q "disagree with --model-type yolov5" "$TMP/e.txt"'
"$CLI" serve --listen 127.0.0.1:0 --overlap 1,1,0,0 >/dev/null 2>"$TMP/e.txt"; rc=$?
check "--overlap 1,1,0,0: exit 2 saying why" '[ $rc -eq 2 ] && grep -q "two different camera ids" "$TMP/e.txt"'
printf 'listen: 127.0.0.1:0\noverlaps:\n  - [0, 1, 5]\n' >"$TMP/bad.yaml"
"$CLI" serve --config "$TMP/bad.yaml" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "overlaps entry of 3 numbers: exit 2 naming file, line and entry" \
    '[ $rc -eq 2 ] && grep -q "bad.yaml:3: overlaps\[0\]: .*expected A,B,DX,DY" "$TMP/e.txt"'

# 2. a service from a config file, with a token
TOKEN=first-token-0123
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
write_config() {   # write_config CAMERA-LINES...
    { printf 'listen: 127.0.0.1:0\nbackend: cpu\nrealtime: true\ntoken_file: %s\noutputs:\n  jsonl: %s\n' \
          "$TMP/token" "$TMP/out.jsonl"
      printf 'defaults:\n  loop: true\ncameras:\n'
      for c in "$@"; do printf '%s\n' "$c"; done; } >"$TMP/serve.yaml"
}
write_config "  - uri: $SAMPLE" "    name: lobby"
start_serve --config "$TMP/serve.yaml"
check "serve starts and says where it listens" '[ "$PORT" != 0 ]'
[ "$PORT" = 0 ] && { echo "$passed passed, $((fail)) failed"; exit 1; }
B="http://127.0.0.1:$PORT"

req "$B/api/cameras"
check "no token: 401 with a JSON error" '[ "$CODE" = 401 ] && grep -q "Authorization: Bearer" "$TMP/body"'
req -H "Authorization: Bearer wrong" "$B/api/cameras"
check "wrong token: 401" '[ "$CODE" = 401 ]'
req "$B/api/health"
check "/api/health is open: 200 running" '[ "$CODE" = 200 ] && grep -q "\"status\":\"running\"" "$TMP/body"'
check "camera 0 (lobby) runs: frames delivered" 'wait_cameras "d[0][\"name\"] == \"lobby\" and d[0][\"state\"] == \"live\" and d[0][\"frames\"] >= 3"'

# a snapshot waits up to 2 s for the camera's next frame: 503 when none comes, as on a loaded machine
for _ in $(seq 30); do api "$B/api/cameras/0/snapshot.jpg"; [ "$CODE" = 503 ] || break; done
check "snapshot: a 768x576 JPEG" \
    '[ "$CODE" = 200 ] && [ "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$TMP/body")" = "768,576" ]'

req "$B/metrics"
check "/metrics is open and names the camera" \
    '[ "$CODE" = 200 ] && grep -q "^panoptes_camera_frames_total{camera=\"0\",name=\"lobby\"} [1-9]" "$TMP/body"'
check "/metrics: resident memory now, device memory now (0 on cpu)" \
    'grep -q "^panoptes_resident_memory_bytes [1-9]" "$TMP/body" && grep -q "^panoptes_device_memory_now_bytes 0$" "$TMP/body"'
if command -v promtool >/dev/null; then
    check "/metrics passes promtool check metrics" 'promtool check metrics <"$TMP/body" >"$TMP/promtool.txt" 2>&1 || { cat "$TMP/promtool.txt"; false; }'
else
    echo "skip promtool check metrics (promtool not installed: Debian package prometheus)"
fi

# 3. bad input: the service unaffected
api -X POST -d '{"uri": "'"$TMP"'/missing.mp4", "name": "ghost"}' "$B/api/cameras"
check "a camera that cannot be opened is accepted (201)" '[ "$CODE" = 201 ] && [ "$(json "d[\"id\"]")" = 1 ]'
check "... and fails alone, saying why" \
    'wait_cameras "d[1][\"state\"] == \"failed\" and \"missing.mp4\" in d[1][\"error\"] and d[0][\"state\"] == \"live\""'
api -X POST -d '{"uri": "x.mp4",' "$B/api/cameras"
check "malformed JSON: 400" '[ "$CODE" = 400 ] && grep -q "malformed JSON" "$TMP/body"'
api -X POST -d '{"uri": "x.mp4", "fps": 5}' "$B/api/cameras"
check "unknown field: 400 naming it" '[ "$CODE" = 400 ] && grep -q "fps: unknown field" "$TMP/body"'
head -c 100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
api -X POST --data-binary @"$TMP/big.json" "$B/api/cameras"
check "body over the limit: 413" '[ "$CODE" = 413 ]'
api "$B/api/cameras/zero"
check "id not a number: 400" '[ "$CODE" = 400 ]'
api "$B/api/cameras/77"
check "unknown id: 404" '[ "$CODE" = 404 ]'
api -X DELETE "$B/api/cameras/1"
check "DELETE: 204" '[ "$CODE" = 204 ]'
req "$B/api/health"
check "still healthy after all that" '[ "$CODE" = 200 ]'

# 4. SIGHUP: cameras added and removed to match the file; a broken file changes nothing; the token rotates
write_config "  - uri: $SAMPLE" "    name: lobby" "  - uri: $SAMPLE" "    name: hall"
kill -HUP "$SERVE_PID"
check "SIGHUP adds the new camera (id 2), keeps lobby as camera 0" \
    'wait_cameras "[(c[\"id\"], c[\"name\"]) for c in d] == [(0, \"lobby\"), (2, \"hall\")]"'
printf 'cameras:\n  - uri: [\n' >"$TMP/serve.yaml"
kill -HUP "$SERVE_PID"
sleep 1
check "SIGHUP with a broken file: logged, nothing changes" \
    'grep -q "reload: .*serve.yaml:.*the service goes on" "$TMP/serve.err" && wait_cameras "len(d) == 2"'
write_config "  - uri: $SAMPLE" "    name: hall"
OLD=$TOKEN; TOKEN=second-token-4567
printf '%s\n' "$TOKEN" >"$TMP/token"
kill -HUP "$SERVE_PID"
check "SIGHUP removes lobby and reads the new token" 'wait_cameras "[c[\"name\"] for c in d] == [\"hall\"]"'
req -H "Authorization: Bearer $OLD" "$B/api/cameras"
check "... the old token is refused" '[ "$CODE" = 401 ]'

# 5. SIGTERM: drain, exit 0, every line of the results whole
stop_serve TERM
check "SIGTERM: exit 0" '[ $RC -eq 0 ]'
check "no sanitizer report" '! grep -q "Sanitizer" "$TMP/serve.err" || { grep -A20 Sanitizer "$TMP/serve.err" | head -40; false; }'
check "JSON Lines: every line whole, lobby and hall both written" '"$PY" -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {r.get(\"name\") for r in rows}
assert {\"lobby\", \"hall\"} <= names, names
" "$TMP/out.jsonl"'

# 6. the port is taken: exit 3 saying so
start_serve --listen 127.0.0.1:0 --no-detect
"$CLI" serve --listen "127.0.0.1:$PORT" --no-detect >/dev/null 2>"$TMP/e.txt"; rc=$?
check "port in use: exit 3, says so" '[ $rc -eq 3 ] && grep -q "Address already in use" "$TMP/e.txt"'
stop_serve INT
check "SIGINT: exit 0" '[ $RC -eq 0 ]'

# 6b. analytics in the service (issue #15): from the config file (analytics: FILE, outputs.events)
#     and the command line; a bad analytics file is a usage error naming it
printf '{"cameras": {"*": {"lines": [{"name": "door", "points": [[360,170],[360,370]]}],\n  "zones": [{"name": "all", "polygon": [[0,0],[768,0],[768,576],[0,576]]}]}}}\n' >"$TMP/an.json"
printf '{"cameras": {"0": {"lines": [{"name": "x", "points": [[1,1],[1,1]]}]}}}\n' >"$TMP/an-bad.json"
"$CLI" serve --listen 127.0.0.1:0 --backend cpu --camera "$SAMPLE" --analytics "$TMP/an-bad.json" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "bad analytics file: exit 2 naming file, camera and line" '[ $rc -eq 2 ] && grep -q "an-bad.json" "$TMP/e.txt" && grep -q "line \"x\"" "$TMP/e.txt"'
cat >"$TMP/an.yaml" <<YAML
listen: 127.0.0.1:0
backend: cpu
analytics: $TMP/an.json
outputs:
  jsonl: $TMP/an-out.jsonl
  events: $TMP/an-events.jsonl
cameras:
  - uri: $REPO_ROOT/$SAMPLE
    name: door
YAML
start_serve --config "$TMP/an.yaml"
for _ in $(seq 600); do [ "$(wc -l <"$TMP/an-out.jsonl" 2>/dev/null || echo 0)" -gt 5 ] && break; sleep 0.1; done
stop_serve TERM
check "analytics from the config: events written, JSONL lines carry the counts" '[ $RC -eq 0 ] &&
    grep -q "\"event\":\"track_start\"" "$TMP/an-events.jsonl" && grep -q "\"analytics\":{\"lines\":{\"door\"" "$TMP/an-out.jsonl"'

# 6c. model_type and overlaps reach the pipeline: two copies of the sample, overlapping with no
#     shift (overlaps: [[0, 1, 0, 0]]), give their tracks one global id (without it none is shared;
#     sync is on with overlaps, so both files advance together);
#     --model-type nanodet on the command line overrides the file's yolov5 (which would fail)
cat >"$TMP/ov.yaml" <<YAML
listen: 127.0.0.1:0
backend: cpu
model_type: yolov5
overlaps:
  - [0, 1, 0, 0]
outputs:
  jsonl: $TMP/ov.jsonl
defaults:
  max_frames: 15
cameras:
  - $REPO_ROOT/$SAMPLE
  - $REPO_ROOT/$SAMPLE
YAML
start_serve --config "$TMP/ov.yaml" --model-type nanodet
check "--model-type nanodet over the file's yolov5: the service starts" '[ "$PORT" != 0 ]'
if [ "$PORT" != 0 ]; then
    B="http://127.0.0.1:$PORT"
    check "both overlapping cameras run to their 15 frames" \
        'wait_cameras "len(d) == 2 and all(c[\"state\"] == \"ended\" for c in d)"'
    stop_serve TERM
    # (dev machine: 63 of 63 at 15 frames, 185 of 185 at 40; without the overlap 0 of 90 at 20)
    check "overlapping cameras: equal confirmed tracks share a global id (>= 90% of pairs)" '[ $RC -eq 0 ] && "$PY" -c "
import json, sys
frames = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    frames.setdefault(r[\"frame\"], {})[r[\"camera\"]] = [t for t in r[\"tracks\"] if t[\"state\"] == \"confirmed\"]
pairs = [(t, u) for f in frames.values() for t in f.get(0, []) for u in f.get(1, []) if t[\"box\"] == u[\"box\"]]
same = sum(t[\"global_id\"] == u[\"global_id\"] for t, u in pairs)
print(\"  %d of %d pairs share a global id\" % (same, len(pairs)))
assert len(pairs) >= 10 and same >= 0.9 * len(pairs)
" "$TMP/ov.jsonl"'
fi

# 7. the example systemd unit is valid (its ExecStart pointed at this build)
if command -v systemd-analyze >/dev/null; then
    sed "s|/usr/local/bin/panoptes|$(realpath "$CLI")|" contrib/panoptes-serve.service >"$TMP/panoptes-serve.service"
    check "contrib/panoptes-serve.service passes systemd-analyze verify" \
        'systemd-analyze verify --man=no "$TMP/panoptes-serve.service" >"$TMP/verify.txt" 2>&1 || { cat "$TMP/verify.txt"; false; }'
else
    echo "skip systemd-analyze verify (systemd not installed)"
fi

echo "$passed passed, $fail failed"
[ $fail -eq 0 ]
