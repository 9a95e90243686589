/* Internal to the cuda backend's lowering (cuda_lower_cuda.c, cuda_lower_conv_cuda.c,
 * cuda_lower_data_cuda.c): shared helpers and the per-op entry points. */
#ifndef PANOPTES_NN_CUDA_LOWER_H
#define PANOPTES_NN_CUDA_LOWER_H

#include <stdint.h>

#include "nn/cuda_backend.h"

int pan__cu_is_float(pan_dtype t);
/* IEEE binary16 bits of an FP32 value, round to nearest even (weights and constants, host side). */
uint16_t pan__cu_f32_to_f16(float f);
/* Element i of a floating or integer constant as FP32. */
float pan__cu_const_f32(const pan_tensor *t, int64_t i);
/* Logs "<model>: node '<name>' (<op>): <what>". */
void pan__cu_lower_error(const pan_cu_exec *ex, const pan_node *n, const char *what);
/* Activation of a fused conv as a pan_cu_unop. */
int pan__cu_act_of(pan_act a);
/* Step copying all of tensor tx into ty (logical dims `dims`), element strides and offsets given
 * per logical dim for each side; iterates in ty's storage order. */
pan_status pan__cu_add_copy(pan_cu_exec *ex, int node_idx, int rank, const int64_t *dims, int tx, int ty,
                            const int64_t *xstr, int64_t xoff, const int64_t *ystr, int64_t yoff, int ydtype);

/* Per-op lowering, the op table's cuda column: append the node's steps (node_idx = its index in
 * ex->g->nodes). */
pan_status pan__cu_lower_unary(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_cast(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_conv(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_gemm(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_batchnorm(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_binary(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_concat_split(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_reshape(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_transpose_expand_slice(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_pad(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_pool(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_resize(pan_cu_exec *ex, int node_idx, const pan_node *n);
pan_status pan__cu_lower_softmax(pan_cu_exec *ex, int node_idx, const pan_node *n);

/* Shorthands of the lowering code (n = the node, ex = the exec being built). */
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

#endif
