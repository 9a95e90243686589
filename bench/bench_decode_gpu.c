/* Decode + preprocess throughput of the GPU frame path: N cameras (threads: source -> NVDEC,
 * each on its own CUDA stream) feed one batcher that runs the batched preprocessing kernel
 * (NanoDet input: 416x416 letterbox, BGR, FP16 NCHW) on up to --batch frames at a time, reading
 * the NVDEC surfaces in place. Files are looped, so any N works with one clip.
 *
 *   bench_decode_gpu [--clip PATH]... [--streams 1,7,14,28,56] [--seconds 5] [--warmup 1.5] [--batch 64] [--max-frames 2]
 *
 * The window starts once every camera has delivered a frame (and --warmup has passed): creating
 * 56 decoders takes seconds. PANOPTES_CUDA_SYNC (spin|yield|block|auto, default block) and
 * PANOPTES_NVDEC_DISPLAY_DELAY (default 1) are reported.
 *
 * Prints one JSON object per (clip, N) line on stdout:
 *   fps            frames decoded and preprocessed per second, all cameras together
 *   cpu_ms_per_frame  host CPU time (user + system, getrusage, every thread) per frame
 *   device_mib_per_camera  growth of used device memory (cudaMemGetInfo) from before the cameras
 *                  start to the steady state, divided by N (decoder surfaces, mapped frames,
 *                  the camera's share of the batch tensors)
 *   pool           device pool statistics at the end of the window; cuda_mallocs_in_window must be 0
 *   pixel_bytes_copied  host<->device pixel bytes: must be 0
 * Without a GPU/NVDEC it prints {"skipped": "..."} and exits 0. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "decode/decoder.h"
#include "core/devpool.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "vision/preprocess_gpu.h"
#include "core/queue.h"
#include "io/source.h"

#define MAX_CLIPS 4
#define MAX_NS 16
#define MAX_BATCH 256

typedef struct camera {
    int id;
    const char *uri;
    pan_queue *q;
    atomic_int *stop;
    pthread_t thread;
    pan_status result;
    int64_t frames;
    pan_decoder_stats stats;
    int max_frames;
    atomic_int started; /* pushed its first frame */
} camera;

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void *camera_main(void *arg)
{
    camera *c = arg;
    pan_source *src = NULL;
    pan_decoder *dec = NULL;
    pan_status st;
    pan_source_params sp = {.uri = c->uri, .camera = c->id, .loop = 1};
    if ((st = pan_gpu_init(0)) || (st = pan_source_create(&src, &sp))) goto out;
    /* --max-frames output surfaces (default 2): one in the batch being preprocessed, one being
     * mapped or queued; each is 3.1 MB at 1080p */
    pan_decoder_params dp = {.kind = PAN_DECODER_NVDEC, .camera = c->id, .uri = c->uri,
                             .codecpar = pan_source_codecpar(src), .max_frames = c->max_frames, .device = 0};
    pan_source_time_base(src, &dp.time_base_num, &dp.time_base_den);
    if ((st = pan_decoder_create(&dec, &dp))) goto out;
    while (!atomic_load(c->stop)) {
        pan_packet pkt;
        if ((st = pan_source_read(src, &pkt))) goto out;
        for (;;) {
            pan_status s = pan_decoder_send_packet(dec, &pkt);
            pan_frame *f;
            while (pan_decoder_receive_frame(dec, &f) == PAN_OK) {
                atomic_store(&c->started, 1);
                if (pan_queue_push(c->q, f, -1) != PAN_OK) {
                    pan_frame_unref(&f); /* closed: the run is over */
                    st = PAN_OK;
                    goto out;
                }
            }
            if (s == PAN_EAGAIN) continue;
            if (s) {
                st = s;
                goto out;
            }
            break;
        }
    }
    st = PAN_OK;
out:
    c->result = st;
    if (dec) pan_decoder_get_stats(dec, &c->stats);
    pan_decoder_destroy(&dec);
    pan_source_destroy(&src);
    return NULL;
}

static void drop_frame(void *item)
{
    pan_frame *f = item;
    pan_frame_unref(&f);
}

typedef struct result {
    double fps, cpu_ms, dev_mib;
    int64_t frames, batches;
    double mean_batch;
    double growth_mib; /* used device memory, end of the window minus its start: flat = 0 */
    pan_devpool_stats pool;
    int64_t mallocs_in_window;
    int64_t errors;
    pan_status status;
} result;

static pan_status run_one(const char *clip, int n, double warmup, double seconds, int max_batch, int max_frames, result *r)
{
    pan_status st = PAN_OK;
    atomic_int stop = 0;
    pan_queue *q = NULL;
    camera *cams = calloc((size_t)n, sizeof *cams);
    pan_preprocess_gpu *pp = NULL;
    pan_devpool *pool = NULL;
    pan_devblock *out = NULL;
    void *stream = NULL;
    pan_frame *batch[MAX_BATCH];
    int started = 0;
    memset(r, 0, sizeof *r);
    pan_preprocess_params p = {416, 416, PAN_CHANNELS_BGR, {103.53f, 116.28f, 123.675f}, {57.375f, 57.12f, 58.395f},
                               PAN_LAYOUT_NCHW, 1, 0.f};
    int B = max_batch;
    if (!cams) return PAN_NOMEM;
    if ((st = pan_devpool_get(0, &pool)) || (st = pan_gpu_stream_create(&stream)) ||
        (st = pan_preprocess_gpu_create(&pp, &p, B, 0)) ||
        (st = pan_devpool_alloc(pool, pan_preprocess_gpu_image_bytes(&p) * (size_t)B, "bench.batch", &out)) ||
        (st = pan_queue_create(&q, 2 * n + B)))
        goto done;
    size_t free0, total;
    pan_gpu_mem_info(&free0, &total);
    for (int i = 0; i < n; i++) {
        cams[i] = (camera){.id = i, .uri = clip, .q = q, .stop = &stop, .max_frames = max_frames};
        if (pthread_create(&cams[i].thread, NULL, camera_main, &cams[i]) != 0) {
            st = PAN_NOMEM;
            goto done;
        }
        started++;
    }
    double t_start = bench_now_s(), t0 = 0, c0 = 0, t1 = 0, c1 = 0;
    int64_t frames = 0, f0 = 0, batches = 0, b0 = 0;
    pan_devpool_stats ps0 = {0};
    int phase = 0; /* 0 warm-up, 1 measuring */
    size_t free_mid = free0, free_start = free0;
    for (;;) {
        double t = bench_now_s();
        int all_started = 1;
        if (phase == 0)
            for (int i = 0; i < n && all_started; i++) all_started = atomic_load(&cams[i].started);
        if (phase == 0 && t - t_start >= warmup && (all_started || t - t_start > 30)) {
            phase = 1;
            t0 = t;
            c0 = cpu_s();
            f0 = frames;
            b0 = batches;
            pan_devpool_get_stats(pool, &ps0);
            pan_gpu_mem_info(&free_start, NULL);
        } else if (phase == 1 && t - t0 >= seconds) {
            t1 = t;
            c1 = cpu_s();
            pan_gpu_mem_info(&free_mid, NULL); /* steady state, every camera running */
            break;
        }
        void *item;
        int k = 0;
        if (pan_queue_pop(q, &item, 50) != PAN_OK) {
            int alive = 0;
            for (int i = 0; i < n; i++) alive += cams[i].result == PAN_OK;
            if (!alive) break;
            continue;
        }
        batch[k++] = item;
        /* take what has already arrived, up to B: batching across cameras */
        while (k < B && pan_queue_pop(q, &item, 0) == PAN_OK) batch[k++] = item;
        st = pan_preprocess_gpu_run(pp, batch, k, pan_devblock_ptr(out), NULL, stream);
        if (st == PAN_OK) st = pan_preprocess_gpu_wait(pp); /* then the surfaces may be unmapped */
        for (int i = 0; i < k; i++) pan_frame_unref(&batch[i]);
        if (st) goto done;
        frames += k;
        batches++;
    }
    if (t1 > t0 && frames > f0) {
        r->frames = frames - f0;
        r->batches = batches - b0;
        r->fps = (double)r->frames / (t1 - t0);
        r->cpu_ms = (c1 - c0) * 1e3 / (double)r->frames;
        r->mean_batch = r->batches ? (double)r->frames / (double)r->batches : 0;
        r->dev_mib = ((double)free0 - (double)free_mid) / 1048576.0 / n;
        r->growth_mib = ((double)free_start - (double)free_mid) / 1048576.0;
        pan_devpool_get_stats(pool, &r->pool);
        r->mallocs_in_window = r->pool.cuda_mallocs - ps0.cuda_mallocs;
    }
done:
    atomic_store(&stop, 1);
    if (q) pan_queue_close(q);
    /* drain (pop returns EOF once closed and empty) so that cameras blocked on back-pressure get
     * their surfaces back, see the closed queue and finish */
    if (q) {
        void *item;
        while (pan_queue_pop(q, &item, 100) != PAN_EOF)
            if (item) drop_frame(item);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(cams[i].thread, NULL);
        r->errors += cams[i].stats.errors;
        if (cams[i].result && cams[i].result != PAN_CLOSED && !st) st = cams[i].result;
    }
    if (q) pan_queue_destroy(&q, drop_frame);
    pan_devblock_unref(&out);
    pan_preprocess_gpu_destroy(&pp);
    pan_gpu_stream_destroy(&stream);
    free(cams);
    r->status = st;
    return st;
}

int main(int argc, char **argv)
{
    const char *clips[MAX_CLIPS];
    int nclips = 0, ns[MAX_NS] = {1, 7, 14, 28, 56}, nn = 5, batch = 64, max_frames = 2;
    double seconds = 5, warmup = 1.5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clip") && i + 1 < argc && nclips < MAX_CLIPS) clips[nclips++] = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc) nn = bench_parse_list(argv[++i], ns, MAX_NS);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-frames") && i + 1 < argc) max_frames = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--clip PATH]... [--streams 1,7,14,28,56] [--seconds S] [--warmup S] [--batch B] [--max-frames F]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || batch > MAX_BATCH) batch = 64;
    if (!nclips) {
        clips[nclips++] = "data/vtest-1080p.mp4";
        clips[nclips++] = "data/vtest-1080p-hevc.mp4";
    }
    pan_log_init();
    if (!pan_gpu_available() || !pan_decoder_nvdec_available()) {
        printf("{\"bench\": \"decode_gpu\", \"skipped\": \"no CUDA device with NVDEC\"}\n");
        return 0;
    }
    char name[256];
    pan_gpu_init(0);
    pan_gpu_device_name(0, name, sizeof name);
    int rc = 0;
    for (int c = 0; c < nclips; c++) {
        pan_source *probe = NULL;
        pan_source_params sp = {.uri = clips[c]};
        if (pan_source_create(&probe, &sp)) {
            fprintf(stderr, "bench_decode_gpu: cannot open %s\n", clips[c]);
            rc = 1;
            continue;
        }
        const pan_source_info *info = pan_source_get_info(probe);
        char codec[32];
        int w = info->width, h = info->height;
        snprintf(codec, sizeof codec, "%s", info->codec);
        pan_source_destroy(&probe);
        for (int k = 0; k < nn; k++) {
            result r;
            pan_status st = run_one(clips[c], ns[k], warmup, seconds, batch, max_frames, &r);
            printf("{\"bench\": \"decode_gpu\", \"device\": \"%s\", \"clip\": \"%s\", \"codec\": \"%s\", \"width\": %d, "
                   "\"height\": %d, \"streams\": %d, \"max_frames\": %d, \"display_delay\": \"%s\", \"sync\": \"%s\", \"status\": \"%s\", \"seconds\": %.2f, \"frames\": %lld, \"fps\": %.1f, "
                   "\"fps_per_stream\": %.1f, \"cpu_ms_per_frame\": %.4f, \"mean_batch\": %.1f, \"device_mib_per_camera\": %.1f, \"device_mib_growth_in_window\": %.1f, "
                   "\"decode_errors\": %lld, \"pixel_bytes_copied\": %llu, \"pool\": {\"arena_mib\": %.1f, \"peak_in_use_mib\": %.1f, "
                   "\"hits\": %lld, \"misses\": %lld, \"cuda_mallocs\": %lld, \"cuda_mallocs_in_window\": %lld}}\n",
                   name, clips[c], codec, w, h, ns[k], max_frames, getenv("PANOPTES_NVDEC_DISPLAY_DELAY") ? getenv("PANOPTES_NVDEC_DISPLAY_DELAY") : "default", getenv("PANOPTES_CUDA_SYNC") ? getenv("PANOPTES_CUDA_SYNC") : "block", pan_status_name(st), seconds, (long long)r.frames, r.fps,
                   r.fps / ns[k], r.cpu_ms, r.mean_batch, r.dev_mib, r.growth_mib, (long long)r.errors,
                   (unsigned long long)pan_gpu_pixel_bytes_copied(), r.pool.arena_bytes / 1048576.0,
                   r.pool.peak_in_use / 1048576.0, (long long)r.pool.hits, (long long)r.pool.misses,
                   (long long)r.pool.cuda_mallocs, (long long)r.mallocs_in_window);
            fflush(stdout);
            if (st) rc = 1;
        }
    }
    pan_devpool_shutdown_all();
    return rc;
}
