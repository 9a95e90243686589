/* Internal: kernel launches of the GPU gallery (gallery.cu), callable from C. Each returns a
 * cudaError_t as int (0 = launched). */
#ifndef PANOPTES_TRACK_GALLERY_KERNELS_H
#define PANOPTES_TRACK_GALLERY_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* rows[idx[i] * dim ...] <- packed[i * dim ...] for i < n (device pointers). */
int pan__gallery_scatter_launch(const float *packed, const int *idx, int n, int dim, float *rows, void *stream);

#ifdef __cplusplus
}
#endif
#endif
