/* Per-op shape and dtype rules (infer_ops.c: compute ops, infer_data.c: data movement), used by
 * pan__graph_infer_shapes through the op table's shape column (op_table.h). */
#ifndef PANOPTES_NN_INFER_OPS_H
#define PANOPTES_NN_INFER_OPS_H

#include "nn/ir.h"

/* Sets the dtype/rank/dims of n's outputs from its inputs (all concrete). Logs and returns
 * PAN_SHAPE / PAN_MODEL / PAN_UNSUPPORTED naming the node, op and tensor. */
pan_status pan__infer_node(pan_graph *g, pan_node *n);

/* The shape column of the op table: each sets the dtype/rank/dims of n's outputs. */
pan_status pan__infer_same(pan_graph *g, pan_node *n); /* as input 0 */
pan_status pan__infer_unary(pan_graph *g, pan_node *n);
pan_status pan__infer_binary(pan_graph *g, pan_node *n);
pan_status pan__infer_conv(pan_graph *g, pan_node *n);
pan_status pan__infer_batchnorm(pan_graph *g, pan_node *n);
pan_status pan__infer_cast(pan_graph *g, pan_node *n);
pan_status pan__infer_pool(pan_graph *g, pan_node *n);
pan_status pan__infer_resize(pan_graph *g, pan_node *n);
pan_status pan__infer_softmax(pan_graph *g, pan_node *n);
pan_status pan__infer_gemm(pan_graph *g, pan_node *n);
pan_status pan__infer_matmul(pan_graph *g, pan_node *n);
pan_status pan__infer_reduce(pan_graph *g, pan_node *n);
pan_status pan__infer_concat(pan_graph *g, pan_node *n);
pan_status pan__infer_split(pan_graph *g, pan_node *n);
pan_status pan__infer_slice(pan_graph *g, pan_node *n);
pan_status pan__infer_reshape(pan_graph *g, pan_node *n);
pan_status pan__infer_transpose(pan_graph *g, pan_node *n);
pan_status pan__infer_flatten(pan_graph *g, pan_node *n);
pan_status pan__infer_squeeze(pan_graph *g, pan_node *n);
pan_status pan__infer_unsqueeze(pan_graph *g, pan_node *n);
pan_status pan__infer_expand(pan_graph *g, pan_node *n);
pan_status pan__infer_pad(pan_graph *g, pan_node *n);
pan_status pan__infer_gather(pan_graph *g, pan_node *n);
pan_status pan__infer_shape(pan_graph *g, pan_node *n);
pan_status pan__infer_constant_of_shape(pan_graph *g, pan_node *n);
pan_status pan__infer_sparse_to_dense(pan_graph *g, pan_node *n);

/* Helpers shared by the two files. */
void pan__infer_error(const pan_graph *g, const pan_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Input `slot` as a constant (NULL and an error when absent or not constant). */
const pan_tensor *pan__infer_const_input(const pan_graph *g, const pan_node *n, int slot, const char *what);
pan_status pan__infer_set(pan_graph *g, const pan_node *n, int out, pan_dtype dtype, int rank, const int64_t *dims);
/* Normalises a possibly negative axis into [0, rank); -1 on error (logged). */
int pan__infer_axis(const pan_graph *g, const pan_node *n, int64_t axis, int rank);
/* Slice: per-axis start, step and output size (ONNX clamping), from the constant inputs. */
pan_status pan__slice_resolve(const pan_graph *g, const pan_node *n, int64_t *start, int64_t *step, int64_t *out);

#endif
