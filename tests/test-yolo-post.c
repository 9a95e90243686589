/* YOLOv8/11 postprocess on synthetic [4+C, N] outputs. */
#include <stdlib.h>

#include "vision/postprocess.h"
#include "panoptes/status.h"
#include "test.h"

enum { NC = 3, NA = 6, R = 4 + NC };

static void set(float *o, int transposed, int n, float cx, float cy, float w, float h, const float s[NC])
{
    float v[R] = {cx, cy, w, h, s[0], s[1], s[2]};
    for (int r = 0; r < R; r++) {
        if (transposed) o[n * R + r] = v[r];
        else o[r * NA + n] = v[r];
    }
}

static void fill(float *o, int t)
{
    memset(o, 0, sizeof(float) * R * NA);
    set(o, t, 0, 100, 100, 40, 80, (float[]){0.9f, 0.1f, 0.0f});
    set(o, t, 1, 102, 101, 40, 80, (float[]){0.8f, 0.0f, 0.0f});   /* suppressed by 0 */
    set(o, t, 2, 300, 50, 20, 20, (float[]){0.2f, 0.6f, 0.59f});   /* best class 1 */
    set(o, t, 3, 300, 50, 20, 20, (float[]){0.1f, 0.0f, 0.5f});    /* class 2, other class: kept */
    set(o, t, 4, 10, 10, 5, 5, (float[]){0.3f, 0.0f, 0.0f});       /* below 0.35 */
    set(o, t, 5, NAN, 10, 5, 5, (float[]){0.99f, 0.0f, 0.0f});     /* non-finite box: dropped */
}

PAN_TEST(decode_and_nms)
{
    float o[R * NA];
    for (int t = 0; t < 2; t++) {
        fill(o, t);
        pan_yolo_params p;
        pan_yolo_params_default(&p, NC, NA);
        p.transposed = t;
        pan_detection_list out = {0};
        ASSERT_OK(pan_yolo_decode(&p, o, NULL, &out));
        ASSERT_EQ(out.count, 3);
        ASSERT_EQ(out.items[0].class_id, 0);
        ASSERT_NEAR(out.items[0].box[0], 80, 1e-4);
        ASSERT_NEAR(out.items[0].box[1], 60, 1e-4);
        ASSERT_NEAR(out.items[0].box[2], 120, 1e-4);
        ASSERT_NEAR(out.items[0].box[3], 140, 1e-4);
        ASSERT_EQ(out.items[1].class_id, 1);
        ASSERT_NEAR(out.items[1].score, 0.6, 1e-6);
        ASSERT_EQ(out.items[2].class_id, 2);
        pan_detection_list_free(&out);
    }
}

PAN_TEST(class_filter_after_best_class)
{
    float o[R * NA];
    fill(o, 0);
    pan_yolo_params p;
    pan_yolo_params_default(&p, NC, NA);
    uint8_t mask = 1 << 2; /* class 2 only: anchor 2 (best class 1) yields nothing */
    p.classes.mask = &mask;
    p.classes.mask_bytes = 1;
    pan_detection_list out = {0};
    ASSERT_OK(pan_yolo_decode(&p, o, NULL, &out));
    ASSERT_EQ(out.count, 1);
    ASSERT_NEAR(out.items[0].score, 0.5, 1e-6);
    pan_detection_list_free(&out);
}

PAN_TEST(letterbox_unmap)
{
    float o[R * NA];
    fill(o, 0);
    pan_yolo_params p;
    pan_yolo_params_default(&p, NC, NA);
    /* 1280x720 into 640x640: scale 0.5, content 640x360 at y offset 140 */
    pan_preprocess_params pp = {.width = 640, .height = 640, .keep_ratio = 1, .pad_value = 114};
    pan_letterbox lb;
    pan_letterbox_compute(1280, 720, &pp, &lb);
    pan_detection_list out = {0};
    ASSERT_OK(pan_yolo_decode(&p, o, &lb, &out));
    ASSERT_EQ(out.count, 3);
    ASSERT_NEAR(out.items[0].box[0], 160, 1e-3);
    ASSERT_NEAR(out.items[0].box[1], 0, 1e-6); /* 60 is in the padding: clamped */
    ASSERT_NEAR(out.items[0].box[3], 0, 1e-6);
    ASSERT_NEAR(out.items[1].box[0], 580, 1e-3);
    pan_detection_list_free(&out);
    ASSERT_EQ(pan_yolo_decode(&p, NULL, NULL, &out), PAN_INVAL);
}

PAN_TEST_MAIN(decode_and_nms, class_filter_after_best_class, letterbox_unmap)
