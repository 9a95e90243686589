/* The planned cpu conv (cpu_conv_fast.c: packed weights, tiles read straight from the input, fused
 * epilogue) against the reference conv (im2col + sgemm, what constant folding runs), on random
 * geometries: kernel 1..7, strides, dilations, asymmetric pads, groups and depthwise, odd sizes
 * (tiles that wrap rows, partial tiles), every fused activation, residual before or after it, K
 * large enough to be cut into blocks; with the AVX-512 and AVX2 kernels (where the CPU has them)
 * and the portable ones. Tolerance: 1e-4 relative to the magnitude of the sum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/cpu_simd.h"
#include "nn/ir.h"
#include "panoptes/log.h"
#include "test.h"

typedef struct conv_case {
    int64_t B, C, O, H, W, kh, kw, sh, sw, dh, dw, pads[4], groups;
    int bias, res, after;
    pan_act act;
} conv_case;

static uint32_t seed = 12345;
static int rnd(int n) { return (int)((seed = seed * 1664525u + 1013904223u) >> 8) % n; }
static float rndf(void) { return (float)rnd(2000001) / 1000000.0f - 1.0f; }

static void fill(float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) v[i] = rndf();
}

/* Runs one case both ways; returns the largest error over the tolerance (<= 1 passes). */
static double run_case(const conv_case *k, pan_cpu_pool *pool, int threads)
{
    pan_graph *g = NULL;
    if (pan__graph_create(&g, "conv-case")) return 1e9;
    int64_t cg = k->C / k->groups;
    int64_t xd[4] = {k->B, k->C, k->H, k->W}, wd[4] = {k->O, cg, k->kh, k->kw}, bd[1] = {k->O};
    int64_t nw = k->O * cg * k->kh * k->kw;
    float *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)k->O);
    fill(w, nw);
    fill(b, k->O);
    int x = pan__graph_add_input(g, "x", PAN_DTYPE_F32, 4, xd);
    int wt = pan__graph_add_const(g, "w", PAN_DTYPE_F32, 4, wd, w);
    int bt = k->bias ? pan__graph_add_const(g, "b", PAN_DTYPE_F32, 1, bd, b) : -1;
    int64_t oh = (k->H + k->pads[0] + k->pads[2] - k->dh * (k->kh - 1) - 1) / k->sh + 1;
    int64_t ow = (k->W + k->pads[1] + k->pads[3] - k->dw * (k->kw - 1) - 1) / k->sw + 1;
    int64_t rd[4] = {k->B, k->O, oh, ow};
    int r = k->res ? pan__graph_add_input(g, "r", PAN_DTYPE_F32, 4, rd) : -1;
    int y = pan__graph_add_tensor(g, "y", PAN_DTYPE_F32, 0, NULL);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.conv = (pan_conv_attrs){.strides = {k->sh, k->sw}, .dilations = {k->dh, k->dw},
                              .pads = {k->pads[0], k->pads[1], k->pads[2], k->pads[3]}, .group = k->groups,
                              .act = k->act, .act_alpha = 0.1f, .act_beta = 0.75f, .residual_after_act = k->after};
    if (k->act == PAN_ACT_CLIP) a.conv.act_alpha = -0.5f;
    if (k->act == PAN_ACT_HARD_SIGMOID) a.conv.act_alpha = 0.2f, a.conv.act_beta = 0.5f;
    int in[4] = {x, wt, bt, r};
    int node = pan__graph_add_node(g, PAN_OP_CONV, "conv", k->res ? 4 : 3, in, 1, &y, &a);
    free(w);
    free(b);
    if (node < 0 || pan__graph_mark_output(g, y) || pan__graph_infer_shapes(g, (int)k->B)) {
        pan__graph_destroy(&g);
        return 1e9;
    }
    const pan_node *n = &g->nodes[0];
    int64_t nx = k->B * k->C * k->H * k->W, ny = pan__tensor_numel(&g->tensors[y]);
    /* slack past the end, as the backend's arena has */
    float *xv = calloc((size_t)nx + 64, sizeof(float)), *rv = calloc((size_t)ny + 64, sizeof(float));
    float *ref = calloc((size_t)ny + 64, sizeof(float)), *got = calloc((size_t)ny + 64, sizeof(float));
    fill(xv, nx);
    fill(rv, ny);
    const void *ins[4] = {xv, g->tensors[wt].data, bt >= 0 ? g->tensors[bt].data : NULL, rv};
    void *out_ref[1] = {ref}, *out_got[1] = {got};
    size_t sb = pan__cpu_op_scratch_bytes(g, n);
    void *scratch = aligned_alloc(64, (sb + 64) & ~(size_t)63);
    pan_cpu_call c = {.g = g, .n = n, .in = ins, .out = out_ref, .pool = NULL, .scratch = scratch};
    double worst = 1e9;
    if (pan__cpu_op_run(&c) == PAN_OK) {
        void *prep = NULL;
        size_t ps = 0;
        if (pan__cpu_op_prepare(g, n, threads, &prep, &ps) == PAN_OK && prep) {
            void *s2 = aligned_alloc(64, (ps + 64) & ~(size_t)63);
            pan_cpu_call f = {.g = g, .n = n, .in = ins, .out = out_got, .pool = pool, .scratch = s2, .prep = prep};
            if (pan__cpu_op_run(&f) == PAN_OK) {
                worst = 0;
                for (int64_t i = 0; i < ny; i++) {
                    double e = fabs((double)got[i] - ref[i]) / (1e-4 * (1.0 + fabs(ref[i]) + sqrt((double)nw / k->O)));
                    if (!(e <= worst)) worst = e; /* NaN counts as failing */
                }
            }
            free(s2);
            pan__cpu_op_prep_free(n, prep);
        }
    }
    free(scratch);
    free(xv);
    free(rv);
    free(ref);
    free(got);
    pan__graph_destroy(&g);
    return worst;
}

static void random_case(conv_case *k)
{
    static const int ks[] = {1, 1, 2, 3, 3, 3, 5, 7};
    memset(k, 0, sizeof *k);
    k->B = 1 + rnd(3);
    int kind = rnd(4); /* 0-1 dense, 2 depthwise, 3 grouped */
    k->kh = ks[rnd(8)];
    k->kw = rnd(4) ? k->kh : ks[rnd(8)];
    k->sh = 1 + rnd(2), k->sw = rnd(3) ? k->sh : 1 + rnd(2);
    k->dh = rnd(5) ? 1 : 2, k->dw = rnd(5) ? 1 : 2;
    for (int i = 0; i < 4; i++) k->pads[i] = rnd(3) ? (i % 2 ? k->kw : k->kh) / 2 : rnd(3);
    k->C = 1 + rnd(20);
    k->O = 1 + rnd(40);
    k->groups = 1;
    if (kind == 2) k->groups = k->C, k->O = k->C;
    if (kind == 3) k->C = 2 * (1 + rnd(8)), k->O = 2 * (1 + rnd(12)), k->groups = 2;
    k->H = k->dh * (k->kh - 1) + 1 + rnd(30);
    k->W = k->dw * (k->kw - 1) + 1 + rnd(40);
    k->bias = rnd(4) != 0;
    k->res = rnd(3) == 0;
    k->after = rnd(2);
    k->act = (pan_act)rnd(9);
}

static void describe(const conv_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "B%lld C%lld O%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld g%lld bias%d res%d/%d act%d",
             (long long)k->B, (long long)k->C, (long long)k->O, (long long)k->H, (long long)k->W, (long long)k->kh,
             (long long)k->kw, (long long)k->sh, (long long)k->sw, (long long)k->dh, (long long)k->dw,
             (long long)k->pads[0], (long long)k->pads[1], (long long)k->pads[2], (long long)k->pads[3],
             (long long)k->groups, k->bias, k->res, k->after, (int)k->act);
}

static void check_many(pan_test_ctx *pan__t, const pan_cpu_simd *simd, int cases)
{
    pan_cpu_pool *pool = NULL;
    ASSERT_OK(pan__cpu_pool_create(&pool, 2));
    pan__cpu_simd_set(simd);
    seed = 12345;
    double worst = 0;
    char d[256];
    for (int i = 0; i < cases; i++) {
        conv_case k;
        random_case(&k);
        double e = run_case(&k, pool, 2);
        if (!(e <= 1)) {
            describe(&k, d, sizeof d);
            fprintf(stderr, "    %s: case %d (%s) off by %.3g x tolerance\n", simd->name, i, d, e);
        }
        worst = e > worst || e != e ? e : worst;
    }
    /* shapes of the real models: K blocks (C*9 > the block), wide 1x1, the 7x7/2 stem */
    const conv_case big[] = {
        {1, 192, 96, 9, 11, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 0, PAN_ACT_SILU},
        {2, 64, 70, 16, 8, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 1, 1, PAN_ACT_RELU},
        {2, 3, 16, 32, 24, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, 1, 1, 0, 0, PAN_ACT_RELU},
        {1, 16, 32, 40, 40, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 1, 0, 0, PAN_ACT_SILU},
        {3, 24, 24, 17, 9, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 24, 1, 1, 0, PAN_ACT_LEAKY_RELU},
        /* depthwise 3x3 "same" read in place, 16 pixels at a time across rows: 8-wide planes (two
         * rows per vector), one column, one row, a width past 16 */
        {2, 32, 32, 16, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 32, 1, 1, 1, PAN_ACT_RELU},
        {1, 5, 5, 7, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 5, 1, 1, 0, PAN_ACT_SIGMOID},
        {1, 4, 4, 1, 37, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 4, 0, 1, 0, PAN_ACT_NONE},
        {2, 6, 6, 5, 19, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 6, 1, 0, 0, PAN_ACT_SILU},
        /* 1x1 with a residual wider than a work item (prefetched ahead) */
        {2, 16, 72, 12, 20, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 1, 0, PAN_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        double e = run_case(&big[i], pool, 2);
        describe(&big[i], d, sizeof d);
        if (!(e <= 1)) fprintf(stderr, "    %s: model-shaped case (%s) off by %.3g x tolerance\n", simd->name, d, e);
        worst = e > worst || e != e ? e : worst;
    }
    pan__cpu_simd_set(NULL);
    pan__cpu_pool_destroy(&pool);
    fprintf(stderr, "    %s kernels: worst error %.3g x tolerance over %d random cases\n", simd->name, worst, cases);
    ASSERT_TRUE(worst <= 1);
}

PAN_TEST(planned_conv_matches_reference_avx512)
{
    const pan_cpu_simd *s = pan__cpu_simd_avx512();
    if (!s) PAN_SKIP("the CPU has no AVX-512F");
    check_many(pan__t, s, 300);
}

PAN_TEST(planned_conv_matches_reference_avx2)
{
    const pan_cpu_simd *s = pan__cpu_simd_avx2();
    if (!s) PAN_SKIP("the CPU has no AVX2 + FMA");
    check_many(pan__t, s, 300);
}

PAN_TEST(planned_conv_matches_reference_generic)
{
    check_many(pan__t, pan__cpu_simd_generic(), 300);
}

PAN_TEST_MAIN(planned_conv_matches_reference_avx512, planned_conv_matches_reference_avx2,
              planned_conv_matches_reference_generic)
