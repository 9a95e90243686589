/* libFuzzer target: the TF.js importer, shape inference, passes, memory plan and (for small
 * graphs) the cpu kernels, on arbitrary bytes.
 *
 * Input: model.json text, then optionally a NUL byte and the weight bytes (all manifest groups
 * concatenated), as pan__tfjs_import_memory takes them.
 *
 *   CC=clang CFLAGS=-fsanitize=fuzzer-no-link cmake -S . -B build-fuzz-tfjs -G Ninja \
 *       -DPANOPTES_CUDA=OFF -DPANOPTES_FUZZ=ON -DPANOPTES_SANITIZE=ON
 *   ninja -C build-fuzz-tfjs fuzz-tfjs
 *   build-fuzz-tfjs/fuzz-tfjs -max_total_time=300 -max_len=16384 -rss_limit_mb=2048 \
 *       /tmp/corpus-tfjs tests/fuzz/corpus-tfjs
 * (CFLAGS=-fsanitize=fuzzer-no-link gives the library coverage instrumentation; without it only
 * this file is instrumented and the fuzzer runs blind.) The seeds in tests/fuzz/corpus-tfjs are
 * made by tests/fuzz/make_tfjs_corpus.py; tests/test-tfjs-malformed.c keeps hand-made cases. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/engine.h"
#include "panoptes/log.h"

/* Internal entry points (src/nn/ir.h, nn_backend.h), declared here because fuzz targets are
 * built with the public include path only. Types are opaque here. */
typedef struct pan_graph pan_graph;
typedef struct pan_nn_backend pan_nn_backend;
int pan__tfjs_import_memory(const char *json, size_t json_len, const void *weights, size_t weights_len,
                            const char *source, pan_graph **g);
int pan__graph_clone(const pan_graph *g, pan_graph **out);
int pan__graph_infer_shapes(pan_graph *g, int batch);
int pan__passes_run_all(pan_graph *g);
int pan__graph_plan_memory(pan_graph *g, size_t float_bytes, size_t align, size_t *arena_bytes);
void pan__graph_destroy(pan_graph **g);

/* Graphs that import are also run through the public engine on the cpu backend (files in
 * /dev/shm, batch 1, zero input), when their inputs and outputs are small: kernels must survive
 * whatever shapes inference let through. */
static char dir[64];

static int write_file(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static void run_engine(const uint8_t *json, size_t json_len, const uint8_t *w, size_t wlen)
{
    char path[128];
    /* every manifest path resolves beside model.json; the fuzzer's paths become this one file */
    if (write_file("model.json", json, json_len) || write_file("w.bin", w ? (const void *)w : "", wlen)) return;
    snprintf(path, sizeof path, "%s/model.json", dir);
    pan_engine_t *e = NULL;
    pan_engine_params p = {.model_path = path, .backend = PAN_BACKEND_CPU, .threads = 1};
    if (pan_engine_create(&e, &p)) return;
    int ni = pan_engine_num_inputs(e), no = pan_engine_num_outputs(e);
    size_t total = 0;
    for (int i = 0; i < ni; i++) total += pan_engine_input_numel(e, i, 1);
    for (int i = 0; i < no; i++) total += pan_engine_output_numel(e, i, 1);
    if (ni <= 8 && no <= 8 && total <= ((size_t)1 << 20)) {
        float *in[8] = {0}, *out[8] = {0};
        int ok = 1;
        for (int i = 0; i < ni; i++) ok &= (in[i] = calloc(pan_engine_input_numel(e, i, 1) + 1, sizeof(float))) != NULL;
        for (int i = 0; i < no; i++) ok &= (out[i] = calloc(pan_engine_output_numel(e, i, 1) + 1, sizeof(float))) != NULL;
        if (ok) pan_engine_run(e, 1, (const float *const *)in, out);
        for (int i = 0; i < 8; i++) {
            free(in[i]);
            free(out[i]);
        }
    }
    pan_engine_destroy(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        pan_log_set_level(PAN_LOG_QUIET);
        setenv("PANOPTES_ENGINE_MAX_ARENA_MB", "32", 1); /* keeps units fast under ASan */
        snprintf(dir, sizeof dir, "/dev/shm/fuzz-tfjs-%d", (int)getpid());
        if (mkdir(dir, 0700) && access(dir, F_OK)) dir[0] = 0;
        init = 1;
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *w = nul ? nul + 1 : NULL;
    size_t wlen = nul ? size - json_len - 1 : 0;
    pan_graph *g = NULL;
    if (pan__tfjs_import_memory((const char *)data, json_len, w, wlen, "fuzz.json", &g) != 0) return 0;
    for (int batch = 1; batch <= 2; batch++) {
        pan_graph *c = NULL;
        size_t arena = 0;
        if (pan__graph_clone(g, &c) == 0 && pan__graph_infer_shapes(c, batch) == 0 && pan__passes_run_all(c) == 0)
            pan__graph_plan_memory(c, 4, 64, &arena);
        pan__graph_destroy(&c);
    }
    pan__graph_destroy(&g);
    if (dir[0]) run_engine(data, json_len, w, wlen);
    return 0;
}
