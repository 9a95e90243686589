#!/usr/bin/env bash
# The whole GPU pipeline against the cpu reference, end to end through the CLI: the same sample
# cameras (H.264 and HEVC) run with --backend cuda (NVDEC, fused preprocess, FP16 engine, GPU
# decode + NMS) and --backend cpu (libavcodec, FP32); per frame, every detection scoring at least
# 0.05 above the threshold in one run must have a partner of the same class in the other with
# IoU >= 0.9 and a score within 0.05 (FP16 activations vs FP32). Also: zero pixel bytes copied,
# NVDEC used, tracks written. Skips (77) without an NVIDIA GPU.
set -u
CLI="${PANOPTES_CLI:?set by ctest or scripts/gpu-run.sh}"
DATA="${PANOPTES_DATA_DIR:-data}"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 || { echo "skipped: no NVIDIA GPU"; exit 77; }
[ -f "$DATA/vtest.mp4" ] && [ -f "$DATA/vtest-hevc.mp4" ] || { echo "skipped: sample clips missing"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
N=${GPU_PIPELINE_FRAMES:-60}
fail=0; passed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

"$CLI" run --backend cuda --camera "$DATA/vtest.mp4" --camera "$DATA/vtest-hevc.mp4" --max-frames "$N" \
    --out "$TMP/cuda.jsonl" --summary-json "$TMP/cuda.json" --quiet 2>"$TMP/cuda.err"
rc=$?
check "cuda run exits 0" '[ $rc -eq 0 ] || { cat "$TMP/cuda.err"; false; }'
"$CLI" run --backend cpu --camera "$DATA/vtest.mp4" --camera "$DATA/vtest-hevc.mp4" --max-frames "$N" \
    --out "$TMP/cpu.jsonl" --summary-json "$TMP/cpu.json" --quiet 2>"$TMP/cpu.err"
rc=$?
check "cpu run exits 0" '[ $rc -eq 0 ] || { cat "$TMP/cpu.err"; false; }'
python3 - "$TMP" "$N" <<'PY' && ok=1 || ok=0
import json, sys
tmp, n = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{tmp}/cuda.json"))
assert s["backend"] == "cuda", s
assert s["pixel_bytes_copied"] == 0, s
assert all(c["decoder"] == "nvdec" and c["frames"] == n for c in s["cameras"]), s
def load(p):
    d = {}
    for l in open(p):
        r = json.loads(l)
        d[(r["camera"], r["frame"])] = r
    return d
a, b = load(f"{tmp}/cuda.jsonl"), load(f"{tmp}/cpu.jsonl")
assert set(a) == set(b) and len(a) == 2 * n, (len(a), len(b))
def iou(p, q):
    iw = min(p[2], q[2]) - max(p[0], q[0]); ih = min(p[3], q[3]) - max(p[1], q[1])
    if iw <= 0 or ih <= 0: return 0.0
    i = iw * ih
    return i / ((p[2]-p[0])*(p[3]-p[1]) + (q[2]-q[0])*(q[3]-q[1]) - i)
checked = bad = 0
worst = 1.0
for k in a:
    for x, y in ((a[k], b[k]), (b[k], a[k])):
        for d in x["detections"]:
            if d["score"] < 0.40: continue
            checked += 1
            best = max([iou(d["box"], e["box"]) for e in y["detections"]
                        if e["class"] == d["class"] and abs(e["score"] - d["score"]) <= 0.05] or [0])
            worst = min(worst, best)
            if best < 0.9: bad += 1
print(f"compared {checked} detections, {bad} without a partner (IoU>=0.9, score within 0.05), worst IoU {worst:.3f}")
assert checked > 100 and bad <= checked // 100, (checked, bad)
tracks = sum(len(r["tracks"]) for r in a.values())
assert tracks > 0
PY
check "cuda detections match the cpu reference; no pixel copies; NVDEC" '[ $ok -eq 1 ]'
# where the device memory is: the engine's shared blocks once each, NVDEC surfaces per camera
check "the summary tells the device memory by owner and the NVDEC surfaces" 'python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
u = s[\"device_uses\"]
print(\"device now %.1f MiB: surfaces %.1f, pool %.1f %s\" % (s[\"device_mib_now\"], s[\"device_mib_surfaces\"], s[\"device_mib_pool\"], u))
assert u.get(\"engine.arena\", 0) > 0 and u.get(\"engine.weights\", 0) > 0, u
assert abs(sum(u.values()) - s[\"device_mib_pool\"]) < 0.5, s
assert all(c[\"surfaces_mib\"] > 0 for c in s[\"cameras\"]) and s[\"device_mib_surfaces\"] > 0, s
assert 0 < s[\"device_mib_startup\"] <= s[\"device_mib_used\"] + 0.5, s
" "$TMP/cuda.json"'
echo "$passed passed, $fail failed"
[ $fail -eq 0 ]
