/* Statistics of a pipeline (pan_pipeline_get_stats): a snapshot the caller owns. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/devpool.h"
#include "core/gpu.h"
#include "decode/decoder.h"
#include "pipeline_internal.h"

#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static char *dup_str(const char *s) { return strdup(s ? s : ""); }

/* The process's resident set now (/proc/self/statm), 0 where it cannot be read. */
static double rss_now_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return 0;
    int ok = fscanf(f, "%ld %ld", &pages, &resident) == 2;
    fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : 0;
}

/* The upper edge (ms) of the latency bucket holding the q-quantile; 0 when there is none. */
static double percentile_ms(const int64_t *hist, double q)
{
    int64_t total = 0, seen = 0;
    for (int k = 0; k < PAN_LATENCY_HIST; k++) total += hist[k];
    if (!total) return 0;
    for (int k = 0; k < PAN_LATENCY_HIST; k++) {
        seen += hist[k];
        if ((double)seen >= q * (double)total) return PAN_LATENCY_MIN_MS * pow(2.0, (k + 1) / 4.0);
    }
    return PAN_LATENCY_MIN_MS * pow(2.0, PAN_LATENCY_HIST / 4.0);
}

/* pl->lock held. */
static pan_status camera_stats(camera *c, pan_camera_stats *s)
{
    s->id = c->id;
    s->name = dup_str(c->name);
    s->uri = dup_str(c->uri);
    pthread_mutex_lock(&c->lock);
    s->error = dup_str(c->error);
    pthread_mutex_unlock(&c->lock);
    if (!s->name || !s->uri || !s->error) return PAN_NOMEM;
    s->state = (pan_camera_state)GET(c->state);
    s->status = (pan_status)GET(c->status);
    s->live = GET(c->live);
    int dec = GET(c->decoder);
    s->decoder = dec ? pan_decoder_kind_name((pan_decoder_kind)(dec - 1)) : "";
    s->frames = c->frames;
    s->fps = c->fps;
    s->detections = c->detections;
    s->dropped = GET(c->dropped);
    s->decode_errors = GET(c->decode_errors);
    s->frames_lost = GET(c->frames_lost);
    s->surfaces_mib = (double)GET(c->surface_bytes) / (1024.0 * 1024.0);
    s->packets = GET(c->packets);
    s->reconnects = GET(c->reconnects);
    s->failed_attempts = GET(c->failed_attempts);
    s->outage_s = c->outage_s;
    s->thread_cpu_s = c->thread_cpu_s;
    return PAN_OK;
}

pan_status pan_pipeline_get_stats(pan_pipeline *pl, pan_pipeline_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!pl) return PAN_INVAL;
    double now = pan__now_s(), cpu = pan__process_cpu_s();
    pan_status st = PAN_OK;
    pthread_mutex_lock(&pl->lock);
    if (pl->t_end > 0) now = pl->t_end, cpu = pl->cpu_end;
    s->backend = pl->backend;
    s->running = pl->started && !pl->stopped;
    s->io_threads = pl->io ? pan_io_work_threads(pl->io) : pl->io_work;
    s->connect_threads = pl->io ? pan_io_threads(pl->io) - s->io_threads : pl->io_connect;
    s->status = pl->status;
    s->uptime_s = pl->t0 > 0 ? now - pl->t0 : 0;
    s->create_s = pl->create_s;
    s->first_frame_s = pl->first_frame_t > 0 && pl->t0 > 0 ? pl->first_frame_t - pl->t0 : 0;
    s->cameras = pl->n_cams ? calloc((size_t)pl->n_cams, sizeof *s->cameras) : NULL;
    if (pl->n_cams && !s->cameras) st = PAN_NOMEM;
    double cams_cpu = pl->removed_cameras_cpu_s;
    s->frames = pl->removed_frames;
    s->dropped = pl->removed_dropped;
    s->reconnects = pl->removed_reconnects;
    for (int i = 0; !st && i < pl->n_cams; i++) {
        pan_camera_stats *c = &s->cameras[s->n_cameras++];
        st = camera_stats(pl->cams[i], c);
        s->frames += c->frames;
        s->dropped += c->dropped;
        s->reconnects += c->reconnects;
        cams_cpu += c->thread_cpu_s;
        if (c->state == PAN_CAMERA_FAILED) s->failed_cameras++;
        if (c->state == PAN_CAMERA_STOPPED) s->stopped_cameras++;
    }
    s->fps = s->uptime_s > 0 ? (double)s->frames / s->uptime_s : 0;
    if (pl->t0 > 0 && s->frames) {
        double k = 1000.0 / (double)s->frames;
        s->cpu_ms_per_frame = (cpu - pl->cpu0) * k;
        s->cpu_ms_per_frame_cameras = cams_cpu * k;
        s->cpu_ms_per_frame_delivery = (pl->deliver_cpu_s + pl->infer_cpu_s) * k;
        s->cpu_ms_per_frame_other = s->cpu_ms_per_frame - s->cpu_ms_per_frame_cameras - s->cpu_ms_per_frame_delivery;
    }
    s->batches = pl->batches;
    s->batch_max = pl->stages.batch;
    s->batch_mean = pl->batches ? (double)pl->frames_done / (double)pl->batches : 0;
    memcpy(s->batch_hist, pl->batch_hist, sizeof s->batch_hist);
    memcpy(s->latency_hist, pl->latency_hist, sizeof s->latency_hist);
    s->latency_max_ms = pl->latency_max_s * 1e3;
    s->latency_sum_s = pl->latency_sum_s;
    s->latency_p50_ms = fmin(percentile_ms(s->latency_hist, 0.50), s->latency_max_ms);
    s->latency_p99_ms = fmin(percentile_ms(s->latency_hist, 0.99), s->latency_max_ms);
    if (pl->steady_f0 >= 0 && pl->steady_f1 > pl->steady_f0 && pl->steady_t1 > pl->steady_t0) {
        s->steady_fps = (double)(pl->steady_f1 - pl->steady_f0) / (pl->steady_t1 - pl->steady_t0);
        s->steady_cpu_ms_per_frame =
            (pl->steady_c1 - pl->steady_c0) * 1000.0 / (double)(pl->steady_f1 - pl->steady_f0);
    }
    s->device_mib_startup = (double)pl->dev_startup / (1024.0 * 1024.0);
    if (pl->dev_base) s->device_mib_used = ((double)pl->dev_peak - (double)pl->dev_base) / (1024.0 * 1024.0);
    size_t dev_free, dev_total;
    if (pl->dev_base && pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK)
        s->device_mib_now = ((double)(dev_total - dev_free) - (double)pl->dev_base) / (1024.0 * 1024.0);
    pan_devpool *pool = NULL;
    if (pl->dev_base && pan_devpool_get(0, &pool) == PAN_OK) {
        pan_devpool_owner_use use[PAN_DEVICE_USES];
        int n = pan_devpool_usage_by_owner(pool, use, PAN_DEVICE_USES);
        s->n_device_uses = n < PAN_DEVICE_USES ? n : PAN_DEVICE_USES;
        for (int i = 0; i < s->n_device_uses; i++)
            s->device_uses[i] = (pan_device_use){use[i].owner, (double)use[i].bytes / (1024.0 * 1024.0), use[i].blocks};
        pan_devpool_stats ps;
        pan_devpool_get_stats(pool, &ps);
        s->device_mib_pool = (double)ps.bytes_in_use / (1024.0 * 1024.0);
    }
    for (int i = 0; i < s->n_cameras; i++) s->device_mib_surfaces += s->cameras[i].surfaces_mib;
    s->pixel_bytes_copied = (int64_t)pan_gpu_pixel_copy_scope_read(&pl->pixel_copies);
    pthread_mutex_unlock(&pl->lock);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    s->rss_mib = rss_now_mib();
    if (st) pan_pipeline_stats_free(s);
    return st;
}

void pan_pipeline_stats_free(pan_pipeline_stats *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_cameras; i++) {
        free(s->cameras[i].name);
        free(s->cameras[i].uri);
        free(s->cameras[i].error);
    }
    free(s->cameras);
    s->cameras = NULL;
    s->n_cameras = 0;
}
