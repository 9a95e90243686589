#!/usr/bin/env bash
# Live cameras keep their stream's own frame spacing on the pipeline's clock (issue #16, item 4).
# At connect an RTSP server's first seconds come in a burst (the packets the probing held back, a
# server's own start-up backlog); stamping each frame with its arrival gave them all nearly the
# same pts though they are 0.1 s apart in the stream. Against GStreamer's RTSP server at 10 fps:
# consecutive delivered frames must be (index gap) x 0.1 s apart (±20 ms), and no frame may be
# stamped later than the run has lasted. Skipped without GStreamer's RTSP server.
set -u
CLI="${PANOPTES_CLI:?run through ctest (PANOPTES_CLI)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' 2>/dev/null ||
    { echo "GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not installed: skipped"; exit 77; }
T="$(mktemp -d /tmp/panoptes-live-clock-XXXXXX)"
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$REPO/tests/peers/rtsp_server.py" "$port" --fps 10 >"$T/srv.out" 2>&1 &
SRV=$!
for _ in $(seq 200); do grep -q ready "$T/srv.out" && break; sleep 0.1; done
grep -q ready "$T/srv.out" || { echo "the RTSP server did not start"; cat "$T/srv.out"; exit 1; }
start=$(date +%s.%N)
PANOPTES_LOG=warn timeout 60 "$CLI" run --no-detect --camera "rtsp://127.0.0.1:$port/cam" --max-frames 50 \
    --out "$T/live.jsonl" --summary-json "$T/sum.json" --quiet || { echo "run failed"; exit 1; }
took=$(echo "$(date +%s.%N) - $start" | bc)
/usr/bin/python3 - "$T/live.jsonl" "$T/sum.json" "$took" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
dropped = json.load(open(sys.argv[2]))["cameras"][0]["dropped"]
took = float(sys.argv[3])
pairs = [(a, b) for a, b in zip(rows, rows[1:])]
good = sum(abs((b["pts"] - a["pts"]) - 0.1 * (b["frame"] - a["frame"])) <= 0.02 for a, b in pairs)
first = [(r["frame"], round(r["pts"], 3)) for r in rows[:8]]
print(f"{len(rows)} frames ({dropped} dropped), {good} of {len(pairs)} consecutive pairs 0.1 s apart per frame; "
      f"first {first}; last pts {rows[-1]['pts']:.3f} s, run took {took:.2f} s")
ok = len(rows) >= 20 and good >= 0.9 * len(pairs) and rows[-1]["pts"] <= took
ok = ok and all(b["pts"] > a["pts"] for a, b in pairs)
sys.exit(0 if ok else 1)
EOF
