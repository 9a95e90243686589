/* The cpu backend's image mode: a batch run image by image, each thread taking whole images
 * through the whole network, instead of every node split over the threads.
 *
 * Why: a ReID batch (OSNet: 262 small nodes) split node by node pays a fork-join per node and
 * leaves the workers spinning through the small ones (gates, pooling), and each node's tensors
 * for the whole batch (4 MB per [8, 64, 64, 32]) stream through memory between nodes. One image
 * per thread needs no synchronisation between nodes, and one image's tensors mostly stay in the
 * core's L2. Measured on OSNet x0.25 / x1.0 at batch 8, 2 threads (BENCHMARKS.md).
 *
 * How: the engine plans the model for batch 1 too (g1: inferred, passes run, memory planned) and
 * hands it over with the batch-B plan (nn_backend.h, compile_images). Each thread has an arena of
 * g1's size of its own (the batch-B arena reuses a dead tensor's memory for a later one, which two
 * threads at different nodes could not share) and runs g1's nodes on one image at a time: image
 * b's inputs are copied in from the batch-B arena, its outputs back (a batched tensor holds its
 * images one after the other, dim 0 outermost: image b starts at offset + b * nbytes / B).
 * Weights are packed once, for g1's shapes.
 * When: the model treats its images independently, checked on the batch-B plan: every activation
 * leads with the batch (a node that moved data between images would change that dim) and every
 * node is of an op that works image by image with such shapes (convs, pooling, elementwise ops of
 * equal ranks, reshapes, Gemm/MatMul with constant weights, Concat/Split/Softmax/Transpose off the
 * batch axis); g1's inputs and outputs are one image of the plan's. Otherwise, and for batch 1, the
 * backend splits each node over the threads. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/cpu_images.h"
#include "panoptes/log.h"

struct pan_cpu_images {
    pan_graph *g1; /* the plan's clone, shapes for one image */
    int batch, threads, n_steps;
    void **prep;         /* per node, for the batch-1 shapes */
    size_t scratch_bytes; /* per thread */
    char *scratch;
    size_t arena_bytes; /* per thread: the batch-1 plan's activations */
    char *arenas;
    char *plan_arena; /* the batch-B plan's: inputs and outputs */
    const pan_graph *g;
    /* operands of node i: operand first[i] + j (inputs, then outputs): a constant's data, or the
     * offset of an activation in a thread's arena (const_data NULL), or absent (both NULL / -1) */
    int *first;
    const void **const_data;
    int64_t *offset;
    int max_operands;
    const void **ptrs; /* threads x max_operands */
    int profile;
    double *prof_ms, *prof_cpu; /* threads x n_steps */
    pan_status status;          /* the first error of a run */
};

/* Node n of g (batch B, every activation batch-major) works image by image: its kernel treats
 * each index of dim 0 on its own. */
static int per_image_node(const pan_graph *g, const pan_node *n)
{
    const pan_tensor *x = n->n_inputs > 0 && n->inputs[0] >= 0 ? &g->tensors[n->inputs[0]] : NULL;
    const pan_tensor *y = n->n_outputs > 0 ? &g->tensors[n->outputs[0]] : NULL;
    if (pan__op_is_unary(n->op)) return 1;
    if (pan__op_is_binary(n->op)) { /* numpy broadcasting aligns the last dims: same rank, or a constant */
        for (int k = 0; k < n->n_inputs; k++) {
            const pan_tensor *t = n->inputs[k] >= 0 ? &g->tensors[n->inputs[k]] : NULL;
            if (t && !(t->flags & PAN_TENSOR_CONST) && (!y || t->rank != y->rank)) return 0;
        }
        return 1;
    }
    const pan_tensor *w = n->n_inputs > 1 && n->inputs[1] >= 0 ? &g->tensors[n->inputs[1]] : NULL;
    int64_t axis = n->attrs.axis.axis < 0 && x ? n->attrs.axis.axis + x->rank : n->attrs.axis.axis;
    switch (n->op) {
    case PAN_OP_CONV:
    case PAN_OP_BATCHNORM:
    case PAN_OP_IDENTITY:
    case PAN_OP_MAXPOOL:
    case PAN_OP_AVGPOOL:
    case PAN_OP_GLOBAL_AVGPOOL:
    case PAN_OP_GLOBAL_MAXPOOL:
    case PAN_OP_FLATTEN: /* dim 0 kept (checked): each image's data stays where it was */
    case PAN_OP_RESHAPE:
    case PAN_OP_SQUEEZE:
    case PAN_OP_UNSQUEEZE:
    case PAN_OP_RESIZE: return 1;
    case PAN_OP_GEMM: /* rows of A are the images; B the weights */
        return !n->attrs.gemm.trans_a && w && (w->flags & PAN_TENSOR_CONST);
    case PAN_OP_MATMUL: /* constant weights, or one matrix product per image */
        return w && ((w->flags & PAN_TENSOR_CONST) || (x && x->rank >= 3 && w->rank == x->rank));
    case PAN_OP_PAD: /* pads on dim 0 would change it (checked) */
        return 1;
    case PAN_OP_CONCAT:
    case PAN_OP_SPLIT:
    case PAN_OP_SOFTMAX: return axis > 0;
    case PAN_OP_TRANSPOSE: return n->attrs.transpose.n_perm > 0 && n->attrs.transpose.perm[0] == 0;
    default: return 0;
    }
}

/* g (batch B) treats its images independently, and g1 (the model at batch 1) has the inputs and
 * outputs of one of them; logs why not at debug. */
static int separable(const pan_graph *g, const pan_graph *g1)
{
    int B = g->batch;
    for (int i = 0; i < g->n_tensors; i++) {
        const pan_tensor *T = &g->tensors[i];
        if ((T->flags & PAN_TENSOR_CONST) || T->offset < 0) continue; /* constants, unused tensors */
        if (T->rank < 1 || T->dims[0] != B) {
            pan_log_debug("nn", -1, "%s: cpu image mode: tensor '%s' does not lead with the batch", g->source, T->name);
            return 0;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !per_image_node(g, &g->nodes[i])) {
            pan_log_debug("nn", -1, "%s: cpu image mode: node '%s' (%s) may mix images", g->source, g->nodes[i].name,
                          pan__op_name(g->nodes[i].op));
            return 0;
        }
    if (g1->n_inputs != g->n_inputs || g1->n_outputs != g->n_outputs) return 0;
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        const pan_tensor *T = &g->tensors[i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs]];
        const pan_tensor *T1 = &g1->tensors[i < g->n_inputs ? g1->inputs[i] : g1->outputs[i - g->n_inputs]];
        int same = T->rank == T1->rank && T1->dims[0] == 1 && T->dtype == T1->dtype && T1->offset >= 0 &&
                   T->nbytes == B * T1->nbytes;
        for (int d = 1; same && d < T->rank; d++) same = T->dims[d] == T1->dims[d];
        if (!same) return 0;
    }
    return 1;
}

void pan__cpu_images_free(pan_cpu_images **pim)
{
    if (!pim || !*pim) return;
    pan_cpu_images *im = *pim;
    for (int i = 0; im->prep && i < im->n_steps; i++) pan__cpu_op_prep_free(&im->g1->nodes[i], im->prep[i]);
    free(im->prep);
    free(im->scratch);
    free(im->first);
    free(im->const_data);
    free(im->offset);
    free(im->arenas);
    free(im->ptrs);
    free(im->prof_ms);
    free(im->prof_cpu);
    pan__graph_destroy(&im->g1);
    free(im);
    *pim = NULL;
}

pan_status pan__cpu_images_plan(const pan_graph *g, pan_graph *g1, char *arena, int threads, int profile,
                                pan_cpu_images **out)
{
    *out = NULL;
    if (!g1) return PAN_OK;
    if (g->batch < 2 || threads < 2 || !separable(g, g1)) { /* not for this model: no error */
        pan__graph_destroy(&g1);
        return PAN_OK;
    }
    pan_cpu_images *im = calloc(1, sizeof *im);
    if (!im) {
        pan__graph_destroy(&g1);
        return PAN_NOMEM;
    }
    pan_status st = PAN_NOMEM;
    im->g1 = g1;
    /* g1's memory plan, and 256 bytes of slack past its last activation as the plan's arena has */
    for (int i = 0; i < g1->n_tensors; i++) {
        const pan_tensor *T = &g1->tensors[i];
        if (!(T->flags & PAN_TENSOR_CONST) && T->offset >= 0 && (size_t)(T->offset + T->nbytes) > im->arena_bytes)
            im->arena_bytes = (size_t)(T->offset + T->nbytes);
    }
    im->arena_bytes = (im->arena_bytes + 256 + 63) & ~(size_t)63;
    im->plan_arena = arena, im->g = g;
    im->batch = g->batch, im->threads = threads, im->n_steps = g1->n_nodes, im->profile = profile;
    int n_ops = 0;
    for (int i = 0; i < g1->n_nodes; i++) {
        int k = g1->nodes[i].n_inputs + g1->nodes[i].n_outputs;
        n_ops += k;
        if (k > im->max_operands) im->max_operands = k;
    }
    if (!(im->prep = calloc((size_t)g1->n_nodes + 1, sizeof *im->prep)) ||
        !(im->first = calloc((size_t)g1->n_nodes + 1, sizeof *im->first)) ||
        !(im->const_data = calloc((size_t)n_ops + 1, sizeof *im->const_data)) ||
        !(im->offset = calloc((size_t)n_ops + 1, sizeof *im->offset)) ||
        !(im->arenas = aligned_alloc(64, im->arena_bytes * (size_t)threads)) ||
        !(im->ptrs = calloc((size_t)(threads * im->max_operands) + 1, sizeof *im->ptrs)))
        goto fail;
    if (profile && (!(im->prof_ms = calloc((size_t)(threads * g1->n_nodes) + 1, sizeof(double))) ||
                    !(im->prof_cpu = calloc((size_t)(threads * g1->n_nodes) + 1, sizeof(double)))))
        goto fail;
    int k = 0;
    for (int i = 0; i < g1->n_nodes; i++) {
        const pan_node *n = &g1->nodes[i];
        size_t s = 0;
        if ((st = pan__cpu_op_prepare(g1, n, 1, &im->prep[i], &s))) goto fail;
        if (!im->prep[i]) s = pan__cpu_op_scratch_bytes(g1, n);
        if (s > im->scratch_bytes) im->scratch_bytes = s;
        im->first[i] = k;
        for (int j = 0; j < n->n_inputs + n->n_outputs; j++, k++) {
            int t = j < n->n_inputs ? n->inputs[j] : n->outputs[j - n->n_inputs];
            const pan_tensor *T = t >= 0 ? &g1->tensors[t] : NULL;
            im->offset[k] = -1;
            if (T && (T->flags & PAN_TENSOR_CONST)) im->const_data[k] = T->data;
            else if (T) im->offset[k] = T->offset;
        }
    }
    im->scratch_bytes = (im->scratch_bytes + 63) & ~(size_t)63;
    if (im->scratch_bytes && !(im->scratch = aligned_alloc(64, im->scratch_bytes * (size_t)threads))) {
        st = PAN_NOMEM;
        goto fail;
    }
    pan_log_debug("nn", -1, "%s: cpu backend: batch %d runs image by image on %d threads", g->source, g->batch, threads);
    *out = im;
    return PAN_OK;
fail:
    pan__cpu_images_free(&im);
    return st;
}

const pan_graph *pan__cpu_images_graph(const pan_cpu_images *im) { return im->g1; }

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Images [b0, b1) through every node, on one thread. */
static void run_images(void *arg, int64_t b0, int64_t b1)
{
    pan_cpu_images *im = arg;
    int th = pan__cpu_pool_thread_index();
    const void **ptrs = im->ptrs + th * im->max_operands;
    char *scratch = im->scratch ? im->scratch + im->scratch_bytes * (size_t)th : NULL;
    char *arena = im->arenas + im->arena_bytes * (size_t)th;
    const pan_graph *g = im->g, *g1 = im->g1;
    for (int64_t b = b0; b < b1; b++) {
        for (int i = 0; i < g->n_inputs; i++) { /* image b of each input */
            const pan_tensor *T1 = &g1->tensors[g1->inputs[i]];
            memcpy(arena + T1->offset, im->plan_arena + g->tensors[g->inputs[i]].offset + b * T1->nbytes,
                   (size_t)T1->nbytes);
        }
        for (int i = 0; i < im->n_steps; i++) {
            if (__atomic_load_n(&im->status, __ATOMIC_RELAXED)) return;
            const pan_node *n = &g1->nodes[i];
            int f = im->first[i], no = n->n_inputs + n->n_outputs;
            for (int j = 0; j < no; j++)
                ptrs[j] = im->const_data[f + j] ? im->const_data[f + j]
                          : im->offset[f + j] >= 0 ? arena + im->offset[f + j] : NULL;
            pan_cpu_call c = {.g = im->g1, .n = n, .in = ptrs, .out = (void *const *)(ptrs + n->n_inputs),
                              .pool = NULL, .scratch = scratch, .prep = im->prep[i]};
            double t0 = im->profile ? clock_ms(CLOCK_MONOTONIC) : 0, c0 = im->profile ? clock_ms(CLOCK_THREAD_CPUTIME_ID) : 0;
            pan_status st = pan__cpu_op_run(&c);
            if (im->profile) {
                im->prof_ms[th * im->n_steps + i] += clock_ms(CLOCK_MONOTONIC) - t0;
                im->prof_cpu[th * im->n_steps + i] += clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
            }
            if (st) {
                pan_status ok = PAN_OK;
                __atomic_compare_exchange_n(&im->status, &ok, st, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
                return;
            }
        }
        for (int i = 0; i < g->n_outputs; i++) { /* back into image b of each output */
            const pan_tensor *T1 = &g1->tensors[g1->outputs[i]];
            memcpy(im->plan_arena + g->tensors[g->outputs[i]].offset + b * T1->nbytes, arena + T1->offset,
                   (size_t)T1->nbytes);
        }
    }
}

pan_status pan__cpu_images_run(pan_cpu_images *im, pan_cpu_pool *pool, double *node_ms, double *node_cpu_ms)
{
    im->status = PAN_OK;
    if (im->profile)
        for (int i = 0; i < im->threads * im->n_steps; i++) im->prof_ms[i] = im->prof_cpu[i] = 0;
    pan__cpu_parallel_for(pool, im->batch, run_images, im);
    if (im->profile && node_ms && node_cpu_ms)
        for (int t = 0; t < im->threads; t++)
            for (int i = 0; i < im->n_steps; i++) {
                /* wall: the node's share of the run, its time summed over images spread over the threads */
                node_ms[i] += im->prof_ms[t * im->n_steps + i] / im->threads;
                node_cpu_ms[i] += im->prof_cpu[t * im->n_steps + i];
            }
    return im->status;
}
