/* Bad input is normal input: each case gives a clear error (a status, no crash, no leak under
 * the sanitizer build), and in a multi-camera run the good cameras are unaffected. */
#include <fcntl.h>
#include <sys/stat.h>

#include "media.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "pipeline_run.h"
#include "io/source.h"
#include "test.h"

static const char *write_file(const char *name, const void *data, size_t n)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ & 7];
    snprintf(p, 512, "%s/%s", pan_test_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

/* Copies the first `keep` fraction of src to a new file. */
static const char *truncated_copy(const char *src, const char *name, double keep)
{
    FILE *f = fopen(src, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    long k = (long)((double)n * keep);
    char *buf = malloc((size_t)k);
    size_t got = fread(buf, 1, (size_t)k, f);
    fclose(f);
    const char *p = write_file(name, buf, got);
    free(buf);
    return p;
}

/* Copies src with bytes in the middle third overwritten by a fixed pseudo-random pattern
 * (every 97th kilobyte garbled), leaving the container's framing intact for MPEG-TS. */
static const char *garbled_copy(const char *src, const char *name)
{
    FILE *f = fopen(src, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    unsigned x = 12345;
    for (long i = got / 3; i < (long)(2 * got / 3); i += 188 * 7)
        for (int j = 5; j < 180; j++) { /* keep TS packet headers, garble payload */
            x = x * 1103515245u + 12345u;
            buf[i + j] = (unsigned char)(x >> 16);
        }
    const char *p = write_file(name, buf, got);
    free(buf);
    return p;
}

static pan_status open_status(const char *uri)
{
    pan_source *s = NULL;
    pan_source_params sp = {.uri = uri, .timeout_ms = 1500};
    pan_status st = pan_source_create(&s, &sp);
    pan_source_destroy(&s);
    return st;
}

PAN_TEST(missing_file)
{
    ASSERT_EQ(open_status("/nonexistent/panoptes/clip.mp4"), PAN_NOTFOUND);
}

PAN_TEST(empty_file)
{
    const char *p = write_file("empty.mp4", "", 0);
    pan_status st = open_status(p);
    ASSERT_TRUE(st < 0);
    ASSERT_TRUE(st != PAN_EOF); /* an error, not the normal end of a camera */
}

/* An MP4 cut inside its header (its first 1000 bytes): an error (the camera fails), not a camera
 * that ended. */
PAN_TEST(file_cut_inside_its_header_fails)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *good = pan_test_make_clip("header.mp4", "testsrc2=size=320x240:rate=25:duration=4",
                                          "-c:v libx264 -g 25 -pix_fmt yuv420p -movflags +faststart");
    ASSERT_TRUE(good != NULL);
    FILE *f = fopen(good, "rb");
    ASSERT_TRUE(f != NULL);
    char head[1000]; /* the moov box of a 4 s clip is over 2 KiB */
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    const char *cut = write_file("header-cut.mp4", head, n);
    ASSERT_EQ(open_status(cut), PAN_CORRUPT);
}

PAN_TEST(garbage_bytes)
{
    unsigned char junk[65536];
    unsigned x = 7;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1664525u + 1013904223u;
        junk[i] = (unsigned char)(x >> 24);
    }
    const char *p = write_file("junk.mp4", junk, sizeof junk);
    ASSERT_TRUE(open_status(p) < 0);
}

PAN_TEST(audio_only_is_unsupported)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -f lavfi -i sine=duration=1 '%s/audio.wav'", pan_test_tmpdir());
    ASSERT_EQ(system(cmd), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/audio.wav", pan_test_tmpdir());
    ASSERT_EQ(open_status(p), PAN_UNSUPPORTED);
}

PAN_TEST(bad_urls)
{
    ASSERT_TRUE(open_status("rtsp://127.0.0.1:1/nothing") < 0);
    ASSERT_TRUE(open_status("http://127.0.0.1:1/nothing.mp4") < 0);
    ASSERT_TRUE(open_status("nosuchproto://x") < 0);
    ASSERT_TRUE(open_status("") < 0);
}

static pan_status run_cameras(const char **cams, int n, pan_pipeline_stats *sum, int64_t max_frames)
{
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = PAN_BACKEND_CPU;
    p.detect = 0;
    p.track = 0;
    p.max_frames = max_frames;
    p.timeout_ms = 1500;
    return pan_test_run(&p, cams, n, NULL, NULL, sum);
}

PAN_TEST(bad_cameras_do_not_stop_good_ones)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *good = pan_test_make_clip("good.mp4", "testsrc2=size=320x240:rate=25:duration=2",
                                          "-c:v libx264 -g 25 -pix_fmt yuv420p");
    const char *ts = pan_test_make_clip("good.ts", "testsrc2=size=320x240:rate=25:duration=4",
                                        "-c:v libx264 -g 25 -pix_fmt yuv420p");
    ASSERT_TRUE(good && ts);
    const char *trunc = truncated_copy(ts, "trunc.ts", 0.5);
    const char *garbled = garbled_copy(ts, "garbled.ts");
    unsigned char junk[4096] = {1, 2, 3};
    const char *junkf = write_file("junk.mkv", junk, sizeof junk);
    const char *cams[] = {good, "/nonexistent.mp4", trunc, junkf, garbled, "rtsp://127.0.0.1:1/x", good};
    pan_pipeline_stats sum;
    ASSERT_OK(run_cameras(cams, 7, &sum, 0));
    ASSERT_EQ(sum.cameras[0].frames, 50);
    ASSERT_EQ(sum.cameras[0].status, PAN_OK);
    ASSERT_EQ(sum.cameras[6].frames, 50);
    ASSERT_EQ(sum.cameras[1].status, PAN_NOTFOUND);
    ASSERT_EQ(sum.cameras[1].frames, 0);
    /* a truncated TS decodes what is there and ends normally */
    ASSERT_GE(sum.cameras[2].frames, 30);
    ASSERT_LE(sum.cameras[2].frames, 60);
    ASSERT_TRUE(sum.cameras[3].status < 0);
    /* damage in the middle: the decoder resynchronises and goes on to the end */
    ASSERT_GE(sum.cameras[4].frames, 60);
    ASSERT_TRUE(sum.cameras[5].status < 0);
    ASSERT_EQ(sum.failed_cameras, 3);
    pan_pipeline_stats_free(&sum);
}

PAN_TEST(many_cameras_exact_counts)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *a = pan_test_make_clip("a.mp4", "testsrc2=size=320x240:rate=25:duration=2", "-c:v libx264 -pix_fmt yuv420p");
    const char *b = pan_test_make_clip("b.mkv", "testsrc=size=160x120:rate=30:duration=1", "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p");
    const char *c = pan_test_make_clip("c.avi", "testsrc=size=176x144:rate=10:duration=3", "-c:v mpeg4");
    ASSERT_TRUE(a && b && c);
    const char *cams[] = {a, b, c, a, b, c, a, b};
    const int expect[] = {50, 30, 30, 50, 30, 30, 50, 30};
    pan_pipeline_stats sum;
    ASSERT_OK(run_cameras(cams, 8, &sum, 0));
    for (int i = 0; i < 8; i++) ASSERT_EQ(sum.cameras[i].frames, expect[i]);
    ASSERT_EQ(sum.failed_cameras, 0);
    pan_pipeline_stats_free(&sum);
    /* --max-frames and --loop */
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    const char *one[] = {c, a};
    p.backend = PAN_BACKEND_CPU;
    p.detect = 0;
    p.loop = 1;
    p.max_frames = 77;
    ASSERT_OK(pan_test_run(&p, one, 2, NULL, NULL, &sum));
    ASSERT_EQ(sum.cameras[0].frames, 77);
    ASSERT_EQ(sum.cameras[1].frames, 77);
    pan_pipeline_stats_free(&sum);
}

PAN_TEST_MAIN(missing_file, empty_file, file_cut_inside_its_header_fails, garbage_bytes, audio_only_is_unsupported, bad_urls,
              bad_cameras_do_not_stop_good_ones, many_cameras_exact_counts)
