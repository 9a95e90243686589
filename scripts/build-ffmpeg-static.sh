#!/usr/bin/env bash
# Build a minimal, static FFmpeg for the GPU machine (Ubuntu 24.04 x86-64, glibc 2.39, no FFmpeg dev
# packages, no network). Run it HERE (Debian 12, glibc 2.36: a binary linked against an older glibc runs
# on a newer one), then carry third_party/ffmpeg-static to the GPU machine.
#
#   scripts/build-ffmpeg-static.sh [--no-apt] [--force] [--jobs N]
#
# Result (prefix <repo>/third_party/ffmpeg-static):
#   bin/ffmpeg          static apart from glibc (libc, libm, and friends); NVDEC via ffnvcodec's run-time loader
#   lib/lib*.a          libavformat, libavcodec, libavutil, libswscale, libavfilter, libavdevice, libswresample (PIC)
#   lib/pkgconfig/*.pc  use with PKG_CONFIG_PATH=<prefix>/lib/pkgconfig pkg-config --static ...
#   include/            FFmpeg headers, plus ffnvcodec/ (the nvcuvid/CUDA dynamic-loader headers) so the
#                       GPU machine needs no libffmpeg-nvenc-dev either
#
# The source is Debian's own ffmpeg (apt-get source, Debian patches applied), so the version matches what the
# rest of this machine uses. Idempotent: when the prefix holds a build made with the same configure line and
# recipe revision that passed its checks (recorded in <prefix>/.configure-line), nothing is done.
set -euo pipefail

die()  { echo "build-ffmpeg-static: error: $*" >&2; exit 1; }
info() { echo "build-ffmpeg-static: $*"; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_DIR="$REPO/third_party/src"
BUILD_DIR="$REPO/third_party/build/ffmpeg"
PREFIX="$REPO/third_party/ffmpeg-static"
JOBS=2
USE_APT=1
FORCE=0

while [ $# -gt 0 ]; do
    case "$1" in
        --no-apt) USE_APT=0 ;;
        --force)  FORCE=1 ;;
        --jobs)   shift; JOBS="${1:?--jobs needs a number}" ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

# Components. Everything else is off (--disable-everything), and nothing is picked up from the system
# (--disable-autodetect): no zlib, no xlib, no vaapi -- the GPU machine has none of their dev libraries.
DEMUXERS="mov matroska avi mpegts h264 hevc rtsp sdp rtp"
# msmpeg4v3: the original vtest.avi (DivX 3) the sample clips come from.
DECODERS="h264 hevc mpeg4 msmpeg4v3 mjpeg rawvideo"
HWACCELS="h264_nvdec hevc_nvdec"
PARSERS="h264 hevc mpeg4video"
BSFS="h264_mp4toannexb hevc_mp4toannexb extract_extradata"
PROTOCOLS="file pipe tcp udp rtp http"
MUXERS="null framemd5 rawvideo"
ENCODERS="rawvideo wrapped_avframe"
# scale_cuda and friends need nvcc (or clang's CUDA) at build time: left out. hwdownload brings NVDEC
# frames to the host for `ffmpeg -hwaccel cuda ... -vf hwdownload,format=nv12`.
FILTERS="null scale format hwdownload nullsink"

CONFIGURE_ARGS=(
    --prefix="$PREFIX"
    --disable-everything --enable-static --disable-shared --enable-pic
    --disable-programs --enable-ffmpeg --disable-doc --disable-debug
    --disable-autodetect --enable-pthreads
    --enable-ffnvcodec --enable-nvdec --enable-cuvid --enable-cuda
    --enable-network --enable-swscale --enable-avfilter
)
for c in $DEMUXERS;  do CONFIGURE_ARGS+=(--enable-demuxer="$c");  done
for c in $DECODERS;  do CONFIGURE_ARGS+=(--enable-decoder="$c");  done
for c in $HWACCELS;  do CONFIGURE_ARGS+=(--enable-hwaccel="$c");  done
for c in $PARSERS;   do CONFIGURE_ARGS+=(--enable-parser="$c");   done
for c in $BSFS;      do CONFIGURE_ARGS+=(--enable-bsf="$c");      done
for c in $PROTOCOLS; do CONFIGURE_ARGS+=(--enable-protocol="$c"); done
for c in $MUXERS;    do CONFIGURE_ARGS+=(--enable-muxer="$c");    done
for c in $ENCODERS;  do CONFIGURE_ARGS+=(--enable-encoder="$c");  done
for c in $FILTERS;   do CONFIGURE_ARGS+=(--enable-filter="$c");   done
CONFIGURE_LINE="${CONFIGURE_ARGS[*]}"
# Bump when the steps after `make install` change, so existing builds are redone.
RECIPE_REV=2
STAMP="$CONFIGURE_LINE (recipe $RECIPE_REV)"

if [ "$FORCE" = 0 ] && [ -x "$PREFIX/bin/ffmpeg" ] && [ -f "$PREFIX/.configure-line" ] &&
   [ "$(cat "$PREFIX/.configure-line")" = "$STAMP" ]; then
    info "already built: $PREFIX ($("$PREFIX/bin/ffmpeg" -hide_banner -version | sed -n 1p))"
    exit 0
fi

# --- build dependencies ---------------------------------------------------------------------------------
# nasm: FFmpeg's x86 SIMD (without it CPU decoding is several times slower).
# libffmpeg-nvenc-dev: ffnvcodec headers (header-only; nvcuvid/libcuda are dlopen'ed at run time).
# dpkg-dev: dpkg-source, which apt-get source uses to unpack and patch.
NEED_PKGS=(build-essential pkg-config nasm libffmpeg-nvenc-dev dpkg-dev xz-utils)
missing=()
for p in "${NEED_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$USE_APT" = 1 ] || die "missing Debian packages: ${missing[*]} (run without --no-apt, or install them)"
    [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    info "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } ||
        die "apt-get install ${missing[*]} failed"
fi
pkg-config --exists ffnvcodec || die "pkg-config cannot find ffnvcodec (install libffmpeg-nvenc-dev)"

# --- source ---------------------------------------------------------------------------------------------
# deb-src entries are a copy of the deb entries already configured (deb822 *.sources and one-line *.list),
# written once to a file of our own; the machine's own files are not edited.
enable_deb_src() {
    local out=/etc/apt/sources.list.d/panoptes-deb-src.sources tmp f
    [ -f "$out" ] && return 0
    tmp="$(mktemp)"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        [ "$f" = "$out" ] && continue
        grep -q 'deb.debian.org\|debian-security\|/debian' "$f" || continue
        # every stanza with "Types: deb" becomes the same stanza with "Types: deb-src"
        awk 'BEGIN{RS=""; ORS="\n\n"} /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp"
    done
    if [ -f /etc/apt/sources.list ]; then
        grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list | grep -E 'debian' |
            sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' >"$tmp.list" || true
        if [ -s "$tmp.list" ]; then
            cp "$tmp.list" /etc/apt/sources.list.d/panoptes-deb-src.list
        fi
        rm -f "$tmp.list"
    fi
    if [ -s "$tmp" ]; then
        cp "$tmp" "$out"
    elif [ ! -f /etc/apt/sources.list.d/panoptes-deb-src.list ]; then
        rm -f "$tmp"
        die "found no Debian 'deb' entries in /etc/apt to copy as deb-src"
    fi
    rm -f "$tmp"
    info "wrote deb-src entries: $out"
    apt-get update -qq || die "apt-get update failed after adding deb-src entries"
}

src_tree() { find "$SRC_DIR" -maxdepth 1 -mindepth 1 -type d -name 'ffmpeg-*' 2>/dev/null | sort | tail -1; }

mkdir -p "$SRC_DIR"
FFSRC="$(src_tree)"
if [ -z "$FFSRC" ] || [ ! -x "$FFSRC/configure" ]; then
    [ "$USE_APT" = 1 ] || die "no FFmpeg source in $SRC_DIR and --no-apt given"
    [ "$(id -u)" = 0 ] || die "apt-get source needs root for the deb-src entries (or unpack ffmpeg source into $SRC_DIR)"
    enable_deb_src
    info "fetching Debian's ffmpeg source into $SRC_DIR"
    (cd "$SRC_DIR" && apt-get source ffmpeg) ||
        { apt-get update -qq && (cd "$SRC_DIR" && apt-get source ffmpeg); } ||
        die "apt-get source ffmpeg failed (are deb-src entries reachable? see /etc/apt/sources.list.d/panoptes-deb-src.sources)"
    FFSRC="$(src_tree)"
    [ -n "$FFSRC" ] && [ -x "$FFSRC/configure" ] || die "apt-get source ffmpeg did not leave a source tree in $SRC_DIR"
fi
info "source: $FFSRC"

# --- configure, build, install --------------------------------------------------------------------------
START=$(date +%s)
rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
info "configure: $CONFIGURE_LINE"
"$FFSRC/configure" "${CONFIGURE_ARGS[@]}" >configure.out 2>&1 ||
    { tail -30 configure.out >&2; tail -40 ffbuild/config.log >&2 || true
      die "configure failed; see $BUILD_DIR/configure.out and ffbuild/config.log"; }
for must in ffnvcodec nvdec cuvid cuda h264_nvdec_hwaccel hevc_nvdec_hwaccel; do
    # (FFmpeg >= 5.1 keeps component switches in config_components.h)
    grep -Eqh "^#define CONFIG_$(echo "$must" | tr a-z A-Z) 1" config.h config_components.h ||
        die "configure did not enable '$must' (check $BUILD_DIR/ffbuild/config.log)"
done
info "make -j$JOBS (several minutes)"
make -j"$JOBS" >make.out 2>&1 || { tail -40 make.out >&2; die "make failed; see $BUILD_DIR/make.out"; }
rm -rf "$PREFIX"
make install >install.out 2>&1 || { tail -20 install.out >&2; die "make install failed"; }

# The ffnvcodec headers travel with the build: the GPU machine has no libffmpeg-nvenc-dev.
NVINC="$(pkg-config --variable=includedir ffnvcodec)/ffnvcodec"
[ -d "$NVINC" ] || die "ffnvcodec headers not found at $NVINC"
mkdir -p "$PREFIX/include/ffnvcodec" "$PREFIX/lib/pkgconfig"
cp "$NVINC"/*.h "$PREFIX/include/ffnvcodec/"
cp "$(pkg-config --variable=pcfiledir ffnvcodec)/ffnvcodec.pc" "$PREFIX/lib/pkgconfig/ffnvcodec.pc"

# Relocatable .pc files: FFmpeg writes absolute paths, but the prefix is carried to another machine (and
# another folder). pkg-config (pkgconf, Debian 12 and Ubuntu 24.04) knows ${pcfiledir}, the .pc file's folder.
for pc in "$PREFIX"/lib/pkgconfig/*.pc; do
    sed -i -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' \
           -e 's|^exec_prefix=.*|exec_prefix=${prefix}|' \
           -e 's|^libdir=.*|libdir=${prefix}/lib|' \
           -e 's|^includedir=.*|includedir=${prefix}/include|' "$pc"
done
END=$(date +%s)
echo "$((END - START))" >"$PREFIX/.build-seconds"

# --- check ----------------------------------------------------------------------------------------------
"$PREFIX/bin/ffmpeg" -hide_banner -version | sed -n 1p
bad="$(ldd "$PREFIX/bin/ffmpeg" | grep -Ev 'linux-vdso|ld-linux|lib(c|m|pthread|dl|rt)\.so' || true)"
[ -z "$bad" ] || die "bin/ffmpeg has dynamic dependencies beyond glibc: $bad"

# The libraries link statically into a C program (the way Panoptes uses them) and decode with it.
cat >linktest.c <<'CSRC'
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
/* linktest [FILE]: open FILE with libavformat, decode its best video stream with libavcodec, count frames. */
int main(int argc, char **argv)
{
    if (argc < 2) { printf("libavformat %s\n", AV_STRINGIFY(LIBAVFORMAT_VERSION)); return 0; }
    AVFormatContext *fmt = NULL;
    int err = avformat_open_input(&fmt, argv[1], NULL, NULL);
    if (err < 0) { fprintf(stderr, "%s: %s\n", argv[1], av_err2str(err)); return 2; }
    if (avformat_find_stream_info(fmt, NULL) < 0) return 3;
    const AVCodec *codec = NULL;
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vs < 0) return 4;
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[vs]->codecpar);
    if (avcodec_open2(dec, codec, NULL) < 0) return 5;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    long frames = 0;
    for (int eof = 0; !eof;) {
        eof = av_read_frame(fmt, pkt) < 0;
        if (!eof && pkt->stream_index != vs) { av_packet_unref(pkt); continue; }
        avcodec_send_packet(dec, eof ? NULL : pkt);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, frame) == 0) frames++;
    }
    printf("%s: %s %dx%d, %ld frames\n", argv[1], codec->name, dec->width, dec->height, frames);
    av_frame_free(&frame); av_packet_free(&pkt); avcodec_free_context(&dec); avformat_close_input(&fmt);
    return 0;
}
CSRC
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -o linktest linktest.c \
    $(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --static --cflags --libs libavformat libavcodec libavutil) ||
    die "a C program does not link against the static libraries (see $BUILD_DIR/linktest.c)"
./linktest >/dev/null || die "the statically linked test program does not run"
if [ -f "$REPO/data/vtest.mp4" ]; then
    info "$(./linktest "$REPO/data/vtest.mp4")" || die "the statically linked test program cannot decode data/vtest.mp4"
fi
echo "$STAMP" >"$PREFIX/.configure-line"   # last: only a build that passed its checks counts as done
info "built in $((END - START)) s into $PREFIX"
ldd "$PREFIX/bin/ffmpeg"
