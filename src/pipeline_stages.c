/* The stages after the batcher. */
#include "pipeline_stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#include "io/annotate.h"
#include "vision/detector.h"
#include "panoptes/log.h"
#include "track/mot.h"
#include "vision/reid.h"
#include "panoptes/track.h"

#define MAX_REPORTS 1024 /* tracks reported per frame */

struct pan_stages_impl {
    pan_detector *detector;
    pan_detection_list *lists; /* one per batch slot, reused */
    pan_reid *reid;          /* appearance embeddings for the trackers; NULL with --reid off */
    pan_tracker **trackers;  /* one per camera, made on the camera's first frame */
    pan_identity *identity;  /* shared by all cameras; called from the batcher thread only */
    pan_track_report reports[MAX_REPORTS];
    const float *embeddings[MAX_REPORTS];
    pan_frame **reid_frames;          /* the batch's frames whose detections are embedded, */
    pan_detection_list *reid_lists;   /* and their lists (shallow copies: items are shared) */
    pan_mot_sink **mot;      /* one per camera (--mot DIR), made on the camera's first frame */
    pan_annotate *annotate;  /* the annotated camera's video, made on its first frame */
    pan_frame_pool *annotate_pool; /* host copies of device frames for it */
    int annotate_failed;
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
    s->batch = p->batch > 0 ? p->batch : (backend == PAN_BACKEND_CUDA ? 32 : 1);
    s->impl = calloc(1, sizeof *s->impl);
    if (!s->impl) return PAN_NOMEM;
    if (p->out_path) {
        st = pan_jsonl_sink_create(&s->jsonl, p->out_path);
        if (st) return st;
    }
    if (p->detect) {
        pan_detector_params dp = {
            .model_path = p->model_path,
            .backend = backend,
            .max_batch = s->batch,
            /* With tracking, the detector keeps down to 0.1 so ByteTrack's second stage can rescue
             * tracks with low-score boxes; the output lists only those >= score_threshold. */
            .score_threshold = p->track && p->score_threshold > 0.1f ? 0.1f : p->score_threshold,
            .classes = p->classes,
            .n_classes = p->n_classes,
        };
        st = pan_detector_create(&s->impl->detector, &dp);
        if (st) return st;
        s->impl->lists = calloc((size_t)s->batch, sizeof *s->impl->lists);
        s->impl->reid_frames = calloc((size_t)s->batch, sizeof *s->impl->reid_frames);
        s->impl->reid_lists = calloc((size_t)s->batch, sizeof *s->impl->reid_lists);
        if (!s->impl->lists || !s->impl->reid_frames || !s->impl->reid_lists) return PAN_NOMEM;
    }
    if (p->mot_dir) {
        if (mkdir(p->mot_dir, 0777) && errno != EEXIST) {
            pan_log_error("sink", -1, "%s: cannot create the MOT folder: %s", p->mot_dir, strerror(errno));
            return PAN_IO;
        }
        s->impl->mot = calloc((size_t)p->n_cameras, sizeof *s->impl->mot);
        if (!s->impl->mot) return PAN_NOMEM;
    }
    if (p->track && p->detect) {
        s->impl->trackers = calloc((size_t)p->n_cameras, sizeof *s->impl->trackers);
        if (!s->impl->trackers) return PAN_NOMEM;
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

pan_status pan_stages_camera_decoder_params(pan_stages *s, int camera, pan_decoder_params *dp) { return PAN_OK; }

/* Per-camera tracking, then global identities; fills r->tracks. */
static pan_status track_frame(pan_stages *s, const pan_frame *f, const pan_detection *all, int n_all,
                              pan_frame_result *r)
{
    struct pan_stages_impl *im = s->impl;
    pan_tracker **t = &im->trackers[f->camera];
    pan_status st;
    int n = 0, dim = 0;
    if (!*t) {
        pan_tracker_params tp = pan_tracker_params_default();
        tp.camera = f->camera;
        tp.frame_width = f->width;
        tp.frame_height = f->height;
        st = pan_tracker_create(t, &tp);
        if (st) return st;
    }
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

/* The annotated video is a convenience: if it cannot be written, say so once and go on. */
static void annotate_frame(pan_stages *s, const pan_frame *f, const pan_frame_result *r)
{
    struct pan_stages_impl *im = s->impl;
    if (im->annotate_failed) return;
    pan_frame *host = NULL;
    if (f->memory != PAN_MEMORY_HOST) {
        /* the one place pixels leave the GPU, on request; counted in the summary */
        if (!im->annotate_pool && pan_frame_pool_create(&im->annotate_pool, f->width, f->height, f->format, 1)) {
            im->annotate_failed = 1;
            return;
        }
        if (pan_frame_pool_get(im->annotate_pool, 1, &host) || pan_frame_download(f, host)) {
            pan_log_warn("annotate", f->camera, "cannot copy frame %lld to the host; stopping the annotated video",
                         (long long)f->index);
            pan_frame_unref(&host);
            im->annotate_failed = 1;
            return;
        }
        f = host;
    }
    if (!im->annotate && pan_annotate_create(&im->annotate, s->p->annotate_path, f->width, f->height, 25.0)) {
        pan_frame_unref(&host);
        im->annotate_failed = 1;
        return;
    }
    pan_status st = pan_annotate_write(im->annotate, f, r);
    pan_frame_unref(&host);
    if (st) {
        pan_log_warn("annotate", s->p->annotate_camera, "%s: stopped writing the annotated video", s->p->annotate_path);
        pan_annotate_destroy(&im->annotate);
        im->annotate_failed = 1;
    }
}

pan_status pan_stages_process_batch(pan_stages *s, pan_frame **frames, int n, pan_run_summary *sum)
{
    struct pan_stages_impl *im = s->impl;
    if (im->detector) {
        pan_status st = pan_detector_detect(im->detector, frames, n, im->lists);
        if (st) {
            pan_log_error("detect", -1, "detection failed on a batch of %d frames: %s", n, pan_status_str(st));
            return st;
        }
    }
    if (im->reid) {
        /* --reid-interval N: only each camera's every Nth frame is embedded; the others' detections
         * carry no embedding (the trackers keep their tracks' smoothed ones) */
        const int every = s->p->reid_interval > 1 ? s->p->reid_interval : 1;
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (frames[i]->index % every == 0) {
                im->reid_frames[m] = frames[i];
                im->reid_lists[m++] = im->lists[i];
            } else {
                for (int k = 0; k < im->lists[i].count; k++) {
                    im->lists[i].items[k].embedding = NULL;
                    im->lists[i].items[k].embedding_dim = 0;
                }
            }
        }
        pan_status st = m ? pan_reid_embed(im->reid, im->reid_frames, m, im->reid_lists) : PAN_OK;
        if (st) {
            pan_log_error("reid", -1, "appearance embedding failed on a batch of %d frames: %s", m, pan_status_str(st));
            return st;
        }
    }
    for (int i = 0; i < n; i++) {
        const pan_frame *f = frames[i];
        pan_frame_result r = {
            .camera = f->camera,
            .frame = f->index,
            .pts = f->pts,
            .width = f->width,
            .height = f->height,
        };
        if (im->detector) {
            /* lists are in descending score order (NMS output): the reported ones are a prefix */
            int k = 0;
            while (k < im->lists[i].count && im->lists[i].items[k].score >= s->p->score_threshold) k++;
            r.detections = im->lists[i].items;
            r.n_detections = k;
            sum->cameras[f->camera].detections += r.n_detections;
        }
        pan_log_debug("pipeline", f->camera, "frame %lld pts %.3f", (long long)f->index, f->pts);
        if (s->impl->trackers) {
            pan_status st = track_frame(s, f, im->detector ? im->lists[i].items : NULL,
                                        im->detector ? im->lists[i].count : 0, &r);
            if (st) return st;
        }
        if (s->jsonl) {
            pan_status st = pan_jsonl_sink_write(s->jsonl, &r);
            if (st) return st;
        }
        if (im->mot && im->trackers) {
            pan_mot_sink **ms = &im->mot[f->camera];
            if (!*ms) {
                char path[4096];
                snprintf(path, sizeof path, "%s/cam%d.txt", s->p->mot_dir, f->camera);
                pan_status st = pan_mot_sink_create(ms, path);
                if (st) return st;
            }
            pan_status st = pan_mot_sink_write(*ms, f->index, r.tracks, r.n_tracks);
            if (st) return st;
        }
        if (s->p->annotate_path && f->camera == s->p->annotate_camera) annotate_frame(s, f, &r);
    }
    return PAN_OK;
}

void pan_stages_destroy(pan_stages *s, pan_run_summary *sum)
{
    pan_jsonl_sink_destroy(&s->jsonl);
    if (s->impl && s->impl->trackers)
        for (int i = 0; i < s->p->n_cameras; i++) pan_tracker_destroy(&s->impl->trackers[i]);
    if (s->impl) {
        pan_annotate_destroy(&s->impl->annotate);
        pan_frame_pool_destroy(&s->impl->annotate_pool);
        if (s->impl->mot)
            for (int i = 0; i < s->p->n_cameras; i++) pan_mot_sink_destroy(&s->impl->mot[i]);
        free(s->impl->mot);
        if (s->impl->lists)
            for (int i = 0; i < s->batch; i++) pan_detection_list_free(&s->impl->lists[i]);
        free(s->impl->lists);
        free(s->impl->reid_frames);
        free(s->impl->reid_lists);
        pan_detector_destroy(&s->impl->detector);
        pan_reid_destroy(&s->impl->reid);
        free(s->impl->trackers);
        pan_identity_destroy(&s->impl->identity);
    }
    free(s->impl);
    s->impl = NULL;
}
