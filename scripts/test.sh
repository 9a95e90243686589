#!/usr/bin/env bash
# Installs everything the tests need (scripts/setup.sh), builds Panoptes with AddressSanitizer +
# UndefinedBehaviorSanitizer, and runs the whole test suite with ctest. GPU tests skip cleanly
# (ctest reports them as skipped) on machines without an NVIDIA GPU.
#
#   scripts/test.sh [--no-setup] [ctest arguments...]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# --quick: the tests need the 768x576 clips only (the 1080p ones serve the GPU benchmarks).
if [ "${1:-}" = "--no-setup" ]; then shift; else bash scripts/setup.sh --quick; fi

BUILD="$REPO/build-test"
# The sanitizer build is cpu-only: nvcc does not take ASan flags, and CI has no GPU to run CUDA code.
# scripts/gpu-build.sh builds and scripts/gpu-run.sh runs the cuda backend and its tests on a GPU machine.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPANOPTES_SANITIZE=ON -DPANOPTES_CUDA=OFF >/dev/null
ninja -C "$BUILD"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export PANOPTES_LOG="${PANOPTES_LOG:-warn}"
cd "$BUILD"
ctest --output-on-failure -j2 "$@"

# The Python package (python/, issue #21): pip builds it into a temporary venv (its own non-sanitized
# PIC build of the library, build-python/) and pytest checks it, against the CLI of that same build.
# Part of the whole suite only: ctest arguments that pick tests leave it out.
if [ $# -eq 0 ]; then bash "$REPO/python/tests/run.sh"; fi
