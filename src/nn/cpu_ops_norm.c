/* cpu kernels of the computing ops the detector families use (op_table_ext.h): ReduceSum/Max/Min,
 * LayerNormalization, Erf/Gelu/Floor/Ceil, GridSample, Einsum. FP32 (reductions also I64). */
#include <math.h>
#include <string.h>

#include "nn/cpu_ops.h"

#define TIN(k) (&c->g->tensors[c->n->inputs[k]])
#define TOUT(k) (&c->g->tensors[c->n->outputs[k]])
#define HAS_IN(k) (c->n->n_inputs > (k) && c->n->inputs[k] >= 0)

/* Which dims of x the node reduces (the axes input, or all); 0 when noop_with_empty_axes applies. */
static int reduce_mask(const pan_cpu_call *c, const pan_tensor *x, int *mask)
{
    memset(mask, 0, sizeof(int) * PAN_MAX_DIMS);
    if (HAS_IN(1) && pan__tensor_numel(TIN(1)) > 0) {
        pan_tensor ax = *TIN(1);
        ax.data = (void *)c->in[1];
        for (int64_t i = 0; i < pan__tensor_numel(&ax); i++) {
            int64_t a = pan__tensor_get_i64(&ax, i);
            mask[a < 0 ? a + x->rank : a] = 1;
        }
        return 1;
    }
    if (c->n->attrs.reduce.noop_with_empty_axes) return 0;
    for (int i = 0; i < x->rank; i++) mask[i] = 1;
    return 1;
}

pan_status pan__cpu_reduce(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *y = TOUT(0);
    if (x->dtype != PAN_DTYPE_F32 && x->dtype != PAN_DTYPE_I64) return PAN_UNSUPPORTED;
    int mask[PAN_MAX_DIMS];
    int64_t nx = pan__tensor_numel(x), ny = pan__tensor_numel(y);
    if (!reduce_mask(c, x, mask)) {
        memcpy(c->out[0], c->in[0], (size_t)nx * pan_dtype_size(x->dtype));
        return PAN_OK;
    }
    const pan_op op = c->n->op;
    int64_t os[PAN_MAX_DIMS], st = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        os[d] = mask[d] ? 0 : st;
        st *= mask[d] ? 1 : x->dims[d];
    }
    if (x->dtype == PAN_DTYPE_F32) {
        float *out = c->out[0];
        const float *in = c->in[0];
        float init = op == PAN_OP_REDUCE_SUM ? 0.f : op == PAN_OP_REDUCE_MAX ? -INFINITY : INFINITY;
        for (int64_t i = 0; i < ny; i++) out[i] = init;
        int64_t idx[PAN_MAX_DIMS] = {0}, o = 0;
        for (int64_t i = 0; i < nx; i++) {
            float v = in[i];
            if (op == PAN_OP_REDUCE_SUM) out[o] += v;
            else if (op == PAN_OP_REDUCE_MAX) out[o] = v > out[o] || isnan(v) ? v : out[o];
            else out[o] = v < out[o] || isnan(v) ? v : out[o];
            for (int d = x->rank - 1; d >= 0; d--) {
                o += os[d];
                if (++idx[d] < x->dims[d]) break;
                o -= os[d] * x->dims[d];
                idx[d] = 0;
            }
        }
    } else {
        int64_t *out = c->out[0];
        const int64_t *in = c->in[0];
        int64_t init = op == PAN_OP_REDUCE_SUM ? 0 : op == PAN_OP_REDUCE_MAX ? INT64_MIN : INT64_MAX;
        for (int64_t i = 0; i < ny; i++) out[i] = init;
        int64_t idx[PAN_MAX_DIMS] = {0}, o = 0;
        for (int64_t i = 0; i < nx; i++) {
            int64_t v = in[i];
            if (op == PAN_OP_REDUCE_SUM) out[o] += v;
            else if (op == PAN_OP_REDUCE_MAX) out[o] = v > out[o] ? v : out[o];
            else out[o] = v < out[o] ? v : out[o];
            for (int d = x->rank - 1; d >= 0; d--) {
                o += os[d];
                if (++idx[d] < x->dims[d]) break;
                o -= os[d] * x->dims[d];
                idx[d] = 0;
            }
        }
    }
    return PAN_OK;
}

/* y = (x − mean) / sqrt(var + eps) · scale + bias over the trailing dims [axis, rank), mean and
 * (biased) variance in double. */
pan_status pan__cpu_layernorm(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0);
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    const int ax = (int)(c->n->attrs.layernorm.axis < 0 ? c->n->attrs.layernorm.axis + x->rank : c->n->attrs.layernorm.axis);
    int64_t rows = 1, len = 1;
    for (int d = 0; d < ax; d++) rows *= x->dims[d];
    for (int d = ax; d < x->rank; d++) len *= x->dims[d];
    const float *in = c->in[0], *scale = c->in[1], *bias = HAS_IN(2) ? c->in[2] : NULL;
    const int scalar_s = pan__tensor_numel(TIN(1)) == 1, scalar_b = bias && pan__tensor_numel(TIN(2)) == 1;
    const double eps = c->n->attrs.layernorm.epsilon;
    float *out = c->out[0];
    for (int64_t r = 0; r < rows; r++) {
        const float *p = in + r * len;
        float *q = out + r * len;
        double m = 0, v = 0;
        for (int64_t i = 0; i < len; i++) m += p[i];
        m /= (double)len;
        for (int64_t i = 0; i < len; i++) v += (p[i] - m) * (p[i] - m);
        const double inv = 1.0 / sqrt(v / (double)len + eps);
        for (int64_t i = 0; i < len; i++) {
            double s = scale[scalar_s ? 0 : i], b = bias ? bias[scalar_b ? 0 : i] : 0.0;
            q[i] = (float)((p[i] - m) * inv * s + b);
        }
    }
    return PAN_OK;
}

pan_status pan__cpu_unary_ext(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0);
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    const float *in = c->in[0];
    float *out = c->out[0];
    const int64_t n = pan__tensor_numel(x);
    switch (c->n->op) {
    case PAN_OP_ERF:
        for (int64_t i = 0; i < n; i++) out[i] = erff(in[i]);
        break;
    case PAN_OP_GELU:
        if (c->n->attrs.unary.alpha != 0.f) /* approximate = "tanh" */
            for (int64_t i = 0; i < n; i++) {
                float v = in[i];
                out[i] = 0.5f * v * (1.f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
            }
        else
            for (int64_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.f + erff(in[i] * 0.70710678118f));
        break;
    case PAN_OP_FLOOR:
        for (int64_t i = 0; i < n; i++) out[i] = floorf(in[i]);
        break;
    case PAN_OP_CEIL:
        for (int64_t i = 0; i < n; i++) out[i] = ceilf(in[i]);
        break;
    default: return PAN_UNSUPPORTED;
    }
    return PAN_OK;
}

/* ---- GridSample, as ONNX Runtime's cpu kernel (grid_sample.cc) ------------------------------- */
/* Input pixel coordinate of a normalised one (-1 = the left edge or the first pixel centre). */
static float denorm(float v, int64_t size, int align)
{
    return align ? (v + 1.f) / 2.f * (float)(size - 1) : ((v + 1.f) * (float)size - 1.f) / 2.f;
}

static float reflect(float x, float lo, float hi)
{
    float range = hi - lo;
    if (range <= 0) return lo;
    if (x < lo) {
        float dx = lo - x;
        int n = (int)(dx / range);
        float r = dx - (float)n * range;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        float dx = x - hi;
        int n = (int)(dx / range);
        float r = dx - (float)n * range;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

/* Pixel (xi, yi) of one H×W plane with the padding mode's rule for outside pixels. */
static float pixel(const float *plane, int64_t H, int64_t W, int64_t xi, int64_t yi, pan_grid_padding pad, int align)
{
    if (pad == PAN_GRID_ZEROS) {
        if (xi < 0 || yi < 0 || xi >= W || yi >= H) return 0.f;
    } else if (pad == PAN_GRID_BORDER) {
        xi = xi < 0 ? 0 : xi >= W ? W - 1 : xi;
        yi = yi < 0 ? 0 : yi >= H ? H - 1 : yi;
    } else {
        float lox = align ? 0.f : -0.5f, hix = align ? (float)(W - 1) : (float)W - 0.5f;
        float loy = align ? 0.f : -0.5f, hiy = align ? (float)(H - 1) : (float)H - 0.5f;
        xi = (int64_t)reflect((float)xi, lox, hix);
        yi = (int64_t)reflect((float)yi, loy, hiy);
        xi = xi < 0 ? 0 : xi >= W ? W - 1 : xi;
        yi = yi < 0 ? 0 : yi >= H ? H - 1 : yi;
    }
    return plane[yi * W + xi];
}

pan_status pan__cpu_grid_sample(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *grid = TIN(1);
    if (x->dtype != PAN_DTYPE_F32 || grid->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    const pan_gridsample_attrs *a = &c->n->attrs.gridsample;
    if (a->mode == PAN_GRID_BICUBIC) return PAN_UNSUPPORTED;
    const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], Ho = grid->dims[1], Wo = grid->dims[2];
    const float *in = c->in[0], *g = c->in[1];
    float *out = c->out[0];
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < Ho * Wo; p++) {
            float gx = denorm(g[(n * Ho * Wo + p) * 2], W, a->align_corners);
            float gy = denorm(g[(n * Ho * Wo + p) * 2 + 1], H, a->align_corners);
            if (a->padding == PAN_GRID_BORDER) {
                gx = fminf(fmaxf(gx, 0.f), (float)(W - 1));
                gy = fminf(fmaxf(gy, 0.f), (float)(H - 1));
            } else if (a->padding == PAN_GRID_REFLECTION) {
                gx = reflect(gx, a->align_corners ? 0.f : -0.5f, a->align_corners ? (float)(W - 1) : (float)W - 0.5f);
                gy = reflect(gy, a->align_corners ? 0.f : -0.5f, a->align_corners ? (float)(H - 1) : (float)H - 0.5f);
            }
            for (int64_t ch = 0; ch < C; ch++) {
                const float *plane = in + (n * C + ch) * H * W;
                float v;
                if (a->mode == PAN_GRID_NEAREST) {
                    v = pixel(plane, H, W, (int64_t)nearbyintf(gx), (int64_t)nearbyintf(gy), a->padding, a->align_corners);
                } else {
                    float fx = floorf(gx), fy = floorf(gy);
                    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
                    float wx = gx - fx, wy = gy - fy;
                    v = (1 - wy) * ((1 - wx) * pixel(plane, H, W, x0, y0, a->padding, a->align_corners) +
                                    wx * pixel(plane, H, W, x0 + 1, y0, a->padding, a->align_corners)) +
                        wy * ((1 - wx) * pixel(plane, H, W, x0, y0 + 1, a->padding, a->align_corners) +
                              wx * pixel(plane, H, W, x0 + 1, y0 + 1, a->padding, a->align_corners));
                }
                out[((n * C + ch) * Ho * Wo) + p] = v;
            }
        }
    return PAN_OK;
}

/* ---- Einsum: every output element sums the product over the letters absent from the output ---- */
pan_status pan__cpu_einsum(const pan_cpu_call *c)
{
    const pan_einsum_attrs *e = &c->n->attrs.einsum;
    const pan_tensor *y = TOUT(0);
    if (y->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    /* letters: output ones first, then the summed ones; size and per-operand stride of each */
    int letters[64], nl = 0;
    int64_t size[64], stride[PAN_EINSUM_MAX_OPS][64];
    memset(stride, 0, sizeof stride);
    for (int l = 0; l < 64; l++) size[l] = 1;
    for (int i = 0; i < e->out_rank; i++) letters[nl++] = e->out[i];
    for (int k = 0; k < e->n_ops; k++) {
        const pan_tensor *x = TIN(k);
        int64_t st = 1;
        for (int i = x->rank - 1; i >= 0; i--) {
            int l = e->sub[k][i];
            if (x->dims[i] != 1) {
                stride[k][l] += st; /* a repeated letter (a diagonal) adds its strides */
                size[l] = x->dims[i];
            }
            st *= x->dims[i];
            int seen = 0;
            for (int j = 0; j < nl; j++) seen |= letters[j] == l;
            if (!seen) letters[nl++] = l;
        }
    }
    int64_t n_sum = 1;
    for (int j = e->out_rank; j < nl; j++) n_sum *= size[letters[j]];
    float *out = c->out[0];
    int64_t ny = pan__tensor_numel(y), oidx[PAN_MAX_DIMS] = {0};
    for (int64_t i = 0; i < ny; i++) {
        int64_t base[PAN_EINSUM_MAX_OPS] = {0};
        for (int j = 0; j < e->out_rank; j++)
            for (int k = 0; k < e->n_ops; k++) base[k] += oidx[j] * stride[k][letters[j]];
        double acc = 0;
        for (int64_t s = 0; s < n_sum; s++) {
            int64_t rem = s, off[PAN_EINSUM_MAX_OPS];
            for (int k = 0; k < e->n_ops; k++) off[k] = base[k];
            for (int j = nl - 1; j >= e->out_rank; j--) {
                int64_t v = rem % size[letters[j]];
                rem /= size[letters[j]];
                for (int k = 0; k < e->n_ops; k++) off[k] += v * stride[k][letters[j]];
            }
            double prod = 1;
            for (int k = 0; k < e->n_ops; k++) prod *= ((const float *)c->in[k])[off[k]];
            acc += prod;
        }
        out[i] = (float)acc;
        for (int j = e->out_rank - 1; j >= 0; j--) {
            if (++oidx[j] < y->dims[j]) break;
            oidx[j] = 0;
        }
    }
    return PAN_OK;
}
