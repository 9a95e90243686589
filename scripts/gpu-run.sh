#!/usr/bin/env bash
# Runs on the GPU machine (one device call), from the repository root, with .gpu/ carried
# (made by scripts/gpu-build.sh here):
#
#   run(command="bash scripts/gpu-run.sh", carry=[".gpu"])
#   run(command="bash scripts/gpu-run.sh tests", carry=[".gpu"])      # only the GPU tests
#   run(command="bash scripts/gpu-run.sh bench", carry=[".gpu"])      # only the benchmarks
#
# Writes into $OUT (at most 8 files come back): device.txt, tests.log, bench_decode_gpu.json,
# ffmpeg_decode.json, summary.txt. The last lines printed are the summary table.
#
# Environment: GPU_RUN_ALL_TESTS=1 also runs every other staged test program; BENCH_SECONDS
# (default 5) is each benchmark window; BENCH_STREAMS (default 1,7,14,28,56).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
G="$REPO/.gpu"
OUT="${OUT:-$REPO/out/gpu}"
mkdir -p "$OUT"
WHAT="${1:-all}"
SECONDS_PER=${BENCH_SECONDS:-5}
STREAMS=${BENCH_STREAMS:-1,7,14,28,56}
[ -f "$G/bin.tar.xz" ] || { echo "gpu-run: .gpu/bin.tar.xz missing: run scripts/gpu-build.sh here and carry .gpu"; exit 1; }
rm -rf "$G/bin" && mkdir -p "$G/bin" && xz -dc "$G/bin.tar.xz" | tar -C "$G/bin" --strip-components=1 -xf - || exit 1

# Libraries: ours, the CUDA toolkit's, and cuDNN wherever a Python wheel put it (only the CLI's
# engine may need it).
for x in "$G"/lib/*.xz; do [ -f "$x" ] && xz -d -k -f "$x"; done
LIBS="$G/lib:/usr/local/cuda/lib64"
CUDNN_DIR="$(find /opt /usr/local /usr/lib -name 'libcudnn.so.9' -printf '%h\n' 2>/dev/null | head -1)"
[ -n "$CUDNN_DIR" ] && LIBS="$LIBS:$CUDNN_DIR"
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PANOPTES_DATA_DIR="$G/data"
export PANOPTES_LOG="${PANOPTES_LOG:-warn}"
FFMPEG="$G/bin/ffmpeg"
chmod +x "$G"/bin/* 2>/dev/null

{
    date -u +"date: %Y-%m-%dT%H:%M:%SZ"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1
    nvidia-smi -q 2>/dev/null | grep -iE "decoder|Product Name|CUDA Version" | head -8
    echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    uname -r
    echo "libnvcuvid: $(ldconfig -p | grep -m1 -o '/[^ ]*libnvcuvid.so.1' || echo 'NOT FOUND')"
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

# vtest.h264 (Annex-B) from vtest.mp4 with the static ffmpeg: the rawvideo muxer writes packets as they are.
[ -f "$G/data/vtest.h264" ] || "$FFMPEG" -nostdin -v error -y -i "$G/data/vtest.mp4" -map 0:v:0 -c copy \
    -bsf:v h264_mp4toannexb -f rawvideo "$G/data/vtest.h264"

status=0
if [ "$WHAT" = all ] || [ "$WHAT" = tests ]; then
    : >"$OUT/tests.log"
    TESTS=(test-devpool test-gpu-preprocess test-gpu-nvdec)
    if [ "${GPU_RUN_ALL_TESTS:-0}" = 1 ]; then
        for t in "$G"/bin/test-*; do
            b="$(basename "$t")"
            [[ " ${TESTS[*]} " == *" $b "* ]] || TESTS+=("$b")
        done
    fi
    for t in "${TESTS[@]}"; do
        [ -x "$G/bin/$t" ] || { echo "== $t: not staged" | tee -a "$OUT/tests.log"; continue; }
        start=$(date +%s.%N)
        timeout 300 "$G/bin/$t" >>"$OUT/tests.log" 2>&1
        rc=$?
        end=$(date +%s.%N)
        verdict=$([ $rc = 0 ] && echo PASS || { [ $rc = 77 ] && echo SKIP || echo "FAIL (exit $rc)"; })
        printf '== %-24s %s  %.1f s\n' "$t" "$verdict" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" | tee -a "$OUT/tests.log"
        [ $rc = 0 ] || [ $rc = 77 ] || status=1
    done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = bench ]; then
    # Panoptes: decode (NVDEC) + batched preprocess, N cameras in one process.
    "$G/bin/bench_decode_gpu" --clip "$G/data/vtest-1080p.mp4" --clip "$G/data/vtest-1080p-hevc.mp4" \
        --streams "$STREAMS" --seconds "$SECONDS_PER" --warmup 1.5 >"$OUT/bench_decode_gpu.json" 2>"$OUT/bench_stderr.txt" ||
        status=1
    tail -5 "$OUT/bench_stderr.txt"

    # ffmpeg -hwaccel cuda decoding alone, N concurrent processes, same clips, same static build.
    # Each process decodes F frames of the looped clip (F scaled so a run lasts seconds, not
    # minutes); wall time includes each process's start (CUDA and NVDEC init, ~0.3 s), reported.
    # Host CPU time: the children's user+system from bash's `times` after `wait`.
    : >"$OUT/ffmpeg_decode.json"
    for clip in vtest-1080p.mp4 vtest-1080p-hevc.mp4; do
        for n in ${STREAMS//,/ }; do
            total=$((n == 1 ? 3000 : 16000))
            f=$((total / n)); [ $f -lt 400 ] && f=400
            res="$(
                start=$(date +%s.%N)
                for i in $(seq "$n"); do
                    "$FFMPEG" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -stream_loop -1 \
                        -i "$G/data/$clip" -map 0:v:0 -frames:v "$f" -f null - &
                done
                wait
                end=$(date +%s.%N)
                echo "$start $end"
                times # line 2: this shell, line 3: its children ("XmY.YYYs XmZ.ZZZs")
            )"
            read -r start end <<<"$(sed -n 1p <<<"$res")"
            read -r cu cs <<<"$(sed -n 3p <<<"$res")"
            # bc is not in every image: awk does the arithmetic
            awk -v clip="$clip" -v n="$n" -v frames=$((n * f)) -v start="$start" -v end="$end" -v cu="$cu" -v cs="$cs" '
                function sec(t,  a) { split(t, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
                BEGIN { wall = end - start; cpu = sec(cu) + sec(cs);
                        printf "{\"bench\": \"ffmpeg_hwaccel_cuda_decode\", \"clip\": \"%s\", \"streams\": %d, \"frames\": %d, \"seconds\": %.2f, \"fps\": %.1f, \"cpu_ms_per_frame\": %.4f}\n",
                               clip, n, frames, wall, frames / wall, cpu * 1000 / frames }' \
                >>"$OUT/ffmpeg_decode.json"
        done
    done
fi

# Summary (also the last lines of the call's output).
{
    echo "=== $(head -1 "$OUT/device.txt") | $(sed -n 2p "$OUT/device.txt")"
    [ -f "$OUT/tests.log" ] && grep '^== ' "$OUT/tests.log"
    [ -f "$OUT/tests.log" ] && grep -E "max \|gpu - cpu\||max diff|arena .* MiB|clean .* frames|nvdec [0-9]+ frames" "$OUT/tests.log"
    if [ -s "$OUT/bench_decode_gpu.json" ]; then
        echo "panoptes decode+preprocess (NVDEC -> FP16 416x416, one process):"
        python3 - "$OUT/bench_decode_gpu.json" "$OUT/ffmpeg_decode.json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
ff = {}
try:
    for l in open(sys.argv[2]):
        if l.strip(): r = json.loads(l); ff[(r["clip"], r["streams"])] = r
except FileNotFoundError:
    pass
print(f'{"clip":24} {"N":>3} {"fps":>8} {"cpu ms/f":>9} {"MiB/cam":>8} {"batch":>6} {"mallocs":>8} {"px copied":>9} | {"ffmpeg fps":>10} {"cpu ms/f":>9}')
for r in rows:
    if "skipped" in r: print(r); continue
    clip = r["clip"].split("/")[-1]
    f = ff.get((clip, r["streams"]), {})
    print(f'{clip:24} {r["streams"]:>3} {r["fps"]:>8.1f} {r["cpu_ms_per_frame"]:>9.4f} {r["device_mib_per_camera"]:>8.1f} '
          f'{r["mean_batch"]:>6.1f} {r["pool"]["cuda_mallocs_in_window"]:>8} {r["pixel_bytes_copied"]:>9} | '
          f'{f.get("fps", 0):>10.1f} {f.get("cpu_ms_per_frame", 0):>9.4f}  {r["status"]}')
EOF
    fi
} | tee "$OUT/summary.txt"
exit $status
