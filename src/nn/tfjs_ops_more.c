/* TF.js importer: less common TensorFlow ops (not used by NanoDet): ExpandDims, Squeeze, Mean,
 * MatMul, FusedBatchNorm(V3), GatherV2, Pack. Same conventions as tfjs_ops.c: tensors keep TF's
 * layout; only NCHW-only IR ops (batch norm on NHWC data) are wrapped in transposes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tfjs_impl.h"
#include "panoptes/log.h"

#define TAG "tfjs"
#define FAIL(st, ...)                                                                              \
    do {                                                                                           \
        char m_[400];                                                                              \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        pan_log_error(TAG, -1, "%s: node '%s' (%s): %s", c->g->source, c->name, c->op, m_);         \
        return (st);                                                                               \
    } while (0)

static int ret(int r) { return r < 0 ? r : PAN_OK; }

/* An I64 constant [n] named after the node. */
static int const_i64(pan_tfjs_node *c, const char *what, int n, const int64_t *v)
{
    char nm[600];
    snprintf(nm, sizeof nm, "%s/%s", c->name, what);
    char *u = pan__graph_unique_name(c->g, nm);
    if (!u) return PAN_NOMEM;
    int t = pan__graph_add_const_i64(c->g, u, n, v);
    free(u);
    return t;
}

pan_status pan__tfjs_convert_more(pan_tfjs_node *c)
{
    const char *op = c->op;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if (!strcmp(op, "ExpandDims")) {
        if (c->n_in < 2) FAIL(PAN_MODEL, "needs input and axis");
        return ret(pan__tfjs_node1(c, PAN_OP_UNSQUEEZE, 2, c->in, c->out[0], &a));
    }
    if (!strcmp(op, "Squeeze")) {
        int64_t dims[PAN_MAX_DIMS];
        int n = pan__tfjs_attr_list_i(c, "squeeze_dims", dims, PAN_MAX_DIMS);
        if (n < 0) FAIL(PAN_MODEL, "too many squeeze_dims");
        int in[2] = {c->in[0], -1};
        if (n > 0 && (in[1] = const_i64(c, "axes", n, dims)) < 0) return in[1];
        return ret(pan__tfjs_node1(c, PAN_OP_SQUEEZE, 2, in, c->out[0], &a));
    }
    if (!strcmp(op, "Mean")) {
        if (c->n_in < 2) FAIL(PAN_MODEL, "needs input and axes");
        a.reduce.keepdims = pan__tfjs_attr_b(c, "keep_dims");
        return ret(pan__tfjs_node1(c, PAN_OP_REDUCE_MEAN, 2, c->in, c->out[0], &a));
    }
    if (!strcmp(op, "MatMul")) {
        if (c->n_in < 2) FAIL(PAN_MODEL, "needs two inputs");
        int ta = pan__tfjs_attr_b(c, "transpose_a"), tb = pan__tfjs_attr_b(c, "transpose_b");
        if (!ta && !tb) return ret(pan__tfjs_node1(c, PAN_OP_MATMUL, 2, c->in, c->out[0], &a));
        a.gemm = (pan_gemm_attrs){1.0f, 0.0f, ta, tb};
        return ret(pan__tfjs_node1(c, PAN_OP_GEMM, 2, c->in, c->out[0], &a));
    }
    if (!strcmp(op, "FusedBatchNorm") || !strcmp(op, "FusedBatchNormV3")) {
        int nhwc;
        pan_status st = pan__tfjs_format(c, &nhwc);
        if (st) return st;
        if (c->n_in < 5) FAIL(PAN_MODEL, "needs x, scale, offset, mean, variance");
        if (pan__tfjs_attr_b(c, "is_training")) FAIL(PAN_UNSUPPORTED, "training-mode batch norm is not supported");
        a.bn.epsilon = pan__d2f(pan__tfjs_attr_f(c, "epsilon", 1e-3));
        int in[5] = {c->in[0], c->in[1], c->in[2], c->in[3], c->in[4]};
        return pan__tfjs_wrap_nchw(c, PAN_OP_BATCHNORM, 5, in, &a, nhwc);
    }
    if (!strcmp(op, "GatherV2")) {
        const pan_tensor *ax = c->n_in >= 3 ? pan__tfjs_const_in(c, 2) : NULL;
        if (!ax || pan__tensor_numel(ax) != 1) FAIL(PAN_UNSUPPORTED, "axis must be a scalar constant");
        json_t *bd = pan__tfjs_attr(c, "batch_dims", "i");
        if (bd && pan__tfjs_json_int(bd, 0) != 0) FAIL(PAN_UNSUPPORTED, "batch_dims other than 0");
        a.axis.axis = pan__tensor_get_i64(ax, 0);
        return ret(pan__tfjs_node1(c, PAN_OP_GATHER, 2, c->in, c->out[0], &a));
    }
    if (!strcmp(op, "Pack")) {
        /* stack along axis: Unsqueeze each input there, then Concat */
        if (c->n_in < 1) FAIL(PAN_MODEL, "needs inputs");
        int64_t axis = pan__tfjs_json_int(pan__tfjs_attr(c, "axis", "i"), 0);
        int ax = const_i64(c, "axis", 1, &axis);
        if (ax < 0) return ax;
        int *parts = malloc(sizeof(int) * (size_t)c->n_in);
        if (!parts) return PAN_NOMEM;
        pan_attrs u;
        memset(&u, 0, sizeof u);
        for (int i = 0; i < c->n_in; i++) {
            int in[2] = {c->in[i], ax}, t = pan__tfjs_tmp_tensor(c, "unsqueeze");
            if (t < 0 || (t = pan__tfjs_node1(c, PAN_OP_UNSQUEEZE, 2, in, t, &u)) < 0) {
                free(parts);
                return t;
            }
            parts[i] = t;
        }
        a.axis.axis = axis;
        int r = pan__tfjs_node1(c, PAN_OP_CONCAT, c->n_in, parts, c->out[0], &a);
        free(parts);
        return ret(r);
    }
    return PAN_NOTFOUND; /* unknown op: the caller lists all of them in one message */
}
