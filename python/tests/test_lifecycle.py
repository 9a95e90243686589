"""The pipeline's life from Python: cameras added and removed while iterating, Ctrl-C, callbacks,
stop, and what happens when Python falls behind (recorded cameras wait, live ones drop, counted)."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import panoptes

HANG_GUARD_S = 120  # not a timing limit: only keeps a hung pipeline from hanging the suite


def test_add_and_remove_camera_while_iterating(small_clip):
    events = []
    order = []  # (camera, frame) in the order Python got them
    extra = removed_at = gone_at = None
    with panoptes.Pipeline([small_clip], backend="cpu", detect=False, loop=True, on_camera=events.append) as p:
        deadline = time.monotonic() + HANG_GUARD_S
        for r in p:
            assert time.monotonic() < deadline
            order.append((r.camera, r.frame))
            n0 = sum(1 for c, _ in order if c == 0)
            n1 = len(order) - n0
            if extra is None and n0 == 20:
                extra = p.add_camera(small_clip, name="extra")
            if extra is not None and removed_at is None and n1 == 20:
                p.remove_camera(extra)
                removed_at = len(order)
            if gone_at is None and any(e.camera == extra and e.state == "removed" for e in events):
                gone_at = len(order)  # on_camera ran before this frame was handed out
            if gone_at is not None and len(order) >= gone_at + 20:
                break
        stats = p.stats()
        with pytest.raises(KeyError):
            p.remove_camera(extra)  # already removed
    assert extra == 1
    cam1 = [f for c, f in order if c == 1]
    assert cam1 == list(range(len(cam1))) and len(cam1) >= 20, "the added camera: from its first frame, in order"
    assert all(c == 0 for c, _ in order[gone_at - 1:]), "nothing from camera 1 after `removed`"
    assert [e.state for e in events if e.camera == 1][-2:] == ["stopped", "removed"]
    assert [c["id"] for c in stats["cameras"]] == [0], "a removed camera leaves the stats"
    cam0 = [f for c, f in order if c == 0]
    assert cam0 == list(range(len(cam0))), "camera 0 went on, every frame in order"


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raising KeyboardInterrupt, as in a terminal: a process started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python then installs no handler for it."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_keyboard_interrupt_during_iteration_stops_cleanly(small_clip, ctrl_c_raises):
    # realtime (25 frames/s): the iterating thread spends its time waiting inside the module, where
    # the signal must reach it
    p = panoptes.Pipeline([small_clip], backend="cpu", detect=False, loop=True, realtime=True)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    n = 0
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with p:
            timer.start()
            for _ in p:
                n += 1
                assert time.monotonic() - t0 < HANG_GUARD_S
    timer.join()
    s = p.stats()
    assert n > 0 and not s["running"]
    assert s["cameras"][0]["state"] == "stopped"
    rest = list(p)  # what was decoded before the stop, then the end
    assert list(p) == [] and len(rest) <= 3


def test_keyboard_interrupt_in_a_script(small_clip, tmp_path):
    """Ctrl-C on a script that iterates without `with`: KeyboardInterrupt, and the process ends (the
    pipeline is stopped by its owner going away), with no crash and no hang."""
    script = tmp_path / "ctrl_c.py"
    script.write_text(textwrap.dedent(f"""
        import signal, sys, panoptes
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (see ctrl_c_raises)
        p = panoptes.Pipeline([{small_clip!r}], backend="cpu", detect=False, loop=True, realtime=True)
        for i, r in enumerate(p):
            if i == 3:
                print("iterating", flush=True)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PANOPTES_LOG="warn"))
    assert proc.stdout.readline().strip() == "iterating"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the script did not end after Ctrl-C")
    assert "KeyboardInterrupt" in err, err
    assert proc.returncode in (1, -signal.SIGINT, 128 + signal.SIGINT), (proc.returncode, err)
    assert "Segmentation" not in err and "Abort" not in err


def test_callbacks_run_and_events(small_clip):
    frames, events = [], []
    p = panoptes.Pipeline([(small_clip, "cam")], backend="cpu", detect=False, max_frames=50,
                          on_frame=lambda r: frames.append((r.camera, r.name, r.frame)), on_camera=events.append)
    stats = p.run()
    assert frames == [(0, "cam", i) for i in range(50)]
    assert [e.state for e in events] == ["connecting", "live", "ended"]
    assert events[-1].uri == small_clip and events[-1].name == "cam" and events[-1].status_name == "PAN_OK"
    assert stats["frames"] == 50 and not stats["running"] and stats["results"]["taken"] == 50
    assert p.events() == [], "events went to on_camera"


def test_exception_in_callback_stops_and_propagates(small_clip):
    def on_frame(r):
        if r.frame == 5:
            raise RuntimeError("stop here")
    p = panoptes.Pipeline([small_clip], backend="cpu", detect=False, loop=True, on_frame=on_frame)
    with pytest.raises(RuntimeError, match="stop here"):
        p.run()
    assert not p.stats()["running"]


def test_stop_then_iterate_what_is_left(small_clip):
    p = panoptes.Pipeline([small_clip], backend="cpu", detect=False, loop=True, queue_size=8)
    p.start()
    time.sleep(0.3)  # the queue fills; the file camera waits
    p.stop()
    rest = [r.frame for r in p]
    assert rest == list(range(len(rest))) and len(rest) >= 8, "every decoded frame was delivered, in order"
    assert [e.state for e in p.events()][-1] == "stopped"
    with pytest.raises(panoptes.Error, match="stopped"):
        p.add_camera(small_clip)
    with pytest.raises(panoptes.Error):
        p.start()


def test_recorded_camera_waits_for_python(small_clip):
    with panoptes.Pipeline([small_clip], backend="cpu", detect=False, max_frames=100, queue_size=2) as p:
        time.sleep(0.5)  # Python is "busy": the delivery thread waits, nothing is dropped
        frames = [r.frame for r in p]
        s = p.stats()
    assert frames == list(range(100))
    assert s["results"]["dropped"] == 0 and s["results"]["blocked_s"] > 0, "it waited instead of dropping"
    assert s["results"]["max_queued"] <= 2


def test_live_camera_drops_when_python_falls_behind(small_clip):
    # realtime: a file paced at its frame rate behaves as a live camera (25 frames/s here)
    with panoptes.Pipeline([small_clip], backend="cpu", detect=False, realtime=True, queue_size=2) as p:
        time.sleep(1.5)  # about 37 frames arrive while Python is away; 2 can wait
        frames = []
        for r in p:
            frames.append(r.frame)
            if len(frames) == 10:
                break
        s = p.stats()
    assert s["cameras"][0]["live"]
    assert s["results"]["dropped"] >= 20, s["results"]
    assert s["cameras"][0]["results_dropped"] == s["results"]["dropped"]
    assert s["results"]["blocked_s"] == 0, "a live camera never waits for Python"
    # the oldest were dropped: what was left waiting is the newest, and frames go on from there
    assert frames[0] >= 20 and frames == sorted(frames), frames


def test_pipelines_side_by_side(small_clip):
    a = panoptes.Pipeline([small_clip], backend="cpu", detect=False, max_frames=30)
    b = panoptes.Pipeline([small_clip, small_clip], backend="cpu", detect=False, max_frames=20)
    with a, b:
        ra = [r.frame for r in a]
        rb = sorted((r.camera, r.frame) for r in b)
    assert ra == list(range(30))
    assert rb == [(c, i) for c in (0, 1) for i in range(20)]


def test_io_threads_serve_many_cameras(small_clip):
    with panoptes.Pipeline([small_clip] * 12, backend="cpu", detect=False, max_frames=10, io_threads=3) as p:
        got = sorted((r.camera, r.frame) for r in p)
        stats = p.stats()
    assert got == [(c, i) for c in range(12) for i in range(10)]
    assert stats["io_threads"] == 3 and stats["connect_threads"] == 3


def test_a_camera_queue_of_one_delivers_every_frame(small_clip):
    with panoptes.Pipeline([small_clip] * 3, backend="cpu", detect=False, max_frames=15, camera_queue=1) as p:
        got = sorted((r.camera, r.frame) for r in p)
    assert got == [(c, i) for c in range(3) for i in range(15)]


def test_gil_is_released_while_the_engine_works(model, small_clip):
    """Another Python thread runs while this one loads a model and waits for the frames."""
    ticks = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        seen = []
        for step in ("create", "wait"):
            before = ticks[0]
            if step == "create":  # loads NanoDet: seconds of C work
                p = panoptes.Pipeline([small_clip], backend="cpu", model=model, max_frames=3, queue_size=0)
            else:
                assert p.wait(timeout=HANG_GUARD_S)
            seen.append((step, ticks[0] - before))
        p.stop()
    finally:
        done.set()
        t.join()
    assert all(n > 0 for _, n in seen), seen
