/* Damaged and truncated recordings are told apart from complete ones (issue #16, items 1 and 2),
 * at the source and decoder level that the camera code reports from:
 *   - an MP4 with 64 KiB overwritten mid-file: the frames lost are counted (frames + lost =
 *     the packets' pictures), nothing is called truncated;
 *   - an MP4 cut in half (index at the front) and an MKV cut in half: PAN_TRUNCATED with what is
 *     missing, after every packet that was there;
 *   - complete files of every container (MP4 with and without an edit list, faststart, MKV, WebM,
 *     MPEG-TS, AVI, Annex-B) end with PAN_EOF, no damage counted;
 *   - over HTTP from python's http.server (no range requests): an MP4 with its index at the end
 *     fails at open with PAN_NOSEEK (it gave 0 frames and "ok"), a faststart one plays whole, and a
 *     download the server cuts short ends PAN_TRUNCATED. */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "damage.h"
#include "panoptes/log.h"
#include "rtsp_server.h" /* rtsp_free_port */
#include "test.h"

#define NEED_SAMPLE()                                                                                   \
    do {                                                                                                \
        if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");                                  \
        if (access(pan_test_path("data/vtest.mp4"), R_OK)) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)"); \
    } while (0)

static const char *clip60(void) { return damage_clip("clip60.mp4", "-frames:v 60 -c copy"); }
static const char *clip60_faststart(void) { return damage_clip("clip60-fs.mp4", "-frames:v 60 -c copy -movflags +faststart"); }

PAN_TEST(overwritten_mp4_counts_lost_frames)
{
    NEED_SAMPLE();
    const char *src = clip60_faststart();
    ASSERT_TRUE(src != NULL);
    const char *bad = damage_copy(src, "overwritten.mp4", -1, 400 * 1024, 64 * 1024);
    ASSERT_TRUE(bad != NULL);
    damage_read r = damage_read_all(bad);
    damage_print("64 KiB overwritten", &r);
    ASSERT_OK(r.open);
    ASSERT_EQ(r.end, PAN_EOF);      /* every packet is there: damaged, not truncated */
    ASSERT_EQ(r.src.packets, 60);
    ASSERT_TRUE(r.frames < 60);      /* it gave 49..53 of 60 frames and "ok" */
    ASSERT_GE(r.dec.errors, 1);
    ASSERT_GE(r.dec.lost, 1);
    ASSERT_EQ(r.frames + r.dec.lost, 60); /* every picture is delivered or counted lost */
}

PAN_TEST(mp4_cut_in_half_is_truncated)
{
    NEED_SAMPLE();
    const char *src = clip60_faststart();
    ASSERT_TRUE(src != NULL);
    const char *cut = damage_copy(src, "half.mp4", file_size(src) / 2, 0, 0);
    damage_read r = damage_read_all(cut);
    damage_print("MP4 cut in half", &r);
    ASSERT_OK(r.open);
    ASSERT_EQ(r.end, PAN_TRUNCATED); /* it gave 13..25 frames and "ok" */
    ASSERT_GE(r.src.missing_packets, 20);
    ASSERT_EQ(r.src.missing_packets + r.src.packets, 60);
    ASSERT_EQ(r.src.truncated, 1);
    ASSERT_GE(r.frames, 10);         /* the frames that were there were decoded */
}

PAN_TEST(mkv_cut_in_half_is_truncated)
{
    NEED_SAMPLE();
    const char *src = damage_clip("clip60.mkv", "-frames:v 60 -c copy");
    ASSERT_TRUE(src != NULL);
    const char *cut = damage_copy(src, "half.mkv", file_size(src) / 2, 0, 0);
    damage_read r = damage_read_all(cut);
    damage_print("MKV cut in half", &r);
    ASSERT_OK(r.open);
    ASSERT_EQ(r.end, PAN_TRUNCATED);
    ASSERT_GE(r.src.missing_s, 2.0);
    ASSERT_GE(r.frames, 10);
}

/* Complete files: never truncated, never damaged, every frame (an edit list's hidden ones aside). */
PAN_TEST(complete_files_end_cleanly)
{
    NEED_SAMPLE();
    static const struct {
        const char *name, *args;
        int frames;
    } clips[] = {
        {"c.mp4", "-frames:v 40 -c copy", 40},
        {"c-fs.mp4", "-frames:v 40 -c copy -movflags +faststart", 40},
        {"c.mkv", "-frames:v 40 -c copy", 40},
        {"c.ts", "-frames:v 40 -c copy", 40},
        {"c.h264", "-frames:v 40 -c copy -bsf:v h264_mp4toannexb -f h264", 40},
        {"c.avi", "-frames:v 40 -vf scale=320:240 -c:v mpeg4 -q:v 5", 40},
        {"c-vp9.webm", "-frames:v 12 -vf scale=160:120 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 200k", 12},
        {"c-hevc.mp4", "-frames:v 20 -vf scale=320:240 -c:v libx265 -preset ultrafast -x265-params log-level=error", 20},
        {"c-bframes.mkv", "-frames:v 30 -vf scale=320:240 -c:v libx264 -preset ultrafast -bf 3 -g 12", 30},
    };
    /* an edit list that hides the frames before 2.05 s (decoded as references, not shown) */
    char edit[600], cmd[1400];
    snprintf(edit, sizeof edit, "%s/c-edit.mp4", pan_test_tmpdir());
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -ss 2.05 -i '%s' -c copy '%s'", clip60(), edit);
    ASSERT_EQ(system(cmd), 0);
    damage_read e = damage_read_all(edit);
    damage_print("c-edit.mp4", &e);
    ASSERT_EQ(e.end, PAN_EOF);
    ASSERT_GE(e.src.discarded, 1);
    ASSERT_EQ(e.frames, e.src.packets - e.src.discarded);
    ASSERT_EQ(e.frames, e.info.index_frames);
    ASSERT_EQ(e.dec.discarded, e.src.discarded);
    ASSERT_EQ(e.dec.lost + e.dec.errors, 0);
    for (size_t i = 0; i < sizeof clips / sizeof *clips; i++) {
        const char *path = damage_clip(clips[i].name, clips[i].args);
        if (!path) {
            fprintf(stderr, "  %s: ffmpeg cannot make it here (encoder missing?), skipped\n", clips[i].name);
            continue;
        }
        damage_read r = damage_read_all(path);
        damage_print(clips[i].name, &r);
        ASSERT_OK(r.open);
        ASSERT_EQ(r.end, PAN_EOF);
        ASSERT_EQ(r.src.truncated, 0);
        ASSERT_EQ(r.src.corrupt, 0);
        ASSERT_EQ(r.dec.errors, 0);
        ASSERT_EQ(r.dec.lost, 0);
        ASSERT_EQ(r.frames, clips[i].frames);
    }
}

/* A looped complete file is never called truncated: each pass is measured on its own timestamps
 * (the second pass of an MKV was, its end compared with the loop offset taken off twice). */
PAN_TEST(looped_complete_files_are_not_truncated)
{
    NEED_SAMPLE();
    const char *clips[] = {damage_clip("loop.mkv", "-frames:v 20 -c copy"), damage_clip("loop.mp4", "-frames:v 20 -c copy")};
    for (int k = 0; k < 2; k++) {
        ASSERT_TRUE(clips[k] != NULL);
        pan_source *src = NULL;
        pan_source_params sp = {.uri = clips[k], .loop = 1};
        ASSERT_OK(pan_source_create(&src, &sp));
        int n = 0;
        pan_packet pkt;
        while (n < 70 && pan_source_read(src, &pkt) == PAN_OK) n++;
        pan_source_stats ss;
        pan_source_get_stats(src, &ss);
        pan_source_destroy(&src);
        fprintf(stderr, "  %s looped: %d packets (%lld passes truncated)\n", clips[k], n, (long long)ss.truncated);
        ASSERT_EQ(n, 70); /* three passes and a half */
        ASSERT_EQ(ss.truncated, 0);
    }
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

/* A server on 127.0.0.1 serving tmpdir: python's http.server (no range requests), or with
 * `cut` a handler that announces the whole file's Content-Length and closes halfway. */
static pid_t start_http(int port, int cut)
{
    static const char *cut_py =
        "import http.server,os,sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "  def do_GET(self):\n"
        "    p=os.path.join(sys.argv[2],os.path.basename(self.path)); d=open(p,'rb').read()\n"
        "    self.send_response(200); self.send_header('Content-Length',str(len(d))); self.end_headers()\n"
        "    self.wfile.write(d[:len(d)//2]); self.wfile.flush(); self.close_connection=True\n"
        "  def log_message(self,*a): pass\n"
        "http.server.HTTPServer(('127.0.0.1',int(sys.argv[1])),H).serve_forever()\n";
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1), dup2(null, 2);
        if (cut) execl("/usr/bin/python3", "python3", "-c", cut_py, portstr, pan_test_tmpdir(), (char *)NULL);
        else execl("/usr/bin/python3", "python3", "-m", "http.server", portstr, "--bind", "127.0.0.1", "--directory",
                   pan_test_tmpdir(), (char *)NULL);
        _exit(127);
    }
    /* ready when it accepts */
    for (int i = 0; i < 100; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (ok) return pid;
        usleep(50000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_http(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

PAN_TEST(http_mp4_index_at_end_without_ranges_fails)
{
    NEED_SAMPLE();
    if (access("/usr/bin/python3", X_OK)) PAN_SKIP("/usr/bin/python3 missing");
    ASSERT_TRUE(clip60() && clip60_faststart());
    int port = rtsp_free_port();
    pid_t srv = start_http(port, 0);
    ASSERT_TRUE(srv > 0);
    char uri[256];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/clip60.mp4", port);
    damage_read end = damage_read_all(uri);
    damage_print("HTTP, index at the end", &end);
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/clip60-fs.mp4", port);
    damage_read front = damage_read_all(uri);
    damage_print("HTTP, faststart", &front);
    stop_http(srv);
    ASSERT_EQ(end.open, PAN_NOSEEK); /* was: 0 frames, "ok" */
    ASSERT_OK(front.open);
    ASSERT_EQ(front.end, PAN_EOF);
    ASSERT_EQ(front.frames, 60);
}

PAN_TEST(http_download_cut_short_is_truncated)
{
    NEED_SAMPLE();
    if (access("/usr/bin/python3", X_OK)) PAN_SKIP("/usr/bin/python3 missing");
    ASSERT_TRUE(clip60_faststart() != NULL);
    int port = rtsp_free_port();
    pid_t srv = start_http(port, 1);
    ASSERT_TRUE(srv > 0);
    char uri[256];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/clip60-fs.mp4", port);
    damage_read mp4 = damage_read_all(uri);
    damage_print("HTTP cut, MP4", &mp4);
    stop_http(srv);
    ASSERT_OK(mp4.open);
    ASSERT_EQ(mp4.end, PAN_TRUNCATED);
    ASSERT_TRUE(mp4.frames < 60);
}

PAN_TEST_MAIN(overwritten_mp4_counts_lost_frames, mp4_cut_in_half_is_truncated, mkv_cut_in_half_is_truncated,
              complete_files_end_cleanly, looped_complete_files_are_not_truncated, http_mp4_index_at_end_without_ranges_fails,
              http_download_cut_short_is_truncated)
