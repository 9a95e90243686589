#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz-tfjs.c: small TF.js graph models in the fuzzer's input format
(model.json text, a NUL byte, the weight bytes). One seed per family of ops the importer knows,
including a miniature of NanoDet's structure (Pad/Transpose/Conv2D/Add/LeakyRelu/PadV2/MaxPool/
ConcatV2/ResizeBilinear/SplitV/Sigmoid/Reshape/SparseToDense/Identity).

    python3 tests/fuzz/make_tfjs_corpus.py tests/fuzz/corpus-tfjs
"""
import base64
import json
import os
import struct
import sys


def s(v):
    return {"s": base64.b64encode(v.encode()).decode()}


def ilist(*v):
    return {"list": {"i": [str(x) for x in v]}}


class Model:
    def __init__(self):
        self.nodes, self.weights, self.data = [], [], b""

    def const(self, name, shape, values, dtype="float32", f16=False):
        n = 1
        for d in shape:
            n *= d
        assert len(values) == n, name
        w = {"name": name, "shape": shape, "dtype": dtype}
        if f16:
            w["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            self.data += struct.pack("<%de" % n, *values)
        else:
            self.data += struct.pack("<%d%s" % (n, "i" if dtype == "int32" else "f"), *values)
        self.weights.append(w)
        self.nodes.append({"name": name, "op": "Const"})
        return name

    def node(self, name, op, inputs, **attr):
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def blob(self, outputs=None):
        m = {"format": "graph-model", "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
             "weightsManifest": [{"paths": ["w.bin"], "weights": self.weights}]}
        if outputs:
            m["signature"] = {"outputs": {o + ":0": {"name": o + ":0"} for o in outputs}}
        return json.dumps(m, separators=(",", ":")).encode() + b"\0" + self.data


def placeholder(m, name, dims):
    m.nodes.append({"name": name, "op": "Placeholder", "attr": {
        "dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": str(d)} for d in dims]}}}})


def seed_conv():
    m = Model()
    placeholder(m, "x", [1, 4, 4, 2])
    m.const("w", [3, 3, 2, 3], [((i * 7) % 11 - 5) / 8 for i in range(54)])
    m.const("b", [3], [0.5, -1, 0.25], f16=True)
    m.node("conv", "Conv2D", ["x", "w"], strides=ilist(1, 1, 1, 1), padding=s("SAME"), data_format=s("NHWC"),
           dilations=ilist(1, 1, 1, 1))
    m.node("add", "BiasAdd", ["conv", "b"])
    m.node("out", "Relu", ["add"])
    return m.blob()


def seed_nanodet_mini():
    m = Model()
    placeholder(m, "input_1", [1, 2, 4, 4])
    m.const("pads", [4, 2], [0, 0, 0, 0, 1, 1, 1, 1], dtype="int32")
    m.const("to_nhwc", [4], [0, 2, 3, 1], dtype="int32")
    m.const("to_nchw", [4], [0, 3, 1, 2], dtype="int32")
    m.const("w", [3, 3, 2, 4], [((i * 5) % 7 - 3) / 10 for i in range(72)], f16=True)
    m.const("b", [4], [0.1, -0.2, 0.3, 0.0], f16=True)
    m.const("ninf", [], [float("-inf")], f16=True)
    m.const("axis1", [], [1], dtype="int32")
    m.const("size", [2], [4, 4], dtype="int32")
    m.const("splits", [2], [3, -1], dtype="int32")
    m.const("shape", [3], [1, 3, -1], dtype="int32")
    m.const("where", [0, 1], [], dtype="int32")
    m.const("oshape", [1], [3], dtype="int32")
    m.const("vals", [0], [], dtype="int32")
    m.const("zero", [], [0], dtype="int32")
    m.node("pad", "Pad", ["input_1", "pads"])
    m.node("t1", "Transpose", ["pad", "to_nhwc"])
    m.node("conv", "Conv2D", ["t1", "w"], strides=ilist(1, 1, 1, 1), padding=s("VALID"), data_format=s("NHWC"),
           dilations=ilist(1, 1, 1, 1))
    m.node("add", "Add", ["conv", "b"])
    m.node("t2", "Transpose", ["add", "to_nchw"])
    m.node("lrelu", "LeakyRelu", ["t2"], alpha={"f": 0.1})
    m.node("padv2", "PadV2", ["lrelu", "pads", "ninf"])
    m.node("t3", "Transpose", ["padv2", "to_nhwc"])
    m.node("pool", "MaxPool", ["t3"], ksize=ilist(1, 3, 3, 1), strides=ilist(1, 2, 2, 1), padding=s("VALID"),
           data_format=s("NHWC"))
    m.node("t4", "Transpose", ["pool", "to_nchw"])
    m.node("cat", "ConcatV2", ["t4", "t4", "axis1"], N={"i": "2"})
    m.node("t5", "Transpose", ["cat", "to_nhwc"])
    m.node("resize", "ResizeBilinear", ["t5", "size"], half_pixel_centers={"b": True}, align_corners={"b": False})
    m.node("t6", "Transpose", ["resize", "to_nchw"])
    m.node("split", "SplitV", ["t6", "splits", "axis1"], num_split={"i": "2"})
    m.node("sig", "Sigmoid", ["split"])
    m.node("std", "SparseToDense", ["where", "oshape", "vals", "zero"])
    m.node("tgt", "AddV2", ["shape", "std"])
    m.node("re", "Reshape", ["sig", "tgt"])
    m.node("Identity", "Identity", ["re"])
    m.node("Identity_1", "Identity", ["split:1"])
    return m.blob(["Identity", "Identity_1"])


def seed_misc():
    m = Model()
    placeholder(m, "x", [1, 6, 6, 2])
    m.const("dw", [3, 3, 2, 1], [0.1 * i for i in range(18)])
    m.const("fw", [3, 3, 2, 2], [0.05 * i - 0.4 for i in range(36)])
    m.const("b", [2], [1, 2])
    m.const("two", [], [2.0])
    m.node("dconv", "DepthwiseConv2dNative", ["x", "dw"], strides=ilist(1, 2, 2, 1), padding=s("SAME"),
           dilations=ilist(1, 1, 1, 1), data_format=s("NHWC"))
    m.node("fused", "_FusedConv2D", ["x", "fw", "b"], strides=ilist(1, 1, 1, 1), padding=s("EXPLICIT"),
           explicit_paddings=ilist(0, 0, 1, 1, 1, 1, 0, 0), fused_ops={"list": {"s": [s("BiasAdd")["s"], s("Relu")["s"]]}},
           num_args={"i": "1"}, dilations=ilist(1, 1, 1, 1), data_format=s("NHWC"))
    m.node("avg", "AvgPool", ["fused"], ksize=ilist(1, 2, 2, 1), strides=ilist(1, 2, 2, 1), padding=s("SAME"),
           data_format=s("NHWC"))
    m.node("mul", "Mul", ["avg", "two"])
    m.node("nn", "ResizeNearestNeighbor", ["dconv", "sz"], align_corners={"b": True})
    m.const("sz", [2], [6, 6], dtype="int32")
    m.node("r6", "Relu6", ["mul"])
    m.node("sm", "Softmax", ["nn"])
    return m.blob()


def seed_more():
    m = Model()
    placeholder(m, "x", [1, 4, 4, 2])
    m.const("scale", [2], [1.5, 0.5])
    m.const("offset", [2], [0.1, -0.2])
    m.const("mean", [2], [0.3, -0.1])
    m.const("var", [2], [2.0, 0.5])
    m.const("axes", [2], [1, 2], dtype="int32")
    m.const("W", [2, 3], [1, -2, 0.5, 0.25, 3, -1])
    m.const("idx", [2], [2, 0], dtype="int32")
    m.const("gax", [], [1], dtype="int32")
    m.const("eax", [], [-1], dtype="int32")
    m.node("bn", "FusedBatchNormV3", ["x", "scale", "offset", "mean", "var"], epsilon={"f": 0.001},
           data_format=s("NHWC"), is_training={"b": False})
    m.node("mean_", "Mean", ["bn", "axes"], keep_dims={"b": True})
    m.node("sq", "Squeeze", ["mean_"], squeeze_dims=ilist(1, 2))
    m.node("mm", "MatMul", ["sq", "W"], transpose_a={"b": False}, transpose_b={"b": False})
    m.node("mmt", "MatMul", ["W", "W"], transpose_a={"b": True}, transpose_b={"b": False})
    m.node("ga", "GatherV2", ["mm", "idx", "gax"], batch_dims={"i": "0"})
    m.node("pk", "Pack", ["ga", "ga"], axis={"i": "0"}, N={"i": "2"})
    m.node("ed", "ExpandDims", ["pk", "eax"])
    return m.blob()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus-tfjs"
    os.makedirs(out, exist_ok=True)
    for name, blob in (("conv", seed_conv()), ("nanodet-mini", seed_nanodet_mini()), ("misc", seed_misc()), ("more", seed_more())):
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
