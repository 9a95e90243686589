/* Internal: the pan_reid object and its backends (reid_cpu.c: host frames; reid_cuda.c: device
 * frames, everything on the GPU). reid.c selects the detections, cuts the work into chunks of at
 * most max_crops and hands each chunk to the backend. */
#ifndef PANOPTES_VISION_REID_IMPL_H
#define PANOPTES_VISION_REID_IMPL_H

#include "nn/engine.h"
#include "vision/reid.h"

typedef struct pan__reid_backend pan__reid_backend;

/* One detection to embed: its frame and box (source pixels). */
typedef struct pan__reid_item {
    const pan_frame *frame;
    const float *box;
} pan__reid_item;

struct pan_reid {
    pan_reid_params p;
    char *model_path;       /* NULL: default descriptor */
    pan_engine_t *engine;   /* NULL: default descriptor */
    int in_index, out_index;
    int dim;                /* D */
    pan_roi_params roi;     /* crop size, normalisation (model: torchreid; default: raw RGB NHWC) */
    int max_crops;
    pan__reid_backend *be;
    /* per call */
    pan__reid_item *items;
    float *emb;             /* host, max(items) x D; what the detections point into */
    int cap;
    /* default descriptor: per-camera running mean of the raw descriptors (see reid.h) */
    double *mean;           /* n_cams x D */
    int64_t *mean_n;        /* descriptors averaged so far, per camera */
    int n_cams;
};

struct pan__reid_backend {
    void *ctx;
    /* Embeds items[0..n) (n <= max_crops) into out (n x D floats, L2-normalised, host). */
    pan_status (*embed)(pan_reid *r, const pan__reid_item *items, int n, float *out);
    void (*destroy)(pan__reid_backend *b); /* frees b */
};

pan_status pan__reid_cpu_create(pan_reid *r, pan__reid_backend **b);
pan_status pan__reid_cuda_create(pan_reid *r, pan__reid_backend **b); /* CUDA builds only */

/* Scales each of n rows of d floats to unit length (a zero row stays zero). */
void pan__l2_normalize_rows(float *x, int n, int d);

#endif
