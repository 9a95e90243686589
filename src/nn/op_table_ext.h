/* Declarations of the op table's columns for the detector families' ops (issue #20: YOLOv10's
 * TopK/GatherElements/Mod, RT-DETR's LayerNormalization/GridSample/attention, comparisons and
 * logic, reductions, Einsum). Included by op_table.h so that the table sees them wherever it is
 * expanded; struct tags instead of the typedefs because ir.h includes the table before it
 * defines pan_graph and pan_node.
 *   shape rules: infer_ext.c                cpu kernels: cpu_ops_select.c, cpu_ops_norm.c
 *   ONNX converters: onnx_ops_ext.c         cuda lowerings: cuda_lower_select_cuda.c,
 *                                           cuda_lower_math_cuda.c (steps: cuda_ext.h; kernels:
 *                                           cuda_ops_ext.cu, cuda_ops_reduce.cu, cuda_ops_attn.cu) */
#ifndef PANOPTES_NN_OP_TABLE_EXT_H
#define PANOPTES_NN_OP_TABLE_EXT_H

#include "panoptes/status.h"

struct pan_graph;
struct pan_node;
struct pan_cpu_call;
struct pan_cu_exec;

/* shape rules */
pan_status pan__infer_gather_elements(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_topk(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_argmax(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_layernorm(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_where(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_compare(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_tile(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_grid_sample(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_einsum(struct pan_graph *g, struct pan_node *n);
pan_status pan__infer_range(struct pan_graph *g, struct pan_node *n);

/* cpu kernels */
pan_status pan__cpu_reduce(const struct pan_cpu_call *c); /* ReduceSum / Max / Min */
pan_status pan__cpu_gather_elements(const struct pan_cpu_call *c);
pan_status pan__cpu_topk(const struct pan_cpu_call *c);
pan_status pan__cpu_argmax(const struct pan_cpu_call *c);
pan_status pan__cpu_layernorm(const struct pan_cpu_call *c);
pan_status pan__cpu_where(const struct pan_cpu_call *c);
pan_status pan__cpu_compare(const struct pan_cpu_call *c);
pan_status pan__cpu_not(const struct pan_cpu_call *c);
pan_status pan__cpu_unary_ext(const struct pan_cpu_call *c); /* Erf, Gelu, Floor, Ceil */
pan_status pan__cpu_mod(const struct pan_cpu_call *c);
pan_status pan__cpu_tile(const struct pan_cpu_call *c);
pan_status pan__cpu_grid_sample(const struct pan_cpu_call *c);
pan_status pan__cpu_einsum(const struct pan_cpu_call *c);
pan_status pan__cpu_range(const struct pan_cpu_call *c);

/* cuda lowerings (CUDA builds) */
pan_status pan__cu_lower_binary_any(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_cast_any(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_matmul(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_gather(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_reduce(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_gather_elements(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_topk(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_argmax(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_layernorm(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_where(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_compare(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_not(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_unary_ext(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_tile(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_grid_sample(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);
pan_status pan__cu_lower_einsum(struct pan_cu_exec *ex, int node_idx, const struct pan_node *n);

#endif
