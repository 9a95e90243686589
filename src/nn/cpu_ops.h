/* cpu kernels of the engine IR (FP32 activations; integer ops for shape subgraphs).
 *
 * One entry point runs one node on host buffers; it serves the cpu backend at run time and
 * shape inference when it folds constant subgraphs. Buffers are dense row-major in the tensor's
 * logical layout (NCHW for 4-D activations). Kernels trust the shapes that shape inference
 * checked, but still bound-check data-dependent indices (Gather, SparseToDense). */
#ifndef PANOPTES_NN_CPU_OPS_H
#define PANOPTES_NN_CPU_OPS_H

#include <stdint.h>

#include "nn/ir.h"

/* A small pool of worker threads (the caller thread takes part). threads <= 1: serial. */
typedef struct pan_cpu_pool pan_cpu_pool;
pan_status pan__cpu_pool_create(pan_cpu_pool **pool, int threads);
void pan__cpu_pool_destroy(pan_cpu_pool **pool);
int pan__cpu_pool_threads(const pan_cpu_pool *pool); /* 1 for NULL */
/* Which thread of its pool runs the caller: 0 for the thread that called parallel_for (and any
 * thread outside a pool), 1..threads-1 for the workers. Indexes per-thread scratch. */
int pan__cpu_pool_thread_index(void);
/* Calls fn(arg, begin, end) over disjoint chunks covering [0, n) (a few per thread, taken by
 * whichever thread is free); returns when all are done.
 * pool NULL runs fn(arg, 0, n) on the caller. Not reentrant (no nested parallel_for). */
typedef void (*pan_cpu_range_fn)(void *arg, int64_t begin, int64_t end);
void pan__cpu_parallel_for(pan_cpu_pool *pool, int64_t n, pan_cpu_range_fn fn, void *arg);
/* Same with chunks of at least `grain` items (a conv's sgemm wants a few hundred columns). */
void pan__cpu_parallel_for_grain(pan_cpu_pool *pool, int64_t n, int64_t grain, pan_cpu_range_fn fn, void *arg);

typedef struct pan_cpu_call {
    const pan_graph *g;
    const pan_node *n;
    const void *const *in; /* one per node input; NULL where the optional input is absent */
    void *const *out;      /* one per node output */
    pan_cpu_pool *pool;    /* may be NULL */
    void *scratch;         /* pan__cpu_op_scratch_bytes(g, n) bytes (or what prepare asked), 64-byte aligned */
    const void *prep;      /* pan__cpu_op_prepare's result for this node, or NULL (constant folding) */
} pan_cpu_call;

/* Plan-time work for one node of a planned graph: weights packed into the layout the kernels read,
 * tile geometry. *prep stays NULL for nodes that need none (their kernels run without it, as they
 * do when shape inference folds constants). *scratch: the scratch bytes the prepared kernel needs
 * with `threads` threads (0 when none). */
pan_status pan__cpu_op_prepare(const pan_graph *g, const pan_node *n, int threads, void **prep, size_t *scratch);
void pan__cpu_op_prep_free(const pan_node *n, void *prep);

/* The conv of a prepared node (cpu_conv_fast.c): packed-weight GEMM tiles or direct depthwise. */
pan_status pan__cpu_conv_prepare(const pan_graph *g, const pan_node *n, int threads, void **prep, size_t *scratch);
void pan__cpu_conv_prep_free(void *prep);
pan_status pan__cpu_conv_fast(const pan_cpu_call *c);

/* The op has a cpu kernel (the op table's cpu column is not NULL). */
int pan__cpu_has_op(pan_op op);
/* Workspace one node needs (im2col buffer for convs); 0 for most ops. */
size_t pan__cpu_op_scratch_bytes(const pan_graph *g, const pan_node *n);
pan_status pan__cpu_op_run(const pan_cpu_call *c);

/* Per-family entry points (cpu_ops_*.c): the op table's cpu column, dispatched by pan__cpu_op_run. */
pan_status pan__cpu_conv(const pan_cpu_call *c);
pan_status pan__cpu_batchnorm(const pan_cpu_call *c);
pan_status pan__cpu_gemm(const pan_cpu_call *c);
pan_status pan__cpu_matmul(const pan_cpu_call *c);
pan_status pan__cpu_unary(const pan_cpu_call *c);
pan_status pan__cpu_binary(const pan_cpu_call *c);
pan_status pan__cpu_cast(const pan_cpu_call *c);
pan_status pan__cpu_softmax(const pan_cpu_call *c);
pan_status pan__cpu_reduce_mean(const pan_cpu_call *c);
pan_status pan__cpu_pool2d(const pan_cpu_call *c);
pan_status pan__cpu_global_pool(const pan_cpu_call *c);
pan_status pan__cpu_resize(const pan_cpu_call *c);
pan_status pan__cpu_data(const pan_cpu_call *c); /* identity, concat, split, slice, transpose, pad, gather, ... */

/* Applies a fused activation to n floats in place. */
void pan__cpu_act(float *x, int64_t n, pan_act act, float alpha, float beta);
/* sgemm C[M,N] = A[M,K] * B[K,N] (+ C when accumulate), row-major, lda/ldb/ldc in elements.
 * OpenBLAS when PANOPTES_HAVE_CBLAS, else a blocked loop. */
void pan__cpu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                    int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
