/* cpu-only builds: no GPU gallery; identity.c computes the similarities on the host. */
#ifndef PANOPTES_HAVE_CUDA
#include <stddef.h>

#include "track/gallery.h"

pan_status pan__gallery_gpu_create(pan__gallery_gpu **g, int dim, int device)
{
    (void)dim, (void)device;
    if (g) *g = NULL;
    return PAN_NOGPU;
}

void pan__gallery_gpu_destroy(pan__gallery_gpu **g)
{
    if (g) *g = NULL;
}

pan_status pan__gallery_gpu_scores(pan__gallery_gpu *g, const float *rows, int n_rows, const int *dirty, int n_dirty,
                                   const float *const *q, int nq, float *out)
{
    (void)g, (void)rows, (void)n_rows, (void)dirty, (void)n_dirty, (void)q, (void)nq, (void)out;
    return PAN_NOGPU;
}
#endif
