/* GPU dense-head postprocessing (postprocess_gpu.cu head_decode + NMS or the end-to-end cut) vs
 * the cpu decoder (pan_head_decode) for every family layout: YOLOv5 [B, 3·cells, 5+C], YOLOX
 * raw (grid decode) [B, cells, 5+C], YOLOv8 transposed [B, cells, 4+C] (refused on the cuda
 * backend before), YOLOv10 [B, K, 6] (no NMS), RT-DETR [B, Q, 4+C] and split boxes + logits.
 * Random outputs with a known spread of scores, FP32 and FP16 (rounded to half before both
 * decoders see them): the same detections in the same order, equal classes, scores within 1e-5,
 * boxes within 1e-2 px. Skips without a GPU. */
#include "family_fake.h"
#include "test.h"
#include "vision/postprocess.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "vision/postprocess_gpu.h"

static unsigned rng = 7654321;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f;
}

static int gpu_ok(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

/* IEEE half round trip (round to nearest even; normal numbers and zero only) */
static uint16_t f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xff, m = x & 0x7fffffu;
    int ee = (int)e - 127 + 15;
    if (e == 0 || ee <= 0) return (uint16_t)sign;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);
    uint32_t h = sign | ((uint32_t)ee << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)h;
}

static float h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    x = e == 0 ? sign : sign | ((e - 15 + 127) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static void *upload(const float *h, size_t n, int half)
{
    void *d = NULL;
    if (half) {
        uint16_t *tmp = malloc(n * sizeof *tmp);
        for (size_t i = 0; i < n; i++) tmp[i] = f2h(h[i]);
        cudaMalloc(&d, n * sizeof *tmp);
        cudaMemcpy(d, tmp, n * sizeof *tmp, cudaMemcpyHostToDevice);
        free(tmp);
    } else {
        cudaMalloc(&d, n * sizeof *h);
        cudaMemcpy(d, h, n * sizeof *h, cudaMemcpyHostToDevice);
    }
    return d;
}

static float *field(float *const *t, const pan_head_field *f, int64_t n, int64_t k)
{
    return &t[f->tensor][f->offset + n * f->row_stride + k * f->field_stride];
}

/* A score that passes 0.35 now and then (a few dozen rows per image). */
static float rare_score(void)
{
    float u = frand();
    return u > 0.9997f ? 0.3f + 0.7f * frand() : 0.3f * u;
}

/* Fills one image's head tensors by meaning, through the head's own addressing. */
static void fill(const pan_head_params *h, float *const *t)
{
    for (int64_t n = 0; n < h->num_rows; n++) {
        float v[4];
        switch (h->box) {
        case PAN_HEAD_BOX_GRID:
            v[0] = 2 * frand() - 0.5f, v[1] = 2 * frand() - 0.5f, v[2] = 3 * frand() - 1, v[3] = 3 * frand() - 1;
            break;
        case PAN_HEAD_BOX_CXCYWH_NORM:
            v[0] = frand(), v[1] = frand(), v[2] = 0.05f + 0.3f * frand(), v[3] = 0.05f + 0.3f * frand();
            break;
        case PAN_HEAD_BOX_XYXY:
            v[0] = (float)h->input_w * frand(), v[1] = (float)h->input_h * frand();
            v[2] = v[0] + 10 + 100 * frand(), v[3] = v[1] + 10 + 100 * frand();
            break;
        default:
            v[0] = (float)h->input_w * frand(), v[1] = (float)h->input_h * frand();
            v[2] = 10 + 100 * frand(), v[3] = 10 + 100 * frand();
        }
        for (int k = 0; k < 4; k++) *field(t, &h->boxes, n, k) = v[k];
        switch (h->score) {
        case PAN_HEAD_SCORE_ID:
            *field(t, &h->scores, n, 0) = frand() > 0.8f ? 0.3f + 0.7f * frand() : 0.3f * frand();
            *field(t, &h->class_id, n, 0) = (float)(int)(80 * frand());
            break;
        case PAN_HEAD_SCORE_LOGITS:
            for (int c = 0; c < h->num_classes; c++) *field(t, &h->scores, n, c) = frand() > 0.995f ? 4 * frand() - 0.5f : -2 - 4 * frand();
            break;
        case PAN_HEAD_SCORE_OBJ_CLASSES:
            *field(t, &h->objectness, n, 0) = 0.5f + 0.5f * frand();
            /* fall through */
        default:
            for (int c = 0; c < h->num_classes; c++) *field(t, &h->scores, n, c) = rare_score();
        }
    }
}

static void run_case(pan_test_ctx *pan__t, fake *f, pan_detector_kind kind, int half, int batch, int filter)
{
    pan__family_config cfg;
    ASSERT_OK(pan__family_resolve(&f->probe, kind, &cfg));
    pan_head_params *h = &cfg.head;
    uint8_t mask[32] = {0};
    if (filter) {
        mask[0] = 0x1; /* person */
        mask[1] = 0x4; /* class 10 */
        h->classes = (pan_class_filter){mask, 32};
    }
    float *host[PAN_HEAD_MAX_TENSORS] = {0};
    size_t per[PAN_HEAD_MAX_TENSORS] = {0};
    pan__gpu_post_params p = {0};
    for (int t = 0; t < cfg.n_tensors; t++) {
        const pan_engine_tensor_info *o = &f->out[cfg.outputs[t]];
        per[t] = 1;
        for (int k = 1; k < o->rank; k++) per[t] *= (size_t)o->dims[k];
        host[t] = calloc(per[t] * (size_t)batch, sizeof(float));
    }
    for (int b = 0; b < batch; b++) {
        float *img[PAN_HEAD_MAX_TENSORS];
        for (int t = 0; t < cfg.n_tensors; t++) img[t] = host[t] + per[t] * (size_t)b;
        fill(h, img);
    }
    for (int t = 0; t < cfg.n_tensors; t++) {
        if (half)
            for (size_t i = 0; i < per[t] * (size_t)batch; i++) host[t][i] = h2f(f2h(host[t][i]));
        p.head_tensor[t] = upload(host[t], per[t] * (size_t)batch, half);
        p.head_image_stride[t] = per[t];
    }
    p.yolo = 1;
    p.half = half;
    p.batch = batch;
    p.num_classes = h->num_classes;
    p.score_threshold = h->score_threshold;
    p.iou_threshold = h->nms.iou_threshold;
    p.top_k = h->nms.top_k;
    p.input_w = h->input_w, p.input_h = h->input_h;
    if (filter) p.filter = 1, p.class_mask[0] = 0x1u | (1u << 10);
    p.head = *h;
    p.num_anchors = h->num_rows;
    cudaMalloc((void **)&p.candidates, pan__gpu_post_candidates_bytes(batch));
    cudaMalloc((void **)&p.counts, pan__gpu_post_counts_bytes(batch));
    cudaMalloc((void **)&p.out, pan__gpu_post_out_bytes(batch, p.top_k));
    ASSERT_EQ(pan__gpu_post_launch(&p, NULL), 0);
    ASSERT_EQ(cudaDeviceSynchronize(), 0);
    int *counts = malloc(pan__gpu_post_counts_bytes(batch));
    float *out = malloc(pan__gpu_post_out_bytes(batch, p.top_k));
    cudaMemcpy(counts, p.counts, pan__gpu_post_counts_bytes(batch), cudaMemcpyDeviceToHost);
    cudaMemcpy(out, p.out, pan__gpu_post_out_bytes(batch, p.top_k), cudaMemcpyDeviceToHost);
    pan_detection_list list = {0};
    int total = 0;
    for (int b = 0; b < batch; b++) {
        const float *img[PAN_HEAD_MAX_TENSORS] = {0};
        for (int t = 0; t < cfg.n_tensors; t++) img[t] = host[t] + per[t] * (size_t)b;
        ASSERT_OK(pan_head_decode(h, img, NULL, &list));
        ASSERT_LE(counts[b], PAN_GPU_POST_CANDIDATES);
        ASSERT_EQ(counts[batch + b], list.count);
        total += list.count;
        for (int k = 0; k < list.count; k++) {
            const float *g = out + ((size_t)b * p.top_k + k) * 6;
            const pan_detection *d = &list.items[k];
            ASSERT_EQ((int)g[5], d->class_id);
            ASSERT_NEAR(g[4], d->score, 1e-5);
            for (int q = 0; q < 4; q++) ASSERT_NEAR(g[q], d->box[q], 1e-2);
        }
    }
    fprintf(stderr, "    %-14s %s batch %d%s: %d detections\n", pan_detector_kind_name(cfg.kind), half ? "fp16" : "fp32",
            batch, filter ? " (class filter)" : "", total);
    ASSERT_GE(total, batch); /* not vacuous */
    pan_detection_list_free(&list);
    for (int t = 0; t < cfg.n_tensors; t++) free(host[t]), cudaFree((void *)p.head_tensor[t]);
    cudaFree(p.candidates), cudaFree(p.counts), cudaFree(p.out);
    free(counts), free(out);
}

#define GPU_CASE(name, body) \
    PAN_TEST(name) { if (!gpu_ok()) PAN_SKIP("no CUDA device"); fake f; body }

/* 320x320: 2100 cells at strides 8/16/32 */
GPU_CASE(yolov5_fp16, fake_init(&f, 320, 320); fake_out(&f, "output0", 3, 1, 6300, 85);
         run_case(pan__t, &f, PAN_DETECTOR_YOLOV5, 1, 4, 0);)
GPU_CASE(yolov5_class_filter, fake_init(&f, 320, 320); fake_out(&f, "output0", 3, 1, 6300, 85);
         run_case(pan__t, &f, PAN_DETECTOR_YOLOV5, 0, 8, 1);)
GPU_CASE(yolox_grid_fp32, fake_init(&f, 320, 320); fake_out(&f, "output", 3, 1, 2100, 85);
         run_case(pan__t, &f, PAN_DETECTOR_YOLOX, 0, 3, 0);)
GPU_CASE(yolox_grid_fp16, fake_init(&f, 320, 256); fake_out(&f, "output", 3, 1, 1680, 85);
         run_case(pan__t, &f, PAN_DETECTOR_YOLOX, 1, 5, 0);)
GPU_CASE(yolov8_transposed_fp16, fake_init(&f, 320, 320); fake_out(&f, "output0", 3, 1, 2100, 84);
         run_case(pan__t, &f, PAN_DETECTOR_YOLO, 1, 4, 0);)
GPU_CASE(yolov10_fp16, fake_init(&f, 640, 640); fake_out(&f, "output0", 3, 1, 300, 6);
         run_case(pan__t, &f, PAN_DETECTOR_YOLOV10, 1, 6, 0);)
GPU_CASE(rtdetr_fp32, fake_init(&f, 640, 640); fake_out(&f, "output0", 3, 1, 300, 84);
         run_case(pan__t, &f, PAN_DETECTOR_RTDETR, 0, 3, 0);)
GPU_CASE(rtdetr_split_logits_fp16, fake_init(&f, 640, 640); fake_out(&f, "pred_logits", 3, 1, 300, 80);
         fake_out(&f, "pred_boxes", 3, 1, 300, 4); run_case(pan__t, &f, PAN_DETECTOR_RTDETR, 1, 4, 0);)

#else
PAN_TEST(yolov5_fp16) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolov5_class_filter) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolox_grid_fp32) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolox_grid_fp16) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolov8_transposed_fp16) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolov10_fp16) { PAN_SKIP("built without CUDA"); }
PAN_TEST(rtdetr_fp32) { PAN_SKIP("built without CUDA"); }
PAN_TEST(rtdetr_split_logits_fp16) { PAN_SKIP("built without CUDA"); }
#endif

PAN_TEST_MAIN(yolov5_fp16, yolov5_class_filter, yolox_grid_fp32, yolox_grid_fp16, yolov8_transposed_fp16, yolov10_fp16,
              rtdetr_fp32, rtdetr_split_logits_fp16)
