#!/usr/bin/env bash
# Before/after on the cpu backend: builds `panoptes` at a base revision (default: the last commit
# before the pipeline became an object) and at a head revision (default: the working tree), both
# Release without sanitizers,
# then runs them in turns (A B A B ...) on the sample with detection and tracking, and prints JSON:
# each side's median frames/s and host CPU ms/frame and the ratios after/before.
#
#   bash bench/before_after.sh [--base REV] [--head REV] [--runs N] [--frames N] [-- extra run options]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE=0161be4
HEAD_REV=
RUNS=5
FRAMES=300
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE=$2; shift 2 ;;
        --head) HEAD_REV=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --frames) FRAMES=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "before_after: unknown option $1" >&2; exit 2 ;;
    esac
done
EXTRA=("$@")
WORK=$(mktemp -d)
trap 'git -C "$REPO" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
      git -C "$REPO" worktree remove --force "$WORK/head" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git -C "$REPO" worktree add --detach "$WORK/base" "$BASE" >/dev/null 2>&1
HEAD_SRC="$REPO"
if [ -n "$HEAD_REV" ]; then
    git -C "$REPO" worktree add --detach "$WORK/head" "$HEAD_REV" >/dev/null 2>&1
    HEAD_SRC="$WORK/head"
fi
build() { # src build-dir
    cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPANOPTES_CUDA=OFF >/dev/null
    ninja -C "$2" panoptes-cli >/dev/null
}
build "$WORK/base" "$WORK/build-before" >&2
build "$HEAD_SRC" "$WORK/build-after" >&2
cd "$REPO"
for i in $(seq "$RUNS"); do
    for side in before after; do
        "$WORK/build-$side/panoptes" run --backend cpu --camera data/vtest.mp4 --model models/nanodet.json \
            --max-frames "$FRAMES" --out /dev/null --summary-json "$WORK/$side-$i.json" --quiet "${EXTRA[@]}" 2>/dev/null
    done
done
/usr/bin/python3 - "$WORK" "$RUNS" "$BASE" "${HEAD_REV:-working tree at $(git rev-parse --short HEAD)}" "$FRAMES" <<'PY'
import json, statistics, sys, platform, os
work, runs, base, head, frames = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
out = {"bench": "before_after", "base": base, "head": head, "frames": frames, "runs": runs,
       "cpus": os.cpu_count(), "machine": platform.node()}
for side in ("before", "after"):
    rows = [json.load(open(f"{work}/{side}-{i}.json")) for i in range(1, runs + 1)]
    out[side] = {"fps": [r["fps"] for r in rows], "cpu_ms_per_frame": [r["cpu_ms_per_frame"] for r in rows],
                 "fps_median": statistics.median(r["fps"] for r in rows),
                 "cpu_ms_per_frame_median": statistics.median(r["cpu_ms_per_frame"] for r in rows)}
out["fps_ratio"] = out["after"]["fps_median"] / out["before"]["fps_median"]
out["cpu_ratio"] = out["after"]["cpu_ms_per_frame_median"] / out["before"]["cpu_ms_per_frame_median"]
print(json.dumps(out, indent=1))
PY
