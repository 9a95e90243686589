#!/usr/bin/env python3
"""NanoDet-g 416 as a small PyTorch port, built from the same files as Panoptes' engine
(models/nanodet.json + nanodet.bin, a TF.js graph model), timed on the GPU.

The TF.js graph is an ONNX->TF conversion of the PyTorch NanoDet: every convolution appears as
Pad (NCHW) -> Transpose to NHWC -> Conv2D (HWIO weights) -> Add bias -> Transpose back ->
LeakyRelu, plus MaxPool, ConcatV2, ResizeBilinear (half-pixel), SplitV, Sigmoid, Reshape and
Transpose in the head; shape subgraphs (SparseToDense + AddV2) are constants. This script reads
the topology once, folds the Pads and biases back into the convolutions and the layout
Transposes away, and emits a plain list of NCHW layers (Conv2d+bias [+LeakyReLU], MaxPool,
cat, interpolate, add, split, sigmoid, reshape, permute): what a PyTorch user would write.

Timing (FP16, channels_last, torch.backends.cudnn.benchmark = True), per batch size:
  eager              module called batch after batch, CUDA events around the loop;
  eager_cuda_graph   the same forward captured once with torch.cuda.CUDAGraph and replayed;
  compile            torch.compile(module) (default mode), after its warm-up compilations.
Prints one JSON object. --check DIR compares the port (FP32) with raw outputs another program
wrote (input.f32 [B,3,416,416] and Identity*.f32), to show that it is the same network.

  python3 tests/peers/torch_nanodet.py [--model models/nanodet.json] [--batches 1,8,32,64]
                                       [--seconds 1] [--no-compile] [--check DIR]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

DT = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64, "DT_BOOL": np.bool_}


def load_weights(model_path):
    """name -> numpy array, from the weightsManifest (float16-quantised floats widened to float32)."""
    m = json.load(open(model_path))
    base = os.path.dirname(model_path)
    out = {}
    for group in m["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdt = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}[q["dtype"]]
                raw = np.frombuffer(blob, dtype=qdt, count=n, offset=off)
                off += n * raw.itemsize
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = raw.astype(np.float32) * q["scale"] + q["min"]
            else:
                dt = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[w["dtype"]]
                arr = np.frombuffer(blob, dtype=dt, count=n, offset=off)
                off += n * arr.itemsize
            out[w["name"]] = arr.reshape(shape)
    return m, out


class Lazy:
    """A value of the TF graph during conversion. kind: 'act' (layer output id), 'const' (numpy),
    'pad' (pending Pad of an act), 'conv' (pending conv output, bias/act not applied yet).
    layout: 'NCHW' or 'NHWC' = how the TF tensor relates to the logical NCHW activation."""

    def __init__(self, kind, **kw):
        self.__dict__.update(kw)
        self.kind = kind

    def but(self, **kw):
        """A copy with some fields replaced."""
        d = dict(self.__dict__)
        d.update(kw)
        return Lazy(d.pop("kind"), **d)


def convert(m, weights):
    nodes = {n["name"]: n for n in m["modelTopology"]["node"]}
    layers = []  # (op, out_id, in_ids, params)
    vals = {}
    next_id = [1]  # id 0 = the input

    def emit(op, ins, **p):
        oid = next_id[0]
        next_id[0] += 1
        layers.append((op, oid, ins, p))
        return oid

    def const_of(name):
        n = nodes[name]
        if name in weights:
            return weights[name]
        t = n["attr"]["value"]["tensor"]
        shape = [int(d["size"]) for d in t.get("tensorShape", {}).get("dim", [])]
        dt = DT[t["dtype"]]
        if "intVal" in t:
            v = np.array([int(x) for x in t["intVal"]], dtype=dt)
        elif "floatVal" in t:
            v = np.array(t["floatVal"], dtype=dt)
        else:
            v = np.zeros(shape, dtype=dt)
        return np.broadcast_to(v, shape).copy() if shape else v.reshape(())

    def materialize(v):
        """An 'act' for any value (applies pending pads and convs)."""
        if v.kind == "act":
            return v
        if v.kind == "pad":
            p = v.pads  # NCHW [[n0,n1],[c0,c1],[h0,h1],[w0,w1]]
            oid = emit("pad", [v.src], pads=(int(p[3][0]), int(p[3][1]), int(p[2][0]), int(p[2][1])), value=v.value)
            return Lazy("act", id=oid, layout=v.layout)
        if v.kind == "conv":
            oid = emit("conv", [v.src], w=v.w, b=v.b, stride=v.stride, padding=v.padding, act=None)
            return Lazy("act", id=oid, layout=v.layout)
        raise ValueError(v.kind)

    def value(name):
        if name.endswith(":0"):
            name = name[:-2]
        if name in vals:
            return vals[name]
        base, _, port = name.partition(":")
        n = nodes[base]
        op = n["op"]
        ins = [i for i in n.get("input", []) if not i.startswith("^")]
        if op == "Const":
            v = Lazy("const", v=const_of(base))
        elif op == "Placeholder":
            v = Lazy("act", id=0, layout="NCHW")
        elif op == "Identity":
            v = value(ins[0])
        elif op in ("SparseToDense",):
            idx, shape, vv, default = (value(i).v for i in ins)
            out = np.full([int(s) for s in np.atleast_1d(shape)], default, dtype=np.asarray(vv).dtype)
            idx = np.asarray(idx).reshape(-1, out.ndim) if out.ndim else idx
            for k, ix in enumerate(np.atleast_2d(idx)):
                if len(ix):
                    out[tuple(ix)] = np.asarray(vv).reshape(-1)[k] if np.asarray(vv).size > 1 else vv
            v = Lazy("const", v=out)
        elif op in ("AddV2", "Add") and all(value(i).kind == "const" for i in ins):
            v = Lazy("const", v=value(ins[0]).v + value(ins[1]).v)
        elif op == "Transpose":
            x = value(ins[0])
            perm = [int(p) for p in value(ins[1]).v]
            if x.kind in ("act", "pad", "conv") and perm in ([0, 2, 3, 1], [0, 3, 1, 2]):
                want_from = "NCHW" if perm == [0, 2, 3, 1] else "NHWC"
                assert x.layout == want_from, (name, x.layout, perm)
                v = x.but(layout="NHWC" if perm == [0, 2, 3, 1] else "NCHW")
            else:
                x = materialize(x)
                v = Lazy("act", id=emit("permute", [x.id], perm=perm), layout="ROW")
        elif op in ("Pad", "PadV2"):
            x = materialize(value(ins[0]))
            pads = value(ins[1]).v.reshape(-1, 2)
            cval = float(value(ins[2]).v) if op == "PadV2" else 0.0
            if x.layout == "NHWC":
                pads = pads[[0, 3, 1, 2]]
            v = Lazy("pad", src=x.id, pads=pads, value=cval, layout=x.layout)
        elif op == "Conv2D":
            x = value(ins[0])
            w = value(ins[1]).v  # HWIO
            assert n["attr"]["data_format"]["s"] in ("TkhXQw==",), "NHWC expected"
            assert x.layout == "NHWC"
            strides = [int(s) for s in n["attr"]["strides"]["list"]["i"]]
            padding = (0, 0)
            if x.kind == "pad" and x.value == 0.0 and x.pads[2][0] == x.pads[2][1] and x.pads[3][0] == x.pads[3][1]:
                padding = (int(x.pads[2][0]), int(x.pads[3][0]))
                src = x.src
            else:
                src = materialize(x).id
            v = Lazy("conv", src=src, w=np.ascontiguousarray(w.transpose(3, 2, 0, 1)), b=None,
                     stride=(strides[1], strides[2]), padding=padding, layout="NHWC")
        elif op in ("Add", "AddV2"):
            a, b = value(ins[0]), value(ins[1])
            if a.kind == "const":
                a, b = b, a
            if a.kind == "conv" and a.b is None and b.kind == "const" and b.v.ndim == 1:
                v = a.but(b=b.v.astype(np.float32))
            else:
                a, b = materialize(a), materialize(b)
                assert a.layout == b.layout
                v = Lazy("act", id=emit("add", [a.id, b.id]), layout=a.layout)
        elif op == "LeakyRelu":
            x = value(ins[0])
            alpha = float(n["attr"].get("alpha", {}).get("f", 0.2))
            if x.kind == "conv":
                oid = emit("conv", [x.src], w=x.w, b=x.b, stride=x.stride, padding=x.padding, act=alpha)
                v = Lazy("act", id=oid, layout=x.layout)
            else:
                x = materialize(x)
                v = Lazy("act", id=emit("leaky", [x.id], alpha=alpha), layout=x.layout)
        elif op == "MaxPool":
            x = value(ins[0])
            assert x.layout == "NHWC"
            k = [int(s) for s in n["attr"]["ksize"]["list"]["i"]][1:3]
            s = [int(s) for s in n["attr"]["strides"]["list"]["i"]][1:3]
            padding = (0, 0)
            if x.kind == "pad" and x.pads[2][0] == x.pads[2][1] and x.pads[3][0] == x.pads[3][1] and x.value < -1e30:
                padding = (int(x.pads[2][0]), int(x.pads[3][0]))
                src = x.src
            else:
                src = materialize(x).id
            v = Lazy("act", id=emit("maxpool", [src], k=k, s=s, padding=padding), layout="NHWC")
        elif op == "ConcatV2":
            xs = [materialize(value(i)) for i in ins[:-1]]
            axis = int(value(ins[-1]).v)
            lay = xs[0].layout
            dim = {"NCHW": {1: 1}, "NHWC": {3: 1, -1: 1}}[lay][axis]
            v = Lazy("act", id=emit("cat", [x.id for x in xs], dim=dim), layout=lay)
        elif op == "ResizeBilinear":
            x = materialize(value(ins[0]))
            size = [int(s) for s in value(ins[1]).v]
            assert n["attr"].get("half_pixel_centers", {}).get("b") and not n["attr"].get("align_corners", {}).get("b")
            v = Lazy("act", id=emit("resize", [x.id], size=size), layout=x.layout)
        elif op == "SplitV":
            x = materialize(value(ins[0]))
            sizes = [int(s) for s in value(ins[1]).v]
            axis = int(value(ins[2]).v)
            dim = 1 if (x.layout == "NCHW" and axis == 1) or (x.layout == "NHWC" and axis in (3, -1)) else None
            assert dim
            sid = emit("split", [x.id], sizes=sizes, dim=dim)
            for k in range(len(sizes)):
                vals[f"{base}:{k}" if k else base] = Lazy("act", id=emit("item", [sid], k=k), layout=x.layout)
            return vals[name]
        elif op == "Sigmoid":
            x = materialize(value(ins[0]))
            v = Lazy("act", id=emit("sigmoid", [x.id]), layout=x.layout)
        elif op == "Reshape":
            x = materialize(value(ins[0]))
            shape = [int(s) for s in value(ins[1]).v]
            assert x.layout == "NCHW" and shape[0] == 1, (name, x.layout, shape)
            v = Lazy("act", id=emit("reshape", [x.id], rest=shape[1:]), layout="ROW")
        else:
            raise NotImplementedError(f"{op} ({name})")
        vals[name] = v
        return v

    outputs = {}
    sig = m["signature"]["outputs"]
    for key in sorted(sig):
        name = key.split(":")[0]
        outputs[name] = materialize(value(name)).id
    return layers, outputs


def make_module(layers, outputs):
    """The converted layer list as a torch.nn.Module (torch imported here so that the conversion
    runs without it)."""
    import torch
    import torch.nn.functional as F

    class NanoDet(torch.nn.Module):
        def __init__(self, layers, outputs):
            super().__init__()
            self.layers = layers
            self.outputs = outputs
            self.params = torch.nn.ParameterList()
            self.pidx = {}
            for op, oid, ins, p in layers:
                if op == "conv":
                    self.pidx[oid] = len(self.params)
                    self.params.append(torch.nn.Parameter(torch.from_numpy(p["w"].copy()), requires_grad=False))
                    b = p["b"] if p["b"] is not None else np.zeros(p["w"].shape[0], np.float32)
                    self.params.append(torch.nn.Parameter(torch.from_numpy(b.copy()), requires_grad=False))

        def forward(self, x):
            v = {0: x}
            for op, oid, ins, p in self.layers:
                a = v[ins[0]]
                if op == "conv":
                    k = self.pidx[oid]
                    y = F.conv2d(a, self.params[k], self.params[k + 1], stride=p["stride"], padding=p["padding"])
                    if p["act"] is not None:
                        y = F.leaky_relu(y, p["act"])
                elif op == "leaky":
                    y = F.leaky_relu(a, p["alpha"])
                elif op == "pad":
                    y = F.pad(a, p["pads"], value=p["value"])
                elif op == "maxpool":
                    y = F.max_pool2d(a, p["k"], p["s"], p["padding"])
                elif op == "add":
                    y = a + v[ins[1]]
                elif op == "cat":
                    y = torch.cat([v[i] for i in ins], dim=p["dim"])
                elif op == "resize":
                    y = F.interpolate(a, size=p["size"], mode="bilinear", align_corners=False)
                elif op == "split":
                    y = torch.split(a, p["sizes"], dim=p["dim"])
                elif op == "item":
                    y = a[p["k"]]
                elif op == "sigmoid":
                    y = torch.sigmoid(a)
                elif op == "reshape":
                    y = a.reshape(a.shape[0], *p["rest"])
                elif op == "permute":
                    y = a.permute(*p["perm"])
                else:
                    raise NotImplementedError(op)
                v[oid] = y
            return {k: v[i] for k, i in self.outputs.items()}

    return NanoDet(layers, outputs)


def time_fn(fn, x, seconds):
    """(images/s, batch ms) back to back, and latency p50 ms one batch at a time."""
    import torch
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        fn(x)
    torch.cuda.synchronize()
    s.record()
    for _ in range(5):
        fn(x)
    e.record()
    e.synchronize()
    per = s.elapsed_time(e) / 5
    iters = max(10, min(20000, int(seconds * 1000 / max(per, 1e-3))))
    s.record()
    for _ in range(iters):
        fn(x)
    e.record()
    e.synchronize()
    batch_ms = s.elapsed_time(e) / iters
    lat = []
    for _ in range(30):
        s.record()
        fn(x)
        e.record()
        e.synchronize()
        lat.append(s.elapsed_time(e))
    lat.sort()
    return x.shape[0] * 1000.0 / batch_ms, batch_ms, lat[len(lat) // 2], iters


def main():
    sys.setrecursionlimit(20000)  # the converter recurses along the graph's longest path
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/nanodet.json")
    ap.add_argument("--batches", default="1,8,32,64")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--check", default=None)
    ap.add_argument("--profile", type=int, default=0, help="batch size: print torch.profiler kernel tables (eager, compile)")
    ap.add_argument("--convert-only", action="store_true", help="print the layer list and exit (no torch needed)")
    a = ap.parse_args()
    m, w = load_weights(a.model)
    layers, outputs = convert(m, w)
    if a.convert_only:
        for op, oid, ins, p in layers:
            print(op, oid, ins, {k: (v.shape if hasattr(v, "shape") else v) for k, v in p.items()})
        print(outputs)
        return
    import torch
    net = make_module(layers, outputs).eval()
    res = {"bench": "torch_nanodet", "model": a.model, "torch": torch.__version__,
           "cudnn": torch.backends.cudnn.version(), "layers": len(layers),
           "convs": sum(1 for l in layers if l[0] == "conv"), "results": []}
    dev = torch.device("cuda")
    res["device"] = torch.cuda.get_device_name(0)

    if a.check:
        x = np.fromfile(os.path.join(a.check, "input.f32"), dtype=np.float32).reshape(-1, 3, 416, 416)
        with torch.no_grad():
            net32 = net.to(dev)
            out = net32(torch.from_numpy(x).to(dev))
        chk = {}
        for k, t in out.items():
            ref = np.fromfile(os.path.join(a.check, k + ".f32"), dtype=np.float32)
            got = t.float().contiguous().cpu().numpy().reshape(-1)
            chk[k] = {"nmse": float(((got - ref) ** 2).sum() / max((ref ** 2).sum(), 1e-30)),
                      "max_abs": float(np.abs(got - ref).max())}
        res["check_fp32_vs_panoptes_cpu"] = chk

    torch.backends.cudnn.benchmark = True
    net = net.to(dev).half().to(memory_format=torch.channels_last)
    batches = [int(b) for b in a.batches.split(",")]
    compiled = None
    if not a.no_compile:
        compiled = torch.compile(net)
    with torch.no_grad():
        for b in batches:
            x = torch.randn(b, 3, 416, 416, device=dev).half().contiguous(memory_format=torch.channels_last)
            ips, ms, p50, it = time_fn(net, x, a.seconds)
            res["results"].append({"mode": "eager", "batch": b, "images_per_s": round(ips, 1), "batch_ms": round(ms, 4),
                                   "latency_ms_p50": round(p50, 4), "iterations": it})
            print(json.dumps(res["results"][-1]), file=sys.stderr, flush=True)
            # eager captured as one CUDA graph (static input buffer)
            g = torch.cuda.CUDAGraph()
            static_x = x.clone()
            st = torch.cuda.Stream()
            st.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(st):
                for _ in range(3):
                    net(static_x)
            torch.cuda.current_stream().wait_stream(st)
            with torch.cuda.graph(g):
                static_out = net(static_x)
            ips, ms, p50, it = time_fn(lambda _x: g.replay(), x, a.seconds)
            res["results"].append({"mode": "eager_cuda_graph", "batch": b, "images_per_s": round(ips, 1),
                                   "batch_ms": round(ms, 4), "latency_ms_p50": round(p50, 4), "iterations": it})
            print(json.dumps(res["results"][-1]), file=sys.stderr, flush=True)
            del g, static_out
            if compiled is not None:
                t0 = time.time()
                compiled(x)
                torch.cuda.synchronize()
                ct = time.time() - t0
                ips, ms, p50, it = time_fn(compiled, x, a.seconds)
                res["results"].append({"mode": "compile", "batch": b, "images_per_s": round(ips, 1),
                                       "batch_ms": round(ms, 4), "latency_ms_p50": round(p50, 4), "iterations": it,
                                       "compile_s": round(ct, 1)})
                print(json.dumps(res["results"][-1]), file=sys.stderr, flush=True)
    if a.profile:
        from torch.profiler import ProfilerActivity, profile
        x = torch.randn(a.profile, 3, 416, 416, device=dev).half().contiguous(memory_format=torch.channels_last)
        for name, fn in (("eager", net), ("compile", compiled)):
            if fn is None:
                continue
            with torch.no_grad():
                for _ in range(3):
                    fn(x)
                torch.cuda.synchronize()
                with profile(activities=[ProfilerActivity.CUDA]) as prof:
                    for _ in range(5):
                        fn(x)
                    torch.cuda.synchronize()
            print(f"=== torch {name} batch {a.profile}, 5 runs", file=sys.stderr)
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=90),
                  file=sys.stderr)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
