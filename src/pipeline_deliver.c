/* The delivery thread: fair batches of frames from all cameras → the stages → the consumers, and
 * the cameras' events and ends.
 *
 *   camera threads ──frames, then their end──> per-camera queues ──> batch (≤ 1 frame per camera,
 *   round robin, ≤ batch frames, closed when full or batch_timeout_ms after its first frame) ──>
 *   detect → ReID → track → identities ──> consumers, frame after frame ──> cameras whose end came
 *   with the batch are finalized
 *
 * A camera's end is handed out once every frame of it has been (pipeline_batcher.h), so once the
 * batch is delivered the camera's end can be told: its final event comes after its last frame. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gpu.h"
#include "panoptes/log.h"
#include "pipeline_internal.h"

typedef struct deliver_ctx {
    pan_pipeline *pl;
    camera **bc;       /* the camera of each frame of the batch */
    double *t_arrival; /* when each frame was queued by its camera */
} deliver_ctx;

/* Latency bucket of d seconds: [0.05 ms · 2^(k/4), 0.05 ms · 2^((k+1)/4)), the first and last
 * open-ended (pipeline.h, PAN_LATENCY_HIST). */
static int latency_bucket(double d)
{
    double ms = d * 1e3;
    if (!(ms > PAN_LATENCY_MIN_MS)) return 0;
    int k = (int)floor(4.0 * log2(ms / PAN_LATENCY_MIN_MS));
    return k < 0 ? 0 : k >= PAN_LATENCY_HIST ? PAN_LATENCY_HIST - 1 : k;
}

/* Calls every consumer still attached; a failing one is detached, or fails the pipeline. */
static pan_status deliver_frame(void *opaque, int i, pan_frame_result *r)
{
    deliver_ctx *x = opaque;
    pan_pipeline *pl = x->pl;
    camera *c = x->bc[i];
    r->name = c->name;
    /* arrival (decoded and queued) to delivery: what a frame waited for the batch and the stages */
    double lat = pan__now_s() - x->t_arrival[i];
    pl->latency_hist[latency_bucket(lat)]++; /* read under pl->lock by get_stats: a torn count is harmless */
    if (lat > pl->latency_max_s) pl->latency_max_s = lat;
    c->frames++;
    c->detections += r->n_detections;
    for (int k = 0; k < pl->n_consumers; k++) {
        const pan_consumer *cs = &pl->consumers[k];
        if (pl->consumer_off[k] || !cs->on_frame) continue;
        pan_status st = cs->on_frame(cs->opaque, r);
        if (!st) continue;
        pl->consumer_off[k] = 1;
        if (cs->required) {
            pan_log_error("pipeline", -1, "%s failed (%s): the pipeline stops", cs->name ? cs->name : "a consumer",
                          pan_status_str(st));
            return st;
        }
        pan_log_error("pipeline", -1, "%s failed (%s): it gets no more results", cs->name ? cs->name : "a consumer",
                      pan_status_str(st));
    }
    return PAN_OK;
}

static void free_event(pending_event *e)
{
    free((char *)e->e.name);
    free((char *)e->e.uri);
    free((char *)e->e.message);
    free(e);
}

/* Hands the queued camera events to the consumers. */
static void deliver_events(pan_pipeline *pl)
{
    pthread_mutex_lock(&pl->lock);
    pending_event *e = pl->events;
    pl->events = NULL;
    pl->events_tail = &pl->events;
    pthread_mutex_unlock(&pl->lock);
    while (e) {
        pending_event *next = e->next;
        for (int k = 0; k < pl->n_consumers; k++)
            if (!pl->consumer_off[k] && pl->consumers[k].on_camera)
                pl->consumers[k].on_camera(pl->consumers[k].opaque, &e->e);
        free_event(e);
        e = next;
    }
}

/* A failure of the stages or of a required consumer: the pipeline stops its cameras; what is
 * still queued is dropped and the cameras end as `stopped`. */
static void fail(pan_pipeline *pl, pan_status st)
{
    pthread_mutex_lock(&pl->lock);
    if (!pl->status) {
        pl->status = st;
        pan_log_error("pipeline", -1, "the pipeline failed (%s): stopping its cameras", pan_status_str(st));
    }
    for (int i = 0; i < pl->n_cams; i++) atomic_store(&pl->cams[i]->stop, 1);
    for (int i = 0; i < pl->n_cams; i++) pan__camera_interrupt(pl->cams[i]);
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

/* Every frame of the camera was delivered: tell its end. */
static void finalize(pan_pipeline *pl, int id)
{
    pthread_mutex_lock(&pl->lock);
    camera *c = pan__camera_find(pl, id);
    pthread_mutex_unlock(&pl->lock);
    if (!c) return;
    if (c->started) pthread_join(c->thread, NULL);
    c->started = 0;
    pan_stages_cam_destroy(&c->stages);
    c->fps = 0;
    pan__camera_post(c, c->final_state, c->final_status, c->final_message[0] ? c->final_message : NULL);
    pthread_mutex_lock(&pl->lock);
    c->finalized = 1;
    int removing = c->removing;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
    if (removing) pan__camera_post(c, PAN_CAMERA_REMOVED, PAN_OK, NULL); /* frees it */
}

/* Once a second: frames/s per camera, device memory. */
static void tick(pan_pipeline *pl, double now)
{
    pthread_mutex_lock(&pl->lock);
    for (int i = 0; i < pl->n_cams; i++) {
        camera *c = pl->cams[i];
        if (c->fps_t > 0 && now > c->fps_t) c->fps = (double)(c->frames - c->fps_frames) / (now - c->fps_t);
        c->fps_t = now;
        c->fps_frames = c->frames;
    }
    pthread_mutex_unlock(&pl->lock);
    /* device memory peaks while every decoder is alive: sample it here, not at the end */
    size_t dev_free, dev_total;
    if (pl->dev_base && pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK && dev_total - dev_free > pl->dev_peak)
        pl->dev_peak = dev_total - dev_free;
}

static void count_batch(pan_pipeline *pl, int n, double cpu0)
{
    double now = pan__now_s();
    pthread_mutex_lock(&pl->lock);
    pl->frames_done += n;
    pl->batches++;
    int k = 0;
    while (k + 1 < PAN_BATCH_HIST && (n >> (k + 1))) k++;
    pl->batch_hist[k]++;
    pl->deliver_cpu_s = pan__thread_cpu_s() - cpu0;
    if (pl->steady_f0 < 0 && now - pl->t0 >= PAN_STEADY_AFTER_S) {
        pl->steady_f0 = pl->frames_done, pl->steady_t0 = now, pl->steady_c0 = pan__process_cpu_s();
    } else if (pl->steady_f0 >= 0) {
        pl->steady_f1 = pl->frames_done, pl->steady_t1 = now, pl->steady_c1 = pan__process_cpu_s();
    }
    pthread_mutex_unlock(&pl->lock);
}

void *pan__deliver_main(void *arg)
{
    pan_pipeline *pl = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "pan-deliver");
#endif
    pan_gpu_pixel_copy_scope(&pl->pixel_copies); /* copies made here (consumers') count for this pipeline */
    const int bmax = pl->stages.batch;
    const double timeout_s = (pl->p.batch_timeout_ms > 0 ? pl->p.batch_timeout_ms : 5) * 1e-3;
    pan_frame **batch = calloc((size_t)bmax, sizeof *batch);
    double *t_arrival = calloc((size_t)bmax, sizeof *t_arrival);
    pan_stages_cam ***cams = calloc((size_t)bmax, sizeof *cams);
    camera **bc = calloc((size_t)bmax, sizeof *bc);
    int *ended = calloc(PAN_MAX_CAMERAS, sizeof *ended); /* ends of one batch: at most one per camera */
    double cpu0 = pan__thread_cpu_s(), last_tick = pan__now_s();
    deliver_ctx x = {.pl = pl, .bc = bc, .t_arrival = t_arrival};
    int ok = batch && t_arrival && cams && bc && ended;
    if (!ok) fail(pl, PAN_NOMEM); /* frames are then dropped as they come; ends are still told */

    for (;;) {
        deliver_events(pl);
        double now = pan__now_s();
        if (now - last_tick >= 1.0) {
            tick(pl, now);
            last_tick = now;
        }
        int n = 0, n_ended = 0;
        pan_frame *one[1];
        double one_t[1];
        int one_end[1];
        pan_status q = ok ? pan_batcher_next(pl->batcher, bmax, 100, timeout_s, batch, t_arrival, &n, ended,
                                             PAN_MAX_CAMERAS, &n_ended)
                          : pan_batcher_next(pl->batcher, 1, 100, 0, one, one_t, &n, one_end, 1, &n_ended);
        if (q == PAN_TIMEOUT) continue;
        if (q == PAN_EOF) break;
        if (!ok) {
            if (n) pan_frame_unref(&one[0]);
            if (n_ended) finalize(pl, one_end[0]);
            continue;
        }
        if (n) {
            pthread_mutex_lock(&pl->lock);
            for (int i = 0; i < n; i++) {
                bc[i] = pan__camera_find(pl, batch[i]->camera); /* alive: its end is told after its frames */
                cams[i] = &bc[i]->stages;
            }
            pan_status failed = pl->status;
            pthread_mutex_unlock(&pl->lock);
            if (!failed) {
                pan_status st = pan_stages_process_batch(&pl->stages, batch, cams, n, deliver_frame, &x);
                if (st) fail(pl, st);
            }
            for (int i = 0; i < n; i++) pan_frame_unref(&batch[i]);
            count_batch(pl, n, cpu0);
        }
        for (int i = 0; i < n_ended; i++) finalize(pl, ended[i]);
    }
    deliver_events(pl);
    for (int k = 0; k < pl->n_consumers; k++)
        if (pl->consumers[k].on_stop) pl->consumers[k].on_stop(pl->consumers[k].opaque);
    pthread_mutex_lock(&pl->lock);
    pl->deliver_cpu_s = pan__thread_cpu_s() - cpu0;
    pthread_mutex_unlock(&pl->lock);
    tick(pl, pan__now_s());
    free(batch);
    free(t_arrival);
    free(cams);
    free(bc);
    free(ended);
    pan_gpu_pixel_copy_scope(NULL);
    return NULL;
}
