#!/bin/bash
# panoptes track + panoptes eval end to end on a synthetic scene (MOTChallenge files), and their
# errors on bad input: missing file, malformed line (with its number), bad option values.
set -u
CLI=${PANOPTES_CLI:-}
if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then echo "skipped: no panoptes CLI (PANOPTES_CLI)"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }

"$CLI" track --synth 1 --out "$T/tracks.txt" --gt-out "$T/gt.txt" --det-out "$T/det.txt" 2>"$T/err"
check "track --synth writes tracks, gt and detections" '[ -s "$T/tracks.txt" ] && [ -s "$T/gt.txt" ] && [ -s "$T/det.txt" ]'
"$CLI" track --det "$T/det.txt" --out "$T/tracks2.txt" 2>/dev/null
check "track --det on the written detections" '[ -s "$T/tracks2.txt" ]'
"$CLI" eval --gt "$T/gt.txt" --res "$T/tracks.txt" --json >"$T/m.json"
check "eval --json prints IDF1, MOTA, HOTA" 'grep -q "\"IDF1\":0\.8" "$T/m.json" && grep -q "\"MOTA\":" "$T/m.json" && grep -q "\"HOTA\":" "$T/m.json"'
"$CLI" eval --gt "$T/gt.txt" --res "$T/gt.txt" >"$T/self.txt"
check "ground truth against itself: MOTA and IDF1 100%" 'grep -q "MOTA 100.00%" "$T/self.txt" && grep -q "IDF1 100.00%" "$T/self.txt"'
"$CLI" eval --gt "$T/missing.txt" --res "$T/tracks.txt" 2>"$T/err"; rc=$?
check "missing file: exit 1, names the file" '[ $rc -eq 1 ] && grep -q "missing.txt" "$T/err"'
printf '1,1,10,10,20,40,1\n2,1,10,10,20\n' >"$T/bad.txt"
"$CLI" track --det "$T/bad.txt" --out "$T/x.txt" 2>"$T/err"; rc=$?
check "malformed line: exit 1, file:line" '[ $rc -eq 1 ] && grep -q "bad.txt:2:" "$T/err"'
"$CLI" track --det "$T/det.txt" --out "$T/x.txt" --high 2 2>"$T/err"; rc=$?
check "bad option value: exit 2" '[ $rc -eq 2 ] && grep -q -- "--high" "$T/err"'
"$CLI" track --help >"$T/help.txt"; rc=$?
check "track --help" '[ $rc -eq 0 ] && grep -q "usage: panoptes track" "$T/help.txt"'
"$CLI" eval --help >"$T/help.txt"; rc=$?
check "eval --help" '[ $rc -eq 0 ] && grep -q "usage: panoptes eval" "$T/help.txt"'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
