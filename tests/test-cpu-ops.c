/* cpu kernels of the engine, one tiny hand-checked case per op (values worked out by hand in the
 * comments), through the real path: IR graph -> shape inference -> memory plan -> cpu backend. */
#include <math.h>

#include "nn_test_util.h"
#include "panoptes/log.h"
#include "test.h"

#define CHECK_ARR(got, ...)                                                          \
    do {                                                                             \
        const float exp_[] = {__VA_ARGS__};                                          \
        for (size_t i_ = 0; i_ < sizeof exp_ / sizeof exp_[0]; i_++)                 \
            if (!(fabsf((got)[i_] - exp_[i_]) <= 1e-5f * (1 + fabsf(exp_[i_]))))     \
                PAN__FAIL("element %zu: %.7g, expected %.7g", i_, (got)[i_], exp_[i_]); \
    } while (0)

static pan_graph *new_graph(void)
{
    pan_graph *g = NULL;
    pan__graph_create(&g, "test");
    return g;
}

/* run a graph with one input and one output */
#define RUN1(g, in, out) ASSERT_OK(nt_run(g, 0, (const float *const[]){in}, (float *[]){out}))

PAN_TEST(conv_3x3_pad1)
{
    /* x = 1..9 in a 3x3 image, w = all ones, pad 1: y = sums of 3x3 neighbourhoods */
    pan_graph *g = new_graph();
    float w[9];
    for (int i = 0; i < 9; i++) w[i] = 1;
    int x = nt_input(g, "x", 4, D(1, 1, 3, 3)), wt = nt_const_f32(g, "w", w, 4, D(1, 1, 3, 3));
    pan_attrs a = {.conv = {.pads = {1, 1, 1, 1}, .group = 1}};
    int y = nt_node(g, PAN_OP_CONV, "y", &a, 2, x, wt);
    ASSERT_OK(pan__graph_mark_output(g, y));
    float out[9];
    RUN1(g, F(1, 2, 3, 4, 5, 6, 7, 8, 9), out);
    CHECK_ARR(out, 12, 21, 16, 27, 45, 33, 24, 39, 28);
    pan__graph_destroy(&g);
}

PAN_TEST(conv_stride2_bias_leaky)
{
    /* 4x4 ramp 0..15, 2x2 kernel [1,0;0,-1] stride 2: x[y][x] - x[y+1][x+1] = -5 everywhere;
     * bias 1 -> -4, leaky 0.1 -> -0.4 */
    pan_graph *g = new_graph();
    float in[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    int x = nt_input(g, "x", 4, D(1, 1, 4, 4));
    int w = nt_const_f32(g, "w", F(1, 0, 0, -1), 4, D(1, 1, 2, 2)), b = nt_const_f32(g, "b", F(1), 1, D(1));
    pan_attrs a = {.conv = {.strides = {2, 2}, .group = 1, .act = PAN_ACT_LEAKY_RELU, .act_alpha = 0.1f}};
    int y = nt_node(g, PAN_OP_CONV, "y", &a, 3, x, w, b);
    ASSERT_OK(pan__graph_mark_output(g, y));
    float out[4];
    RUN1(g, in, out);
    CHECK_ARR(out, -0.4f, -0.4f, -0.4f, -0.4f);
    ASSERT_EQ(g->tensors[y].dims[2], 2);
    pan__graph_destroy(&g);
}

PAN_TEST(conv_depthwise_dilated_grouped)
{
    /* 2 channels (1..9 and 10..18), depthwise 3x3 kernel with a single 1 at the centre,
     * dilation 2, pad 2: the output equals the input. */
    pan_graph *g = new_graph();
    float in[18], w[18] = {0};
    for (int i = 0; i < 18; i++) in[i] = (float)(i + 1);
    w[4] = w[13] = 1;
    int x = nt_input(g, "x", 4, D(1, 2, 3, 3)), wt = nt_const_f32(g, "w", w, 4, D(2, 1, 3, 3));
    pan_attrs a = {.conv = {.pads = {2, 2, 2, 2}, .dilations = {2, 2}, .group = 2}};
    int y = nt_node(g, PAN_OP_CONV, "y", &a, 2, x, wt);
    ASSERT_OK(pan__graph_mark_output(g, y));
    float out[18];
    RUN1(g, in, out);
    for (int i = 0; i < 18; i++) ASSERT_NEAR(out[i], in[i], 1e-6);
    pan__graph_destroy(&g);

    /* grouped (not depthwise): 4 in, 2 out channels, 2 groups, 1x1 weights [1,1] per group:
     * y0 = x0 + x1, y1 = x2 + x3 */
    g = new_graph();
    x = nt_input(g, "x", 4, D(1, 4, 1, 1));
    wt = nt_const_f32(g, "w", F(1, 1, 1, 1), 4, D(2, 2, 1, 1));
    pan_attrs a2 = {.conv = {.group = 2}};
    y = nt_node(g, PAN_OP_CONV, "y", &a2, 2, x, wt);
    ASSERT_OK(pan__graph_mark_output(g, y));
    RUN1(g, F(1, 2, 3, 4), out);
    CHECK_ARR(out, 3, 7);
    pan__graph_destroy(&g);
}

PAN_TEST(conv_residual)
{
    /* 1x1 conv weight 2, residual r: before act relu(2x + r), after act relu(2x) + r */
    for (int after = 0; after < 2; after++) {
        pan_graph *g = new_graph();
        int x = nt_input(g, "x", 4, D(1, 1, 1, 2)), r = nt_input(g, "r", 4, D(1, 1, 1, 2));
        int w = nt_const_f32(g, "w", F(2), 4, D(1, 1, 1, 1));
        pan_attrs a = {.conv = {.group = 1, .act = PAN_ACT_RELU, .residual_after_act = after}};
        int y = nt_node(g, PAN_OP_CONV, "y", &a, 4, x, w, -1, r);
        ASSERT_OK(pan__graph_mark_output(g, y));
        float out[2];
        ASSERT_OK(nt_run(g, 0, ((const float *const[]){F(-1, 1), F(1, -5)}), ((float *[]){out})));
        if (after) CHECK_ARR(out, 1, -3);  /* relu(-2)+1, relu(2)-5 */
        else CHECK_ARR(out, 0, 0);         /* relu(-1), relu(-3) */
        pan__graph_destroy(&g);
    }
}

PAN_TEST(binary_broadcast)
{
    /* [2,3] + [3] and [2,1] * [1,3] */
    pan_graph *g = new_graph();
    int a = nt_input(g, "a", 2, D(2, 3)), b = nt_const_f32(g, "b", F(10, 20, 30), 1, D(3));
    int c = nt_input(g, "c", 2, D(2, 1)), d = nt_const_f32(g, "d", F(1, 2, 3), 2, D(1, 3));
    int y1 = nt_node(g, PAN_OP_ADD, "y1", NULL, 2, a, b), y2 = nt_node(g, PAN_OP_MUL, "y2", NULL, 2, c, d);
    int y3 = nt_node(g, PAN_OP_DIV, "y3", NULL, 2, y1, y2), y4 = nt_node(g, PAN_OP_SUB, "y4", NULL, 2, b, c);
    ASSERT_OK(pan__graph_mark_output(g, y1));
    ASSERT_OK(pan__graph_mark_output(g, y2));
    ASSERT_OK(pan__graph_mark_output(g, y3));
    ASSERT_OK(pan__graph_mark_output(g, y4));
    float o1[6], o2[6], o3[6], o4[6];
    ASSERT_OK(nt_run(g, 0, ((const float *const[]){F(1, 2, 3, 4, 5, 6), F(2, -1)}), ((float *[]){o1, o2, o3, o4})));
    CHECK_ARR(o1, 11, 22, 33, 14, 25, 36);
    CHECK_ARR(o2, 2, 4, 6, -1, -2, -3);
    CHECK_ARR(o3, 5.5f, 5.5f, 5.5f, -14, -12.5f, -12);
    CHECK_ARR(o4, 8, 18, 28, 11, 21, 31);
    pan__graph_destroy(&g);
}

PAN_TEST(activations)
{
    static const pan_op ops[] = {PAN_OP_RELU, PAN_OP_LEAKY_RELU, PAN_OP_SIGMOID, PAN_OP_HARD_SWISH, PAN_OP_CLIP,
                                 PAN_OP_SILU, PAN_OP_HARD_SIGMOID, PAN_OP_TANH};
    const float in[3] = {-2, 0, 3};
    const float expect[][3] = {
        {0, 0, 3},
        {-0.2f, 0, 3},
        {0.11920292f, 0.5f, 0.95257413f},
        {-2 * (1.0f / 6), 0, 3},            /* x*clamp(x/6+0.5): -2*(1/6), 0, 3*1 */
        {-1, 0, 1},                         /* clip [-1, 1] */
        {-2 * 0.11920292f, 0, 3 * 0.95257413f},
        {0.1f, 0.5f, 1},                    /* clamp(0.2x+0.5) */
        {-0.96402758f, 0, 0.99505475f},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        pan_graph *g = new_graph();
        int x = nt_input(g, "x", 1, D(3));
        pan_attrs a = {.unary = {0.1f, 0}};
        if (ops[k] == PAN_OP_CLIP) a.unary = (pan_unary_attrs){-1, 1};
        if (ops[k] == PAN_OP_HARD_SIGMOID) a.unary = (pan_unary_attrs){0.2f, 0.5f};
        int y = nt_node(g, ops[k], "y", &a, 1, x);
        ASSERT_OK(pan__graph_mark_output(g, y));
        float out[3];
        RUN1(g, in, out);
        for (int i = 0; i < 3; i++) ASSERT_NEAR(out[i], expect[k][i], 1e-6);
        pan__graph_destroy(&g);
    }
}

PAN_TEST(pools)
{
    /* 4x4 ramp 0..15: maxpool 2x2/2 -> 5 7 13 15; avgpool 3x3/1 pad 1 exclude pad, corner (0,0)
     * = mean(0,1,4,5) = 2.5; include pad = 10/9; global avg = 7.5 */
    float in[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    pan_graph *g = new_graph();
    int x = nt_input(g, "x", 4, D(1, 1, 4, 4));
    pan_attrs mp = {.pool = {.kernel = {2, 2}, .strides = {2, 2}}};
    pan_attrs ap = {.pool = {.kernel = {3, 3}, .strides = {1, 1}, .pads = {1, 1, 1, 1}}};
    pan_attrs api = ap;
    api.pool.count_include_pad = 1;
    int ys[5] = {nt_node(g, PAN_OP_MAXPOOL, "y1", &mp, 1, x), nt_node(g, PAN_OP_AVGPOOL, "y2", &ap, 1, x),
                 nt_node(g, PAN_OP_AVGPOOL, "y3", &api, 1, x), nt_node(g, PAN_OP_GLOBAL_AVGPOOL, "y4", NULL, 1, x),
                 nt_node(g, PAN_OP_GLOBAL_MAXPOOL, "y5", NULL, 1, x)};
    for (int t = 0; t < 5; t++) ASSERT_OK(pan__graph_mark_output(g, ys[t]));
    int y1;
    float o1[4], o2[16], o3[16], o4[1], o5[1];
    ASSERT_OK(nt_run(g, 0, ((const float *const[]){in}), ((float *[]){o1, o2, o3, o4, o5})));
    CHECK_ARR(o1, 5, 7, 13, 15);
    CHECK_ARR(o2, 2.5f, 3, 4);
    CHECK_ARR(o3, 10.0f / 9, 2, 24.0f / 9);
    CHECK_ARR(o4, 7.5f);
    CHECK_ARR(o5, 15);
    pan__graph_destroy(&g);

    /* max-pool with -inf padding semantics: 2x2 [1,2;3,4], 3x3/1 pad 1: every output = 4 */
    g = new_graph();
    x = nt_input(g, "x", 4, D(1, 1, 2, 2));
    pan_attrs m3 = {.pool = {.kernel = {3, 3}, .strides = {1, 1}, .pads = {1, 1, 1, 1}}};
    y1 = nt_node(g, PAN_OP_MAXPOOL, "y", &m3, 1, x);
    ASSERT_OK(pan__graph_mark_output(g, y1));
    RUN1(g, F(-1, -2, -3, -4), o1);
    CHECK_ARR(o1, -1, -1, -1, -1);
    pan__graph_destroy(&g);
}

PAN_TEST(resize_modes)
{
    /* 1x2 row [0, 1] to width 4: half_pixel u = (x+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25 ->
     * clamped lerp 0, 0.25, 0.75, 1. align_corners u = x/3 -> 0, 1/3, 2/3, 1. asymmetric
     * nearest floor(x/2) -> 0, 0, 1, 1. */
    static const pan_resize_coord coords[3] = {PAN_RESIZE_HALF_PIXEL, PAN_RESIZE_ALIGN_CORNERS, PAN_RESIZE_ASYMMETRIC};
    static const float expect[3][4] = {{0, 0.25f, 0.75f, 1}, {0, 1.0f / 3, 2.0f / 3, 1}, {0, 0, 1, 1}};
    for (int k = 0; k < 3; k++) {
        pan_graph *g = new_graph();
        int x = nt_input(g, "x", 4, D(1, 1, 1, 2)), s = nt_i64(g, "sizes", 2, D(1, 4));
        pan_attrs a = {.resize = {.mode = k == 2 ? PAN_RESIZE_NEAREST : PAN_RESIZE_LINEAR, .coord = coords[k],
                                  .nearest = PAN_NEAREST_FLOOR}};
        int y = nt_node(g, PAN_OP_RESIZE, "y", &a, 4, x, -1, -1, s);
        ASSERT_OK(pan__graph_mark_output(g, y));
        float out[4];
        RUN1(g, F(0, 1), out);
        for (int i = 0; i < 4; i++) ASSERT_NEAR(out[i], expect[k][i], 1e-6);
        pan__graph_destroy(&g);
    }
}

PAN_TEST(data_movement)
{
    /* x = [[1,2,3],[4,5,6]] */
    pan_graph *g = new_graph();
    int x = nt_input(g, "x", 2, D(2, 3));
    pan_attrs ax1 = {.axis = {1}}, ax0 = {.axis = {0}}, tr = {.transpose = {2, {1, 0}}};
    int cat = nt_node(g, PAN_OP_CONCAT, "cat", &ax1, 2, x, x);                  /* [2,6] */
    int t = nt_node(g, PAN_OP_TRANSPOSE, "t", &tr, 1, x);                      /* [3,2] 1 4 2 5 3 6 */
    int sl = nt_node(g, PAN_OP_SLICE, "sl", NULL, 5, x, nt_i64(g, "st", 1, D(-1)), nt_i64(g, "en", 1, D(INT64_MIN)),
                     nt_i64(g, "ax", 1, D(1)), nt_i64(g, "sp", 1, D(-2)));   /* cols 2,0: 3 1 6 4 */
    pan_attrs pc = {.pad = {PAN_PAD_CONSTANT}}, pr = {.pad = {PAN_PAD_REFLECT}}, pe = {.pad = {PAN_PAD_EDGE}};
    int pads = nt_i64(g, "pads", 4, D(0, 1, 0, 1));
    int p1 = nt_node(g, PAN_OP_PAD, "p1", &pc, 3, x, pads, nt_const_f32(g, "v", F(9), 0, NULL));
    int p2 = nt_node(g, PAN_OP_PAD, "p2", &pr, 2, x, pads), p3 = nt_node(g, PAN_OP_PAD, "p3", &pe, 2, x, pads);
    int ga = nt_node(g, PAN_OP_GATHER, "ga", &ax1, 2, x, nt_i64(g, "idx", 2, D(-1, 0)));   /* 3 1 6 4 */
    int re = nt_node(g, PAN_OP_RESHAPE, "re", NULL, 2, x, nt_i64(g, "shape", 2, D(0, -1)));
    int fl = nt_node(g, PAN_OP_FLATTEN, "fl", &ax0, 1, x);                    /* [1,6] */
    int un = nt_node(g, PAN_OP_UNSQUEEZE, "un", NULL, 2, x, nt_i64(g, "uax", 1, D(0)));
    int sq = nt_node(g, PAN_OP_SQUEEZE, "sq", NULL, 1, un);
    int ex = nt_node(g, PAN_OP_EXPAND, "ex", NULL, 2, nt_const_f32(g, "e", F(7, 8), 2, D(2, 1)), nt_i64(g, "es", 2, D(2, 2)));
    int outs[] = {cat, t, sl, p1, p2, p3, ga, re, fl, sq, ex};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) ASSERT_OK(pan__graph_mark_output(g, outs[i]));
    float o[11][16];
    float *po[11];
    for (int i = 0; i < 11; i++) po[i] = o[i];
    ASSERT_OK(nt_run(g, 0, (const float *const[]){F(1, 2, 3, 4, 5, 6)}, po));
    CHECK_ARR(o[0], 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6);
    CHECK_ARR(o[1], 1, 4, 2, 5, 3, 6);
    CHECK_ARR(o[2], 3, 1, 6, 4);
    CHECK_ARR(o[3], 9, 1, 2, 3, 9, 9, 4, 5, 6, 9);
    CHECK_ARR(o[4], 2, 1, 2, 3, 2, 5, 4, 5, 6, 5);
    CHECK_ARR(o[5], 1, 1, 2, 3, 3, 4, 4, 5, 6, 6);
    CHECK_ARR(o[6], 3, 1, 6, 4);
    CHECK_ARR(o[7], 1, 2, 3, 4, 5, 6);
    ASSERT_EQ(g->tensors[fl].dims[0], 1);
    ASSERT_EQ(g->tensors[fl].dims[1], 6);
    ASSERT_EQ(g->tensors[sq].rank, 2);
    CHECK_ARR(o[10], 7, 7, 8, 8);
    pan__graph_destroy(&g);
}

PAN_TEST(split_softmax_gemm_matmul)
{
    pan_graph *g = new_graph();
    int x = nt_input(g, "x", 2, D(2, 3));
    pan_attrs ax1 = {.axis = {1}};
    int s0 = pan__graph_add_tensor(g, "s0", PAN_DTYPE_F32, 0, NULL), s1 = pan__graph_add_tensor(g, "s1", PAN_DTYPE_F32, 0, NULL);
    int sizes = nt_i64(g, "sizes", 2, D(-1, 1)); /* TF SplitV: -1 = the rest */
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_SPLIT, "split", 2, (int[]){x, sizes}, 2, (int[]){s0, s1}, &ax1) >= 0);
    int sm = nt_node(g, PAN_OP_SOFTMAX, "sm", &ax1, 1, x);
    /* Gemm: x [2,3] * W^T with W [1,3] = [1,1,1], C = 10: row sums + 10 */
    pan_attrs gm = {.gemm = {1, 1, 0, 1}};
    int ge = nt_node(g, PAN_OP_GEMM, "ge", &gm, 3, x, nt_const_f32(g, "W", F(1, 1, 1), 2, D(1, 3)),
                     nt_const_f32(g, "C", F(10), 1, D(1)));
    /* MatMul broadcast: [2,1,3] x [3,1] -> [2,1,1] */
    int x3 = nt_node(g, PAN_OP_RESHAPE, "x3", NULL, 2, x, nt_i64(g, "s3", 3, D(2, 1, 3)));
    int mm = nt_node(g, PAN_OP_MATMUL, "mm", NULL, 2, x3, nt_const_f32(g, "B", F(1, 0, -1), 2, D(3, 1)));
    int rm = nt_node(g, PAN_OP_REDUCE_MEAN, "rm", &(pan_attrs){.reduce = {1, 0}}, 2, x, nt_i64(g, "rax", 1, D(1)));
    int outs[] = {s0, s1, sm, ge, mm, rm};
    for (int i = 0; i < 6; i++) ASSERT_OK(pan__graph_mark_output(g, outs[i]));
    float o[6][8];
    float *po[6] = {o[0], o[1], o[2], o[3], o[4], o[5]};
    ASSERT_OK(nt_run(g, 0, (const float *const[]){F(1, 2, 3, 4, 5, 6)}, po));
    CHECK_ARR(o[0], 1, 2, 4, 5);
    CHECK_ARR(o[1], 3, 6);
    /* softmax(1,2,3) = e^-2, e^-1, 1 over their sum */
    CHECK_ARR(o[2], 0.09003057f, 0.24472847f, 0.66524096f, 0.09003057f, 0.24472847f, 0.66524096f);
    CHECK_ARR(o[3], 16, 25);
    CHECK_ARR(o[4], -2, -2);
    CHECK_ARR(o[5], 2, 5);
    pan__graph_destroy(&g);
}

PAN_TEST(shape_subgraph_folds)
{
    /* Reshape(x, Concat(Gather(Shape(x), 0), [-1])) (the ONNX flatten idiom) and TF's
     * SparseToDense of empty indices + AddV2: both fold to constants at inference. */
    pan_graph *g = new_graph();
    int64_t dims[4] = {PAN_DIM_BATCH, 2, 2, 2};
    int x = pan__graph_add_input(g, "x", PAN_DTYPE_F32, 4, dims);
    int sh = nt_node(g, PAN_OP_SHAPE, "sh", NULL, 1, x);
    g->tensors[sh].dtype = PAN_DTYPE_I64;
    int n0 = nt_node(g, PAN_OP_GATHER, "n0", &(pan_attrs){.axis = {0}}, 2, sh, nt_i64(g, "i0", 1, D(0)));
    int cat = nt_node(g, PAN_OP_CONCAT, "cat", &(pan_attrs){.axis = {0}}, 2, n0, nt_i64(g, "m1", 1, D(-1)));
    int std_ = nt_node(g, PAN_OP_SPARSE_TO_DENSE, "std", NULL, 4,
                       pan__graph_add_const(g, "where", PAN_DTYPE_I64, 2, D(0, 1), NULL), nt_i64(g, "oshape", 1, D(2)),
                       pan__graph_add_const(g, "vals", PAN_DTYPE_I64, 1, D(0), NULL),
                       pan__graph_add_const(g, "zero", PAN_DTYPE_I64, 0, NULL, NULL));
    int tgt = nt_node(g, PAN_OP_ADD, "tgt", NULL, 2, cat, std_);
    int y = nt_node(g, PAN_OP_RESHAPE, "y", NULL, 2, x, tgt);
    ASSERT_OK(pan__graph_mark_output(g, y));
    ASSERT_OK(pan__graph_infer_shapes(g, 3));
    ASSERT_EQ(g->n_nodes, 1); /* only the Reshape is left */
    ASSERT_EQ(g->tensors[y].dims[0], 3);
    ASSERT_EQ(g->tensors[y].dims[1], 8);
    ASSERT_TRUE(g->tensors[y].flags & PAN_TENSOR_BATCHED);
    pan__graph_destroy(&g);
}

PAN_TEST(bad_shapes_fail_cleanly)
{
    pan_log_set_level(PAN_LOG_QUIET);
    /* conv channels mismatch */
    pan_graph *g = new_graph();
    int x = nt_input(g, "x", 4, D(1, 3, 4, 4)), w = nt_const_f32(g, "w", NULL, 4, D(2, 2, 1, 1));
    int y = nt_node(g, PAN_OP_CONV, "y", &(pan_attrs){.conv = {.group = 1}}, 2, x, w);
    ASSERT_OK(pan__graph_mark_output(g, y));
    ASSERT_EQ(pan__graph_infer_shapes(g, 1), PAN_SHAPE);
    pan__graph_destroy(&g);
    /* broadcast mismatch */
    g = new_graph();
    x = nt_input(g, "x", 2, D(2, 3));
    y = nt_node(g, PAN_OP_ADD, "y", NULL, 2, x, nt_const_f32(g, "c", NULL, 1, D(2)));
    ASSERT_OK(pan__graph_mark_output(g, y));
    ASSERT_EQ(pan__graph_infer_shapes(g, 1), PAN_SHAPE);
    pan__graph_destroy(&g);
    /* reshape to a wrong element count; gather out of range at run time */
    g = new_graph();
    x = nt_input(g, "x", 2, D(2, 3));
    y = nt_node(g, PAN_OP_RESHAPE, "y", NULL, 2, x, nt_i64(g, "s", 2, D(4, 2)));
    ASSERT_OK(pan__graph_mark_output(g, y));
    ASSERT_EQ(pan__graph_infer_shapes(g, 1), PAN_SHAPE);
    pan__graph_destroy(&g);
    g = new_graph();
    x = nt_input(g, "x", 1, D(3));
    y = nt_node(g, PAN_OP_GATHER, "y", NULL, 2, x, nt_i64(g, "i", 1, D(5)));
    ASSERT_OK(pan__graph_mark_output(g, y));
    float out[1];
    ASSERT_EQ(nt_run(g, 0, (const float *const[]){F(1, 2, 3)}, (float *[]){out}), PAN_RANGE);
    pan__graph_destroy(&g);
    /* a cycle: a = Relu(b), b = Relu(a) */
    g = new_graph();
    x = nt_input(g, "x", 1, D(1));
    int a = pan__graph_add_tensor(g, "a", PAN_DTYPE_F32, 0, NULL), b = pan__graph_add_tensor(g, "b", PAN_DTYPE_F32, 0, NULL);
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_ADD, "na", 2, (int[]){x, b}, 1, &a, NULL) >= 0);
    ASSERT_TRUE(pan__graph_add_node(g, PAN_OP_RELU, "nb", 1, &a, 1, &b, NULL) >= 0);
    ASSERT_OK(pan__graph_mark_output(g, b));
    ASSERT_EQ(pan__graph_sort(g), PAN_MODEL);
    pan__graph_destroy(&g);
    pan_log_set_level(PAN_LOG_WARN);
}

PAN_TEST(memory_plan_reuses_without_overlap)
{
    /* x -> r1 -> r2 -> ... -> r8 plus a skip (x + r8) and a Reshape alias: the arena must be far
     * below the sum of the tensors, and no two tensors alive at the same step may overlap
     * (except an alias and its source, which share the block on purpose). */
    pan_graph *g = new_graph();
    int x = nt_input(g, "x", 2, D(64, 64)), t = x;
    char nm[16];
    for (int i = 0; i < 8; i++) {
        snprintf(nm, sizeof nm, "r%d", i);
        t = nt_node(g, i % 2 ? PAN_OP_SIGMOID : PAN_OP_RELU, nm, NULL, 1, t);
    }
    int re = nt_node(g, PAN_OP_RESHAPE, "re", NULL, 2, t, nt_i64(g, "s", 1, D(-1)));
    int sum = nt_node(g, PAN_OP_ADD, "sum", NULL, 2, nt_node(g, PAN_OP_RESHAPE, "xf", NULL, 2, x, nt_i64(g, "s2", 1, D(-1))), re);
    ASSERT_OK(pan__graph_mark_output(g, sum));
    ASSERT_OK(pan__graph_infer_shapes(g, 1));
    size_t arena = 0;
    ASSERT_OK(pan__graph_plan_memory(g, 4, 64, &arena));
    size_t one = 64 * 64 * 4;
    ASSERT_LE(arena, 3 * one); /* 12 tensors of `one` bytes, at most 3 alive at once */
    char why[256];
    if (nt_plan_conflict(g, why, sizeof why)) PAN__FAIL("%s", why);
    pan__graph_destroy(&g);
}

PAN_TEST_MAIN(memory_plan_reuses_without_overlap, conv_3x3_pad1, conv_stride2_bias_leaky, conv_depthwise_dilated_grouped, conv_residual, binary_broadcast,
              activations, pools, resize_modes, data_movement, split_softmax_gemm_matmul, shape_subgraph_folds,
              bad_shapes_fail_cleanly)
