/* Prometheus text format (src/serve/metrics.h). */
#include "serve/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline (the format's only escapes). */
static void label_value(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\') fputs("\\\\", f);
        else if (*s == '"') fputs("\\\"", f);
        else if (*s == '\n') fputs("\\n", f);
        else fputc(*s, f);
    }
}

static void number(FILE *f, double x)
{
    if (isnan(x)) fputs("NaN", f);
    else if (isinf(x)) fputs(x > 0 ? "+Inf" : "-Inf", f);
    else fprintf(f, "%.10g", x);
}

static void camera_labels(FILE *f, const pan_serve_camera_info *c)
{
    fprintf(f, "{camera=\"%d\",name=\"", c->id);
    label_value(f, c->name);
    fputc('"', f);
}

/* One metric with a value per camera. */
typedef double (*camera_value_fn)(const pan_serve_camera_info *c);
static double v_fps(const pan_serve_camera_info *c) { return c->fps; }
static double v_frames(const pan_serve_camera_info *c) { return (double)c->frames; }
static double v_dropped(const pan_serve_camera_info *c) { return (double)c->dropped; }
static double v_decode_errors(const pan_serve_camera_info *c) { return (double)c->decode_errors; }
static double v_reconnects(const pan_serve_camera_info *c) { return (double)c->reconnects; }
static double v_detections(const pan_serve_camera_info *c) { return (double)c->detections; }

static void per_camera(FILE *f, const pan_serve_stats *s, const char *name, const char *type, const char *help,
                       camera_value_fn value)
{
    header(f, name, type, help);
    for (int i = 0; i < s->n_cameras; i++) {
        fputs(name, f);
        camera_labels(f, &s->cameras[i]);
        fputs("} ", f);
        number(f, value(&s->cameras[i]));
        fputc('\n', f);
    }
}

static void single(FILE *f, const char *name, const char *type, const char *help, double x)
{
    header(f, name, type, help);
    fputs(name, f);
    fputc(' ', f);
    number(f, x);
    fputc('\n', f);
}

/* Buckets are given per bucket (not cumulative) with their upper bounds; the format wants them
 * cumulative, ending with le="+Inf" equal to _count. */
static void histogram(FILE *f, const char *name, const char *help, int n, const double *le, const int64_t *count,
                      double sum)
{
    int64_t cum = 0;
    header(f, name, "histogram", help);
    for (int k = 0; k < n; k++) {
        cum += count[k];
        fprintf(f, "%s_bucket{le=\"", name);
        number(f, le[k]);
        fprintf(f, "\"} %lld\n", (long long)cum);
    }
    cum += count[n];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum ", name, (long long)cum, name);
    number(f, sum);
    fprintf(f, "\n%s_count %lld\n", name, (long long)cum);
}

char *pan_serve_metrics_text(const pan_serve_stats *s, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f) return NULL;

    single(f, "panoptes_up", "gauge", "1 while the pipeline runs, 0 once it has failed or is stopping.",
           s->running && !s->failed);
    single(f, "panoptes_uptime_seconds", "gauge", "Seconds since the pipeline started.", s->uptime_s);
    single(f, "panoptes_cameras", "gauge", "Cameras in the pipeline (ended and failed ones included).", s->n_cameras);
    single(f, "panoptes_cameras_draining", "gauge",
           "Cameras removed whose decoded frames are still being delivered.", s->draining_cameras);

    header(f, "panoptes_camera_state", "gauge", "1 for the camera's current state, 0 for the others.");
    for (int i = 0; i < s->n_cameras; i++)
        for (int k = 0; k < PAN_SERVE_N_STATES; k++) {
            fputs("panoptes_camera_state", f);
            camera_labels(f, &s->cameras[i]);
            fprintf(f, ",state=\"%s\"} %d\n", pan_serve_state_names[k],
                    s->cameras[i].state && !strcmp(s->cameras[i].state, pan_serve_state_names[k]));
        }
    per_camera(f, s, "panoptes_camera_frames_per_second", "gauge", "Frames delivered per second, recently.", v_fps);
    per_camera(f, s, "panoptes_camera_frames_total", "counter", "Frames delivered.", v_frames);
    per_camera(f, s, "panoptes_camera_dropped_frames_total", "counter",
               "Decoded frames dropped because the pipeline was behind (live cameras).", v_dropped);
    per_camera(f, s, "panoptes_camera_decode_errors_total", "counter", "Damaged packets or pictures.", v_decode_errors);
    per_camera(f, s, "panoptes_camera_reconnects_total", "counter", "Connections re-established after a loss.",
               v_reconnects);
    per_camera(f, s, "panoptes_camera_detections_total", "counter", "Detections reported.", v_detections);

    single(f, "panoptes_frames_total", "counter", "Frames delivered, all cameras (removed ones included).",
           (double)s->frames);
    single(f, "panoptes_dropped_frames_total", "counter", "Frames dropped, all cameras (removed ones included).",
           (double)s->dropped);
    single(f, "panoptes_reconnects_total", "counter", "Reconnections, all cameras (removed ones included).",
           (double)s->reconnects);
    single(f, "panoptes_host_cpu_seconds_total", "counter", "Host CPU time (user + system) of the process since start.",
           s->cpu_seconds);
    single(f, "panoptes_host_cpu_seconds_per_frame", "gauge", "Host CPU time per delivered frame since start.",
           s->cpu_ms_per_frame / 1000.0);
    single(f, "panoptes_peak_resident_memory_bytes", "gauge", "Peak resident host memory of the process.",
           s->peak_rss_mib * 1048576.0);
    single(f, "panoptes_resident_memory_bytes", "gauge", "Resident host memory of the process now.",
           s->rss_mib * 1048576.0);
    single(f, "panoptes_device_memory_bytes", "gauge", "Device memory added since start, at its peak (cuda backend).",
           s->device_mib_used * 1048576.0);
    single(f, "panoptes_device_memory_now_bytes", "gauge", "Device memory added since start, now (cuda backend).",
           s->device_mib_now * 1048576.0);
    single(f, "panoptes_pixel_copied_bytes_total", "counter",
           "Pixel bytes copied between host and device (snapshots and annotated video only on cuda).",
           (double)s->pixel_bytes_copied);

    /* batch_hist[k] counts sizes 2^k .. 2^(k+1)-1: integer sizes, so the bucket's bound is 2^(k+1)-1 */
    double le[PAN_SERVE_BATCH_HIST - 1];
    int64_t counts[PAN_SERVE_BATCH_HIST];
    for (int k = 0; k < PAN_SERVE_BATCH_HIST; k++) {
        if (k < PAN_SERVE_BATCH_HIST - 1) le[k] = (double)((2 << k) - 1);
        counts[k] = s->batch_hist[k];
    }
    histogram(f, "panoptes_batch_size", "Frames per detector batch.", PAN_SERVE_BATCH_HIST - 1, le, counts,
              nearbyint(s->batch_mean * (double)s->batches));
    if (s->n_latency > 0)
        histogram(f, "panoptes_frame_latency_seconds", "Time from a frame's decoding to its delivery.", s->n_latency,
                  s->latency_le, s->latency_count, s->latency_sum_s);

    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    if (len) *len = n;
    return text;
}
