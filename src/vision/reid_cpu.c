/* cpu ReID backend: host frames → cpu crops (roi_crop.c) → the FP32 engine (or the default
 * descriptor) → L2-normalised embeddings. */
#include <stdlib.h>
#include <string.h>

#include "vision/reid_desc.h"
#include "vision/reid_impl.h"
#include "vision/roi_crop.h"

typedef struct cpu_reid {
    float *crops; /* max_crops x 3·W·H, NCHW per crop (model) or NHWC (default) */
} cpu_reid;

static void cpu_destroy(pan__reid_backend *b)
{
    if (!b) return;
    cpu_reid *c = b->ctx;
    if (c) {
        free(c->crops);
        free(c);
    }
    free(b);
}

static pan_status cpu_embed(pan_reid *r, const pan__reid_item *items, int n, float *out)
{
    cpu_reid *c = r->be->ctx;
    const size_t per = (size_t)3 * (size_t)r->roi.width * (size_t)r->roi.height;
    for (int i = 0; i < n; i++) {
        /* the default descriptor reads only a part of its crop */
        pan_status st = r->engine ? pan_roi_crop_cpu(items[i].frame, items[i].box, &r->roi, c->crops + (size_t)i * per)
                                  : pan__roi_crop_cpu_region(items[i].frame, items[i].box, &r->roi,
                                                             c->crops + (size_t)i * per, PAN__DESC_X0, PAN__DESC_X1,
                                                             PAN__DESC_UY0, PAN__DESC_LY1);
        if (st) return st;
    }
    if (!r->engine) {
        for (int i = 0; i < n; i++) pan_reid_default_descriptor(c->crops + (size_t)i * per, out + (size_t)i * (size_t)r->dim);
        return PAN_OK;
    }
    /* Batches of powers of two (13 = 8 + 4 + 1): the engine plans each batch size once, so a
     * varying number of people costs at most log2(max_crops) plans and no padded work. */
    for (int off = 0; off < n;) {
        int b = 1;
        while (b * 2 <= n - off) b *= 2;
        const float *in[1] = {c->crops + (size_t)off * per};
        float *o[1] = {out + (size_t)off * (size_t)r->dim};
        pan_status st = pan_engine_run(r->engine, b, in, o);
        if (st) return st;
        off += b;
    }
    pan__l2_normalize_rows(out, n, r->dim);
    return PAN_OK;
}

pan_status pan__reid_cpu_create(pan_reid *r, pan__reid_backend **out)
{
    pan__reid_backend *b = calloc(1, sizeof *b);
    cpu_reid *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!b || !c) {
        free(b);
        free(c);
        return PAN_NOMEM;
    }
    b->ctx = c;
    b->embed = cpu_embed;
    b->destroy = cpu_destroy;
    size_t per = (size_t)3 * (size_t)r->roi.width * (size_t)r->roi.height;
    c->crops = malloc((size_t)r->max_crops * per * sizeof(float));
    if (!c->crops) {
        cpu_destroy(b);
        return PAN_NOMEM;
    }
    *out = b;
    return PAN_OK;
}
