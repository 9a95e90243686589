/* Detector on the cpu backend, printed as one JSON object:
 *  - NanoDet-g 416 end to end per frame (preprocess + engine + postprocess through
 *    pan_detector_detect), and the three parts timed separately, on frames of data/vtest.mp4
 *    (a synthetic grey frame when the sample is missing);
 *  - a YOLOv8n-shaped ONNX model (tests/peers/make_onnx_models.py, random weights, 640x640,
 *    batch 1): our cpu engine vs ONNX Runtime CPU (tests/peers/ort_run.js --time) in the same run,
 *    both with their default thread count (all cores).
 *
 *   build/bench_detector_cpu [--frames N] [--yolo-size 640] [--threads T]
 *
 * Wall-clock milliseconds, mean over the timed runs after one warm-up; process CPU time per frame
 * alongside (getrusage, all threads). Run it from the repository root. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "vision/detector.h"
#include "nn/engine.h"
#include "panoptes/log.h"
#include "vision/postprocess.h"
#include "vision/preprocess.h"

/* One frame of the sample (YUV420P), or a synthetic one. */
static int load_frame(pan_frame *f, uint8_t **buf, int *synthetic)
{
    int w = 768, h = 576;
    size_t fsz = (size_t)w * h * 3 / 2;
    *buf = malloc(fsz);
    if (!*buf) return -1;
    *synthetic = 1;
    if (access("data/vtest.mp4", R_OK) == 0) {
        FILE *p = popen("ffmpeg -v error -i data/vtest.mp4 -frames:v 1 -f rawvideo -pix_fmt yuv420p -s 768x576 -", "r");
        if (p) {
            *synthetic = fread(*buf, 1, fsz, p) != fsz;
            pclose(p);
        }
    }
    if (*synthetic) memset(*buf, 128, fsz);
    memset(f, 0, sizeof *f);
    f->width = w;
    f->height = h;
    f->format = PAN_PIXFMT_YUV420P;
    f->memory = PAN_MEMORY_HOST;
    f->data[0] = *buf;
    f->data[1] = *buf + w * h;
    f->data[2] = f->data[1] + (w / 2) * (h / 2);
    f->pitch[0] = w;
    f->pitch[1] = f->pitch[2] = w / 2;
    pan_frame_init_ref(f, NULL, NULL);
    return 0;
}

static void bench_nanodet(int frames, int threads)
{
    pan_frame f;
    uint8_t *buf;
    int synthetic;
    pan_detector *d = NULL;
    pan_detector_params p;
    memset(&p, 0, sizeof p);
    p.model_path = "models/nanodet.json";
    p.backend = PAN_BACKEND_CPU;
    p.threads = threads;
    if (load_frame(&f, &buf, &synthetic) || pan_detector_create(&d, &p)) {
        printf("  \"nanodet\": {\"error\": \"models/nanodet.json missing or not loadable (run scripts/setup.sh)\"},\n");
        free(buf);
        return;
    }
    pan_frame *fr[1] = {&f};
    pan_detection_list out = {0};
    pan_detector_detect(d, fr, 1, &out); /* warm-up: plans batch 1 */
    double c0 = bench_cpu_ms(), t0 = bench_now_ms();
    for (int i = 0; i < frames; i++) pan_detector_detect(d, fr, 1, &out);
    double e2e = (bench_now_ms() - t0) / frames, e2e_cpu = (bench_cpu_ms() - c0) / frames;
    pan_detector_destroy(&d);

    /* the parts, with the same conventions as the detector (detector.h) */
    pan_engine_t *e = NULL;
    pan_engine_params ep;
    memset(&ep, 0, sizeof ep);
    ep.model_path = "models/nanodet.json";
    ep.backend = PAN_BACKEND_CPU;
    ep.threads = threads;
    double pre = 0, eng = 0, post = 0;
    if (!pan_engine_create(&e, &ep)) {
        pan_preprocess_params pp = {.width = 416, .height = 416, .channels = PAN_CHANNELS_BGR,
                                    .mean = {103.53f, 116.28f, 123.675f}, .std = {57.375f, 57.12f, 58.395f},
                                    .layout = PAN_LAYOUT_NCHW, .keep_ratio = 1};
        float *in = malloc(pan_engine_input_numel(e, 0, 1) * sizeof(float));
        int no = pan_engine_num_outputs(e);
        float *outs[8] = {0};
        for (int j = 0; j < no && j < 8; j++) outs[j] = malloc(pan_engine_output_numel(e, j, 1) * sizeof(float));
        pan_nanodet_params np;
        pan_nanodet_params_default(&np);
        const float *cls[3] = {0}, *reg[3] = {0};
        for (int j = 0; j < no && j < 8; j++) {
            pan_engine_tensor_info info;
            pan_engine_output_info(e, j, &info);
            for (int l = 0; l < 3; l++)
                if (info.dims[1] == pan_nanodet_level_size(&np, l)) {
                    if (info.dims[2] == 80) cls[l] = outs[j];
                    else reg[l] = outs[j];
                }
        }
        pan_letterbox lb;
        pan_post_scratch sc = {0};
        const float *ins[1] = {in};
        pan_preprocess_cpu(&f, &pp, in, &lb);
        pan_engine_run(e, 1, ins, outs);
        for (int i = 0; i < frames; i++) {
            double a = bench_now_ms();
            pan_preprocess_cpu(&f, &pp, in, &lb);
            double b = bench_now_ms();
            pan_engine_run(e, 1, ins, outs);
            double c = bench_now_ms();
            pan_nanodet_decode(&np, cls, reg, &lb, &out, &sc);
            double dd = bench_now_ms();
            pre += b - a;
            eng += c - b;
            post += dd - c;
        }
        pre /= frames, eng /= frames, post /= frames;
        pan_post_scratch_free(&sc);
        for (int j = 0; j < 8; j++) free(outs[j]);
        free(in);
        pan_engine_destroy(&e);
    }
    printf("  \"nanodet\": {\"model\": \"models/nanodet.json\", \"input\": \"416x416\", \"source\": \"%s\", "
           "\"frames\": %d, \"ms_per_frame_end_to_end\": %.2f, \"cpu_ms_per_frame_end_to_end\": %.2f, "
           "\"ms_preprocess\": %.2f, \"ms_engine\": %.2f, \"ms_postprocess\": %.3f, \"detections\": %d},\n",
           synthetic ? "synthetic grey 768x576" : "data/vtest.mp4 frame 0 (768x576)", frames, e2e, e2e_cpu, pre, eng,
           post, out.count);
    pan_detection_list_free(&out);
    free(buf);
}

static void bench_yolo(int runs, int size, int threads)
{
    char dir[] = "/tmp/panoptes-bench-yolo-XXXXXX", cmd[2048], path[512];
    const char *py = system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0 ? "/usr/bin/python3" : "python3";
    if (!mkdtemp(dir)) return;
    snprintf(cmd, sizeof cmd, "%s tests/peers/make_onnx_models.py %s --only yolov8n_like --batches 1 --yolo-size %d", py,
             dir, size);
    if (system(cmd)) {
        printf("  \"yolov8n_like\": {\"error\": \"python3-onnx missing\"}\n");
        return;
    }
    /* ONNX Runtime */
    double ort_ms = -1;
    snprintf(cmd, sizeof cmd, "node tests/peers/ort_run.js %s/manifest.json --time %d 2>/dev/null", dir, runs);
    FILE *p = popen(cmd, "r");
    if (p) {
        char line[512];
        while (fgets(line, sizeof line, p)) {
            const char *m = strstr(line, "\"ms\":");
            if (m) ort_ms = atof(m + 5);
        }
        pclose(p);
    }
    /* ours */
    pan_engine_t *e = NULL;
    pan_engine_params ep;
    memset(&ep, 0, sizeof ep);
    snprintf(path, sizeof path, "%s/yolov8n_like.onnx", dir);
    ep.model_path = path;
    ep.backend = PAN_BACKEND_CPU;
    ep.threads = threads;
    double ms = -1, cms = -1;
    if (!pan_engine_create(&e, &ep)) {
        float *in = calloc(pan_engine_input_numel(e, 0, 1), sizeof(float));
        float *out = malloc(pan_engine_output_numel(e, 0, 1) * sizeof(float));
        for (size_t i = 0; i < pan_engine_input_numel(e, 0, 1); i++) in[i] = (float)((i * 2654435761u) % 1000) / 1000.f;
        const float *ins[1] = {in};
        float *outs[1] = {out};
        pan_engine_run(e, 1, ins, outs);
        double c0 = bench_cpu_ms(), t0 = bench_now_ms();
        for (int i = 0; i < runs; i++) pan_engine_run(e, 1, ins, outs);
        ms = (bench_now_ms() - t0) / runs;
        cms = (bench_cpu_ms() - c0) / runs;
        free(in);
        free(out);
        pan_engine_destroy(&e);
    }
    printf("  \"yolov8n_like\": {\"model\": \"tests/peers/make_onnx_models.py yolov8n_like (random weights)\", "
           "\"input\": \"%dx%d\", \"batch\": 1, \"runs\": %d, \"panoptes_cpu_ms\": %.2f, \"panoptes_cpu_time_ms\": %.2f, "
           "\"onnxruntime_cpu_ms\": %.2f, \"ratio_panoptes_over_ort\": %.2f}\n",
           size, size, runs, ms, cms, ort_ms, ort_ms > 0 && ms > 0 ? ms / ort_ms : -1.0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

int main(int argc, char **argv)
{
    int frames = 10, size = 640, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--frames")) frames = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--yolo-size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    if (frames < 1) frames = 1;
    pan_log_set_level(PAN_LOG_ERROR);
    /* Other work on the machine inflates wall time: the load average is printed with the results. */
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    printf("{\n  \"bench\": \"detector_cpu\", \"cores\": %ld, \"threads\": %d, \"loadavg_1min\": %.2f,\n",
           sysconf(_SC_NPROCESSORS_ONLN), threads, load);
    bench_nanodet(frames, threads);
    bench_yolo(frames, size, threads);
    printf("}\n");
    return 0;
}
