"""Panoptes from Python: the multi-camera video analytics engine (decode, detect, track, link
identities across cameras) with each frame's results as NumPy arrays.

    import panoptes

    with panoptes.Pipeline(["data/vtest.mp4", ("rtsp://cam1/stream", "door")], backend="cpu") as p:
        for r in p:                               # FrameResult objects, one per frame per camera
            people = r.boxes[r.classes == 0]      # float32 [N, 4], x1 y1 x2 y2 in source pixels
            print(r.camera, r.frame, len(people), r.track_ids)

The C library does the work on its own threads (the GIL is released); Python receives each
frame's results through a bounded queue. Recorded cameras (files) wait when Python falls behind,
so every frame is delivered; live cameras (RTSP, HTTP streams, `realtime` files) never wait: the
oldest waiting result of a live camera is dropped and counted (stats()["results"]["dropped"] and
per camera "results_dropped"). A camera that fails (missing file, unreachable URL) does not raise:
it shows in stats() and as a CameraEvent; the others go on.
"""
import errno
import os

from . import _panoptes
from ._panoptes import (COCO_LABELS, MAX_CAMERAS, CameraEvent, Error, FrameResult, InvalidArgument,
                        NotFoundError, coco_class, coco_label, set_log_level)

__version__ = _panoptes.__version__
__all__ = ["Pipeline", "FrameResult", "CameraEvent", "Error", "NotFoundError", "InvalidArgument",
           "COCO_LABELS", "MAX_CAMERAS", "coco_label", "coco_class", "set_log_level", "find_asset",
           "default_model"]

_PAN_INVAL, _PAN_NOTFOUND = -4, -6
_RECONNECT_FOREVER, _RECONNECT_NONE = -1, -2


def _invalid(message):
    e = InvalidArgument(message)
    e.status, e.status_name = _PAN_INVAL, "PAN_INVAL"
    return e


def _not_found(message, path):
    e = NotFoundError(errno.ENOENT, message, path)
    e.status, e.status_name = _PAN_NOTFOUND, "PAN_NOTFOUND"
    return e


def _asset_dirs():
    dirs = []
    if os.environ.get("PANOPTES_HOME"):
        dirs.append(os.environ["PANOPTES_HOME"])
    dirs.append(os.getcwd())
    try:
        from . import _build_info
        dirs.append(_build_info.SOURCE_DIR)
    except ImportError:
        pass
    return dirs


def find_asset(relative):
    """The path of a file shipped with Panoptes (models/nanodet.json, data/vtest.mp4), looked for in
    $PANOPTES_HOME, the working directory, then the checkout this package was built from; or None."""
    for d in _asset_dirs():
        path = os.path.join(d, relative)
        if os.access(path, os.R_OK):
            return path
    return None


def default_model():
    """The default detector (NanoDet-g, models/nanodet.json) as find_asset finds it, or None."""
    return find_asset(os.path.join("models", "nanodet.json"))


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _invalid(f"{name} takes a whole number from {lo} to {hi}, not {value!r}")
    return value


def _number(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise _invalid(f"{name} takes a number from {lo} to {hi}, not {value!r}")
    return float(value)


def _flag(name, value):
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise _invalid(f"{name} takes True or False, not {value!r}")
    return bool(value)


def _path(name, value):
    try:
        return os.fsdecode(os.fspath(value))
    except TypeError:
        raise _invalid(f"{name} takes a path (str or os.PathLike), not {value!r}") from None


def _classes(value):
    items = value.split(",") if isinstance(value, str) else list(value)
    ids = []
    for c in items:
        if isinstance(c, str):
            c = c.strip()
            k = int(c) if c.isdigit() else coco_class(c)
        elif isinstance(c, int) and not isinstance(c, bool):
            k = c
        else:
            k = -1
        if not 0 <= k < len(COCO_LABELS):
            raise _invalid(f"classes: unknown class {c!r} (use COCO names such as 'person', 'car', or ids 0..79)")
        ids.append(k)
    if not ids:
        raise _invalid("classes: an empty list would keep nothing (None keeps every class)")
    return ids


def _overlaps(value):
    out = []
    for ov in value:
        try:
            a, b, dx, dy = ov
        except (TypeError, ValueError):
            raise _invalid(f"overlaps: each entry is (camera_a, camera_b, dx, dy), not {ov!r}") from None
        for k, v in (("camera_a", a), ("camera_b", b)):
            _int(f"overlaps: {k}", v, 0, MAX_CAMERAS - 1)
        if a == b:
            raise _invalid(f"overlaps: {ov!r} names camera {a} twice")
        out.append((float(a), float(b), _number("overlaps: dx", dx, -1e6, 1e6), _number("overlaps: dy", dy, -1e6, 1e6)))
    return out


def _camera_kwargs(loop, max_frames, reconnect, timeout_ms, rtsp_transport):
    kw = {}
    if loop is not None:
        kw["loop"] = 1 if _flag("loop", loop) else -1
    if max_frames is not None:
        kw["max_frames"] = _int("max_frames", max_frames, 1, 2**62)
    if reconnect is not None:
        if reconnect == "forever":
            reconnect = -1
        _int("reconnect", reconnect, -1, 1_000_000)
        kw["reconnect"] = _RECONNECT_FOREVER if reconnect == -1 else _RECONNECT_NONE if reconnect == 0 else reconnect
    if timeout_ms is not None:
        kw["timeout_ms"] = _int("timeout_ms", timeout_ms, 1, 3_600_000)
    if rtsp_transport is not None:
        if rtsp_transport not in ("tcp", "udp"):
            raise _invalid(f"rtsp_transport takes 'tcp' or 'udp', not {rtsp_transport!r}")
        kw["rtsp_transport"] = 1 if rtsp_transport == "tcp" else 2
    return kw


class Pipeline(_panoptes.Pipeline):
    """Pipeline(cameras=(), backend="auto", model=None, reid=None, batch=None, max_frames=None, loop=False, *,
             classes=None, score=None, detect=True, track=True, reid_interval=None, overlaps=None, sync=None,
             threads=None, fallback_cpu=False, timeout_ms=None, reconnect=None, max_backoff=None,
             rtsp_transport="tcp", realtime=False, batch_timeout_ms=None, queue_size=64,
             on_frame=None, on_camera=None, io_threads=None, model_type=None, camera_queue=None)

    The engine: cameras in, each frame's detections and tracks out. Options mirror `panoptes run`:

      cameras         URIs (files, Annex-B .h264/.h265, rtsp://, http(s)://), (uri, name) pairs, or dicts
                      {"uri", "name", "loop", "max_frames", "reconnect", "timeout_ms", "rtsp_transport"};
                      camera i of the list gets id i. More with add_camera() at any time.
      backend         "auto" (cuda when an NVIDIA GPU with NVDEC is usable), "cpu" or "cuda"
      model           detector: TF.js model.json or YOLO-family .onnx; None = models/nanodet.json, found
                      by find_asset() ($PANOPTES_HOME, the working directory, the checkout built from)
      reid            appearance for tracking: "default" (colour descriptor), "off", or an ONNX ReID model
      batch           frames per batch (1..4096; None: 1 on cpu, 32 on cuda, 64 with detect=False)
      max_frames      stop each camera after this many frames (None: all)
      loop            restart file cameras at their end
      classes         keep only these classes: COCO names or ids ("person,car", ["person", 2])
      score           minimum detection score, 0..1 (None: 0.35)
      detect, track   False: decode only / detect without tracking
      reid_interval   ReID on every Nth frame of each camera only
      overlaps        [(camera_a, camera_b, dx, dy), ...]: cameras seeing the same scene shifted
      sync            keep file cameras within 0.1 s of each other (None: on with overlaps)
      threads         libavcodec threads per camera (cpu decoder)
      io_threads      threads that read and decode all cameras (None: half the cores, at least 2)
      camera_queue    decoded frames a camera may have waiting for a batch, 1..64 (None: 2 on cuda, where
                      each is an NVDEC surface of 4 MiB at 1080p; 4 on cpu)
      model_type      the detector family when the model does not tell ("yolov8", "nanodet", ...;
                      None: from the model)
      fallback_cpu    a camera NVDEC cannot decode uses the cpu decoder
      timeout_ms      network timeout per blocking step (None: 5000)
      reconnect       attempts after a network camera is lost (None/0: none, -1 or "forever")
      max_backoff     longest wait between reconnect attempts, seconds (None: 30)
      rtsp_transport  "tcp" or "udp"
      realtime        read files at their native frame rate (they then drop frames like live cameras)
      queue_size      results waiting for Python at most (0: none are delivered to Python; stats only)
      on_frame        fn(FrameResult), called by wait() / run() / stop() in the calling thread
      on_camera       fn(CameraEvent) for camera state changes (else they are kept for events())

    Use it as a context manager (start on entry, stop on exit), iterate it (it starts), or call run().
    Iteration ends once every camera has ended and its frames were taken (at once with no camera), or
    after stop(). Errors raise panoptes.Error (.status, .status_name): a missing model
    NotFoundError (a FileNotFoundError), a bad option InvalidArgument (a ValueError).
    """

    def __init__(self, cameras=(), backend="auto", model=None, reid=None, batch=None, max_frames=None, loop=False,
                 *, classes=None, score=None, detect=True, track=True, reid_interval=None, overlaps=None, sync=None,
                 threads=None, fallback_cpu=False, timeout_ms=None, reconnect=None, max_backoff=None,
                 rtsp_transport="tcp", realtime=False, batch_timeout_ms=None, queue_size=64, on_frame=None,
                 on_camera=None, io_threads=None, model_type=None, camera_queue=None):
        kw = {}
        b = _panoptes._backend_parse(backend) if isinstance(backend, str) else -1
        if b < 0:
            raise _invalid(f"backend must be 'auto', 'cpu' or 'cuda', not {backend!r}")
        kw["backend"] = b
        kw["detect"] = _flag("detect", detect)
        kw["track"] = _flag("track", track) and kw["detect"]
        if kw["detect"]:
            if model is None:
                model = default_model()
                if model is None:
                    raise _not_found("the default detector models/nanodet.json was not found in " +
                                     ", ".join(_asset_dirs()) + "; run scripts/setup.sh in the Panoptes checkout, "
                                     "set PANOPTES_HOME to it, pass model=..., or detect=False to decode only",
                                     os.path.join("models", "nanodet.json"))
            model = _path("model", model)
            if not os.path.isfile(model):
                raise _not_found(f"model: {model} is not a readable file (a TF.js model.json or an ONNX model)", model)
            kw["model"] = model
        if reid is not None:
            reid = _path("reid", reid)
            if reid not in ("default", "off") and not os.path.isfile(reid):
                raise _not_found(f"reid takes 'default', 'off' or an ONNX model file; {reid} cannot be read", reid)
            kw["reid"] = reid
        if batch is not None:
            kw["batch"] = _int("batch", batch, 1, 4096)
        if batch_timeout_ms is not None:
            kw["batch_timeout_ms"] = _int("batch_timeout_ms", batch_timeout_ms, 1, 10_000)
        if max_frames is not None:
            kw["max_frames"] = _int("max_frames", max_frames, 1, 2**62)
        kw["loop"] = int(_flag("loop", loop))
        if classes is not None:
            kw["classes"] = _classes(classes)
        if score is not None:
            kw["score"] = _number("score", score, 0, 1)
        if reid_interval is not None:
            kw["reid_interval"] = _int("reid_interval", reid_interval, 1, 1000)
        if overlaps:
            kw["overlaps"] = _overlaps(overlaps)
        if sync is not None:
            kw["sync"] = 1 if _flag("sync", sync) else -1
        if threads is not None:
            kw["threads"] = _int("threads", threads, 1, 64)
        if io_threads is not None:
            kw["io_threads"] = _int("io_threads", io_threads, 1, 256)
        if camera_queue is not None:
            kw["camera_queue"] = _int("camera_queue", camera_queue, 1, 64)
        if model_type is not None:
            if not isinstance(model_type, str):
                raise _invalid(f"model_type takes a detector family name, not {model_type!r}")
            kw["model_type"] = model_type
        kw["fallback_cpu"] = _flag("fallback_cpu", fallback_cpu)
        if timeout_ms is not None:
            kw["timeout_ms"] = _int("timeout_ms", timeout_ms, 1, 3_600_000)
        if reconnect is not None:
            if reconnect == "forever":
                reconnect = -1
            kw["reconnect"] = _int("reconnect", reconnect, -1, 1_000_000)
        if max_backoff is not None:
            ms = int(_number("max_backoff", max_backoff, 0.001, 86400) * 1000)
            kw["backoff_max_ms"] = ms
            if ms < 500:
                kw["backoff_min_ms"] = ms
        if rtsp_transport not in ("tcp", "udp"):
            raise _invalid(f"rtsp_transport takes 'tcp' or 'udp', not {rtsp_transport!r}")
        kw["rtsp_udp"] = rtsp_transport == "udp"
        kw["realtime"] = _flag("realtime", realtime)
        kw["queue_size"] = _int("queue_size", queue_size, 0, 1_000_000)
        for name, fn in (("on_frame", on_frame), ("on_camera", on_camera)):
            if fn is not None and not callable(fn):
                raise _invalid(f"{name} takes a callable or None, not {fn!r}")
        kw["on_frame"], kw["on_camera"] = on_frame, on_camera

        if isinstance(cameras, (str, bytes, os.PathLike)):
            cameras = [cameras]  # one camera, not one per character
        cams = []
        for c in cameras:
            if isinstance(c, dict):
                c = dict(c)
                if "uri" not in c:
                    raise _invalid(f"cameras: {c!r} has no 'uri'")
                unknown = set(c) - {"uri", "name", "loop", "max_frames", "reconnect", "timeout_ms", "rtsp_transport"}
                if unknown:
                    raise _invalid(f"cameras: unknown key(s) {sorted(unknown)} in {c!r}")
                cams.append(c)
            elif isinstance(c, tuple):
                if len(c) != 2:
                    raise _invalid(f"cameras: a tuple is (uri, name), not {c!r}")
                cams.append({"uri": c[0], "name": c[1]})
            else:
                cams.append({"uri": c})
        for c in cams:  # checked before anything is built
            self._camera_args(**c)
        if overlaps:
            for a, b, _, _ in kw["overlaps"]:
                if max(a, b) >= len(cams):
                    raise _invalid(f"overlaps name camera {int(max(a, b))}, but there are {len(cams)} cameras")

        self._create(**kw)
        for c in cams:
            self.add_camera(**c)

    @staticmethod
    def _camera_args(uri, name=None, loop=None, max_frames=None, reconnect=None, timeout_ms=None,
                     rtsp_transport=None):
        uri = _path("uri", uri)
        if not uri:
            raise _invalid("a camera needs a URI (a file path, rtsp:// or http(s):// URL)")
        if name is not None and not isinstance(name, str):
            raise _invalid(f"a camera's name is a str, not {name!r}")
        return uri, name, _camera_kwargs(loop, max_frames, reconnect, timeout_ms, rtsp_transport)

    def add_camera(self, uri, name=None, *, loop=None, max_frames=None, reconnect=None, timeout_ms=None,
                   rtsp_transport=None):
        """add_camera(uri, name=None, *, loop=None, max_frames=None, reconnect=None, timeout_ms=None,
        rtsp_transport=None) -> int

        Adds a camera and returns its id (ids count from 0 and are never reused). It starts at once if
        the pipeline runs (else at start). None takes the pipeline's setting. A camera that cannot be
        opened fails on its own: stats() and a CameraEvent say why; this call raises only for bad
        arguments, too many cameras or a stopped pipeline."""
        uri, name, kw = self._camera_args(uri, name, loop, max_frames, reconnect, timeout_ms, rtsp_transport)
        return self._add_camera(uri, name, **kw)

    def run(self):
        """run() -> dict: starts, runs the callbacks until every camera has ended (Ctrl-C raises
        KeyboardInterrupt after a clean stop), stops, and returns stats()."""
        with self:
            self.wait()
        return self.stats()

    def __repr__(self):
        try:
            s = self.stats()
        except Error:
            return "<panoptes.Pipeline (not created)>"
        return (f"<panoptes.Pipeline backend={s['backend']} cameras={len(s['cameras'])} frames={s['frames']} "
                f"running={s['running']}>")
