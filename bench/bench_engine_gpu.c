/* Benchmark: NanoDet-g 416 on the cuda engine backend (FP16), CUDA graph on and off.
 *
 *   bench_engine_gpu [--model models/nanodet.json] [--batches 1,8,32,64] [--seconds S] [--profile]
 *
 * Feeds the engine as the GPU pipeline does: device FP16 NHWC input, device FP16 outputs, one
 * caller stream (pan_engine_run_tensors). Per batch size and graph mode it prints:
 *   images_per_s       throughput, back-to-back batches for about S seconds (default 1), timed
 *                      with CUDA events around the whole loop;
 *   latency_ms_p50/p90 one batch at a time (event before and after, synchronised each time);
 *   host_us_per_batch  host wall time spent inside pan_engine_run_tensors per batch, median over the
 *                      latency loop (the GPU is idle at each call, so launches never wait for
 *                      queue space: this is the "few host calls" cost, not the GPU time);
 *   compile_s          planning + cuDNN engine search (runtime-compiled fused kernels) + graph
 *                      capture for that batch size (measured once, with the graph mode).
 * One JSON object on stdout. Input values are a fixed pseudo-random tensor (timing does not
 * depend on them). One engine serves both modes: PANOPTES_CUDA_GRAPH is set per mode before its
 * runs (the backend checks it at every run), so the plans and cuDNN choices are the same.
 * --profile: instead, one run per batch size with the graph off and PANOPTES_CUDA_PROFILE=1, which
 * logs the GPU time of every step (stderr), then exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "nn/engine.h"
#include "core/gpu.h"
#include "panoptes/log.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>

#define MAXB 8

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *model = "models/nanodet.json";
    int batches[MAXB] = {1, 8, 32, 64}, nb = 4;
    double seconds = 1.0;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
            nb = 0;
            for (char *p = argv[++i]; *p && nb < MAXB;) {
                batches[nb++] = (int)strtol(p, &p, 10);
                if (*p == ',') p++;
            }
        } else {
            fprintf(stderr, "usage: %s [--model models/nanodet.json] [--batches 1,8,32,64] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    if (!pan_gpu_available()) {
        fprintf(stderr, "bench_engine_gpu: no usable GPU\n");
        return 77;
    }
    pan_log_set_level(PAN_LOG_WARN);
    int maxb = 1;
    for (int i = 0; i < nb; i++) maxb = batches[i] > maxb ? batches[i] : maxb;
    char devname[256];
    pan_gpu_device_name(0, devname, sizeof devname);
    cudaStream_t s;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);

    if (profile) {
        setenv("PANOPTES_CUDA_GRAPH", "0", 1);
        pan_engine_params p = {.model_path = model, .backend = PAN_BACKEND_CUDA, .max_batch = maxb};
        pan_engine_t *e = NULL;
        if (pan_engine_create(&e, &p)) return 1;
        size_t in_n = pan_engine_input_numel(e, 0, maxb);
        void *din = NULL, *douts[16] = {0};
        cudaMalloc(&din, in_n * 2);
        cudaMemset(din, 0, in_n * 2);
        pan_engine_tensor ti = {din, PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F16, PAN_LAYOUT_NHWC}, to[16];
        for (int k = 0; k < pan_engine_num_outputs(e) && k < 16; k++) {
            cudaMalloc(&douts[k], pan_engine_output_numel(e, k, maxb) * 2);
            to[k] = (pan_engine_tensor){douts[k], PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F16, PAN_LAYOUT_NCHW};
        }
        for (int bi = 0; bi < nb; bi++) {
            for (int w = 0; w < 5; w++) pan_engine_run_tensors(e, batches[bi], &ti, to, s);
            cudaStreamSynchronize(s);
            setenv("PANOPTES_CUDA_PROFILE", "1", 1);
            pan_log_set_level(PAN_LOG_INFO);
            pan_engine_run_tensors(e, batches[bi], &ti, to, s);
            pan_log_set_level(PAN_LOG_WARN);
            unsetenv("PANOPTES_CUDA_PROFILE");
        }
        pan_engine_destroy(&e);
        return 0;
    }
    printf("{\"bench\": \"engine_gpu\", \"model\": \"%s\", \"device\": \"%s\", \"dtype\": \"fp16\", "
           "\"input\": \"device fp16 nhwc\", \"results\": [",
           model, devname);
    int first = 1;
    setenv("PANOPTES_CUDA_GRAPH", "1", 1);
    pan_engine_params p = {.model_path = model, .backend = PAN_BACKEND_CUDA, .max_batch = maxb};
    pan_engine_t *e = NULL;
    if (pan_engine_create(&e, &p)) {
        fprintf(stderr, "bench_engine_gpu: cannot create the engine for %s\n", model);
        return 1;
    }
    double compile_s[MAXB] = {0};
    for (int mode = 1; mode >= 0; mode--) {
        setenv("PANOPTES_CUDA_GRAPH", mode ? "1" : "0", 1);
        int no = pan_engine_num_outputs(e);
        size_t in_n = pan_engine_input_numel(e, 0, maxb);
        uint16_t *h = malloc(in_n * 2);
        uint32_t r = 1;
        for (size_t i = 0; i < in_n; i++) {
            r = r * 1664525u + 1013904223u;
            h[i] = (uint16_t)(0x3800 + ((r >> 20) & 0x3ff)); /* FP16 values in [0.5, 1) */
        }
        void *din = NULL;
        cudaMalloc(&din, in_n * 2);
        cudaMemcpy(din, h, in_n * 2, cudaMemcpyHostToDevice);
        free(h);
        pan_engine_tensor ti = {din, PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F16, PAN_LAYOUT_NHWC};
        pan_engine_tensor to[16];
        void *douts[16] = {0};
        for (int k = 0; k < no && k < 16; k++) {
            cudaMalloc(&douts[k], pan_engine_output_numel(e, k, maxb) * 2);
            to[k] = (pan_engine_tensor){douts[k], PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F16, PAN_LAYOUT_NCHW};
        }
        for (int bi = 0; bi < nb; bi++) {
            int b = batches[bi];
            double t0 = bench_now_s();
            if (pan_engine_prepare(e, b)) {
                fprintf(stderr, "bench_engine_gpu: batch %d does not compile\n", b);
                return 1;
            }
            if (mode) compile_s[bi] = bench_now_s() - t0;
            for (int w = 0; w < 10; w++) pan_engine_run_tensors(e, b, &ti, to, s);
            cudaStreamSynchronize(s);
            /* throughput: calibrate the iteration count to ~seconds */
            cudaEventRecord(e0, s);
            for (int w = 0; w < 5; w++) pan_engine_run_tensors(e, b, &ti, to, s);
            cudaEventRecord(e1, s);
            cudaEventSynchronize(e1);
            float ms5;
            cudaEventElapsedTime(&ms5, e0, e1);
            int iters = (int)(seconds * 1000.0 / (ms5 / 5 + 1e-3));
            if (iters < 10) iters = 10;
            if (iters > 20000) iters = 20000;
            cudaEventRecord(e0, s);
            for (int it = 0; it < iters; it++) {
                pan_status st = pan_engine_run_tensors(e, b, &ti, to, s);
                if (st) {
                    fprintf(stderr, "bench_engine_gpu: run failed: %s\n", pan_status_name(st));
                    return 1;
                }
            }
            cudaEventRecord(e1, s);
            cudaEventSynchronize(e1);
            float ms;
            cudaEventElapsedTime(&ms, e0, e1);
            double batch_ms = ms / iters;
            /* latency: one batch at a time */
            int lat_n = 50;
            float lat[50], hostus[50];
            for (int it = 0; it < lat_n; it++) {
                cudaEventRecord(e0, s);
                double a = bench_now_s();
                pan_engine_run_tensors(e, b, &ti, to, s);
                hostus[it] = (float)((bench_now_s() - a) * 1e6);
                cudaEventRecord(e1, s);
                cudaEventSynchronize(e1);
                cudaEventElapsedTime(&lat[it], e0, e1);
            }
            qsort(lat, (size_t)lat_n, sizeof lat[0], cmp_f);
            qsort(hostus, (size_t)lat_n, sizeof hostus[0], cmp_f);
            printf("%s\n  {\"cuda_graph\": %s, \"batch\": %d, \"images_per_s\": %.1f, \"batch_ms\": %.4f, "
                   "\"latency_ms_p50\": %.4f, \"latency_ms_p90\": %.4f, \"host_us_per_batch\": %.2f, "
                   "\"iterations\": %d, \"compile_s\": %.2f}",
                   first ? "" : ",", mode ? "true" : "false", b, b * 1000.0 / batch_ms, batch_ms, lat[lat_n / 2],
                   lat[lat_n * 9 / 10], hostus[lat_n / 2], iters, compile_s[bi]);
            fflush(stdout);
            first = 0;
        }
        for (int k = 0; k < no && k < 16; k++) cudaFree(douts[k]);
        cudaFree(din);
    }
    pan_engine_destroy(&e);
    printf("\n]}\n");
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaStreamDestroy(s);
    return 0;
}

#else
int main(void)
{
    fprintf(stderr, "bench_engine_gpu: built without CUDA\n");
    return 77;
}
#endif
