#!/usr/bin/env bash
# Fuzz campaign for containers and bitstreams (issue #16): tests/fuzz/mutate_media.py writes
# damaged copies of small clips cut from the sample (MP4 with its index at the end and at the
# front, MKV, MPEG-TS, H.264 and HEVC Annex-B; bit flips, overwritten runs, cuts, holes,
# damaged/removed/swapped MP4 boxes and Matroska elements, shuffled/dropped/duplicated TS packets
# and NAL units), and `panoptes run --no-detect --camera F` runs on each. Every run must end
# within BOUND seconds with a clean status: exit 0 (ran to its end), 1 (the camera failed, named)
# or 4 (the camera's input was damaged or truncated, reported), a summary that parses, and no
# AddressSanitizer/UBSan/LeakSanitizer report (the test build is ASan+UBSan). A crash, a hang or
# a sanitizer report fails, naming the file and how to remake it. Four runs at a time: a run spends
# most of its second starting up and waiting, a quarter of it on a CPU.
#
# FUZZ_COUNT files (default 160: about 70 s of CPU with ASan, 1-2 minutes on 2 idle cores, 3-5 on a
# loaded one), FUZZ_SEED (16),
# FUZZ_KEEP=DIR keeps the files and logs there.
set -u
CLI="${PANOPTES_CLI:?run through ctest (PANOPTES_CLI)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${FUZZ_COUNT:-160}"
SEED="${FUZZ_SEED:-16}"
BOUND=30
PY=/usr/bin/python3
SAMPLE="$REPO/data/vtest.mp4"
command -v ffmpeg >/dev/null || { echo "ffmpeg not installed: skipped"; exit 77; }
[ -x "$PY" ] || { echo "$PY missing: skipped"; exit 77; }
[ -r "$SAMPLE" ] || { echo "data/vtest.mp4 missing (run scripts/setup.sh): skipped"; exit 77; }

WORK="${FUZZ_KEEP:-$(mktemp -d /tmp/panoptes-fuzz-media-XXXXXX)}"
mkdir -p "$WORK/seeds" "$WORK/cases" "$WORK/logs"
[ -n "${FUZZ_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

# Seeds: 24 frames at 320x240 with B-frames and a short GOP (references to lose), 8 frames for HEVC.
enc="-frames:v 24 -vf scale=320:240 -c:v libx264 -preset ultrafast -bf 2 -g 8"
ff() { ffmpeg -nostdin -v error -y -i "$SAMPLE" "$@"; }
ff $enc "$WORK/seeds/seed.mp4" || exit 1
ff $enc -movflags +faststart "$WORK/seeds/seed-fs.mp4" || exit 1
ff $enc "$WORK/seeds/seed.mkv" || exit 1
ff $enc "$WORK/seeds/seed.ts" || exit 1
ff $enc -bsf:v h264_mp4toannexb -f h264 "$WORK/seeds/seed.h264" || exit 1
seeds=("$WORK"/seeds/seed.mp4 "$WORK"/seeds/seed-fs.mp4 "$WORK"/seeds/seed.mkv "$WORK"/seeds/seed.ts "$WORK"/seeds/seed.h264)
if ff -frames:v 8 -vf scale=320:240 -c:v libx265 -preset ultrafast -x265-params log-level=error -f hevc \
      "$WORK/seeds/seed.h265" 2>/dev/null; then
    seeds+=("$WORK/seeds/seed.h265")
fi

"$PY" "$REPO/tests/fuzz/mutate_media.py" "$WORK/cases" "$COUNT" "${seeds[@]}" --seed "$SEED" || exit 1

# One run; prints "<file> <rc> <verdict>". Sanitizers exit 99/98 so a report is never mistaken for
# "camera failed" (1), and their lines are searched for as well.
export ASAN_OPTIONS="detect_leaks=1:exitcode=99:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98:${UBSAN_OPTIONS:-}"
export PANOPTES_LOG=warn CLI BOUND WORK
one() {
    f="$1"
    b="$(basename "$f")"
    log="$WORK/logs/$b.log"
    sum="$WORK/logs/$b.json"
    start=$(date +%s.%N)
    timeout -s KILL "$BOUND" "$CLI" run --no-detect --camera "$f" --summary-json "$sum" >"$log" 2>&1
    rc=$?
    t=$(echo "$(date +%s.%N) - $start" | bc)
    verdict=ok
    if [ $rc = 137 ] || [ $rc = 124 ]; then verdict="hang (killed after ${BOUND} s)"
    elif grep -qE "Sanitizer|runtime error:" "$log"; then verdict="sanitizer report (rc $rc)"
    elif [ $rc != 0 ] && [ $rc != 1 ] && [ $rc != 4 ]; then verdict="exit status $rc"
    elif [ -e "$sum" ] && ! /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$sum" 2>/dev/null; then
        verdict="summary is not valid JSON"
    fi
    echo "$b $rc $t $verdict"
}
export -f one

start=$(date +%s)
find "$WORK/cases" -type f | sort | xargs -P 4 -I{} bash -c 'one "$@"' _ {} >"$WORK/results.txt"
elapsed=$(( $(date +%s) - start ))

total=$(wc -l <"$WORK/results.txt")
bad=$(awk '$4 != "ok"' "$WORK/results.txt")
read -r n0 n1 n4 <<<"$(awk '{c[$2]++} END {printf "%d %d %d", c[0], c[1], c[4]}' "$WORK/results.txt")"
slowest=$(sort -k3 -g -r "$WORK/results.txt" | head -1 | awk '{printf "%s %.1f s", $1, $3}')
echo "fuzz: $total files from ${#seeds[@]} seeds (seed $SEED) in ${elapsed} s: exit 0 x$n0, 1 x$n1, 4 x$n4; slowest $slowest"
if [ -n "$bad" ]; then
    echo "FAILED runs (remake: tests/fuzz/mutate_media.py OUT $COUNT <seeds> --seed $SEED; FUZZ_KEEP=DIR keeps them):"
    echo "$bad"
    echo "$bad" | head -3 | while read -r b _; do echo "--- $b"; tail -30 "$WORK/logs/$b.log"; done
    exit 1
fi
exit 0
