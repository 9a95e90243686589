/* The identity gallery's similarities on the GPU (src/track/gallery_cuda.c) against the host's:
 *  - the primitive: 5000 random unit rows of 512, 7 queries; then 100 rows changed (uploaded as
 *    dirty rows), the gallery grown to 9000 rows (the device copy grows and is re-uploaded), and a
 *    call with 3 dirty rows: every similarity within 2e-5 of dot products accumulated in double
 *    (FP32 products of unit vectors: rounding ~1e-6);
 *  - pan_identity with backend CUDA (gpu_min_gallery 1: every call on the GPU) and with CPU on the
 *    same synthetic multi-camera stream (tests/identity_synth.h: 600 people, 8 cameras, 128-d
 *    embeddings with noise, people leaving and coming back): the same global id in every report.
 * Skips (exit 77) without a GPU or without CUDA in the build. */
#include <math.h>
#include <stdlib.h>

#include "core/gpu.h"
#include "panoptes/track.h"
#include "test.h"
#include "track/gallery.h"
#include "identity_synth.h"

/* A random unit vector (identity_synth.h's generator). */
static void unit(float *v, int d)
{
    for (int i = 0; i < d; i++) v[i] = syn_frand();
    syn_normalise(v, d);
}

#define NEED_GPU()                                                         \
    do {                                                                   \
        if (!pan_gpu_available()) PAN_SKIP("no CUDA device (or a cpu-only build)"); \
    } while (0)

/* max |gpu - host| over nq x n similarities */
static double compare(pan__gallery_gpu *g, const float *rows, int n, int dim, const int *dirty, int nd,
                      const float *const *q, int nq, pan_status *st)
{
    float *a = malloc((size_t)nq * n * sizeof *a);
    *st = pan__gallery_gpu_scores(g, rows, n, dirty, nd, q, nq, a);
    double worst = 0; /* against dot products accumulated in double */
    for (int k = 0; k < nq; k++)
        for (int r = 0; r < n; r++) {
            double dot = 0;
            for (int j = 0; j < dim; j++) dot += (double)q[k][j] * rows[(size_t)r * dim + j];
            worst = fmax(worst, fabs((double)a[(size_t)k * n + r] - dot));
        }
    free(a);
    return worst;
}

PAN_TEST(gallery_scores_match_host)
{
    NEED_GPU();
    enum { D = 512, N0 = 5000, N1 = 9000, NQ = 7 };
    syn_rng = 777u;
    float *rows = malloc((size_t)N1 * D * sizeof *rows), qv[NQ][D];
    const float *q[NQ];
    for (int i = 0; i < N1; i++) unit(rows + (size_t)i * D, D);
    for (int k = 0; k < NQ; k++) unit(qv[k], D), q[k] = qv[k];
    unit(qv[3], D);
    memcpy(qv[3], rows + 1234 * D, sizeof qv[3]); /* one query equal to a row: similarity 1 */
    int *dirty = malloc((size_t)N1 * sizeof *dirty);
    for (int i = 0; i < N0; i++) dirty[i] = i;
    pan__gallery_gpu *g = NULL;
    ASSERT_OK(pan__gallery_gpu_create(&g, D, 0));
    pan_status st;
    double w = compare(g, rows, N0, D, dirty, N0, q, NQ, &st);
    ASSERT_OK(st);
    fprintf(stderr, "  %d rows, %d queries: max |gpu - host| = %.2e\n", N0, NQ, w);
    ASSERT_LE(w, 2e-5);
    /* 100 rows change: only they go up */
    for (int i = 0; i < 100; i++) {
        dirty[i] = (i * 37) % N0;
        unit(rows + (size_t)dirty[i] * D, D);
    }
    w = compare(g, rows, N0, D, dirty, 100, q, NQ, &st);
    ASSERT_OK(st);
    fprintf(stderr, "  100 rows changed: max |gpu - host| = %.2e\n", w);
    ASSERT_LE(w, 2e-5);
    /* the gallery grows past the device copy */
    w = compare(g, rows, N1, D, dirty, 0, q, NQ, &st);
    ASSERT_OK(st);
    fprintf(stderr, "  grown to %d rows: max |gpu - host| = %.2e\n", N1, w);
    ASSERT_LE(w, 2e-5);
    for (int i = 0; i < 3; i++) {
        dirty[i] = N1 - 1 - i * 1000;
        unit(rows + (size_t)dirty[i] * D, D);
    }
    w = compare(g, rows, N1, D, dirty, 3, q, 1, &st);
    ASSERT_OK(st);
    ASSERT_LE(w, 2e-5);
    pan__gallery_gpu_destroy(&g);
    ASSERT_TRUE(g == NULL);
    free(rows);
    free(dirty);
}

/* One synthetic run (identity_synth.h) on the given backend, every call on the GPU for CUDA. */
static int64_t *run_identity(pan_backend be, int *n_out)
{
    pan_identity_params ip = pan_identity_params_default();
    ip.backend = be;
    ip.gpu_min_gallery = 1;
    ip.max_gap_s = 1e9;
    int64_t *ids = syn_run(&ip, n_out, NULL);
    if (ids) fprintf(stderr, "  %s: %d reports\n", pan_backend_name(be), *n_out);
    return ids;
}

PAN_TEST(identity_gpu_same_as_cpu)
{
    NEED_GPU();
    int na = 0, nb = 0;
    int64_t *a = run_identity(PAN_BACKEND_CPU, &na), *b = run_identity(PAN_BACKEND_CUDA, &nb);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(na, nb);
    int diff = 0;
    for (int i = 0; i < na; i++) diff += a[i] != b[i];
    fprintf(stderr, "  reports with different global ids: %d of %d\n", diff, na);
    ASSERT_EQ(diff, 0);
    free(a);
    free(b);
}

PAN_TEST_MAIN(gallery_scores_match_host, identity_gpu_same_as_cpu)
