/* cpu elementwise ops: activations, numpy-broadcast binary ops (f32, i32, i64), cast, softmax,
 * reduce-mean. */
#include <math.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/cpu_simd.h"

/* Full vectoriser for these loops (GCC's -O2 uses only its cheapest model). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif


/* Through the vector epilogue of the kernels (cpu_simd.h): one exp polynomial for all. */
void pan__cpu_act(float *x, int64_t n, pan_act act, float alpha, float beta)
{
    if (act == PAN_ACT_NONE) return;
    pan_gemm_epi e = {NULL, NULL, 0, act, alpha, beta, 0};
    pan__cpu_simd()->epilogue_row(x, n, 0.0f, NULL, &e);
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

/* Broadcast binary op. The output's dims are first merged where both inputs walk them alike (a
 * [N,C,H,W] * [N,C,1,1] gate becomes [N*C, H*W] with b one value per row; equal shapes become one
 * run), then rows of the last merged dim are computed with per-input strides 0 (broadcast) or the
 * natural one; float rows with strides 0/1 take vectorised loops. Threads split rows, and long
 * rows too. */
typedef struct binary_job {
    const void *a, *b;
    void *y;
    pan_op op;
    pan_dtype dtype;
    int rank;                                     /* merged */
    int64_t dims[PAN_MAX_DIMS], sa[PAN_MAX_DIMS], sb[PAN_MAX_DIMS];
    int64_t last, parts;                          /* row length; pieces each row is cut into */
} binary_job;

#define BIN_LOOP(T, EXPR)                                                      \
    do {                                                                       \
        const T *pa = (const T *)j->a, *pb = (const T *)j->b;                  \
        T *py = (T *)j->y + row * last;                                        \
        for (int64_t i = i0; i < i1; i++) {                                    \
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

/* y = a op b over n floats with a, b either runs (stride 1) or one value (stride 0). */
#define FAST_LOOP(EXPR)                                                                                   \
    do {                                                                                                  \
        if (la && lb)                                                                                     \
            for (int64_t i = 0; i < n; i++) { float x = a[i], z = b[i]; y[i] = (EXPR); }                  \
        else if (la)                                                                                      \
            for (int64_t i = 0; i < n; i++) { float x = a[i], z = b[0]; y[i] = (EXPR); }                  \
        else                                                                                              \
            for (int64_t i = 0; i < n; i++) { float x = a[0], z = b[i]; y[i] = (EXPR); }                  \
    } while (0)

static void binary_fast(pan_op op, const float *a, int64_t la, const float *b, int64_t lb, float *y, int64_t n)
{
    switch (op) {
    case PAN_OP_ADD: FAST_LOOP(x + z); break;
    case PAN_OP_SUB: FAST_LOOP(x - z); break;
    case PAN_OP_MUL: FAST_LOOP(x * z); break;
    case PAN_OP_DIV: FAST_LOOP(x / z); break;
    case PAN_OP_MAX: FAST_LOOP(fmaxf(x, z)); break;
    case PAN_OP_MIN: FAST_LOOP(fminf(x, z)); break;
    default: FAST_LOOP(powf(x, z)); break;
    }
}

static void binary_rows(void *arg, int64_t r0, int64_t r1)
{
    const binary_job *j = arg;
    int rank = j->rank;
    int64_t last = j->last, la = j->sa[rank - 1], lb = j->sb[rank - 1];
    for (int64_t item = r0; item < r1; item++) {
        int64_t row = item / j->parts, part = item % j->parts;
        int64_t i0 = last * part / j->parts, i1 = last * (part + 1) / j->parts;
        int64_t rem = row, oa = 0, ob = 0;
        for (int d = rank - 2; d >= 0; d--) {
            int64_t idx = rem % j->dims[d];
            rem /= j->dims[d];
            oa += idx * j->sa[d];
            ob += idx * j->sb[d];
        }
        if (j->dtype == PAN_DTYPE_F32 && la <= 1 && lb <= 1 && (la || lb)) {
            const float *pa = (const float *)j->a + oa + i0 * la, *pb = (const float *)j->b + ob + i0 * lb;
            binary_fast(j->op, pa, la, pb, lb, (float *)j->y + row * last + i0, i1 - i0);
            continue;
        }
        switch (j->dtype) {
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
    const pan_tensor *ta = &c->g->tensors[c->n->inputs[0]], *tb = &c->g->tensors[c->n->inputs[1]],
                     *ty = &c->g->tensors[c->n->outputs[0]];
    if (ty->dtype != PAN_DTYPE_F32 && ty->dtype != PAN_DTYPE_I64 && ty->dtype != PAN_DTYPE_I32) return PAN_UNSUPPORTED;
    binary_job j = {.a = c->in[0], .b = c->in[1], .y = c->out[0], .op = c->n->op, .dtype = ty->dtype};
    int64_t sa[PAN_MAX_DIMS], sb[PAN_MAX_DIMS], n = pan__tensor_numel(ty);
    if (n == 0) return PAN_OK;
    broadcast_strides(ta, ty, sa);
    broadcast_strides(tb, ty, sb);
    /* merge: dims of size 1 vanish; dim d joins the one inside it when both inputs step over it
     * as one run (stride = inner stride * inner dim; 0 and 0 included) */
    for (int d = 0; d < ty->rank; d++) {
        if (ty->dims[d] == 1) continue;
        if (j.rank > 0) {
            int q = j.rank - 1;
            if (j.sa[q] == sa[d] * ty->dims[d] && j.sb[q] == sb[d] * ty->dims[d]) {
                j.dims[q] *= ty->dims[d];
                j.sa[q] = sa[d];
                j.sb[q] = sb[d];
                continue;
            }
        }
        j.dims[j.rank] = ty->dims[d], j.sa[j.rank] = sa[d], j.sb[j.rank] = sb[d];
        j.rank++;
    }
    if (j.rank == 0) j.dims[0] = 1, j.sa[0] = j.sb[0] = 0, j.rank = 1;
    j.last = j.dims[j.rank - 1];
    int64_t rows = n / j.last, threads = pan__cpu_pool_threads(c->pool);
    j.parts = 1;
    if (rows < 4 * threads && j.last >= 8192) j.parts = 4 * threads; /* few long rows: cut them */
    pan__cpu_parallel_for(n >= 32768 ? c->pool : NULL, rows * j.parts, binary_rows, &j);
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
