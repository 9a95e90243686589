/* ONNX operators -> IR nodes, opsets 7..21. Attribute forms of older opsets (Split split,
 * Slice starts/ends/axes, Squeeze/Unsqueeze axes, Pad pads/value, Reshape shape, Clip min/max,
 * ReduceMean axes, Upsample scales) become constant inputs, as the IR takes them (ir.h).
 * Semantics that changed between opsets and how they are mapped:
 *  - Softmax before opset 13 works on the input flattened to 2-D at `axis` (default 1); it is
 *    imported as Reshape([0,..,0,-1]) -> Softmax(-1) -> Reshape(Shape(x)); from 13 on, one axis
 *    (default -1).
 *  - Resize 10 and Upsample: asymmetric coordinates, nearest = floor; Resize 11+: the attributes.
 *  - Split 18 num_outputs: equal parts, the last smaller (the IR's default when sizes are absent).
 *  - Clip 11+: min/max inputs must be constants (they become the fused activation's bounds).
 *  - FLOAT16 Cast targets become F32 (the engine computes floating point in FP32/FP16 itself).
 * Anything else (other domains, control flow, unknown ops, unsupported attribute values) is
 * PAN_UNSUPPORTED with the node named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onnx.h"
#include "nn/onnx_impl.h"

static pan_status gather_io(pan__onnx_ctx *c, pan__onnx_io *x)
{
    const Onnx__NodeProto *n = c->node;
    if (n->n_input > PAN_ONNX_MAX_IO) return pan__onnx_fail(c, PAN_LIMIT, "%zu inputs (at most %d)", n->n_input, PAN_ONNX_MAX_IO);
    if (n->n_output > 64) return pan__onnx_fail(c, PAN_LIMIT, "%zu outputs (at most 64)", n->n_output);
    x->n_in = (int)n->n_input;
    for (int i = 0; i < x->n_in; i++) {
        const char *s = n->input[i];
        if (!s || !*s) {
            x->in[i] = -1;
            continue;
        }
        x->in[i] = pan__onnx_lookup(c, s);
        if (x->in[i] < 0)
            return pan__onnx_fail(c, PAN_MODEL, "input %d '%s' is not produced by any node, initializer or graph input",
                                  i, s);
    }
    x->n_out = (int)n->n_output;
    for (int i = 0; i < x->n_out; i++) {
        const char *s = n->output[i];
        x->out[i] = s && *s ? pan__onnx_lookup(c, s) : -1;
    }
    if (x->n_out < 1 || x->out[0] < 0) return pan__onnx_fail(c, PAN_MODEL, "no output");
    return PAN_OK;
}

int pan__onnx_need_inputs(pan__onnx_ctx *c, const pan__onnx_io *x, int k)
{
    for (int i = 0; i < k; i++)
        if (i >= x->n_in || x->in[i] < 0) return pan__onnx_fail(c, PAN_MODEL, "required input %d is missing", i);
    return PAN_OK;
}

/* Bit k set: input k of the op is an integer parameter (shape, axes, pads, indices, sizes). */
static unsigned int_params(pan_op op)
{
    switch (op) {
    case PAN_OP_RESHAPE: case PAN_OP_SQUEEZE: case PAN_OP_UNSQUEEZE: case PAN_OP_EXPAND:
    case PAN_OP_GATHER: case PAN_OP_SPLIT: case PAN_OP_PAD: case PAN_OP_REDUCE_MEAN: return 1u << 1;
    case PAN_OP_SLICE: return 0x1eu;
    case PAN_OP_RESIZE: return 1u << 3;
    case PAN_OP_CONSTANT_OF_SHAPE: return 1u;
    default: return 0;
    }
}

int pan__onnx_add(pan__onnx_ctx *c, pan_op op, int n_in, const int *in, int n_out, const int *out, const pan_attrs *a)
{
    const char *name = c->node->name && *c->node->name ? c->node->name : c->node->op_type;
    unsigned ip = int_params(op);
    for (int k = 0; k < n_in && k < 8; k++) {
        if (!(ip >> k & 1) || in[k] < 0) continue;
        const pan_tensor *t = &c->g->tensors[in[k]];
        if ((t->flags & PAN_TENSOR_CONST) && t->dtype != PAN_DTYPE_I64 && t->dtype != PAN_DTYPE_I32)
            return pan__onnx_fail(c, PAN_MODEL, "input %d '%s' must be an int64 tensor, not %s", k, t->name,
                                  pan_dtype_name(t->dtype));
    }
    int r = pan__graph_add_node(c->g, op, name, n_in, in, n_out, out, a);
    if (r < 0) return pan__onnx_fail(c, r, "cannot add the node to the graph");
    return PAN_OK;
}

int pan__onnx_temp(pan__onnx_ctx *c, pan_dtype dt)
{
    char *nm = pan__onnx_fresh_name(c);
    if (!nm) return PAN_NOMEM;
    int t = pan__graph_add_tensor(c->g, nm, dt, 0, NULL);
    free(nm);
    return t;
}

int pan__onnx_const_i64(pan__onnx_ctx *c, int n, const int64_t *v)
{
    char *nm = pan__onnx_fresh_name(c);
    if (!nm) return PAN_NOMEM;
    int t = pan__graph_add_const_i64(c->g, nm, n, v);
    free(nm);
    return t;
}

const pan_tensor *pan__onnx_cst(pan__onnx_ctx *c, int t)
{
    if (t < 0) return NULL;
    const pan_tensor *T = &c->g->tensors[t];
    return T->flags & PAN_TENSOR_CONST ? T : NULL;
}

/* INTS attribute `name` -> constant I64 input (or -1 when absent). */
int pan__onnx_ints_as_input(pan__onnx_ctx *c, const char *name, int *t)
{
    const int64_t *v;
    int k = pan__onnx_attr_ints(c->node, name, &v);
    *t = -1;
    if (k == -2) return pan__onnx_fail(c, PAN_LIMIT, "attribute '%s' has too many values", name);
    if (k < 0) return PAN_OK;
    int r = pan__onnx_const_i64(c, k, v);
    if (r < 0) return r;
    *t = r;
    return PAN_OK;
}

/* Reads a 2-D spatial INTS attribute ([H, W]); 4 values for pads. Returns PAN_OK or error. */
static int spatial(pan__onnx_ctx *c, const char *name, int want, int64_t *out)
{
    const int64_t *v;
    int k = pan__onnx_attr_ints(c->node, name, &v);
    if (k < 0 && k != -2) return PAN_OK;
    if (k != want)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "attribute '%s' has %d values; only 2-D (NCHW) is supported (%d)",
                              name, k, want);
    for (int i = 0; i < want; i++) {
        if (v[i] < 0 || v[i] > 1 << 20) return pan__onnx_fail(c, PAN_MODEL, "attribute '%s' value %lld out of range",
                                                               name, (long long)v[i]);
        out[i] = v[i];
    }
    return PAN_OK;
}

static int auto_pad(pan__onnx_ctx *c, pan_auto_pad *ap)
{
    char s[32];
    pan__onnx_attr_s(c->node, "auto_pad", "NOTSET", s, sizeof s);
    if (!strcmp(s, "NOTSET") || !*s) *ap = PAN_AUTO_PAD_NOTSET;
    else if (!strcmp(s, "VALID")) *ap = PAN_AUTO_PAD_VALID;
    else if (!strcmp(s, "SAME_UPPER")) *ap = PAN_AUTO_PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *ap = PAN_AUTO_PAD_SAME_LOWER;
    else return pan__onnx_fail(c, PAN_UNSUPPORTED, "auto_pad '%s'", s);
    return PAN_OK;
}

static int conv(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if ((st = spatial(c, "strides", 2, a.conv.strides)) || (st = spatial(c, "dilations", 2, a.conv.dilations)) ||
        (st = spatial(c, "pads", 4, a.conv.pads)) || (st = auto_pad(c, &a.conv.auto_pad)))
        return st;
    int64_t ks[2] = {0, 0};
    if ((st = spatial(c, "kernel_shape", 2, ks))) return st;
    a.conv.group = pan__onnx_attr_i(c->node, "group", 1);
    if (a.conv.group < 1 || a.conv.group > 1 << 20) return pan__onnx_fail(c, PAN_MODEL, "group %lld", (long long)a.conv.group);
    const pan_tensor *w = pan__onnx_cst(c, x->in[1]);
    if (w && w->rank != 4) return pan__onnx_fail(c, PAN_UNSUPPORTED, "weight '%s' has rank %d: only 2-D convolutions", w->name, w->rank);
    int in[3] = {x->in[0], x->in[1], x->n_in > 2 ? x->in[2] : -1};
    return pan__onnx_add(c, PAN_OP_CONV, 3, in, 1, x->out, &a);
}

static int pool(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    if (x->n_out > 1 && x->out[1] >= 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "MaxPool Indices output");
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if ((st = spatial(c, "kernel_shape", 2, a.pool.kernel)) || (st = spatial(c, "strides", 2, a.pool.strides)) ||
        (st = spatial(c, "dilations", 2, a.pool.dilations)) || (st = spatial(c, "pads", 4, a.pool.pads)) ||
        (st = auto_pad(c, &a.pool.auto_pad)))
        return st;
    if (a.pool.kernel[0] < 1 || a.pool.kernel[1] < 1) return pan__onnx_fail(c, PAN_MODEL, "kernel_shape missing or 0");
    a.pool.ceil_mode = (int)pan__onnx_attr_i(c->node, "ceil_mode", 0);
    a.pool.count_include_pad = (int)pan__onnx_attr_i(c->node, "count_include_pad", 0);
    if (pan__onnx_attr_i(c->node, "storage_order", 0)) return pan__onnx_fail(c, PAN_UNSUPPORTED, "storage_order 1");
    return pan__onnx_add(c, op, 1, x->in, 1, x->out, &a);
}

static int unary(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op, float alpha, float beta)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.unary.alpha = alpha;
    a.unary.beta = beta;
    return pan__onnx_add(c, op, 1, x->in, 1, x->out, &a);
}

static int scalar_const(pan__onnx_ctx *c, int t, float *v)
{
    if (t < 0) return PAN_OK;
    const pan_tensor *T = pan__onnx_cst(c, t);
    if (!T || pan__tensor_numel(T) != 1)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "Clip bound '%s' must be a constant scalar", c->g->tensors[t].name);
    *v = (float)pan__tensor_get_f64(T, 0);
    return PAN_OK;
}

static int clip(pan__onnx_ctx *c, pan__onnx_io *x)
{
    float lo = -INFINITY, hi = INFINITY;
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    if (c->opset < 11) {
        lo = pan__onnx_attr_f(c->node, "min", lo);
        hi = pan__onnx_attr_f(c->node, "max", hi);
    } else if ((st = scalar_const(c, x->n_in > 1 ? x->in[1] : -1, &lo)) ||
               (st = scalar_const(c, x->n_in > 2 ? x->in[2] : -1, &hi))) {
        return st;
    }
    return unary(c, x, PAN_OP_CLIP, lo, hi);
}

/* Variadic Max/Min/Sum: a chain of binary nodes. */
static int binary(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op, int variadic)
{
    if (x->n_in < (variadic ? 1 : 2) || (!variadic && x->n_in != 2))
        return pan__onnx_fail(c, PAN_MODEL, "%d inputs", x->n_in);
    for (int i = 0; i < x->n_in; i++)
        if (x->in[i] < 0) return pan__onnx_fail(c, PAN_MODEL, "input %d is missing", i);
    if (x->n_in == 1) return pan__onnx_add(c, PAN_OP_IDENTITY, 1, x->in, 1, x->out, NULL);
    int acc = x->in[0];
    for (int i = 1; i < x->n_in; i++) {
        int out = i == x->n_in - 1 ? x->out[0] : pan__onnx_temp(c, PAN_DTYPE_F32);
        if (out < 0) return out;
        int in[2] = {acc, x->in[i]};
        int st = pan__onnx_add(c, op, 2, in, 1, &out, NULL);
        if (st) return st;
        acc = out;
    }
    return PAN_OK;
}

static int axis_op(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op, int64_t def, int n_in)
{
    int st = pan__onnx_need_inputs(c, x, n_in);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.axis.axis = pan__onnx_attr_i(c->node, "axis", def);
    if (a.axis.axis < -PAN_MAX_DIMS || a.axis.axis >= PAN_MAX_DIMS)
        return pan__onnx_fail(c, PAN_MODEL, "axis %lld", (long long)a.axis.axis);
    return pan__onnx_add(c, op, op == PAN_OP_CONCAT ? x->n_in : n_in, x->in, 1, x->out, &a);
}

static int softmax(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    if (c->opset >= 13) return axis_op(c, x, PAN_OP_SOFTMAX, -1, 1);
    int64_t axis = pan__onnx_attr_i(c->node, "axis", 1);
    if (axis == -1) return axis_op(c, x, PAN_OP_SOFTMAX, -1, 1);
    if (axis < 0 || axis >= PAN_MAX_DIMS)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "opset-%lld Softmax axis %lld", (long long)c->opset, (long long)axis);
    /* Coerced to 2-D at axis: Reshape(x, [0 × axis, -1]) -> Softmax(-1) -> Reshape(Shape(x)).
     * (A Reshape with 0s rather than Flatten keeps dim 0 in place, so the batch stays visible.) */
    int64_t tgt[PAN_MAX_DIMS + 1] = {0};
    tgt[axis] = -1;
    int shape2 = pan__onnx_const_i64(c, (int)axis + 1, tgt);
    int flat = pan__onnx_temp(c, PAN_DTYPE_F32), sm = pan__onnx_temp(c, PAN_DTYPE_F32), shp = pan__onnx_temp(c, PAN_DTYPE_I64);
    if (shape2 < 0 || flat < 0 || sm < 0 || shp < 0) return PAN_NOMEM;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    int in[2] = {x->in[0], shape2};
    if ((st = pan__onnx_add(c, PAN_OP_RESHAPE, 2, in, 1, &flat, &a))) return st;
    a.axis.axis = -1;
    if ((st = pan__onnx_add(c, PAN_OP_SOFTMAX, 1, &flat, 1, &sm, &a))) return st;
    memset(&a, 0, sizeof a);
    if ((st = pan__onnx_add(c, PAN_OP_SHAPE, 1, x->in, 1, &shp, &a))) return st;
    in[0] = sm;
    in[1] = shp;
    return pan__onnx_add(c, PAN_OP_RESHAPE, 2, in, 1, x->out, &a);
}

/* Ops whose parameter moved from an attribute to input 1 at opset `since`. */
static int attr_or_input(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op, const char *attr, int since, const pan_attrs *a)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    int p = x->n_in > 1 ? x->in[1] : -1;
    if (c->opset < since && (st = pan__onnx_ints_as_input(c, attr, &p))) return st;
    int in[2] = {x->in[0], p};
    return pan__onnx_add(c, op, 2, in, 1, x->out, a);
}

static int reduce_mean(pan__onnx_ctx *c, pan__onnx_io *x)
{
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.reduce.keepdims = (int)pan__onnx_attr_i(c->node, "keepdims", 1);
    a.reduce.noop_with_empty_axes = (int)pan__onnx_attr_i(c->node, "noop_with_empty_axes", 0);
    return attr_or_input(c, x, PAN_OP_REDUCE_MEAN, "axes", 18, &a);
}

/* ---- converters of the ops marked OWN in the op table, and ONNX-only aliases ---- */
static int batchnorm(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 5);
    if (st) return st;
    for (int i = 1; i < x->n_out; i++)
        if (x->out[i] >= 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "training-mode outputs");
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.bn.epsilon = pan__onnx_attr_f(c->node, "epsilon", 1e-5f);
    return pan__onnx_add(c, PAN_OP_BATCHNORM, 5, x->in, 1, x->out, &a);
}

static int leaky_relu(pan__onnx_ctx *c, pan__onnx_io *x)
{
    return unary(c, x, PAN_OP_LEAKY_RELU, pan__onnx_attr_f(c->node, "alpha", 0.01f), 0);
}

static int hard_sigmoid(pan__onnx_ctx *c, pan__onnx_io *x)
{
    return unary(c, x, PAN_OP_HARD_SIGMOID, pan__onnx_attr_f(c->node, "alpha", 0.2f), pan__onnx_attr_f(c->node, "beta", 0.5f));
}

static int dropout(pan__onnx_ctx *c, pan__onnx_io *x) { return unary(c, x, PAN_OP_IDENTITY, 0, 0); }
static int max_(pan__onnx_ctx *c, pan__onnx_io *x) { return binary(c, x, PAN_OP_MAX, 1); }
static int min_(pan__onnx_ctx *c, pan__onnx_io *x) { return binary(c, x, PAN_OP_MIN, 1); }
static int sum(pan__onnx_ctx *c, pan__onnx_io *x) { return binary(c, x, PAN_OP_ADD, 1); }

static int gemm(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.gemm.alpha = pan__onnx_attr_f(c->node, "alpha", 1.f);
    a.gemm.beta = pan__onnx_attr_f(c->node, "beta", 1.f);
    a.gemm.trans_a = (int)pan__onnx_attr_i(c->node, "transA", 0);
    a.gemm.trans_b = (int)pan__onnx_attr_i(c->node, "transB", 0);
    int in[3] = {x->in[0], x->in[1], x->n_in > 2 ? x->in[2] : -1};
    return pan__onnx_add(c, PAN_OP_GEMM, 3, in, 1, x->out, &a);
}

static int concat(pan__onnx_ctx *c, pan__onnx_io *x)
{
    if (x->n_in < 1) return pan__onnx_fail(c, PAN_MODEL, "no inputs");
    for (int i = 0; i < x->n_in; i++)
        if (x->in[i] < 0) return pan__onnx_fail(c, PAN_MODEL, "input %d is missing", i);
    return axis_op(c, x, PAN_OP_CONCAT, 0, 1);
}

static int reshape(pan__onnx_ctx *c, pan__onnx_io *x)
{
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.reshape.allowzero = (int)pan__onnx_attr_i(c->node, "allowzero", 0);
    a.reshape.batch_leading = c->static_batch1; /* see onnx.c: static batch-1 exports */
    return attr_or_input(c, x, PAN_OP_RESHAPE, "shape", 5, &a);
}

static int transpose(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    const int64_t *p;
    int k = pan__onnx_attr_ints(c->node, "perm", &p);
    if (k > PAN_MAX_DIMS || k == -2) return pan__onnx_fail(c, PAN_UNSUPPORTED, "perm of %d values", k);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.transpose.n_perm = k < 0 ? 0 : k;
    for (int i = 0; i < a.transpose.n_perm; i++) a.transpose.perm[i] = p[i];
    return pan__onnx_add(c, PAN_OP_TRANSPOSE, 1, x->in, 1, x->out, &a);
}

static int flatten(pan__onnx_ctx *c, pan__onnx_io *x) { return axis_op(c, x, PAN_OP_FLATTEN, 1, 1); }
static int squeeze(pan__onnx_ctx *c, pan__onnx_io *x) { return attr_or_input(c, x, PAN_OP_SQUEEZE, "axes", 13, NULL); }
static int unsqueeze(pan__onnx_ctx *c, pan__onnx_io *x) { return attr_or_input(c, x, PAN_OP_UNSQUEEZE, "axes", 13, NULL); }
static int gather(pan__onnx_ctx *c, pan__onnx_io *x) { return axis_op(c, x, PAN_OP_GATHER, 0, 2); }

static int shape(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.shape.start = pan__onnx_attr_i(c->node, "start", 0);
    a.shape.end = pan__onnx_attr_i(c->node, "end", 0);
    return pan__onnx_add(c, PAN_OP_SHAPE, 1, x->in, 1, x->out, &a);
}

static int maxpool(pan__onnx_ctx *c, pan__onnx_io *x) { return pool(c, x, PAN_OP_MAXPOOL); }
static int avgpool(pan__onnx_ctx *c, pan__onnx_io *x) { return pool(c, x, PAN_OP_AVGPOOL); }
static int resize(pan__onnx_ctx *c, pan__onnx_io *x) { return pan__onnx_op_resize(c, x, 0); }
static int upsample(pan__onnx_ctx *c, pan__onnx_io *x) { return pan__onnx_op_resize(c, x, 1); }

/* ONNX op_type -> converter: the op table's OWN rows plus ONNX-only names (Dropout, Sum, Range,
 * Upsample). The AS_IS rows need no entry. Constant is handled while reading the graph (onnx.c). */
static const struct {
    const char *name;
    int (*fn)(pan__onnx_ctx *c, pan__onnx_io *x);
} converters[] = {
    {"Conv", conv},           {"BatchNormalization", batchnorm}, {"LeakyRelu", leaky_relu},
    {"HardSigmoid", hard_sigmoid}, {"Clip", clip},              {"Cast", pan__onnx_op_cast_to},
    {"Max", max_},            {"Min", min_},                     {"Sum", sum},
    {"Dropout", dropout},     {"Gemm", gemm},                    {"Concat", concat},
    {"Split", pan__onnx_op_split}, {"Slice", pan__onnx_op_slice}, {"Reshape", reshape},
    {"Transpose", transpose}, {"Flatten", flatten},              {"Squeeze", squeeze},
    {"Unsqueeze", unsqueeze}, {"Pad", pan__onnx_op_pad},         {"Gather", gather},
    {"Shape", shape},         {"ConstantOfShape", pan__onnx_op_const_of_shape}, {"Range", pan__onnx_op_range},
    {"MaxPool", maxpool},     {"AveragePool", avgpool},          {"Resize", resize},
    {"Upsample", upsample},   {"Softmax", softmax},              {"ReduceMean", reduce_mean},
    /* the detector families' ops (onnx_ops_ext.c) */
    {"ReduceSum", pan__onnx_op_reduce_sum}, {"ReduceMax", pan__onnx_op_reduce_max},
    {"ReduceMin", pan__onnx_op_reduce_min}, {"GatherElements", pan__onnx_op_gather_elements},
    {"TopK", pan__onnx_op_topk},            {"ArgMax", pan__onnx_op_argmax},
    {"ArgMin", pan__onnx_op_argmin},        {"LayerNormalization", pan__onnx_op_layernorm},
    {"Gelu", pan__onnx_op_gelu},            {"Mod", pan__onnx_op_mod},
    {"GridSample", pan__onnx_op_grid_sample}, {"Einsum", pan__onnx_op_einsum},
};

static int converter_of(const char *op_type)
{
    for (size_t i = 0; i < sizeof converters / sizeof converters[0]; i++)
        if (!strcmp(converters[i].name, op_type)) return (int)i;
    return -1;
}

int pan__onnx_has_converter(const char *op_type) { return op_type && converter_of(op_type) >= 0; }

int pan__onnx_op_known(const char *op_type)
{
    if (!op_type) return 0;
    if (!strcmp(op_type, "Constant") || converter_of(op_type) >= 0) return 1;
    int op = pan__op_from_name(op_type);
    return op >= 0 && pan__op_onnx((pan_op)op) == PAN_ONNX_AS_IS;
}

/* AS_IS rows: the ONNX node's inputs and outputs as they are, no attributes. */
static int as_is(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op)
{
    int n_out = x->n_out;
    while (n_out > 1 && x->out[n_out - 1] < 0) n_out--; /* absent trailing optional outputs */
    for (int i = 0; i < n_out; i++)
        if (x->out[i] < 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "output %d is absent", i);
    return pan__onnx_add(c, op, x->n_in, x->in, n_out, x->out, NULL);
}

pan_status pan__onnx_convert_node(pan__onnx_ctx *c)
{
    pan__onnx_io *px = malloc(sizeof *px); /* ~16 KiB: kept off the stack */
    if (!px) return PAN_NOMEM;
    int st = gather_io(c, px);
    if (st) goto done;
    const char *op = c->node->op_type;
    int k = converter_of(op), ir = pan__op_from_name(op);
    if (k >= 0) st = converters[k].fn(c, px);
    else if (ir >= 0 && pan__op_onnx((pan_op)ir) == PAN_ONNX_AS_IS) st = as_is(c, px, (pan_op)ir);
    else
        st = pan__onnx_fail(c, PAN_UNSUPPORTED, "operator '%s' is not supported by Panoptes (opset %lld)", op,
                            (long long)c->opset);
done:
    free(px);
    return st;
}
