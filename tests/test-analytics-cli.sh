#!/bin/bash
# panoptes track --analytics / --counts-out / --events on a synthetic scene, and the errors on bad
# input: a malformed analytics file (bad JSON, unknown camera, polygon of 2 points, zero-length
# line) and a malformed --mqtt URL exit 2 naming the camera and field (or the URL); then panoptes
# run with --analytics / --events / --annotate on the sample (the JSONL's analytics member, the
# events, the line drawn on the video).
set -u
CLI=${PANOPTES_CLI:-}
if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then echo "skipped: no panoptes CLI (PANOPTES_CLI)"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }

cat >"$T/a.json" <<'EOF'
{"cameras": {"0": {"lines": [{"name": "door", "points": [[640, 0], [640, 720]]}],
                   "zones": [{"name": "queue", "polygon": [[450, 150], [850, 150], [850, 600], [450, 600]]}]}}}
EOF
"$CLI" track --synth 3 --out "$T/tracks.txt" --analytics "$T/a.json" --counts-out "$T/counts.json" \
    --events "$T/events.jsonl" 2>"$T/err"; rc=$?
check "track --analytics: exit 0, counts and events written" '[ $rc -eq 0 ] && [ -s "$T/counts.json" ] && [ -s "$T/events.jsonl" ]'
check "counts file: lines in/out, zone dwell list" \
    'grep -Eq "^\{\"lines\":\{\"door\":\{\"in\":[0-9]+,\"out\":[0-9]+\}\},\"zones\":\{\"queue\":\{\"dwell_s\":\[[0-9.,]+\]\}\}\}$" "$T/counts.json"'
n_in=$(sed -E 's/.*"in":([0-9]+).*/\1/' "$T/counts.json")
n_out=$(sed -E 's/.*"out":([0-9]+).*/\1/' "$T/counts.json")
check "a line_cross event for each count ($n_in in, $n_out out)" \
    '[ "$(grep -c "\"event\":\"line_cross\".*\"direction\":\"in\"" "$T/events.jsonl")" = "$n_in" ] &&
     [ "$(grep -c "\"event\":\"line_cross\".*\"direction\":\"out\"" "$T/events.jsonl")" = "$n_out" ] && [ "$n_in" -gt 0 ]'
for e in track_start track_end line_cross zone_enter zone_exit; do
    check "events file has $e" 'grep -q "\"event\":\"$e\"" "$T/events.jsonl"'
done
check "every track_start has its track_end" \
    '[ "$(grep -c "\"event\":\"track_start\"" "$T/events.jsonl")" = "$(grep -c "\"event\":\"track_end\"" "$T/events.jsonl")" ]'
check "events: camera, pts, UTC time, track, class, box" \
    '! grep -Ev "^\{\"event\":\"[a-z_]+\",\"camera\":0,\"camera_name\":null,\"frame\":[0-9]+,\"pts\":[0-9.]+,\"time\":\"20[0-9-]+T[0-9:.]+Z\",\"track_id\":[0-9]+,\"global_id\":[0-9]+,\"class\":0,\"label\":\"person\",\"box\":\[" "$T/events.jsonl" | grep -q .'
"$CLI" track --synth 3 --out "$T/plain.txt" 2>/dev/null
check "the tracks are the same with and without analytics" 'cmp -s "$T/tracks.txt" "$T/plain.txt"'
"$CLI" track --synth 3 --out "$T/tracks.txt" --analytics "$T/a.json" --counts-out "$T/naive.json" --naive 2>/dev/null
check "--naive counts too" 'grep -q "\"door\":{\"in\":" "$T/naive.json"'

bad() { # name, file contents, expected message
    printf '%s' "$2" >"$T/bad.json"
    want=$3
    "$CLI" track --synth 1 --out "$T/x.txt" --analytics "$T/bad.json" 2>"$T/err"; rc=$?
    check "$1: exit 2, says '$want'" '[ $rc -eq 2 ] && grep -qF "$want" "$T/err"'
}
bad "bad JSON" '{"cameras": {"0": {"lines": [}}' 'bad.json: line 1, column 30: not valid JSON'
bad "unknown camera" '{"cameras": {"1": {}}}' 'camera "1", unknown camera: this run has 1 camera'
bad "camera key not an id" '{"cameras": {"lobby": {}}}' 'camera "lobby", unknown camera'
bad "polygon of 2 points" '{"cameras": {"0": {"zones": [{"name": "q", "polygon": [[1, 1], [5, 5]]}]}}}' \
    'camera "0", zone "q": polygon has 2 points, a zone needs at least 3'
bad "zero-length line" '{"cameras": {"*": {"lines": [{"name": "d", "points": [[7, 7], [7, 7]]}]}}}' \
    'camera "*", line "d": points: zero-length line'
"$CLI" track --synth 1 --out "$T/x.txt" --analytics "$T/missing.json" 2>"$T/err"; rc=$?
check "missing analytics file: exit 2, names it" '[ $rc -eq 2 ] && grep -q "missing.json: cannot open" "$T/err"'
for url in "http://127.0.0.1:1883/x" "mqtt://" "mqtt://host:99999/x" "mqtt://host/a/#"; do
    "$CLI" track --synth 1 --out "$T/x.txt" --mqtt "$url" 2>"$T/err"; rc=$?
    check "malformed --mqtt $url: exit 2, names it" '[ $rc -eq 2 ] && grep -qF "MQTT URL '"'"'$url'"'"'" "$T/err"'
done
"$CLI" track --synth 1 --out "$T/x.txt" --counts-out "$T/c.json" 2>"$T/err"; rc=$?
check "--counts-out without --analytics: exit 2" '[ $rc -eq 2 ]'
# panoptes run: analytics as a pipeline consumer. On the sample (cpu backend: deterministic), the
# first person walks left to right across a line at x = 360 and is counted `out` at frame 21; the
# JSONL line of each frame carries the counts including that frame; the annotated video shows the line.
SAMPLE=data/vtest.mp4
if [ -f "$SAMPLE" ] && [ -f models/nanodet.json ]; then
    cat >"$T/road.json" <<'EOF2'
{"cameras": {"0": {"lines": [{"name": "road", "points": [[360, 170], [360, 370]]}],
                   "zones": [{"name": "crossing", "polygon": [[480, 200], [700, 200], [740, 420], [480, 330]]}]}}}
EOF2
    "$CLI" run --camera "$SAMPLE" --name sample --backend cpu --max-frames 25 --analytics "$T/road.json" \
        --events "$T/run-events.jsonl" --out "$T/run.jsonl" --annotate "$T/run.mp4" --quiet 2>"$T/err"; rc=$?
    check "run --analytics --events: exit 0" '[ $rc -eq 0 ] && [ -s "$T/run.jsonl" ] && [ -s "$T/run-events.jsonl" ]'
    check "run: every JSONL line carries the analytics" \
        '[ "$(grep -c "\"analytics\":{\"lines\":{\"road\":{\"in\":[0-9]*,\"out\":[0-9]*}},\"zones\":{\"crossing\":{" "$T/run.jsonl")" = 25 ]'
    check "run: the crossing at frame 21 is in that frame's line and later ones" \
        'grep "\"frame\":20," "$T/run.jsonl" | grep -q "\"out\":0}" && grep "\"frame\":21," "$T/run.jsonl" | grep -q "\"out\":1}" &&
         tail -1 "$T/run.jsonl" | grep -q "\"road\":{\"in\":0,\"out\":1}"'
    check "run: line_cross event with the camera's name" \
        'grep -q "\"event\":\"line_cross\",\"camera\":0,\"camera_name\":\"sample\",\"frame\":21,.*\"direction\":\"out\"" "$T/run-events.jsonl"'
    check "run: tracks that ended with the run have their track_end" \
        '[ "$(grep -c "\"event\":\"track_start\"" "$T/run-events.jsonl")" = "$(grep -c "\"event\":\"track_end\"" "$T/run-events.jsonl")" ]'
    # the line is drawn (palette magenta) at (360, 300) of the annotated video's frame 20
    px=$(ffmpeg -loglevel error -i "$T/run.mp4" -vf "select=eq(n\,20),format=rgb24,crop=2:2:359:300" -frames:v 1 \
        -f rawvideo -pix_fmt rgb24 - | od -An -tu1 -N3)
    read -r pr pg pb <<<"$px"
    check "run: the annotated video draws the line (pixel $pr,$pg,$pb)" '[ "${pr:-0}" -gt 150 ] && [ "${pb:-0}" -gt 150 ] && [ "${pg:-255}" -lt 110 ]'
    printf '{"cameras": {"1": {}}}' >"$T/cam1.json"
    "$CLI" run --camera "$SAMPLE" --analytics "$T/cam1.json" --quiet 2>"$T/err"; rc=$?
    check "run: an analytics file naming a camera the run lacks: exit 2" '[ $rc -eq 2 ] && grep -q "camera \"1\", unknown camera: this run has 1 camera" "$T/err"'
    "$CLI" run --camera "$SAMPLE" --mqtt "mqtt:/x" --quiet 2>"$T/err"; rc=$?
    check "run: a malformed --mqtt URL: exit 2" '[ $rc -eq 2 ] && grep -qF "MQTT URL '"'"'mqtt:/x'"'"'" "$T/err"'
else
    echo "skipped the run checks: run scripts/setup.sh (sample or model missing)"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
