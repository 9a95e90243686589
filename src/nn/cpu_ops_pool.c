/* cpu pooling and resize, NCHW FP32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"

/* Full vectoriser for the pooling loops (GCC's -O2 uses only its cheapest model). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

typedef struct pool_job {
    const pan_pool_attrs *a;
    const float *x;
    float *y;
    int64_t H, W, OH, OW;
    int is_max;
} pool_job;

/* One output pixel the slow way: taps clipped to the image (borders). */
static float pool_one(const pool_job *j, const float *x, int64_t y0, int64_t ky0, int64_t ky1, int64_t ya, int64_t ox)
{
    const pan_pool_attrs *a = j->a;
    int64_t kw = a->kernel[1], sw = a->strides[1] > 0 ? a->strides[1] : 1;
    int64_t dh = a->dilations[0] > 0 ? a->dilations[0] : 1, dw = a->dilations[1] > 0 ? a->dilations[1] : 1;
    int64_t x0 = ox * sw - a->pads[1];
    int64_t kx0 = x0 >= 0 ? 0 : (-x0 + dw - 1) / dw, kx1 = j->W - x0 <= 0 ? 0 : (j->W - x0 + dw - 1) / dw;
    if (kx1 > kw) kx1 = kw;
    float m = -INFINITY, s = 0;
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *row = x + (y0 + ky * dh) * j->W + x0;
        for (int64_t kx = kx0; kx < kx1; kx++) {
            float v = row[kx * dw];
            m = v > m ? v : m;
            s += v;
        }
    }
    if (j->is_max) return m;
    int64_t cnt = (ky1 > ky0 ? ky1 - ky0 : 0) * (kx1 > kx0 ? kx1 - kx0 : 0);
    if (a->count_include_pad) {
        int64_t xa = 0;
        for (int64_t kx = 0; kx < kw; kx++) xa += x0 + kx * dw < j->W + a->pads[3];
        cnt = ya * xa;
    }
    return s / (float)(cnt ? cnt : 1);
}

/* planes [p0, p1) = (batch, channel) pairs. Per output row: the columns whose window lies inside
 * the image horizontally are computed tap by tap over the whole run (vectorised loops), the
 * others one by one. */
static void pool_planes(void *arg, int64_t p0, int64_t p1)
{
    const pool_job *j = arg;
    const pan_pool_attrs *a = j->a;
    int64_t kh = a->kernel[0], kw = a->kernel[1];
    int64_t sh = a->strides[0] > 0 ? a->strides[0] : 1, sw = a->strides[1] > 0 ? a->strides[1] : 1;
    int64_t dh = a->dilations[0] > 0 ? a->dilations[0] : 1, dw = a->dilations[1] > 0 ? a->dilations[1] : 1;
    int64_t pl = a->pads[1];
    /* interior columns: ox*sw - pl >= 0 and ox*sw - pl + (kw-1)*dw < W */
    int64_t oxa = (pl + sw - 1) / sw, oxb = j->W - (kw - 1) * dw + pl <= 0 ? 0 : (j->W - (kw - 1) * dw + pl - 1) / sw + 1;
    if (oxb > j->OW) oxb = j->OW;
    if (oxa > oxb) oxa = oxb;
    for (int64_t p = p0; p < p1; p++) {
        const float *x = j->x + p * j->H * j->W;
        float *y = j->y + p * j->OH * j->OW;
        for (int64_t oy = 0; oy < j->OH; oy++) {
            /* window taps ky in [ky0, ky1) fall inside the image */
            int64_t y0 = oy * sh - a->pads[0];
            int64_t ky0 = y0 >= 0 ? 0 : (-y0 + dh - 1) / dh, ky1 = j->H - y0 <= 0 ? 0 : (j->H - y0 + dh - 1) / dh;
            if (ky1 > kh) ky1 = kh;
            int64_t ya = 0; /* taps inside the padded input (count_include_pad) */
            for (int64_t ky = 0; ky < kh; ky++) ya += y0 + ky * dh < j->H + a->pads[2];
            float *yr = y + oy * j->OW;
            for (int64_t ox = 0; ox < oxa; ox++) yr[ox] = pool_one(j, x, y0, ky0, ky1, ya, ox);
            for (int64_t ox = oxb; ox < j->OW; ox++) yr[ox] = pool_one(j, x, y0, ky0, ky1, ya, ox);
            int64_t n = oxb - oxa;
            if (n <= 0) continue;
            float *acc = yr + oxa;
            /* the window's rows first, into one row vr of the input columns the run reads (contiguous,
             * vectorised), then its columns with the stride: kh*sw + kw loads per output, not kh*kw
             * strided ones */
            int64_t xa = oxa * sw - pl, xn = (n - 1) * sw + (kw - 1) * dw + 1;
            float vrow[1024];
            if (xn <= (int64_t)(sizeof vrow / sizeof vrow[0]) && ky1 > ky0) {
                const float *r0 = x + (y0 + ky0 * dh) * j->W + xa;
                memcpy(vrow, r0, sizeof(float) * (size_t)xn);
                for (int64_t ky = ky0 + 1; ky < ky1; ky++) {
                    const float *src = x + (y0 + ky * dh) * j->W + xa;
                    if (j->is_max)
                        for (int64_t i = 0; i < xn; i++) vrow[i] = src[i] > vrow[i] ? src[i] : vrow[i];
                    else
                        for (int64_t i = 0; i < xn; i++) vrow[i] += src[i];
                }
                if (j->is_max && sw == 2 && kw == 2 && dw == 1)
                    for (int64_t i = 0; i < n; i++) acc[i] = vrow[2 * i + 1] > vrow[2 * i] ? vrow[2 * i + 1] : vrow[2 * i];
                else if (!j->is_max && sw == 2 && kw == 2 && dw == 1)
                    for (int64_t i = 0; i < n; i++) acc[i] = vrow[2 * i] + vrow[2 * i + 1];
                else {
                    for (int64_t i = 0; i < n; i++) acc[i] = vrow[i * sw];
                    for (int64_t kx = 1; kx < kw; kx++) {
                        const float *src = vrow + kx * dw;
                        if (j->is_max)
                            for (int64_t i = 0; i < n; i++) acc[i] = src[i * sw] > acc[i] ? src[i * sw] : acc[i];
                        else
                            for (int64_t i = 0; i < n; i++) acc[i] += src[i * sw];
                    }
                }
            } else {
                for (int64_t i = 0; i < n; i++) acc[i] = j->is_max ? -INFINITY : 0.0f;
                for (int64_t ky = ky0; ky < ky1; ky++)
                    for (int64_t kx = 0; kx < kw; kx++) {
                        const float *src = x + (y0 + ky * dh) * j->W + xa + kx * dw;
                        if (j->is_max)
                            for (int64_t i = 0; i < n; i++) acc[i] = src[i * sw] > acc[i] ? src[i * sw] : acc[i];
                        else
                            for (int64_t i = 0; i < n; i++) acc[i] += src[i * sw];
                    }
            }
            if (!j->is_max) {
                int64_t cnt = a->count_include_pad ? ya * kw : (ky1 > ky0 ? ky1 - ky0 : 0) * kw;
                float inv = 1.0f / (float)(cnt ? cnt : 1);
                for (int64_t i = 0; i < n; i++) acc[i] *= inv;
            }
        }
    }
}

pan_status pan__cpu_pool2d(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]], *y = &c->g->tensors[c->n->outputs[0]];
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    pool_job j = {&c->n->attrs.pool, c->in[0], c->out[0], x->dims[2], x->dims[3], y->dims[2], y->dims[3],
                  c->n->op == PAN_OP_MAXPOOL};
    pan__cpu_parallel_for(c->pool, x->dims[0] * x->dims[1], pool_planes, &j);
    return PAN_OK;
}

typedef struct gpool_job {
    const float *x;
    float *y;
    int64_t hw;
    int is_max;
} gpool_job;

static void gpool_planes(void *arg, int64_t p0, int64_t p1)
{
    const gpool_job *j = arg;
    for (int64_t p = p0; p < p1; p++) {
        const float *q = j->x + p * j->hw;
        float acc[8], r;
        int64_t i = 0;
        /* eight partial results, so the loops vectorise without reassociating one sum */
        if (j->is_max) {
            for (int k = 0; k < 8; k++) acc[k] = -INFINITY;
            for (; i + 8 <= j->hw; i += 8)
                for (int k = 0; k < 8; k++) acc[k] = q[i + k] > acc[k] ? q[i + k] : acc[k];
            r = -INFINITY;
            for (int k = 0; k < 8; k++) r = acc[k] > r ? acc[k] : r;
            for (; i < j->hw; i++) r = q[i] > r ? q[i] : r;
        } else {
            for (int k = 0; k < 8; k++) acc[k] = 0.0f;
            for (; i + 8 <= j->hw; i += 8)
                for (int k = 0; k < 8; k++) acc[k] += q[i + k];
            r = 0.0f;
            for (int k = 0; k < 8; k++) r += acc[k];
            for (; i < j->hw; i++) r += q[i];
        }
        j->y[p] = j->is_max ? r : j->hw ? r / (float)j->hw : 0.0f;
    }
}

pan_status pan__cpu_global_pool(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]];
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    int64_t planes = x->dims[0] * x->dims[1];
    gpool_job j = {c->in[0], c->out[0], x->dims[2] * x->dims[3], c->n->op == PAN_OP_GLOBAL_MAXPOOL};
    pan__cpu_parallel_for_grain(planes * j.hw >= 32768 ? c->pool : NULL, planes, 16, gpool_planes, &j);
    return PAN_OK;
}

/* Input coordinate of output index x along one axis (see pan_resize_coord in ir.h).
 * scale = out/in (ONNX convention). */
static double source_coord(pan_resize_coord mode, int64_t x, double scale, int64_t in, int64_t out)
{
    switch (mode) {
    case PAN_RESIZE_HALF_PIXEL: return ((double)x + 0.5) / scale - 0.5;
    case PAN_RESIZE_PYTORCH_HALF_PIXEL: return out > 1 ? ((double)x + 0.5) / scale - 0.5 : 0.0;
    case PAN_RESIZE_ASYMMETRIC: return (double)x / scale;
    case PAN_RESIZE_ALIGN_CORNERS: return out > 1 ? (double)x * (double)(in - 1) / (double)(out - 1) : 0.0;
    case PAN_RESIZE_TF_HALF_PIXEL_FOR_NN: return ((double)x + 0.5) / scale;
    }
    return 0;
}

static int64_t nearest_index(pan_resize_nearest m, double u, int64_t in)
{
    double r;
    switch (m) {
    case PAN_NEAREST_ROUND_PREFER_FLOOR: r = (u == floor(u) + 0.5) ? floor(u) : round(u); break;
    case PAN_NEAREST_ROUND_PREFER_CEIL: r = (u == floor(u) + 0.5) ? ceil(u) : round(u); break;
    case PAN_NEAREST_FLOOR: r = floor(u); break;
    default: r = ceil(u); break;
    }
    int64_t i = (int64_t)r;
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

typedef struct resize_job {
    const float *x;
    float *y;
    int64_t H, W, OH, OW;
    const int64_t *iy0, *iy1, *ix0, *ix1; /* per output row/col: source indices */
    const float *fy, *fx;                 /* weights of index 1 (linear) */
    int linear;
} resize_job;

static void resize_planes(void *arg, int64_t p0, int64_t p1)
{
    const resize_job *j = arg;
    for (int64_t p = p0; p < p1; p++) {
        const float *x = j->x + p * j->H * j->W;
        float *y = j->y + p * j->OH * j->OW;
        for (int64_t oy = 0; oy < j->OH; oy++) {
            const float *r0 = x + j->iy0[oy] * j->W, *r1 = x + j->iy1[oy] * j->W;
            float wy = j->fy[oy];
            float *yr = y + oy * j->OW;
            if (!j->linear) {
                for (int64_t ox = 0; ox < j->OW; ox++) yr[ox] = r0[j->ix0[ox]];
                continue;
            }
            for (int64_t ox = 0; ox < j->OW; ox++) {
                float wx = j->fx[ox];
                float a = r0[j->ix0[ox]] + (r0[j->ix1[ox]] - r0[j->ix0[ox]]) * wx;
                float b = r1[j->ix0[ox]] + (r1[j->ix1[ox]] - r1[j->ix0[ox]]) * wx;
                yr[ox] = a + (b - a) * wy;
            }
        }
    }
}

static void axis_table(const pan_resize_attrs *a, int64_t in, int64_t out, double scale, int64_t *i0, int64_t *i1,
                       float *f)
{
    for (int64_t o = 0; o < out; o++) {
        double u = source_coord(a->coord, o, scale, in, out);
        if (a->mode == PAN_RESIZE_NEAREST) {
            i0[o] = i1[o] = nearest_index(a->nearest, u, in);
            f[o] = 0;
            continue;
        }
        /* linear: clamp to the edge pixels (TF and ONNX Runtime both do) */
        if (u < 0) u = 0;
        if (u > (double)(in - 1)) u = (double)(in - 1);
        int64_t lo = (int64_t)floor(u);
        i0[o] = lo;
        i1[o] = lo + 1 < in ? lo + 1 : in - 1;
        f[o] = (float)(u - (double)lo);
    }
}

pan_status pan__cpu_resize(const pan_cpu_call *c)
{
    const pan_node *n = c->n;
    const pan_tensor *x = &c->g->tensors[n->inputs[0]], *y = &c->g->tensors[n->outputs[0]];
    const pan_resize_attrs *a = &n->attrs.resize;
    if (x->dtype != PAN_DTYPE_F32 || a->mode == PAN_RESIZE_CUBIC) return PAN_UNSUPPORTED;
    int64_t H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
    double sy = (double)OH / (double)H, sx = (double)OW / (double)W;
    if (!(n->n_inputs > 3 && n->inputs[3] >= 0) && n->n_inputs > 2 && n->inputs[2] >= 0 && c->in[2]) {
        const pan_tensor *s = &c->g->tensors[n->inputs[2]];
        int64_t k = pan__tensor_numel(s);
        sy = pan__tensor_get_f64(s, k - 2);
        sx = pan__tensor_get_f64(s, k - 1);
    }
    /* index/weight tables: 3 words per output row and column; on the stack when small */
    int64_t tab = 3 * (OH + OW);
    int64_t stack_buf[3 * 1024];
    int64_t *buf = tab <= 3 * 1024 ? stack_buf : malloc(sizeof(int64_t) * (size_t)tab);
    if (!buf) return PAN_NOMEM;
    int64_t *iy0 = buf, *iy1 = iy0 + OH, *ix0 = iy1 + OH, *ix1 = ix0 + OW;
    float *fy = (float *)(ix1 + OW), *fx = fy + OH;
    axis_table(a, H, OH, sy, iy0, iy1, fy);
    axis_table(a, W, OW, sx, ix0, ix1, fx);
    resize_job j = {c->in[0], c->out[0], H, W, OH, OW, iy0, iy1, ix0, ix1, fy, fx, a->mode == PAN_RESIZE_LINEAR};
    pan__cpu_parallel_for(c->pool, x->dims[0] * x->dims[1], resize_planes, &j);
    if (buf != stack_buf) free(buf);
    return PAN_OK;
}
