/* Detectors built from the family test models (tests/models/make_detector_families.py, random
 * weights, 128×128): each family is recognised from its outputs and metadata, preprocesses with
 * its project's input convention (written out here, independently of src/vision/family_*.c) and
 * returns exactly what the engine's outputs decode to; batches equal single frames; and the models
 * Panoptes cannot read fail with a message that names the file, what was seen and what to do. */
#include <stdlib.h>
#include <unistd.h>

#include "family_fake.h"
#include "nn/engine.h"
#include "panoptes/log.h"
#include "panoptes/status.h"
#include "test.h"
#include "vision/detector.h"
#include "vision/family.h"

static char dir[] = "/tmp/panoptes-families-XXXXXX";
static int made;

static const char *model(const char *name)
{
    static char path[8][512];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, 512, "%s/%s.onnx", dir, name);
    return p;
}

static int make_models(void)
{
    if (made) return made > 0;
    made = -1;
    if (system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") || !mkdtemp(dir)) return 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --batches 1 --bad", pan_test_path("tests/models/make_detector_families.py"), dir);
    if (system(cmd)) return 0;
    made = 1;
    return 1;
}

/* Synthetic YUV 4:2:0 frames (a gradient with blocks), of a size other than the model's. */
typedef struct frames {
    uint8_t *buf[2];
    pan_frame f[2];
} frames;

static void frames_make(frames *fr)
{
    static const int W[2] = {200, 96}, H[2] = {150, 160};
    memset(fr, 0, sizeof *fr);
    for (int i = 0; i < 2; i++) {
        int w = W[i], h = H[i];
        uint8_t *b = fr->buf[i] = malloc((size_t)w * h * 3 / 2);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) b[y * w + x] = (uint8_t)(16 + ((x * 7 + y * 3) % 200) + (((x / 16 + y / 16) & 1) ? 20 : 0));
        for (int k = 0; k < w * h / 2; k++) b[w * h + k] = (uint8_t)(64 + (k * 13 + i * 50) % 128);
        pan_frame *f = &fr->f[i];
        f->index = i;
        f->width = w;
        f->height = h;
        f->format = PAN_PIXFMT_YUV420P;
        f->memory = PAN_MEMORY_HOST;
        f->matrix = PAN_COLOR_BT601;
        f->range = PAN_RANGE_LIMITED;
        f->data[0] = b;
        f->data[1] = b + w * h;
        f->data[2] = f->data[1] + (w / 2) * (h / 2);
        f->pitch[0] = w;
        f->pitch[1] = f->pitch[2] = w / 2;
        pan_frame_init_ref(f, NULL, NULL);
    }
}

static void frames_free(frames *fr)
{
    for (int i = 0; i < 2; i++) free(fr->buf[i]);
}

static const char *engine_meta(const void *e, const char *key) { return pan_engine_metadata(e, key); }

/* The reference: the engine on the input made with the convention given here, decoded by the
 * family's head description (pan_head_decode is checked on hand-made outputs elsewhere). */
static void reference(pan_test_ctx *pan__t, const char *path, pan_detector_kind kind, const pan_preprocess_params *pp,
                      float score, const pan_frame *f, pan_detection_list *out)
{
    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = path, .backend = PAN_BACKEND_CPU, .max_batch = 1};
    ASSERT_OK(pan_engine_create(&e, &ep));
    pan_engine_tensor_info info[4];
    int n_out = pan_engine_num_outputs(e);
    for (int j = 0; j < n_out && j < 4; j++) ASSERT_OK(pan_engine_output_info(e, j, &info[j]));
    pan__family_probe probe = {path, pp->width, pp->height, n_out, info, engine_meta, e};
    pan__family_config cfg;
    ASSERT_OK(pan__family_resolve(&probe, kind, &cfg));
    cfg.head.score_threshold = score;
    float *in = malloc(sizeof(float) * 3 * pp->width * pp->height), *outs[4] = {0};
    pan_letterbox lb;
    ASSERT_OK(pan_preprocess_cpu(f, pp, in, &lb));
    for (int j = 0; j < n_out; j++) outs[j] = malloc(pan_engine_output_numel(e, j, 1) * sizeof(float));
    const float *ins[1] = {in};
    ASSERT_OK(pan_engine_run(e, 1, ins, outs));
    const float *t[PAN_HEAD_MAX_TENSORS] = {0};
    for (int k = 0; k < cfg.n_tensors; k++) t[k] = outs[cfg.outputs[k]];
    ASSERT_OK(pan_head_decode(&cfg.head, t, &lb, out));
    for (int j = 0; j < n_out; j++) free(outs[j]);
    free(in);
    pan_engine_destroy(&e);
}

static void same_lists(pan_test_ctx *pan__t, const pan_detection_list *a, const pan_detection_list *b)
{
    ASSERT_EQ(a->count, b->count);
    for (int k = 0; k < a->count; k++) {
        ASSERT_EQ(a->items[k].class_id, b->items[k].class_id);
        ASSERT_NEAR(a->items[k].score, b->items[k].score, 1e-6);
        for (int q = 0; q < 4; q++) ASSERT_NEAR(a->items[k].box[q], b->items[k].box[q], 1e-3);
    }
}

PAN_TEST(families_read_their_models)
{
    if (!make_models()) PAN_SKIP_PEER("Debian python3-onnx missing (the test models are made with it)");
    /* the input conventions of each project (see the family files for the sources) */
    const pan_preprocess_params ultra = {.width = 128, .height = 128, .channels = PAN_CHANNELS_RGB, .std = {255, 255, 255},
                                         .keep_ratio = 1, .pad_value = 114};
    const pan_preprocess_params yolox = {.width = 128, .height = 128, .channels = PAN_CHANNELS_BGR, .std = {1, 1, 1},
                                         .keep_ratio = 1, .pad_value = 114};
    const pan_preprocess_params detr = {.width = 128, .height = 128, .channels = PAN_CHANNELS_RGB, .std = {255, 255, 255},
                                        .keep_ratio = 0, .pad_value = 114};
    static const struct {
        const char *name;
        pan_detector_kind ask, want;
        int conv; /* 0 ultralytics, 1 yolox, 2 detr */
        float score;
    } cases[] = {
        {"yolov5_like", PAN_DETECTOR_AUTO, PAN_DETECTOR_YOLOV5, 0, 0.3f},
        {"yolox_like", PAN_DETECTOR_AUTO, PAN_DETECTOR_YOLOX, 1, 0.3f},
        {"yolox_decoded", PAN_DETECTOR_YOLOX_DECODED, PAN_DETECTOR_YOLOX_DECODED, 1, 0.3f},
        {"yolov8_transposed", PAN_DETECTOR_AUTO, PAN_DETECTOR_YOLO, 0, 0.3f},
        {"yolo11_like", PAN_DETECTOR_AUTO, PAN_DETECTOR_YOLO, 0, 0.3f},
        {"yolov10_like", PAN_DETECTOR_AUTO, PAN_DETECTOR_YOLOV10, 0, 0.3f},
        {"rtdetr_like", PAN_DETECTOR_AUTO, PAN_DETECTOR_RTDETR, 2, 0.3f},
        {"rtdetr_split", PAN_DETECTOR_AUTO, PAN_DETECTOR_RTDETR, 2, 0.3f},
    };
    frames fr;
    frames_make(&fr);
    int total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *path = model(cases[c].name);
        pan_detector_params p = {.model_path = path, .kind = cases[c].ask, .backend = PAN_BACKEND_CPU, .max_batch = 2,
                                 .score_threshold = cases[c].score, .threads = 1};
        pan_detector *d = NULL;
        ASSERT_OK(pan_detector_create(&d, &p));
        ASSERT_EQ(pan_detector_get_kind(d), cases[c].want);
        int w, h;
        pan_detector_input_size(d, &w, &h);
        ASSERT_EQ(w, 128);
        ASSERT_EQ(h, 128);
        pan_detection_list out[2] = {{0}}, one = {0}, ref = {0};
        pan_frame *fp[2] = {&fr.f[0], &fr.f[1]};
        ASSERT_OK(pan_detector_detect(d, fp, 2, out));
        const pan_preprocess_params *pp = cases[c].conv == 0 ? &ultra : cases[c].conv == 1 ? &yolox : &detr;
        for (int i = 0; i < 2; i++) {
            reference(pan__t, path, cases[c].ask, pp, cases[c].score, &fr.f[i], &ref);
            if (pan__t->failed) return;
            same_lists(pan__t, &out[i], &ref);
            if (pan__t->failed) {
                fprintf(stderr, "    %s, frame %d: the detector and the reference differ\n", cases[c].name, i);
                return;
            }
            ASSERT_OK(pan_detector_detect(d, &fp[i], 1, &one));
            same_lists(pan__t, &out[i], &one);
            for (int k = 0; k < out[i].count; k++) {
                const float *b = out[i].items[k].box;
                ASSERT_TRUE(b[0] >= 0 && b[1] >= 0 && b[2] <= fr.f[i].width && b[3] <= fr.f[i].height);
            }
            total += out[i].count;
        }
        fprintf(stderr, "    %-18s %-13s %d + %d detections\n", cases[c].name, pan_detector_kind_name(cases[c].want),
                out[0].count, out[1].count);
        for (int i = 0; i < 2; i++) pan_detection_list_free(&out[i]);
        pan_detection_list_free(&one);
        pan_detection_list_free(&ref);
        pan_detector_destroy(&d);
    }
    ASSERT_GE(total, 10); /* not vacuous */
    frames_free(&fr);
}

PAN_TEST(metadata_is_read_from_onnx)
{
    if (!make_models()) PAN_SKIP_PEER("Debian python3-onnx missing (the test models are made with it)");
    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = model("yolov10_like"), .backend = PAN_BACKEND_CPU};
    ASSERT_OK(pan_engine_create(&e, &ep));
    ASSERT_STREQ(pan_engine_metadata(e, "head"), "v10Detect");
    ASSERT_STREQ(pan_engine_metadata(e, "author"), "Ultralytics");
    ASSERT_TRUE(pan_engine_metadata(e, "no such key") == NULL);
    pan_engine_destroy(&e);
}

static char errors[8192];
static void capture(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (level == PAN_LOG_ERROR) snprintf(errors + strlen(errors), sizeof errors - strlen(errors), "%s\n", line);
}

static pan_status create(const char *path, pan_detector_kind kind)
{
    pan_detector_params p = {.model_path = path, .kind = kind, .backend = PAN_BACKEND_CPU};
    pan_detector *d = NULL;
    errors[0] = 0;
    pan_log_set_sink(capture, NULL);
    pan_status st = pan_detector_create(&d, &p);
    pan_log_set_sink(NULL, NULL);
    pan_detector_destroy(&d);
    fprintf(stderr, "    -> %s: %s", pan_status_name(st), errors[0] ? errors : "(no message)\n");
    return st;
}

PAN_TEST(models_panoptes_cannot_read_fail_clearly)
{
    if (!make_models()) PAN_SKIP_PEER("Debian python3-onnx missing (the test models are made with it)");
    /* no known family */
    ASSERT_EQ(create(model("no_family"), PAN_DETECTOR_AUTO), PAN_MODEL);
    ASSERT_TRUE(strstr(errors, "no_family.onnx") && strstr(errors, "features [B, 16]") && strstr(errors, "--model-type"));
    /* outputs that disagree with --model-type */
    ASSERT_EQ(create(model("yolov8_transposed"), PAN_DETECTOR_YOLOV10), PAN_MODEL);
    ASSERT_TRUE(strstr(errors, "--model-type yolov10") && strstr(errors, "[B, K, 6]"));
    ASSERT_EQ(create(model("yolov10_like"), PAN_DETECTOR_YOLOV5), PAN_MODEL);
    ASSERT_TRUE(strstr(errors, "--model-type yolov5"));
    ASSERT_EQ(create(model("yolov5_like"), PAN_DETECTOR_YOLOX), PAN_MODEL);
    ASSERT_TRUE(strstr(errors, "5+C"));
    /* an input size that is not fixed */
    pan_status st = create(model("dynamic_hw"), PAN_DETECTOR_AUTO);
    ASSERT_TRUE(st == PAN_MODEL || st == PAN_SHAPE || st == PAN_UNSUPPORTED);
    ASSERT_TRUE(strstr(errors, "dynamic_hw.onnx") && strstr(errors, "fixed"));
    /* NanoDet named for a YOLO export */
    ASSERT_EQ(create(model("yolov5_like"), PAN_DETECTOR_NANODET), PAN_MODEL);
    ASSERT_TRUE(strstr(errors, "NanoDet"));
}

PAN_TEST_MAIN(families_read_their_models, metadata_is_read_from_onnx, models_panoptes_cannot_read_fail_clearly)
