/* The cpu backend's image mode (cpu_images.c: a batch run image by image, whole images per
 * thread) against the same plan with every node split over the threads (PANOPTES_CPU_IMAGES=0):
 * the OSNet-like ReID and YOLOv8n-like models (tests/peers/make_onnx_models.py) and NanoDet, at
 * batches that share out evenly over 2 threads and one that does not (forced). The two modes run
 * the same kernels on the same images, so the outputs agree to 1e-5 relative to their largest
 * magnitude (only the order of some sums may differ). Graphs whose nodes mix images (softmax over
 * the batch, a transpose that moves it, broadcasting that aligns the batch with another dim) are
 * not run image by image.
 * The models need Debian's python3-onnx (skipped without it, except under CI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/cpu_images.h"
#include "nn/engine.h"
#include "nn/ir.h"
#include "panoptes/log.h"
#include "test.h"

/* Counts the backend's "runs image by image" lines; passes warnings and errors on to stderr. */
static int image_plans;
static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque;
    if (strstr(line, "runs image by image")) image_plans++;
    if (level <= PAN_LOG_WARN) fprintf(stderr, "%s\n", line);
}

/* Runs the model at this batch with image mode on or off; returns the concatenated outputs. */
static float *run_model(const char *path, int batch, const char *images, size_t *n_out)
{
    setenv("PANOPTES_CPU_IMAGES", images, 1);
    pan_engine_t *e = NULL;
    pan_engine_params ep = {.model_path = path, .backend = PAN_BACKEND_CPU, .max_batch = batch, .threads = 2};
    float *all = NULL;
    if (pan_engine_create(&e, &ep) || pan_engine_prepare(e, batch)) goto done;
    size_t n_in = pan_engine_input_numel(e, 0, batch), total = 0;
    float *in = malloc(n_in * sizeof(float));
    uint32_t s = 7;
    for (size_t i = 0; in && i < n_in; i++) {
        s = s * 1664525u + 1013904223u;
        in[i] = (float)(s >> 8) / 16777216.0f * 2.0f - 1.0f;
    }
    int no = pan_engine_num_outputs(e);
    float *outs[8] = {NULL};
    for (int i = 0; i < no && i < 8; i++) total += pan_engine_output_numel(e, i, batch);
    all = calloc(total + 1, sizeof(float));
    size_t at = 0;
    for (int i = 0; all && i < no && i < 8; i++) {
        outs[i] = all + at;
        at += pan_engine_output_numel(e, i, batch);
    }
    const float *ins[1] = {in};
    if (!in || !all || no > 8 || pan_engine_run(e, batch, ins, outs)) {
        free(all);
        all = NULL;
    }
    *n_out = total;
    free(in);
done:
    pan_engine_destroy(&e);
    unsetenv("PANOPTES_CPU_IMAGES");
    return all;
}

static void compare_modes(pan_test_ctx *pan__t, const char *path, int batch, const char *on)
{
    size_t na = 0, nb = 0;
    /* debug lines on (the engine reads PANOPTES_LOG again at each create) */
    const char *was = getenv("PANOPTES_LOG");
    char keep[32];
    snprintf(keep, sizeof keep, "%s", was ? was : "");
    setenv("PANOPTES_LOG", "debug", 1);
    pan_log_set_sink(sink, NULL);
    image_plans = 0;
    float *a = run_model(path, batch, on, &na);
    int planned = image_plans;
    float *b = run_model(path, batch, "0", &nb);
    int planned_off = image_plans - planned;
    if (*keep) setenv("PANOPTES_LOG", keep, 1);
    else unsetenv("PANOPTES_LOG");
    pan_log_set_level(PAN_LOG_INFO); /* the default, then what the environment says */
    pan_log_init();
    pan_log_set_sink(NULL, NULL);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(planned, 1);     /* the model ran image by image */
    ASSERT_EQ(planned_off, 0); /* and node by node */
    ASSERT_EQ(na, nb);
    double worst = 0, peak = 0;
    for (size_t i = 0; i < na; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* NaN counts */
        if (fabs(b[i]) > peak) peak = fabs(b[i]);
    }
    fprintf(stderr, "    %s batch %d: largest difference %.3g (largest value %.3g)\n", strrchr(path, '/') + 1, batch,
            worst, peak);
    free(a);
    free(b);
    ASSERT_LE(worst, 1e-5 * (1.0 + peak));
}

PAN_TEST(image_mode_matches_split_nodes)
{
    if (system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1"))
        PAN_SKIP_PEER("Debian python3-onnx missing (apt-get install python3-onnx)");
    char dir[] = "/tmp/panoptes-cpu-images-XXXXXX", cmd[4096], path[512];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s' '%s' --only osnet_like,yolov8n_like --batches 1 --yolo-size 160 >/dev/null",
             pan_test_path("tests/peers/make_onnx_models.py"), dir);
    ASSERT_EQ(system(cmd), 0);
    snprintf(path, sizeof path, "%s/osnet_like.onnx", dir);
    compare_modes(pan__t, path, 4, "auto");
    compare_modes(pan__t, path, 3, "1"); /* one thread takes two images */
    snprintf(path, sizeof path, "%s/yolov8n_like.onnx", dir);
    compare_modes(pan__t, path, 2, "auto");
    const char *nano = pan_test_path("models/nanodet.json");
    if (access(nano, R_OK) == 0) compare_modes(pan__t, nano, 2, "auto");
    else fprintf(stderr, "    models/nanodet.json missing (scripts/setup.sh): left out\n");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_EQ(system(cmd), 0);
}

/* x [B, 4, 6] -> op -> y, planned for batch 3 and 1; is the image plan made? */
typedef enum { RELU, SOFTMAX_BATCH, TRANSPOSE_BATCH, BROADCAST_RANKS } mix_kind;

static int image_plan_made(mix_kind kind)
{
    pan_graph *g[2] = {NULL, NULL};
    int made = -1;
    for (int k = 0; k < 2; k++) {
        if (pan__graph_create(&g[k], "mix")) goto done;
        int64_t xd[3] = {PAN_DIM_BATCH, 4, 6};
        int x = pan__graph_add_input(g[k], "x", PAN_DTYPE_F32, 3, xd);
        int y = pan__graph_add_tensor(g[k], "y", PAN_DTYPE_F32, 0, NULL);
        pan_attrs a;
        memset(&a, 0, sizeof a);
        int node = -1;
        if (kind == RELU) node = pan__graph_add_node(g[k], PAN_OP_RELU, "n", 1, &x, 1, &y, &a);
        if (kind == SOFTMAX_BATCH) {
            a.axis.axis = 0;
            node = pan__graph_add_node(g[k], PAN_OP_SOFTMAX, "n", 1, &x, 1, &y, &a);
        }
        if (kind == TRANSPOSE_BATCH) {
            a.transpose.n_perm = 3, a.transpose.perm[0] = 1, a.transpose.perm[1] = 0, a.transpose.perm[2] = 2;
            node = pan__graph_add_node(g[k], PAN_OP_TRANSPOSE, "n", 1, &x, 1, &y, &a);
        }
        if (kind == BROADCAST_RANKS) { /* [B, 4, 6] + [B, 6]: z's batch lines up with dim 1 (B = 4) */
            int64_t zd[2] = {PAN_DIM_BATCH, 6};
            int z = pan__graph_add_input(g[k], "z", PAN_DTYPE_F32, 2, zd);
            int in[2] = {x, z};
            node = pan__graph_add_node(g[k], PAN_OP_ADD, "n", 2, in, 1, &y, &a);
        }
        size_t arena = 0;
        if (node < 0 || pan__graph_mark_output(g[k], y) ||
            pan__graph_infer_shapes(g[k], k == 0 ? (kind == BROADCAST_RANKS ? 4 : 3) : 1) ||
            pan__graph_plan_memory(g[k], sizeof(float), 64, &arena))
            goto done;
    }
    char *arena = calloc(1, 4096);
    pan_cpu_images *im = NULL;
    if (arena && pan__cpu_images_plan(g[0], g[1], arena, 2, 0, &im) == PAN_OK) made = im != NULL;
    g[1] = NULL; /* taken over */
    pan__cpu_images_free(&im);
    free(arena);
done:
    pan__graph_destroy(&g[0]);
    pan__graph_destroy(&g[1]);
    return made;
}

PAN_TEST(graphs_that_mix_images_run_node_by_node)
{
    ASSERT_EQ(image_plan_made(RELU), 1);
    ASSERT_EQ(image_plan_made(SOFTMAX_BATCH), 0);
    ASSERT_EQ(image_plan_made(TRANSPOSE_BATCH), 0);
    ASSERT_EQ(image_plan_made(BROADCAST_RANKS), 0);
}

PAN_TEST_MAIN(image_mode_matches_split_nodes, graphs_that_mix_images_run_node_by_node)
