/* The cuda engine backend's host side, without a GPU: iteration collapsing (pan__cu_make_iter),
 * lowering of graphs into steps (pan__cu_lower) and the arena plan (pan__cu_plan_arena).
 *
 * Checks: iterations merge contiguous dims and keep broadcasts; a conv whose only consumer is a
 * channel concat writes into it (no copy step); NanoDet-g (models/nanodet.json, when present)
 * lowers to 34 cuDNN convolutions with no Reshape step; the OSNet-shaped ReID model lowers
 * entirely, its FC (Gemm) as a 1x1 convolution; in every plan no two buffers alive at the
 * same step overlap in the arena, offsets are 256-byte aligned, and the arena is no larger than
 * the buffers laid end to end. Runs in any CUDA build (no device is touched); skips without CUDA. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/ir.h"
#include "test.h"

#ifdef PANOPTES_HAVE_CUDA_ENGINE
#include "nn/cuda_backend.h"

static void exec_free(pan_cu_exec *ex)
{
    free(ex->steps);
    free(ex->bufs);
    free(ex->ti);
    free(ex->hconst);
}

/* 0 when the plan is sound; prints the first conflict otherwise. */
static int check_plan(const pan_cu_exec *ex)
{
    int64_t sum = 0;
    for (int i = 0; i < ex->n_bufs; i++) {
        const pan_cu_buf *a = &ex->bufs[i];
        sum += (a->bytes + 255) / 256 * 256;
        if (a->offset < 0 || a->offset % 256 || a->offset + a->bytes > (int64_t)ex->arena_bytes) {
            fprintf(stderr, "  buffer %d: offset %lld, %lld bytes, arena %zu\n", i, (long long)a->offset,
                    (long long)a->bytes, ex->arena_bytes);
            return 1;
        }
        for (int j = i + 1; j < ex->n_bufs; j++) {
            const pan_cu_buf *b = &ex->bufs[j];
            int live = a->first <= b->last && b->first <= a->last;
            int overlap = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
            if (live && overlap) {
                fprintf(stderr, "  buffers %d [%d,%d] and %d [%d,%d] overlap in the arena\n", i, a->first, a->last, j,
                        b->first, b->last);
                return 1;
            }
        }
    }
    if ((int64_t)ex->arena_bytes > sum) {
        fprintf(stderr, "  arena %zu > %lld laid end to end\n", ex->arena_bytes, (long long)sum);
        return 1;
    }
    return 0;
}

static int count_kind(const pan_cu_exec *ex, pan_cu_step_kind k)
{
    int n = 0;
    for (int i = 0; i < ex->n_steps; i++) n += ex->steps[i].kind == k;
    return n;
}

/* The constants block of every batch size is byte for byte the first one's (kept in *w1): the
 * backend uploads one copy of the weights for all of them. 1 when equal (or the first). */
static int same_weights(const pan_cu_exec *ex, uint8_t **w1, size_t *w1_size)
{
    if (!*w1) {
        *w1 = malloc(ex->hconst_size ? ex->hconst_size : 1);
        if (ex->hconst_size) memcpy(*w1, ex->hconst, ex->hconst_size);
        *w1_size = ex->hconst_size;
        return 1;
    }
    if (ex->hconst_size != *w1_size) {
        fprintf(stderr, "  batch %d: weights %zu bytes, batch 1's %zu\n", ex->batch, ex->hconst_size, *w1_size);
        return 0;
    }
    for (size_t i = 0; i < *w1_size; i++)
        if (ex->hconst[i] != (*w1)[i]) {
            fprintf(stderr, "  batch %d: weights differ from batch 1's at byte %zu\n", ex->batch, i);
            return 0;
        }
    return 1;
}

PAN_TEST(iterations_collapse)
{
    /* NHWC [2,16,5,7] copied into channels 8..23 of an NHWC [2,40,5,7] concat output */
    int64_t dims[4] = {2, 16, 5, 7}, out[4] = {2, 40, 5, 7}, src[4], dst[4];
    pan__cu_phys_strides(4, dims, 1, src);
    pan__cu_phys_strides(4, out, 1, dst);
    int64_t str[3][PAN_MAX_DIMS];
    for (int i = 0; i < 4; i++) {
        str[0][i] = dst[i];
        str[1][i] = src[i];
    }
    int order[4];
    pan__cu_phys_order(4, 1, order);
    int64_t offs[2] = {8, 0};
    pan_cu_iter it;
    ASSERT_OK(pan__cu_make_iter(&it, 4, dims, order, 2, str, offs));
    ASSERT_EQ(it.rank, 2); /* pixels x channels */
    ASSERT_EQ(it.dims[0], 2 * 5 * 7);
    ASSERT_EQ(it.dims[1], 16);
    ASSERT_EQ(it.stride[0][0], 40);
    ASSERT_EQ(it.stride[1][0], 16);
    ASSERT_EQ(it.offset[0], 8);
    /* same layout both sides: one flat dim */
    for (int i = 0; i < 4; i++) str[0][i] = src[i];
    ASSERT_OK(pan__cu_make_iter(&it, 4, dims, order, 2, str, NULL));
    ASSERT_EQ(it.rank, 1);
    ASSERT_EQ(it.dims[0], 2 * 16 * 5 * 7);
    /* broadcast of a per-channel operand keeps a zero stride on the pixels */
    for (int i = 0; i < 4; i++) str[1][i] = i == 1 ? 1 : 0;
    ASSERT_OK(pan__cu_make_iter(&it, 4, dims, order, 2, str, NULL));
    ASSERT_EQ(it.rank, 2);
    ASSERT_EQ(it.stride[1][0], 0);
    ASSERT_EQ(it.stride[1][1], 1);
}

PAN_TEST(conv_into_concat)
{
    /* x -> convA -> convB; concat(convB, convA): convB's epilogue writes the concat slice, convA
     * (two consumers) is copied */
    pan_graph *g = NULL;
    ASSERT_OK(pan__graph_create(&g, "lower"));
    int64_t xd[4] = {PAN_DIM_BATCH, 8, 12, 12}, wd[4] = {16, 8, 3, 3}, wd2[4] = {16, 16, 3, 3}, bd[1] = {16};
    int x = pan__graph_add_input(g, "x", PAN_DTYPE_F32, 4, xd);
    int wa = pan__graph_add_const(g, "wa", PAN_DTYPE_F32, 4, wd, NULL), wb = pan__graph_add_const(g, "wb", PAN_DTYPE_F32, 4, wd2, NULL);
    int ba = pan__graph_add_const(g, "ba", PAN_DTYPE_F32, 1, bd, NULL);
    int a = pan__graph_add_tensor(g, "a", PAN_DTYPE_F32, 0, NULL), b = pan__graph_add_tensor(g, "b", PAN_DTYPE_F32, 0, NULL);
    int y = pan__graph_add_tensor(g, "y", PAN_DTYPE_F32, 0, NULL);
    pan_attrs ca = {0};
    for (int k = 0; k < 4; k++) ca.conv.pads[k] = 1;
    ca.conv.act = PAN_ACT_LEAKY_RELU;
    ca.conv.act_alpha = 0.1f;
    int ia[3] = {x, wa, ba}, ib[3] = {a, wb, ba}, ic[2] = {b, a};
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_CONV, "convA", 3, ia, 1, &a, &ca) >= 0);
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_CONV, "convB", 3, ib, 1, &b, &ca) >= 0);
    pan_attrs cat = {0};
    cat.axis.axis = 1;
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_CONCAT, "cat", 2, ic, 1, &y, &cat) >= 0);
    ASSERT_OK(pan__graph_mark_output(g, y));
    ASSERT_OK(pan__graph_sort(g));
    ASSERT_OK(pan__graph_infer_shapes(g, 4));
    pan_cu_exec ex = {.g = g, .batch = 4};
    ex.ti = calloc((size_t)g->n_tensors, sizeof *ex.ti);
    ASSERT_OK(pan__cu_lower(&ex));
    ASSERT_OK(pan__cu_plan_arena(&ex));
    ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_CONV), 2);
    ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_EPILOGUE), 2);
    ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_COPY), 1); /* only convA's part */
    /* convB's epilogue: 32-channel pixels, its slice at channel 0 */
    const pan_cu_step *e = &ex.steps[3];
    ASSERT_EQ(e->kind, PAN_CU_STEP_EPILOGUE);
    ASSERT_EQ(e->ys, 32);
    ASSERT_EQ(e->y.off, 0);
    ASSERT_EQ(check_plan(&ex), 0);
    exec_free(&ex);
    pan__graph_destroy(&g);
}

PAN_TEST(nanodet_lowering)
{
    const char *model = access("models/nanodet.json", R_OK) == 0 ? "models/nanodet.json" : pan_test_path("models/nanodet.json");
    if (access(model, R_OK)) PAN_SKIP("models/nanodet.json missing (scripts/setup.sh fetches it)");
    pan_graph *g = NULL, *c = NULL;
    ASSERT_OK(pan__tfjs_import(model, &g));
    ASSERT_OK(pan__graph_fold_constants(g)); /* as pan_engine_create does */
    uint8_t *w1 = NULL;
    size_t w1_size = 0;
    /* batch 1, 8, 64 with the direct kernel for the 3-channel first convolution; batch 8 again
     * with PANOPTES_CUDA_DIRECT_CONV=0 (cuDNN, the input padded to 8 channels) */
    const int batches[] = {1, 8, 64, 8};
    for (int bi = 0; bi < 4; bi++) {
        int batch = batches[bi], direct = bi < 3;
        if (!direct) setenv("PANOPTES_CUDA_DIRECT_CONV", "0", 1);
        ASSERT_OK(pan__graph_clone(g, &c));
        ASSERT_OK(pan__graph_infer_shapes(c, batch));
        ASSERT_OK(pan__passes_run_all(c));
        ASSERT_OK(pan__graph_sort(c));
        pan_cu_exec ex = {.g = c, .batch = batch};
        ex.ti = calloc((size_t)c->n_tensors, sizeof *ex.ti);
        ASSERT_OK(pan__cu_lower(&ex));
        unsetenv("PANOPTES_CUDA_DIRECT_CONV");
        ASSERT_OK(pan__cu_plan_arena(&ex));
        ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_CONV), direct ? 33 : 34);
        ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_CONV_DIRECT), direct);
        ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_RESHAPE), 0);     /* head Reshape + Transpose = one copy */
        ASSERT_EQ(count_kind(&ex, PAN_CU_STEP_PAD), !direct);    /* cuDNN: the RGB input padded to 8 channels */
        if (direct) {
            /* the first step: 3 channels as they are, bias and activation fused (no epilogue step) */
            ASSERT_EQ(ex.steps[0].kind, PAN_CU_STEP_CONV_DIRECT);
            ASSERT_EQ(ex.steps[0].p.dconv.c, 3);
            ASSERT_EQ(ex.steps[0].c.space, PAN_CU_REF_CONST);
            ASSERT_TRUE(ex.steps[0].p.dconv.act != PAN_CU_U_NONE);
            ASSERT_TRUE(ex.steps[1].kind != PAN_CU_STEP_EPILOGUE);
        }
        ASSERT_EQ(check_plan(&ex), 0);
        int64_t sum = 0;
        for (int i = 0; i < ex.n_bufs; i++) sum += ex.bufs[i].bytes;
        fprintf(stderr, "  batch %d: %d steps, %d buffers, arena %.1f MiB (%.1f MiB laid end to end), weights %.1f MiB\n",
                batch, ex.n_steps, ex.n_bufs, ex.arena_bytes / 1048576.0, sum / 1048576.0, ex.hconst_size / 1048576.0);
        if (direct) ASSERT_EQ(same_weights(&ex, &w1, &w1_size), 1); /* cuDNN's first weights are padded */
        exec_free(&ex);
        pan__graph_destroy(&c);
    }
    free(w1);
    pan__graph_destroy(&g);
}

/* The OSNet-shaped ReID model (tests/peers/make_osnet.py, x0.25): every node lowers, its FC (Gemm)
 * as a 1x1 convolution. */
PAN_TEST(osnet_lowering)
{
    char dir[] = "/tmp/panoptes-cu-lower-XXXXXX", cmd[2048], path[600];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --width 0.25 >/dev/null 2>&1",
             pan_test_path("tests/peers/make_osnet.py"), dir);
    if (system(cmd)) PAN_SKIP("could not generate the OSNet model (Debian python3-onnx missing?)");
    snprintf(path, sizeof path, "%s/osnet_x0_25.onnx", dir);
    pan_graph *g = NULL, *c = NULL;
    ASSERT_OK(pan__onnx_import(path, &g));
    ASSERT_OK(pan__graph_fold_constants(g));
    uint8_t *w1 = NULL;
    size_t w1_size = 0;
    for (int batch = 1; batch <= 256; batch *= 16) {
        ASSERT_OK(pan__graph_clone(g, &c));
        ASSERT_OK(pan__graph_infer_shapes(c, batch));
        ASSERT_OK(pan__passes_run_all(c));
        ASSERT_OK(pan__graph_sort(c));
        int gemms = 0;
        for (int i = 0; i < c->n_nodes; i++) gemms += !c->nodes[i].dead && c->nodes[i].op == PAN_OP_GEMM;
        ASSERT_EQ(gemms, 1);
        pan_cu_exec ex = {.g = c, .batch = batch};
        ex.ti = calloc((size_t)c->n_tensors, sizeof *ex.ti);
        ASSERT_OK(pan__cu_lower(&ex));
        ASSERT_OK(pan__cu_plan_arena(&ex));
        ASSERT_EQ(check_plan(&ex), 0);
        /* the FC's convolution: batch pixels of 128 channels into 512 */
        int fc = 0;
        for (int i = 0; i < ex.n_steps; i++) {
            const pan_cu_step *s = &ex.steps[i];
            if (s->kind == PAN_CU_STEP_CONV && s->p.conv.n == batch && s->p.conv.c == 128 && s->p.conv.k == 512 &&
                s->p.conv.h == 1 && s->p.conv.w == 1)
                fc++;
        }
        ASSERT_EQ(fc, 1);
        fprintf(stderr, "  osnet_x0_25 batch %d: %d steps (%d convolutions), arena %.1f MiB\n", batch, ex.n_steps,
                count_kind(&ex, PAN_CU_STEP_CONV), ex.arena_bytes / 1048576.0);
        ASSERT_EQ(same_weights(&ex, &w1, &w1_size), 1);
        exec_free(&ex);
        pan__graph_destroy(&c);
    }
    free(w1);
    pan__graph_destroy(&g);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir);
}

PAN_TEST_MAIN(iterations_collapse, conv_into_concat, nanodet_lowering, osnet_lowering)

#else
PAN_TEST(cuda_lowering) { PAN_SKIP("built without the cuda engine backend"); }
PAN_TEST_MAIN(cuda_lowering)
#endif
