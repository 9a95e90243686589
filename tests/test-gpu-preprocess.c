/* The batched GPU preprocessing kernel against its cpu twin (pan_preprocess_cpu) on real frames:
 * vtest.mp4 (768x576, BT.601 limited) and a synthetic full-range BT.709 clip (640x360), each
 * under all four matrix x range descriptions (each with another display rotation: 0, 90, 180,
 * 270), mixed sizes in ONE batch, three model inputs
 * (letterbox both ways, stretch), NCHW and NHWC, RGB and BGR. Tolerance: 1 on the 0–255 scale
 * (= 1/std after normalisation) plus the FP16 rounding of the output (|v|·2^-11).
 * Also: residency checks refuse host buffers, and the kernel copies no pixels. Skips without a GPU. */
#include <math.h>
#include <stdint.h>

#include "gpu_media.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/preprocess.h"
#include "vision/preprocess_gpu.h"
#include "test.h"

#define MAX_BASE 8
#define COMBOS 4

#ifdef PANOPTES_HAVE_CUDA
static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024), (int)e - 25);
    return s ? -v : v;
}

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
    return g->got == g->nwant; /* stop once all are taken */
}

/* Host NV12 view of a device frame's pixels (what the cpu reference reads). */
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
    return h;
}
#endif

PAN_TEST(gpu_preprocess_matches_cpu)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    const char *vt = pan_test_data("vtest.mp4");
    const char *syn = pan_test_synth_709_full();
    if (!vt) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    if (!syn) PAN_SKIP("cannot make the synthetic BT.709 full-range clip (no ffmpeg with libx264) and none staged");
    ASSERT_OK(pan_gpu_init(0));

    pan_frame *base[MAX_BASE] = {0};
    int nb = 0;
    static const int want_vt[] = {0, 57, 203};
    static const int want_syn[] = {0, 7};
    grab g1 = {want_vt, 3, 0, base};
    ASSERT_GE(pan_test_decode(vt, PAN_DECODER_CPU, 4, grab_frame, &g1, NULL), 3);
    ASSERT_EQ(g1.got, 3);
    grab g2 = {want_syn, 2, 0, base + 3};
    ASSERT_GE(pan_test_decode(syn, PAN_DECODER_CPU, 4, grab_frame, &g2, NULL), 2);
    ASSERT_EQ(g2.got, 2);
    nb = 5;
    for (int i = 0; i < nb; i++) ASSERT_TRUE(base[i] != NULL);
    /* the synthetic clip's own description travels through source and decoder */
    ASSERT_EQ(base[3]->matrix, PAN_COLOR_BT709);
    ASSERT_EQ(base[3]->range, PAN_RANGE_FULL);
    ASSERT_EQ(base[3]->width, 640);

    /* host copies of exactly the device pixels, for the reference */
    uint8_t *hbuf[MAX_BASE];
    for (int i = 0; i < nb; i++) ASSERT_TRUE((hbuf[i] = pan_test_download_nv12(base[i])) != NULL);

    /* batch: every base frame under the 4 descriptions (aliases share the device planes) */
    enum { N = MAX_BASE * COMBOS };
    pan_frame alias[N];
    pan_frame *batch[N];
    int n = 0;
    for (int i = 0; i < nb; i++)
        for (int c = 0; c < COMBOS; c++) {
            memcpy(&alias[n], base[i], sizeof alias[n]);
            alias[n].matrix = c & 1 ? PAN_COLOR_BT709 : PAN_COLOR_BT601;
            alias[n].range = c & 2 ? PAN_RANGE_FULL : PAN_RANGE_LIMITED;
            alias[n].rotation = 90 * c; /* analysed as displayed: each description also turned */
            pan_frame_init_ref(&alias[n], NULL, NULL);
            batch[n] = &alias[n];
            n++;
        }

    const pan_preprocess_params configs[] = {
        /* NanoDet: 416 letterbox (wide sources: bars top and bottom), BGR, NCHW */
        {416, 416, PAN_CHANNELS_BGR, {103.53f, 116.28f, 123.675f}, {57.375f, 57.12f, 58.395f}, PAN_LAYOUT_NCHW, 1, 0.f},
        /* raw 0–255 values (mean 0, std 1): the strictest check, NHWC RGB, stretch */
        {320, 320, PAN_CHANNELS_RGB, {0, 0, 0}, {1, 1, 1}, PAN_LAYOUT_NHWC, 0, 0.f},
        /* tall input: bars left and right, grey padding, NHWC */
        {200, 300, PAN_CHANNELS_RGB, {127.5f, 127.5f, 127.5f}, {127.5f, 127.5f, 127.5f}, PAN_LAYOUT_NHWC, 1, 114.f},
        /* upscaling: 1280x960 from 768x576 and 640x360, NCHW RGB */
        {1280, 960, PAN_CHANNELS_RGB, {0, 0, 0}, {255.f, 255.f, 255.f}, PAN_LAYOUT_NCHW, 1, 0.f},
    };
    pan_devpool *pool;
    ASSERT_OK(pan_devpool_get(0, &pool));
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        const pan_preprocess_params *p = &configs[k];
        size_t per = (size_t)3 * p->width * p->height;
        pan_preprocess_gpu *pp = NULL;
        pan_devblock *outb = NULL;
        pan_letterbox lb[N];
        ASSERT_OK(pan_preprocess_gpu_create(&pp, p, n, 0));
        ASSERT_OK(pan_devpool_alloc(pool, per * n * 2, "test.out", &outb));
        /* poison the output so an unwritten element cannot pass */
        ASSERT_EQ(cudaMemset(pan_devblock_ptr(outb), 0x7f, per * n * 2), cudaSuccess);
        uint64_t copied0 = pan_gpu_pixel_bytes_copied();
        ASSERT_OK(pan_preprocess_gpu_run(pp, batch, n, pan_devblock_ptr(outb), lb, NULL));
        ASSERT_OK(pan_preprocess_gpu_wait(pp));
        ASSERT_EQ(pan_gpu_pixel_bytes_copied(), copied0); /* zero pixel copies in the GPU path */
        uint16_t *gpu = malloc(per * n * 2);
        float *ref = malloc(per * sizeof(float));
        ASSERT_TRUE(gpu && ref);
        ASSERT_EQ(cudaMemcpy(gpu, pan_devblock_ptr(outb), per * n * 2, cudaMemcpyDeviceToHost), cudaSuccess);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            int b = i / COMBOS;
            pan_frame hv = host_view(batch[i], hbuf[b]);
            pan_letterbox rlb;
            ASSERT_OK(pan_preprocess_cpu(&hv, p, ref, &rlb));
            ASSERT_NEAR(lb[i].scale_x, rlb.scale_x, 0);
            ASSERT_EQ(lb[i].content_w, rlb.content_w);
            ASSERT_EQ(lb[i].content_h, rlb.content_h);
            for (size_t e = 0; e < per; e++) {
                int c = p->layout == PAN_LAYOUT_NCHW ? (int)(e / ((size_t)p->width * p->height)) : (int)(e % 3);
                float g = half_to_float(gpu[(size_t)i * per + e]);
                float sd = p->std[c] != 0.f ? p->std[c] : 1.f;
                double d255 = fabs((double)g - ref[e]) * sd; /* on the 0–255 scale */
                double tol = 1.0 + fabs(ref[e]) * sd / 2048.0;
                if (!(d255 <= tol)) {
                    fprintf(stderr, "  config %zu image %d (frame %lld, %s/%s) element %zu: gpu %.6f cpu %.6f (%.3f on 0-255)\n", k, i,
                            (long long)batch[i]->index, batch[i]->matrix ? "bt709" : "bt601",
                            batch[i]->range ? "full" : "limited", e, g, ref[e], d255);
                    ASSERT_LE(d255, tol);
                }
                if (d255 > worst) worst = d255;
            }
        }
        fprintf(stderr, "  config %zu (%dx%d %s %s%s): %d images, max |gpu - cpu| = %.4f on the 0-255 scale\n", k, p->width,
                p->height, p->layout == PAN_LAYOUT_NCHW ? "NCHW" : "NHWC", p->channels == PAN_CHANNELS_BGR ? "BGR" : "RGB",
                p->keep_ratio ? " letterbox" : " stretch", n, worst);
        free(gpu);
        free(ref);
        pan_devblock_unref(&outb);
        pan_preprocess_gpu_destroy(&pp);
    }
    for (int i = 0; i < nb; i++) {
        free(hbuf[i]);
        pan_frame_unref(&base[i]);
    }
#endif
}

PAN_TEST(gpu_residency_refuses_host_buffers)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    if (!pan_gpu_available()) PAN_SKIP("no CUDA device");
    ASSERT_OK(pan_gpu_init(0));
    ASSERT_TRUE(pan_gpu_strict()); /* strict by default */
    void *host = malloc(4096), *dev = NULL;
    ASSERT_EQ(cudaMalloc(&dev, 4096), cudaSuccess);
    uint64_t v0 = pan_gpu_residency_violations();
    pan_log_set_level(PAN_LOG_QUIET);
    ASSERT_EQ(pan_gpu_check_device_ptr(host, "test stage"), PAN_RESIDENCY);
    pan_log_set_level(PAN_LOG_WARN);
    ASSERT_OK(pan_gpu_check_device_ptr(dev, "test stage"));
    ASSERT_EQ(pan_gpu_check_device_ptr(NULL, "test stage"), PAN_INVAL);
    ASSERT_EQ(pan_gpu_residency_violations(), v0 + 1);

    /* a host frame and a host output are both refused by the GPU preprocessing */
    pan_preprocess_params p = {64, 64, PAN_CHANNELS_RGB, {0, 0, 0}, {1, 1, 1}, PAN_LAYOUT_NCHW, 1, 0};
    pan_preprocess_gpu *pp = NULL;
    ASSERT_OK(pan_preprocess_gpu_create(&pp, &p, 2, 0));
    uint8_t *pix = calloc(1, 64 * 64 * 2);
    pan_frame hf;
    memset(&hf, 0, sizeof hf);
    hf.width = hf.height = 64;
    hf.format = PAN_PIXFMT_NV12;
    hf.memory = PAN_MEMORY_HOST;
    hf.data[0] = pix;
    hf.data[1] = pix + 64 * 64;
    hf.pitch[0] = hf.pitch[1] = 64;
    pan_frame *fr = &hf;
    void *out = NULL;
    ASSERT_EQ(cudaMalloc(&out, pan_preprocess_gpu_image_bytes(&p)), cudaSuccess);
    pan_log_set_level(PAN_LOG_QUIET);
    ASSERT_EQ(pan_preprocess_gpu_run(pp, &fr, 1, out, NULL, NULL), PAN_RESIDENCY);
    /* a frame that claims device memory but holds host pointers: caught by the pointer check */
    hf.memory = PAN_MEMORY_DEVICE;
    ASSERT_EQ(pan_preprocess_gpu_run(pp, &fr, 1, out, NULL, NULL), PAN_RESIDENCY);
    /* host output */
    hf.data[0] = dev;
    hf.data[1] = (uint8_t *)dev + 64 * 32;
    ASSERT_EQ(pan_preprocess_gpu_run(pp, &fr, 1, host, NULL, NULL), PAN_RESIDENCY);
    pan_log_set_level(PAN_LOG_WARN);
    /* the same frame, all device: accepted */
    ASSERT_OK(pan_preprocess_gpu_run(pp, &fr, 1, out, NULL, NULL));
    ASSERT_OK(pan_preprocess_gpu_wait(pp));
    pan_preprocess_gpu_destroy(&pp);
    ASSERT_TRUE(pp == NULL);
    cudaFree(out);
    cudaFree(dev);
    free(pix);
    free(host);
#endif
}

PAN_TEST(gpu_api_links_without_gpu)
{
    /* Every build: the API answers sensibly whether or not a GPU is there. */
    char name[64];
    pan_status st = pan_gpu_device_name(0, name, sizeof name);
    if (!pan_gpu_available()) {
        ASSERT_NE(st, PAN_OK);
        ASSERT_STREQ(name, "none");
        ASSERT_EQ(pan_gpu_pixel_bytes_copied(), 0);
        pan_preprocess_gpu *pp = (pan_preprocess_gpu *)1;
        pan_preprocess_params p = {64, 64, PAN_CHANNELS_RGB, {0, 0, 0}, {1, 1, 1}, PAN_LAYOUT_NCHW, 1, 0};
        ASSERT_NE(pan_preprocess_gpu_create(&pp, &p, 1, 0), PAN_OK);
        ASSERT_TRUE(pp == NULL);
    } else {
        ASSERT_OK(st);
        fprintf(stderr, "  device 0: %s\n", name);
    }
}

PAN_TEST_MAIN(gpu_api_links_without_gpu, gpu_preprocess_matches_cpu, gpu_residency_refuses_host_buffers)
