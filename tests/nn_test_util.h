/* Test helpers for the engine IR: build a small graph, infer, plan and run it on the cpu backend.
 * Header-only, included by tests/test-cpu-ops.c and tests/test-passes.c. */
#ifndef PANOPTES_TESTS_NN_TEST_UTIL_H
#define PANOPTES_TESTS_NN_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/ir.h"
#include "nn/nn_backend.h"

/* Dims / values as array literals: D(1, 3, 4, 4). */
#define D(...) ((const int64_t[]){__VA_ARGS__})
#define NDIMS(...) ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define F(...) ((const float[]){__VA_ARGS__})

/* A graph input of concrete dims (no symbolic batch). */
static inline int nt_input(pan_graph *g, const char *name, int rank, const int64_t *d)
{
    return pan__graph_add_input(g, name, PAN_DTYPE_F32, rank, d);
}

static inline int nt_const_f32(pan_graph *g, const char *name, const float *v, int rank, const int64_t *d)
{
    return pan__graph_add_const(g, name, PAN_DTYPE_F32, rank, d, v);
}

static inline int nt_i64(pan_graph *g, const char *name, int n, const int64_t *v)
{
    return pan__graph_add_const_i64(g, name, n, v);
}

/* One node with one fresh output tensor (named out), returns the tensor. */
static inline int nt_node(pan_graph *g, pan_op op, const char *out, const pan_attrs *a, int n_in, ...)
{
    int in[16];
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) in[i] = va_arg(ap, int);
    va_end(ap);
    int t = pan__graph_add_tensor(g, out, PAN_DTYPE_F32, 0, NULL);
    if (t < 0) return t;
    int r = pan__graph_add_node(g, op, out, n_in, in, 1, &t, a);
    return r < 0 ? r : t;
}

/* Infers at batch 1, optionally runs the passes, plans and runs on the cpu backend.
 * inputs in g->inputs order, outputs in g->outputs order; nt_run takes them as arrays (their sizes
 * checked against the graph: PAN_INVAL when they do not match). */
#define nt_run(g, optimize, inputs, outputs) \
    nt_run_n(g, optimize, inputs, (int)(sizeof(inputs) / sizeof *(inputs)), outputs, (int)(sizeof(outputs) / sizeof *(outputs)))
static inline pan_status nt_run_n(pan_graph *g, int optimize, const float *const *inputs, int n_in, float **outputs, int n_out)
{
    pan_nn_backend *b = NULL;
    void *exec = NULL;
    size_t arena = 0;
    pan_engine_tensor ti[16], to[16];
    pan_status st = pan__graph_infer_shapes(g, 1);
    if (!st && optimize) st = pan__passes_run_all(g);
    if (!st) st = pan__graph_sort(g);
    if (!st) st = pan__graph_plan_memory(g, 4, 64, &arena);
    if (!st) st = pan__cpu_backend_create(&b, 2);
    if (!st) st = b->compile(b, g, &exec);
    if (!st && (g->n_inputs != n_in || g->n_outputs != n_out || n_in > 16 || n_out > 16)) st = PAN_INVAL;
    for (int i = 0; !st && i < n_in; i++)
        ti[i] = (pan_engine_tensor){(void *)inputs[i], PAN_MEMORY_HOST, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
    for (int i = 0; !st && i < n_out; i++)
        to[i] = (pan_engine_tensor){outputs[i], PAN_MEMORY_HOST, 0, g->tensors[g->outputs[i]].dtype, PAN_LAYOUT_NCHW};
    if (!st) st = b->run(b, exec, ti, to, NULL);
    if (exec) b->exec_free(b, exec);
    if (b) b->destroy(b);
    return st;
}

static inline int nt_count_op(const pan_graph *g, pan_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead && g->nodes[i].op == op;
    return n;
}

/* The tensor whose block t shares through Reshape-like ops (see memplan.c). */
static inline int nt_alias_root(const pan_graph *g, int t)
{
    for (;;) {
        int p = g->tensors[t].producer;
        if (p < 0) return t;
        pan_op op = g->nodes[p].op;
        if (op != PAN_OP_RESHAPE && op != PAN_OP_FLATTEN && op != PAN_OP_SQUEEZE && op != PAN_OP_UNSQUEEZE &&
            op != PAN_OP_IDENTITY)
            return t;
        if (g->tensors[g->nodes[p].inputs[0]].flags & PAN_TENSOR_CONST) return t;
        t = g->nodes[p].inputs[0];
    }
}

/* After pan__graph_plan_memory: 1 (and a message) when two tensors alive at the same step share
 * bytes without being aliases of each other. */
static inline int nt_plan_conflict(const pan_graph *g, char *why, size_t size)
{
    int nt = g->n_tensors, bad = 0;
    int *first = malloc(sizeof(int) * (size_t)nt + 1), *last = malloc(sizeof(int) * (size_t)nt + 1);
    for (int i = 0; i < nt; i++) first[i] = last[i] = -1;
    for (int i = 0; i < g->n_inputs; i++) first[g->inputs[i]] = last[g->inputs[i]] = 0;
    for (int s = 0; s < g->n_nodes; s++) {
        const pan_node *n = &g->nodes[s];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) last[n->inputs[k]] = s;
        for (int k = 0; k < n->n_outputs; k++) first[n->outputs[k]] = last[n->outputs[k]] = s;
    }
    for (int i = 0; i < g->n_outputs; i++) last[g->outputs[i]] = g->n_nodes;
    for (int a = 0; a < nt && !bad; a++)
        for (int b = a + 1; b < nt && !bad; b++) {
            const pan_tensor *A = &g->tensors[a], *B = &g->tensors[b];
            if (A->offset < 0 || B->offset < 0 || first[a] < 0 || first[b] < 0 ||
                (A->flags | B->flags) & PAN_TENSOR_CONST || nt_alias_root(g, a) == nt_alias_root(g, b))
                continue;
            int together = first[a] <= last[b] && first[b] <= last[a];
            int overlap = A->offset < B->offset + B->nbytes && B->offset < A->offset + A->nbytes;
            if (together && overlap) {
                snprintf(why, size, "'%s' and '%s' overlap while both alive", A->name, B->name);
                bad = 1;
            }
        }
    free(first);
    free(last);
    return bad;
}

#endif
