/* ONNX importer: file -> protobuf-c ModelProto -> IR graph (operators in onnx_ops.c).
 *
 * What is accepted:
 *  - one .onnx file with its weights inside (raw_data or the typed fields); external data
 *    (data_location = EXTERNAL) is refused with a message;
 *  - the default operator domain ("" / "ai.onnx"), opsets 7..21 (attribute and input forms);
 *  - graph inputs with fixed dims, except the first, which may be symbolic (dim_param) or 1:
 *    it becomes the IR's batch dimension. A model exported with a fixed batch of 1 (the usual
 *    static export) also runs larger batches: its Reshape targets that start with 1 are read as
 *    "the batch" (IR batch_leading). Any other symbolic dim (dynamic H/W) is refused, because the
 *    engine plans fixed shapes;
 *  - initializers of FLOAT, FLOAT16, BFLOAT16 (both converted to F32: the engine computes
 *    floating point in FP32 on cpu, FP16 on cuda from F32 weights), DOUBLE, INT64, INT32, INT8,
 *    UINT8, BOOL. Data is little-endian, as the ONNX spec stores raw_data.
 * Checks: every dim in 0..2^31, element count <= 2^32 without overflow, data size equal to what
 * the dims promise, names present, inputs that exist. */
#include "nn/onnx.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/onnx_impl.h"
#include "panoptes/log.h"

#define TAG "onnx"

pan_status pan__onnx_fail(pan__onnx_ctx *c, pan_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->node) pan_log_error(TAG, -1, "%s: node %s: %s", c->source, c->node_label, msg);
    else pan_log_error(TAG, -1, "%s: %s", c->source, msg);
    return st;
}

/* ---- name table ---------------------------------------------------------------------- */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int pan__onnx_lookup(const pan__onnx_ctx *c, const char *name)
{
    const pan__onnx_names *m = &c->names;
    if (!name || !m->cap) return -1;
    for (size_t i = hash_str(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return -1;
        if (!strcmp(m->keys[i], name)) return m->vals[i];
    }
}

pan_status pan__onnx_bind(pan__onnx_ctx *c, const char *name, int tensor)
{
    pan__onnx_names *m = &c->names;
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        char **keys = calloc(cap, sizeof *keys);
        int *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return PAN_NOMEM;
        }
        for (size_t j = 0; j < m->cap; j++) {
            if (!m->keys[j]) continue;
            size_t i = hash_str(m->keys[j]) & (cap - 1);
            while (keys[i]) i = (i + 1) & (cap - 1);
            keys[i] = m->keys[j];
            vals[i] = m->vals[j];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = hash_str(name) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], name)) {
            m->vals[i] = tensor;
            return PAN_OK;
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = strdup(name);
    if (!m->keys[i]) return PAN_NOMEM;
    m->vals[i] = tensor;
    m->count++;
    return PAN_OK;
}

char *pan__onnx_fresh_name(pan__onnx_ctx *c)
{
    const char *base = c->node && c->node->n_output && c->node->output[0] ? c->node->output[0] : "t";
    size_t n = strlen(base) + 24;
    char *s = malloc(n);
    if (!s) return NULL;
    do snprintf(s, n, "%s/pan%u", base, c->fresh++);
    while (pan__onnx_lookup(c, s) >= 0);
    return s;
}

static void names_free(pan__onnx_names *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- attributes ---------------------------------------------------------------------- */
const Onnx__AttributeProto *pan__onnx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i] && n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

int64_t pan__onnx_attr_i(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = pan__onnx_attr(n, name);
    return a && a->has_i ? a->i : def;
}

float pan__onnx_attr_f(const Onnx__NodeProto *n, const char *name, float def)
{
    const Onnx__AttributeProto *a = pan__onnx_attr(n, name);
    return a && a->has_f ? a->f : def;
}

const char *pan__onnx_attr_s(const Onnx__NodeProto *n, const char *name, const char *def, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = pan__onnx_attr(n, name);
    if (!a || !a->has_s || !a->s.data) {
        snprintf(buf, size, "%s", def);
        return buf;
    }
    size_t k = a->s.len < size - 1 ? a->s.len : size - 1;
    memcpy(buf, a->s.data, k);
    buf[k] = 0;
    return buf;
}

int pan__onnx_attr_ints(const Onnx__NodeProto *n, const char *name, const int64_t **v)
{
    const Onnx__AttributeProto *a = pan__onnx_attr(n, name);
    *v = NULL;
    if (!a) return -1;
    if (a->n_ints > 64) return -2; /* no op here takes more; guards the callers' buffers */
    *v = a->ints;
    return (int)a->n_ints;
}

/* ---- tensors ------------------------------------------------------------------------- */
int pan__onnx_dtype(int32_t t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return PAN_DTYPE_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return PAN_DTYPE_F64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return PAN_DTYPE_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return PAN_DTYPE_I32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return PAN_DTYPE_I8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return PAN_DTYPE_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return PAN_DTYPE_BOOL;
    default: return -1;
    }
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), (int)exp - 25);
    return sign ? -v : v;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int pan__onnx_add_initializer(pan__onnx_ctx *c, const Onnx__TensorProto *t, const char *name)
{
    char buf[160];
    if (!name || !*name) return pan__onnx_fail(c, PAN_MODEL, "a tensor constant has no name");
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return pan__onnx_fail(c, PAN_UNSUPPORTED,
                              "tensor '%s' keeps its data in an external file; save the model with the weights "
                              "inside (onnx.save_model(m, path, save_as_external_data=False))", name);
    if (t->segment) return pan__onnx_fail(c, PAN_UNSUPPORTED, "tensor '%s' is segmented", name);
    if (t->n_dims > PAN_MAX_DIMS)
        return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' has rank %zu (at most %d)", name, t->n_dims, PAN_MAX_DIMS);
    int64_t dims[PAN_MAX_DIMS];
    int rank = (int)t->n_dims;
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) dims[i] = t->dims[i];
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || dims[i] > PAN_MAX_DIM_VALUE)
            return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' has invalid dims %s", name,
                                  pan__dims_str(rank, dims, buf, sizeof buf));
        numel *= (uint64_t)dims[i]; /* each factor < 2^31 and the product checked below: no overflow */
        if (numel > (uint64_t)PAN_MAX_TENSOR_ELEMS)
            return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' is too large (more than 2^32 elements)", name);
    }
    int32_t ot = t->has_data_type ? t->data_type : 0;
    int dt = pan__onnx_dtype(ot);
    if (dt < 0)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "tensor '%s' has an unsupported element type (ONNX type %d)",
                              name, (int)ot);
    size_t esz = pan_dtype_size((pan_dtype)dt);
    /* element size as stored in the file */
    size_t fsz = ot == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 || ot == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16 ? 2 : esz;
    size_t n = (size_t)numel;
    /* The data must be exactly what the dims promise; checked before allocating, so a small
     * hostile file cannot make us allocate gigabytes. */
    size_t have;
    if (t->has_raw_data) {
        if (t->raw_data.len != n * fsz)
            return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' %s holds %zu bytes of data, %zu expected", name,
                                  pan__dims_str(rank, dims, buf, sizeof buf), t->raw_data.len, n * fsz);
    } else {
        switch (ot) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: have = t->n_float_data; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: have = t->n_double_data; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: have = t->n_int64_data; break;
        default: have = t->n_int32_data; break; /* int32, int8, uint8, bool, float16, bfloat16 */
        }
        if (have != n)
            return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' %s holds %zu values, %zu expected", name,
                                  pan__dims_str(rank, dims, buf, sizeof buf), have, n);
    }
    void *data = malloc(n * esz + 1);
    if (!data) return pan__onnx_fail(c, PAN_NOMEM, "tensor '%s': out of memory (%zu bytes)", name, n * esz);
    if (t->has_raw_data) {
        if (fsz == esz) {
            if (n) memcpy(data, t->raw_data.data, n * esz);
        } else {
            float *f = data;
            for (size_t i = 0; i < n; i++) {
                uint16_t h = (uint16_t)(t->raw_data.data[2 * i] | (t->raw_data.data[2 * i + 1] << 8));
                f[i] = ot == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ? half_to_float(h) : bf16_to_float(h);
            }
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            switch (ot) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: ((float *)data)[i] = t->float_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: ((double *)data)[i] = t->double_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: ((int64_t *)data)[i] = t->int64_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: ((int32_t *)data)[i] = t->int32_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
                ((float *)data)[i] = half_to_float((uint16_t)t->int32_data[i]);
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
                ((float *)data)[i] = bf16_to_float((uint16_t)t->int32_data[i]);
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: ((uint8_t *)data)[i] = t->int32_data[i] != 0; break;
            default: ((uint8_t *)data)[i] = (uint8_t)t->int32_data[i]; break; /* int8, uint8 */
            }
        }
    }
    if (pan__onnx_lookup(c, name) >= 0) {
        free(data);
        return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' is defined twice", name);
    }
    int idx = pan__graph_add_const_owned(c->g, name, (pan_dtype)dt, rank, dims, data);
    if (idx < 0) return idx;
    pan_status st = pan__onnx_bind(c, name, idx);
    return st ? st : idx;
}

/* ---- graph inputs and outputs --------------------------------------------------------- */
static pan_status add_input(pan__onnx_ctx *c, const Onnx__ValueInfoProto *vi)
{
    const char *name = vi->name;
    if (!name || !*name) return pan__onnx_fail(c, PAN_MODEL, "a graph input has no name");
    if (pan__onnx_lookup(c, name) >= 0) return PAN_OK; /* IR < 4 lists initializers as inputs too */
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "graph input '%s' is not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int dt = pan__onnx_dtype(tt->has_elem_type ? tt->elem_type : 0);
    if (dt < 0)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "graph input '%s' has an unsupported element type (ONNX type %d)",
                              name, (int)tt->elem_type);
    if (!tt->shape) return pan__onnx_fail(c, PAN_MODEL, "graph input '%s' has no shape", name);
    if (tt->shape->n_dim > PAN_MAX_DIMS)
        return pan__onnx_fail(c, PAN_MODEL, "graph input '%s' has rank %zu (at most %d)", name, tt->shape->n_dim,
                              PAN_MAX_DIMS);
    int rank = (int)tt->shape->n_dim;
    int64_t dims[PAN_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        int fixed = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0;
        if (i == 0 && (!fixed || d->dim_value == 1)) {
            /* Symbolic or 1: the batch. Exporters trace with batch 1 and write that 1 into Reshape
             * targets ([1, 144, -1]); for such models Reshape gets batch_leading (onnx_ops.c), so
             * batch > 1 runs too. */
            dims[0] = PAN_DIM_BATCH;
            if (fixed) c->static_batch1 = 1;
            continue;
        }
        if (!fixed) {
            const char *p = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param
                                ? d->dim_param
                                : "?";
            return pan__onnx_fail(c, PAN_UNSUPPORTED,
                                  "graph input '%s' has a symbolic dim %d ('%s'): only the first (batch) dim may be "
                                  "dynamic; export the model with a fixed input size",
                                  name, i, p);
        }
        if (d->dim_value > PAN_MAX_DIM_VALUE)
            return pan__onnx_fail(c, PAN_MODEL, "graph input '%s': dim %d is %lld", name, i, (long long)d->dim_value);
        dims[i] = d->dim_value;
    }
    int idx = pan__graph_add_input(c->g, name, (pan_dtype)dt, rank, dims);
    if (idx < 0) return idx;
    return pan__onnx_bind(c, name, idx);
}

/* ---- node output placeholders and Constant nodes -------------------------------------- */
static void set_label(pan__onnx_ctx *c, const Onnx__NodeProto *n, size_t index)
{
    c->node = n;
    if (n->name && *n->name)
        snprintf(c->node_label, sizeof c->node_label, "'%.100s' (%.40s)", n->name, n->op_type ? n->op_type : "?");
    else
        snprintf(c->node_label, sizeof c->node_label, "#%zu (%.40s)", index, n->op_type ? n->op_type : "?");
}

/* Constant: its value becomes a graph constant named after the output. */
static pan_status add_constant_node(pan__onnx_ctx *c, const Onnx__NodeProto *n)
{
    if (n->n_output < 1 || !n->output[0] || !*n->output[0])
        return pan__onnx_fail(c, PAN_MODEL, "Constant without an output name");
    const char *out = n->output[0];
    if (pan__onnx_lookup(c, out) >= 0) return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' is produced twice", out);
    const Onnx__AttributeProto *a;
    int idx;
    if ((a = pan__onnx_attr(n, "value")) && a->t) {
        idx = pan__onnx_add_initializer(c, a->t, out);
        return idx < 0 ? idx : PAN_OK;
    }
    if ((a = pan__onnx_attr(n, "value_float")) && a->has_f) {
        idx = pan__graph_add_const(c->g, out, PAN_DTYPE_F32, 0, NULL, &a->f);
    } else if ((a = pan__onnx_attr(n, "value_int")) && a->has_i) {
        idx = pan__graph_add_const(c->g, out, PAN_DTYPE_I64, 0, NULL, &a->i);
    } else if ((a = pan__onnx_attr(n, "value_floats"))) {
        int64_t d = (int64_t)a->n_floats;
        idx = pan__graph_add_const(c->g, out, PAN_DTYPE_F32, 1, &d, a->floats);
    } else if ((a = pan__onnx_attr(n, "value_ints"))) {
        int64_t d = (int64_t)a->n_ints;
        idx = pan__graph_add_const(c->g, out, PAN_DTYPE_I64, 1, &d, a->ints);
    } else {
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "Constant without a supported value attribute "
                                                  "(value, value_float(s), value_int(s))");
    }
    if (idx < 0) return idx;
    return pan__onnx_bind(c, out, idx);
}

/* Every operator the importer does not know (and every node of another domain), in one message
 * before anything is converted, so that a user learns the whole list at once. */
static pan_status check_ops(pan__onnx_ctx *c, const Onnx__GraphProto *gp)
{
    pan_op_missing m = {0};
    char buf[300];
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        if (!n || !n->op_type) continue; /* reported by the conversion */
        const char *label = n->name && *n->name ? n->name : n->n_output && n->output[0] ? n->output[0] : "";
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) {
            snprintf(buf, sizeof buf, "%s (domain '%s')", n->op_type, n->domain);
            pan__op_missing_add(&m, buf, label);
        } else if (!pan__onnx_op_known(n->op_type)) {
            pan__op_missing_add(&m, n->op_type, label);
        }
    }
    snprintf(buf, sizeof buf, "the ONNX importer (opset %lld)", (long long)c->opset);
    return pan__op_missing_report(&m, c->source, buf,
                                  "Only the default ONNX domain is read; export without these ops, or file an issue naming them");
}

static pan_status build_graph(pan__onnx_ctx *c, const Onnx__ModelProto *m)
{
    pan_status st;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) return pan__onnx_fail(c, PAN_MODEL, "the file holds no graph (is it an ONNX model?)");
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (o && o->has_version && (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx"))) c->opset = o->version;
    }
    if (c->opset < 0) return pan__onnx_fail(c, PAN_MODEL, "no opset_import for the default ONNX domain");
    if (c->opset < 7 || c->opset > 21)
        pan_log_warn(TAG, -1, "%s: opset %lld is outside the tested range 7..21; importing anyway", c->source,
                     (long long)c->opset);
    if (gp->n_sparse_initializer)
        return pan__onnx_fail(c, PAN_UNSUPPORTED, "sparse initializers are not supported");
    if ((st = check_ops(c, gp))) return st;
    /* metadata_props (Ultralytics: author, head, end2end, names...): what the detector families read */
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = m->metadata_props[i];
        if (p && p->key && p->value && strlen(p->key) < 256 && strlen(p->value) < 65536 &&
            (st = pan__graph_add_meta(c->g, p->key, p->value)) && st != PAN_LIMIT)
            return st;
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!gp->initializer[i]) continue;
        int r = pan__onnx_add_initializer(c, gp->initializer[i], gp->initializer[i]->name);
        if (r < 0) return r;
    }
    for (size_t i = 0; i < gp->n_input; i++)
        if (gp->input[i] && (st = add_input(c, gp->input[i]))) return st;
    /* Pass 1: placeholders for every node output (so nodes may come in any order) and constants. */
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        if (!n || !n->op_type) return pan__onnx_fail(c, PAN_MODEL, "node #%zu has no op_type", k);
        set_label(c, n, k);
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
            return pan__onnx_fail(c, PAN_UNSUPPORTED, "operator domain '%s' is not supported (only the default "
                                                      "ONNX domain)", n->domain);
        if (!strcmp(n->op_type, "Constant")) {
            if ((st = add_constant_node(c, n))) return st;
            continue;
        }
        for (size_t j = 0; j < n->n_output; j++) {
            const char *o = n->output[j];
            if (!o || !*o) continue;
            if (pan__onnx_lookup(c, o) >= 0) return pan__onnx_fail(c, PAN_MODEL, "tensor '%s' is produced twice", o);
            int idx = pan__graph_add_tensor(c->g, o, PAN_DTYPE_F32, 0, NULL);
            if (idx < 0) return idx;
            if ((st = pan__onnx_bind(c, o, idx))) return st;
        }
    }
    /* Pass 2: operators. */
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        if (!strcmp(n->op_type, "Constant")) continue;
        set_label(c, n, k);
        if ((st = pan__onnx_convert_node(c))) return st;
    }
    c->node = NULL;
    if (!gp->n_output) return pan__onnx_fail(c, PAN_MODEL, "the graph has no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i] ? gp->output[i]->name : NULL;
        int t = pan__onnx_lookup(c, name);
        if (t < 0) return pan__onnx_fail(c, PAN_MODEL, "graph output '%s' is not produced by any node", name ? name : "");
        if (c->g->tensors[t].producer < 0)
            return pan__onnx_fail(c, PAN_UNSUPPORTED, "graph output '%s' is a graph input or a constant", name);
        if ((st = pan__graph_mark_output(c->g, t))) return st;
    }
    return pan__graph_sort(c->g);
}

pan_status pan__onnx_import_memory(const void *data, size_t size, const char *source, pan_graph **out)
{
    pan__onnx_ctx c;
    memset(&c, 0, sizeof c);
    c.source = source ? source : "(memory)";
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!data || !size) return pan__onnx_fail(&c, PAN_MODEL, "empty model file");
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    if (!m)
        return pan__onnx_fail(&c, PAN_CORRUPT, "not a valid ONNX protobuf (truncated or corrupt file, %zu bytes)", size);
    pan_status st = pan__graph_create(&c.g, c.source);
    if (!st) st = build_graph(&c, m);
    onnx__model_proto__free_unpacked(m, NULL);
    names_free(&c.names);
    if (st) {
        pan__graph_destroy(&c.g);
        return st;
    }
    *out = c.g;
    return PAN_OK;
}

pan_status pan__onnx_import(const char *path, pan_graph **out)
{
    pan__onnx_ctx c;
    memset(&c, 0, sizeof c);
    c.source = path ? path : "(null)";
    if (!path || !out) return PAN_INVAL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pan__onnx_fail(&c, errno == ENOENT ? PAN_NOTFOUND : PAN_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pan__onnx_fail(&c, PAN_IO, "not a regular file");
    }
    if ((int64_t)sb.st_size > PAN_ONNX_MAX_FILE_BYTES) {
        fclose(f);
        return pan__onnx_fail(&c, PAN_LIMIT, "file is larger than 2 GiB (external data is not supported)");
    }
    size_t size = (size_t)sb.st_size;
    void *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return pan__onnx_fail(&c, PAN_NOMEM, "out of memory reading %zu bytes", size);
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        free(buf);
        return pan__onnx_fail(&c, PAN_IO, "short read (%zu of %zu bytes)", got, size);
    }
    pan_status st = pan__onnx_import_memory(buf, size, path, out);
    free(buf);
    return st;
}
