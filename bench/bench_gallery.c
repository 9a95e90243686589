/* Benchmark: similarities of new tracks' embeddings against the identity gallery, on the host
 * (one FP32 sgemm, OpenBLAS: what pan_identity does below gpu_min_gallery) vs on the GPU
 * (src/track/gallery_cuda.c: changed rows + queries up, one cuBLASLt FP32 product, similarities
 * down, one wait), in the same run.
 *
 *   bench_gallery [--dim 512] [--sizes 256,1024,4096,16384,65536] [--queries 1,8,32] [--seconds 0.3]
 *
 * Each call also uploads 1% of the gallery's rows as changed (at least one): between two calls
 * the tracks of every camera update their identities' embeddings. ms per call = wall time / calls,
 * after one warm-up call. One JSON object on stdout. The crossover sets pan_identity_params'
 * gpu_min_gallery. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "core/gpu.h"
#include "track/gallery.h"

int main(int argc, char **argv)
{
    int dim = 512, sizes[16] = {256, 1024, 4096, 16384, 65536}, ns = 5, nqs[8] = {1, 8, 32}, nnq = 3;
    double seconds = 0.3;
    for (int i = 1; i < argc; i++) {
        int v = i + 1 < argc;
        if (!strcmp(argv[i], "--dim") && v) dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sizes") && v) ns = bench_parse_list(argv[++i], sizes, 16);
        else if (!strcmp(argv[i], "--queries") && v) nnq = bench_parse_list(argv[++i], nqs, 8);
        else if (!strcmp(argv[i], "--seconds") && v) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_gallery [--dim D] [--sizes N,...] [--queries Q,...] [--seconds S]\n");
            return 2;
        }
    }
    int maxn = 0, maxq = 0;
    for (int i = 0; i < ns; i++) maxn = sizes[i] > maxn ? sizes[i] : maxn;
    for (int i = 0; i < nnq; i++) maxq = nqs[i] > maxq ? nqs[i] : maxq;
    float *rows = malloc((size_t)maxn * dim * sizeof *rows), *qv = malloc((size_t)maxq * dim * sizeof *qv);
    float *out = malloc((size_t)maxn * maxq * sizeof *out);
    const float **q = malloc((size_t)maxq * sizeof *q);
    int *all = malloc((size_t)maxn * sizeof *all), *dirty = malloc((size_t)maxn * sizeof *dirty);
    if (!rows || !qv || !out || !q || !all || !dirty) return 1;
    unsigned r = 1u;
    for (size_t i = 0; i < (size_t)maxn * dim; i++) r = r * 1664525u + 1013904223u, rows[i] = (float)(r >> 8) / 16777216.f - 0.5f;
    for (size_t i = 0; i < (size_t)maxq * dim; i++) r = r * 1664525u + 1013904223u, qv[i] = (float)(r >> 8) / 16777216.f - 0.5f;
    for (int i = 0; i < maxq; i++) q[i] = qv + (size_t)i * dim;
    for (int i = 0; i < maxn; i++) all[i] = i;

    int gpu = pan_gpu_available();
    char dev[256] = "none";
    if (gpu) pan_gpu_device_name(0, dev, sizeof dev);
    pan__gallery_gpu *g = NULL;
    if (gpu && pan__gallery_gpu_create(&g, dim, 0)) gpu = 0;
    printf("{\"bench\": \"identity_gallery\", \"dim\": %d, \"device\": \"%s\", \"dirty_rows_per_call\": \"1%%\", \"results\": [", dim, dev);
    int first = 1;
    for (int si = 0; si < ns; si++) {
        int n = sizes[si], nd = n / 100 > 0 ? n / 100 : 1;
        for (int i = 0; i < nd; i++) dirty[i] = (int)(((long long)i * 7919) % n);
        for (int qi = 0; qi < nnq; qi++) {
            int nq = nqs[qi];
            /* host */
            pan__gallery_host_scores(rows, n, dim, q, nq, out);
            int calls = 0;
            double t0 = bench_now_s(), t;
            do {
                pan__gallery_host_scores(rows, n, dim, q, nq, out);
                calls++;
            } while ((t = bench_now_s() - t0) < seconds);
            double host_ms = 1e3 * t / calls;
            printf("%s\n  {\"gallery\": %d, \"queries\": %d, \"host_ms\": %.4f", first ? "" : ",", n, nq, host_ms);
            first = 0;
            if (g) {
                /* warm-up: the first call grows the device copy and uploads every row */
                if (pan__gallery_gpu_scores(g, rows, n, all, n, q, nq, out)) {
                    printf(", \"gpu\": \"failed\"}");
                    continue;
                }
                calls = 0;
                t0 = bench_now_s();
                do {
                    if (pan__gallery_gpu_scores(g, rows, n, dirty, nd, q, nq, out)) break;
                    calls++;
                } while ((t = bench_now_s() - t0) < seconds);
                double gpu_ms = 1e3 * t / (calls ? calls : 1);
                printf(", \"gpu_ms\": %.4f, \"gpu_speedup\": %.2f}", gpu_ms, host_ms / gpu_ms);
            } else {
                printf(", \"gpu\": \"none\"}");
            }
            fflush(stdout);
        }
    }
    printf("\n]}\n");
    pan__gallery_gpu_destroy(&g);
    free(rows), free(qv), free(out), free(q), free(all), free(dirty);
    return 0;
}
