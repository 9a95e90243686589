/* Detector families (src/vision/family*.c, head_post.c): which family a model's outputs and
 * metadata point at, the errors when none fits or --model-type disagrees, and each family's
 * decode on hand-made outputs whose boxes are known (model-input pixels, then through the
 * letterbox). */
#include <stdlib.h>

#include "panoptes/log.h"
#include "panoptes/status.h"
#include "test.h"
#include "family_fake.h"
#include "vision/family.h"

/* error lines logged while resolving */
static char logged[4096];
static void capture(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_ERROR) snprintf(logged + strlen(logged), sizeof logged - strlen(logged), "%s\n", line);
}

static pan_status resolve(fake *f, pan_detector_kind kind, pan__family_config *cfg)
{
    logged[0] = 0;
    pan_log_set_sink(capture, NULL);
    pan_status st = pan__family_resolve(&f->probe, kind, cfg);
    pan_log_set_sink(NULL, NULL);
    return st;
}

PAN_TEST(families_from_shapes)
{
    fake f;
    pan__family_config c;
    /* the case: a YOLOv5 export at 640 is not a YOLOv8 [B, N, 4+C] with 81 classes */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 25200, 85);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOV5);
    ASSERT_EQ(c.head.num_classes, 80);
    ASSERT_EQ(c.head.score, PAN_HEAD_SCORE_OBJ_CLASSES);
    ASSERT_NEAR(c.head.nms.iou_threshold, 0.45, 1e-6);
    /* YOLOv8 as exported, and transposed */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, PAN_ENGINE_DIM_BATCH, 84, 8400);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLO);
    ASSERT_EQ(c.head.num_classes, 80);
    ASSERT_EQ(c.head.boxes.field_stride, 8400);
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 8400, 84);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLO);
    ASSERT_EQ(c.head.boxes.row_stride, 84);
    /* YOLOX: one row per cell, 5+C fields */
    fake_init(&f, 416, 416);
    fake_out(&f, "output", 3, 1, 3549, 85);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOX);
    ASSERT_EQ(c.head.box, PAN_HEAD_BOX_GRID);
    ASSERT_EQ(c.channels, PAN_CHANNELS_BGR);
    ASSERT_NEAR(c.std[0], 1.0, 0);
    /* YOLOv10 end to end, RT-DETR queries, RT-DETR split outputs */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 300, 6);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOV10);
    ASSERT_EQ(c.head.nms_enabled, 0);
    ASSERT_EQ(c.head.num_classes, 80);
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 300, 84);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_RTDETR);
    ASSERT_EQ(c.keep_ratio, 0);
    ASSERT_EQ(c.head.score, PAN_HEAD_SCORE_CLASSES);
    fake_init(&f, 640, 640);
    fake_out(&f, "pred_logits", 3, 1, 300, 80);
    fake_out(&f, "pred_boxes", 3, 1, 300, 4);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_RTDETR);
    ASSERT_EQ(c.n_tensors, 2);
    ASSERT_EQ(c.outputs[0], 1);
    ASSERT_EQ(c.outputs[1], 0);
    ASSERT_EQ(c.head.score, PAN_HEAD_SCORE_LOGITS);
    /* NanoDet: pairs per level; the detector's own setup takes over */
    fake_init(&f, 416, 416);
    for (int l = 0; l < 3; l++) fake_out(&f, "cls", 3, 1, 100, 80);
    for (int l = 0; l < 3; l++) fake_out(&f, "reg", 3, 1, 100, 44);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_NANODET);
}

PAN_TEST(families_from_metadata)
{
    fake f;
    pan__family_config c;
    /* [1, 84, 7] at 64x64 (84 cells): YOLOX with 2 classes or YOLOv8 transposed with 3; the
     * metadata's names decide */
    fake_init(&f, 64, 64);
    fake_out(&f, "output0", 3, 1, 84, 7);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOX);
    fake_meta_set(&f, "names", "{0: 'person', 1: 'a: b', 2: \"car\"}");
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLO);
    ASSERT_EQ(c.head.num_classes, 3);
    /* Ultralytics heads */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 300, 6);
    fake_meta_set(&f, "author", "Ultralytics");
    fake_meta_set(&f, "head", "v10Detect");
    fake_meta_set(&f, "names", "{0: 'a', 1: 'b'}");
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOV10);
    ASSERT_EQ(c.head.num_classes, 2);
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 300, 6);
    fake_meta_set(&f, "author", "Ultralytics");
    fake_meta_set(&f, "description", "Ultralytics rtdetr-l model trained on coco.yaml");
    fake_meta_set(&f, "names", "{0: 'a', 1: 'b'}");
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c)); /* [1, 300, 6] is RT-DETR with 2 classes here */
    ASSERT_EQ(c.kind, PAN_DETECTOR_RTDETR);
    ASSERT_EQ(c.head.num_classes, 2);
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 300, 6);
    fake_meta_set(&f, "author", "Ultralytics");
    fake_meta_set(&f, "end2end", "True");
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOV10);
}

PAN_TEST(no_family_fits_and_model_type_mismatch)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 640, 640);
    fake_out(&f, "logits", 2, 1, 1000);
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_AUTO, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "fake.onnx") && strstr(logged, "logits [1, 1000]"));
    ASSERT_TRUE(strstr(logged, "yolov5") && strstr(logged, "yolox") && strstr(logged, "rtdetr") &&
                strstr(logged, "--model-type"));
    /* YOLOv7 without --grid: three raw 5-D maps */
    fake_init(&f, 640, 640);
    fake_out(&f, "a", 5, 1, 3, 80, 80, 85);
    fake_out(&f, "b", 5, 1, 3, 40, 40, 85);
    fake_out(&f, "c", 5, 1, 3, 20, 20, 85);
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_AUTO, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "--grid") != NULL);
    /* --model-type that disagrees with the outputs */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 84, 8400);
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_YOLOV10, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "--model-type yolov10") && strstr(logged, "[1, 84, 8400]"));
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 25200, 85);
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_YOLOX, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "[B, 8400, 5+C]") != NULL);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_YOLOX_DECODED, &c)); /* decoded YOLOX has no grid to check */
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 25200, 85);
    fake_meta_set(&f, "names", "{0: 'a'}");
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_YOLOV5, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "1 classes") != NULL);
    fake_init(&f, 640, 640);
    fake_out(&f, "boxes", 3, 1, 300, 4);
    fake_out(&f, "logits", 3, 1, 200, 80);
    ASSERT_EQ(resolve(&f, PAN_DETECTOR_AUTO, &c), PAN_MODEL);
    ASSERT_TRUE(strstr(logged, "rtdetr") != NULL);
}

PAN_TEST(model_type_names)
{
    pan_detector_kind k;
    static const struct { const char *name; pan_detector_kind kind; } cases[] = {
        {"auto", PAN_DETECTOR_AUTO},     {"nanodet", PAN_DETECTOR_NANODET},   {"yolov5", PAN_DETECTOR_YOLOV5},
        {"yolov7", PAN_DETECTOR_YOLOV5}, {"yolox", PAN_DETECTOR_YOLOX},       {"yolox-decoded", PAN_DETECTOR_YOLOX_DECODED},
        {"yolov8", PAN_DETECTOR_YOLO},   {"yolo11", PAN_DETECTOR_YOLO},       {"yolov10", PAN_DETECTOR_YOLOV10},
        {"rtdetr", PAN_DETECTOR_RTDETR}, {"rt-detr", PAN_DETECTOR_RTDETR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ASSERT_OK(pan_detector_kind_parse(cases[i].name, &k));
        ASSERT_EQ(k, cases[i].kind);
        ASSERT_TRUE(strstr(pan_detector_kind_names(), pan_detector_kind_name(k)) != NULL);
    }
    ASSERT_EQ(pan_detector_kind_parse("yolov9", &k), PAN_INVAL);
    ASSERT_EQ(pan_detector_kind_parse(NULL, &k), PAN_INVAL);
}

/* ---- decoding hand-made outputs ------------------------------------------------------------------ */
static void expect_box(pan_test_ctx *pan__t, const pan_detection *d, int cls, float score, float x1, float y1,
                       float x2, float y2)
{
    ASSERT_EQ(d->class_id, cls);
    ASSERT_NEAR(d->score, score, 1e-5);
    ASSERT_NEAR(d->box[0], x1, 1e-3);
    ASSERT_NEAR(d->box[1], y1, 1e-3);
    ASSERT_NEAR(d->box[2], x2, 1e-3);
    ASSERT_NEAR(d->box[3], y2, 1e-3);
}
#define EXPECT_BOX(...) do { expect_box(pan__t, __VA_ARGS__); if (pan__t->failed) return; } while (0)

static void set_row(float *o, int fields, int row, const float *v, int n)
{
    for (int k = 0; k < n; k++) o[row * fields + k] = v[k];
}

PAN_TEST(yolov5_objectness_times_class)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 64, 64); /* 84 cells, 252 anchors */
    fake_out(&f, "output0", 3, 1, 252, 8);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    ASSERT_EQ(c.kind, PAN_DETECTOR_YOLOV5);
    ASSERT_EQ(c.head.num_classes, 3);
    float *o = calloc(252 * 8, sizeof *o);
    set_row(o, 8, 10, (float[]){20, 30, 10, 20, 0.9f, 0.1f, 0.8f, 0.2f}, 8);   /* 0.72, class 1: [15,20,25,40] */
    set_row(o, 8, 11, (float[]){21, 30, 10, 20, 0.9f, 0.1f, 0.5f, 0.2f}, 8);   /* 0.45, class 1, suppressed */
    set_row(o, 8, 12, (float[]){40, 40, 8, 8, 0.3f, 0.99f, 0.f, 0.f}, 8);      /* 0.297 < 0.35 */
    set_row(o, 8, 13, (float[]){20, 30, 10, 20, 0.6f, 0.f, 0.f, 0.7f}, 8);     /* 0.42, class 2: kept */
    set_row(o, 8, 200, (float[]){50, 50, 4, 6, 1.0f, 0.5f, 0.f, 0.5f}, 8);     /* tie: first maximum, class 0 */
    pan_detection_list out = {0};
    const float *t[1] = {o};
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 3);
    EXPECT_BOX(&out.items[0], 1, 0.72f, 15, 20, 25, 40);
    EXPECT_BOX(&out.items[1], 0, 0.5f, 48, 47, 52, 53);
    EXPECT_BOX(&out.items[2], 2, 0.42f, 15, 20, 25, 40);
    /* class filter after the best class: row 10's best is 1, so filtering to {0, 2} drops it */
    uint8_t mask[1] = {0x5};
    c.head.classes = (pan_class_filter){mask, 1};
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 2);
    ASSERT_EQ(out.items[0].class_id, 0);
    ASSERT_EQ(out.items[1].class_id, 2);
    pan_detection_list_free(&out);
    free(o);
}

PAN_TEST(yolox_grid_decode)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 64, 64); /* strides 8, 16, 32: 64 + 16 + 4 rows */
    fake_out(&f, "output", 3, 1, 84, 7);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_YOLOX, &c));
    float *o = calloc(84 * 7, sizeof *o);
    /* row 9 = stride 8, cell (1, 1); row 69 = stride 16, cell (1, 1); row 83 = stride 32, cell (1, 1) */
    set_row(o, 7, 9, (float[]){0.25f, 0.75f, 0.f, 0.f, 0.9f, 1.f, 0.f}, 7);
    set_row(o, 7, 69, (float[]){0.5f, 0.5f, logf(2.f), 0.f, 0.8f, 0.f, 1.f}, 7);
    set_row(o, 7, 83, (float[]){0.f, 0.f, logf(0.5f), logf(0.5f), 0.7f, 1.f, 0.f}, 7);
    pan_detection_list out = {0};
    const float *t[1] = {o};
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 3);
    EXPECT_BOX(&out.items[0], 0, 0.9f, 6, 10, 14, 18);
    EXPECT_BOX(&out.items[1], 1, 0.8f, 8, 16, 40, 32);
    EXPECT_BOX(&out.items[2], 0, 0.7f, 24, 24, 40, 40);
    /* the decoded export: pixels as they are */
    ASSERT_OK(resolve(&f, PAN_DETECTOR_YOLOX_DECODED, &c));
    set_row(o, 7, 9, (float[]){10, 14, 8, 8, 0.9f, 1.f, 0.f}, 7);
    memset(o + 69 * 7, 0, 7 * sizeof *o);
    memset(o + 83 * 7, 0, 7 * sizeof *o);
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 1);
    EXPECT_BOX(&out.items[0], 0, 0.9f, 6, 10, 14, 18);
    pan_detection_list_free(&out);
    free(o);
}

PAN_TEST(yolov8_transposed_named_by_model_type)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 64, 64);
    fake_out(&f, "output0", 3, 1, 84, 7); /* [B, N, 4+C] with C = 3 */
    ASSERT_OK(resolve(&f, PAN_DETECTOR_YOLO, &c));
    ASSERT_EQ(c.head.num_classes, 3);
    float o[84 * 7] = {0};
    set_row(o, 7, 5, (float[]){32, 32, 16, 8, 0.1f, 0.2f, 0.9f}, 7);
    pan_detection_list out = {0};
    const float *t[1] = {o};
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 1);
    EXPECT_BOX(&out.items[0], 2, 0.9f, 24, 28, 40, 36);
    pan_detection_list_free(&out);
}

PAN_TEST(yolov10_end_to_end_without_nms)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 640, 640);
    fake_out(&f, "output0", 3, 1, 5, 6);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_YOLOV10, &c));
    float o[5 * 6] = {
        10, 20, 110, 220, 0.5f, 2,      /* kept */
        12, 20, 110, 220, 0.9f, 2,      /* overlaps the first, same class: both kept (no NMS) */
        0, 0, 5, 5, 0.2f, 0,            /* below the threshold */
        0, 0, 5, 5, 0.95f, NAN,         /* no class */
        300, 300, 400, 500, 0.6f, 79,
    };
    pan_detection_list out = {0};
    const float *t[1] = {o};
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 3);
    EXPECT_BOX(&out.items[0], 2, 0.9f, 12, 20, 110, 220);
    EXPECT_BOX(&out.items[1], 79, 0.6f, 300, 300, 400, 500);
    EXPECT_BOX(&out.items[2], 2, 0.5f, 10, 20, 110, 220);
    c.head.nms.top_k = 2;
    ASSERT_OK(pan_head_decode(&c.head, t, NULL, &out));
    ASSERT_EQ(out.count, 2);
    pan_detection_list_free(&out);
}

PAN_TEST(rtdetr_normalised_boxes_and_split_logits)
{
    fake f;
    pan__family_config c;
    fake_init(&f, 64, 64);
    fake_out(&f, "output0", 3, 1, 4, 7);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_RTDETR, &c));
    float o[4 * 7] = {
        0.5f, 0.5f, 0.25f, 0.5f, 0.1f, 0.8f, 0.3f, /* class 1: [24, 16, 40, 48] */
        0.5f, 0.5f, 0.25f, 0.5f, 0.1f, 0.7f, 0.3f, /* same box, same class: no NMS, kept */
        0.1f, 0.1f, 0.1f, 0.1f, 0.3f, 0.2f, 0.1f,  /* below */
        0.9f, 0.25f, 0.2f, 0.5f, 0.6f, 0.f, 0.f,   /* class 0 */
    };
    /* the source frame is 128x64, stretched to 64x64: x halves */
    pan_preprocess_params pp = {.width = 64, .height = 64, .keep_ratio = c.keep_ratio};
    pan_letterbox lb;
    pan_letterbox_compute(128, 64, &pp, &lb);
    pan_detection_list out = {0};
    const float *t[1] = {o};
    ASSERT_OK(pan_head_decode(&c.head, t, &lb, &out));
    ASSERT_EQ(out.count, 3);
    EXPECT_BOX(&out.items[0], 1, 0.8f, 48, 16, 80, 48);
    EXPECT_BOX(&out.items[1], 1, 0.7f, 48, 16, 80, 48);
    EXPECT_BOX(&out.items[2], 0, 0.6f, 102.4f, 0, 128, 32);
    /* split: boxes [1, 2, 4], logits [1, 2, 3] */
    fake_init(&f, 64, 64);
    fake_out(&f, "pred_boxes", 3, 1, 2, 4);
    fake_out(&f, "pred_logits", 3, 1, 2, 3);
    ASSERT_OK(resolve(&f, PAN_DETECTOR_AUTO, &c));
    float boxes[8] = {0.5f, 0.5f, 0.25f, 0.5f, 0.25f, 0.25f, 0.5f, 0.5f};
    float logits[6] = {-3.f, 2.f, 0.f, -1.f, -2.f, -0.5f}; /* sigmoid(2) = 0.8808; query 1 best 0.3775 */
    const float *t2[2] = {boxes, logits};
    ASSERT_OK(pan_head_decode(&c.head, t2, NULL, &out));
    ASSERT_EQ(out.count, 2);
    EXPECT_BOX(&out.items[0], 1, 0.880797f, 24, 16, 40, 48);
    EXPECT_BOX(&out.items[1], 2, 0.377541f, 0, 0, 32, 32);
    pan_detection_list_free(&out);
}

PAN_TEST_MAIN(families_from_shapes, families_from_metadata, no_family_fits_and_model_type_mismatch, model_type_names,
              yolov5_objectness_times_class, yolox_grid_decode, yolov8_transposed_named_by_model_type,
              yolov10_end_to_end_without_nms, rtdetr_normalised_boxes_and_split_logits)
