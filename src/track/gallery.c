/* Similarities of query embeddings against gallery rows on the host (see gallery.h): one sgemm
 * (OpenBLAS where the build has it) of the packed queries against every row. */
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h" /* pan__cpu_sgemm */
#include "track/gallery.h"

pan_status pan__gallery_host_scores(const float *rows, int n_rows, int dim, const float *const *q, int nq, float *out)
{
    if (n_rows <= 0 || nq <= 0) return PAN_OK;
    float *qp = malloc((size_t)nq * (size_t)dim * sizeof *qp);
    if (!qp) return PAN_NOMEM;
    for (int k = 0; k < nq; k++) memcpy(qp + (size_t)k * (size_t)dim, q[k], (size_t)dim * sizeof *qp);
    /* out[nq x n_rows] = Q[nq x dim] · rows[n_rows x dim]^T */
    pan__cpu_sgemm(0, 1, nq, n_rows, dim, 1.0f, qp, dim, rows, dim, 0.0f, out, n_rows);
    free(qp);
    return PAN_OK;
}
