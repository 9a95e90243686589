/* Host cost of the per-camera tracker: microseconds per frame for N people in view (50, 200),
 * motion only and with 128-d embeddings. Detections come from a fixed-seed random walk of N people
 * in a 1920x1080 frame with jitter, 5% misses and a few false positives; they are made before the
 * clock starts, so only pan_tracker_update is timed. Prints one JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "panoptes/track.h"

enum { FRAMES = 2000, WARMUP = 100, EMB = 128 };

static uint64_t s = 42;
static double u01(void)
{
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

/* Thread CPU time: the host cost, not counting time the thread was preempted (the 2-core dev box
 * is shared with builds). */
static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(int n, int emb, FILE *out, int first)
{
    int maxd = n + 8;
    pan_detection *dets = malloc((size_t)FRAMES * maxd * sizeof *dets);
    int *nd = calloc(FRAMES, sizeof *nd);
    float *embs = emb ? malloc((size_t)(n + 8) * EMB * sizeof *embs) : NULL;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *vx = malloc(n * sizeof *vx),
           *vy = malloc(n * sizeof *vy), *w = malloc(n * sizeof *w);
    double *t = malloc(FRAMES * sizeof *t);
    pan_track_report *rep = malloc((size_t)(4 * n + 64) * sizeof *rep);
    if (!dets || !nd || (emb && !embs) || !x || !y || !vx || !vy || !w || !t || !rep) return -1;
    for (int i = 0; i < (n + 8) * (emb ? EMB : 0); i++) embs[i] = (float)(u01() - 0.5);
    for (int i = 0; i < n + 8 && emb; i++) { /* normalise: one appearance per person (+ 8 for FPs) */
        double nn = 0;
        for (int k = 0; k < EMB; k++) nn += embs[i * EMB + k] * embs[i * EMB + k];
        for (int k = 0; k < EMB; k++) embs[i * EMB + k] /= (float)sqrt(nn);
    }
    for (int i = 0; i < n; i++) {
        w[i] = 20 + u01() * 40;
        x[i] = u01() * (1920 - w[i]), y[i] = u01() * (1080 - 2.5 * w[i]);
        vx[i] = (u01() - 0.5) * 6, vy[i] = (u01() - 0.5) * 3;
    }
    for (int f = 0; f < FRAMES; f++) {
        pan_detection *d = dets + (size_t)f * maxd;
        int k = 0;
        for (int i = 0; i < n; i++) {
            x[i] += vx[i], y[i] += vy[i];
            if (x[i] < 0 || x[i] + w[i] > 1920) vx[i] = -vx[i];
            if (y[i] < 0 || y[i] + 2.5 * w[i] > 1080) vy[i] = -vy[i];
            if (u01() < 0.05) continue; /* miss */
            float j = (float)((u01() - 0.5) * 0.06 * w[i]);
            d[k] = (pan_detection){{(float)x[i] + j, (float)y[i] - j, (float)(x[i] + w[i]) + j, (float)(y[i] + 2.5 * w[i]) + j},
                                   (float)(0.3 + 0.69 * u01()), 0, emb ? embs + (size_t)i * EMB : NULL, emb ? EMB : 0};
            k++;
        }
        int fps = (int)(u01() * 4);
        for (int i = 0; i < fps; i++) {
            float fx = (float)(u01() * 1800), fy = (float)(u01() * 900);
            d[k++] = (pan_detection){{fx, fy, fx + 40, fy + 100}, (float)(0.1 + 0.6 * u01()), 0,
                                     emb ? embs + (size_t)(n + i) * EMB : NULL, emb ? EMB : 0};
        }
        nd[f] = k;
    }
    pan_tracker *tr = NULL;
    if (pan_tracker_create(&tr, NULL)) return -1;
    long long reports = 0;
    for (int f = 0; f < FRAMES; f++) {
        int no = 0;
        double t0 = now_us();
        pan_status st = pan_tracker_update(tr, dets + (size_t)f * maxd, nd[f], rep, 4 * n + 64, &no);
        t[f] = now_us() - t0;
        if (st) return -1;
        reports += no;
    }
    int m = FRAMES - WARMUP;
    double sum = 0;
    for (int f = WARMUP; f < FRAMES; f++) sum += t[f];
    qsort(t + WARMUP, (size_t)m, sizeof *t, cmp_d);
    fprintf(out, "%s\n    {\"objects\": %d, \"embedding_dim\": %d, \"frames_timed\": %d, \"mean_us_per_frame\": %.2f, "
                 "\"p50_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f, \"reports_per_frame\": %.1f, \"live_tracks_end\": %d}",
            first ? "" : ",", n, emb ? EMB : 0, m, sum / m, t[WARMUP + m / 2], t[WARMUP + (int)(m * 0.99)],
            t[FRAMES - 1], (double)reports / FRAMES, pan_tracker_live_tracks(tr));
    pan_tracker_destroy(&tr);
    free(dets), free(nd), free(embs), free(x), free(y), free(vx), free(vy), free(w), free(t), free(rep);
    return 0;
}

int main(void)
{
    printf("{\n  \"benchmark\": \"tracker\",\n  \"unit\": \"microseconds of thread CPU time per pan_tracker_update (one camera, one thread)\",\n  \"results\": [");
    int first = 1;
    const int ns[] = {50, 200};
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 2; i++) {
            if (run(ns[i], e, stdout, first)) {
                fprintf(stderr, "bench_tracker: run failed (out of memory?)\n");
                return 1;
            }
            first = 0;
        }
    printf("\n  ]\n}\n");
    return 0;
}
