#!/usr/bin/env python3
"""What Python costs per frame: the same run on the same input, in turns, with the results kept in C
(the pipeline's consumer is a C callback that counts frames: queue_size=0) and taken by Python (each
frame copied on the delivery thread, queued, turned into a FrameResult with NumPy arrays, and read by
a small loop: people and tracks counted). Prints one JSON object.

    python3 python/bench_overhead.py [--backend cpu] [--frames 300] [--rounds 3] [--paired 3] [--camera URI]

Two comparisons: separate runs in turns (frames/s each), and paired runs, where both pipelines run
at once in one process on the same input, so that other load on the machine slows both alike (the
frames one has done when the other finishes give the ratio). Figures per run: frames/s over the whole run and in the steady state (after the first 2 s), process
CPU ms per frame, and for Python runs the iterating thread's CPU ms per frame (queue, conversion and
the loop body) and the conversion alone (us per frame, wall clock). `micro` times each side of the
hand-off without a pipeline, on synthetic results of the sample's mean size (8 detections, 5 tracks),
of none and of 100 detections and 60 tracks: the C callback, the copy and queueing on the delivery
thread, the taking and conversion in Python, to_json.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import panoptes


def run_once(mode, args):
    kw = dict(backend=args.backend, max_frames=args.frames, queue_size=0 if mode == "c" else 64)
    p = panoptes.Pipeline([args.camera], **kw)  # loads the model on this thread: not counted below
    frames = people = tracks = 0
    t_cpu = time.thread_time()
    with p:
        if mode == "c":
            p.wait()
        else:
            for r in p:
                frames += 1
                people += int((r.classes == 0).sum())
                tracks += len(r.track_ids)
        py_cpu = time.thread_time() - t_cpu
        s = p.stats()
    res = s["results"]
    out = {
        "mode": mode,
        "frames": s["frames"],
        # the pipeline's delivery thread (detection, tracking, consumers), CPU ms per frame
        "delivery_cpu_ms_per_frame": round(s["cpu_ms_per_frame_delivery"], 3),
        "fps": round(s["fps"], 3),
        "steady_fps": round(s["steady_fps"], 3),
        "cpu_ms_per_frame": round(s["cpu_ms_per_frame"], 3),
        "steady_cpu_ms_per_frame": round(s["steady_cpu_ms_per_frame"], 3),
    }
    if mode == "python":
        out.update({
            "python_thread_ms_per_frame": round(py_cpu * 1e3 / max(frames, 1), 4),
            "convert_us_per_frame": round(res["convert_s"] * 1e6 / max(res["converted"], 1), 2),
            "delivery_blocked_s": round(res["blocked_s"], 3),
            "max_queued": res["max_queued"],
            "people": people,
            "tracks": tracks,
        })
    return out


def paired(args, c_first):
    """The C callback and Python on the same input at the same time, in one process: whatever else
    the machine runs slows both alike. When the first of the two has done its frames, the frames the
    other has done say how their speeds compare."""
    kw = dict(backend=args.backend, max_frames=args.frames)
    c = panoptes.Pipeline([args.camera], queue_size=0, **kw)
    p = panoptes.Pipeline([args.camera], queue_size=64, **kw)
    first = (c, p) if c_first else (p, c)
    first[0].start()
    first[1].start()
    n_py = 0
    at_c_end = None  # Python's frames when the C pipeline finished
    for r in p:
        n_py += 1
        if at_c_end is None and n_py % 5 == 0 and c.stats()["frames"] >= args.frames:
            at_c_end = n_py
    c_frames_at_py_end = c.stats()["frames"]
    c.wait()
    c.stop()
    p.stop()
    if at_c_end is not None and at_c_end < args.frames:  # C finished first
        ratio = at_c_end / args.frames
    else:  # Python finished first (or both within 5 frames)
        ratio = args.frames / max(c_frames_at_py_end, 1)
    return {"c_started_first": c_first, "python_over_c": round(ratio, 4),
            "python_frames_when_c_done": at_c_end, "c_frames_when_python_done": c_frames_at_py_end}


def micro(n, dets, trks, batch=1000):
    """The consumer's side of one frame without a pipeline, on synthetic results of a given size:
    `c_callback_us` hands each to a C callback (queue_size=0: counted), `handoff_us` to the Python
    queue (copied and queued: what runs on the delivery thread), `take_us` takes each from Python
    (popped and turned into a FrameResult), `to_json_us` writes one back; medians over rounds of
    `batch`. `_inject` calls the consumer as the delivery thread does; building its synthetic
    result and its Python call cost the same in both first figures."""
    c = panoptes.Pipeline([], detect=False, queue_size=0)
    p = panoptes.Pipeline([], detect=False, queue_size=batch)
    c.start()
    p.start()
    it = iter(p)
    t = {"c": [], "handoff": [], "take": [], "json": []}  # per round, us per result
    rounds = max(n // batch, 1)

    def c_loop():
        t0 = time.perf_counter()
        for i in range(batch):
            c._inject(0, i, dets, trks)
        return (time.perf_counter() - t0) * 1e6 / batch

    def handoff_loop():
        t0 = time.perf_counter()
        for i in range(batch):
            p._inject(0, i, dets, trks)
        return (time.perf_counter() - t0) * 1e6 / batch

    for k in range(rounds + 1):  # round 0 warms up; the order of the first two alternates
        if k % 2:
            tc, th = c_loop(), handoff_loop()
        else:
            th, tc = handoff_loop(), c_loop()
        t0 = time.perf_counter()
        results = [next(it) for _ in range(batch)]
        t1 = time.perf_counter()
        for r in results:
            r.to_json()
        t2 = time.perf_counter()
        del results
        if k:
            t["c"].append(tc)
            t["handoff"].append(th)
            t["take"].append((t1 - t0) * 1e6 / batch)
            t["json"].append((t2 - t1) * 1e6 / batch)
    c.stop()
    p.stop()
    us = {k: round(statistics.median(v), 3) for k, v in t.items()}
    return {"results": rounds * batch, "detections": dets, "tracks": trks, "c_callback_us": us["c"],
            "handoff_us": us["handoff"], "handoff_extra_us": round(us["handoff"] - us["c"], 3),
            "take_us": us["take"], "to_json_us": us["json"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--frames", type=int, default=300, help="frames per run (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of one C and one Python run (default 3)")
    ap.add_argument("--paired", type=int, default=3,
                    help="rounds with both pipelines running at once on the same input (default 3)")
    ap.add_argument("--camera", default=panoptes.find_asset("data/vtest.mp4"))
    ap.add_argument("--micro", type=int, default=20000, help="synthetic results for the micro benchmark")
    args = ap.parse_args()
    if not args.camera:
        sys.exit("bench_overhead: data/vtest.mp4 missing: run scripts/setup.sh or pass --camera")

    runs = []
    for k in range(args.rounds):
        order = ("c", "python") if k % 2 == 0 else ("python", "c")  # alternate: drift hits both alike
        for mode in order:
            runs.append(dict(run_once(mode, args), round=k))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)

    def med(mode, key):
        return statistics.median(r[key] for r in runs if r["mode"] == mode)

    pairs = []
    for k in range(args.paired):
        pairs.append(paired(args, k % 2 == 0))
        print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)

    ratios = []
    for k in range(args.rounds):
        c = next(r for r in runs if r["round"] == k and r["mode"] == "c")
        py = next(r for r in runs if r["round"] == k and r["mode"] == "python")
        ratios.append(round(py["steady_fps"] / c["steady_fps"], 4) if c["steady_fps"] else None)
    py_ms = med("python", "python_thread_ms_per_frame")
    micros = [micro(args.micro, 8, 5), micro(args.micro, 0, 0), micro(args.micro // 4, 100, 60)]
    # What Python adds to the pipeline's work per frame, as a share of it: the hand-off on the
    # delivery thread beyond a C callback's (micro, the sample's mean size: 8 detections, 5 tracks)
    # and the iterating thread's CPU (measured in the runs). Where the CPUs are the limit, frames/s
    # drop by about this share; unlike the frames/s of separate runs it does not depend on what
    # else the machine runs.
    extra_ms = micros[0]["handoff_extra_us"] / 1e3 + py_ms
    summary = {
        "paired_python_over_c": [x["python_over_c"] for x in pairs],
        "paired_python_over_c_median": statistics.median(x["python_over_c"] for x in pairs) if pairs else None,
        "steady_fps_c_median": med("c", "steady_fps"),
        "steady_fps_python_median": med("python", "steady_fps"),
        "steady_fps_ratio_python_over_c_per_round": ratios,
        "steady_fps_ratio_median": statistics.median(r for r in ratios if r is not None) if any(ratios) else None,
        "fps_c_median": med("c", "fps"),
        "fps_python_median": med("python", "fps"),
        "cpu_ms_per_frame_c_median": med("c", "cpu_ms_per_frame"),
        "cpu_ms_per_frame_python_median": med("python", "cpu_ms_per_frame"),
        "delivery_cpu_ms_per_frame_c_median": med("c", "delivery_cpu_ms_per_frame"),
        "delivery_cpu_ms_per_frame_python_median": med("python", "delivery_cpu_ms_per_frame"),
        "python_thread_ms_per_frame_median": py_ms,
        "handoff_extra_us_per_frame": micros[0]["handoff_extra_us"],
        "python_added_ms_per_frame": round(extra_ms, 4),
        "python_added_share_of_pipeline_cpu": round(extra_ms / med("c", "cpu_ms_per_frame"), 6),
        "convert_us_per_frame_median": med("python", "convert_us_per_frame"),
    }
    out = {
        "bench": "python_overhead",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.node()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
        "panoptes": panoptes.__version__,
        "backend": args.backend,
        "camera": args.camera,
        "frames_per_run": args.frames,
        "rounds": args.rounds,
        "runs": runs,
        "paired": pairs,
        "summary": summary,
        "micro": micros,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
