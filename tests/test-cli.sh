#!/usr/bin/env bash
# End to end through the CLI: the JSON Lines schema, exit statuses, a bad camera among good ones,
# MOT files, an interrupted run that keeps every finished frame, option checking, camera names, the
# summary's steady-state figures.
set -u
CLI="${PANOPTES_CLI:?set by ctest}"
SAMPLE=data/vtest.mp4
[ -f "$SAMPLE" ] && [ -f models/nanodet.json ] || { echo "skipped: run scripts/setup.sh (sample or model missing)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0; passed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

# 1. sample run, two cameras, one of them missing: exit 1, the good camera complete
"$CLI" run --camera "$SAMPLE" --camera "$TMP/missing.mp4" --max-frames 6 --out "$TMP/a.jsonl" --mot "$TMP/mot" \
    --summary-json "$TMP/sum.json" --quiet 2>"$TMP/err.txt"
rc=$?
check "exit status 1 when a camera fails" '[ $rc -eq 1 ]'
check "the failing camera is named" 'grep -q "camera 1: .*missing.mp4" "$TMP/err.txt"'
check "6 frames of camera 0 written" '[ "$(grep -c "\"camera\":0," "$TMP/a.jsonl")" -eq 6 ]'
python3 - "$TMP/a.jsonl" <<'PY' && ok=1 || ok=0
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = ["camera", "frame", "pts", "width", "height", "detections", "tracks"]
assert all(list(r.keys()) == keys for r in rows), "schema keys"
assert [r["frame"] for r in rows] == list(range(6)), "frame indices"
assert all(r["width"] == 768 and r["height"] == 576 for r in rows)
people = [d for r in rows for d in r["detections"] if d["label"] == "person"]
assert len(people) >= 12, "people detected"
for d in people:
    x1, y1, x2, y2 = d["box"]
    assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576 and 0.35 <= d["score"] <= 1
tracks = [t for r in rows for t in r["tracks"]]
assert tracks and all(set(t) == {"id", "global_id", "class", "label", "score", "box", "state"} for t in tracks)
assert all(t["global_id"] > 0 for t in tracks if t["state"] == "confirmed")
PY
check "JSON Lines schema, boxes in the frame, people and tracks" '[ $ok -eq 1 ]'
check "MOT file for camera 0" '[ -s "$TMP/mot/cam0.txt" ]'
check "summary JSON" 'python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s[\"failed_cameras\"]==1 and s[\"cameras\"][0][\"frames\"]==6" "$TMP/sum.json"'

# 2. usage errors: exit 2
"$CLI" run --backend quantum >/dev/null 2>&1; rc=$?
check "bad --backend is a usage error" '[ $rc -eq 2 ]'
"$CLI" frobnicate >/dev/null 2>&1; rc=$?
check "unknown command is a usage error" '[ $rc -eq 2 ]'
"$CLI" run --reid-interval 0 >/dev/null 2>&1; rc=$?
check "--reid-interval 0 is a usage error" '[ $rc -eq 2 ]'
"$CLI" run --camera "$SAMPLE" --max-frames 9 --reid default --reid-interval 3 --out "$TMP/ri.jsonl" --quiet 2>/dev/null; rc=$?
check "--reid-interval 3 runs and tracks" '[ $rc -eq 0 ] && [ "$(wc -l <"$TMP/ri.jsonl")" -eq 9 ] && grep -q "\"state\":\"confirmed\"" "$TMP/ri.jsonl"'
"$CLI" run --cameras "$TMP/none.txt" >/dev/null 2>"$TMP/e.txt"; rc=$?
check "--cameras with a missing file: usage error naming it" '[ $rc -eq 2 ] && grep -q "none.txt" "$TMP/e.txt"'
printf '# two views\n\n  %s  \n%s\n' "$SAMPLE" "$SAMPLE" >"$TMP/cams.txt"
"$CLI" run --cameras "$TMP/cams.txt" --camera "$SAMPLE" --no-detect --max-frames 3 --out "$TMP/cams.jsonl" --quiet 2>/dev/null; rc=$?
check "--cameras FILE plus --camera: three cameras" '[ $rc -eq 0 ] && [ "$(grep -c "\"camera\":2," "$TMP/cams.jsonl")" -eq 3 ]'
# filters and switches: --classes, --score, --no-track, --threads
"$CLI" run --camera "$SAMPLE" --classes person --score 0.5 --threads 2 --max-frames 4 --out "$TMP/f.jsonl" --quiet 2>/dev/null; rc=$?
check "--classes person --score 0.5: only people at 0.5 or more" '[ $rc -eq 0 ] && python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
dets = [d for r in rows for d in r[\"detections\"]]
assert len(rows) == 4 and dets and all(d[\"label\"] == \"person\" and d[\"score\"] >= 0.5 for d in dets), dets
" "$TMP/f.jsonl"'
"$CLI" run --camera "$SAMPLE" --no-track --max-frames 3 --out "$TMP/nt.jsonl" --quiet 2>/dev/null; rc=$?
check "--no-track: detections, no tracks" '[ $rc -eq 0 ] && python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and all(r[\"tracks\"] == [] for r in rows) and any(r[\"detections\"] for r in rows)
" "$TMP/nt.jsonl"'
"$CLI" run --classes unicorn >/dev/null 2>&1; rc=$?
check "--classes with an unknown class is a usage error" '[ $rc -eq 2 ]'
# annotated video of the second camera (a 320x240 synthetic clip beside the sample)
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
    ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 8 -c:v libx264 -pix_fmt yuv420p \
        "$TMP/small.mp4"
    "$CLI" run --camera "$SAMPLE" --camera "$TMP/small.mp4" --annotate-camera 2 --annotate "$TMP/a.mp4" --max-frames 2 \
        --out /dev/null >/dev/null 2>&1; rc=$?
    check "--annotate-camera beyond the cameras is a usage error" '[ $rc -eq 2 ]'
    "$CLI" run --camera "$SAMPLE" --camera "$TMP/small.mp4" --annotate-camera 1 --annotate "$TMP/a.mp4" --max-frames 5 \
        --out /dev/null --quiet 2>/dev/null; rc=$?
    check "--annotate-camera 1: a 320x240 video of 5 frames" '[ $rc -eq 0 ] && [ "$(ffprobe -v error -select_streams v \
        -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$TMP/a.mp4")" = "320,240,5" ]'
fi
"$CLI" run --help | grep -q -- "--camera URI"; rc=$?
check "run --help" '[ $rc -eq 0 ]'
"$CLI" info --json "$SAMPLE" > "$TMP/info.json"
check "info --json" 'python3 -c "import json,sys; i=json.load(open(sys.argv[1])); assert i[\"codec\"]==\"h264\" and i[\"width\"]==768" "$TMP/info.json"'

# 3. --backend cuda without a GPU: a clear error, exit 3
if ! command -v nvidia-smi >/dev/null 2>&1; then
    "$CLI" run --backend cuda --max-frames 1 --quiet 2>"$TMP/cuda.txt"; rc=$?
    check "cuda without GPU: exit 3 and a message" '[ $rc -eq 3 ] && grep -q "no usable NVIDIA GPU" "$TMP/cuda.txt"'
fi

# 4. SIGINT / SIGTERM mid-run: finished frames kept, every line complete JSON, exit 128 + signal, the
#    cameras marked stopped (an interrupted run is not a complete one)
"$CLI" run --camera "$SAMPLE" --loop --no-detect --out "$TMP/int.jsonl" --summary-json "$TMP/int.json" --quiet 2>/dev/null &
pid=$!
# interrupt once it is well under way (a loaded machine may take a while to start)
for _ in $(seq 300); do [ "$(wc -l <"$TMP/int.jsonl" 2>/dev/null || echo 0)" -gt 20 ] && break; sleep 0.1; done
kill -INT $pid
wait $pid; rc=$?
check "interrupted run exits 130" '[ $rc -eq 130 ]'
check "interrupted run kept complete lines" 'python3 -c "import json,sys; n=sum(1 for l in open(sys.argv[1]) if json.loads(l)); assert n>10, n" "$TMP/int.jsonl"'
check "interrupted run: summary says interrupted, camera stopped" 'python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
assert s[\"interrupted\"] and s[\"stopped_cameras\"] == 1 and s[\"cameras\"][0][\"state\"] == \"stopped\", s
" "$TMP/int.json"'
"$CLI" run --camera "$SAMPLE" --loop --no-detect --out "$TMP/term.jsonl" --quiet 2>/dev/null &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid; rc=$?
check "SIGTERM exits 143" '[ $rc -eq 143 ]'

# 4b. numeric options are checked: every bad value exits 2 naming the option, the value and the range
for bad in "--max-frames -3" "--max-frames abc" "--score 2" "--score -1" "--score abc" "--batch 0" "--batch -1" \
           "--batch abc" "--batch 100000" "--timeout abc" "--timeout 0" "--timeout -5" "--reconnect abc" \
           "--reconnect -7" "--threads 0" "--max-backoff 0" "--annotate-camera x" "--max-frames 12x"; do
    opt=${bad% *}; val=${bad#* }
    "$CLI" run --camera "$SAMPLE" "$opt" "$val" --no-detect --quiet >/dev/null 2>"$TMP/bad.txt"; rc=$?
    check "$bad: exit 2 naming option, value and range" '[ $rc -eq 2 ] && grep -q -- "$opt" "$TMP/bad.txt" && grep -q -- "$val" "$TMP/bad.txt" && grep -q "from" "$TMP/bad.txt"'
done
"$CLI" run --camera "$SAMPLE" --batch >/dev/null 2>"$TMP/bad.txt"; rc=$?
check "an option without its value: exit 2" '[ $rc -eq 2 ] && grep -q "needs a value" "$TMP/bad.txt"'

# 4b2. --model-type: a name outside the list is a usage error listing them; one the model's outputs
#      contradict fails the run naming what was seen
"$CLI" run --model-type foo >/dev/null 2>"$TMP/mt.txt"; rc=$?
check "--model-type foo: exit 2 listing the families" '[ $rc -eq 2 ] && grep -q "yolov10" "$TMP/mt.txt"'
"$CLI" run --camera "$SAMPLE" --model-type yolov5 --max-frames 2 --out /dev/null --quiet >/dev/null 2>"$TMP/mt.txt"; rc=$?
check "--model-type yolov5 on NanoDet: exit 3, the disagreement named" '[ $rc -eq 3 ] && grep -q "disagree with --model-type yolov5" "$TMP/mt.txt"'

# 4c. camera names, inline comments in --cameras files, an unwritable --summary-json found at the start
printf '%s   # the door\n' "$SAMPLE" >"$TMP/cams2.txt"
"$CLI" run --cameras "$TMP/cams2.txt" --camera "$SAMPLE" --name 'hall "B"' --no-detect --max-frames 2 \
    --out "$TMP/names.jsonl" --quiet 2>/dev/null; rc=$?
check "--name and a --cameras file with an inline comment" '[ $rc -eq 0 ] && python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert sorted((r[\"camera\"], r.get(\"name\")) for r in rows) == [(0, None)] * 2 + [(1, \"hall \\\"B\\\"\")] * 2, rows
assert list(rows[0].keys())[:2] == [\"camera\", \"name\"] or rows[0][\"camera\"] == 0
" "$TMP/names.jsonl"'
"$CLI" run --name x >/dev/null 2>&1; rc=$?
check "--name without a --camera before it: exit 2" '[ $rc -eq 2 ]'
start=$(date +%s%N)
"$CLI" run --camera "$SAMPLE" --loop --no-detect --summary-json /nonexistent/dir/s.json --quiet >/dev/null 2>"$TMP/sj.txt"; rc=$?
check "unwritable --summary-json: exit 3 at once, named" '[ $rc -eq 3 ] && grep -q "/nonexistent/dir/s.json" "$TMP/sj.txt"'
"$CLI" run --camera "$SAMPLE" --no-detect --max-frames 2 --out /nonexistent/dir/o.jsonl --quiet >/dev/null 2>"$TMP/o.txt"; rc=$?
check "unwritable --out: exit 3, named, no (null) summary row" '[ $rc -eq 3 ] && grep -q "/nonexistent/dir/o.jsonl" "$TMP/o.txt" && ! grep -q "(null)" "$TMP/o.txt"'
"$CLI" run --camera "$SAMPLE" --no-detect --max-frames 2 2>"$TMP/noout.txt" >/dev/null; rc=$?
check "no output given: said so" '[ $rc -eq 0 ] && grep -q "results are not written" "$TMP/noout.txt"'

# 5. the summary's steady-state figures (from the first batch once every camera delivers, 2 s into
#    the run at the earliest, to the last one) and
#    its host CPU by thread (camera I/O pool + batcher + other = the total), the pool's size
"$CLI" run --camera "$SAMPLE" --no-detect --loop --max-frames 1500 --io-threads 3 --out /dev/null \
    --summary-json "$TMP/steady.json" --quiet 2>/dev/null
check "steady-state figures and host CPU by thread in the summary" 'python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
assert s[\"frames\"] == 1500 and s[\"steady_cpu_ms_per_frame\"] >= 0, s
assert s[\"wall_s\"] < 2.5 or (s[\"steady_fps\"] > 0 and s[\"steady_cpu_ms_per_frame\"] > 0), s
parts = s[\"cpu_ms_per_frame_cameras\"] + s[\"cpu_ms_per_frame_batcher\"] + s[\"cpu_ms_per_frame_other\"]
assert abs(parts - s[\"cpu_ms_per_frame\"]) < 1e-3 and s[\"cpu_ms_per_frame_cameras\"] > 0, s
assert s[\"cameras\"][0][\"thread_cpu_s\"] > 0 and s[\"io_threads\"] == 3, s
" "$TMP/steady.json"'
# 6. --duration: a looped camera that would run forever stops after it; exit 0, the camera stopped
"$CLI" run --camera "$SAMPLE" --no-detect --loop --realtime --duration 1.5 --out "$TMP/dur.jsonl" \
    --summary-json "$TMP/dur.json" --quiet 2>/dev/null; rc=$?
check "--duration: the run stops, exit 0, the looped camera is stopped, its frames written" '[ $rc -eq 0 ] && python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
assert s[\"cameras\"][0][\"state\"] == \"stopped\" and s[\"stopped_cameras\"] == 1 and not s[\"interrupted\"], s
assert s[\"frames\"] > 0 and sum(1 for _ in open(sys.argv[2])) == s[\"frames\"], s
" "$TMP/dur.json" "$TMP/dur.jsonl"'
# 7. --stats-jsonl: a line every --stats-every seconds while the run goes on
"$CLI" run --camera "$SAMPLE" --no-detect --loop --realtime --duration 2.2 --stats-every 0.5 \
    --stats-jsonl "$TMP/stats.jsonl" --quiet 2>/dev/null; rc=$?
check "--stats-jsonl: lines every 0.5 s with frames, rates and memory" '[ $rc -eq 0 ] && python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert 3 <= len(rows) <= 5, rows
assert all(b[\"t\"] > a[\"t\"] and b[\"frames\"] >= a[\"frames\"] for a, b in zip(rows, rows[1:])), rows
assert rows[-1][\"frames\"] > 0 and all(r[\"rss_mib\"] > 0 and r[\"device_mib_now\"] == 0 for r in rows), rows
assert rows[-1][\"fps\"] > 0 and rows[-1][\"cameras\"] == 1, rows
" "$TMP/stats.jsonl"'
"$CLI" run --camera "$SAMPLE" --stats-every 0 >/dev/null 2>"$TMP/se0.txt"; rc=$?
check "--stats-every 0: a usage error naming the option" '[ $rc -eq 2 ] && grep -q -- "--stats-every" "$TMP/se0.txt"'
"$CLI" run --camera "$SAMPLE" --no-detect --stats-jsonl /nonexistent/dir/s.jsonl >/dev/null 2>"$TMP/sj.txt"; rc=$?
check "--stats-jsonl into a missing directory: exit 3 naming the file" '[ $rc -eq 3 ] && grep -q "/nonexistent/dir/s.jsonl" "$TMP/sj.txt"'
"$CLI" run --camera "$SAMPLE" --duration 0 >/dev/null 2>"$TMP/dur0.txt"; rc=$?
check "--duration 0: a usage error naming the option" '[ $rc -eq 2 ] && grep -q -- "--duration" "$TMP/dur0.txt"'
"$CLI" run --camera "$SAMPLE" --io-threads 0 >/dev/null 2>"$TMP/io0.txt"; rc=$?
check "--io-threads 0: a usage error naming the option" '[ $rc -eq 2 ] && grep -q -- "--io-threads" "$TMP/io0.txt"'
"$CLI" run --camera "$SAMPLE" --camera-queue 65 >/dev/null 2>"$TMP/cq.txt"; rc=$?
check "--camera-queue 65: a usage error naming the option" '[ $rc -eq 2 ] && grep -q -- "--camera-queue" "$TMP/cq.txt"'
"$CLI" run --camera "$SAMPLE" --no-detect --camera-queue 1 --max-frames 40 --out "$TMP/cq.jsonl" --quiet 2>/dev/null; rc=$?
check "--camera-queue 1: every frame, in order" '[ $rc -eq 0 ] && python3 -c "
import json, sys
idx = [json.loads(l)[\"frame\"] for l in open(sys.argv[1])]
assert idx == list(range(40)), idx
" "$TMP/cq.jsonl"'

echo "$passed passed, $fail failed"
[ $fail -eq 0 ]
