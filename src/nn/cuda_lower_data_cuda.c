/* Lowering of elementwise, data-movement, pooling, resize and softmax nodes for the cuda backend:
 * most become strided copies or kernels over pan_cu_iter iterations (cuda_ops.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda_lower.h"
#include "nn/infer_ops.h" /* pan__slice_resolve */
#include "panoptes/log.h"

pan_status pan__cu_lower_binary(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    static const int ops[] = {[PAN_OP_ADD] = PAN_CU_B_ADD, [PAN_OP_SUB] = PAN_CU_B_SUB, [PAN_OP_MUL] = PAN_CU_B_MUL,
                              [PAN_OP_DIV] = PAN_CU_B_DIV, [PAN_OP_POW] = PAN_CU_B_POW, [PAN_OP_MAX] = PAN_CU_B_MAX,
                              [PAN_OP_MIN] = PAN_CU_B_MIN};
    const pan_tensor *y = OUT(0);
    if (!pan__cu_is_float(y->dtype)) {
        pan__cu_lower_error(ex, n, "integer arithmetic at run time is not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_BINARY);
    s->op = ops[n->op];
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    int64_t str[3][PAN_MAX_DIMS];
    int r = y->rank;
    pan__cu_phys_strides(r, y->dims, ex->ti[n->outputs[0]].nhwc, str[0]);
    for (int k = 0; k < 2; k++) {
        const pan_tensor *t = IN(k);
        TRY(pan__cu_tensor_ref(ex, n->inputs[k], pos, k ? &s->b : &s->a));
        int nhwc = (t->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[n->inputs[k]].nhwc;
        int64_t ts[PAN_MAX_DIMS];
        pan__cu_phys_strides(t->rank, t->dims, nhwc, ts);
        for (int i = 0; i < r; i++) {
            int ti = i - (r - t->rank);
            str[k + 1][i] = (ti < 0 || t->dims[ti] == 1) ? 0 : ts[ti];
        }
    }
    int order[PAN_MAX_DIMS];
    pan__cu_phys_order(r, ex->ti[n->outputs[0]].nhwc, order);
    return pan__cu_make_iter(&s->p.it, r, y->dims, order, 3, str, NULL);
}

/* Concat / Split: one strided copy per part, at the running offset along the axis. */
pan_status pan__cu_lower_concat_split(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int split = n->op == PAN_OP_SPLIT;
    const pan_tensor *whole = split ? IN(0) : OUT(0);
    int wt = split ? n->inputs[0] : n->outputs[0];
    int64_t ax = n->attrs.axis.axis;
    if (ax < 0) ax += whole->rank;
    if (ax < 0 || ax >= whole->rank) {
        pan__cu_lower_error(ex, n, "axis out of range");
        return PAN_UNSUPPORTED;
    }
    int wnhwc = (whole->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[wt].nhwc;
    int64_t ws[PAN_MAX_DIMS];
    pan__cu_phys_strides(whole->rank, whole->dims, wnhwc, ws);
    int64_t at = 0;
    int parts = split ? n->n_outputs : n->n_inputs;
    for (int k = 0; k < parts; k++) {
        int pt = split ? n->outputs[k] : n->inputs[k];
        if (pt < 0) continue;
        const pan_tensor *p = &ex->g->tensors[pt];
        int pnhwc = (p->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[pt].nhwc;
        int64_t ps[PAN_MAX_DIMS];
        pan__cu_phys_strides(p->rank, p->dims, pnhwc, ps);
        if (pan__tensor_numel(p) > 0 && !(!split && ex->ti[pt].in_concat)) {
            if (split) TRY(pan__cu_add_copy(ex, node_idx, p->rank, p->dims, wt, pt, ws, at * ws[ax], ps, 0, ex->ti[pt].store));
            else TRY(pan__cu_add_copy(ex, node_idx, p->rank, p->dims, pt, wt, ps, 0, ws, at * ws[ax], ex->ti[wt].store));
        }
        at += p->dims[ax];
    }
    return PAN_OK;
}

/* NanoDet's heads: Reshape [B,C,H,W] (stored NHWC) -> [B,C,H*W] whose only consumer is a
 * Transpose (0,2,1). NHWC memory [B,H,W,C] already is [B,H*W,C] row-major, so the pair becomes
 * one contiguous copy: the Reshape is dropped and the Transpose reads the 4-D tensor. Returns the
 * 4-D source tensor for the Reshape output t, or -1. */
static int head_reshape_source(const pan_cu_exec *ex, int t)
{
    const pan_graph *g = ex->g;
    const pan_tensor *ts = &g->tensors[t];
    if (ts->rank != 3 || (ts->flags & (PAN_TENSOR_OUTPUT | PAN_TENSOR_CONST)) || pan__graph_consumers(g, t) != 1)
        return -1;
    int src = -1, consumer_ok = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        if (n->op == PAN_OP_RESHAPE && n->outputs[0] == t) src = n->inputs[0];
        if (n->op == PAN_OP_TRANSPOSE && n->n_inputs > 0 && n->inputs[0] == t) {
            const pan_transpose_attrs *a = &n->attrs.transpose;
            consumer_ok = a->n_perm == 3 && a->perm[0] == 0 && a->perm[1] == 2 && a->perm[2] == 1;
        }
    }
    if (src < 0 || !consumer_ok) return -1;
    const pan_tensor *xs = &g->tensors[src];
    if ((xs->flags & PAN_TENSOR_CONST) || !ex->ti[src].nhwc || ts->dims[0] != xs->dims[0] ||
        ts->dims[1] != xs->dims[1] || ts->dims[2] != xs->dims[2] * xs->dims[3])
        return -1;
    return src;
}

pan_status pan__cu_lower_reshape(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (n->op == PAN_OP_RESHAPE && head_reshape_source(ex, n->outputs[0]) >= 0) return PAN_OK; /* see above */
    const pan_tensor *x = IN(0), *y = OUT(0);
    int xt = n->inputs[0], yt = n->outputs[0];
    int xn = (x->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[xt].nhwc, yn = ex->ti[yt].nhwc;
    int same = xn == yn && (!xn || !memcmp(x->dims, y->dims, 4 * sizeof(int64_t)));
    int pos = ex->n_steps;
    size_t esz = pan_dtype_size(ex->ti[yt].store);
    if (same) {
        NEW_STEP(s, PAN_CU_STEP_MEMCPY);
        TRY(pan__cu_tensor_ref(ex, yt, pos, &s->y));
        TRY(pan__cu_tensor_ref(ex, xt, pos, &s->a));
        s->n = ex->ti[yt].numel * (int64_t)esz;
        return PAN_OK;
    }
    if (x->rank > PAN_CU_MAX_RANK || y->rank > PAN_CU_MAX_RANK) return PAN_LIMIT;
    NEW_STEP(s, PAN_CU_STEP_RESHAPE);
    TRY(pan__cu_tensor_ref(ex, yt, pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, xt, pos, &s->a));
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS];
    pan__cu_phys_strides(x->rank, x->dims, xn, xs);
    pan__cu_phys_strides(y->rank, y->dims, yn, ys);
    s->p.rh.src_rank = x->rank;
    s->p.rh.dst_rank = y->rank;
    for (int i = 0; i < x->rank; i++) {
        s->p.rh.src_dims[i] = (int)x->dims[i];
        s->p.rh.src_strides[i] = (int)xs[i];
    }
    for (int i = 0; i < y->rank; i++) {
        s->p.rh.dst_dims[i] = (int)y->dims[i];
        s->p.rh.dst_strides[i] = (int)ys[i];
    }
    s->n = ex->ti[yt].numel;
    s->C = (int)esz;
    return PAN_OK;
}

pan_status pan__cu_lower_transpose_expand_slice(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    int xt = n->inputs[0], yt = n->outputs[0];
    int xn = (x->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[xt].nhwc;
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS], src[PAN_MAX_DIMS];
    pan__cu_phys_strides(x->rank, x->dims, xn, xs);
    pan__cu_phys_strides(y->rank, y->dims, ex->ti[yt].nhwc, ys);
    int64_t xoff = 0;
    int head = n->op == PAN_OP_TRANSPOSE ? head_reshape_source(ex, xt) : -1;
    if (head >= 0) {
        /* out [B, H*W, C] from the NHWC 4-D tensor: strides (HWC, C, 1), a contiguous copy */
        const pan_tensor *h = &ex->g->tensors[head];
        int64_t hs[3] = {h->dims[1] * h->dims[2] * h->dims[3], h->dims[1], 1};
        return pan__cu_add_copy(ex, node_idx, 3, y->dims, head, yt, hs, 0, ys, 0, ex->ti[yt].store);
    }
    if (n->op == PAN_OP_TRANSPOSE) {
        for (int i = 0; i < y->rank; i++) src[i] = xs[n->attrs.transpose.perm[i]];
    } else if (n->op == PAN_OP_EXPAND) {
        for (int i = 0; i < y->rank; i++) {
            int xi = i - (y->rank - x->rank);
            src[i] = (xi < 0 || x->dims[xi] == 1) ? 0 : xs[xi];
        }
    } else { /* SLICE */
        int64_t start[PAN_MAX_DIMS], step[PAN_MAX_DIMS], out[PAN_MAX_DIMS];
        TRY(pan__slice_resolve(ex->g, n, start, step, out));
        for (int i = 0; i < y->rank; i++) {
            src[i] = xs[i] * step[i];
            xoff += start[i] * xs[i];
        }
    }
    if (pan__tensor_numel(y) == 0) return PAN_OK;
    return pan__cu_add_copy(ex, node_idx, y->rank, y->dims, xt, yt, src, xoff, ys, 0, ex->ti[yt].store);
}

pan_status pan__cu_lower_pad(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    if (!HAS_IN(1) || !(IN(1)->flags & PAN_TENSOR_CONST)) {
        pan__cu_lower_error(ex, n, "pads must be constant");
        return PAN_UNSUPPORTED;
    }
    if (HAS_IN(2) && !(IN(2)->flags & PAN_TENSOR_CONST)) {
        pan__cu_lower_error(ex, n, "pad value must be constant");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_PAD);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    int xn = (x->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[n->inputs[0]].nhwc, yn = ex->ti[n->outputs[0]].nhwc;
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS];
    int order[PAN_MAX_DIMS];
    pan__cu_phys_strides(x->rank, x->dims, xn, xs);
    pan__cu_phys_strides(y->rank, y->dims, yn, ys);
    pan__cu_phys_order(y->rank, yn, order);
    s->p.pad.rank = y->rank;
    for (int k = 0; k < y->rank; k++) {
        int a = order[k];
        s->p.pad.dims[k] = (int)y->dims[a];
        s->p.pad.out_strides[k] = (int)ys[a];
        s->p.pad.in_dims[k] = (int)x->dims[a];
        s->p.pad.in_strides[k] = (int)xs[a];
        s->p.pad.begin[k] = (int)pan__tensor_get_i64(IN(1), a);
        if (n->attrs.pad.mode == PAN_PAD_REFLECT && x->dims[a] < 2 && y->dims[a] != x->dims[a]) {
            pan__cu_lower_error(ex, n, "reflect padding of an axis of size 1");
            return PAN_UNSUPPORTED;
        }
    }
    s->p.pad.mode = n->attrs.pad.mode;
    s->p.pad.value = HAS_IN(2) && pan__tensor_numel(IN(2)) > 0 ? pan__cu_const_f32(IN(2), 0) : 0.f;
    return PAN_OK;
}

pan_status pan__cu_lower_pool(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    int pos = ex->n_steps;
    if (n->op == PAN_OP_GLOBAL_AVGPOOL || n->op == PAN_OP_GLOBAL_MAXPOOL) {
        NEW_STEP(s, PAN_CU_STEP_GPOOL);
        TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
        TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
        s->flag = n->op == PAN_OP_GLOBAL_MAXPOOL;
        s->p.pool.n = (int)x->dims[0];
        s->p.pool.c = (int)x->dims[1];
        s->p.pool.h = (int)(x->dims[2] * x->dims[3]);
        return PAN_OK;
    }
    const pan_pool_attrs *a = &n->attrs.pool;
    NEW_STEP(s, PAN_CU_STEP_POOL);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    pan_cu_pool2d *p = &s->p.pool;
    p->n = (int)x->dims[0];
    p->c = (int)x->dims[1];
    p->h = (int)x->dims[2];
    p->w = (int)x->dims[3];
    p->oh = (int)y->dims[2];
    p->ow = (int)y->dims[3];
    p->kh = (int)a->kernel[0];
    p->kw = (int)a->kernel[1];
    p->sh = a->strides[0] > 0 ? (int)a->strides[0] : 1;
    p->sw = a->strides[1] > 0 ? (int)a->strides[1] : 1;
    p->dh = a->dilations[0] > 0 ? (int)a->dilations[0] : 1;
    p->dw = a->dilations[1] > 0 ? (int)a->dilations[1] : 1;
    p->pt = (int)a->pads[0];
    p->pl = (int)a->pads[1];
    p->pb = (int)a->pads[2];
    p->pr = (int)a->pads[3];
    p->is_max = n->op == PAN_OP_MAXPOOL;
    p->count_include_pad = a->count_include_pad;
    return PAN_OK;
}

pan_status pan__cu_lower_resize(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    const pan_resize_attrs *a = &n->attrs.resize;
    if (a->mode == PAN_RESIZE_CUBIC) {
        pan__cu_lower_error(ex, n, "cubic resize is not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_RESIZE);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    pan_cu_resize *p = &s->p.rs;
    p->n = (int)x->dims[0];
    p->c = (int)x->dims[1];
    p->h = (int)x->dims[2];
    p->w = (int)x->dims[3];
    p->oh = (int)y->dims[2];
    p->ow = (int)y->dims[3];
    p->linear = a->mode == PAN_RESIZE_LINEAR;
    p->coord = a->coord;
    p->nearest = a->nearest;
    /* ONNX: the scales input when given (sizes absent), else output/input */
    p->scale_h = (float)((double)p->oh / p->h);
    p->scale_w = (float)((double)p->ow / p->w);
    if (!HAS_IN(3) && HAS_IN(2) && (IN(2)->flags & PAN_TENSOR_CONST)) {
        int64_t k = pan__tensor_numel(IN(2));
        if (k >= 2) {
            p->scale_h = pan__cu_const_f32(IN(2), k - 2);
            p->scale_w = pan__cu_const_f32(IN(2), k - 1);
        }
    }
    return PAN_OK;
}

pan_status pan__cu_lower_softmax(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    int64_t ax = n->attrs.axis.axis;
    if (ax < 0) ax += y->rank;
    if (ax < 0 || ax >= y->rank) {
        pan__cu_lower_error(ex, n, "axis out of range");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_SOFTMAX);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    int yn = ex->ti[n->outputs[0]].nhwc, xn = ex->ti[n->inputs[0]].nhwc;
    int64_t str[3][PAN_MAX_DIMS], dims[PAN_MAX_DIMS];
    pan__cu_phys_strides(y->rank, y->dims, yn, str[0]);
    pan__cu_phys_strides(x->rank, x->dims, xn, str[1]);
    s->len = (int)y->dims[ax];
    s->ys = (int)str[0][ax];
    s->xs = (int)str[1][ax];
    memcpy(dims, y->dims, sizeof dims);
    dims[ax] = 1; /* rows: every other dim */
    int order[PAN_MAX_DIMS];
    pan__cu_phys_order(y->rank, yn, order);
    return pan__cu_make_iter(&s->p.it, y->rank, dims, order, 2, str, NULL);
}
