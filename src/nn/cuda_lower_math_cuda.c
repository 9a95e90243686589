/* Lowering of the detector families' reducing and attention ops for the cuda backend (EXT steps,
 * cuda_ext.h): ReduceMean/Sum/Max/Min, ArgMax/Min, LayerNormalization, TopK, MatMul and Gemm of
 * two run-time operands (constant weights keep the cuDNN path), GridSample, Einsum. */
#include "nn/cuda_lower_ext.h"

/* Which dims of x a Reduce node reduces (noop_with_empty_axes: none). */
static void reduce_mask(const pan_cu_exec *ex, const pan_node *n, const pan_tensor *x, int *mask)
{
    memset(mask, 0, sizeof(int) * PAN_MAX_DIMS);
    if (HAS_IN(1) && pan__tensor_numel(IN(1)) > 0) {
        for (int64_t i = 0; i < pan__tensor_numel(IN(1)); i++) {
            int64_t a = pan__tensor_get_i64(IN(1), i);
            mask[a < 0 ? a + x->rank : a] = 1;
        }
    } else if (!n->attrs.reduce.noop_with_empty_axes) {
        for (int i = 0; i < x->rank; i++) mask[i] = 1;
    }
}

/* out iterates x's kept dims (operand 0: y's strides, 1: x's); red x's reduced dims (operand 1). */
static pan_status kept_and_reduced(pan_cu_exec *ex, const pan_node *n, const int *mask, int keepdims,
                                   pan_cu_xiter *out, pan_cu_xiter *red)
{
    const pan_tensor *x = IN(0);
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS], od[PAN_MAX_DIMS], rd[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    pan__cux_strides(ex, n->outputs[0], ys);
    int no = 0, nr = 0, yd = 0, ost[2][PAN_MAX_DIMS], rst[PAN_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) {
        if (mask[d]) {
            rd[nr] = x->dims[d];
            rst[nr++] = (int)xs[d];
            if (keepdims) yd++;
        } else {
            od[no] = x->dims[d];
            ost[0][no] = (int)ys[yd++];
            ost[1][no++] = (int)xs[d];
        }
    }
    TRY(pan__cux_iter(out, no, od));
    for (int k = 0; k < no; k++) out->st[0][k] = ost[0][k], out->st[1][k] = ost[1][k];
    if (red) {
        TRY(pan__cux_iter(red, nr, rd));
        for (int k = 0; k < nr; k++) red->st[1][k] = rst[k];
    }
    return PAN_OK;
}

pan_status pan__cu_lower_reduce(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0);
    if (!pan__cu_is_float(x->dtype) && x->dtype != PAN_DTYPE_I64) {
        pan__cu_lower_error(ex, n, "reductions of this dtype are not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps, mask[PAN_MAX_DIMS];
    pan_cu_reduce *r;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *r, pan__cu_ext_reduce, (void **)&r);
    if (!s) return PAN_NOMEM;
    reduce_mask(ex, n, x, mask);
    TRY(kept_and_reduced(ex, n, mask, n->attrs.reduce.keepdims, &r->out, &r->red));
    r->op = n->op == PAN_OP_REDUCE_SUM ? 0 : n->op == PAN_OP_REDUCE_MEAN ? 1 : n->op == PAN_OP_REDUCE_MAX ? 2 : 3;
    r->dtype = pan__cux_kind(ex, n->inputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    return PAN_OK;
}

pan_status pan__cu_lower_argmax(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0);
    const int ax = (int)(n->attrs.argmax.axis < 0 ? n->attrs.argmax.axis + x->rank : n->attrs.argmax.axis);
    int pos = ex->n_steps, mask[PAN_MAX_DIMS] = {0};
    pan_cu_argmax *a;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *a, pan__cu_ext_argmax, (void **)&a);
    if (!s) return PAN_NOMEM;
    mask[ax] = 1;
    TRY(kept_and_reduced(ex, n, mask, n->attrs.argmax.keepdims, &a->out, NULL));
    int64_t xs[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    a->len = (int)x->dims[ax];
    a->x_stride = (int)xs[ax];
    a->is_min = n->op == PAN_OP_ARGMIN;
    a->last = n->attrs.argmax.select_last_index;
    a->dtype = pan__cux_kind(ex, n->inputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    return PAN_OK;
}

pan_status pan__cu_lower_layernorm(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0);
    for (int k = 1; k < 3; k++)
        if (HAS_IN(k) && !(IN(k)->flags & PAN_TENSOR_CONST) && ex->ti[n->inputs[k]].nhwc) {
            pan__cu_lower_error(ex, n, "a 4-D run-time scale or bias is not supported on cuda");
            return PAN_UNSUPPORTED;
        }
    const int ax = (int)(n->attrs.layernorm.axis < 0 ? n->attrs.layernorm.axis + x->rank : n->attrs.layernorm.axis);
    int pos = ex->n_steps;
    pan_cu_layernorm *l;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *l, pan__cu_ext_layernorm, (void **)&l);
    if (!s) return PAN_NOMEM;
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    pan__cux_strides(ex, n->outputs[0], ys);
    TRY(pan__cux_iter(&l->rows, ax, x->dims));
    TRY(pan__cux_iter(&l->inner, x->rank - ax, x->dims + ax));
    for (int d = 0; d < x->rank; d++) {
        pan_cu_xiter *it = d < ax ? &l->rows : &l->inner;
        int k = d < ax ? d : d - ax;
        it->st[0][k] = (int)ys[d];
        it->st[1][k] = (int)xs[d];
    }
    l->eps = n->attrs.layernorm.epsilon;
    l->scale_scalar = pan__tensor_numel(IN(1)) == 1;
    l->bias_scalar = HAS_IN(2) && pan__tensor_numel(IN(2)) == 1;
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    if (HAS_IN(2)) TRY(pan__cu_tensor_ref(ex, n->inputs[2], pos, &s->c));
    return PAN_OK;
}

pan_status pan__cu_lower_topk(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    const int ax = (int)(n->attrs.topk.axis < 0 ? n->attrs.topk.axis + x->rank : n->attrs.topk.axis);
    const int has_idx = n->n_outputs > 1 && n->outputs[1] >= 0;
    if (y->dims[ax] > PAN_CU_TOPK_MAX) {
        pan__cu_lower_error(ex, n, "k above 2048 is not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    pan_cu_topk *t;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *t, pan__cu_ext_topk, (void **)&t);
    if (!s) return PAN_NOMEM;
    int64_t xs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS], is[PAN_MAX_DIMS] = {0}, rd[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    pan__cux_strides(ex, n->outputs[0], ys);
    if (has_idx) pan__cux_strides(ex, n->outputs[1], is);
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (d != ax) rd[r++] = x->dims[d];
    TRY(pan__cux_iter(&t->rows, r, rd));
    for (int d = 0, k = 0; d < x->rank; d++) {
        if (d == ax) continue;
        t->rows.st[0][k] = (int)ys[d];
        t->rows.st[1][k] = (int)xs[d];
        t->rows.st[2][k++] = (int)is[d];
    }
    t->len = (int)x->dims[ax];
    t->k = (int)y->dims[ax];
    t->x_stride = (int)xs[ax];
    t->y_stride = (int)ys[ax];
    t->i_stride = (int)is[ax];
    t->largest = n->attrs.topk.largest;
    t->dtype = pan__cux_kind(ex, n->inputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    if (has_idx) TRY(pan__cu_tensor_ref(ex, n->outputs[1], pos, &s->c));
    return PAN_OK;
}

/* The cuDNN path of pan__cu_lower_gemm takes constant weights on a 2-D/3-D run-time operand. */
static int gemm_path_fits(const pan_cu_exec *ex, const pan_node *n)
{
    const pan_tensor *A = IN(0), *B = IN(1);
    int gemm = n->op == PAN_OP_GEMM;
    if ((A->flags & PAN_TENSOR_CONST) || !(B->flags & PAN_TENSOR_CONST) || B->rank < 2 || A->rank < 2) return 0;
    if ((gemm && n->attrs.gemm.trans_a) || ex->ti[n->inputs[0]].nhwc || ex->ti[n->outputs[0]].nhwc) return 0;
    for (int i = 0; i + 2 < B->rank; i++)
        if (B->dims[i] != 1) return 0;
    if (gemm && HAS_IN(2)) {
        const pan_tensor *C = IN(2);
        int64_t cn = pan__tensor_numel(C), N = OUT(0)->dims[OUT(0)->rank - 1];
        if (!(C->flags & PAN_TENSOR_CONST) || (cn != 1 && cn != N) || (C->rank >= 1 && cn == N && C->dims[C->rank - 1] != N))
            return 0;
    }
    return 1;
}

pan_status pan__cu_lower_matmul(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (gemm_path_fits(ex, n)) return pan__cu_lower_gemm(ex, node_idx, n);
    const pan_tensor *A = IN(0), *B = IN(1), *Y = OUT(0);
    const int gemm = n->op == PAN_OP_GEMM;
    if (A->rank < 2 || B->rank < 2) {
        pan__cu_lower_error(ex, n, "1-D operands of a run-time product are not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    int pos = ex->n_steps;
    pan_cu_matmul *m;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *m, pan__cu_ext_matmul, (void **)&m);
    if (!s) return PAN_NOMEM;
    int64_t as[PAN_MAX_DIMS], bs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], as);
    pan__cux_strides(ex, n->inputs[1], bs);
    pan__cux_strides(ex, n->outputs[0], ys);
    const int r = Y->rank, ta = gemm && n->attrs.gemm.trans_a, tb = gemm && n->attrs.gemm.trans_b;
    TRY(pan__cux_iter(&m->batch, r - 2, Y->dims));
    /* batch strides: Y's leading dims, and A's and B's aligned to them (numpy broadcasting) */
    for (int d = 0; d < r - 2; d++) {
        m->batch.st[0][d] = (int)ys[d];
        int da = d - (r - A->rank), db = d - (r - B->rank);
        m->batch.st[1][d] = da < 0 || A->dims[da] == 1 ? 0 : (int)as[da];
        m->batch.st[2][d] = db < 0 || B->dims[db] == 1 ? 0 : (int)bs[db];
    }
    m->M = (int)Y->dims[r - 2];
    m->N = (int)Y->dims[r - 1];
    m->K = (int)(ta ? A->dims[A->rank - 2] : A->dims[A->rank - 1]);
    m->a_rs = (int)(ta ? as[A->rank - 1] : as[A->rank - 2]);
    m->a_cs = (int)(ta ? as[A->rank - 2] : as[A->rank - 1]);
    m->b_rs = (int)(tb ? bs[B->rank - 1] : bs[B->rank - 2]);
    m->b_cs = (int)(tb ? bs[B->rank - 2] : bs[B->rank - 1]);
    m->y_rs = (int)ys[r - 2];
    m->y_cs = (int)ys[r - 1];
    m->alpha = gemm ? n->attrs.gemm.alpha : 1.f;
    m->beta = gemm ? n->attrs.gemm.beta : 0.f;
    if (gemm && HAS_IN(2)) {
        pan_cu_xiter cs;
        TRY(pan__cux_iter(&cs, r, Y->dims));
        pan__cux_operand(ex, &cs, 0, n->inputs[2]);
        m->c_rs = cs.st[0][r - 2];
        m->c_cs = cs.st[0][r - 1];
        m->has_c = 1;
        TRY(pan__cu_tensor_ref(ex, n->inputs[2], pos, &s->c));
    }
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    if (m->batch.n > 65535) {
        pan__cu_lower_error(ex, n, "more than 65535 batched products are not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    return PAN_OK;
}

pan_status pan__cu_lower_grid_sample(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *grid = IN(1);
    int pos = ex->n_steps;
    pan_cu_gridsample *g;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *g, pan__cu_ext_gridsample, (void **)&g);
    if (!s) return PAN_NOMEM;
    int64_t xs[PAN_MAX_DIMS], gs[PAN_MAX_DIMS], ys[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    pan__cux_strides(ex, n->inputs[1], gs);
    pan__cux_strides(ex, n->outputs[0], ys);
    g->N = (int)x->dims[0], g->C = (int)x->dims[1], g->H = (int)x->dims[2], g->W = (int)x->dims[3];
    g->Ho = (int)grid->dims[1], g->Wo = (int)grid->dims[2];
    for (int d = 0; d < 4; d++) g->xs[d] = (int)xs[d], g->gs[d] = (int)gs[d], g->ys[d] = (int)ys[d];
    g->mode = n->attrs.gridsample.mode == PAN_GRID_NEAREST;
    g->padding = (int)n->attrs.gridsample.padding;
    g->align = n->attrs.gridsample.align_corners;
    if (n->attrs.gridsample.mode == PAN_GRID_BICUBIC) {
        pan__cu_lower_error(ex, n, "bicubic sampling is not supported");
        return PAN_UNSUPPORTED;
    }
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    return PAN_OK;
}

pan_status pan__cu_lower_einsum(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_einsum_attrs *e = &n->attrs.einsum;
    int pos = ex->n_steps;
    pan_cu_einsum *E;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *E, pan__cu_ext_einsum, (void **)&E);
    if (!s) return PAN_NOMEM;
    /* size and per-operand stride of every letter (a repeated letter, a diagonal, adds strides) */
    int64_t size[64], st[2][64];
    memset(st, 0, sizeof st);
    for (int l = 0; l < 64; l++) size[l] = 1;
    int in_out[64] = {0}, seen[64] = {0};
    for (int i = 0; i < e->out_rank; i++) in_out[(int)e->out[i]] = 1;
    for (int k = 0; k < e->n_ops; k++) {
        int64_t ts[PAN_MAX_DIMS];
        const pan_tensor *T = IN(k);
        pan__cux_strides(ex, n->inputs[k], ts);
        for (int i = 0; i < T->rank; i++) {
            int l = e->sub[k][i];
            seen[l] = 1;
            if (T->dims[i] != 1) st[k][l] += ts[i], size[l] = T->dims[i];
        }
    }
    const pan_tensor *Y = OUT(0);
    TRY(pan__cux_iter(&E->out, Y->rank, Y->dims));
    pan__cux_operand(ex, &E->out, 0, n->outputs[0]);
    for (int i = 0; i < e->out_rank; i++)
        for (int k = 0; k < e->n_ops; k++) E->out.st[k + 1][i] = (int)st[k][(int)e->out[i]];
    int64_t sd[PAN_MAX_DIMS];
    int ns = 0, sl[PAN_MAX_DIMS];
    for (int l = 0; l < 64; l++)
        if (seen[l] && !in_out[l]) {
            if (ns == PAN_MAX_DIMS) {
                pan__cu_lower_error(ex, n, "too many summed letters");
                return PAN_UNSUPPORTED;
            }
            sl[ns] = l;
            sd[ns++] = size[l];
        }
    TRY(pan__cux_iter(&E->sum, ns, sd));
    for (int j = 0; j < ns; j++)
        for (int k = 0; k < e->n_ops; k++) E->sum.st[k + 1][j] = (int)st[k][sl[j]];
    E->n_ops = e->n_ops;
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    if (e->n_ops > 1) TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    return PAN_OK;
}
