/* Every op of the cuda engine backend against the cpu kernels (pan__cpu_op_run), on random inputs.
 *
 * Each case is a one- or two-node graph with batch 2, run three ways on the GPU:
 *   host    host FP32 NCHW in and out (the pan_engine_run path: staging, conversion, sync);
 *   device  device FP32 NCHW in and out, outputs with guard bytes on both sides;
 *   native  device FP16 in the backend's native layout (NHWC for 4-D) in and out, guarded too.
 * Error measure: NMSE = sum((gpu - cpu)^2) / sum(cpu^2) over each output, plus no NaN/Inf where
 * the cpu has none. Tolerances (FP16 storage has a relative precision of 2^-11 ~ 4.9e-4, so one
 * rounding gives NMSE ~ 1e-7):
 *   data movement (copy, concat, split, slice, transpose, reshape, pad, max-pool, nearest): 1e-6
 *   elementwise and activations, batch-norm, average pooling, bilinear resize:               1e-5
 *   softmax:                                                                                   1e-5
 *   convolutions, Gemm/MatMul (FP16 inputs and weights, FP32 accumulation):                    1e-4
 * Skips (exit 77) without a GPU or without CUDA in the build. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/ir.h"
#include "nn/nn_backend.h"
#include "core/gpu.h"
#include "panoptes/log.h"
#include "test.h"

#ifdef PANOPTES_HAVE_CUDA
#include <cuda_runtime_api.h>

#define BATCH 2
#define GUARD 256
#define TOL_MOVE 1e-6
#define TOL_ELEM 1e-5
#define TOL_CONV 1e-4

static pan_nn_backend *backend;
static unsigned rng = 12345u;

static float frand(float lo, float hi)
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)((rng >> 8) & 0xffffff) / 16777216.0f;
}

static uint16_t f2h(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t x = v.u, sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff) - 127 + 15;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        int sh = 14 - exp;
        uint32_t h = mant >> sh, rem = mant & ((1u << sh) - 1), half = 1u << (sh - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float h2f(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15), e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024), (int)e - 25);
    return s ? -v : v;
}

static int gpu_ready(void)
{
    static int state = -1;
    if (state >= 0) return state;
    state = 0;
    if (!pan_gpu_available()) return 0;
    if (pan__cuda_backend_create(&backend, 0) != PAN_OK) return 0;
    state = 1;
    return 1;
}

/* ---- graph building ------------------------------------------------------------------------- */

static int in4(pan_graph *g, const char *name, int64_t c, int64_t h, int64_t w)
{
    int64_t d[4] = {PAN_DIM_BATCH, c, h, w};
    return pan__graph_add_input(g, name, PAN_DTYPE_F32, 4, d);
}

static int in_r(pan_graph *g, const char *name, int rank, const int64_t *rest)
{
    int64_t d[PAN_MAX_DIMS] = {PAN_DIM_BATCH};
    for (int i = 1; i < rank; i++) d[i] = rest[i - 1];
    return pan__graph_add_input(g, name, PAN_DTYPE_F32, rank, d);
}

static int cst(pan_graph *g, const char *name, int rank, const int64_t *dims, float lo, float hi)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = frand(lo, hi);
    return pan__graph_add_const_owned(g, name, PAN_DTYPE_F32, rank, dims, v);
}

static int out(pan_graph *g, const char *name) { return pan__graph_add_tensor(g, name, PAN_DTYPE_F32, 0, NULL); }

static int node(pan_graph *g, pan_op op, int nin, const int *ins, int nout, const int *outs, const pan_attrs *a)
{
    return pan__graph_add_node(g, op, pan__op_name(op), nin, ins, nout, outs, a);
}

/* One node x -> y (optionally more inputs), y marked as output. */
static int unary_graph(pan_graph *g, pan_op op, int x, const pan_attrs *a)
{
    int y = out(g, "y");
    node(g, op, 1, &x, 1, &y, a);
    pan__graph_mark_output(g, y);
    return y;
}

/* ---- running and comparing ------------------------------------------------------------------ */

typedef struct dev_buf {
    uint8_t *p; /* with GUARD bytes before and after */
    size_t bytes;
} dev_buf;

static int dev_alloc(dev_buf *b, size_t bytes)
{
    b->bytes = bytes;
    if (cudaMalloc((void **)&b->p, bytes + 2 * GUARD) != cudaSuccess) return -1;
    return cudaMemset(b->p, 0xA5, bytes + 2 * GUARD) == cudaSuccess ? 0 : -1;
}

/* Copies the data back and checks the guard bytes; returns the number of damaged guard bytes. */
static int dev_fetch(dev_buf *b, void *host)
{
    uint8_t *all = malloc(b->bytes + 2 * GUARD);
    cudaMemcpy(all, b->p, b->bytes + 2 * GUARD, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < GUARD; i++) bad += (all[i] != 0xA5) + (all[GUARD + b->bytes + i] != 0xA5);
    memcpy(host, all + GUARD, b->bytes);
    free(all);
    return bad;
}

/* NCHW <-> NHWC on the host for the native-path run (4-D only). */
static void to_nhwc(const float *x, float *y, const int64_t *d)
{
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t h = 0; h < d[2]; h++)
                for (int64_t w = 0; w < d[3]; w++)
                    y[((n * d[2] + h) * d[3] + w) * d[1] + c] = x[((n * d[1] + c) * d[2] + h) * d[3] + w];
}
static void from_nhwc(const float *x, float *y, const int64_t *d)
{
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t h = 0; h < d[2]; h++)
                for (int64_t w = 0; w < d[3]; w++)
                    y[((n * d[1] + c) * d[2] + h) * d[3] + w] = x[((n * d[2] + h) * d[3] + w) * d[1] + c];
}

/* NMSE of a against the reference r; *nonfinite counts NaN/Inf in a where r is finite. */
static double nmse(const float *a, const float *r, int64_t n, int64_t *nonfinite)
{
    double num = 0, den = 0;
    *nonfinite = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) && isfinite(r[i])) {
            (*nonfinite)++;
            continue;
        }
        double e = (double)a[i] - r[i];
        num += e * e;
        den += (double)r[i] * r[i];
    }
    return den > 0 ? num / den : num;
}

/* Runs the cpu kernels node by node; returns malloc'ed host buffers per tensor (NULL for constants). */
static int cpu_reference(pan_graph *g, float **vals)
{
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        const void *in[16];
        void *o[16];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            in[k] = t < 0 ? NULL : (g->tensors[t].flags & PAN_TENSOR_CONST) ? g->tensors[t].data : vals[t];
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (g->tensors[t].flags & PAN_TENSOR_CONST) return -1;
            vals[t] = calloc((size_t)pan__tensor_numel(&g->tensors[t]) + 1, sizeof(float));
            o[k] = vals[t];
        }
        size_t sb = pan__cpu_op_scratch_bytes(g, n);
        void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
        pan_cpu_call c = {.g = g, .n = n, .in = in, .out = o, .pool = NULL, .scratch = scratch};
        pan_status st = pan__cpu_op_run(&c);
        free(scratch);
        if (st) return -1;
    }
    return 0;
}

typedef enum { MODE_HOST = 0, MODE_DEVICE, MODE_NATIVE, MODE_COUNT } run_mode;
static const char *mode_names[] = {"host", "device", "native"};

/* Builds nothing: g holds the case (inputs, nodes, outputs). Infers for BATCH, runs cpu and gpu,
 * compares. Returns 0 when every output of every mode is within tol; prints the figures. */
static int check_graph(pan_graph *g, const char *name, double tol, float lo, float hi)
{
    int fails = 0;
    if (pan__graph_sort(g) || pan__graph_infer_shapes(g, BATCH)) {
        fprintf(stderr, "  %s: graph does not infer\n", name);
        return 1;
    }
    float **vals = calloc((size_t)g->n_tensors, sizeof *vals);
    for (int i = 0; i < g->n_inputs; i++) {
        const pan_tensor *t = &g->tensors[g->inputs[i]];
        int64_t n = pan__tensor_numel(t);
        vals[g->inputs[i]] = malloc(sizeof(float) * (size_t)n);
        for (int64_t k = 0; k < n; k++) vals[g->inputs[i]][k] = frand(lo, hi);
    }
    void *exec = NULL;
    if (cpu_reference(g, vals)) {
        fprintf(stderr, "  %s: cpu reference failed\n", name);
        fails++;
        goto done;
    }
    if (backend->compile(backend, g, &exec)) {
        fprintf(stderr, "  %s: cuda compile failed\n", name);
        fails++;
        goto done;
    }
    for (int mode = 0; mode < MODE_COUNT; mode++) {
        pan_engine_tensor ins[8] = {0}, outs[8] = {0};
        dev_buf din[8] = {0}, dout[8] = {0};
        float *hout[8] = {0};
        for (int i = 0; i < g->n_inputs; i++) {
            const pan_tensor *t = &g->tensors[g->inputs[i]];
            int64_t n = pan__tensor_numel(t);
            ins[i].layout = PAN_LAYOUT_NCHW;
            if (mode == MODE_HOST) {
                ins[i] = (pan_engine_tensor){vals[g->inputs[i]], PAN_MEMORY_HOST, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
                continue;
            }
            size_t es = mode == MODE_NATIVE ? 2 : 4;
            dev_alloc(&din[i], (size_t)n * es);
            if (mode == MODE_DEVICE) {
                cudaMemcpy(din[i].p + GUARD, vals[g->inputs[i]], (size_t)n * 4, cudaMemcpyHostToDevice);
                ins[i] = (pan_engine_tensor){din[i].p + GUARD, PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
            } else {
                float *tmp = malloc((size_t)n * 4);
                uint16_t *h = malloc((size_t)n * 2);
                if (t->rank == 4) to_nhwc(vals[g->inputs[i]], tmp, t->dims);
                else memcpy(tmp, vals[g->inputs[i]], (size_t)n * 4);
                for (int64_t k = 0; k < n; k++) h[k] = f2h(tmp[k]);
                cudaMemcpy(din[i].p + GUARD, h, (size_t)n * 2, cudaMemcpyHostToDevice);
                free(tmp);
                free(h);
                ins[i] = (pan_engine_tensor){din[i].p + GUARD, PAN_MEMORY_DEVICE, 0, PAN_DTYPE_F16, PAN_LAYOUT_NHWC};
            }
        }
        for (int i = 0; i < g->n_outputs; i++) {
            int64_t n = pan__tensor_numel(&g->tensors[g->outputs[i]]);
            hout[i] = calloc((size_t)n + 1, sizeof(float));
            if (mode == MODE_HOST) {
                outs[i] = (pan_engine_tensor){hout[i], PAN_MEMORY_HOST, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
            } else {
                dev_alloc(&dout[i], (size_t)n * (mode == MODE_NATIVE ? 2 : 4));
                outs[i] = (pan_engine_tensor){dout[i].p + GUARD, PAN_MEMORY_DEVICE, 0,
                                              mode == MODE_NATIVE ? PAN_DTYPE_F16 : PAN_DTYPE_F32,
                                              mode == MODE_NATIVE ? PAN_LAYOUT_NHWC : PAN_LAYOUT_NCHW};
            }
        }
        pan_status st = backend->run(backend, exec, ins, outs, NULL);
        if (st) {
            fprintf(stderr, "  %s [%s]: run failed: %s\n", name, mode_names[mode], pan_status_name(st));
            fails++;
        }
        for (int i = 0; i < g->n_outputs && !st; i++) {
            const pan_tensor *t = &g->tensors[g->outputs[i]];
            int64_t n = pan__tensor_numel(t);
            int guard_bad = 0;
            if (mode == MODE_DEVICE) guard_bad = dev_fetch(&dout[i], hout[i]);
            if (mode == MODE_NATIVE) {
                uint16_t *h = malloc((size_t)n * 2 + 2);
                float *tmp = malloc((size_t)n * 4 + 4);
                guard_bad = dev_fetch(&dout[i], h);
                for (int64_t k = 0; k < n; k++) tmp[k] = h2f(h[k]);
                if (t->rank == 4) from_nhwc(tmp, hout[i], t->dims);
                else memcpy(hout[i], tmp, (size_t)n * 4);
                free(h);
                free(tmp);
            }
            int64_t nonfinite;
            double e = nmse(hout[i], vals[g->outputs[i]], n, &nonfinite);
            int ok = e <= tol && !nonfinite && !guard_bad;
            fprintf(stderr, "  %-34s %-6s out %d: nmse %.2e (tol %.0e)%s%s\n", name, mode_names[mode], i, e, tol,
                    nonfinite ? " NaN/Inf!" : "", guard_bad ? " GUARD BYTES OVERWRITTEN!" : "");
            if (!ok) fails++;
        }
        for (int i = 0; i < 8; i++) {
            if (din[i].p) cudaFree(din[i].p);
            if (dout[i].p) cudaFree(dout[i].p);
            free(hout[i]);
        }
    }
done:
    if (exec) backend->exec_free(backend, exec);
    for (int t = 0; t < g->n_tensors; t++) free(vals[t]);
    free(vals);
    pan__graph_destroy(&g);
    return fails;
}

#define NEED_GPU()                                                                     \
    do {                                                                               \
        if (!gpu_ready()) PAN_SKIP("no usable GPU / cuDNN (pan_gpu_available() == 0)"); \
    } while (0)

/* ---- cases ---------------------------------------------------------------------------------- */

static int64_t conv_dilation = 1; /* of the next conv_case */

static int conv_case(const char *name, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t stride,
                     const int64_t pads[4], int64_t group, int bias, pan_act act, float alpha, int residual,
                     int res_after)
{
    pan_graph *g = NULL;
    pan__graph_create(&g, name);
    int x = in4(g, "x", C, H, W);
    int64_t wd[4] = {K, C / group, R, R}, bd[1] = {K};
    float ws = 1.0f / sqrtf((float)(C / group * R * R));
    int w = cst(g, "w", 4, wd, -ws, ws);
    int b = bias ? cst(g, "b", 1, bd, -0.5f, 0.5f) : -1;
    int r = -1;
    int64_t span = conv_dilation * (R - 1) + 1;
    int64_t OH = (H + pads[0] + pads[2] - span) / stride + 1, OW = (W + pads[1] + pads[3] - span) / stride + 1;
    if (residual) r = in4(g, "res", K, OH, OW);
    pan_attrs a = {0};
    a.conv.strides[0] = a.conv.strides[1] = stride;
    a.conv.dilations[0] = a.conv.dilations[1] = conv_dilation;
    memcpy(a.conv.pads, pads, sizeof a.conv.pads);
    a.conv.group = group;
    a.conv.act = act;
    a.conv.act_alpha = alpha;
    a.conv.act_beta = act == PAN_ACT_CLIP ? 6.0f : 0.0f;
    a.conv.residual_after_act = res_after;
    int y = out(g, "y");
    int ins[4] = {x, w, b, r};
    node(g, PAN_OP_CONV, residual ? 4 : 3, ins, 1, &y, &a);
    pan__graph_mark_output(g, y);
    return check_graph(g, name, TOL_CONV, -1.f, 1.f);
}

PAN_TEST(conv)
{
    NEED_GPU();
    static const int64_t p1[4] = {1, 1, 1, 1}, p0[4] = {0, 0, 0, 0}, pasym[4] = {0, 0, 1, 1};
    int f = 0;
    f += conv_case("conv3x3 s1 bias leaky", 16, 20, 24, 32, 3, 1, p1, 1, 1, PAN_ACT_LEAKY_RELU, 0.1f, 0, 0);
    f += conv_case("conv3x3 s2 asym-pad relu", 8, 17, 22, 16, 3, 2, pasym, 1, 0, PAN_ACT_RELU, 0, 0, 0);
    f += conv_case("conv1x1 residual sigmoid", 24, 13, 13, 24, 1, 1, p0, 1, 1, PAN_ACT_SIGMOID, 0, 1, 0);
    f += conv_case("conv3x3 residual after hswish", 16, 9, 11, 16, 3, 1, p1, 1, 1, PAN_ACT_HARD_SWISH, 0, 1, 1);
    f += conv_case("conv3x3 group 4 silu", 16, 12, 12, 32, 3, 1, p1, 4, 1, PAN_ACT_SILU, 0, 0, 0);
    f += conv_case("conv3x3 depthwise clip", 32, 15, 15, 32, 3, 1, p1, 32, 1, PAN_ACT_CLIP, 0, 0, 0);
    f += conv_case("conv3x3 s2 C=3 (first layer)", 3, 32, 32, 24, 3, 2, p1, 1, 1, PAN_ACT_LEAKY_RELU, 0.1f, 0, 0);
    f += conv_case("conv5x5 odd C/K no act", 5, 11, 9, 7, 5, 1, p1, 1, 1, PAN_ACT_NONE, 0, 0, 0);
    /* few input channels: the direct kernel (cuda_ops.h), TF "SAME" pads, K not a multiple of 8,
     * a residual after it, one channel (3x3: a compiled-in shape; 5x5: the general loop); then
     * the same first layer through cuDNN, padded to 8 */
    f += conv_case("direct conv3x3 s2 C=3 SAME-pad relu", 3, 33, 30, 24, 3, 2, pasym, 1, 1, PAN_ACT_RELU, 0, 0, 0);
    f += conv_case("direct conv3x3 C=4 K=7 no bias", 4, 10, 13, 7, 3, 1, p1, 1, 0, PAN_ACT_NONE, 0, 0, 0);
    f += conv_case("direct conv3x3 C=3 residual", 3, 12, 12, 16, 3, 1, p1, 1, 1, PAN_ACT_LEAKY_RELU, 0.1f, 1, 0);
    f += conv_case("direct conv5x5 C=1 s2", 1, 19, 23, 8, 5, 2, p1, 1, 1, PAN_ACT_SILU, 0, 0, 0);
    f += conv_case("direct conv3x3 C=1 K=12 hswish", 1, 17, 9, 12, 3, 1, p1, 1, 1, PAN_ACT_HARD_SWISH, 0, 0, 0);
    conv_dilation = 2;
    f += conv_case("direct conv3x3 C=3 dilation 2", 3, 14, 15, 16, 3, 1, p1, 1, 1, PAN_ACT_RELU, 0, 0, 0);
    conv_dilation = 1;
    setenv("PANOPTES_CUDA_DIRECT_CONV", "0", 1);
    f += conv_case("cuDNN conv3x3 s2 C=3 SAME-pad (padded to 8)", 3, 33, 30, 24, 3, 2, pasym, 1, 1, PAN_ACT_RELU, 0, 0, 0);
    unsetenv("PANOPTES_CUDA_DIRECT_CONV");
    ASSERT_EQ(f, 0);
}

PAN_TEST(unary)
{
    NEED_GPU();
    static const struct { pan_op op; float alpha, beta, lo, hi; } u[] = {
        {PAN_OP_RELU, 0, 0, -2, 2},          {PAN_OP_LEAKY_RELU, 0.1f, 0, -2, 2}, {PAN_OP_SIGMOID, 0, 0, -6, 6},
        {PAN_OP_TANH, 0, 0, -3, 3},          {PAN_OP_HARD_SIGMOID, 0.2f, 0.5f, -4, 4},
        {PAN_OP_HARD_SWISH, 0, 0, -5, 5},    {PAN_OP_SILU, 0, 0, -5, 5},          {PAN_OP_CLIP, -0.5f, 0.7f, -2, 2},
        {PAN_OP_EXP, 0, 0, -3, 3},           {PAN_OP_LOG, 0, 0, 0.1f, 5},         {PAN_OP_SQRT, 0, 0, 0.01f, 5},
        {PAN_OP_NEG, 0, 0, -2, 2},           {PAN_OP_ABS, 0, 0, -2, 2},
    };
    int f = 0;
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        for (int shape = 0; shape < 2; shape++) { /* 4-D NHWC, and 3-D with an odd element count */
            pan_graph *g = NULL;
            pan__graph_create(&g, "unary");
            int64_t d3[2] = {7, 9};
            int x = shape ? in_r(g, "x", 3, d3) : in4(g, "x", 6, 5, 7);
            pan_attrs a = {0};
            a.unary.alpha = u[i].alpha;
            a.unary.beta = u[i].beta;
            unary_graph(g, u[i].op, x, &a);
            char name[64];
            snprintf(name, sizeof name, "%s %s", pan__op_name(u[i].op), shape ? "3-D" : "4-D");
            f += check_graph(g, name, TOL_ELEM, u[i].lo, u[i].hi);
        }
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(binary)
{
    NEED_GPU();
    static const pan_op ops[] = {PAN_OP_ADD, PAN_OP_SUB, PAN_OP_MUL, PAN_OP_DIV, PAN_OP_POW, PAN_OP_MAX, PAN_OP_MIN};
    int f = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        for (int shape = 0; shape < 4; shape++) {
            pan_graph *g = NULL;
            pan__graph_create(&g, "binary");
            int a = in4(g, "a", 8, 6, 10), b;
            const char *what;
            if (shape == 0) { b = in4(g, "b", 8, 6, 10); what = "same shape"; }
            else if (shape == 1) { int64_t d[4] = {1, 8, 1, 1}; b = cst(g, "b", 4, d, 0.5f, 2); what = "x [1,C,1,1] const"; }
            else if (shape == 2) { int64_t d[1] = {10}; b = cst(g, "b", 1, d, 0.5f, 2); what = "x [W] const"; }
            else { b = in4(g, "b", 1, 6, 10); what = "x [N,1,H,W] act"; }
            int y = out(g, "y"), ins[2] = {a, b};
            node(g, ops[i], 2, ins, 1, &y, NULL);
            pan__graph_mark_output(g, y);
            char name[64];
            snprintf(name, sizeof name, "%s %s", pan__op_name(ops[i]), what);
            /* positive operands keep Pow and Div away from NaN and poles */
            f += check_graph(g, name, TOL_ELEM, 0.5f, 2.0f);
        }
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(concat_split)
{
    NEED_GPU();
    int f = 0;
    for (int axis = 1; axis <= 3; axis++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "concat");
        int64_t c[3] = {8, 16, 5};
        int x[3];
        for (int k = 0; k < 3; k++)
            x[k] = in4(g, k == 0 ? "a" : k == 1 ? "b" : "c", axis == 1 ? c[k] : 4, axis == 2 ? c[k] : 6,
                       axis == 3 ? c[k] : 7);
        pan_attrs a = {0};
        a.axis.axis = axis == 3 ? -1 : axis;
        int y = out(g, "y");
        node(g, PAN_OP_CONCAT, 3, x, 1, &y, &a);
        pan__graph_mark_output(g, y);
        char name[64];
        snprintf(name, sizeof name, "concat axis %d (8,16,5)", axis);
        f += check_graph(g, name, TOL_MOVE, -2, 2);
    }
    for (int axis = 1; axis <= 2; axis++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "split");
        int x = in4(g, "x", 24, 10, 6);
        int64_t sz[3] = {axis == 1 ? 8 : 2, axis == 1 ? 12 : 5, axis == 1 ? 4 : 3};
        int s = pan__graph_add_const_i64(g, "sizes", 3, sz);
        pan_attrs a = {0};
        a.axis.axis = axis;
        int ys[3] = {out(g, "y0"), out(g, "y1"), out(g, "y2")};
        int ins[2] = {x, s};
        node(g, PAN_OP_SPLIT, 2, ins, 3, ys, &a);
        for (int k = 0; k < 3; k++) pan__graph_mark_output(g, ys[k]);
        f += check_graph(g, axis == 1 ? "split channels 8/12/4" : "split H 2/5/3", TOL_MOVE, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(slice_transpose_reshape)
{
    NEED_GPU();
    int f = 0;
    {
        pan_graph *g = NULL;
        pan__graph_create(&g, "slice");
        int x = in4(g, "x", 12, 10, 9);
        int64_t st[3] = {2, 1, -1}, en[3] = {10, 9, 0}, ax[3] = {1, 2, 3}, sp[3] = {1, 2, -2};
        int ins[5] = {x, pan__graph_add_const_i64(g, "starts", 3, st), pan__graph_add_const_i64(g, "ends", 3, en),
                      pan__graph_add_const_i64(g, "axes", 3, ax), pan__graph_add_const_i64(g, "steps", 3, sp)};
        int y = out(g, "y");
        node(g, PAN_OP_SLICE, 5, ins, 1, &y, NULL);
        pan__graph_mark_output(g, y);
        f += check_graph(g, "slice C 2:10, H 1:9:2, W -1:0:-2", TOL_MOVE, -2, 2);
    }
    {
        pan_graph *g = NULL;
        pan__graph_create(&g, "transpose4");
        int x = in4(g, "x", 5, 6, 7);
        pan_attrs a = {0};
        a.transpose.n_perm = 4;
        int64_t p[4] = {0, 2, 3, 1};
        memcpy(a.transpose.perm, p, sizeof p);
        unary_graph(g, PAN_OP_TRANSPOSE, x, &a);
        f += check_graph(g, "transpose 4-D (0,2,3,1)", TOL_MOVE, -2, 2);
    }
    {
        /* NanoDet's head: Reshape [N,C,H,W] -> [N,C,H*W], Transpose (0,2,1) */
        pan_graph *g = NULL;
        pan__graph_create(&g, "reshape_transpose");
        int x = in4(g, "x", 80, 13, 13);
        int64_t shp[3] = {BATCH, 80, 169};
        int s = pan__graph_add_const_i64(g, "shape", 3, shp);
        int r = out(g, "r"), ins[2] = {x, s};
        node(g, PAN_OP_RESHAPE, 2, ins, 1, &r, NULL);
        pan_attrs a = {0};
        a.transpose.n_perm = 3;
        a.transpose.perm[0] = 0;
        a.transpose.perm[1] = 2;
        a.transpose.perm[2] = 1;
        unary_graph(g, PAN_OP_TRANSPOSE, r, &a);
        f += check_graph(g, "reshape 4-D->3-D + transpose (0,2,1)", TOL_MOVE, -2, 2);
    }
    {
        pan_graph *g = NULL;
        pan__graph_create(&g, "reshape34");
        int64_t d[2] = {6, 20};
        int x = in_r(g, "x", 3, d);
        int64_t shp[4] = {BATCH, 6, 4, 5};
        int s = pan__graph_add_const_i64(g, "shape", 4, shp);
        int y = out(g, "y"), ins[2] = {x, s};
        node(g, PAN_OP_RESHAPE, 2, ins, 1, &y, NULL);
        pan__graph_mark_output(g, y);
        f += check_graph(g, "reshape 3-D->4-D", TOL_MOVE, -2, 2);
    }
    {
        pan_graph *g = NULL;
        pan__graph_create(&g, "expand");
        int64_t d[3] = {1, 5, 1};
        int x = in_r(g, "x", 4, d);
        int64_t shp[4] = {BATCH, 3, 5, 4};
        int s = pan__graph_add_const_i64(g, "shape", 4, shp);
        int y = out(g, "y"), ins[2] = {x, s};
        node(g, PAN_OP_EXPAND, 2, ins, 1, &y, NULL);
        pan__graph_mark_output(g, y);
        f += check_graph(g, "expand [N,1,5,1] -> [N,3,5,4]", TOL_MOVE, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(pad)
{
    NEED_GPU();
    int f = 0;
    for (int mode = 0; mode < 3; mode++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "pad");
        int x = in4(g, "x", 6, 7, 8);
        int64_t pads[8] = {0, 1, 2, 1, 0, 0, 1, 3};
        float v = 0.25f;
        int64_t one[1] = {1};
        int ins[3] = {x, pan__graph_add_const_i64(g, "pads", 8, pads),
                      pan__graph_add_const(g, "value", PAN_DTYPE_F32, 0, one, &v)};
        pan_attrs a = {0};
        a.pad.mode = (pan_pad_mode)mode;
        int y = out(g, "y");
        node(g, PAN_OP_PAD, 3, ins, 1, &y, &a);
        pan__graph_mark_output(g, y);
        f += check_graph(g, mode == 0 ? "pad constant 0.25" : mode == 1 ? "pad reflect" : "pad edge", TOL_MOVE, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(pooling)
{
    NEED_GPU();
    int f = 0;
    static const struct { pan_op op; int64_t k, s, pad; int ceil, cip; const char *name; double tol; } p[] = {
        {PAN_OP_MAXPOOL, 3, 2, 1, 0, 0, "maxpool 3x3 s2 p1", TOL_MOVE},
        {PAN_OP_MAXPOOL, 3, 2, 0, 1, 0, "maxpool 3x3 s2 ceil", TOL_MOVE},
        {PAN_OP_AVGPOOL, 2, 2, 0, 0, 0, "avgpool 2x2 s2", TOL_ELEM},
        {PAN_OP_AVGPOOL, 3, 1, 1, 0, 0, "avgpool 3x3 p1 exclude pad", TOL_ELEM},
        {PAN_OP_AVGPOOL, 3, 2, 1, 0, 1, "avgpool 3x3 s2 p1 include pad", TOL_ELEM},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "pool");
        int x = in4(g, "x", 10, 13, 16);
        pan_attrs a = {0};
        a.pool.kernel[0] = a.pool.kernel[1] = p[i].k;
        a.pool.strides[0] = a.pool.strides[1] = p[i].s;
        for (int k = 0; k < 4; k++) a.pool.pads[k] = p[i].pad;
        a.pool.ceil_mode = p[i].ceil;
        a.pool.count_include_pad = p[i].cip;
        unary_graph(g, p[i].op, x, &a);
        f += check_graph(g, p[i].name, p[i].tol, -2, 2);
    }
    for (int mx = 0; mx < 2; mx++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "gpool");
        int x = in4(g, "x", 12, 9, 11);
        unary_graph(g, mx ? PAN_OP_GLOBAL_MAXPOOL : PAN_OP_GLOBAL_AVGPOOL, x, NULL);
        f += check_graph(g, mx ? "global maxpool" : "global avgpool", mx ? TOL_MOVE : TOL_ELEM, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(resize)
{
    NEED_GPU();
    int f = 0;
    static const struct { pan_resize_mode mode; pan_resize_coord coord; pan_resize_nearest nearest; int use_scales;
                          int64_t oh, ow; const char *name; double tol; } r[] = {
        {PAN_RESIZE_LINEAR, PAN_RESIZE_HALF_PIXEL, 0, 0, 26, 26, "bilinear half_pixel x2 (NanoDet)", TOL_ELEM},
        {PAN_RESIZE_LINEAR, PAN_RESIZE_ALIGN_CORNERS, 0, 0, 20, 31, "bilinear align_corners", TOL_ELEM},
        {PAN_RESIZE_LINEAR, PAN_RESIZE_PYTORCH_HALF_PIXEL, 0, 0, 7, 5, "bilinear pytorch_half_pixel down", TOL_ELEM},
        {PAN_RESIZE_LINEAR, PAN_RESIZE_ASYMMETRIC, 0, 1, 26, 39, "bilinear asymmetric scales 2,3", TOL_ELEM},
        {PAN_RESIZE_NEAREST, PAN_RESIZE_ASYMMETRIC, PAN_NEAREST_FLOOR, 1, 26, 26, "nearest asymmetric floor x2", TOL_MOVE},
        {PAN_RESIZE_NEAREST, PAN_RESIZE_HALF_PIXEL, PAN_NEAREST_ROUND_PREFER_FLOOR, 0, 20, 33, "nearest half_pixel round", TOL_MOVE},
        {PAN_RESIZE_NEAREST, PAN_RESIZE_TF_HALF_PIXEL_FOR_NN, PAN_NEAREST_FLOOR, 0, 26, 26, "nearest tf_half_pixel_for_nn", TOL_MOVE},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "resize");
        int x = in4(g, "x", 6, 13, 13);
        int ins[4] = {x, -1, -1, -1};
        if (r[i].use_scales) {
            float sc[4] = {1, 1, (float)r[i].oh / 13.f, (float)r[i].ow / 13.f};
            int64_t d[1] = {4};
            ins[2] = pan__graph_add_const(g, "scales", PAN_DTYPE_F32, 1, d, sc);
        } else {
            int64_t sz[2] = {r[i].oh, r[i].ow};
            ins[3] = pan__graph_add_const_i64(g, "sizes", 2, sz);
        }
        pan_attrs a = {0};
        a.resize.mode = r[i].mode;
        a.resize.coord = r[i].coord;
        a.resize.nearest = r[i].nearest;
        a.resize.cubic_coeff_a = -0.75f;
        int y = out(g, "y");
        node(g, PAN_OP_RESIZE, 4, ins, 1, &y, &a);
        pan__graph_mark_output(g, y);
        f += check_graph(g, r[i].name, r[i].tol, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

PAN_TEST(softmax_batchnorm)
{
    NEED_GPU();
    int f = 0;
    for (int c = 0; c < 3; c++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "softmax");
        int64_t d[2] = {17, 33};
        int x = c < 2 ? in4(g, "x", 9, 5, 6) : in_r(g, "x", 3, d);
        pan_attrs a = {0};
        a.axis.axis = c == 0 ? 1 : c == 1 ? 3 : -1;
        unary_graph(g, PAN_OP_SOFTMAX, x, &a);
        f += check_graph(g, c == 0 ? "softmax 4-D axis 1 (C)" : c == 1 ? "softmax 4-D axis 3 (W)" : "softmax 3-D axis -1",
                         TOL_ELEM, -4, 4);
    }
    for (int c = 0; c < 2; c++) {
        pan_graph *g = NULL;
        pan__graph_create(&g, "bn");
        int64_t d2[1] = {12};
        int x = c == 0 ? in4(g, "x", 12, 5, 7) : in_r(g, "x", 2, d2);
        int64_t cd[1] = {12};
        int ins[5] = {x, cst(g, "scale", 1, cd, 0.5f, 2), cst(g, "bias", 1, cd, -1, 1), cst(g, "mean", 1, cd, -1, 1),
                      cst(g, "var", 1, cd, 0.2f, 2)};
        pan_attrs a = {0};
        a.bn.epsilon = 1e-5f;
        int y = out(g, "y");
        node(g, PAN_OP_BATCHNORM, 5, ins, 1, &y, &a);
        pan__graph_mark_output(g, y);
        f += check_graph(g, c == 0 ? "batchnorm 4-D" : "batchnorm 2-D", TOL_ELEM, -2, 2);
    }
    ASSERT_EQ(f, 0);
}

/* Gemm / MatMul with constant weights (lowered to 1x1 convolutions): y = alpha·A·B' + beta·C. */
static int gemm_case(const char *name, pan_op op, int rank, int64_t K, int64_t N, int trans_b, float alpha, float beta,
                     int c_kind /* 0 none, 1 scalar, 2 row [N], 3 [1, N] */)
{
    pan_graph *g = NULL;
    pan__graph_create(&g, name);
    int64_t rest[2] = {rank == 3 ? 5 : K, K};
    int a = in_r(g, "a", rank, rest);
    int64_t bd[2] = {trans_b ? N : K, trans_b ? K : N};
    float ws = 1.0f / sqrtf((float)K);
    int b = cst(g, "b", 2, bd, -ws, ws);
    int64_t cd1[1] = {N}, cd2[2] = {1, N};
    int c = c_kind == 1 ? cst(g, "c", 0, NULL, -0.5f, 0.5f) : c_kind == 2 ? cst(g, "c", 1, cd1, -0.5f, 0.5f)
          : c_kind == 3 ? cst(g, "c", 2, cd2, -0.5f, 0.5f) : -1;
    pan_attrs at = {0};
    at.gemm.alpha = alpha;
    at.gemm.beta = beta;
    at.gemm.trans_b = trans_b;
    int y = out(g, "y"), ins[3] = {a, b, c};
    node(g, op, c >= 0 ? 3 : 2, ins, 1, &y, op == PAN_OP_GEMM ? &at : NULL);
    pan__graph_mark_output(g, y);
    return check_graph(g, name, TOL_CONV, -1.f, 1.f);
}

PAN_TEST(gemm_matmul)
{
    NEED_GPU();
    int f = 0;
    f += gemm_case("gemm transB bias row (OSNet FC)", PAN_OP_GEMM, 2, 512, 256, 1, 1.f, 1.f, 2);
    f += gemm_case("gemm B [K,N] alpha beta scalar C", PAN_OP_GEMM, 2, 64, 40, 0, 0.5f, 2.f, 1);
    f += gemm_case("gemm K=5 (padded channels) C [1,N]", PAN_OP_GEMM, 2, 5, 24, 1, 1.f, 0.5f, 3);
    f += gemm_case("gemm no C odd N", PAN_OP_GEMM, 2, 96, 37, 0, 1.f, 1.f, 0);
    f += gemm_case("matmul 2-D", PAN_OP_MATMUL, 2, 128, 64, 0, 1.f, 1.f, 0);
    f += gemm_case("matmul 3-D [N,5,K] x [K,N']", PAN_OP_MATMUL, 3, 48, 32, 0, 1.f, 1.f, 0);
    ASSERT_EQ(f, 0);
}

PAN_TEST(chain)
{
    /* conv -> maxpool -> resize -> concat with two other branches (one a conv written straight into
     * the concat) -> split -> sigmoid: buffers reused across steps by the arena plan, layouts kept
     * NHWC across ops */
    NEED_GPU();
    pan_graph *g = NULL;
    pan__graph_create(&g, "chain");
    int x = in4(g, "x", 8, 16, 16);
    int64_t wd[4] = {16, 8, 3, 3}, bd[1] = {16};
    int w = cst(g, "w", 4, wd, -0.2f, 0.2f), b = cst(g, "b", 1, bd, -0.2f, 0.2f);
    pan_attrs ca = {0};
    for (int k = 0; k < 4; k++) ca.conv.pads[k] = 1;
    ca.conv.act = PAN_ACT_LEAKY_RELU;
    ca.conv.act_alpha = 0.1f;
    int c1 = out(g, "c1"), ins[4] = {x, w, b, -1};
    node(g, PAN_OP_CONV, 3, ins, 1, &c1, &ca);
    pan_attrs pa = {0};
    pa.pool.kernel[0] = pa.pool.kernel[1] = 2;
    pa.pool.strides[0] = pa.pool.strides[1] = 2;
    int p1 = out(g, "p1");
    node(g, PAN_OP_MAXPOOL, 1, &c1, 1, &p1, &pa);
    int64_t sz[2] = {16, 16};
    int rins[4] = {p1, -1, -1, pan__graph_add_const_i64(g, "sizes", 2, sz)};
    pan_attrs ra = {0};
    ra.resize.mode = PAN_RESIZE_LINEAR;
    int r1 = out(g, "r1");
    node(g, PAN_OP_RESIZE, 4, rins, 1, &r1, &ra);
    /* a conv whose only consumer is the concat: its epilogue writes the concat's slice directly */
    int64_t w2d[4] = {8, 8, 1, 1}, b2d[1] = {8};
    int w2 = cst(g, "w2", 4, w2d, -0.3f, 0.3f), b2 = cst(g, "b2", 1, b2d, -0.2f, 0.2f);
    pan_attrs c2a = {0};
    int c2 = out(g, "c2"), c2ins[3] = {x, w2, b2};
    node(g, PAN_OP_CONV, 3, c2ins, 1, &c2, &c2a);
    int cat = out(g, "cat"), cins[3] = {r1, c2, c1};
    pan_attrs xa = {0};
    xa.axis.axis = 1;
    node(g, PAN_OP_CONCAT, 3, cins, 1, &cat, &xa);
    int s0 = out(g, "s0"), s1 = out(g, "s1"), souts[2] = {s0, s1};
    node(g, PAN_OP_SPLIT, 1, &cat, 2, souts, &xa);
    int y = out(g, "y");
    node(g, PAN_OP_SIGMOID, 1, &s0, 1, &y, NULL);
    pan__graph_mark_output(g, y);
    pan__graph_mark_output(g, s1);
    ASSERT_EQ(check_graph(g, "chain conv/pool/resize/concat/split", TOL_CONV, -1, 1), 0);
    /* NanoDet's head: Reshape to [N,C,H*W] + Transpose (0,2,1), lowered to one contiguous copy */
    pan_graph *h = NULL;
    pan__graph_create(&h, "head");
    int hx = in4(h, "x", 124, 13, 13);
    int64_t sz2[2] = {80, 44};
    int sp = pan__graph_add_const_i64(h, "sizes", 2, sz2);
    int s80 = out(h, "s80"), s44 = out(h, "s44"), souts2[2] = {s80, s44}, sins[2] = {hx, sp};
    node(h, PAN_OP_SPLIT, 2, sins, 2, souts2, &xa);
    int64_t shp[3] = {BATCH, 44, 169};
    int r44 = out(h, "r44"), rins2[2] = {s44, pan__graph_add_const_i64(h, "shape", 3, shp)};
    node(h, PAN_OP_RESHAPE, 2, rins2, 1, &r44, NULL);
    pan_attrs ta = {0};
    ta.transpose.n_perm = 3;
    ta.transpose.perm[1] = 2;
    ta.transpose.perm[2] = 1;
    int t44 = out(h, "t44");
    node(h, PAN_OP_TRANSPOSE, 1, &r44, 1, &t44, &ta);
    pan__graph_mark_output(h, t44);
    pan__graph_mark_output(h, s80);
    ASSERT_EQ(check_graph(h, "head split/reshape/transpose", TOL_MOVE, -2, 2), 0);
}

PAN_TEST_MAIN(conv, unary, binary, concat_split, slice_transpose_reshape, pad, pooling, resize, softmax_batchnorm,
              gemm_matmul, chain)

#else /* no CUDA in this build */

PAN_TEST(cuda_backend_ops) { PAN_SKIP("built without CUDA"); }
PAN_TEST_MAIN(cuda_backend_ops)

#endif
