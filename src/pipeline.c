/* The pipeline object (include/panoptes/pipeline.h): its lifecycle, the cameras added and removed
 * while it runs, consumers and events. The threads are in pipeline_camera.c and pipeline_deliver.c;
 * the statistics in pipeline_stats.c. */
#include "panoptes/pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/env.h"
#include "core/gpu.h"
#include "vision/detector.h"
#include "panoptes/log.h"
#include "pipeline_internal.h"

void pan_pipeline_params_default(pan_pipeline_params *p)
{
    memset(p, 0, sizeof *p);
    p->backend = PAN_BACKEND_AUTO;
    p->detect = 1;
    p->track = 1;
    p->score_threshold = 0.35f;
    p->batch_timeout_ms = 5;
}

const char *pan_camera_state_name(pan_camera_state s)
{
    switch (s) {
    case PAN_CAMERA_CONNECTING: return "connecting";
    case PAN_CAMERA_LIVE: return "live";
    case PAN_CAMERA_RETRYING: return "retrying";
    case PAN_CAMERA_FAILED: return "failed";
    case PAN_CAMERA_ENDED: return "ended";
    case PAN_CAMERA_STOPPED: return "stopped";
    case PAN_CAMERA_REMOVED: return "removed";
    }
    return "?";
}

double pan__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double pan__thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double pan__process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Checks the parameters a caller can get wrong, naming the field. */
static pan_status check_params(const pan_pipeline_params *p)
{
#define BAD(...)                                          \
    do {                                                  \
        pan_log_error("pipeline", -1, __VA_ARGS__);       \
        return PAN_INVAL;                                 \
    } while (0)
    if (p->detect && p->model_path && !*p->model_path) BAD("model_path: empty (NULL = models/nanodet.json)");
    if (!(p->score_threshold >= 0 && p->score_threshold <= 1)) BAD("score_threshold %g: must be in [0, 1]", p->score_threshold);
    if (p->batch < 0 || p->batch > 4096) BAD("batch %d: must be 1..4096 (0 = default)", p->batch);
    if (p->batch_timeout_ms < 0 || p->batch_timeout_ms > 60000) BAD("batch_timeout_ms %d: must be 0..60000", p->batch_timeout_ms);
    if (p->decoder_threads < 0 || p->decoder_threads > 64) BAD("decoder_threads %d: must be 0..64", p->decoder_threads);
    if (p->camera_queue < 0 || p->camera_queue > 64) BAD("camera_queue %d: must be 1..64 (0 = default)", p->camera_queue);
    if (p->max_frames < 0) BAD("max_frames %lld: must be >= 0 (0 = all)", (long long)p->max_frames);
    if (p->timeout_ms < 0) BAD("timeout_ms %d: must be >= 0 (0 = 5000)", p->timeout_ms);
    if (p->reconnect < -1) BAD("reconnect %d: must be >= -1 (-1 = forever)", p->reconnect);
    if (p->backoff_min_ms < 0 || p->backoff_max_ms < 0) BAD("backoff_min_ms/backoff_max_ms: must be >= 0");
    if (p->reid_interval < 0) BAD("reid_interval %d: must be >= 0", p->reid_interval);
    pan_detector_kind kind;
    if (p->model_type && pan_detector_kind_parse(p->model_type, &kind))
        BAD("model_type '%s': not a detector family (%s)", p->model_type, pan_detector_kind_names());
    if (p->n_classes < 0 || (p->n_classes > 0 && !p->classes)) BAD("classes: n_classes %d without classes", p->n_classes);
    if (p->n_overlaps < 0 || (p->n_overlaps > 0 && !p->overlaps)) BAD("overlaps: n_overlaps %d without overlaps", p->n_overlaps);
    for (int i = 0; i < p->n_overlaps; i++) {
        const double *o = p->overlaps[i];
        if (o[0] != floor(o[0]) || o[1] != floor(o[1]) || o[0] < 0 || o[1] < 0 || o[0] == o[1])
            BAD("overlaps[%d]: cameras must be two different ids >= 0", i);
    }
    return PAN_OK;
#undef BAD
}

pan_status pan_pipeline_create(pan_pipeline **out, const pan_pipeline_params *params)
{
    pan_status st;
    *out = NULL;
    if (!params) return PAN_INVAL;
    pan_log_init();
    if ((st = check_params(params))) return st;
    pan_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl) return PAN_NOMEM;
    pl->p = *params;
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->changed, NULL);
    pl->events_tail = &pl->events;
    pan__sync_init(pl);
    /* the parameters' arrays and strings are copied: the caller's may go */
    pl->model_path = dup_or_null(params->model_path);
    pl->reid = dup_or_null(params->reid);
    pl->model_type = dup_or_null(params->model_type);
    /* owned through pl->p (the struct has no field of its own for it): freed in destroy */
    pl->p.cache_dir = dup_or_null(params->cache_dir);
    pl->p.model_path = pl->model_path;
    pl->p.reid = pl->reid;
    pl->p.model_type = pl->model_type;
    if (params->n_classes) {
        pl->classes = malloc((size_t)params->n_classes * sizeof *pl->classes);
        if (!pl->classes) goto nomem;
        memcpy(pl->classes, params->classes, (size_t)params->n_classes * sizeof *pl->classes);
        pl->p.classes = pl->classes;
    }
    if (params->n_overlaps) {
        pl->overlaps = malloc((size_t)params->n_overlaps * sizeof *pl->overlaps);
        if (!pl->overlaps) goto nomem;
        memcpy(pl->overlaps, params->overlaps, (size_t)params->n_overlaps * sizeof *pl->overlaps);
        pl->p.overlaps = (const double(*)[4])pl->overlaps;
    }
    if ((params->model_path && !pl->model_path) || (params->reid && !pl->reid) ||
        (params->model_type && !pl->model_type) || (params->cache_dir && !pl->p.cache_dir))
        goto nomem;
    if ((st = pan_stages_resolve_backend(params->backend, &pl->backend))) goto fail;
    if (pl->backend == PAN_BACKEND_CUDA && pan_gpu_init(0) == PAN_OK) {
        size_t dev_free = 0, dev_total = 0;
        if (pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK) pl->dev_base = dev_total - dev_free;
    }
    double t_create = pan__now_s();
    if ((st = pan_stages_create(&pl->stages, &pl->p, pl->backend))) goto fail;
    pl->create_s = pan__now_s() - t_create;
    if (pl->dev_base) {
        size_t dev_free = 0, dev_total = 0;
        if (pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK && dev_total - dev_free > pl->dev_base)
            pl->dev_startup = dev_total - dev_free - pl->dev_base;
        pan_log_info("pipeline", -1, "device memory after start-up: %.1f MiB above the context", pl->dev_startup / 1048576.0);
    }
    if ((st = pan_batcher_create(&pl->batcher))) goto fail;
    /* file cameras aligned by timestamps: asked for, or implied by overlapping cameras whose
     * tracks are linked by time (pipeline_sync.c) */
    pl->sync_on = params->sync > 0 || (params->sync == 0 && params->n_overlaps > 0);
    *out = pl;
    return PAN_OK;
nomem:
    st = PAN_NOMEM;
fail:
    pan_pipeline_destroy(&pl);
    return st;
}

pan_backend pan_pipeline_backend(const pan_pipeline *pl) { return pl->backend; }

pan_status pan_pipeline_add_consumer(pan_pipeline *pl, const pan_consumer *c)
{
    if (!pl || !c) return PAN_INVAL;
    pthread_mutex_lock(&pl->lock);
    pan_status st = PAN_OK;
    if (pl->started || pl->stopped) {
        st = PAN_STATE;
    } else {
        pan_consumer *cs = realloc(pl->consumers, (size_t)(pl->n_consumers + 1) * sizeof *cs);
        int *off = realloc(pl->consumer_off, (size_t)(pl->n_consumers + 1) * sizeof *off);
        if (cs) pl->consumers = cs;
        if (off) pl->consumer_off = off;
        if (!cs || !off) {
            st = PAN_NOMEM;
        } else {
            cs[pl->n_consumers] = *c;
            off[pl->n_consumers++] = 0;
        }
    }
    pthread_mutex_unlock(&pl->lock);
    return st;
}

/* pl->lock held. */
static pan_status start_camera(camera *c)
{
    pan__sync_started(c); /* before its task runs: the aligned cameras wait for its first frame */
    if (pan__camera_start(c) == PAN_OK) {
        c->started = 1;
        return PAN_OK;
    }
    pan__sync_start_failed(c);
    pan_log_error("pipeline", c->id, "%s: cannot start the camera (out of memory)", c->uri);
    return PAN_NOMEM;
}

/* Every pool thread: pixel copies it makes count for this pipeline. */
static void io_thread_init(void *opaque, int begin)
{
    pan_pipeline *pl = opaque;
    pan_gpu_pixel_copy_scope(begin ? &pl->pixel_copies : NULL);
}

/* The I/O pool's size: io_threads, or half the cores (at least 2). */
static int io_threads(const pan_pipeline_params *p)
{
    if (p->io_threads > 0) return p->io_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN) / 2;
    return n < 2 ? 2 : n > 64 ? 64 : (int)n;
}

pan_status pan_pipeline_start(pan_pipeline *pl)
{
    if (!pl) return PAN_INVAL;
    pthread_mutex_lock(&pl->lock);
    if (pl->started || pl->stopped) {
        pthread_mutex_unlock(&pl->lock);
        return pl->stopped ? PAN_CLOSED : PAN_STATE;
    }
    pl->t0 = pan__now_s();
    pl->cpu0 = pan__process_cpu_s();
    pl->steady_f0 = -1;
    pl->release_early = 1;
    for (int i = 0; i < pl->n_consumers; i++) pl->release_early &= pl->consumers[i].no_image != 0;
    int n_io = io_threads(&pl->p);
    pan_io_params iop = {.work_threads = n_io, .connect_threads = n_io, .thread_init = io_thread_init, .opaque = pl};
    if (pan_io_create(&pl->io, &iop)) {
        pthread_mutex_unlock(&pl->lock);
        pan_log_error("pipeline", -1, "cannot start the %d camera I/O threads", 2 * n_io);
        return PAN_NOMEM;
    }
    if (pthread_create(&pl->deliver_thread, NULL, pan__deliver_main, pl)) {
        pan_io_destroy(&pl->io);
        pthread_mutex_unlock(&pl->lock);
        pan_log_error("pipeline", -1, "cannot start the delivery thread");
        return PAN_NOMEM;
    }
    pl->deliver_started = 1;
    pl->started = 1;
    /* cameras added before start; one that cannot start a thread fails on its own */
    for (int i = 0; i < pl->n_cams; i++) {
        camera *c = pl->cams[i];
        if (!c->started && start_camera(c)) {
            c->finalized = 1; /* not started, no frames: its end is this event */
            pthread_mutex_unlock(&pl->lock);
            pan__camera_post(c, PAN_CAMERA_FAILED, PAN_NOMEM, "cannot start the camera (out of memory)");
            pthread_mutex_lock(&pl->lock);
        }
    }
    pthread_mutex_unlock(&pl->lock);
    return PAN_OK;
}

camera *pan__camera_find(pan_pipeline *pl, int id)
{
    int lo = 0, hi = pl->n_cams - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        camera *c = pl->cams[mid];
        if (c->id == id) return c;
        if (c->id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

void pan__camera_free(camera *c)
{
    if (!c) return;
    free(c->ctx); /* NULL unless its steps never finished (a pipeline that failed to stop them) */
    pan_stages_cam_destroy(&c->stages);
    pan_batcher_slot_free(&c->slot);
    pthread_mutex_destroy(&c->lock);
    free(c->uri);
    free(c->name);
    free(c);
}

static int pick(int own, int pipeline) { return own ? own : pipeline; }

/* The frames a camera may have waiting: the pipeline's camera_queue, else PANOPTES_CAMERA_QUEUE
 * (1..64, for measuring), else the backend's default (pipeline_internal.h). */
static int camera_queue(const pan_pipeline *pl)
{
    if (pl->p.camera_queue > 0) return pl->p.camera_queue;
    int n = pan__env_int("PANOPTES_CAMERA_QUEUE", 0, 1, 64);
    if (n) return n;
    if (pl->backend == PAN_BACKEND_CUDA) return PAN_CAMERA_QUEUE_NVDEC;
    return pl->p.detect ? PAN_CAMERA_QUEUE : PAN_CAMERA_QUEUE_DECODE_ONLY;
}

pan_status pan_pipeline_add_camera(pan_pipeline *pl, const pan_camera_params *cp, int *id)
{
    if (id) *id = -1;
    if (!pl || !cp || !cp->uri || !*cp->uri) {
        pan_log_error("pipeline", -1, "add_camera: a camera needs a URI");
        return PAN_INVAL;
    }
    if (cp->rtsp_transport < 0 || cp->rtsp_transport > 2 || cp->timeout_ms < 0 || cp->loop < -1 || cp->loop > 1 ||
        cp->max_frames < -1 || cp->reconnect < PAN_RECONNECT_NONE) {
        pan_log_error("pipeline", -1, "add_camera %s: rtsp_transport must be 0..2, timeout_ms >= 0, loop -1..1, "
                      "max_frames >= -1, reconnect >= -2", cp->uri);
        return PAN_INVAL;
    }
    camera *c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    c->pl = pl;
    c->uri = strdup(cp->uri);
    c->name = cp->name && *cp->name ? strdup(cp->name) : NULL;
    pthread_mutex_init(&c->lock, NULL);
    if (!c->uri || (cp->name && *cp->name && !c->name)) {
        pan__camera_free(c);
        return PAN_NOMEM;
    }
    const pan_pipeline_params *p = &pl->p;
    c->loop = cp->loop ? cp->loop > 0 : p->loop;
    c->timeout_ms = pick(cp->timeout_ms, p->timeout_ms);
    c->reconnect = cp->reconnect == 0 ? p->reconnect : cp->reconnect == PAN_RECONNECT_NONE ? 0 : cp->reconnect;
    c->rtsp_udp = cp->rtsp_transport ? cp->rtsp_transport == 2 : p->rtsp_udp;
    c->max_frames = cp->max_frames == -1 ? 0 : cp->max_frames ? cp->max_frames : p->max_frames;
    c->state = PAN_CAMERA_CONNECTING;
    c->sync_t = -INFINITY;
    c->sync_state = PAN_SYNC_LEFT; /* joins when started (pipeline_sync.c) */
    c->sync_pos = c->wait_pos = -1;

    pan_status st = PAN_OK;
    pthread_mutex_lock(&pl->lock);
    if (pl->stopping || pl->stopped) {
        st = PAN_CLOSED;
    } else if (pl->n_cams >= PAN_MAX_CAMERAS) {
        pan_log_error("pipeline", -1, "add_camera %s: already %d cameras (the most one pipeline takes)", cp->uri,
                      PAN_MAX_CAMERAS);
        st = PAN_LIMIT;
    } else if (pl->n_cams == pl->cap_cams) {
        int cap = pl->cap_cams ? pl->cap_cams * 2 : 16;
        camera **cs = realloc(pl->cams, (size_t)cap * sizeof *cs);
        if (cs) pl->cams = cs, pl->cap_cams = cap;
        else st = PAN_NOMEM;
    }
    if (st) {
        pthread_mutex_unlock(&pl->lock);
        pan__camera_free(c);
        return st;
    }
    c->id = pl->next_id++;
    if ((st = pan_batcher_slot_init(&c->slot, c->id, camera_queue(pl)))) {
        pl->next_id--;
        pthread_mutex_unlock(&pl->lock);
        pan__camera_free(c);
        return st;
    }
    pl->cams[pl->n_cams++] = c; /* ids only grow: the list stays sorted */
    if (id) *id = c->id;
    int failed = pl->started && start_camera(c);
    if (failed) c->finalized = 1; /* not started, no frames: its end is the event below */
    pthread_mutex_unlock(&pl->lock);
    pan__camera_post(c, PAN_CAMERA_CONNECTING, PAN_OK, NULL);
    if (failed) pan__camera_post(c, PAN_CAMERA_FAILED, PAN_NOMEM, "cannot start the camera (out of memory)");
    return PAN_OK;
}

pan_status pan_pipeline_remove_camera(pan_pipeline *pl, int id)
{
    if (!pl) return PAN_INVAL;
    pthread_mutex_lock(&pl->lock);
    camera *c = pan__camera_find(pl, id);
    if (!c || c->removing) {
        pthread_mutex_unlock(&pl->lock);
        return PAN_NOTFOUND;
    }
    c->removing = 1;
    if (!c->started || c->finalized) {
        /* never started, or already ended and delivered: it goes now; the delivery thread tells
         * the consumers (pan__camera_post of REMOVED takes it out of the list) */
        pthread_mutex_unlock(&pl->lock);
        pan__camera_post(c, PAN_CAMERA_REMOVED, PAN_OK, NULL);
        return PAN_OK;
    }
    atomic_store(&c->stop, 1);
    /* under the lock: the camera cannot be finalized and freed meanwhile */
    pan__camera_interrupt(c);
    /* its frames still waiting for a batch go now (counted as dropped): under load a removed
     * camera would otherwise linger until each had its turn. Frames already batched are delivered. */
    int n = pan_batcher_discard(pl->batcher, &c->slot);
    if (n) __atomic_fetch_add(&c->dropped, (int64_t)n, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&pl->lock);
    return PAN_OK;
}

/* Queues an event; the delivery thread hands it to the consumers. REMOVED also takes the camera
 * out of the list (and frees it once the event is out). */
void pan__camera_post(camera *c, pan_camera_state state, pan_status status, const char *message)
{
    pan_pipeline *pl = c->pl;
    pending_event *ev = calloc(1, sizeof *ev);
    if (state != PAN_CAMERA_REMOVED) {
        __atomic_store_n(&c->state, (int)state, __ATOMIC_RELAXED);
        if (state == PAN_CAMERA_FAILED) __atomic_store_n(&c->status, (int)status, __ATOMIC_RELAXED);
    }
    if (message && (state == PAN_CAMERA_FAILED || state == PAN_CAMERA_RETRYING)) {
        pthread_mutex_lock(&c->lock);
        snprintf(c->error, sizeof c->error, "%s", message);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_lock(&pl->lock);
    if (state == PAN_CAMERA_REMOVED) {
        int k = 0;
        while (k < pl->n_cams && pl->cams[k] != c) k++;
        if (k < pl->n_cams) {
            memmove(&pl->cams[k], &pl->cams[k + 1], (size_t)(pl->n_cams - k - 1) * sizeof *pl->cams);
            pl->n_cams--;
            pl->removed_frames += c->frames;
            pl->removed_dropped += __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
            pl->removed_reconnects += __atomic_load_n(&c->reconnects, __ATOMIC_RELAXED);
            pl->removed_cameras_cpu_s += c->thread_cpu_s;
        }
        pthread_cond_broadcast(&pl->changed);
    }
    if (ev) {
        ev->e.camera = c->id;
        ev->e.name = dup_or_null(c->name);
        ev->e.uri = dup_or_null(c->uri);
        ev->e.state = state;
        ev->e.status = status;
        ev->e.message = dup_or_null(message);
        *pl->events_tail = ev;
        pl->events_tail = &ev->next;
    }
    pthread_mutex_unlock(&pl->lock);
    if (state == PAN_CAMERA_REMOVED) {
        pan__camera_free(c); /* its task was joined when it was finalized */
    }
}

/* pl->lock held: every camera reached its end and was delivered. */
static int all_cameras_done(const pan_pipeline *pl)
{
    for (int i = 0; i < pl->n_cams; i++)
        if (!pl->cams[i]->finalized) return 0;
    return 1;
}

pan_status pan_pipeline_wait(pan_pipeline *pl, int timeout_ms)
{
    if (!pl) return PAN_INVAL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms > 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    }
    pan_status st = PAN_OK;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        if (pl->status) {
            st = pl->status;
            break;
        }
        if (!pl->started || all_cameras_done(pl)) break;
        if (timeout_ms == 0) {
            st = PAN_TIMEOUT;
            break;
        }
        int rc = timeout_ms < 0 ? pthread_cond_wait(&pl->changed, &pl->lock)
                                : pthread_cond_timedwait(&pl->changed, &pl->lock, &until);
        if (rc == ETIMEDOUT) {
            st = all_cameras_done(pl) ? PAN_OK : PAN_TIMEOUT;
            if (pl->status) st = pl->status;
            break;
        }
    }
    pthread_mutex_unlock(&pl->lock);
    return st;
}

pan_status pan_pipeline_stop(pan_pipeline *pl)
{
    if (!pl) return PAN_INVAL;
    pthread_mutex_lock(&pl->lock);
    if (pl->stopped) {
        pan_status st = pl->status;
        pthread_mutex_unlock(&pl->lock);
        return st;
    }
    pl->stopping = 1;
    for (int i = 0; i < pl->n_cams; i++) atomic_store(&pl->cams[i]->stop, 1);
    int started = pl->started;
    pthread_mutex_unlock(&pl->lock);
    if (started) {
        /* wake every camera's blocking read; they queue what they decoded and end */
        pthread_mutex_lock(&pl->lock);
        for (int i = 0; i < pl->n_cams; i++) pan__camera_interrupt(pl->cams[i]);
        while (!all_cameras_done(pl)) pthread_cond_wait(&pl->changed, &pl->lock);
        pthread_mutex_unlock(&pl->lock);
        /* every camera's last frame was delivered: the delivery thread drains the events, calls
         * on_stop and ends */
        pan_batcher_close(pl->batcher);
        pthread_join(pl->deliver_thread, NULL);
        pl->deliver_started = 0;
        pthread_mutex_lock(&pl->lock);
        pan_io_pool *io = pl->io;
        pl->io_work = pan_io_work_threads(io);
        pl->io_connect = pan_io_threads(io) - pl->io_work;
        pl->io = NULL;
        pthread_mutex_unlock(&pl->lock);
        pan_io_destroy(&io); /* every camera's task finished (joined when it was finalized) */
    } else {
        for (int i = 0; i < pl->n_consumers; i++)
            if (pl->consumers[i].on_stop) pl->consumers[i].on_stop(pl->consumers[i].opaque);
    }
    pthread_mutex_lock(&pl->lock);
    if (started) {
        pl->t_end = pan__now_s();
        pl->cpu_end = pan__process_cpu_s();
    }
    pl->stopped = 1;
    pl->started = 0;
    pan_status st = pl->status;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
    return st;
}

void pan_pipeline_destroy(pan_pipeline **plp)
{
    pan_pipeline *pl = plp ? *plp : NULL;
    if (!pl) return;
    if (pl->batcher) pan_pipeline_stop(pl);
    for (int i = 0; i < pl->n_cams; i++) pan__camera_free(pl->cams[i]);
    free(pl->cams);
    for (pending_event *e = pl->events, *next; e; e = next) {
        next = e->next;
        free((char *)e->e.name);
        free((char *)e->e.uri);
        free((char *)e->e.message);
        free(e);
    }
    pan_batcher_destroy(&pl->batcher);
    pan_stages_destroy(&pl->stages);
    pan__sync_destroy(pl);
    pthread_mutex_destroy(&pl->lock);
    pthread_cond_destroy(&pl->changed);
    free(pl->consumers);
    free(pl->consumer_off);
    free(pl->classes);
    free(pl->overlaps);
    free(pl->model_path);
    free(pl->reid);
    free(pl->model_type);
    free((char *)pl->p.cache_dir);
    free(pl);
    *plp = NULL;
}
