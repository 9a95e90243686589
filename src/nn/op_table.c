/* The op table's columns that every part of the engine reads (names, kinds, ONNX forms), and the
 * one-message report of unsupported ops. The shape, cpu and cuda columns are expanded where their
 * functions live (infer_ops.c, cpu_ops.c, cuda_lower_cuda.c), so a cpu-only build never names a
 * cuda symbol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ir.h"
#include "panoptes/log.h"

#define TAG "nn"

/* The attrs column must name a member of pan_attrs. */
#define PAN__OP_CHECK_ATTRS(id, name, kind, attrs, onnx, shape, cpu, cuda) \
    _Static_assert(sizeof(((pan_attrs *)0)->attrs) > 0, "op table: " #id " names an unknown attrs member");
PAN_OP_TABLE(PAN__OP_CHECK_ATTRS)
#undef PAN__OP_CHECK_ATTRS

#define PAN__OP_NAME(id, name, kind, attrs, onnx, shape, cpu, cuda) name,
static const char *const op_names[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_NAME)};
#undef PAN__OP_NAME
#define PAN__OP_KIND(id, name, kind, attrs, onnx, shape, cpu, cuda) PAN_OPK_##kind,
static const unsigned char op_kinds[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_KIND)};
#undef PAN__OP_KIND
#define PAN__OP_ONNX(id, name, kind, attrs, onnx, shape, cpu, cuda) PAN_ONNX_##onnx,
static const unsigned char op_onnx[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_ONNX)};
#undef PAN__OP_ONNX
#define PAN__OP_ATTRS(id, name, kind, attrs, onnx, shape, cpu, cuda) #attrs,
static const char *const op_attrs[PAN_OP_COUNT] = {PAN_OP_TABLE(PAN__OP_ATTRS)};
#undef PAN__OP_ATTRS

const char *pan__op_name(pan_op op) { return (unsigned)op < PAN_OP_COUNT ? op_names[op] : "?"; }
pan_op_kind pan__op_kind(pan_op op) { return (unsigned)op < PAN_OP_COUNT ? (pan_op_kind)op_kinds[op] : PAN_OPK_OTHER; }
pan_op_onnx pan__op_onnx(pan_op op) { return (unsigned)op < PAN_OP_COUNT ? (pan_op_onnx)op_onnx[op] : PAN_ONNX_NO; }
const char *pan__op_attrs(pan_op op) { return (unsigned)op < PAN_OP_COUNT ? op_attrs[op] : "?"; }

int pan__op_from_name(const char *name)
{
    for (int i = 0; name && i < PAN_OP_COUNT; i++)
        if (!strcmp(op_names[i], name)) return i;
    return -1;
}

void pan__op_missing_add(pan_op_missing *m, const char *op, const char *node)
{
    if (!op) op = "?";
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].op, op)) {
            m->v[i].count++;
            return;
        }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        void *v = realloc(m->v, sizeof *m->v * (size_t)cap);
        if (!v) {
            m->nomem = 1;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    char *o = strdup(op), *nd = strdup(node ? node : "");
    if (!o || !nd) {
        free(o);
        free(nd);
        m->nomem = 1;
        return;
    }
    m->v[m->n++] = (struct pan_op_missing_entry){o, nd, 1};
}

pan_status pan__op_missing_report(pan_op_missing *m, const char *source, const char *who, const char *hint)
{
    pan_status st = m->n || m->nomem ? PAN_UNSUPPORTED : PAN_OK;
    if (st && PAN_LOG_ENABLED(PAN_LOG_ERROR)) {
        size_t size = 256 + (hint ? strlen(hint) : 0);
        for (int i = 0; i < m->n; i++) size += strlen(m->v[i].op) + strlen(m->v[i].node) + 48;
        char *msg = malloc(size);
        if (msg) {
            size_t k = 0;
            k += (size_t)snprintf(msg + k, size - k, "%d op%s not supported by %s:", m->n, m->n == 1 ? " is" : "s are", who);
            for (int i = 0; i < m->n && k < size; i++) {
                if (m->v[i].count > 1)
                    k += (size_t)snprintf(msg + k, size - k, "%s %s (%d nodes, first '%s')", i ? "," : "", m->v[i].op,
                                          m->v[i].count, m->v[i].node);
                else
                    k += (size_t)snprintf(msg + k, size - k, "%s %s (node '%s')", i ? "," : "", m->v[i].op, m->v[i].node);
            }
            if (m->nomem && k < size) k += (size_t)snprintf(msg + k, size - k, " (list incomplete: out of memory)");
            if (hint && k < size) snprintf(msg + k, size - k, ". %s", hint);
            pan_log_error(TAG, -1, "%s: %s", source ? source : "model", msg);
            free(msg);
        } else {
            pan_log_error(TAG, -1, "%s: %d ops are not supported by %s", source ? source : "model", m->n, who);
        }
    }
    for (int i = 0; i < m->n; i++) {
        free(m->v[i].op);
        free(m->v[i].node);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
    return st;
}

pan_status pan__graph_check_backend(const pan_graph *g, const char *backend, const unsigned char *has)
{
    pan_op_missing m = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        if (n->dead || ((unsigned)n->op < PAN_OP_COUNT && has[n->op])) continue;
        int runtime = 0; /* nodes whose outputs were all folded into constants run nowhere */
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && !(g->tensors[n->outputs[k]].flags & PAN_TENSOR_CONST)) runtime = 1;
        if (!runtime) continue;
        pan__op_missing_add(&m, pan__op_name(n->op), n->name);
    }
    char who[64];
    snprintf(who, sizeof who, "the %s backend", backend);
    return pan__op_missing_report(&m, g->source, who,
                                  strcmp(backend, "cpu") ? "Use --backend cpu (it runs every op), or file an issue naming them"
                                                         : "File an issue naming them");
}
