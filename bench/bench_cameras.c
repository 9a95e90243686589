/* Many cameras on one pipeline (issue #13), decode only on the cpu backend, one tiny looping clip
 * (64x64 H.264) per camera so that the framework's own costs show, not the decoder's. Prints JSON:
 *
 *   scaling:  for each camera count, total frames/s over a fixed time, host CPU ms/frame and the
 *             process's thread count (read from /proc during the run), against the smallest count;
 *             start_s: until every camera had delivered its first frame (opening them), after
 *             which the fixed time is measured
 *   fairness: the frames each camera delivered in that fixed time: min, max, and the largest
 *             deviation from the mean in percent (identical clips: a fair batcher keeps them equal)
 *   latency:  decoded-to-delivered p50/p99 for cameras paced at their frame rate (--realtime)
 *
 *   bench_cameras [--clip FILE] [--cameras 4,64,256] [--seconds S] [--fair 64] [--latency 16]
 *   overlap:  (with --overlap FILE) one looped camera of FILE with NanoDet: frames/s with tracking
 *             (ReID's colour descriptor, identities) and delivery against detection alone; with the
 *             stages overlapped the host work hides behind detection (ratio near 1). Three rounds
 *             of the two, interleaved; the ratio of the medians
 *
 *   bench_cameras [--clip FILE] [--cameras 4,64,256] [--seconds S] [--fair 64] [--latency 16]
 *                 [--detect] [--io-threads N] [--sync] [--overlap FILE]
 *   (--detect: NanoDet on, for the latency run; --io-threads: the camera I/O pool, 0 = default;
 *   --sync: the cameras aligned by timestamps, as with --overlap in `panoptes run`)
 * Needs ffmpeg to make the clip when --clip is not given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_util.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"

static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
    if (f) fclose(f);
    return n;
}

/* The process's context switches so far, voluntary and not: each is a thread that waited or was
 * preempted, the cost of handing work between threads. */
static double switches_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_nvcsw + (double)u.ru_nivcsw;
}

typedef struct run_result {
    double fps, cpu_ms_per_frame, switches_per_frame, p50, p99;
    int threads_max, io_threads;
    int64_t frames, min_frames, max_frames;
    double max_dev_pct;
    double start_s; /* until every camera had delivered a frame */
    int failed;
} run_result;

static int io_threads, sync_files;

/* Frames each camera delivered so far (by camera id); the total. */
static int64_t snapshot(pan_pipeline *pl, int64_t *per_cam, int cams, int *live)
{
    pan_pipeline_stats s;
    if (pan_pipeline_get_stats(pl, &s)) return -1;
    int64_t total = 0;
    *live = 0;
    for (int i = 0; i < s.n_cameras; i++) {
        const pan_camera_stats *c = &s.cameras[i];
        if (c->id >= 0 && c->id < cams) per_cam[c->id] = c->frames;
        total += c->frames;
        *live += c->frames > 0;
    }
    pan_pipeline_stats_free(&s);
    return total;
}

/* detect: 0 decode only, 1 detection and tracking, 2 detection alone. Runs `cams` cameras; measures from the moment every camera has delivered a frame (start_s after
 * start: opening them is not steady state) for `seconds`: frames/s, host CPU per frame, the
 * frames each camera delivered in that window, the latency percentiles over the whole run. */
static int run(const char *clip, int cams, double seconds, int realtime, int detect, run_result *r)
{
    memset(r, 0, sizeof *r);
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = detect > 0;
    p.track = detect == 1;
    p.loop = 1;
    p.realtime = realtime;
    p.io_threads = io_threads;
    p.sync = sync_files;
    pan_pipeline *pl = NULL;
    int64_t *f0 = calloc((size_t)cams, sizeof *f0), *f1 = calloc((size_t)cams, sizeof *f1);
    if (!f0 || !f1 || pan_pipeline_create(&pl, &p) || pan_pipeline_start(pl)) return -1;
    double t_start = bench_now_s();
    for (int i = 0; i < cams; i++) {
        pan_camera_params cp = {.uri = clip};
        if (pan_pipeline_add_camera(pl, &cp, NULL)) return -1;
    }
    int live = 0;
    while (live < cams && bench_now_s() - t_start < 60) {
        usleep(20000);
        if (snapshot(pl, f0, cams, &live) < 0) return -1;
    }
    double t0 = bench_now_s(), c0 = bench_cpu_s(), s0 = switches_now();
    r->start_s = t0 - t_start;
    int64_t n0 = snapshot(pl, f0, cams, &live);
    while (bench_now_s() - t0 < seconds) {
        int t = threads_now();
        if (t > r->threads_max) r->threads_max = t;
        usleep(100000);
    }
    int64_t n1 = snapshot(pl, f1, cams, &live);
    double t1 = bench_now_s(), c1 = bench_cpu_s(), s1 = switches_now();
    pan_pipeline_stats s;
    if (n0 < 0 || n1 < 0 || pan_pipeline_get_stats(pl, &s)) return -1; /* before stop: not the drain */
    r->frames = n1 - n0;
    r->fps = (double)r->frames / (t1 - t0);
    r->cpu_ms_per_frame = r->frames ? (c1 - c0) * 1e3 / (double)r->frames : 0;
    r->switches_per_frame = r->frames ? (s1 - s0) / (double)r->frames : 0;
    r->io_threads = s.io_threads;
    r->p50 = s.latency_p50_ms;
    r->p99 = s.latency_p99_ms;
    r->min_frames = INT64_MAX;
    double mean = (double)r->frames / cams;
    for (int i = 0; i < cams; i++) {
        int64_t n = f1[i] - f0[i];
        if (n < r->min_frames) r->min_frames = n;
        if (n > r->max_frames) r->max_frames = n;
        double dev = mean > 0 ? fabs((double)n - mean) / mean * 100.0 : 0;
        if (dev > r->max_dev_pct) r->max_dev_pct = dev;
    }
    for (int i = 0; i < s.n_cameras; i++) r->failed += s.cameras[i].state == PAN_CAMERA_FAILED;
    pan_pipeline_stats_free(&s);
    pan_pipeline_stop(pl);
    pan_pipeline_destroy(&pl);
    free(f0);
    free(f1);
    return 0;
}

static double median3(const double v[3])
{
    double a = v[0], b = v[1], c = v[2];
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

int main(int argc, char **argv)
{
    const char *clip = NULL;
    int counts[8] = {4, 64, 256}, n_counts = 3, fair = 64, lat = 16, detect = 0;
    const char *overlap = NULL;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clip") && i + 1 < argc) clip = argv[++i];
        else if (!strcmp(argv[i], "--cameras") && i + 1 < argc) n_counts = bench_parse_list(argv[++i], counts, 8);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--fair") && i + 1 < argc) fair = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--latency") && i + 1 < argc) lat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--detect")) detect = 1;
        else if (!strcmp(argv[i], "--overlap") && i + 1 < argc) overlap = argv[++i];
        else if (!strcmp(argv[i], "--io-threads") && i + 1 < argc) io_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sync")) sync_files = 1;
        else {
            fprintf(stderr, "usage: bench_cameras [--clip FILE] [--cameras 4,64,256] [--seconds S] [--fair N] "
                            "[--latency N] [--detect] [--io-threads N] [--sync] [--overlap FILE]\n");
            return 2;
        }
    }
    char made[] = "/tmp/bench-cameras-XXXXXX";
    char path[256];
    if (!clip) {
        if (!mkdtemp(made)) return 1;
        snprintf(path, sizeof path, "%s/tiny.mp4", made);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=64x64:rate=30:duration=20 -c:v libx264 "
                 "-g 30 -pix_fmt yuv420p '%s'", path);
        if (system(cmd)) {
            fprintf(stderr, "bench_cameras: ffmpeg could not make the clip\n");
            return 1;
        }
        clip = path;
    }
    pan_log_init();
    pan_log_set_level(PAN_LOG_ERROR);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("{\"bench\":\"cameras\",\"backend\":\"cpu\",\"clip\":\"64x64 h264 30 fps\",\"cores\":%ld,\"seconds\":%.1f,"
           "\"scaling\":[",
           cores, seconds);
    double base_fps = 0;
    for (int k = 0; k < n_counts; k++) {
        run_result r;
        if (run(clip, counts[k], seconds, 0, 0, &r)) return 1;
        if (k == 0) base_fps = r.fps;
        printf("%s{\"cameras\":%d,\"fps\":%.1f,\"vs_first\":%.3f,\"cpu_ms_per_frame\":%.4f,\"switches_per_frame\":%.3f,"
               "\"threads_max\":%d,"
               "\"io_threads\":%d,\"start_s\":%.2f,\"failed\":%d}",
               k ? "," : "", counts[k], r.fps, base_fps > 0 ? r.fps / base_fps : 0, r.cpu_ms_per_frame, r.switches_per_frame, r.threads_max,
               r.io_threads, r.start_s, r.failed);
        fflush(stdout);
    }
    run_result f;
    if (run(clip, fair, seconds, 0, 0, &f)) return 1;
    printf("],\"fairness\":{\"cameras\":%d,\"frames\":%lld,\"min\":%lld,\"max\":%lld,\"max_dev_pct\":%.2f},", fair,
           (long long)f.frames, (long long)f.min_frames, (long long)f.max_frames, f.max_dev_pct);
    run_result l;
    if (run(clip, lat, seconds, 1, detect, &l)) return 1;
    printf("\"latency\":{\"cameras\":%d,\"realtime\":true,\"detect\":%s,\"fps\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}",
           lat, detect ? "true" : "false", l.fps, l.p50, l.p99);
    if (overlap) {
        /* rounds of the two, interleaved, so that the machine's drift falls on both alike; the
         * median of each */
        enum { ROUNDS = 3 };
        double dfps[ROUNDS], tfps[ROUNDS], dcpu[ROUNDS], tcpu[ROUNDS];
        for (int k = 0; k < ROUNDS; k++) {
            run_result d, t;
            if (run(overlap, 1, seconds, 0, 2, &d) || run(overlap, 1, seconds, 0, 1, &t)) return 1;
            dfps[k] = d.fps, tfps[k] = t.fps, dcpu[k] = d.cpu_ms_per_frame, tcpu[k] = t.cpu_ms_per_frame;
        }
        printf(",\"overlap\":{\"clip\":\"%s\",\"rounds\":%d,\"detect_fps\":[%.2f,%.2f,%.2f],"
               "\"detect_track_fps\":[%.2f,%.2f,%.2f],",
               overlap, ROUNDS, dfps[0], dfps[1], dfps[2], tfps[0], tfps[1], tfps[2]);
        double md = median3(dfps), mt = median3(tfps);
        printf("\"detect_fps_median\":%.2f,\"detect_track_fps_median\":%.2f,\"ratio\":%.3f,"
               "\"detect_cpu_ms_per_frame\":%.2f,\"detect_track_cpu_ms_per_frame\":%.2f}",
               md, mt, md > 0 ? mt / md : 0, median3(dcpu), median3(tcpu));
    }
    printf("}\n");
    if (clip == path) {
        unlink(path);
        rmdir(made);
    }
    return 0;
}
