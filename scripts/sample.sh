#!/usr/bin/env bash
# Installs everything (scripts/setup.sh), builds Panoptes, and runs it on the bundled sample:
# people in data/vtest.mp4 detected and tracked, results in out/sample.jsonl. Uses the cuda
# backend where an NVIDIA GPU with NVDEC is usable, the cpu backend otherwise (--backend auto).
#
#   scripts/sample.sh [extra `panoptes run` options, e.g. --max-frames 100]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh --quick
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build panoptes-cli
mkdir -p out
./build/panoptes run --backend auto --out out/sample.jsonl --mot out/mot "$@"
echo "results: out/sample.jsonl (one JSON object per frame), out/mot/ (MOTChallenge tracks)"
