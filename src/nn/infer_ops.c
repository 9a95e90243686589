/* Shape rules of the compute ops (conv, pooling, elementwise, resize, gemm...). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nn/infer_ops.h"
#include "panoptes/log.h"

#define TAG "nn"

void pan__infer_error(const pan_graph *g, const pan_node *n, const char *fmt, ...)
{
    if (!PAN_LOG_ENABLED(PAN_LOG_ERROR)) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pan_log_error(TAG, -1, "%s: node '%s' (%s): %s", g->source, n->name, pan__op_name(n->op), msg);
}

const pan_tensor *pan__infer_const_input(const pan_graph *g, const pan_node *n, int slot, const char *what)
{
    if (slot >= n->n_inputs || n->inputs[slot] < 0) {
        pan__infer_error(g, n, "missing input %d (%s)", slot, what);
        return NULL;
    }
    const pan_tensor *t = &g->tensors[n->inputs[slot]];
    if (!(t->flags & PAN_TENSOR_CONST)) {
        pan__infer_error(g, n, "input '%s' (%s) must be constant once the batch is known", t->name, what);
        return NULL;
    }
    return t;
}

pan_status pan__infer_set(pan_graph *g, const pan_node *n, int out, pan_dtype dtype, int rank, const int64_t *dims)
{
    if (out >= n->n_outputs) return PAN_MODEL;
    if (rank < 0 || rank > PAN_MAX_DIMS) {
        pan__infer_error(g, n, "output rank %d is outside 0..%d", rank, PAN_MAX_DIMS);
        return PAN_SHAPE;
    }
    pan_tensor *t = &g->tensors[n->outputs[out]];
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || dims[i] > PAN_MAX_DIM_VALUE || (numel *= dims[i]) > PAN_MAX_TENSOR_ELEMS) {
            char b[160];
            pan__infer_error(g, n, "output '%s' would have invalid or absurd dims %s", t->name,
                             pan__dims_str(rank, dims, b, sizeof b));
            return PAN_SHAPE;
        }
    }
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    return PAN_OK;
}

int pan__infer_axis(const pan_graph *g, const pan_node *n, int64_t axis, int rank)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank ? rank : 1)) {
        pan__infer_error(g, n, "axis %lld is out of range for rank %d", (long long)axis, rank);
        return -1;
    }
    return (int)a;
}

#define IN(k) (&g->tensors[n->inputs[k]])
#define NEED_INPUTS(k)                                                                     \
    do {                                                                                   \
        if (n->n_inputs < (k)) {                                                           \
            pan__infer_error(g, n, "needs %d inputs, has %d", (k), n->n_inputs);           \
            return PAN_MODEL;                                                              \
        }                                                                                  \
        for (int q_ = 0; q_ < (k); q_++)                                                   \
            if (n->inputs[q_] < 0) {                                                       \
                pan__infer_error(g, n, "required input %d is absent", q_);                 \
                return PAN_MODEL;                                                          \
            }                                                                              \
    } while (0)
#define NEED_RANK(t, r)                                                                                 \
    do {                                                                                                \
        if ((t)->rank != (r)) {                                                                         \
            pan__infer_error(g, n, "input '%s' must have rank %d, has %d", (t)->name, (r), (t)->rank); \
            return PAN_SHAPE;                                                                           \
        }                                                                                               \
    } while (0)

static int is_float(pan_dtype t) { return t == PAN_DTYPE_F32 || t == PAN_DTYPE_F16 || t == PAN_DTYPE_F64; }

/* Output size of one spatial axis of a conv/pool window; resolves auto_pad into pads. */
static int window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *pb, int64_t *pe, pan_auto_pad ap,
                      int ceil_mode, int64_t *out)
{
    if (s <= 0) s = 1;
    if (d <= 0) d = 1;
    int64_t ek = d * (k - 1) + 1;
    if (k <= 0 || k > PAN_MAX_DIM_VALUE || s > PAN_MAX_DIM_VALUE || d > PAN_MAX_DIM_VALUE) return -1;
    if (ap == PAN_AUTO_PAD_SAME_UPPER || ap == PAN_AUTO_PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ek - in;
        if (total < 0) total = 0;
        *pb = ap == PAN_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
    } else if (ap == PAN_AUTO_PAD_VALID) {
        *pb = *pe = 0;
    }
    if (*pb < 0 || *pe < 0 || *pb > PAN_MAX_DIM_VALUE || *pe > PAN_MAX_DIM_VALUE) return -1;
    int64_t span = in + *pb + *pe - ek;
    if (span < 0) return -1;
    *out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* ONNX/PyTorch: the last window must start inside the input or left padding. */
    if (ceil_mode && (*out - 1) * s >= in + *pb) (*out)--;
    return 0;
}

pan_status pan__infer_conv(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0), *w = IN(1);
    pan_conv_attrs *a = &n->attrs.conv;
    NEED_RANK(x, 4);
    NEED_RANK(w, 4);
    int64_t grp = a->group > 0 ? a->group : 1;
    if (x->dims[1] != w->dims[1] * grp || w->dims[0] % grp) {
        char b1[160], b2[160];
        pan__infer_error(g, n, "input '%s' %s does not fit weights '%s' %s with group %lld", x->name,
                         pan__dims_str(4, x->dims, b1, sizeof b1), w->name, pan__dims_str(4, w->dims, b2, sizeof b2),
                         (long long)grp);
        return PAN_SHAPE;
    }
    int64_t d[4] = {x->dims[0], w->dims[0], 0, 0};
    for (int ax = 0; ax < 2; ax++) {
        if (window_out(x->dims[2 + ax], w->dims[2 + ax], a->strides[ax], a->dilations[ax], &a->pads[ax],
                       &a->pads[ax + 2], a->auto_pad, 0, &d[2 + ax])) {
            pan__infer_error(g, n, "kernel/stride/padding do not fit input '%s' on axis %d", x->name, 2 + ax);
            return PAN_SHAPE;
        }
    }
    a->auto_pad = PAN_AUTO_PAD_NOTSET;
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        const pan_tensor *b = IN(2);
        if (pan__tensor_numel(b) != w->dims[0]) {
            pan__infer_error(g, n, "bias '%s' must have %lld elements", b->name, (long long)w->dims[0]);
            return PAN_SHAPE;
        }
    }
    if (n->n_inputs > 3 && n->inputs[3] >= 0) {
        const pan_tensor *r = IN(3);
        if (r->rank != 4 || memcmp(r->dims, d, sizeof d)) {
            pan__infer_error(g, n, "residual '%s' must match the conv output", r->name);
            return PAN_SHAPE;
        }
    }
    if (!is_float(x->dtype) || !is_float(w->dtype)) {
        pan__infer_error(g, n, "conv needs floating-point input and weights");
        return PAN_UNSUPPORTED;
    }
    return pan__infer_set(g, n, 0, x->dtype, 4, d);
}

pan_status pan__infer_pool(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    NEED_RANK(x, 4);
    int64_t d[4] = {x->dims[0], x->dims[1], 1, 1};
    if (n->op == PAN_OP_MAXPOOL || n->op == PAN_OP_AVGPOOL) {
        pan_pool_attrs *a = &n->attrs.pool;
        for (int ax = 0; ax < 2; ax++) {
            if (window_out(x->dims[2 + ax], a->kernel[ax], a->strides[ax], a->dilations[ax], &a->pads[ax],
                           &a->pads[ax + 2], a->auto_pad, a->ceil_mode, &d[2 + ax]) ||
                a->pads[ax] >= a->kernel[ax] * (a->dilations[ax] > 0 ? a->dilations[ax] : 1) ||
                a->pads[ax + 2] >= a->kernel[ax] * (a->dilations[ax] > 0 ? a->dilations[ax] : 1)) {
                pan__infer_error(g, n, "kernel/stride/padding do not fit input '%s' on axis %d", x->name, 2 + ax);
                return PAN_SHAPE;
            }
        }
        a->auto_pad = PAN_AUTO_PAD_NOTSET;
    }
    return pan__infer_set(g, n, 0, x->dtype, 4, d);
}

pan_status pan__infer_binary(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *a = IN(0), *b = IN(1);
    if (a->dtype != b->dtype) {
        pan__infer_error(g, n, "inputs '%s' (%s) and '%s' (%s) differ in dtype", a->name, pan_dtype_name(a->dtype),
                         b->name, pan_dtype_name(b->dtype));
        return PAN_MODEL;
    }
    int r = a->rank > b->rank ? a->rank : b->rank;
    int64_t d[PAN_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char b1[160], b2[160];
            pan__infer_error(g, n, "cannot broadcast '%s' %s with '%s' %s", a->name,
                             pan__dims_str(a->rank, a->dims, b1, sizeof b1), b->name,
                             pan__dims_str(b->rank, b->dims, b2, sizeof b2));
            return PAN_SHAPE;
        }
        d[i] = da == 1 ? db : da;
    }
    return pan__infer_set(g, n, 0, a->dtype, r, d);
}

pan_status pan__infer_resize(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    NEED_RANK(x, 4);
    int64_t d[4] = {x->dims[0], x->dims[1], 0, 0};
    if (x->dims[2] < 1 || x->dims[3] < 1) {
        pan__infer_error(g, n, "input '%s' is empty", x->name);
        return PAN_SHAPE;
    }
    if (n->n_inputs > 3 && n->inputs[3] >= 0) {
        const pan_tensor *s = pan__infer_const_input(g, n, 3, "sizes");
        if (!s) return PAN_UNSUPPORTED;
        int64_t k = pan__tensor_numel(s);
        if (k != 2 && k != 4) {
            pan__infer_error(g, n, "sizes '%s' must have 2 (H, W) or 4 elements", s->name);
            return PAN_SHAPE;
        }
        if (k == 4 && (pan__tensor_get_i64(s, 0) != d[0] || pan__tensor_get_i64(s, 1) != d[1])) {
            pan__infer_error(g, n, "resizing the batch or channel axis is not supported");
            return PAN_UNSUPPORTED;
        }
        d[2] = pan__tensor_get_i64(s, k - 2);
        d[3] = pan__tensor_get_i64(s, k - 1);
    } else if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        const pan_tensor *s = pan__infer_const_input(g, n, 2, "scales");
        if (!s) return PAN_UNSUPPORTED;
        int64_t k = pan__tensor_numel(s);
        if (k != 4 && k != 2) {
            pan__infer_error(g, n, "scales '%s' must have 4 or 2 elements", s->name);
            return PAN_SHAPE;
        }
        if (k == 4 && (pan__tensor_get_f64(s, 0) != 1.0 || pan__tensor_get_f64(s, 1) != 1.0)) {
            pan__infer_error(g, n, "resizing the batch or channel axis is not supported");
            return PAN_UNSUPPORTED;
        }
        for (int ax = 0; ax < 2; ax++) {
            double sc = pan__tensor_get_f64(s, k - 2 + ax);
            if (!(sc > 0 && sc < 1e6)) {
                pan__infer_error(g, n, "scale %g is invalid", sc);
                return PAN_SHAPE;
            }
            d[2 + ax] = (int64_t)floor((double)x->dims[2 + ax] * sc);
        }
    } else {
        pan__infer_error(g, n, "needs scales or sizes");
        return PAN_MODEL;
    }
    if (d[2] < 1 || d[3] < 1) {
        pan__infer_error(g, n, "output size %lldx%lld is empty", (long long)d[2], (long long)d[3]);
        return PAN_SHAPE;
    }
    return pan__infer_set(g, n, 0, x->dtype, 4, d);
}

pan_status pan__infer_gemm(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *A = IN(0), *B = IN(1);
    NEED_RANK(A, 2);
    NEED_RANK(B, 2);
    const pan_gemm_attrs *a = &n->attrs.gemm;
    int64_t M = a->trans_a ? A->dims[1] : A->dims[0], K = a->trans_a ? A->dims[0] : A->dims[1];
    int64_t K2 = a->trans_b ? B->dims[1] : B->dims[0], N = a->trans_b ? B->dims[0] : B->dims[1];
    if (K != K2) {
        pan__infer_error(g, n, "inner dimensions of '%s' and '%s' differ (%lld vs %lld)", A->name, B->name,
                         (long long)K, (long long)K2);
        return PAN_SHAPE;
    }
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        const pan_tensor *C = IN(2);
        int64_t cm = C->rank == 2 ? C->dims[0] : 1, cn = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
        if (C->rank > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N)) {
            pan__infer_error(g, n, "C '%s' does not broadcast to [%lld,%lld]", C->name, (long long)M, (long long)N);
            return PAN_SHAPE;
        }
    }
    int64_t d[2] = {M, N};
    return pan__infer_set(g, n, 0, A->dtype, 2, d);
}

pan_status pan__infer_matmul(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *A = IN(0), *B = IN(1);
    if (A->rank < 1 || B->rank < 1) {
        pan__infer_error(g, n, "matmul inputs must have rank >= 1");
        return PAN_SHAPE;
    }
    int64_t ad[PAN_MAX_DIMS + 1], bd[PAN_MAX_DIMS + 1];
    int ar = A->rank, br = B->rank;
    memcpy(ad, A->dims, sizeof(int64_t) * (size_t)ar);
    memcpy(bd, B->dims, sizeof(int64_t) * (size_t)br);
    if (ar == 1) { ad[1] = ad[0]; ad[0] = 1; ar = 2; }
    if (br == 1) { bd[1] = 1; br = 2; }
    if (ad[ar - 1] != bd[br - 2]) {
        pan__infer_error(g, n, "inner dimensions of '%s' and '%s' differ", A->name, B->name);
        return PAN_SHAPE;
    }
    int r = ar > br ? ar : br;
    int64_t d[PAN_MAX_DIMS];
    for (int i = 0; i < r - 2; i++) {
        int ia = i - (r - ar), ib = i - (r - br);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            pan__infer_error(g, n, "batch dims of '%s' and '%s' do not broadcast", A->name, B->name);
            return PAN_SHAPE;
        }
        d[i] = da == 1 ? db : da;
    }
    int k = r - 2;
    if (A->rank > 1) d[k++] = ad[ar - 2];
    if (B->rank > 1) d[k++] = bd[br - 1];
    return pan__infer_set(g, n, 0, A->dtype, k, d);
}

pan_status pan__infer_reduce(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    int mask[PAN_MAX_DIMS] = {0};
    if (n->n_inputs > 1 && n->inputs[1] >= 0) {
        const pan_tensor *ax = pan__infer_const_input(g, n, 1, "axes");
        if (!ax) return PAN_UNSUPPORTED;
        for (int64_t i = 0; i < pan__tensor_numel(ax); i++) {
            int a = pan__infer_axis(g, n, pan__tensor_get_i64(ax, i), x->rank);
            if (a < 0) return PAN_SHAPE;
            mask[a] = 1;
        }
    } else {
        for (int i = 0; i < x->rank; i++) mask[i] = 1;
    }
    int64_t d[PAN_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!mask[i]) d[r++] = x->dims[i];
        else if (n->attrs.reduce.keepdims) d[r++] = 1;
    }
    return pan__infer_set(g, n, 0, x->dtype, r, d);
}

pan_status pan__infer_batchnorm(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(5);
    const pan_tensor *x = IN(0);
    if (x->rank < 2) {
        pan__infer_error(g, n, "input '%s' needs rank >= 2", x->name);
        return PAN_SHAPE;
    }
    for (int k = 1; k < 5; k++)
        if (pan__tensor_numel(IN(k)) != x->dims[1]) {
            pan__infer_error(g, n, "parameter '%s' must have %lld elements", IN(k)->name, (long long)x->dims[1]);
            return PAN_SHAPE;
        }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, x->dims);
}

/* Output shaped and typed as input 0 (Identity). */
pan_status pan__infer_same(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    return pan__infer_set(g, n, 0, IN(0)->dtype, IN(0)->rank, IN(0)->dims);
}

/* Unary elementwise: as the input, which must be floating point except for the ops that are
 * exact on integers too (Relu, Clip, Neg, Abs). */
pan_status pan__infer_unary(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    if (!is_float(x->dtype) && n->op != PAN_OP_NEG && n->op != PAN_OP_ABS && n->op != PAN_OP_RELU && n->op != PAN_OP_CLIP) {
        pan__infer_error(g, n, "input '%s' must be floating point, is %s", x->name, pan_dtype_name(x->dtype));
        return PAN_UNSUPPORTED;
    }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, x->dims);
}

pan_status pan__infer_softmax(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    if (!is_float(x->dtype)) {
        pan__infer_error(g, n, "input '%s' must be floating point, is %s", x->name, pan_dtype_name(x->dtype));
        return PAN_UNSUPPORTED;
    }
    if (pan__infer_axis(g, n, n->attrs.axis.axis, x->rank) < 0) return PAN_SHAPE;
    return pan__infer_set(g, n, 0, x->dtype, x->rank, x->dims);
}

pan_status pan__infer_cast(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    if ((unsigned)n->attrs.cast.to >= PAN_DTYPE_COUNT) return PAN_MODEL;
    return pan__infer_set(g, n, 0, n->attrs.cast.to, IN(0)->rank, IN(0)->dims);
}

/* The table's shape column. */
typedef pan_status (*infer_fn)(pan_graph *g, pan_node *n);
#define PAN__OP_SHAPE(id, name, kind, attrs, onnx, shape, cpu, cuda) shape,
static const infer_fn shape_rules[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_SHAPE)};
#undef PAN__OP_SHAPE

pan_status pan__infer_node(pan_graph *g, pan_node *n)
{
    if (n->n_outputs < 1 || (unsigned)n->op >= PAN_OP_COUNT) return PAN_MODEL;
    return shape_rules[n->op](g, n);
}
