/* Pipeline wiring: camera threads, the batcher, and the stages after it.
 *
 *   camera thread i:  source ──packets──> decoder ──frames──┐
 *                                                          ├─> frame queue (bounded) ──> batcher (this thread):
 *   camera thread j:  source ──packets──> decoder ──frames──┘     detect(batch) → per-frame track → identities → sinks
 *
 * Frames of one camera reach the batcher in decode order (one producer per camera, one consumer),
 * so per-camera state (trackers) needs no locking. A camera that fails logs why, records it in
 * the summary and stops; the others go on. */
#include "panoptes/pipeline.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "panoptes/frame.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "core/queue.h"
#include "io/sink.h"
#include "io/source.h"
#include "pipeline_internal.h"

static volatile sig_atomic_t interrupt_requested;

void pan_pipeline_interrupt(void) { interrupt_requested = 1; }

void pan_pipeline_params_default(pan_pipeline_params *p)
{
    memset(p, 0, sizeof *p);
    p->backend = PAN_BACKEND_AUTO;
    p->detect = 1;
    p->track = 1;
    p->score_threshold = 0.35f;
    p->batch = 0;
    p->batch_timeout_ms = 5;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

double pan__thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int pan__pipeline_stop_requested(void) { return interrupt_requested != 0; }

static void drop_frame(void *item)
{
    pan_frame *f = item;
    pan_frame_unref(&f);
}

static void print_progress(run *r, double t0, int final)
{
    int64_t total = 0;
    for (int i = 0; i < r->p->n_cameras; i++) total += r->cams[i].sum->frames;
    double dt = now_s() - t0;
    fprintf(stderr, "\r%lld frames, %d camera(s), %.1f frames/s   %s", (long long)total, r->p->n_cameras,
            dt > 0 ? (double)total / dt : 0.0, final ? "\n" : "");
}

pan_status pan_pipeline_run(const pan_pipeline_params *p, pan_run_summary *sum)
{
    run r;
    pan_status st;
    int batch_max;
    pan_frame **batch = NULL;
    memset(sum, 0, sizeof *sum);
    memset(&r, 0, sizeof r);
    if (!p || p->n_cameras <= 0 || p->n_cameras > PAN_MAX_CAMERAS || !p->cameras) return PAN_INVAL;
    pan_log_init();
    interrupt_requested = 0;
    r.p = p;
    st = pan_stages_resolve_backend(p->backend, &r.backend);
    if (st) return st;
    sum->backend = r.backend;
    sum->n_cameras = p->n_cameras;
    sum->cameras = calloc((size_t)p->n_cameras, sizeof *sum->cameras);
    r.cams = calloc((size_t)p->n_cameras, sizeof *r.cams);
    if (!sum->cameras || !r.cams) {
        st = PAN_NOMEM;
        goto out;
    }
    for (int i = 0; i < p->n_cameras; i++) pthread_mutex_init(&r.cams[i].lock, NULL);
    size_t dev_free = 0, dev_total = 0, dev_base = 0, dev_peak = 0;
    if (r.backend == PAN_BACKEND_CUDA && pan_gpu_init(0) == PAN_OK && pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK)
        dev_base = dev_total - dev_free;
    st = pan_stages_create(&r.stages, p, r.backend);
    if (st) goto out;
    batch_max = r.stages.batch;
    batch = calloc((size_t)batch_max, sizeof *batch);
    st = batch ? pan_queue_create(&r.frames, batch_max * 2 > 8 ? batch_max * 2 : 8) : PAN_NOMEM;
    if (st) goto out;

    /* file cameras aligned by timestamps: asked for, or implied by overlapping cameras whose
     * tracks are linked by time (pipeline_sync.c) */
    r.sync_on = p->n_cameras > 1 && (p->sync > 0 || (p->sync == 0 && p->n_overlaps > 0));
    if ((st = pan__sync_init(&r))) goto out;
    if (r.sync_on) pan_log_info("pipeline", -1, "file cameras aligned by timestamps (within %.1f s)", PAN_SYNC_WINDOW_S);

    double t0 = now_s(), c0 = cpu_s(), last_progress = t0, b0 = 0;
    r.t0 = t0;
    atomic_init(&r.live, p->n_cameras);
    for (int i = 0; i < p->n_cameras; i++) {
        camera *c = &r.cams[i];
        c->run = &r;
        c->index = i;
        c->uri = p->cameras[i];
        c->sum = &sum->cameras[i];
        c->sum->uri = p->cameras[i];
    }
    for (int i = 0; i < p->n_cameras; i++) {
        camera *c = &r.cams[i];
        if (pthread_create(&c->thread, NULL, pan__camera_main, c) == 0) {
            c->started = 1;
        } else {
            c->sum->status = PAN_NOMEM;
            pan_log_error("pipeline", i, "%s: cannot start the camera thread", c->uri);
            if (atomic_fetch_sub(&r.live, 1) == 1) pan_queue_close(r.frames);
        }
    }

    b0 = pan__thread_cpu_s(); /* the batcher's share starts here (after starting the cameras) */
    /* The batcher: the first frame waits (waking up to notice interrupts), the rest of the batch
     * waits at most batch_timeout_ms, so a slow camera never holds the others back. */
    int interrupted_seen = 0;
    pan_status run_st = PAN_OK;
    /* steady state: [first batch after PAN_STEADY_AFTER_S, last batch] */
    int64_t done = 0, steady_f0 = -1, steady_f1 = 0;
    double steady_t0 = 0, steady_c0 = 0, steady_t1 = 0, steady_c1 = 0;
    for (;;) {
        int n = 0;
        void *item;
        pan_status q = pan_queue_pop(r.frames, &item, 100);
        if (pan__pipeline_stop_requested() && !interrupted_seen) {
            interrupted_seen = 1;
            pan__camera_interrupt_all(&r);
        }
        if (q == PAN_TIMEOUT) continue;
        if (q == PAN_EOF) break;
        batch[n++] = item;
        double deadline = now_s() + (p->batch_timeout_ms > 0 ? p->batch_timeout_ms : 5) * 1e-3;
        while (n < batch_max) {
            int wait_ms = (int)((deadline - now_s()) * 1000);
            if (wait_ms < 0) wait_ms = 0;
            if (pan_queue_pop(r.frames, &item, wait_ms) != PAN_OK) break;
            batch[n++] = item;
        }
        pan_status bs = pan_stages_process_batch(&r.stages, batch, n, sum);
        for (int i = 0; i < n; i++) {
            r.cams[batch[i]->camera].sum->frames++;
            pan_frame_unref(&batch[i]);
        }
        done += n;
        double tb = now_s();
        if (steady_f0 < 0 && tb - t0 >= PAN_STEADY_AFTER_S) {
            steady_f0 = done, steady_t0 = tb, steady_c0 = cpu_s();
        } else if (steady_f0 >= 0) {
            steady_f1 = done, steady_t1 = tb, steady_c1 = cpu_s();
        }
        if (bs) {
            /* a stage failing (a sink's disk full, the GPU out of memory) ends the run cleanly */
            pan_log_error("pipeline", -1, "stopping: %s", pan_status_str(bs));
            run_st = bs;
            pan_pipeline_interrupt();
        }
        if (now_s() - last_progress > 0.5) {
            if (p->progress) print_progress(&r, t0, 0);
            /* device memory peaks while every decoder is alive: sample it here, not at the end */
            if (dev_base && pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK && dev_total - dev_free > dev_peak)
                dev_peak = dev_total - dev_free;
            last_progress = now_s();
        }
    }
    double batcher_cpu = pan__thread_cpu_s() - b0;
    for (int i = 0; i < p->n_cameras; i++)
        if (r.cams[i].started) pthread_join(r.cams[i].thread, NULL);
    if (p->progress) print_progress(&r, t0, 1);

    sum->wall_s = now_s() - t0;
    double cpu = cpu_s() - c0;
    for (int i = 0; i < p->n_cameras; i++) {
        sum->frames += sum->cameras[i].frames;
        sum->dropped += sum->cameras[i].dropped;
        sum->reconnects += sum->cameras[i].reconnects;
        if (sum->cameras[i].status) sum->failed_cameras++;
    }
    sum->fps = sum->wall_s > 0 ? (double)sum->frames / sum->wall_s : 0;
    sum->cpu_ms_per_frame = sum->frames ? cpu * 1000.0 / (double)sum->frames : 0;
    if (sum->frames) {
        double cams_cpu = 0;
        for (int i = 0; i < p->n_cameras; i++) cams_cpu += sum->cameras[i].cpu_s;
        double k = 1000.0 / (double)sum->frames;
        sum->cpu_ms_per_frame_cameras = cams_cpu * k;
        sum->cpu_ms_per_frame_batcher = batcher_cpu * k;
        sum->cpu_ms_per_frame_other = sum->cpu_ms_per_frame - (cams_cpu + batcher_cpu) * k;
    }
    if (steady_f0 >= 0 && steady_f1 > steady_f0 && steady_t1 > steady_t0) {
        sum->steady_fps = (double)(steady_f1 - steady_f0) / (steady_t1 - steady_t0);
        sum->steady_cpu_ms_per_frame = (steady_c1 - steady_c0) * 1000.0 / (double)(steady_f1 - steady_f0);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    sum->peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    sum->interrupted = interrupted_seen;
    if (dev_base && pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK && dev_total - dev_free > dev_peak)
        dev_peak = dev_total - dev_free;
    if (dev_base) sum->device_mib_used = ((double)dev_peak - (double)dev_base) / (1024.0 * 1024.0);
    sum->pixel_bytes_copied = (int64_t)pan_gpu_pixel_bytes_copied();
    st = run_st;
out:
    if (r.frames) pan_queue_destroy(&r.frames, drop_frame);
    pan__sync_destroy(&r);
    pan_stages_destroy(&r.stages, sum);
    if (r.cams)
        for (int i = 0; i < p->n_cameras; i++) pthread_mutex_destroy(&r.cams[i].lock);
    free(r.cams);
    free(batch);
    return st;
}

void pan_run_summary_free(pan_run_summary *sum)
{
    if (!sum) return;
    free(sum->cameras);
    sum->cameras = NULL;
}
