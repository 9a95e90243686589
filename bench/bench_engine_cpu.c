/* Benchmark: NanoDet-g 416 on the cpu engine backend, and the same model through TF.js (wasm
 * backend, tests/peers/tfjs_run.js) in the same run when the peers are installed.
 *
 *   bench_engine_cpu [--model models/nanodet.json] [--runs N] [--threads T] [--batch B]
 *
 * Prints one JSON object: ms per image (mean, median and best over N runs after 2 warm-ups), process CPU
 * time per image (all threads; what the image costs when the machine is busy), the 1-minute load
 * average (numbers taken under load > cores are not comparable), the planning time, and TF.js wasm ms per image (mean over N runs after its own warm-up, node's
 * start-up and model loading excluded). Input: a fixed pseudo-random tensor (timing does not
 * depend on the values). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "nn/engine.h"
#include "panoptes/log.h"

/* Paths are relative to the source tree: run from the repository root (CMake does not pass the
 * source dir to benchmarks). */
#ifndef PANOPTES_SOURCE_DIR
#define PANOPTES_SOURCE_DIR "."
#endif

static double tfjs_ms(const char *model, const float *input, size_t n, int runs, const char *dims)
{
    char dir[] = "/tmp/panoptes-bench-XXXXXX", path[512], cmd[2048];
    const char *script = PANOPTES_SOURCE_DIR "/tests/peers/tfjs_run.js";
    if (access(PANOPTES_SOURCE_DIR "/tests/peers/node_modules/@tensorflow/tfjs-backend-wasm", F_OK) || !mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/in.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(input, sizeof(float), n, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "node %s %s %s/out %s:%s --repeat %d >/dev/null 2>&1", script, model, dir, path, dims, runs);
    double ms = -1;
    if (system(cmd) == 0) {
        snprintf(path, sizeof path, "%s/out/outputs.json", dir);
        if ((f = fopen(path, "r"))) {
            char buf[8192];
            size_t k = fread(buf, 1, sizeof buf - 1, f);
            buf[k] = 0;
            fclose(f);
            const char *p = strstr(buf, "\"ms\":");
            if (p) ms = atof(p + 5);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    return ms;
}

int main(int argc, char **argv)
{
    const char *model = PANOPTES_SOURCE_DIR "/models/nanodet.json";
    int runs = 10, threads = 0, batch = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    }
    if (runs < 1) runs = 1;
    if (batch < 1) batch = 1;
    pan_log_init();
    double t0 = bench_now_ms();
    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = model, .backend = PAN_BACKEND_CPU, .max_batch = batch, .threads = threads};
    pan_status st = pan_engine_create(&e, &ep);
    if (st) {
        printf("{\"error\": \"%s: %s\"}\n", model, pan_status_str(st));
        return 1;
    }
    if ((st = pan_engine_prepare(e, batch))) {
        printf("{\"error\": \"prepare: %s\"}\n", pan_status_str(st));
        return 1;
    }
    double plan_ms = bench_now_ms() - t0;
    pan_engine_tensor_info ii;
    pan_engine_input_info(e, 0, &ii);
    size_t n_in = pan_engine_input_numel(e, 0, batch);
    float *input = malloc(n_in * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; i < n_in; i++) {
        s = s * 1664525u + 1013904223u;
        input[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    int no = pan_engine_num_outputs(e);
    float **outs = calloc((size_t)no, sizeof *outs);
    for (int i = 0; i < no; i++) outs[i] = malloc(pan_engine_output_numel(e, i, batch) * sizeof(float));
    const float *ins[1] = {input};
    for (int w = 0; w < 2; w++) pan_engine_run(e, batch, ins, outs);
    double total = 0, best = 1e30, c0 = bench_cpu_ms();
    double *times = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        double a = bench_now_ms();
        if ((st = pan_engine_run(e, batch, ins, outs))) {
            printf("{\"error\": \"run: %s\"}\n", pan_status_str(st));
            return 1;
        }
        double d = bench_now_ms() - a;
        times[r] = d;
        total += d;
        if (d < best) best = d;
    }
    double cpu_time = (bench_cpu_ms() - c0) / runs / batch;
    /* median: robust to the stalls of a shared machine */
    for (int i = 1; i < runs; i++)
        for (int k = i; k > 0 && times[k - 1] > times[k]; k--) {
            double t = times[k];
            times[k] = times[k - 1];
            times[k - 1] = t;
        }
    double median = (runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2) / batch;
    free(times);
    char dims[128];
    snprintf(dims, sizeof dims, "%d,%lld,%lld,%lld", batch, (long long)ii.dims[1], (long long)ii.dims[2],
             (long long)ii.dims[3]);
    double tf = tfjs_ms(model, input, n_in, runs, dims);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = -1;
        fclose(lf);
    }
    char tfs[64] = "null", sp[64] = "null";
    double cpu = total / runs / batch;
    if (tf > 0) {
        snprintf(tfs, sizeof tfs, "%.2f", tf);
        snprintf(sp, sizeof sp, "%.2f", tf / cpu);
    }
    printf("{\"bench\": \"engine_cpu\", \"model\": \"%s\", \"input\": [%s], \"batch\": %d, \"runs\": %d, "
           "\"cores\": %ld, \"threads\": %d, \"blas\": \"%s\", \"plan_ms\": %.1f, \"cpu_ms_per_image\": %.2f, "
           "\"cpu_median_ms_per_image\": %.2f, \"cpu_best_ms_per_image\": %.2f, \"cpu_time_ms_per_image\": %.2f, \"load_avg_1min\": %.2f, \"tfjs_wasm_ms_per_image\": %s, \"speedup_vs_tfjs_wasm\": %s}\n",
           model, dims, batch, runs, cores, threads ? threads : (int)(cores > 8 ? 8 : cores),
#ifdef PANOPTES_HAVE_CBLAS
           "openblas",
#else
           "none",
#endif
           plan_ms, cpu, median, best / batch, cpu_time, load, tfs, sp);
    for (int i = 0; i < no; i++) free(outs[i]);
    free(outs);
    free(input);
    pan_engine_destroy(&e);
    return 0;
}
