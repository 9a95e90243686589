/* The detector families' models and ops through the engine's cpu backend vs ONNX Runtime (CPU).
 *
 * tests/models/make_detector_families.py (Debian python3-onnx) writes one small model per new
 * engine op (TopK, GatherElements, ArgMax/Min, ReduceSum/Max/Min, LayerNormalization, Where,
 * comparisons and logic, Erf, Gelu, Floor, Ceil, Mod, Tile, GridSample, Einsum, MatMul and Gemm of
 * two activations, Softmax on inner axes, run-time Gather) and one model per family in its real
 * layout and op pattern at 128×128 (YOLOv5, YOLOX raw and decoded, YOLOv8 transposed, YOLO11 with
 * attention, YOLOv10 end to end, RT-DETR with deformable attention, one and split outputs), all
 * with a dynamic batch, run at batch 1 and 3; tests/peers/ort_run.js runs them with
 * onnxruntime-node. Tolerances as tests/test-onnx-ort.c (FP32 on both sides):
 *   NMSE <= 1e-9 for the op models, 1e-8 for the family models; max |d| <= 1e-3·max(1, max|ort|).
 * Skips (77) without python3-onnx, node or onnxruntime-node (fails under CI=true). */
#include <unistd.h>

#include "ort_manifest.h"
#include "test.h"

static double tolerance(const char *model, int *print)
{
    int op = !strncmp(model, "op_", 3);
    *print = !op;
    return op ? 1e-9 : 1e-8;
}

PAN_TEST(families_and_ops_match_onnxruntime)
{
    if (system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1"))
        PAN_SKIP_PEER("python3 with the onnx module (Debian python3-onnx) not found");
    if (access(pan_test_path("tests/peers/node_modules/onnxruntime-node/package.json"), R_OK) ||
        system("node --version >/dev/null 2>&1"))
        PAN_SKIP_PEER("node or tests/peers/node_modules/onnxruntime-node missing: cd tests/peers && npm install --ignore-scripts");
    char dir[] = "/tmp/panoptes-families-ort-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --batches 1,3", pan_test_path("tests/models/make_detector_families.py"), dir);
    ASSERT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "node '%s' '%s/manifest.json'", pan_test_path("tests/peers/ort_run.js"), dir);
    ASSERT_EQ(system(cmd), 0);
    int checked = 0, failures = ortm_compare_dir(dir, tolerance, &checked);
    fprintf(stderr, "  %d outputs compared with ONNX Runtime, %d failures\n", checked, failures);
    ASSERT_EQ(failures, 0);
    ASSERT_GE(checked, 100);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

PAN_TEST_MAIN(families_and_ops_match_onnxruntime)
