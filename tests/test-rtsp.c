/* Live cameras on loopback: a real RTSP server (tests/peers/rtsp_server.py, GStreamer's
 * gst-rtsp-server) is started, killed, stalled and restarted by the test while the pipeline runs.
 * Checks: reconnection keeps the camera's id and frame numbering and costs only that camera's
 * frames; a camera that never answers fails after the configured attempts; a stalled server is
 * detected by the timeout, at connect and mid-stream; a stop request ends a connect in progress;
 * a live camera that outruns the pipeline drops frames (counted) instead of queueing them.
 * Skips (77) when Debian's python3-gi / gir1.2-gst-rtsp-server-1.0 / GStreamer plugins are missing.
 * Everything listens on 127.0.0.1 only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "media.h"
#include "rtsp_server.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "pipeline_run.h"
#include "test.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

#define RTSP_SCRIPT pan_test_path("tests/peers/rtsp_server.py")
#define NO_GST "GStreamer's RTSP server is not installed (python3-gi gir1.2-gst-rtsp-server-1.0)"

/* A server (mode as rtsp_server_start) on a free port, its URI written to uri: 0, 77 or -1. */
static int serve(rtsp_server *s, const char *mode, char uri[128])
{
    int rc = rtsp_server_start(s, rtsp_free_port(), mode, RTSP_SCRIPT);
    if (rc == 0) snprintf(uri, 128, "rtsp://127.0.0.1:%d/cam", s->port);
    return rc;
}

/* The pipeline on a thread, so that the test can act on the server meanwhile. */
typedef struct bg_run {
    pan_pipeline_params p;
    const char **cams;
    int n;
    const char *out;   /* JSON Lines, or NULL */
    volatile int stop; /* stops the run (as SIGINT does `panoptes run`) */
    pan_pipeline_stats sum;
    pan_status st;
    pthread_t thread;
    double t0, wall;
} bg_run;

static void *bg_main(void *arg)
{
    bg_run *b = arg;
    b->st = pan_test_run(&b->p, b->cams, b->n, b->out, &b->stop, &b->sum);
    b->wall = now_s() - b->t0;
    return NULL;
}

static void bg_params(bg_run *b, const char **cams, int n)
{
    memset(b, 0, sizeof *b);
    pan_pipeline_params_default(&b->p);
    b->cams = cams;
    b->n = n;
    b->p.backend = PAN_BACKEND_CPU;
    b->p.detect = 0;
    b->p.track = 0;
    b->p.timeout_ms = 1000;
    b->p.backoff_min_ms = 100;
    b->p.backoff_max_ms = 300;
}

static void bg_start(bg_run *b)
{
    b->t0 = now_s();
    pthread_create(&b->thread, NULL, bg_main, b);
}

/* Joins the run; a run still going after `limit` seconds is stopped (and the caller fails it). */
static int bg_join(bg_run *b, double limit)
{
    int late = 0;
    while (pthread_tryjoin_np(b->thread, NULL) == EBUSY) {
        if (now_s() - b->t0 > limit && !late) {
            late = 1;
            b->stop = 1;
        }
        sleep_s(0.05);
    }
    return late ? -1 : 0;
}

/* Frame indices of `camera` in a JSONL file must rise strictly, and its timestamps never go back
 * (across reconnects too); returns how many lines it has (-1 when either fails) and the last index. */
static int jsonl_check(const char *path, int camera, long long *last)
{
    FILE *f = fopen(path, "r");
    char line[65536];
    int n = 0;
    double last_pts = -1e300;
    *last = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        int cam;
        long long idx;
        double pts;
        int k = sscanf(line, "{\"camera\":%d,\"frame\":%lld,\"pts\":%lf", &cam, &idx, &pts);
        if (k < 2 || cam != camera) continue;
        if (idx <= *last || (k == 3 && pts < last_pts)) {
            fprintf(stderr, "  %s: camera %d frame %lld (pts %.3f) after frame %lld (pts %.3f)\n", path, camera, idx,
                    k == 3 ? pts : NAN, *last, last_pts);
            fclose(f);
            return -1;
        }
        if (k == 3) last_pts = pts;
        *last = idx;
        n++;
    }
    fclose(f);
    return n;
}

/* (1) The server dies mid-stream and comes back: the camera reconnects with the same id, its
 * frame numbering goes on, and the other camera (a file read at its native rate) goes on unhurt. */
static void kill_and_restart(pan_test_ctx *pan__t, int udp)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *clip = pan_test_make_clip("file-cam.mp4", "testsrc2=size=320x240:rate=25:duration=10",
                                          "-c:v libx264 -g 25 -pix_fmt yuv420p");
    ASSERT_TRUE(clip);
    rtsp_server srv;
    char uri[128];
    char out[512];
    int rc = serve(&srv, NULL, uri);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    snprintf(out, sizeof out, "%s/restart-%s.jsonl", pan_test_tmpdir(), udp ? "udp" : "tcp");
    const char *cams[] = {clip, uri};
    const int n = 125; /* 5 s of each camera at 25 frames/s */
    bg_run b;
    bg_params(&b, cams, 2);
    b.p.max_frames = n;
    b.p.realtime = 1;
    b.p.reconnect = 20;
    b.p.rtsp_udp = udp;
    b.out = out;
    bg_start(&b);
    sleep_s(2.5);
    rtsp_server_stop(&srv, SIGKILL); /* a crash: no TEARDOWN, the socket just closes (TCP) or goes quiet (UDP) */
    sleep_s(1.5);
    rc = rtsp_server_start(&srv, srv.port, NULL, RTSP_SCRIPT);
    int late = bg_join(&b, 40);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(late, 0);
    ASSERT_OK(b.st);
    const pan_camera_stats *file = &b.sum.cameras[0], *live = &b.sum.cameras[1];
    fprintf(stderr, "  %s: live camera %lld frames, %lld dropped, %lld reconnects, %lld failed attempts, %.2f s outage;"
                    " file camera %lld frames, %lld dropped; %.1f s\n",
            udp ? "udp" : "tcp", (long long)live->frames, (long long)live->dropped, (long long)live->reconnects,
            (long long)live->failed_attempts, live->outage_s, (long long)file->frames, (long long)file->dropped, b.wall);
    /* the live camera: back, same id, every index accounted for (processed or dropped) */
    ASSERT_EQ(live->status, PAN_OK);
    ASSERT_EQ(live->state, PAN_CAMERA_ENDED);
    ASSERT_TRUE(live->live);
    ASSERT_GE(live->reconnects, 1);
    ASSERT_EQ(live->frames + live->dropped, n);
    ASSERT_GE(live->outage_s, 1.0);
    ASSERT_LE(live->outage_s, 8.0);
    /* the file camera: untouched by the other camera's outage */
    ASSERT_EQ(file->status, PAN_OK);
    ASSERT_EQ(file->state, PAN_CAMERA_ENDED);
    ASSERT_EQ(file->reconnects, 0);
    ASSERT_EQ(file->failed_attempts, 0);
    ASSERT_EQ(file->frames + file->dropped, n);
    ASSERT_LE(file->dropped, n / 10);
    ASSERT_EQ(b.sum.failed_cameras, 0);
    ASSERT_GE(b.sum.reconnects, 1);
    /* output: both cameras' indices rise; the last is the n-th frame of each stream */
    long long last;
    ASSERT_EQ(jsonl_check(out, 1, &last), live->frames);
    ASSERT_LE(last, n - 1); /* the camera stops at index n-1 (which may have been dropped) */
    ASSERT_EQ(jsonl_check(out, 0, &last), file->frames);
    pan_pipeline_stats_free(&b.sum);
}

PAN_TEST(server_killed_and_restarted_tcp) { kill_and_restart(pan__t, 0); }
PAN_TEST(server_killed_and_restarted_udp) { kill_and_restart(pan__t, 1); }

/* (1b) Live cameras share the run's clock: frames carry the time since the run started at which
 * they were sent (their stream's timestamps mapped onto the run's clock, test-live-clock.sh).
 * Camera 1's server starts 2 s after the run, so its first frame is stamped >= 1.5 s, not ~0
 * (its stream's own clock), and while both stream, the two cameras' timestamps agree within
 * 0.5 s, as the cross-camera identities (which compare them as one clock) need. (With the
 * streams' own timestamps anchored at the first frame they were 1.0 s apart: the test server
 * sends faster than real time at first.) */
PAN_TEST(live_cameras_share_the_run_clock)
{
    rtsp_server a, b2;
    int pa = rtsp_free_port(), pb = rtsp_free_port();
    while (pb == pa) pb = rtsp_free_port();
    int rc = rtsp_server_start(&a, pa, NULL, RTSP_SCRIPT);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    char ua[128], ub[128], out[512];
    snprintf(ua, sizeof ua, "rtsp://127.0.0.1:%d/cam", pa);
    snprintf(ub, sizeof ub, "rtsp://127.0.0.1:%d/cam", pb);
    snprintf(out, sizeof out, "%s/clock.jsonl", pan_test_tmpdir());
    const char *cams[] = {ua, ub};
    bg_run b;
    bg_params(&b, cams, 2);
    b.p.max_frames = 200; /* 8 s at 25 frames/s: camera 1 connects within it even on a loaded machine */
    b.p.reconnect = 40;
    b.out = out;
    bg_start(&b);
    sleep_s(2.0);
    rc = rtsp_server_start(&b2, pb, NULL, RTSP_SCRIPT);
    int late = bg_join(&b, 40);
    rtsp_server_stop(&a, SIGTERM);
    rtsp_server_stop(&b2, SIGTERM);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(late, 0);
    ASSERT_OK(b.st);
    FILE *f = fopen(out, "r");
    ASSERT_TRUE(f != NULL);
    enum { MAXL = 400 };
    static int lc[MAXL];
    static double lp[MAXL];
    int nl = 0, end[2] = {0, 0};
    char line[4096];
    while (nl < MAXL && fgets(line, sizeof line, f)) {
        int cam;
        long long idx;
        double pts;
        if (sscanf(line, "{\"camera\":%d,\"frame\":%lld,\"pts\":%lf", &cam, &idx, &pts) != 3 || cam < 0 || cam > 1)
            continue;
        lc[nl] = cam, lp[nl] = pts, end[cam] = nl++;
    }
    fclose(f);
    /* while both cameras stream: up to the first camera's last line, once camera 1 is past its
     * first second (frames keep their stream's spacing: the ones its connect held back, about a
     * second of them, carry the earlier times they were sent at and reach the consumers late) */
    double last[2] = {NAN, NAN}, first1 = NAN, worst = 0;
    int steady = 0;
    for (int i = 0; i <= (end[0] < end[1] ? end[0] : end[1]) && i < nl; i++) {
        int cam = lc[i];
        if (cam == 1 && isnan(first1)) first1 = lp[i];
        if (cam == 1 && lp[i] >= first1 + 1.0) steady = 1;
        last[cam] = lp[i];
        if (steady && !isnan(last[1 - cam]) && fabs(lp[i] - last[1 - cam]) > worst) worst = fabs(lp[i] - last[1 - cam]);
    }
    fprintf(stderr, "  camera 1's first frame at %.2f s of the run; the cameras' timestamps at most %.2f s apart\n",
            first1, worst);
    ASSERT_GE(first1, 1.5);
    ASSERT_LE(worst, 0.5);
    pan_pipeline_stats_free(&b.sum);
}

/* (2) Nothing listens on the port: connection refused, 1 + reconnect attempts, then `failed`. */
PAN_TEST(server_never_answers)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *clip = pan_test_make_clip("short.mp4", "testsrc2=size=320x240:rate=25:duration=1",
                                          "-c:v libx264 -pix_fmt yuv420p");
    ASSERT_TRUE(clip);
    char uri[128];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/cam", rtsp_free_port());
    const char *cams[] = {uri, clip};
    bg_run b;
    bg_params(&b, cams, 2);
    b.p.reconnect = 2;
    bg_start(&b);
    ASSERT_EQ(bg_join(&b, 20), 0);
    ASSERT_OK(b.st);
    const pan_camera_stats *c = &b.sum.cameras[0];
    ASSERT_EQ(c->status, PAN_NET);
    ASSERT_EQ(c->state, PAN_CAMERA_FAILED);
    ASSERT_EQ(c->failed_attempts, 3);
    ASSERT_EQ(c->frames, 0);
    ASSERT_EQ(c->reconnects, 0);
    ASSERT_EQ(b.sum.cameras[1].status, PAN_OK);
    ASSERT_EQ(b.sum.cameras[1].frames, 25);
    ASSERT_EQ(b.sum.failed_cameras, 1);
    ASSERT_LE(b.wall, 5.0); /* refused at once; two waits of at most 0.3 s */
    pan_pipeline_stats_free(&b.sum);
}

/* (3) A server that accepts and never says a word: each attempt ends at the timeout. */
PAN_TEST(stalled_server_times_out)
{
    rtsp_server srv;
    char uri[128];
    int rc = serve(&srv, "--stall", uri);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    const char *cams[] = {uri};
    bg_run b;
    bg_params(&b, cams, 1);
    b.p.timeout_ms = 700;
    b.p.reconnect = 1;
    bg_start(&b);
    int late = bg_join(&b, 20);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_EQ(late, 0);
    ASSERT_OK(b.st);
    const pan_camera_stats *c = &b.sum.cameras[0];
    ASSERT_EQ(c->status, PAN_TIMEOUT);
    ASSERT_EQ(c->state, PAN_CAMERA_FAILED);
    ASSERT_EQ(c->failed_attempts, 2);
    ASSERT_GE(b.wall, 1.4); /* two attempts of 0.7 s */
    ASSERT_LE(b.wall, 6.0);
    pan_pipeline_stats_free(&b.sum);
}

/* A server that freezes mid-stream (SIGSTOP: the connection stays open, nothing comes) is
 * detected by the read timeout, and the camera comes back once it thaws. */
PAN_TEST(stall_mid_stream_recovers)
{
    rtsp_server srv;
    char uri[128];
    int rc = serve(&srv, NULL, uri);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    const char *cams[] = {uri};
    bg_run b;
    bg_params(&b, cams, 1);
    b.p.max_frames = 100;
    b.p.reconnect = -1;
    bg_start(&b);
    sleep_s(2.0);
    rtsp_server_stop(&srv, SIGSTOP);
    sleep_s(2.5);
    rtsp_server_stop(&srv, SIGCONT);
    int late = bg_join(&b, 40);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_EQ(late, 0);
    ASSERT_OK(b.st);
    const pan_camera_stats *c = &b.sum.cameras[0];
    fprintf(stderr, "  %lld frames, %lld dropped, %lld reconnects, %lld failed attempts, %.2f s outage\n",
            (long long)c->frames, (long long)c->dropped, (long long)c->reconnects, (long long)c->failed_attempts,
            c->outage_s);
    ASSERT_EQ(c->status, PAN_OK);
    ASSERT_GE(c->reconnects, 1);
    ASSERT_EQ(c->frames + c->dropped, 100);
    pan_pipeline_stats_free(&b.sum);
}

/* A stop request ends a camera that is still connecting (to a silent server, with a long timeout). */
/* Counts the error lines logged (a camera stopped while connecting has none to report). */
static void count_errors(void *opaque, pan_log_level level, const char *line)
{
    if (level == PAN_LOG_ERROR) (*(int *)opaque)++;
    fprintf(stderr, "%s\n", line);
}

PAN_TEST(stop_while_connecting)
{
    rtsp_server srv;
    char uri[128];
    int rc = serve(&srv, "--stall", uri);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    const char *cams[] = {uri};
    bg_run b;
    bg_params(&b, cams, 1);
    b.p.timeout_ms = 30000;
    b.p.reconnect = -1;
    static int errors;
    errors = 0;
    pan_log_set_sink(count_errors, &errors);
    bg_start(&b);
    sleep_s(0.7);
    b.stop = 1;
    int late = bg_join(&b, 10);
    pan_log_set_sink(NULL, NULL);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_EQ(errors, 0); /* no false "cannot open" (issue #16 item 5) */
    ASSERT_STREQ(b.sum.cameras[0].error, "");
    ASSERT_EQ(late, 0);
    ASSERT_LE(b.wall, 2.5);
    ASSERT_EQ(b.sum.stopped_cameras, 1);
    ASSERT_EQ(b.sum.cameras[0].state, PAN_CAMERA_STOPPED);
    ASSERT_EQ(b.sum.cameras[0].frames, 0);
    pan_pipeline_stats_free(&b.sum);
}

/* A live camera faster than the pipeline (the cpu detector takes ~0.1 s a frame on 2 cores; the
 * camera sends 60 a second) drops decoded frames, counts them, and leaves gaps in the indices. */
PAN_TEST(live_camera_drops_when_behind)
{
    const char *model = pan_test_path("models/nanodet.json");
    if (access(model, R_OK) != 0) PAN_SKIP("models/nanodet.json missing (scripts/setup.sh)");
    rtsp_server srv;
    char uri[128];
    char out[512];
    int rc = serve(&srv, "--fps=60", uri);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    snprintf(out, sizeof out, "%s/drops.jsonl", pan_test_tmpdir());
    const char *cams[] = {uri};
    const int n = 180;
    bg_run b;
    bg_params(&b, cams, 1);
    b.p.detect = 1;
    b.p.track = 1;
    b.p.model_path = model;
    b.p.max_frames = n;
    b.out = out;
    bg_start(&b);
    int late = bg_join(&b, 60);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_EQ(late, 0);
    ASSERT_OK(b.st);
    const pan_camera_stats *c = &b.sum.cameras[0];
    fprintf(stderr, "  %lld frames processed, %lld dropped, peak RSS %.1f MiB\n", (long long)c->frames,
            (long long)c->dropped, b.sum.peak_rss_mib);
    ASSERT_EQ(c->status, PAN_OK);
    if (!c->dropped && (double)c->frames / b.wall > 50)
        PAN_SKIP("the cpu detector keeps up with a 60 fps camera on this machine: nothing to drop");
    ASSERT_GE(c->dropped, 1);
    ASSERT_EQ(c->frames + c->dropped, n);
    ASSERT_EQ(b.sum.dropped, c->dropped);
    long long last;
    ASSERT_EQ(jsonl_check(out, 0, &last), c->frames);
    ASSERT_LE(last, n - 1);
    pan_pipeline_stats_free(&b.sum);
}

PAN_TEST_MAIN(server_killed_and_restarted_tcp, live_cameras_share_the_run_clock, server_killed_and_restarted_udp, server_never_answers,
              stalled_server_times_out, stall_mid_stream_recovers, stop_while_connecting,
              live_camera_drops_when_behind)
