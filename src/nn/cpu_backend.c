/* The cpu engine backend: host FP32, tensors in their logical layout, one arena per plan.
 *
 * compile() resolves every node's input/output pointers once (constants point at the graph's
 * data, activations into the arena at their planned offsets) and allocates the arena and the
 * largest per-node scratch (im2col). run() copies the inputs in, runs the nodes in order and
 * copies the outputs out; nothing is allocated while running.
 *
 * Threads: batches of several images run image by image, whole images per thread, where the
 * model allows it (cpu_images.c; PANOPTES_CPU_IMAGES=0 turns that off, =1 uses it for any batch of
 * 2 or more); otherwise a small fork-join pool splits each node: conv tiles, pooling planes and
 * large elementwise ops. OpenBLAS is told to use one thread, because each of our threads calls sgemm on its own
 * block of columns (two thread pools fighting over two cores is slower than either). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/cpu_images.h"
#include "nn/cpu_ops.h"
#include "nn/nn_backend.h"
#include "panoptes/log.h"

#ifdef PANOPTES_HAVE_CBLAS
#include <cblas.h>
#endif

/* Refuse absurd plans (a hostile model, a huge batch) before touching memory; the environment
 * variable PANOPTES_ENGINE_MAX_ARENA_MB lowers (or raises) the limit. */
#define PAN_CPU_MAX_ARENA (INT64_C(16) << 30)

typedef struct cpu_ctx {
    pan_cpu_pool *pool;
} cpu_ctx;

typedef struct cpu_step {
    const pan_node *n;
    const void **in;
    void **out;
    void *prep; /* pan__cpu_op_prepare's (packed weights...), or NULL */
} cpu_step;

typedef struct cpu_exec {
    const pan_graph *g;
    int profile;    /* PANOPTES_PROFILE=1: per-node times, logged at INFO when the plan is freed */
    double *node_ms;
    double *node_cpu_ms; /* process CPU time (all threads): the work, whatever else the machine runs */
    int64_t runs;        /* profiled runs: all but the first (which pays the arena's page faults) */
    int64_t calls;
    pan_cpu_images *images; /* image mode, or NULL: each node split over the threads */
    char *arena;
    void *scratch;
    cpu_step *steps;
    int n_steps;
    const void **ptrs; /* storage behind steps[].in / .out */
} cpu_exec;

static void *tensor_ptr(const pan_graph *g, char *arena, int t)
{
    if (t < 0) return NULL;
    const pan_tensor *T = &g->tensors[t];
    if (T->flags & PAN_TENSOR_CONST) return T->data;
    return T->offset >= 0 ? arena + T->offset : NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* What a node is, for the profile: the op, and for convs their kind and kernel ("Conv 3x3/2 dw").
 * flop: 2 per multiply-add (convs, Gemm, MatMul), 0 otherwise. */
static void node_class(const pan_graph *g, const pan_node *n, char *buf, size_t size, double *flop)
{
    *flop = 0;
    if (n->op != PAN_OP_CONV) {
        snprintf(buf, size, "%s", pan__op_name(n->op));
        if (n->op == PAN_OP_GEMM || n->op == PAN_OP_MATMUL) {
            const pan_tensor *a = &g->tensors[n->inputs[0]], *y = &g->tensors[n->outputs[0]];
            *flop = 2.0 * (double)pan__tensor_numel(y) * (double)a->dims[a->rank - 1];
        }
        return;
    }
    const pan_tensor *x = &g->tensors[n->inputs[0]], *w = &g->tensors[n->inputs[1]], *y = &g->tensors[n->outputs[0]];
    const pan_conv_attrs *a = &n->attrs.conv;
    int64_t group = a->group > 0 ? a->group : 1, sh = a->strides[0] > 0 ? a->strides[0] : 1;
    const char *kind = group == 1 ? "" : group == x->dims[1] && group == w->dims[0] ? " dw" : " grouped";
    snprintf(buf, size, "Conv %lldx%lld/%lld%s", (long long)w->dims[2], (long long)w->dims[3], (long long)sh, kind);
    *flop = 2.0 * (double)pan__tensor_numel(y) * (double)(w->dims[1] * w->dims[2] * w->dims[3]);
}

#define PROFILE_CLASSES 64
#define PROFILE_TOP 16

/* Mean ms per run by node class (op, conv kind), with GFLOP/s where the class computes, then the
 * slowest nodes. Logged at INFO when the plan is freed (PANOPTES_PROFILE=1). */
static void log_profile(const cpu_exec *e)
{
    /* image mode: the nodes run are those of its batch-1 graph */
    const pan_graph *g = e->images ? pan__cpu_images_graph(e->images) : e->g;
    struct { char name[48]; double ms, cpu, flop; int n; } cls[PROFILE_CLASSES];
    int n_cls = 0, top[PROFILE_TOP], n_top = 0;
    double total = 0, total_cpu = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        char name[48];
        double flop, ms = e->node_ms[i] / (double)e->runs, cpu = e->node_cpu_ms[i] / (double)e->runs;
        node_class(g, &g->nodes[i], name, sizeof name, &flop);
        if (e->images) flop *= e->g->batch; /* per image there */
        int k = 0;
        while (k < n_cls && strcmp(cls[k].name, name)) k++;
        if (k == n_cls) {
            if (n_cls == PROFILE_CLASSES) k = n_cls - 1; /* the last class collects the rest */
            else {
                snprintf(cls[n_cls].name, sizeof cls[n_cls].name, "%s", name);
                cls[n_cls].ms = cls[n_cls].cpu = cls[n_cls].flop = 0;
                cls[n_cls++].n = 0;
            }
        }
        cls[k].ms += ms;
        cls[k].cpu += cpu;
        cls[k].flop += flop;
        cls[k].n++;
        total += ms;
        total_cpu += cpu;
        /* insertion into the slowest-nodes list */
        int pos = n_top < PROFILE_TOP ? n_top++ : PROFILE_TOP;
        while (pos > 0 && e->node_ms[top[pos - 1]] < e->node_ms[i]) {
            if (pos < PROFILE_TOP) top[pos] = top[pos - 1];
            pos--;
        }
        if (pos < PROFILE_TOP) top[pos] = i;
    }
    pan_log_info("nn", -1, "%s: cpu profile, batch %d%s, %lld runs (the first left out): %.2f ms per run (wall), "
                 "%.2f ms of CPU time (all threads); GFLOP/s per CPU second", g->source, e->g->batch,
                 e->images ? " image by image" : "", (long long)e->runs, total, total_cpu);
    for (int pass = 0; pass < n_cls; pass++) { /* largest first */
        int k = -1;
        for (int j = 0; j < n_cls; j++)
            if (cls[j].n && (k < 0 || cls[j].ms > cls[k].ms)) k = j;
        if (k < 0) break;
        char rate[48] = "";
        if (cls[k].flop > 0 && cls[k].cpu > 0) snprintf(rate, sizeof rate, "  %6.1f GFLOP/s", cls[k].flop / (cls[k].cpu * 1e6));
        pan_log_info("nn", -1, "  %-22s x%-4d %8.2f ms %5.1f%%  cpu %8.2f ms%s", cls[k].name, cls[k].n, cls[k].ms,
                     total > 0 ? 100 * cls[k].ms / total : 0, cls[k].cpu, rate);
        cls[k].n = 0;
    }
    pan_log_info("nn", -1, "  slowest nodes:");
    for (int t = 0; t < n_top; t++) {
        const pan_node *n = &g->nodes[top[t]];
        const pan_tensor *y = &g->tensors[n->outputs[0]];
        char name[48], dims[96];
        double flop;
        node_class(g, n, name, sizeof name, &flop);
        if (e->images) flop *= e->g->batch;
        double cpu = e->node_cpu_ms[top[t]] / (double)e->runs;
        char rate[48] = "";
        if (flop > 0 && cpu > 0) snprintf(rate, sizeof rate, "  %6.1f GFLOP/s", flop / (cpu * 1e6));
        pan_log_info("nn", -1, "    %8.3f ms  cpu %8.3f ms  %-22s %s -> %s%s", e->node_ms[top[t]] / (double)e->runs, cpu, name,
                     n->name, pan__dims_str(y->rank, y->dims, dims, sizeof dims), rate);
    }
}

static void cpu_exec_free(pan_nn_backend *b, void *p)
{
    cpu_exec *e = p;
    if (!e) return;
    if (e->profile && e->runs) log_profile(e);
    pan__cpu_images_free(&e->images);
    for (int i = 0; e->steps && i < e->n_steps; i++) pan__cpu_op_prep_free(e->steps[i].n, e->steps[i].prep);
    free(e->node_ms);
    free(e->node_cpu_ms);
    free(e->arena);
    free(e->scratch);
    free(e->steps);
    free(e->ptrs);
    free(e);
}

/* Image mode for a batch on these threads: PANOPTES_CPU_IMAGES=0 never, =1 for any batch of 2 or
 * more; by default when the images share out evenly (or are many: the last round's idle threads
 * cost little), since a thread left without an image in the last round is worse than split nodes. */
static int use_images(int batch, int threads)
{
    const char *env = getenv("PANOPTES_CPU_IMAGES");
    if (threads < 2 || batch < 2 || (env && !strcmp(env, "0"))) return 0;
    if (env && !strcmp(env, "1")) return 1;
    return batch >= threads && (batch % threads == 0 || batch >= 4 * threads);
}

/* *g1: the model at batch 1 for image mode, or NULL; set to NULL when the plan takes it over. */
static pan_status compile_plan(pan_nn_backend *b, const pan_graph *g, pan_graph **g1, void **out)
{
    size_t arena_bytes = 0, scratch = 0, n_ptrs = 0;
    int64_t top = 0;
    unsigned char has[PAN_OP_COUNT];
    for (int op = 0; op < PAN_OP_COUNT; op++) has[op] = (unsigned char)pan__cpu_has_op((pan_op)op);
    pan_status st = pan__graph_check_backend(g, "cpu", has);
    if (st) return st;
    for (int i = 0; i < g->n_tensors; i++) {
        const pan_tensor *T = &g->tensors[i];
        if (T->offset >= 0 && T->offset + T->nbytes > top) top = T->offset + T->nbytes;
    }
    arena_bytes = (size_t)top;
    int64_t limit = PAN_CPU_MAX_ARENA;
    const char *env = getenv("PANOPTES_ENGINE_MAX_ARENA_MB");
    if (env && atoll(env) > 0) limit = atoll(env) << 20;
    if (top > limit) {
        pan_log_error("nn", -1, "%s: cpu backend: batch %d needs %.1f MiB of activations (limit %.0f MiB, "
                      "PANOPTES_ENGINE_MAX_ARENA_MB); use a smaller batch",
                      g->source, g->batch, (double)top / (1 << 20), (double)limit / (1 << 20));
        return PAN_LIMIT;
    }
    cpu_exec *e = calloc(1, sizeof *e);
    if (!e) return PAN_NOMEM;
    e->g = g;
    const char *prof = getenv("PANOPTES_PROFILE");
    e->profile = prof && *prof && strcmp(prof, "0");
    int n_prof = *g1 && (*g1)->n_nodes > g->n_nodes ? (*g1)->n_nodes : g->n_nodes; /* nodes profiled */
    if (e->profile && (!(e->node_ms = calloc((size_t)n_prof + 1, sizeof(double))) ||
                       !(e->node_cpu_ms = calloc((size_t)n_prof + 1, sizeof(double))))) {
        free(e->node_ms);
        free(e);
        return PAN_NOMEM;
    }
    e->steps = calloc((size_t)g->n_nodes + 1, sizeof *e->steps);
    if (!e->steps) {
        cpu_exec_free(b, e);
        return PAN_NOMEM;
    }
    /* 256 bytes past the last activation: vector kernels may read (never use) a few floats past a
     * tensor's end on its last tile */
    e->arena = aligned_alloc(64, (arena_bytes + 256 + 63) & ~(size_t)63);
    if (!e->arena) {
        pan_log_error("nn", -1, "%s: cpu backend: cannot allocate %zu bytes of activations", g->source, arena_bytes);
        cpu_exec_free(b, e);
        return PAN_NOMEM;
    }
    int threads = pan__cpu_pool_threads(((cpu_ctx *)b->ctx)->pool);
    if (*g1 && use_images(g->batch, threads)) {
        st = pan__cpu_images_plan(g, *g1, e->arena, threads, e->profile, &e->images);
        *g1 = NULL; /* taken over (kept by the image plan, or destroyed) */
        if (st) {
            cpu_exec_free(b, e);
            return st;
        }
    }
    /* plan-time work per node (packed weights; image mode has its own), and the largest scratch
     * any node needs */
    for (int i = 0; i < g->n_nodes; i++) {
        size_t s = pan__cpu_op_scratch_bytes(g, &g->nodes[i]), ps = 0;
        e->steps[i].n = &g->nodes[i];
        e->n_steps = i + 1;
        if (e->images) continue;
        if ((st = pan__cpu_op_prepare(g, &g->nodes[i], threads, &e->steps[i].prep, &ps))) {
            pan_log_error("nn", -1, "%s: node '%s': cpu backend: cannot prepare (%s)", g->source, g->nodes[i].name,
                          pan_status_str(st));
            cpu_exec_free(b, e);
            return st;
        }
        if (e->steps[i].prep) s = ps;
        if (s > scratch) scratch = s;
    }
    for (int i = 0; i < g->n_nodes; i++) n_ptrs += (size_t)(g->nodes[i].n_inputs + g->nodes[i].n_outputs);
    e->scratch = scratch ? aligned_alloc(64, (scratch + 63) & ~(size_t)63) : NULL;
    e->ptrs = calloc(n_ptrs + 1, sizeof *e->ptrs);
    if ((scratch && !e->scratch) || !e->ptrs) {
        pan_log_error("nn", -1, "%s: cpu backend: cannot allocate %zu bytes of activations", g->source, arena_bytes);
        cpu_exec_free(b, e);
        return PAN_NOMEM;
    }
    if (arena_bytes) memset(e->arena + arena_bytes, 0, 256);
    const void **p = e->ptrs;
    for (int i = 0; i < g->n_nodes; i++) {
        const pan_node *n = &g->nodes[i];
        cpu_step *s = &e->steps[i];
        s->in = p;
        for (int k = 0; k < n->n_inputs; k++) *p++ = tensor_ptr(g, e->arena, n->inputs[k]);
        s->out = (void **)p;
        for (int k = 0; k < n->n_outputs; k++) {
            void *q = tensor_ptr(g, e->arena, n->outputs[k]);
            if (!q) {
                pan_log_error("nn", -1, "%s: node '%s': output '%s' has no memory (plan missing)", g->source, n->name,
                              g->tensors[n->outputs[k]].name);
                cpu_exec_free(b, e);
                return PAN_STATE;
            }
            *p++ = q;
        }
    }
    *out = e;
    return PAN_OK;
}

static pan_status cpu_compile(pan_nn_backend *b, const pan_graph *g, void **out)
{
    pan_graph *none = NULL;
    return compile_plan(b, g, &none, out);
}

static pan_status cpu_compile_images(pan_nn_backend *b, const pan_graph *g, pan_graph *g1, void **out)
{
    pan_status st = compile_plan(b, g, &g1, out);
    pan__graph_destroy(&g1);
    return st;
}

static pan_status check_host_f32(const pan_graph *g, const pan_tensor *T, const pan_engine_tensor *d, const char *what)
{
    if (!d->data) {
        pan_log_error("nn", -1, "%s: %s '%s': no buffer given (NULL)", g->source, what, T->name);
        return PAN_INVAL;
    }
    if (d->memory != PAN_MEMORY_HOST) {
        pan_log_error("nn", -1, "%s: %s '%s': the cpu backend needs host memory", g->source, what, T->name);
        return PAN_RESIDENCY;
    }
    if (d->dtype != T->dtype || (T->rank == 4 && d->layout != PAN_LAYOUT_NCHW)) {
        pan_log_error("nn", -1, "%s: %s '%s': the cpu backend takes %s in the model's layout (NCHW)", g->source, what,
                      T->name, pan_dtype_name(T->dtype));
        return PAN_UNSUPPORTED;
    }
    return PAN_OK;
}

static pan_status cpu_run(pan_nn_backend *b, void *p, const pan_engine_tensor *inputs,
                          const pan_engine_tensor *outputs, void *stream)
{
    cpu_ctx *ctx = b->ctx;
    cpu_exec *e = p;
    const pan_graph *g = e->g;
    pan_status st;
    for (int i = 0; i < g->n_inputs; i++) {
        const pan_tensor *T = &g->tensors[g->inputs[i]];
        if ((st = check_host_f32(g, T, &inputs[i], "input"))) return st;
        memcpy(e->arena + T->offset, inputs[i].data, (size_t)T->nbytes);
    }
    int profile = e->profile && e->calls++ > 0;
    if (e->images) {
        if ((st = pan__cpu_images_run(e->images, ctx->pool, profile ? e->node_ms : NULL,
                                      profile ? e->node_cpu_ms : NULL)))
            return st;
    } else {
        for (int i = 0; i < e->n_steps; i++) {
            const cpu_step *s = &e->steps[i];
            pan_cpu_call c = {.g = g, .n = s->n, .in = s->in, .out = s->out, .pool = ctx->pool,
                              .scratch = e->scratch, .prep = s->prep};
            double t0 = profile ? now_ms() : 0, c0 = profile ? cpu_ms() : 0;
            if ((st = pan__cpu_op_run(&c))) return st;
            if (profile) {
                e->node_ms[i] += now_ms() - t0;
                e->node_cpu_ms[i] += cpu_ms() - c0;
            }
        }
    }
    if (profile) e->runs++;
    for (int i = 0; i < g->n_outputs; i++) {
        const pan_tensor *T = &g->tensors[g->outputs[i]];
        if ((st = check_host_f32(g, T, &outputs[i], "output"))) return st;
        size_t bytes = (size_t)pan__tensor_numel(T) * pan_dtype_size(T->dtype);
        memcpy(outputs[i].data, tensor_ptr(g, e->arena, g->outputs[i]), bytes);
    }
    return PAN_OK;
}

static void cpu_destroy(pan_nn_backend *b)
{
    if (!b) return;
    cpu_ctx *ctx = b->ctx;
    if (ctx) pan__cpu_pool_destroy(&ctx->pool);
    free(ctx);
    free(b);
}

pan_status pan__cpu_backend_create(pan_nn_backend **out, int threads)
{
    pan_nn_backend *b = calloc(1, sizeof *b);
    cpu_ctx *ctx = calloc(1, sizeof *ctx);
    if (!b || !ctx) {
        free(b);
        free(ctx);
        return PAN_NOMEM;
    }
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 8 ? 8 : n < 1 ? 1 : (int)n;
    }
#ifdef PANOPTES_HAVE_CBLAS
    openblas_set_num_threads(1);
#endif
    b->name = "cpu";
    b->ctx = ctx;
    b->float_bytes = 4;
    b->native_memory = PAN_MEMORY_HOST;
    b->native_dtype = PAN_DTYPE_F32;
    b->native_layout = PAN_LAYOUT_NCHW;
    b->compile = cpu_compile;
    /* the engine plans the model at batch 1 too only where image mode can be used */
    const char *images = getenv("PANOPTES_CPU_IMAGES");
    if (threads >= 2 && !(images && !strcmp(images, "0"))) b->compile_images = cpu_compile_images;
    b->run = cpu_run;
    b->exec_free = cpu_exec_free;
    b->destroy = cpu_destroy;
    pan_status st = pan__cpu_pool_create(&ctx->pool, threads);
    if (st) {
        cpu_destroy(b);
        return st;
    }
    *out = b;
    return PAN_OK;
}
