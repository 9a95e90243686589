#!/usr/bin/env python3
"""PyTorch eager peer for the ReID benchmark: runs an ONNX model (the ops of
tests/peers/make_osnet.py's OSNet-shaped models) as a chain of torch.nn.functional calls on the
GPU, FP16, channels_last (what a PyTorch user would run), and prints crops/s per batch size.
First checks the FP32 result against ONNX Runtime (CPU) at batch 2.

    python3 tests/peers/torch_onnx_run.py MODEL.onnx [MODEL2.onnx ...] [--batches 64,256,512] [--iters 30]

One JSON line per model and batch: {"bench": "torch_eager_onnx", "model", "batch", "crops_per_s",
"ms_per_batch"}; the forward pass only (input already on the GPU; no crop, no copy to the host).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Net:
    def __init__(self, path, device, dtype):
        m = onnx.load(path)
        self.g = m.graph
        self.w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).to(device) for t in self.g.initializer}
        for k, v in self.w.items():
            if v.is_floating_point():
                self.w[k] = v.to(dtype)
        self.input = self.g.input[0].name
        self.output = self.g.output[0].name

    def __call__(self, x):
        v = dict(self.w)
        v[self.input] = x
        for n in self.g.node:
            a = attrs(n)
            i = [v[k] if k else None for k in n.input]
            op = n.op_type
            if op == 'Conv':
                p = a.get('pads', [0, 0, 0, 0])
                xx = i[0]
                if p[0] != p[2] or p[1] != p[3]:
                    xx = F.pad(xx, (p[1], p[3], p[0], p[2]))
                    p = [0, 0, 0, 0]
                y = F.conv2d(xx, i[1], i[2] if len(i) > 2 else None, a.get('strides', [1, 1]), (p[0], p[1]),
                             a.get('dilations', [1, 1]), a.get('group', 1))
            elif op == 'BatchNormalization':
                y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get('epsilon', 1e-5))
            elif op == 'Relu':
                y = F.relu(i[0])
            elif op == 'Sigmoid':
                y = torch.sigmoid(i[0])
            elif op == 'Add':
                y = i[0] + i[1]
            elif op == 'Mul':
                y = i[0] * i[1]
            elif op == 'MaxPool':
                p = a.get('pads', [0, 0, 0, 0])
                y = F.max_pool2d(i[0], a['kernel_shape'], a.get('strides', a['kernel_shape']), (p[0], p[1]))
            elif op == 'AveragePool':
                p = a.get('pads', [0, 0, 0, 0])
                y = F.avg_pool2d(i[0], a['kernel_shape'], a.get('strides', a['kernel_shape']), (p[0], p[1]),
                                 count_include_pad=bool(a.get('count_include_pad', 0)))
            elif op == 'GlobalAveragePool':
                y = i[0].mean((2, 3), keepdim=True)
            elif op == 'Identity':
                y = i[0]
            elif op == 'Reshape':
                y = i[0].reshape([int(d) for d in i[1].tolist()])
            elif op == 'Flatten':
                y = i[0].flatten(a.get('axis', 1))
            elif op == 'Gemm':
                b = i[1].t() if a.get('transB', 0) else i[1]
                y = a.get('alpha', 1.0) * (i[0] @ b)
                if len(i) > 2 and i[2] is not None:
                    y = y + a.get('beta', 1.0) * i[2]
            else:
                raise SystemExit(f'torch_onnx_run: op {op} not handled')
            v[n.output[0]] = y
        return v[self.output]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('models', nargs='+')
    ap.add_argument('--batches', default='64,256,512')
    ap.add_argument('--iters', type=int, default=30)
    a = ap.parse_args()
    dev = torch.device('cuda')
    for path in a.models:
        name = os.path.basename(path).rsplit('.', 1)[0]
        shape = [d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim][1:]
        # FP32 vs ONNX Runtime, batch 2
        try:
            import onnxruntime as ort
            x = np.random.default_rng(0).standard_normal([2] + shape).astype(np.float32)
            ref = ort.InferenceSession(path, providers=['CPUExecutionProvider']).run(None, {'input': x})[0]
            with torch.no_grad():
                got = Net(path, dev, torch.float32)(torch.from_numpy(x).to(dev)).cpu().numpy()
            nmse = float(((got - ref) ** 2).sum() / max((ref ** 2).sum(), 1e-30))
            print(json.dumps({'check': 'torch_fp32_vs_onnxruntime', 'model': name, 'nmse': nmse}), flush=True)
        except ImportError:
            pass
        net = Net(path, dev, torch.float16)
        for b in (int(s) for s in a.batches.split(',')):
            x = torch.randn([b] + shape, device=dev, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                for _ in range(3):
                    net(x)
                torch.cuda.synchronize()
                t = time.perf_counter()
                for _ in range(a.iters):
                    net(x)
                torch.cuda.synchronize()
                dt = (time.perf_counter() - t) / a.iters
            print(json.dumps({'bench': 'torch_eager_onnx', 'model': name, 'batch': b, 'crops_per_s': round(b / dt, 1),
                              'ms_per_batch': round(dt * 1e3, 3), 'device': torch.cuda.get_device_name()}), flush=True)


if __name__ == '__main__':
    sys.exit(main())
