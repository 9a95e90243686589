/* Internal: similarities of query embeddings against the identity gallery (identity.c), on the
 * host (gallery.c) or on the GPU (gallery_cuda.c). The gallery is the host's row-major matrix rows[n_rows x dim]; the device keeps a
 * copy, updated at each call with the rows listed dirty (or all of them when the copy grows), so a
 * call moves the changed rows and the queries up and the nq x n_rows similarities down: kilobytes.
 * The product is FP32 (cuBLASLt, CUBLAS_COMPUTE_32F, no TF32): equal to the host's dot products to
 * FP32 rounding. Not thread-safe (identity.c calls it under its lock). cpu-only builds: PAN_NOGPU. */
#ifndef PANOPTES_TRACK_GALLERY_H
#define PANOPTES_TRACK_GALLERY_H

#include "panoptes/status.h"

/* Host: out[k * n_rows + r] = dot(q[k], rows[r]) for k < nq, r < n_rows: one FP32 sgemm
 * (OpenBLAS where the build has it). */
pan_status pan__gallery_host_scores(const float *rows, int n_rows, int dim, const float *const *q, int nq, float *out);

typedef struct pan__gallery_gpu pan__gallery_gpu;

pan_status pan__gallery_gpu_create(pan__gallery_gpu **g, int dim, int device);
void pan__gallery_gpu_destroy(pan__gallery_gpu **g);

/* out[k * n_rows + r] = dot(q[k], rows[r]) for k < nq, r < n_rows (dim floats each). dirty: the
 * n_dirty row indices (< n_rows) changed since the previous call. Returns when out is written. */
pan_status pan__gallery_gpu_scores(pan__gallery_gpu *g, const float *rows, int n_rows, const int *dirty, int n_dirty,
                                   const float *const *q, int nq, float *out);

#endif
