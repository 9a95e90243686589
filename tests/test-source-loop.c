/* Looped files (issue #16): every pass of a looped file is measured against what its container
 * promises on its own, so a complete file is never called truncated however often it loops, and
 * a truncated one still is.
 *
 * The false "the stream ended before its container said it would: 0.00 s of its 20.00 s were
 * read ... looping anyway" that bench_cameras showed (several cameras looping a 20 s clip fast)
 * came from pass 2: its end (this pass's own pts) was compared with the loop offset taken off,
 * 20 s − 20 s = 0 s read. The existing loop test did not see it because its clips (0.8 s) were
 * shorter than the duration check's 1 s margin. Here the clips are 3 s (past the margin) and loop
 * many times, in every container the duration check reads differently (MP4 index, MKV/WebM tag,
 * MPEG-TS and AVI durations, Annex-B with none), in several threads at once as cameras do. */
#include <pthread.h>

#include "damage.h"
#include "media.h"
#include "panoptes/log.h"
#include "test.h"

/* Errors logged by the source, counted (the false truncation was an error line). */
static int errors_logged;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void count_errors(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_ERROR) {
        pthread_mutex_lock(&log_lock);
        errors_logged++;
        pthread_mutex_unlock(&log_lock);
    }
    fprintf(stderr, "%s\n", line);
}

static void count_errors_from_now(void)
{
    pan_log_init();
    pan_log_set_sink(count_errors, NULL);
    pthread_mutex_lock(&log_lock);
    errors_logged = 0;
    pthread_mutex_unlock(&log_lock);
}

#define SRC_LAVFI "testsrc2=size=64x64:rate=30:duration=3"

static const char *clip(const char *name, const char *args) { return pan_test_make_clip(name, SRC_LAVFI, args); }

/* Packets in one pass (the file read once, without looping); -1 when it does not end cleanly. */
static int64_t packets_per_pass(const char *path)
{
    pan_source *src = NULL;
    pan_source_params sp = {.uri = path};
    if (pan_source_create(&src, &sp)) return -1;
    pan_packet pkt;
    int64_t n = 0;
    pan_status st;
    while ((st = pan_source_read(src, &pkt)) == PAN_OK) n++;
    pan_source_destroy(&src);
    return st == PAN_EOF ? n : -1;
}

typedef struct loop_result {
    pan_status open, last;   /* create, and the last read (PAN_OK: every packet asked for came) */
    int64_t packets;         /* read */
    int64_t serial;          /* passes begun − 1 */
    int64_t backwards;       /* packets whose pts went back (looped timestamps must keep increasing) */
    pan_source_stats stats;
} loop_result;

/* Reads `want` packets of `path` looped. */
static loop_result loop_read(const char *path, int64_t want)
{
    loop_result r;
    memset(&r, 0, sizeof r);
    pan_source *src = NULL;
    pan_source_params sp = {.uri = path, .loop = 1};
    if ((r.open = pan_source_create(&src, &sp))) return r;
    double top = -INFINITY;
    int64_t serial = 0;
    while (r.packets < want) {
        pan_packet pkt;
        if ((r.last = pan_source_read(src, &pkt))) break;
        r.packets++;
        if (pkt.serial != serial) { /* a new pass starts past everything of the one before */
            if (!isnan(pkt.pts_seconds) && pkt.pts_seconds <= top) r.backwards++;
            serial = pkt.serial;
        }
        if (!isnan(pkt.pts_seconds) && pkt.pts_seconds > top) top = pkt.pts_seconds;
    }
    r.serial = serial;
    pan_source_get_stats(src, &r.stats);
    pan_source_destroy(&src);
    return r;
}

#define PASSES 12

PAN_TEST(looped_complete_files_are_never_truncated)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    static const struct {
        const char *name, *args;
    } clips[] = {
        {"loop.mp4", "-c:v libx264 -g 30 -pix_fmt yuv420p"}, /* B-frames: an edit list shifts pts */
        {"loop-fs.mp4", "-c:v libx264 -g 30 -pix_fmt yuv420p -movflags +faststart"},
        {"loop-nob.mp4", "-c:v libx264 -bf 0 -g 15 -pix_fmt yuv420p"},
        {"loop.mkv", "-c:v libx264 -g 30 -pix_fmt yuv420p"},
        {"loop.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 100k -g 30"},
        {"loop.ts", "-c:v libx264 -g 30 -pix_fmt yuv420p"}, /* starts at 1.4 s (muxer delay) */
        {"loop.avi", "-c:v mpeg4 -q:v 5 -g 30"},
        {"loop.h264", "-c:v libx264 -g 30 -pix_fmt yuv420p -f h264"}, /* no duration: nothing to check */
    };
    count_errors_from_now();
    for (size_t i = 0; i < sizeof clips / sizeof *clips; i++) {
        const char *path = clip(clips[i].name, clips[i].args);
        if (!path) {
            fprintf(stderr, "  %s: ffmpeg cannot make it here (encoder missing?), skipped\n", clips[i].name);
            continue;
        }
        int64_t per = packets_per_pass(path);
        ASSERT_GE(per, 80); /* 90 frames (mpeg4 in AVI may keep a few less) */
        loop_result r = loop_read(path, PASSES * per + 1);
        fprintf(stderr, "  %-12s %lld packets a pass, looped: %lld packets in %lld passes, %lld truncated, "
                        "%lld backwards\n",
                clips[i].name, (long long)per, (long long)r.packets, (long long)r.serial + 1,
                (long long)r.stats.truncated, (long long)r.backwards);
        ASSERT_OK(r.open);
        ASSERT_OK(r.last);
        ASSERT_EQ(r.packets, PASSES * per + 1);
        ASSERT_EQ(r.serial, PASSES); /* the last packet is pass PASSES+1's first: every pass whole */
        ASSERT_EQ(r.stats.truncated, 0);
        ASSERT_EQ(r.stats.missing_packets, 0);
        ASSERT_EQ(r.backwards, 0);
    }
    ASSERT_EQ(errors_logged, 0);
}

/* bench_cameras' case: several cameras looping one short file as fast as they can. */
typedef struct loop_job {
    const char *path;
    int64_t want;
    loop_result r;
} loop_job;

static void *loop_thread(void *arg)
{
    loop_job *j = arg;
    j->r = loop_read(j->path, j->want);
    return NULL;
}

PAN_TEST(four_cameras_loop_one_file_at_once)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *path = clip("loop.mp4", "-c:v libx264 -g 30 -pix_fmt yuv420p");
    ASSERT_TRUE(path != NULL);
    int64_t per = packets_per_pass(path);
    ASSERT_EQ(per, 90);
    count_errors_from_now();
    loop_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (loop_job){.path = path, .want = 20 * per};
        ASSERT_EQ(pthread_create(&th[i], NULL, loop_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(jobs[i].r.last);
        ASSERT_EQ(jobs[i].r.packets, 20 * per);
        ASSERT_EQ(jobs[i].r.stats.truncated, 0);
        ASSERT_EQ(jobs[i].r.backwards, 0);
    }
    ASSERT_EQ(errors_logged, 0);
}

/* A file that really is truncated is reported at every pass (counted), logged once, and loops on. */
PAN_TEST(looped_truncated_files_are_reported_and_loop_on)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *fs = clip("loop-fs.mp4", "-c:v libx264 -g 30 -pix_fmt yuv420p -movflags +faststart");
    const char *mkv = clip("loop.mkv", "-c:v libx264 -g 30 -pix_fmt yuv420p");
    ASSERT_TRUE(fs && mkv);
    const char *cut[2] = {damage_copy(fs, "loop-half.mp4", file_size(fs) / 2, 0, 0),
                          damage_copy(mkv, "loop-half.mkv", file_size(mkv) / 2, 0, 0)};
    for (int k = 0; k < 2; k++) {
        ASSERT_TRUE(cut[k] != NULL);
        count_errors_from_now();
        loop_result r = loop_read(cut[k], 200); /* about 45 packets a pass: 4 passes and more */
        fprintf(stderr, "  %s looped: %lld packets, %lld passes, %lld truncated (%lld packets, %.2f s missing)\n",
                cut[k], (long long)r.packets, (long long)r.serial + 1, (long long)r.stats.truncated,
                (long long)r.stats.missing_packets, r.stats.missing_s);
        ASSERT_OK(r.open);
        ASSERT_OK(r.last);
        ASSERT_EQ(r.packets, 200);
        ASSERT_GE(r.serial, 3);
        ASSERT_EQ(r.stats.truncated, r.serial); /* every pass that ended */
        if (k == 0) ASSERT_GE(r.stats.missing_packets, 20);
        else ASSERT_GE(r.stats.missing_s, 1.0);
        ASSERT_EQ(r.backwards, 0);
        ASSERT_EQ(errors_logged, 1); /* said once, not at every pass */
    }
}

/* Offset of the top-level box `type` in an MP4 file, -1 when absent. */
static long mp4_box(const char *path, const char *type)
{
    FILE *f = fopen(path, "rb");
    long at = 0, found = -1;
    unsigned char h[8];
    while (f && fseek(f, at, SEEK_SET) == 0 && fread(h, 1, 8, f) == 8) {
        unsigned long size = (unsigned long)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
        if (!memcmp(h + 4, type, 4)) {
            found = at;
            break;
        }
        if (size < 8) break; /* 64-bit or to-the-end boxes: not in these small files */
        at += (long)size;
    }
    if (f) fclose(f);
    return found;
}

/* An MP4 whose index survives but none of its samples do (cut right after the moov): looped, it
 * is one truncated pass, reported once, and then the end (PAN_TRUNCATED), not a loop over
 * nothing, and not a second "truncated" for the empty pass after seeking back. */
PAN_TEST(looped_file_with_nothing_readable_ends_truncated)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *fs = clip("loop-fs.mp4", "-c:v libx264 -g 30 -pix_fmt yuv420p -movflags +faststart");
    ASSERT_TRUE(fs != NULL);
    long mdat = mp4_box(fs, "mdat");
    ASSERT_TRUE(mdat > 0);
    const char *cut = damage_copy(fs, "loop-nomdat.mp4", mdat + 8, 0, 0);
    ASSERT_TRUE(cut != NULL);
    count_errors_from_now();
    loop_result r = loop_read(cut, 10);
    fprintf(stderr, "  samples cut away, looped: open %s, end %s after %lld packets, %lld truncated\n",
            pan_status_name(r.open), pan_status_name(r.last), (long long)r.packets, (long long)r.stats.truncated);
    ASSERT_OK(r.open);
    ASSERT_EQ(r.last, PAN_TRUNCATED);
    ASSERT_EQ(r.packets, 0);
    ASSERT_EQ(r.stats.truncated, 1);
    ASSERT_EQ(r.stats.missing_packets, 90);
    ASSERT_EQ(errors_logged, 1);
}

PAN_TEST_MAIN(looped_complete_files_are_never_truncated, four_cameras_loop_one_file_at_once,
              looped_truncated_files_are_reported_and_loop_on, looped_file_with_nothing_readable_ends_truncated)
