/* Graph building, cloning, sorting and small helpers for the engine IR (see ir.h). */
#include "nn/ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"

#define TAG "nn"

static const char *const dtype_names[PAN_DTYPE_COUNT] = {"float32", "float16", "int32", "int64",
                                                         "uint8", "bool", "int8", "float64"};
static const size_t dtype_sizes[PAN_DTYPE_COUNT] = {4, 2, 4, 8, 1, 1, 1, 8};

const char *pan_dtype_name(pan_dtype t) { return (unsigned)t < PAN_DTYPE_COUNT ? dtype_names[t] : "?"; }
size_t pan_dtype_size(pan_dtype t) { return (unsigned)t < PAN_DTYPE_COUNT ? dtype_sizes[t] : 0; }

const char *pan__dims_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t k = 0;
    if (size == 0) return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, size - k, "[");
    for (int i = 0; i < rank && k < size; i++) {
        if (dims[i] == PAN_DIM_BATCH) k += (size_t)snprintf(buf + k, size - k, "%sN", i ? "," : "");
        else if (dims[i] == PAN_DIM_UNKNOWN) k += (size_t)snprintf(buf + k, size - k, "%s?", i ? "," : "");
        else k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, i ? "," : "", dims[i]);
    }
    if (k < size) snprintf(buf + k, size - k, "]");
    return buf;
}

int64_t pan__tensor_numel(const pan_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) return -1;
        n *= t->dims[i];
        if (n > PAN_MAX_TENSOR_ELEMS) return -1;
    }
    return n;
}

int64_t pan__tensor_get_i64(const pan_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case PAN_DTYPE_I64: return ((const int64_t *)t->data)[i];
    case PAN_DTYPE_I32: return ((const int32_t *)t->data)[i];
    case PAN_DTYPE_U8:
    case PAN_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case PAN_DTYPE_I8: return ((const int8_t *)t->data)[i];
    case PAN_DTYPE_F32: return pan__f2i(((const float *)t->data)[i]);
    case PAN_DTYPE_F64: return pan__f2i(((const double *)t->data)[i]);
    default: return 0;
    }
}

double pan__tensor_get_f64(const pan_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case PAN_DTYPE_F32: return ((const float *)t->data)[i];
    case PAN_DTYPE_F64: return ((const double *)t->data)[i];
    default: return (double)pan__tensor_get_i64(t, i);
    }
}

static pan_status hash_rebuild(pan_graph *g, int want);

pan_status pan__graph_create(pan_graph **out, const char *source)
{
    pan_graph *g = calloc(1, sizeof *g);
    if (!g) return PAN_NOMEM;
    g->source = strdup(source ? source : "(memory)");
    if (!g->source) {
        free(g);
        return PAN_NOMEM;
    }
    *out = g;
    return PAN_OK;
}

void pan__graph_destroy(pan_graph **pg)
{
    if (!pg || !*pg) return;
    pan_graph *g = *pg;
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        if (g->tensors[i].owns_data) free(g->tensors[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].inputs);
        free(g->nodes[i].outputs);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->source);
    free(g->name_hash);
    for (int i = 0; i < 2 * g->n_meta; i++) free(g->meta[i]);
    free(g->meta);
    free(g);
    *pg = NULL;
}

pan_status pan__graph_add_meta(pan_graph *g, const char *key, const char *value)
{
    if (!g || !key || !value) return PAN_INVAL;
    if (g->n_meta >= 256) return PAN_LIMIT;
    char **m = realloc(g->meta, sizeof *m * (size_t)(2 * g->n_meta + 2));
    if (!m) return PAN_NOMEM;
    g->meta = m;
    m[2 * g->n_meta] = strdup(key);
    m[2 * g->n_meta + 1] = strdup(value);
    if (!m[2 * g->n_meta] || !m[2 * g->n_meta + 1]) {
        free(m[2 * g->n_meta]);
        free(m[2 * g->n_meta + 1]);
        return PAN_NOMEM;
    }
    g->n_meta++;
    return PAN_OK;
}

const char *pan__graph_meta(const pan_graph *g, const char *key)
{
    for (int i = 0; g && key && i < g->n_meta; i++)
        if (!strcmp(g->meta[2 * i], key)) return g->meta[2 * i + 1];
    return NULL;
}

pan_status pan__graph_clone(const pan_graph *g, pan_graph **out)
{
    pan_graph *c = NULL;
    pan_status st = pan__graph_create(&c, g->source);
    if (st) return st;
    c->tensors = calloc((size_t)g->n_tensors + 1, sizeof *c->tensors);
    c->nodes = calloc((size_t)g->n_nodes + 1, sizeof *c->nodes);
    c->inputs = calloc((size_t)g->n_inputs + 1, sizeof(int));
    c->outputs = calloc((size_t)g->n_outputs + 1, sizeof(int));
    if (!c->tensors || !c->nodes || !c->inputs || !c->outputs) goto nomem;
    c->cap_tensors = g->n_tensors + 1;
    c->cap_nodes = g->n_nodes + 1;
    for (int i = 0; i < g->n_tensors; i++) {
        c->tensors[i] = g->tensors[i];
        c->tensors[i].owns_data = 0;
        c->tensors[i].name = strdup(g->tensors[i].name);
        c->n_tensors = i + 1;
        if (!c->tensors[i].name) goto nomem;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *s = &g->nodes[i];
        pan_node *d = &c->nodes[i];
        *d = *s;
        d->name = strdup(s->name);
        d->inputs = malloc(sizeof(int) * (size_t)(s->n_inputs + 1));
        d->outputs = malloc(sizeof(int) * (size_t)(s->n_outputs + 1));
        c->n_nodes = i + 1;
        if (!d->name || !d->inputs || !d->outputs) goto nomem;
        memcpy(d->inputs, s->inputs, sizeof(int) * (size_t)s->n_inputs);
        memcpy(d->outputs, s->outputs, sizeof(int) * (size_t)s->n_outputs);
    }
    memcpy(c->inputs, g->inputs, sizeof(int) * (size_t)g->n_inputs);
    memcpy(c->outputs, g->outputs, sizeof(int) * (size_t)g->n_outputs);
    c->n_inputs = g->n_inputs;
    c->n_outputs = g->n_outputs;
    c->batch = g->batch;
    c->name_hash = NULL;
    c->name_hash_cap = 0;
    if (hash_rebuild(c, c->n_tensors + 1)) goto nomem;
    *out = c;
    return PAN_OK;
nomem:
    pan__graph_destroy(&c);
    return PAN_NOMEM;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void hash_insert(pan_graph *g, int t)
{
    uint32_t mask = (uint32_t)g->name_hash_cap - 1, i = name_hash(g->tensors[t].name) & mask;
    while (g->name_hash[i] >= 0) i = (i + 1) & mask;
    g->name_hash[i] = t;
}

/* Rebuilds the index with room for twice the tensors (load factor <= 1/2). */
static pan_status hash_rebuild(pan_graph *g, int want)
{
    int cap = 64;
    while (cap < 4 * want) cap *= 2;
    int *h = malloc(sizeof(int) * (size_t)cap);
    if (!h) return PAN_NOMEM;
    free(g->name_hash);
    g->name_hash = h;
    g->name_hash_cap = cap;
    memset(h, 0xff, sizeof(int) * (size_t)cap);
    for (int t = 0; t < g->n_tensors; t++) hash_insert(g, t);
    return PAN_OK;
}

int pan__graph_find_tensor(const pan_graph *g, const char *name)
{
    if (!g->name_hash_cap) {
        for (int i = 0; i < g->n_tensors; i++)
            if (!strcmp(g->tensors[i].name, name)) return i;
        return -1;
    }
    uint32_t mask = (uint32_t)g->name_hash_cap - 1, i = name_hash(name) & mask;
    for (; g->name_hash[i] >= 0; i = (i + 1) & mask)
        if (!strcmp(g->tensors[g->name_hash[i]].name, name)) return g->name_hash[i];
    return -1;
}

char *pan__graph_unique_name(const pan_graph *g, const char *base)
{
    size_t n = strlen(base) + 32;
    char *s = malloc(n);
    if (!s) return NULL;
    for (int k = g->n_tensors;; k++) {
        snprintf(s, n, "%s_%d", base, k);
        if (pan__graph_find_tensor(g, s) < 0) return s;
    }
}

static pan_status check_dims(const pan_graph *g, const char *name, int rank, const int64_t *dims)
{
    char buf[160];
    if (rank < 0 || rank > PAN_MAX_DIMS) {
        pan_log_error(TAG, -1, "%s: tensor '%s': rank %d is outside 0..%d", g->source, name, rank, PAN_MAX_DIMS);
        return PAN_MODEL;
    }
    for (int i = 0; i < rank; i++) {
        if (dims[i] == PAN_DIM_BATCH && i == 0) continue;
        if (dims[i] == PAN_DIM_UNKNOWN) continue;
        if (dims[i] < 0 || dims[i] > PAN_MAX_DIM_VALUE) {
            pan_log_error(TAG, -1, "%s: tensor '%s': invalid dims %s", g->source, name,
                          pan__dims_str(rank, dims, buf, sizeof buf));
            return PAN_MODEL;
        }
    }
    return PAN_OK;
}

int pan__graph_add_tensor(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims)
{
    if (!name || !*name || (unsigned)dtype >= PAN_DTYPE_COUNT) {
        pan_log_error(TAG, -1, "%s: tensor '%s': invalid name or dtype", g->source, name ? name : "(null)");
        return PAN_MODEL;
    }
    pan_status st = check_dims(g, name, rank, dims);
    if (st) return st;
    if (g->n_tensors >= PAN_MAX_TENSORS) {
        pan_log_error(TAG, -1, "%s: more than %d tensors; the model is too large or hostile", g->source, PAN_MAX_TENSORS);
        return PAN_LIMIT;
    }
    if (g->n_tensors == g->cap_tensors) {
        int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        pan_tensor *t = realloc(g->tensors, sizeof *t * (size_t)cap);
        if (!t) return PAN_NOMEM;
        g->tensors = t;
        g->cap_tensors = cap;
    }
    pan_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return PAN_NOMEM;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->producer = -1;
    t->offset = -1;
    int idx = g->n_tensors++;
    if (2 * (g->n_tensors + 1) > g->name_hash_cap) {
        if (hash_rebuild(g, g->n_tensors + 1)) { /* keep the tensor; fall back to linear search */
            free(g->name_hash);
            g->name_hash = NULL;
            g->name_hash_cap = 0;
        }
    } else {
        hash_insert(g, idx);
    }
    return idx;
}

int pan__graph_add_input(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims)
{
    int t = pan__graph_add_tensor(g, name, dtype, rank, dims);
    if (t < 0) return t;
    int *in = realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1));
    if (!in) return PAN_NOMEM;
    g->inputs = in;
    g->inputs[g->n_inputs++] = t;
    g->tensors[t].flags |= PAN_TENSOR_INPUT;
    if (rank > 0 && dims[0] == PAN_DIM_BATCH) g->tensors[t].flags |= PAN_TENSOR_BATCHED;
    return t;
}

int pan__graph_add_const_owned(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims,
                               void *data)
{
    int t = pan__graph_add_tensor(g, name, dtype, rank, dims);
    if (t < 0) {
        free(data);
        return t;
    }
    pan_tensor *T = &g->tensors[t];
    if (pan__tensor_numel(T) < 0) {
        char buf[160];
        pan_log_error(TAG, -1, "%s: constant '%s': dims %s are not concrete", g->source, name,
                      pan__dims_str(rank, dims, buf, sizeof buf));
        free(data);
        return PAN_MODEL;
    }
    T->data = data;
    T->owns_data = 1;
    T->flags |= PAN_TENSOR_CONST;
    return t;
}

int pan__graph_add_const(pan_graph *g, const char *name, pan_dtype dtype, int rank, const int64_t *dims,
                         const void *data)
{
    int64_t n = 1;
    pan_status st = check_dims(g, name ? name : "", rank, dims);
    if (st) return st;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return PAN_MODEL;
        n *= dims[i];
        if (n > PAN_MAX_TENSOR_ELEMS) {
            pan_log_error(TAG, -1, "%s: constant '%s' is absurdly large", g->source, name);
            return PAN_MODEL;
        }
    }
    size_t bytes = (size_t)n * pan_dtype_size(dtype);
    void *d = malloc(bytes ? bytes : 1);
    if (!d) return PAN_NOMEM;
    if (data) memcpy(d, data, bytes);
    else memset(d, 0, bytes);
    return pan__graph_add_const_owned(g, name, dtype, rank, dims, d);
}

int pan__graph_add_const_i64(pan_graph *g, const char *name, int n, const int64_t *values)
{
    int64_t dims[1] = {n};
    return pan__graph_add_const(g, name, PAN_DTYPE_I64, 1, dims, values);
}

pan_status pan__graph_mark_output(pan_graph *g, int t)
{
    if (t < 0 || t >= g->n_tensors) return PAN_INVAL;
    int *o = realloc(g->outputs, sizeof(int) * (size_t)(g->n_outputs + 1));
    if (!o) return PAN_NOMEM;
    g->outputs = o;
    g->outputs[g->n_outputs++] = t;
    g->tensors[t].flags |= PAN_TENSOR_OUTPUT;
    return PAN_OK;
}

int pan__graph_add_node(pan_graph *g, pan_op op, const char *name, int n_inputs, const int *inputs,
                        int n_outputs, const int *outputs, const pan_attrs *attrs)
{
    if ((unsigned)op >= PAN_OP_COUNT || n_inputs < 0 || n_outputs < 1 || n_inputs > 65536 || n_outputs > 65536)
        return PAN_INVAL;
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < -1 || inputs[i] >= g->n_tensors) return PAN_INVAL;
    for (int i = 0; i < n_outputs; i++) {
        if (outputs[i] < 0 || outputs[i] >= g->n_tensors) return PAN_INVAL;
        const pan_tensor *t = &g->tensors[outputs[i]];
        if (t->producer >= 0 || (t->flags & (PAN_TENSOR_CONST | PAN_TENSOR_INPUT))) {
            pan_log_error(TAG, -1, "%s: node '%s' (%s): tensor '%s' is already produced elsewhere", g->source,
                          name, pan__op_name(op), t->name);
            return PAN_MODEL;
        }
    }
    if (g->n_nodes >= PAN_MAX_NODES) {
        pan_log_error(TAG, -1, "%s: more than %d nodes; the model is too large or hostile", g->source, PAN_MAX_NODES);
        return PAN_LIMIT;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        pan_node *n = realloc(g->nodes, sizeof *n * (size_t)cap);
        if (!n) return PAN_NOMEM;
        g->nodes = n;
        g->cap_nodes = cap;
    }
    pan_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = strdup(name ? name : pan__op_name(op));
    n->inputs = malloc(sizeof(int) * (size_t)(n_inputs + 1));
    n->outputs = malloc(sizeof(int) * (size_t)n_outputs);
    if (!n->name || !n->inputs || !n->outputs) {
        free(n->name);
        free(n->inputs);
        free(n->outputs);
        return PAN_NOMEM;
    }
    if (n_inputs) memcpy(n->inputs, inputs, sizeof(int) * (size_t)n_inputs);
    memcpy(n->outputs, outputs, sizeof(int) * (size_t)n_outputs);
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    if (attrs) n->attrs = *attrs;
    for (int i = 0; i < n_outputs; i++) g->tensors[outputs[i]].producer = g->n_nodes;
    return g->n_nodes++;
}

int pan__graph_consumers(const pan_graph *g, int t)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++) c += n->inputs[k] == t;
    }
    for (int i = 0; i < g->n_outputs; i++) c += g->outputs[i] == t;
    return c;
}

void pan__graph_compact(pan_graph *g)
{
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            free(g->nodes[i].name);
            free(g->nodes[i].inputs);
            free(g->nodes[i].outputs);
            continue;
        }
        g->nodes[w++] = g->nodes[i];
    }
    g->n_nodes = w;
    for (int i = 0; i < g->n_tensors; i++) g->tensors[i].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++) g->tensors[g->nodes[i].outputs[k]].producer = i;
}

