/* Many cameras on one pipeline (issue #13), decode only on the cpu backend, one tiny looping clip
 * (64x64 H.264) per camera so that the framework's own costs show, not the decoder's. Prints JSON:
 *
 *   scaling:  for each camera count, total frames/s over a fixed time, host CPU ms/frame and the
 *             process's thread count (read from /proc during the run), against the smallest count
 *   fairness: the frames each camera delivered after a fixed time: min, max, and the largest
 *             deviation from the mean in percent (identical clips: a fair batcher keeps them equal)
 *   latency:  decoded-to-delivered p50/p99 for cameras paced at their frame rate (--realtime)
 *
 *   bench_cameras [--clip FILE] [--cameras 4,64,256] [--seconds S] [--fair 64] [--latency 16]
 *                 [--detect]  (--detect: NanoDet on, for the latency run)
 * Needs ffmpeg to make the clip when --clip is not given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct run_result {
    double fps, cpu_ms_per_frame, p50, p99;
    int threads_max;
    int64_t frames, min_frames, max_frames;
    double max_dev_pct;
    int failed;
} run_result;

static int run(const char *clip, int cams, double seconds, int realtime, int detect, run_result *r)
{
    memset(r, 0, sizeof *r);
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = detect;
    p.track = detect;
    p.loop = 1;
    p.realtime = realtime;
    pan_pipeline *pl = NULL;
    if (pan_pipeline_create(&pl, &p) || pan_pipeline_start(pl)) return -1;
    for (int i = 0; i < cams; i++) {
        pan_camera_params cp = {.uri = clip};
        if (pan_pipeline_add_camera(pl, &cp, NULL)) return -1;
    }
    double t0 = bench_now_s();
    while (bench_now_s() - t0 < seconds) {
        int t = threads_now();
        if (t > r->threads_max) r->threads_max = t;
        usleep(100000);
    }
    pan_pipeline_stats s;
    if (pan_pipeline_get_stats(pl, &s)) return -1; /* before stop: the fixed time, not the drain */
    r->frames = s.frames;
    r->fps = s.fps;
    r->cpu_ms_per_frame = s.cpu_ms_per_frame;
    r->p50 = s.latency_p50_ms;
    r->p99 = s.latency_p99_ms;
    r->min_frames = INT64_MAX;
    double mean = (double)s.frames / (s.n_cameras ? s.n_cameras : 1);
    for (int i = 0; i < s.n_cameras; i++) {
        const pan_camera_stats *c = &s.cameras[i];
        if (c->frames < r->min_frames) r->min_frames = c->frames;
        if (c->frames > r->max_frames) r->max_frames = c->frames;
        double dev = mean > 0 ? fabs((double)c->frames - mean) / mean * 100.0 : 0;
        if (dev > r->max_dev_pct) r->max_dev_pct = dev;
        r->failed += c->state == PAN_CAMERA_FAILED;
    }
    pan_pipeline_stats_free(&s);
    pan_pipeline_stop(pl);
    pan_pipeline_destroy(&pl);
    return 0;
}

int main(int argc, char **argv)
{
    const char *clip = NULL;
    int counts[8] = {4, 64, 256}, n_counts = 3, fair = 64, lat = 16, detect = 0;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clip") && i + 1 < argc) clip = argv[++i];
        else if (!strcmp(argv[i], "--cameras") && i + 1 < argc) n_counts = bench_parse_list(argv[++i], counts, 8);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--fair") && i + 1 < argc) fair = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--latency") && i + 1 < argc) lat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--detect")) detect = 1;
        else {
            fprintf(stderr, "usage: bench_cameras [--clip FILE] [--cameras 4,64,256] [--seconds S] [--fair N] "
                            "[--latency N] [--detect]\n");
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
        printf("%s{\"cameras\":%d,\"fps\":%.1f,\"vs_first\":%.3f,\"cpu_ms_per_frame\":%.4f,\"threads_max\":%d,"
               "\"failed\":%d}",
               k ? "," : "", counts[k], r.fps, base_fps > 0 ? r.fps / base_fps : 0, r.cpu_ms_per_frame, r.threads_max,
               r.failed);
        fflush(stdout);
    }
    run_result f;
    if (run(clip, fair, seconds, 0, 0, &f)) return 1;
    printf("],\"fairness\":{\"cameras\":%d,\"frames\":%lld,\"min\":%lld,\"max\":%lld,\"max_dev_pct\":%.2f},", fair,
           (long long)f.frames, (long long)f.min_frames, (long long)f.max_frames, f.max_dev_pct);
    run_result l;
    if (run(clip, lat, seconds, 1, detect, &l)) return 1;
    printf("\"latency\":{\"cameras\":%d,\"realtime\":true,\"detect\":%s,\"fps\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}}\n",
           lat, detect ? "true" : "false", l.fps, l.p50, l.p99);
    if (clip == path) {
        unlink(path);
        rmdir(made);
    }
    return 0;
}
