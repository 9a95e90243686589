/* Detector on real frames of the sample (data/vtest.mp4, made by scripts/setup.sh): NanoDet-g
 * finds the pedestrians; batching does not change results; and the detections match the
 * official NanoDet postprocess computed in JS from TF.js's own outputs (tests/peers/nanodet_ref.js)
 * on the same preprocessed input: every detection pairs with one of the same class at IoU >= 0.9
 * and |score difference| <= 1e-3 (FP32 engine vs TF.js wasm: scores differ by ~1e-5). Frames are
 * read with the ffmpeg CLI (YUV420P, BT.601 limited range), independent of the decoder module. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vision/detector.h"
#include "vision/preprocess.h"
#include "panoptes/status.h"
#include "test.h"

#define MAX_FRAMES 4

typedef struct clip {
    int w, h, n;
    uint8_t *buf;
    pan_frame frames[MAX_FRAMES];
} clip;

static int have(const char *rel) { return access(pan_test_path(rel), R_OK) == 0; }

/* Reads frames 0, step, 2·step, ... of the sample. Returns 0 on success. */
static int clip_read(clip *c, int n, int step)
{
    char cmd[8192];
    memset(c, 0, sizeof *c);
    snprintf(cmd, sizeof cmd, "ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 '%s'",
             pan_test_path("data/vtest.mp4"));
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int ok = fscanf(p, "%d,%d", &c->w, &c->h) == 2;
    pclose(p);
    if (!ok || c->w <= 0 || c->h <= 0 || c->w % 2 || c->h % 2) return -1;
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -i '%s' -vf \"select='not(mod(n\\,%d))'\" -vsync 0 -frames:v %d -f rawvideo "
             "-pix_fmt yuv420p -",
             pan_test_path("data/vtest.mp4"), step, n);
    size_t fsz = (size_t)c->w * c->h * 3 / 2;
    c->buf = malloc(fsz * (size_t)n);
    p = popen(cmd, "r");
    if (!p || !c->buf) return -1;
    size_t got = fread(c->buf, 1, fsz * (size_t)n, p);
    pclose(p);
    if (got != fsz * (size_t)n) return -1;
    for (int i = 0; i < n; i++) {
        pan_frame *f = &c->frames[i];
        uint8_t *y = c->buf + fsz * (size_t)i;
        f->index = (int64_t)i * step;
        f->width = c->w;
        f->height = c->h;
        f->format = PAN_PIXFMT_YUV420P;
        f->memory = PAN_MEMORY_HOST;
        f->matrix = PAN_COLOR_BT601;
        f->range = PAN_RANGE_LIMITED;
        f->data[0] = y;
        f->data[1] = y + c->w * c->h;
        f->data[2] = f->data[1] + (c->w / 2) * (c->h / 2);
        f->pitch[0] = c->w;
        f->pitch[1] = f->pitch[2] = c->w / 2;
        pan_frame_init_ref(f, NULL, NULL);
    }
    c->n = n;
    return 0;
}

static pan_detector *make_detector(int max_batch, const int *classes, int n_classes)
{
    pan_detector_params p;
    memset(&p, 0, sizeof p);
    p.model_path = pan_test_path("models/nanodet.json");
    p.backend = PAN_BACKEND_CPU;
    p.max_batch = max_batch;
    p.classes = classes;
    p.n_classes = n_classes;
    pan_detector *d = NULL;
    if (pan_detector_create(&d, &p)) return NULL;
    return d;
}

PAN_TEST(finds_people_in_frame0)
{
    if (!have("models/nanodet.json") || !have("data/vtest.mp4")) PAN_SKIP("models/nanodet.json or data/vtest.mp4 missing (run scripts/setup.sh)");
    clip c;
    if (clip_read(&c, 1, 1)) PAN_SKIP("cannot read frames with ffmpeg/ffprobe");
    pan_detector *d = make_detector(1, NULL, 0);
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ(pan_detector_get_kind(d), PAN_DETECTOR_NANODET);
    int w, h;
    pan_detector_input_size(d, &w, &h);
    ASSERT_EQ(w, 416);
    ASSERT_EQ(h, 416);
    ASSERT_EQ(pan_detector_num_classes(d), 80);
    pan_detection_list out = {0};
    pan_frame *fr[1] = {&c.frames[0]};
    ASSERT_OK(pan_detector_detect(d, fr, 1, &out));
    int persons = 0;
    for (int i = 0; i < out.count; i++) {
        const pan_detection *x = &out.items[i];
        fprintf(stderr, "    %-8s %.3f [%.1f %.1f %.1f %.1f]\n", pan_coco_label(x->class_id), x->score, x->box[0],
                x->box[1], x->box[2], x->box[3]);
        ASSERT_GE(x->score, 0.35);
        ASSERT_TRUE(x->box[0] >= 0 && x->box[1] >= 0 && x->box[2] <= c.w && x->box[3] <= c.h);
        ASSERT_TRUE(x->box[2] > x->box[0] && x->box[3] > x->box[1]);
        if (i) ASSERT_LE(x->score, out.items[i - 1].score);
        if (x->class_id == 0) {
            float bw = x->box[2] - x->box[0], bh = x->box[3] - x->box[1];
            /* pedestrians of vtest (768x576): roughly 20-60 px wide, 50-200 px tall, upright */
            ASSERT_TRUE(bh >= 25 && bh <= 400 && bw >= 8 && bw <= 250);
            ASSERT_TRUE(bh / bw > 0.8f && bh / bw < 6.f);
            persons++;
        }
    }
    ASSERT_GE(persons, 3);
    /* steady state: the same list is reused without reallocation */
    pan_detection *items = out.items;
    int cap = out.capacity;
    ASSERT_OK(pan_detector_detect(d, fr, 1, &out));
    ASSERT_TRUE(items == out.items && cap == out.capacity);
    pan_detection_list_free(&out);
    pan_detector_destroy(&d);
    ASSERT_TRUE(d == NULL);
    free(c.buf);
}

PAN_TEST(batch_equals_single_and_class_filter)
{
    if (!have("models/nanodet.json") || !have("data/vtest.mp4")) PAN_SKIP("models/nanodet.json or data/vtest.mp4 missing (run scripts/setup.sh)");
    clip c;
    if (clip_read(&c, 3, 25)) PAN_SKIP("cannot read frames with ffmpeg/ffprobe");
    int person = 0;
    pan_detector *d = make_detector(3, &person, 1);
    ASSERT_TRUE(d != NULL);
    pan_detection_list batch[3] = {{0}}, one = {0};
    pan_frame *fr[3] = {&c.frames[0], &c.frames[1], &c.frames[2]};
    ASSERT_OK(pan_detector_detect(d, fr, 3, batch));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(pan_detector_detect(d, &fr[i], 1, &one));
        ASSERT_EQ(one.count, batch[i].count);
        ASSERT_GE(one.count, 1);
        for (int k = 0; k < one.count; k++) {
            ASSERT_EQ(batch[i].items[k].class_id, 0);
            ASSERT_NEAR(one.items[k].score, batch[i].items[k].score, 1e-5);
            for (int j = 0; j < 4; j++) ASSERT_NEAR(one.items[k].box[j], batch[i].items[k].box[j], 1e-2);
        }
    }
    ASSERT_EQ(pan_detector_detect(d, fr, 4, batch), PAN_LIMIT);
    for (int i = 0; i < 3; i++) pan_detection_list_free(&batch[i]);
    pan_detection_list_free(&one);
    pan_detector_destroy(&d);
    free(c.buf);
}

PAN_TEST(bad_model_fails_cleanly)
{
    pan_detector_params p;
    memset(&p, 0, sizeof p);
    p.model_path = "/nonexistent/model.onnx";
    pan_detector *d = (pan_detector *)1;
    ASSERT_TRUE(pan_detector_create(&d, &p) < 0);
    ASSERT_TRUE(d == NULL);
    int bad_class = 1000;
    p.model_path = pan_test_path("models/nanodet.json");
    p.classes = &bad_class;
    p.n_classes = 1;
    ASSERT_EQ(pan_detector_create(&d, &p), PAN_RANGE);
    pan_detector_destroy(&d);
}

/* A YOLOv8n-shaped ONNX model (random weights, tests/peers/make_onnx_models.py): the detector
 * recognises the YOLO output, letterboxes to its input and returns boxes inside the frame. */
PAN_TEST(yolo_onnx_detector_runs)
{
    if (!have("data/vtest.mp4")) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    if (system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1")) PAN_SKIP("Debian python3-onnx missing");
    clip c;
    if (clip_read(&c, 2, 10)) PAN_SKIP("cannot read frames with ffmpeg/ffprobe");
    char dir[] = "/tmp/panoptes-yolo-XXXXXX", cmd[2048], model[512];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --only yolov8n_like --batches 1 --yolo-size 320",
             pan_test_path("tests/peers/make_onnx_models.py"), dir);
    ASSERT_EQ(system(cmd), 0);
    snprintf(model, sizeof model, "%s/yolov8n_like.onnx", dir);
    pan_detector_params p;
    memset(&p, 0, sizeof p);
    p.model_path = model;
    p.max_batch = 2;
    p.score_threshold = 0.5f;
    pan_detector *d = NULL;
    ASSERT_OK(pan_detector_create(&d, &p));
    ASSERT_EQ(pan_detector_get_kind(d), PAN_DETECTOR_YOLO);
    int w, h;
    pan_detector_input_size(d, &w, &h);
    ASSERT_EQ(w, 320);
    ASSERT_EQ(h, 320);
    ASSERT_EQ(pan_detector_num_classes(d), 80);
    pan_detection_list out[2] = {{0}};
    pan_frame *fr[2] = {&c.frames[0], &c.frames[1]};
    ASSERT_OK(pan_detector_detect(d, fr, 2, out));
    for (int i = 0; i < 2; i++) {
        ASSERT_LE(out[i].count, 300);
        for (int k = 0; k < out[i].count; k++) {
            const pan_detection *x = &out[i].items[k];
            ASSERT_GE(x->score, 0.5);
            ASSERT_TRUE(x->class_id >= 0 && x->class_id < 80);
            ASSERT_TRUE(x->box[0] >= 0 && x->box[1] >= 0 && x->box[2] <= c.w && x->box[3] <= c.h);
        }
    }
    for (int i = 0; i < 2; i++) pan_detection_list_free(&out[i]);
    pan_detector_destroy(&d);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
    free(c.buf);
}

static int node_peers_ready(void)
{
    return have("tests/peers/node_modules/@tensorflow/tfjs/package.json") &&
           have("tests/peers/node_modules/@tensorflow/tfjs-backend-wasm/package.json") && system("node --version >/dev/null 2>&1") == 0;
}

PAN_TEST(matches_official_postprocess_in_js)
{
    if (!have("models/nanodet.json") || !have("data/vtest.mp4")) PAN_SKIP("models/nanodet.json or data/vtest.mp4 missing (run scripts/setup.sh)");
    if (!node_peers_ready()) PAN_SKIP_PEER("node or tests/peers/node_modules (tfjs) missing: cd tests/peers && npm install --ignore-scripts");
    enum { N = 3 };
    clip c;
    if (clip_read(&c, N, 40)) PAN_SKIP("cannot read frames with ffmpeg/ffprobe");
    pan_detector *d = make_detector(N, NULL, 0);
    ASSERT_TRUE(d != NULL);
    pan_detection_list ours[N] = {{0}};
    pan_frame *fr[N] = {&c.frames[0], &c.frames[1], &c.frames[2]};
    ASSERT_OK(pan_detector_detect(d, fr, N, ours));

    /* The same preprocessed input for TF.js (the detector's NanoDet convention, detector.h). */
    pan_preprocess_params pp = {.width = 416, .height = 416, .channels = PAN_CHANNELS_BGR,
                                .mean = {103.53f, 116.28f, 123.675f}, .std = {57.375f, 57.12f, 58.395f},
                                .layout = PAN_LAYOUT_NCHW, .keep_ratio = 1, .pad_value = 0};
    char dir[] = "/tmp/panoptes-nanodet-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char in_path[256], meta_path[256], out_path[256], cmd[2048];
    snprintf(in_path, sizeof in_path, "%s/input.bin", dir);
    snprintf(meta_path, sizeof meta_path, "%s/meta.json", dir);
    snprintf(out_path, sizeof out_path, "%s/dets.json", dir);
    size_t per = 3 * 416 * 416;
    float *in = malloc(per * N * sizeof(float));
    FILE *mf = fopen(meta_path, "w");
    ASSERT_TRUE(in && mf);
    fprintf(mf, "{\"batch\": %d, \"score\": 0.35, \"iou\": 0.6, \"top_k\": 100, \"nms_pre\": 1000, \"letterbox\": [", N);
    for (int i = 0; i < N; i++) {
        pan_letterbox lb;
        ASSERT_OK(pan_preprocess_cpu(fr[i], &pp, in + per * i, &lb));
        fprintf(mf, "%s{\"sx\": %.9g, \"sy\": %.9g, \"ox\": %.9g, \"oy\": %.9g, \"w\": %d, \"h\": %d}", i ? ", " : "",
                lb.scale_x, lb.scale_y, lb.offset_x, lb.offset_y, lb.src_w, lb.src_h);
    }
    fprintf(mf, "]}\n");
    fclose(mf);
    FILE *f = fopen(in_path, "wb");
    ASSERT_TRUE(f && fwrite(in, sizeof(float), per * N, f) == per * N);
    fclose(f);
    free(in);
    snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' '%s' '%s'", pan_test_path("tests/peers/nanodet_ref.js"),
             pan_test_path("models/nanodet.json"), in_path, meta_path, out_path);
    ASSERT_EQ(system(cmd), 0);
    json_error_t jerr;
    json_t *ref = json_load_file(out_path, 0, &jerr);
    ASSERT_TRUE(ref && json_is_array(ref) && json_array_size(ref) == N);
    int total = 0;
    double max_dscore = 0, min_iou = 1;
    for (int i = 0; i < N; i++) {
        json_t *list = json_array_get(ref, (size_t)i);
        int nref = (int)json_array_size(list);
        int used[128] = {0};
        fprintf(stderr, "    frame %lld: %d detections (ours), %d (reference)\n", (long long)fr[i]->index, ours[i].count, nref);
        for (int k = 0; k < ours[i].count; k++) {
            const pan_detection *x = &ours[i].items[k];
            int best = -1;
            float best_iou = 0;
            for (int r = 0; r < nref && r < 128; r++) {
                json_t *o = json_array_get(list, (size_t)r);
                if (used[r] || json_integer_value(json_object_get(o, "class")) != x->class_id) continue;
                float b[4];
                for (int j = 0; j < 4; j++) b[j] = (float)json_number_value(json_array_get(json_object_get(o, "box"), (size_t)j));
                float v = pan_box_iou(x->box, b);
                if (v > best_iou) best_iou = v, best = r;
            }
            if (best < 0 || best_iou < 0.9f) {
                /* only a detection at the threshold may be missing on one side */
                ASSERT_LE(x->score, 0.35 + 1e-3);
                continue;
            }
            used[best] = 1;
            double rs = json_number_value(json_object_get(json_array_get(list, (size_t)best), "score"));
            ASSERT_NEAR(x->score, rs, 1e-3);
            max_dscore = fmax(max_dscore, fabs(x->score - rs));
            min_iou = fmin(min_iou, best_iou);
            total++;
        }
        for (int r = 0; r < nref && r < 128; r++)
            if (!used[r]) ASSERT_LE(json_number_value(json_object_get(json_array_get(list, (size_t)r), "score")), 0.35 + 1e-3);
    }
    fprintf(stderr, "    %d matched pairs: min IoU %.5f, max |score difference| %.2g\n", total, min_iou, max_dscore);
    ASSERT_GE(total, 3);
    json_decref(ref);
    for (int i = 0; i < N; i++) pan_detection_list_free(&ours[i]);
    pan_detector_destroy(&d);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
    free(c.buf);
}

PAN_TEST_MAIN(finds_people_in_frame0, batch_equals_single_and_class_filter, bad_model_fails_cleanly,
              yolo_onnx_detector_runs, matches_official_postprocess_in_js)
