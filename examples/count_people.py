#!/usr/bin/env python3
"""Counts the people each camera sees with the panoptes Python package; one line per second:

    10:11:12  door: 3 in view, 17 seen | lobby: 1 in view, 4 seen | 24.0 frames/s

"in view" is the number of confirmed person tracks in the camera's latest frame, "seen" the number
of distinct person tracks since the start. Ctrl-C stops cleanly (every decoded frame is still
counted) and prints the totals.

    pip install --no-build-isolation ./python            # once, from the repository
    python3 examples/count_people.py                      # the sample, data/vtest.mp4
    python3 examples/count_people.py door=rtsp://cam1/stream lobby=data/vtest.mp4 --loop --backend cpu
"""
import argparse
import sys
import time

import panoptes


def parse_camera(arg):
    """NAME=URI names a camera; a URI alone (rtsp://..., a path) is unnamed."""
    name, sep, uri = arg.partition("=")
    if sep and name and not any(c in name for c in ":/\\."):
        return (uri, name)
    return arg


def main():
    ap = argparse.ArgumentParser(description="People per camera, one line per second.")
    ap.add_argument("cameras", nargs="*", help="URIs or NAME=URI (default: the sample data/vtest.mp4)")
    ap.add_argument("--backend", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--model", help="detector model (default models/nanodet.json)")
    ap.add_argument("--loop", action="store_true", help="restart files at their end")
    ap.add_argument("--max-frames", type=int, help="stop each camera after N frames")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between lines (default 1)")
    args = ap.parse_args()

    cameras = [parse_camera(c) for c in args.cameras]
    if not cameras:
        sample = panoptes.find_asset("data/vtest.mp4")
        if not sample:
            sys.exit("count_people: no camera given and data/vtest.mp4 is missing (run scripts/setup.sh)")
        cameras = [(sample, "sample")]

    in_view, seen, names = {}, {}, {}
    frames = 0
    p = None

    def line(fps):
        cams = " | ".join(f"{names[c]}: {in_view[c]} in view, {len(seen[c])} seen" for c in sorted(names))
        print(f"{time.strftime('%H:%M:%S')}  {cams or 'no frames yet'} | {fps:.1f} frames/s", flush=True)

    def on_camera(e):
        if e.state in ("failed", "retrying"):
            print(f"camera {e.camera} ({e.uri}): {e.state}: {e.message}", file=sys.stderr, flush=True)

    try:
        with panoptes.Pipeline(cameras, backend=args.backend, model=args.model, classes=["person"],
                               loop=args.loop, max_frames=args.max_frames, on_camera=on_camera) as p:
            t_line = time.monotonic()
            frames_at_line = 0
            for r in p:
                confirmed = [s == "confirmed" for s in r.track_states]
                ids = r.track_ids[confirmed]
                names.setdefault(r.camera, r.name or f"camera {r.camera}")
                in_view[r.camera] = len(ids)
                seen.setdefault(r.camera, set()).update(ids.tolist())
                frames += 1
                now = time.monotonic()
                if now - t_line >= args.interval:
                    line((frames - frames_at_line) / (now - t_line))
                    t_line, frames_at_line = now, frames
    except KeyboardInterrupt:
        print("interrupted: stopped cleanly", file=sys.stderr)
    except panoptes.Error as e:
        sys.exit(f"count_people: {e}")
    if p is None:
        return
    s = p.stats()
    line(s["fps"])
    for c in s["cameras"]:
        print(f"camera {c['id']} ({c['uri']}): {c['frames']} frames, {len(seen.get(c['id'], ()))} people seen, "
              f"{c['state']}" + (f" ({c['error']})" if c["error"] else ""))


if __name__ == "__main__":
    main()
