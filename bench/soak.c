/* Soak: many looped cameras (files and RTSP) for a long time, watching for growth.
 *
 *   build/soak [--duration 600] [--files 8] [--rtsp 4] [--clip data/vtest.mp4] [--backend cpu]
 *              [--detect [--no-track] [--reid off|default|MODEL.onnx]] [--no-realtime] [--interval 5]
 *              [--warmup 60] [--flap 120] [--churn S] [--out FILE]
 *
 * File cameras loop --clip (read at its native rate unless --no-realtime); RTSP cameras each get
 * their own GStreamer RTSP server on 127.0.0.1 (tests/peers/rtsp_server.py, 320x240 25 fps H.264,
 * started and stopped by this program). Every --flap seconds one server in turn is killed (SIGKILL)
 * and restarted 2 s later, so the reconnect path soaks too. With --churn S, every S seconds one file
 * camera in turn is removed and added back (a new id, the same clip): whatever a closed camera
 * does not give back grows the slopes by that much per churn. Detection is off unless --detect (on
 * the cpu backend NanoDet costs ~0.1 s a frame, so the cameras would mostly drop).
 *
 * Every --interval seconds it samples host RSS (/proc/self/statm; also its anonymous part, and the
 * bytes malloc has handed out (glibc mallinfo2), which tell a leak from allocator fragmentation and
 * from code pages faulted in late), open file descriptors (/proc/self/fd) and, on the cuda backend,
 * the device pool's bytes in use and the device's memory in use (cudaMemGetInfo: NVDEC's surfaces
 * and cuDNN's memory too). At the end it prints
 * one JSON object: each metric's least-squares slope per minute over the samples after --warmup,
 * its range there, first and last values, and the run summary (frames, drops, reconnects, states).
 * "Flat" means a slope within noise: an RSS slope of a few KiB/min over 10 minutes is allocator
 * noise; a leak of one frame per reconnect or per loop shows as hundreds of KiB/min.
 *
 * A benchmark, not a test: CI does not run it. Run from the repository root. */
#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "rtsp_server.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "pipeline_run.h"
#if defined(PANOPTES_HAVE_CUDA) && __has_include("core/devpool.h")
#include "core/devpool.h"
#include "core/gpu.h"
#define SOAK_DEVPOOL 1
#endif

#define MAX_SAMPLES 100000
#define MAX_SERVERS 64

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static double rss_mib(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return NAN;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* Anonymous resident memory (heap, thread stacks, buffers): RSS without the pages of the
 * executable and libraries, which page in as code paths first run and look like growth. */
static double rss_anon_mib(void)
{
    char line[256];
    double kib = NAN;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %lf kB", &kib) == 1) break;
    fclose(f);
    return kib / 1024.0;
}

/* Bytes malloc has handed out and not had back (glibc): a leak grows this; fragmentation does not.
 * free_part: bytes malloc holds free in its arenas (not given back to the system): RSS that grows with
 * this and not with the bytes in use is the allocator's, not a leak. */
static double heap_mib(int free_part)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return (double)(free_part ? mi.fordblks : mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
#else
    (void)free_part;
    return NAN;
#endif
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n - 3; /* ".", "..", and the directory's own descriptor */
}

/* ---- RTSP servers: tests/rtsp_server.h, one process each on its own loopback port ------------ */

#define RTSP_SCRIPT "tests/peers/rtsp_server.py"

/* ---- the run -------------------------------------------------------------------------------- */

typedef struct sample {
    double t, rss, anon, heap, heap_free, fds, dev, dev_all;
} sample;

/* --churn: one file camera in turn removed and added back every `every` seconds (on the run's
 * thread, between its waits). */
typedef struct churn {
    double every, next, t0;
    int n, k, done, failed;
    int *ids;
    const char *clip;
} churn;

static void churn_tick(pan_pipeline *pl, void *arg)
{
    churn *c = arg;
    if (bench_now_s() - c->t0 < c->next) return;
    c->next += c->every;
    int k = c->k++ % c->n;
    pan_camera_params cp = {.uri = c->clip};
    int id = -1;
    pan_status st = pan_pipeline_remove_camera(pl, c->ids[k]);
    if (!st) st = pan_pipeline_add_camera(pl, &cp, &id);
    if (st) {
        c->failed++;
        fprintf(stderr, "soak: churn of camera %d: %s\n", c->ids[k], pan_status_name(st));
        return;
    }
    c->ids[k] = id;
    c->done++;
}

static pan_pipeline_params params;
static pan_pipeline_stats summary;
static pan_status run_status;
static volatile int run_done, run_stop;
static const char **run_cams;
static int run_n;
static const char *run_out;
static churn run_churn;

static void *run_main(void *arg)
{
    (void)arg;
    run_status = pan_test_run_ticking(&params, run_cams, run_n, run_out, &run_stop, &summary,
                                      run_churn.every > 0 ? churn_tick : NULL, &run_churn);
    run_done = 1;
    return NULL;
}

/* Least-squares slope (per minute) of v over t for samples with t >= t0; also min and max there. */
static void fit(const sample *s, int n, double t0, size_t off, double *slope, double *lo, double *hi, int *used)
{
    double st = 0, sv = 0, stt = 0, stv = 0;
    int k = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (s[i].t < t0) continue;
        double v = *(const double *)((const char *)&s[i] + off);
        if (isnan(v)) continue;
        double t = s[i].t / 60.0;
        st += t;
        sv += v;
        stt += t * t;
        stv += t * v;
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
        k++;
    }
    double den = k * stt - st * st;
    *slope = k >= 2 && den > 0 ? (k * stv - st * sv) / den : NAN;
    *used = k;
}

static void print_metric(const char *name, const sample *s, int n, double warmup, size_t off, const char *unit, int last)
{
    double slope, lo, hi;
    int used;
    fit(s, n, warmup, off, &slope, &lo, &hi, &used);
    if (!used) {
        printf("\"%s\":null%s", name, last ? "" : ",");
        return;
    }
    double first = NAN, end = NAN;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&s[i] + off);
        if (s[i].t >= warmup && isnan(first)) first = v;
        end = v;
    }
    printf("\"%s\":{\"unit\":\"%s\",\"slope_per_min\":%.4f,\"min\":%.3f,\"max\":%.3f,\"after_warmup\":%.3f,\"end\":%.3f,"
           "\"samples\":%d}%s",
           name, unit, slope, lo, hi, first, end, used, last ? "" : ",");
}

static void usage(void)
{
    fputs("usage: soak [--duration S] [--files N] [--rtsp N] [--clip PATH] [--backend cpu|cuda|auto] [--detect]\n"
          "            [--no-track] [--reid off|default|MODEL] [--no-realtime] [--interval S] [--warmup S] [--flap S]\n"
          "            [--churn S] [--out FILE]\n",
          stderr);
}

int main(int argc, char **argv)
{
    double duration = 600, interval = 5, warmup = 60, flap = 120, churn_s = 0;
    int n_files = 8, n_rtsp = 4, detect = 0, track = 1, realtime = 1;
    const char *clip = "data/vtest.mp4", *out = "/dev/null", *backend = "cpu", *reid = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--duration") && v) duration = atof(argv[++i]);
        else if (!strcmp(a, "--files") && v) n_files = atoi(argv[++i]);
        else if (!strcmp(a, "--rtsp") && v) n_rtsp = atoi(argv[++i]);
        else if (!strcmp(a, "--clip") && v) clip = argv[++i];
        else if (!strcmp(a, "--backend") && v) backend = argv[++i];
        else if (!strcmp(a, "--interval") && v) interval = atof(argv[++i]);
        else if (!strcmp(a, "--warmup") && v) warmup = atof(argv[++i]);
        else if (!strcmp(a, "--flap") && v) flap = atof(argv[++i]);
        else if (!strcmp(a, "--churn") && v) churn_s = atof(argv[++i]);
        else if (!strcmp(a, "--out") && v) out = argv[++i];
        else if (!strcmp(a, "--reid") && v) reid = argv[++i];
        else if (!strcmp(a, "--detect")) detect = 1;
        else if (!strcmp(a, "--no-track")) track = 0;
        else if (!strcmp(a, "--no-realtime")) realtime = 0;
        else {
            usage();
            return 2;
        }
    }
    if (n_rtsp > MAX_SERVERS || n_files + n_rtsp <= 0 || n_files + n_rtsp > PAN_MAX_CAMERAS || interval <= 0 ||
        (churn_s > 0 && n_files == 0)) {
        usage();
        return 2;
    }
    if (n_files && access(clip, R_OK) != 0) {
        fprintf(stderr, "soak: %s not found (run scripts/setup.sh, or pass --clip)\n", clip);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pan_log_init();

    static rtsp_server servers[MAX_SERVERS];
    static char uris[MAX_SERVERS][64];
    const char **cams = calloc((size_t)(n_files + n_rtsp), sizeof *cams);
    for (int i = 0; i < n_files; i++) cams[i] = clip;
    for (int i = 0; i < n_rtsp; i++) {
        servers[i].port = rtsp_free_port();
        if (rtsp_server_start(&servers[i], servers[i].port, NULL, RTSP_SCRIPT) != 0) {
            fprintf(stderr, "soak: cannot start the RTSP server (tests/peers/rtsp_server.py; needs python3-gi, "
                            "gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-*)\n");
            for (int j = 0; j <= i; j++) rtsp_server_stop(&servers[j], SIGTERM);
            return 1;
        }
        snprintf(uris[i], sizeof uris[i], "rtsp://127.0.0.1:%d/cam", servers[i].port);
        cams[n_files + i] = uris[i];
    }

    pan_pipeline_params_default(&params);
    run_cams = cams;
    run_n = n_files + n_rtsp;
    int b = pan_backend_parse(backend);
    params.backend = b < 0 ? PAN_BACKEND_CPU : (pan_backend)b;
    params.loop = 1;
    params.detect = detect;
    params.track = detect && track;
    params.reid = reid;
    run_out = out;
    params.realtime = realtime;
    params.reconnect = -1;
    params.timeout_ms = 2000;
    params.backoff_min_ms = 250;
    params.backoff_max_ms = 2000;

    sample *s = calloc(MAX_SAMPLES, sizeof *s);
    int n = 0, flapped = 0;
    pthread_t th;
    double t0 = bench_now_s(), next_flap = flap > 0 ? flap : INFINITY, restart_at = INFINITY;
    int down = -1;
    int *churn_ids = calloc((size_t)(n_files ? n_files : 1), sizeof *churn_ids);
    for (int i = 0; i < n_files; i++) churn_ids[i] = i; /* pan_test_run adds them in order: ids 0..n-1 */
    run_churn = (churn){.every = churn_s, .next = churn_s, .t0 = t0, .n = n_files, .ids = churn_ids, .clip = clip};
    pthread_create(&th, NULL, run_main, NULL);
    for (double next = t0; !run_done;) {
        double t = bench_now_s() - t0;
        if (t >= duration) break;
        if (n_rtsp && t >= next_flap) {
            down = flapped++ % n_rtsp;
            rtsp_server_stop(&servers[down], SIGKILL);
            restart_at = t + 2.0;
            next_flap += flap;
        }
        if (down >= 0 && t >= restart_at) {
            if (rtsp_server_start(&servers[down], servers[down].port, NULL, RTSP_SCRIPT) != 0) fprintf(stderr, "soak: restarting server %d failed\n", down);
            down = -1;
            restart_at = INFINITY;
        }
        if (bench_now_s() >= next && n < MAX_SAMPLES) {
            sample *x = &s[n++];
            x->t = t;
            x->rss = rss_mib();
            x->anon = rss_anon_mib();
            x->heap = heap_mib(0);
            x->heap_free = heap_mib(1);
            x->fds = open_fds();
            x->dev = x->dev_all = NAN;
#ifdef SOAK_DEVPOOL
            if (params.backend == PAN_BACKEND_CUDA) {
                pan_devpool *pool;
                pan_devpool_stats ds;
                if (pan_devpool_get(0, &pool) == PAN_OK) {
                    pan_devpool_get_stats(pool, &ds);
                    x->dev = (double)ds.bytes_in_use / (1024.0 * 1024.0);
                }
                /* all of the device's memory in use: also NVDEC's surfaces, cuDNN's and the
                 * context's, which the pool does not see */
                size_t dev_free, dev_total;
                if (pan_gpu_mem_info(&dev_free, &dev_total) == PAN_OK)
                    x->dev_all = (double)(dev_total - dev_free) / (1024.0 * 1024.0);
            }
#endif
            fprintf(stderr, "soak: t=%.0f s rss %.1f MiB (anon %.1f, heap in use %.2f), %d fds%s\n", t, x->rss, x->anon,
                    x->heap, (int)x->fds,
                    isnan(x->dev) ? "" : ", device pool in use (MiB) sampled");
            next += interval;
        }
        sleep_s(0.1);
    }
    run_stop = 1;
    pthread_join(th, NULL);
    double wall = bench_now_s() - t0;
    for (int i = 0; i < n_rtsp; i++) rtsp_server_stop(&servers[i], SIGTERM);

    /* the totals count removed (churned) cameras too */
    int64_t frames = summary.frames, dropped = summary.dropped, reconnects = summary.reconnects;
    int64_t failed = summary.failed_cameras;
    printf("{\"bench\":\"soak\",\"backend\":\"%s\",\"duration_s\":%.1f,\"warmup_s\":%.0f,\"interval_s\":%.1f,"
           "\"files\":%d,\"rtsp\":%d,\"clip\":\"%s\",\"detect\":%s,\"track\":%s,\"realtime\":%s,\"flap_s\":%.0f,"
           "\"server_kills\":%d,\"churn_s\":%.1f,\"churned\":%d,\"churn_failures\":%d,\"reid\":\"%s\",",
           pan_backend_name(summary.backend), wall, warmup, interval, n_files, n_rtsp, clip, detect ? "true" : "false",
           params.track ? "true" : "false",
           realtime ? "true" : "false", flap, flapped, churn_s, run_churn.done, run_churn.failed,
           reid ? reid : "default");
    print_metric("rss_mib", s, n, warmup, offsetof(sample, rss), "MiB", 0);
    print_metric("rss_anon_mib", s, n, warmup, offsetof(sample, anon), "MiB", 0);
    print_metric("heap_in_use_mib", s, n, warmup, offsetof(sample, heap), "MiB", 0);
    print_metric("heap_free_mib", s, n, warmup, offsetof(sample, heap_free), "MiB", 0);
    print_metric("open_fds", s, n, warmup, offsetof(sample, fds), "fds", 0);
    print_metric("devpool_in_use_mib", s, n, warmup, offsetof(sample, dev), "MiB", 0);
    print_metric("device_used_mib", s, n, warmup, offsetof(sample, dev_all), "MiB", 0);
    printf("\"frames\":%lld,\"fps\":%.1f,\"dropped\":%lld,\"reconnects\":%lld,\"failed_cameras\":%lld,"
           "\"peak_rss_mib\":%.1f,\"cpu_ms_per_frame\":%.3f,\"steady_cpu_ms_per_frame\":%.3f,\"status\":\"%s\",\"cameras\":[",
           (long long)frames, wall > 0 ? (double)frames / wall : 0.0, (long long)dropped, (long long)reconnects,
           (long long)failed, summary.peak_rss_mib, summary.cpu_ms_per_frame, summary.steady_cpu_ms_per_frame,
           run_status ? pan_status_name(run_status) : "ok");
    for (int i = 0; summary.cameras && i < summary.n_cameras; i++) {
        const pan_camera_stats *c = &summary.cameras[i];
        printf("%s{\"uri\":\"%s\",\"frames\":%lld,\"dropped\":%lld,\"reconnects\":%lld,\"outage_s\":%.1f,\"state\":\"%s\"}",
               i ? "," : "", c->uri, (long long)c->frames, (long long)c->dropped, (long long)c->reconnects, c->outage_s,
               pan_camera_state_name(c->state));
    }
    printf("]}\n");
    pan_pipeline_stats_free(&summary);
    free(s);
    free(cams);
    free(churn_ids);
    return run_status ? 1 : 0;
}
