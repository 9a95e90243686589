"""examples/count_people.py: people per camera, one line per interval, totals at the end."""
import os
import re
import subprocess
import sys


def test_count_people_example(repo, sample, model, small_clip):
    script = os.path.join(repo, "examples", "count_people.py")
    out = subprocess.run([sys.executable, script, "--backend", "cpu", "--max-frames", "12", "--interval", "0.2",
                          f"door={sample}", small_clip], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PANOPTES_LOG="warn"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    ticks = [l for l in lines if re.match(r"\d\d:\d\d:\d\d  ", l)]
    assert ticks and all("frames/s" in l for l in ticks), lines
    assert "door: " in ticks[-1] and "camera 1: " in ticks[-1], ticks
    assert re.search(r"door: \d+ in view, [1-9]\d* seen", ticks[-1]), ticks[-1]
    assert lines[-2].startswith("camera 0 (") and "12 frames" in lines[-2] and lines[-2].endswith("ended")
    assert lines[-1].startswith("camera 1 (") and "0 people seen" in lines[-1]
