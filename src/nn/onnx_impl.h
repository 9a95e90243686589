/* ONNX importer internals (src/nn/onnx.c: file, tensors, graph; src/nn/onnx_ops.c: operators).
 *
 * The model is parsed with protobuf-c from C generated at build time from Debian's onnx.proto.
 * Every value is checked before use: a hostile file yields a pan_status and one error line
 * naming the file, the node (name and op_type) and the tensor; it never crashes. */
#ifndef PANOPTES_NN_ONNX_IMPL_H
#define PANOPTES_NN_ONNX_IMPL_H

#include "nn/ir.h"
#include "onnx/onnx.pb-c.h"

/* Name -> tensor index (open addressing; the IR's own lookup is linear). */
typedef struct pan__onnx_names {
    char **keys;
    int *vals;
    size_t cap, count;
} pan__onnx_names;

typedef struct pan__onnx_ctx {
    pan_graph *g;
    const char *source;
    int64_t opset;                /* default-domain opset of the model */
    int static_batch1;            /* a graph input was exported with a fixed batch of 1 */
    unsigned fresh;               /* counter for names of tensors the importer adds */
    pan__onnx_names names;
    const Onnx__NodeProto *node;  /* node being converted (for messages) */
    char node_label[160];         /* "'name' (OpType)" */
} pan__onnx_ctx;

/* Logs "<file>: node 'n' (Op): <message>" (or "<file>: <message>" outside a node), returns st. */
pan_status pan__onnx_fail(pan__onnx_ctx *c, pan_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

int pan__onnx_lookup(const pan__onnx_ctx *c, const char *name);
/* A new tensor name ("<first output>/pan<k>", malloc'ed) used by no ONNX tensor: O(1), where the
 * IR's pan__graph_unique_name scans every tensor (quadratic on hostile files with many nodes). */
char *pan__onnx_fresh_name(pan__onnx_ctx *c);
pan_status pan__onnx_bind(pan__onnx_ctx *c, const char *name, int tensor);

/* Converts one TensorProto into a constant of the graph named `name`. */
int pan__onnx_add_initializer(pan__onnx_ctx *c, const Onnx__TensorProto *t, const char *name);

/* Attributes of the current node. */
const Onnx__AttributeProto *pan__onnx_attr(const Onnx__NodeProto *n, const char *name);
int64_t pan__onnx_attr_i(const Onnx__NodeProto *n, const char *name, int64_t def);
float pan__onnx_attr_f(const Onnx__NodeProto *n, const char *name, float def);
/* String attribute into buf ("" default); returns buf. */
const char *pan__onnx_attr_s(const Onnx__NodeProto *n, const char *name, const char *def, char *buf, size_t size);
/* INTS attribute: count (-1 when absent) and values. */
int pan__onnx_attr_ints(const Onnx__NodeProto *n, const char *name, const int64_t **v);

/* Converts the current node (c->node) into IR nodes. */
pan_status pan__onnx_convert_node(pan__onnx_ctx *c);
/* The importer converts this default-domain op_type (an AS_IS op of the table, a converter, Constant). */
int pan__onnx_op_known(const char *op_type);

/* ONNX element type -> IR dtype (FLOAT16/BFLOAT16 become F32: computed in FP32). -1 if unsupported. */
int pan__onnx_dtype(int32_t onnx_type);

/* ---- operator conversion helpers (onnx_ops.c), shared with onnx_ops_data.c ---- */
#define PAN_ONNX_MAX_IO 4096 /* inputs of one node (Concat of many tensors) */

typedef struct pan__onnx_io {
    int in[PAN_ONNX_MAX_IO];
    int n_in;
    int out[64];
    int n_out;
} pan__onnx_io;

/* PAN_OK when inputs 0..k-1 are present, else an error naming the node. */
int pan__onnx_need_inputs(pan__onnx_ctx *c, const pan__onnx_io *x, int k);
/* Adds one IR node named after the ONNX node. */
int pan__onnx_add(pan__onnx_ctx *c, pan_op op, int n_in, const int *in, int n_out, const int *out, const pan_attrs *a);
/* A fresh intermediate tensor / 1-D I64 constant, named after the node's first output. */
int pan__onnx_temp(pan__onnx_ctx *c, pan_dtype dt);
int pan__onnx_const_i64(pan__onnx_ctx *c, int n, const int64_t *v);
/* The tensor when it is a constant, else NULL (also for t < 0). */
const pan_tensor *pan__onnx_cst(pan__onnx_ctx *c, int t);
/* INTS attribute `name` as a constant I64 input (*t = -1 when absent). */
int pan__onnx_ints_as_input(pan__onnx_ctx *c, const char *name, int *t);

int pan__onnx_op_split(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_slice(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_pad(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_resize(pan__onnx_ctx *c, pan__onnx_io *x, int upsample);
int pan__onnx_op_range(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_cast_to(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_const_of_shape(pan__onnx_ctx *c, pan__onnx_io *x);
/* the detector families' ops (onnx_ops_ext.c) */
int pan__onnx_op_reduce_sum(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_reduce_max(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_reduce_min(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_gather_elements(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_topk(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_argmax(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_argmin(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_layernorm(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_gelu(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_mod(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_grid_sample(pan__onnx_ctx *c, pan__onnx_io *x);
int pan__onnx_op_einsum(pan__onnx_ctx *c, pan__onnx_io *x);

#endif
