/* cpu elementwise ops: activations, numpy-broadcast binary ops (f32, i32, i64), cast, softmax,
 * reduce-mean. */
#include <math.h>
#include <string.h>

#include "nn/cpu_ops.h"

/* Full vectoriser for these loops (GCC's -O2 uses only its cheapest model). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

void pan__cpu_act(float *x, int64_t n, pan_act act, float alpha, float beta)
{
    switch (act) {
    case PAN_ACT_NONE: break;
    case PAN_ACT_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        break;
    case PAN_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : x[i] * alpha;
        break;
    case PAN_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) x[i] = sigmoidf(x[i]);
        break;
    case PAN_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) x[i] = fmaxf(0.0f, fminf(1.0f, alpha * x[i] + beta));
        break;
    case PAN_ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] * fmaxf(0.0f, fminf(1.0f, x[i] / 6.0f + 0.5f));
        break;
    case PAN_ACT_SILU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] * sigmoidf(x[i]);
        break;
    case PAN_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) x[i] = fminf(fmaxf(x[i], alpha), beta);
        break;
    case PAN_ACT_TANH:
        for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
        break;
    }
}

typedef struct unary_job {
    const float *in;
    float *out;
    pan_op op;
    float alpha, beta;
} unary_job;

static void unary_range(void *arg, int64_t b, int64_t e)
{
    const unary_job *j = arg;
    const float *x = j->in + b;
    float *y = j->out + b;
    int64_t n = e - b;
    pan_act act = PAN_ACT_NONE;
    switch (j->op) {
    case PAN_OP_RELU: act = PAN_ACT_RELU; break;
    case PAN_OP_LEAKY_RELU: act = PAN_ACT_LEAKY_RELU; break;
    case PAN_OP_SIGMOID: act = PAN_ACT_SIGMOID; break;
    case PAN_OP_TANH: act = PAN_ACT_TANH; break;
    case PAN_OP_HARD_SIGMOID: act = PAN_ACT_HARD_SIGMOID; break;
    case PAN_OP_HARD_SWISH: act = PAN_ACT_HARD_SWISH; break;
    case PAN_OP_SILU: act = PAN_ACT_SILU; break;
    case PAN_OP_CLIP: act = PAN_ACT_CLIP; break;
    case PAN_OP_EXP: for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]); return;
    case PAN_OP_LOG: for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]); return;
    case PAN_OP_SQRT: for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); return;
    case PAN_OP_NEG: for (int64_t i = 0; i < n; i++) y[i] = -x[i]; return;
    case PAN_OP_ABS: for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]); return;
    default: break;
    }
    if (y != x) memcpy(y, x, sizeof(float) * (size_t)n);
    pan__cpu_act(y, n, act, j->alpha, j->beta);
}

pan_status pan__cpu_unary(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]];
    int64_t n = pan__tensor_numel(x);
    if (x->dtype != PAN_DTYPE_F32) {
        /* integer Neg/Abs/Relu/Clip appear in shape subgraphs only */
        if (x->dtype != PAN_DTYPE_I64) return PAN_UNSUPPORTED;
        const int64_t *a = c->in[0];
        int64_t *y = c->out[0];
        for (int64_t i = 0; i < n; i++) {
            int64_t v = a[i];
            switch (c->n->op) {
            case PAN_OP_NEG: v = -v; break;
            case PAN_OP_ABS: v = v < 0 ? -v : v; break;
            case PAN_OP_RELU: v = v < 0 ? 0 : v; break;
            case PAN_OP_CLIP:
                if (v < c->n->attrs.unary.alpha) v = pan__f2i(c->n->attrs.unary.alpha);
                if (v > c->n->attrs.unary.beta) v = pan__f2i(c->n->attrs.unary.beta);
                break;
            default: break;
            }
            y[i] = v;
        }
        return PAN_OK;
    }
    unary_job j = {c->in[0], c->out[0], c->n->op, c->n->attrs.unary.alpha, c->n->attrs.unary.beta};
    pan__cpu_parallel_for(n >= 65536 ? c->pool : NULL, n, unary_range, &j);
    return PAN_OK;
}

/* Broadcast binary op: rows of the last output dim, with per-input strides 0 (broadcast) or the
 * natural stride on every axis. */
typedef struct binary_job {
    const pan_tensor *ta, *tb, *ty;
    const void *a, *b;
    void *y;
    pan_op op;
    int64_t sa[PAN_MAX_DIMS], sb[PAN_MAX_DIMS];
} binary_job;

#define BIN_LOOP(T, EXPR)                                                      \
    do {                                                                       \
        const T *pa = (const T *)j->a, *pb = (const T *)j->b;                  \
        T *py = (T *)j->y + row * last;                                        \
        for (int64_t i = 0; i < last; i++) {                                   \
            T x = pa[oa + i * la], z = pb[ob + i * lb];                        \
            py[i] = (EXPR);                                                    \
        }                                                                      \
    } while (0)

static int64_t ipow(int64_t b, int64_t e)
{
    int64_t r = 1;
    for (; e > 0 && r; e--) r *= b;
    return e < 0 ? 0 : r;
}

#define BIN_OPS(T, DIV, POW, MAXF, MINF)                                  \
    switch (j->op) {                                                      \
    case PAN_OP_ADD: BIN_LOOP(T, x + z); break;                           \
    case PAN_OP_SUB: BIN_LOOP(T, x - z); break;                           \
    case PAN_OP_MUL: BIN_LOOP(T, x * z); break;                           \
    case PAN_OP_DIV: BIN_LOOP(T, DIV); break;                             \
    case PAN_OP_POW: BIN_LOOP(T, POW); break;                             \
    case PAN_OP_MAX: BIN_LOOP(T, MAXF); break;                            \
    case PAN_OP_MIN: BIN_LOOP(T, MINF); break;                            \
    default: break;                                                       \
    }

static void binary_rows(void *arg, int64_t r0, int64_t r1)
{
    const binary_job *j = arg;
    int rank = j->ty->rank;
    int64_t last = rank ? j->ty->dims[rank - 1] : 1;
    int64_t la = rank ? j->sa[rank - 1] : 0, lb = rank ? j->sb[rank - 1] : 0;
    for (int64_t row = r0; row < r1; row++) {
        int64_t rem = row, oa = 0, ob = 0;
        for (int d = rank - 2; d >= 0; d--) {
            int64_t idx = rem % j->ty->dims[d];
            rem /= j->ty->dims[d];
            oa += idx * j->sa[d];
            ob += idx * j->sb[d];
        }
        switch (j->ty->dtype) {
        case PAN_DTYPE_F32: BIN_OPS(float, x / z, powf(x, z), fmaxf(x, z), fminf(x, z)); break;
        case PAN_DTYPE_I64: BIN_OPS(int64_t, z ? x / z : 0, ipow(x, z), x > z ? x : z, x < z ? x : z); break;
        case PAN_DTYPE_I32: BIN_OPS(int32_t, z ? x / z : 0, (int32_t)ipow(x, z), x > z ? x : z, x < z ? x : z); break;
        default: break;
        }
    }
}

static void broadcast_strides(const pan_tensor *t, const pan_tensor *y, int64_t *s)
{
    int64_t st = 1;
    for (int d = y->rank - 1; d >= 0; d--) {
        int it = d - (y->rank - t->rank);
        int64_t dim = it >= 0 ? t->dims[it] : 1;
        s[d] = dim == 1 ? 0 : st;
        st *= dim;
    }
}

pan_status pan__cpu_binary(const pan_cpu_call *c)
{
    binary_job j;
    j.ta = &c->g->tensors[c->n->inputs[0]];
    j.tb = &c->g->tensors[c->n->inputs[1]];
    j.ty = &c->g->tensors[c->n->outputs[0]];
    if (j.ty->dtype != PAN_DTYPE_F32 && j.ty->dtype != PAN_DTYPE_I64 && j.ty->dtype != PAN_DTYPE_I32)
        return PAN_UNSUPPORTED;
    j.a = c->in[0];
    j.b = c->in[1];
    j.y = c->out[0];
    j.op = c->n->op;
    broadcast_strides(j.ta, j.ty, j.sa);
    broadcast_strides(j.tb, j.ty, j.sb);
    int64_t n = pan__tensor_numel(j.ty), last = j.ty->rank ? j.ty->dims[j.ty->rank - 1] : 1;
    if (n == 0) return PAN_OK;
    int64_t rows = last ? n / last : 0;
    pan__cpu_parallel_for(n >= 65536 ? c->pool : NULL, rows, binary_rows, &j);
    return PAN_OK;
}

pan_status pan__cpu_cast(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]], *y = &c->g->tensors[c->n->outputs[0]];
    int64_t n = pan__tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        int64_t iv = 0;
        int is_f = x->dtype == PAN_DTYPE_F32 || x->dtype == PAN_DTYPE_F64;
        switch (x->dtype) {
        case PAN_DTYPE_F32: v = ((const float *)c->in[0])[i]; break;
        case PAN_DTYPE_F64: v = ((const double *)c->in[0])[i]; break;
        case PAN_DTYPE_I64: iv = ((const int64_t *)c->in[0])[i]; break;
        case PAN_DTYPE_I32: iv = ((const int32_t *)c->in[0])[i]; break;
        case PAN_DTYPE_U8:
        case PAN_DTYPE_BOOL: iv = ((const uint8_t *)c->in[0])[i]; break;
        case PAN_DTYPE_I8: iv = ((const int8_t *)c->in[0])[i]; break;
        default: return PAN_UNSUPPORTED;
        }
        if (is_f) iv = isfinite(v) ? pan__f2i(v) : 0;
        else v = (double)iv;
        switch (y->dtype) {
        case PAN_DTYPE_F32: ((float *)c->out[0])[i] = pan__d2f(v); break;
        case PAN_DTYPE_F64: ((double *)c->out[0])[i] = v; break;
        case PAN_DTYPE_I64: ((int64_t *)c->out[0])[i] = iv; break;
        case PAN_DTYPE_I32: ((int32_t *)c->out[0])[i] = (int32_t)iv; break;
        case PAN_DTYPE_U8: ((uint8_t *)c->out[0])[i] = (uint8_t)iv; break;
        case PAN_DTYPE_BOOL: ((uint8_t *)c->out[0])[i] = is_f ? v != 0 : iv != 0; break;
        case PAN_DTYPE_I8: ((int8_t *)c->out[0])[i] = (int8_t)iv; break;
        default: return PAN_UNSUPPORTED;
        }
    }
    return PAN_OK;
}

/* Softmax along one axis: view as [outer, axis, inner]. */
pan_status pan__cpu_softmax(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]];
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    int64_t ax = c->n->attrs.axis.axis < 0 ? c->n->attrs.axis.axis + x->rank : c->n->attrs.axis.axis;
    int64_t outer = 1, len = x->dims[ax], inner = 1;
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = (int)ax + 1; i < x->rank; i++) inner *= x->dims[i];
    const float *in = c->in[0];
    float *out = c->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            const float *p = in + o * len * inner + k;
            float *q = out + o * len * inner + k;
            float m = -INFINITY, s = 0;
            for (int64_t i = 0; i < len; i++) m = fmaxf(m, p[i * inner]);
            for (int64_t i = 0; i < len; i++) s += (q[i * inner] = expf(p[i * inner] - m));
            for (int64_t i = 0; i < len; i++) q[i * inner] /= s;
        }
    return PAN_OK;
}

pan_status pan__cpu_reduce_mean(const pan_cpu_call *c)
{
    const pan_tensor *x = &c->g->tensors[c->n->inputs[0]], *y = &c->g->tensors[c->n->outputs[0]];
    if (x->dtype != PAN_DTYPE_F32) return PAN_UNSUPPORTED;
    int mask[PAN_MAX_DIMS] = {0};
    if (c->n->n_inputs > 1 && c->n->inputs[1] >= 0) {
        const pan_tensor *ax = &c->g->tensors[c->n->inputs[1]];
        for (int64_t i = 0; i < pan__tensor_numel(ax); i++) {
            int64_t a = pan__tensor_get_i64(ax, i);
            mask[a < 0 ? a + x->rank : a] = 1;
        }
    } else {
        for (int i = 0; i < x->rank; i++) mask[i] = 1;
    }
    int64_t ny = pan__tensor_numel(y), nx = pan__tensor_numel(x);
    float *out = c->out[0];
    const float *in = c->in[0];
    memset(out, 0, sizeof(float) * (size_t)ny);
    /* output strides over the input's axes (reduced axes contribute 0) */
    int64_t os[PAN_MAX_DIMS], st = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        os[d] = mask[d] ? 0 : st;
        st *= mask[d] ? 1 : x->dims[d];
    }
    for (int64_t i = 0; i < nx; i++) {
        int64_t rem = i, o = 0;
        for (int d = x->rank - 1; d >= 0; d--) {
            o += (rem % x->dims[d]) * os[d];
            rem /= x->dims[d];
        }
        out[o] += in[i];
    }
    float k = ny ? (float)nx / (float)ny : 1.0f;
    for (int64_t i = 0; i < ny; i++) out[i] /= k;
    return PAN_OK;
}
