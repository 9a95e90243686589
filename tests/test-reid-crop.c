/* cpu ROI crop geometry and sampling on a tiny hand-made frame (exact values), and the default
 * descriptor's basic properties (unit length, deterministic). The GPU twin: test-gpu-roi-crop.c. */
#include <string.h>

#include "panoptes/reid.h"
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

PAN_TEST_MAIN(roi_crop_cpu_geometry)
