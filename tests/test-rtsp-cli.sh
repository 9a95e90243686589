#!/usr/bin/env bash
# The CLI's live-camera options: --reconnect / --max-backoff / --timeout against a port where
# nothing listens (fails after 1 + N attempts, state "failed" in --summary-json, exit status 1,
# the file camera beside it unaffected), --rtsp-transport validation, and an HTTP file source
# (python3 -m http.server on 127.0.0.1) read to its end. Loopback only. Skips (77) without
# ffmpeg or python3.
set -uo pipefail
CLI="${PANOPTES_CLI:?PANOPTES_CLI must point at the panoptes binary}"
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg not installed"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip: $PY not found"; exit 77; }
TMP="$(mktemp -d /tmp/panoptes-rtsp-cli-XXXXXX)"
HTTP_PID=
cleanup() { [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -c:v libx264 -pix_fmt yuv420p \
    "$TMP/clip.mp4" || fail "ffmpeg could not make the clip"

# 1. nothing listens: 3 attempts (1 + --reconnect 2), then failed; the file camera is fine
port=$(free_port)
start=$(date +%s.%N)
"$CLI" run --backend cpu --no-detect --quiet --camera "rtsp://127.0.0.1:$port/cam" --camera "$TMP/clip.mp4" \
    --reconnect 2 --max-backoff 0.2 --timeout 500 --summary-json "$TMP/s.json" 2>"$TMP/log"
rc=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
[ "$rc" = 1 ] || { cat "$TMP/log"; fail "exit status $rc, expected 1 (a camera failed)"; }
"$PY" - "$TMP/s.json" <<'PYEOF' || fail "summary: $(cat "$TMP/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))
c, f = s["cameras"]
assert c["state"] == "failed" and c["status"] == "PAN_NET", c
assert c["failed_attempts"] == 3 and c["frames"] == 0 and c["reconnects"] == 0, c
assert f["state"] == "ended" and f["status"] == "ok" and f["frames"] == 25, f
assert s["failed_cameras"] == 1 and s["dropped"] == 0, s
PYEOF
grep -q "state retrying" "$TMP/log" || fail "no 'state retrying' line in the log"
grep -q "state failed" "$TMP/log" || fail "no 'state failed' line in the log"
(( $(echo "$elapsed < 5" | bc) )) || fail "took ${elapsed}s to give up (expected about 1 s)"

# 2. option validation
"$CLI" run --backend cpu --no-detect --camera "$TMP/clip.mp4" --rtsp-transport sctp 2>/dev/null
[ $? = 2 ] || fail "--rtsp-transport sctp was accepted"
"$CLI" run --backend cpu --no-detect --camera "$TMP/clip.mp4" --max-backoff 0 2>/dev/null
[ $? = 2 ] || fail "--max-backoff 0 was accepted"

# 3. a file over HTTP (a file, not live: every frame, no drops), --realtime paces it (1 s of video)
port=$(free_port)
(cd "$TMP" && exec "$PY" -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
HTTP_PID=$!
for _ in $(seq 50); do "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done
start=$(date +%s.%N)
"$CLI" run --backend cpu --no-detect --quiet --realtime --camera "http://127.0.0.1:$port/clip.mp4" --timeout 2000 \
    --summary-json "$TMP/h.json" 2>"$TMP/hlog" || { cat "$TMP/hlog"; fail "HTTP camera run failed"; }
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
"$PY" - "$TMP/h.json" <<'PYEOF' || fail "HTTP summary: $(cat "$TMP/h.json")"
import json, sys
c = json.load(open(sys.argv[1]))["cameras"][0]
assert c["state"] == "ended" and c["frames"] + c["dropped"] == 25, c
PYEOF
(( $(echo "$elapsed >= 0.9" | bc) )) || fail "--realtime read 1 s of video in ${elapsed}s"
echo "ok"
