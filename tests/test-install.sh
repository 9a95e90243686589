#!/usr/bin/env bash
# The library as users get it: `cmake --install` puts the library, the public headers, panoptes.pc
# and the CMake package in a prefix; examples/embed.c is built out of tree against it through
# pkg-config (and through find_package), and runs on the sample: one line per frame, a camera added
# and removed while it runs, a clean stop on SIGINT.
set -u
BUILD="${PANOPTES_BUILD:?set by ctest}"
SAMPLE=data/vtest.mp4
[ -f "$SAMPLE" ] && [ -f models/nanodet.json ] || { echo "skipped: run scripts/setup.sh (sample or model missing)"; exit 77; }
command -v pkg-config >/dev/null || { echo "skipped: no pkg-config"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0; passed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

cmake --install "$BUILD" --prefix "$TMP/prefix" >"$TMP/install.txt" 2>&1; rc=$?
check "cmake --install" '[ $rc -eq 0 ]'
check "library, headers, pkg-config file and CMake package installed" '[ -f "$TMP/prefix/lib/libpanoptes.a" ] &&
    [ -f "$TMP/prefix/include/panoptes/pipeline.h" ] && [ -f "$TMP/prefix/lib/pkgconfig/panoptes.pc" ] &&
    [ -f "$TMP/prefix/lib/cmake/panoptes/panoptesConfig.cmake" ] && [ -x "$TMP/prefix/bin/panoptes" ]'
check "no internal header installed" '[ ! -e "$TMP/prefix/include/panoptes/queue.h" ] && [ ! -e "$TMP/prefix/include/core" ]'
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
check "pkg-config knows the version" '[ "$(pkg-config --modversion panoptes)" = "$(sed -n "s/^#define PAN_VERSION_STRING \"\(.*\)\"/\1/p" include/panoptes/version.h)" ]'
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror examples/embed.c $(pkg-config --cflags --libs panoptes) -o "$TMP/embed" 2>"$TMP/cc.txt"; rc=$?
[ $rc -eq 0 ] || cat "$TMP/cc.txt"
check "examples/embed.c builds out of tree through pkg-config" '[ $rc -eq 0 ]'

if [ -x "$TMP/embed" ]; then
    "$TMP/embed" "$SAMPLE" >"$TMP/out.txt" 2>"$TMP/err.txt" &
    pid=$!
    # the extra camera comes at 2 s and goes at 4 s; stop once it has gone (or after 60 s)
    for _ in $(seq 600); do grep -q "removed camera" "$TMP/err.txt" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    kill -INT $pid
    wait $pid; rc=$?
    check "embed stops cleanly on SIGINT" '[ $rc -eq 0 ]'
    check "one line per frame, people counted" 'python3 - "$TMP/out.txt" <<PY
import re, sys
rows = [l.split() for l in open(sys.argv[1])]
assert rows and all(len(r) == 3 and re.fullmatch(r"persons=\d+", r[2]) for r in rows), rows[:3]
cam0 = [int(r[1]) for r in rows if r[0] == "0"]
assert cam0 == list(range(len(cam0))) and len(cam0) > 5, cam0[:10]
assert max(int(r[2][8:]) for r in rows) >= 3
assert any(r[0] == "1" for r in rows), "the added camera delivered frames"
PY'
    check "the extra camera was added, removed and said so" 'grep -q "added camera 1" "$TMP/err.txt" &&
        grep -q "camera 1 .*: removed" "$TMP/err.txt" && grep -q "frames/s" "$TMP/err.txt"'
fi

# the same program through the CMake package
cmake -S examples -B "$TMP/ex" -G Ninja -DCMAKE_PREFIX_PATH="$TMP/prefix" >"$TMP/cm.txt" 2>&1 &&
    cmake --build "$TMP/ex" >>"$TMP/cm.txt" 2>&1; rc=$?
[ $rc -eq 0 ] || tail -20 "$TMP/cm.txt"
check "examples/ builds through find_package(panoptes)" '[ $rc -eq 0 ] && [ -x "$TMP/ex/embed" ]'

echo "$passed passed, $fail failed"
[ $fail -eq 0 ]
