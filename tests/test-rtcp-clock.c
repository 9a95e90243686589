/* Live clock from RTCP sender reports (issue #16, item 4): a live RTSP source's clock offset is
 * measured from arrivals at connect and then refined by the camera's sender reports, which FFmpeg
 * hands over as AV_PKT_DATA_PRFT side data (src/io/source_live.c says how, and why the report time
 * belongs to the next packet for H.264).
 *
 *   - the check alone: a report clock is trusted when a picture arrives after its capture and not
 *     long after; one ahead of ours, or far behind, is rejected for good;
 *   - against GStreamer's RTSP server at 10 fps, whose reports carry this machine's wall clock (as
 *     an NTP-synchronised camera's do), over TCP and UDP: the source switches to the report clock;
 *     every packet's capture time (pts + clock_offset) is before its arrival, and the least gap is
 *     one frame interval (FFmpeg hands an H.264 picture out when the next one begins to arrive:
 *     matching the report time with its own packet instead gave ~0 ms, a frame late); the report
 *     clock is earlier than the arrival measure by that frame and the network's delay;
 *   - two connections to the same stream, one through a relay that holds the server's data back
 *     40 ms (a longer network path, tests/peers/delay_proxy.py): the report clock gives the same
 *     pictures the same times on both (within 2 ms), where the arrival measure puts them ~40 ms
 *     apart: cameras on different paths share one clock;
 *   - against the same server with reports on its running time (a camera whose clock was never
 *     set): not used, one warning, the arrival measure stays.
 * Skips (77) when Debian's python3-gi / gir1.2-gst-rtsp-server-1.0 / GStreamer plugins are missing.
 * Everything listens on 127.0.0.1 only. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "io/source.h"
#include "io/source_impl.h"
#include "panoptes/log.h"
#include "rtsp_server.h"
#include "test.h"

#define RTSP_SCRIPT pan_test_path("tests/peers/rtsp_server.py")
#define NO_GST "GStreamer's RTSP server is not installed (python3-gi gir1.2-gst-rtsp-server-1.0)"

static int warnings_unsynced;
static void count_warnings(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_WARN && strstr(line, "not synchronised")) warnings_unsynced++;
    fprintf(stderr, "%s\n", line);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

PAN_TEST(judge_trusts_only_a_clock_that_agrees_with_arrivals)
{
    pan__rtcp_clock c = {.state = PAN__RTCP_NONE, .min_delay = INFINITY, .last_delay = NAN};
    ASSERT_EQ(pan__rtcp_clock_judge(&c, NAN), PAN__RTCP_NONE);       /* no report time: nothing */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, 2.5), PAN__RTCP_WAIT);       /* in a burst: late, wait */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, 0.004), PAN__RTCP_USED);     /* came close: trusted */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, 0.3), PAN__RTCP_USED);       /* jitter: still */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, -0.01), PAN__RTCP_USED);     /* within the clocks' tolerance */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, -0.2), PAN__RTCP_REJECTED);  /* captured after arrival: ahead */
    ASSERT_EQ(pan__rtcp_clock_judge(&c, 0.004), PAN__RTCP_REJECTED); /* for good */

    pan__rtcp_clock behind = {.state = PAN__RTCP_NONE, .min_delay = INFINITY, .last_delay = NAN};
    for (int i = 0; i < 99; i++) ASSERT_EQ(pan__rtcp_clock_judge(&behind, 5.0 + i * 0.01), PAN__RTCP_WAIT);
    ASSERT_EQ(pan__rtcp_clock_judge(&behind, 5.0), PAN__RTCP_REJECTED); /* 100 packets, never close */

    pan__rtcp_clock unset = {.state = PAN__RTCP_NONE, .min_delay = INFINITY, .last_delay = NAN};
    ASSERT_EQ(pan__rtcp_clock_judge(&unset, 3.9e9), PAN__RTCP_REJECTED); /* a 1900 clock: at once */
}

typedef struct clock_run {
    pan_status open;
    int64_t packets, timed;   /* read; read while clock_rtcp */
    int64_t waited;           /* packets before clock_rtcp */
    double arrival_offset;    /* clock_offset before the reports took over */
    double rtcp_offset;       /* and after (the last) */
    double min_gap, max_early; /* over timed packets: least arrival − capture; most capture − arrival */
    double spacing_err;       /* largest |Δcapture − Δpts| between timed packets */
    double last_pts;          /* of the last timed packet */
    int64_t unrefined_apart;  /* packets before the reports whose clock_offset was not arrival_offset */
    pan_source_stats stats;
} clock_run;

/* Reads `uri` until the report clock has timed `want` packets, or `limit_s` passed. */
static clock_run read_clock(const char *uri, int udp, int want, double limit_s)
{
    clock_run r;
    memset(&r, 0, sizeof r);
    r.arrival_offset = r.rtcp_offset = NAN;
    r.min_gap = INFINITY;
    r.max_early = -INFINITY;
    pan_source *src = NULL;
    pan_source_params sp = {.uri = uri, .timeout_ms = 5000, .rtsp_udp = udp};
    if ((r.open = pan_source_create(&src, &sp))) return r;
    double t0 = mono(), prev_cap = NAN, prev_pts = NAN;
    while (r.timed < want && mono() - t0 < limit_s) {
        pan_packet pkt;
        if (pan_source_read(src, &pkt)) break;
        double arrival = mono();
        r.packets++;
        pan_source_get_stats(src, &r.stats);
        r.arrival_offset = r.stats.arrival_offset;
        if (!r.stats.clock_rtcp) {
            if (!(r.stats.clock_offset == r.stats.arrival_offset)) r.unrefined_apart++;
            continue;
        }
        if (!r.timed) r.waited = r.packets - 1;
        if (isnan(pkt.pts_seconds)) continue;
        r.timed++;
        double cap = pkt.pts_seconds + r.stats.clock_offset;
        if (arrival - cap < r.min_gap) r.min_gap = arrival - cap;
        if (cap - arrival > r.max_early) r.max_early = cap - arrival;
        if (!isnan(prev_cap)) {
            double e = fabs((cap - prev_cap) - (pkt.pts_seconds - prev_pts));
            if (e > r.spacing_err) r.spacing_err = e;
        }
        prev_cap = cap;
        prev_pts = r.last_pts = pkt.pts_seconds;
        r.rtcp_offset = r.stats.clock_offset;
    }
    pan_source_destroy(&src);
    return r;
}

static void print_run(const char *what, const clock_run *r)
{
    if (!r->timed) {
        fprintf(stderr, "  %s: %lld packets, none timed by the reports; arrival offset %.4f; report delay %.1f ms\n",
                what, (long long)r->packets, r->arrival_offset, r->stats.rtcp_delay * 1e3);
        return;
    }
    fprintf(stderr,
            "  %s: %lld packets, report clock from packet %lld on (%lld timed); offsets: arrival %.4f, reports %.4f "
            "(%.1f ms earlier); report delay %.1f ms; arrival − capture at least %.1f ms; capture at least %.1f ms "
            "before arrival; spacing error %.3f ms\n",
            what, (long long)r->packets, (long long)r->waited, (long long)r->timed, r->arrival_offset, r->rtcp_offset,
            (r->arrival_offset - r->rtcp_offset) * 1e3, r->stats.rtcp_delay * 1e3, r->min_gap * 1e3,
            -r->max_early * 1e3, r->spacing_err * 1e3);
}

static void check_report_clock(pan_test_ctx *pan__t, int udp)
{
    rtsp_server srv;
    int rc = rtsp_server_start(&srv, rtsp_free_port(), "--fps=10", RTSP_SCRIPT);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    char uri[128];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/cam", srv.port);
    clock_run r = read_clock(uri, udp, 40, 20.0);
    rtsp_server_stop(&srv, SIGTERM);
    print_run(udp ? "UDP" : "TCP", &r);
    ASSERT_OK(r.open);
    ASSERT_EQ(r.timed, 40);               /* the reports came and were trusted (gst sends one every few s) */
    ASSERT_TRUE(r.stats.clock_rtcp == 1);
    ASSERT_GE(r.stats.rtcp_delay, -0.05); /* same machine, same clock: a few ms */
    ASSERT_LE(r.stats.rtcp_delay, 0.25);
    ASSERT_LE(r.max_early, 0.005);        /* no picture captured after it arrived */
    /* H.264 comes out of FFmpeg when the next picture begins, 0.1 s later at 10 fps: the least
     * gap is that frame. The report time matched with its own packet gave about 0 here. */
    ASSERT_GE(r.min_gap, 0.09);
    ASSERT_LE(r.min_gap, 0.35);
    ASSERT_LE(r.spacing_err, 0.002);       /* the stream's own spacing */
    ASSERT_TRUE(!isnan(r.arrival_offset)); /* measured at connect */
    ASSERT_EQ(r.unrefined_apart, 0);       /* clock_offset is that measure until the reports come */
    ASSERT_GE(r.arrival_offset - r.rtcp_offset, 0.09); /* the reports' clock is earlier by that frame */
    ASSERT_LE(r.arrival_offset - r.rtcp_offset, 0.6);
}

PAN_TEST(sender_reports_time_the_frames_tcp) { check_report_clock(pan__t, 0); }
PAN_TEST(sender_reports_time_the_frames_udp) { check_report_clock(pan__t, 1); }

typedef struct clock_job {
    const char *uri;
    clock_run r;
} clock_job;

static void *clock_thread(void *arg)
{
    clock_job *j = arg;
    j->r = read_clock(j->uri, 0, 40, 20.0);
    return NULL;
}

/* Where the pictures' times fall within a frame interval (the server captures every 0.1 s, the
 * same instants for every client), seconds in [0, 0.1). */
static double phase(double t) { return fmod(fmod(t, 0.1) + 0.1, 0.1); }
static double phase_apart(double a, double b)
{
    double d = fabs(phase(a) - phase(b));
    return d > 0.05 ? 0.1 - d : d;
}

PAN_TEST(two_network_paths_share_the_report_clock)
{
    rtsp_server srv;
    int rc = rtsp_server_start(&srv, rtsp_free_port(), "--fps=10", RTSP_SCRIPT);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    int pport = rtsp_free_port();
    char portstr[16], target[16];
    snprintf(portstr, sizeof portstr, "%d", pport);
    snprintf(target, sizeof target, "%d", srv.port);
    pid_t proxy = fork();
    if (proxy == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        execl(RTSP_SERVER_PYTHON, RTSP_SERVER_PYTHON, pan_test_path("tests/peers/delay_proxy.py"), portstr, target,
              "0,0.04", (char *)NULL);
        _exit(127);
    }
    ASSERT_TRUE(proxy > 0);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) { /* ready when it accepts */
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)pport),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        up = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (!up) usleep(100000);
    }
    char uri[128];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/cam", pport);
    /* the probe above was the relay's connection 0 (direct): the cameras get 1 (40 ms) and 2 (direct) */
    clock_job jobs[2] = {{.uri = uri}, {.uri = uri}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_create(&th[i], NULL, clock_thread, &jobs[i]), 0);
        if (i == 0) usleep(300000); /* in this order */
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    kill(proxy, SIGTERM);
    waitpid(proxy, NULL, 0);
    rtsp_server_stop(&srv, SIGTERM);
    ASSERT_TRUE(up);
    print_run("40 ms longer path", &jobs[0].r);
    print_run("direct", &jobs[1].r);
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(jobs[i].r.open);
        ASSERT_EQ(jobs[i].r.timed, 40);
    }
    clock_run *slow = &jobs[0].r, *fast = &jobs[1].r;
    double rtcp_apart = phase_apart(slow->last_pts + slow->rtcp_offset, fast->last_pts + fast->rtcp_offset);
    double arrival_apart = phase_apart(slow->last_pts + slow->arrival_offset, fast->last_pts + fast->arrival_offset);
    fprintf(stderr, "  the same pictures' times on the two paths: %.2f ms apart by the reports, %.2f ms by arrival\n",
            rtcp_apart * 1e3, arrival_apart * 1e3);
    ASSERT_LE(rtcp_apart, 0.002);
    ASSERT_GE(arrival_apart, 0.02); /* the path's 40 ms (the arrival measure cannot tell it apart) */
    ASSERT_GE(slow->stats.rtcp_delay - fast->stats.rtcp_delay, 0.03); /* the relay's 40 ms, seen */
}

PAN_TEST(unsynchronised_camera_clock_is_not_used)
{
    rtsp_server srv;
    int rc = rtsp_server_start(&srv, rtsp_free_port(), "--rtcp-clock=running-time", RTSP_SCRIPT);
    if (rc == 77) PAN_SKIP(NO_GST);
    ASSERT_EQ(rc, 0);
    char uri[128];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/cam", srv.port);
    warnings_unsynced = 0;
    pan_log_init();
    pan_log_set_sink(count_warnings, NULL);
    /* reports come within a few seconds; 8 s of 25 fps see several */
    clock_run r = read_clock(uri, 0, 1, 8.0);
    pan_log_set_sink(NULL, NULL);
    rtsp_server_stop(&srv, SIGTERM);
    print_run("reports on the running time", &r);
    ASSERT_OK(r.open);
    ASSERT_GE(r.packets, 100);
    ASSERT_EQ(r.timed, 0);
    ASSERT_EQ(r.stats.clock_rtcp, 0);
    ASSERT_GE(r.stats.rtcp_delay, 1e9);       /* seen: a clock of 1900 */
    ASSERT_EQ(warnings_unsynced, 1);          /* said once */
    ASSERT_TRUE(r.stats.clock_offset == r.arrival_offset && !isnan(r.stats.clock_offset));
    ASSERT_EQ(r.unrefined_apart, 0);
}

PAN_TEST_MAIN(judge_trusts_only_a_clock_that_agrees_with_arrivals, sender_reports_time_the_frames_tcp,
              sender_reports_time_the_frames_udp, two_network_paths_share_the_report_clock,
              unsynchronised_camera_clock_is_not_used)
