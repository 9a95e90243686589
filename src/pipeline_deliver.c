/* The delivery thread: fair batches of frames from all cameras → the stages → the consumers, and
 * the cameras' events and ends.
 *
 *   cameras (I/O pool) ──frames, then their end──> per-camera queues ──> batch (≤ 1 frame per camera,
 *   round robin, ≤ batch frames, closed when full or batch_timeout_ms after its first frame) ──>
 *   detect → ReID → track → identities ──> consumers, frame after frame ──> cameras whose end came
 *   with the batch are finalized
 *
 * A camera's end is handed out once every frame of it has been (pipeline_batcher.h), so once the
 * batch is delivered the camera's end can be told: its final event comes after its last frame.
 *
 * Two threads share the work: pan-infer takes the batches and runs detection and ReID (the GPU's
 * work on cuda), pan-deliver tracks, links identities and calls the consumers. Two batches
 * circulate between them, so the host work of batch k overlaps the inference of batch k+1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__ /* (defined by the headers above) */
#include <malloc.h>
#endif

#include "core/gpu.h"
#include "core/queue.h"
#include "panoptes/log.h"
#include "pipeline_internal.h"

typedef struct deliver_ctx {
    pan_pipeline *pl;
    camera **bc;             /* the camera of each frame of the batch */
    const double *t_arrival; /* when each frame was queued by its camera */
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
    pl->latency_sum_s += lat;
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
    if (c->started) pan_io_join(pl->io, &c->task); /* it sent its end: its last step is returning */
    c->started = 0;
    pan_stages_cam_destroy(&c->stages);
    c->fps = 0;
    pan__camera_post(c, c->final_state, c->final_status, c->final_message[0] ? c->final_message : NULL);
    pl->trim_pending = 1;
    pthread_mutex_lock(&pl->lock);
    c->finalized = 1;
    int removing = c->removing;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
    if (removing) pan__camera_post(c, PAN_CAMERA_REMOVED, PAN_OK, NULL); /* frees it */
}

/* Gives malloc's free pages back to the system (glibc). A closed NVDEC camera's host memory goes
 * back to malloc, but between blocks still in use, and stays resident: on an H100, 32 cameras
 * decoding, one removed and added back twice a second, the RSS grew 57 MiB/min (about 0.5 MiB per
 * closed camera) with malloc's bytes in use flat; trimmed here, 6.9 MiB/min (BENCHMARKS.md). A
 * service that opens and closes cameras for months would otherwise keep all of it. */
static void heap_give_back(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

/* Once a second: frames/s per camera, device memory; malloc's free pages given back when a camera
 * ended since the last one. */
static void tick(pan_pipeline *pl, double now)
{
    if (pl->trim_pending) {
        pl->trim_pending = 0;
        heap_give_back();
    }
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

/* 1 while some camera is still opening: connecting, or streaming without a frame delivered yet
 * (pl->lock held; a camera that failed, ended or waits to reconnect does not hold the steady state
 * back). */
static int cameras_opening(const pan_pipeline *pl)
{
    for (int i = 0; i < pl->n_cams; i++) {
        const camera *c = pl->cams[i];
        int state = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
        if (!c->finalized && c->frames == 0 && (state == PAN_CAMERA_CONNECTING || state == PAN_CAMERA_LIVE)) return 1;
    }
    return 0;
}

static void count_batch(pan_pipeline *pl, int n, double cpu0)
{
    double now = pan__now_s();
    pthread_mutex_lock(&pl->lock);
    pl->frames_done += n;
    pl->batches++;
    if (!pl->first_frame_t && n > 0) pl->first_frame_t = now;
    int k = 0;
    while (k + 1 < PAN_BATCH_HIST && (n >> (k + 1))) k++;
    pl->batch_hist[k]++;
    pl->deliver_cpu_s = pan__thread_cpu_s() - cpu0;
    /* the steady state begins once every camera delivers (opening 256 takes seconds), and no
     * later than a minute after start (a camera that never delivers holds nothing back) */
    if (pl->steady_f0 < 0 && now - pl->t0 >= PAN_STEADY_AFTER_S && (now - pl->t0 >= 60 || !cameras_opening(pl))) {
        pl->steady_f0 = pl->frames_done, pl->steady_t0 = now, pl->steady_c0 = pan__process_cpu_s();
    } else if (pl->steady_f0 >= 0) {
        pl->steady_f1 = pl->frames_done, pl->steady_t1 = now, pl->steady_c1 = pan__process_cpu_s();
    }
    pthread_mutex_unlock(&pl->lock);
}

/* A batch on its way from the inference thread to the delivery thread. Two of them circulate, so
 * that batch k+1 is detected (and embedded) while batch k is tracked and delivered. */
typedef struct inflight {
    pan_frame **frames;
    pan_frame *meta; /* released early: each frame's description without its pixels */
    double *t_arrival;
    int n;
    int *ends; /* cameras whose end came with the batch: at most one entry per camera */
    int n_ends;
    pan_stages_batch *res;
    pan_status st; /* the first half failed */
} inflight;

#define N_INFLIGHT 2

typedef struct halves {
    pan_pipeline *pl;
    inflight slots[N_INFLIGHT];
    pan_queue *empty, *full; /* inflight slots waiting to be filled / to be delivered */
    double infer_cpu_s;
} halves;

/* No consumer reads the images: the frames go back to their decoders (NVDEC surfaces unmapped)
 * now that detection and ReID have read them (their results are on the host: the device work on
 * the pixels is done); tracking and delivery need only what the frames describe. */
static void release_pixels(inflight *b)
{
    for (int i = 0; i < b->n; i++) {
        pan_frame *m = &b->meta[i];
        *m = *b->frames[i];
        memset(m->data, 0, sizeof m->data);
        memset(m->pitch, 0, sizeof m->pitch);
        m->refs = 1; /* never released: its unref below does nothing (no release function) */
        m->release = NULL;
        m->release_opaque = NULL;
        pan_frame_unref(&b->frames[i]);
        b->frames[i] = m;
    }
}

/* The first half for one batch: a fair batch from the cameras (waiting up to 100 ms for one),
 * then detection and ReID. PAN_TIMEOUT when nothing came, PAN_EOF once the cameras are closed. */
static pan_status fill(pan_pipeline *pl, inflight *b)
{
    const int bmax = pl->stages.batch;
    const double timeout_s = (pl->p.batch_timeout_ms > 0 ? pl->p.batch_timeout_ms : 5) * 1e-3;
    pan_status q = pan_batcher_next(pl->batcher, bmax, 100, timeout_s, b->frames, b->t_arrival, &b->n, b->ends,
                                    PAN_MAX_CAMERAS, &b->n_ends);
    if (q) return q;
    pthread_mutex_lock(&pl->lock);
    pan_status failed = pl->status;
    pthread_mutex_unlock(&pl->lock);
    b->st = b->n && !failed ? pan_stages_infer(&pl->stages, b->frames, b->n, b->res) : PAN_OK;
    if (pl->release_early) release_pixels(b);
    return PAN_OK;
}

/* pan-infer: the first half, one batch after another, handed to the delivery thread. */
static void *infer_main(void *arg)
{
    halves *h = arg;
    pan_pipeline *pl = h->pl;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "pan-infer");
#endif
    pan_gpu_pixel_copy_scope(&pl->pixel_copies);
    double cpu0 = pan__thread_cpu_s();
    for (;;) {
        void *item;
        if (pan_queue_pop(h->empty, &item, -1)) break;
        inflight *b = item;
        pan_status q;
        while ((q = fill(pl, b)) == PAN_TIMEOUT) {
        }
        if (q == PAN_EOF) break;
        pthread_mutex_lock(&pl->lock);
        pl->infer_cpu_s = pan__thread_cpu_s() - cpu0;
        pthread_mutex_unlock(&pl->lock);
        if (pan_queue_push(h->full, b, -1)) break;
    }
    pan_queue_close(h->full); /* the delivery thread drains what is there, then ends */
    pan_gpu_pixel_copy_scope(NULL);
    return NULL;
}

/* The second half (pan-deliver): tracking, identities, consumers, events and ends. */
void *pan__deliver_main(void *arg)
{
    pan_pipeline *pl = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "pan-deliver");
#endif
    pan_gpu_pixel_copy_scope(&pl->pixel_copies); /* copies made here (consumers') count for this pipeline */
    const int bmax = pl->stages.batch;
    halves h = {.pl = pl};
    pan_stages_cam ***cams = calloc((size_t)bmax, sizeof *cams);
    camera **bc = calloc((size_t)bmax, sizeof *bc);
    double cpu0 = pan__thread_cpu_s(), last_tick = pan__now_s();
    deliver_ctx x = {.pl = pl, .bc = bc};
    int ok = cams && bc && !pan_queue_create(&h.empty, N_INFLIGHT) && !pan_queue_create(&h.full, N_INFLIGHT);
    for (int i = 0; ok && i < N_INFLIGHT; i++) {
        inflight *b = &h.slots[i];
        b->frames = calloc((size_t)bmax, sizeof *b->frames);
        b->t_arrival = calloc((size_t)bmax, sizeof *b->t_arrival);
        b->ends = calloc(PAN_MAX_CAMERAS, sizeof *b->ends);
        b->meta = calloc((size_t)bmax, sizeof *b->meta);
        ok = b->frames && b->t_arrival && b->ends && b->meta && !pan_stages_batch_create(&pl->stages, &b->res) &&
             !pan_queue_push(h.empty, b, 0);
    }
    /* With nothing to infer (decode only) there is nothing to overlap: one thread does both halves
     * and saves the hand-over per batch. */
    const int overlap = pl->p.detect;
    pthread_t infer;
    int infer_started = ok && (!overlap || pthread_create(&infer, NULL, infer_main, &h) == 0);
    if (!infer_started) {
        /* nothing can be delivered: fail, and still drain the cameras so that their ends are told */
        fail(pl, PAN_NOMEM);
        pan_frame *f[1];
        double t[1];
        int end[1], n, n_end;
        for (;;) {
            deliver_events(pl);
            pan_status q = pan_batcher_next(pl->batcher, 1, 100, 0, f, t, &n, end, 1, &n_end);
            if (q == PAN_EOF) break;
            if (n) pan_frame_unref(&f[0]);
            if (n_end) finalize(pl, end[0]);
        }
    }
    while (infer_started) {
        deliver_events(pl);
        double now = pan__now_s();
        if (now - last_tick >= 1.0) {
            tick(pl, now);
            last_tick = now;
        }
        void *item = &h.slots[0];
        pan_status q = overlap ? pan_queue_pop(h.full, &item, 100) : fill(pl, item);
        if (q == PAN_TIMEOUT) continue;
        if (q == PAN_EOF) break;
        inflight *b = item;
        if (b->n) {
            pthread_mutex_lock(&pl->lock);
            for (int i = 0; i < b->n; i++) {
                bc[i] = pan__camera_find(pl, b->frames[i]->camera); /* alive: its end is told after its frames */
                cams[i] = &bc[i]->stages;
            }
            pan_status failed = pl->status;
            pthread_mutex_unlock(&pl->lock);
            if (b->st) fail(pl, b->st);
            else if (!failed) {
                x.t_arrival = b->t_arrival;
                pan_status st = pan_stages_finish(&pl->stages, b->frames, cams, b->n, b->res, deliver_frame, &x);
                if (st) fail(pl, st);
            }
            for (int i = 0; i < b->n; i++) pan_frame_unref(&b->frames[i]);
            count_batch(pl, b->n, cpu0);
        }
        for (int i = 0; i < b->n_ends; i++) finalize(pl, b->ends[i]);
        b->n = b->n_ends = 0;
        if (overlap) pan_queue_push(h.empty, b, -1); /* capacity N_INFLIGHT: never waits */
    }
    if (infer_started && overlap) {
        pan_queue_close(h.empty);
        pthread_join(infer, NULL);
    }
    deliver_events(pl);
    for (int k = 0; k < pl->n_consumers; k++)
        if (pl->consumers[k].on_stop) pl->consumers[k].on_stop(pl->consumers[k].opaque);
    pthread_mutex_lock(&pl->lock);
    pl->deliver_cpu_s = pan__thread_cpu_s() - cpu0;
    pthread_mutex_unlock(&pl->lock);
    tick(pl, pan__now_s());
    for (int i = 0; i < N_INFLIGHT; i++) {
        free(h.slots[i].frames);
        free(h.slots[i].t_arrival);
        free(h.slots[i].ends);
        free(h.slots[i].meta);
        pan_stages_batch_destroy(&h.slots[i].res);
    }
    pan_queue_destroy(&h.empty, NULL);
    pan_queue_destroy(&h.full, NULL);
    free(cams);
    free(bc);
    pan_gpu_pixel_copy_scope(NULL);
    return NULL;
}
