/* pan_reid with the generated OSNet-like ReID model (tests/peers/make_onnx_models.py, 256x128 in,
 * 512-d out) on the cpu backend vs ONNX Runtime on the same crops.
 *
 * The crops are cut from real frames of data/vtest.mp4 with pan_roi_crop_cpu (torchreid
 * normalisation, stretch, NCHW), written as one batch for tests/peers/ort_run.js; ORT's raw
 * outputs are L2-normalised here and compared with the embeddings pan_reid_embed attached to the
 * detections (7 crops: run by pan_reid as engine batches 4 + 2 + 1). Tolerances (FP32 on both
 * sides, only the order of summation differs): per embedding cosine >= 1 − 1e-6 and
 * max |ours − ort| <= 1e-4. Also: detections under min_score get no embedding.
 * Skips (77) when /usr/bin/python3 lacks onnx, or node / tests/peers/node_modules is missing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gpu_media.h"
#include "vision/reid.h"
#include "panoptes/status.h"
#include "test.h"

#define NC 7

typedef struct grab {
    pan_frame *f[2];
    int got;
} grab;

static int keep(pan_frame *f, void *opaque)
{
    grab *g = opaque;
    if (f->index == 0 || f->index == 120) g->f[g->got++] = pan_frame_ref(f);
    return g->got == 2;
}

static float *read_bin(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof(float));
    size_t got = v ? fread(v, sizeof(float), n, f) : 0;
    fclose(f);
    if (got != n) {
        free(v);
        return NULL;
    }
    return v;
}

PAN_TEST(reid_cpu_matches_onnxruntime)
{
    if (system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1"))
        PAN_SKIP_PEER("/usr/bin/python3 with the onnx module (Debian python3-onnx) not found");
    if (access(pan_test_path("tests/peers/node_modules/onnxruntime-node/package.json"), R_OK) ||
        system("node --version >/dev/null 2>&1"))
        PAN_SKIP_PEER("node or tests/peers/node_modules/onnxruntime-node missing: cd tests/peers && npm install --ignore-scripts");
    const char *vt = pan_test_data("vtest.mp4");
    if (!vt) PAN_SKIP("data/vtest.mp4 missing (run scripts/setup.sh)");
    grab g = {{0}, 0};
    ASSERT_GE(pan_test_decode(vt, PAN_DECODER_CPU, 130, keep, &g, NULL), 2);
    ASSERT_EQ(g.got, 2);
    ASSERT_EQ(g.f[0]->memory, PAN_MEMORY_HOST);

    char dir[] = "/tmp/panoptes-reid-ort-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char cmd[4096], path[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --only osnet_like --batches 1 >/dev/null",
             pan_test_path("tests/peers/make_onnx_models.py"), dir);
    ASSERT_EQ(system(cmd), 0);

    /* detections: 4 in frame 0, 3 in frame 120 (people-sized, one across the edge), plus one
     * low-score detection in each that must get no embedding */
    static const float boxes[NC][4] = {{640.0f, 238.3f, 684.5f, 323.9f}, {252.8f, 220.1f, 281.9f, 309.8f},
                                       {500.8f, 156.0f, 528.9f, 232.9f}, {-10.f, 300.f, 40.f, 420.f},
                                       {100.f, 200.f, 141.f, 310.f},     {400.f, 100.f, 431.f, 190.f},
                                       {700.f, 480.f, 790.f, 600.f}};
    pan_detection_list lists[2];
    memset(lists, 0, sizeof lists);
    for (int i = 0; i < 2; i++) ASSERT_OK(pan_detection_list_reserve(&lists[i], 5));
    for (int c = 0; c < NC; c++) {
        pan_detection_list *l = &lists[c < 4 ? 0 : 1];
        l->items[l->count++] = (pan_detection){{boxes[c][0], boxes[c][1], boxes[c][2], boxes[c][3]}, 0.9f, 0, NULL, 0};
    }
    for (int i = 0; i < 2; i++) lists[i].items[lists[i].count++] = (pan_detection){{10, 10, 50, 100}, 0.2f, 0, NULL, 0};

    pan_reid *r = NULL;
    snprintf(path, sizeof path, "%s/osnet_like.onnx", dir);
    pan_reid_params rp = {.model_path = path, .backend = PAN_BACKEND_CPU, .max_crops = 16, .min_score = 0.5f};
    ASSERT_OK(pan_reid_create(&r, &rp));
    int cw, ch;
    pan_reid_crop_size(r, &cw, &ch);
    ASSERT_EQ(cw, 128);
    ASSERT_EQ(ch, 256);
    const int D = pan_reid_dim(r);
    ASSERT_EQ(D, 512);
    ASSERT_OK(pan_reid_embed(r, g.f, 2, lists));

    /* the same crops for ORT, one batch of NC */
    pan_roi_params rop = pan_roi_params_torchreid(cw, ch);
    size_t per = (size_t)3 * cw * ch;
    float *crops = malloc(per * NC * sizeof(float));
    ASSERT_TRUE(crops != NULL);
    for (int c = 0; c < NC; c++) ASSERT_OK(pan_roi_crop_cpu(g.f[c < 4 ? 0 : 1], boxes[c], &rop, crops + (size_t)c * per));
    snprintf(path, sizeof path, "%s/crops.bin", dir);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fwrite(crops, sizeof(float), per * NC, f), per * NC);
    fclose(f);
    snprintf(path, sizeof path, "%s/reid.json", dir);
    f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fprintf(f, "[{\"model\": \"osnet_like.onnx\", \"inputs\": [{\"name\": \"input\", \"file\": \"crops.bin\", \"dims\": [%d, 3, %d, %d]}],"
               " \"outputs\": [{\"name\": \"embedding\", \"file\": \"emb.ort.bin\"}], \"split_batch\": false}]\n",
            NC, ch, cw);
    fclose(f);
    snprintf(cmd, sizeof cmd, "node '%s' '%s'", pan_test_path("tests/peers/ort_run.js"), path);
    ASSERT_EQ(system(cmd), 0);
    snprintf(path, sizeof path, "%s/emb.ort.bin", dir);
    float *ort = read_bin(path, (size_t)NC * D);
    ASSERT_TRUE(ort != NULL);

    double worst_cos = 1, worst_abs = 0;
    for (int c = 0; c < NC; c++) {
        const pan_detection *d = &lists[c < 4 ? 0 : 1].items[c < 4 ? c : c - 4];
        ASSERT_TRUE(d->embedding != NULL);
        ASSERT_EQ(d->embedding_dim, D);
        const float *o = ort + (size_t)c * D;
        double n2 = 0, dot = 0;
        for (int k = 0; k < D; k++) n2 += (double)o[k] * o[k];
        ASSERT_TRUE(n2 > 0);
        double inv = 1.0 / sqrt(n2);
        for (int k = 0; k < D; k++) {
            dot += d->embedding[k] * o[k] * inv;
            worst_abs = fmax(worst_abs, fabs(d->embedding[k] - o[k] * inv));
        }
        worst_cos = fmin(worst_cos, dot);
    }
    fprintf(stderr, "  %d crops, %d-d: worst cosine to ORT %.9f, max |ours - ort| %.3g\n", NC, D, worst_cos, worst_abs);
    ASSERT_GE(worst_cos, 1.0 - 1e-6);
    ASSERT_LE(worst_abs, 1e-4);
    /* the low-score detections were left alone */
    ASSERT_TRUE(lists[0].items[4].embedding == NULL);
    ASSERT_TRUE(lists[1].items[3].embedding == NULL);
    /* two different people are not the same vector (the model is random, but not constant) */
    double dot01 = 0;
    for (int k = 0; k < D; k++) dot01 += lists[0].items[0].embedding[k] * lists[0].items[1].embedding[k];
    ASSERT_LE(dot01, 0.99999);

    pan_reid_destroy(&r);
    ASSERT_TRUE(r == NULL);
    free(crops);
    free(ort);
    for (int i = 0; i < 2; i++) {
        pan_detection_list_free(&lists[i]);
        pan_frame_unref(&g.f[i]);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

PAN_TEST_MAIN(reid_cpu_matches_onnxruntime)
