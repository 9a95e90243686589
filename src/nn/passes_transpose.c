/* Transpose removal.
 *
 * Converters from NCHW frameworks to TF (onnx-tf) surround every conv with NCHW<->NHWC
 * transposes, and the TF.js importer wraps NHWC convs in the opposite ones, so a NanoDet graph
 * starts with ~160 transposes that move every activation twice. Two rewrites remove them:
 *  1. sinking: a Transpose whose only reader is an elementwise op (unary, or binary with a
 *     constant operand, or binary whose other operand is the same transpose of another tensor)
 *     moves below that op (constants are permuted to match);
 *  2. merging: Transpose(Transpose(x, p), q) becomes Transpose(x, p∘q), dropped when that is the
 *     identity. Repeated until nothing changes. */
#include <stdlib.h>
#include <string.h>

#include "nn/passes_util.h"

/* Elementwise ops commute with a transpose (the op table's UNARY and BINARY kinds). */
static int is_unary(pan_op op) { return pan__op_is_unary(op) || op == PAN_OP_IDENTITY; }
static int is_binary(pan_op op) { return pan__op_is_binary(op); }

static int producer_op(const pan_graph *g, int t, pan_op op)
{
    if (t < 0) return -1;
    int p = g->tensors[t].producer;
    return p >= 0 && !g->nodes[p].dead && g->nodes[p].op == op ? p : -1;
}

/* Constant c (rank <= r, broadcastable against the transposed shape) rewritten for the
 * un-transposed side: C' = transpose(C padded to rank r, inverse of perm). */
static int permute_const(pan_graph *g, int c, const int64_t *perm, int r)
{
    const pan_tensor *C = &g->tensors[c];
    int64_t cd[PAN_MAX_DIMS], nd[PAN_MAX_DIMS], cs[PAN_MAX_DIMS], inv[PAN_MAX_DIMS];
    int pad = r - C->rank;
    if (pad < 0) return -1;
    for (int d = 0; d < r; d++) cd[d] = d < pad ? 1 : C->dims[d - pad];
    for (int d = 0; d < r; d++) inv[perm[d]] = d;
    /* new dims: nd[j] = cd[inv[j]] ; element at new index j-vector reads old index i with i[d] = j[perm[d]] */
    for (int j = 0; j < r; j++) nd[j] = cd[inv[j]];
    int64_t st = 1;
    for (int d = r - 1; d >= 0; d--) {
        cs[d] = st;
        st *= cd[d];
    }
    size_t es = pan_dtype_size(C->dtype);
    int64_t n = pan__tensor_numel(C);
    char *out = malloc((size_t)n * es + 1);
    if (!out) return PAN_NOMEM;
    int64_t idx[PAN_MAX_DIMS] = {0};
    for (int64_t k = 0; k < n; k++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += idx[perm[d]] * cs[d]; /* old index i[d] = new j[perm[d]] */
        memcpy(out + k * (int64_t)es, (const char *)C->data + off * (int64_t)es, es);
        for (int j = r - 1; j >= 0; j--) {
            if (++idx[j] < nd[j]) break;
            idx[j] = 0;
        }
    }
    return pan__pass_new_const(g, g->tensors[c].name, g->tensors[c].dtype, r, nd, out);
}

/* Moves transpose node ti (reader: node ni) below ni. Returns 1 when done. */
static int sink(pan_graph *g, int ti, int ni)
{
    pan_node *t = &g->nodes[ti], *n = &g->nodes[ni];
    const pan_transpose_attrs *p = &t->attrs.transpose;
    int x = t->inputs[0], y = n->outputs[0], r = p->n_perm;
    if (n->n_outputs != 1 || g->tensors[y].rank != r || g->tensors[x].rank != r) return 0;
    /* the op must keep the transposed shape (no broadcasting against the other operand, which
     * could widen or, with an empty constant, empty it): then the moved op works on x's shape */
    for (int d = 0; d < r; d++)
        if (g->tensors[y].dims[d] != g->tensors[x].dims[p->perm[d]]) return 0;
    int new_in[2] = {-1, -1}, other = -1;
    if (is_binary(n->op)) {
        int k = n->inputs[0] == t->outputs[0] ? 0 : 1;
        other = n->inputs[1 - k];
        if (other == t->outputs[0]) return 0;
        int pt = producer_op(g, other, PAN_OP_TRANSPOSE);
        const pan_tensor *O = &g->tensors[other];
        if (pan__pass_is_const(g, other)) {
            /* the constant must not widen the result beyond x's shape */
            if (O->rank > r) return 0;
            for (int d = 0; d < O->rank; d++) {
                int64_t yd = g->tensors[y].dims[d + r - O->rank];
                if (O->dims[d] != 1 && O->dims[d] != yd) return 0;
            }
            int c = permute_const(g, other, p->perm, r);
            if (c < 0) return 0;
            t = &g->nodes[ti];
            n = &g->nodes[ni];
            new_in[k] = x;
            new_in[1 - k] = c;
        } else if (pt >= 0 && pt != ti && !memcmp(&g->nodes[pt].attrs.transpose, p, sizeof *p) &&
                   pan__pass_only_reader(g, other) == ni &&
                   !memcmp(g->tensors[g->nodes[pt].inputs[0]].dims, g->tensors[x].dims, sizeof(int64_t) * (size_t)r)) {
            new_in[k] = x;
            new_in[1 - k] = g->nodes[pt].inputs[0];
            g->nodes[pt].dead = 1;
        } else {
            return 0;
        }
    } else {
        new_in[0] = x;
    }
    int y2 = pan__pass_new_tensor(g, g->tensors[y].name, x);
    if (y2 < 0) return 0;
    t = &g->nodes[ti];
    n = &g->nodes[ni];
    g->tensors[y2].dtype = g->tensors[y].dtype;
    n->inputs[0] = new_in[0];
    if (is_binary(n->op)) n->inputs[1] = new_in[1];
    n->outputs[0] = y2;
    g->tensors[y2].producer = ni;
    /* the transpose now reads y2 and produces y */
    t->inputs[0] = y2;
    t->outputs[0] = y;
    g->tensors[y].producer = ti;
    return 1;
}

static int merge(pan_graph *g, int ti)
{
    pan_node *t = &g->nodes[ti];
    int pi = producer_op(g, t->inputs[0], PAN_OP_TRANSPOSE);
    if (pi < 0) return 0;
    const pan_transpose_attrs *p = &g->nodes[pi].attrs.transpose, *q = &t->attrs.transpose;
    if (p->n_perm != q->n_perm) return 0;
    pan_transpose_attrs c = *q;
    int ident = 1;
    for (int d = 0; d < q->n_perm; d++) {
        c.perm[d] = p->perm[q->perm[d]];
        ident &= c.perm[d] == d;
    }
    int x = g->nodes[pi].inputs[0], y = t->outputs[0];
    if (ident && !(g->tensors[y].flags & PAN_TENSOR_OUTPUT)) {
        pan__pass_replace_uses(g, y, x);
        t->dead = 1;
    } else {
        t->attrs.transpose = c;
        t->inputs[0] = x;
    }
    return 1;
}

pan_status pan__pass_transposes(pan_graph *g)
{
    for (int round = 0; round < 64; round++) {
        int changed = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i].dead || g->nodes[i].op != PAN_OP_TRANSPOSE) continue;
            if (merge(g, i)) {
                changed = 1;
                continue;
            }
            int r = pan__pass_only_reader(g, g->nodes[i].outputs[0]);
            if (r >= 0 && (is_unary(g->nodes[r].op) || is_binary(g->nodes[r].op)) && sink(g, i, r)) changed = 1;
        }
        pan__pass_dead_code(g);
        if (!changed) break;
    }
    return pan__graph_sort(g);
}
