/* TF.js importer, part 2: TensorFlow ops -> IR nodes.
 *
 * TF tensors keep TF's layout in the IR (NHWC where the model computes in NHWC). Only the ops
 * whose IR form is NCHW (convs, pools, resize) are wrapped: Transpose(0,3,1,2) -> op ->
 * Transpose(0,2,3,1). Converters from ONNX (onnx-tf, as NanoDet's file) already surround each
 * conv with the opposite transposes, so the transpose pass cancels the pairs afterwards.
 * Filters HWIO become OIHW through a Transpose node on the constant (folded at inference).
 * TF's padding lists [rank, 2] become the IR's [begins..., ends...] through Transpose+Reshape nodes
 * (folded too). Reshape targets get batch_leading: the converted graph says 1 where it means
 * the batch.
 *
 * NanoDet-g (models/nanodet.json) uses: Placeholder, Const, Pad, PadV2 (-inf before MaxPool),
 * Transpose, Conv2D (VALID, explicit Pad nodes before), Add/AddV2, LeakyRelu (0.1), MaxPool,
 * ConcatV2, ResizeBilinear (half_pixel_centers), SplitV, Sigmoid, Reshape, SparseToDense (with
 * empty indices: it only produces zeros added to constant reshape targets), Identity.
 * Its graph outputs, in the order the IR lists them (sorted by name; the signature's own order
 * is arbitrary): Identity, Identity_1, Identity_2 = class scores of strides 8, 16, 32
 * ([1, 2704|676|169, 80], sigmoid applied); Identity_3, Identity_4, Identity_5 = box-side
 * distributions of strides 8, 16, 32 ([1, N, 44] = 4 sides x 11 bins, raw logits). Its input
 * input_1 is NCHW [1, 3, 416, 416] (B, G, R; normalised outside the graph). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tfjs_impl.h"
#include "panoptes/log.h"

#define TAG "tfjs"
#define attr pan__tfjs_attr
#define json_int pan__tfjs_json_int
#define tf_dtype pan__tfjs_dtype
#define tmp_tensor pan__tfjs_tmp_tensor
#define node1 pan__tfjs_node1
#define const_in pan__tfjs_const_in
#define wrap_nchw pan__tfjs_wrap_nchw
#define get_format pan__tfjs_format
#define attr_f pan__tfjs_attr_f
#define attr_b pan__tfjs_attr_b
#define attr_list_i pan__tfjs_attr_list_i


#define FAIL(st, ...)                                                                              \
    do {                                                                                           \
        char m_[400];                                                                              \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        pan_log_error(TAG, -1, "%s: node '%s' (%s): %s", c->g->source, c->name, c->op, m_);         \
        return (st);                                                                               \
    } while (0)

/* ---- attributes ------------------------------------------------------------------------- */
json_t *pan__tfjs_attr(const pan_tfjs_node *c, const char *key, const char *kind)
{
    return json_object_get(json_object_get(json_object_get(c->node, "attr"), key), kind);
}

int64_t pan__tfjs_json_int(json_t *v, int64_t def)
{
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    if (json_is_real(v)) return pan__f2i(json_real_value(v));
    return def;
}

double pan__tfjs_attr_f(const pan_tfjs_node *c, const char *key, double def)
{
    json_t *v = attr(c, key, "f");
    return json_is_number(v) ? json_number_value(v) : def;
}
int pan__tfjs_attr_b(const pan_tfjs_node *c, const char *key) { return json_is_true(attr(c, key, "b")); }

/* TF JSON stores string attributes as base64 bytes. Returns def when s is not base64. */
static const char *b64_decode(const char *s, char *out, size_t size, const char *def)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (!s) return def;
    for (; *s && *s != '=' && k + 1 < size; s++) {
        const char *p = strchr(tbl, *s);
        if (!p) return def;
        acc = acc << 6 | (uint32_t)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[k] = 0;
    return out;
}

static const char *attr_s(const pan_tfjs_node *c, const char *key, char *out, size_t size, const char *def)
{
    return b64_decode(json_string_value(attr(c, key, "s")), out, size, def);
}

int pan__tfjs_attr_list_i(const pan_tfjs_node *c, const char *key, int64_t *out, int max)
{
    json_t *l = json_object_get(attr(c, key, "list"), "i");
    if (!json_is_array(l)) return 0;
    int n = (int)json_array_size(l);
    if (n > max) return -1;
    for (int i = 0; i < n; i++) out[i] = json_int(json_array_get(l, (size_t)i), 0);
    return n;
}

pan_dtype pan__tfjs_dtype(const char *t)
{
    if (!t) return PAN_DTYPE_F32;
    if (!strcmp(t, "DT_INT32") || !strcmp(t, "DT_INT64")) return PAN_DTYPE_I64;
    if (!strcmp(t, "DT_BOOL")) return PAN_DTYPE_BOOL;
    return PAN_DTYPE_F32;
}

/* ---- graph helpers ---------------------------------------------------------------------- */
int pan__tfjs_tmp_tensor(pan_tfjs_node *c, const char *suffix)
{
    char base[600];
    snprintf(base, sizeof base, "%s/%s", c->name, suffix);
    char *nm = pan__graph_unique_name(c->g, base);
    if (!nm) return PAN_NOMEM;
    int t = pan__graph_add_tensor(c->g, nm, PAN_DTYPE_F32, 0, NULL);
    free(nm);
    return t;
}

int pan__tfjs_node1(pan_tfjs_node *c, pan_op op, int n_in, const int *in, int out, const pan_attrs *a)
{
    int r = pan__graph_add_node(c->g, op, c->name, n_in, in, 1, &out, a);
    return r < 0 ? r : out;
}

static int transpose(pan_tfjs_node *c, int x, int out, const int64_t *perm, int rank)
{
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.transpose.n_perm = rank;
    memcpy(a.transpose.perm, perm, sizeof(int64_t) * (size_t)rank);
    if (out < 0) out = tmp_tensor(c, "transpose");
    if (out < 0) return out;
    return node1(c, PAN_OP_TRANSPOSE, 1, &x, out, &a);
}

static const int64_t TO_NCHW[4] = {0, 3, 1, 2}, TO_NHWC[4] = {0, 2, 3, 1};

const pan_tensor *pan__tfjs_const_in(pan_tfjs_node *c, int k)
{
    if (k >= c->n_in) return NULL;
    const pan_tensor *t = &c->g->tensors[c->in[k]];
    return (t->flags & PAN_TENSOR_CONST) ? t : NULL;
}

/* TF paddings [rank, 2] -> IR pads [begins..., ends...]: Reshape(Transpose(p, [1,0]), [-1]). */
static int ir_pads(pan_tfjs_node *c, int tf_pads)
{
    static const int64_t swap[2] = {1, 0}, flat = -1;
    int t = transpose(c, tf_pads, -1, swap, 2);
    if (t < 0) return t;
    char nm[600];
    snprintf(nm, sizeof nm, "%s/pads_shape", c->name);
    char *u = pan__graph_unique_name(c->g, nm);
    if (!u) return PAN_NOMEM;
    int s = pan__graph_add_const_i64(c->g, u, 1, &flat);
    free(u);
    if (s < 0) return s;
    int r = tmp_tensor(c, "pads");
    if (r < 0) return r;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    int in[2] = {t, s};
    return node1(c, PAN_OP_RESHAPE, 2, in, r, &a);
}

/* Wraps an NCHW IR op for an NHWC TF op: x -> T -> op(attrs) -> T -> c->out[0]. */
pan_status pan__tfjs_wrap_nchw(pan_tfjs_node *c, pan_op op, int n_in, int *in, const pan_attrs *a, int nhwc)
{
    int r;
    if (!nhwc) return (r = node1(c, op, n_in, in, c->out[0], a)) < 0 ? r : PAN_OK;
    if ((in[0] = transpose(c, in[0], -1, TO_NCHW, 4)) < 0) return in[0];
    int mid = tmp_tensor(c, "nchw");
    if (mid < 0) return mid;
    if ((r = node1(c, op, n_in, in, mid, a)) < 0) return r;
    return (r = transpose(c, mid, c->out[0], TO_NHWC, 4)) < 0 ? r : PAN_OK;
}

pan_status pan__tfjs_format(pan_tfjs_node *c, int *nhwc)
{
    char buf[16];
    const char *f = attr_s(c, "data_format", buf, sizeof buf, "NHWC");
    if (!strcmp(f, "NHWC")) *nhwc = 1;
    else if (!strcmp(f, "NCHW")) *nhwc = 0;
    else FAIL(PAN_UNSUPPORTED, "data_format '%s' is not supported (NHWC or NCHW)", f);
    return PAN_OK;
}

/* strides/dilations/ksize lists in data_format order -> H, W */
static pan_status hw_list(pan_tfjs_node *c, const char *key, int nhwc, int64_t *hw, int64_t def)
{
    int64_t l[8];
    int n = attr_list_i(c, key, l, 8);
    hw[0] = hw[1] = def;
    if (n == 0) return PAN_OK;
    if (n != 4 || l[0] != 1 || l[nhwc ? 3 : 1] != 1 || l[nhwc ? 1 : 2] < 1 || l[nhwc ? 2 : 3] < 1 ||
        l[nhwc ? 1 : 2] > 65536 || l[nhwc ? 2 : 3] > 65536)
        FAIL(PAN_UNSUPPORTED, "attribute %s must be 4 positive values with 1 on batch and channels", key);
    hw[0] = l[nhwc ? 1 : 2];
    hw[1] = l[nhwc ? 2 : 3];
    return PAN_OK;
}

static pan_status padding(pan_tfjs_node *c, int nhwc, pan_auto_pad *ap, int64_t *pads)
{
    char buf[32];
    const char *p = attr_s(c, "padding", buf, sizeof buf, "VALID");
    memset(pads, 0, sizeof(int64_t) * 4);
    if (!strcmp(p, "VALID")) *ap = PAN_AUTO_PAD_VALID;
    else if (!strcmp(p, "SAME")) *ap = PAN_AUTO_PAD_SAME_UPPER;
    else if (!strcmp(p, "EXPLICIT")) {
        int64_t e[8];
        if (attr_list_i(c, "explicit_paddings", e, 8) != 8) FAIL(PAN_MODEL, "EXPLICIT padding needs 8 explicit_paddings");
        int h = nhwc ? 2 : 4, w = nhwc ? 4 : 6;
        int64_t v[4] = {e[h], e[w], e[h + 1], e[w + 1]};
        for (int i = 0; i < 4; i++) {
            if (v[i] < 0 || v[i] > 65536) FAIL(PAN_MODEL, "explicit padding %lld is invalid", (long long)v[i]);
            pads[i] = v[i];
        }
        *ap = PAN_AUTO_PAD_NOTSET;
    } else FAIL(PAN_UNSUPPORTED, "padding '%s' is not supported", p);
    return PAN_OK;
}

static pan_status conv2d(pan_tfjs_node *c, int depthwise, int fused)
{
    int nhwc, r;
    pan_status st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if (c->n_in < 2 + (fused ? 1 : 0)) FAIL(PAN_MODEL, "needs input, filter%s", fused ? " and bias" : "");
    if ((st = get_format(c, &nhwc)) || (st = hw_list(c, "strides", nhwc, a.conv.strides, 1)) ||
        (st = hw_list(c, "dilations", nhwc, a.conv.dilations, 1)) ||
        (st = padding(c, nhwc, &a.conv.auto_pad, a.conv.pads)))
        return st;
    const pan_tensor *f = &c->g->tensors[c->in[1]];
    int w;
    if (!depthwise) {
        static const int64_t HWIO_TO_OIHW[4] = {3, 2, 0, 1};
        if ((w = transpose(c, c->in[1], -1, HWIO_TO_OIHW, 4)) < 0) return w;
        a.conv.group = 1; /* grouped TF Conv2D (C_in a multiple of the filter's I) is not supported */
    } else {
        /* [kh, kw, C, M] -> [C, M, kh, kw] -> [C*M, 1, kh, kw], group = C */
        static const int64_t DW[4] = {2, 3, 0, 1};
        if (f->rank != 4 || !(f->flags & PAN_TENSOR_CONST)) FAIL(PAN_UNSUPPORTED, "depthwise filter must be a 4-D constant");
        int64_t shp[4] = {f->dims[2] * f->dims[3], 1, f->dims[0], f->dims[1]};
        int t = transpose(c, c->in[1], -1, DW, 4);
        if (t < 0) return t;
        char nm[600];
        snprintf(nm, sizeof nm, "%s/dw_shape", c->name);
        char *u = pan__graph_unique_name(c->g, nm);
        if (!u) return PAN_NOMEM;
        int s = pan__graph_add_const_i64(c->g, u, 4, shp);
        free(u);
        if (s < 0) return s;
        if ((w = tmp_tensor(c, "dw_filter")) < 0) return w;
        pan_attrs ra;
        memset(&ra, 0, sizeof ra);
        int in2[2] = {t, s};
        if ((r = node1(c, PAN_OP_RESHAPE, 2, in2, w, &ra)) < 0) return r;
        a.conv.group = f->dims[2];
    }
    int in[4] = {c->in[0], w, fused ? c->in[2] : -1, -1};
    if (fused) {
        json_t *l = json_object_get(attr(c, "fused_ops", "list"), "s");
        char ops[2][32] = {"", ""};
        size_t k = json_array_size(l);
        if (k < 1 || k > 2) FAIL(PAN_UNSUPPORTED, "fused_ops must be BiasAdd[, activation]");
        for (size_t i = 0; i < k; i++) b64_decode(json_string_value(json_array_get(l, i)), ops[i], sizeof ops[i], "");
        if (strcmp(ops[0], "BiasAdd")) FAIL(PAN_UNSUPPORTED, "fused op '%s' is not supported", ops[0]);
        const char *act = ops[1];
        if (!*act) a.conv.act = PAN_ACT_NONE;
        else if (!strcmp(act, "Relu")) a.conv.act = PAN_ACT_RELU;
        else if (!strcmp(act, "Relu6")) a.conv.act = PAN_ACT_CLIP, a.conv.act_alpha = 0, a.conv.act_beta = 6;
        else if (!strcmp(act, "LeakyRelu")) a.conv.act = PAN_ACT_LEAKY_RELU, a.conv.act_alpha = pan__d2f(attr_f(c, "leakyrelu_alpha", 0.2));
        else if (!strcmp(act, "Sigmoid")) a.conv.act = PAN_ACT_SIGMOID;
        else FAIL(PAN_UNSUPPORTED, "fused activation '%s' is not supported", act);
    }
    return wrap_nchw(c, PAN_OP_CONV, fused ? 3 : 2, in, &a, nhwc);
}

static pan_status pool(pan_tfjs_node *c, pan_op op)
{
    int nhwc;
    pan_status st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if ((st = get_format(c, &nhwc)) || (st = hw_list(c, "ksize", nhwc, a.pool.kernel, 1)) ||
        (st = hw_list(c, "strides", nhwc, a.pool.strides, 1)) ||
        (st = padding(c, nhwc, &a.pool.auto_pad, a.pool.pads)))
        return st;
    int in[1] = {c->in[0]};
    return wrap_nchw(c, op, 1, in, &a, nhwc);
}

static pan_status resize(pan_tfjs_node *c, int nearest)
{
    pan_attrs a;
    memset(&a, 0, sizeof a);
    int ac = attr_b(c, "align_corners"), hp = attr_b(c, "half_pixel_centers");
    if (ac && hp) FAIL(PAN_MODEL, "align_corners and half_pixel_centers are exclusive");
    a.resize.mode = nearest ? PAN_RESIZE_NEAREST : PAN_RESIZE_LINEAR;
    /* TF: align_corners scales by (in-1)/(out-1) (nearest rounds); half_pixel_centers samples
     * at (x+0.5)*in/out - 0.5 (bilinear) or floor((x+0.5)*in/out) (nearest); else x*in/out. */
    a.resize.coord = ac ? PAN_RESIZE_ALIGN_CORNERS
                        : hp ? (nearest ? PAN_RESIZE_TF_HALF_PIXEL_FOR_NN : PAN_RESIZE_HALF_PIXEL)
                             : PAN_RESIZE_ASYMMETRIC;
    a.resize.nearest = ac ? PAN_NEAREST_ROUND_PREFER_CEIL : PAN_NEAREST_FLOOR;
    if (c->n_in < 2) FAIL(PAN_MODEL, "needs images and size");
    int in[4] = {c->in[0], -1, -1, c->in[1]};
    return wrap_nchw(c, PAN_OP_RESIZE, 4, in, &a, 1);
}

static const struct { const char *tf; pan_op op; } simple_ops[] = {
    {"Identity", PAN_OP_IDENTITY}, {"StopGradient", PAN_OP_IDENTITY}, {"Add", PAN_OP_ADD},
    {"AddV2", PAN_OP_ADD}, {"BiasAdd", PAN_OP_ADD}, {"Sub", PAN_OP_SUB}, {"Mul", PAN_OP_MUL},
    {"RealDiv", PAN_OP_DIV}, {"Div", PAN_OP_DIV}, {"Maximum", PAN_OP_MAX}, {"Minimum", PAN_OP_MIN},
    {"Pow", PAN_OP_POW}, {"Relu", PAN_OP_RELU}, {"Sigmoid", PAN_OP_SIGMOID}, {"Tanh", PAN_OP_TANH},
    {"Exp", PAN_OP_EXP}, {"Log", PAN_OP_LOG}, {"Sqrt", PAN_OP_SQRT}, {"Neg", PAN_OP_NEG},
    {"Abs", PAN_OP_ABS}, {"SparseToDense", PAN_OP_SPARSE_TO_DENSE}, {"Shape", PAN_OP_SHAPE},
};

pan_status pan__tfjs_convert_one(pan_tfjs_node *c)
{
    const char *op = c->op;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    int r, nhwc = 1;
    for (size_t i = 0; i < sizeof simple_ops / sizeof simple_ops[0]; i++)
        if (!strcmp(op, simple_ops[i].tf)) {
            pan_op o = simple_ops[i].op;
            int need = pan__op_is_binary(o) ? 2 : o == PAN_OP_SPARSE_TO_DENSE ? 4 : 1;
            if (c->n_in < need) FAIL(PAN_MODEL, "needs %d inputs, has %d", need, c->n_in);
            if (!strcmp(op, "BiasAdd") && (get_format(c, &nhwc) || !nhwc))
                FAIL(PAN_UNSUPPORTED, "BiasAdd is supported in NHWC only");
            return (r = node1(c, o, need, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
        }
    if (!strcmp(op, "LeakyRelu")) {
        a.unary.alpha = pan__d2f(attr_f(c, "alpha", 0.2));
        return (r = node1(c, PAN_OP_LEAKY_RELU, 1, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Relu6")) {
        a.unary.alpha = 0;
        a.unary.beta = 6;
        return (r = node1(c, PAN_OP_CLIP, 1, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Conv2D")) return conv2d(c, 0, 0);
    if (!strcmp(op, "_FusedConv2D")) return conv2d(c, 0, 1);
    if (!strcmp(op, "DepthwiseConv2dNative")) return conv2d(c, 1, 0);
    if (!strcmp(op, "FusedDepthwiseConv2dNative")) return conv2d(c, 1, 1);
    if (!strcmp(op, "MaxPool")) return pool(c, PAN_OP_MAXPOOL);
    if (!strcmp(op, "AvgPool")) return pool(c, PAN_OP_AVGPOOL);
    if (!strcmp(op, "ResizeBilinear")) return resize(c, 0);
    if (!strcmp(op, "ResizeNearestNeighbor")) return resize(c, 1);
    if (!strcmp(op, "Pad") || !strcmp(op, "PadV2") || !strcmp(op, "MirrorPad")) {
        if (c->n_in < 2 + !strcmp(op, "PadV2")) FAIL(PAN_MODEL, "needs input and paddings");
        int p = ir_pads(c, c->in[1]);
        if (p < 0) return p;
        if (!strcmp(op, "MirrorPad")) {
            char buf[16];
            const char *m = attr_s(c, "mode", buf, sizeof buf, "");
            if (strcmp(m, "REFLECT")) FAIL(PAN_UNSUPPORTED, "MirrorPad mode '%s' is not supported", m);
            a.pad.mode = PAN_PAD_REFLECT;
        }
        int in[3] = {c->in[0], p, !strcmp(op, "PadV2") ? c->in[2] : -1};
        return (r = node1(c, PAN_OP_PAD, 3, in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Transpose")) {
        const pan_tensor *p = const_in(c, 1);
        if (!p || pan__tensor_numel(p) > PAN_MAX_DIMS) FAIL(PAN_UNSUPPORTED, "perm must be a constant of at most %d values", PAN_MAX_DIMS);
        int64_t perm[PAN_MAX_DIMS];
        int n = (int)pan__tensor_numel(p);
        for (int i = 0; i < n; i++) perm[i] = pan__tensor_get_i64(p, i);
        return (r = transpose(c, c->in[0], c->out[0], perm, n)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "ConcatV2")) {
        const pan_tensor *ax = c->n_in >= 2 ? const_in(c, c->n_in - 1) : NULL;
        if (!ax || pan__tensor_numel(ax) != 1) FAIL(PAN_UNSUPPORTED, "axis must be a scalar constant");
        a.axis.axis = pan__tensor_get_i64(ax, 0);
        return (r = node1(c, PAN_OP_CONCAT, c->n_in - 1, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "SplitV") || !strcmp(op, "Split")) {
        int v = !strcmp(op, "SplitV");
        const pan_tensor *ax = c->n_in >= 2 ? const_in(c, v ? 2 : 0) : NULL;
        if (c->n_in < 2 + v || !ax || pan__tensor_numel(ax) != 1) FAIL(PAN_UNSUPPORTED, "split_dim must be a scalar constant");
        a.axis.axis = pan__tensor_get_i64(ax, 0);
        int in[2] = {c->in[v ? 0 : 1], v ? c->in[1] : -1};
        r = pan__graph_add_node(c->g, PAN_OP_SPLIT, c->name, 2, in, c->n_out, c->out, &a);
        return r < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Reshape")) {
        if (c->n_in < 2) FAIL(PAN_MODEL, "needs tensor and shape");
        a.reshape.batch_leading = 1;
        return (r = node1(c, PAN_OP_RESHAPE, 2, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Softmax")) {
        a.axis.axis = -1;
        return (r = node1(c, PAN_OP_SOFTMAX, 1, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    if (!strcmp(op, "Cast")) {
        a.cast.to = tf_dtype(json_string_value(attr(c, "DstT", "type")));
        return (r = node1(c, PAN_OP_CAST, 1, c->in, c->out[0], &a)) < 0 ? r : PAN_OK;
    }
    return pan__tfjs_convert_more(c);
}
