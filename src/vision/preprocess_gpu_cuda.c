/* Host side of the batched GPU preprocessing (src/vision/preprocess_gpu.h): fills the
 * per-image descriptors, uploads them (metadata: ~100 bytes per image, never pixels), makes the
 * batch stream wait for each NVDEC frame's map event, and launches the one kernel. */
#include "vision/preprocess_gpu.h"

#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "decode/nvdec_frame.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/preprocess_cuda.h"

/* Descriptor buffers rotate through a small ring so that filling batch k+1 on the host never
 * races the upload of batch k still queued on the stream; a slot is reused only after its
 * event (recorded after its kernel) has completed, which with 4 slots is in practice never a wait. */
#define RING 4

typedef struct slot {
    pan_pp_image *host;    /* pinned: the async upload reads it after run() has returned */
    pan_devblock *dev;     /* device copy the kernel reads */
    void *done;            /* event after the kernel */
    int used;
} slot;

struct pan_preprocess_gpu {
    pan_preprocess_params params;
    pan_pp_batch batch;
    int max_batch, device;
    slot ring[RING];
    int next, last;
};

size_t pan_preprocess_gpu_image_bytes(const pan_preprocess_params *p)
{
    return (size_t)3 * (size_t)p->width * (size_t)p->height * 2;
}

void pan_preprocess_gpu_destroy(pan_preprocess_gpu **ppp)
{
    pan_preprocess_gpu *pp;
    if (!ppp || !*ppp) return;
    pp = *ppp;
    *ppp = NULL;
    for (int i = 0; i < RING; i++) {
        slot *s = &pp->ring[i];
        if (s->done) (void)pan_gpu_event_sync(s->done);
        pan_gpu_event_destroy(&s->done);
        pan_devblock_unref(&s->dev);
        if (s->host) (void)pan__cuda_status(cudaFreeHost(s->host), "cudaFreeHost", __FILE__, __LINE__);
    }
    free(pp);
}

pan_status pan_preprocess_gpu_create(pan_preprocess_gpu **out, const pan_preprocess_params *p, int max_batch, int device)
{
    pan_preprocess_gpu *pp = NULL;
    pan_devpool *pool;
    pan_status st;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!p || p->width <= 0 || p->height <= 0 || max_batch <= 0 || max_batch > 65535) return PAN_INVAL;
    if ((st = pan_gpu_init(device)) != PAN_OK) return st;
    if ((st = pan_devpool_get(device, &pool)) != PAN_OK) return st;
    pp = calloc(1, sizeof *pp);
    if (!pp) return PAN_NOMEM;
    pp->params = *p;
    pp->max_batch = max_batch;
    pp->device = device;
    pp->last = -1;
    pan_pp_batch *b = &pp->batch;
    b->width = p->width;
    b->height = p->height;
    b->nhwc = p->layout == PAN_LAYOUT_NHWC;
    b->bgr = p->channels == PAN_CHANNELS_BGR;
    for (int c = 0; c < 3; c++) {
        b->mean[c] = p->mean[c];
        b->inv_std[c] = p->std[c] != 0.f ? 1.f / p->std[c] : 1.f;
        b->pad[c] = (p->pad_value - p->mean[c]) * b->inv_std[c];
    }
    size_t bytes = (size_t)max_batch * sizeof(pan_pp_image);
    for (int i = 0; i < RING; i++) {
        slot *s = &pp->ring[i];
        PAN_CUDA_TRY(cudaMallocHost((void **)&s->host, bytes));
        if ((st = pan_devpool_alloc(pool, bytes, "preprocess.descriptors", &s->dev)) != PAN_OK) goto fail;
        if ((st = pan_gpu_event_create(&s->done)) != PAN_OK) goto fail;
    }
    *out = pp;
    return PAN_OK;
fail:
    pan_preprocess_gpu_destroy(&pp);
    return st;
}

static pan_status describe(const pan_frame *f, const pan_preprocess_params *p, pan_pp_image *d, pan_letterbox *lb)
{
    static const char *stage = "preprocess (gpu)";
    pan_status st;
    if (f->memory != PAN_MEMORY_DEVICE) {
        pan_log_error("preprocess", f->camera, "GPU-only violation in %s: frame %lld is in host memory",
                      stage, (long long)f->index);
        return PAN_RESIDENCY;
    }
    if (f->format != PAN_PIXFMT_NV12 && f->format != PAN_PIXFMT_YUV420P) return PAN_UNSUPPORTED;
    if (f->width <= 0 || f->height <= 0) return PAN_INVAL;
    for (int i = 0; i < pan_pixfmt_planes(f->format); i++)
        if ((st = pan_gpu_check_device_ptr(f->data[i], stage)) != PAN_OK) return st;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh); /* analysed as displayed: the kernel turns it */
    pan_letterbox_compute(dw, dh, p, lb);
    d->rot = pan__rot_map_make(f->rotation, f->width, f->height);
    d->y = f->data[0];
    d->pitch_y = f->pitch[0];
    d->pitch_c = f->pitch[1];
    if (f->format == PAN_PIXFMT_NV12) {
        d->cb = f->data[1];
        d->cr = f->data[1] + 1;
        d->c_step = 2;
    } else {
        d->cb = f->data[1];
        d->cr = f->data[2];
        d->c_step = 1;
    }
    d->w = f->width;
    d->h = f->height;
    d->cw = (f->width + 1) / 2;
    d->ch = (f->height + 1) / 2;
    d->ox = lb->offset_x;
    d->oy = lb->offset_y;
    d->sx = lb->scale_x;
    d->sy = lb->scale_y;
    d->nw = lb->content_w;
    d->nh = lb->content_h;
    if (f->range == PAN_RANGE_LIMITED) {
        d->yoff = 16.f;
        d->yscale = 255.f / 219.f;
        d->cscale = 255.f / 224.f;
    } else {
        d->yoff = 0.f;
        d->yscale = 1.f;
        d->cscale = 1.f;
    }
    d->kr = f->matrix == PAN_COLOR_BT709 ? 0.2126f : 0.299f;
    d->kb = f->matrix == PAN_COLOR_BT709 ? 0.0722f : 0.114f;
    return PAN_OK;
}

pan_status pan_preprocess_gpu_run(pan_preprocess_gpu *pp, pan_frame *const *frames, int n, void *out_fp16,
                                  pan_letterbox *lb, void *stream)
{
    pan_status st;
    if (!pp || !frames || n <= 0 || !out_fp16) return PAN_INVAL;
    if (n > pp->max_batch) {
        pan_log_error("preprocess", -1, "batch of %d frames exceeds the %d this preprocessor was created for", n, pp->max_batch);
        return PAN_LIMIT;
    }
    if ((st = pan_gpu_init(pp->device)) != PAN_OK) return st;
    if ((st = pan_gpu_check_device_ptr(out_fp16, "preprocess (gpu) output")) != PAN_OK) return st;
    slot *s = &pp->ring[pp->next];
    if (s->used && (st = pan_gpu_event_sync(s->done)) != PAN_OK) return st;
    for (int i = 0; i < n; i++) {
        pan_letterbox tmp;
        if (!frames[i]) return PAN_INVAL;
        if ((st = describe(frames[i], &pp->params, &s->host[i], lb ? &lb[i] : &tmp)) != PAN_OK) return st;
    }
    cudaStream_t cs = (cudaStream_t)stream;
    PAN_CUDA_CHECK(cudaMemcpyAsync(pan_devblock_ptr(s->dev), s->host, (size_t)n * sizeof(pan_pp_image),
                                   cudaMemcpyHostToDevice, cs));
    for (int i = 0; i < n; i++) {
        void *ev = pan__nvdec_frame_event(frames[i]);
        /* same event for consecutive frames of one camera is waited once: cheap either way */
        if (ev && (i == 0 || ev != pan__nvdec_frame_event(frames[i - 1])) &&
            (st = pan_gpu_stream_wait_event(stream, ev)) != PAN_OK)
            return st;
    }
    int e = pan__preprocess_launch((const pan_pp_image *)pan_devblock_ptr(s->dev), n, &pp->batch, out_fp16, stream);
    if ((st = pan__cuda_status((cudaError_t)e, "preprocess kernel launch", __FILE__, __LINE__)) != PAN_OK) return st;
    if ((st = pan_gpu_event_record(s->done, stream)) != PAN_OK) return st;
    s->used = 1;
    pp->last = pp->next;
    pp->next = (pp->next + 1) % RING;
    pan_log_debug("preprocess", -1, "batch of %d frames launched", n);
    return PAN_OK;
}

pan_status pan_preprocess_gpu_wait(pan_preprocess_gpu *pp)
{
    if (!pp) return PAN_INVAL;
    if (pp->last < 0) return PAN_OK;
    return pan_gpu_event_sync(pp->ring[pp->last].done);
}
