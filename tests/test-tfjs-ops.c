/* TF.js importer semantics against TF.js itself: every small model of tests/fuzz/corpus-tfjs
 * (made by tests/fuzz/make_tfjs_corpus.py: NHWC Conv2D with SAME/VALID/EXPLICIT padding, float16
 * weights, BiasAdd, _FusedConv2D, DepthwiseConv2dNative, Pad/PadV2, MaxPool/AvgPool SAME,
 * ConcatV2, ResizeBilinear half-pixel, ResizeNearestNeighbor align-corners, SplitV with -1,
 * SparseToDense + Reshape, Relu6, Softmax, FusedBatchNormV3, Mean, Squeeze, MatMul (plain and
 * transposed), GatherV2, Pack, ExpandDims) runs on the cpu engine and on @tensorflow/tfjs (wasm,
 * tests/peers/tfjs_run.js) with the same seeded input; outputs are matched by name.
 * Tolerance: |diff| <= 1e-4 * (1 + |ref|) per element (FP32 both sides, different summation order). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/engine.h"
#include "test.h"

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

PAN_TEST(corpus_models_match_tfjs)
{
    if (access(pan_test_path("tests/peers/node_modules/@tensorflow/tfjs-backend-wasm"), F_OK) ||
        system("node --version >/dev/null 2>&1"))
        PAN_SKIP_PEER("tests/peers/node_modules missing (cd tests/peers && npm install --ignore-scripts)");
    static const char *models[] = {"conv", "nanodet-mini", "misc", "more"};
    char dir[] = "/tmp/panoptes-tfjs-ops-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char path[512], cmd[2048];
        snprintf(path, sizeof path, "tests/fuzz/corpus-tfjs/%s", models[m]);
        FILE *f = fopen(pan_test_path(path), "rb");
        ASSERT_TRUE(f);
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char *nul = memchr(buf, 0, n);
        ASSERT_TRUE(nul);
        char mj[512], wb[512], in[512];
        snprintf(mj, sizeof mj, "%s/%s.json", dir, models[m]);
        snprintf(wb, sizeof wb, "%s/w.bin", dir);
        ASSERT_EQ(write_file(mj, buf, (size_t)(nul - buf)), 0);
        ASSERT_EQ(write_file(wb, nul + 1, n - (size_t)(nul - buf) - 1), 0);

        pan_engine_t *e = NULL;
        pan_engine_params p = {.model_path = mj, .backend = PAN_BACKEND_CPU};
        ASSERT_OK(pan_engine_create(&e, &p));
        pan_engine_tensor_info ii;
        ASSERT_OK(pan_engine_input_info(e, 0, &ii));
        size_t ni = pan_engine_input_numel(e, 0, 1);
        float *x = malloc(ni * sizeof(float));
        uint32_t s = 99 + (uint32_t)m;
        for (size_t i = 0; i < ni; i++) {
            s = s * 1664525u + 1013904223u;
            x[i] = (float)(s >> 8) / 16777216.0f * 4 - 2;
        }
        int no = pan_engine_num_outputs(e);
        float *outs[8];
        ASSERT_LE(no, 8);
        for (int i = 0; i < no; i++) outs[i] = malloc(pan_engine_output_numel(e, i, 1) * sizeof(float) + 4);
        ASSERT_OK(pan_engine_run(e, 1, (const float *const[]){x}, outs));

        snprintf(in, sizeof in, "%s/in.bin", dir);
        ASSERT_EQ(write_file(in, x, ni * sizeof(float)), 0);
        char dims[128] = "";
        size_t k = 0;
        for (int d = 0; d < ii.rank; d++)
            k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", d ? "," : "", d ? (long long)ii.dims[d] : 1LL);
        snprintf(cmd, sizeof cmd, "node %s %s %s/out-%s %s:%s > %s/node.log 2>&1 || (cat %s/node.log; exit 1)",
                 pan_test_path("tests/peers/tfjs_run.js"), mj, dir, models[m], in, dims, dir, dir);
        ASSERT_EQ(system(cmd), 0);
        snprintf(path, sizeof path, "%s/out-%s/outputs.json", dir, models[m]);
        json_error_t err;
        json_t *meta = json_load_file(path, 0, &err);
        ASSERT_TRUE(meta);
        json_t *list = json_object_get(meta, "outputs");
        ASSERT_EQ(json_array_size(list), no);
        for (size_t j = 0; j < json_array_size(list); j++) {
            const char *name = json_string_value(json_object_get(json_array_get(list, j), "name"));
            int oi = pan_engine_find_output(e, name);
            ASSERT_TRUE(oi >= 0);
            size_t cnt = pan_engine_output_numel(e, oi, 1);
            snprintf(path, sizeof path, "%s/out-%s/%zu.bin", dir, models[m], j);
            FILE *rf = fopen(path, "rb");
            ASSERT_TRUE(rf);
            float *ref = malloc(cnt * sizeof(float) + 4);
            size_t got = fread(ref, sizeof(float), cnt + 1, rf);
            fclose(rf);
            ASSERT_EQ(got, cnt);
            double worst = 0;
            for (size_t q = 0; q < cnt; q++) {
                double d = fabs((double)outs[oi][q] - ref[q]) / (1 + fabs(ref[q]));
                if (!(d <= worst)) worst = d;
            }
            fprintf(stderr, "  %-13s %-12s %6zu values, max rel diff %.3g\n", models[m], name, cnt, worst);
            free(ref);
            ASSERT_LE(worst, 1e-4);
        }
        json_decref(meta);
        for (int i = 0; i < no; i++) free(outs[i]);
        free(x);
        pan_engine_destroy(&e);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir);
}

PAN_TEST_MAIN(corpus_models_match_tfjs)
