#!/usr/bin/python3
"""Test models of the detector families (issue #20), built with Debian's python3-onnx + numpy.

    /usr/bin/python3 tests/models/make_detector_families.py OUTDIR [--batches 1,3] [--size 128]
                                                             [--only NAME,...] [--list]

Random weights (fixed seeds), small inputs, but each family's real output layout and op pattern,
as its exporter writes it:
  yolov5_like        ultralytics/yolov5 Detect: 5-D Reshape/Transpose, Sigmoid, Split, grid and
                     anchor-grid decode (Pow), [B, 3*cells, 5+C]
  yolox_like         YOLOX head without decode (tools/export_onnx.py default): Focus slices,
                     [reg, obj.sigmoid, cls.sigmoid], [B, cells, 5+C]; yolox_decoded with the decode
  yolov8_transposed  yolov8n's export with its output transposed to [B, cells, 4+C]
  yolo11_like        YOLO11 with C2PSA attention (MatMul of two activations, Softmax) + DFL head
  yolov10_like       v10postprocess: ReduceMax, TopK, Tile, GatherElements, Mod, Div -> [B, K, 6]
  (yolov5_like, yolov10_like and rtdetr_like carry their exporters' metadata_props)
  rtdetr_like        RT-DETR: AIFI encoder (multi-head attention, LayerNormalization, GELU as Erf),
                     query selection (TopK, Gather on the flattened batch via Shape/Range), one decoder
                     layer with multi-scale deformable attention (GridSample, ReduceSum),
                     [B, Q, 4+C]; rtdetr_split the same with pred_logits / pred_boxes outputs
plus one small model per new engine op (op_*), every output cast to float32 for the comparison, and
with --bad two models the detector must refuse: no_family (a [B, 16] output) and dynamic_hw (no fixed
input size).
Writes <name>.onnx, seeded inputs <name>.b<B>.<input>.bin, manifest.json (tests/peers/ort_run.js)
and manifest.txt (the C tests), in the format of tests/peers/make_onnx_models.py.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'peers'))
import make_onnx_models as base  # noqa: E402  (the graph builder G, c2f, sppf, yolov8n_like)

F = TensorProto.FLOAT
I64 = TensorProto.INT64


class G(base.G):
    """base.G with int64 constants, float outputs, and shape inference that tolerates opsets newer
    than Debian's onnx knows (Gelu-20)."""

    def i64(self, *v):
        return self.const(np.array(v, np.int64))

    def f32(self, v):
        return self.const(np.array(v, np.float32))

    def out_f(self, t, name):
        """Output `t` as float32 (ints and bools cast) named `name`."""
        return self.output(self.op('Cast', [t], to=F), name)

    def linear(self, x, cin, cout, bias=True):
        y = self.op('MatMul', [x, self.const(self.w((cin, cout), fan_in=cin).astype(np.float32))])
        if bias:
            y = self.op('Add', [y, self.const((0.1 * self.rng.standard_normal(cout)).astype(np.float32))])
        return y

    def batch(self, x):
        """Shape(x)[0] as a 1-element int64 tensor (the export's dynamic batch)."""
        b = self.op('Gather', [self.op('Shape', [x]), self.const(np.array(0, np.int64))], axis=0)  # scalar
        return self.op('Unsqueeze', [b, self.i64(0)])

    def reshape_b(self, x, rest, mul=None, like=None):
        """Reshape(x, [B(*mul), *rest]) with B = dim 0 of `like` (default x) at run time
        (Shape -> Gather -> Concat)."""
        b = self.batch(x if like is None else like)
        if mul:
            b = self.op('Mul', [b, self.i64(mul)])
        return self.op('Reshape', [x, self.op('Concat', [b, self.i64(*rest)], axis=0)])

    def model(self, opset):
        g = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)], producer_name='panoptes-tests')
        m.ir_version = 7 if opset <= 15 else 8 if opset <= 18 else 10
        try:
            inferred = onnx.shape_inference.infer_shapes(m)
            known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
            for o in m.graph.output:
                if o.name in known and known[o.name].type.tensor_type.HasField('shape'):
                    o.type.CopyFrom(known[o.name].type)
        except Exception:  # noqa: BLE001  (opset beyond this onnx: outputs stay float, unshaped)
            pass
        return m


# ---- one model per new op ----------------------------------------------------------------------------
def op_models():
    M = []

    def reg(name, opset, dims, extra=None):
        def deco(fn):
            M.append((name, opset, dims, fn, extra or {}))
            return fn
        return deco

    @reg('op_topk_gather', 13, [1, 6, 50])
    def _(g, x):
        m = g.op('ReduceMax', [x], axes=[1], keepdims=0)                          # [B, 50]
        v, i = g.op('TopK', [m, g.i64(10)], n_out=2, axis=-1)                      # largest, sorted
        it = g.op('Tile', [g.op('Unsqueeze', [i, g.i64(1)]), g.i64(1, 6, 1)])      # [B, 6, 10]
        ge = g.op('GatherElements', [x, it], axis=2)
        vs, is_ = g.op('TopK', [x, g.i64(3)], n_out=2, axis=1, largest=0)         # smallest, axis 1
        flat = g.op('Reshape', [x, g.i64(0, -1)])                                  # [B, 300]
        fv, fi = g.op('TopK', [flat, g.i64(20)], n_out=2, axis=1)
        lab = g.op('Mod', [fi, g.i64(6)])
        q = g.op('Div', [fi, g.i64(6)])
        gat = g.op('Gather', [x, g.i64(4, 0, 49)], axis=2)                        # constant indices
        gr = g.op('Gather', [g.f32(g.rng.standard_normal((50, 3))), i], axis=0)     # run-time indices
        am = g.op('ArgMax', [x], axis=1, keepdims=0)
        an = g.op('ArgMin', [x], axis=-1, keepdims=1, select_last_index=1)
        return [v, ('i', i), ge, vs, ('i', is_), fv, ('i', lab), ('i', q), gat, gr, ('i', am), ('i', an)]

    @reg('op_reduce', 13, [1, 4, 5, 6])
    def _(g, x):
        return [g.op('ReduceSum', [x, g.i64(1, 3)], keepdims=1), g.op('ReduceSum', [x], keepdims=0),
                g.op('ReduceMax', [x], axes=[-1], keepdims=0), g.op('ReduceMin', [x], axes=[2], keepdims=1),
                g.op('ReduceMean', [x], axes=[1, 2], keepdims=0),
                g.op('ReduceSum', [x, g.const(np.array([], np.int64))], noop_with_empty_axes=1)]

    @reg('op_reduce18', 18, [1, 4, 5, 6])
    def _(g, x):
        return [g.op('ReduceMax', [x, g.i64(1)], keepdims=0), g.op('ReduceMin', [x, g.i64(-1, 2)], keepdims=1)]

    @reg('op_layernorm', 17, [1, 7, 16])
    def _(g, x):
        s1, b1 = g.f32(1 + 0.2 * g.rng.standard_normal(16)), g.f32(0.1 * g.rng.standard_normal(16))
        s2 = g.f32(1 + 0.2 * g.rng.standard_normal((7, 16)))
        return [g.op('LayerNormalization', [x, s1, b1], axis=-1, epsilon=1e-5),
                g.op('LayerNormalization', [x, s2], axis=1, epsilon=1e-3)]

    @reg('op_where_compare', 13, [1, 4, 5])
    def _(g, x):
        gt = g.op('Greater', [x, g.f32(0.2)])
        lt = g.op('Less', [x, g.f32(-0.3)])
        fl = g.op('Floor', [g.op('Mul', [x, g.f32(2.0)])])
        eq = g.op('Equal', [g.op('Cast', [fl], to=I64), g.i64(0)])
        le = g.op('LessOrEqual', [x, g.op('Neg', [x])])
        ge = g.op('GreaterOrEqual', [fl, g.f32(1.0)])
        w = g.op('Where', [gt, x, g.op('Mul', [x, g.f32(-0.5)])])
        w2 = g.op('Where', [g.op('Not', [lt]), g.f32(np.arange(5, dtype=np.float32)), x])  # broadcast x/y
        logic = [g.op('And', [gt, g.op('Not', [eq])]), g.op('Or', [lt, eq]), g.op('Xor', [gt, le])]
        return [('b', gt), ('b', lt), ('b', eq), ('b', le), ('b', ge), w, w2] + [('b', t) for t in logic]

    @reg('op_unary_mod', 13, [1, 3, 4, 5])
    def _(g, x):
        # GELU as torch exports it below opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))
        gelu = g.op('Mul', [g.op('Mul', [x, g.f32(0.5)]),
                            g.op('Add', [g.op('Erf', [g.op('Div', [x, g.f32(1.4142135)])]), g.f32(1.0)])])
        return [g.op('Erf', [x]), gelu, g.op('Floor', [g.op('Mul', [x, g.f32(3)])]),
                g.op('Ceil', [g.op('Mul', [x, g.f32(3)])]), g.op('Mod', [x, g.f32(0.7)], fmod=1),
                ('i', g.op('Mod', [g.op('Cast', [g.op('Mul', [x, g.f32(10)])], to=I64), g.i64(-3)])),
                g.op('Tile', [x, g.i64(1, 2, 1, 3)])]

    @reg('op_gelu20', 20, [1, 3, 7])
    def _(g, x):
        return [g.op('Gelu', [x]), g.op('Gelu', [x], approximate='tanh')]

    @reg('op_grid_sample', 16, [1, 3, 6, 7], {'grid': [1, 4, 5, 2]})
    def _(g, x, grid):
        gs = grid  # standard normal: many points outside [-1, 1]
        return [g.op('GridSample', [x, gs]),
                g.op('GridSample', [x, gs], align_corners=1),
                g.op('GridSample', [x, gs], mode='nearest'),
                g.op('GridSample', [x, gs], padding_mode='border'),
                g.op('GridSample', [x, gs], padding_mode='reflection'),
                g.op('GridSample', [x, gs], padding_mode='reflection', align_corners=1)]

    @reg('op_einsum', 12, [1, 4, 6])
    def _(g, x):
        w = g.f32(g.w((6, 5)))
        q = g.op('Reshape', [x, g.i64(0, 4, 2, 3)])
        return [g.op('Einsum', [x, g.op('Relu', [x])], equation='bij,bkj->bik'),
                g.op('Einsum', [q, q], equation='bqhd,bkhd->bhqk'),
                g.op('Einsum', [x, w], equation='bij,jk->bik'),
                g.op('Einsum', [x], equation='bij->bj'),
                g.op('Einsum', [x], equation='bij->bji')]

    @reg('op_attention', 13, [1, 8, 12])
    def _(g, x):
        qkv = g.linear(x, 12, 36)
        q, k, v = g.op('Split', [qkv, g.i64(12, 12, 12)], n_out=3, axis=2)
        heads = [g.op('Transpose', [g.op('Reshape', [t, g.i64(0, 8, 2, 6)])], perm=[0, 2, 1, 3]) for t in (q, k, v)]
        s = g.op('Div', [g.op('MatMul', [heads[0], g.op('Transpose', [heads[1]], perm=[0, 1, 3, 2])]), g.f32(6 ** 0.5)])
        a = g.op('Softmax', [s], axis=-1)
        o = g.op('MatMul', [a, heads[2]])                                             # [B, 2, 8, 6]
        o = g.op('Reshape', [g.op('Transpose', [o], perm=[0, 2, 1, 3]), g.i64(0, 8, 12)])
        s1 = g.op('Softmax', [s], axis=1)                                             # softmax over heads
        m3 = g.op('MatMul', [x, g.op('Transpose', [x], perm=[0, 2, 1])])               # 3-D, both run time
        a2 = g.op('Reshape', [x, g.i64(-1, 12)])                                      # [8B, 12]
        b2 = g.op('Transpose', [g.op('Reshape', [g.op('Slice', [x, g.i64(0), g.i64(1), g.i64(0)]), g.i64(8, 12)])],
                  perm=[1, 0])                                                        # [12, 8], run time
        gm = g.op('Gemm', [a2, b2, g.f32(np.linspace(-1, 1, 8))], alpha=0.5, beta=2.0)
        return [o, s1, m3, gm]

    return M


# ---- detector families ------------------------------------------------------------------------------
def backbone(g, x, widths=(16, 32, 64, 96, 128), act='silu', bn=False):
    """Strided convs to P3, P4, P5 (strides 8, 16, 32)."""
    c0 = g.conv(x, 3, widths[0], 3, 2, act=act, bn=bn)
    c1 = g.conv(c0, widths[0], widths[1], 3, 2, act=act, bn=bn)
    p3 = g.conv(c1, widths[1], widths[2], 3, 2, act=act, bn=bn)
    p4 = g.conv(p3, widths[2], widths[3], 3, 2, act=act, bn=bn)
    p5 = g.conv(p4, widths[3], widths[4], 3, 2, act=act, bn=bn)
    return [(p3, widths[2], 8), (p4, widths[3], 16), (p5, widths[4], 32)]


def yolov5_like(size, nc=80):
    g = G('yolov5_like', 505)
    x = g.input('images', [1, 3, size, size])
    anchors = np.array([[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]],
                       np.float32).reshape(3, 3, 2)
    outs = []
    for li, (f, ch, s) in enumerate(backbone(g, x)):
        ny = nx = size // s
        p = g.conv(f, ch, 3 * (5 + nc), 1, act=None)
        # x(bs,255,ny,nx) -> view(bs,3,85,ny,nx).permute(0,1,3,4,2)
        p = g.op('Transpose', [g.reshape_b(p, [3, 5 + nc, ny, nx])], perm=[0, 1, 3, 4, 2])
        y = g.op('Sigmoid', [p])
        xy, wh, conf = g.op('Split', [y, g.i64(2, 2, nc + 1)], n_out=3, axis=4)
        yv, xv = np.meshgrid(np.arange(ny), np.arange(nx), indexing='ij')
        grid = (np.stack((xv, yv), 2).reshape(1, 1, ny, nx, 2) - 0.5).astype(np.float32)
        ag = np.broadcast_to(anchors[li].reshape(1, 3, 1, 1, 2), (1, 3, ny, nx, 2)).astype(np.float32)
        xy = g.op('Mul', [g.op('Add', [g.op('Mul', [xy, g.f32(2)]), g.const(grid)]), g.f32(s)])
        wh = g.op('Mul', [g.op('Pow', [g.op('Mul', [wh, g.f32(2)]), g.f32(2)]), g.const(ag)])
        y = g.op('Concat', [xy, wh, conf], axis=4)
        outs.append(g.reshape_b(y, [-1, 5 + nc]))
    g.output(g.op('Concat', outs, axis=1), 'output0')
    return g.model(13), {'images': [1, 3, size, size]}


def yolox_like(size, nc=80, decoded=False):
    g = G('yolox_decoded' if decoded else 'yolox_like', 1234)
    x = g.input('images', [1, 3, size, size])
    # YOLOX takes 0..255 pixels; trained weights keep that in range, random ones need the scale
    # (the detector tests feed it 0..255, the ORT comparison 0..1)
    x = g.op('Mul', [x, g.f32(1 / 255)])
    # Focus: space-to-depth with four strided slices
    sl = [g.op('Slice', [x, g.i64(dy, dx), g.i64(size, size), g.i64(2, 3), g.i64(2, 2)]) for dy, dx in
          ((0, 0), (1, 0), (0, 1), (1, 1))]
    f = g.conv(g.op('Concat', sl, axis=1), 12, 16, 3, act='silu')             # stride 2
    c2 = g.conv(f, 16, 32, 3, 2)
    p3 = g.conv(c2, 32, 48, 3, 2)
    p4 = g.conv(p3, 48, 64, 3, 2)
    p5 = g.conv(p4, 64, 96, 3, 2)
    feats = [(p3, 48, 8), (p4, 64, 16), (p5, 96, 32)]
    levels = []
    for feat, ch, s in feats:
        stem = g.conv(feat, ch, 32, 1)
        cls = g.conv(g.conv(stem, 32, 32, 3), 32, nc, 1, act=None)
        rf = g.conv(stem, 32, 32, 3)
        reg = g.conv(rf, 32, 4, 1, act=None)
        obj = g.conv(rf, 32, 1, 1, act=None)
        o = g.op('Concat', [reg, g.op('Sigmoid', [obj]), g.op('Sigmoid', [cls])], axis=1)
        levels.append(g.reshape_b(o, [5 + nc, -1]))                     # flatten(start_dim=2)
    out = g.op('Transpose', [g.op('Concat', levels, axis=2)], perm=[0, 2, 1])
    if decoded:  # YOLOXHead.decode_outputs in the graph (--decode_in_inference)
        grids, strides = [], []
        for s in (8, 16, 32):
            h = w = size // s
            yv, xv = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
            grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
            strides.append(np.full((h * w, 1), s))
        gr = g.const(np.concatenate(grids)[None].astype(np.float32))
        st = g.const(np.concatenate(strides)[None].astype(np.float32))
        xy = g.op('Slice', [out, g.i64(0), g.i64(2), g.i64(2)])
        wh = g.op('Slice', [out, g.i64(2), g.i64(4), g.i64(2)])
        rest = g.op('Slice', [out, g.i64(4), g.i64(5 + nc), g.i64(2)])
        out = g.op('Concat', [g.op('Mul', [g.op('Add', [xy, gr]), st]), g.op('Mul', [g.op('Exp', [wh]), st]), rest], axis=2)
    g.output(out, 'output')
    return g.model(13), {'images': [1, 3, size, size]}


def yolov8_transposed(size):
    m, ins = base.yolov8n_like(size)
    m.graph.name = 'yolov8_transposed'
    m.graph.node.append(helper.make_node('Transpose', ['output0'], ['output0_t'], perm=[0, 2, 1], name='n_out_t'))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info('output0_t', F, None))
    return m, ins


def detect_head(g, feats, size, nc, xyxy=False, reg_max=16):
    """Ultralytics Detect (v8/11/v10 one2one): box and class convs per level, DFL, dist2bbox;
    [B, 4+nc, N] with boxes cx, cy, w, h (or x1, y1, x2, y2) in pixels, sigmoid scores."""
    levels, anchors, strides = [], [], []
    for feat, ch, s in feats:
        box = g.conv(g.conv(feat, ch, 32, 3), 32, 4 * reg_max, 1, act=None)
        cls = g.conv(g.conv(feat, ch, 48, 3), 48, nc, 1, act=None)
        levels.append(g.reshape_b(g.op('Concat', [box, cls], axis=1), [4 * reg_max + nc, -1]))
        fh = fw = size // s
        sx, sy = np.meshgrid(np.arange(fw) + 0.5, np.arange(fh) + 0.5)
        anchors.append(np.stack([sx.ravel(), sy.ravel()], 0))
        strides.append(np.full((1, fh * fw), s))
    xcat = g.op('Concat', levels, axis=2)
    box, cls = g.op('Split', [xcat, g.i64(4 * reg_max, nc)], n_out=2, axis=1)
    d = g.op('Reshape', [box, g.i64(0, 4, reg_max, -1)])
    d = g.op('Softmax', [g.op('Transpose', [d], perm=[0, 2, 1, 3])], axis=1)
    d = g.op('Conv', [d, g.const(np.arange(reg_max, dtype=np.float32).reshape(1, reg_max, 1, 1))], kernel_shape=[1, 1])
    d = g.op('Reshape', [d, g.i64(0, 4, -1)])
    lt, rb = g.op('Split', [d, g.i64(2, 2)], n_out=2, axis=1)
    anc = g.const(np.concatenate(anchors, 1).astype(np.float32)[None])
    x1y1, x2y2 = g.op('Sub', [anc, lt]), g.op('Add', [anc, rb])
    if xyxy:
        b = g.op('Concat', [x1y1, x2y2], axis=1)
    else:
        b = g.op('Concat', [g.op('Div', [g.op('Add', [x1y1, x2y2]), g.f32(2)]), g.op('Sub', [x2y2, x1y1])], axis=1)
    b = g.op('Mul', [b, g.const(np.concatenate(strides, 1).astype(np.float32))])
    return g.op('Concat', [b, g.op('Sigmoid', [cls])], axis=1)


def psa(g, x, c, size_hw, heads=2):
    """YOLO11 C2PSA's Attention: qkv conv, view/split, (q^T k)·scale, softmax, v·attn^T, + pe(v), proj."""
    kd = c // heads // 2
    hd = c // heads
    qkv = g.conv(x, c, c + 2 * kd * heads, 1, act=None)
    n = size_hw * size_hw
    q, k, v = g.op('Split', [g.reshape_b(qkv, [heads, 2 * kd + hd, n]), g.i64(kd, kd, hd)], n_out=3, axis=2)
    attn = g.op('Mul', [g.op('MatMul', [g.op('Transpose', [q], perm=[0, 1, 3, 2]), k]), g.f32(kd ** -0.5)])
    attn = g.op('Softmax', [attn], axis=-1)
    y = g.op('MatMul', [v, g.op('Transpose', [attn], perm=[0, 1, 3, 2])])
    vi = g.reshape_b(v, [c, size_hw, size_hw])
    y = g.op('Add', [g.reshape_b(y, [c, size_hw, size_hw]), g.conv(vi, c, c, 3, g=c, act=None)])
    return g.op('Add', [x, g.conv(y, c, c, 1, act=None)])


def yolo11_like(size, nc=80):
    g = G('yolo11_like', 1111)
    x = g.input('images', [1, 3, size, size])
    feats = backbone(g, x)
    p5, ch, s = feats[2]
    feats[2] = (psa(g, p5, ch, size // 32), ch, s)
    g.output(detect_head(g, feats, size, nc), 'output0')
    return g.model(17), {'images': [1, 3, size, size]}


def yolov10_like(size, nc=80, max_det=50):
    g = G('yolov10_like', 1010)
    x = g.input('images', [1, 3, size, size])
    preds = g.op('Transpose', [detect_head(g, backbone(g, x), size, nc, xyxy=True)], perm=[0, 2, 1])  # [B, N, 4+nc]
    boxes, scores = g.op('Split', [preds, g.i64(4, nc)], n_out=2, axis=-1)
    ms = g.op('ReduceMax', [scores], axes=[-1], keepdims=0)
    _, idx = g.op('TopK', [ms, g.i64(max_det)], n_out=2, axis=-1)
    idx = g.op('Unsqueeze', [idx, g.i64(-1)])
    boxes = g.op('GatherElements', [boxes, g.op('Tile', [idx, g.i64(1, 1, 4)])], axis=1)
    scores = g.op('GatherElements', [scores, g.op('Tile', [idx, g.i64(1, 1, nc)])], axis=1)
    scores, index = g.op('TopK', [g.op('Reshape', [scores, g.i64(0, -1)]), g.i64(max_det)], n_out=2, axis=-1)
    labels = g.op('Mod', [index, g.i64(nc)])
    index = g.op('Div', [index, g.i64(nc)])
    boxes = g.op('GatherElements', [boxes, g.op('Tile', [g.op('Unsqueeze', [index, g.i64(-1)]), g.i64(1, 1, 4)])], axis=1)
    out = g.op('Concat', [boxes, g.op('Unsqueeze', [scores, g.i64(-1)]),
                          g.op('Cast', [g.op('Unsqueeze', [labels, g.i64(-1)])], to=F)], axis=-1)
    g.output(out, 'output0')
    return g.model(13), {'images': [1, 3, size, size]}


def mha(g, q_in, kv_in, d, heads, nq, nk, pos=None):
    """nn.MultiheadAttention as torch exports it: projections, heads by Reshape/Transpose, scaled
    q·k^T, Softmax, ·v, merge, output projection."""
    hd = d // heads
    qi = g.op('Add', [q_in, pos]) if pos else q_in
    q, k, v = g.linear(qi, d, d), g.linear(qi if kv_in is q_in else kv_in, d, d), g.linear(kv_in, d, d)
    split = [g.op('Transpose', [g.reshape_b(t, [n, heads, hd])], perm=[0, 2, 1, 3]) for t, n in ((q, nq), (k, nk), (v, nk))]
    s = g.op('Div', [g.op('MatMul', [split[0], g.op('Transpose', [split[1]], perm=[0, 1, 3, 2])]), g.f32(hd ** 0.5)])
    o = g.op('MatMul', [g.op('Softmax', [s], axis=-1), split[2]])
    return g.linear(g.reshape_b(g.op('Transpose', [o], perm=[0, 2, 1, 3]), [nq, d]), d, d)


def layernorm(g, x, d):
    return g.op('LayerNormalization', [x, g.f32(1 + 0.1 * g.rng.standard_normal(d)), g.f32(0.05 * g.rng.standard_normal(d))],
                axis=-1, epsilon=1e-5)


def gelu_erf(g, x):
    return g.op('Mul', [g.op('Mul', [x, g.f32(0.5)]), g.op('Add', [g.op('Erf', [g.op('Div', [x, g.f32(1.4142135)])]), g.f32(1)])])


def rtdetr_like(size, nc=80, nq=20, split=False):
    d, heads, n_points = 32, 4, 2
    g = G('rtdetr_split' if split else 'rtdetr_like', 4242)
    x = g.input('images', [1, 3, size, size])
    feats = [(g.conv(f, ch, d, 1, act=None, bn=True), s) for f, ch, s in backbone(g, x, act='relu', bn=True)]
    hw = [size // s for _, s in feats]
    # AIFI on P5: flatten to tokens, attention + FFN (GELU), post-norm
    p5 = feats[2][0]
    t = g.op('Transpose', [g.reshape_b(p5, [d, -1])], perm=[0, 2, 1])                 # [B, 16, d]
    n5 = hw[2] * hw[2]
    pos = g.f32(0.1 * g.rng.standard_normal((1, n5, d)))
    t = layernorm(g, g.op('Add', [t, mha(g, t, t, d, heads, n5, n5, pos)]), d)
    t = layernorm(g, g.op('Add', [t, g.linear(gelu_erf(g, g.linear(t, d, 2 * d)), 2 * d, d)]), d)
    feats[2] = (g.reshape_b(g.op('Transpose', [t], perm=[0, 2, 1]), [d, hw[2], hw[2]]), 32)
    # encoder memory: every level flattened, [B, N, d]
    mem = g.op('Concat', [g.op('Transpose', [g.reshape_b(f, [d, -1])], perm=[0, 2, 1]) for f, _ in feats], axis=1)
    N = sum(h * h for h in hw)
    anchors = []
    for h, s in zip(hw, (8, 16, 32)):
        yv, xv = np.meshgrid(np.arange(h), np.arange(h), indexing='ij')
        xy = (np.stack([xv, yv], -1).reshape(-1, 2) + 0.5) / h
        anchors.append(np.concatenate([xy, np.full_like(xy, 0.05 * s / 8)], -1))
    anc = np.concatenate(anchors)
    anc = np.log(anc / (1 - anc)).astype(np.float32)                                  # inverse sigmoid
    feat = layernorm(g, g.linear(mem, d, d), d)
    enc_scores = g.linear(feat, d, nc)
    _, topk = g.op('TopK', [g.op('ReduceMax', [enc_scores], axes=[-1], keepdims=0), g.i64(nq)], n_out=2, axis=1)
    # features[batch_ind, topk_ind]: flat index b·N + i over the flattened batch (Range of the run's batch)
    b = g.op('Gather', [g.op('Shape', [mem]), g.const(np.array(0, np.int64))], axis=0)
    bidx = g.op('Mul', [g.op('Unsqueeze', [g.op('Range', [g.const(np.array(0, np.int64)), b, g.const(np.array(1, np.int64))]),
                                          g.i64(1)]), g.i64(N)])
    flat = g.op('Reshape', [g.op('Add', [topk, bidx]), g.i64(-1)])
    q = g.reshape_b(g.op('Gather', [g.op('Reshape', [feat, g.i64(-1, d)]), flat], axis=0), [nq, d], like=mem)
    ref = g.op('Sigmoid', [g.op('Add', [g.linear(g.op('Relu', [g.linear(q, d, d)]), d, 4), g.op('Gather', [g.const(anc), topk], axis=0)])])
    # decoder layer: self-attention, deformable cross-attention, FFN
    qpos = g.linear(g.op('Relu', [g.linear(ref, 4, d)]), d, d)
    q = layernorm(g, g.op('Add', [q, mha(g, q, q, d, heads, nq, nq, qpos)]), d)
    value = g.reshape_b(g.linear(mem, d, d), [N, heads, d // heads])                  # [B, N, H, dh]
    qq = g.op('Add', [q, qpos])
    off = g.reshape_b(g.linear(qq, d, heads * 3 * n_points * 2), [nq, heads, 3, n_points, 2])
    aw = g.op('Softmax', [g.reshape_b(g.linear(qq, d, heads * 3 * n_points), [nq, heads, 3 * n_points])], axis=-1)
    aw = g.reshape_b(aw, [nq, heads, 3, n_points])
    r = g.op('Unsqueeze', [ref, g.i64(2, 3, 4)])                                      # [B, Q, 1, 1, 1, 4]
    rxy = g.op('Slice', [r, g.i64(0), g.i64(2), g.i64(5)])
    rwh = g.op('Slice', [r, g.i64(2), g.i64(4), g.i64(5)])
    loc = g.op('Add', [rxy, g.op('Mul', [g.op('Div', [off, g.f32(n_points)]), g.op('Mul', [rwh, g.f32(0.5)])])])
    grids = g.op('Sub', [g.op('Mul', [loc, g.f32(2)]), g.f32(1)])                     # [B, Q, H, L, P, 2]
    sampled, start = [], 0
    for lvl, h in enumerate(hw):
        v = g.op('Slice', [value, g.i64(start), g.i64(start + h * h), g.i64(1)])
        start += h * h
        v = g.reshape_b(g.op('Transpose', [v], perm=[0, 2, 3, 1]), [d // heads, h, h], mul=heads)   # [B·H, dh, h, w]
        gl = g.op('Squeeze', [g.op('Slice', [grids, g.i64(lvl), g.i64(lvl + 1), g.i64(3)]), g.i64(3)])  # [B, Q, H, P, 2]
        gl = g.reshape_b(g.op('Transpose', [gl], perm=[0, 2, 1, 3, 4]), [nq, n_points, 2], mul=heads)  # [B·H, Q, P, 2]
        sampled.append(g.op('Unsqueeze', [g.op('GridSample', [v, gl], mode='bilinear', padding_mode='zeros',
                                                align_corners=0), g.i64(-2)]))                    # [B·H, dh, Q, 1, P]
    st = g.reshape_b(g.op('Concat', sampled, axis=-2), [d // heads, nq, 3 * n_points])
    awt = g.reshape_b(g.op('Transpose', [aw], perm=[0, 2, 1, 3, 4]), [1, nq, 3 * n_points], mul=heads)
    o = g.op('ReduceSum', [g.op('Mul', [st, awt]), g.i64(-1)], keepdims=0)            # [B·H, dh, Q]
    o = g.op('Transpose', [g.reshape_b(o, [d, nq], like=mem)], perm=[0, 2, 1])
    q = layernorm(g, g.op('Add', [q, g.linear(o, d, d)]), d)
    q = layernorm(g, g.op('Add', [q, g.linear(g.op('Relu', [g.linear(q, d, 2 * d)]), 2 * d, d)]), d)
    # heads: boxes refine the reference (inverse sigmoid as Ultralytics: clamp, log(x / (1 - x)))
    rc = g.op('Clip', [ref, g.f32(0.0), g.f32(1.0)])
    inv = g.op('Log', [g.op('Div', [g.op('Clip', [rc, g.f32(1e-5), g.f32(1e9)]),
                                    g.op('Clip', [g.op('Sub', [g.f32(1.0), rc]), g.f32(1e-5), g.f32(1e9)])])])
    boxes = g.op('Sigmoid', [g.op('Add', [g.linear(g.op('Relu', [g.linear(q, d, d)]), d, 4), inv])])
    logits = g.linear(q, d, nc)
    if split:
        g.output(logits, 'pred_logits')
        g.output(boxes, 'pred_boxes')
    else:
        g.output(g.op('Concat', [boxes, g.op('Sigmoid', [logits])], axis=-1), 'output0')
    return g.model(17), {'images': [1, 3, size, size]}


COCO = '{' + ', '.join(f"{i}: 'class{i}'" for i in range(80)) + '}'


def with_meta(m, **props):
    """metadata_props as the exporters write them (Ultralytics: author, task, head, end2end, names)."""
    helper.set_model_props(m, {k: str(v) for k, v in props.items()})
    return m


def no_family(size):
    """An image model whose output is no detector head ([B, 16] features)."""
    g = G('no_family', 77)
    x = g.input('images', [1, 3, size, size])
    y = g.op('Flatten', [g.op('GlobalAveragePool', [g.conv(x, 3, 16, 3, 2)])], axis=1)
    g.output(y, 'features')
    return g.model(13), {'images': [1, 3, size, size]}


def dynamic_hw():
    """A detector exported with dynamic height and width (no fixed input size)."""
    g = G('dynamic_hw', 78)
    g.inputs.append(helper.make_tensor_value_info('images', F, ['batch', 3, 'height', 'width']))
    y = g.conv('images', 3, 84, 3, 2)
    g.output(g.reshape_b(y, [84, -1]), 'output0')
    return g.model(13), {'images': [1, 3, 64, 64]}


def family_models(size):
    m10, i10 = yolov10_like(size)
    mrt, irt = rtdetr_like(size)
    m5, i5 = yolov5_like(size)
    return [('yolov5_like', with_meta(m5, stride=32, names=COCO), i5), ('yolox_like', *yolox_like(size)),
            ('yolox_decoded', *yolox_like(size, decoded=True)), ('yolov8_transposed', *yolov8_transposed(size)),
            ('yolo11_like', *yolo11_like(size)),
            ('yolov10_like', with_meta(m10, author='Ultralytics', task='detect', head='v10Detect', end2end=True,
                                       names=COCO, description='Ultralytics YOLOv10n model (test)'), i10),
            ('rtdetr_like', with_meta(mrt, author='Ultralytics', task='detect', head='RTDETRDecoder', names=COCO,
                                      description='Ultralytics rtdetr-l model (test)'), irt),
            ('rtdetr_split', *rtdetr_like(size, split=True))]


# models only the detector tests open (not compared with ONNX Runtime)
def bad_models(size):
    return [('no_family', *no_family(size)), ('dynamic_hw', *dynamic_hw())]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--batches', default='1,3')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--only', default='')
    ap.add_argument('--bad', action='store_true', help='also the models of no family / dynamic size (no ORT entries)')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    batches = [int(b) for b in a.batches.split(',')]
    only = set(filter(None, a.only.split(',')))
    models = []
    for name, opset, dims, fn, extra in op_models():
        if only and name not in only:
            continue
        g = G(name, sum(map(ord, name)))
        ins = {'x': dims}
        args = [g.input('x', dims)] + [g.input(k, v) for k, v in extra.items()]
        ins.update(extra)
        for i, o in enumerate(fn(g, *args)):
            if isinstance(o, tuple):
                g.out_f(o[1], f'y{i}')
            else:
                g.output(o, f'y{i}')
        models.append((name, g.model(opset), ins))
    for name, m, ins in family_models(a.size):
        if not only or name in only:
            models.append((name, m, ins))

    if a.bad:
        for name, m, _ in bad_models(a.size):
            onnx.save_model(m, os.path.join(a.outdir, name + '.onnx'))
    manifest, lines = [], []
    for name, model, ins in models:
        onnx.save_model(model, os.path.join(a.outdir, name + '.onnx'))
        outs = [o.name for o in model.graph.output]
        rng = np.random.default_rng(sum(map(ord, name)) + 1000)
        for b in batches:
            entry = {'model': name + '.onnx', 'inputs': [], 'outputs': []}
            lines.append(f'model {name}.onnx {b} {len(ins)} {len(outs)}')
            for iname, dims in ins.items():
                dd = [b] + dims[1:]
                f = f'{name}.b{b}.{iname}.bin'
                arr = rng.standard_normal(dd).astype(np.float32)
                if iname == 'images':  # the detector input range: 0..1 after /255, 0..255 for YOLOX
                    arr = (rng.random(dd) * (255 if name.startswith('yolox') else 1)).astype(np.float32)
                arr.tofile(os.path.join(a.outdir, f))
                entry['inputs'].append({'name': iname, 'file': f, 'dims': dd})
                lines.append(f'in {iname} {f} {len(dd)} ' + ' '.join(map(str, dd)))
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
