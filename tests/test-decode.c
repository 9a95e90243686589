/* cpu decoder vs FFmpeg's own command-line decode: per-frame MD5 of the packed YUV420P planes
 * must equal `ffmpeg -f framemd5` on synthetic clips (H.264 with B-frames, HEVC, MPEG-4 in AVI,
 * Annex-B H.264, full-range MJPEG-like 4:2:0, odd sizes) and on the sample footage when present. */
#include <libavutil/md5.h>
#include <libavutil/mem.h>

#include "media.h"
#include "decode/decoder.h"
#include "panoptes/log.h"
#include "io/source.h"
#include "test.h"

#define MAX_FRAMES 4096

static void md5_frame(const pan_frame *f, char out[33])
{
    uint8_t digest[16];
    struct AVMD5 *md5 = av_md5_alloc();
    av_md5_init(md5);
    int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
    for (int y = 0; y < f->height; y++) av_md5_update(md5, f->data[0] + (size_t)y * f->pitch[0], f->width);
    if (f->format == PAN_PIXFMT_YUV420P) {
        for (int p = 1; p < 3; p++)
            for (int y = 0; y < ch; y++) av_md5_update(md5, f->data[p] + (size_t)y * f->pitch[p], cw);
    } else { /* NV12 → planar order for the hash */
        uint8_t row[8192];
        for (int p = 0; p < 2; p++)
            for (int y = 0; y < ch; y++) {
                for (int x = 0; x < cw; x++) row[x] = f->data[1][(size_t)y * f->pitch[1] + 2 * x + p];
                av_md5_update(md5, row, cw);
            }
    }
    av_md5_final(md5, digest);
    av_free(md5);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", digest[i]);
}

/* Decodes path with our source + cpu decoder; returns the frame count, hashes in md5s. */
static int decode_md5(const char *path, char (*md5s)[33], int max)
{
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = path};
    int n = 0;
    if (pan_source_create(&src, &sp)) return -1;
    pan_decoder_params dp = {.kind = PAN_DECODER_CPU, .uri = path, .codecpar = pan_source_codecpar(src)};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    if (pan_decoder_create(&dec, &dp)) {
        pan_source_destroy(&src);
        return -1;
    }
    pan_packet pkt;
    int eof = 0;
    while (!eof) {
        pan_status st = pan_source_read(src, &pkt);
        if (st == PAN_EOF) {
            eof = 1;
            pan_decoder_send_packet(dec, NULL);
        } else if (st) {
            break;
        } else {
            pan_decoder_send_packet(dec, &pkt);
        }
        pan_frame *f;
        while (pan_decoder_receive_frame(dec, &f) == PAN_OK) {
            if (n < max) md5_frame(f, md5s[n]);
            n++;
            pan_frame_unref(&f);
        }
    }
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return n;
}

static int ffmpeg_md5(const char *path, char (*md5s)[33], int max)
{
    char cmd[1024], line[512];
    int n = 0;
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -map 0:v:0 -fps_mode passthrough -f framemd5 -", path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) {
        if (line[0] == '#') continue;
        char *last = strrchr(line, ',');
        if (!last) continue;
        last++;
        while (*last == ' ') last++;
        if (n < max) snprintf(md5s[n], 33, "%.32s", last);
        n++;
    }
    return pclose(p) == 0 ? n : -1;
}

static char ours[MAX_FRAMES][33], theirs[MAX_FRAMES][33];

static void check_clip(pan_test_ctx *pan__t, const char *path)
{
    ASSERT_TRUE(path != NULL);
    int a = decode_md5(path, ours, MAX_FRAMES);
    int b = ffmpeg_md5(path, theirs, MAX_FRAMES);
    ASSERT_TRUE(b > 0);
    ASSERT_EQ(a, b);
    for (int i = 0; i < a && i < MAX_FRAMES; i++)
        if (strcmp(ours[i], theirs[i])) PAN__FAIL("%s: frame %d: md5 %s != ffmpeg %s", path, i, ours[i], theirs[i]);
}

PAN_TEST(h264_bframes_mp4)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    check_clip(pan__t, pan_test_make_clip("h264.mp4", "testsrc2=size=352x288:rate=25:duration=3",
                                          "-c:v libx264 -bf 3 -g 25 -pix_fmt yuv420p"));
}

PAN_TEST(h264_annexb)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    check_clip(pan__t, pan_test_make_clip("h264.h264", "testsrc2=size=320x240:rate=30:duration=2",
                                          "-c:v libx264 -bf 2 -pix_fmt yuv420p -f h264"));
}

PAN_TEST(hevc_mkv_odd_size)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    check_clip(pan__t, pan_test_make_clip("hevc.mkv", "testsrc2=size=322x242:rate=25:duration=2",
                                          "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p"));
}

PAN_TEST(mpeg4_avi)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    check_clip(pan__t, pan_test_make_clip("mpeg4.avi", "testsrc=size=320x240:rate=25:duration=2", "-c:v mpeg4 -q:v 4"));
}

PAN_TEST(h264_full_range_ts)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *p = pan_test_make_clip("full.ts", "testsrc2=size=320x240:rate=25:duration=2",
                                       "-c:v libx264 -pix_fmt yuvj420p -color_range pc");
    check_clip(pan__t, p);
    pan_source *src = NULL;
    pan_source_params sp = {.uri = p};
    ASSERT_OK(pan_source_create(&src, &sp));
    ASSERT_EQ(pan_source_get_info(src)->range, PAN_RANGE_FULL);
    pan_source_destroy(&src);
}

PAN_TEST(sample_footage)
{
    const char *paths[] = {"data/vtest.mp4", "data/vtest.h264", "data/vtest.avi"};
    int any = 0;
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    for (int i = 0; i < 3; i++) {
        const char *p = pan_test_path(paths[i]);
        if (access(p, R_OK)) continue;
        any = 1;
        check_clip(pan__t, p);
        if (pan__t->failed) return;
    }
    if (!any) PAN_SKIP("sample footage missing: run scripts/setup.sh");
}

PAN_TEST(loop_keeps_timestamps_increasing)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    const char *p = pan_test_make_clip("h264.mp4", "testsrc2=size=352x288:rate=25:duration=3",
                                       "-c:v libx264 -bf 3 -g 25 -pix_fmt yuv420p");
    pan_source *src = NULL;
    pan_source_params sp = {.uri = p, .loop = 1};
    ASSERT_OK(pan_source_create(&src, &sp));
    pan_packet pkt;
    double last_dts_s = -1;
    int n = 0, tb_num, tb_den;
    pan_source_time_base(src, &tb_num, &tb_den);
    for (; n < 75 * 3; n++) { /* three passes of 75 packets */
        ASSERT_OK(pan_source_read(src, &pkt));
        double dts = (double)pkt.dts * tb_num / tb_den;
        if (!(dts > last_dts_s)) {
            pan_source_destroy(&src);
            PAN__FAIL("packet %d: dts %.3f not after %.3f", n, dts, last_dts_s);
        }
        last_dts_s = dts;
    }
    ASSERT_EQ(pkt.serial, 2);
    pan_source_destroy(&src);
}

PAN_TEST_MAIN(h264_bframes_mp4, h264_annexb, hevc_mkv_odd_size, mpeg4_avi, h264_full_range_ts, sample_footage,
              loop_keeps_timestamps_increasing)
