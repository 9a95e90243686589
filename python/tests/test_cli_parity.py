"""The sample through Python gives what `panoptes run` gives on it: the same JSON Lines, byte for byte,
when each FrameResult is written back, and arrays that hold the same numbers. The CLI is the one built
with the package's own library (same code and flags)."""
import json
import os
import subprocess

import numpy as np

import panoptes

# 0 = the whole sample (795 frames, a few minutes on the cpu backend); the default keeps CI quick
FRAMES = int(os.environ.get("PANOPTES_PY_PARITY_FRAMES", "60"))
NAME = 'door "A" \\ 1'  # quotes and a backslash: JSON escaping must agree too


def run_cli(cli, sample, model, out):
    args = [cli, "run", "--backend", "cpu", "--camera", sample, "--name", NAME, "--model", model,
            "--out", str(out), "--quiet"]
    if FRAMES:
        args += ["--max-frames", str(FRAMES)]
    subprocess.run(args, check=True, env=dict(os.environ, PANOPTES_LOG="warn"))
    return out.read_text().splitlines()


def test_sample_matches_panoptes_run(tmp_path, sample, model, cli):
    expected = run_cli(cli, sample, model, tmp_path / "cli.jsonl")
    kw = {"max_frames": FRAMES} if FRAMES else {}
    got = []
    with panoptes.Pipeline([(sample, NAME)], backend="cpu", model=model, **kw) as p:
        for r in p:
            got.append(r.to_json())
            want = json.loads(expected[len(got) - 1]) if len(got) <= len(expected) else None
            if want is None:
                continue
            # the arrays themselves, not only their JSON
            assert (r.camera, r.name, r.frame, r.width, r.height) == (0, NAME, want["frame"], 768, 576)
            assert r.pts == want["pts"] or abs(r.pts - want["pts"]) < 1e-6
            dets, trks = want["detections"], want["tracks"]
            assert r.boxes.dtype == np.float32 and r.boxes.shape == (len(dets), 4)
            assert r.scores.dtype == np.float32 and r.classes.dtype == np.int32
            assert r.track_ids.dtype == np.int64 and r.track_boxes.shape == (len(trks), 4)
            np.testing.assert_allclose(r.boxes.reshape(-1, 4), np.array([d["box"] for d in dets]).reshape(-1, 4), atol=0.0051)
            np.testing.assert_allclose(r.scores, [d["score"] for d in dets], atol=0.00006)
            assert r.classes.tolist() == [d["class"] for d in dets]
            assert list(r.labels) == [d["label"] for d in dets]
            assert r.track_ids.tolist() == [t["id"] for t in trks]
            assert r.global_ids.tolist() == [t["global_id"] for t in trks]
            assert list(r.track_states) == [t["state"] for t in trks]
            assert list(r.track_labels) == [t["label"] for t in trks]
            np.testing.assert_allclose(r.track_boxes.reshape(-1, 4), np.array([t["box"] for t in trks]).reshape(-1, 4), atol=0.0051)
        stats = p.stats()
    assert len(got) == len(expected) == (FRAMES or 795)
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a == b, f"line {i + 1} differs:\npython: {a}\ncli:    {b}"
    assert sum(len(json.loads(x)["tracks"]) for x in got) > 0, "the sample has tracks"
    assert stats["cameras"][0]["state"] == "ended" and stats["results"]["dropped"] == 0
    # start-up and memory, as run's summary has them (cpu backend: no device memory)
    assert stats["create_s"] > 0 and stats["first_frame_s"] > 0 and stats["rss_mib"] > 0
    assert stats["device_mib_used"] == 0 and stats["device_mib_now"] == 0 and stats["device_uses"] == {}
    assert stats["device_mib_pool"] == 0 and stats["cameras"][0]["surfaces_mib"] == 0
    assert stats["device_mib_startup"] == 0
