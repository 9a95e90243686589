/* cpu conv (NCHW, OIHW weights), batch-norm, Gemm and MatMul in FP32.
 *
 * Conv strategy, per image and group:
 *  - depthwise (group == C_in == C_out): direct loops, one output channel at a time;
 *  - 1x1, stride 1, no padding: Y[O, HW] = W[O, C] x X[C, HW], no im2col;
 *  - otherwise im2col into col[C/g*kh*kw, OH*OW] and one sgemm.
 * Work is split across threads by output columns (pixels): each thread fills its columns of col,
 * runs sgemm on them and applies the epilogue (bias, activation, residual) while they are hot. */
#include <math.h>
#include <string.h>

#include "nn/cpu_ops.h"

/* The loops here are simple enough for the vectoriser, which GCC runs at -O2 only in its cheapest
 * form; ask for the full one in this file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#ifdef PANOPTES_HAVE_CBLAS
#include <cblas.h>
#endif

void pan__cpu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                    int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty inner dimension (a degenerate model): C = beta*C, BLAS would reject lda */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0.0f : beta * C[i * ldc + j];
        return;
    }
#ifdef PANOPTES_HAVE_CBLAS
    if (M < INT32_MAX && N < INT32_MAX && K < INT32_MAX) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M,
                    (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
#endif
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0) memset(c, 0, sizeof(float) * (size_t)N);
        else if (beta != 1)
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
            if (a == 0) continue;
            if (!trans_b) {
                const float *b = B + k * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
            }
        }
    }
}

typedef struct conv_job {
    const pan_conv_attrs *a;
    const float *x, *w, *bias, *res;
    float *y, *col;
    int64_t C, H, W, O, OH, OW, kh, kw, groups, sh, sw, dh, dw, pt, pl;
} conv_job;

static void epilogue(const conv_job *j, int64_t o, float *y, const float *res, int64_t n)
{
    float b = j->bias ? j->bias[o] : 0.0f;
    const pan_conv_attrs *a = j->a;
    if (!res && a->act == PAN_ACT_LEAKY_RELU) { /* the common case (NanoDet), one pass */
        float al = a->act_alpha;
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + b;
            y[i] = v > 0 ? v : v * al;
        }
        return;
    }
    if (!res && a->act == PAN_ACT_RELU) {
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + b;
            y[i] = v > 0 ? v : 0;
        }
        return;
    }
    if (b != 0)
        for (int64_t i = 0; i < n; i++) y[i] += b;
    if (res && !a->residual_after_act)
        for (int64_t i = 0; i < n; i++) y[i] += res[i];
    if (a->act != PAN_ACT_NONE) pan__cpu_act(y, n, a->act, a->act_alpha, a->act_beta);
    if (res && a->residual_after_act)
        for (int64_t i = 0; i < n; i++) y[i] += res[i];
}

/* Row k = (c, ky, kx) of the im2col matrix for output pixels [c0, c1): col[p] = x[c, iy, ix] with
 * iy = oy*sh - pt + ky*dh, ix = ox*sw - pl + kx*dw, 0 outside the image. Walks output rows so the
 * inner loop is a contiguous copy (stride 1) or a strided gather, with the borders zeroed. */
static void im2col_row(const conv_job *j, const float *xg, int64_t k, int64_t c0, int64_t c1, float *col)
{
    int64_t c = k / (j->kh * j->kw), r = k % (j->kh * j->kw), ky = r / j->kw, kx = r % j->kw;
    const float *xc = xg + c * j->H * j->W;
    for (int64_t oy = c0 / j->OW; oy * j->OW < c1; oy++) {
        int64_t xa = oy * j->OW < c0 ? c0 - oy * j->OW : 0;
        int64_t xb = (oy + 1) * j->OW > c1 ? c1 - oy * j->OW : j->OW;
        float *dst = col + oy * j->OW;
        int64_t iy = oy * j->sh - j->pt + ky * j->dh;
        if (iy < 0 || iy >= j->H) {
            memset(dst + xa, 0, sizeof(float) * (size_t)(xb - xa));
            continue;
        }
        const float *src = xc + iy * j->W;
        int64_t base = kx * j->dw - j->pl;
        /* valid ox: 0 <= ox*sw + base < W */
        int64_t lo = base >= 0 ? 0 : (-base + j->sw - 1) / j->sw;
        int64_t hi = j->W - base <= 0 ? 0 : (j->W - base + j->sw - 1) / j->sw; /* exclusive */
        if (lo < xa) lo = xa;
        if (hi > xb) hi = xb;
        if (hi < lo) hi = lo;
        for (int64_t ox = xa; ox < lo; ox++) dst[ox] = 0;
        if (j->sw == 1) memcpy(dst + lo, src + lo + base, sizeof(float) * (size_t)(hi - lo));
        else
            for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[ox * j->sw + base];
        for (int64_t ox = hi; ox < xb; ox++) dst[ox] = 0;
    }
}

/* Columns [c0, c1) of output pixels of one image, all groups, in blocks small enough that a
 * block of the im2col matrix (K x blk floats, about 2 MiB) stays in cache while sgemm reads it
 * (measured: a little faster than one sgemm over all columns, and much faster than small blocks). */
static void conv_cols(void *arg, int64_t c0, int64_t c1)
{
    const conv_job *j = arg;
    int64_t N = j->OH * j->OW, cg = j->C / j->groups, og = j->O / j->groups, K = cg * j->kh * j->kw;
    int pointwise = j->kh == 1 && j->kw == 1 && j->sh == 1 && j->sw == 1 && j->pt == 0 && j->pl == 0 &&
                    j->OH == j->H && j->OW == j->W;
    int64_t blk = (INT64_C(2) << 20) / (K * (int64_t)sizeof(float));
    blk = blk < 512 ? 512 : blk & ~INT64_C(15);
    for (int64_t b0 = c0; b0 < c1; b0 += blk) {
        int64_t b1 = b0 + blk < c1 ? b0 + blk : c1;
        for (int64_t gi = 0; gi < j->groups; gi++) {
            const float *xg = j->x + gi * cg * j->H * j->W;
            const float *B;
            if (pointwise) {
                B = xg + b0;
            } else {
                for (int64_t k = 0; k < K; k++) im2col_row(j, xg, k, b0, b1, j->col + k * N);
                B = j->col + b0;
            }
            float *yg = j->y + gi * og * N + b0;
            pan__cpu_sgemm(0, 0, og, b1 - b0, K, 1.0f, j->w + gi * og * K, K, B, N, 0.0f, yg, N);
            for (int64_t o = 0; o < og; o++)
                epilogue(j, gi * og + o, yg + o * N, j->res ? j->res + (gi * og + o) * N + b0 : NULL, b1 - b0);
        }
    }
}

/* Depthwise: output channels [o0, o1) of one image. */
static void conv_depthwise(void *arg, int64_t o0, int64_t o1)
{
    const conv_job *j = arg;
    int64_t N = j->OH * j->OW;
    for (int64_t o = o0; o < o1; o++) {
        const float *xc = j->x + o * j->H * j->W, *w = j->w + o * j->kh * j->kw;
        float *y = j->y + o * N;
        for (int64_t oy = 0; oy < j->OH; oy++)
            for (int64_t ox = 0; ox < j->OW; ox++) {
                float s = 0;
                for (int64_t ky = 0; ky < j->kh; ky++) {
                    int64_t iy = oy * j->sh - j->pt + ky * j->dh;
                    if (iy < 0 || iy >= j->H) continue;
                    for (int64_t kx = 0; kx < j->kw; kx++) {
                        int64_t ix = ox * j->sw - j->pl + kx * j->dw;
                        if (ix >= 0 && ix < j->W) s += xc[iy * j->W + ix] * w[ky * j->kw + kx];
                    }
                }
                y[oy * j->OW + ox] = s;
            }
        epilogue(j, o, y, j->res ? j->res + o * N : NULL, N);
    }
}

static int is_depthwise(const pan_tensor *x, const pan_tensor *w, int64_t groups)
{
    return groups > 1 && groups == x->dims[1] && groups == w->dims[0];
}

size_t pan__cpu_op_scratch_bytes(const pan_graph *g, const pan_node *n)
{
    if (n->op != PAN_OP_CONV) return 0;
    const pan_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->outputs[0]];
    int64_t groups = n->attrs.conv.group > 0 ? n->attrs.conv.group : 1;
    if (is_depthwise(x, w, groups)) return 0;
    int64_t K = w->dims[1] * w->dims[2] * w->dims[3];
    return (size_t)(K * y->dims[2] * y->dims[3]) * sizeof(float);
}

pan_status pan__cpu_conv(const pan_cpu_call *c)
{
    const pan_graph *g = c->g;
    const pan_node *n = c->n;
    const pan_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->outputs[0]];
    if (x->dtype != PAN_DTYPE_F32 || w->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    if (c->prep) return pan__cpu_conv_fast(c);
    const pan_conv_attrs *a = &n->attrs.conv;
    conv_job j = {
        .a = a,
        .w = c->in[1],
        .bias = n->n_inputs > 2 ? c->in[2] : NULL,
        .C = x->dims[1], .H = x->dims[2], .W = x->dims[3],
        .O = y->dims[1], .OH = y->dims[2], .OW = y->dims[3],
        .kh = w->dims[2], .kw = w->dims[3],
        .groups = a->group > 0 ? a->group : 1,
        .sh = a->strides[0] > 0 ? a->strides[0] : 1, .sw = a->strides[1] > 0 ? a->strides[1] : 1,
        .dh = a->dilations[0] > 0 ? a->dilations[0] : 1, .dw = a->dilations[1] > 0 ? a->dilations[1] : 1,
        .pt = a->pads[0], .pl = a->pads[1],
        .col = c->scratch,
    };
    const float *res = n->n_inputs > 3 ? c->in[3] : NULL;
    int dw = is_depthwise(x, w, j.groups);
    int64_t N = j.OH * j.OW;
    for (int64_t b = 0; b < x->dims[0]; b++) {
        j.x = (const float *)c->in[0] + b * j.C * j.H * j.W;
        j.y = (float *)c->out[0] + b * j.O * N;
        j.res = res ? res + b * j.O * N : NULL;
        if (dw) pan__cpu_parallel_for(c->pool, j.O, conv_depthwise, &j);
        else pan__cpu_parallel_for_grain(c->pool, N, 192, conv_cols, &j);
    }
    return PAN_OK;
}

pan_status pan__cpu_batchnorm(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]];
    const float *in = c->in[0], *sc = c->in[1], *bi = c->in[2], *mu = c->in[3], *var = c->in[4];
    float *out = c->out[0];
    float eps = c->n->attrs.bn.epsilon;
    int64_t C = x->dims[1], inner = 1;
    for (int i = 2; i < x->rank; i++) inner *= x->dims[i];
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t ch = 0; ch < C; ch++) {
            float s = sc[ch] / sqrtf(var[ch] + eps), t = bi[ch] - mu[ch] * s;
            const float *p = in + (b * C + ch) * inner;
            float *q = out + (b * C + ch) * inner;
            for (int64_t i = 0; i < inner; i++) q[i] = p[i] * s + t;
        }
    return PAN_OK;
}

pan_status pan__cpu_gemm(const pan_cpu_call *c)
{
    const pan_graph *g = c->g;
    const pan_node *n = c->n;
    const pan_gemm_attrs *a = &n->attrs.gemm;
    const pan_tensor *A = &g->tensors[n->inputs[0]], *y = &g->tensors[n->outputs[0]];
    int64_t M = y->dims[0], N = y->dims[1], K = a->trans_a ? A->dims[0] : A->dims[1];
    float *out = c->out[0];
    float beta = 0;
    if (n->n_inputs > 2 && c->in[2]) {
        const pan_tensor *C = &g->tensors[n->inputs[2]];
        const float *cv = c->in[2];
        int64_t cm = C->rank == 2 ? C->dims[0] : 1, cn = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) out[i * N + k] = cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : k)];
        beta = a->beta;
    }
    pan__cpu_sgemm(a->trans_a, a->trans_b, M, N, K, a->alpha, c->in[0], A->dims[1], c->in[1],
                   g->tensors[n->inputs[1]].dims[1], beta, out, N);
    return PAN_OK;
}

pan_status pan__cpu_matmul(const pan_cpu_call *c)
{
    const pan_graph *g = c->g;
    const pan_node *n = c->n;
    const pan_tensor *A = &g->tensors[n->inputs[0]], *B = &g->tensors[n->inputs[1]], *Y = &g->tensors[n->outputs[0]];
    if (A->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    int64_t M = A->rank > 1 ? A->dims[A->rank - 2] : 1, K = A->dims[A->rank - 1];
    int64_t N = B->rank > 1 ? B->dims[B->rank - 1] : 1;
    /* batch dims of the output (all but the matrix dims), broadcast onto A and B */
    int yb = Y->rank - (A->rank > 1) - (B->rank > 1);
    int ab = A->rank > 2 ? A->rank - 2 : 0, bb = B->rank > 2 ? B->rank - 2 : 0;
    int64_t nb = 1;
    for (int i = 0; i < yb; i++) nb *= Y->dims[i];
    for (int64_t bi = 0; bi < nb; bi++) {
        int64_t rem = bi, ao = 0, bo = 0, astr = 1, bstr = 1;
        for (int i = yb - 1; i >= 0; i--) {
            int64_t idx = rem % Y->dims[i];
            rem /= Y->dims[i];
            int ia = i - (yb - ab), ib = i - (yb - bb);
            if (ia >= 0) {
                ao += (A->dims[ia] == 1 ? 0 : idx) * astr;
                astr *= A->dims[ia];
            }
            if (ib >= 0) {
                bo += (B->dims[ib] == 1 ? 0 : idx) * bstr;
                bstr *= B->dims[ib];
            }
        }
        pan__cpu_sgemm(0, 0, M, N, K, 1.0f, (const float *)c->in[0] + ao * M * K, K,
                       (const float *)c->in[1] + bo * K * N, N, 0.0f, (float *)c->out[0] + bi * M * N, N);
    }
    return PAN_OK;
}
