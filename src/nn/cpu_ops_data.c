/* cpu data-movement and shape ops, generic over the element size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/infer_ops.h"
#include "panoptes/log.h"

#define TIN(k) (&c->g->tensors[c->n->inputs[k]])
#define TOUT(k) (&c->g->tensors[c->n->outputs[k]])

static void strides_of(const pan_tensor *t, int64_t *s)
{
    int64_t st = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        s[d] = st;
        st *= t->dims[d];
    }
}

/* Copies `outer` blocks of `inner` bytes from src (stride src_stride) to dst (stride dst_stride). */
static void copy_blocks(char *dst, int64_t dst_stride, const char *src, int64_t src_stride, int64_t outer,
                        int64_t inner)
{
    for (int64_t o = 0; o < outer; o++) memcpy(dst + o * dst_stride, src + o * src_stride, (size_t)inner);
}

static pan_status concat_split(const pan_cpu_call *c, int split)
{
    const pan_tensor *big = split ? TIN(0) : TOUT(0);
    int parts = split ? c->n->n_outputs : c->n->n_inputs;
    int64_t ax = c->n->attrs.axis.axis < 0 ? c->n->attrs.axis.axis + big->rank : c->n->attrs.axis.axis;
    size_t es = pan_dtype_size(big->dtype);
    int64_t outer = 1, inner = (int64_t)es;
    for (int i = 0; i < ax; i++) outer *= big->dims[i];
    for (int i = (int)ax + 1; i < big->rank; i++) inner *= big->dims[i];
    int64_t big_row = big->dims[ax] * inner, off = 0;
    for (int p = 0; p < parts; p++) {
        const pan_tensor *t = split ? TOUT(p) : TIN(p);
        int64_t row = t->dims[ax] * inner;
        if (split) copy_blocks(c->out[p], row, (const char *)c->in[0] + off, big_row, outer, row);
        else copy_blocks((char *)c->out[0] + off, big_row, c->in[p], row, outer, row);
        off += row;
    }
    return PAN_OK;
}

/* General strided gather: out[i] = in[sum idx_d * istride_d + base], over the output shape. */
static void strided_copy(const pan_tensor *out_t, void *out, const void *in, const int64_t *istride, int64_t base,
                         size_t es)
{
    int r = out_t->rank;
    int64_t n = pan__tensor_numel(out_t), idx[PAN_MAX_DIMS] = {0}, off = base;
    if (n == 0) return;
    for (int64_t i = 0; i < n; i++) {
        memcpy((char *)out + i * (int64_t)es, (const char *)in + off * (int64_t)es, es);
        for (int d = r - 1; d >= 0; d--) {
            idx[d]++;
            off += istride[d];
            if (idx[d] < out_t->dims[d]) break;
            off -= istride[d] * idx[d];
            idx[d] = 0;
        }
    }
}

typedef struct transpose_job {
    const float *x;
    float *y;
    int64_t outer, A, B, inner; /* [outer, A, B, inner] -> [outer, B, A, inner] */
} transpose_job;

static void transpose_rows(void *arg, int64_t r0, int64_t r1)
{
    const transpose_job *j = arg;
    for (int64_t r = r0; r < r1; r++) { /* r over outer * B */
        int64_t o = r / j->B, b = r % j->B;
        float *y = j->y + (o * j->B + b) * j->A * j->inner;
        const float *x = j->x + o * j->A * j->B * j->inner + b * j->inner;
        if (j->inner == 1)
            for (int64_t a = 0; a < j->A; a++) y[a] = x[a * j->B];
        else
            for (int64_t a = 0; a < j->A; a++) memcpy(y + a * j->inner, x + a * j->B * j->inner, sizeof(float) * (size_t)j->inner);
    }
}

static pan_status transpose(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *y = TOUT(0);
    const pan_transpose_attrs *a = &c->n->attrs.transpose;
    size_t es = pan_dtype_size(x->dtype);
    /* Fast path for the layout swaps converters leave (NCHW <-> NHWC): a perm that moves one
     * contiguous block of axes past another, i.e. [.., A.., B.., ..] -> [.., B.., A.., ..]. */
    if (es == 4 && x->rank >= 2) {
        int r = x->rank, lo = 0, hi = r - 1;
        while (lo < r && a->perm[lo] == lo) lo++;
        while (hi >= 0 && a->perm[hi] == hi) hi--;
        if (lo < hi) {
            int k = (int)a->perm[lo]; /* first axis of block B */
            int ok = 1;
            for (int i = lo; i <= hi && ok; i++) {
                int want = i - lo < hi - k + 1 ? k + (i - lo) : lo + (i - lo - (hi - k + 1));
                ok = a->perm[i] == want;
            }
            if (ok) {
                transpose_job j = {c->in[0], c->out[0], 1, 1, 1, 1};
                for (int i = 0; i < lo; i++) j.outer *= x->dims[i];
                for (int i = lo; i < k; i++) j.A *= x->dims[i];
                for (int i = k; i <= hi; i++) j.B *= x->dims[i];
                for (int i = hi + 1; i < r; i++) j.inner *= x->dims[i];
                pan__cpu_parallel_for(pan__tensor_numel(x) >= 65536 ? c->pool : NULL, j.outer * j.B, transpose_rows, &j);
                return PAN_OK;
            }
        }
    }
    int64_t xs[PAN_MAX_DIMS], is[PAN_MAX_DIMS];
    strides_of(x, xs);
    for (int d = 0; d < y->rank; d++) is[d] = xs[a->perm[d]];
    strided_copy(y, c->out[0], c->in[0], is, 0, es);
    return PAN_OK;
}

static pan_status pad(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *y = TOUT(0), *p = TIN(1);
    size_t es = pan_dtype_size(x->dtype);
    int r = x->rank;
    int64_t begin[PAN_MAX_DIMS], xs[PAN_MAX_DIMS], n = pan__tensor_numel(y), idx[PAN_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) begin[d] = pan__tensor_get_i64(p, d);
    strides_of(x, xs);
    char value[8] = {0};
    if (c->n->n_inputs > 2 && c->in[2]) memcpy(value, c->in[2], es);
    pan_pad_mode mode = c->n->attrs.pad.mode;
    char *out = c->out[0];
    const char *in = c->in[0];
    /* row-wise: the last axis is copied in one block where it lies inside the input */
    int64_t last = r ? y->dims[r - 1] : 1;
    for (int64_t i = 0; i < n; i += last) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < r - 1; d++) {
            int64_t s = idx[d] - begin[d];
            if (s < 0 || s >= x->dims[d]) {
                if (mode == PAN_PAD_CONSTANT) inside = 0;
                else if (mode == PAN_PAD_EDGE) s = s < 0 ? 0 : x->dims[d] - 1;
                else s = s < 0 ? -s : 2 * (x->dims[d] - 1) - s;
            }
            off += s * xs[d];
        }
        char *row = out + i * (int64_t)es;
        int64_t xl = r ? x->dims[r - 1] : 1, bl = r ? begin[r - 1] : 0;
        for (int64_t k = 0; k < last; k++) {
            int64_t s = k - bl;
            int ok = inside;
            if (s < 0 || s >= xl) {
                if (mode == PAN_PAD_CONSTANT) ok = 0;
                else if (mode == PAN_PAD_EDGE) s = s < 0 ? 0 : xl - 1;
                else s = s < 0 ? -s : 2 * (xl - 1) - s;
            }
            if (ok) memcpy(row + k * (int64_t)es, in + (off + s) * (int64_t)es, es);
            else memcpy(row + k * (int64_t)es, value, es);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return PAN_OK;
}

static pan_status gather(const pan_cpu_call *c)
{
    const pan_tensor *x = TIN(0), *ti = TIN(1);
    int64_t ax = c->n->attrs.axis.axis < 0 ? c->n->attrs.axis.axis + x->rank : c->n->attrs.axis.axis;
    size_t es = pan_dtype_size(x->dtype);
    int64_t outer = 1, inner = (int64_t)es, ni = pan__tensor_numel(ti), dim = x->dims[ax];
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = (int)ax + 1; i < x->rank; i++) inner *= x->dims[i];
    pan_tensor idx_view = *ti;
    idx_view.data = (void *)c->in[1];
    for (int64_t k = 0; k < ni; k++) {
        int64_t v = pan__tensor_get_i64(&idx_view, k);
        if (v < 0) v += dim;
        if (v < 0 || v >= dim) {
            pan_log_error("nn", -1, "%s: node '%s' (Gather): index %lld out of range for axis of size %lld",
                          c->g->source, c->n->name, (long long)pan__tensor_get_i64(&idx_view, k), (long long)dim);
            return PAN_RANGE;
        }
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)c->out[0] + (o * ni + k) * inner, (const char *)c->in[0] + (o * dim + v) * inner, (size_t)inner);
    }
    return PAN_OK;
}

static pan_status sparse_to_dense(const pan_cpu_call *c)
{
    const pan_tensor *ti = TIN(0), *tv = TIN(2), *y = TOUT(0);
    size_t es = pan_dtype_size(y->dtype);
    int64_t n = pan__tensor_numel(y), ys[PAN_MAX_DIMS];
    strides_of(y, ys);
    for (int64_t i = 0; i < n; i++) memcpy((char *)c->out[0] + i * (int64_t)es, c->in[3], es);
    int64_t count = ti->rank == 0 ? 1 : ti->dims[0], r = ti->rank == 2 ? ti->dims[1] : 1;
    pan_tensor iv = *ti;
    iv.data = (void *)c->in[0];
    for (int64_t k = 0; k < count; k++) {
        int64_t off = 0;
        for (int64_t d = 0; d < r; d++) {
            int64_t v = pan__tensor_get_i64(&iv, k * r + d);
            if (v < 0 || v >= y->dims[d]) {
                pan_log_error("nn", -1, "%s: node '%s' (SparseToDense): index %lld out of range", c->g->source,
                              c->n->name, (long long)v);
                return PAN_RANGE;
            }
            off += v * ys[d];
        }
        int64_t vi = pan__tensor_numel(tv) == 1 ? 0 : k;
        memcpy((char *)c->out[0] + off * (int64_t)es, (const char *)c->in[2] + vi * (int64_t)es, es);
    }
    return PAN_OK;
}

pan_status pan__cpu_data(const pan_cpu_call *c)
{
    const pan_node *n = c->n;
    switch (n->op) {
    case PAN_OP_IDENTITY:
    case PAN_OP_RESHAPE:
    case PAN_OP_FLATTEN:
    case PAN_OP_SQUEEZE:
    case PAN_OP_UNSQUEEZE: {
        /* Aliased by the memory planner (same buffer) at run time; a copy when folding. */
        const pan_tensor *x = TIN(0);
        if (c->out[0] != c->in[0])
            memmove(c->out[0], c->in[0], (size_t)pan__tensor_numel(x) * pan_dtype_size(x->dtype));
        return PAN_OK;
    }
    case PAN_OP_CONCAT: return concat_split(c, 0);
    case PAN_OP_SPLIT: return concat_split(c, 1);
    case PAN_OP_TRANSPOSE: return transpose(c);
    case PAN_OP_PAD: return pad(c);
    case PAN_OP_GATHER: return gather(c);
    case PAN_OP_SPARSE_TO_DENSE: return sparse_to_dense(c);
    case PAN_OP_SLICE: {
        const pan_tensor *x = TIN(0), *y = TOUT(0);
        int64_t start[PAN_MAX_DIMS], step[PAN_MAX_DIMS], od[PAN_MAX_DIMS], xs[PAN_MAX_DIMS], is[PAN_MAX_DIMS], base = 0;
        pan_status st = pan__slice_resolve(c->g, n, start, step, od);
        if (st) return st;
        strides_of(x, xs);
        for (int d = 0; d < x->rank; d++) {
            is[d] = xs[d] * step[d];
            base += start[d] * xs[d];
        }
        strided_copy(y, c->out[0], c->in[0], is, base, pan_dtype_size(x->dtype));
        return PAN_OK;
    }
    case PAN_OP_EXPAND: {
        const pan_tensor *x = TIN(0), *y = TOUT(0);
        int64_t is[PAN_MAX_DIMS], st = 1;
        for (int d = y->rank - 1; d >= 0; d--) {
            int ix = d - (y->rank - x->rank);
            int64_t dim = ix >= 0 ? x->dims[ix] : 1;
            is[d] = dim == 1 ? 0 : st;
            st *= dim;
        }
        strided_copy(y, c->out[0], c->in[0], is, 0, pan_dtype_size(x->dtype));
        return PAN_OK;
    }
    case PAN_OP_SHAPE: {
        const pan_tensor *x = TIN(0);
        int64_t *o = c->out[0];
        for (int64_t i = n->attrs.shape.start; i < n->attrs.shape.end; i++) o[i - n->attrs.shape.start] = x->dims[i];
        return PAN_OK;
    }
    case PAN_OP_CONSTANT_OF_SHAPE: {
        const pan_tensor *y = TOUT(0);
        int64_t cnt = pan__tensor_numel(y);
        double v = n->attrs.fill.value;
        for (int64_t i = 0; i < cnt; i++) {
            switch (y->dtype) {
            case PAN_DTYPE_F32: ((float *)c->out[0])[i] = pan__d2f(v); break;
            case PAN_DTYPE_F64: ((double *)c->out[0])[i] = v; break;
            case PAN_DTYPE_I64: ((int64_t *)c->out[0])[i] = pan__f2i(v); break;
            case PAN_DTYPE_I32: ((int32_t *)c->out[0])[i] = (int32_t)pan__f2i(v); break;
            case PAN_DTYPE_U8:
            case PAN_DTYPE_BOOL:
            case PAN_DTYPE_I8: ((uint8_t *)c->out[0])[i] = (uint8_t)pan__f2i(v); break;
            default: return PAN_UNSUPPORTED;
            }
        }
        return PAN_OK;
    }
    default: return PAN_UNSUPPORTED;
    }
}
