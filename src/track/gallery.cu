/* The GPU gallery's one kernel (gallery_cuda.c): changed rows, packed on upload, written to their
 * places in the device copy of the gallery. */
#include <cuda_runtime.h>

#include "track/gallery_kernels.h"

__global__ void scatter_rows(const float *__restrict__ packed, const int *__restrict__ idx, int dim,
                             float *__restrict__ rows)
{
    const float *src = packed + (size_t)blockIdx.x * dim;
    float *dst = rows + (size_t)idx[blockIdx.x] * dim;
    for (int c = threadIdx.x; c < dim; c += blockDim.x) dst[c] = src[c];
}

extern "C" int pan__gallery_scatter_launch(const float *packed, const int *idx, int n, int dim, float *rows, void *stream)
{
    if (n <= 0) return 0;
    scatter_rows<<<n, 128, 0, (cudaStream_t)stream>>>(packed, idx, dim, rows);
    return (int)cudaGetLastError();
}
