/* Graph passes: every rewritten graph computes what the original computes.
 * Small graphs built to trigger each pass, run with and without the passes on the same input
 * (tolerance 1e-5 relative: folding a BatchNorm or a bias changes the float rounding only), plus
 * NanoDet-g: fused == unfused outputs, and the transposes/pads/bias adds are gone. */
#include <math.h>
#include <unistd.h>

#include "nn_test_util.h"
#include "nn/engine.h"
#include "panoptes/log.h"
#include "test.h"

typedef int (*build_fn)(pan_graph *g); /* builds, marks the output, returns the input count */

static float max_rel_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / (1 + fabsf(b[i]));
        if (!(d <= m)) m = d;
    }
    return m;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f * 2 - 1;
    }
}

/* NHWC-wrapped conv as the TF.js importer emits it, with the converter's own transposes around:
 * x NCHW -> T(0,2,3,1) -> T(0,3,1,2) -> Conv -> T(0,2,3,1) -> Add(bias [C]) -> T(0,3,1,2) ->
 * LeakyRelu -> Add(residual x) ; zero Pad in front; BatchNorm after a second conv; SiLU pattern. */
static int build_chain(pan_graph *g)
{
    static float w1[4 * 4 * 9], w2[4 * 4], bias[4], gam[4], bet[4], mu[4], var[4];
    fill(w1, 144, 1);
    fill(w2, 16, 2);
    fill(bias, 4, 3);
    fill(gam, 4, 4);
    fill(bet, 4, 5);
    fill(mu, 4, 6);
    for (int i = 0; i < 4; i++) var[i] = 0.5f + (float)i;
    int x = nt_input(g, "x", 4, D(1, 4, 6, 6));
    int pad = nt_node(g, PAN_OP_PAD, "pad", NULL, 2, x, nt_i64(g, "pads", 8, D(0, 0, 1, 1, 0, 0, 1, 1)));
    pan_attrs t1 = {.transpose = {4, {0, 2, 3, 1}}}, t2 = {.transpose = {4, {0, 3, 1, 2}}};
    int a = nt_node(g, PAN_OP_TRANSPOSE, "a", &t1, 1, pad);
    int b = nt_node(g, PAN_OP_TRANSPOSE, "b", &t2, 1, a);
    int c = nt_node(g, PAN_OP_CONV, "c", &(pan_attrs){.conv = {.group = 1}}, 2, b, nt_const_f32(g, "w1", w1, 4, D(4, 4, 3, 3)));
    int d = nt_node(g, PAN_OP_TRANSPOSE, "d", &t1, 1, c);
    int e = nt_node(g, PAN_OP_ADD, "e", NULL, 2, d, nt_const_f32(g, "bias", bias, 1, D(4)));
    int f = nt_node(g, PAN_OP_TRANSPOSE, "f", &t2, 1, e);
    int l = nt_node(g, PAN_OP_LEAKY_RELU, "l", &(pan_attrs){.unary = {0.1f, 0}}, 1, f);
    int r = nt_node(g, PAN_OP_ADD, "r", NULL, 2, l, x);
    int c2 = nt_node(g, PAN_OP_CONV, "c2", &(pan_attrs){.conv = {.group = 1}}, 2, r, nt_const_f32(g, "w2", w2, 4, D(4, 4, 1, 1)));
    int bn = nt_node(g, PAN_OP_BATCHNORM, "bn", &(pan_attrs){.bn = {1e-5f}}, 5, c2, nt_const_f32(g, "gam", gam, 1, D(4)),
                     nt_const_f32(g, "bet", bet, 1, D(4)), nt_const_f32(g, "mu", mu, 1, D(4)),
                     nt_const_f32(g, "var", var, 1, D(4)));
    int sg = nt_node(g, PAN_OP_SIGMOID, "sg", NULL, 1, bn);
    int si = nt_node(g, PAN_OP_MUL, "si", NULL, 2, bn, sg);
    pan__graph_mark_output(g, si);
    return 1;
}

PAN_TEST(fused_equals_unfused)
{
    pan_graph *g0 = NULL, *g1 = NULL;
    ASSERT_OK(pan__graph_create(&g0, "plain"));
    ASSERT_OK(pan__graph_create(&g1, "fused"));
    build_chain(g0);
    build_chain(g1);
    float x[144], y0[144], y1[144];
    fill(x, 144, 9);
    ASSERT_OK(nt_run(g0, 0, (const float *const[]){x}, (float *[]){y0}));
    ASSERT_OK(nt_run(g1, 1, (const float *const[]){x}, (float *[]){y1}));
    float d = max_rel_diff(y1, y0, 144);
    fprintf(stderr, "  max relative difference %.3g\n", d);
    ASSERT_LE(d, 1e-5);
    /* what is left: two convs (the first with bias + leaky + residual, the second with the BN folded
     * in and SiLU fused) */
    ASSERT_EQ(nt_count_op(g1, PAN_OP_TRANSPOSE), 0);
    ASSERT_EQ(nt_count_op(g1, PAN_OP_PAD), 0);
    ASSERT_EQ(nt_count_op(g1, PAN_OP_BATCHNORM), 0);
    ASSERT_EQ(nt_count_op(g1, PAN_OP_ADD), 0);
    ASSERT_EQ(nt_count_op(g1, PAN_OP_CONV), 2);
    ASSERT_EQ(g1->n_nodes, 2);
    const pan_conv_attrs *ca = &g1->nodes[0].attrs.conv;
    ASSERT_EQ(ca->act, PAN_ACT_LEAKY_RELU);
    ASSERT_EQ(ca->residual_after_act, 1);
    ASSERT_EQ(ca->pads[0], 1);
    ASSERT_EQ(g1->nodes[1].attrs.conv.act, PAN_ACT_SILU);
    pan__graph_destroy(&g0);
    pan__graph_destroy(&g1);
}

PAN_TEST(transpose_pairs_with_constants)
{
    /* T(0,2,3,1) -> Mul(const [1,1,1,C]) -> Sub(const scalar) -> T(0,3,1,2): all transposes go,
     * the constant is permuted to [1,C,1,1]; a single real transpose stays */
    pan_graph *g[2];
    float x[24], y[2][24];
    fill(x, 24, 11);
    for (int k = 0; k < 2; k++) {
        ASSERT_OK(pan__graph_create(&g[k], "t"));
        int in = nt_input(g[k], "x", 4, D(1, 3, 2, 4));
        int a = nt_node(g[k], PAN_OP_TRANSPOSE, "a", &(pan_attrs){.transpose = {4, {0, 2, 3, 1}}}, 1, in);
        int m = nt_node(g[k], PAN_OP_MUL, "m", NULL, 2, a, nt_const_f32(g[k], "s", F(1, 2, 3), 4, D(1, 1, 1, 3)));
        int s = nt_node(g[k], PAN_OP_SUB, "s2", NULL, 2, nt_const_f32(g[k], "one", F(1), 0, NULL), m);
        int b = nt_node(g[k], PAN_OP_TRANSPOSE, "b", &(pan_attrs){.transpose = {4, {0, 3, 1, 2}}}, 1, s);
        int c = nt_node(g[k], PAN_OP_TRANSPOSE, "c", &(pan_attrs){.transpose = {4, {0, 1, 3, 2}}}, 1, b);
        pan__graph_mark_output(g[k], c);
        ASSERT_OK(nt_run(g[k], k, (const float *const[]){x}, (float *[]){y[k]}));
    }
    ASSERT_LE(max_rel_diff(y[1], y[0], 24), 1e-6);
    ASSERT_EQ(nt_count_op(g[1], PAN_OP_TRANSPOSE), 1);
    pan__graph_destroy(&g[0]);
    pan__graph_destroy(&g[1]);
}

PAN_TEST(nanodet_fused_equals_unfused)
{
    const char *model = pan_test_path("models/nanodet.json");
    if (access(model, F_OK)) PAN_SKIP("models/nanodet.json missing (run scripts/setup.sh)");
    pan_engine_t *e[2] = {0};
    float *out[2][6];
    size_t n_in = 3 * 416 * 416;
    float *x = malloc(n_in * sizeof(float));
    fill(x, n_in, 7);
    for (int k = 0; k < 2; k++) {
        pan_engine_params p = {.model_path = model, .backend = PAN_BACKEND_CPU, .no_optimize = k == 0};
        ASSERT_OK(pan_engine_create(&e[k], &p));
        for (int i = 0; i < 6; i++) out[k][i] = malloc(pan_engine_output_numel(e[k], i, 1) * sizeof(float));
        ASSERT_OK(pan_engine_run(e[k], 1, (const float *const[]){x}, out[k]));
    }
    for (int i = 0; i < 6; i++) {
        float d = max_rel_diff(out[1][i], out[0][i], pan_engine_output_numel(e[0], i, 1));
        ASSERT_LE(d, 1e-5);
        free(out[0][i]);
        free(out[1][i]);
    }
    /* the optimised graph: 34 convs with bias+leaky fused, only the 6 output transposes left */
    pan_graph *m = NULL, *c = NULL;
    ASSERT_OK(pan__tfjs_import(model, &m));
    ASSERT_OK(pan__graph_clone(m, &c));
    ASSERT_OK(pan__graph_infer_shapes(c, 1));
    ASSERT_OK(pan__passes_run_all(c));
    fprintf(stderr, "  nanodet: %d nodes imported, %d after passes (%d Transpose, %d Conv)\n", m->n_nodes, c->n_nodes,
            nt_count_op(c, PAN_OP_TRANSPOSE), nt_count_op(c, PAN_OP_CONV));
    ASSERT_EQ(nt_count_op(c, PAN_OP_CONV), 34);
    ASSERT_LE(nt_count_op(c, PAN_OP_TRANSPOSE), 6);
    ASSERT_EQ(nt_count_op(c, PAN_OP_PAD), 0);
    ASSERT_EQ(nt_count_op(c, PAN_OP_LEAKY_RELU), 0);
    size_t arena = 0;
    char why[256];
    ASSERT_OK(pan__graph_plan_memory(c, 4, 64, &arena));
    if (nt_plan_conflict(c, why, sizeof why)) PAN__FAIL("memory plan: %s", why);
    fprintf(stderr, "  nanodet batch 1: %.1f MiB of activations\n", (double)arena / (1 << 20));
    pan__graph_destroy(&m);
    pan__graph_destroy(&c);
    pan_engine_destroy(&e[0]);
    pan_engine_destroy(&e[1]);
    free(x);
}

PAN_TEST_MAIN(fused_equals_unfused, transpose_pairs_with_constants, nanodet_fused_equals_unfused)
