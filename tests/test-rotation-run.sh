#!/usr/bin/env bash
# A phone recording is analysed as displayed (issue #16, item 6), end to end: the sample's frames
# stored sideways (transposed) with a display matrix that turns them upright again must give the
# detections of the upright clip, in displayed pixels, with the displayed size (768x576) in the
# results and in the annotated video. Before, the run reported 576x768 and detected on the
# sideways picture.
set -u
CLI="${PANOPTES_CLI:?run through ctest (PANOPTES_CLI)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPLE="$REPO/data/vtest.mp4"
command -v ffmpeg >/dev/null || { echo "ffmpeg not installed: skipped"; exit 77; }
[ -r "$SAMPLE" ] && [ -r "$REPO/models/nanodet.json" ] || { echo "sample or model missing (run scripts/setup.sh): skipped"; exit 77; }
T="$(mktemp -d /tmp/panoptes-rotation-run-XXXXXX)"
trap 'rm -rf "$T"' EXIT
N=8
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -i "$SAMPLE" -frames:v $N -c:v libx264 -qp 12 -preset ultrafast "$T/upright.mp4" || exit 1
ff -i "$SAMPLE" -frames:v $N -vf transpose=2 -c:v libx264 -qp 12 -preset ultrafast "$T/sideways.mp4" || exit 1
# FFmpeg 5.1's rotate tag on a stream copy: 270 writes the matrix that its own autorotate (and
# players) turn 90° clockwise, which undoes transpose=2.
ff -i "$T/sideways.mp4" -c copy -metadata:s:v rotate=270 "$T/phone.mp4" || exit 1

PANOPTES_LOG=error "$CLI" run --camera "$T/upright.mp4" --no-track --out "$T/upright.jsonl" --quiet || exit 1
PANOPTES_LOG=error "$CLI" run --camera "$T/phone.mp4" --no-track --out "$T/phone.jsonl" --annotate "$T/phone-annotated.mp4" \
    --quiet || exit 1
dims=$(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0 "$T/phone-annotated.mp4")
/usr/bin/python3 - "$T/upright.jsonl" "$T/phone.jsonl" "$dims" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
def iou(p, q):
    iw = max(0, min(p[2], q[2]) - max(p[0], q[0])); ih = max(0, min(p[3], q[3]) - max(p[1], q[1]))
    i = iw * ih; u = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - i
    return i / u if u > 0 else 0
ok = len(a) == len(b) == 8
total = matched = 0
for ra, rb in zip(a, b):
    if (rb["width"], rb["height"]) != (768, 576):
        print(f"frame {rb['frame']}: reported {rb['width']}x{rb['height']}, want the displayed 768x576"); ok = False
    for d in ra["detections"]:
        total += 1
        matched += any(iou(d["box"], e["box"]) > 0.8 for e in rb["detections"])
print(f"upright clip: {total} detections; the phone file matches {matched} of them (IoU > 0.8); "
      f"annotated video {sys.argv[3]}")
if total < 20 or matched < 0.9 * total: ok = False
if sys.argv[3] != "768,576": print("annotated video is not 768x576"); ok = False
sys.exit(0 if ok else 1)
EOF
