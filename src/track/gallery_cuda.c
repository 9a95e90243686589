/* The identity gallery's similarities on the GPU (see gallery.h): a device copy of the gallery
 * rows, updated from the rows changed since the last call (packed into pinned memory, one upload,
 * one scatter kernel), the queries uploaded the same way, one cuBLASLt FP32 product, the
 * similarities copied down, one wait. Buffers grow by doubling and are kept. */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "track/gallery.h"
#include "track/gallery_kernels.h"

#define TAG "identity"
#define LT_WORKSPACE (4u << 20)

struct pan__gallery_gpu {
    int dim, device;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    pan_devpool *pool;
    pan_devblock *rows_blk, *up_blk, *idx_blk, *out_blk, *ws_blk;
    int cap_rows;          /* rows the device copy holds */
    int cap_up;            /* rows (dirty + queries) the upload buffers hold */
    size_t cap_out;        /* floats of the similarity buffer */
    float *h_up, *h_out;   /* pinned */
    int *h_idx;            /* pinned */
};

static pan_status lt_status(cublasStatus_t s, const char *call)
{
    if (s == CUBLAS_STATUS_SUCCESS) return PAN_OK;
    pan_log_error(TAG, -1, "%s failed: %s", call, cublasLtGetStatusString(s));
    return s == CUBLAS_STATUS_ALLOC_FAILED ? PAN_DEVMEM : PAN_CUDA;
}
#define LT_CHECK(call)                                    \
    do {                                                  \
        pan_status lt_ = lt_status((call), #call);        \
        if (lt_ != PAN_OK) return lt_;                    \
    } while (0)

void pan__gallery_gpu_destroy(pan__gallery_gpu **pg)
{
    if (!pg || !*pg) return;
    pan__gallery_gpu *g = *pg;
    if (g->stream) cudaStreamSynchronize(g->stream);
    pan_devblock_unref(&g->rows_blk);
    pan_devblock_unref(&g->up_blk);
    pan_devblock_unref(&g->idx_blk);
    pan_devblock_unref(&g->out_blk);
    pan_devblock_unref(&g->ws_blk);
    if (g->h_up) cudaFreeHost(g->h_up);
    if (g->h_out) cudaFreeHost(g->h_out);
    if (g->h_idx) cudaFreeHost(g->h_idx);
    if (g->lt) cublasLtDestroy(g->lt);
    if (g->stream) cudaStreamDestroy(g->stream);
    free(g);
    *pg = NULL;
}

pan_status pan__gallery_gpu_create(pan__gallery_gpu **out, int dim, int device)
{
    pan_status st;
    *out = NULL;
    if (dim <= 0) return PAN_INVAL;
    if ((st = pan_gpu_init(device))) return st;
    pan__gallery_gpu *g = calloc(1, sizeof *g);
    if (!g) return PAN_NOMEM;
    g->dim = dim;
    g->device = device;
    if ((st = pan_devpool_get(device, &g->pool))) goto fail;
    PAN_CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
    if ((st = lt_status(cublasLtCreate(&g->lt), "cublasLtCreate"))) goto fail;
    if ((st = pan_devpool_alloc(g->pool, LT_WORKSPACE, "identity.gallery_workspace", &g->ws_blk))) goto fail;
    *out = g;
    return PAN_OK;
fail:
    pan__gallery_gpu_destroy(&g);
    return st;
}

/* Device block of at least `bytes` (contents dropped when it grows). */
static pan_status grow_block(pan__gallery_gpu *g, pan_devblock **blk, size_t bytes, const char *owner)
{
    pan_devblock_unref(blk);
    pan_status st = pan_devpool_alloc(g->pool, bytes, owner, blk);
    if (st) pan_log_error(TAG, -1, "cannot allocate %zu bytes of GPU memory for the identity gallery", bytes);
    return st;
}

static pan_status grow_host(void **p, size_t bytes)
{
    if (*p) cudaFreeHost(*p);
    *p = NULL;
    PAN_CUDA_CHECK(cudaMallocHost(p, bytes));
    return PAN_OK;
}

/* S^T (n_rows x nq, column-major) = G (n_rows x dim) · Q^T: with G and Q row-major, G^T and Q^T
 * are column-major dim x n matrices, so op(A) = transpose of the dim x n_rows matrix A = G^T. */
static pan_status product(pan__gallery_gpu *g, const float *rows, const float *q, int n_rows, int nq, float *s)
{
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const float one = 1.f, zero = 0.f;
    pan_status st = lt_status(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    if (!st) st = lt_status(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "set TRANSA");
    if (!st) st = lt_status(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "set TRANSB");
    if (!st) st = lt_status(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, (uint64_t)g->dim, (uint64_t)n_rows, g->dim), "layout A");
    if (!st) st = lt_status(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, (uint64_t)g->dim, (uint64_t)nq, g->dim), "layout B");
    if (!st) st = lt_status(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, (uint64_t)n_rows, (uint64_t)nq, n_rows), "layout C");
    if (!st)
        st = lt_status(cublasLtMatmul(g->lt, op, &one, rows, la, q, lb, &zero, s, lc, s, lc, NULL,
                                      pan_devblock_ptr(g->ws_blk), LT_WORKSPACE, g->stream),
                       "cublasLtMatmul");
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return st;
}

pan_status pan__gallery_gpu_scores(pan__gallery_gpu *g, const float *rows, int n_rows, const int *dirty, int n_dirty,
                                   const float *const *q, int nq, float *out)
{
    pan_status st;
    const size_t d = (size_t)g->dim, rowb = d * sizeof(float);
    if (n_rows <= 0 || nq <= 0) return PAN_OK;
    if ((st = pan_gpu_init(g->device))) return st;
    int all = 0;
    /* Growing drops a buffer before allocating the next: its capacity is 0 until that succeeds. */
    if (n_rows > g->cap_rows) { /* the copy grows: upload every row once */
        int cap = g->cap_rows ? g->cap_rows : 1024;
        while (cap < n_rows) cap *= 2;
        g->cap_rows = 0;
        if ((st = grow_block(g, &g->rows_blk, (size_t)cap * rowb, "identity.gallery"))) return st;
        g->cap_rows = cap;
        all = 1;
    }
    int n_up = (all ? 0 : n_dirty) + nq;
    if (n_up > g->cap_up) {
        int cap = 64;
        while (cap < n_up) cap *= 2;
        g->cap_up = 0;
        if ((st = grow_block(g, &g->up_blk, (size_t)cap * rowb, "identity.gallery_upload")) ||
            (st = grow_block(g, &g->idx_blk, (size_t)cap * sizeof(int), "identity.gallery_upload")) ||
            (st = grow_host((void **)&g->h_up, (size_t)cap * rowb)) ||
            (st = grow_host((void **)&g->h_idx, (size_t)cap * sizeof(int))))
            return st;
        g->cap_up = cap;
    }
    size_t n_out = (size_t)nq * (size_t)n_rows;
    if (n_out > g->cap_out) {
        size_t cap = 4096;
        while (cap < n_out) cap *= 2;
        g->cap_out = 0;
        if ((st = grow_block(g, &g->out_blk, cap * sizeof(float), "identity.gallery_scores")) ||
            (st = grow_host((void **)&g->h_out, cap * sizeof(float))))
            return st;
        g->cap_out = cap;
    }
    float *d_rows = pan_devblock_ptr(g->rows_blk), *d_up = pan_devblock_ptr(g->up_blk);
    int *d_idx = pan_devblock_ptr(g->idx_blk);
    /* packed: the dirty rows, then the queries */
    int nd = all ? 0 : n_dirty;
    for (int i = 0; i < nd; i++) {
        memcpy(g->h_up + (size_t)i * d, rows + (size_t)dirty[i] * d, rowb);
        g->h_idx[i] = dirty[i];
    }
    for (int k = 0; k < nq; k++) memcpy(g->h_up + (size_t)(nd + k) * d, q[k], rowb);
    if (all) PAN_CUDA_CHECK(cudaMemcpyAsync(d_rows, rows, (size_t)n_rows * rowb, cudaMemcpyHostToDevice, g->stream));
    PAN_CUDA_CHECK(cudaMemcpyAsync(d_up, g->h_up, (size_t)(nd + nq) * rowb, cudaMemcpyHostToDevice, g->stream));
    if (nd) {
        PAN_CUDA_CHECK(cudaMemcpyAsync(d_idx, g->h_idx, (size_t)nd * sizeof(int), cudaMemcpyHostToDevice, g->stream));
        PAN_CUDA_CHECK((cudaError_t)pan__gallery_scatter_launch(d_up, d_idx, nd, g->dim, d_rows, g->stream));
    }
    float *d_out = pan_devblock_ptr(g->out_blk);
    if ((st = product(g, d_rows, d_up + (size_t)nd * d, n_rows, nq, d_out))) return st;
    PAN_CUDA_CHECK(cudaMemcpyAsync(g->h_out, d_out, n_out * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    PAN_CUDA_CHECK(cudaStreamSynchronize(g->stream));
    memcpy(out, g->h_out, n_out * sizeof(float));
    return PAN_OK;
}
