/* Benchmark: the cpu engine against the model's own reference runtime, in turns within one run:
 * ONNX Runtime (onnxruntime-node, CPU provider) for the ONNX models, TF.js wasm for NanoDet-g.
 *
 *   bench_engine_ort [--models yolov8n:1,osnet_x0_25:8,osnet_x1_0:8,nanodet:1] [--threads 2]
 *                    [--rounds 5] [--runs 3] [--dir DIR]
 *
 * Models: yolov8n = YOLOv8n-shaped detector at 640 (tests/peers/make_onnx_models.py yolov8n_like),
 * osnet_x0_25 / osnet_x1_0 = OSNet-shaped ReID at 256x128 (tests/peers/make_osnet.py), all with random
 * weights (the same layers and FLOPs as the real networks), generated into DIR (default: a temporary
 * folder) by Debian's python3-onnx; nanodet = models/nanodet.json. ":B" is the batch.
 *
 * The peer is a node process kept running (tests/peers/peer_bench.js): after both have warmed up,
 * each round runs our engine `runs` times and then the peer `runs` times (the order alternates
 * between rounds), so both see the same load on a shared machine. Threads: ours --threads; ORT
 * intraOpNumThreads --threads; TF.js wasm has one thread in Node (no multithread build there).
 *
 * Prints one JSON object: per model the median and best ms per batch of each side over all runs,
 * the ratio peer_ms / ours_ms from the medians (> 1: ours is faster), its spread over the rounds
 * (each round's ratio of medians), the CPU time per batch of each side (all its threads: the work,
 * whatever else the machine runs; ORT's spinning workers count too), the largest absolute
 * difference between the two outputs (a check that the fast path computes the same thing), and
 * the 1-minute load average before and after. Run it from the repository root. */
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "nn/engine.h"
#include "panoptes/log.h"

#define MAX_MODELS 8
#define MAX_SAMPLES 4096

typedef struct peer {
    pid_t pid;
    FILE *to, *from;
} peer;

static double load_avg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0) return -1;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int peer_start(peer *p, const char *kind, const char *model, const char *input, const char *dims, int threads,
                      const char *outdir)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    char th[16];
    snprintf(th, sizeof th, "%d", threads);
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("node", "node", "tests/peers/peer_bench.js", kind, model, input, dims, th, outdir, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    return p->to && p->from ? 0 : -1;
}

static json_t *peer_line(peer *p)
{
    static char line[1 << 20];
    if (!fgets(line, sizeof line, p->from)) return NULL;
    return json_loads(line, 0, NULL);
}

static void peer_stop(peer *p)
{
    if (p->to) {
        fprintf(p->to, "quit\n");
        fclose(p->to);
    }
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
    memset(p, 0, sizeof *p);
}

static float *read_f32(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof(float) + 1);
    if (v && fread(v, sizeof(float), n, f) != n) {
        free(v);
        v = NULL;
    }
    fclose(f);
    return v;
}

/* One model: engine and peer side by side. Prints its JSON object (no trailing newline). */
static int bench_model(const char *name, int batch, const char *dir, int threads, int rounds, int runs, int first)
{
    char model[1024], tmp[] = "/tmp/panoptes-bench-ort-XXXXXX", input_path[1100], dims[128];
    int tfjs = !strcmp(name, "nanodet");
    if (tfjs) snprintf(model, sizeof model, "models/nanodet.json");
    else snprintf(model, sizeof model, "%s/%s.onnx", dir, !strcmp(name, "yolov8n") ? "yolov8n_like" : name);
    printf("%s\n  {\"model\": \"%s\", \"file\": \"%s\", \"batch\": %d", first ? "" : ",", name, model, batch);
    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = model, .backend = PAN_BACKEND_CPU, .max_batch = batch, .threads = threads};
    double t0 = bench_now_ms();
    if (pan_engine_create(&e, &ep) || pan_engine_prepare(e, batch)) {
        printf(", \"error\": \"cannot load or plan %s (see the log)\"}", model);
        pan_engine_destroy(&e);
        return -1;
    }
    double plan_ms = bench_now_ms() - t0;
    pan_engine_tensor_info ii;
    pan_engine_input_info(e, 0, &ii);
    size_t n_in = pan_engine_input_numel(e, 0, batch);
    float *input = malloc(n_in * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; i < n_in; i++) { /* fixed pseudo-random values in [0, 1): an image's range */
        s = s * 1664525u + 1013904223u;
        input[i] = (float)(s >> 8) / 16777216.0f;
    }
    int no = pan_engine_num_outputs(e);
    float **outs = calloc((size_t)no, sizeof *outs);
    size_t *out_n = calloc((size_t)no, sizeof *out_n);
    for (int i = 0; i < no; i++) {
        out_n[i] = pan_engine_output_numel(e, i, batch);
        outs[i] = malloc(out_n[i] * sizeof(float) + 1);
    }
    const float *ins[1] = {input};
    if (!mkdtemp(tmp)) return -1;
    snprintf(input_path, sizeof input_path, "%s/input.bin", tmp);
    FILE *f = fopen(input_path, "wb");
    if (f) {
        fwrite(input, sizeof(float), n_in, f);
        fclose(f);
    }
    snprintf(dims, sizeof dims, "%d,%lld,%lld,%lld", batch, (long long)ii.dims[1], (long long)ii.dims[2],
             (long long)ii.dims[3]);
    peer p = {0};
    json_t *ready = NULL;
    char outdir[1100];
    snprintf(outdir, sizeof outdir, "%s/peer", tmp);
    if (peer_start(&p, tfjs ? "tfjs" : "ort", model, input_path, dims, threads, outdir) || !(ready = peer_line(&p)) ||
        !json_is_true(json_object_get(ready, "ready"))) {
        printf(", \"error\": \"the peer (node tests/peers/peer_bench.js) did not start: are tests/peers/node_modules "
               "installed (scripts/setup.sh)?\"}");
        json_decref(ready);
        peer_stop(&p);
        pan_engine_destroy(&e);
        return -1;
    }
    /* agreement: every output of ours against the peer's (same order: see peer_bench.js) */
    for (int w = 0; w < 2; w++) pan_engine_run(e, batch, ins, outs);
    double max_diff = 0, max_ref = 0;
    int compared = 0;
    for (int i = 0; i < no; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%d.bin", outdir, i);
        size_t n = tfjs ? out_n[i] / (size_t)batch : out_n[i];
        float *ref = read_f32(path, n);
        if (!ref) continue;
        compared++;
        for (size_t k = 0; k < n; k++) {
            double d = outs[i][k] - ref[k];
            if (d < 0) d = -d;
            if (d > max_diff || d != d) max_diff = d;
            if (ref[k] > max_ref || -ref[k] > max_ref) max_ref = ref[k] > 0 ? ref[k] : -ref[k];
        }
        free(ref);
    }
    double load0 = load_avg();
    double *ours = calloc((size_t)rounds * (size_t)runs, sizeof(double));
    double *theirs = calloc((size_t)rounds * (size_t)runs, sizeof(double));
    double *ratio = calloc((size_t)rounds, sizeof(double));
    double *tmpv = calloc((size_t)runs, sizeof(double));
    int n_ours = 0, n_theirs = 0, ok = 1;
    double cpu_ours = 0, cpu_theirs = 0; /* CPU ms (all threads) over the timed runs of each side */
    { /* the peer's warm-up runs (its first run was the one that wrote the outputs) */
        fprintf(p.to, "run 1\n");
        fflush(p.to);
        json_decref(peer_line(&p));
    }
    for (int r = 0; r < rounds && ok; r++) {
        double om = -1, pm = -1;
        for (int side = 0; side < 2 && ok; side++) {
            int do_ours = (side == 0) == (r % 2 == 0);
            if (do_ours) {
                double c0 = bench_cpu_ms();
                for (int k = 0; k < runs; k++) {
                    double a = bench_now_ms();
                    if (pan_engine_run(e, batch, ins, outs)) ok = 0;
                    tmpv[k] = ours[n_ours++] = bench_now_ms() - a;
                }
                cpu_ours += bench_cpu_ms() - c0;
                om = median(tmpv, runs);
            } else {
                fprintf(p.to, "run %d\n", runs);
                fflush(p.to);
                json_t *j = peer_line(&p), *ms = json_object_get(j, "ms");
                if (!json_is_array(ms) || (int)json_array_size(ms) != runs) ok = 0;
                for (int k = 0; ok && k < runs; k++) tmpv[k] = theirs[n_theirs++] = json_number_value(json_array_get(ms, (size_t)k));
                pm = ok ? median(tmpv, runs) : -1;
                cpu_theirs += json_number_value(json_object_get(j, "cpu_ms"));
                json_decref(j);
            }
        }
        if (ok) ratio[r] = pm / om;
    }
    double load1 = load_avg();
    if (!ok) {
        printf(", \"error\": \"a run failed\"}");
    } else {
        double best_o = 1e30, best_p = 1e30;
        for (int i = 0; i < n_ours; i++) best_o = ours[i] < best_o ? ours[i] : best_o;
        for (int i = 0; i < n_theirs; i++) best_p = theirs[i] < best_p ? theirs[i] : best_p;
        double mo = median(ours, n_ours), mp = median(theirs, n_theirs);
        printf(", \"peer\": \"%s\", \"threads\": %d, \"peer_threads\": %d, \"plan_ms\": %.0f, \"rounds\": %d, "
               "\"runs_per_round\": %d, \"ours_ms\": %.2f, \"ours_best_ms\": %.2f, \"peer_ms\": %.2f, \"peer_best_ms\": %.2f, "
               "\"ours_ms_per_image\": %.2f, \"peer_ms_per_image\": %.2f, \"ratio\": %.3f, \"ratio_rounds\": [",
               json_string_value(json_object_get(ready, "version")), threads, tfjs ? 1 : threads, plan_ms, rounds, runs,
               mo, best_o, mp, best_p, mo / batch, mp / batch, mp / mo);
        for (int r = 0; r < rounds; r++) printf("%s%.3f", r ? ", " : "", ratio[r]);
        double rmed = median(ratio, rounds); /* sorts ratio[] */
        printf("], \"ratio_round_median\": %.3f, \"ratio_min\": %.3f, \"ratio_max\": %.3f, \"ours_cpu_ms\": %.2f, "
               "\"peer_cpu_ms\": %.2f, \"outputs_compared\": %d, \"max_abs_diff\": %.3g, \"peer_max_abs\": %.3g, "
               "\"load_avg_1min_before\": %.2f, "
               "\"load_avg_1min_after\": %.2f}",
               rmed, ratio[0], ratio[rounds - 1], cpu_ours / n_ours, cpu_theirs / n_theirs, compared, max_diff, max_ref,
               load0, load1);
    }
    free(ours);
    free(theirs);
    free(ratio);
    free(tmpv);
    json_decref(ready);
    peer_stop(&p);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) {
    }
    for (int i = 0; i < no; i++) free(outs[i]);
    free(outs);
    free(out_n);
    free(input);
    pan_engine_destroy(&e);
    fflush(stdout);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *models = "yolov8n:1,osnet_x0_25:8,osnet_x1_0:8,nanodet:1", *dir = NULL;
    int threads = 2, rounds = 5, runs = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--models")) models = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (threads < 1) threads = 1;
    if (rounds < 1) rounds = 1;
    if (runs < 1) runs = 1;
    if ((long)rounds * runs > MAX_SAMPLES) runs = MAX_SAMPLES / rounds;
    signal(SIGPIPE, SIG_IGN);
    pan_log_init();
    if (!getenv("PANOPTES_LOG")) pan_log_set_level(PAN_LOG_WARN); /* stdout is the JSON; keep stderr quiet */
    char gen[] = "/tmp/panoptes-bench-models-XXXXXX";
    if (!dir) {
        if (!mkdtemp(gen)) return 1;
        dir = gen;
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 tests/peers/make_onnx_models.py '%s' --only yolov8n_like --batches 1 --yolo-size 640 "
                 ">/dev/null && /usr/bin/python3 tests/peers/make_osnet.py '%s' >/dev/null",
                 dir, dir);
        if (system(cmd)) {
            printf("{\"bench\": \"engine_ort\", \"error\": \"model generation failed (Debian python3-onnx, "
                   "tests/peers/make_*.py)\"}\n");
            return 1;
        }
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("{\"bench\": \"engine_ort\", \"cores\": %ld, \"threads\": %d, \"blas\": \"%s\", \"models\": [", cores, threads,
#ifdef PANOPTES_HAVE_CBLAS
           "openblas"
#else
           "none"
#endif
    );
    int first = 1, failed = 0;
    char list[512];
    snprintf(list, sizeof list, "%s", models);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        int batch = colon ? atoi(colon + 1) : 1;
        if (colon) *colon = 0;
        if (bench_model(tok, batch < 1 ? 1 : batch, dir, threads, rounds, runs, first)) failed = 1;
        first = 0;
    }
    printf("\n]}\n");
    if (dir == gen) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", gen);
        if (system(cmd)) {
        }
    }
    return failed;
}
