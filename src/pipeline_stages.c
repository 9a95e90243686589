/* The stages after the batcher (see pipeline_stages.h). */
#include "pipeline_stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "decode/decoder.h"
#include "panoptes/log.h"
#include "panoptes/track.h"
#include "vision/detector.h"
#include "vision/reid.h"

#define MAX_REPORTS 1024 /* tracks reported per frame */

/* One batch's results between the two halves: the detection lists (one per frame) and copies of
 * the embeddings (the ReID object's own buffer is reused by its next call, which may come while
 * this batch is still being tracked). */
struct pan_stages_batch {
    int cap;
    pan_detection_list *lists;
    float *emb;
    size_t emb_cap; /* floats */
};

struct pan_stages_impl {
    pan_detector *detector;
    pan_stages_batch *own; /* for pan_stages_process_batch */
    pan_reid *reid;          /* appearance embeddings for the trackers; NULL with --reid off */
    pan_identity *identity;  /* shared by all cameras; NULL without tracking */
    pan_track_report reports[MAX_REPORTS];
    const float *embeddings[MAX_REPORTS];
    pan_frame **reid_frames;          /* the batch's frames whose detections are embedded, */
    pan_detection_list *reid_lists;   /* and their lists (shallow copies: items are shared) */
};

struct pan_stages_cam {
    pan_tracker *tracker;
};

pan_status pan_stages_resolve_backend(pan_backend requested, pan_backend *chosen)
{
    int gpu = pan_decoder_nvdec_available();
    if (requested == PAN_BACKEND_AUTO) {
        *chosen = gpu ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
        pan_log_info("pipeline", -1, "backend: %s (%s)", pan_backend_name(*chosen),
                     gpu ? "NVIDIA GPU with NVDEC found" : "no usable NVIDIA GPU/NVDEC");
        return PAN_OK;
    }
    if (requested == PAN_BACKEND_CUDA && !gpu) {
        pan_log_error("pipeline", -1,
                      "--backend cuda: no usable NVIDIA GPU with NVDEC (driver, libcuda/libnvcuvid) was found%s; "
                      "use --backend cpu",
#ifdef PANOPTES_HAVE_CUDA
                      ""
#else
                      " and this build has no CUDA support"
#endif
        );
        return PAN_NOGPU;
    }
    *chosen = requested;
    return PAN_OK;
}

pan_status pan_stages_create(pan_stages *s, const pan_pipeline_params *p, pan_backend backend)
{
    pan_status st;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->backend = backend;
    /* without detection a batch only groups the frames handed over together: a large one costs the
     * cameras and the delivery thread one hand-over per batch instead of one per frame */
    s->batch = p->batch > 0 ? p->batch : !p->detect ? 64 : backend == PAN_BACKEND_CUDA ? 32 : 1;
    s->impl = calloc(1, sizeof *s->impl);
    if (!s->impl) return PAN_NOMEM;
    if (p->detect) {
        pan_detector_params dp = {
            .model_path = p->model_path,
            .backend = backend,
            .cache_dir = p->cache_dir,
            .max_batch = s->batch,
            /* With tracking, the detector keeps down to 0.1 so ByteTrack's second stage can rescue
             * tracks with low-score boxes; the output lists only those >= score_threshold. */
            .score_threshold = p->track && p->score_threshold > 0.1f ? 0.1f : p->score_threshold,
            .classes = p->classes,
            .n_classes = p->n_classes,
        };
        if (p->model_type && (st = pan_detector_kind_parse(p->model_type, &dp.kind))) return st; /* checked before */
        st = pan_detector_create(&s->impl->detector, &dp);
        if (st) return st;
        s->impl->reid_frames = calloc((size_t)s->batch, sizeof *s->impl->reid_frames);
        s->impl->reid_lists = calloc((size_t)s->batch, sizeof *s->impl->reid_lists);
        if (!s->impl->reid_frames || !s->impl->reid_lists) return PAN_NOMEM;
    }
    if (p->track && p->detect) {
        pan_identity_params ip = pan_identity_params_default();
        ip.backend = backend; /* cuda: gallery similarities on the GPU once the gallery is large */
        st = pan_identity_create(&s->impl->identity, &ip);
        if (st) return st;
        for (int i = 0; i < p->n_overlaps; i++) {
            const double *o = p->overlaps[i];
            const double h[9] = {1, 0, o[2], 0, 1, o[3], 0, 0, 1};
            if ((st = pan_identity_set_overlap(s->impl->identity, (int)o[0], (int)o[1], h))) return st;
        }
        if (!p->reid || strcmp(p->reid, "off")) {
            pan_reid_params rp = {
                .model_path = p->reid && strcmp(p->reid, "default") ? p->reid : NULL,
                .backend = backend,
                .cache_dir = p->cache_dir,
                /* the tracker reads embeddings of high-score detections only (its first
                 * association and new tracks): the 0.1..0.5 rescue candidates need none */
                .min_score = pan_tracker_params_default().high_thresh,
            };
            st = pan_reid_create(&s->impl->reid, &rp);
            if (st) return st;
        }
    }
    return PAN_OK;
}

/* Per-camera tracking, then global identities; fills r->tracks. */
static pan_status track_frame(pan_stages *s, pan_stages_cam **cam, const pan_frame *f, const pan_detection *all,
                              int n_all, pan_frame_result *r)
{
    struct pan_stages_impl *im = s->impl;
    if (!*cam && !(*cam = calloc(1, sizeof **cam))) return PAN_NOMEM;
    pan_tracker **t = &(*cam)->tracker;
    pan_status st;
    int n = 0, dim = 0;
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh); /* boxes are in displayed pixels (a rotated phone file) */
    if (!*t) {
        pan_tracker_params tp = pan_tracker_params_default();
        tp.camera = f->camera;
        tp.frame_width = dw;
        tp.frame_height = dh;
        st = pan_tracker_create(t, &tp);
        if (st) return st;
    }
    pan_tracker_set_frame_size(*t, dw, dh); /* a stream may change size */
    st = pan_tracker_update(*t, all, n_all, im->reports, MAX_REPORTS, &n);
    if (st == PAN_LIMIT)
        pan_log_warn("track", f->camera, "frame %lld: more than %d tracks; the rest are not reported",
                     (long long)f->index, MAX_REPORTS);
    else if (st)
        return st;
    /* The default colour descriptor re-links a person with the few tracks near them in one camera;
     * centred on each camera's own scene (reid.h), it is neither comparable across cameras nor
     * discriminative enough for a search of the whole identity gallery (measured on two
     * overlapping views of the sample, raw: it linked wrong people), so identities get
     * embeddings only from a ReID model. */
    const int gallery = im->reid && strcmp(pan_reid_name(im->reid), "default");
    for (int i = 0; i < n; i++) {
        int d = 0;
        im->embeddings[i] = gallery ? pan_tracker_embedding(*t, im->reports[i].id, &d) : NULL;
        if (im->embeddings[i]) dim = d;
    }
    double t_s = isfinite(f->pts) ? f->pts : (double)f->index / 30.0;
    st = pan_identity_assign(im->identity, f->camera, t_s, im->reports, n, im->embeddings, dim);
    if (st) return st;
    r->tracks = im->reports;
    r->n_tracks = n;
    return PAN_OK;
}

pan_status pan_stages_batch_create(const pan_stages *s, pan_stages_batch **out)
{
    pan_stages_batch *b = calloc(1, sizeof *b);
    if (!b) return PAN_NOMEM;
    b->cap = s->batch;
    b->lists = calloc((size_t)b->cap, sizeof *b->lists);
    if (!b->lists) {
        free(b);
        return PAN_NOMEM;
    }
    *out = b;
    return PAN_OK;
}

void pan_stages_batch_destroy(pan_stages_batch **pb)
{
    pan_stages_batch *b = pb ? *pb : NULL;
    if (!b) return;
    for (int i = 0; i < b->cap; i++) pan_detection_list_free(&b->lists[i]);
    free(b->lists);
    free(b->emb);
    free(b);
    *pb = NULL;
}

/* The batch keeps its own copy of the embeddings (D floats per embedded detection). */
static pan_status keep_embeddings(pan_stages_batch *b, int n)
{
    size_t need = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b->lists[i].count; k++)
            if (b->lists[i].items[k].embedding) need += (size_t)b->lists[i].items[k].embedding_dim;
    if (need > b->emb_cap) {
        float *e = realloc(b->emb, need * sizeof *e);
        if (!e) return PAN_NOMEM;
        b->emb = e;
        b->emb_cap = need;
    }
    size_t at = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b->lists[i].count; k++) {
            pan_detection *d = &b->lists[i].items[k];
            if (!d->embedding) continue;
            memcpy(b->emb + at, d->embedding, (size_t)d->embedding_dim * sizeof *b->emb);
            d->embedding = b->emb + at;
            at += (size_t)d->embedding_dim;
        }
    return PAN_OK;
}

pan_status pan_stages_infer(pan_stages *s, pan_frame **frames, int n, pan_stages_batch *b)
{
    struct pan_stages_impl *im = s->impl;
    if (!im->detector) return PAN_OK;
    pan_status st = pan_detector_detect(im->detector, frames, n, b->lists);
    if (st) {
        pan_log_error("detect", -1, "detection failed on a batch of %d frames: %s", n, pan_status_str(st));
        return st;
    }
    if (!im->reid) return PAN_OK;
    /* --reid-interval N: only each camera's every Nth frame is embedded; the others' detections
     * carry no embedding (the trackers keep their tracks' smoothed ones) */
    const int every = s->p->reid_interval > 1 ? s->p->reid_interval : 1;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (frames[i]->index % every == 0) {
            im->reid_frames[m] = frames[i];
            im->reid_lists[m++] = b->lists[i];
        } else {
            for (int k = 0; k < b->lists[i].count; k++) {
                b->lists[i].items[k].embedding = NULL;
                b->lists[i].items[k].embedding_dim = 0;
            }
        }
    }
    st = m ? pan_reid_embed(im->reid, im->reid_frames, m, im->reid_lists) : PAN_OK;
    if (st) {
        pan_log_error("reid", -1, "appearance embedding failed on a batch of %d frames: %s", m, pan_status_str(st));
        return st;
    }
    return keep_embeddings(b, n);
}

pan_status pan_stages_finish(pan_stages *s, pan_frame **frames, pan_stages_cam ***cams, int n, pan_stages_batch *b,
                             pan_status (*deliver)(void *opaque, int i, pan_frame_result *r), void *opaque)
{
    struct pan_stages_impl *im = s->impl;
    for (int i = 0; i < n; i++) {
        const pan_frame *f = frames[i];
        pan_frame_result r = {
            .camera = f->camera,
            .frame = f->index,
            .pts = f->pts,
            .image = f->data[0] ? f : NULL, /* NULL: released after inference (no consumer reads it) */
        };
        pan_frame_display_size(f, &r.width, &r.height); /* the frame as analysed: displayed */
        if (im->detector) {
            /* lists are in descending score order (NMS output): the reported ones are a prefix */
            int k = 0;
            while (k < b->lists[i].count && b->lists[i].items[k].score >= s->p->score_threshold) k++;
            r.detections = b->lists[i].items;
            r.n_detections = k;
        }
        pan_log_debug("pipeline", f->camera, "frame %lld pts %.3f", (long long)f->index, f->pts);
        if (im->identity) {
            pan_status st = track_frame(s, cams[i], f, im->detector ? b->lists[i].items : NULL,
                                        im->detector ? b->lists[i].count : 0, &r);
            if (st) return st;
        }
        pan_status st = deliver(opaque, i, &r);
        if (st) return st;
    }
    return PAN_OK;
}

pan_status pan_stages_process_batch(pan_stages *s, pan_frame **frames, pan_stages_cam ***cams, int n,
                                    pan_status (*deliver)(void *opaque, int i, pan_frame_result *r), void *opaque)
{
    struct pan_stages_impl *im = s->impl;
    pan_status st = im->own ? PAN_OK : pan_stages_batch_create(s, &im->own);
    if (!st) st = pan_stages_infer(s, frames, n, im->own);
    if (!st) st = pan_stages_finish(s, frames, cams, n, im->own, deliver, opaque);
    return st;
}

void pan_stages_cam_destroy(pan_stages_cam **c)
{
    if (!*c) return;
    pan_tracker_destroy(&(*c)->tracker);
    free(*c);
    *c = NULL;
}

void pan_stages_destroy(pan_stages *s)
{
    struct pan_stages_impl *im = s->impl;
    if (im) {
        pan_stages_batch_destroy(&im->own);
        free(im->reid_frames);
        free(im->reid_lists);
        pan_detector_destroy(&im->detector);
        pan_reid_destroy(&im->reid);
        pan_identity_destroy(&im->identity);
    }
    free(im);
    s->impl = NULL;
}
