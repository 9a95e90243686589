#!/usr/bin/env bash
# Builds Panoptes for the GPU machine HERE (it has nvcc but no FFmpeg, jansson, protobuf-c or
# OpenBLAS) and stages what one device call needs into .gpu/ (git-ignored, carried):
#
#   .gpu/bin.tar.xz  test and bench programs and the CLI, built for sm_90 (+ compute_90 PTX), FFmpeg
#                linked statically (third_party/ffmpeg-static), cudart static, debug info stripped;
#                plus the static ffmpeg program (the `-hwaccel cuda` baseline)
#   .gpu/lib/    the shared libraries Ubuntu 24.04's base image lacks (found with ldd): jansson,
#                protobuf-c, OpenBLAS and its Fortran runtime (OpenBLAS travels xz-compressed)
#   .gpu/data/   the sample clips the GPU tests and benchmarks read. The working tree that travels is
#                limited to 64 MiB, so the 1080p clips are cut to their first 300 frames (6 GOPs,
#                stream copy: same encoding, shorter loop); vtest.h264 is remade there from vtest.mp4.
#
#   scripts/gpu-build.sh [--no-stage]
#
# Then, one device call:  run(command="bash scripts/gpu-run.sh", carry=[".gpu"])
# (end-to-end runs of the CLI also carry "models/nanodet.json" and "models/nanodet.bin", 7.7 MB;
# the reid mode models/osnet_*.onnx, 9.7 MB).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
die() { echo "gpu-build: error: $*" >&2; exit 1; }
info() { echo "gpu-build: $*"; }

FFS="$REPO/third_party/ffmpeg-static"
BUILD="$REPO/build-gpu"
# GPU_STAGE=DIR stages into another folder (relative to the repository root; default .gpu), so
# that a second call's stage can be made while the first one's is carried.
STAGE="${GPU_STAGE:-.gpu}"
case "$STAGE" in /*) ;; *) STAGE="$REPO/$STAGE" ;; esac
[ -f "$FFS/lib/pkgconfig/libavcodec.pc" ] || die "no static FFmpeg in $FFS: run scripts/build-ffmpeg-static.sh first"
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || die "nvcc not found (install the CUDA toolkit)"
export PATH="/usr/local/cuda/bin:$PATH"

# The .pc files hold the prefix they were built with; point them here in case the tree moved.
sed -i "s|^prefix=.*|prefix=$FFS|" "$FFS"/lib/pkgconfig/*.pc
export PKG_CONFIG_PATH="$FFS/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

# --as-needed: programs record only the shared libraries they use (the GPU tests and benches need
# none of OpenBLAS, cuBLASLt or cuDNN), so what must travel stays small.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPANOPTES_CUDA=ON -DPANOPTES_CUDA_ARCHS=90 \
    -DPANOPTES_STATIC_FFMPEG=ON -DCMAKE_EXE_LINKER_FLAGS="-Wl,--as-needed" >"$BUILD.cmake.log" 2>&1 ||
    { tail -30 "$BUILD.cmake.log" >&2; die "cmake failed (log: $BUILD.cmake.log)"; }
grep -q "PANOPTES_HAVE_CUDA" "$BUILD/build.ninja" || die "CUDA was not enabled in $BUILD (nvcc not usable?)"
MINE=(test-gpu-preprocess test-gpu-nvdec test-devpool bench_decode_gpu)
if ! ninja -C "$BUILD" >"$BUILD.ninja.log" 2>&1; then
    # Someone's half-written file must not stop the GPU frame path from being tested.
    info "full build failed (see $BUILD.ninja.log); building the GPU targets alone"
    grep -E "error|FAILED" "$BUILD.ninja.log" | head -10 >&2 || true
    ninja -C "$BUILD" "${MINE[@]}" || die "the GPU targets do not build"
fi
info "built in $BUILD"

[ "${1:-}" = "--no-stage" ] && exit 0

rm -rf "$STAGE"
mkdir -p "$STAGE/lib" "$STAGE/data"
BIN="$BUILD/stage-bin"
rm -rf "$BIN"
mkdir -p "$BIN"
for f in "$BUILD"/test-* "$BUILD"/bench_* "$BUILD"/soak "$BUILD"/panoptes; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    strip --strip-debug -o "$BIN/$(basename "$f")" "$f"
done
cp "$FFS/bin/ffmpeg" "$BIN/ffmpeg"
strip --strip-debug "$BIN/ffmpeg" 2>/dev/null || true
# The programs share most of their code (static FFmpeg, cudart): one xz stream with a dictionary
# larger than a program compresses them together to a fraction. gpu-run.sh unpacks .gpu/bin.
tar -C "$BUILD" -cf - stage-bin | xz -T1 -9e --lzma2=preset=9e,dict=128MiB >"$STAGE/bin.tar.xz"

# Shared libraries: everything ldd resolves outside the set Ubuntu 24.04's base image has, and
# outside the CUDA toolkit and driver (present there: /usr/local/cuda/lib64, libcuda, libnvcuvid).
BASE_RE='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|libz|libresolv|libutil)\.so'
CUDA_RE='^(libcuda|libnvcuvid|libcudart|libcublas|libcublasLt|libcudnn.*|libnvrtc|libcufft|libcurand)\.so'
for f in "$BIN"/*; do
    ldd "$f" 2>/dev/null | awk '/=>/ {print $1, $3}'
done | sort -u | while read -r name path; do
    [[ "$name" =~ $BASE_RE ]] && continue
    [[ "$name" =~ $CUDA_RE ]] && continue
    [ -f "$path" ] || { echo "gpu-build: warning: $name not found here" >&2; continue; }
    cp -L "$path" "$STAGE/lib/$name"
done
# OpenBLAS is 35 MB, the TLS stack serve links (gnutls, crypto, ...) several more; xz brings each
# library over 256 KiB to a fraction. gpu-run.sh unpacks them.
for big in "$STAGE"/lib/*; do
    [ -f "$big" ] && [ "$(stat -c %s "$big")" -gt 262144 ] && xz -T0 -6 "$big"
done
ls "$STAGE/lib"

# Clips. Tests read $PANOPTES_DATA_DIR first (gpu-run.sh points it here).
DATA="$REPO/data"
for c in vtest.mp4 vtest-hevc.mp4 vtest-1080p.mp4 vtest-1080p-hevc.mp4; do
    [ -f "$DATA/$c" ] || die "data/$c missing: run scripts/setup.sh"
done
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
# Stream copies of the first frames (decode order: every kept picture's references are kept too).
# With the detector families' models (GPU_STAGE_FAMILIES=1, below) there is no room for them but
# the first 160 frames of vtest.mp4 (test-gpu-nanodet reads frames 0 to 140).
CLIPS="vtest.mp4:400 vtest-hevc.mp4:400 vtest-1080p.mp4:300 vtest-1080p-hevc.mp4:300"
[ "${GPU_STAGE_FAMILIES:-0}" = 1 ] && CLIPS="vtest.mp4:160"
for c in $CLIPS; do
    "${FF[@]}" -i "$DATA/${c%%:*}" -map 0:v:0 -c copy -frames:v "${c##*:}" -movflags +faststart "$STAGE/data/${c%%:*}"
done
# The 1080p scene encoded the way IP cameras send it (no B-frames, one reference picture, a keyframe
# every 2 s): its decoder needs 2 decode surfaces where x264's defaults need 5. For the memory mode.
"${FF[@]}" -i "$DATA/vtest.avi" -map 0:v:0 -frames:v 300 -vf scale=1920:1080:flags=lanczos,setsar=1 -c:v libx264 \
    -profile:v main -bf 0 -refs 1 -g 50 -crf 30 -preset veryfast -pix_fmt yuv420p -movflags +faststart \
    "$STAGE/data/vtest-1080p-ip.mp4"
# Synthetic clips: full-range BT.709 H.264 (colour description end to end) and MPEG-4 part 2 in
# AVI (a codec the NVDEC path refuses), both tiny.
"${FF[@]}" -f lavfi -i testsrc2=size=640x360:rate=25,format=yuv420p -frames:v 12 \
    -vf scale=out_range=full:out_color_matrix=bt709 -pix_fmt yuvj420p -color_range pc -colorspace bt709 \
    -color_primaries bt709 -color_trc bt709 -c:v libx264 -preset ultrafast -g 6 "$STAGE/data/synth-709-full.mp4"
"${FF[@]}" -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 10 -c:v mpeg4 "$STAGE/data/synth-mpeg4.avi"

# The OSNet-shaped ReID models the `reid` and `soak` modes of gpu-run.sh read (random weights,
# ~10 MB; carried with "models").
if [ ! -f models/osnet_x0_25.onnx ] || [ ! -f models/osnet_x1_0.onnx ]; then
    /usr/bin/python3 tests/peers/make_osnet.py models >/dev/null || info "warning: could not make models/osnet_*.onnx"
fi

# The detector families' test models (issue #20) for test-gpu-families(-engine): the GPU machine has
# no python3-onnx, so they are made here and read from $PANOPTES_DATA_DIR/families there. They are
# 26 MiB, so only with GPU_STAGE_FAMILIES=1, which leaves out most of the stream copies above (the
# call's limit is 64 MiB, and models/nanodet.* still fit); without them those two tests skip there.
if [ "${GPU_STAGE_FAMILIES:-0}" = 1 ]; then
    /usr/bin/python3 tests/models/make_detector_families.py "$STAGE/data/families" --batches 1,3 >/dev/null ||
        info "warning: could not make the detector families' test models"
fi

du -sh "$STAGE"/* | sed 's/^/gpu-build: /'
total=$(du -sm "$STAGE" | cut -f1)
info "staged $total MiB in $STAGE (the working tree that travels must stay under 64 MiB)"
[ "$total" -lt 58 ] || die "$STAGE is too large to carry ($total MiB)"
info 'next: run(command="bash scripts/gpu-run.sh", carry=[".gpu"]) (end to end: add "models/nanodet.json" and "models/nanodet.bin", 7.7 MB)'
