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
#include <stdlib.h>
#include <string.h>

#include "panoptes/engine.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        pan_log_set_level(PAN_LOG_QUIET);
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
    return 0;
}
