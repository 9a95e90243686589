/* The ROI crop kernel (src/vision/roi_crop.cu) against its cpu twin (pan_roi_crop_cpu) on real
 * frames of data/vtest.mp4 (768x576, BT.601 limited, also described as BT.709 / full range):
 * ONE launch for all crops of three frames (also display-rotated 90/180/270), boxes inside, across and outside the frame edges,
 * tiny and frame-sized, stretch and keep-aspect, NCHW FP16 (the torchreid normalisation) and
 * NHWC FP32 (raw 0–255, the default descriptor's input). Tolerance: 1 on the 0–255 scale plus
 * the FP16 rounding of the output (|v|·2^-11).
 * Then the whole pan_reid on the cuda backend against the cpu backend on the same detections:
 *   default descriptor: per-embedding max |gpu − cpu| <= 0.05 and cosine >= 0.995 (crops within
 *   ±1, float atomics in another order; the centring on the batch's mean magnifies differences of
 *   a box close to that mean);
 *   a ReID model: models/osnet_x0_25.onnx (OSNet-shaped, tests/peers/make_osnet.py) when present,
 *   else the small OSNet-like one generated when /usr/bin/python3 has onnx: cosine >= 0.99 (FP16
 *   engine vs FP32). Skips (77) without a GPU. */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "gpu_media.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "vision/reid.h"
#include "test.h"
#include "vision/roi_crop.h"

static float half_to_float(uint16_t h)
{
    uint32_t e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024), (int)e - 25);
    return h >> 15 ? -v : v;
}

#ifdef PANOPTES_HAVE_CUDA
#define NF 3
#define NB 10

typedef struct grab {
    const int *want;
    int nwant, got;
    pan_frame **dev;
} grab;

static int grab_frame(pan_frame *f, void *opaque)
{
    grab *g = opaque;
    for (int i = 0; i < g->nwant; i++)
        if (g->want[i] == (int)f->index) g->dev[g->got++] = pan_test_upload_nv12(f);
    return g->got == g->nwant;
}

static pan_frame host_view(const pan_frame *d, uint8_t *buf)
{
    pan_frame h;
    memset(&h, 0, sizeof h);
    h.width = d->width;
    h.height = d->height;
    h.format = PAN_PIXFMT_NV12;
    h.memory = PAN_MEMORY_HOST;
    h.matrix = d->matrix;
    h.range = d->range;
    h.rotation = d->rotation;
    h.data[0] = buf;
    h.data[1] = buf + (size_t)d->width * d->height;
    h.pitch[0] = d->width;
    h.pitch[1] = 2 * ((d->width + 1) / 2);
    pan_frame_init_ref(&h, NULL, NULL);
    return h;
}

/* boxes in 768x576 source pixels: people-sized, across every edge, tiny, the whole frame, inverted */
static const float boxes[NB][4] = {
    {100.3f, 200.7f, 140.9f, 310.2f}, {640.0f, 238.3f, 684.5f, 323.9f}, {-20.f, 100.f, 30.f, 220.f},
    {740.f, 500.f, 800.f, 600.f},     {300.f, -15.f, 340.f, 60.f},     {400.2f, 400.2f, 400.9f, 401.1f},
    {0.f, 0.f, 768.f, 576.f},         {500.f, 150.f, 528.9f, 232.9f},  {250.5f, 220.1f, 281.8f, 309.8f},
    {200.f, 300.f, 180.f, 290.f},
};
#endif

PAN_TEST(gpu_roi_crop_matches_cpu)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    const char *vt = pan_test_data("vtest.mp4");
    if (!vt) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    ASSERT_OK(pan_gpu_init(0));
    pan_frame *dev[NF] = {0};
    static const int want[NF] = {0, 57, 203};
    grab g = {want, NF, 0, dev};
    ASSERT_GE(pan_test_decode(vt, PAN_DECODER_CPU, 210, grab_frame, &g, NULL), NF);
    ASSERT_EQ(g.got, NF);
    uint8_t *hbuf[NF];
    for (int i = 0; i < NF; i++) ASSERT_TRUE(dev[i] && (hbuf[i] = pan_test_download_nv12(dev[i])) != NULL);
    /* every frame under two descriptions: the real one and BT.709 full range with a display
     * rotation (90, 180, 270: the crop is cut from the frame as displayed, boxes in displayed
     * pixels) */
    enum { NI = 2 * NF };
    pan_frame alias[NI];
    for (int i = 0; i < NI; i++) {
        memcpy(&alias[i], dev[i % NF], sizeof alias[i]);
        if (i >= NF) alias[i].matrix = PAN_COLOR_BT709, alias[i].range = PAN_RANGE_FULL, alias[i].rotation = 90 * (i - NF + 1);
        pan_frame_init_ref(&alias[i], NULL, NULL);
    }
    pan_roi_params cfg[4];
    cfg[0] = pan_roi_params_torchreid(128, 256); /* OSNet input, stretch, NCHW */
    cfg[1] = cfg[0];
    cfg[1].keep_aspect = 1, cfg[1].pad_value = 114.f, cfg[1].layout = PAN_LAYOUT_NHWC, cfg[1].channels = PAN_CHANNELS_BGR;
    memset(&cfg[2], 0, sizeof cfg[2]); /* the default descriptor's crop: raw RGB NHWC FP32 */
    cfg[2].width = PAN_REID_DEFAULT_CROP_W, cfg[2].height = PAN_REID_DEFAULT_CROP_H, cfg[2].layout = PAN_LAYOUT_NHWC;
    cfg[3] = cfg[2];
    cfg[3].width = 96, cfg[3].height = 96, cfg[3].keep_aspect = 1, cfg[3].layout = PAN_LAYOUT_NCHW;
    const int half[4] = {1, 1, 0, 0};
    pan_devpool *pool;
    ASSERT_OK(pan_devpool_get(0, &pool));
    enum { N = NI * NB };
    for (int k = 0; k < 4; k++) {
        const pan_roi_params *p = &cfg[k];
        size_t per = (size_t)3 * p->width * p->height, esz = half[k] ? 2 : 4;
        pan__roi_desc descs[N];
        for (int i = 0; i < N; i++) ASSERT_OK(pan__roi_describe(&alias[i / NB], boxes[i % NB], p, &descs[i]));
        pan__roi_batch bt;
        pan__roi_batch_init(p, half[k], &bt);
        pan_devblock *db = NULL, *ob = NULL;
        ASSERT_OK(pan_devpool_alloc(pool, sizeof descs, "test.descs", &db));
        ASSERT_OK(pan_devpool_alloc(pool, per * N * esz, "test.crops", &ob));
        ASSERT_EQ(cudaMemset(pan_devblock_ptr(ob), 0x7f, per * N * esz), cudaSuccess); /* poison */
        ASSERT_EQ(cudaMemcpy(pan_devblock_ptr(db), descs, sizeof descs, cudaMemcpyHostToDevice), cudaSuccess);
        uint64_t copied0 = pan_gpu_pixel_bytes_copied();
        ASSERT_EQ(pan__roi_crop_launch(pan_devblock_ptr(db), N, &bt, pan_devblock_ptr(ob), NULL), 0);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        ASSERT_EQ(pan_gpu_pixel_bytes_copied(), copied0);
        uint8_t *gpu = malloc(per * N * esz);
        float *ref = malloc(per * sizeof(float));
        ASSERT_TRUE(gpu && ref);
        ASSERT_EQ(cudaMemcpy(gpu, pan_devblock_ptr(ob), per * N * esz, cudaMemcpyDeviceToHost), cudaSuccess);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            pan_frame hv = host_view(&alias[i / NB], hbuf[(i / NB) % NF]);
            ASSERT_OK(pan_roi_crop_cpu(&hv, boxes[i % NB], p, ref));
            for (size_t e = 0; e < per; e++) {
                int c = p->layout == PAN_LAYOUT_NCHW ? (int)(e / ((size_t)p->width * p->height)) : (int)(e % 3);
                size_t at = (size_t)i * per + e;
                float gv = half[k] ? half_to_float(((uint16_t *)gpu)[at]) : ((float *)gpu)[at];
                float sd = p->std[c] != 0.f ? p->std[c] : 1.f;
                double d255 = fabs((double)gv - ref[e]) * sd;
                double tol = 1.0 + (half[k] ? fabs(ref[e]) * sd / 2048.0 : 0.0);
                if (!(d255 <= tol)) {
                    fprintf(stderr, "  config %d crop %d (box %d) element %zu: gpu %.6f cpu %.6f (%.3f on 0-255)\n", k, i,
                            i % NB, e, gv, ref[e], d255);
                    ASSERT_LE(d255, tol);
                }
                if (d255 > worst) worst = d255;
            }
        }
        fprintf(stderr, "  config %d (%dx%d %s %s %s): %d crops in one launch, max |gpu - cpu| = %.4f on 0-255\n", k,
                p->width, p->height, p->layout == PAN_LAYOUT_NCHW ? "NCHW" : "NHWC", half[k] ? "FP16" : "FP32",
                p->keep_aspect ? "keep-aspect" : "stretch", N, worst);
        free(gpu);
        free(ref);
        pan_devblock_unref(&db);
        pan_devblock_unref(&ob);
    }

    /* pan_reid end to end, cuda vs cpu, on the same "detections" */
    pan_detection_list dl[NF], hl[NF];
    pan_frame hviews[NF];
    pan_frame *hframes[NF], *dframes[NF];
    for (int i = 0; i < NF; i++) {
        memset(&dl[i], 0, sizeof dl[i]);
        memset(&hl[i], 0, sizeof hl[i]);
        ASSERT_OK(pan_detection_list_reserve(&dl[i], NB));
        ASSERT_OK(pan_detection_list_reserve(&hl[i], NB));
        for (int b = 0; b < NB; b++) {
            pan_detection d = {{boxes[b][0], boxes[b][1], boxes[b][2], boxes[b][3]}, 0.9f, 0, NULL, 0};
            dl[i].items[b] = hl[i].items[b] = d;
        }
        dl[i].count = hl[i].count = NB;
        hviews[i] = host_view(dev[i], hbuf[i]);
        hframes[i] = &hviews[i];
        dframes[i] = dev[i];
    }
    char model[1024] = "", dir[] = "/tmp/panoptes-roi-XXXXXX";
    const char *osnet = pan_test_path("models/osnet_x0_25.onnx"); /* OSNet-shaped, when generated */
    int made = 0;
    if (access(osnet, R_OK) == 0) {
        snprintf(model, sizeof model, "%s", osnet);
    } else if (system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") == 0 && mkdtemp(dir)) {
        made = 1;
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --only osnet_like --batches 1 >/dev/null",
                 pan_test_path("tests/peers/make_onnx_models.py"), dir);
        if (system(cmd) == 0) snprintf(model, sizeof model, "%s/osnet_like.onnx", dir);
    }
    for (int m = 0; m < 2; m++) {
        if (m == 1 && !model[0]) {
            fprintf(stderr, "  (no /usr/bin/python3 with onnx: the model comparison is left out)\n");
            break;
        }
        pan_reid *rc = NULL, *rg = NULL;
        pan_reid_params rp = {.model_path = m ? model : NULL, .backend = PAN_BACKEND_CPU, .max_crops = 16};
        ASSERT_OK(pan_reid_create(&rc, &rp));
        rp.backend = PAN_BACKEND_CUDA;
        ASSERT_OK(pan_reid_create(&rg, &rp));
        ASSERT_OK(pan_reid_embed(rc, hframes, NF, hl));
        ASSERT_OK(pan_reid_embed(rg, dframes, NF, dl));
        int D = pan_reid_dim(rc);
        double worst_cos = 1, worst_abs = 0;
        for (int i = 0; i < NF; i++)
            for (int b = 0; b < NB; b++) {
                const float *a = hl[i].items[b].embedding, *g2 = dl[i].items[b].embedding;
                ASSERT_TRUE(a && g2);
                double dot = 0;
                for (int k = 0; k < D; k++) {
                    dot += (double)a[k] * g2[k];
                    worst_abs = fmax(worst_abs, fabs((double)a[k] - g2[k]));
                }
                worst_cos = fmin(worst_cos, dot);
            }
        fprintf(stderr, "  pan_reid %s (%d-d): cuda vs cpu, worst cosine %.6f, max |d| %.5f\n", m ? model : "default",
                D, worst_cos, worst_abs);
        ASSERT_GE(worst_cos, m ? 0.99 : 0.995);
        if (!m) ASSERT_LE(worst_abs, 0.05);
        pan_reid_destroy(&rc);
        pan_reid_destroy(&rg);
    }
    if (made) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void)!system(cmd);
    }
    for (int i = 0; i < NF; i++) {
        pan_detection_list_free(&dl[i]);
        pan_detection_list_free(&hl[i]);
        free(hbuf[i]);
        pan_frame_unref(&dev[i]);
    }
#endif
    (void)half_to_float;
}

PAN_TEST_MAIN(gpu_roi_crop_matches_cpu)
