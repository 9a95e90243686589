/* Benchmark: ReID throughput (crops/s) and end-to-end frames/s with ReID on vs off.
 *
 *   bench_reid [--backend cpu|cuda] [--models DIR] [--batches 64,128,256,512] [--seconds S]
 *              [--video data/vtest.mp4] [--e2e-video data/vtest-1080p.mp4] [--e2e-cameras K]
 *              [--e2e-frames N] [--no-e2e]
 *
 * Models: DIR/osnet_x1_0.onnx and DIR/osnet_x0_25.onnx (OSNet-shaped, random weights; DIR defaults
 * to models/); when missing they are generated into a temporary folder with
 * /usr/bin/python3 tests/peers/make_osnet.py (Debian python3-onnx), else left out (reported).
 *
 * crops/s: pan_reid_embed on real frames of --video (8 frames, B/8 person-sized boxes each, so a
 * batch of B crops spans frames as in the pipeline), back to back for about S seconds (default 2)
 * after one warm-up call: the whole ReID stage per batch (descriptor upload, ONE crop launch, the
 * FP16 engine, GPU L2 normalisation, the embeddings' copy to the host and the one wait). The
 * default descriptor is measured the same way. On cuda the frames are uploaded once (setup only);
 * the engine is planned for exactly B (single_batch), setup_s is that planning.
 * Defaults: cuda batches 64,128,256,512; cpu 8,32.
 *
 * frames/s end to end: pan_test_run (tests/pipeline_run.h) on K copies of --e2e-video (cameras), N frames each,
 * detection + tracking, with --reid off, default, and each model; fps and host CPU ms/frame from
 * the run summary. Defaults: cuda K = 4, N = 300 (1080p); cpu K = 1, N = 40 (data/vtest.mp4).
 *
 * One JSON object on stdout; logs on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "decode/decoder.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "pipeline_run.h"
#include "vision/reid.h"
#include "io/source.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define NFR 8
#define MAXB 8

/* ---- frames: decoded on the host, uploaded for cuda ------------------------------------------ */

typedef struct held {
    pan_frame *host[NFR];
    pan_frame dev[NFR];
    void *mem[NFR];
    int n;
} held;

static pan_status grab_frames(const char *path, held *h)
{
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_source_params sp = {.uri = path};
    pan_status st;
    if ((st = pan_source_create(&src, &sp))) return st;
    pan_decoder_params dp = {.kind = PAN_DECODER_CPU, .uri = path, .codecpar = pan_source_codecpar(src)};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    if ((st = pan_decoder_create(&dec, &dp))) goto done;
    int64_t seen = 0;
    int eof = 0;
    while (h->n < NFR && !eof) {
        pan_packet pkt;
        pan_status rs = pan_source_read(src, &pkt);
        if (rs != PAN_OK && rs != PAN_EOF) {
            if (rs == PAN_CORRUPT) continue;
            break;
        }
        eof = rs == PAN_EOF;
        for (;;) {
            pan_status ss = pan_decoder_send_packet(dec, eof ? NULL : &pkt);
            pan_frame *f;
            while (h->n < NFR && pan_decoder_receive_frame(dec, &f) == PAN_OK) {
                if (seen++ % 40 == 0) h->host[h->n++] = f; /* frames 0, 40, 80...: different people */
                else pan_frame_unref(&f);
            }
            if (ss != PAN_EAGAIN || h->n == NFR) break;
        }
    }
    st = h->n == NFR ? PAN_OK : PAN_EOF;
done:
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return st;
}

#ifdef PANOPTES_HAVE_CUDA
/* device NV12 copies (setup only, counted as pixel copies like any other) */
static pan_status upload(held *h)
{
    for (int i = 0; i < h->n; i++) {
        const pan_frame *f = h->host[i];
        int w = f->width, ht = f->height, cw = (w + 1) / 2, ch = (ht + 1) / 2;
        size_t pitch = ((size_t)2 * cw + 255) & ~(size_t)255;
        uint8_t *buf = malloc(pitch * (size_t)(ht + ch));
        if (!buf) return PAN_NOMEM;
        for (int j = 0; j < ht; j++) memcpy(buf + (size_t)j * pitch, f->data[0] + (size_t)j * f->pitch[0], (size_t)w);
        for (int j = 0; j < ch; j++)
            for (int k = 0; k < cw; k++) {
                uint8_t *o = buf + (size_t)(ht + j) * pitch + 2 * k;
                if (f->format == PAN_PIXFMT_NV12) {
                    o[0] = f->data[1][(size_t)j * f->pitch[1] + 2 * k];
                    o[1] = f->data[1][(size_t)j * f->pitch[1] + 2 * k + 1];
                } else {
                    o[0] = f->data[1][(size_t)j * f->pitch[1] + k];
                    o[1] = f->data[2][(size_t)j * f->pitch[2] + k];
                }
            }
        if (cudaMalloc(&h->mem[i], pitch * (size_t)(ht + ch)) != cudaSuccess ||
            cudaMemcpy(h->mem[i], buf, pitch * (size_t)(ht + ch), cudaMemcpyHostToDevice) != cudaSuccess) {
            free(buf);
            return PAN_CUDA;
        }
        free(buf);
        pan_gpu_count_pixel_copy(pitch * (size_t)(ht + ch));
        pan_frame *d = &h->dev[i];
        *d = *f;
        d->memory = PAN_MEMORY_DEVICE;
        d->format = PAN_PIXFMT_NV12;
        d->data[0] = h->mem[i];
        d->data[1] = (uint8_t *)h->mem[i] + pitch * (size_t)ht;
        d->data[2] = NULL;
        d->pitch[0] = d->pitch[1] = (int)pitch;
        d->pitch[2] = 0;
        pan_frame_init_ref(d, NULL, NULL);
    }
    return PAN_OK;
}
#endif

/* ---- crops/s --------------------------------------------------------------------------------- */

static void fill_lists(pan_detection_list *lists, int per_frame, int w, int h)
{
    uint32_t s = 12345;
    for (int i = 0; i < NFR; i++) {
        lists[i].count = 0;
        for (int k = 0; k < per_frame; k++) {
            s = s * 1664525u + 1013904223u;
            float bh = (float)h * (0.15f + 0.25f * (float)(s >> 8) / 16777216.f), bw = bh * 0.4f;
            s = s * 1664525u + 1013904223u;
            float x = ((float)w - bw) * (float)(s >> 8) / 16777216.f;
            s = s * 1664525u + 1013904223u;
            float y = ((float)h - bh) * (float)(s >> 8) / 16777216.f;
            lists[i].items[lists[i].count++] = (pan_detection){{x, y, x + bw, y + bh}, 0.9f, 0, NULL, 0};
        }
    }
}

static void bench_crops(const char *label, const char *model, pan_backend be, held *h, const int *batches, int nb,
                        double seconds, int *first)
{
    pan_frame *frames[NFR];
    for (int i = 0; i < NFR; i++) frames[i] = be == PAN_BACKEND_CUDA ? &h->dev[i] : h->host[i];
    for (int b = 0; b < nb; b++) {
        int B = batches[b], per = (B + NFR - 1) / NFR;
        pan_reid *r = NULL;
        pan_reid_params rp = {.model_path = model, .backend = be, .max_crops = per * NFR, .single_batch = 1};
        double t0 = bench_now_s();
        pan_status st = pan_reid_create(&r, &rp);
        double setup = bench_now_s() - t0;
        printf("%s\n    {\"descriptor\": \"%s\", \"batch\": %d", *first ? "" : ",", label, per * NFR);
        *first = 0;
        if (st) {
            printf(", \"error\": \"%s\"}", pan_status_str(st));
            continue;
        }
        pan_detection_list lists[NFR];
        memset(lists, 0, sizeof lists);
        for (int i = 0; i < NFR; i++) pan_detection_list_reserve(&lists[i], per);
        fill_lists(lists, per, frames[0]->width, frames[0]->height);
        st = pan_reid_embed(r, frames, NFR, lists); /* warm-up */
        int iters = 0;
        t0 = bench_now_s();
        double t = t0;
        while (!st && (t - t0 < seconds || iters < 2)) {
            st = pan_reid_embed(r, frames, NFR, lists);
            iters++;
            t = bench_now_s();
        }
        if (st) printf(", \"error\": \"%s\"}", pan_status_str(st));
        else
            printf(", \"dim\": %d, \"crops_per_s\": %.1f, \"ms_per_batch\": %.3f, \"setup_s\": %.2f}", pan_reid_dim(r),
                   (double)iters * per * NFR / (t - t0), (t - t0) * 1e3 / iters, setup);
        fflush(stdout);
        for (int i = 0; i < NFR; i++) pan_detection_list_free(&lists[i]);
        pan_reid_destroy(&r);
    }
}

/* ---- end to end ------------------------------------------------------------------------------ */

static void bench_e2e(const char *label, const char *reid, pan_backend be, const char *video, int cams, int frames,
                      int *first)
{
    const char *uris[64];
    for (int i = 0; i < cams && i < 64; i++) uris[i] = video;
    pan_pipeline_params p;
    pan_pipeline_params_default(&p);
    p.backend = be;
    p.max_frames = frames;
    p.detect = 1;
    p.track = 1;
    p.reid = reid;
    static const int person = 0;
    p.classes = &person;
    p.n_classes = 1;
    pan_pipeline_stats sum;
    pan_status st = pan_test_run(&p, uris, cams < 64 ? cams : 64, NULL, NULL, &sum);
    printf("%s\n    {\"reid\": \"%s\", \"cameras\": %d, \"frames\": %lld", *first ? "" : ",", label, cams,
           (long long)sum.frames);
    *first = 0;
    if (st) printf(", \"error\": \"%s\"}", pan_status_str(st));
    else
        printf(", \"fps\": %.2f, \"cpu_ms_per_frame\": %.3f, \"steady_fps\": %.2f, \"steady_cpu_ms_per_frame\": %.3f, "
               "\"pixel_bytes_copied\": %lld}",
               sum.fps, sum.cpu_ms_per_frame, sum.steady_fps, sum.steady_cpu_ms_per_frame, (long long)sum.pixel_bytes_copied);
    fflush(stdout);
    pan_pipeline_stats_free(&sum);
}

int main(int argc, char **argv)
{
    pan_backend be = PAN_BACKEND_CPU;
    const char *dir = "models", *video = "data/vtest.mp4", *e2e_video = NULL;
    int batches[MAXB], nb = 0, cams = 0, frames = 0, e2e = 1;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--backend") && v) be = pan_backend_parse(argv[++i]) == PAN_BACKEND_CUDA ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
        else if (!strcmp(a, "--models") && v) dir = argv[++i];
        else if (!strcmp(a, "--batches") && v) nb = bench_parse_list(argv[++i], batches, MAXB);
        else if (!strcmp(a, "--seconds") && v) seconds = atof(argv[++i]);
        else if (!strcmp(a, "--video") && v) video = argv[++i];
        else if (!strcmp(a, "--e2e-video") && v) e2e_video = argv[++i];
        else if (!strcmp(a, "--e2e-cameras") && v) cams = atoi(argv[++i]);
        else if (!strcmp(a, "--e2e-frames") && v) frames = atoi(argv[++i]);
        else if (!strcmp(a, "--no-e2e")) e2e = 0;
        else {
            fprintf(stderr, "usage: bench_reid [--backend cpu|cuda] [--models DIR] [--batches 64,128,256,512] [--seconds S]\n"
                            "                  [--video FILE] [--e2e-video FILE] [--e2e-cameras K] [--e2e-frames N] [--no-e2e]\n");
            return 2;
        }
    }
    const int cuda = be == PAN_BACKEND_CUDA;
    if (!nb) {
        static const int gpu_b[] = {64, 128, 256, 512}, cpu_b[] = {8, 32};
        nb = cuda ? 4 : 2;
        memcpy(batches, cuda ? gpu_b : cpu_b, (size_t)nb * sizeof *batches);
    }
    if (!cams) cams = cuda ? 4 : 1;
    if (!frames) frames = cuda ? 300 : 40;
    if (!e2e_video) e2e_video = cuda ? "data/vtest-1080p.mp4" : "data/vtest.mp4";
#ifndef PANOPTES_HAVE_CUDA
    if (cuda) {
        fprintf(stderr, "bench_reid: this build has no CUDA\n");
        return 77;
    }
#endif
    if (cuda && !pan_gpu_available()) {
        fprintf(stderr, "bench_reid: no CUDA device\n");
        return 77;
    }
    held h;
    memset(&h, 0, sizeof h);
    if (grab_frames(video, &h)) {
        fprintf(stderr, "bench_reid: cannot decode %d frames of %s (run scripts/setup.sh)\n", NFR, video);
        return 1;
    }
#ifdef PANOPTES_HAVE_CUDA
    if (cuda && upload(&h)) {
        fprintf(stderr, "bench_reid: cannot upload the frames to the GPU\n");
        return 1;
    }
#endif
    /* the models: DIR, else generated */
    char m10[1024], m025[1024], tmp[] = "/tmp/panoptes-bench-reid-XXXXXX";
    int generated = 0;
    snprintf(m10, sizeof m10, "%s/osnet_x1_0.onnx", dir);
    snprintf(m025, sizeof m025, "%s/osnet_x0_25.onnx", dir);
    if ((access(m10, R_OK) || access(m025, R_OK)) && mkdtemp(tmp)) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/peers/make_osnet.py '%s' >&2", tmp);
        if (system(cmd) == 0) {
            snprintf(m10, sizeof m10, "%s/osnet_x1_0.onnx", tmp);
            snprintf(m025, sizeof m025, "%s/osnet_x0_25.onnx", tmp);
            generated = 1;
        }
    }
    const int have_models = !access(m10, R_OK) && !access(m025, R_OK);
    char dev[256] = "cpu";
    if (cuda) pan_gpu_device_name(0, dev, sizeof dev);
    printf("{\"bench\": \"reid\", \"backend\": \"%s\", \"device\": \"%s\", \"crop_wxh\": \"128x256 (models), 32x64 (default)\", "
           "\"models\": %s, \"crops\": [",
           cuda ? "cuda" : "cpu", dev, have_models ? "true" : "false");
    int first = 1;
    bench_crops("default", NULL, be, &h, batches, nb, seconds, &first);
    if (have_models) {
        bench_crops("osnet_x0_25", m025, be, &h, batches, nb, seconds, &first);
        bench_crops("osnet_x1_0", m10, be, &h, batches, nb, seconds, &first);
    }
    printf("\n  ]");
    if (e2e) {
        printf(", \"e2e_video\": \"%s\", \"end_to_end\": [", e2e_video);
        first = 1;
        bench_e2e("off", "off", be, e2e_video, cams, frames, &first);
        bench_e2e("default", "default", be, e2e_video, cams, frames, &first);
        if (have_models) {
            bench_e2e("osnet_x0_25", m025, be, e2e_video, cams, frames, &first);
            bench_e2e("osnet_x1_0", m10, be, e2e_video, cams, frames, &first);
        }
        printf("\n  ]");
    }
    printf("}\n");
    for (int i = 0; i < h.n; i++) {
#ifdef PANOPTES_HAVE_CUDA
        if (h.mem[i]) cudaFree(h.mem[i]);
#endif
        pan_frame_unref(&h.host[i]);
    }
    if (generated) {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        (void)!system(cmd);
    }
    return 0;
}
