/* Internal to the cuda engine backend (cuda_backend_cuda.c, cuda_lower*_cuda.c).
 *
 * Compiling a planned graph for one batch:
 *  1. every runtime tensor gets a storage form: FP16 for floating tensors (integers keep their
 *     dtype), NHWC for 4-D ones, dense row-major in logical order for the others;
 *  2. each node is lowered into steps (kernel launches, cuDNN calls, copies) whose operands are
 *     references: an activation buffer (+ byte offset) or the uploaded constants (+ offset).
 *     A conv is a CONV step and an EPILOGUE step (bias, activation, residual); the epilogue of a
 *     conv whose only consumer is a channel concat writes the concat's slice (no copy); an RGB
 *     input is padded to 8 channels for the tensor cores; NanoDet's head Reshape + Transpose
 *     becomes one contiguous copy; a Gemm/MatMul with constant weights is a 1x1 conv of M pixels
 *     (row-major [M, K] is NHWC [M, K, 1, 1]) with C as its bias;
 *  3. buffers get offsets in ONE device arena from their lifetimes (step indices), greedy by size;
 *  4. the arena, the constants (weights in KRSC FP16, biases FP32) and the cuDNN workspace come
 *     from the device pool; each conv's engine is chosen by measurement (cuda_conv.h) — once per
 *     distinct problem (shape, epilogue, buffer alignments): later convs of the same problem share
 *     the plan — and where cuDNN fuses the epilogue into the conv, the EPILOGUE step is skipped;
 *  5. the step list is captured once into a CUDA graph (unless PANOPTES_CUDA_GRAPH=0).
 * Running = converting the caller's inputs into the input buffers, one graph launch, converting
 * the outputs out: three or so host calls per batch, nothing allocated after the first host run. */
#ifndef PANOPTES_NN_CUDA_BACKEND_H
#define PANOPTES_NN_CUDA_BACKEND_H

#include <stdint.h>

#include "nn/cuda_conv.h"
#include "nn/cuda_ext.h"
#include "nn/cuda_ops.h"
#include "nn/ir.h"
#include "core/devpool.h"

#define TAG "cuda-engine"

enum { PAN_CU_REF_NONE = 0, PAN_CU_REF_ARENA, PAN_CU_REF_CONST };

typedef struct pan_cu_ref {
    int space;   /* PAN_CU_REF_* */
    int id;      /* buffer index for ARENA */
    int64_t off; /* bytes from the buffer's (or the constants') start */
} pan_cu_ref;

typedef enum pan_cu_step_kind {
    PAN_CU_STEP_CONV = 0,
    PAN_CU_STEP_EPILOGUE,
    PAN_CU_STEP_UNARY,
    PAN_CU_STEP_BINARY,
    PAN_CU_STEP_COPY,    /* strided copy (concat part, split, slice, transpose, expand) */
    PAN_CU_STEP_MEMCPY,  /* contiguous device-to-device copy */
    PAN_CU_STEP_RESHAPE,
    PAN_CU_STEP_POOL,
    PAN_CU_STEP_GPOOL,
    PAN_CU_STEP_RESIZE,
    PAN_CU_STEP_SOFTMAX,
    PAN_CU_STEP_PAD,
    PAN_CU_STEP_AFFINE,
    PAN_CU_STEP_EXT,     /* ext->run(ext, {y, a, b, c}, stream): the detector families' ops (cuda_ext.h) */
    PAN_CU_STEP_CONV_DIRECT, /* y = conv(a, weights b) for few input channels (cuda_ops.h) */
    PAN_CU_STEP_KINDS
} pan_cu_step_kind;

typedef struct pan_cu_step {
    pan_cu_step_kind kind;
    int node;
    pan_cu_ref y, a, b, c; /* output; inputs (c: residual / scale) */
    int64_t n;             /* elements (unary, epilogue, affine) or bytes (memcpy) */
    int op, flag, C, dtype;
    float alpha, beta;
    int64_t div;
    int len, ys, xs;
    union {
        pan_cu_iter it;
        pan_cu_pool2d pool;
        pan_cu_resize rs;
        pan_cu_reshape rh;
        pan_cu_pad pad;
        pan_cu_conv_shape conv;
        pan_cu_dconv dconv;
    } p;
    pan_cu_conv *conv; /* PAN_CU_STEP_CONV, created once pointers exist */
    /* a conv whose epilogue cuDNN fused: the epilogue's output, bias and residual; that epilogue
     * step is then skipped */
    pan_cu_ref e_y, e_b, e_c;
    int skip;
    pan_cu_ext *ext; /* PAN_CU_STEP_EXT: its parameters (malloc'ed, freed with the exec) */
} pan_cu_step;

typedef struct pan_cu_tinfo {
    int nhwc;          /* 4-D runtime tensor stored NHWC */
    pan_dtype store;   /* F16 for floating tensors */
    int64_t numel;
    int buf;           /* activation buffer, -1 when none yet */
    int64_t const_off; /* offset of the uploaded constant (generic form), -1 when not uploaded */
    int in_concat;     /* written straight into its channel concat by a conv epilogue: no copy step */
} pan_cu_tinfo;

typedef struct pan_cu_buf {
    int64_t bytes;
    int first, last; /* step indices; -1 = before the first, INT32_MAX = after the last */
    int64_t offset;  /* in the arena, once planned */
} pan_cu_buf;

typedef struct pan_cu_exec {
    const pan_graph *g;
    int batch;
    pan_cu_tinfo *ti;
    pan_cu_buf *bufs;
    int n_bufs, cap_bufs;
    pan_cu_step *steps;
    int n_steps, cap_steps;
    uint8_t *hconst; /* host image of the constants block */
    size_t hconst_size, hconst_cap;
    size_t arena_bytes;          /* this plan's need; the backend's shared arena is at least that */
    size_t ws_need;              /* its largest cuDNN workspace */
    pan_devblock *consts;        /* a reference to the backend's copy of these weights */
    uint8_t const_sha256[32];
    uint8_t *arena_ptr, *const_ptr; /* the shared arena's and the weights' addresses */
    void *ws_ptr;                /* the shared workspace */
    size_t ws_bytes;
    void *graph, *gexec; /* cudaGraph_t, cudaGraphExec_t */
} pan_cu_exec;

/* cuda_lower_cuda.c: steps and buffers of ex->g (ex->ti allocated, zeroed); no GPU needed. */
pan_status pan__cu_lower(pan_cu_exec *ex);
/* cuda_backend_cuda.c: offsets of the buffers in one arena (256-byte aligned) such that no two
 * buffers alive at the same step overlap; sets ex->arena_bytes. No GPU needed. */
pan_status pan__cu_plan_arena(pan_cu_exec *ex);
/* Strides (elements) of each logical dim in the storage of a tensor of that shape/layout. */
void pan__cu_phys_strides(int rank, const int64_t *dims, int nhwc, int64_t *strides);
/* Logical dims in storage order, outermost first (NHWC: 0, 2, 3, 1). */
void pan__cu_phys_order(int rank, int nhwc, int *order);
/* Iteration over logical dims `dims` visited in `order`, nops operands with per-logical-dim strides
 * (0 = broadcast) and element offsets; drops size-1 dims and merges contiguous ones. PAN_LIMIT when
 * something does not fit 32-bit indices. */
pan_status pan__cu_make_iter(pan_cu_iter *it, int rank, const int64_t *dims, const int *order, int nops,
                             int64_t strides[3][PAN_MAX_DIMS], const int64_t *offsets);
/* Ref of an activation buffer or constant of tensor t used by step `pos`; constants are uploaded
 * in the generic form (FP16 or raw, row-major). */
pan_status pan__cu_tensor_ref(pan_cu_exec *ex, int t, int pos, pan_cu_ref *r);
/* Appends bytes to the constants block (256-byte aligned); returns the offset or -1. */
int64_t pan__cu_const_append(pan_cu_exec *ex, const void *data, size_t bytes);
pan_cu_step *pan__cu_step_add(pan_cu_exec *ex, pan_cu_step_kind kind, int node);
/* New temporary buffer used by steps [first, last]. */
int pan__cu_buf_add(pan_cu_exec *ex, int64_t bytes, int first, int last);

#endif
