/* Display rotation (issue #16, item 6): a phone recording with a 90° display matrix was analysed
 * sideways and reported 768x576. Frames now carry the container's rotation and are analysed as
 * displayed: the source and decoder report it, the picture as displayed equals FFmpeg's own
 * autorotated decode, and the preprocessing and ReID crops of a rotated frame equal those of the
 * same picture stored upright (the GPU twins are compared with these in test-gpu-preprocess and
 * test-gpu-roi-crop). Files are made from the sample with ffmpeg (rotate tag on a stream copy). */
#include <math.h>

#include "decode/decoder.h"
#include "io/source.h"
#include "media.h"
#include "panoptes/log.h"
#include "test.h"
#include "vision/preprocess.h"
#include "vision/reid.h"

/* A copy of the sample's first 12 frames whose display matrix turns it `rot` degrees clockwise
 * as FFmpeg (and players) show it. FFmpeg 5.1's `rotate` tag on a stream copy writes a matrix
 * that its own autorotate reads the other way round, so the tag asks for 360 - rot. */
static const char *rotated_clip(int rot)
{
    static char paths[4][512];
    char *path = paths[rot / 90];
    char cmd[1024];
    snprintf(path, 512, "%s/rot%d.mp4", pan_test_tmpdir(), rot);
    if (access(path, R_OK) == 0) return path;
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -i '%s' -frames:v 12 -c copy -metadata:s:v rotate=%d '%s'",
             pan_test_path("data/vtest.mp4"), (360 - rot) % 360, path);
    return system(cmd) == 0 ? path : NULL;
}

/* The first decoded frame of path (cpu decoder); the source's info in *info. */
static pan_frame *first_frame(const char *path, pan_source_info *info, pan_source **srcp, pan_decoder **decp)
{
    pan_source_params sp = {.uri = path};
    if (pan_source_create(srcp, &sp)) return NULL;
    *info = *pan_source_get_info(*srcp);
    pan_decoder_params dp = {.kind = PAN_DECODER_CPU, .uri = path, .codecpar = pan_source_codecpar(*srcp)};
    pan_source_time_base(*srcp, &dp.time_base_num, &dp.time_base_den);
    if (pan_decoder_create(decp, &dp)) return NULL;
    for (int i = 0; i < 64; i++) {
        pan_packet pkt;
        pan_frame *f = NULL;
        if (pan_source_read(*srcp, &pkt)) break;
        pan_status st = pan_decoder_send_packet(*decp, &pkt);
        if (st && st != PAN_EAGAIN) break;
        if (pan_decoder_receive_frame(*decp, &f) == PAN_OK) return f;
    }
    if (pan_decoder_send_packet(*decp, NULL) == PAN_OK) {
        pan_frame *f = NULL;
        if (pan_decoder_receive_frame(*decp, &f) == PAN_OK) return f;
    }
    return NULL;
}

/* FFmpeg's autorotated first frame as packed RGB (w x h of the displayed picture). */
static uint8_t *ffmpeg_displayed_rgb(const char *path, int w, int h)
{
    char cmd[1024];
    size_t n = (size_t)w * h * 3;
    uint8_t *buf = malloc(n);
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -frames:v 1 -f rawvideo -pix_fmt rgb24 -", path);
    FILE *p = popen(cmd, "r");
    size_t got = p && buf ? fread(buf, 1, n, p) : 0;
    if (p) pclose(p);
    if (got != n) {
        free(buf);
        return NULL;
    }
    return buf;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

/* An upright copy of frame f (YUV420P, its rotation applied to the samples): what a file stored
 * as displayed would decode to. */
typedef struct upright {
    pan_frame f;
    uint8_t *planes;
} upright;

static int make_upright(const pan_frame *f, upright *u)
{
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    memset(u, 0, sizeof *u);
    u->planes = malloc((size_t)dw * dh * 2);
    if (!u->planes) return -1;
    u->f = *f;
    u->f.rotation = 0;
    u->f.width = dw;
    u->f.height = dh;
    u->f.format = PAN_PIXFMT_YUV420P;
    for (int k = 0; k < 3; k++) {
        int pw = k ? dw / 2 : dw, ph = k ? dh / 2 : dh, sw = k ? f->width / 2 : f->width, sh = k ? f->height / 2 : f->height;
        uint8_t *dst = u->planes + (k == 0 ? 0 : k == 1 ? (size_t)dw * dh : (size_t)dw * dh * 5 / 4);
        u->f.data[k] = dst;
        u->f.pitch[k] = pw;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                int sx = x, sy = y;
                if (f->rotation == 90) sx = y, sy = sh - 1 - x;
                else if (f->rotation == 180) sx = sw - 1 - x, sy = sh - 1 - y;
                else if (f->rotation == 270) sx = sw - 1 - y, sy = x;
                uint8_t v = f->format == PAN_PIXFMT_YUV420P || k == 0
                                ? f->data[k][(size_t)sy * f->pitch[k] + sx]
                                : f->data[1][(size_t)sy * f->pitch[1] + 2 * sx + (k - 1)];
                dst[(size_t)y * pw + x] = v;
            }
    }
    return 0;
}

static void check_rotation(pan_test_ctx *pan__t, int rot)
{
    if (!pan_test_have_ffmpeg()) PAN_SKIP("ffmpeg not installed");
    if (access(pan_test_path("data/vtest.mp4"), R_OK)) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    const char *path = rotated_clip(rot);
    ASSERT_TRUE(path != NULL);
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_info info;
    pan_frame *f = first_frame(path, &info, &src, &dec);
    ASSERT_TRUE(f != NULL);
    int swap = rot == 90 || rot == 270;
    ASSERT_EQ(info.rotation, rot);
    ASSERT_EQ(info.display_width, swap ? 576 : 768);
    ASSERT_EQ(info.display_height, swap ? 768 : 576);
    ASSERT_EQ(f->rotation, rot);
    ASSERT_EQ(f->width, 768); /* the planes as stored */
    int dw, dh;
    pan_frame_display_size(f, &dw, &dh);
    ASSERT_EQ(dw, info.display_width);
    ASSERT_EQ(dh, info.display_height);

    /* 1. The picture as displayed is FFmpeg's autorotated picture (colour conversions differ by
     * rounding and chroma filtering: a mean of a few levels; a wrong turn differs by tens).
     * 2. Preprocessing and ReID crops of the rotated frame = those of the upright copy, to float
     * rounding (the bilinear weights come from the other side of a sample: ±0.02 on 0–255). */
    size_t n = (size_t)dw * dh * 3;
    uint8_t *ours = malloc(n), *ref = ffmpeg_displayed_rgb(path, dw, dh);
    double diff = 1e9, worst_pp = 1e9, worst_crop = 1e9;
    upright u = {0};
    pan_preprocess_params pp = {.width = 416, .height = 416, .keep_ratio = 1, .std = {1, 1, 1}};
    pan_roi_params rp = pan_roi_params_torchreid(64, 128);
    rp.std[0] = rp.std[1] = rp.std[2] = 1.f; /* compare on the 0–255 scale */
    float box[4] = {(float)dw * 0.2f, (float)dh * 0.1f, (float)dw * 0.45f, (float)dh * 0.7f};
    float *a = malloc(sizeof(float) * 3 * 416 * 416), *b = malloc(sizeof(float) * 3 * 416 * 416);
    float *ca = malloc(sizeof(float) * 3 * 64 * 128), *cb = malloc(sizeof(float) * 3 * 64 * 128);
    pan_letterbox la = {0}, lb = {0};
    if (ours && ref && a && b && ca && cb && pan_frame_to_rgb_cpu(f, ours) == PAN_OK && make_upright(f, &u) == 0 &&
        pan_preprocess_cpu(f, &pp, a, &la) == PAN_OK && pan_preprocess_cpu(&u.f, &pp, b, &lb) == PAN_OK &&
        pan_roi_crop_cpu(f, box, &rp, ca) == PAN_OK && pan_roi_crop_cpu(&u.f, box, &rp, cb) == PAN_OK) {
        diff = mean_abs_diff(ours, ref, n);
        worst_pp = worst_crop = 0;
        for (size_t i = 0; i < (size_t)3 * 416 * 416; i++) worst_pp = fmax(worst_pp, fabs(a[i] - b[i]));
        for (size_t i = 0; i < (size_t)3 * 64 * 128; i++) worst_crop = fmax(worst_crop, fabs(ca[i] - cb[i]));
    }
    fprintf(stderr, "  rotation %d: mean |ours - ffmpeg autorotate| = %.2f levels; rotated vs upright: preprocess %.4f, crop %.4f\n",
            rot, diff, worst_pp, worst_crop);
    free(ca), free(cb), free(a), free(b), free(ours), free(ref), free(u.planes);
    pan_frame_unref(&f);
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    ASSERT_LE(diff, 3.0);
    ASSERT_LE(worst_pp, 0.02);
    ASSERT_LE(worst_crop, 0.02);
    ASSERT_EQ(la.src_w, dw);
    ASSERT_EQ(la.content_w, lb.content_w);
    ASSERT_EQ(la.content_h, lb.content_h);
}

PAN_TEST(rotation_90_analysed_as_displayed) { check_rotation(pan__t, 90); }
PAN_TEST(rotation_180_analysed_as_displayed) { check_rotation(pan__t, 180); }
PAN_TEST(rotation_270_analysed_as_displayed) { check_rotation(pan__t, 270); }

/* No display matrix: nothing changes (rotation 0, displayed = stored). */
PAN_TEST(no_rotation_without_display_matrix)
{
    if (access(pan_test_path("data/vtest.mp4"), R_OK)) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_info info;
    pan_frame *f = first_frame(pan_test_path("data/vtest.mp4"), &info, &src, &dec);
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(info.rotation, 0);
    ASSERT_EQ(f->rotation, 0);
    ASSERT_EQ(info.display_width, 768);
    pan_frame_unref(&f);
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
}

PAN_TEST_MAIN(rotation_90_analysed_as_displayed, rotation_180_analysed_as_displayed, rotation_270_analysed_as_displayed,
              no_rotation_without_display_matrix)
