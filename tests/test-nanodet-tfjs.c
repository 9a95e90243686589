/* NanoDet-g raw outputs: Panoptes' cpu engine vs the model's own runtime, @tensorflow/tfjs
 * (wasm backend, tests/peers/tfjs_run.js), on the same input tensors.
 *
 * Inputs: frames 0, 60 and 120 of data/vtest.mp4 preprocessed by pan_preprocess_cpu exactly as
 * NanoDet wants (416x416 letterbox, BGR, mean/std), run as one batch of 3 (this also checks
 * the dynamic batch: TF.js runs the same batch), plus a seeded random tensor when the footage is
 * missing.
 *
 * Outputs, sorted by name (see src/nn/tfjs_ops.c): Identity, Identity_1, Identity_2 = class
 * scores of strides 8/16/32 ([B, 2704|676|169, 80], after sigmoid); Identity_3/4/5 = box
 * distributions of strides 8/16/32 ([B, N, 44], raw logits).
 *
 * Tolerance: both run FP32 from the same float16-stored weights, so differences are summation
 * order only: max |diff| <= 1e-3 on scores (in [0,1]), <= 1e-2 on logits (|x| up to ~20),
 * and normalised error sum(diff^2)/sum(ref^2) <= 1e-8 on every output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode/decoder.h"
#include "nn/engine.h"
#include "vision/preprocess.h"
#include "io/source.h"
#include "nanodet_frames.h"
#include "test.h"

#define S 416

static int peers_ready(void)
{
    return access(pan_test_path("tests/peers/node_modules/@tensorflow/tfjs-backend-wasm"), F_OK) == 0 &&
           system("node --version >/dev/null 2>&1") == 0;
}


static int write_file(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, bytes, f);
    fclose(f);
    return w == bytes ? 0 : -1;
}

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *d = malloc(n * sizeof(float) + 1);
    size_t r = d ? fread(d, sizeof(float), n + 1, f) : 0;
    fclose(f);
    if (r != n) {
        free(d);
        return NULL;
    }
    return d;
}

PAN_TEST(nanodet_matches_tfjs)
{
    const char *model = pan_test_path("models/nanodet.json");
    if (access(model, F_OK) || access(pan_test_path("models/nanodet.bin"), F_OK))
        PAN_SKIP("models/nanodet.{json,bin} missing (run scripts/setup.sh)");
    if (!peers_ready()) PAN_SKIP_PEER("tests/peers/node_modules missing (cd tests/peers && npm install --ignore-scripts)");

    enum { B = 3 };
    size_t in_n = (size_t)B * 3 * S * S;
    float *input = malloc(in_n * sizeof(float));
    ASSERT_TRUE(input);
    int frames[B] = {0, 60, 120};
    if (!pan_test_nanodet_frames(pan_test_path("data/vtest.mp4"), frames, B, input)) {
        fprintf(stderr, "  data/vtest.mp4 not decodable here: using a seeded random input\n");
        uint32_t s = 12345;
        for (size_t i = 0; i < in_n; i++) {
            s = s * 1664525u + 1013904223u;
            input[i] = ((float)(s >> 8) / 16777216.0f) * 4.0f - 2.0f;
        }
    }

    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = model, .backend = PAN_BACKEND_CPU, .max_batch = B};
    ASSERT_OK(pan_engine_create(&e, &ep));
    ASSERT_EQ(pan_engine_num_inputs(e), 1);
    ASSERT_EQ(pan_engine_num_outputs(e), 6);
    pan_engine_tensor_info ii;
    ASSERT_OK(pan_engine_input_info(e, 0, &ii));
    ASSERT_STREQ(ii.name, "input_1");
    ASSERT_EQ(ii.dims[0], PAN_ENGINE_DIM_BATCH);
    ASSERT_EQ(ii.dims[1], 3);
    ASSERT_EQ(ii.dims[2], S);
    static const char *names[6] = {"Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5"};
    static const int64_t rows[6] = {2704, 676, 169, 2704, 676, 169}, cols[6] = {80, 80, 80, 44, 44, 44};
    float *outs[6] = {0};
    for (int i = 0; i < 6; i++) {
        pan_engine_tensor_info oi;
        ASSERT_OK(pan_engine_output_info(e, i, &oi));
        ASSERT_STREQ(oi.name, names[i]);
        ASSERT_EQ(oi.rank, 3);
        ASSERT_EQ(oi.dims[0], PAN_ENGINE_DIM_BATCH);
        ASSERT_EQ(oi.dims[1], rows[i]);
        ASSERT_EQ(oi.dims[2], cols[i]);
        outs[i] = malloc(pan_engine_output_numel(e, i, B) * sizeof(float));
        ASSERT_TRUE(outs[i]);
    }
    const float *ins[1] = {input};
    ASSERT_OK(pan_engine_run(e, B, ins, outs));

    char dir[] = "/tmp/panoptes-nanodet-XXXXXX", path[512], cmd[2048];
    ASSERT_TRUE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/input.bin", dir);
    ASSERT_EQ(write_file(path, input, in_n * sizeof(float)), 0);
    snprintf(cmd, sizeof cmd, "node %s %s %s/out %s:%d,3,%d,%d", pan_test_path("tests/peers/tfjs_run.js"), model, dir,
             path, B, S, S);
    ASSERT_EQ(system(cmd), 0);
    for (int i = 0; i < 6; i++) {
        size_t n = (size_t)B * (size_t)rows[i] * (size_t)cols[i];
        snprintf(path, sizeof path, "%s/out/%d.bin", dir, i);
        float *ref = read_floats(path, n);
        ASSERT_TRUE(ref);
        double max_abs = 0, num = 0, den = 0;
        for (size_t k = 0; k < n; k++) {
            double d = (double)outs[i][k] - ref[k];
            if (!(fabs(d) <= max_abs)) max_abs = fabs(d); /* NaN propagates */
            num += d * d;
            den += (double)ref[k] * ref[k];
        }
        double nmse = den > 0 ? num / den : num;
        fprintf(stderr, "  %-10s [%d,%lld,%lld] max|diff| %.3g  nmse %.3g\n", names[i], B, (long long)rows[i],
                (long long)cols[i], max_abs, nmse);
        free(ref);
        ASSERT_LE(max_abs, i < 3 ? 1e-3 : 1e-2);
        ASSERT_LE(nmse, 1e-8);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir);
    for (int i = 0; i < 6; i++) free(outs[i]);
    free(input);
    pan_engine_destroy(&e);
    ASSERT_TRUE(e == NULL);
}

PAN_TEST_MAIN(nanodet_matches_tfjs)
