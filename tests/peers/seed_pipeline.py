#!/usr/bin/env python3
"""The seed-shaped Python pipeline (shared/seed/phase-1.1-...md), as a peer for Panoptes' figures:
one reader thread per camera decoding with OpenCV on the CPU (cv2.VideoCapture), each frame put
on the GPU as a tensor (torch.from_numpy(...).cuda()), preprocessed there (keep-ratio resize with
F.interpolate, pad, BGR mean/std as NanoDet wants, FP16), the PyTorch port of NanoDet-g
(tests/peers/torch_nanodet.py, same weights, FP16, channels_last, cudnn.benchmark) frame by
frame, and the raw outputs copied to the host as numpy (the seed's detection manager takes numpy)
where a simple threshold picks the boxes' priors.

Prints one JSON object: frames/s over all cameras and host CPU milliseconds per frame
(getrusage of the process: every thread, OpenCV's included).

  python3 tests/peers/seed_pipeline.py --clip data/vtest-1080p.mp4 --cameras 4 --frames 300
"""
import argparse
import json
import os
import queue
import resource
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", required=True)
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--frames", type=int, default=300, help="frames per camera")
    ap.add_argument("--model", default="models/nanodet.json")
    a = ap.parse_args()

    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch_nanodet as tn

    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    m, w = tn.load_weights(a.model)
    layers, outputs = tn.convert(m, w)
    net = tn.make_module(layers, outputs).to(dev).half().to(memory_format=torch.channels_last).eval()
    mean = torch.tensor([103.53, 116.28, 123.675], device=dev).view(1, 3, 1, 1)
    std = torch.tensor([57.375, 57.12, 58.395], device=dev).view(1, 3, 1, 1)

    q = queue.Queue(maxsize=8 * a.cameras)

    def reader(cam):
        cap = cv2.VideoCapture(a.clip)
        n = 0
        while n < a.frames:
            ok, frame = cap.read()
            if not ok:
                cap.release()
                cap = cv2.VideoCapture(a.clip)  # loop
                continue
            q.put((cam, frame))
            n += 1
        q.put((cam, None))

    def infer(frame):
        x = torch.from_numpy(frame).to(dev, non_blocking=False)  # HWC uint8 BGR, host -> device
        x = x.permute(2, 0, 1).unsqueeze(0).float()
        h, w = frame.shape[:2]
        s = min(416 / w, 416 / h)
        nw, nh = round(w * s), round(h * s)
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        ox, oy = (416 - nw) // 2, (416 - nh) // 2
        x = F.pad(x, (ox, 416 - nw - ox, oy, 416 - nh - oy), value=0.0)
        x = ((x - mean) / std).half().contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            out = net(x)
        host = {k: v.float().cpu().numpy() for k, v in out.items()}  # results to the host
        return sum(int((v.max(axis=-1) > 0.35).sum()) for v in host.values() if v.shape[-1] == 80)

    # warm-up: cudnn.benchmark picks its algorithms
    cap = cv2.VideoCapture(a.clip)
    ok, f0 = cap.read()
    cap.release()
    for _ in range(5):
        infer(f0)
    torch.cuda.synchronize()

    threads = [threading.Thread(target=reader, args=(c,), daemon=True) for c in range(a.cameras)]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    done = frames = hits = 0
    while done < a.cameras:
        cam, frame = q.get()
        if frame is None:
            done += 1
            continue
        hits += infer(frame)
        frames += 1
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"bench": "seed_python_pipeline", "clip": os.path.basename(a.clip), "cameras": a.cameras,
                      "frames": frames, "seconds": round(wall, 3), "fps": round(frames / wall, 1),
                      "cpu_ms_per_frame": round(cpu * 1000 / frames, 3), "priors_above_0.35": hits,
                      "torch": torch.__version__, "opencv": cv2.__version__,
                      "device": torch.cuda.get_device_name(0)}))


if __name__ == "__main__":
    main()
