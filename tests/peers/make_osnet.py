#!/usr/bin/python3
"""Generates OSNet-shaped ReID models (Zhou et al. 2019, torchreid's osnet_x1_0 / osnet_x0_25) with
random weights, for benchmarks: the same layers, widths and FLOPs as the real networks, not their
accuracy. Debian python3-onnx + numpy.

    /usr/bin/python3 tests/peers/make_osnet.py OUTDIR [--width 1.0,0.25]

Writes OUTDIR/osnet_x1_0.onnx, OUTDIR/osnet_x0_25.onnx: input 'input' [B, 3, 256, 128] (RGB,
ImageNet-normalised, as torchreid), output 'embedding' [B, 512], dynamic batch.
Architecture (torchreid osnet.py): conv1 7x7/2 + BN + ReLU, max-pool 3x3/2; three stages of two
OS blocks, each: 1x1 reduce to c/4, four streams of 1..4 lite 3x3 convs (1x1 pointwise + 3x3
depthwise + BN + ReLU), one aggregation gate shared by the streams (global average pool, 1x1,
ReLU, 1x1, sigmoid), sum, 1x1 expand + BN, residual (1x1 projection where channels change), ReLU;
between stages a 1x1 conv + 2x2 average pool; conv5 1x1; global average pool; FC 512 + BN + ReLU.
Channels x1.0: 64 | 256, 384, 512; x0.25: 16 | 64, 96, 128.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_onnx_models import G  # noqa: E402


def lite(g, x, cin, cout):
    y = g.conv(x, cin, cout, 1, bias=False, act=None)
    return g.conv(y, cout, cout, 3, g=cout, bn=True, act='relu')


def os_block(g, x, cin, cout):
    m = cout // 4
    x1 = g.conv(x, cin, m, 1, bn=True, act='relu')
    # one gate module (shared weights) applied to every stream, as torchreid's ChannelGate
    r = max(m // 16, 1)
    w1 = g.const(g.w((r, m, 1, 1)))
    b1 = g.const(np.zeros(r, np.float32))
    w2 = g.const(g.w((m, r, 1, 1)))
    b2 = g.const(np.zeros(m, np.float32))
    acc = None
    for t in range(1, 5):
        s = x1
        for _ in range(t):
            s = lite(g, s, m, m)
        gate = g.op('GlobalAveragePool', [s])
        gate = g.op('Relu', [g.op('Conv', [gate, w1, b1], kernel_shape=[1, 1])])
        gate = g.op('Sigmoid', [g.op('Conv', [gate, w2, b2], kernel_shape=[1, 1])])
        s = g.op('Mul', [s, gate])
        acc = s if acc is None else g.op('Add', [acc, s])
    x3 = g.conv(acc, m, cout, 1, bn=True, act=None)
    idn = x if cin == cout else g.conv(x, cin, cout, 1, bn=True, act=None)
    return g.op('Relu', [g.op('Add', [x3, idn])])


def osnet(width):
    c0, c1, c2, c3 = (int(round(c * width)) for c in (64, 256, 384, 512))
    name = 'osnet_x%s' % str(width).replace('.', '_')
    g = G(name, 7)
    x = g.input('input', [1, 3, 256, 128])
    y = g.conv(x, 3, c0, 7, 2, bn=True, act='relu')
    y = g.op('MaxPool', [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = c0
    for i, c in enumerate((c1, c2, c3)):
        y = os_block(g, y, cin, c)
        y = os_block(g, y, c, c)
        cin = c
        if i < 2:
            y = g.conv(y, c, c, 1, bn=True, act='relu')
            y = g.op('AveragePool', [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.conv(y, c3, c3, 1, bn=True, act='relu')
    y = g.op('Flatten', [g.op('GlobalAveragePool', [y])], axis=1)
    y = g.op('Gemm', [y, g.const(g.w((512, c3))), g.const(np.zeros(512, np.float32))], transB=1)
    sc = g.const((1 + 0.1 * g.rng.standard_normal(512)).astype(np.float32))
    bi = g.const((0.1 * g.rng.standard_normal(512)).astype(np.float32))
    mu = g.const((0.1 * g.rng.standard_normal(512)).astype(np.float32))
    var = g.const((1 + g.rng.random(512)).astype(np.float32))
    y = g.op('Relu', [g.op('BatchNormalization', [y, sc, bi, mu, var])])
    g.output(y, 'embedding')
    return name, g.model(13)


def main():
    import onnx
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--width', default='1.0,0.25')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for w in a.width.split(','):
        name, m = osnet(float(w))
        onnx.save_model(m, os.path.join(a.outdir, name + '.onnx'))
        print(os.path.join(a.outdir, name + '.onnx'))


if __name__ == '__main__':
    main()
