/* ONNX converters of the detector families' ops marked OWN in the op table (op_table_ext.h):
 * attributes, opset differences (axes as an attribute before ReduceSum-13 / ReduceMax-18, TopK's
 * k as an attribute before opset 10, GridSample's mode names of opset 20) and Einsum's equation. */
#include <stdio.h>
#include <string.h>

#include "nn/onnx_impl.h"

/* Reductions: axes moved from an attribute to input 1 at opset `since`. */
static int reduce(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op, int since)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.reduce.keepdims = (int)pan__onnx_attr_i(c->node, "keepdims", 1);
    a.reduce.noop_with_empty_axes = (int)pan__onnx_attr_i(c->node, "noop_with_empty_axes", 0);
    int axes = x->n_in > 1 ? x->in[1] : -1;
    if (c->opset < since && (st = pan__onnx_ints_as_input(c, "axes", &axes))) return st;
    int in[2] = {x->in[0], axes};
    return pan__onnx_add(c, op, 2, in, 1, x->out, &a);
}

int pan__onnx_op_reduce_sum(pan__onnx_ctx *c, pan__onnx_io *x) { return reduce(c, x, PAN_OP_REDUCE_SUM, 13); }
int pan__onnx_op_reduce_max(pan__onnx_ctx *c, pan__onnx_io *x) { return reduce(c, x, PAN_OP_REDUCE_MAX, 18); }
int pan__onnx_op_reduce_min(pan__onnx_ctx *c, pan__onnx_io *x) { return reduce(c, x, PAN_OP_REDUCE_MIN, 18); }

static int64_t axis_attr(pan__onnx_ctx *c, int64_t def, int *bad)
{
    int64_t ax = pan__onnx_attr_i(c->node, "axis", def);
    *bad = ax < -PAN_MAX_DIMS || ax >= PAN_MAX_DIMS;
    if (*bad) pan__onnx_fail(c, PAN_MODEL, "axis %lld", (long long)ax);
    return ax;
}

int pan__onnx_op_gather_elements(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2), bad;
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.axis.axis = axis_attr(c, 0, &bad);
    return bad ? PAN_MODEL : pan__onnx_add(c, PAN_OP_GATHER_ELEMENTS, 2, x->in, 1, x->out, &a);
}

int pan__onnx_op_topk(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1), bad;
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.topk.axis = axis_attr(c, -1, &bad);
    if (bad) return PAN_MODEL;
    a.topk.largest = (int)pan__onnx_attr_i(c->node, "largest", 1);
    a.topk.sorted = (int)pan__onnx_attr_i(c->node, "sorted", 1);
    int k = x->n_in > 1 ? x->in[1] : -1;
    if (c->opset < 10) { /* k was an attribute */
        int64_t kv = pan__onnx_attr_i(c->node, "k", -1);
        if (kv < 0) return pan__onnx_fail(c, PAN_MODEL, "no k");
        if ((k = pan__onnx_const_i64(c, 1, &kv)) < 0) return k;
    }
    if (k < 0) return pan__onnx_fail(c, PAN_MODEL, "required input 1 (k) is missing");
    int in[2] = {x->in[0], k};
    int out[2] = {x->out[0], x->n_out > 1 ? x->out[1] : -1};
    if (out[1] < 0 && (out[1] = pan__onnx_temp(c, PAN_DTYPE_I64)) < 0) return out[1];
    if (out[0] < 0 && (out[0] = pan__onnx_temp(c, PAN_DTYPE_F32)) < 0) return out[0];
    return pan__onnx_add(c, PAN_OP_TOPK, 2, in, 2, out, &a);
}

static int argmax(pan__onnx_ctx *c, pan__onnx_io *x, pan_op op)
{
    int st = pan__onnx_need_inputs(c, x, 1), bad;
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.argmax.axis = axis_attr(c, 0, &bad);
    if (bad) return PAN_MODEL;
    a.argmax.keepdims = (int)pan__onnx_attr_i(c->node, "keepdims", 1);
    a.argmax.select_last_index = (int)pan__onnx_attr_i(c->node, "select_last_index", 0);
    return pan__onnx_add(c, op, 1, x->in, 1, x->out, &a);
}

int pan__onnx_op_argmax(pan__onnx_ctx *c, pan__onnx_io *x) { return argmax(c, x, PAN_OP_ARGMAX); }
int pan__onnx_op_argmin(pan__onnx_ctx *c, pan__onnx_io *x) { return argmax(c, x, PAN_OP_ARGMIN); }

int pan__onnx_op_layernorm(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2), bad;
    if (st) return st;
    if (pan__onnx_attr_i(c->node, "stash_type", 1) != 1)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "stash_type other than float");
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.layernorm.axis = axis_attr(c, -1, &bad);
    if (bad) return PAN_MODEL;
    a.layernorm.epsilon = pan__onnx_attr_f(c->node, "epsilon", 1e-5f);
    /* Mean and InvStdDev (training outputs) are not computed: refuse them when a node reads them */
    for (int i = 1; i < x->n_out; i++)
        if (x->out[i] >= 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "the Mean / InvStdDev outputs");
    int in[3] = {x->in[0], x->in[1], x->n_in > 2 ? x->in[2] : -1};
    return pan__onnx_add(c, PAN_OP_LAYER_NORM, 3, in, 1, x->out, &a);
}

int pan__onnx_op_gelu(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    char s[16];
    pan__onnx_attr_s(c->node, "approximate", "none", s, sizeof s);
    if (strcmp(s, "none") && strcmp(s, "tanh")) return pan__onnx_fail(c, PAN_UNSUPPORTED, "approximate '%s'", s);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.unary.alpha = !strcmp(s, "tanh") ? 1.f : 0.f;
    return pan__onnx_add(c, PAN_OP_GELU, 1, x->in, 1, x->out, &a);
}

int pan__onnx_op_mod(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.mod.fmod = (int)pan__onnx_attr_i(c->node, "fmod", 0);
    return pan__onnx_add(c, PAN_OP_MOD, 2, x->in, 1, x->out, &a);
}

int pan__onnx_op_grid_sample(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 2);
    if (st) return st;
    char m[16], p[16];
    pan__onnx_attr_s(c->node, "mode", c->opset >= 20 ? "linear" : "bilinear", m, sizeof m);
    pan__onnx_attr_s(c->node, "padding_mode", "zeros", p, sizeof p);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if (!strcmp(m, "bilinear") || !strcmp(m, "linear")) a.gridsample.mode = PAN_GRID_BILINEAR;
    else if (!strcmp(m, "nearest")) a.gridsample.mode = PAN_GRID_NEAREST;
    else return pan__onnx_fail(c, PAN_UNSUPPORTED, "mode '%s' (bilinear and nearest are)", m);
    if (!strcmp(p, "zeros")) a.gridsample.padding = PAN_GRID_ZEROS;
    else if (!strcmp(p, "border")) a.gridsample.padding = PAN_GRID_BORDER;
    else if (!strcmp(p, "reflection")) a.gridsample.padding = PAN_GRID_REFLECTION;
    else return pan__onnx_fail(c, PAN_UNSUPPORTED, "padding_mode '%s'", p);
    a.gridsample.align_corners = (int)pan__onnx_attr_i(c->node, "align_corners", 0);
    return pan__onnx_add(c, PAN_OP_GRID_SAMPLE, 2, x->in, 1, x->out, &a);
}

/* "bhqd,bhkd->bhqk": letters a-z, A-Z; an implicit output (no "->") is every letter that appears
 * once, in alphabetical order, as ONNX says. Ellipses are not supported. */
static int letter(char ch) { return ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= 'A' && ch <= 'Z' ? 26 + ch - 'A' : -1; }

int pan__onnx_op_einsum(pan__onnx_ctx *c, pan__onnx_io *x)
{
    char eq[256], *s = eq;
    pan__onnx_attr_s(c->node, "equation", "", eq, sizeof eq);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    pan_einsum_attrs *e = &a.einsum;
    int count[52] = {0}, k = 0;
    for (; *s && *s != '-'; s++) {
        if (*s == ' ') continue;
        if (*s == ',') {
            if (++k >= PAN_EINSUM_MAX_OPS) return pan__onnx_fail(c, PAN_UNSUPPORTED, "more than %d operands", PAN_EINSUM_MAX_OPS);
            continue;
        }
        int l = letter(*s);
        if (l < 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "equation '%s' (letters only, no ellipsis)", eq);
        if (e->rank[k] >= PAN_MAX_DIMS) return pan__onnx_fail(c, PAN_MODEL, "equation '%s': too many subscripts", eq);
        e->sub[k][e->rank[k]++] = (int8_t)l;
        count[l]++;
    }
    e->n_ops = k + 1;
    if (*s == '-') {
        if (s[1] != '>') return pan__onnx_fail(c, PAN_MODEL, "equation '%s'", eq);
        for (s += 2; *s; s++) {
            if (*s == ' ') continue;
            int l = letter(*s);
            if (l < 0 || !count[l] || e->out_rank >= PAN_MAX_DIMS)
                return pan__onnx_fail(c, PAN_UNSUPPORTED, "equation '%s' (output subscripts)", eq);
            e->out[e->out_rank++] = (int8_t)l;
        }
    } else {
        for (int l = 0; l < 52; l++)
            if (count[l] == 1) e->out[e->out_rank++] = (int8_t)l;
    }
    if (x->n_in != e->n_ops) return pan__onnx_fail(c, PAN_MODEL, "equation '%s' names %d operands, the node has %d", eq, e->n_ops, x->n_in);
    int st = pan__onnx_need_inputs(c, x, e->n_ops);
    if (st) return st;
    return pan__onnx_add(c, PAN_OP_EINSUM, e->n_ops, x->in, 1, x->out, &a);
}
