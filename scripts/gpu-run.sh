#!/usr/bin/env bash
# Runs on the GPU machine (one device call), from the repository root, with .gpu/ carried
# (made by scripts/gpu-build.sh here):
#
#   run(command="bash scripts/gpu-run.sh", carry=[".gpu"])
#   run(command="bash scripts/gpu-run.sh tests", carry=[".gpu"])      # only the GPU tests
#   run(command="bash scripts/gpu-run.sh bench", carry=[".gpu"])      # only the benchmarks
#   run(command="bash scripts/gpu-run.sh e2e", carry=[".gpu","models"]) # whole pipeline vs cpu, N cameras, seed peer
#   run(command="bash scripts/gpu-run.sh reid", carry=[".gpu","models"]) # ReID crops/s and frames/s on vs off
#   run(command="bash scripts/gpu-run.sh many", carry=[".gpu","models/nanodet.json","models/nanodet.bin"])
#                                        # issue #19: N cameras end to end against decoding alone
#   run(command="bash scripts/gpu-run.sh engine", carry=[".gpu","models/nanodet.json","models/nanodet.bin"])
#                                        # NanoDet alone: the direct first convolution against cuDNN's
#   run(command="bash scripts/gpu-run.sh memory", carry=[".gpu","models"])
#                                        # issue #18: start-up cold/warm, device MiB per camera
#   run(command="SOAK_FILES=32 SOAK_SECONDS=480 bash scripts/gpu-run.sh soak", carry=[".gpu","models"])
#                                        # issue #18: the device memory slope (device_used_mib)
#   run(command="GPU_STAGE=.gpu-b GPU_TESTS=test-gpu-families-engine bash scripts/gpu-run.sh tests",
#       carry=[".gpu-b","models/nanodet.json","models/nanodet.bin"])
#                                        # a second stage (GPU_STAGE=.gpu-b GPU_STAGE_FAMILIES=1
#                                        # scripts/gpu-build.sh): the detector families' models
#
# Writes into $OUT (at most 8 files come back): device.txt, tests.log, bench_decode_gpu.json,
# ffmpeg_decode.json, summary.txt. The last lines printed are the summary table.
#
# Environment: GPU_RUN_ALL_TESTS=1 also runs every other staged test program; BENCH_SECONDS
# (default 5) is each benchmark window; BENCH_STREAMS (default 1,7,14,28,56).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
G="${GPU_STAGE:-.gpu}" # what scripts/gpu-build.sh staged (GPU_STAGE: another folder, carried instead)
case "$G" in /*) ;; *) G="$REPO/$G" ;; esac
OUT="${OUT:-$REPO/out/gpu}"
mkdir -p "$OUT"
WHAT="${1:-all}"
SECONDS_PER=${BENCH_SECONDS:-5}
STREAMS=${BENCH_STREAMS:-1,7,14,28,56}
[ -f "$G/bin.tar.xz" ] || { echo "gpu-run: $G/bin.tar.xz missing: run scripts/gpu-build.sh here and carry .gpu"; exit 1; }
# Unpacked outside the carried folder so that .gpu/ stays as gpu-build.sh made it.
R="${TMPDIR:-/tmp}/panoptes-gpu-run"
rm -rf "$R" && mkdir -p "$R/bin" "$R/lib" "$R/data" || exit 1
xz -dc "$G/bin.tar.xz" | tar -C "$R/bin" --strip-components=1 -xf - || exit 1
for f in "$G"/lib/*; do
    case "$f" in *.xz) xz -dc "$f" >"$R/lib/$(basename "${f%.xz}")" ;; *) cp "$f" "$R/lib/" ;; esac
done
for f in "$G"/data/*; do ln -sf "$f" "$R/data/"; done

# Libraries: ours, the CUDA toolkit's, and cuDNN wherever a Python wheel put it (only the CLI's
# engine may need it).
LIBS="$R/lib:/usr/local/cuda/lib64"
CUDNN_DIR="$(find /opt /usr/local /usr/lib -name 'libcudnn.so.9' -printf '%h\n' 2>/dev/null | head -1)"
[ -n "$CUDNN_DIR" ] && LIBS="$LIBS:$CUDNN_DIR"
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PANOPTES_DATA_DIR="$R/data"
export PANOPTES_LOG="${PANOPTES_LOG:-warn}"
FFMPEG="$R/bin/ffmpeg"

{
    date -u +"date: %Y-%m-%dT%H:%M:%SZ"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1
    nvidia-smi -q 2>/dev/null | grep -iE "decoder|Product Name|CUDA Version" | head -8
    echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    uname -r
    echo "libnvcuvid: $(ldconfig -p | grep -m1 -o '/[^ ]*libnvcuvid.so.1' || echo 'NOT FOUND')"
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

# One JSON object from a run's --summary-json FILE without its cameras (the fewest frames a camera
# delivered instead), plus key=value fields (integers stay integers); {"error": ...} when the run
# left no summary.
summary_row() {
    python3 - "$@" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1])); c = s.pop("cameras")
    s["min_camera_frames"] = min((x["frames"] for x in c), default=0)
except (OSError, ValueError) as e:
    s = {"error": "no summary: %s" % e}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        v = int(v)
    except ValueError:
        pass
    s[k] = v
print(json.dumps(s))
PY
}

# vtest.h264 (Annex-B) from vtest.mp4 with the static ffmpeg: the rawvideo muxer writes packets as they are.
"$FFMPEG" -nostdin -v error -y -i "$R/data/vtest.mp4" -map 0:v:0 -c copy -bsf:v h264_mp4toannexb \
    -f rawvideo "$R/data/vtest.h264"

# Long elementary streams (10 copies of the 300-frame clips end to end: 3000 frames, Annex-B, each
# copy starting with an IDR and its parameter sets) for the benchmarks: ffmpeg's -stream_loop
# re-creates its decoder at every pass, so both benchmarks read these and ffmpeg never loops
# (each process decodes at most 3000 frames).
for c in vtest-1080p.mp4:h264:vtest-1080p-long.h264 vtest-1080p-hevc.mp4:hevc:vtest-1080p-long.h265; do
    IFS=: read -r src codec dst <<<"$c"
    "$FFMPEG" -nostdin -v error -y -i "$R/data/$src" -map 0:v:0 -c copy -bsf:v "${codec}_mp4toannexb" \
        -f rawvideo "$R/data/$dst.one" && for i in 1 2 3 4 5 6 7 8 9 10; do cat "$R/data/$dst.one"; done >"$R/data/$dst"
done

status=0
if [ "$WHAT" = all ] || [ "$WHAT" = tests ]; then
    : >"$OUT/tests.log"
    # GPU_TESTS="test-a test-b" picks the programs (default: the GPU frame path's three); an entry
    # "NAME=VALUE,NAME2=VALUE2:test-c" runs test-c with those settings in its environment
    read -r -a TESTS <<<"${GPU_TESTS:-test-devpool test-gpu-preprocess test-gpu-nvdec}"
    if [ "${GPU_RUN_ALL_TESTS:-0}" = 1 ]; then
        for t in "$R"/bin/test-*; do
            b="$(basename "$t")"
            [[ " ${TESTS[*]} " == *" $b "* ]] || TESTS+=("$b")
        done
    fi
    for entry in "${TESTS[@]}"; do
        t="${entry##*:}"; settings=""; [ "$entry" = "$t" ] || settings="${entry%:*}"
        [ -x "$R/bin/$t" ] || { echo "== $t: not staged" | tee -a "$OUT/tests.log"; continue; }
        [ -z "$settings" ] || { echo "== $t with $settings" >>"$OUT/tests.log"; t="$t ($settings)"; }
        start=$(date +%s.%N)
        env ${settings//,/ } timeout 300 "$R/bin/${entry##*:}" >>"$OUT/tests.log" 2>&1
        rc=$?
        end=$(date +%s.%N)
        verdict=$([ $rc = 0 ] && echo PASS || { [ $rc = 77 ] && echo SKIP || echo "FAIL (exit $rc)"; })
        printf '== %-24s %s  %.1f s\n' "$t" "$verdict" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" | tee -a "$OUT/tests.log"
        [ $rc = 0 ] || [ $rc = 77 ] || status=1
    done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = bench ]; then
    # Panoptes: decode (NVDEC) + batched preprocess, N cameras in one process.
    # INFO log: each decoder's surface counts go to bench_stderr.txt.
    PANOPTES_LOG=info "$R/bin/bench_decode_gpu" --clip "$R/data/vtest-1080p-long.h264" --clip "$R/data/vtest-1080p-long.h265" \
        --streams "$STREAMS" --seconds "$SECONDS_PER" --warmup 1.5 >"$OUT/bench_decode_gpu.json" 2>"$OUT/bench_stderr.txt" ||
        status=1
    grep -v "surfaces\|primary context" "$OUT/bench_stderr.txt" | tail -5
    # How the 2 output surfaces and the decode surfaces compare with the device memory figures.
    # The parser's display delay (decode surfaces per camera vs single-stream pipelining).
    if [ -n "${BENCH_COMPARE:-1}" ] && [ "${BENCH_COMPARE:-1}" != 0 ]; then
        for d in 0 2; do
            PANOPTES_NVDEC_DISPLAY_DELAY=$d "$R/bin/bench_decode_gpu" --clip "$R/data/vtest-1080p-long.h264" --streams 1,56 \
                --seconds "$SECONDS_PER" --warmup 1.5 >>"$OUT/bench_decode_gpu.json" 2>>"$OUT/bench_stderr.txt"
        done
        # Flatness: 28 cameras for BENCH_LONG seconds (pool statistics and device memory at the
        # start and the end of the window).
        "$R/bin/bench_decode_gpu" --clip "$R/data/vtest-1080p-long.h264" --streams 28 --seconds "${BENCH_LONG:-45}" \
            --warmup 1.5 >>"$OUT/bench_decode_gpu.json" 2>>"$OUT/bench_stderr.txt"
    fi

    # ffmpeg -hwaccel cuda decoding alone, N concurrent processes, same clips, same static build.
    # Each process decodes the first F frames of the long stream (F scaled so a run lasts seconds,
    # not minutes); wall time includes each process's start (CUDA and NVDEC init).
    # Host CPU time: the children's user+system from bash's `times` after `wait`.
    : >"$OUT/ffmpeg_decode.json"
    for clip in vtest-1080p-long.h264 vtest-1080p-long.h265; do
        for n in ${STREAMS//,/ }; do
            total=$((n == 1 ? 3000 : 16000))
            f=$((total / n)); [ $f -lt 400 ] && f=400; [ $f -gt 3000 ] && f=3000
            res="$(
                start=$(date +%s.%N)
                pids=()
                for i in $(seq "$n"); do
                    # -autoscale 0: should ffmpeg rebuild its filter graph (new hw frames context), it
                    # would otherwise insert a scale filter, which cannot take CUDA frames, and fail
                    # ("Impossible to convert between the formats").
                    "$FFMPEG" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda \
                        -i "$R/data/$clip" -map 0:v:0 -autoscale 0 -frames:v "$f" -f null - 2>>"$OUT/ffmpeg_stderr.txt" &
                    pids+=($!)
                done
                fails=0
                for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
                end=$(date +%s.%N)
                echo "$start $end $fails"
                times # line 2: this shell, line 3: its children ("XmY.YYYs XmZ.ZZZs")
            )"
            read -r start end fails <<<"$(sed -n 1p <<<"$res")"
            read -r cu cs <<<"$(sed -n 3p <<<"$res")"
            # bc is not in every image: awk does the arithmetic
            awk -v clip="$clip" -v n="$n" -v fails="$fails" -v frames=$((n * f)) -v start="$start" -v end="$end" -v cu="$cu" -v cs="$cs" '
                function sec(t,  a) { split(t, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
                BEGIN { wall = end - start; cpu = sec(cu) + sec(cs);
                        printf "{\"bench\": \"ffmpeg_hwaccel_cuda_decode\", \"clip\": \"%s\", \"streams\": %d, \"frames\": %d, \"seconds\": %.2f, \"fps\": %.1f, \"cpu_ms_per_frame\": %.4f, \"failed_processes\": %d}\n",
                               clip, n, frames, wall, frames / wall, cpu * 1000 / frames, fails }' \
                >>"$OUT/ffmpeg_decode.json"
        done
    done
    if [ -f "$OUT/ffmpeg_stderr.txt" ]; then # keep the first 100 kB: repeated errors would swamp it
        head -c 100000 "$OUT/ffmpeg_stderr.txt" >"$OUT/ffmpeg_stderr.tmp" && mv "$OUT/ffmpeg_stderr.tmp" "$OUT/ffmpeg_stderr.txt"
    fi
fi

# ReID (`bash scripts/gpu-run.sh reid`, carry ".gpu" and "models"): the identity gallery's
# similarities host vs GPU; crops/s of the default descriptor and the OSNet-shaped models at
# REID_BATCHES, and end-to-end frames/s with ReID off, default and each model (REID_CAMERAS looped
# 1080p cameras, REID_FRAMES frames each).
if [ "$WHAT" = reid ]; then
    # the identity gallery's similarities: host vs GPU
    timeout 120 "$R/bin/bench_gallery" >"$OUT/bench_gallery.json" 2>>"$OUT/bench_reid_stderr.txt" || status=1
    cat "$OUT/bench_gallery.json"
    PANOPTES_LOG=${REID_LOG:-info} timeout "${REID_TIMEOUT:-400}" "$R/bin/bench_reid" --backend cuda --models models \
        --batches "${REID_BATCHES:-64,128,256,512}" --video "$R/data/vtest.mp4" --e2e-video "$R/data/vtest-1080p.mp4" \
        --e2e-cameras "${REID_CAMERAS:-8}" --e2e-frames "${REID_FRAMES:-600}" >"$OUT/bench_reid.json" \
        2>>"$OUT/bench_reid_stderr.txt" || status=1
    grep -E '^ +\{' "$OUT/bench_reid.json"
    grep -o "[^ ]*onnx: batch [0-9]* compiled.*chosen in [0-9.]* s" "$OUT/bench_reid_stderr.txt" | sort | uniq -c | head -20
    # the peer: the same models in PyTorch eager (FP16, channels_last), forward pass only
    timeout 240 python3 tests/peers/torch_onnx_run.py models/osnet_x0_25.onnx models/osnet_x1_0.onnx \
        --batches "${REID_BATCHES:-64,128,256,512}" >"$OUT/torch_reid.json" 2>>"$OUT/bench_reid_stderr.txt" || status=1
    cat "$OUT/torch_reid.json"
    grep -E "error|warn" "$OUT/bench_reid_stderr.txt" | head -5
    exit $status
fi

# Soak on the cuda backend (`bash scripts/gpu-run.sh soak`, carry ".gpu" and "models"): SOAK_FILES
# looped 1080p cameras with detection, tracking and ReID SOAK_REID (default: the default descriptor;
# a model path for an ONNX ReID model), as fast as they go, for SOAK_SECONDS; host RSS,
# file descriptors and the device pool sampled every 5 s (bench/soak.c). SOAK_CHURN=S removes one
# camera in turn and adds it back every S seconds (what a closed camera keeps shows as growth);
# SOAK_DETECT=0: decoding only.
if [ "$WHAT" = soak ]; then
    timeout $(( ${SOAK_SECONDS:-600} + 120 )) "$R/bin/soak" --backend cuda --files "${SOAK_FILES:-16}" --rtsp 0 \
        --clip "$R/data/${SOAK_CLIP:-vtest-1080p.mp4}" $([ "${SOAK_DETECT:-1}" = 1 ] && echo --detect) --reid "${SOAK_REID:-default}" --no-realtime --duration "${SOAK_SECONDS:-600}" \
        --warmup "${SOAK_WARMUP:-60}" --interval "${SOAK_INTERVAL:-5}" --churn "${SOAK_CHURN:-0}" --out /dev/null >"$OUT/soak.json" 2>"$OUT/soak_stderr.txt" || status=1
    cat "$OUT/soak.json"
    tail -3 "$OUT/soak_stderr.txt"
    exit $status
fi

# End to end (`bash scripts/gpu-run.sh e2e`, carry ".gpu" and "models"): the whole pipeline
# (NVDEC -> preprocess -> FP16 NanoDet -> GPU NMS -> tracking -> JSONL) against the cpu reference,
# then N looped 1080p cameras through the CLI, then the seed-shaped Python pipeline on the same
# clips as a peer. E2E_STREAMS (default 1,16,64) and E2E_FRAMES (frames over all cameras per run).
if [ "$WHAT" = e2e ]; then
    CLI="$R/bin/panoptes"
    if [ -z "${E2E_SKIP_TEST:-}" ]; then
        PANOPTES_CLI="$CLI" PANOPTES_DATA_DIR="$R/data" bash tests/test-gpu-pipeline.sh >"$OUT/e2e_test.log" 2>&1 || status=1
        tail -4 "$OUT/e2e_test.log"
    fi
    : >"$OUT/e2e.json"
    # E2E_VARIANTS: ';'-separated extra `panoptes run` options, one run each (attribution of costs)
    IFS=';' read -r -a VARIANTS <<<"${E2E_VARIANTS:- }"
    for clip in ${E2E_CLIPS:-vtest-1080p.mp4 vtest-1080p-hevc.mp4}; do
      for variant in "${VARIANTS[@]}"; do
        for n in ${E2E_STREAMS:-1 16 64}; do
            f=$(( ${E2E_FRAMES:-24000} / n )); [ $f -gt 3000 ] && f=3000
            cams=(); for i in $(seq "$n"); do cams+=(--camera "$R/data/$clip"); done
            # shellcheck disable=SC2086
            PANOPTES_LOG=warn timeout 240 "$CLI" run --backend cuda "${cams[@]}" --loop --max-frames "$f" --out /dev/null \
                --summary-json "$OUT/e2e_one.json" --quiet $variant 2>>"$OUT/e2e_stderr.txt"
            rc=$?
            python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); del s["cameras"]; s.update(clip=sys.argv[2], streams=int(sys.argv[3]), rc=int(sys.argv[4]), options=sys.argv[5].strip()); print(json.dumps(s))' \
                "$OUT/e2e_one.json" "$clip" "$n" "$rc" "$variant" >>"$OUT/e2e.json" 2>>"$OUT/e2e_stderr.txt"
        done
      done
    done
    rm -f "$OUT/e2e_one.json"
    for n in ${SEED_STREAMS-1 4}; do
        timeout 240 python3 tests/peers/seed_pipeline.py --clip "$R/data/vtest-1080p.mp4" --cameras "$n" --frames 300 \
            >>"$OUT/e2e.json" 2>>"$OUT/e2e_stderr.txt"
    done
    echo "end to end (cuda backend, N looped cameras, detection + tracking) and the seed-shaped Python pipeline:"
    python3 - "$OUT/e2e.json" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    if not l.strip().startswith("{"): continue
    r = json.loads(l)
    if r.get("bench") == "seed_python_pipeline":
        print(f'seed python  {r["clip"]:22} N={r["cameras"]:>3} {r["fps"]:>8.1f} fps {r["cpu_ms_per_frame"]:>8.3f} cpu ms/frame')
    else:
        print(f'panoptes     {r["clip"]:22} N={r["streams"]:>3} {r["fps"]:>8.1f} fps {r["cpu_ms_per_frame"]:>8.3f} cpu ms/frame '
              f'(steady {r.get("steady_fps", 0):.1f} fps {r.get("steady_cpu_ms_per_frame", 0):.3f} ms; cams '
              f'{r.get("cpu_ms_per_frame_cameras", 0):.3f} batcher {r.get("cpu_ms_per_frame_batcher", 0):.3f} '
              f'other {r.get("cpu_ms_per_frame_other", 0):.3f}) '
              f'{r.get("device_mib_used", 0) / r["streams"]:>6.1f} MiB/cam  px copied {r["pixel_bytes_copied"]}  failed {r["failed_cameras"]} rc {r["rc"]} {r.get("options", "")}')
EOF
    tail -3 "$OUT/e2e_stderr.txt"
    exit $status
fi

# Many cameras (issue #19; `bash scripts/gpu-run.sh many`, carry ".gpu" and "models/nanodet.*"):
# the pipeline against decoding alone, on the same streams in the same call. For each clip of
# MANY_CLIPS (default vtest-1080p.mp4; vtest-1080p-hevc.mp4 for HEVC) and each N of MANY_STREAMS
# (default "64 128"):
#   e2e     `panoptes run --backend cuda`, N looped cameras, NanoDet + tracking + identities, for
#           --duration MANY_SECONDS (default 60) plus 15 s for the start-up; its summary
#           (steady frames/s and host CPU, CPU by thread group, device MiB, latency p50/p99,
#           dropped frames, the fewest frames a camera delivered)
#   decode  bench_decode_gpu (NVDEC + preprocess, one process) at N for MANY_DECODE_SECONDS (20)
#   ffmpeg  N processes of `ffmpeg -hwaccel cuda -hwaccel_output_format cuda`, each decoding F
#           (MANY_FFMPEG_FRAMES, 300) and then 2F frames of the clip's long Annex-B stream:
#           frames/s = N·F / (T(2F) − T(F)), so that process and context start-up cancel out
# One JSON object per line in many.json; the summary prints e2e ÷ decode for each (clip, N). A call
# has 600 s: one clip x 2 counts x (75 + 25 + ffmpeg) s fits; more need more calls.
if [ "$WHAT" = many ]; then
    CLI="$R/bin/panoptes"
    M="$OUT/many.json"
    : >"$M"
    for clip in ${MANY_CLIPS:-vtest-1080p.mp4}; do
        case "$clip" in *hevc*) long=vtest-1080p-long.h265 ;; *) long=vtest-1080p-long.h264 ;; esac
        for n in ${MANY_STREAMS:-64 128}; do
            cams=(); for i in $(seq "$n"); do cams+=(--camera "$R/data/$clip"); done
            PANOPTES_LOG=warn timeout -s INT $((${MANY_SECONDS:-60} + 120)) "$CLI" run --backend cuda "${cams[@]}" --loop \
                --duration $((${MANY_SECONDS:-60} + 15)) --out /dev/null --summary-json "$OUT/many_one.json" --quiet \
                2>>"$OUT/many_stderr.txt"
            rc=$?
            summary_row "$OUT/many_one.json" bench=e2e clip="$clip" streams="$n" rc="$rc" >>"$M" 2>>"$OUT/many_stderr.txt"
            rm -f "$OUT/many_one.json"
            PANOPTES_LOG=warn "$R/bin/bench_decode_gpu" --clip "$R/data/$clip" --streams "$n" \
                --seconds "${MANY_DECODE_SECONDS:-20}" --warmup 1.5 2>>"$OUT/many_stderr.txt" |
                python3 -c 'import json,sys
for l in sys.stdin:
    if l.strip().startswith("{"): r=json.loads(l); r["bench"]="decode"; r["clip"]=sys.argv[1]; print(json.dumps(r))' "$clip" >>"$M"
            f=${MANY_FFMPEG_FRAMES:-300}
            t=()
            for k in 1 2; do
                t0=$(date +%s.%N)
                pids=()
                for i in $(seq "$n"); do
                    "$FFMPEG" -nostdin -v error -hwaccel cuda -hwaccel_output_format cuda -i "$R/data/$long" -map 0:v:0 \
                        -autoscale 0 -frames:v $((k * f)) -f null - 2>>"$OUT/many_ffmpeg_stderr.txt" &
                    pids+=($!)
                done
                fails=0
                for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
                t+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$fails")
            done
            awk -v clip="$clip" -v n="$n" -v f="$f" -v t1="${t[0]}" -v t2="${t[2]}" -v fails=$((t[1] + t[3])) 'BEGIN {
                d = t2 - t1; printf "{\"bench\": \"ffmpeg\", \"clip\": \"%s\", \"streams\": %d, \"frames_per_process\": [%d, %d], \"seconds\": [%.2f, %.2f], \"fps\": %.1f, \"failed_processes\": %d}\n",
                clip, n, f, 2 * f, t1, t2, (d > 0 ? n * f / d : 0), fails }' >>"$M"
        done
    done
    if [ -f "$OUT/many_ffmpeg_stderr.txt" ]; then
        head -c 50000 "$OUT/many_ffmpeg_stderr.txt" >"$OUT/many_ffmpeg_stderr.tmp" && mv "$OUT/many_ffmpeg_stderr.tmp" "$OUT/many_ffmpeg_stderr.txt"
    fi
    echo "many cameras: the pipeline (steady state) against decoding alone, same clips, same call:"
    python3 - "$M" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
key = lambda r: (r["clip"], r["streams"])
dec = {key(r): r for r in rows if r.get("bench") == "decode" and "fps" in r}
ff = {key(r): r for r in rows if r.get("bench") == "ffmpeg"}
for r in rows:
    if r.get("bench") != "e2e": continue
    d, f = dec.get(key(r), {}), ff.get(key(r), {})
    e = r.get("steady_fps", 0)
    print(f'{r["clip"]:22} N={r["streams"]:>3} e2e {e:>8.1f} fps (/decode {e / d["fps"] if d.get("fps") else 0:.3f}, '
          f'/ffmpeg {e / f["fps"] if f.get("fps") else 0:.3f}) host {r.get("steady_cpu_ms_per_frame", 0):.3f} ms/frame '
          f'(cams {r.get("cpu_ms_per_frame_cameras", 0):.3f} delivery {r.get("cpu_ms_per_frame_batcher", 0):.3f} '
          f'other {r.get("cpu_ms_per_frame_other", 0):.3f}) {r.get("device_mib_used", 0) / r["streams"]:.1f} MiB/cam '
          f'p50/p99 {r.get("latency_p50_ms", 0):.0f}/{r.get("latency_p99_ms", 0):.0f} ms dropped {r.get("dropped", 0)} '
          f'copied {r.get("pixel_bytes_copied", 0)} min/cam {r.get("min_camera_frames", 0)} rc {r["rc"]} | '
          f'decode {d.get("fps", 0):.1f} ffmpeg {f.get("fps", 0):.1f}')
EOF
    tail -3 "$OUT/many_stderr.txt" 2>/dev/null
    exit $status
fi

# The engine alone, the first convolution two ways (`bash scripts/gpu-run.sh engine`, carry ".gpu",
# "models/nanodet.json" and "models/nanodet.bin"): bench_engine_gpu (NanoDet FP16, batches 1, 8, 32,
# 64, CUDA graph on and off) with the direct kernel for the 3-channel first convolution and with
# PANOPTES_CUDA_DIRECT_CONV=0 (the input padded to 8 channels for cuDNN), one after the other in
# this call; then each one's per-step GPU times at batch 32 (--profile), whose first steps are that
# convolution. engine_direct1.json / engine_direct0.json, engine_first_conv.txt, engine_stderr.txt,
# a table at the end (with the tests mode in the same $OUT: 7 files, under a call's limit of 8).
if [ "$WHAT" = engine ]; then
    : >"$OUT/engine_first_conv.txt"
    : >"$OUT/engine_stderr.txt"
    for d in 1 0; do
        echo "== PANOPTES_CUDA_DIRECT_CONV=$d" >>"$OUT/engine_stderr.txt"
        PANOPTES_CUDA_DIRECT_CONV=$d timeout 240 "$R/bin/bench_engine_gpu" --batches 1,8,32,64 --seconds 2 \
            >"$OUT/engine_direct$d.json" 2>>"$OUT/engine_stderr.txt" || status=1
        echo "PANOPTES_CUDA_DIRECT_CONV=$d" >>"$OUT/engine_first_conv.txt"
        PANOPTES_LOG=info PANOPTES_CUDA_DIRECT_CONV=$d timeout 240 "$R/bin/bench_engine_gpu" --batches 32 --profile 2>&1 |
            grep -E "profile batch|step +[0-9]+ +(pad|conv|dconv|epilogue) " | head -5 >>"$OUT/engine_first_conv.txt"
    done
    python3 - "$OUT/engine_direct1.json" "$OUT/engine_direct0.json" <<'EOF'
import json, sys
def rows(path):
    try:
        return {(r["batch"], r["cuda_graph"]): r for r in json.load(open(path))["results"]}
    except (OSError, ValueError, KeyError) as e:
        print(f"{path}: {e}")
        return {}
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print(f'{"batch":>5} {"graph":>5} | {"direct images/s":>15} {"p50 ms":>7} | {"cuDNN images/s":>14} {"p50 ms":>7}')
for k in sorted(a):
    x, y = a[k], b.get(k, {})
    print(f'{k[0]:>5} {str(k[1]):>5} | {x.get("images_per_s", 0):>15.1f} {x.get("latency_ms_p50", 0):>7.3f} | '
          f'{y.get("images_per_s", 0):>14.1f} {y.get("latency_ms_p50", 0):>7.3f}')
EOF
    cat "$OUT/engine_first_conv.txt"
    exit $status
fi

# Start-up and device memory per camera (issue #18; `bash scripts/gpu-run.sh memory`, carry ".gpu"
# and "models"):
#   startup  `panoptes run --backend cuda`, 30 frames of one 1080p camera, with NanoDet and then with
#            NanoDet and the OSNet x1.0-shaped ReID model (models/osnet_x1_0.onnx), each twice in a
#            fresh plan cache: cold, then warm. create_s is the models' loading and planning,
#            first_frame_s the time from start to the first frame; the JSONL of cold and warm must
#            be identical (the warm start rebuilds the cold one's choices). MEM_STARTUP_REID (default
#            "default models/osnet_x1_0.onnx"; empty: no start-up runs)
#   per-cam  for each clip of MEM_CLIPS (default vtest-1080p.mp4; empty: none; vtest-1080p-ip.mp4
#            is the same scene as IP cameras encode it) MEM_STREAMS (default "32 64") looped 1080p
#            cameras (NanoDet, tracking) for MEM_SECONDS (default 45) after start-up: device MiB per
#            camera (peak, at start-up, and now at the end); then each N again with each of
#            MEM_VARIANTS (default none; space-separated, each a comma-joined list of settings, e.g.
#            "PANOPTES_CAMERA_QUEUE=2,PANOPTES_NVDEC_EXTRA_SURFACES=3,PANOPTES_NVDEC_DISPLAY_DELAY=0"):
#            memory against frames/s
# One JSON object per line in memory.json, a table at the end. The slope over a long run is the
# soak mode's device_used_mib (SOAK_FILES=32 SOAK_SECONDS=480: a call has 600 s).
if [ "$WHAT" = memory ]; then
    CLI="$R/bin/panoptes"
    M="$OUT/memory.json"
    : >"$M"
    clip="$R/data/vtest-1080p.mp4"
    for reid in ${MEM_STARTUP_REID-default models/osnet_x1_0.onnx}; do
        [ "$reid" = default ] || [ -f "$reid" ] || { echo "memory: $reid missing (carry models)"; continue; }
        cache="$(mktemp -d)"
        for start in cold warm; do
            PANOPTES_LOG=info timeout 400 "$CLI" run --backend cuda --camera "$clip" --max-frames 30 --reid "$reid" \
                --cache-dir "$cache" --out "$OUT/startup_$start.jsonl" --summary-json "$OUT/mem_one.json" --quiet \
                2>"$OUT/startup_$start.log"
            rc=$?
            log="$OUT/startup_$start.log"
            summary_row "$OUT/mem_one.json" bench=startup reid="$reid" start="$start" rc="$rc" \
                compiled="$(grep -c ' compiled: ' "$log")" \
                convs_from_cache="$(grep -o '[0-9]* from the plan cache' "$log" | awk '{n += $1} END {print n + 0}')" >>"$M"
            grep -o "[^ ]* batch [0-9]* compiled.*" "$OUT/startup_$start.log" | head -8 >>"$OUT/startup_compiles.txt"
            rm -f "$OUT/mem_one.json"
        done
        # equal and not empty: a start that failed writes nothing on either side
        if [ -s "$OUT/startup_cold.jsonl" ] && cmp -s "$OUT/startup_cold.jsonl" "$OUT/startup_warm.jsonl"; then
            same=true
        else
            same=false
        fi
        echo "{\"bench\": \"startup_outputs\", \"reid\": \"$reid\", \"cold_equals_warm\": $same, \"lines\": $(cat "$OUT/startup_cold.jsonl" 2>/dev/null | wc -l)}" >>"$M"
        rm -rf "$cache" "$OUT"/startup_*.jsonl "$OUT"/startup_*.log
    done
    read -r -a counts <<<"${MEM_STREAMS:-32 64}"
    runs=("${counts[@]}")
    for v in ${MEM_VARIANTS:-}; do for n in "${counts[@]}"; do runs+=("$n:$v"); done; done
    for clipname in ${MEM_CLIPS-vtest-1080p.mp4}; do
    clip="$R/data/$clipname"
    [ -f "$clip" ] || { echo "memory: $clipname missing (carry it)"; continue; }
    for run in "${runs[@]}"; do
        n="${run%%:*}"; variant=""; [ "$run" = "$n" ] || variant="${run#*:}"
        cams=(); for i in $(seq "$n"); do cams+=(--camera "$clip"); done
        echo "== $clipname N=$n $variant" >>"$OUT/memory_stderr.txt"
        env ${variant//,/ } PANOPTES_LOG=info timeout -s INT $((${MEM_SECONDS:-45} + 120)) "$CLI" run --backend cuda "${cams[@]}" --loop \
            --duration $((${MEM_SECONDS:-45} + 15)) --out /dev/null --summary-json "$OUT/mem_one.json" --quiet \
            2>"$OUT/mem_one.log"
        rc=$?
        grep -E "given back|after start-up|camera 0: .*decode surfaces|error|warn" "$OUT/mem_one.log" | head -20 >>"$OUT/memory_stderr.txt"
        summary_row "$OUT/mem_one.json" bench=per_camera clip="$clipname" streams="$n" rc="$rc" variant="$variant" >>"$M"
        rm -f "$OUT/mem_one.json" "$OUT/mem_one.log"
    done
    done
    python3 - "$M" <<'EOF'
import json, sys
for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")):
    if r["bench"] == "startup":
        print(f'startup {r["start"]:4} reid {r["reid"]:28} create {r.get("create_s", 0):6.2f} s first frame {r.get("first_frame_s", 0):5.2f} s '
              f'{r["compiled"]} plans, {r["convs_from_cache"]} convs from the cache, rc {r["rc"]}')
    elif r["bench"] == "startup_outputs":
        print(f'startup outputs, reid {r["reid"]}: cold == warm: {r["cold_equals_warm"]} ({r["lines"]} lines)')
    else:
        print(f'{r.get("clip", ""):20} N={r["streams"]:>3}: {r.get("device_mib_used", 0) / r["streams"]:.1f} MiB/camera at peak '
              f'({r.get("device_mib_startup", 0):.0f} MiB at start-up, then {(r.get("device_mib_used", 0) - r.get("device_mib_startup", 0)) / r["streams"]:.1f}/camera; '
              f'surfaces {r.get("device_mib_surfaces", 0) / r["streams"]:.1f}/camera), '
              f'{r.get("device_mib_now", 0) / r["streams"]:.1f} now; steady {r.get("steady_fps", 0):.0f} fps, '
              f'host {r.get("steady_cpu_ms_per_frame", 0):.3f} ms/frame, rc {r["rc"]} {r.get("variant", "")}')
EOF
    tail -3 "$OUT/memory_stderr.txt" 2>/dev/null
    exit $status
fi

# Summary (also the last lines of the call's output).
{
    echo "=== $(head -1 "$OUT/device.txt") | $(sed -n 2p "$OUT/device.txt")"
    [ -f "$OUT/tests.log" ] && grep '^== ' "$OUT/tests.log"
    [ -f "$OUT/tests.log" ] && grep -E "max \|gpu - cpu\||max diff|arena .* MiB|clean .* frames|nvdec [0-9]+ frames" "$OUT/tests.log"
    [ -f "$OUT/bench_stderr.txt" ] && grep -o "[^ ]*: [A-Z.0-9]* [0-9x]*, [0-9]* decode surfaces.*" "$OUT/bench_stderr.txt" | sort | uniq -c
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
print(f'{"clip":24} {"N":>3} {"D":>2} {"F":>2} {"fps":>8} {"cpu ms/f":>9} {"MiB/cam":>8} {"batch":>6} {"mallocs":>8} {"px copied":>9} | {"ffmpeg fps":>10} {"cpu ms/f":>9}')
for r in rows:
    if "skipped" in r: print(r); continue
    clip = r["clip"].split("/")[-1]
    f = ff.get((clip, r["streams"]), {})
    print(f'{clip:24} {r["streams"]:>3} {str(r.get("display_delay","?"))[:2]:>2} {r.get("max_frames",0):>2} {r["fps"]:>8.1f} {r["cpu_ms_per_frame"]:>9.4f} {r["device_mib_per_camera"]:>8.1f} '
          f'{r["mean_batch"]:>6.1f} {r["pool"]["cuda_mallocs_in_window"]:>8} {r["pixel_bytes_copied"]:>9} | '
          f'{f.get("fps", 0):>10.1f} {f.get("cpu_ms_per_frame", 0):>9.4f} {f.get("failed_processes", "-")}  {r["status"]}')
EOF
    fi
} | tee "$OUT/summary.txt"
exit $status
