/* Per-op shape and dtype rules (infer_ops.c, infer_ops2.c), used by pan__graph_infer_shapes. */
#ifndef PANOPTES_NN_INFER_OPS_H
#define PANOPTES_NN_INFER_OPS_H

#include "nn/ir.h"

/* Sets the dtype/rank/dims of n's outputs from its inputs (all concrete). Logs and returns
 * PAN_SHAPE / PAN_MODEL / PAN_UNSUPPORTED naming the node, op and tensor. */
pan_status pan__infer_node(pan_graph *g, pan_node *n);
/* Second half of the table (data-movement ops), called by pan__infer_node. */
pan_status pan__infer_data_node(pan_graph *g, pan_node *n);

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
