/* Topological sort of the engine IR (pan__graph_sort, see ir.h). */
#include <stdlib.h>
#include <string.h>

#include "nn/ir.h"
#include "panoptes/log.h"

#define TAG "nn"

static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], v = h[--(*n)], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

/* Kahn's algorithm; among ready nodes the one earliest in the current order goes first (a heap),
 * so an already sorted graph keeps its order (the file's order, which the memory plan likes). */
pan_status pan__graph_sort(pan_graph *g)
{
    pan__graph_compact(g);
    int n = g->n_nodes, nt = g->n_tensors, n_edges = 0, emitted = 0, heap_n = 0;
    pan_status st = PAN_OK;
    for (int j = 0; j < n; j++) n_edges += g->nodes[j].n_inputs;
    int *indeg = calloc((size_t)n + 1, sizeof(int)), *order = malloc(sizeof(int) * ((size_t)n + 1));
    int *first = calloc((size_t)nt + 2, sizeof(int)), *edges = malloc(sizeof(int) * ((size_t)n_edges + 1));
    int *heap = malloc(sizeof(int) * ((size_t)n + 1));
    pan_node *sorted = malloc(sizeof(pan_node) * ((size_t)n + 1));
    if (!indeg || !order || !first || !edges || !heap || !sorted) {
        st = PAN_NOMEM;
        goto done;
    }
    /* consumers of each produced tensor, CSR: edges[first[t] .. first[t+1]) */
    for (int j = 0; j < n; j++)
        for (int k = 0; k < g->nodes[j].n_inputs; k++) {
            int t = g->nodes[j].inputs[k];
            if (t < 0) continue;
            const pan_tensor *T = &g->tensors[t];
            if (T->flags & (PAN_TENSOR_CONST | PAN_TENSOR_INPUT)) continue;
            if (T->producer < 0) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s): input '%s' is neither produced, constant nor a graph input",
                              g->source, g->nodes[j].name, pan__op_name(g->nodes[j].op), T->name);
                st = PAN_MODEL;
                goto done;
            }
            first[t + 1]++;
            indeg[j]++;
        }
    for (int t = 0; t < nt; t++) first[t + 1] += first[t];
    {
        int *fill = malloc(sizeof(int) * ((size_t)nt + 1));
        if (!fill) {
            st = PAN_NOMEM;
            goto done;
        }
        memcpy(fill, first, sizeof(int) * (size_t)nt);
        for (int j = 0; j < n; j++)
            for (int k = 0; k < g->nodes[j].n_inputs; k++) {
                int t = g->nodes[j].inputs[k];
                if (t < 0 || (g->tensors[t].flags & (PAN_TENSOR_CONST | PAN_TENSOR_INPUT))) continue;
                edges[fill[t]++] = j;
            }
        free(fill);
    }
    for (int j = 0; j < n; j++)
        if (!indeg[j]) heap_push(heap, &heap_n, j);
    while (heap_n) {
        int j = heap_pop(heap, &heap_n);
        order[emitted++] = j;
        for (int k = 0; k < g->nodes[j].n_outputs; k++) {
            int t = g->nodes[j].outputs[k];
            for (int e = first[t]; e < first[t + 1]; e++)
                if (--indeg[edges[e]] == 0) heap_push(heap, &heap_n, edges[e]);
        }
    }
    if (emitted < n) {
        for (int j = 0; j < n; j++)
            if (indeg[j]) {
                pan_log_error(TAG, -1, "%s: node '%s' (%s) is part of a cycle; the graph must be acyclic", g->source,
                              g->nodes[j].name, pan__op_name(g->nodes[j].op));
                break;
            }
        st = PAN_MODEL;
        goto done;
    }
    for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    if (n) memcpy(g->nodes, sorted, sizeof(pan_node) * (size_t)n);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++) g->tensors[g->nodes[i].outputs[k]].producer = i;
    for (int i = 0; i < g->n_outputs; i++) {
        const pan_tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer < 0 && !(t->flags & (PAN_TENSOR_CONST | PAN_TENSOR_INPUT))) {
            pan_log_error(TAG, -1, "%s: graph output '%s' is never produced", g->source, t->name);
            st = PAN_MODEL;
            goto done;
        }
    }
done:
    free(indeg);
    free(order);
    free(first);
    free(edges);
    free(heap);
    free(sorted);
    return st;
}
