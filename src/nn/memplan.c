/* Activation memory plan: one arena per planned graph, offsets reused after a tensor's last use.
 *
 * Lifetimes are in node steps of the sorted graph: a tensor lives from the node that produces it
 * (graph inputs: step 0) to the last node that reads it (graph outputs: to the end). A tensor's
 * memory is free for tensors produced strictly after its last reader, so no kernel ever writes
 * over its own inputs. Reshape-like ops (Identity, Reshape, Flatten, Squeeze, Unsqueeze) do not
 * move data: their output aliases the input's block and stretches its lifetime.
 * Placement is greedy best-fit over the gaps between live blocks, in order of definition. */
#include <stdlib.h>
#include <string.h>

#include "nn/ir.h"
#include "panoptes/log.h"

static int is_alias_op(pan_op op)
{
    return op == PAN_OP_IDENTITY || op == PAN_OP_RESHAPE || op == PAN_OP_FLATTEN || op == PAN_OP_SQUEEZE ||
           op == PAN_OP_UNSQUEEZE;
}

static int is_float(pan_dtype t) { return t == PAN_DTYPE_F32 || t == PAN_DTYPE_F16; }

typedef struct block {
    int64_t off, size, last;
} block;

pan_status pan__graph_plan_memory(pan_graph *g, size_t float_bytes, size_t align, size_t *arena_bytes)
{
    int nt = g->n_tensors, nn = g->n_nodes;
    pan_status st = PAN_OK;
    int *root = malloc(sizeof(int) * (size_t)(nt + 1));
    int64_t *def = malloc(sizeof(int64_t) * (size_t)(nt + 1)), *last = malloc(sizeof(int64_t) * (size_t)(nt + 1));
    block *live = malloc(sizeof(block) * (size_t)(nt + 1));
    int n_live = 0;
    int64_t top = 0;
    if (!root || !def || !last || !live) {
        st = PAN_NOMEM;
        goto done;
    }
    if (align < 16) align = 16;
    for (int i = 0; i < nt; i++) {
        root[i] = i;
        def[i] = -1;
        last[i] = -1;
        g->tensors[i].offset = -1;
        g->tensors[i].nbytes = 0;
    }
    for (int i = 0; i < g->n_inputs; i++) def[g->inputs[i]] = 0;
    for (int s = 0; s < nn; s++) {
        const pan_node *n = &g->nodes[s];
        for (int k = 0; k < n->n_outputs; k++) def[n->outputs[k]] = s;
        if (is_alias_op(n->op) && n->inputs[0] >= 0 && !(g->tensors[n->inputs[0]].flags & PAN_TENSOR_CONST))
            root[n->outputs[0]] = root[n->inputs[0]];
    }
    for (int s = 0; s < nn; s++) {
        const pan_node *n = &g->nodes[s];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && last[root[t]] < s) last[root[t]] = s;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (last[root[t]] < s) last[root[t]] = s; /* unused outputs still get written */
        }
    }
    for (int i = 0; i < g->n_outputs; i++) last[root[g->outputs[i]]] = nn;
    for (int i = 0; i < g->n_inputs; i++)
        if (last[root[g->inputs[i]]] < 0) last[root[g->inputs[i]]] = 0;

    /* roots in definition order: def[] is monotone in node order, so scan steps */
    for (int s = -1; s < nn; s++) {
        for (int t = 0; t < nt; t++) {
            pan_tensor *T = &g->tensors[t];
            if (root[t] != t || (T->flags & PAN_TENSOR_CONST) || def[t] < 0) continue;
            if ((s < 0 && !(T->flags & PAN_TENSOR_INPUT)) || (s >= 0 && ((T->flags & PAN_TENSOR_INPUT) || def[t] != s)))
                continue;
            int64_t numel = pan__tensor_numel(T);
            if (numel < 0) {
                pan_log_error("nn", -1, "%s: tensor '%s' has no concrete shape at planning", g->source, T->name);
                st = PAN_SHAPE;
                goto done;
            }
            int64_t bytes = numel * (int64_t)(is_float(T->dtype) ? float_bytes : pan_dtype_size(T->dtype));
            int64_t size = (bytes + (int64_t)align - 1) / (int64_t)align * (int64_t)align;
            if (size == 0) size = (int64_t)align;
            int64_t now = s < 0 ? 0 : s;
            /* drop blocks whose last reader ran before this step */
            int w = 0;
            for (int i = 0; i < n_live; i++)
                if (live[i].last >= now) live[w++] = live[i];
            n_live = w;
            /* live is sorted by offset; best gap */
            int64_t best = -1, best_gap = INT64_MAX, prev_end = 0;
            for (int i = 0; i <= n_live; i++) {
                int64_t gap_end = i < n_live ? live[i].off : INT64_MAX;
                int64_t gap = gap_end - prev_end;
                if (gap >= size && (best < 0 || gap < best_gap)) {
                    best = prev_end;
                    best_gap = gap;
                }
                if (i < n_live) prev_end = live[i].off + live[i].size;
            }
            T->offset = best;
            T->nbytes = bytes;
            if (best + size > top) top = best + size;
            int pos = n_live;
            while (pos > 0 && live[pos - 1].off > best) pos--;
            memmove(&live[pos + 1], &live[pos], sizeof(block) * (size_t)(n_live - pos));
            live[pos] = (block){best, size, last[t]};
            n_live++;
        }
    }
    for (int t = 0; t < nt; t++) {
        pan_tensor *T = &g->tensors[t];
        if (root[t] != t && !(T->flags & PAN_TENSOR_CONST)) {
            T->offset = g->tensors[root[t]].offset;
            T->nbytes = g->tensors[root[t]].nbytes;
        }
    }
    *arena_bytes = (size_t)top;
done:
    free(root);
    free(def);
    free(last);
    free(live);
    return st;
}
