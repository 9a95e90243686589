"""No leak over 10,000 results, in Python objects (tracemalloc) or in the C side (resident memory):
synthetic results with detections and tracks through the hand-off and the conversion, and a real
pipeline delivering 10,000 decoded frames."""
import gc
import tracemalloc

import panoptes

N = 10_000
WARMUP = 1_000


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def touch(r):
    """What a program does with a result: read the arrays, write one back as JSON."""
    n = int((r.classes == 0).sum()) + len(r.labels) + len(r.track_states)
    n += int(r.boxes.sum() >= 0) + int(r.track_ids.sum() >= 0) + len(r.to_json())
    return n


def measure(results):
    """Consumes the results; memory is read after WARMUP and at the end."""
    gc.collect()
    tracemalloc.start()
    base_py = base_rss = None
    count = 0
    for r in results:
        touch(r)
        count += 1
        del r
        if count == WARMUP:
            gc.collect()
            base_py, base_rss = tracemalloc.get_traced_memory()[0], rss_kib()
    gc.collect()
    grown_py = tracemalloc.get_traced_memory()[0] - base_py
    tracemalloc.stop()
    return count, grown_py, rss_kib() - base_rss


def test_no_leak_over_10000_synthetic_results():
    p = panoptes.Pipeline([], backend="cpu", detect=False, queue_size=4)
    p.start()
    it = iter(p)

    def results():
        for i in range(N):
            p._inject(i % 3, i, 12, 7)  # 12 detections, 7 tracks, odd cameras named
            yield next(it)

    count, grown_py, grown_rss = measure(results())
    p.stop()
    assert count == N
    # a leaked result would cost about 1 KiB (its arrays) plus its Python objects: 9 MiB over 9,000
    assert grown_py < 64 * 1024, f"Python memory grew by {grown_py} bytes over {N - WARMUP} results"
    assert grown_rss < 3 * 1024, f"resident memory grew by {grown_rss} KiB over {N - WARMUP} results"
    assert p.stats()["results"]["taken"] == N


def test_no_leak_over_10000_pipeline_results(small_clip):
    with panoptes.Pipeline([small_clip], backend="cpu", detect=False, loop=True, max_frames=N) as p:
        count, grown_py, grown_rss = measure(p)
        s = p.stats()
    assert count == N and s["results"]["taken"] == N
    assert grown_py < 64 * 1024, f"Python memory grew by {grown_py} bytes over {N - WARMUP} results"
    assert grown_rss < 3 * 1024, f"resident memory grew by {grown_rss} KiB over {N - WARMUP} results"
