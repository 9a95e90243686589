/* Lowering of the detector families' elementwise and indexing ops for the cuda backend (EXT steps,
 * cuda_ext.h): integer arithmetic and Mod, comparisons and logic, Not, Erf/Gelu/Floor/Ceil, Cast
 * between any types, Where, Gather, GatherElements, Tile. */
#include "nn/cuda_lower_ext.h"

/* A binary EXT step over the output (y, a, b). */
static pan_status binop(pan_cu_exec *ex, int node_idx, const pan_node *n, int op)
{
    int pos = ex->n_steps;
    pan_cu_xbin *o;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *o, pan__cu_ext_binop, (void **)&o);
    if (!s) return PAN_NOMEM;
    const pan_tensor *y = OUT(0);
    TRY(pan__cux_iter(&o->it, y->rank, y->dims));
    pan__cux_operand(ex, &o->it, 0, n->outputs[0]);
    pan__cux_operand(ex, &o->it, 1, n->inputs[0]);
    pan__cux_operand(ex, &o->it, 2, n->inputs[1]);
    o->op = op;
    o->in_dtype = pan__cux_kind(ex, n->inputs[0]);
    o->out_dtype = pan__cux_kind(ex, n->outputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    return PAN_OK;
}

/* Add/Sub/Mul/Div of floats keep the backend's own step; integers (TopK indices: YOLOv10's
 * index // nc) and Mod come here. */
pan_status pan__cu_lower_binary_any(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (n->op != PAN_OP_MOD && pan__cu_is_float(OUT(0)->dtype)) return pan__cu_lower_binary(ex, node_idx, n);
    switch (n->op) {
    case PAN_OP_ADD: return binop(ex, node_idx, n, PAN_CU_X_ADD);
    case PAN_OP_SUB: return binop(ex, node_idx, n, PAN_CU_X_SUB);
    case PAN_OP_MUL: return binop(ex, node_idx, n, PAN_CU_X_MUL);
    case PAN_OP_DIV: return binop(ex, node_idx, n, PAN_CU_X_DIV);
    case PAN_OP_MOD: return binop(ex, node_idx, n, n->attrs.mod.fmod ? PAN_CU_X_FMOD : PAN_CU_X_MOD);
    default:
        pan__cu_lower_error(ex, n, "integer arithmetic other than Add/Sub/Mul/Div/Mod is not supported on cuda");
        return PAN_UNSUPPORTED;
    }
}

pan_status pan__cu_lower_compare(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    switch (n->op) {
    case PAN_OP_EQUAL: return binop(ex, node_idx, n, PAN_CU_X_EQ);
    case PAN_OP_LESS: return binop(ex, node_idx, n, PAN_CU_X_LT);
    case PAN_OP_GREATER: return binop(ex, node_idx, n, PAN_CU_X_GT);
    case PAN_OP_LESS_OR_EQUAL: return binop(ex, node_idx, n, PAN_CU_X_LE);
    case PAN_OP_GREATER_OR_EQUAL: return binop(ex, node_idx, n, PAN_CU_X_GE);
    case PAN_OP_AND: return binop(ex, node_idx, n, PAN_CU_X_AND);
    case PAN_OP_OR: return binop(ex, node_idx, n, PAN_CU_X_OR);
    default: return binop(ex, node_idx, n, PAN_CU_X_XOR);
    }
}

/* A unary EXT step over the output (y, a). */
static pan_status unop(pan_cu_exec *ex, int node_idx, const pan_node *n, int op)
{
    int pos = ex->n_steps;
    pan_cu_xun *u;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *u, pan__cu_ext_unop, (void **)&u);
    if (!s) return PAN_NOMEM;
    const pan_tensor *y = OUT(0);
    TRY(pan__cux_iter(&u->it, y->rank, y->dims));
    pan__cux_operand(ex, &u->it, 0, n->outputs[0]);
    pan__cux_operand(ex, &u->it, 1, n->inputs[0]);
    u->op = op;
    u->alpha = n->attrs.unary.alpha;
    u->in_dtype = pan__cux_kind(ex, n->inputs[0]);
    u->out_dtype = pan__cux_kind(ex, n->outputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    return PAN_OK;
}

pan_status pan__cu_lower_not(pan_cu_exec *ex, int node_idx, const pan_node *n) { return unop(ex, node_idx, n, PAN_CU_XU_NOT); }

pan_status pan__cu_lower_unary_ext(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (!pan__cu_is_float(OUT(0)->dtype)) {
        pan__cu_lower_error(ex, n, "needs a floating-point input on cuda");
        return PAN_UNSUPPORTED;
    }
    int op = n->op == PAN_OP_ERF ? PAN_CU_XU_ERF : n->op == PAN_OP_GELU ? PAN_CU_XU_GELU
           : n->op == PAN_OP_FLOOR ? PAN_CU_XU_FLOOR : PAN_CU_XU_CEIL;
    return unop(ex, node_idx, n, op);
}

/* Casts between floating types keep the backend's copy; any pair with an integer or bool here. */
pan_status pan__cu_lower_cast_any(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (pan__cu_is_float(IN(0)->dtype) && pan__cu_is_float(OUT(0)->dtype)) return pan__cu_lower_cast(ex, node_idx, n);
    if (OUT(0)->dtype == PAN_DTYPE_F64 || IN(0)->dtype == PAN_DTYPE_F64) {
        pan__cu_lower_error(ex, n, "double precision is not supported on cuda");
        return PAN_UNSUPPORTED;
    }
    return unop(ex, node_idx, n, PAN_CU_XU_CAST);
}

pan_status pan__cu_lower_where(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int pos = ex->n_steps;
    pan_cu_where *w;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *w, pan__cu_ext_where, (void **)&w);
    if (!s) return PAN_NOMEM;
    const pan_tensor *y = OUT(0);
    TRY(pan__cux_iter(&w->it, y->rank, y->dims));
    pan__cux_operand(ex, &w->it, 0, n->outputs[0]);
    for (int k = 0; k < 3; k++) pan__cux_operand(ex, &w->it, k + 1, n->inputs[k]);
    w->elem = pan__cux_elem(ex, n->outputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    TRY(pan__cu_tensor_ref(ex, n->inputs[2], pos, &s->c));
    return PAN_OK;
}

/* Gather (GatherElements when elements): y[o] = data[… index(o) along axis …]. */
static pan_status gather(pan_cu_exec *ex, int node_idx, const pan_node *n, int elements)
{
    int pos = ex->n_steps;
    pan_cu_gather *g;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *g, pan__cu_ext_gather, (void **)&g);
    if (!s) return PAN_NOMEM;
    const pan_tensor *x = IN(0), *idx = IN(1), *y = OUT(0);
    const int ax = (int)(n->attrs.axis.axis < 0 ? n->attrs.axis.axis + x->rank : n->attrs.axis.axis);
    int64_t xs[PAN_MAX_DIMS], is[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    pan__cux_strides(ex, n->inputs[1], is);
    TRY(pan__cux_iter(&g->it, y->rank, y->dims));
    pan__cux_operand(ex, &g->it, 0, n->outputs[0]);
    for (int d = 0; d < y->rank; d++) {
        if (elements) { /* output dims = the indices' dims = the data's rank */
            g->it.st[1][d] = d == ax ? 0 : (int)xs[d];
            g->it.st[2][d] = (int)is[d];
        } else if (d < ax) {
            g->it.st[1][d] = (int)xs[d];
        } else if (d < ax + idx->rank) {
            g->it.st[2][d] = idx->dims[d - ax] == 1 ? 0 : (int)is[d - ax];
        } else {
            g->it.st[1][d] = (int)xs[d - idx->rank + 1];
        }
    }
    g->axis_stride = (int)xs[ax];
    g->axis_len = (int)x->dims[ax];
    g->idx_dtype = idx->dtype;
    g->elem = pan__cux_elem(ex, n->outputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    TRY(pan__cu_tensor_ref(ex, n->inputs[1], pos, &s->b));
    return PAN_OK;
}

pan_status pan__cu_lower_gather(pan_cu_exec *ex, int node_idx, const pan_node *n) { return gather(ex, node_idx, n, 0); }
pan_status pan__cu_lower_gather_elements(pan_cu_exec *ex, int node_idx, const pan_node *n) { return gather(ex, node_idx, n, 1); }

pan_status pan__cu_lower_tile(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int pos = ex->n_steps;
    pan_cu_gather *g;
    pan_cu_step *s = pan__cux_step(ex, node_idx, sizeof *g, pan__cu_ext_gather, (void **)&g);
    if (!s) return PAN_NOMEM;
    const pan_tensor *x = IN(0), *y = OUT(0);
    int64_t xs[PAN_MAX_DIMS];
    pan__cux_strides(ex, n->inputs[0], xs);
    TRY(pan__cux_iter(&g->it, y->rank, y->dims));
    pan__cux_operand(ex, &g->it, 0, n->outputs[0]);
    for (int d = 0; d < y->rank; d++) {
        g->it.st[1][d] = (int)xs[d];
        g->mod[d] = (int)x->dims[d];
    }
    g->mode = 1;
    g->elem = pan__cux_elem(ex, n->outputs[0]);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    return PAN_OK;
}
