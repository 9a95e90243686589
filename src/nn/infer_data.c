/* Shape rules of the data-movement and shape ops (concat, split, slice, reshape, ...). */
#include <string.h>

#include "nn/infer_ops.h"

#define IN(k) (&g->tensors[n->inputs[k]])
#define OUT(k) (&g->tensors[n->outputs[k]])

static int has_input(const pan_node *n, int k) { return k < n->n_inputs && n->inputs[k] >= 0; }

static int need(const pan_graph *g, const pan_node *n, int k)
{
    if (n->n_inputs < k) {
        pan__infer_error(g, n, "needs %d inputs, has %d", k, n->n_inputs);
        return -1;
    }
    for (int i = 0; i < k; i++)
        if (n->inputs[i] < 0) {
            pan__infer_error(g, n, "required input %d is absent", i);
            return -1;
        }
    return 0;
}

pan_status pan__slice_resolve(const pan_graph *g, const pan_node *n, int64_t *start, int64_t *step, int64_t *out)
{
    const pan_tensor *x = IN(0);
    const pan_tensor *ts = pan__infer_const_input(g, n, 1, "starts"), *te = pan__infer_const_input(g, n, 2, "ends");
    if (!ts || !te) return PAN_UNSUPPORTED;
    int64_t k = pan__tensor_numel(ts);
    if (k != pan__tensor_numel(te) || k > x->rank) {
        pan__infer_error(g, n, "starts/ends have %lld/%lld elements for rank %d", (long long)k,
                         (long long)pan__tensor_numel(te), x->rank);
        return PAN_SHAPE;
    }
    const pan_tensor *ta = has_input(n, 3) ? pan__infer_const_input(g, n, 3, "axes") : NULL;
    const pan_tensor *tp = has_input(n, 4) ? pan__infer_const_input(g, n, 4, "steps") : NULL;
    if ((has_input(n, 3) && !ta) || (has_input(n, 4) && !tp)) return PAN_UNSUPPORTED;
    if ((ta && pan__tensor_numel(ta) != k) || (tp && pan__tensor_numel(tp) != k)) {
        pan__infer_error(g, n, "axes/steps must have as many elements as starts");
        return PAN_SHAPE;
    }
    for (int i = 0; i < x->rank; i++) {
        start[i] = 0;
        step[i] = 1;
        out[i] = x->dims[i];
    }
    int seen[PAN_MAX_DIMS] = {0};
    for (int64_t i = 0; i < k; i++) {
        int a = pan__infer_axis(g, n, ta ? pan__tensor_get_i64(ta, i) : i, x->rank);
        if (a < 0) return PAN_SHAPE;
        if (seen[a]++) {
            pan__infer_error(g, n, "axis %d repeated", a);
            return PAN_SHAPE;
        }
        int64_t dim = x->dims[a], s = pan__tensor_get_i64(ts, i), e = pan__tensor_get_i64(te, i);
        int64_t st = tp ? pan__tensor_get_i64(tp, i) : 1;
        if (st == 0) {
            pan__infer_error(g, n, "step 0 on axis %d", a);
            return PAN_SHAPE;
        }
        /* ONNX clamping: starts/ends beyond the range (INT64_MAX as "to the end") are clamped. */
        if (s < 0) s = s < -dim ? 0 : s + dim;
        if (e < 0) e = e < -dim ? -1 : e + dim;
        if (st > 0) {
            if (s > dim) s = dim;
            if (e > dim) e = dim;
            if (e < 0) e = 0;
            out[a] = e > s ? (e - s + st - 1) / st : 0;
        } else {
            if (s > dim - 1) s = dim - 1;
            if (e > dim - 1) e = dim - 1;
            out[a] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        }
        start[a] = s;
        step[a] = st;
    }
    return PAN_OK;
}

static pan_status infer_reshape_rule(pan_graph *g, pan_node *n)
{
    const pan_tensor *x = IN(0);
    const pan_tensor *s = pan__infer_const_input(g, n, 1, "shape");
    if (!s) return PAN_UNSUPPORTED;
    int64_t k = pan__tensor_numel(s), d[PAN_MAX_DIMS], total = pan__tensor_numel(x), known = 1;
    int infer_at = -1;
    if (k > PAN_MAX_DIMS) {
        pan__infer_error(g, n, "target shape has %lld dims", (long long)k);
        return PAN_SHAPE;
    }
    for (int i = 0; i < k; i++) {
        d[i] = pan__tensor_get_i64(s, i);
        if (i == 0 && n->attrs.reshape.batch_leading && d[0] == 1 && (x->flags & PAN_TENSOR_BATCHED))
            d[0] = x->dims[0];
        else if (d[i] == 0 && !n->attrs.reshape.allowzero) {
            if (i >= x->rank) {
                pan__infer_error(g, n, "0 in target shape at %d copies a dim that '%s' lacks", i, x->name);
                return PAN_SHAPE;
            }
            d[i] = x->dims[i];
        }
        if (d[i] == -1) {
            if (infer_at >= 0) {
                pan__infer_error(g, n, "more than one -1 in the target shape");
                return PAN_SHAPE;
            }
            infer_at = i;
            continue;
        }
        if (d[i] < 0 || d[i] > PAN_MAX_DIM_VALUE) {
            pan__infer_error(g, n, "invalid target dim %lld", (long long)d[i]);
            return PAN_SHAPE;
        }
        known *= d[i];
        if (known > PAN_MAX_TENSOR_ELEMS) return PAN_SHAPE;
    }
    if (infer_at >= 0) {
        if (known == 0 || total % known) {
            pan__infer_error(g, n, "cannot reshape '%s' (%lld elements) with -1 here", x->name, (long long)total);
            return PAN_SHAPE;
        }
        d[infer_at] = total / known;
        known = total;
    }
    if (known != total) {
        char b1[160], b2[160];
        pan__infer_error(g, n, "cannot reshape '%s' %s into %s", x->name, pan__dims_str(x->rank, x->dims, b1, sizeof b1),
                         pan__dims_str((int)k, d, b2, sizeof b2));
        return PAN_SHAPE;
    }
    return pan__infer_set(g, n, 0, x->dtype, (int)k, d);
}

static pan_status infer_concat_rule(pan_graph *g, pan_node *n)
{
    if (n->n_inputs < 1 || need(g, n, n->n_inputs)) return PAN_MODEL;
    const pan_tensor *x0 = IN(0);
    int ax = pan__infer_axis(g, n, n->attrs.axis.axis, x0->rank);
    if (ax < 0) return PAN_SHAPE;
    int64_t d[PAN_MAX_DIMS];
    memcpy(d, x0->dims, sizeof(int64_t) * (size_t)x0->rank);
    d[ax] = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const pan_tensor *x = IN(i);
        if (x->rank != x0->rank || x->dtype != x0->dtype) {
            pan__infer_error(g, n, "input '%s' differs in rank or dtype from '%s'", x->name, x0->name);
            return PAN_SHAPE;
        }
        for (int k = 0; k < x->rank; k++)
            if (k != ax && x->dims[k] != x0->dims[k]) {
                pan__infer_error(g, n, "input '%s' differs from '%s' on axis %d", x->name, x0->name, k);
                return PAN_SHAPE;
            }
        d[ax] += x->dims[ax];
        if (d[ax] > PAN_MAX_DIM_VALUE) return PAN_SHAPE;
    }
    return pan__infer_set(g, n, 0, x0->dtype, x0->rank, d);
}

static pan_status infer_split_rule(pan_graph *g, pan_node *n)
{
    const pan_tensor *x = IN(0);
    int ax = pan__infer_axis(g, n, n->attrs.axis.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    int64_t d[PAN_MAX_DIMS], sum = 0;
    memcpy(d, x->dims, sizeof(int64_t) * (size_t)x->rank);
    const pan_tensor *s = NULL;
    if (has_input(n, 1)) {
        if (!(s = pan__infer_const_input(g, n, 1, "split sizes"))) return PAN_UNSUPPORTED;
        if (pan__tensor_numel(s) != n->n_outputs) {
            pan__infer_error(g, n, "%lld split sizes for %d outputs", (long long)pan__tensor_numel(s), n->n_outputs);
            return PAN_SHAPE;
        }
    }
    int64_t part = (x->dims[ax] + n->n_outputs - 1) / n->n_outputs, rest = x->dims[ax];
    int minus_one = -1; /* TF SplitV: one size may be -1, "whatever is left" */
    for (int i = 0; s && i < n->n_outputs; i++) {
        int64_t v = pan__tensor_get_i64(s, i);
        if (v == -1 && minus_one < 0) minus_one = i;
        else rest -= v;
    }
    for (int i = 0; i < n->n_outputs; i++) {
        int64_t sz = s ? (i == minus_one ? rest : pan__tensor_get_i64(s, i))
                       : (x->dims[ax] - sum < part ? x->dims[ax] - sum : part);
        if (sz < 0) {
            pan__infer_error(g, n, "split size %lld is negative", (long long)sz);
            return PAN_SHAPE;
        }
        d[ax] = sz;
        sum += sz;
        pan_status st = pan__infer_set(g, n, i, x->dtype, x->rank, d);
        if (st) return st;
    }
    if (sum != x->dims[ax]) {
        pan__infer_error(g, n, "split sizes add up to %lld, axis %d of '%s' has %lld", (long long)sum, ax, x->name,
                         (long long)x->dims[ax]);
        return PAN_SHAPE;
    }
    return PAN_OK;
}

static pan_status infer_squeeze(pan_graph *g, pan_node *n, int unsqueeze)
{
    const pan_tensor *x = IN(0);
    int mask[PAN_MAX_DIMS + 1] = {0}, out_rank = x->rank;
    const pan_tensor *ax = has_input(n, 1) ? pan__infer_const_input(g, n, 1, "axes") : NULL;
    if (has_input(n, 1) && !ax) return PAN_UNSUPPORTED;
    if (unsqueeze && !ax) {
        pan__infer_error(g, n, "needs axes");
        return PAN_MODEL;
    }
    if (ax) {
        int64_t k = pan__tensor_numel(ax);
        if (unsqueeze) out_rank = x->rank + (int)(k > PAN_MAX_DIMS ? PAN_MAX_DIMS + 1 : k);
        if (out_rank > PAN_MAX_DIMS) {
            pan__infer_error(g, n, "result rank exceeds %d", PAN_MAX_DIMS);
            return PAN_SHAPE;
        }
        for (int64_t i = 0; i < k; i++) {
            int a = pan__infer_axis(g, n, pan__tensor_get_i64(ax, i), unsqueeze ? out_rank : x->rank);
            if (a < 0) return PAN_SHAPE;
            if (mask[a]++) {
                pan__infer_error(g, n, "axis %d repeated", a);
                return PAN_SHAPE;
            }
            if (!unsqueeze && x->dims[a] != 1) {
                pan__infer_error(g, n, "cannot squeeze axis %d of '%s' (size %lld)", a, x->name, (long long)x->dims[a]);
                return PAN_SHAPE;
            }
        }
    } else {
        for (int i = 0; i < x->rank; i++) mask[i] = x->dims[i] == 1;
    }
    int64_t d[PAN_MAX_DIMS];
    int r = 0;
    if (unsqueeze) {
        for (int i = 0, j = 0; i < out_rank; i++) d[r++] = mask[i] ? 1 : x->dims[j++];
    } else {
        for (int i = 0; i < x->rank; i++)
            if (!mask[i]) d[r++] = x->dims[i];
    }
    return pan__infer_set(g, n, 0, x->dtype, r, d);
}

static pan_status infer_shape_const(pan_graph *g, pan_node *n, int slot, int64_t *d, int *r)
{
    const pan_tensor *s = pan__infer_const_input(g, n, slot, "shape");
    if (!s) return PAN_UNSUPPORTED;
    int64_t k = pan__tensor_numel(s);
    if (k > PAN_MAX_DIMS || (s->rank > 1)) {
        pan__infer_error(g, n, "shape '%s' must be 1-D with at most %d elements", s->name, PAN_MAX_DIMS);
        return PAN_SHAPE;
    }
    for (int i = 0; i < k; i++) d[i] = pan__tensor_get_i64(s, i);
    *r = (int)k;
    return PAN_OK;
}

/* The rules below (the op table's shape column) all need input 0 (x). */

pan_status pan__infer_concat(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    return infer_concat_rule(g, n);
}

pan_status pan__infer_split(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    return infer_split_rule(g, n);
}

pan_status pan__infer_slice(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    pan_status st;
    int64_t start[PAN_MAX_DIMS], step[PAN_MAX_DIMS];
    if (need(g, n, 3)) return PAN_MODEL;
    if ((st = pan__slice_resolve(g, n, start, step, d))) return st;
    return pan__infer_set(g, n, 0, x->dtype, x->rank, d);
}

pan_status pan__infer_reshape(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    if (need(g, n, 2)) return PAN_MODEL;
    return infer_reshape_rule(g, n);
}

pan_status pan__infer_transpose(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    pan_transpose_attrs *a = &n->attrs.transpose;
    if (a->n_perm == 0) {
        a->n_perm = x->rank;
        for (int i = 0; i < x->rank; i++) a->perm[i] = x->rank - 1 - i;
    }
    int seen[PAN_MAX_DIMS] = {0};
    if (a->n_perm != x->rank) {
        pan__infer_error(g, n, "perm has %d entries for '%s' of rank %d", a->n_perm, x->name, x->rank);
        return PAN_SHAPE;
    }
    for (int i = 0; i < x->rank; i++) {
        if (a->perm[i] < 0 || a->perm[i] >= x->rank || seen[a->perm[i]]++) {
            pan__infer_error(g, n, "perm is not a permutation of 0..%d", x->rank - 1);
            return PAN_SHAPE;
        }
        d[i] = x->dims[a->perm[i]];
    }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, d);
}

pan_status pan__infer_flatten(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    int64_t ax = n->attrs.axis.axis < 0 ? n->attrs.axis.axis + x->rank : n->attrs.axis.axis;
    if (ax < 0 || ax > x->rank) {
        pan__infer_error(g, n, "axis %lld out of range", (long long)n->attrs.axis.axis);
        return PAN_SHAPE;
    }
    d[0] = d[1] = 1;
    for (int i = 0; i < x->rank; i++) d[i >= ax] *= x->dims[i];
    return pan__infer_set(g, n, 0, x->dtype, 2, d);
}

pan_status pan__infer_squeeze(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    return infer_squeeze(g, n, 0);
}

pan_status pan__infer_unsqueeze(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    return infer_squeeze(g, n, 1);
}

pan_status pan__infer_expand(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    int r;
    pan_status st;
    if (need(g, n, 2)) return PAN_MODEL;
    int64_t s[PAN_MAX_DIMS];
    int sr;
    if ((st = infer_shape_const(g, n, 1, s, &sr))) return st;
    r = sr > x->rank ? sr : x->rank;
    for (int i = 0; i < r; i++) {
        int ix = i - (r - x->rank), is = i - (r - sr);
        int64_t a = ix >= 0 ? x->dims[ix] : 1, b = is >= 0 ? s[is] : 1;
        if (a != b && a != 1 && b != 1) {
            pan__infer_error(g, n, "cannot expand '%s' to the requested shape", x->name);
            return PAN_SHAPE;
        }
        d[i] = a == 1 ? b : a;
    }
    return pan__infer_set(g, n, 0, x->dtype, r, d);
}

pan_status pan__infer_pad(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    if (need(g, n, 2)) return PAN_MODEL;
    const pan_tensor *p = pan__infer_const_input(g, n, 1, "pads");
    if (!p) return PAN_UNSUPPORTED;
    if (pan__tensor_numel(p) != 2 * x->rank) {
        pan__infer_error(g, n, "pads '%s' needs %d elements", p->name, 2 * x->rank);
        return PAN_SHAPE;
    }
    for (int i = 0; i < x->rank; i++) {
        int64_t b = pan__tensor_get_i64(p, i), e = pan__tensor_get_i64(p, i + x->rank);
        if (b < -PAN_MAX_DIM_VALUE || b > PAN_MAX_DIM_VALUE || e < -PAN_MAX_DIM_VALUE || e > PAN_MAX_DIM_VALUE ||
            (b < 0 || e < 0) || (n->attrs.pad.mode == PAN_PAD_REFLECT && (b >= x->dims[i] || e >= x->dims[i])) ||
            (n->attrs.pad.mode != PAN_PAD_CONSTANT && x->dims[i] == 0 && (b || e))) {
            pan__infer_error(g, n, "pads %lld,%lld on axis %d are invalid or unsupported (negative pads)",
                             (long long)b, (long long)e, i);
            return PAN_SHAPE;
        }
        d[i] = x->dims[i] + b + e;
    }
    return pan__infer_set(g, n, 0, x->dtype, x->rank, d);
}

pan_status pan__infer_gather(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    int r;
    if (need(g, n, 2)) return PAN_MODEL;
    const pan_tensor *idx = IN(1);
    int ax = pan__infer_axis(g, n, n->attrs.axis.axis, x->rank);
    if (ax < 0) return PAN_SHAPE;
    if (idx->dtype != PAN_DTYPE_I32 && idx->dtype != PAN_DTYPE_I64) {
        pan__infer_error(g, n, "indices '%s' must be int32/int64", idx->name);
        return PAN_MODEL;
    }
    r = 0;
    if (x->rank - 1 + idx->rank > PAN_MAX_DIMS) return PAN_SHAPE;
    for (int i = 0; i < ax; i++) d[r++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) d[r++] = idx->dims[i];
    for (int i = ax + 1; i < x->rank; i++) d[r++] = x->dims[i];
    return pan__infer_set(g, n, 0, x->dtype, r, d);
}

pan_status pan__infer_shape(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    int64_t s = n->attrs.shape.start, e = n->attrs.shape.end ? n->attrs.shape.end : x->rank;
    if (s < 0) s += x->rank;
    if (e < 0) e += x->rank;
    s = s < 0 ? 0 : s > x->rank ? x->rank : s;
    e = e < 0 ? 0 : e > x->rank ? x->rank : e;
    n->attrs.shape.start = s;
    n->attrs.shape.end = e;
    d[0] = e > s ? e - s : 0;
    if (d[0] == 0) n->attrs.shape.end = s; /* empty */
    return pan__infer_set(g, n, 0, PAN_DTYPE_I64, 1, d);
}

pan_status pan__infer_constant_of_shape(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    int64_t d[PAN_MAX_DIMS];
    int r;
    pan_status st;
    if ((st = infer_shape_const(g, n, 0, d, &r))) return st;
    return pan__infer_set(g, n, 0, n->attrs.fill.dtype, r, d);
}

pan_status pan__infer_sparse_to_dense(pan_graph *g, pan_node *n)
{
    if (need(g, n, 1)) return PAN_MODEL;
    const pan_tensor *x = IN(0);
    int64_t d[PAN_MAX_DIMS];
    int r;
    pan_status st;
    if (need(g, n, 4)) return PAN_MODEL;
    if ((st = infer_shape_const(g, n, 1, d, &r))) return st;
    const pan_tensor *v = IN(2);
    if (IN(3)->dtype != v->dtype || pan__tensor_numel(IN(3)) != 1 || x->rank > 2 ||
        (x->rank == 2 && x->dims[1] != r) || (pan__tensor_numel(v) != 1 && pan__tensor_numel(v) != (x->rank ? x->dims[0] : 1))) {
        pan__infer_error(g, n, "indices/values/default do not fit output shape of rank %d", r);
        return PAN_SHAPE;
    }
    return pan__infer_set(g, n, 0, v->dtype, r, d);
}

