/* Shape rules of the detector families' ops (op_table_ext.h): TopK, GatherElements, ArgMax,
 * LayerNormalization, Where, comparisons and logic, Tile, GridSample, Einsum. */
#include <math.h>
#include <string.h>

#include "nn/infer_ops.h"

#define IN(k) (&g->tensors[n->inputs[k]])
#define HAS(k) (n->n_inputs > (k) && n->inputs[k] >= 0)
#define NEED_INPUTS(k)                                                             \
    do {                                                                           \
        for (int q_ = 0; q_ < (k); q_++)                                           \
            if (!HAS(q_)) {                                                        \
                pan__infer_error(g, n, "required input %d is absent", q_);         \
                return PAN_MODEL;                                                  \
            }                                                                      \
    } while (0)

static int is_float(pan_dtype t) { return t == PAN_DTYPE_F32 || t == PAN_DTYPE_F16 || t == PAN_DTYPE_F64; }
static int is_index(pan_dtype t) { return t == PAN_DTYPE_I32 || t == PAN_DTYPE_I64; }

/* numpy broadcast of k tensors into d / *r; PAN_SHAPE (logged) when they do not broadcast. */
static pan_status broadcast(const pan_graph *g, const pan_node *n, int k, const pan_tensor *const *t, int64_t *d, int *r)
{
    int rank = 0;
    for (int i = 0; i < k; i++)
        if (t[i]->rank > rank) rank = t[i]->rank;
    for (int a = 0; a < rank; a++) {
        int64_t v = 1;
        for (int i = 0; i < k; i++) {
            int ia = a - (rank - t[i]->rank);
            int64_t di = ia >= 0 ? t[i]->dims[ia] : 1;
            if (di == 1) continue;
            if (v != 1 && v != di) {
                pan__infer_error(g, n, "inputs do not broadcast ('%s' has %lld along axis %d)", t[i]->name,
                                 (long long)di, a);
                return PAN_SHAPE;
            }
            v = di;
        }
        d[a] = v;
    }
    *r = rank;
    return PAN_OK;
}

pan_status pan__infer_gather_elements(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0), *idx = IN(1);
    if (!is_index(idx->dtype) || idx->rank != x->rank) {
        pan__infer_error(g, n, "indices '%s' must be int32/int64 of the data's rank %d", idx->name, x->rank);
        return PAN_MODEL;
    }
    int ax = pan__infer_axis(g, n, n->attrs.axis.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    for (int i = 0; i < x->rank; i++)
        if (i != ax && idx->dims[i] > x->dims[i]) {
            pan__infer_error(g, n, "indices '%s' exceed the data along axis %d", idx->name, i);
            return PAN_SHAPE;
        }
    return pan__infer_set(g, n, 0, x->dtype, idx->rank, idx->dims);
}

pan_status pan__infer_topk(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0);
    const pan_tensor *k = pan__infer_const_input(g, n, 1, "k");
    if (!k) return PAN_UNSUPPORTED;
    int ax = pan__infer_axis(g, n, n->attrs.topk.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    if (pan__tensor_numel(k) != 1) {
        pan__infer_error(g, n, "k '%s' must hold one value", k->name);
        return PAN_SHAPE;
    }
    int64_t kv = pan__tensor_get_i64(k, 0);
    if (kv < 0 || kv > x->dims[ax]) {
        pan__infer_error(g, n, "k = %lld is outside 0..%lld (the axis)", (long long)kv, (long long)x->dims[ax]);
        return PAN_SHAPE;
    }
    int64_t d[PAN_MAX_DIMS];
    memcpy(d, x->dims, sizeof d);
    d[ax] = kv;
    pan_status st = pan__infer_set(g, n, 0, x->dtype, x->rank, d);
    if (st || n->n_outputs < 2 || n->outputs[1] < 0) return st;
    return pan__infer_set(g, n, 1, PAN_DTYPE_I64, x->rank, d);
}

pan_status pan__infer_argmax(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(1);
    const pan_tensor *x = IN(0);
    int ax = pan__infer_axis(g, n, n->attrs.argmax.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    int64_t d[PAN_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != ax) d[r++] = x->dims[i];
        else if (n->attrs.argmax.keepdims) d[r++] = 1;
    }
    return pan__infer_set(g, n, 0, PAN_DTYPE_I64, r, d);
}

pan_status pan__infer_layernorm(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0);
    if (!is_float(x->dtype)) {
        pan__infer_error(g, n, "input '%s' must be floating point", x->name);
        return PAN_UNSUPPORTED;
    }
    int ax = pan__infer_axis(g, n, n->attrs.layernorm.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    int64_t inner = 1;
    for (int i = ax; i < x->rank; i++) inner *= x->dims[i];
    for (int k = 1; k < 3 && k < n->n_inputs; k++) {
        if (!HAS(k)) continue;
        const pan_tensor *p = IN(k);
        int64_t pn = pan__tensor_numel(p);
        /* scale / bias broadcast to the normalised dims; per-element (numel = inner) or scalar */
        if (pn != inner && pn != 1) {
            pan__infer_error(g, n, "'%s' has %lld elements; the normalised dims hold %lld", p->name, (long long)pn,
                             (long long)inner);
            return PAN_UNSUPPORTED;
        }
    }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, x->dims);
}

pan_status pan__infer_where(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(3);
    const pan_tensor *t[3] = {IN(0), IN(1), IN(2)};
    if (t[0]->dtype != PAN_DTYPE_BOOL || t[1]->dtype != t[2]->dtype) {
        pan__infer_error(g, n, "condition '%s' must be bool and '%s', '%s' of one dtype", t[0]->name, t[1]->name,
                         t[2]->name);
        return PAN_MODEL;
    }
    int64_t d[PAN_MAX_DIMS];
    int r;
    pan_status st = broadcast(g, n, 3, t, d, &r);
    return st ? st : pan__infer_set(g, n, 0, t[1]->dtype, r, d);
}

/* Equal, Less, Greater (and the -OrEqual forms): same-dtype inputs; And, Or, Xor: bool inputs. */
pan_status pan__infer_compare(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *t[2] = {IN(0), IN(1)};
    int logic = n->op == PAN_OP_AND || n->op == PAN_OP_OR || n->op == PAN_OP_XOR;
    if (t[0]->dtype != t[1]->dtype || (logic && t[0]->dtype != PAN_DTYPE_BOOL)) {
        pan__infer_error(g, n, "inputs '%s' (%s) and '%s' (%s) must share a dtype%s", t[0]->name,
                         pan_dtype_name(t[0]->dtype), t[1]->name, pan_dtype_name(t[1]->dtype), logic ? " (bool)" : "");
        return PAN_MODEL;
    }
    int64_t d[PAN_MAX_DIMS];
    int r;
    pan_status st = broadcast(g, n, 2, t, d, &r);
    return st ? st : pan__infer_set(g, n, 0, PAN_DTYPE_BOOL, r, d);
}

pan_status pan__infer_tile(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0);
    const pan_tensor *rep = pan__infer_const_input(g, n, 1, "repeats");
    if (!rep) return PAN_UNSUPPORTED;
    if (pan__tensor_numel(rep) != x->rank) {
        pan__infer_error(g, n, "repeats '%s' must hold %d values", rep->name, x->rank);
        return PAN_SHAPE;
    }
    int64_t d[PAN_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) {
        int64_t r = pan__tensor_get_i64(rep, i);
        if (r < 0) {
            pan__infer_error(g, n, "negative repeat %lld", (long long)r);
            return PAN_SHAPE;
        }
        d[i] = x->dims[i] * r;
    }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, d);
}

pan_status pan__infer_grid_sample(pan_graph *g, pan_node *n)
{
    NEED_INPUTS(2);
    const pan_tensor *x = IN(0), *grid = IN(1);
    if (x->rank != 4 || grid->rank != 4 || grid->dims[3] != 2 || grid->dims[0] != x->dims[0] || !is_float(x->dtype) ||
        !is_float(grid->dtype)) {
        pan__infer_error(g, n, "expects x [N, C, H, W] and grid [N, Ho, Wo, 2] (2-D sampling, floating point)");
        return PAN_UNSUPPORTED;
    }
    int64_t d[4] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2]};
    return pan__infer_set(g, n, 0, x->dtype, 4, d);
}

pan_status pan__infer_einsum(pan_graph *g, pan_node *n)
{
    const pan_einsum_attrs *e = &n->attrs.einsum;
    NEED_INPUTS(e->n_ops);
    int64_t size[64];
    for (int l = 0; l < 64; l++) size[l] = -1;
    for (int k = 0; k < e->n_ops; k++) {
        const pan_tensor *x = IN(k);
        if (x->rank != e->rank[k] || !is_float(x->dtype)) {
            pan__infer_error(g, n, "operand '%s' has rank %d, the equation says %d (floating point)", x->name, x->rank,
                             e->rank[k]);
            return PAN_SHAPE;
        }
        for (int i = 0; i < x->rank; i++) {
            int l = e->sub[k][i];
            if (size[l] >= 0 && size[l] != x->dims[i] && size[l] != 1 && x->dims[i] != 1) {
                pan__infer_error(g, n, "a subscript letter has sizes %lld and %lld", (long long)size[l],
                                 (long long)x->dims[i]);
                return PAN_SHAPE;
            }
            if (size[l] < 0 || size[l] == 1) size[l] = x->dims[i];
        }
    }
    int64_t d[PAN_MAX_DIMS];
    for (int i = 0; i < e->out_rank; i++) {
        d[i] = size[(int)e->out[i]];
        if (d[i] < 0) {
            pan__infer_error(g, n, "an output letter appears in no operand");
            return PAN_MODEL;
        }
    }
    return pan__infer_set(g, n, 0, IN(0)->dtype, e->out_rank, d);
}

pan_status pan__infer_range(pan_graph *g, pan_node *n)
{
    const pan_tensor *t[3];
    for (int k = 0; k < 3; k++)
        if (!(t[k] = pan__infer_const_input(g, n, k, k == 0 ? "start" : k == 1 ? "limit" : "delta"))) return PAN_UNSUPPORTED;
    for (int k = 0; k < 3; k++)
        if (pan__tensor_numel(t[k]) != 1 || t[k]->dtype != t[0]->dtype) {
            pan__infer_error(g, n, "start, limit and delta must be scalars of one dtype");
            return PAN_MODEL;
        }
    if (t[0]->dtype != PAN_DTYPE_F32 && t[0]->dtype != PAN_DTYPE_I64 && t[0]->dtype != PAN_DTYPE_I32) {
        pan__infer_error(g, n, "Range of %s", pan_dtype_name(t[0]->dtype));
        return PAN_UNSUPPORTED;
    }
    double a = pan__tensor_get_f64(t[0], 0), l = pan__tensor_get_f64(t[1], 0), d = pan__tensor_get_f64(t[2], 0);
    double cnt = d != 0 ? ceil((l - a) / d) : -1;
    if (!(cnt >= -1e18) || cnt > (double)(1 << 24) || d == 0) {
        pan__infer_error(g, n, "Range from %g to %g by %g", a, l, d);
        return PAN_MODEL;
    }
    int64_t dim = cnt > 0 ? (int64_t)cnt : 0;
    return pan__infer_set(g, n, 0, t[0]->dtype, 1, &dim);
}
