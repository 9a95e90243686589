/* Internal interface between the parts of the TF.js importer: tfjs.c (model.json, weights),
 * tfjs_graph.c (nodes -> graph, inputs, outputs), tfjs_ops.c (one TF op -> IR nodes). */
#ifndef PANOPTES_NN_TFJS_IMPL_H
#define PANOPTES_NN_TFJS_IMPL_H

#include <jansson.h>
#include <stdint.h>

#include "nn/ir.h"

#define PAN_TFJS_MAX_INPUTS 4096

/* One TF node being converted: its JSON, resolved input tensors and pre-made output tensors. */
typedef struct pan_tfjs_node {
    pan_graph *g;
    json_t *node;
    const char *name, *op;
    int in[PAN_TFJS_MAX_INPUTS];
    int n_in;
    int out[64];
    int n_out;
} pan_tfjs_node;

json_t *pan__tfjs_attr(const pan_tfjs_node *c, const char *key, const char *kind); /* attr.<key>.<kind> */
int64_t pan__tfjs_json_int(json_t *v, int64_t def);                        /* TF ints are strings */
pan_dtype pan__tfjs_dtype(const char *tf_type);                              /* "DT_FLOAT" -> F32 ... */
/* Converts one node (tfjs_ops.c); logs and returns the status on failure, except for an op the
 * importer does not know: PAN_NOTFOUND, logged by the caller with every other unknown op at once. */
pan_status pan__tfjs_convert_one(pan_tfjs_node *c);
/* Less common ops (tfjs_ops_more.c); PAN_NOTFOUND (not logged) for unknown ones. */
pan_status pan__tfjs_convert_more(pan_tfjs_node *c);

/* Helpers of the converters (tfjs_ops.c). */
double pan__tfjs_attr_f(const pan_tfjs_node *c, const char *key, double def);
int pan__tfjs_attr_b(const pan_tfjs_node *c, const char *key);
int pan__tfjs_attr_list_i(const pan_tfjs_node *c, const char *key, int64_t *out, int max); /* count or -1 */
int pan__tfjs_tmp_tensor(pan_tfjs_node *c, const char *suffix);                           /* fresh tensor */
/* One IR node with a single output tensor `out`; returns out or a negative status. */
int pan__tfjs_node1(pan_tfjs_node *c, pan_op op, int n_in, const int *in, int out, const pan_attrs *a);
const pan_tensor *pan__tfjs_const_in(pan_tfjs_node *c, int k); /* input k when constant, else NULL */
pan_status pan__tfjs_format(pan_tfjs_node *c, int *nhwc);     /* data_format attr */
/* x -> Transpose to NCHW -> op -> Transpose back -> c->out[0] (nhwc), or op directly. */
pan_status pan__tfjs_wrap_nchw(pan_tfjs_node *c, pan_op op, int n_in, int *in, const pan_attrs *a, int nhwc);

/* IEEE 754 binary16 -> binary32 (exact). */
float pan__half_to_float(uint16_t h);
/* Converts modelTopology.node[] into IR nodes (weights are already constants in g) and marks
 * the graph inputs (Placeholders) and outputs (signature order, else the unconsumed nodes). */
pan_status pan__tfjs_convert_nodes(pan_graph *g, json_t *nodes, json_t *signature);

#endif
