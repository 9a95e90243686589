/* libFuzzer target: the ONNX importer and shape inference on arbitrary bytes.
 *
 *   CC=clang cmake -S . -B build-fuzz -G Ninja -DPANOPTES_CUDA=OFF -DPANOPTES_FUZZ=ON -DPANOPTES_SANITIZE=ON
 *   ninja -C build-fuzz fuzz-onnx
 *   build-fuzz/fuzz-onnx -max_total_time=300 -max_len=8192 /tmp/corpus tests/fuzz/corpus-onnx
 *
 * Anything the importer accepts is also shape-inferred (with constant folding) for batch 2, so
 * hostile constants reach the folding kernels too. The target only checks for crashes, leaks,
 * hangs and sanitizer reports; tests/test-onnx-malformed.c replays the kept corpus in ctest. */
#include <stddef.h>
#include <stdint.h>

#include "panoptes/log.h"

/* Internal entry points (src/nn/onnx.h, src/nn/ir.h), declared here because fuzz targets are
 * built with the public include path only. */
typedef struct pan_graph pan_graph;
int pan__onnx_import_memory(const void *data, size_t size, const char *source, pan_graph **g);
int pan__graph_infer_shapes(pan_graph *g, int batch);
void pan__graph_destroy(pan_graph **g);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        pan_log_set_level(PAN_LOG_QUIET);
        init = 1;
    }
    pan_graph *g = NULL;
    if (pan__onnx_import_memory(data, size, "fuzz.onnx", &g) == 0) {
        pan__graph_infer_shapes(g, 2);
        pan__graph_destroy(&g);
    }
    return 0;
}
