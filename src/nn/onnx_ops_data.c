/* Data-movement and shape operators of the ONNX importer (split from onnx_ops.c): Split, Slice,
 * Pad, Resize/Upsample, Range (folded), Cast, ConstantOfShape. Opset conventions: see onnx_ops.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onnx_impl.h"

int pan__onnx_op_split(pan__onnx_ctx *c, pan__onnx_io *x)
{
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.axis.axis = pan__onnx_attr_i(c->node, "axis", 0);
    for (int i = 0; i < x->n_out; i++)
        if (x->out[i] < 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "output %d has no name", i);
    int64_t no = pan__onnx_attr_i(c->node, "num_outputs", x->n_out);
    if (no != x->n_out) return pan__onnx_fail(c, PAN_MODEL, "num_outputs %lld but %d outputs", (long long)no, x->n_out);
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    int p = x->n_in > 1 ? x->in[1] : -1;
    if (c->opset < 13 && (st = pan__onnx_ints_as_input(c, "split", &p))) return st;
    int in[2] = {x->in[0], p};
    return pan__onnx_add(c, PAN_OP_SPLIT, 2, in, x->n_out, x->out, &a);
}

int pan__onnx_op_slice(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    int in[5] = {x->in[0], -1, -1, -1, -1};
    if (c->opset < 10) {
        if ((st = pan__onnx_ints_as_input(c, "starts", &in[1])) || (st = pan__onnx_ints_as_input(c, "ends", &in[2])) ||
            (st = pan__onnx_ints_as_input(c, "axes", &in[3])))
            return st;
    } else {
        for (int i = 1; i < 5 && i < x->n_in; i++) in[i] = x->in[i];
    }
    if (in[1] < 0 || in[2] < 0) return pan__onnx_fail(c, PAN_MODEL, "starts/ends missing");
    return pan__onnx_add(c, PAN_OP_SLICE, 5, in, 1, x->out, NULL);
}

int pan__onnx_op_pad(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    char mode[32];
    pan__onnx_attr_s(c->node, "mode", "constant", mode, sizeof mode);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    if (!strcmp(mode, "constant")) a.pad.mode = PAN_PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) a.pad.mode = PAN_PAD_REFLECT;
    else if (!strcmp(mode, "edge")) a.pad.mode = PAN_PAD_EDGE;
    else return pan__onnx_fail(c, PAN_UNSUPPORTED, "Pad mode '%s'", mode);
    int in[3] = {x->in[0], -1, -1};
    if (c->opset < 11) {
        if ((st = pan__onnx_ints_as_input(c, "pads", &in[1]))) return st;
        float v = pan__onnx_attr_f(c->node, "value", 0.f);
        char *nm = pan__onnx_fresh_name(c);
        if (!nm) return PAN_NOMEM;
        in[2] = pan__graph_add_const(c->g, nm, PAN_DTYPE_F32, 0, NULL, &v);
        free(nm);
        if (in[2] < 0) return in[2];
    } else {
        in[1] = x->n_in > 1 ? x->in[1] : -1;
        in[2] = x->n_in > 2 ? x->in[2] : -1;
        if (x->n_in > 3 && x->in[3] >= 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "Pad with an axes input");
    }
    if (in[1] < 0) return pan__onnx_fail(c, PAN_MODEL, "pads missing");
    return pan__onnx_add(c, PAN_OP_PAD, 3, in, 1, x->out, &a);
}

int pan__onnx_op_resize(pan__onnx_ctx *c, pan__onnx_io *x, int upsample)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    char s[48];
    pan_attrs a;
    memset(&a, 0, sizeof a);
    pan__onnx_attr_s(c->node, "mode", "nearest", s, sizeof s);
    if (!strcmp(s, "nearest")) a.resize.mode = PAN_RESIZE_NEAREST;
    else if (!strcmp(s, "linear") || !strcmp(s, "bilinear")) a.resize.mode = PAN_RESIZE_LINEAR;
    else if (!strcmp(s, "cubic")) a.resize.mode = PAN_RESIZE_CUBIC;
    else return pan__onnx_fail(c, PAN_UNSUPPORTED, "mode '%s'", s);
    int in[4] = {x->in[0], -1, -1, -1};
    if (upsample || c->opset < 11) {
        /* Upsample 7-9, Resize 10: (X, scales) or attribute scales; asymmetric, nearest = floor */
        a.resize.coord = PAN_RESIZE_ASYMMETRIC;
        a.resize.nearest = PAN_NEAREST_FLOOR;
        const Onnx__AttributeProto *sa = pan__onnx_attr(c->node, "scales");
        if (x->n_in > 1 && x->in[1] >= 0) {
            in[2] = x->in[1];
        } else if (sa && sa->n_floats > 0 && sa->n_floats <= PAN_MAX_DIMS) {
            char *nm = pan__onnx_fresh_name(c);
            if (!nm) return PAN_NOMEM;
            int64_t d = (int64_t)sa->n_floats;
            in[2] = pan__graph_add_const(c->g, nm, PAN_DTYPE_F32, 1, &d, sa->floats);
            free(nm);
            if (in[2] < 0) return in[2];
        } else {
            return pan__onnx_fail(c, PAN_MODEL, "scales missing");
        }
    } else {
        pan__onnx_attr_s(c->node, "coordinate_transformation_mode", "half_pixel", s, sizeof s);
        if (!strcmp(s, "half_pixel")) a.resize.coord = PAN_RESIZE_HALF_PIXEL;
        else if (!strcmp(s, "asymmetric")) a.resize.coord = PAN_RESIZE_ASYMMETRIC;
        else if (!strcmp(s, "align_corners")) a.resize.coord = PAN_RESIZE_ALIGN_CORNERS;
        else if (!strcmp(s, "pytorch_half_pixel")) a.resize.coord = PAN_RESIZE_PYTORCH_HALF_PIXEL;
        else if (!strcmp(s, "tf_half_pixel_for_nn")) a.resize.coord = PAN_RESIZE_TF_HALF_PIXEL_FOR_NN;
        else return pan__onnx_fail(c, PAN_UNSUPPORTED, "coordinate_transformation_mode '%s'", s);
        pan__onnx_attr_s(c->node, "nearest_mode", "round_prefer_floor", s, sizeof s);
        if (!strcmp(s, "round_prefer_floor")) a.resize.nearest = PAN_NEAREST_ROUND_PREFER_FLOOR;
        else if (!strcmp(s, "round_prefer_ceil")) a.resize.nearest = PAN_NEAREST_ROUND_PREFER_CEIL;
        else if (!strcmp(s, "floor")) a.resize.nearest = PAN_NEAREST_FLOOR;
        else if (!strcmp(s, "ceil")) a.resize.nearest = PAN_NEAREST_CEIL;
        else return pan__onnx_fail(c, PAN_UNSUPPORTED, "nearest_mode '%s'", s);
        a.resize.cubic_coeff_a = pan__onnx_attr_f(c->node, "cubic_coeff_a", -0.75f);
        a.resize.exclude_outside = (int)pan__onnx_attr_i(c->node, "exclude_outside", 0);
        if (pan__onnx_attr_i(c->node, "antialias", 0)) return pan__onnx_fail(c, PAN_UNSUPPORTED, "antialias 1");
        if (pan__onnx_attr(c->node, "axes")) return pan__onnx_fail(c, PAN_UNSUPPORTED, "Resize with axes");
        pan__onnx_attr_s(c->node, "keep_aspect_ratio_policy", "stretch", s, sizeof s);
        if (strcmp(s, "stretch")) return pan__onnx_fail(c, PAN_UNSUPPORTED, "keep_aspect_ratio_policy '%s'", s);
        for (int i = 1; i < 4 && i < x->n_in; i++) in[i] = x->in[i];
        /* exporters pass empty tensors for the unused one of scales/sizes */
        for (int i = 1; i < 4; i++) {
            const pan_tensor *T = pan__onnx_cst(c, in[i]);
            if (T && pan__tensor_numel(T) == 0) in[i] = -1;
        }
        if (in[2] < 0 && in[3] < 0) return pan__onnx_fail(c, PAN_MODEL, "neither scales nor sizes given");
    }
    return pan__onnx_add(c, PAN_OP_RESIZE, 4, in, 1, x->out, &a);
}

/* Range with constant inputs, folded at import (shape subgraphs use it). */
int pan__onnx_op_range(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 3);
    if (st) return st;
    const pan_tensor *s = pan__onnx_cst(c, x->in[0]), *l = pan__onnx_cst(c, x->in[1]), *d = pan__onnx_cst(c, x->in[2]);
    /* from the run's shapes (Range(0, Shape(x)[0])): a node, folded once the batch is known */
    if (!s || !l || !d) return pan__onnx_add(c, PAN_OP_RANGE, 3, x->in, 1, x->out, NULL);
    if (pan__tensor_numel(s) != 1 || pan__tensor_numel(l) != 1 || pan__tensor_numel(d) != 1)
        return pan__onnx_fail(c, PAN_MODEL, "Range needs scalar start, limit and delta");
    double a = pan__tensor_get_f64(s, 0), b = pan__tensor_get_f64(l, 0), dd = pan__tensor_get_f64(d, 0);
    double cnt = dd != 0 ? ceil((b - a) / dd) : -1;
    if (!(cnt >= 0) || cnt > 1 << 24) return pan__onnx_fail(c, PAN_MODEL, "Range of %g elements", cnt);
    int64_t n = (int64_t)cnt;
    pan_dtype dt = s->dtype == PAN_DTYPE_F32 || s->dtype == PAN_DTYPE_F64 ? PAN_DTYPE_F32 : s->dtype;
    if (dt != PAN_DTYPE_F32 && dt != PAN_DTYPE_I64 && dt != PAN_DTYPE_I32)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "Range of %s", pan_dtype_name(dt));
    void *v = malloc((size_t)(n ? n : 1) * 8);
    if (!v) return PAN_NOMEM;
    /* both ends must fit the integer type (a float->int conversion out of range is undefined) */
    double lim = dt == PAN_DTYPE_I32 ? 2147483647.0 : 9.2e18;
    if (dt != PAN_DTYPE_F32 && !(fabs(a) <= lim && fabs(a + (double)n * dd) <= lim)) {
        free(v);
        return pan__onnx_fail(c, PAN_MODEL, "Range from %g by %g overflows %s", a, dd, pan_dtype_name(dt));
    }
    for (int64_t i = 0; i < n; i++) {
        double e = a + (double)i * dd;
        if (dt == PAN_DTYPE_F32) ((float *)v)[i] = (float)e;
        else if (dt == PAN_DTYPE_I64) ((int64_t *)v)[i] = (int64_t)e;
        else ((int32_t *)v)[i] = (int32_t)e;
    }
    /* The output placeholder was made in pass 1; the constant takes a fresh name and an
     * Identity node produces the output. */
    char *nm = pan__onnx_fresh_name(c);
    if (!nm) {
        free(v);
        return PAN_NOMEM;
    }
    int t = pan__graph_add_const_owned(c->g, nm, dt, 1, &n, v);
    free(nm);
    if (t < 0) return t;
    return pan__onnx_add(c, PAN_OP_IDENTITY, 1, &t, 1, x->out, NULL);
}

int pan__onnx_op_cast_to(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    int64_t to = pan__onnx_attr_i(c->node, "to", -1);
    int dt = pan__onnx_dtype((int32_t)to);
    if (to < 0 || to > 64 || dt < 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "Cast to ONNX type %lld", (long long)to);
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.cast.to = (pan_dtype)dt;
    return pan__onnx_add(c, PAN_OP_CAST, 1, x->in, 1, x->out, &a);
}

int pan__onnx_op_const_of_shape(pan__onnx_ctx *c, pan__onnx_io *x)
{
    int st = pan__onnx_need_inputs(c, x, 1);
    if (st) return st;
    pan_attrs a;
    memset(&a, 0, sizeof a);
    a.fill.dtype = PAN_DTYPE_F32;
    const Onnx__AttributeProto *v = pan__onnx_attr(c->node, "value");
    if (v && v->t) {
        const Onnx__TensorProto *t = v->t;
        int dt = pan__onnx_dtype(t->has_data_type ? t->data_type : 0);
        if (dt < 0) return pan__onnx_fail(c, PAN_UNSUPPORTED, "value of ONNX type %d", (int)t->data_type);
        a.fill.dtype = (pan_dtype)dt;
        const uint8_t *r = t->has_raw_data ? t->raw_data.data : NULL;
        size_t rl = t->has_raw_data ? t->raw_data.len : 0;
        int ty = t->data_type, ok = 0;
        if (ty == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            float f = 0;
            if (r && rl >= 4) memcpy(&f, r, 4), ok = 1;
            else if (!r && t->n_float_data) f = t->float_data[0], ok = 1;
            a.fill.value = f;
        } else if (ty == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
            int64_t i = 0;
            if (r && rl >= 8) memcpy(&i, r, 8), ok = 1;
            else if (!r && t->n_int64_data) i = t->int64_data[0], ok = 1;
            a.fill.value = (double)i;
        } else if (ty == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
            int32_t i = 0;
            if (r && rl >= 4) memcpy(&i, r, 4), ok = 1;
            else if (!r && t->n_int32_data) i = t->int32_data[0], ok = 1;
            a.fill.value = i;
        }
        if (!ok) return pan__onnx_fail(c, PAN_UNSUPPORTED, "ConstantOfShape value must be one float, int32 or int64");
    }
    return pan__onnx_add(c, PAN_OP_CONSTANT_OF_SHAPE, 1, x->in, 1, x->out, &a);
}
