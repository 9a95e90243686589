/* Internal to the lowering of the detector families' ops for the cuda backend
 * (cuda_lower_select_cuda.c, cuda_lower_math_cuda.c): one PAN_CU_STEP_EXT step per node whose
 * parameter block (cuda_ext.h) addresses every operand through the strides of its storage. */
#ifndef PANOPTES_NN_CUDA_LOWER_EXT_H
#define PANOPTES_NN_CUDA_LOWER_EXT_H

#include <stdlib.h>
#include <string.h>

#include "nn/cuda_lower.h"

/* Element strides per logical dim of tensor t as the backend stores it (constants row-major). */
static inline void pan__cux_strides(const pan_cu_exec *ex, int t, int64_t *s)
{
    const pan_tensor *T = &ex->g->tensors[t];
    pan__cu_phys_strides(T->rank, T->dims, (T->flags & PAN_TENSOR_CONST) ? 0 : ex->ti[t].nhwc, s);
}

/* The element kind of a tensor on the GPU (cuda_ext.h: FP16 for floating tensors). */
static inline int pan__cux_kind(const pan_cu_exec *ex, int t)
{
    pan_dtype d = ex->g->tensors[t].dtype;
    return pan__cu_is_float(d) ? PAN_CU_T_F16 : (int)d;
}

static inline int pan__cux_elem(const pan_cu_exec *ex, int t)
{
    return (int)pan_dtype_size(pan__cu_is_float(ex->g->tensors[t].dtype) ? PAN_DTYPE_F16 : ex->g->tensors[t].dtype);
}

/* it over dims[0..rank) (operands' strides left zero). PAN_LIMIT beyond 32-bit sizes. */
static inline pan_status pan__cux_iter(pan_cu_xiter *it, int rank, const int64_t *dims)
{
    memset(it, 0, sizeof *it);
    if (rank > PAN_CU_EXT_RANK) return PAN_UNSUPPORTED;
    it->rank = rank;
    it->n = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] > INT32_MAX) return PAN_LIMIT;
        it->dims[d] = (int)dims[d];
        it->n *= dims[d];
    }
    return PAN_OK;
}

/* Operand k of it: tensor t broadcast (numpy, aligned to the right) over it's dims. */
static inline void pan__cux_operand(const pan_cu_exec *ex, pan_cu_xiter *it, int k, int t)
{
    const pan_tensor *T = &ex->g->tensors[t];
    int64_t s[PAN_MAX_DIMS];
    pan__cux_strides(ex, t, s);
    for (int d = 0; d < it->rank; d++) {
        int td = d - (it->rank - T->rank);
        it->st[k][d] = td < 0 || T->dims[td] == 1 ? 0 : (int)s[td];
    }
}

/* A new EXT step with a zeroed parameter block of `bytes` whose run is `fn`. */
static inline pan_cu_step *pan__cux_step(pan_cu_exec *ex, int node_idx, size_t bytes, pan_cu_ext_fn fn, void **blk)
{
    pan_cu_step *s = pan__cu_step_add(ex, PAN_CU_STEP_EXT, node_idx);
    if (!s) return NULL;
    s->ext = calloc(1, bytes);
    if (!s->ext) {
        ex->n_steps--;
        return NULL;
    }
    s->ext->run = fn;
    *blk = s->ext;
    return s;
}

#endif
