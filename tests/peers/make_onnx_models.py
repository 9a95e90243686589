#!/usr/bin/python3
"""Generates the ONNX test models of Panoptes' ONNX importer (Debian python3-onnx + numpy).

    /usr/bin/python3 tests/peers/make_onnx_models.py OUTDIR [--batches 1,3] [--yolo-size 256]
                                                      [--only NAME,...]

Writes into OUTDIR:
  <name>.onnx                  one small model per supported op family (opsets 9..17, attribute and
                               input forms), a YOLOv8n-shaped detector (yolov8n_like) and an
                               OSNet-like ReID model (osnet_like);
  <name>.b<B>.<input>.bin      seeded float32 inputs for each batch size B;
  manifest.json                for tests/peers/ort_run.js (ORT writes <name>.b<B>.<output>.ort.bin);
  manifest.txt                 the same for the C test, one line per (model, batch):
                                 model <name>.onnx <B> <n_inputs> <n_outputs>
                                 in <name> <file> <rank> <d0> <d1> ...
                                 out <name> <ort file>
Every model has a dynamic batch dimension ('batch'). Random weights with fixed seeds: the files are
identical from run to run. Weights are scaled (He-like) so activations stay O(1) through deep models.
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


class G:
    """Tiny graph builder."""

    def __init__(self, name, seed):
        self.name = name
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.rng = np.random.default_rng(seed)
        self.k = 0

    def t(self, base='t'):
        self.k += 1
        return f'{base}_{self.k}'

    def const(self, arr, base='c'):
        n = self.t(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def w(self, shape, fan_in=None, scale=1.0):
        fan_in = fan_in or int(np.prod(shape[1:]))
        return (self.rng.standard_normal(shape) * scale * np.sqrt(2.0 / max(fan_in, 1))).astype(np.float32)

    def op(self, op_type, inputs, n_out=1, name=None, **attrs):
        outs = [self.t(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name or self.t('n_' + op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def input(self, name, dims):
        self.inputs.append(helper.make_tensor_value_info(name, F, ['batch'] + list(dims[1:])))
        return name

    def output(self, t, name=None):
        if name:
            self.nodes.append(helper.make_node('Identity', [t], [name], name=self.t('n_out')))
            t = name
        self.outputs.append(helper.make_tensor_value_info(t, F, None))
        return t

    def model(self, opset):
        g = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)], producer_name='panoptes-tests')
        m.ir_version = 7 if opset <= 15 else 8 if opset <= 18 else 10
        # graph outputs get the types and shapes ONNX's own shape inference finds
        inferred = onnx.shape_inference.infer_shapes(m)
        known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for o in m.graph.output:
            if o.name in known and known[o.name].type.tensor_type.HasField('shape'):
                o.type.CopyFrom(known[o.name].type)
        return m

    # layers used by the bigger models
    def conv(self, x, cin, cout, k=1, s=1, g=1, bias=True, act='silu', bn=False, d=1):
        w = self.const(self.w((cout, cin // g, k, k)), 'w')
        ins = [x, w]
        if bias and not bn:
            ins.append(self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32), 'b'))
        p = (k // 2) * d
        y = self.op('Conv', ins, kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], group=g, dilations=[d, d])
        if bn:
            sc = self.const((1 + 0.1 * self.rng.standard_normal(cout)).astype(np.float32))
            bi = self.const((0.1 * self.rng.standard_normal(cout)).astype(np.float32))
            mu = self.const((0.1 * self.rng.standard_normal(cout)).astype(np.float32))
            var = self.const((1 + 0.2 * self.rng.random(cout)).astype(np.float32))
            y = self.op('BatchNormalization', [y, sc, bi, mu, var], epsilon=1e-5)
        if act == 'silu':
            y = self.op('Mul', [y, self.op('Sigmoid', [y])])
        elif act == 'relu':
            y = self.op('Relu', [y])
        return y


def rand_input(rng, dims):
    return rng.standard_normal(dims).astype(np.float32)


# ---- per-op models: (name, opset, input dims (batch first), builder) --------------------------------
def op_models():
    M = []

    def reg(name, opset, dims, extra_inputs=None):
        def deco(fn):
            M.append((name, opset, dims, fn, extra_inputs or []))
            return fn
        return deco

    @reg('op_conv', 13, [1, 4, 9, 9])
    def _(g, x):
        a = g.conv(x, 4, 6, k=3, act=None)
        b = g.conv(x, 4, 4, k=3, s=2, g=4, act=None)            # depthwise, stride 2
        c = g.conv(x, 4, 2, k=3, d=2, act=None, bias=False)     # dilated, no bias
        w = g.const(g.w((3, 4, 2, 2)))
        e = g.op('Conv', [x, w], kernel_shape=[2, 2], auto_pad='SAME_UPPER')
        return [a, b, c, e]

    @reg('op_bn_act', 14, [1, 6, 7, 7])
    def _(g, x):
        y = g.conv(x, 6, 6, k=3, bn=True, act=None)
        outs = [g.op('Relu', [y]), g.op('Sigmoid', [y]), g.op('LeakyRelu', [y], alpha=0.1), g.op('HardSwish', [y]),
                g.op('HardSigmoid', [y], alpha=0.25, beta=0.4), g.op('Tanh', [y])]
        mn, mx = g.const(np.float32(-0.5)), g.const(np.float32(0.7))
        outs.append(g.op('Clip', [y, mn, mx]))
        outs.append(g.op('Clip', [y, '', mx]))
        return outs

    @reg('op_clip_v9', 9, [1, 3, 4, 4])
    def _(g, x):
        return [g.op('Clip', [x], min=-0.3, max=0.4), g.op('Upsample', [x, g.const(np.array([1, 1, 2, 2], np.float32))],
                                                           mode='nearest')]

    @reg('op_binary', 13, [1, 4, 5, 6])
    def _(g, x):
        c = g.const(g.rng.standard_normal((4, 1, 1)).astype(np.float32))
        r = g.const(g.rng.standard_normal((6,)).astype(np.float32))
        pos = g.op('Add', [g.op('Abs', [x]), g.const(np.float32(0.5))])
        return [g.op('Add', [x, c]), g.op('Sub', [r, x]), g.op('Mul', [x, x]), g.op('Div', [x, pos]),
                g.op('Pow', [pos, g.const(np.float32(1.5))]), g.op('Max', [x, c, r]), g.op('Min', [x, c]),
                g.op('Sum', [x, c, x]), g.op('Sqrt', [pos]), g.op('Exp', [g.op('Neg', [pos])]), g.op('Log', [pos])]

    @reg('op_concat_split', 13, [1, 6, 4, 4])
    def _(g, x):
        a, b = g.op('Split', [x, g.const(np.array([2, 4], np.int64))], n_out=2, axis=1)
        c, d, e = g.op('Split', [x], n_out=3, axis=1)  # equal parts
        return [g.op('Concat', [b, a, c], axis=1), d, g.op('Concat', [e, e], axis=-1)]

    @reg('op_split_v11', 11, [1, 6, 4, 4])
    def _(g, x):
        a, b = g.op('Split', [x], n_out=2, axis=1, split=[4, 2])
        s = g.op('Squeeze', [g.op('Unsqueeze', [a], axes=[0])], axes=[0])
        return [g.op('Softmax', [b], axis=1), s, g.op('Softmax', [x], axis=3)]

    @reg('op_slice_reshape', 13, [1, 4, 8, 10])
    def _(g, x):
        st = g.const(np.array([1, 2, -1], np.int64))
        en = g.const(np.array([3, 8, 0], np.int64))
        ax = g.const(np.array([1, 3, 2], np.int64))
        sp = g.const(np.array([1, 2, -2], np.int64))
        s = g.op('Slice', [x, st, en, ax, sp])
        r = g.op('Reshape', [x, g.const(np.array([0, 8, -1], np.int64))])
        t = g.op('Transpose', [r], perm=[0, 2, 1])
        f = g.op('Flatten', [x], axis=1)
        u = g.op('Unsqueeze', [x, g.const(np.array([2], np.int64))])
        q = g.op('Squeeze', [u, g.const(np.array([2], np.int64))])
        return [s, t, f, g.op('Add', [q, x])]

    @reg('op_shape_subgraph', 13, [1, 8, 4, 4])
    def _(g, x):
        sh = g.op('Shape', [x])
        b = g.op('Gather', [sh, g.const(np.array(0, np.int64))], axis=0)
        bu = g.op('Unsqueeze', [b, g.const(np.array([0], np.int64))])
        tgt = g.op('Concat', [bu, g.const(np.array([2, -1], np.int64))], axis=0)
        r = g.op('Reshape', [x, tgt])
        idx = g.const(np.array([3, 0, 1], np.int64))
        gt = g.op('Gather', [x, idx], axis=1)
        cs = g.op('ConstantOfShape', [g.const(np.array([4, 4], np.int64))],
                  value=helper.make_tensor('v', F, [1], [0.25]))
        ca = g.op('Cast', [g.op('Cast', [x], to=TensorProto.INT64)], to=F)
        rg = g.op('Cast', [g.op('Range', [g.const(np.array(0, np.int64)), g.const(np.array(4, np.int64)),
                                          g.const(np.array(1, np.int64))])], to=F)
        ex = g.op('Expand', [g.op('Add', [cs, rg]), g.const(np.array([1, 8, 4, 4], np.int64))])
        return [r, gt, ca, g.op('Add', [x, ex])]

    @reg('op_pool', 13, [1, 3, 11, 11])
    def _(g, x):
        return [g.op('MaxPool', [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                g.op('MaxPool', [x], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
                g.op('MaxPool', [x], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2]),
                g.op('AveragePool', [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                g.op('AveragePool', [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
                g.op('GlobalAveragePool', [x]), g.op('GlobalMaxPool', [x]),
                g.op('ReduceMean', [x], axes=[2, 3], keepdims=1)]

    @reg('op_resize', 13, [1, 2, 5, 7])
    def _(g, x):
        e = ''
        sc = g.const(np.array([1, 1, 2, 2], np.float32))
        outs = [g.op('Resize', [x, e, sc], mode='nearest', coordinate_transformation_mode='asymmetric',
                     nearest_mode='floor'),
                g.op('Resize', [x, e, sc], mode='nearest'),
                g.op('Resize', [x, e, sc], mode='linear'),
                g.op('Resize', [x, e, sc], mode='linear', coordinate_transformation_mode='align_corners'),
                g.op('Resize', [x, e, sc], mode='linear', coordinate_transformation_mode='pytorch_half_pixel'),
                g.op('Resize', [x, e, sc], mode='linear', coordinate_transformation_mode='asymmetric'),
                g.op('Resize', [x, e, e, g.op('Concat', [g.op('Slice', [g.op('Shape', [x]), g.const(np.array([0], np.int64)),
                                                                         g.const(np.array([2], np.int64))]),
                                                        g.const(np.array([8, 9], np.int64))], axis=0)], mode='linear')]
        return outs

    @reg('op_resize_v11', 11, [1, 2, 4, 4])
    def _(g, x):
        roi = g.const(np.array([], np.float32))
        sc = g.const(np.array([1, 1, 2, 2], np.float32))
        return [g.op('Resize', [x, roi, sc], mode='nearest', coordinate_transformation_mode='asymmetric',
                     nearest_mode='floor')]

    @reg('op_gemm', 13, [1, 12])
    def _(g, x):
        w = g.const(g.w((5, 12)))
        b = g.const(g.rng.standard_normal(5).astype(np.float32))
        w2 = g.const(g.w((12, 7)))
        y = g.op('Gemm', [x, w, b], transB=1, alpha=0.5, beta=2.0)
        z = g.op('MatMul', [x, w2])
        return [y, z, g.op('Softmax', [z], axis=1)]

    @reg('op_pad', 13, [1, 2, 5, 5])
    def _(g, x):
        p = g.const(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))
        return [g.op('Pad', [x, p]), g.op('Pad', [x, p, g.const(np.float32(0.5))]),
                g.op('Pad', [x, p], mode='reflect'), g.op('Pad', [x, p], mode='edge')]

    @reg('op_pad_v9', 9, [1, 2, 4, 4])
    def _(g, x):
        return [g.op('Pad', [x], pads=[0, 0, 1, 1, 0, 0, 1, 1], value=0.25)]

    @reg('op_split_v17_softmax', 17, [1, 4, 3, 6])
    def _(g, x):
        y = g.op('Softmax', [x], axis=1)
        a, b = g.op('Split', [y, g.const(np.array([1, 5], np.int64))], n_out=2, axis=3)
        return [a, b, g.op('Cast', [g.op('Shape', [x], start=1)], to=F)]

    @reg('op_initializers', 13, [1, 2, 3, 4])
    def _(g, x):
        """Initializer encodings: raw float16, typed float16 (int32_data), typed float (float_data),
        typed int64 (int64_data), raw int32 (Gather indices)."""
        vals = g.rng.standard_normal((2, 3, 4)).astype(np.float16)
        g.inits.append(numpy_helper.from_array(vals, 'w_f16_raw'))
        g.inits.append(helper.make_tensor('w_f16_typed', TensorProto.FLOAT16, [4], np.array([0.5, -1.25, 2.0, 3.5], np.float16)))
        g.inits.append(helper.make_tensor('w_f32_typed', F, [4], [0.1, 0.2, -0.3, 0.4]))
        g.inits.append(helper.make_tensor('shape_i64_typed', TensorProto.INT64, [3], [0, 6, -1]))
        g.inits.append(numpy_helper.from_array(np.array([2, 0], np.int32), 'idx_i32_raw'))
        a = g.op('Mul', [x, g.op('Cast', ['w_f16_raw'], to=F)])
        b = g.op('Add', [a, g.op('Cast', ['w_f16_typed'], to=F)])
        c = g.op('Sub', [b, 'w_f32_typed'])
        return [g.op('Reshape', [c, 'shape_i64_typed']), g.op('Gather', [x, 'idx_i32_raw'], axis=2)]

    @reg('op_opset18', 18, [1, 6, 4, 5])
    def _(g, x):
        a, b = g.op('Split', [x], n_out=2, axis=1, num_outputs=2)          # 18: num_outputs
        m = g.op('ReduceMean', [x, g.const(np.array([2, 3], np.int64))])  # 18: axes as input
        p = g.op('Pad', [a, g.const(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64))], mode='edge')
        return [b, m, p]

    @reg('op_opset21', 21, [1, 4, 6, 6])
    def _(g, x):
        y = g.conv(x, 4, 4, k=3, act='relu')
        r = g.op('Resize', [y, '', g.const(np.array([1, 1, 2, 2], np.float32))], mode='nearest',
                 coordinate_transformation_mode='asymmetric', nearest_mode='floor')
        return [g.op('Flatten', [g.op('GlobalAveragePool', [r])], axis=1), g.op('Cast', [g.op('Shape', [r])], to=F)]

    return M


# ---- YOLOv8n-shaped detector --------------------------------------------------------------------
def c2f(g, x, c1, c2, n, shortcut):
    c = c2 // 2
    y = g.conv(x, c1, 2 * c, 1)
    a, b = g.op('Split', [y, g.const(np.array([c, c], np.int64))], n_out=2, axis=1)
    ys = [a, b]
    for _ in range(n):
        h = g.conv(g.conv(ys[-1], c, c, 3), c, c, 3)
        ys.append(g.op('Add', [ys[-1], h]) if shortcut else h)
    return g.conv(g.op('Concat', ys, axis=1), (2 + n) * c, c2, 1)


def sppf(g, x, c1, c2):
    c = c1 // 2
    x = g.conv(x, c1, c, 1)
    y1 = g.op('MaxPool', [x], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])
    y2 = g.op('MaxPool', [y1], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])
    y3 = g.op('MaxPool', [y2], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])
    return g.conv(g.op('Concat', [x, y1, y2, y3], axis=1), 4 * c, c2, 1)


def yolov8n_like(imgsz, nc=80, static=False):
    """Ultralytics yolov8n (width 0.25, depth 0.33) as its ONNX export looks: Conv+Sigmoid+Mul (BN
    folded), C2f with Split, SPPF, nearest Upsample (Resize) + Concat, Detect head with DFL
    (Reshape, Transpose, Softmax, 1x1 Conv with arange weights), dist2bbox, output [B, 4+nc, N].
    static=True: as `yolo export` writes it by default: input batch fixed to 1 and the 1 written
    into the Reshape targets ([1, 144, -1])."""
    g = G('yolov8n_static' if static else 'yolov8n_like', 8)
    if static:
        g.inputs.append(helper.make_tensor_value_info('images', F, [1, 3, imgsz, imgsz]))
        x = 'images'
    else:
        x = g.input('images', [1, 3, imgsz, imgsz])
    up = g.const(np.array([1, 1, 2, 2], np.float32))
    c0 = g.conv(x, 3, 16, 3, 2)
    c1 = g.conv(c0, 16, 32, 3, 2)
    c2 = c2f(g, c1, 32, 32, 1, True)
    c3 = g.conv(c2, 32, 64, 3, 2)
    p3 = c2f(g, c3, 64, 64, 2, True)
    c5 = g.conv(p3, 64, 128, 3, 2)
    p4 = c2f(g, c5, 128, 128, 2, True)
    c7 = g.conv(p4, 128, 256, 3, 2)
    c8 = c2f(g, c7, 256, 256, 1, True)
    p5 = sppf(g, c8, 256, 256)
    u1 = g.op('Resize', [p5, '', up], mode='nearest', coordinate_transformation_mode='asymmetric',
              nearest_mode='floor')
    h12 = c2f(g, g.op('Concat', [u1, p4], axis=1), 384, 128, 1, False)
    u2 = g.op('Resize', [h12, '', up], mode='nearest', coordinate_transformation_mode='asymmetric',
              nearest_mode='floor')
    o3 = c2f(g, g.op('Concat', [u2, p3], axis=1), 192, 64, 1, False)
    h17 = g.op('Concat', [g.conv(o3, 64, 64, 3, 2), h12], axis=1)
    o4 = c2f(g, h17, 192, 128, 1, False)
    h20 = g.op('Concat', [g.conv(o4, 128, 128, 3, 2), p5], axis=1)
    o5 = c2f(g, h20, 384, 256, 1, False)
    reg_max, c2_, c3_ = 16, 64, max(64, min(nc, 100))
    levels, anchors, strides = [], [], []
    for feat, ch, s in ((o3, 64, 8), (o4, 128, 16), (o5, 256, 32)):
        box = g.conv(g.conv(g.conv(feat, ch, c2_, 3), c2_, c2_, 3), c2_, 4 * reg_max, 1, act=None)
        cls = g.conv(g.conv(g.conv(feat, ch, c3_, 3), c3_, c3_, 3), c3_, nc, 1, act=None)
        cat = g.op('Concat', [box, cls], axis=1)
        if static:
            levels.append(g.op('Reshape', [cat, g.const(np.array([1, 4 * reg_max + nc, -1], np.int64))]))
        else:
            # view(B, 4*reg_max + nc, -1) through a shape subgraph, as torch exports it with dynamic batch
            bsz = g.op('Unsqueeze', [g.op('Gather', [g.op('Shape', [cat]), g.const(np.array(0, np.int64))], axis=0),
                                     g.const(np.array([0], np.int64))])
            shape = g.op('Concat', [bsz, g.const(np.array([4 * reg_max + nc, -1], np.int64))], axis=0)
            levels.append(g.op('Reshape', [cat, shape]))
        fh = fw = imgsz // s
        sx, sy = np.meshgrid(np.arange(fw) + 0.5, np.arange(fh) + 0.5)
        anchors.append(np.stack([sx.ravel(), sy.ravel()], 0))
        strides.append(np.full((1, fh * fw), s))
    xcat = g.op('Concat', levels, axis=2)
    box, cls = g.op('Split', [xcat, g.const(np.array([4 * reg_max, nc], np.int64))], n_out=2, axis=1)
    # DFL: view(b, 4, 16, a).transpose(2, 1).softmax(1) -> conv(arange) -> view(b, 4, a)
    d = g.op('Reshape', [box, g.const(np.array([1 if static else 0, 4, reg_max, -1], np.int64))])
    d = g.op('Softmax', [g.op('Transpose', [d], perm=[0, 2, 1, 3])], axis=1)
    d = g.op('Conv', [d, g.const(np.arange(reg_max, dtype=np.float32).reshape(1, reg_max, 1, 1))], kernel_shape=[1, 1])
    d = g.op('Reshape', [d, g.const(np.array([1 if static else 0, 4, -1], np.int64))])
    lt, rb = g.op('Split', [d, g.const(np.array([2, 2], np.int64))], n_out=2, axis=1)
    anc = g.const(np.concatenate(anchors, 1).astype(np.float32)[None])
    x1y1 = g.op('Sub', [anc, lt])
    x2y2 = g.op('Add', [anc, rb])
    cxy = g.op('Div', [g.op('Add', [x1y1, x2y2]), g.const(np.float32(2))])
    wh = g.op('Sub', [x2y2, x1y1])
    dbox = g.op('Mul', [g.op('Concat', [cxy, wh], axis=1), g.const(np.concatenate(strides, 1).astype(np.float32))])
    y = g.op('Concat', [dbox, g.op('Sigmoid', [cls])], axis=1)
    g.output(y, 'output0')
    return g.model(17), {'images': [1, 3, imgsz, imgsz]}


# ---- OSNet-like ReID ------------------------------------------------------------------------------
def lite_block(g, x, c):
    """OSNet-style lite block: 1x1 conv, depthwise 3x3 streams of different depth, channel gate."""
    m = c // 4
    y = g.conv(x, c, m, 1, bn=True, act='relu')
    streams = []
    s = y
    for t in range(2):
        s = g.conv(g.conv(s, m, m, 1, bias=False, act=None), m, m, 3, g=m, bn=True, act='relu')
        gate = g.op('GlobalAveragePool', [s])
        gate = g.conv(gate, m, m // 2, 1, act='relu')
        gate = g.op('Sigmoid', [g.conv(gate, m // 2, m, 1, act=None)])
        streams.append(g.op('Mul', [s, gate]))
    y = g.op('Add', [streams[0], streams[1]])
    y = g.conv(y, m, c, 1, bn=True, act=None)
    return g.op('Relu', [g.op('Add', [x, y])])


def osnet_like():
    g = G('osnet_like', 11)
    x = g.input('input', [1, 3, 256, 128])
    y = g.conv(x, 3, 32, 7, 2, bn=True, act='relu')
    y = g.op('MaxPool', [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for cin, cout in ((32, 64), (64, 96), (96, 128)):
        y = g.conv(y, cin, cout, 1, bn=True, act='relu')
        y = lite_block(g, y, cout)
        if cout != 128:
            y = g.op('AveragePool', [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op('Flatten', [g.op('GlobalAveragePool', [y])], axis=1)
    y = g.op('Gemm', [y, g.const(g.w((512, 128))), g.const(np.zeros(512, np.float32))], transB=1)
    sc = g.const((1 + 0.1 * g.rng.standard_normal(512)).astype(np.float32))
    bi = g.const((0.1 * g.rng.standard_normal(512)).astype(np.float32))
    mu = g.const((0.1 * g.rng.standard_normal(512)).astype(np.float32))
    var = g.const((1 + g.rng.random(512)).astype(np.float32))
    y = g.op('Relu', [g.op('BatchNormalization', [y, sc, bi, mu, var])])
    g.output(y, 'embedding')
    return g.model(13), {'input': [1, 3, 256, 128]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--batches', default='1,3')
    ap.add_argument('--yolo-size', type=int, default=256)
    ap.add_argument('--only', default='')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    batches = [int(b) for b in a.batches.split(',')]
    only = set(filter(None, a.only.split(',')))
    models = []
    for name, opset, dims, fn, _ in op_models():
        g = G(name, sum(map(ord, name)))
        x = g.input('x', dims)
        for i, o in enumerate(fn(g, x)):
            g.output(o, f'y{i}')
        models.append((name, g.model(opset), {'x': dims}))
    m, ins = yolov8n_like(a.yolo_size)
    models.append(('yolov8n_like', m, ins))
    m, ins = osnet_like()
    models.append(('osnet_like', m, ins))
    # a static batch-1 export: ORT runs it image by image (split_batch), Panoptes in one batch
    m, ins = yolov8n_like(160, static=True)
    models.append(('yolov8n_static', m, ins))

    manifest, lines = [], []
    for name, model, ins in models:
        if only and name not in only:
            continue
        # (onnx.checker of Debian's onnx 1.12 insists on output shapes; ONNX Runtime validates instead)
        path = os.path.join(a.outdir, name + '.onnx')
        onnx.save_model(model, path)
        outs = [o.name for o in model.graph.output]
        rng = np.random.default_rng(sum(map(ord, name)) + 1000)
        for b in batches:
            entry = {'model': name + '.onnx', 'inputs': [], 'outputs': [], 'split_batch': name.endswith('_static')}
            lines.append(f'model {name}.onnx {b} {len(ins)} {len(outs)}')
            for iname, dims in ins.items():
                d = [b] + dims[1:]
                f = f'{name}.b{b}.{iname}.bin'
                rand_input(rng, d).tofile(os.path.join(a.outdir, f))
                entry['inputs'].append({'name': iname, 'file': f, 'dims': d})
                lines.append(f'in {iname} {f} {len(d)} ' + ' '.join(map(str, d)))
            for o in outs:
                f = f'{name}.b{b}.{o}.ort.bin'
                entry['outputs'].append({'name': o, 'file': f})
                lines.append(f'out {o} {f}')
            manifest.append(entry)
    with open(os.path.join(a.outdir, 'manifest.json'), 'w') as fh:
        json.dump(manifest, fh, indent=1)
    with open(os.path.join(a.outdir, 'manifest.txt'), 'w') as fh:
        fh.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
