/* Lowering of IR nodes into cuda backend steps (see cuda_backend.h for the storage rules): the
 * shared helpers (iterations, constants, buffers, tensor references) and the dispatch over ops.
 * The ops themselves: cuda_lower_conv_cuda.c (convolution, Gemm/MatMul, batch-norm) and cuda_lower_data_cuda.c
 * (elementwise, data movement, pooling, resize, softmax). Anything else is PAN_UNSUPPORTED. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda_lower.h"
#include "nn/infer_ops.h" /* pan__slice_resolve */
#include "panoptes/log.h"

/* ---- helpers ------------------------------------------------------------------------------ */

int pan__cu_is_float(pan_dtype t) { return t == PAN_DTYPE_F32 || t == PAN_DTYPE_F16 || t == PAN_DTYPE_F64; }

/* IEEE binary16 from binary32, round to nearest even (host side, for weights and constants). */
uint16_t pan__cu_f32_to_f16(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t x = v.u, sign = (x >> 16) & 0x8000u;
    uint32_t mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0)); /* inf / nan */
    exp = exp - 127 + 15;
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);                       /* overflow: inf */
    if (exp <= 0) {                                                          /* subnormal or zero */
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - exp;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry into the exponent: still right */
    return (uint16_t)(sign | h);
}

float pan__cu_const_f32(const pan_tensor *t, int64_t i) { return (float)pan__tensor_get_f64(t, i); }

void pan__cu_lower_error(const pan_cu_exec *ex, const pan_node *n, const char *what)
{
    pan_log_error(TAG, -1, "%s: node '%s' (%s): %s", ex->g->source ? ex->g->source : "model", n->name ? n->name : "?",
                  pan__op_name(n->op), what);
}

void pan__cu_phys_strides(int rank, const int64_t *d, int nhwc, int64_t *s)
{
    if (nhwc && rank == 4) {
        s[1] = 1;
        s[3] = d[1];
        s[2] = d[1] * d[3];
        s[0] = s[2] * d[2];
        return;
    }
    int64_t acc = 1;
    for (int i = rank - 1; i >= 0; i--) {
        s[i] = acc;
        acc *= d[i];
    }
}

void pan__cu_phys_order(int rank, int nhwc, int *order)
{
    if (nhwc && rank == 4) {
        order[0] = 0;
        order[1] = 2;
        order[2] = 3;
        order[3] = 1;
        return;
    }
    for (int i = 0; i < rank; i++) order[i] = i;
}

pan_status pan__cu_make_iter(pan_cu_iter *it, int rank, const int64_t *dims, const int *order, int nops,
                             int64_t strides[3][PAN_MAX_DIMS], const int64_t *offsets)
{
    int64_t d[PAN_MAX_DIMS], s[3][PAN_MAX_DIMS];
    int r = 0;
    int64_t total = 1;
    for (int k = 0; k < rank; k++) {
        int ax = order[k];
        total *= dims[ax];
        if (dims[ax] == 1) continue;
        d[r] = dims[ax];
        for (int j = 0; j < nops; j++) s[j][r] = strides[j][ax];
        r++;
    }
    if (total >= INT32_MAX) return PAN_LIMIT;
    /* merge an outer dim into the inner one when every operand is contiguous across them */
    int64_t md[PAN_MAX_DIMS], ms[3][PAN_MAX_DIMS];
    int mr = 0;
    for (int k = 0; k < r; k++) {
        if (mr > 0) {
            int ok = 1;
            for (int j = 0; j < nops; j++)
                if (ms[j][mr - 1] != s[j][k] * d[k]) ok = 0;
            if (ok) {
                md[mr - 1] *= d[k];
                for (int j = 0; j < nops; j++) ms[j][mr - 1] = s[j][k];
                continue;
            }
        }
        md[mr] = d[k];
        for (int j = 0; j < nops; j++) ms[j][mr] = s[j][k];
        mr++;
    }
    memset(it, 0, sizeof *it);
    if (mr == 0) {
        it->rank = 1;
        it->dims[0] = 1;
    } else {
        it->rank = mr;
        for (int k = 0; k < mr; k++) {
            it->dims[k] = (int)md[k];
            for (int j = 0; j < nops; j++) {
                if (ms[j][k] >= INT32_MAX) return PAN_LIMIT;
                it->stride[j][k] = (int)ms[j][k];
            }
        }
    }
    for (int j = 0; j < nops; j++) {
        if (offsets && offsets[j] >= INT32_MAX) return PAN_LIMIT;
        it->offset[j] = offsets ? (int)offsets[j] : 0;
    }
    return PAN_OK;
}

int64_t pan__cu_const_append(pan_cu_exec *ex, const void *data, size_t bytes)
{
    size_t off = (ex->hconst_size + 255) & ~(size_t)255;
    if (off + bytes > ex->hconst_cap) {
        size_t nc = ex->hconst_cap ? ex->hconst_cap : 1 << 20;
        while (nc < off + bytes) nc *= 2;
        uint8_t *p = realloc(ex->hconst, nc);
        if (!p) return -1;
        ex->hconst = p;
        ex->hconst_cap = nc;
    }
    memset(ex->hconst + ex->hconst_size, 0, off - ex->hconst_size);
    if (data) memcpy(ex->hconst + off, data, bytes);
    else memset(ex->hconst + off, 0, bytes);
    ex->hconst_size = off + bytes;
    return (int64_t)off;
}

pan_cu_step *pan__cu_step_add(pan_cu_exec *ex, pan_cu_step_kind kind, int node)
{
    if (ex->n_steps == ex->cap_steps) {
        int nc = ex->cap_steps ? ex->cap_steps * 2 : 64;
        pan_cu_step *p = realloc(ex->steps, (size_t)nc * sizeof *p);
        if (!p) return NULL;
        ex->steps = p;
        ex->cap_steps = nc;
    }
    pan_cu_step *s = &ex->steps[ex->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = node;
    return s;
}

int pan__cu_buf_add(pan_cu_exec *ex, int64_t bytes, int first, int last)
{
    if (ex->n_bufs == ex->cap_bufs) {
        int nc = ex->cap_bufs ? ex->cap_bufs * 2 : 64;
        pan_cu_buf *p = realloc(ex->bufs, (size_t)nc * sizeof *p);
        if (!p) return -1;
        ex->bufs = p;
        ex->cap_bufs = nc;
    }
    pan_cu_buf *b = &ex->bufs[ex->n_bufs];
    b->bytes = bytes > 0 ? bytes : 1;
    b->first = first;
    b->last = last;
    b->offset = -1;
    return ex->n_bufs++;
}

pan_status pan__cu_tensor_ref(pan_cu_exec *ex, int t, int pos, pan_cu_ref *r)
{
    const pan_tensor *ts = &ex->g->tensors[t];
    pan_cu_tinfo *ti = &ex->ti[t];
    memset(r, 0, sizeof *r);
    if (ts->flags & PAN_TENSOR_CONST) {
        if (ti->const_off < 0) {
            int64_t n = ti->numel;
            if (pan__cu_is_float(ts->dtype)) {
                uint16_t *h = malloc((size_t)(n > 0 ? n : 1) * 2);
                if (!h) return PAN_NOMEM;
                for (int64_t i = 0; i < n; i++) h[i] = pan__cu_f32_to_f16(pan__cu_const_f32(ts, i));
                ti->const_off = pan__cu_const_append(ex, h, (size_t)n * 2);
                free(h);
            } else {
                ti->const_off = pan__cu_const_append(ex, ts->data, (size_t)n * pan_dtype_size(ts->dtype));
            }
            if (ti->const_off < 0) return PAN_NOMEM;
        }
        r->space = PAN_CU_REF_CONST;
        r->off = ti->const_off;
        return PAN_OK;
    }
    if (ti->buf < 0) {
        int64_t bytes = ti->numel * (int64_t)pan_dtype_size(ti->store);
        ti->buf = pan__cu_buf_add(ex, bytes, pos, pos);
        if (ti->buf < 0) return PAN_NOMEM;
        if (ts->flags & PAN_TENSOR_INPUT) ex->bufs[ti->buf].first = -1;
    }
    pan_cu_buf *b = &ex->bufs[ti->buf];
    if (pos < b->first) b->first = pos;
    if (pos > b->last) b->last = pos;
    if (ts->flags & PAN_TENSOR_OUTPUT) b->last = INT32_MAX;
    r->space = PAN_CU_REF_ARENA;
    r->id = ti->buf;
    return PAN_OK;
}

/* y (all of a tensor) <- x: strided copy between any layouts, as an iteration in y's storage order. */
pan_status pan__cu_add_copy(pan_cu_exec *ex, int node_idx, int rank, const int64_t *dims, int tx, int ty,
                           const int64_t *xstr, int64_t xoff, const int64_t *ystr, int64_t yoff, int ydtype)
{
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_COPY);
    TRY(pan__cu_tensor_ref(ex, ty, pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, tx, pos, &s->a));
    int order[PAN_MAX_DIMS];
    pan__cu_phys_order(rank, ex->ti[ty].nhwc, order);
    int64_t str[3][PAN_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        str[0][i] = ystr[i];
        str[1][i] = xstr[i];
    }
    int64_t offs[2] = {yoff, xoff};
    TRY(pan__cu_make_iter(&s->p.it, rank, dims, order, 2, str, offs));
    s->dtype = ydtype;
    return PAN_OK;
}

/* ---- per-op lowering ---------------------------------------------------------------------- */

static int unop_of(pan_op op)
{
    switch (op) {
    case PAN_OP_RELU: return PAN_CU_U_RELU;
    case PAN_OP_LEAKY_RELU: return PAN_CU_U_LEAKY_RELU;
    case PAN_OP_SIGMOID: return PAN_CU_U_SIGMOID;
    case PAN_OP_TANH: return PAN_CU_U_TANH;
    case PAN_OP_HARD_SIGMOID: return PAN_CU_U_HARD_SIGMOID;
    case PAN_OP_HARD_SWISH: return PAN_CU_U_HARD_SWISH;
    case PAN_OP_SILU: return PAN_CU_U_SILU;
    case PAN_OP_CLIP: return PAN_CU_U_CLIP;
    case PAN_OP_EXP: return PAN_CU_U_EXP;
    case PAN_OP_LOG: return PAN_CU_U_LOG;
    case PAN_OP_SQRT: return PAN_CU_U_SQRT;
    case PAN_OP_NEG: return PAN_CU_U_NEG;
    case PAN_OP_ABS: return PAN_CU_U_ABS;
    default: return -1;
    }
}

int pan__cu_act_of(pan_act a)
{
    switch (a) {
    case PAN_ACT_RELU: return PAN_CU_U_RELU;
    case PAN_ACT_LEAKY_RELU: return PAN_CU_U_LEAKY_RELU;
    case PAN_ACT_SIGMOID: return PAN_CU_U_SIGMOID;
    case PAN_ACT_HARD_SIGMOID: return PAN_CU_U_HARD_SIGMOID;
    case PAN_ACT_HARD_SWISH: return PAN_CU_U_HARD_SWISH;
    case PAN_ACT_SILU: return PAN_CU_U_SILU;
    case PAN_ACT_CLIP: return PAN_CU_U_CLIP;
    case PAN_ACT_TANH: return PAN_CU_U_TANH;
    default: return PAN_CU_U_NONE;
    }
}

pan_status pan__cu_lower_unary(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int pos = ex->n_steps;
    if (!pan__cu_is_float(OUT(0)->dtype) || (IN(0)->flags & PAN_TENSOR_CONST)) { /* would have been folded */
        pan__cu_lower_error(ex, n, "not supported by the cuda backend on integer or constant inputs (use --backend cpu)");
        return PAN_UNSUPPORTED;
    }
    NEW_STEP(s, PAN_CU_STEP_UNARY);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    s->op = unop_of(n->op);
    s->alpha = n->attrs.unary.alpha;
    s->beta = n->attrs.unary.beta;
    s->n = ex->ti[n->outputs[0]].numel;
    return PAN_OK;
}

pan_status pan__cu_lower_cast(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    if (pan__cu_is_float(IN(0)->dtype) && pan__cu_is_float(OUT(0)->dtype)) return pan__cu_lower_reshape(ex, node_idx, n);
    pan__cu_lower_error(ex, n, "not supported by the cuda backend between integer types (use --backend cpu)");
    return PAN_UNSUPPORTED;
}

/* The op table's cuda column. */
typedef pan_status (*lower_fn)(pan_cu_exec *ex, int node_idx, const pan_node *n);
#define PAN__OP_CUDA(id, name, kind, attrs, onnx, shape, cpu, cuda) cuda,
static const lower_fn lowerings[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_CUDA)};
#undef PAN__OP_CUDA

pan_status pan__cu_lower(pan_cu_exec *ex)
{
    const pan_graph *g = ex->g;
    for (int t = 0; t < g->n_tensors; t++) {
        const pan_tensor *ts = &g->tensors[t];
        pan_cu_tinfo *ti = &ex->ti[t];
        ti->buf = -1;
        ti->const_off = -1;
        ti->numel = pan__tensor_numel(ts);
        ti->store = pan__cu_is_float(ts->dtype) ? PAN_DTYPE_F16 : ts->dtype;
        ti->nhwc = !(ts->flags & PAN_TENSOR_CONST) && ts->rank == 4 && pan__cu_is_float(ts->dtype);
        if (ti->numel >= INT32_MAX) {
            pan_log_error(TAG, -1, "%s: tensor '%s' has %lld elements; the cuda backend handles < 2^31",
                          g->source ? g->source : "model", ts->name, (long long)ti->numel);
            return PAN_LIMIT;
        }
    }
    /* every op of the model the backend lacks, in one message */
    unsigned char has[PAN_OP_COUNT];
    for (int op = 0; op < PAN_OP_COUNT; op++) has[op] = lowerings[op] != NULL;
    TRY(pan__graph_check_backend(g, "cuda", has));
    /* graph inputs and outputs get buffers even when no step touches them */
    for (int i = 0; i < g->n_inputs; i++) {
        pan_cu_ref r;
        TRY(pan__cu_tensor_ref(ex, g->inputs[i], 0, &r));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        int runtime = 0;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && !(g->tensors[n->outputs[k]].flags & PAN_TENSOR_CONST)) runtime = 1;
        if (!runtime) continue; /* folded */
        TRY(lowerings[n->op](ex, i, n));
    }
    for (int i = 0; i < g->n_outputs; i++) {
        pan_cu_ref r;
        TRY(pan__cu_tensor_ref(ex, g->outputs[i], ex->n_steps, &r));
    }
    return PAN_OK;
}
