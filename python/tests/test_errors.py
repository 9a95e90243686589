"""Errors are Python exceptions carrying the library's status and message; a camera that fails is
not an exception: it shows in stats() and as an event, and the other cameras go on."""
import shutil

import pytest

import panoptes


def test_missing_model_is_file_not_found(tmp_path, sample):
    missing = str(tmp_path / "nanodet.json")
    with pytest.raises(FileNotFoundError) as e:
        panoptes.Pipeline([sample], backend="cpu", model=missing)
    assert isinstance(e.value, panoptes.Error) and e.value.status_name == "PAN_NOTFOUND" and e.value.status < 0
    assert e.value.filename == missing and missing in str(e.value)


def test_default_model_not_found_says_what_to_do(tmp_path, sample, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PANOPTES_HOME", str(tmp_path))
    monkeypatch.setattr(panoptes, "_asset_dirs", lambda: [str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="scripts/setup.sh"):
        panoptes.Pipeline([sample], backend="cpu")
    panoptes.Pipeline([sample], backend="cpu", detect=False)  # decoding needs no model


@pytest.mark.parametrize("kw, words", [
    ({"backend": "gpu"}, "backend"),
    ({"batch": 0}, "batch takes a whole number from 1 to 4096, not 0"),
    ({"score": 1.5}, "score"),
    ({"classes": ["person", "unicorn"]}, "unicorn"),
    ({"classes": []}, "classes"),
    ({"max_frames": -3}, "max_frames"),
    ({"queue_size": -1}, "queue_size"),
    ({"rtsp_transport": "sctp"}, "rtsp_transport"),
    ({"reconnect": "often"}, "reconnect"),
    ({"overlaps": [(0, 0, 1, 1)]}, "overlaps"),
    ({"overlaps": [(0, 5, 1, 1)]}, "there are 1 cameras"),
    ({"on_frame": 3}, "on_frame"),
    ({"loop": "yes"}, "loop"),
    ({"io_threads": 0}, "io_threads"),
    ({"camera_queue": 65}, "camera_queue"),
    ({"model_type": "yolov99"}, "yolov99"),
])
def test_bad_options_are_value_errors(sample, kw, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")) as e:
        panoptes.Pipeline([sample], detect=False, **kw)
    assert isinstance(e.value, panoptes.InvalidArgument) and e.value.status_name == "PAN_INVAL"


def test_bad_cameras_are_value_errors(sample):
    for cams in ([("a",)], [{"name": "x"}], [{"uri": sample, "fps": 3}], [""], [3]):
        with pytest.raises(ValueError):
            panoptes.Pipeline(cams, detect=False)
    with panoptes.Pipeline([], detect=False) as p:
        with pytest.raises(ValueError, match="max_frames"):
            p.add_camera(sample, max_frames=0)


def test_corrupt_model_carries_the_library_message(tmp_path, sample):
    bad = tmp_path / "model.json"
    bad.write_text('{"modelTopology": 3')
    with pytest.raises(panoptes.Error) as e:
        panoptes.Pipeline([sample], backend="cpu", model=bad)
    assert e.value.status_name == "PAN_CORRUPT"
    assert str(bad) in str(e.value) and "JSON" in str(e.value)


def test_cuda_without_a_gpu(sample):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine may have a GPU")
    with pytest.raises(panoptes.Error) as e:
        panoptes.Pipeline([sample], backend="cuda", detect=False)
    assert e.value.status_name == "PAN_NOGPU" and "cpu" in str(e.value)


def test_failing_camera_is_an_event_not_an_exception(tmp_path, small_clip):
    missing = str(tmp_path / "nope.mp4")
    events = []
    p = panoptes.Pipeline([missing, (small_clip, "good")], backend="cpu", detect=False, max_frames=25,
                          on_camera=events.append)
    frames = [(r.camera, r.frame) for r in p]
    p.stop()
    assert frames == [(1, i) for i in range(25)], "the good camera ran to its end"
    cams = {c["id"]: c for c in p.stats()["cameras"]}
    assert cams[0]["state"] == "failed" and cams[0]["status"] == "PAN_NOTFOUND" and missing in cams[0]["error"]
    assert cams[1]["state"] == "ended" and cams[1]["name"] == "good"
    failed = [e for e in events if e.camera == 0 and e.state == "failed"]
    assert len(failed) == 1 and failed[0].status_name == "PAN_NOTFOUND" and missing in failed[0].message
    assert p.stats()["failed_cameras"] == 1
