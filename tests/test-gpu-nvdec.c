/* NVDEC decoder against the cpu decoder (libavcodec): every frame bit-identical (luma and chroma,
 * downloaded here with cudaMemcpy2D: the test's copy, not the pipeline's), same frame count,
 * same colour description, for H.264 (MP4 and Annex-B), HEVC (MP4) and 1080p (cropped from 1088
 * coded rows). NVDEC frames feed the GPU preprocessing with zero pixel copies and match the cpu
 * reference. Damaged input (bytes garbled mid-stream, a truncated file) is survived: the camera
 * recovers at the next keyframe and decodes to the end. An unsupported codec is refused clearly.
 * Skips without a GPU, NVDEC or the sample clips. */
#include <math.h>
#include <stdint.h>

#include "gpu_media.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/preprocess.h"
#include "vision/preprocess_gpu.h"
#include "test.h"

#define MAX_FRAMES 4096

typedef struct hashes {
    uint64_t y[MAX_FRAMES], c[MAX_FRAMES];
    int n, w, h;
    pan_color_matrix matrix;
    pan_color_range range;
    int bad; /* a frame that is not where it should be */
} hashes;

#ifdef PANOPTES_HAVE_CUDA
static int hash_cpu(pan_frame *f, void *opaque)
{
    hashes *h = opaque;
    if (f->memory != PAN_MEMORY_HOST) h->bad = 1;
    if (h->n < MAX_FRAMES) pan_test_hash_host_frame(f, &h->y[h->n], &h->c[h->n]);
    h->w = f->width, h->h = f->height, h->matrix = f->matrix, h->range = f->range;
    h->n++;
    return 0;
}

static int hash_gpu(pan_frame *f, void *opaque)
{
    hashes *h = opaque;
    if (f->memory != PAN_MEMORY_DEVICE || f->format != PAN_PIXFMT_NV12 ||
        pan_gpu_check_device_ptr(f->data[0], "test nvdec luma") || pan_gpu_check_device_ptr(f->data[1], "test nvdec chroma"))
        h->bad = 1;
    uint8_t *buf = pan_test_download_nv12(f);
    if (!buf) {
        h->bad = 1;
        return 1;
    }
    if (h->n < MAX_FRAMES) {
        size_t w = (size_t)f->width, hh = (size_t)f->height;
        pan_test_hash_frame(buf, (int)w, buf + w * hh, buf + w * hh + 1, 2 * ((f->width + 1) / 2), 2, f->width, f->height,
                            &h->y[h->n], &h->c[h->n]);
    }
    free(buf);
    h->w = f->width, h->h = f->height, h->matrix = f->matrix, h->range = f->range;
    h->n++;
    return 0;
}

static int nvdec_ready(pan_test_ctx *pan__t)
{
    (void)pan__t;
    return pan_gpu_available() && pan_decoder_nvdec_available();
}
#define REQUIRE_NVDEC()                                                                  \
    do {                                                                                 \
        if (!nvdec_ready(pan__t)) PAN_SKIP("no CUDA device with NVDEC (driver, libnvcuvid)"); \
    } while (0)
#endif

static void compare_clip(pan_test_ctx *pan__t, const char *name)
{
#ifndef PANOPTES_HAVE_CUDA
    (void)name;
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    const char *path = pan_test_data(name);
    if (!path) PAN_SKIP("data/%s missing (run scripts/setup.sh)", name);
    static hashes cpu, gpu;
    memset(&cpu, 0, sizeof cpu);
    memset(&gpu, 0, sizeof gpu);
    pan_decoder_stats st;
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_CPU, 4, hash_cpu, &cpu, NULL), 1);
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_NVDEC, 4, hash_gpu, &gpu, &st), 1);
    fprintf(stderr, "  %s: cpu %d frames, nvdec %d frames (%dx%d), nvdec errors %lld\n", name, cpu.n, gpu.n, gpu.w, gpu.h,
            (long long)st.errors);
    ASSERT_EQ(cpu.bad, 0);
    ASSERT_EQ(gpu.bad, 0);
    ASSERT_EQ(gpu.n, cpu.n);
    ASSERT_EQ(gpu.w, cpu.w);
    ASSERT_EQ(gpu.h, cpu.h);
    ASSERT_EQ(gpu.matrix, cpu.matrix);
    ASSERT_EQ(gpu.range, cpu.range);
    ASSERT_EQ(st.errors, 0);
    int n = cpu.n < MAX_FRAMES ? cpu.n : MAX_FRAMES;
    for (int i = 0; i < n; i++) {
        if (gpu.y[i] != cpu.y[i] || gpu.c[i] != cpu.c[i])
            fprintf(stderr, "  frame %d differs (luma %s, chroma %s)\n", i, gpu.y[i] == cpu.y[i] ? "same" : "DIFFERENT",
                    gpu.c[i] == cpu.c[i] ? "same" : "DIFFERENT");
        ASSERT_TRUE(gpu.y[i] == cpu.y[i]);
        ASSERT_TRUE(gpu.c[i] == cpu.c[i]);
    }
#endif
}

PAN_TEST(nvdec_h264_mp4_bit_exact) { compare_clip(pan__t, "vtest.mp4"); }
PAN_TEST(nvdec_h264_annexb_bit_exact) { compare_clip(pan__t, "vtest.h264"); }
PAN_TEST(nvdec_hevc_mp4_bit_exact) { compare_clip(pan__t, "vtest-hevc.mp4"); }
PAN_TEST(nvdec_h264_1080p_cropped_bit_exact) { compare_clip(pan__t, "vtest-1080p.mp4"); }
/* the scene as IP cameras send it: no B-frames, one reference picture (scripts/gpu-build.sh) */
PAN_TEST(nvdec_h264_1080p_ip_bit_exact) { compare_clip(pan__t, "vtest-1080p-ip.mp4"); }

PAN_TEST(nvdec_full_range_bt709_description)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    const char *path = pan_test_synth_709_full();
    if (!path) PAN_SKIP("no synthetic BT.709 full-range clip");
    static hashes cpu, gpu;
    memset(&cpu, 0, sizeof cpu);
    memset(&gpu, 0, sizeof gpu);
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_CPU, 4, hash_cpu, &cpu, NULL), 1);
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_NVDEC, 4, hash_gpu, &gpu, NULL), 1);
    ASSERT_EQ(gpu.n, cpu.n);
    ASSERT_EQ(gpu.matrix, PAN_COLOR_BT709);
    ASSERT_EQ(gpu.range, PAN_RANGE_FULL);
    for (int i = 0; i < cpu.n; i++) ASSERT_TRUE(gpu.y[i] == cpu.y[i] && gpu.c[i] == cpu.c[i]);
#endif
}

#ifdef PANOPTES_HAVE_CUDA
/* NVDEC frames straight into the GPU preprocessing; compared with the cpu reference run on the
 * cpu decoder's frame of the same index (bit-identical pixels, checked above). */
typedef struct pp_check {
    pan_preprocess_params p;
    pan_preprocess_gpu *pp;
    pan_devblock *out;
    float *ref[8];
    int want[8], nwant, done;
    double worst;
    int fail;
} pp_check;

static int ref_cpu(pan_frame *f, void *opaque)
{
    pp_check *k = opaque;
    for (int i = 0; i < k->nwant; i++)
        if (k->want[i] == (int)f->index) pan_preprocess_cpu(f, &k->p, k->ref[i], NULL);
    return 0;
}

static int run_gpu(pan_frame *f, void *opaque)
{
    pp_check *k = opaque;
    for (int i = 0; i < k->nwant; i++) {
        if (k->want[i] != (int)f->index) continue;
        size_t per = (size_t)3 * k->p.width * k->p.height;
        if (pan_preprocess_gpu_run(k->pp, &f, 1, pan_devblock_ptr(k->out), NULL, NULL) ||
            pan_preprocess_gpu_wait(k->pp)) {
            k->fail = 1;
            return 1;
        }
        uint16_t *h = malloc(per * 2);
        cudaMemcpy(h, pan_devblock_ptr(k->out), per * 2, cudaMemcpyDeviceToHost);
        for (size_t e = 0; e < per; e++) {
            uint16_t v = h[e];
            uint32_t s = (uint32_t)(v >> 15), ex = (v >> 10) & 31, m = v & 1023;
            float g = ex == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 1024), (int)ex - 25);
            if (s) g = -g;
            int c = (int)(e / ((size_t)k->p.width * k->p.height));
            double d = fabs((double)g - k->ref[i][e]) * k->p.std[c];
            if (d > k->worst) k->worst = d;
        }
        free(h);
        k->done++;
    }
    return 0;
}
#endif

PAN_TEST(nvdec_frames_into_gpu_preprocess)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    const char *path = pan_test_data("vtest-1080p-hevc.mp4");
    if (!path) path = pan_test_data("vtest-hevc.mp4");
    if (!path) PAN_SKIP("no HEVC sample");
    pp_check k;
    memset(&k, 0, sizeof k);
    k.p = (pan_preprocess_params){416, 416, PAN_CHANNELS_BGR, {103.53f, 116.28f, 123.675f}, {57.375f, 57.12f, 58.395f},
                                  PAN_LAYOUT_NCHW, 1, 0.f};
    int want[] = {0, 1, 49, 50, 51, 250};
    k.nwant = 6;
    for (int i = 0; i < k.nwant; i++) {
        k.want[i] = want[i];
        k.ref[i] = malloc(sizeof(float) * 3 * 416 * 416);
    }
    pan_devpool *pool;
    ASSERT_OK(pan_devpool_get(0, &pool));
    ASSERT_OK(pan_preprocess_gpu_create(&k.pp, &k.p, 1, 0));
    ASSERT_OK(pan_devpool_alloc(pool, pan_preprocess_gpu_image_bytes(&k.p), "test.out", &k.out));
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_CPU, 4, ref_cpu, &k, NULL), 251);
    uint64_t copied0 = pan_gpu_pixel_bytes_copied();
    ASSERT_GE(pan_test_decode(path, PAN_DECODER_NVDEC, 4, run_gpu, &k, NULL), 251);
    ASSERT_EQ(pan_gpu_pixel_bytes_copied(), copied0); /* NVDEC -> tensor: zero pixel copies */
    ASSERT_EQ(k.fail, 0);
    ASSERT_EQ(k.done, k.nwant);
    fprintf(stderr, "  %s: NVDEC -> preprocess vs cpu decode -> cpu preprocess: max diff %.4f on the 0-255 scale\n", path, k.worst);
    ASSERT_LE(k.worst, 1.1); /* 1 on the 0-255 scale + FP16 rounding of values up to ~2.6 (x std 58) */
    pan_devblock_unref(&k.out);
    pan_preprocess_gpu_destroy(&k.pp);
    for (int i = 0; i < k.nwant; i++) free(k.ref[i]);
#endif
}

#ifdef PANOPTES_HAVE_CUDA
/* Writes a damaged copy of `src`: `len` bytes garbled at `at` (fraction of the size), or the file
 * cut at `cut` (fraction) when cut > 0. */
static const char *damaged_copy(const char *src, const char *name, double at, size_t len, double cut)
{
    static char out[4][512];
    static int slot;
    char *path = out[slot++ & 3];
    FILE *f = fopen(src, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    size_t n = (size_t)size;
    if (cut > 0) n = (size_t)(size * cut);
    else {
        uint32_t x = 12345;
        size_t o = (size_t)(size * at);
        for (size_t i = 0; i < len && o + i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[o + i] ^= (uint8_t)(x >> 16) | 1; /* always changes the byte */
        }
    }
    snprintf(path, 512, "%s/%s", pan_test_tmpdir(), name);
    f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return NULL;
    }
    fwrite(buf, 1, n, f);
    fclose(f);
    free(buf);
    return path;
}

static int count_only(pan_frame *f, void *opaque)
{
    (void)f;
    (*(int *)opaque)++;
    return 0;
}
#endif

static void damaged(pan_test_ctx *pan__t, const char *name, double at, size_t len, double cut)
{
#ifndef PANOPTES_HAVE_CUDA
    (void)name, (void)at, (void)len, (void)cut;
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    const char *src = pan_test_data(name);
    if (!src) PAN_SKIP("data/%s missing", name);
    int clean = pan_test_decode(src, PAN_DECODER_NVDEC, 4, NULL, NULL, NULL);
    ASSERT_GE(clean, 100);
    char out[64];
    snprintf(out, sizeof out, "%s-%s", cut > 0 ? "cut" : "garbled", name);
    const char *path = damaged_copy(src, out, at, len, cut);
    ASSERT_TRUE(path != NULL);
    int frames = 0;
    pan_decoder_stats st;
    pan_log_set_level(PAN_LOG_ERROR);
    int r = pan_test_decode(path, PAN_DECODER_NVDEC, 4, count_only, &frames, &st);
    pan_log_set_level(PAN_LOG_WARN);
    fprintf(stderr, "  %s: clean %d frames; damaged: %d frames, %lld errors, %lld packets skipped (status %d)\n", out, clean,
            frames, (long long)st.errors, (long long)st.skipped, r);
    ASSERT_TRUE(r >= 0); /* the camera is alive to the end of its input */
    if (cut > 0) {
        ASSERT_GE(frames, (int)(clean * cut) - 60);
    } else {
        /* at most the damaged GOP and the next are lost (GOP 50), the rest decodes */
        ASSERT_GE(frames, clean - 2 * 50 - 10);
    }
#endif
}

PAN_TEST(nvdec_garbled_h264_annexb_recovers) { damaged(pan__t, "vtest.h264", 0.5, 3000, 0); }
PAN_TEST(nvdec_garbled_hevc_mp4_recovers) { damaged(pan__t, "vtest-hevc.mp4", 0.45, 3000, 0); }
PAN_TEST(nvdec_truncated_h264_ends_cleanly) { damaged(pan__t, "vtest.h264", 0, 0, 0.6); }

PAN_TEST(nvdec_refuses_unsupported_codec)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    /* MPEG-4 part 2: not on the NVDEC path */
    const char *path = pan_test_data("synth-mpeg4.avi");
    if (!path && pan_test_have_ffmpeg())
        path = pan_test_make_clip("synth-mpeg4.avi", "testsrc2=size=320x240:rate=25", "-frames:v 10 -c:v mpeg4");
    if (!path) PAN_SKIP("no MPEG-4 part 2 clip");
    pan_log_set_level(PAN_LOG_QUIET);
    int r = pan_test_decode(path, PAN_DECODER_NVDEC, 4, NULL, NULL, NULL);
    pan_log_set_level(PAN_LOG_WARN);
    ASSERT_EQ(r, PAN_UNSUPPORTED);
#endif
}

#ifdef PANOPTES_HAVE_CUDA
static void count_back(void *opaque) { (*(int *)opaque)++; }
#endif

/* With frame_back set, a decoder whose max_frames frames are all held downstream returns PAN_LIMIT
 * at once (an I/O thread never waits in it) and calls frame_back once when one is released. */
PAN_TEST(nvdec_says_when_a_held_frame_is_back)
{
#ifndef PANOPTES_HAVE_CUDA
    PAN_SKIP("built without CUDA");
#else
    REQUIRE_NVDEC();
    const char *path = pan_test_data("vtest.mp4");
    if (!path) PAN_SKIP("data/vtest.mp4 missing");
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = path};
    ASSERT_EQ(pan_source_create(&src, &sp), PAN_OK);
    int backs = 0;
    pan_decoder_params dp = {.kind = PAN_DECODER_NVDEC, .uri = path, .codecpar = pan_source_codecpar(src),
                             .max_frames = 2, .frame_back = count_back, .frame_back_opaque = &backs};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    ASSERT_EQ(pan_decoder_create(&dec, &dp), PAN_OK);
    pan_frame *held[3] = {0};
    int n = 0, limit = 0, reads = 0;
    pan_packet pkt;
    int have = 0;
    /* decode until both frames are held and the third is refused */
    while (!limit && reads < 200) {
        pan_frame *f = NULL;
        pan_status r = pan_decoder_receive_frame(dec, &f);
        if (r == PAN_OK) {
            ASSERT_TRUE(n < 2);
            held[n++] = f;
            continue;
        }
        if (r == PAN_LIMIT) {
            limit = 1;
            break;
        }
        if (r == PAN_BUSY) continue;
        ASSERT_EQ(r, PAN_EAGAIN);
        if (!have) {
            ASSERT_EQ(pan_source_read(src, &pkt), PAN_OK);
            reads++;
            have = 1;
        }
        pan_status s = pan_decoder_send_packet(dec, &pkt);
        if (s == PAN_OK) have = 0;
        else ASSERT_EQ(s, PAN_EAGAIN);
    }
    ASSERT_TRUE(limit);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(backs, 0);
    ASSERT_EQ(pan_decoder_receive_frame(dec, &held[2]), PAN_LIMIT); /* still all held: no wait */
    pan_frame_unref(&held[0]);
    ASSERT_EQ(backs, 1); /* told once */
    pan_status r;
    while ((r = pan_decoder_receive_frame(dec, &held[2])) == PAN_BUSY) {
    }
    ASSERT_EQ(r, PAN_OK); /* the surface that came back is lent again */
    ASSERT_TRUE(held[2] != NULL);
    pan_frame_unref(&held[1]);
    ASSERT_EQ(backs, 1); /* nobody was waiting */
    pan_decoder_destroy(&dec);
    pan_frame_unref(&held[2]); /* released after the decoder: frame_back is not called any more */
    ASSERT_EQ(backs, 1);
    pan_source_destroy(&src);
    fprintf(stderr, "  2 frames lent, the third refused with PAN_LIMIT; frame_back called once\n");
#endif
}

PAN_TEST(nvdec_availability_answers)
{
    int a = pan_decoder_nvdec_available();
    fprintf(stderr, "  NVDEC %s\n", a ? "available" : "not available");
    ASSERT_TRUE(a == 0 || a == 1);
}

PAN_TEST_MAIN(nvdec_availability_answers, nvdec_h264_mp4_bit_exact, nvdec_h264_annexb_bit_exact, nvdec_hevc_mp4_bit_exact,
              nvdec_h264_1080p_cropped_bit_exact, nvdec_h264_1080p_ip_bit_exact, nvdec_full_range_bt709_description,
              nvdec_frames_into_gpu_preprocess,
              nvdec_garbled_h264_annexb_recovers, nvdec_garbled_hevc_mp4_recovers, nvdec_truncated_h264_ends_cleanly,
              nvdec_refuses_unsupported_codec, nvdec_says_when_a_held_frame_is_back)
