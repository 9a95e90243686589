#!/usr/bin/env bash
# The cuda engine's GPU tests and benchmarks on the GPU machine, in one device call.
#
# Here (nvcc, no GPU):   scripts/gpu-engine.sh stage
#   builds build-gpu-eng/ like scripts/gpu-build.sh does (static FFmpeg from third_party/ffmpeg-static,
#   sm_90, cudart static) but only the engine's programs (test-gpu-engine-ops, test-gpu-nanodet,
#   test-gpu-plan-cache, test-gpu-engine-shared, bench_engine_gpu), and stages them with the shared libraries the GPU image lacks (jansson,
#   protobuf-c, OpenBLAS; taken from .gpu/lib that gpu-build.sh made, or found with ldd) and the
#   first 400 frames of data/vtest.mp4 into build-gpu-eng/stage (about 22 MiB, git-ignored).
#
# There (one device call; models/ is git-ignored and must travel too):
#   run(command="bash scripts/gpu-engine.sh run all", carry=["build-gpu-eng/stage", "models"])
#   what: tests | bench | torch | profile | all (= tests, bench, torch). Logs and JSON go to $OUT:
#   ops.log, nanodet.log, plan_cache.log, engine_shared.log, bench_engine_gpu.json, torch.json (+ .err), prof_engine.log, device.txt.
#   BENCH_SECONDS (default 1) is each timing window; TORCH_TIMEOUT (default 300) bounds the
#   PyTorch comparison (tests/peers/torch_nanodet.py, which also checks its port against the cpu
#   engine's outputs that test-gpu-nanodet dumps).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
ST="$REPO/build-gpu-eng/stage"
PROGS=(test-gpu-engine-ops test-gpu-nanodet test-gpu-plan-cache test-gpu-engine-shared bench_engine_gpu)

stage() {
    set -e
    local FFS="$REPO/third_party/ffmpeg-static"
    [ -f "$FFS/lib/pkgconfig/libavcodec.pc" ] || { echo "gpu-engine: no static FFmpeg (scripts/build-ffmpeg-static.sh)" >&2; exit 1; }
    export PATH="/usr/local/cuda/bin:$PATH" PKG_CONFIG_PATH="$FFS/lib/pkgconfig"
    cmake -S . -B build-gpu-eng -G Ninja -DCMAKE_BUILD_TYPE=Release -DPANOPTES_CUDA=ON -DPANOPTES_CUDA_ARCHS=90 \
        -DPANOPTES_STATIC_FFMPEG=ON -DCMAKE_EXE_LINKER_FLAGS="-Wl,--as-needed" >/tmp/gpu-engine.cmake.log 2>&1 ||
        { tail -20 /tmp/gpu-engine.cmake.log >&2; exit 1; }
    ninja -C build-gpu-eng "${PROGS[@]}"
    rm -rf "$ST" && mkdir -p "$ST/bin" "$ST/lib" "$ST/data"
    for p in "${PROGS[@]}"; do strip --strip-debug -o "$ST/bin/$p" "build-gpu-eng/$p"; done
    if ls .gpu/lib/* >/dev/null 2>&1; then
        cp .gpu/lib/* "$ST/lib/"
    else
        for lib in libjansson.so.4 libprotobuf-c.so.1 libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
            path="$(ldd "$ST/bin/test-gpu-nanodet" | awk -v l="$lib" '$1 == l {print $3}')"
            [ -n "$path" ] && cp -L "$path" "$ST/lib/"
        done
        [ -f "$ST/lib/libopenblas.so.0" ] && xz -T0 -6 "$ST/lib/libopenblas.so.0"
    fi
    ffmpeg -nostdin -v error -y -i data/vtest.mp4 -map 0:v:0 -c copy -frames:v 400 -movflags +faststart "$ST/data/vtest.mp4"
    du -sh "$ST"
    echo 'gpu-engine: next: run(command="bash scripts/gpu-engine.sh run all", carry=["build-gpu-eng/stage", "models"])'
}

run() {
    local what="${1:-all}"
    OUT="${OUT:-$REPO/out/gpu-engine}"
    mkdir -p "$OUT"
    local R=/tmp/pan-eng
    rm -rf "$R" && mkdir -p "$R/lib"
    for f in "$ST"/lib/*; do
        case "$f" in *.xz) xz -dc "$f" >"$R/lib/$(basename "${f%.xz}")" ;; *) cp "$f" "$R/lib/" ;; esac
    done
    # cuDNN: the toolkit's, else wherever a Python wheel put it
    local cudnn
    cudnn="$(find /usr/local/cuda/lib64 /usr/local /opt /usr/lib -name 'libcudnn.so.9' -printf '%h\n' 2>/dev/null | head -1)"
    export LD_LIBRARY_PATH="$R/lib:/usr/local/cuda/lib64${cudnn:+:$cudnn}"
    export PANOPTES_DATA_DIR="$ST/data" PANOPTES_LOG="${PANOPTES_LOG:-warn}"
    { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; echo "cudnn: $cudnn"; date -u; } \
        >"$OUT/device.txt" 2>&1
    cat "$OUT/device.txt"
    local status=0
    if [ "$what" = tests ] || [ "$what" = all ]; then
        "$ST/bin/test-gpu-engine-ops" >"$OUT/ops.log" 2>&1 || status=1
        grep -E "^(ok|FAIL|SKIP) |passed|GUARD|NaN" "$OUT/ops.log"
        mkdir -p /tmp/pan-dump
        PANOPTES_DUMP_DIR=/tmp/pan-dump "$ST/bin/test-gpu-nanodet" >"$OUT/nanodet.log" 2>&1 || status=1
        cat "$OUT/nanodet.log"
        # the plan cache: cold then warm start, outputs identical (prints cold/warm planning JSON)
        "$ST/bin/test-gpu-plan-cache" >"$OUT/plan_cache.log" 2>&1 || status=1
        cat "$OUT/plan_cache.log"
        # one arena, workspace and weights copy for every batch size; graphs re-captured when it grows
        "$ST/bin/test-gpu-engine-shared" >"$OUT/engine_shared.log" 2>&1 || status=1
        cat "$OUT/engine_shared.log"
    fi
    if [ "$what" = bench ] || [ "$what" = all ]; then
        "$ST/bin/bench_engine_gpu" --seconds "${BENCH_SECONDS:-1}" >"$OUT/bench_engine_gpu.json" 2>"$OUT/bench.err" || status=1
        cat "$OUT/bench_engine_gpu.json"
    fi
    if [ "$what" = torch ] || [ "$what" = all ]; then
        local check=()
        [ -f /tmp/pan-dump/input.f32 ] && check=(--check /tmp/pan-dump)
        PYTHONUNBUFFERED=1 timeout "${TORCH_TIMEOUT:-300}" python3 tests/peers/torch_nanodet.py --batches 1,8,32,64 \
            --seconds "${BENCH_SECONDS:-1}" "${check[@]}" >"$OUT/torch.json" 2>"$OUT/torch.err" || status=1
        cat "$OUT/torch.err" | grep '^{'
    fi
    if [ "$what" = profile ]; then
        "$ST/bin/bench_engine_gpu" --profile --batches "${PROF_BATCH:-64}" >"$OUT/prof_engine.log" 2>&1 || status=1
        grep -E "profile|^\[info\] cuda-engine:   [a-z]" "$OUT/prof_engine.log" | head -20
        PYTHONUNBUFFERED=1 timeout 200 python3 tests/peers/torch_nanodet.py --batches "${PROF_BATCH:-64}" --seconds 0.3 \
            --profile "${PROF_BATCH:-64}" >"$OUT/torch_prof.json" 2>"$OUT/torch_prof.log"
    fi
    return $status
}

case "${1:-}" in
stage) stage ;;
run) shift; run "$@" ;;
*) echo "usage: scripts/gpu-engine.sh stage | run [tests|bench|torch|profile|all]" >&2; exit 2 ;;
esac
