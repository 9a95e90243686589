/* `panoptes serve` on a real pipeline (src/serve/pipeline_engine.h). */
#include "serve/pipeline_engine.h"

#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "serve/snapshot.h"

_Static_assert(PAN_SERVE_BATCH_HIST == PAN_BATCH_HIST, "serve's batch histogram mirrors the pipeline's");

struct pan_serve_pipeline {
    pan_pipeline *pl;
    pan_serve_snapshots *snaps;
    /* Cameras added and not yet removed (ascending): the API lists only these, and a snapshot of
     * any other id is refused at once instead of waiting for frames that will never come. */
    pthread_mutex_t mu;
    int *ids;
    int n_ids, cap_ids;
};

/* ---------------------------------------------------------------- consumer (delivery thread) */

static pan_status on_frame(void *opaque, const pan_frame_result *r)
{
    pan_serve_pipeline *sp = opaque;
    pan_serve_snapshots_offer(sp->snaps, r->camera, r->frame, r->pts, r->image, r->detections, r->n_detections,
                              r->tracks, r->n_tracks);
    return PAN_OK;
}

static void on_camera(void *opaque, const pan_camera_event *e)
{
    pan_serve_pipeline *sp = opaque;
    if (e->state == PAN_CAMERA_FAILED || e->state == PAN_CAMERA_ENDED || e->state == PAN_CAMERA_STOPPED)
        pan_serve_snapshots_end(sp->snaps, e->camera, 0);
    else if (e->state == PAN_CAMERA_REMOVED)
        pan_serve_snapshots_end(sp->snaps, e->camera, 1);
}

static void on_stop(void *opaque)
{
    pan_serve_pipeline *sp = opaque;
    pan_serve_snapshots_close(sp->snaps);
}

/* ---------------------------------------------------------------- engine table */

/* ids[] is ascending: ids come from the pipeline in increasing order and are appended under the
 * lock; removal keeps the order. */
static int known(pan_serve_pipeline *sp, int id, int forget)
{
    int found = 0, lo = 0, hi;
    pthread_mutex_lock(&sp->mu);
    hi = sp->n_ids;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sp->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    if (lo < sp->n_ids && sp->ids[lo] == id) {
        found = 1;
        if (forget) memmove(&sp->ids[lo], &sp->ids[lo + 1], (size_t)(--sp->n_ids - lo) * sizeof *sp->ids);
    }
    pthread_mutex_unlock(&sp->mu);
    return found;
}

pan_status pan_serve_pipeline_add(pan_serve_pipeline *sp, const pan_serve_camera *cam, int *id)
{
    pan_camera_params cp = {
        .uri = cam->uri,
        .name = cam->name,
        .rtsp_transport = cam->transport,
        .timeout_ms = cam->timeout_ms,
        .reconnect = cam->reconnect == PAN_SERVE_RECONNECT_NONE ? PAN_RECONNECT_NONE : cam->reconnect,
        .loop = cam->loop,
        .max_frames = cam->max_frames,
    };
    int new_id = -1;
    pthread_mutex_lock(&sp->mu);
    if (sp->n_ids == sp->cap_ids) {
        int cap = sp->cap_ids * 2 + 16;
        int *grown = realloc(sp->ids, (size_t)cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&sp->mu);
            return PAN_NOMEM;
        }
        sp->ids = grown;
        sp->cap_ids = cap;
    }
    /* under the lock, so that the id is known before anyone can ask for its snapshot */
    pan_status st = pan_pipeline_add_camera(sp->pl, &cp, &new_id);
    if (!st) sp->ids[sp->n_ids++] = new_id;
    pthread_mutex_unlock(&sp->mu);
    if (!st && id) *id = new_id;
    return st;
}

pan_status pan_serve_pipeline_remove(pan_serve_pipeline *sp, int id)
{
    pan_status st = pan_pipeline_remove_camera(sp->pl, id);
    if (st == PAN_OK) known(sp, id, 1);
    return st;
}

static pan_status e_add(void *opaque, const pan_serve_camera *cam, int *id) { return pan_serve_pipeline_add(opaque, cam, id); }
static pan_status e_remove(void *opaque, int id) { return pan_serve_pipeline_remove(opaque, id); }

static const char *decoder_name(const char *d)
{
    if (!d || !*d) return "";
    return !strcmp(d, "nvdec") ? "nvdec" : !strcmp(d, "cpu") ? "cpu" : "other";
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static pan_status e_stats(void *opaque, pan_serve_stats *out)
{
    pan_serve_pipeline *sp = opaque;
    pan_pipeline_stats s;
    memset(out, 0, sizeof *out);
    pan_status st = pan_pipeline_get_stats(sp->pl, &s);
    if (st) return st;
    out->backend = pan_backend_name(s.backend);
    out->running = s.running;
    out->failed = s.status != PAN_OK;
    out->status = pan_status_name(s.status);
    out->error = strdup(out->failed ? pan_status_str(s.status) : "");
    out->uptime_s = s.uptime_s;
    out->cameras = calloc((size_t)s.n_cameras + 1, sizeof *out->cameras);
    if (!out->error || !out->cameras) {
        pan_pipeline_stats_free(&s);
        pan_serve_stats_free(out);
        return PAN_NOMEM;
    }
    for (int i = 0; i < s.n_cameras; i++) {
        const pan_camera_stats *c = &s.cameras[i];
        /* a removed camera leaves the pipeline's stats once its last frame is delivered; for the
         * API it is gone when DELETE returns */
        if (c->state == PAN_CAMERA_REMOVED || !known(sp, c->id, 0)) {
            out->draining_cameras++;
            continue;
        }
        pan_serve_camera_info *o = &out->cameras[out->n_cameras++];
        o->id = c->id;
        o->name = dup_or_empty(c->name);
        o->uri = dup_or_empty(c->uri);
        o->error = dup_or_empty(c->error);
        if (!o->name || !o->uri || !o->error) {
            pan_pipeline_stats_free(&s);
            pan_serve_stats_free(out);
            return PAN_NOMEM;
        }
        o->state = pan_camera_state_name(c->state);
        o->status = c->status ? pan_status_name(c->status) : "";
        o->live = c->live;
        o->decoder = decoder_name(c->decoder);
        o->frames = c->frames;
        o->detections = c->detections;
        o->dropped = c->dropped;
        o->decode_errors = c->decode_errors;
        o->packets = c->packets;
        o->reconnects = c->reconnects;
        o->failed_attempts = c->failed_attempts;
        o->fps = c->fps;
        o->outage_s = c->outage_s;
        o->thread_cpu_s = c->thread_cpu_s;
    }
    out->frames = s.frames;
    out->dropped = s.dropped;
    out->reconnects = s.reconnects;
    out->pixel_bytes_copied = s.pixel_bytes_copied;
    out->failed_cameras = s.failed_cameras;
    out->fps = s.fps;
    out->steady_fps = s.steady_fps;
    out->cpu_ms_per_frame = s.cpu_ms_per_frame;
    out->steady_cpu_ms_per_frame = s.steady_cpu_ms_per_frame;
    out->cpu_ms_per_frame_cameras = s.cpu_ms_per_frame_cameras;
    out->cpu_ms_per_frame_delivery = s.cpu_ms_per_frame_delivery;
    out->cpu_ms_per_frame_other = s.cpu_ms_per_frame_other;
    out->peak_rss_mib = s.peak_rss_mib;
    out->device_mib_used = s.device_mib_used;
    out->rss_mib = s.rss_mib;
    out->device_mib_now = s.device_mib_now;
    out->batches = s.batches;
    out->batch_max = s.batch_max;
    out->batch_mean = s.batch_mean;
    memcpy(out->batch_hist, s.batch_hist, sizeof out->batch_hist);
    /* the pipeline's quarter-octave latency buckets, summed into octaves for Prometheus:
     * le = PAN_LATENCY_MIN_MS * 2^(j+1) ms, j = 0..19 (0.1 ms .. 52 s), the rest above */
    out->n_latency = PAN_LATENCY_HIST / 4;
    _Static_assert(PAN_LATENCY_HIST / 4 <= PAN_SERVE_LATENCY_MAX_BUCKETS, "octave buckets fit");
    for (int j = 0; j < out->n_latency; j++) {
        out->latency_le[j] = PAN_LATENCY_MIN_MS * 1e-3 * pow(2.0, j + 1);
        out->latency_count[j] = 0;
        for (int k = 4 * j; k < 4 * j + 4 && k < PAN_LATENCY_HIST - 1; k++) out->latency_count[j] += s.latency_hist[k];
    }
    out->latency_count[out->n_latency] = s.latency_hist[PAN_LATENCY_HIST - 1]; /* open-ended: above 52 s */
    out->latency_sum_s = s.latency_sum_s;
    pan_pipeline_stats_free(&s);
    /* the whole process (HTTP threads included), since it started: what a host monitor charges */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                           ru.ru_stime.tv_usec * 1e-6;
    return PAN_OK;
}

static pan_status e_snapshot(void *opaque, int id, int timeout_ms, pan_serve_image **out)
{
    pan_serve_pipeline *sp = opaque;
    *out = NULL;
    if (!known(sp, id, 0)) return PAN_NOTFOUND;
    return pan_serve_snapshots_get(sp->snaps, id, timeout_ms, out);
}

/* ---------------------------------------------------------------- lifecycle */

pan_status pan_serve_pipeline_create(pan_serve_pipeline **out, pan_pipeline *pl)
{
    pan_serve_pipeline *sp = calloc(1, sizeof *sp);
    pan_status st;
    *out = NULL;
    if (!sp) return PAN_NOMEM;
    sp->pl = pl;
    pthread_mutex_init(&sp->mu, NULL);
    if ((st = pan_serve_snapshots_create(&sp->snaps))) goto fail;
    pan_consumer c = {.name = "serve (snapshots)", .opaque = sp, .on_frame = on_frame, .on_camera = on_camera,
                      .on_stop = on_stop};
    if ((st = pan_pipeline_add_consumer(pl, &c))) goto fail;
    *out = sp;
    return PAN_OK;
fail:
    pan_serve_pipeline_destroy(&sp);
    return st;
}

pan_serve_engine pan_serve_pipeline_engine(pan_serve_pipeline *sp)
{
    pan_serve_engine e = {sp, e_add, e_remove, e_stats, e_snapshot};
    return e;
}

void pan_serve_pipeline_close(pan_serve_pipeline *sp)
{
    if (sp) pan_serve_snapshots_close(sp->snaps);
}

void pan_serve_pipeline_destroy(pan_serve_pipeline **psp)
{
    if (!psp || !*psp) return;
    pan_serve_pipeline *sp = *psp;
    *psp = NULL;
    pan_serve_snapshots_destroy(&sp->snaps);
    pthread_mutex_destroy(&sp->mu);
    free(sp->ids);
    free(sp);
}
