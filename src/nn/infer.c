/* Shape inference for a concrete batch, with constant folding on the way (see ir.h).
 *
 * Nodes are visited in topological order. Each gets its output shapes and dtypes; a node whose
 * inputs are all constant (or a Shape of a concretely shaped tensor) is then evaluated with the
 * cpu kernels and its outputs become constants, so shape subgraphs (Shape -> Gather -> Concat ->
 * Reshape, TF's SparseToDense + AddV2) vanish before any backend sees the graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu_ops.h"
#include "nn/infer_ops.h"
#include "nn/ir.h"
#include "panoptes/log.h"

#define TAG "nn"
/* Folding larger results would only trade file size for memory; the node stays instead. The
 * total is capped too, so a hostile graph of many large constant nodes cannot exhaust memory. */
#define FOLD_MAX_ELEMS (INT64_C(16) << 20)
#define FOLD_MAX_TOTAL_BYTES (INT64_C(512) << 20)

static pan_status fold_node(pan_graph *g, pan_node *n)
{
    const void *in[64];
    void *out[64];
    const void **pin = in;
    void **pout = out;
    pan_status st = PAN_OK;
    if (n->n_inputs > 64 || n->n_outputs > 64) {
        pin = calloc((size_t)n->n_inputs, sizeof *pin);
        pout = calloc((size_t)n->n_outputs, sizeof *pout);
        if (!pin || !pout) {
            st = PAN_NOMEM;
            goto done;
        }
    }
    for (int i = 0; i < n->n_inputs; i++) pin[i] = n->inputs[i] >= 0 ? g->tensors[n->inputs[i]].data : NULL;
    for (int i = 0; i < n->n_outputs; i++) {
        pan_tensor *t = &g->tensors[n->outputs[i]];
        size_t bytes = (size_t)pan__tensor_numel(t) * pan_dtype_size(t->dtype);
        pout[i] = calloc(1, bytes ? bytes : 1);
        if (!pout[i]) {
            st = PAN_NOMEM;
            for (int k = 0; k < i; k++) free(pout[k]);
            goto done;
        }
    }
    size_t sb = pan__cpu_op_scratch_bytes(g, n);
    void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
    if (sb && !scratch) st = PAN_NOMEM;
    else {
        pan_cpu_call c = {.g = g, .n = n, .in = pin, .out = pout, .pool = NULL, .scratch = scratch};
        st = pan__cpu_op_run(&c);
    }
    free(scratch);
    if (st) {
        for (int i = 0; i < n->n_outputs; i++) free(pout[i]);
        goto done;
    }
    for (int i = 0; i < n->n_outputs; i++) {
        pan_tensor *t = &g->tensors[n->outputs[i]];
        if (t->owns_data) free(t->data);
        t->data = pout[i];
        t->owns_data = 1;
        t->flags |= PAN_TENSOR_CONST;
        t->producer = -1;
    }
    n->dead = 1;
done:
    if (pin != in) free(pin);
    if (pout != out) free(pout);
    return st;
}

static int foldable(const pan_graph *g, const pan_node *n, int64_t *budget)
{
    if (n->op == PAN_OP_SHAPE) return 1; /* needs only the (now concrete) input shape */
    for (int i = 0; i < n->n_inputs; i++) {
        int t = n->inputs[i];
        if (t >= 0 && !(g->tensors[t].flags & PAN_TENSOR_CONST)) return 0;
    }
    int64_t bytes = 0;
    for (int i = 0; i < n->n_outputs; i++) {
        const pan_tensor *t = &g->tensors[n->outputs[i]];
        if (t->flags & PAN_TENSOR_OUTPUT) return 0; /* graph outputs are computed per run */
        if (pan__tensor_numel(t) > FOLD_MAX_ELEMS) return 0;
        bytes += pan__tensor_numel(t) * (int64_t)pan_dtype_size(t->dtype);
    }
    if (bytes > *budget) return 0;
    *budget -= bytes;
    return 1;
}

pan_status pan__graph_infer_shapes(pan_graph *g, int batch)
{
    char b1[160];
    if (batch < 1 || batch > 65536) return PAN_INVAL;
    pan_status st = pan__graph_sort(g);
    if (st) return st;
    g->batch = batch;
    int64_t budget = FOLD_MAX_TOTAL_BYTES;
    for (int i = 0; i < g->n_inputs; i++) {
        pan_tensor *t = &g->tensors[g->inputs[i]];
        if (t->flags & PAN_TENSOR_BATCHED) t->dims[0] = batch;
        if (pan__tensor_numel(t) < 0) {
            pan_log_error(TAG, -1, "%s: graph input '%s' has unknown dims %s; only the batch may be dynamic",
                          g->source, t->name, pan__dims_str(t->rank, t->dims, b1, sizeof b1));
            return PAN_UNSUPPORTED;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && pan__tensor_numel(&g->tensors[t]) < 0) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s): input '%s' has no concrete shape %s", g->source, n->name,
                              pan__op_name(n->op), g->tensors[t].name,
                              pan__dims_str(g->tensors[t].rank, g->tensors[t].dims, b1, sizeof b1));
                return PAN_SHAPE;
            }
        }
        st = pan__infer_node(g, n);
        if (st) return st;
        int batched = 0;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && (g->tensors[n->inputs[k]].flags & PAN_TENSOR_BATCHED)) batched = 1;
        for (int k = 0; k < n->n_outputs; k++) {
            pan_tensor *t = &g->tensors[n->outputs[k]];
            t->flags &= ~PAN_TENSOR_BATCHED;
            /* The batch is followed through ops that keep dim 0 in place; shape-typed results and
             * constants are not batched. */
            if (batched && n->op != PAN_OP_SHAPE && t->rank > 0 && t->dims[0] == batch) t->flags |= PAN_TENSOR_BATCHED;
            if (pan__tensor_numel(t) < 0) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s): output '%s' has an invalid or absurd shape %s", g->source,
                              n->name, pan__op_name(n->op), t->name, pan__dims_str(t->rank, t->dims, b1, sizeof b1));
                return PAN_SHAPE;
            }
        }
        if (foldable(g, n, &budget)) {
            st = fold_node(g, n);
            if (st) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s): constant folding failed: %s", g->source, n->name,
                              pan__op_name(n->op), pan_status_str(st));
                return st;
            }
        }
    }
    pan__graph_compact(g);
    return PAN_OK;
}

pan_status pan__graph_fold_constants(pan_graph *g)
{
    pan_status st = pan__graph_sort(g);
    if (st) return st;
    int64_t budget = FOLD_MAX_TOTAL_BYTES;
    for (int i = 0; i < g->n_nodes; i++) {
        pan_node *n = &g->nodes[i];
        int all_const = n->op != PAN_OP_SHAPE; /* Shape depends on the batch */
        for (int k = 0; k < n->n_inputs && all_const; k++)
            all_const = n->inputs[k] < 0 || (g->tensors[n->inputs[k]].flags & PAN_TENSOR_CONST);
        if (!all_const) continue;
        if ((st = pan__infer_node(g, n))) return st;
        if (foldable(g, n, &budget) && (st = fold_node(g, n))) {
            pan_log_error(TAG, -1, "%s: node '%s' (%s): constant folding failed: %s", g->source, n->name,
                          pan__op_name(n->op), pan_status_str(st));
            return st;
        }
    }
    pan__graph_compact(g);
    return PAN_OK;
}
