/* cpu kernels of the selecting ops the detector families use (op_table_ext.h): GatherElements,
 * TopK, ArgMax/ArgMin, Where, comparisons and logic, Not, Mod, Tile. Any dtype where the op
 * only moves elements; F32, I64, I32 (and BOOL for comparisons) where it computes. No
 * allocation: TopK selects straight into its outputs. */
#include <math.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "panoptes/log.h"

#define TIN(k) (&c->g->tensors[c->n->inputs[k]])
#define TOUT(k) (&c->g->tensors[c->n->outputs[k]])

/* Strides (elements) of t's dims over y's dims, numpy-broadcast (0 along broadcast dims). */
static void bstrides(const pan_tensor *t, const pan_tensor *y, int64_t *s)
{
    int64_t st = 1;
    for (int d = y->rank - 1; d >= 0; d--) {
        int it = d - (y->rank - t->rank);
        int64_t dim = it >= 0 ? t->dims[it] : 1;
        s[d] = dim == 1 ? 0 : st;
        st *= dim;
    }
}

/* Advances a multi-index over dims; adds each operand's stride steps into off[k]. */
static void step_index(int rank, const int64_t *dims, int64_t *idx, int nops, int64_t (*st)[PAN_MAX_DIMS], int64_t *off)
{
    for (int d = rank - 1; d >= 0; d--) {
        for (int k = 0; k < nops; k++) off[k] += st[k][d];
        if (++idx[d] < dims[d]) return;
        for (int k = 0; k < nops; k++) off[k] -= st[k][d] * dims[d];
        idx[d] = 0;
    }
}

static double get_f(const void *p, pan_dtype t, int64_t i)
{
    switch (t) {
    case PAN_DTYPE_F32: return ((const float *)p)[i];
    case PAN_DTYPE_F64: return ((const double *)p)[i];
    case PAN_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case PAN_DTYPE_I32: return ((const int32_t *)p)[i];
    case PAN_DTYPE_I8: return ((const int8_t *)p)[i];
    case PAN_DTYPE_U8:
    case PAN_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    default: return 0;
    }
}

static int64_t get_i(const void *p, pan_dtype t, int64_t i)
{
    return t == PAN_DTYPE_I64 ? ((const int64_t *)p)[i] : t == PAN_DTYPE_I32 ? ((const int32_t *)p)[i] : pan__f2i(get_f(p, t, i));
}

pan_status pan__cpu_gather_elements(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *ti = TIN(1), *y = TOUT(0);
    const int ax = (int)(c->n->attrs.axis.axis < 0 ? c->n->attrs.axis.axis + x->rank : c->n->attrs.axis.axis);
    const size_t es = pan_dtype_size(x->dtype);
    int64_t xs[PAN_MAX_DIMS], st = 1;
    for (int d = x->rank - 1; d >= 0; d--) xs[d] = st, st *= x->dims[d];
    int64_t n = pan__tensor_numel(y), idx[PAN_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t v = get_i(c->in[1], ti->dtype, i);
        if (v < 0) v += x->dims[ax];
        if (v < 0 || v >= x->dims[ax]) {
            pan_log_error("nn", -1, "%s: node '%s' (GatherElements): index %lld out of range for an axis of %lld",
                          c->g->source, c->n->name, (long long)get_i(c->in[1], ti->dtype, i), (long long)x->dims[ax]);
            return PAN_RANGE;
        }
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++) off += (d == ax ? v : idx[d]) * xs[d];
        memcpy((char *)c->out[0] + (size_t)i * es, (const char *)c->in[0] + (size_t)off * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return PAN_OK;
}

/* "a comes before b" in TopK's order: by value (largest or smallest first), ties by index. */
static inline int topk_before(double va, int64_t ia, double vb, int64_t ib, int largest)
{
    if (va != vb) return largest ? va > vb : va < vb;
    return ia < ib;
}

pan_status pan__cpu_topk(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *y = TOUT(0);
    if (x->dtype != PAN_DTYPE_F32 && x->dtype != PAN_DTYPE_I64 && x->dtype != PAN_DTYPE_I32) return PAN_UNSUPPORTED;
    const int ax = (int)(c->n->attrs.topk.axis < 0 ? c->n->attrs.topk.axis + x->rank : c->n->attrs.topk.axis);
    const int largest = c->n->attrs.topk.largest;
    const int64_t len = x->dims[ax], k = y->dims[ax];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= x->dims[d];
    for (int d = ax + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t *oi = c->n->n_outputs > 1 && c->n->outputs[1] >= 0 ? c->out[1] : NULL;
    const size_t es = pan_dtype_size(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            /* insertion into the sorted output row (k is small next to len in detector heads) */
            const int64_t xb = o * len * inner + q, yb = o * k * inner + q;
            int64_t cnt = 0;
            for (int64_t i = 0; i < len && k > 0; i++) {
                double v = get_f(c->in[0], x->dtype, xb + i * inner);
                if (isnan(v)) continue;
                if (cnt == k) {
                    double last = get_f(c->out[0], x->dtype, yb + (k - 1) * inner);
                    if (!topk_before(v, i, last, oi ? oi[yb + (k - 1) * inner] : INT64_MAX, largest)) continue;
                    cnt--;
                }
                int64_t p = cnt;
                while (p > 0) {
                    double pv = get_f(c->out[0], x->dtype, yb + (p - 1) * inner);
                    int64_t pi = oi ? oi[yb + (p - 1) * inner] : 0;
                    if (!topk_before(v, i, pv, pi, largest)) break;
                    memcpy((char *)c->out[0] + (size_t)(yb + p * inner) * es, (char *)c->out[0] + (size_t)(yb + (p - 1) * inner) * es, es);
                    if (oi) oi[yb + p * inner] = pi;
                    p--;
                }
                memcpy((char *)c->out[0] + (size_t)(yb + p * inner) * es, (const char *)c->in[0] + (size_t)(xb + i * inner) * es, es);
                if (oi) oi[yb + p * inner] = i;
                cnt++;
            }
            /* NaNs last (only when fewer than k numbers) */
            for (int64_t i = 0; i < len && cnt < k; i++)
                if (isnan(get_f(c->in[0], x->dtype, xb + i * inner))) {
                    memcpy((char *)c->out[0] + (size_t)(yb + cnt * inner) * es, (const char *)c->in[0] + (size_t)(xb + i * inner) * es, es);
                    if (oi) oi[yb + cnt * inner] = i;
                    cnt++;
                }
        }
    return PAN_OK;
}

pan_status pan__cpu_argmax(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0);
    const int ax = (int)(c->n->attrs.argmax.axis < 0 ? c->n->attrs.argmax.axis + x->rank : c->n->attrs.argmax.axis);
    const int is_min = c->n->op == PAN_OP_ARGMIN, last = c->n->attrs.argmax.select_last_index;
    int64_t outer = 1, inner = 1, len = x->dims[ax];
    for (int d = 0; d < ax; d++) outer *= x->dims[d];
    for (int d = ax + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t *y = c->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            const int64_t b = o * len * inner + q;
            int64_t best = 0;
            double bv = get_f(c->in[0], x->dtype, b);
            for (int64_t i = 1; i < len; i++) {
                double v = get_f(c->in[0], x->dtype, b + i * inner);
                if ((is_min ? v < bv : v > bv) || (last && v == bv)) bv = v, best = i;
            }
            y[o * inner + q] = best;
        }
    return PAN_OK;
}

pan_status pan__cpu_where(const pan_cpu_call *c)
{
    const pan_tensor *y = TOUT(0);
    const size_t es = pan_dtype_size(y->dtype);
    int64_t st[3][PAN_MAX_DIMS], off[3] = {0, 0, 0}, idx[PAN_MAX_DIMS] = {0};
    for (int k = 0; k < 3; k++) bstrides(TIN(k), y, st[k]);
    const uint8_t *cond = c->in[0];
    const char *a = c->in[1], *b = c->in[2];
    int64_t n = pan__tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        const char *src = cond[off[0]] ? a + off[1] * (int64_t)es : b + off[2] * (int64_t)es;
        memcpy((char *)c->out[0] + (size_t)i * es, src, es);
        step_index(y->rank, y->dims, idx, 3, st, off);
    }
    return PAN_OK;
}

pan_status pan__cpu_compare(const pan_cpu_call *c)
{
    const pan_tensor *ta = TIN(0), *tb = TIN(1), *y = TOUT(0);
    int64_t st[2][PAN_MAX_DIMS], off[2] = {0, 0}, idx[PAN_MAX_DIMS] = {0};
    bstrides(ta, y, st[0]);
    bstrides(tb, y, st[1]);
    uint8_t *out = c->out[0];
    const int ints = ta->dtype == PAN_DTYPE_I64 || ta->dtype == PAN_DTYPE_I32;
    int64_t n = pan__tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int r = 0;
        if (ints) {
            int64_t a = get_i(c->in[0], ta->dtype, off[0]), b = get_i(c->in[1], tb->dtype, off[1]);
            switch (c->n->op) {
            case PAN_OP_EQUAL: r = a == b; break;
            case PAN_OP_LESS: r = a < b; break;
            case PAN_OP_GREATER: r = a > b; break;
            case PAN_OP_LESS_OR_EQUAL: r = a <= b; break;
            case PAN_OP_GREATER_OR_EQUAL: r = a >= b; break;
            default: return PAN_UNSUPPORTED;
            }
        } else {
            double a = get_f(c->in[0], ta->dtype, off[0]), b = get_f(c->in[1], tb->dtype, off[1]);
            switch (c->n->op) {
            case PAN_OP_EQUAL: r = a == b; break;
            case PAN_OP_LESS: r = a < b; break;
            case PAN_OP_GREATER: r = a > b; break;
            case PAN_OP_LESS_OR_EQUAL: r = a <= b; break;
            case PAN_OP_GREATER_OR_EQUAL: r = a >= b; break;
            case PAN_OP_AND: r = a != 0 && b != 0; break;
            case PAN_OP_OR: r = a != 0 || b != 0; break;
            case PAN_OP_XOR: r = (a != 0) != (b != 0); break;
            default: return PAN_UNSUPPORTED;
            }
        }
        out[i] = (uint8_t)r;
        step_index(y->rank, y->dims, idx, 2, st, off);
    }
    return PAN_OK;
}

pan_status pan__cpu_not(const pan_cpu_call *c)
{
    if (TIN(0)->dtype != PAN_DTYPE_BOOL) return PAN_UNSUPPORTED;
    const uint8_t *x = c->in[0];
    uint8_t *y = c->out[0];
    int64_t n = pan__tensor_numel(TIN(0));
    for (int64_t i = 0; i < n; i++) y[i] = !x[i];
    return PAN_OK;
}

/* Mod: fmod 1 is C's fmod (the sign of the dividend); fmod 0 the sign of the divisor (ONNX allows
 * it for integers only; floats get numpy.mod). Integer division by zero gives 0, as Div does. */
pan_status pan__cpu_mod(const pan_cpu_call *c)
{
    const pan_tensor *ta = TIN(0), *tb = TIN(1), *y = TOUT(0);
    int64_t st[2][PAN_MAX_DIMS], off[2] = {0, 0}, idx[PAN_MAX_DIMS] = {0};
    bstrides(ta, y, st[0]);
    bstrides(tb, y, st[1]);
    const int fm = c->n->attrs.mod.fmod;
    int64_t n = pan__tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        switch (y->dtype) {
        case PAN_DTYPE_F32: {
            float a = ((const float *)c->in[0])[off[0]], b = ((const float *)c->in[1])[off[1]];
            float r = fmodf(a, b);
            if (!fm && r != 0 && ((r < 0) != (b < 0))) r += b; /* numpy.mod (ONNX asks fmod=1 for floats) */
            ((float *)c->out[0])[i] = r;
            break;
        }
        case PAN_DTYPE_I64:
        case PAN_DTYPE_I32: {
            int64_t a = get_i(c->in[0], ta->dtype, off[0]), b = get_i(c->in[1], tb->dtype, off[1]);
            int64_t r = b ? a % b : 0;
            if (!fm && r != 0 && ((r < 0) != (b < 0))) r += b;
            if (y->dtype == PAN_DTYPE_I64) ((int64_t *)c->out[0])[i] = r;
            else ((int32_t *)c->out[0])[i] = (int32_t)r;
            break;
        }
        default: return PAN_UNSUPPORTED;
        }
        step_index(y->rank, y->dims, idx, 2, st, off);
    }
    return PAN_OK;
}

pan_status pan__cpu_tile(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *y = TOUT(0);
    const size_t es = pan_dtype_size(x->dtype);
    int64_t xs[PAN_MAX_DIMS], st = 1, idx[PAN_MAX_DIMS] = {0};
    for (int d = x->rank - 1; d >= 0; d--) xs[d] = st, st *= x->dims[d];
    int64_t n = pan__tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < y->rank; d++) off += (idx[d] % x->dims[d]) * xs[d];
        memcpy((char *)c->out[0] + (size_t)i * es, (const char *)c->in[0] + (size_t)off * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return PAN_OK;
}

/* Range: count = max(ceil((limit − start) / delta), 0), in the inputs' dtype. */
pan_status pan__cpu_range(const pan_cpu_call *c)
{
    const pan_tensor *y = TOUT(0);
    const pan_dtype t = TIN(0)->dtype;
    double a = get_f(c->in[0], t, 0), d = get_f(c->in[2], TIN(2)->dtype, 0);
    int64_t n = pan__tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double v = a + (double)i * d;
        if (t == PAN_DTYPE_F32) ((float *)c->out[0])[i] = (float)v;
        else if (t == PAN_DTYPE_I64) ((int64_t *)c->out[0])[i] = get_i(c->in[0], t, 0) + i * get_i(c->in[2], t, 0);
        else if (t == PAN_DTYPE_I32) ((int32_t *)c->out[0])[i] = (int32_t)(get_i(c->in[0], t, 0) + i * get_i(c->in[2], t, 0));
        else return PAN_UNSUPPORTED;
    }
    return PAN_OK;
}
