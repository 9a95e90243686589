/* panoptes run: the main job. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <getopt.h>

#include "analytics/consumer.h"
#include "cli.h"
#include "io/outputs.h"
#include "vision/detector.h"
#include "panoptes/detection.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"

static void usage(FILE *f)
{
    fputs("usage: panoptes run [options]\n"
          "\n"
          "Decodes camera streams, detects objects, tracks them, and writes one JSON object per frame per\n"
          "camera. With no --camera, runs the bundled sample (data/vtest.mp4, made by scripts/setup.sh).\n"
          "\n"
          "  --camera URI        a file (MP4, MKV, AVI, TS), an Annex-B .h264/.h265, rtsp:// or http:// URL;\n"
          "                      repeat for more cameras (camera N = the N-th --camera, from 0)\n"
          "  --name NAME         a name for the --camera before it (written as \"name\" in JSON Lines)\n"
          "  --cameras FILE      cameras from a file, one URI per line (# starts a comment), numbered in\n"
          "                      order with the --camera options around it\n"
          "  --backend B         auto (default: cuda when an NVIDIA GPU with NVDEC is usable), cpu, cuda\n"
          "  --out FILE          JSON Lines results ('-' = stdout)\n"
          "  --mot DIR           MOTChallenge track files, DIR/camN.txt\n"
          "  --annotate FILE     video of one camera with boxes and ids (copies frames to the host)\n"
          "  --annotate-camera N the camera --annotate shows (default 0)\n"
          "  --max-frames N      stop each camera after N frames\n"
          "  --duration S        stop the run after S seconds (cameras not at their end are marked\n"
          "                      stopped; the exit status is 0 unless one failed)\n"
          "  --loop              restart file sources at their end\n"
          "  --model FILE        detector: TF.js model.json or a YOLO/RT-DETR .onnx (default models/nanodet.json)\n"
          "  --model-type T      the detector family when the model does not say: auto (default), nanodet,\n"
          "                      yolov5, yolov7, yolox, yolox-decoded, yolov8, yolo11, yolov10, rtdetr\n"
          "  --classes LIST      keep only these classes, e.g. person,car (COCO names or ids)\n"
          "  --score X           minimum detection score (default 0.35)\n"
          "  --no-detect         decode only (no detection or tracking)\n"
          "  --no-track          detect without tracking\n"
          "  --reid R            appearance for tracking: default (the default: a colour descriptor, no\n"
          "                      model), off, or an ONNX ReID model (OSNet/torchreid style, [B,3,H,W] RGB in,\n"
          "                      [B,D] out; its embeddings also link identities across cameras)\n"
          "  --reid-interval N   ReID on every Nth frame of each camera only (default 1: every frame); the\n"
          "                      frames between are tracked by motion, the tracks keep their embeddings\n"
          "                      (synthetic scenes: N = 2 keeps ~60% of appearance's gain, N >= 5 none)\n"
          "  --overlap A,B,DX,DY cameras A and B see the same scene shifted: pixel (x,y) of A is (x+DX,y+DY)\n"
          "                      in B (repeatable); links their tracks into one global id\n"
          "  --batch N           frames per batch (default: 1 on cpu, 32 on cuda, 64 with --no-detect)\n"
          "  --cache-dir DIR     the cuda engines' plan cache: their chosen cuDNN engines, kept so that the\n"
          "                      next start with the same models and GPU skips measuring (default\n"
          "                      $PANOPTES_CACHE_DIR, else $XDG_CACHE_HOME/panoptes, else ~/.cache/panoptes)\n"
          "  --no-plan-cache     plan every start from scratch (same as --cache-dir off)\n"
          "  --fallback cpu      a camera NVDEC cannot decode uses the cpu decoder\n"
          "  --threads N         libavcodec threads per camera (cpu decoder)\n"
          "  --camera-queue N    decoded frames a camera may have waiting for a batch, 1..64 (default 2 on\n"
          "                      cuda: each is an NVDEC surface, 4 MiB at 1080p; 4 on cpu)\n"
          "  --io-threads N      threads that read and decode all cameras (default: half the cores, at\n"
          "                      least 2; as many again open sources); they do not grow with the cameras\n"
          "  --timeout MS        network timeout per blocking step (default 5000)\n"
          "  --reconnect N       a network camera that cannot connect or is lost is tried N more times in a\n"
          "                      row, waiting 0.5 s, 1 s, 2 s... (up to --max-backoff); -1 = forever (default 0)\n"
          "  --max-backoff S     longest wait between reconnect attempts, seconds (default 30)\n"
          "  --rtsp-transport T  tcp (default) or udp\n"
          "  --realtime          read files at their native frame rate (live cameras always are); like live\n"
          "                      cameras they then drop frames (counted) when processing falls behind\n"
          "  --sync, --no-sync   keep file cameras within 0.1 s of each other's timestamps (default: on with\n"
          "                      --overlap, whose cross-camera links compare timestamps; the run goes as fast\n"
          "                      as the slowest file)\n"
          "  --analytics FILE    counting lines and zones per camera (README.md, \"Analytics and events\");\n"
          "                      each JSONL line gets \"analytics\": counts so far and zone occupancy, the\n"
          "                      annotated video shows them\n"
          "  --events FILE       events (track_start/end, line_cross, zone_enter/exit, identity_link) as\n"
          "                      JSON Lines\n"
          "  --mqtt URL          events to an MQTT broker, mqtt://host[:port]/prefix (QoS 1, topics\n"
          "                      prefix/<camera>/events); a broker that is down never stops the run\n"
          "  --summary-json FILE write the end-of-run summary as JSON\n"
          "  --stats-jsonl FILE  while running, a JSON line of figures every --stats-every seconds\n"
          "                      (default 10; '-' = stdout): frames/s and host CPU ms per frame over the\n"
          "                      interval, dropped frames, resident and device memory now (a long run's\n"
          "                      memory slope), latency p50/p99 so far\n"
          "  --quiet             no summary on stderr\n"
          "\n"
          "Exit status: 0 every camera ran to its end, 1 some camera failed, 2 bad usage, 3 the run failed\n"
          "(a model, an output or the GPU), 4 every camera ran to its end but some file lost frames to damage\n"
          "or ended before its container said it would (marked `damaged` / `truncated` with counts),\n"
          "130 / 143 interrupted by SIGINT / SIGTERM (cameras stopped before their end are marked\n"
          "`stopped`; every finished frame is written).\n",
          f);
}

/* The texts of the --cameras files: the camera URIs point into them until the run is over. */
static char *camera_texts[16];
static int n_camera_texts;

static void free_camera_lists(void)
{
    while (n_camera_texts > 0) free(camera_texts[--n_camera_texts]);
}

/* --cameras FILE: one URI per line; blank lines and comments (from a '#' at the start of a line or
 * after a space) are skipped, spaces around a URI trimmed. 0 on success, else 2 (usage) with a message naming the file. */
static int read_camera_list(const char *path, const char **cams, const char **names, int *n_cams)
{
    if (n_camera_texts == 16) {
        fprintf(stderr, "panoptes run: at most 16 --cameras files\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "panoptes run: --cameras %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t len = 0, cap = 4096;
    char *t = malloc(cap);
    size_t got;
    while (t && (got = fread(t + len, 1, cap - 1 - len, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nt = realloc(t, cap *= 2);
            if (!nt) free(t);
            t = nt;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!t || bad) {
        free(t);
        fprintf(stderr, "panoptes run: --cameras %s: cannot read it\n", path);
        return 2;
    }
    t[len] = '\0';
    camera_texts[n_camera_texts++] = t;
    int before = *n_cams, line_no = 0;
    for (char *line = t; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        /* a '#' at the start or after a space starts a comment (a URI may hold '#' inside) */
        for (char *h = strchr(line, '#'); h; h = strchr(h + 1, '#'))
            if (h == line || isspace((unsigned char)h[-1])) {
                *h = '\0';
                break;
            }
        while (isspace((unsigned char)*line)) line++;
        char *end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1])) *--end = '\0';
        if (*line) {
            if (*n_cams >= PAN_MAX_CAMERAS) {
                fprintf(stderr, "panoptes run: --cameras %s:%d: at most %d cameras\n", path, line_no, PAN_MAX_CAMERAS);
                return 2;
            }
            names[*n_cams] = NULL;
            cams[(*n_cams)++] = line;
        }
        line = next;
    }
    if (*n_cams == before) {
        fprintf(stderr, "panoptes run: --cameras %s lists no camera (one URI per line, # for comments)\n", path);
        return 2;
    }
    return 0;
}


/* SIGINT/SIGTERM: the main thread notices, stops the pipeline (every decoded frame is delivered)
 * and exits 128 + the signal. A second signal ends the process the ordinary way. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

static int parse_classes(const char *s, int *out, int max)
{
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long v = strtol(tok, &end, 10);
        int id = *end == 0 ? (int)v : pan_coco_class(tok);
        if (id < 0 || id >= PAN_COCO_CLASSES) {
            fprintf(stderr, "panoptes run: unknown class '%s' (use COCO names such as person, car, or ids 0..79)\n", tok);
            return -1;
        }
        if (n < max) out[n++] = id;
    }
    return n;
}

/* Whole-string numbers in a range; a usage error names the option, the value and the range. */


/* --stats-jsonl: one line per interval; rates over the interval, memory now. */
typedef struct stats_sampler {
    FILE *f;
    double every_s, next_s;
    int64_t frames;    /* at the previous line */
    double t, cpu_ms;  /* uptime and process CPU ms then */
} stats_sampler;

static void sample_stats(stats_sampler *sp, pan_pipeline *pl)
{
    sp->next_s += sp->every_s;
    pan_pipeline_stats s;
    if (pan_pipeline_get_stats(pl, &s)) return;
    double cpu_ms = s.cpu_ms_per_frame * (double)s.frames;
    int64_t df = s.frames - sp->frames;
    double dt = s.uptime_s - sp->t;
    fprintf(sp->f,
            "{\"t\":%.3f,\"frames\":%lld,\"fps\":%.2f,\"cpu_ms_per_frame\":%.4f,\"dropped\":%lld,"
            "\"rss_mib\":%.1f,\"device_mib_now\":%.1f,\"device_mib_peak\":%.1f,\"latency_p50_ms\":%.3f,"
            "\"latency_p99_ms\":%.3f,\"cameras\":%d,\"failed_cameras\":%d}\n",
            s.uptime_s, (long long)s.frames, dt > 0 ? (double)df / dt : 0, df > 0 ? (cpu_ms - sp->cpu_ms) / (double)df : 0,
            (long long)s.dropped, s.rss_mib, s.device_mib_now, s.device_mib_used, s.latency_p50_ms, s.latency_p99_ms,
            s.n_cameras, s.failed_cameras);
    fflush(sp->f);
    sp->frames = s.frames;
    sp->t = s.uptime_s;
    sp->cpu_ms = cpu_ms;
    pan_pipeline_stats_free(&s);
}

/* A camera that ran to its end but lost frames to damage, or whose file ended early. */
static int damaged(const pan_camera_stats *c) { return c->status == PAN_DAMAGED || c->status == PAN_TRUNCATED; }

static void write_summary(FILE *f, const pan_pipeline_stats *s, int interrupted, int json)
{
    if (json) {
        fprintf(f, "{\"backend\":\"%s\",\"cameras\":[", pan_backend_name(s->backend));
        for (int i = 0; i < s->n_cameras; i++) {
            const pan_camera_stats *c = &s->cameras[i];
            fprintf(f, "%s{\"camera\":%d,\"name\":\"%s\",\"frames\":%lld,\"detections\":%lld,\"decoder\":\"%s\","
                       "\"decode_errors\":%lld,\"frames_lost\":%lld,\"status\":\"%s\"",
                    i ? "," : "", c->id, c->name, (long long)c->frames, (long long)c->detections,
                    *c->decoder ? c->decoder : "none", (long long)c->decode_errors, (long long)c->frames_lost,
                    c->status ? pan_status_name(c->status) : "ok");
            if (damaged(c)) { /* what was lost, in words (no quotes or backslashes in it) */
                fputs(",\"damage\":\"", f);
                for (const char *q = c->error; *q; q++) fputc(*q == '"' || *q == '\\' || (unsigned char)*q < 0x20 ? ' ' : *q, f);
                fputc('"', f);
            }
            fprintf(f, ",\"state\":\"%s\",\"live\":%s,\"dropped\":%lld,\"reconnects\":%lld,\"failed_attempts\":%lld,"
                       "\"outage_s\":%.3f,\"thread_cpu_s\":%.3f,\"surfaces_mib\":%.1f}",
                    pan_camera_state_name(c->state), c->live ? "true" : "false", (long long)c->dropped,
                    (long long)c->reconnects, (long long)c->failed_attempts, c->outage_s, c->thread_cpu_s,
                    c->surfaces_mib);
        }
        fprintf(f, "],\"frames\":%lld,\"wall_s\":%.3f,\"fps\":%.2f,\"cpu_ms_per_frame\":%.4f,\"peak_rss_mib\":%.1f,"
                   "\"pixel_bytes_copied\":%lld,\"device_mib_used\":%.1f,\"failed_cameras\":%d,\"interrupted\":%s,"
                   "\"stopped_cameras\":%d,\"dropped\":%lld,\"reconnects\":%lld,\"steady_fps\":%.2f,"
                   "\"steady_cpu_ms_per_frame\":%.4f,\"cpu_ms_per_frame_cameras\":%.4f,\"cpu_ms_per_frame_batcher\":%.4f,"
                   "\"cpu_ms_per_frame_other\":%.4f,\"batches\":%lld,\"batch_mean\":%.2f,\"latency_p50_ms\":%.3f,"
                   "\"latency_p99_ms\":%.3f,\"latency_max_ms\":%.3f,\"io_threads\":%d,\"create_s\":%.3f,"
                   "\"first_frame_s\":%.3f,\"device_mib_now\":%.1f,\"rss_mib\":%.1f,\"device_mib_pool\":%.1f,"
                   "\"device_mib_surfaces\":%.1f,\"device_mib_startup\":%.1f,\"device_uses\":{",
                (long long)s->frames, s->uptime_s, s->fps, s->cpu_ms_per_frame, s->peak_rss_mib,
                (long long)s->pixel_bytes_copied, s->device_mib_used, s->failed_cameras, interrupted ? "true" : "false",
                s->stopped_cameras, (long long)s->dropped, (long long)s->reconnects, s->steady_fps,
                s->steady_cpu_ms_per_frame, s->cpu_ms_per_frame_cameras, s->cpu_ms_per_frame_delivery,
                s->cpu_ms_per_frame_other, (long long)s->batches, s->batch_mean, s->latency_p50_ms, s->latency_p99_ms,
                s->latency_max_ms, s->io_threads, s->create_s, s->first_frame_s, s->device_mib_now, s->rss_mib,
                s->device_mib_pool, s->device_mib_surfaces, s->device_mib_startup);
        for (int i = 0; i < s->n_device_uses; i++) /* owner tags are literals without quotes */
            fprintf(f, "%s\"%s\":%.1f", i ? "," : "", s->device_uses[i].owner, s->device_uses[i].mib);
        fputs("}}\n", f);
        return;
    }
    fprintf(f, "summary (%s backend):\n", pan_backend_name(s->backend));
    for (int i = 0; i < s->n_cameras; i++) {
        const pan_camera_stats *c = &s->cameras[i];
        fprintf(f, "  camera %d  %-40s %8lld frames  %8lld detections  decoder %-5s  %s", c->id, c->uri,
                (long long)c->frames, (long long)c->detections, *c->decoder ? c->decoder : "none",
                c->status && !damaged(c) ? pan_status_str(c->status) : pan_camera_state_name(c->state));
        if (damaged(c)) fprintf(f, "  (%s)", c->error);
        else if (c->decode_errors) fprintf(f, "  (%lld damaged packets/pictures)", (long long)c->decode_errors);
        if (c->live || c->reconnects || c->failed_attempts)
            fprintf(f, "  [%s: %lld dropped, %lld reconnects, %lld failed attempts, %.1f s outage]",
                    pan_camera_state_name(c->state), (long long)c->dropped, (long long)c->reconnects,
                    (long long)c->failed_attempts, c->outage_s);
        fputc('\n', f);
    }
    fprintf(f, "  total %lld frames in %.2f s: %.1f frames/s, host CPU %.3f ms/frame, peak memory %.1f MiB%s\n",
            (long long)s->frames, s->uptime_s, s->fps, s->cpu_ms_per_frame, s->peak_rss_mib,
            interrupted ? " (interrupted)" : "");
    if (s->frames)
        fprintf(f, "  start-up: models loaded and planned in %.2f s, the first frame delivered %.2f s after start\n",
                s->create_s, s->first_frame_s);
    if (s->frames)
        fprintf(f, "  host CPU by thread, ms/frame: camera I/O (%d threads) %.3f, delivery %.3f, other threads %.3f\n",
                s->io_threads, s->cpu_ms_per_frame_cameras, s->cpu_ms_per_frame_delivery, s->cpu_ms_per_frame_other);
    if (s->frames)
        fprintf(f, "  latency from decoded to delivered: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.2f frames per batch\n",
                s->latency_p50_ms, s->latency_p99_ms, s->latency_max_ms, s->batch_mean);
    if (s->steady_fps > 0)
        fprintf(f, "  steady state (once every camera delivers, %.0f s in at the earliest, to the last frame): "
                   "%.1f frames/s, host CPU %.3f ms/frame\n",
                PAN_STEADY_AFTER_S, s->steady_fps, s->steady_cpu_ms_per_frame);
    if (s->backend == PAN_BACKEND_CUDA) {
        fprintf(f, "  pixel bytes copied host<->device: %lld; device memory used %.1f MiB (%.1f MiB per camera): "
                   "%.1f MiB at start-up, before any camera, then %.1f MiB per camera\n",
                (long long)s->pixel_bytes_copied, s->device_mib_used,
                s->n_cameras ? s->device_mib_used / s->n_cameras : 0.0, s->device_mib_startup,
                s->n_cameras ? (s->device_mib_used - s->device_mib_startup) / s->n_cameras : 0.0);
        fprintf(f, "  device memory now %.1f MiB: NVDEC surfaces %.1f MiB (estimated), the pool %.1f MiB (", s->device_mib_now,
                s->device_mib_surfaces, s->device_mib_pool);
        for (int i = 0; i < s->n_device_uses; i++)
            fprintf(f, "%s%s %.1f", i ? ", " : "", s->device_uses[i].owner, s->device_uses[i].mib);
        fprintf(f, "), the rest %.1f MiB (cuDNN, the decoders' own)\n",
                s->device_mib_now - s->device_mib_surfaces - s->device_mib_pool);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void print_progress(pan_pipeline *pl, int final)
{
    pan_pipeline_stats s;
    if (pan_pipeline_get_stats(pl, &s)) return;
    fprintf(stderr, "\r%lld frames, %d camera(s), %.1f frames/s   %s", (long long)s.frames, s.n_cameras, s.fps,
            final ? "\n" : "");
    pan_pipeline_stats_free(&s);
}

enum {
    OPT_CAMERA = 256, OPT_NAME, OPT_CAMERAS, OPT_BACKEND, OPT_OUT, OPT_MOT, OPT_ANNOTATE, OPT_ANNOTATE_CAMERA,
    OPT_MAX_FRAMES, OPT_LOOP, OPT_MODEL, OPT_CLASSES, OPT_SCORE, OPT_NO_DETECT, OPT_NO_TRACK, OPT_REID,
    OPT_REID_INTERVAL, OPT_OVERLAP, OPT_BATCH, OPT_FALLBACK, OPT_THREADS, OPT_IO_THREADS, OPT_CAMERA_QUEUE, OPT_TIMEOUT, OPT_RECONNECT,
    OPT_MAX_BACKOFF, OPT_RTSP_TRANSPORT, OPT_REALTIME, OPT_SYNC, OPT_NO_SYNC, OPT_SUMMARY_JSON, OPT_QUIET,
    OPT_MODEL_TYPE,
    OPT_ANALYTICS, OPT_EVENTS, OPT_MQTT, OPT_CACHE_DIR, OPT_NO_PLAN_CACHE, OPT_DURATION, OPT_STATS_JSONL,
    OPT_STATS_EVERY,
};

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"camera", required_argument, NULL, OPT_CAMERA},
    {"name", required_argument, NULL, OPT_NAME},
    {"cameras", required_argument, NULL, OPT_CAMERAS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"out", required_argument, NULL, OPT_OUT},
    {"mot", required_argument, NULL, OPT_MOT},
    {"annotate", required_argument, NULL, OPT_ANNOTATE},
    {"annotate-camera", required_argument, NULL, OPT_ANNOTATE_CAMERA},
    {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"stats-jsonl", required_argument, NULL, OPT_STATS_JSONL},
    {"stats-every", required_argument, NULL, OPT_STATS_EVERY},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"model", required_argument, NULL, OPT_MODEL},
    {"model-type", required_argument, NULL, OPT_MODEL_TYPE},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {"score", required_argument, NULL, OPT_SCORE},
    {"no-detect", no_argument, NULL, OPT_NO_DETECT},
    {"no-track", no_argument, NULL, OPT_NO_TRACK},
    {"reid", required_argument, NULL, OPT_REID},
    {"reid-interval", required_argument, NULL, OPT_REID_INTERVAL},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"no-plan-cache", no_argument, NULL, OPT_NO_PLAN_CACHE},
    {"fallback", required_argument, NULL, OPT_FALLBACK},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"io-threads", required_argument, NULL, OPT_IO_THREADS},
    {"camera-queue", required_argument, NULL, OPT_CAMERA_QUEUE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"reconnect", required_argument, NULL, OPT_RECONNECT},
    {"max-backoff", required_argument, NULL, OPT_MAX_BACKOFF},
    {"rtsp-transport", required_argument, NULL, OPT_RTSP_TRANSPORT},
    {"realtime", no_argument, NULL, OPT_REALTIME},
    {"sync", no_argument, NULL, OPT_SYNC},
    {"no-sync", no_argument, NULL, OPT_NO_SYNC},
    {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"analytics", required_argument, NULL, OPT_ANALYTICS},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"mqtt", required_argument, NULL, OPT_MQTT},
    {NULL, 0, NULL, 0},
};

/* Everything the command line sets. */
typedef struct run_opts {
    pan_pipeline_params p;
    pan_outputs_params out;
    const char *cams[PAN_MAX_CAMERAS];
    const char *names[PAN_MAX_CAMERAS];
    int n_cams;
    int classes[PAN_COCO_CLASSES];
    double overlaps[64][4];
    int n_overlaps;
    const char *summary_json;
    int quiet;
    double duration_s; /* --duration: 0 = until the cameras end */
    const char *stats_jsonl; /* --stats-jsonl: a line of figures every stats_every_s */
    double stats_every_s;
    pan_analytics_outputs_params analytics;
} run_opts;

/* 0 = go on, else the exit status (2 usage, 0 --help). */
static int parse_options(int argc, char **argv, run_opts *o)
{
    pan_pipeline_params *p = &o->p;
    long v;
    double d;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return -1;
        case OPT_CAMERA:
            if (o->n_cams >= PAN_MAX_CAMERAS) {
                fprintf(stderr, "panoptes run: at most %d cameras\n", PAN_MAX_CAMERAS);
                return 2;
            }
            o->names[o->n_cams] = NULL;
            o->cams[o->n_cams++] = optarg;
            break;
        case OPT_NAME:
            if (!o->n_cams || o->names[o->n_cams - 1]) {
                fprintf(stderr, "panoptes run: --name '%s' must follow the --camera it names\n", optarg);
                return 2;
            }
            o->names[o->n_cams - 1] = optarg;
            break;
        case OPT_CAMERAS: {
            int rc = read_camera_list(optarg, o->cams, o->names, &o->n_cams);
            if (rc) return rc;
            break;
        }
        case OPT_BACKEND: {
            int b = pan_backend_parse(optarg);
            if (b < 0) {
                fprintf(stderr, "panoptes run: --backend must be auto, cpu or cuda, not '%s'\n", optarg);
                return 2;
            }
            p->backend = (pan_backend)b;
            break;
        }
        case OPT_OUT: o->out.jsonl_path = optarg; break;
        case OPT_MOT: o->out.mot_dir = optarg; break;
        case OPT_ANNOTATE: o->out.annotate_path = optarg; break;
        case OPT_ANNOTATE_CAMERA:
            if (pan_cli_parse_long("run", "--annotate-camera", optarg, 0, PAN_MAX_CAMERAS - 1, &v)) return 2;
            o->out.annotate_camera = (int)v;
            break;
        case OPT_MAX_FRAMES:
            if (pan_cli_parse_long("run", "--max-frames", optarg, 1, LONG_MAX, &v)) return 2;
            p->max_frames = v;
            break;
        case OPT_DURATION:
            if (pan_cli_parse_double("run", "--duration", optarg, 0.001, 1e9, &d)) return 2;
            o->duration_s = d;
            break;
        case OPT_STATS_JSONL: o->stats_jsonl = optarg; break;
        case OPT_STATS_EVERY:
            if (pan_cli_parse_double("run", "--stats-every", optarg, 0.1, 1e6, &d)) return 2;
            o->stats_every_s = d;
            break;
        case OPT_LOOP: p->loop = 1; break;
        case OPT_MODEL: p->model_path = optarg; break;
        case OPT_MODEL_TYPE: {
            pan_detector_kind kind;
            if (pan_detector_kind_parse(optarg, &kind)) {
                fprintf(stderr, "panoptes run: --model-type takes one of %s, not '%s'\n", pan_detector_kind_names(),
                        optarg);
                return 2;
            }
            p->model_type = optarg;
            break;
        }
        case OPT_CLASSES: {
            int n = parse_classes(optarg, o->classes, PAN_COCO_CLASSES);
            if (n < 0) return 2;
            p->classes = o->classes;
            p->n_classes = n;
            break;
        }
        case OPT_SCORE:
            if (pan_cli_parse_double("run", "--score", optarg, 0, 1, &d)) return 2;
            p->score_threshold = (float)d;
            break;
        case OPT_NO_DETECT: p->detect = 0, p->track = 0; break;
        case OPT_NO_TRACK: p->track = 0; break;
        case OPT_REID:
            p->reid = optarg;
            if (strcmp(p->reid, "default") && strcmp(p->reid, "off") && !pan_cli_file_exists(p->reid)) {
                fprintf(stderr, "panoptes run: --reid takes default, off or an ONNX model file; '%s' cannot be read\n",
                        p->reid);
                return 2;
            }
            break;
        case OPT_REID_INTERVAL:
            if (pan_cli_parse_long("run", "--reid-interval", optarg, 1, 1000, &v)) return 2;
            p->reid_interval = (int)v;
            break;
        case OPT_OVERLAP: {
            double *ov = o->overlaps[o->n_overlaps];
            char tail;
            if (o->n_overlaps >= 64 ||
                sscanf(optarg, "%lf,%lf,%lf,%lf%c", &ov[0], &ov[1], &ov[2], &ov[3], &tail) != 4 ||
                ov[0] != (int)ov[0] || ov[1] != (int)ov[1] || ov[0] < 0 || ov[1] < 0 || ov[0] == ov[1]) {
                fprintf(stderr, "panoptes run: --overlap takes A,B,DX,DY (two different camera indices and a shift in "
                                "pixels), at most 64 times; not '%s'\n", optarg);
                return 2;
            }
            o->n_overlaps++;
            break;
        }
        case OPT_BATCH:
            if (pan_cli_parse_long("run", "--batch", optarg, 1, 4096, &v)) return 2;
            p->batch = (int)v;
            break;
        case OPT_FALLBACK:
            if (strcmp(optarg, "cpu")) {
                fprintf(stderr, "panoptes run: --fallback takes 'cpu', not '%s'\n", optarg);
                return 2;
            }
            p->fallback_cpu = 1;
            break;
        case OPT_THREADS:
            if (pan_cli_parse_long("run", "--threads", optarg, 1, 64, &v)) return 2;
            p->decoder_threads = (int)v;
            break;
        case OPT_IO_THREADS:
            if (pan_cli_parse_long("run", "--io-threads", optarg, 1, 256, &v)) return 2;
            p->io_threads = (int)v;
            break;
        case OPT_CAMERA_QUEUE:
            if (pan_cli_parse_long("run", "--camera-queue", optarg, 1, 64, &v)) return 2;
            p->camera_queue = (int)v;
            break;
        case OPT_TIMEOUT:
            if (pan_cli_parse_long("run", "--timeout", optarg, 1, 3600000, &v)) return 2;
            p->timeout_ms = (int)v;
            break;
        case OPT_RECONNECT:
            if (pan_cli_parse_long("run", "--reconnect", optarg, -1, 1000000, &v)) return 2;
            p->reconnect = (int)v;
            break;
        case OPT_MAX_BACKOFF:
            if (pan_cli_parse_double("run", "--max-backoff", optarg, 0.001, 86400, &d)) return 2;
            p->backoff_max_ms = (int)(d * 1000);
            if (p->backoff_max_ms < 500) p->backoff_min_ms = p->backoff_max_ms;
            break;
        case OPT_RTSP_TRANSPORT:
            if (strcmp(optarg, "tcp") && strcmp(optarg, "udp")) {
                fprintf(stderr, "panoptes run: --rtsp-transport takes tcp or udp, not '%s'\n", optarg);
                return 2;
            }
            p->rtsp_udp = !strcmp(optarg, "udp");
            break;
        case OPT_REALTIME: p->realtime = 1; break;
        case OPT_SYNC: p->sync = 1; break;
        case OPT_NO_SYNC: p->sync = -1; break;
        case OPT_SUMMARY_JSON: o->summary_json = optarg; break;
        case OPT_QUIET: o->quiet = 1; break;
        case OPT_ANALYTICS: o->analytics.analytics_path = optarg; break;
        case OPT_EVENTS: o->analytics.events_path = optarg; break;
        case OPT_MQTT: o->analytics.mqtt_url = optarg; break;
        case OPT_CACHE_DIR:
        case OPT_NO_PLAN_CACHE:
            if (c == OPT_CACHE_DIR && !*optarg) {
                fprintf(stderr, "panoptes run: --cache-dir needs a directory (or off)\n");
                return 2;
            }
            p->cache_dir = c == OPT_CACHE_DIR ? optarg : "off";
            break;
        case ':':
            fprintf(stderr, "panoptes run: %s needs a value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            if (optopt >= OPT_CAMERA)
                fprintf(stderr, "panoptes run: %s needs a value (see --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "panoptes run: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "panoptes run: unexpected argument '%s' (cameras are given with --camera URI)\n", argv[optind]);
        return 2;
    }
    return 0;
}

int pan_cli_run(int argc, char **argv)
{
    static run_opts o; /* large; one run per process */
    char sample[PATH_MAX], model[PATH_MAX];
    memset(&o, 0, sizeof o);
    pan_pipeline_params_default(&o.p);
    pan_pipeline_params *p = &o.p;
    int rc = parse_options(argc, argv, &o);
    if (rc) {
        free_camera_lists();
        return rc < 0 ? 0 : rc;
    }
    if (o.n_cams == 0) {
        const char *s = pan_cli_find_asset("data/vtest.mp4", sample, sizeof sample);
        if (!s) {
            fputs("panoptes run: no --camera given and the bundled sample data/vtest.mp4 is missing;\n"
                  "run scripts/setup.sh first, or pass --camera URI\n",
                  stderr);
            return 2;
        }
        o.cams[o.n_cams++] = s;
    }
    rc = 2;
    if (!p->model_path && p->detect) p->model_path = pan_cli_find_asset("models/nanodet.json", model, sizeof model);
    if (!p->model_path && p->detect) {
        fputs("panoptes run: the default detector models/nanodet.json is missing; run scripts/setup.sh, pass\n"
              "--model FILE, or --no-detect to decode only\n",
              stderr);
        goto out;
    }
    for (int k = 0; k < o.n_overlaps; k++)
        if (o.overlaps[k][0] >= o.n_cams || o.overlaps[k][1] >= o.n_cams) {
            fprintf(stderr, "panoptes run: --overlap names camera %d, but there are %d cameras\n",
                    (int)(o.overlaps[k][0] >= o.n_cams ? o.overlaps[k][0] : o.overlaps[k][1]), o.n_cams);
            goto out;
        }
    if (o.out.annotate_path && o.out.annotate_camera >= o.n_cams) {
        fprintf(stderr, "panoptes run: --annotate-camera %d, but there are %d cameras\n", o.out.annotate_camera,
                o.n_cams);
        goto out;
    }
    p->overlaps = (const double(*)[4])o.overlaps;
    p->n_overlaps = o.n_overlaps;
    int with_analytics = o.analytics.analytics_path || o.analytics.events_path || o.analytics.mqtt_url;
    if (!o.out.jsonl_path && !o.out.mot_dir && !o.out.annotate_path && !with_analytics && !o.quiet)
        fputs("panoptes run: no --out, --mot or --annotate: results are not written, only the summary\n", stderr);

    /* everything that can be checked before the cameras run is checked now */
    rc = 3;
    FILE *summary = NULL, *stats_f = NULL;
    pan_outputs *outs = NULL;
    pan_pipeline *pl = NULL;
    pan_analytics_outputs *an = NULL;
    pan_status st;
    if (o.summary_json && !(summary = fopen(o.summary_json, "w"))) {
        fprintf(stderr, "panoptes run: --summary-json %s: cannot write it: %s\n", o.summary_json, strerror(errno));
        goto out;
    }
    if (o.stats_jsonl && !(stats_f = strcmp(o.stats_jsonl, "-") ? fopen(o.stats_jsonl, "w") : stdout)) {
        fprintf(stderr, "panoptes run: --stats-jsonl %s: cannot write it: %s\n", o.stats_jsonl, strerror(errno));
        goto done;
    }
    if (with_analytics) { /* a bad analytics file or URL is a usage error, found before models load */
        char err[1024];
        o.analytics.n_cameras = o.n_cams;
        if ((st = pan_analytics_outputs_create(&an, &o.analytics, err, sizeof err))) {
            fprintf(stderr, "panoptes run: %s\n", err);
            rc = st == PAN_INVAL ? 2 : 3;
            goto done;
        }
        if (o.analytics.analytics_path) {
            o.out.annotate_overlay = pan_analytics_overlay;
            o.out.annotate_overlay_opaque = pan_analytics_outputs_analytics(an);
        }
    }
    if ((st = pan_outputs_create(&outs, &o.out))) {
        fprintf(stderr, "panoptes run: cannot open the outputs: %s (see the message above)\n", pan_status_str(st));
        goto done;
    }
    if ((st = pan_pipeline_create(&pl, p))) {
        fprintf(stderr, "panoptes run: %s\n", pan_status_str(st));
        goto done;
    }
    /* analytics first: a frame's JSONL line then carries the counts including that frame */
    if (an && (st = pan_analytics_outputs_attach(an, pl))) goto done;
    if (an && pan_outputs_jsonl(outs)) pan_jsonl_sink_set_extra(pan_outputs_jsonl(outs), pan_analytics_outputs_jsonl_extra, an);
    if ((st = pan_outputs_attach(outs, pl))) goto done;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((st = pan_pipeline_start(pl))) goto done;
    for (int i = 0; i < o.n_cams; i++) {
        pan_camera_params cp = {.uri = o.cams[i], .name = o.names[i]};
        if ((st = pan_pipeline_add_camera(pl, &cp, NULL))) goto done;
    }
    int progress = isatty(STDERR_FILENO) && !o.quiet;
    const double t_end = o.duration_s > 0 ? now_s() + o.duration_s : 0;
    stats_sampler sampler = {.f = stats_f, .every_s = o.stats_every_s > 0 ? o.stats_every_s : 10};
    sampler.next_s = now_s() + sampler.every_s;
    while (!got_signal && (st = pan_pipeline_wait(pl, 250)) == PAN_TIMEOUT) {
        if (progress) print_progress(pl, 0);
        if (stats_f && now_s() >= sampler.next_s) sample_stats(&sampler, pl);
        if (t_end > 0 && now_s() >= t_end) break; /* --duration: a stop like an interrupt's, rc as usual */
    }
    pan_status run_st = pan_pipeline_stop(pl);
    if (progress) print_progress(pl, 1);

    pan_pipeline_stats stats;
    if ((st = pan_pipeline_get_stats(pl, &stats))) goto done;
    int interrupted = got_signal != 0;
    if (!o.quiet) write_summary(stderr, &stats, interrupted, 0);
    if (summary) {
        write_summary(summary, &stats, interrupted, 1);
        if (fclose(summary)) fprintf(stderr, "panoptes run: --summary-json %s: write failed\n", o.summary_json);
        summary = NULL;
    }
    int n_damaged = 0;
    for (int i = 0; i < stats.n_cameras; i++) n_damaged += damaged(&stats.cameras[i]);
    rc = interrupted ? 128 + got_signal : run_st ? 3 : stats.failed_cameras ? 1 : n_damaged ? 4 : 0;
    pan_pipeline_stats_free(&stats);
done:
    pan_pipeline_destroy(&pl);
    pan_outputs_destroy(&outs);
    pan_analytics_outputs_destroy(&an); /* after the pipeline: MQTT delivers what it still holds */
    if (summary) fclose(summary);
    if (stats_f && stats_f != stdout && fclose(stats_f))
        fprintf(stderr, "panoptes run: --stats-jsonl %s: write failed\n", o.stats_jsonl);
out:
    free_camera_lists();
    return rc;
}
