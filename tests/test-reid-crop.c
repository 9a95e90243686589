/* cpu ROI crop geometry and sampling on a tiny hand-made frame (exact values), and the default
 * descriptor's basic properties (unit length, deterministic). The GPU twin: test-gpu-roi-crop.c. */
#include <stdlib.h>
#include <string.h>

#include "vision/frame_sample.h"
#include "vision/reid.h"
#include "vision/roi_crop.h"
#include "panoptes/status.h"
#include "test.h"

PAN_TEST(roi_crop_cpu_geometry)
{
    /* a 16x8 YUV420P frame with luma = 16 + x (limited range): a stretched crop of [4, 12) x [0, 8)
     * to 8x8 reads luma exactly at the source pixel centres, so R = G = B = (x − 16)·255/219 */
    uint8_t y[16 * 8], u[8 * 4], v[8 * 4];
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 16; i++) y[j * 16 + i] = (uint8_t)(16 + 10 * i);
    memset(u, 128, sizeof u);
    memset(v, 128, sizeof v);
    pan_frame f;
    memset(&f, 0, sizeof f);
    f.width = 16, f.height = 8, f.format = PAN_PIXFMT_YUV420P, f.memory = PAN_MEMORY_HOST;
    f.data[0] = y, f.data[1] = u, f.data[2] = v;
    f.pitch[0] = 16, f.pitch[1] = f.pitch[2] = 8;
    pan_roi_params p;
    memset(&p, 0, sizeof p);
    p.width = 8, p.height = 8, p.layout = PAN_LAYOUT_NHWC;
    p.std[0] = p.std[1] = p.std[2] = 1.f;
    float out[8 * 8 * 3];
    const float box[4] = {4.f, 0.f, 12.f, 8.f};
    ASSERT_OK(pan_roi_crop_cpu(&f, box, &p, out));
    for (int X = 0; X < 8; X++) ASSERT_NEAR(out[3 * X], (10.0 * (X + 4)) * 255.0 / 219.0, 1e-3);
    /* keep-aspect: a 8x8 box into 16x8 → content 8x8 centred at x = 4, pad elsewhere */
    p.width = 16, p.keep_aspect = 1, p.pad_value = 7.f;
    float out2[16 * 8 * 3];
    ASSERT_OK(pan_roi_crop_cpu(&f, box, &p, out2));
    ASSERT_NEAR(out2[0], 7.0, 0);
    ASSERT_NEAR(out2[3 * 4], 40.0 * 255.0 / 219.0, 1e-3);
    ASSERT_NEAR(out2[3 * 15], 7.0, 0);
    /* the default descriptor is unit length and the same for the same pixels */
    float rgb[PAN_REID_DEFAULT_CROP_W * PAN_REID_DEFAULT_CROP_H * 3], d1[PAN_REID_DEFAULT_DIM], d2[PAN_REID_DEFAULT_DIM];
    for (size_t i = 0; i < sizeof rgb / sizeof *rgb; i++) rgb[i] = (float)((i * 37) % 256);
    pan_reid_default_descriptor(rgb, d1);
    pan_reid_default_descriptor(rgb, d2);
    double n2 = 0;
    for (int i = 0; i < PAN_REID_DEFAULT_DIM; i++) {
        n2 += (double)d1[i] * d1[i];
        ASSERT_NEAR(d1[i], d2[i], 0);
    }
    ASSERT_NEAR(n2, 1.0, 1e-5);
}

PAN_TEST(reid_api_default_descriptor_and_errors)
{
    pan_reid *r = NULL;
    pan_reid_params bad = {.model_path = "/nonexistent/reid.onnx", .backend = PAN_BACKEND_CPU};
    ASSERT_NE(pan_reid_create(&r, &bad), PAN_OK);
    ASSERT_TRUE(r == NULL);
    pan_reid_params size = {.crop_width = 50, .backend = PAN_BACKEND_CPU};
    ASSERT_EQ(pan_reid_create(&r, &size), PAN_INVAL);
    pan_reid_destroy(&r); /* NULL-safe */
    pan_reid_params dp = {.backend = PAN_BACKEND_CPU, .max_crops = 2, .min_score = 0.5f};
    ASSERT_OK(pan_reid_create(&r, &dp));
    ASSERT_EQ(pan_reid_dim(r), PAN_REID_DEFAULT_DIM);
    ASSERT_STREQ(pan_reid_name(r), "default");
    ASSERT_OK(pan_reid_embed(r, NULL, 0, NULL));
    /* a 64x64 frame, left half red-ish, right half blue-ish (full range BT.601) */
    enum { W = 64, H = 64 };
    static uint8_t y[W * H], uv[W * H / 2];
    for (int j = 0; j < H; j++)
        for (int i = 0; i < W; i++) y[j * W + i] = 100;
    for (int j = 0; j < H / 2; j++)
        for (int i = 0; i < W / 2; i++) {
            uv[j * W + 2 * i] = i < W / 4 ? 90 : 200;     /* Cb */
            uv[j * W + 2 * i + 1] = i < W / 4 ? 200 : 90; /* Cr */
        }
    pan_frame f;
    memset(&f, 0, sizeof f);
    f.width = W, f.height = H, f.format = PAN_PIXFMT_NV12, f.memory = PAN_MEMORY_HOST, f.range = PAN_RANGE_FULL;
    f.data[0] = y, f.data[1] = uv, f.pitch[0] = f.pitch[1] = W;
    pan_frame *fp = &f;
    pan_detection_list l;
    memset(&l, 0, sizeof l);
    ASSERT_OK(pan_detection_list_reserve(&l, 5));
    const float boxes[5][4] = {{0, 0, 24, 64}, {2, 0, 26, 64}, {40, 0, 64, 64}, {38, 0, 62, 64}, {0, 0, 10, 10}};
    const float scores[5] = {0.9f, 0.8f, 0.9f, 0.7f, 0.3f};
    for (int k = 0; k < 5; k++) l.items[k] = (pan_detection){{boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3]}, scores[k], 0, NULL, 0};
    l.count = 5;
    ASSERT_OK(pan_reid_embed(r, &fp, 1, &l)); /* 4 crops in 2 chunks of max_crops 2 */
    ASSERT_TRUE(l.items[4].embedding == NULL); /* under min_score */
    double same = 0, other = 0;
    for (int k = 0; k < PAN_REID_DEFAULT_DIM; k++) {
        same += l.items[0].embedding[k] * l.items[1].embedding[k];
        other += l.items[0].embedding[k] * l.items[2].embedding[k];
    }
    /* centred on the mean of the four: the two reds alike, red and blue opposite */
    ASSERT_GE(same, 0.9);
    ASSERT_LE(other, -0.5);
    pan_detection_list_free(&l);
    pan_reid_destroy(&r);
    ASSERT_TRUE(r == NULL);
}

/* The crop samples an upright frame row by row (each column's source positions once): the same
 * values, bit for bit, as sampling every pixel on its own, for NV12 and YUV420P, odd sizes, boxes
 * past the edges, keep-aspect padding, NHWC/NCHW; a region of the crop equals that part of it. */
PAN_TEST(roi_crop_rows_equal_single_samples)
{
    enum { FW = 37, FH = 23 };
    uint8_t y[FW * FH], c[2 * 19 * 12], u[19 * 12], v[19 * 12];
    unsigned seed = 7;
    for (int i = 0; i < FW * FH; i++) y[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    for (int i = 0; i < 2 * 19 * 12; i++) c[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    for (int i = 0; i < 19 * 12; i++) u[i] = c[2 * i], v[i] = c[2 * i + 1];
    for (int fmt = 0; fmt < 2; fmt++) {
        pan_frame f;
        memset(&f, 0, sizeof f);
        f.width = FW, f.height = FH, f.memory = PAN_MEMORY_HOST;
        f.matrix = fmt ? PAN_COLOR_BT709 : PAN_COLOR_BT601;
        f.data[0] = y, f.pitch[0] = FW;
        if (fmt == 0) {
            f.format = PAN_PIXFMT_NV12, f.data[1] = c, f.pitch[1] = 2 * 19;
        } else {
            f.format = PAN_PIXFMT_YUV420P, f.data[1] = u, f.data[2] = v, f.pitch[1] = f.pitch[2] = 19;
        }
        const float boxes[][4] = {{3.2f, 1.7f, 20.9f, 22.1f}, {-5.f, -3.f, 12.f, 40.f}, {30.f, 2.f, 36.9f, 9.5f}};
        for (int b = 0; b < 3; b++)
            for (int mode = 0; mode < 3; mode++) {
                pan_roi_params p = pan_roi_params_torchreid(mode == 2 ? 32 : 11, mode == 2 ? 64 : 17);
                p.keep_aspect = mode == 1;
                p.layout = mode == 2 ? PAN_LAYOUT_NHWC : PAN_LAYOUT_NCHW;
                const int W = p.width, H = p.height, n = 3 * W * H;
                float *got = malloc((size_t)n * sizeof *got), *part = malloc((size_t)n * sizeof *part);
                ASSERT_OK(pan_roi_crop_cpu(&f, boxes[b], &p, got));
                pan__roi_geom g;
                pan__roi_geometry(boxes[b], FW, FH, &p, &g);
                for (int Y = 0; Y < H; Y++)
                    for (int X = 0; X < W; X++) {
                        if (!(Y >= (int)g.oy && Y < (int)g.oy + g.nh && X >= (int)g.ox && X < (int)g.ox + g.nw)) continue;
                        float rgb[3];
                        pan__frame_sample_rgb(&f, g.x0 + ((float)X - g.ox + 0.5f) / g.sx - 0.5f,
                                              g.y0 + ((float)Y - g.oy + 0.5f) / g.sy - 0.5f, rgb);
                        for (int k = 0; k < 3; k++) {
                            float want = (rgb[k] - p.mean[k]) * (1.f / p.std[k]); /* as the crop computes it */
                            size_t i = p.layout == PAN_LAYOUT_NCHW ? (size_t)k * W * H + (size_t)Y * W + X
                                                                   : 3 * ((size_t)Y * W + X) + k;
                            ASSERT_TRUE(got[i] == want);
                        }
                    }
                for (int i = 0; i < n; i++) part[i] = -1e9f;
                ASSERT_OK(pan__roi_crop_cpu_region(&f, boxes[b], &p, part, 2, W - 3, 1, H - 2));
                for (int Y = 0; Y < H; Y++)
                    for (int X = 0; X < W; X++)
                        for (int k = 0; k < 3; k++) {
                            size_t i = p.layout == PAN_LAYOUT_NCHW ? (size_t)k * W * H + (size_t)Y * W + X
                                                                   : 3 * ((size_t)Y * W + X) + k;
                            int inside = X >= 2 && X < W - 3 && Y >= 1 && Y < H - 2;
                            if (inside) ASSERT_TRUE(part[i] == got[i]);
                            else ASSERT_TRUE(part[i] == -1e9f);
                        }
                free(got);
                free(part);
            }
    }
}

PAN_TEST_MAIN(roi_crop_cpu_geometry, reid_api_default_descriptor_and_errors, roi_crop_rows_equal_single_samples)
