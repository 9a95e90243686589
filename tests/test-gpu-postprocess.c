/* GPU detection postprocessing vs the cpu decoders (src/vision/postprocess.h), on
 * synthetic raw outputs with a known spread of scores: the same detections in the same order,
 * boxes within 1e-3 px (FP32 outputs) or 0.05 px (FP16 outputs: the logits are rounded to half
 * before both decoders see them, so the difference is only exp/accumulation order), equal
 * classes, scores within 1e-6. Skips without a GPU. */
#include "vision/postprocess.h"
#include "test.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "vision/postprocess_gpu.h"

static unsigned rng = 1234567;
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

/* IEEE half <-> float (round to nearest even; the test's values are normal numbers). */
static uint16_t f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xff, m = x & 0x7fffffu;
    if (e == 0) return (uint16_t)sign;
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);
    if (ee <= 0) return (uint16_t)sign; /* flush tiny values: not used here */
    uint32_t h = sign | ((uint32_t)ee << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)h;
}

static float h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) x = sign; /* zero (no subnormals here) */
    else x = sign | ((e - 15 + 127) << 23) | (m << 13);
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

/* Rounds through half so the cpu decoder sees what the GPU sees. */
static void round_half(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = h2f(f2h(x[i]));
}

static void nanodet_case(pan_test_ctx *pan__t, int half, int batch, int filter_person)
{
    pan_nanodet_params nd;
    pan_nanodet_params_default(&nd);
    nd.input_w = nd.input_h = 416;
    uint8_t mask[16] = {1};
    if (filter_person) nd.classes = (pan_class_filter){mask, 16};
    const int C = nd.num_classes, bins = nd.reg_max + 1;
    float *cls[3], *reg[3];
    int n[3];
    for (int l = 0; l < 3; l++) {
        n[l] = pan_nanodet_level_size(&nd, l);
        cls[l] = malloc(sizeof(float) * (size_t)batch * n[l] * C);
        reg[l] = malloc(sizeof(float) * (size_t)batch * n[l] * 4 * bins);
        for (size_t i = 0; i < (size_t)batch * n[l] * C; i++) {
            float u = frand();
            cls[l][i] = u > 0.9995f ? 0.3f + 0.7f * frand() : 0.3f * u; /* a few dozen above 0.35 */
        }
        for (size_t i = 0; i < (size_t)batch * n[l] * 4 * bins; i++) reg[l][i] = 4.f * frand() - 2.f;
        if (half) {
            round_half(cls[l], (size_t)batch * n[l] * C);
            round_half(reg[l], (size_t)batch * n[l] * 4 * bins);
        }
    }
    pan__gpu_post_params p = {0};
    p.half = half;
    p.batch = batch;
    p.num_classes = C;
    p.score_threshold = nd.score_threshold;
    p.iou_threshold = nd.nms.iou_threshold;
    p.top_k = nd.nms.top_k;
    p.nms_pre = nd.nms_pre;
    p.input_w = p.input_h = 416;
    if (filter_person) p.filter = 1, p.class_mask[0] = 1;
    p.num_levels = 3;
    p.reg_max = nd.reg_max;
    for (int l = 0; l < 3; l++) {
        p.cls[l] = upload(cls[l], (size_t)batch * n[l] * C, half);
        p.reg[l] = upload(reg[l], (size_t)batch * n[l] * 4 * bins, half);
        p.level_n[l] = n[l];
        p.level_fw[l] = (416 + nd.strides[l] - 1) / nd.strides[l];
        p.stride[l] = nd.strides[l];
    }
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
    pan_post_scratch scratch = {0};
    int total = 0;
    for (int b = 0; b < batch; b++) {
        const float *cl[3], *rg[3];
        for (int l = 0; l < 3; l++) {
            cl[l] = cls[l] + (size_t)b * n[l] * C;
            rg[l] = reg[l] + (size_t)b * n[l] * 4 * bins;
        }
        ASSERT_OK(pan_nanodet_decode(&nd, cl, rg, NULL, &list, &scratch));
        ASSERT_EQ(counts[batch + b], list.count);
        total += list.count;
        for (int k = 0; k < list.count; k++) {
            const float *g = out + ((size_t)b * p.top_k + k) * 6;
            const pan_detection *d = &list.items[k];
            ASSERT_EQ((int)g[5], d->class_id);
            ASSERT_NEAR(g[4], d->score, 1e-6);
            for (int q = 0; q < 4; q++) ASSERT_NEAR(g[q], d->box[q], half ? 0.05 : 1e-3);
        }
    }
    ASSERT_GE(total, filter_person ? 1 : batch); /* the case is not vacuous */
    pan_detection_list_free(&list);
    pan_post_scratch_free(&scratch);
    for (int l = 0; l < 3; l++) {
        free(cls[l]), free(reg[l]);
        cudaFree((void *)p.cls[l]), cudaFree((void *)p.reg[l]);
    }
    cudaFree(p.candidates), cudaFree(p.counts), cudaFree(p.out);
    free(counts), free(out);
}

PAN_TEST(nanodet_fp32)
{
    if (!gpu_ok()) PAN_SKIP("no CUDA device");
    nanodet_case(pan__t, 0, 4, 0);
}

PAN_TEST(nanodet_fp16_batch)
{
    if (!gpu_ok()) PAN_SKIP("no CUDA device");
    nanodet_case(pan__t, 1, 16, 0);
}

PAN_TEST(nanodet_class_filter)
{
    if (!gpu_ok()) PAN_SKIP("no CUDA device");
    nanodet_case(pan__t, 1, 3, 1);
}

PAN_TEST(yolo_fp32)
{
    if (!gpu_ok()) PAN_SKIP("no CUDA device");
    const int C = 80, N = 8400, batch = 3;
    float *h = malloc(sizeof(float) * batch * (4 + C) * N);
    for (int b = 0; b < batch; b++)
        for (int a = 0; a < N; a++) {
            float *o = h + (size_t)b * (4 + C) * N;
            o[a] = 640 * frand(), o[N + a] = 640 * frand(), o[2 * N + a] = 10 + 100 * frand(), o[3 * N + a] = 10 + 100 * frand();
            for (int c = 0; c < C; c++) {
                float u = frand();
                o[(size_t)(4 + c) * N + a] = u > 0.9997f ? 0.3f + 0.7f * frand() : 0.3f * u;
            }
        }
    pan_yolo_params yp;
    pan_yolo_params_default(&yp, C, N);
    pan__gpu_post_params p = {0};
    p.yolo = 1;
    p.batch = batch;
    p.num_classes = C;
    p.score_threshold = yp.score_threshold;
    p.iou_threshold = yp.nms.iou_threshold;
    p.top_k = yp.nms.top_k;
    p.input_w = p.input_h = 640;
    p.yolo_out = upload(h, (size_t)batch * (4 + C) * N, 0);
    p.num_anchors = N;
    cudaMalloc((void **)&p.candidates, pan__gpu_post_candidates_bytes(batch));
    cudaMalloc((void **)&p.counts, pan__gpu_post_counts_bytes(batch));
    cudaMalloc((void **)&p.out, pan__gpu_post_out_bytes(batch, p.top_k));
    ASSERT_EQ(pan__gpu_post_launch(&p, NULL), 0);
    ASSERT_EQ(cudaDeviceSynchronize(), 0);
    int counts[7];
    float *out = malloc(pan__gpu_post_out_bytes(batch, p.top_k));
    cudaMemcpy(counts, p.counts, sizeof counts, cudaMemcpyDeviceToHost);
    cudaMemcpy(out, p.out, pan__gpu_post_out_bytes(batch, p.top_k), cudaMemcpyDeviceToHost);
    pan_detection_list list = {0};
    for (int b = 0; b < batch; b++) {
        ASSERT_OK(pan_yolo_decode(&yp, h + (size_t)b * (4 + C) * N, NULL, &list));
        ASSERT_EQ(counts[batch + b], list.count);
        ASSERT_GE(list.count, 1);
        for (int k = 0; k < list.count; k++) {
            const float *g = out + ((size_t)b * p.top_k + k) * 6;
            ASSERT_EQ((int)g[5], list.items[k].class_id);
            ASSERT_NEAR(g[4], list.items[k].score, 1e-6);
            for (int q = 0; q < 4; q++) ASSERT_NEAR(g[q], list.items[k].box[q], 1e-3);
        }
    }
    pan_detection_list_free(&list);
    cudaFree((void *)p.yolo_out), cudaFree(p.candidates), cudaFree(p.counts), cudaFree(p.out);
    free(h), free(out);
}

#else
PAN_TEST(nanodet_fp32) { PAN_SKIP("built without CUDA"); }
PAN_TEST(nanodet_fp16_batch) { PAN_SKIP("built without CUDA"); }
PAN_TEST(nanodet_class_filter) { PAN_SKIP("built without CUDA"); }
PAN_TEST(yolo_fp32) { PAN_SKIP("built without CUDA"); }
#endif

PAN_TEST_MAIN(nanodet_fp32, nanodet_fp16_batch, nanodet_class_filter, yolo_fp32)
