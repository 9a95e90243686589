/* Similarities of query embeddings against gallery rows on the host (see gallery.h). */
#include <stddef.h>

#include "track/gallery.h"

void pan__gallery_host_scores(const float *rows, int dim, const int *which, int n_which, const float *const *q, int nq,
                              float *out, int out_stride)
{
    for (int k = 0; k < nq; k++) {
        const float *e = q[k];
        float *o = out + (size_t)k * (size_t)out_stride;
        for (int i = 0; i < n_which; i++) {
            const float *v = rows + (size_t)which[i] * (size_t)dim;
            double dot = 0.0;
            for (int j = 0; j < dim; j++) dot += (double)v[j] * e[j];
            o[which[i]] = (float)dot;
        }
    }
}
