/* Graph passes on a graph inferred for one batch size (see ir.h). Each rewrite keeps the graph's
 * outputs equal up to float rounding; tests/test-passes.c runs fused against unfused graphs.
 *
 * Order (pan__passes_run_all): identities out, transposes out (passes_transpose.c), zero Pads
 * into conv/maxpool padding, BatchNorm into the preceding conv's weights, Mul(x, Sigmoid(x)) into
 * SiLU, then per conv: + per-channel constant (bias), + activation, + residual add. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/passes_util.h"
#include "panoptes/log.h"

int pan__pass_is_const(const pan_graph *g, int t) { return t >= 0 && (g->tensors[t].flags & PAN_TENSOR_CONST); }

int pan__pass_uses(const pan_graph *g, int t) { return pan__graph_consumers(g, t); }

int pan__pass_only_reader(const pan_graph *g, int t)
{
    int who = -1;
    if (g->tensors[t].flags & PAN_TENSOR_OUTPUT) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == t) {
                if (who >= 0) return -1; /* second reader (or the same node twice) */
                who = i;
            }
    }
    return who;
}

void pan__pass_replace_uses(pan_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == from) n->inputs[k] = to;
    }
}

int pan__pass_new_tensor(pan_graph *g, const char *base, int like)
{
    char *nm = pan__graph_unique_name(g, base);
    if (!nm) return PAN_NOMEM;
    pan_tensor L = g->tensors[like];
    int t = pan__graph_add_tensor(g, nm, L.dtype, L.rank, L.dims);
    free(nm);
    if (t >= 0) g->tensors[t].flags = L.flags & PAN_TENSOR_BATCHED;
    return t;
}

int pan__pass_new_const(pan_graph *g, const char *base, pan_dtype dtype, int rank, const int64_t *dims, void *data)
{
    char *nm = pan__graph_unique_name(g, base);
    if (!nm) {
        free(data);
        return PAN_NOMEM;
    }
    int t = pan__graph_add_const_owned(g, nm, dtype, rank, dims, data);
    free(nm);
    return t;
}

void pan__pass_dead_code(pan_graph *g)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = g->n_nodes - 1; i >= 0; i--) {
            pan_node *n = &g->nodes[i];
            if (n->dead) continue;
            int used = 0;
            for (int k = 0; k < n->n_outputs && !used; k++) used = pan__graph_consumers(g, n->outputs[k]) > 0;
            if (!used) {
                n->dead = 1;
                changed = 1;
            }
        }
    }
}

/* Identity, Reshape to the same shape, Transpose by the identity perm, Pad by zeros: the output
 * is the input. Kept when the output is a graph output (its name and slot must stay). */
pan_status pan__pass_remove_identity(pan_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        if (n->dead || n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs != 1) continue;
        const pan_tensor *x = &g->tensors[n->inputs[0]], *y = &g->tensors[n->outputs[0]];
        int same = x->rank == y->rank && !memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank) &&
                   x->dtype == y->dtype;
        int drop = 0;
        if (n->op == PAN_OP_IDENTITY) drop = 1;
        else if (n->op == PAN_OP_RESHAPE || n->op == PAN_OP_FLATTEN || n->op == PAN_OP_SQUEEZE ||
                 n->op == PAN_OP_UNSQUEEZE || n->op == PAN_OP_PAD || n->op == PAN_OP_CAST)
            drop = same;
        else if (n->op == PAN_OP_TRANSPOSE) {
            drop = 1;
            for (int d = 0; d < n->attrs.transpose.n_perm; d++) drop &= n->attrs.transpose.perm[d] == d;
        }
        if (!drop || (y->flags & PAN_TENSOR_OUTPUT)) continue;
        pan__pass_replace_uses(g, n->outputs[0], n->inputs[0]);
        n->dead = 1;
    }
    pan__pass_dead_code(g);
    return PAN_OK;
}

/* Pad (constant 0 before a conv, -inf before a max-pool, spatial axes only, non-negative) folds
 * into the window op's own padding. */
pan_status pan__pass_fold_pad(pan_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        if (n->dead || (n->op != PAN_OP_CONV && n->op != PAN_OP_MAXPOOL)) continue;
        int pi = g->tensors[n->inputs[0]].producer;
        if (pi < 0 || g->nodes[pi].dead || g->nodes[pi].op != PAN_OP_PAD) continue;
        pan_node *p = &g->nodes[pi];
        if (p->attrs.pad.mode != PAN_PAD_CONSTANT || !pan__pass_is_const(g, p->inputs[1])) continue;
        const pan_tensor *x = &g->tensors[p->inputs[0]], *pads = &g->tensors[p->inputs[1]];
        if (x->rank != 4 || pan__tensor_numel(pads) != 8) continue;
        double v = 0;
        if (p->n_inputs > 2 && p->inputs[2] >= 0) {
            if (!pan__pass_is_const(g, p->inputs[2])) continue;
            v = pan__tensor_get_f64(&g->tensors[p->inputs[2]], 0);
        }
        if (n->op == PAN_OP_CONV ? v != 0 : !(isinf(v) && v < 0)) continue;
        int64_t pv[8];
        for (int k = 0; k < 8; k++) pv[k] = pan__tensor_get_i64(pads, k);
        if (pv[0] || pv[1] || pv[4] || pv[5] || pv[2] < 0 || pv[3] < 0 || pv[6] < 0 || pv[7] < 0) continue;
        int64_t *dst = n->op == PAN_OP_CONV ? n->attrs.conv.pads : n->attrs.pool.pads;
        int64_t add[4] = {pv[2], pv[3], pv[6], pv[7]}; /* top, left, bottom, right */
        if (n->op == PAN_OP_MAXPOOL) {
            /* every window must still see one real pixel: pads < effective kernel */
            int ok = 1;
            for (int k = 0; k < 4; k++) {
                int64_t kk = n->attrs.pool.kernel[k & 1] * (n->attrs.pool.dilations[k & 1] > 0 ? n->attrs.pool.dilations[k & 1] : 1);
                ok &= dst[k] + add[k] < kk;
            }
            if (!ok || n->attrs.pool.ceil_mode) continue;
        }
        for (int k = 0; k < 4; k++) dst[k] += add[k];
        n->inputs[0] = p->inputs[0];
    }
    pan__pass_dead_code(g);
    return PAN_OK;
}

/* Conv -> BatchNormalization with constant parameters: W'[o] = W[o]·s[o], b'[o] = (b[o] - mean[o])·s[o] + beta[o],
 * s = gamma / sqrt(var + eps). */
pan_status pan__pass_fold_batchnorm(pan_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *bn = &g->nodes[i];
        if (bn->dead || bn->op != PAN_OP_BATCHNORM) continue;
        int ci = g->tensors[bn->inputs[0]].producer;
        if (ci < 0 || g->nodes[ci].dead || g->nodes[ci].op != PAN_OP_CONV) continue;
        pan_node *cv = &g->nodes[ci];
        if (pan__pass_only_reader(g, cv->outputs[0]) != i || cv->attrs.conv.act != PAN_ACT_NONE ||
            (cv->n_inputs > 3 && cv->inputs[3] >= 0) || !pan__pass_is_const(g, cv->inputs[1]))
            continue;
        int ok = 1;
        for (int k = 1; k < 5; k++) ok &= pan__pass_is_const(g, bn->inputs[k]) && g->tensors[bn->inputs[k]].dtype == PAN_DTYPE_F32;
        int has_b = cv->n_inputs > 2 && cv->inputs[2] >= 0;
        if (!ok || g->tensors[cv->inputs[1]].dtype != PAN_DTYPE_F32 || (has_b && !pan__pass_is_const(g, cv->inputs[2])))
            continue;
        const pan_tensor *W = &g->tensors[cv->inputs[1]];
        int64_t O = W->dims[0], per = pan__tensor_numel(W) / (O ? O : 1);
        float *w = malloc(sizeof(float) * (size_t)pan__tensor_numel(W) + 1), *b = malloc(sizeof(float) * (size_t)O + 1);
        if (!w || !b) {
            free(w);
            free(b);
            return PAN_NOMEM;
        }
        const float *gam = g->tensors[bn->inputs[1]].data, *beta = g->tensors[bn->inputs[2]].data,
                    *mean = g->tensors[bn->inputs[3]].data, *var = g->tensors[bn->inputs[4]].data,
                    *w0 = W->data, *b0 = has_b ? g->tensors[cv->inputs[2]].data : NULL;
        for (int64_t o = 0; o < O; o++) {
            float s = gam[o] / sqrtf(var[o] + bn->attrs.bn.epsilon);
            for (int64_t k = 0; k < per; k++) w[o * per + k] = w0[o * per + k] * s;
            b[o] = ((b0 ? b0[o] : 0.0f) - mean[o]) * s + beta[o];
        }
        int64_t wd[PAN_MAX_DIMS];
        memcpy(wd, W->dims, sizeof wd);
        int wr = W->rank;
        int tw = pan__pass_new_const(g, g->tensors[cv->inputs[1]].name, PAN_DTYPE_F32, wr, wd, w);
        int tb = pan__pass_new_const(g, g->tensors[bn->outputs[0]].name, PAN_DTYPE_F32, 1, &O, b);
        if (tw < 0 || tb < 0) return PAN_NOMEM;
        cv = &g->nodes[ci];
        bn = &g->nodes[i];
        int in[4] = {cv->inputs[0], tw, tb, -1};
        if (cv->n_inputs < 3) {
            int *ni = realloc(cv->inputs, sizeof(int) * 4);
            if (!ni) return PAN_NOMEM;
            cv->inputs = ni;
            cv->n_inputs = 3;
        }
        memcpy(cv->inputs, in, sizeof(int) * (size_t)cv->n_inputs);
        cv->outputs[0] = bn->outputs[0];
        g->tensors[bn->outputs[0]].producer = ci;
        bn->dead = 1;
    }
    pan__pass_dead_code(g);
    return PAN_OK;
}

static pan_act act_of(pan_op op)
{
    switch (op) {
    case PAN_OP_RELU: return PAN_ACT_RELU;
    case PAN_OP_LEAKY_RELU: return PAN_ACT_LEAKY_RELU;
    case PAN_OP_SIGMOID: return PAN_ACT_SIGMOID;
    case PAN_OP_HARD_SIGMOID: return PAN_ACT_HARD_SIGMOID;
    case PAN_OP_HARD_SWISH: return PAN_ACT_HARD_SWISH;
    case PAN_OP_SILU: return PAN_ACT_SILU;
    case PAN_OP_CLIP: return PAN_ACT_CLIP;
    case PAN_OP_TANH: return PAN_ACT_TANH;
    default: return PAN_ACT_NONE;
    }
}

/* Mul(x, Sigmoid(x)) -> SiLU(x) (YOLOv8's activation as exported to ONNX). */
static void fuse_silu(pan_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *m = &g->nodes[i];
        if (m->dead || m->op != PAN_OP_MUL) continue;
        for (int k = 0; k < 2; k++) {
            int s = m->inputs[k], x = m->inputs[1 - k], si = g->tensors[s].producer;
            if (si < 0 || g->nodes[si].dead || g->nodes[si].op != PAN_OP_SIGMOID || g->nodes[si].inputs[0] != x) continue;
            const pan_tensor *X = &g->tensors[x], *Y = &g->tensors[m->outputs[0]];
            if (X->rank != Y->rank || memcmp(X->dims, Y->dims, sizeof(int64_t) * (size_t)X->rank)) continue;
            m->op = PAN_OP_SILU;
            m->n_inputs = 1;
            m->inputs[0] = x;
            memset(&m->attrs, 0, sizeof m->attrs);
            break;
        }
    }
    pan__pass_dead_code(g);
}

/* Is constant t a per-output-channel vector for a conv output [N, O, H, W]? ([O,1,1], [1,O,1,1]) */
static int per_channel(const pan_tensor *t, int64_t O)
{
    if (t->dtype != PAN_DTYPE_F32 || pan__tensor_numel(t) != O) return 0;
    if (t->rank < 3 || t->rank > 4) return O == 1 && t->rank <= 1;
    for (int d = 0; d < t->rank; d++) {
        int from_end = t->rank - 1 - d; /* 0 = W, 1 = H, 2 = C */
        if (from_end != 2 && t->dims[d] != 1) return 0;
    }
    return 1;
}

pan_status pan__pass_fuse_conv(pan_graph *g)
{
    fuse_silu(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead || g->nodes[i].op != PAN_OP_CONV) continue;
        for (;;) {
            pan_node *cv = &g->nodes[i];
            int y = cv->outputs[0], ri = pan__pass_only_reader(g, y);
            if (ri < 0) break;
            pan_node *r = &g->nodes[ri];
            const pan_tensor *Y = &g->tensors[y];
            int has_res = cv->n_inputs > 3 && cv->inputs[3] >= 0;
            int has_b = cv->n_inputs > 2 && cv->inputs[2] >= 0;
            pan_act a = act_of(r->op);
            if (r->op == PAN_OP_ADD && cv->attrs.conv.act == PAN_ACT_NONE && !has_res) {
                int other = r->inputs[0] == y ? r->inputs[1] : r->inputs[0];
                const pan_tensor *O = &g->tensors[other];
                if (pan__pass_is_const(g, other) && per_channel(O, Y->dims[1]) && (!has_b || pan__pass_is_const(g, cv->inputs[2]))) {
                    int64_t n = Y->dims[1];
                    float *b = malloc(sizeof(float) * (size_t)n + 1);
                    if (!b) return PAN_NOMEM;
                    for (int64_t o = 0; o < n; o++)
                        b[o] = ((const float *)O->data)[o] + (has_b ? ((const float *)g->tensors[cv->inputs[2]].data)[o] : 0.0f);
                    int tb = pan__pass_new_const(g, O->name, PAN_DTYPE_F32, 1, &n, b);
                    if (tb < 0) return tb;
                    cv = &g->nodes[i];
                    r = &g->nodes[ri];
                    if (cv->n_inputs < 4) {
                        int *ni = realloc(cv->inputs, sizeof(int) * 4);
                        if (!ni) return PAN_NOMEM;
                        cv->inputs = ni;
                        for (int k = cv->n_inputs; k < 4; k++) ni[k] = -1;
                        cv->n_inputs = 4;
                    }
                    cv->inputs[2] = tb;
                } else if (!pan__pass_is_const(g, other) && O->rank == 4 && !memcmp(O->dims, Y->dims, sizeof(int64_t) * 4) &&
                           O->dtype == PAN_DTYPE_F32 && other != y) {
                    if (cv->n_inputs < 4) {
                        int *ni = realloc(cv->inputs, sizeof(int) * 4);
                        if (!ni) return PAN_NOMEM;
                        cv->inputs = ni;
                        for (int k = cv->n_inputs; k < 4; k++) ni[k] = -1;
                        cv->n_inputs = 4;
                    }
                    cv->inputs[3] = other;
                    cv->attrs.conv.residual_after_act = 0;
                } else break;
            } else if (r->op == PAN_OP_ADD && cv->attrs.conv.act != PAN_ACT_NONE && !has_res) {
                int other = r->inputs[0] == y ? r->inputs[1] : r->inputs[0];
                const pan_tensor *O = &g->tensors[other];
                if (pan__pass_is_const(g, other) || O->rank != 4 || memcmp(O->dims, Y->dims, sizeof(int64_t) * 4) ||
                    O->dtype != PAN_DTYPE_F32 || other == y)
                    break;
                if (cv->n_inputs < 4) {
                    int *ni = realloc(cv->inputs, sizeof(int) * 4);
                    if (!ni) return PAN_NOMEM;
                    cv->inputs = ni;
                    for (int k = cv->n_inputs; k < 4; k++) ni[k] = -1;
                    cv->n_inputs = 4;
                }
                cv->inputs[3] = other;
                cv->attrs.conv.residual_after_act = 1;
            } else if (a != PAN_ACT_NONE && cv->attrs.conv.act == PAN_ACT_NONE && !(has_res && cv->attrs.conv.residual_after_act)) {
                cv->attrs.conv.act = a;
                cv->attrs.conv.act_alpha = r->attrs.unary.alpha;
                cv->attrs.conv.act_beta = r->attrs.unary.beta;
            } else break;
            /* the conv now produces the fused op's output */
            cv->outputs[0] = r->outputs[0];
            g->tensors[r->outputs[0]].producer = i;
            r->dead = 1;
        }
    }
    pan__pass_dead_code(g);
    return pan__graph_sort(g);
}

pan_status pan__passes_run_all(pan_graph *g)
{
    pan_status st;
    if ((st = pan__pass_remove_identity(g)) || (st = pan__pass_transposes(g)) ||
        (st = pan__pass_remove_identity(g)) || (st = pan__pass_fold_pad(g)) ||
        (st = pan__pass_fold_batchnorm(g)) || (st = pan__pass_fuse_conv(g)))
        return st;
    return pan__graph_sort(g);
}
