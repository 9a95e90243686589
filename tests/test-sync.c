/* Alignment of file cameras by timestamps (src/pipeline_sync.c): two recordings of the same scene
 * at the same 10 fps timestamps, one 1080p (slow to decode) and one 768x576 (fast), through the
 * whole pipeline on the cpu backend (no detection). The JSONL lines come out in processing order;
 * for each line, its timestamp minus the newest timestamp the other camera has had processed is
 * how far ahead that camera ran. Aligned (sync on): never more than the 0.1 s window plus one frame
 * interval (0.1 s) plus 0.05 s. Unaligned (sync off): printed, not checked (it depends on the
 * machine). A camera waiting for one that ends (a 2-frame file) or fails (a missing file) goes on.
 * Nine cameras of both speeds and one that ends after two frames stay aligned all together (the
 * slowest camera is found in a heap, the parked ones let go by time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media.h"
#include "panoptes/pipeline.h"
#include "pipeline_run.h"
#include "test.h"

/* data/name under the source tree, or NULL when missing. */
static const char *data(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/%s", name);
    const char *p = pan_test_path(rel);
    return access(p, R_OK) == 0 ? p : NULL;
}

/* The largest lead of one camera over the other in out's lines (both cameras still running). */
static double max_lead(const char *out, int *lines)
{
    FILE *f = fopen(out, "r");
    if (!f) return -1;
    char buf[65536];
    double last[2] = {-1, -1}, lead = 0;
    *lines = 0;
    while (fgets(buf, sizeof buf, f)) {
        int cam;
        double pts;
        const char *c = strstr(buf, "\"camera\":"), *p = strstr(buf, "\"pts\":");
        if (!c || !p || sscanf(c + 9, "%d", &cam) != 1 || sscanf(p + 6, "%lf", &pts) != 1 || cam < 0 || cam > 1) continue;
        (*lines)++;
        last[cam] = pts;
        if (last[1 - cam] >= 0 && pts - last[1 - cam] > lead) lead = pts - last[1 - cam];
    }
    fclose(f);
    return lead;
}

/* The largest lead of any camera over the slowest other one still running (one that has not yet
 * delivered its total[] frames), in out's lines of n cameras. */
static double max_lead_n(const char *out, int n, const int64_t *total, int *lines)
{
    FILE *f = fopen(out, "r");
    if (!f) return -1;
    char buf[65536];
    double last[16], lead = 0;
    int64_t got[16] = {0};
    for (int i = 0; i < n; i++) last[i] = -1;
    *lines = 0;
    while (fgets(buf, sizeof buf, f)) {
        int cam;
        double pts;
        const char *c = strstr(buf, "\"camera\":"), *p = strstr(buf, "\"pts\":");
        if (!c || !p || sscanf(c + 9, "%d", &cam) != 1 || sscanf(p + 6, "%lf", &pts) != 1 || cam < 0 || cam >= n) continue;
        (*lines)++;
        last[cam] = pts;
        got[cam]++;
        double slowest = 1e300;
        int all_started = 1;
        for (int i = 0; i < n; i++) {
            if (i == cam || got[i] >= total[i]) continue;
            if (last[i] < 0) all_started = 0;
            else if (last[i] < slowest) slowest = last[i];
        }
        if (all_started && slowest < 1e300 && pts - slowest > lead) lead = pts - slowest;
    }
    fclose(f);
    return lead;
}

/* n cameras decoded only (cpu), frames each, sync as pan_pipeline_params.sync. */
static pan_status run_cams(const char **cams, int n, int sync, int loop, int64_t frames, const char *out,
                           pan_pipeline_stats *sum)
{
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = 0;
    p.track = 0;
    p.max_frames = frames;
    p.sync = sync;
    p.loop = loop;
    return pan_test_run(&p, cams, n, out, NULL, sum);
}

static pan_status run_two_loop(const char *a, const char *b, int sync, int loop, int64_t frames, const char *out,
                               pan_pipeline_stats *sum)
{
    const char *cams[2] = {a, b};
    return run_cams(cams, 2, sync, loop, frames, out, sum);
}

static pan_status run_two(const char *a, const char *b, int sync, int64_t frames, const char *out, pan_pipeline_stats *sum)
{
    return run_two_loop(a, b, sync, 0, frames, out, sum);
}

PAN_TEST(file_cameras_aligned_by_timestamps)
{
    const char *slow = data("vtest-1080p.mp4"), *fast = data("vtest.mp4");
    if (!slow || !fast) PAN_SKIP("data/vtest-1080p.mp4 or vtest.mp4 missing (run scripts/setup.sh)");
    char out[512];
    snprintf(out, sizeof out, "%s/sync.jsonl", pan_test_tmpdir());
    for (int sync = -1; sync <= 1; sync += 2) {
        pan_pipeline_stats sum;
        ASSERT_OK(run_two(slow, fast, sync, 150, out, &sum));
        ASSERT_EQ(sum.cameras[0].frames, 150);
        ASSERT_EQ(sum.cameras[1].frames, 150);
        int lines = 0;
        double lead = max_lead(out, &lines);
        fprintf(stderr, "  sync %s: %d lines, largest lead of one camera over the other %.2f s (%.0f fps)\n",
                sync > 0 ? "on " : "off", lines, lead, sum.fps);
        ASSERT_EQ(lines, 300);
        if (sync > 0) ASSERT_LE(lead, 0.25);
        pan_pipeline_stats_free(&sum);
    }
}

PAN_TEST(a_camera_that_ends_releases_the_others)
{
    const char *fast = data("vtest.mp4");
    if (!fast) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    if (!pan_test_have_ffmpeg()) PAN_SKIP("no ffmpeg to make the short clip");
    const char *two = pan_test_make_clip("two-frames.mp4", "testsrc2=size=320x240:rate=10", "-frames:v 2 -c:v libx264 -pix_fmt yuv420p");
    ASSERT_TRUE(two != NULL);
    pan_pipeline_stats sum;
    ASSERT_OK(run_two(fast, two, 1, 60, NULL, &sum));
    ASSERT_EQ(sum.cameras[0].frames, 60);
    ASSERT_EQ(sum.cameras[1].frames, 2);
    pan_pipeline_stats_free(&sum);
    /* a missing file fails at once: the other camera goes on */
    ASSERT_TRUE(run_two(fast, "/nonexistent/cam.mp4", 1, 30, NULL, &sum) != PAN_OK || sum.failed_cameras == 1);
    ASSERT_EQ(sum.cameras[0].frames, 30);
    pan_pipeline_stats_free(&sum);
}

PAN_TEST(many_cameras_stay_aligned)
{
    const char *slow = data("vtest-1080p.mp4"), *fast = data("vtest.mp4");
    if (!slow || !fast) PAN_SKIP("data/vtest-1080p.mp4 or vtest.mp4 missing (run scripts/setup.sh)");
    if (!pan_test_have_ffmpeg()) PAN_SKIP("no ffmpeg to make the short clip");
    const char *two = pan_test_make_clip("two-frames.mp4", "testsrc2=size=320x240:rate=10", "-frames:v 2 -c:v libx264 -pix_fmt yuv420p");
    ASSERT_TRUE(two != NULL);
    enum { N = 10, FRAMES = 40 };
    const char *cams[N];
    int64_t total[N];
    for (int i = 0; i < N; i++) {
        cams[i] = i == 4 ? two : i % 3 == 0 ? slow : fast;
        total[i] = i == 4 ? 2 : FRAMES;
    }
    char out[512];
    snprintf(out, sizeof out, "%s/sync-many.jsonl", pan_test_tmpdir());
    pan_pipeline_stats sum;
    ASSERT_OK(run_cams(cams, N, 1, 0, FRAMES, out, &sum));
    for (int i = 0; i < N; i++) ASSERT_EQ(sum.cameras[i].frames, total[i]);
    int lines = 0;
    double lead = max_lead_n(out, N, total, &lines);
    fprintf(stderr, "  %d cameras: largest lead over the slowest other %.2f s over %d lines\n", N, lead, lines);
    ASSERT_EQ(lines, (N - 1) * FRAMES + 2);
    ASSERT_LE(lead, 0.25);
    pan_pipeline_stats_free(&sum);
}

/* With --loop, a short clip's later passes go on in time (the source shifts their timestamps), so
 * it stays aligned with a long one. */
PAN_TEST(looped_files_stay_aligned)
{
    const char *fast = data("vtest.mp4");
    if (!fast) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    if (!pan_test_have_ffmpeg()) PAN_SKIP("no ffmpeg to make the short clip");
    const char *shorty = pan_test_make_clip("four-seconds.mp4", "testsrc2=size=320x240:rate=10",
                                            "-frames:v 40 -c:v libx264 -pix_fmt yuv420p");
    ASSERT_TRUE(shorty != NULL);
    char out[512];
    snprintf(out, sizeof out, "%s/loop.jsonl", pan_test_tmpdir());
    pan_pipeline_stats sum;
    ASSERT_OK(run_two_loop(fast, shorty, 1, 1, 130, out, &sum)); /* the short clip plays 3.25 times */
    ASSERT_EQ(sum.cameras[0].frames, 130);
    ASSERT_EQ(sum.cameras[1].frames, 130);
    int lines = 0;
    double lead = max_lead(out, &lines);
    fprintf(stderr, "  looped 4 s clip beside the sample: largest lead %.2f s over %d lines\n", lead, lines);
    ASSERT_EQ(lines, 260);
    ASSERT_LE(lead, 0.25);
    pan_pipeline_stats_free(&sum);
}

PAN_TEST_MAIN(many_cameras_stay_aligned, file_cameras_aligned_by_timestamps, a_camera_that_ends_releases_the_others, looped_files_stay_aligned)
