/* Lowering of IR nodes into cuda backend steps (see cuda_backend.h for the storage rules).
 * Every op the backend supports is here; anything else is PAN_UNSUPPORTED naming the node. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda_backend.h"
#include "nn/infer_ops.h" /* pan__slice_resolve */
#include "panoptes/log.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int is_float(pan_dtype t) { return t == PAN_DTYPE_F32 || t == PAN_DTYPE_F16 || t == PAN_DTYPE_F64; }

/* IEEE binary16 from binary32, round to nearest even (host side, for weights and constants). */
static uint16_t f32_to_f16(float f)
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

static float const_f32(const pan_tensor *t, int64_t i) { return (float)pan__tensor_get_f64(t, i); }

static void lower_error(const pan_cu_exec *ex, const pan_node *n, const char *what)
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
            if (is_float(ts->dtype)) {
                uint16_t *h = malloc((size_t)(n > 0 ? n : 1) * 2);
                if (!h) return PAN_NOMEM;
                for (int64_t i = 0; i < n; i++) h[i] = f32_to_f16(const_f32(ts, i));
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

#define IN(k) (&ex->g->tensors[n->inputs[k]])
#define OUT(k) (&ex->g->tensors[n->outputs[k]])
#define HAS_IN(k) (n->n_inputs > (k) && n->inputs[k] >= 0)
#define TRY(x)                         \
    do {                               \
        pan_status st_ = (x);          \
        if (st_ != PAN_OK) return st_; \
    } while (0)
#define NEW_STEP(s, kind)                                    \
    pan_cu_step *s = pan__cu_step_add(ex, (kind), node_idx); \
    if (!s) return PAN_NOMEM

/* y (all of a tensor) <- x: strided copy between any layouts, as an iteration in y's storage order. */
static pan_status add_copy(pan_cu_exec *ex, int node_idx, int rank, const int64_t *dims, int tx, int ty,
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

static int act_of(pan_act a)
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

/* The channel concat that is the only consumer of conv output t, and t's channel offset in it;
 * -1 when t has other consumers, is a graph output, or the concat is not along NHWC channels. */
static int concat_target(const pan_cu_exec *ex, int t, int64_t *coff)
{
    const pan_graph *g = ex->g;
    if ((g->tensors[t].flags & PAN_TENSOR_OUTPUT) || pan__graph_consumers(g, t) != 1) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *c = &g->nodes[i];
        if (c->dead || c->op != PAN_OP_CONCAT) continue;
        int64_t at = 0;
        for (int k = 0; k < c->n_inputs; k++) {
            if (c->inputs[k] < 0) continue;
            const pan_tensor *p = &g->tensors[c->inputs[k]];
            if (c->inputs[k] == t) {
                const pan_tensor *o = &g->tensors[c->outputs[0]];
                int64_t ax = c->attrs.axis.axis < 0 ? c->attrs.axis.axis + o->rank : c->attrs.axis.axis;
                if (ax != 1 || o->rank != 4 || !ex->ti[c->outputs[0]].nhwc) return -1;
                *coff = at;
                return c->outputs[0];
            }
            at += p->dims[1];
        }
    }
    return -1;
}

static pan_status lower_conv(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *w = IN(1), *y = OUT(0);
    const pan_conv_attrs *a = &n->attrs.conv;
    if (!(w->flags & PAN_TENSOR_CONST) || (HAS_IN(2) && !(IN(2)->flags & PAN_TENSOR_CONST))) {
        lower_error(ex, n, "weights and bias must be constants");
        return PAN_UNSUPPORTED;
    }
    if (!ex->ti[n->inputs[0]].nhwc || (x->flags & PAN_TENSOR_CONST)) {
        lower_error(ex, n, "input must be a 4-D activation");
        return PAN_UNSUPPORTED;
    }
    int64_t K = w->dims[0], Cg = w->dims[1], R = w->dims[2], S = w->dims[3];
    int group = a->group > 0 ? (int)a->group : 1;
    int64_t pt = a->pads[0], pl = a->pads[1], pb = a->pads[2], pr = a->pads[3];
    /* Few input channels (an RGB image: 3) leave cuDNN without tensor-core kernels, whose loads
     * want 8 FP16 channels (16 bytes) per pixel: pad the input with zero channels, the weights
     * with zero taps (H100: first NanoDet conv 0.87 ms -> a fraction at batch 64). */
    int64_t Cgp = (group == 1 && Cg % 8 && Cg < 64) ? (Cg + 7) / 8 * 8 : Cg;

    /* weights OIHW FP32 -> KRSC FP16 (cuDNN's NHWC filter layout) */
    int64_t wn = K * Cgp * R * S;
    uint16_t *hw = calloc((size_t)wn, 2);
    if (!hw) return PAN_NOMEM;
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    hw[((k * R + r) * S + s) * Cgp + c] = f32_to_f16(const_f32(w, ((k * Cg + c) * R + r) * S + s));
    int64_t woff = pan__cu_const_append(ex, hw, (size_t)wn * 2);
    free(hw);
    if (woff < 0) return PAN_NOMEM;
    int64_t boff = -1;
    if (HAS_IN(2)) {
        float *hb = malloc((size_t)K * sizeof *hb);
        if (!hb) return PAN_NOMEM;
        for (int64_t k = 0; k < K; k++) hb[k] = const_f32(IN(2), k);
        boff = pan__cu_const_append(ex, hb, (size_t)K * sizeof *hb);
        free(hb);
        if (boff < 0) return PAN_NOMEM;
    }

    pan_cu_conv_shape cs = {
        .n = (int)x->dims[0], .c = (int)x->dims[1], .h = (int)x->dims[2], .w = (int)x->dims[3],
        .k = (int)K, .r = (int)R, .s = (int)S, .oh = (int)y->dims[2], .ow = (int)y->dims[3],
        .stride_h = a->strides[0] > 0 ? (int)a->strides[0] : 1, .stride_w = a->strides[1] > 0 ? (int)a->strides[1] : 1,
        .dil_h = a->dilations[0] > 0 ? (int)a->dilations[0] : 1, .dil_w = a->dilations[1] > 0 ? (int)a->dilations[1] : 1,
        .group = group,
    };
    pan_cu_ref xin;
    int pos = ex->n_steps;
    int asym = pt != pb || pl != pr;
    if (!asym && Cgp == Cg) {
        cs.pad_h = (int)pt;
        cs.pad_w = (int)pl;
        TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &xin));
    } else {
        /* cuDNN pads symmetrically: pad explicitly into a temporary (TF "SAME" with stride 2),
         * and/or add the zero channels */
        int64_t eh = asym ? pt + pb : 0, ew = asym ? pl + pr : 0;
        int64_t pd[4] = {x->dims[0], Cgp, x->dims[2] + eh, x->dims[3] + ew};
        int64_t pbytes = pd[0] * pd[1] * pd[2] * pd[3] * 2;
        int tb = pan__cu_buf_add(ex, pbytes, pos, pos + 1);
        if (tb < 0) return PAN_NOMEM;
        NEW_STEP(sp, PAN_CU_STEP_PAD);
        sp->y.space = PAN_CU_REF_ARENA;
        sp->y.id = tb;
        TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &sp->a));
        int64_t ys[4], xs[4], begin[4] = {0, 0, asym ? pt : 0, asym ? pl : 0};
        pan__cu_phys_strides(4, pd, 1, ys);
        pan__cu_phys_strides(4, x->dims, 1, xs);
        const int order[4] = {0, 2, 3, 1};
        sp->p.pad.rank = 4;
        for (int k = 0; k < 4; k++) {
            sp->p.pad.dims[k] = (int)pd[order[k]];
            sp->p.pad.out_strides[k] = (int)ys[order[k]];
            sp->p.pad.in_dims[k] = (int)x->dims[order[k]];
            sp->p.pad.in_strides[k] = (int)xs[order[k]];
            sp->p.pad.begin[k] = (int)begin[order[k]];
        }
        sp->p.pad.mode = PAN_PAD_CONSTANT;
        sp->p.pad.value = 0.f;
        cs.c = (int)Cgp;
        cs.h = (int)pd[2];
        cs.w = (int)pd[3];
        cs.pad_h = asym ? 0 : (int)pt;
        cs.pad_w = asym ? 0 : (int)pl;
        xin = sp->y;
        pos = ex->n_steps;
    }

    int act = act_of(a->act);
    int has_res = HAS_IN(3);
    if (has_res && (IN(3)->flags & PAN_TENSOR_CONST || !ex->ti[n->inputs[3]].nhwc)) {
        lower_error(ex, n, "residual must be a 4-D activation");
        return PAN_UNSUPPORTED;
    }
    int64_t coff = 0;
    int cat = concat_target(ex, n->outputs[0], &coff);
    NEW_STEP(sc, PAN_CU_STEP_CONV);
    sc->a = xin;
    sc->b.space = PAN_CU_REF_CONST;
    sc->b.off = woff;
    sc->p.conv = cs;
    if (cat >= 0) {
        /* the conv writes a temporary; the epilogue writes the concat's slice (no concat copy) */
        int64_t ybytes = ex->ti[n->outputs[0]].numel * 2;
        int tb = pan__cu_buf_add(ex, ybytes, pos, pos + 1);
        if (tb < 0) return PAN_NOMEM;
        sc->y.space = PAN_CU_REF_ARENA;
        sc->y.id = tb;
        /* a fused conv writes the concat already at this step: keep its buffer alive from here */
        pan_cu_ref early;
        TRY(pan__cu_tensor_ref(ex, cat, pos, &early));
    } else {
        TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &sc->y));
    }

    if (boff >= 0 || act != PAN_CU_U_NONE || has_res || cat >= 0) {
        pos = ex->n_steps;
        pan_cu_ref raw = sc->y;
        NEW_STEP(se, PAN_CU_STEP_EPILOGUE);
        se->a = raw;
        se->ys = (int)K;
        if (cat >= 0) {
            TRY(pan__cu_tensor_ref(ex, cat, pos, &se->y));
            se->y.off = coff * 2;
            se->ys = (int)ex->g->tensors[cat].dims[1];
            ex->ti[n->outputs[0]].in_concat = 1;
        } else {
            se->y = raw;
        }
        if (boff >= 0) {
            se->b.space = PAN_CU_REF_CONST;
            se->b.off = boff;
        }
        if (has_res) TRY(pan__cu_tensor_ref(ex, n->inputs[3], pos, &se->c));
        se->n = ex->ti[n->outputs[0]].numel;
        se->C = (int)K;
        se->op = act;
        se->alpha = a->act_alpha;
        se->beta = a->act_beta;
        se->flag = a->residual_after_act;
    }
    return PAN_OK;
}

static pan_status lower_binary(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    static const int ops[] = {[PAN_OP_ADD] = PAN_CU_B_ADD, [PAN_OP_SUB] = PAN_CU_B_SUB, [PAN_OP_MUL] = PAN_CU_B_MUL,
                              [PAN_OP_DIV] = PAN_CU_B_DIV, [PAN_OP_POW] = PAN_CU_B_POW, [PAN_OP_MAX] = PAN_CU_B_MAX,
                              [PAN_OP_MIN] = PAN_CU_B_MIN};
    const pan_tensor *y = OUT(0);
    if (!is_float(y->dtype)) {
        lower_error(ex, n, "integer arithmetic at run time is not supported on cuda");
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
static pan_status lower_concat_split(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int split = n->op == PAN_OP_SPLIT;
    const pan_tensor *whole = split ? IN(0) : OUT(0);
    int wt = split ? n->inputs[0] : n->outputs[0];
    int64_t ax = n->attrs.axis.axis;
    if (ax < 0) ax += whole->rank;
    if (ax < 0 || ax >= whole->rank) {
        lower_error(ex, n, "axis out of range");
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
            if (split) TRY(add_copy(ex, node_idx, p->rank, p->dims, wt, pt, ws, at * ws[ax], ps, 0, ex->ti[pt].store));
            else TRY(add_copy(ex, node_idx, p->rank, p->dims, pt, wt, ps, 0, ws, at * ws[ax], ex->ti[wt].store));
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

static pan_status lower_reshape(pan_cu_exec *ex, int node_idx, const pan_node *n)
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

static pan_status lower_transpose_expand_slice(pan_cu_exec *ex, int node_idx, const pan_node *n)
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
        return add_copy(ex, node_idx, 3, y->dims, head, yt, hs, 0, ys, 0, ex->ti[yt].store);
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
    return add_copy(ex, node_idx, y->rank, y->dims, xt, yt, src, xoff, ys, 0, ex->ti[yt].store);
}

static pan_status lower_pad(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    if (!HAS_IN(1) || !(IN(1)->flags & PAN_TENSOR_CONST)) {
        lower_error(ex, n, "pads must be constant");
        return PAN_UNSUPPORTED;
    }
    if (HAS_IN(2) && !(IN(2)->flags & PAN_TENSOR_CONST)) {
        lower_error(ex, n, "pad value must be constant");
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
            lower_error(ex, n, "reflect padding of an axis of size 1");
            return PAN_UNSUPPORTED;
        }
    }
    s->p.pad.mode = n->attrs.pad.mode;
    s->p.pad.value = HAS_IN(2) && pan__tensor_numel(IN(2)) > 0 ? const_f32(IN(2), 0) : 0.f;
    return PAN_OK;
}

static pan_status lower_pool(pan_cu_exec *ex, int node_idx, const pan_node *n)
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

static pan_status lower_resize(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    const pan_resize_attrs *a = &n->attrs.resize;
    if (a->mode == PAN_RESIZE_CUBIC) {
        lower_error(ex, n, "cubic resize is not supported on cuda");
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
            p->scale_h = const_f32(IN(2), k - 2);
            p->scale_w = const_f32(IN(2), k - 1);
        }
    }
    return PAN_OK;
}

static pan_status lower_softmax(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0), *y = OUT(0);
    int64_t ax = n->attrs.axis.axis;
    if (ax < 0) ax += y->rank;
    if (ax < 0 || ax >= y->rank) {
        lower_error(ex, n, "axis out of range");
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

static pan_status lower_batchnorm(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    const pan_tensor *x = IN(0);
    for (int k = 1; k <= 4; k++)
        if (!HAS_IN(k) || !(IN(k)->flags & PAN_TENSOR_CONST)) {
            lower_error(ex, n, "batch-norm parameters must be constants");
            return PAN_UNSUPPORTED;
        }
    int64_t C = x->rank > 1 ? x->dims[1] : 1;
    float *h = malloc((size_t)C * 2 * sizeof *h);
    if (!h) return PAN_NOMEM;
    for (int64_t c = 0; c < C; c++) {
        double sc = pan__tensor_get_f64(IN(1), c) / sqrt(pan__tensor_get_f64(IN(4), c) + n->attrs.bn.epsilon);
        h[c] = (float)sc;
        h[C + c] = (float)(pan__tensor_get_f64(IN(2), c) - pan__tensor_get_f64(IN(3), c) * sc);
    }
    int64_t off = pan__cu_const_append(ex, h, (size_t)C * 2 * sizeof *h);
    free(h);
    if (off < 0) return PAN_NOMEM;
    int pos = ex->n_steps;
    NEW_STEP(s, PAN_CU_STEP_AFFINE);
    TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
    TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
    s->b.space = s->c.space = PAN_CU_REF_CONST;
    s->b.off = off;
    s->c.off = off + C * (int64_t)sizeof(float);
    s->n = ex->ti[n->outputs[0]].numel;
    s->C = (int)C;
    s->div = 1;
    if (!ex->ti[n->inputs[0]].nhwc)
        for (int i = 2; i < x->rank; i++) s->div *= x->dims[i];
    return PAN_OK;
}

static pan_status lower_node(pan_cu_exec *ex, int node_idx, const pan_node *n)
{
    int pos = ex->n_steps;
    switch (n->op) {
    case PAN_OP_CONV: return lower_conv(ex, node_idx, n);
    case PAN_OP_BATCHNORM: return lower_batchnorm(ex, node_idx, n);
    case PAN_OP_RELU: case PAN_OP_LEAKY_RELU: case PAN_OP_SIGMOID: case PAN_OP_TANH: case PAN_OP_HARD_SIGMOID:
    case PAN_OP_HARD_SWISH: case PAN_OP_SILU: case PAN_OP_CLIP: case PAN_OP_EXP: case PAN_OP_LOG: case PAN_OP_SQRT:
    case PAN_OP_NEG: case PAN_OP_ABS: {
        if (!is_float(OUT(0)->dtype)) break;
        NEW_STEP(s, PAN_CU_STEP_UNARY);
        TRY(pan__cu_tensor_ref(ex, n->outputs[0], pos, &s->y));
        TRY(pan__cu_tensor_ref(ex, n->inputs[0], pos, &s->a));
        if (IN(0)->flags & PAN_TENSOR_CONST) break; /* would have been folded; layouts could differ */
        s->op = unop_of(n->op);
        s->alpha = n->attrs.unary.alpha;
        s->beta = n->attrs.unary.beta;
        s->n = ex->ti[n->outputs[0]].numel;
        return PAN_OK;
    }
    case PAN_OP_CAST:
        if (is_float(IN(0)->dtype) && is_float(OUT(0)->dtype)) return lower_reshape(ex, node_idx, n);
        break;
    case PAN_OP_ADD: case PAN_OP_SUB: case PAN_OP_MUL: case PAN_OP_DIV: case PAN_OP_POW: case PAN_OP_MAX:
    case PAN_OP_MIN: return lower_binary(ex, node_idx, n);
    case PAN_OP_CONCAT: case PAN_OP_SPLIT: return lower_concat_split(ex, node_idx, n);
    case PAN_OP_IDENTITY: case PAN_OP_RESHAPE: case PAN_OP_FLATTEN: case PAN_OP_SQUEEZE: case PAN_OP_UNSQUEEZE:
        return lower_reshape(ex, node_idx, n);
    case PAN_OP_TRANSPOSE: case PAN_OP_EXPAND: case PAN_OP_SLICE: return lower_transpose_expand_slice(ex, node_idx, n);
    case PAN_OP_PAD: return lower_pad(ex, node_idx, n);
    case PAN_OP_MAXPOOL: case PAN_OP_AVGPOOL: case PAN_OP_GLOBAL_AVGPOOL: case PAN_OP_GLOBAL_MAXPOOL:
        return lower_pool(ex, node_idx, n);
    case PAN_OP_RESIZE: return lower_resize(ex, node_idx, n);
    case PAN_OP_SOFTMAX: return lower_softmax(ex, node_idx, n);
    default: break;
    }
    lower_error(ex, n, "not supported by the cuda backend (use --backend cpu, or file an issue with the model)");
    return PAN_UNSUPPORTED;
}

pan_status pan__cu_lower(pan_cu_exec *ex)
{
    const pan_graph *g = ex->g;
    for (int t = 0; t < g->n_tensors; t++) {
        const pan_tensor *ts = &g->tensors[t];
        pan_cu_tinfo *ti = &ex->ti[t];
        ti->buf = -1;
        ti->const_off = -1;
        ti->numel = pan__tensor_numel(ts);
        ti->store = is_float(ts->dtype) ? PAN_DTYPE_F16 : ts->dtype;
        ti->nhwc = !(ts->flags & PAN_TENSOR_CONST) && ts->rank == 4 && is_float(ts->dtype);
        if (ti->numel >= INT32_MAX) {
            pan_log_error(TAG, -1, "%s: tensor '%s' has %lld elements; the cuda backend handles < 2^31",
                          g->source ? g->source : "model", ts->name, (long long)ti->numel);
            return PAN_LIMIT;
        }
    }
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
        TRY(lower_node(ex, i, n));
    }
    for (int i = 0; i < g->n_outputs; i++) {
        pan_cu_ref r;
        TRY(pan__cu_tensor_ref(ex, g->outputs[i], ex->n_steps, &r));
    }
    return PAN_OK;
}
