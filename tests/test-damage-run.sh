#!/usr/bin/env bash
# `panoptes run` tells damaged and truncated recordings from complete ones (issue #16, items 1
# and 2): a camera that lost frames to damage ends `damaged`, one whose file ended before its
# container said ends `truncated` (both state `ended`, with counts in the summary), and the exit
# status is 4 when every camera ran to its end but some lost frames; an HTTP MP4 whose index is at
# the end, from a server without range requests (python's http.server), fails naming why (exit 1).
# Before: 49..53 of 60 frames "ok", 13..25 frames "ok", 0 frames "ok", all exit 0.
set -u
CLI="${PANOPTES_CLI:?run through ctest (PANOPTES_CLI)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPLE="$REPO/data/vtest.mp4"
command -v ffmpeg >/dev/null || { echo "ffmpeg not installed: skipped"; exit 77; }
[ -r "$SAMPLE" ] || { echo "data/vtest.mp4 missing (run scripts/setup.sh): skipped"; exit 77; }
T="$(mktemp -d /tmp/panoptes-damage-run-XXXXXX)"
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
fail=0
ffmpeg -nostdin -v error -y -i "$SAMPLE" -frames:v 60 -c copy "$T/clip.mp4" || exit 1
ffmpeg -nostdin -v error -y -i "$T/clip.mp4" -c copy -movflags +faststart "$T/fs.mp4" || exit 1
cp "$T/fs.mp4" "$T/damaged.mp4"
dd if=/dev/zero of="$T/damaged.mp4" bs=1024 seek=400 count=64 conv=notrunc 2>/dev/null   # 64 KiB mid-file
head -c $(( $(stat -c %s "$T/fs.mp4") / 2 )) "$T/fs.mp4" >"$T/half.mp4"                  # cut in half, index at the front

# run NAME EXPECTED_RC CAMERA... ; then the summary is in $T/NAME.json
run() {
    local name="$1" want="$2"; shift 2
    local args=()
    for c in "$@"; do args+=(--camera "$c"); done
    PANOPTES_LOG=warn "$CLI" run --no-detect "${args[@]}" --summary-json "$T/$name.json" >"$T/$name.log" 2>&1
    local rc=$?
    if [ "$rc" = "$want" ]; then echo "ok   $name: exit $rc"; else echo "FAIL $name: exit $rc, want $want"; cat "$T/$name.log"; fail=1; fi
}
# cam NAME INDEX PYTHON-CONDITION-ON-c : checks the summary's camera INDEX
cam() {
    if /usr/bin/python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['cameras'][int(sys.argv[2])]; sys.exit(0 if ($3) else 1)" \
        "$T/$1.json" "$2"; then
        echo "ok   $1 camera $2: $3"
    else
        echo "FAIL $1 camera $2: $3"; cat "$T/$1.json"; fail=1
    fi
}

run complete 0 "$T/clip.mp4"
cam complete 0 "c['state'] == 'ended' and c['status'] == 'ok' and c['frames'] == 60"
run damaged 4 "$T/damaged.mp4"
cam damaged 0 "c['state'] == 'ended' and c['status'] == 'PAN_DAMAGED' and c['frames'] < 60 and c['frames_lost'] == 60 - c['frames']"
cam damaged 0 "'frame(s) lost to damage' in c['damage']"
grep -q "damaged: .* frame(s) lost to damage" "$T/damaged.log" && echo "ok   damaged: the summary says so" ||
    { echo "FAIL damaged: the summary does not say so"; fail=1; }
run truncated 4 "$T/half.mp4"
cam truncated 0 "c['state'] == 'ended' and c['status'] == 'PAN_TRUNCATED' and 10 <= c['frames'] < 60"
cam truncated 0 "'packets before its index said' in c['damage']"
run mixed 4 "$T/clip.mp4" "$T/damaged.mp4"
cam mixed 0 "c['status'] == 'ok' and c['frames'] == 60"
cam mixed 1 "c['status'] == 'PAN_DAMAGED'"
run failed_beats_damaged 1 "$T/damaged.mp4" "$T/missing.mp4"

# HTTP without range requests: python's http.server
if [ -x /usr/bin/python3 ]; then
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T" >/dev/null 2>&1 &
    SRV=$!
    for _ in $(seq 100); do /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.1; done
    run http_index_at_end 1 "http://127.0.0.1:$port/clip.mp4"
    cam http_index_at_end 0 "c['state'] == 'failed' and c['status'] == 'PAN_NOSEEK' and c['frames'] == 0"
    grep -q "index (moov) is at the end of the file and the server does not support range requests" "$T/http_index_at_end.log" &&
        echo "ok   http_index_at_end: says why" || { echo "FAIL http_index_at_end: does not say why"; fail=1; }
    run http_faststart 0 "http://127.0.0.1:$port/fs.mp4"
    cam http_faststart 0 "c['status'] == 'ok' and c['frames'] == 60"
fi
exit $fail
