/* The cuda engine backend: FP16 storage, FP32 accumulation, NHWC activations, cuDNN convolutions,
 * own kernels for the rest, one CUDA graph per batch size.
 * How a graph is compiled: cuda_backend.h. Lowering: cuda_lower*_cuda.c. Kernels: cuda_ops*.cu.
 * Convolutions: cuda_conv_cuda.c (choice, legacy API), cuda_convgraph_cuda.c (graph API, fusion).
 *
 * Environment:
 *   PANOPTES_CUDA_GRAPH=0        no CUDA graph: at compile, none is captured; at run, an exec that
 *                                has one runs its steps one by one instead (benchmarks compare both)
 *   PANOPTES_CUDNN_WORKSPACE_MB  largest cuDNN workspace an engine may use (default 256; compile)
 *   PANOPTES_CUDNN_LEGACY=1      legacy cudnnConvolutionForward algorithms only, no graph API (compile)
 *   PANOPTES_CUDA_PROFILE=1      with the graph off: GPU time of every step, logged at INFO (run)
 *   PANOPTES_CACHE_DIR           the plan cache's directory when the engine names none (compile)
 *
 * Plan cache (nn/plan_cache.h): each compile opens the file of (model, GPU, driver, cuDNN, CUDA,
 * FP16, batch); a convolution found there is rebuilt as stored without measuring, the others are
 * chosen and added, and the file is saved once the batch compiled.
 *
 * Memory shared by the batch sizes (one engine runs one batch at a time): one activation arena and
 * one cuDNN workspace, each as large as the largest plan needs, one host staging block, and one
 * device copy of each distinct weights block (the weights of every batch size are the same bytes;
 * they are matched by SHA-256). A compile that needs a larger arena or workspace allocates it,
 * points every exec at it and captures their CUDA graphs again (a graph holds the addresses it
 * was captured with). Runs on different streams are ordered by one event: each run waits for the
 * previous use of the shared memory, and records its own end. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "core/cuda_check.h"
#include "core/sha256.h"
#include "nn/plan_cache.h"
#include "nn/cuda_backend.h"
#include "nn/nn_backend.h"
#include "core/gpu.h"
#include "panoptes/log.h"

/* One device copy of a weights block and the execs that read it. */
typedef struct cu_weights {
    uint8_t sha256[32];
    size_t bytes;
    pan_devblock *block;
    int users;
} cu_weights;

typedef struct cu_backend {
    int device;
    cudaStream_t stream; /* the engine's own stream, used when run gets none, and for capture */
    cudnnHandle_t dnn;
    pan_devpool *pool;
    /* shared by every exec (see the top of the file) */
    pan_cu_exec **execs;
    int n_execs, cap_execs;
    pan_devblock *arena, *ws, *staging;
    cu_weights *weights;
    int n_weights, cap_weights;
    cudaEvent_t done;  /* recorded after each use of the shared memory */
    int done_recorded; /* done marks a use (else nothing to wait for) */
} cu_backend;

static size_t env_size(const char *name, size_t def)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    return *end ? def : (size_t)x;
}

static void *ref_ptr(const pan_cu_exec *ex, pan_cu_ref r)
{
    switch (r.space) {
    case PAN_CU_REF_ARENA: return ex->arena_ptr + ex->bufs[r.id].offset + r.off;
    case PAN_CU_REF_CONST: return ex->const_ptr + r.off;
    default: return NULL;
    }
}

/* ---- memory plan: greedy by size (largest first, lowest offset that no live buffer overlaps) -- */

static int cmp_size_desc(const void *a, const void *b, void *ctx)
{
    const pan_cu_buf *bufs = ctx;
    int ia = *(const int *)a, ib = *(const int *)b;
    if (bufs[ia].bytes != bufs[ib].bytes) return bufs[ia].bytes < bufs[ib].bytes ? 1 : -1;
    return ia - ib;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

pan_status pan__cu_plan_arena(pan_cu_exec *ex)
{
    const int64_t align = 256; /* cuDNN and vectorised kernels want 16 B; 256 keeps lines apart */
    int n = ex->n_bufs;
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t *iv = malloc((size_t)(n ? n : 1) * 2 * sizeof *iv);
    if (!order || !iv) {
        free(order);
        free(iv);
        return PAN_NOMEM;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, cmp_size_desc, ex->bufs);
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        pan_cu_buf *b = &ex->bufs[order[k]];
        int m = 0;
        for (int j = 0; j < k; j++) { /* placed buffers alive at the same time */
            const pan_cu_buf *o = &ex->bufs[order[j]];
            if (o->first <= b->last && b->first <= o->last) {
                iv[2 * m] = o->offset;
                iv[2 * m + 1] = o->offset + o->bytes;
                m++;
            }
        }
        qsort(iv, (size_t)m, 2 * sizeof *iv, cmp_i64);
        int64_t at = 0;
        for (int j = 0; j < m; j++) {
            if (iv[2 * j] >= at + b->bytes) break;
            int64_t end = (iv[2 * j + 1] + align - 1) / align * align;
            if (end > at) at = end;
        }
        b->offset = at;
        if (at + b->bytes > total) total = at + b->bytes;
    }
    free(order);
    free(iv);
    ex->arena_bytes = (size_t)((total + align - 1) / align * align);
    return PAN_OK;
}

/* ---- running the steps -------------------------------------------------------------------- */

#define LAUNCH(call)                                                                                 \
    do {                                                                                             \
        int e_ = (call);                                                                             \
        if (e_) return pan__cuda_status((cudaError_t)e_, #call, __FILE__, __LINE__);                 \
    } while (0)

static pan_status run_steps(cu_backend *be, pan_cu_exec *ex, cudaStream_t s, cudaEvent_t *marks)
{
    for (int i = 0; i < ex->n_steps; i++) {
        if (marks) PAN_CUDA_CHECK(cudaEventRecord(marks[i], s));
        const pan_cu_step *st = &ex->steps[i];
        if (st->skip) continue;
        void *y = ref_ptr(ex, st->y), *a = ref_ptr(ex, st->a), *b = ref_ptr(ex, st->b), *c = ref_ptr(ex, st->c);
        switch (st->kind) {
        case PAN_CU_STEP_CONV: {
            void *p[PAN_CU_CONV_NPTR] = {a, b, y, ref_ptr(ex, st->e_b), ref_ptr(ex, st->e_c), ref_ptr(ex, st->e_y)};
            pan_status r = pan__cu_conv_run(st->conv, be->dnn, p, ex->ws_ptr, ex->ws_bytes);
            if (r) return r;
            break;
        }
        case PAN_CU_STEP_EPILOGUE:
            LAUNCH(pan__cu_conv_epilogue(a, y, st->ys, b, c, st->n, st->C, st->op, st->alpha, st->beta, st->flag, s));
            break;
        case PAN_CU_STEP_UNARY: LAUNCH(pan__cu_unary(st->op, st->alpha, st->beta, a, y, st->n, s)); break;
        case PAN_CU_STEP_BINARY: LAUNCH(pan__cu_binary(st->op, &st->p.it, a, b, y, s)); break;
        case PAN_CU_STEP_COPY: LAUNCH(pan__cu_copy(&st->p.it, a, st->dtype, y, st->dtype, s)); break;
        case PAN_CU_STEP_MEMCPY:
            if (st->n > 0) PAN_CUDA_CHECK(cudaMemcpyAsync(y, a, (size_t)st->n, cudaMemcpyDeviceToDevice, s));
            break;
        case PAN_CU_STEP_RESHAPE: LAUNCH(pan__cu_reshape(&st->p.rh, st->n, a, y, st->C, s)); break;
        case PAN_CU_STEP_POOL: LAUNCH(pan__cu_pool2d(&st->p.pool, a, y, s)); break;
        case PAN_CU_STEP_GPOOL:
            LAUNCH(pan__cu_global_pool(st->flag, st->p.pool.n, st->p.pool.h, st->p.pool.c, a, y, s));
            break;
        case PAN_CU_STEP_RESIZE: LAUNCH(pan__cu_resize(&st->p.rs, a, y, s)); break;
        case PAN_CU_STEP_SOFTMAX: LAUNCH(pan__cu_softmax(&st->p.it, st->len, st->ys, st->xs, a, y, s)); break;
        case PAN_CU_STEP_PAD: LAUNCH(pan__cu_pad(&st->p.pad, a, y, s)); break;
        case PAN_CU_STEP_AFFINE: LAUNCH(pan__cu_channel_affine(a, y, st->n, st->C, st->div, b, c, s)); break;
        case PAN_CU_STEP_EXT: {
            void *const ptr[4] = {y, a, b, c};
            LAUNCH(st->ext->run(st->ext, ptr, s));
            break;
        }
        case PAN_CU_STEP_CONV_DIRECT: LAUNCH(pan__cu_conv_direct(&st->p.dconv, a, b, c, y, s)); break;
        case PAN_CU_STEP_KINDS: break;
        }
    }
    if (marks) PAN_CUDA_CHECK(cudaEventRecord(marks[ex->n_steps], s));
    return PAN_OK;
}

/* PANOPTES_CUDA_PROFILE=1 (with PANOPTES_CUDA_GRAPH=0): times every step with events and logs the
 * totals per step kind and the slowest steps at INFO. Allocates events per run: diagnosis only. */
static pan_status run_profiled(cu_backend *be, pan_cu_exec *ex, cudaStream_t s)
{
    static const char *kinds[] = {"conv", "epilogue", "unary", "binary", "copy", "memcpy", "reshape",
                                  "pool", "gpool", "resize", "softmax", "pad", "affine", "ext", "dconv"};
    int n = ex->n_steps;
    cudaEvent_t *m = calloc((size_t)n + 1, sizeof *m);
    float *ms = calloc((size_t)n + 1, sizeof *ms);
    pan_status st = PAN_OK;
    if (!m || !ms) st = PAN_NOMEM;
    for (int i = 0; i <= n && !st; i++) st = pan__cuda_status(cudaEventCreate(&m[i]), "cudaEventCreate", __FILE__, __LINE__);
    if (!st) st = run_steps(be, ex, s, m);
    if (!st) st = pan__cuda_status(cudaEventSynchronize(m[n]), "cudaEventSynchronize", __FILE__, __LINE__);
    if (!st) {
        float per_kind[PAN_CU_STEP_KINDS] = {0}, total = 0;
        for (int i = 0; i < n; i++) {
            if (ex->steps[i].skip) continue;
            cudaEventElapsedTime(&ms[i], m[i], m[i + 1]);
            per_kind[ex->steps[i].kind] += ms[i];
            total += ms[i];
        }
        pan_log_info(TAG, -1, "profile batch %d: %.3f ms in %d steps", ex->batch, total, n);
        for (int k = 0; k < PAN_CU_STEP_KINDS; k++)
            if (per_kind[k] > 0) pan_log_info(TAG, -1, "  %-9s %.3f ms", kinds[k], per_kind[k]);
        for (int i = 0; i < n; i++) {
            const pan_cu_step *sp = &ex->steps[i];
            if (sp->kind == PAN_CU_STEP_CONV)
                pan_log_info(TAG, -1, "  step %3d %-8s %.4f ms %s n=%d c=%d %dx%d k=%d %dx%d s%d algo %s ws %zu", i,
                             kinds[sp->kind], ms[i], ex->g->nodes[sp->node].name, sp->p.conv.n, sp->p.conv.c,
                             sp->p.conv.h, sp->p.conv.w, sp->p.conv.k, sp->p.conv.r, sp->p.conv.s,
                             sp->p.conv.stride_h, pan__cu_conv_algo_name(sp->conv), pan__cu_conv_workspace(sp->conv));
            else
                pan_log_info(TAG, -1, "  step %3d %-8s %.4f ms %s", i, kinds[sp->kind], ms[i], ex->g->nodes[sp->node].name);
        }
    }
    for (int i = 0; m && i <= n; i++)
        if (m[i]) cudaEventDestroy(m[i]);
    free(m);
    free(ms);
    return st;
}

/* ---- memory shared by the execs ------------------------------------------------------------ */

/* Waits until nothing queued uses the shared memory (before it is replaced or measured on). */
static pan_status shared_idle(cu_backend *be)
{
    if (!be->done_recorded) return PAN_OK;
    PAN_CUDA_CHECK(cudaEventSynchronize(be->done));
    be->done_recorded = 0;
    return PAN_OK;
}

/* Stream s waits for the previous use of the shared memory (a run on another stream). */
static pan_status shared_acquire(cu_backend *be, cudaStream_t s)
{
    if (be->done_recorded) PAN_CUDA_CHECK(cudaStreamWaitEvent(s, be->done, 0));
    return PAN_OK;
}

/* Marks the end of this use, queued on s. */
static pan_status shared_release(cu_backend *be, cudaStream_t s)
{
    PAN_CUDA_CHECK(cudaEventRecord(be->done, s));
    be->done_recorded = 1;
    return PAN_OK;
}

/* *blk at least `need` bytes: a larger block replaces it (allocated first, so that a failure
 * leaves the old one in place). *grown = 1 when it was replaced. */
static pan_status shared_reserve(cu_backend *be, pan_devblock **blk, size_t need, const char *owner, int *grown)
{
    if (!need || (*blk && pan_devblock_size(*blk) >= need)) return PAN_OK;
    pan_status st = shared_idle(be);
    if (st) return st;
    pan_devblock *nb = NULL;
    if ((st = pan_devpool_alloc(be->pool, need, owner, &nb))) return st;
    pan_devblock_unref(blk);
    *blk = nb;
    *grown = 1;
    return PAN_OK;
}

/* ex reads the shared arena and workspace. */
static void point_at_shared(const cu_backend *be, pan_cu_exec *ex)
{
    ex->arena_ptr = pan_devblock_ptr(be->arena);
    ex->ws_ptr = be->ws && ex->ws_need ? pan_devblock_ptr(be->ws) : NULL;
    ex->ws_bytes = be->ws && ex->ws_need ? pan_devblock_size(be->ws) : 0;
}

/* ex's weights: the device copy of the same bytes if one exists, else a new one. Frees the host
 * image either way. */
static pan_status share_weights(cu_backend *be, pan_cu_exec *ex)
{
    pan__sha256(ex->hconst, ex->hconst_size, ex->const_sha256);
    cu_weights *w = NULL;
    for (int i = 0; i < be->n_weights && !w; i++)
        if (be->weights[i].bytes == ex->hconst_size && !memcmp(be->weights[i].sha256, ex->const_sha256, 32))
            w = &be->weights[i];
    if (!w) {
        if (be->n_weights == be->cap_weights) {
            int nc = be->cap_weights ? 2 * be->cap_weights : 2;
            cu_weights *p = realloc(be->weights, (size_t)nc * sizeof *p);
            if (!p) return PAN_NOMEM;
            be->weights = p;
            be->cap_weights = nc;
        }
        pan_devblock *blk = NULL;
        pan_status st = pan_devpool_alloc(be->pool, ex->hconst_size ? ex->hconst_size : 256, "engine.weights", &blk);
        if (st) return st;
        if (ex->hconst_size) {
            cudaError_t e = cudaMemcpy(pan_devblock_ptr(blk), ex->hconst, ex->hconst_size, cudaMemcpyHostToDevice);
            if (e != cudaSuccess) {
                pan_devblock_unref(&blk);
                return pan__cuda_status(e, "cudaMemcpy(weights)", __FILE__, __LINE__);
            }
        }
        w = &be->weights[be->n_weights++];
        memcpy(w->sha256, ex->const_sha256, 32);
        w->bytes = ex->hconst_size;
        w->block = blk;
        w->users = 0;
    }
    w->users++;
    ex->consts = pan_devblock_ref(w->block);
    ex->const_ptr = pan_devblock_ptr(ex->consts);
    free(ex->hconst); /* the device holds them now */
    ex->hconst = NULL;
    ex->hconst_cap = 0;
    return PAN_OK;
}

static void unshare_weights(cu_backend *be, pan_cu_exec *ex)
{
    if (!ex->consts) return;
    for (int i = 0; i < be->n_weights; i++)
        if (be->weights[i].block == ex->consts) {
            if (--be->weights[i].users == 0) {
                pan_devblock_unref(&be->weights[i].block);
                be->weights[i] = be->weights[--be->n_weights];
            }
            break;
        }
    pan_devblock_unref(&ex->consts);
}

/* Captures ex's steps into a CUDA graph (again: an old graph is dropped), unless switched off.
 * A failed capture leaves the exec running step by step: correct, only slower. */
static pan_status capture(cu_backend *be, pan_cu_exec *ex)
{
    if (ex->gexec) cudaGraphExecDestroy((cudaGraphExec_t)ex->gexec);
    if (ex->graph) cudaGraphDestroy((cudaGraph_t)ex->graph);
    ex->gexec = ex->graph = NULL;
    const char *gv = getenv("PANOPTES_CUDA_GRAPH");
    if (gv && gv[0] == '0') return PAN_OK;
    if (cudnnSetStream(be->dnn, be->stream) != CUDNN_STATUS_SUCCESS) return PAN_DNN;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t gexec = NULL;
    PAN_CUDA_CHECK(cudaStreamBeginCapture(be->stream, cudaStreamCaptureModeThreadLocal));
    pan_status rs = run_steps(be, ex, be->stream, NULL);
    cudaError_t ce = cudaStreamEndCapture(be->stream, &graph);
    if (rs == PAN_OK && ce == cudaSuccess) ce = cudaGraphInstantiate(&gexec, graph, 0);
    if (rs != PAN_OK || ce != cudaSuccess) {
        pan_log_warn(TAG, -1, "%s: CUDA graph capture failed (%s); batch %d runs step by step",
                     ex->g->source ? ex->g->source : "model", cudaGetErrorString(ce), ex->batch);
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        return PAN_OK;
    }
    ex->graph = graph;
    ex->gexec = gexec;
    return PAN_OK;
}

/* After the shared arena or workspace was replaced: every exec but `skip` reads the new one, and
 * its graph is captured again, after one eager run as at compile (the cuDNN variant packs are
 * rebuilt for the new addresses outside the capture). */
static pan_status repoint_all(cu_backend *be, const pan_cu_exec *skip)
{
    pan_status first = PAN_OK;
    for (int i = 0; i < be->n_execs; i++) {
        pan_cu_exec *ex = be->execs[i];
        if (ex == skip) continue;
        point_at_shared(be, ex);
        if (!ex->gexec) continue; /* runs step by step with the new addresses */
        pan_status st = cudnnSetStream(be->dnn, be->stream) == CUDNN_STATUS_SUCCESS ? PAN_OK : PAN_DNN;
        if (!st) st = run_steps(be, ex, be->stream, NULL);
        if (!st) st = pan__cuda_status(cudaStreamSynchronize(be->stream), "cudaStreamSynchronize", __FILE__, __LINE__);
        if (!st) st = capture(be, ex);
        if (st) { /* the old graph holds the old addresses: never launch it */
            if (ex->gexec) cudaGraphExecDestroy((cudaGraphExec_t)ex->gexec);
            if (ex->graph) cudaGraphDestroy((cudaGraph_t)ex->graph);
            ex->gexec = ex->graph = NULL;
            if (!first) first = st;
        }
    }
    return first;
}

static void unlist_exec(cu_backend *be, const pan_cu_exec *ex)
{
    for (int i = 0; i < be->n_execs; i++)
        if (be->execs[i] == ex) {
            be->execs[i] = be->execs[--be->n_execs];
            return;
        }
}

static pan_status list_exec(cu_backend *be, pan_cu_exec *ex)
{
    if (be->n_execs == be->cap_execs) {
        int nc = be->cap_execs ? 2 * be->cap_execs : 4;
        pan_cu_exec **p = realloc(be->execs, (size_t)nc * sizeof *p);
        if (!p) return PAN_NOMEM;
        be->execs = p;
        be->cap_execs = nc;
    }
    be->execs[be->n_execs++] = ex;
    return PAN_OK;
}

/* ---- compile ------------------------------------------------------------------------------ */

/* The plan cache of this model and batch on this GPU, or NULL (switched off, model content
 * unknown, or no directory: plan_cache.c has said why). */
static pan_plan_cache *open_plan_cache(const pan_nn_backend *b, const cu_backend *be, int batch)
{
    if (!b->has_model_hash || pan__plan_cache_disabled(b->plan_cache_dir)) return NULL;
    pan_plan_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.model_sha256, b->model_sha256, sizeof k.model_sha256);
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, be->device) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    memcpy(k.gpu_name, prop.name, sizeof k.gpu_name < sizeof prop.name ? sizeof k.gpu_name : sizeof prop.name);
    k.gpu_name[sizeof k.gpu_name - 1] = 0;
    k.cc_major = prop.major;
    k.cc_minor = prop.minor;
    int v = 0;
    if (cudaDriverGetVersion(&v) == cudaSuccess) k.driver_version = v;
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) k.cuda_runtime_version = v;
    cudaGetLastError();
    k.cudnn_version = (int32_t)cudnnGetVersion();
    k.precision = PAN_PLAN_FP16;
    k.batch = batch;
    k.engine_version = PAN_CU_CONV_REC_LAYOUT;
    pan_plan_cache *c = NULL;
    pan__plan_cache_open(&c, b->plan_cache_dir, &k);
    return c;
}

static void cu_exec_free(pan_nn_backend *b, void *exec)
{
    cu_backend *be = b->ctx;
    pan_cu_exec *ex = exec;
    if (!ex) return;
    /* its weights and (when it is the last exec) the shared blocks go back to the pool, where
     * another module may take them at once: nothing queued may still read them */
    if (shared_idle(be)) cudaGetLastError();
    if (ex->gexec) cudaGraphExecDestroy((cudaGraphExec_t)ex->gexec);
    if (ex->graph) cudaGraphDestroy((cudaGraph_t)ex->graph);
    for (int i = 0; i < ex->n_steps; i++) {
        pan__cu_conv_destroy(&ex->steps[i].conv);
        free(ex->steps[i].ext);
    }
    unlist_exec(be, ex);
    unshare_weights(be, ex);
    if (!be->n_execs) {
        pan_devblock_unref(&be->arena);
        pan_devblock_unref(&be->ws);
        pan_devblock_unref(&be->staging);
    }
    free(ex->steps);
    free(ex->bufs);
    free(ex->ti);
    free(ex->hconst);
    free(ex);
}

static pan_status cu_compile(pan_nn_backend *b, const pan_graph *g, void **exec)
{
    cu_backend *be = b->ctx;
    pan_status st = PAN_OK;
    pan_devblock *scratch = NULL;
    pan_plan_cache *pc = NULL;
    int grown = 0; /* the shared arena or workspace was replaced: the other execs move to it */
    *exec = NULL;
    pan_cu_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return PAN_NOMEM;
    ex->g = g;
    ex->batch = g->batch;
    ex->ti = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *ex->ti);
    if (!ex->ti) {
        st = PAN_NOMEM;
        goto fail;
    }
    if ((st = pan_gpu_init(be->device))) goto fail;
    if ((st = pan__cu_lower(ex))) goto fail;
    if ((st = pan__cu_plan_arena(ex))) goto fail;

    /* compiling measures and runs on the shared memory: nothing queued may be using it */
    if ((st = shared_idle(be))) goto fail;
    if ((st = shared_reserve(be, &be->arena, ex->arena_bytes ? ex->arena_bytes : 256, "engine.arena", &grown)))
        goto fail;
    ex->arena_ptr = pan_devblock_ptr(be->arena);
    size_t weights_bytes = ex->hconst_size;
    if ((st = share_weights(be, ex))) goto fail;

    /* cuDNN algorithms, measured on the real buffers with a scratch workspace of the limit's size */
    size_t ws_limit = env_size("PANOPTES_CUDNN_WORKSPACE_MB", 256) << 20;
    int n_conv = 0;
    for (int i = 0; i < ex->n_steps; i++) n_conv += ex->steps[i].kind == PAN_CU_STEP_CONV;
    if (n_conv) {
        if ((st = pan_devpool_alloc(be->pool, ws_limit ? ws_limit : 256, "engine.cudnn_find", &scratch))) goto fail;
        if (cudnnSetStream(be->dnn, be->stream) != CUDNN_STATUS_SUCCESS) {
            st = PAN_DNN;
            goto fail;
        }
    }
    size_t ws_need = 0;
    int n_fused = 0, n_shared = 0, n_cached = 0;
    if (n_conv) pc = open_plan_cache(b, be, ex->batch);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < ex->n_steps; i++) {
        pan_cu_step *s = &ex->steps[i];
        if (s->kind != PAN_CU_STEP_CONV) continue;
        const pan_node *n = &g->nodes[s->node];
        /* the epilogue right after it, when cuDNN can fuse it: bias, residual before a ReLU/LeakyReLU */
        pan_cu_step *e = i + 1 < ex->n_steps ? &ex->steps[i + 1] : NULL;
        pan_cu_conv_epi epi = {0};
        int fusable = e && e->kind == PAN_CU_STEP_EPILOGUE && e->a.space == s->y.space && e->a.id == s->y.id &&
                      e->a.off == s->y.off && !e->flag &&
                      (e->op == PAN_CU_U_NONE || e->op == PAN_CU_U_RELU || e->op == PAN_CU_U_LEAKY_RELU);
        if (fusable) {
            epi.act = e->op;
            epi.alpha = e->alpha;
            epi.has_bias = e->b.space != PAN_CU_REF_NONE;
            epi.has_res = e->c.space != PAN_CU_REF_NONE;
            epi.ystride = e->ys;
        }
        void *p[PAN_CU_CONV_NPTR] = {ref_ptr(ex, s->a), ref_ptr(ex, s->b), ref_ptr(ex, s->y),
                                     fusable ? ref_ptr(ex, e->b) : NULL, fusable ? ref_ptr(ex, e->c) : NULL,
                                     fusable ? ref_ptr(ex, e->y) : NULL};
        /* an earlier conv of the same problem: take its choice instead of measuring again */
        const pan_cu_conv *like = NULL;
        for (int j = 0; j < i && !like; j++)
            if (ex->steps[j].kind == PAN_CU_STEP_CONV &&
                pan__cu_conv_same(ex->steps[j].conv, &s->p.conv, fusable ? &epi : NULL, p, ws_limit))
                like = ex->steps[j].conv;
        if (like) {
            if ((st = pan__cu_conv_create_like(&s->conv, like, n->name))) goto fail;
            n_shared++;
        } else {
            int hit = 0;
            if ((st = pan__cu_conv_create(&s->conv, be->dnn, &s->p.conv, fusable ? &epi : NULL, p,
                                          pan_devblock_ptr(scratch), ws_limit, pc, &hit, n->name)))
                goto fail;
            n_cached += hit;
        }
        if (pan__cu_conv_fused(s->conv)) {
            s->e_y = e->y;
            s->e_b = e->b;
            s->e_c = e->c;
            e->skip = 1;
            n_fused++;
        }
        if (pan__cu_conv_workspace(s->conv) > ws_need) ws_need = pan__cu_conv_workspace(s->conv);
    }
    pan_devblock_unref(&scratch);
    if (pc) pan__plan_cache_save(pc); /* a failure has warned once; the engine runs on without */
    pan__plan_cache_destroy(&pc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double choose_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ex->ws_need = ws_need;
    if ((st = shared_reserve(be, &be->ws, ws_need, "engine.cudnn_workspace", &grown))) goto fail;
    point_at_shared(be, ex);
    if ((st = list_exec(be, ex))) goto fail;

    /* one eager run (loads every kernel, so capture sees no lazy loading), then the capture */
    if ((st = run_steps(be, ex, be->stream, NULL))) goto fail;
    PAN_CUDA_TRY(cudaStreamSynchronize(be->stream));
    if ((st = capture(be, ex))) goto fail;
    if (grown && (st = repoint_all(be, ex))) goto fail;
    /* the search scratch (256 MiB by default) and the blocks the shared ones replaced go back to
     * the device instead of waiting in the pool for a request of their size */
    size_t trimmed = pan_devpool_trim(be->pool);
    trimmed += pan_gpu_stack_trim(); /* the local memory of kernels the search tried and left */
    int weight_users = 0;
    for (int i = 0; i < be->n_weights; i++)
        if (be->weights[i].block == ex->consts) weight_users = be->weights[i].users;
    int n_direct = 0;
    for (int i = 0; i < ex->n_steps; i++) n_direct += ex->steps[i].kind == PAN_CU_STEP_CONV_DIRECT;
    pan_log_info(TAG, -1, "%s: batch %d compiled: %d steps (%d cuDNN convs, %d with fused epilogue, %d chosen like an "
                 "earlier one, %d from the plan cache; chosen in %.1f s; %d direct), arena %.1f MiB, weights %.1f MiB%s, "
                 "workspace %.1f MiB; the engine's %d batch size(s) share an arena of %.1f MiB and a workspace of "
                 "%.1f MiB; %.1f MiB given back to the device; CUDA graph %s",
                 g->source ? g->source : "model", ex->batch, ex->n_steps, n_conv, n_fused, n_shared, n_cached, choose_s, n_direct,
                 ex->arena_bytes / 1048576.0, weights_bytes / 1048576.0,
                 weight_users > 1 ? " (one copy, shared)" : "", ws_need / 1048576.0, be->n_execs,
                 pan_devblock_size(be->arena) / 1048576.0, pan_devblock_size(be->ws) / 1048576.0,
                 trimmed / 1048576.0, ex->gexec ? "on" : "off");
    *exec = ex;
    return PAN_OK;
fail:
    pan_devblock_unref(&scratch);
    pan__plan_cache_destroy(&pc); /* not saved: a batch that did not compile records nothing */
    cu_exec_free(b, ex);
    /* the others were moved only if this one got that far; they must not keep the old addresses */
    if (grown && repoint_all(be, NULL)) cudaGetLastError();
    return st;
}

/* ---- run ---------------------------------------------------------------------------------- */

/* Copy between a caller's buffer (dtype F32/F16, layout as given, on the device) and the
 * internal buffer of tensor t (FP16, NHWC when 4-D). to_internal selects the direction. */
static pan_status convert_io(pan_cu_exec *ex, int t, void *user, pan_dtype udt, pan_layout ul, int to_internal,
                             cudaStream_t s)
{
    const pan_tensor *ts = &ex->g->tensors[t];
    const pan_cu_tinfo *ti = &ex->ti[t];
    pan_cu_ref r = {0};
    if (ti->buf >= 0) {
        r.space = PAN_CU_REF_ARENA;
        r.id = ti->buf;
    } else {
        r.space = PAN_CU_REF_CONST;
        r.off = ti->const_off;
    }
    void *inner = ref_ptr(ex, r);
    int inner_nhwc = ti->buf >= 0 ? ti->nhwc : 0;
    int user_nhwc = ts->rank == 4 && ul == PAN_LAYOUT_NHWC;
    if (ti->numel == 0) return PAN_OK;
    if (udt == ti->store && user_nhwc == inner_nhwc) {
        size_t bytes = (size_t)ti->numel * pan_dtype_size(udt);
        if (to_internal) PAN_CUDA_CHECK(cudaMemcpyAsync(inner, user, bytes, cudaMemcpyDeviceToDevice, s));
        else PAN_CUDA_CHECK(cudaMemcpyAsync(user, inner, bytes, cudaMemcpyDeviceToDevice, s));
        return PAN_OK;
    }
    int64_t str[3][PAN_MAX_DIMS];
    int order[PAN_MAX_DIMS];
    int dst_nhwc = to_internal ? inner_nhwc : user_nhwc;
    pan__cu_phys_strides(ts->rank, ts->dims, dst_nhwc, str[0]);
    pan__cu_phys_strides(ts->rank, ts->dims, to_internal ? user_nhwc : inner_nhwc, str[1]);
    pan__cu_phys_order(ts->rank, dst_nhwc, order);
    pan_cu_iter it;
    pan_status st = pan__cu_make_iter(&it, ts->rank, ts->dims, order, 2, str, NULL);
    if (st) return st;
    int e = to_internal ? pan__cu_copy(&it, user, udt, inner, ti->store, s) : pan__cu_copy(&it, inner, ti->store, user, udt, s);
    if (e) return pan__cuda_status((cudaError_t)e, "pan__cu_copy (engine input/output)", __FILE__, __LINE__);
    return PAN_OK;
}

static pan_status check_tensor(const pan_cu_exec *ex, const pan_engine_tensor *u, int t, const char *what)
{
    const pan_tensor *ts = &ex->g->tensors[t];
    if (!u->data) {
        pan_log_error(TAG, -1, "%s '%s': no buffer given", what, ts->name);
        return PAN_INVAL;
    }
    if (!((u->dtype == PAN_DTYPE_F32 || u->dtype == PAN_DTYPE_F16) && ex->ti[t].store == PAN_DTYPE_F16) &&
        u->dtype != ex->ti[t].store) {
        pan_log_error(TAG, -1, "%s '%s': dtype %s is not supported (F32 or F16)", what, ts->name, pan_dtype_name(u->dtype));
        return PAN_UNSUPPORTED;
    }
    if (u->memory == PAN_MEMORY_DEVICE) return pan_gpu_check_device_ptr(u->data, what);
    return PAN_OK;
}

static pan_status ensure_staging(cu_backend *be, pan_cu_exec *ex)
{
    /* host buffers pass through one device block of the largest input/output as F32 (8 bytes an
     * element leaves room for any dtype); only the host path uses it. Shared by the execs: a
     * larger one replaces it once nothing queued reads it. */
    size_t bytes = 256;
    for (int i = 0; i < ex->g->n_inputs; i++) {
        size_t b = (size_t)ex->ti[ex->g->inputs[i]].numel * 8;
        if (b > bytes) bytes = b;
    }
    for (int i = 0; i < ex->g->n_outputs; i++) {
        size_t b = (size_t)ex->ti[ex->g->outputs[i]].numel * 8;
        if (b > bytes) bytes = b;
    }
    int grown = 0;
    return shared_reserve(be, &be->staging, bytes, "engine.host_staging", &grown);
}

/* Queues a run of ex on s: inputs in, the steps (or the graph), outputs out. */
static pan_status queue_run(cu_backend *be, pan_cu_exec *ex, const pan_engine_tensor *inputs,
                            const pan_engine_tensor *outputs, cudaStream_t s, int *need_sync)
{
    const pan_graph *g = ex->g;
    pan_status st;
    for (int i = 0; i < g->n_inputs; i++) {
        const pan_engine_tensor *u = &inputs[i];
        int t = g->inputs[i];
        if ((st = check_tensor(ex, u, t, "engine input"))) return st;
        void *src = u->data;
        if (u->memory == PAN_MEMORY_HOST) {
            src = pan_devblock_ptr(be->staging);
            size_t bytes = (size_t)ex->ti[t].numel * pan_dtype_size(u->dtype);
            PAN_CUDA_CHECK(cudaMemcpyAsync(src, u->data, bytes, cudaMemcpyHostToDevice, s));
            /* an image tensor crossing PCIe is pixel data (DESIGN rule 1): the run summary shows it */
            if (g->tensors[t].rank == 4) pan_gpu_count_pixel_copy(bytes);
        }
        if ((st = convert_io(ex, t, src, u->dtype, u->layout, 1, s))) return st;
    }
    const char *gv = getenv("PANOPTES_CUDA_GRAPH");
    if (ex->gexec && !(gv && gv[0] == '0')) {
        PAN_CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)ex->gexec, s));
    } else {
        if (cudnnSetStream(be->dnn, s) != CUDNN_STATUS_SUCCESS) return PAN_DNN;
        const char *prof = getenv("PANOPTES_CUDA_PROFILE");
        if ((st = prof && prof[0] == '1' ? run_profiled(be, ex, s) : run_steps(be, ex, s, NULL))) return st;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const pan_engine_tensor *u = &outputs[i];
        int t = g->outputs[i];
        if ((st = check_tensor(ex, u, t, "engine output"))) return st;
        if (u->memory == PAN_MEMORY_HOST) {
            void *dst = pan_devblock_ptr(be->staging);
            if ((st = convert_io(ex, t, dst, u->dtype, u->layout, 0, s))) return st;
            PAN_CUDA_CHECK(cudaMemcpyAsync(u->data, dst, (size_t)ex->ti[t].numel * pan_dtype_size(u->dtype),
                                           cudaMemcpyDeviceToHost, s));
            *need_sync = 1;
        } else if ((st = convert_io(ex, t, u->data, u->dtype, u->layout, 0, s))) {
            return st;
        }
    }
    return PAN_OK;
}

static pan_status cu_run(pan_nn_backend *b, void *exec, const pan_engine_tensor *inputs,
                         const pan_engine_tensor *outputs, void *stream)
{
    cu_backend *be = b->ctx;
    pan_cu_exec *ex = exec;
    const pan_graph *g = ex->g;
    cudaStream_t s = stream ? (cudaStream_t)stream : be->stream;
    int need_sync = stream == NULL;
    pan_status st = pan_gpu_init(be->device);
    if (st) return st;
    /* the staging block first (replacing it waits for queued runs), then wait for the last use of
     * the shared memory, which may have been on another stream */
    for (int i = 0; i < g->n_inputs; i++)
        if (inputs[i].memory == PAN_MEMORY_HOST && (st = ensure_staging(be, ex))) return st;
    for (int i = 0; i < g->n_outputs; i++)
        if (outputs[i].memory == PAN_MEMORY_HOST && (st = ensure_staging(be, ex))) return st;
    if ((st = shared_acquire(be, s))) return st;
    st = queue_run(be, ex, inputs, outputs, s, &need_sync);
    /* whatever was queued, even by a run that failed half way, is waited for by the next use */
    pan_status rs = shared_release(be, s);
    if (st) return st;
    if (rs) return rs;
    if (need_sync) PAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return PAN_OK;
}

/* ---- backend object ------------------------------------------------------------------------ */

static void cu_memory(pan_nn_backend *b, pan_engine_memory *m)
{
    const cu_backend *be = b->ctx;
    m->arena = pan_devblock_size(be->arena);
    m->workspace = pan_devblock_size(be->ws);
    m->staging = pan_devblock_size(be->staging);
    m->weights = 0;
    for (int i = 0; i < be->n_weights; i++) m->weights += pan_devblock_size(be->weights[i].block);
    m->weight_copies = be->n_weights;
    m->plans = be->n_execs;
}

static void cu_destroy(pan_nn_backend *b)
{
    if (!b) return;
    cu_backend *be = b->ctx;
    if (be) {
        /* the engine freed its execs first; any shared block left goes back now */
        if (be->done) cudaEventDestroy(be->done);
        pan_devblock_unref(&be->arena);
        pan_devblock_unref(&be->ws);
        pan_devblock_unref(&be->staging);
        for (int i = 0; i < be->n_weights; i++) pan_devblock_unref(&be->weights[i].block);
        free(be->weights);
        free(be->execs);
        if (be->dnn) cudnnDestroy(be->dnn);
        if (be->stream) cudaStreamDestroy(be->stream);
        free(be);
    }
    free(b);
}

pan_status pan__cuda_backend_create(pan_nn_backend **out, int device)
{
    pan_status st = PAN_OK;
    *out = NULL;
    pan_nn_backend *b = calloc(1, sizeof *b);
    cu_backend *be = calloc(1, sizeof *be);
    if (!b || !be) {
        free(b);
        free(be);
        return PAN_NOMEM;
    }
    b->ctx = be;
    be->device = device;
    if ((st = pan_gpu_init(device))) goto fail;
    if ((st = pan_devpool_get(device, &be->pool))) goto fail;
    PAN_CUDA_TRY(cudaStreamCreateWithFlags(&be->stream, cudaStreamNonBlocking));
    PAN_CUDA_TRY(cudaEventCreateWithFlags(&be->done, cudaEventDisableTiming));
    cudnnStatus_t ds = cudnnCreate(&be->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        pan_log_error(TAG, -1, "cudnnCreate failed: %s (is libcudnn.so.9 on LD_LIBRARY_PATH?)", cudnnGetErrorString(ds));
        st = PAN_DNN;
        goto fail;
    }
    b->name = "cuda";
    b->float_bytes = 2;
    b->native_memory = PAN_MEMORY_DEVICE;
    b->native_dtype = PAN_DTYPE_F16;
    b->native_layout = PAN_LAYOUT_NHWC;
    b->compile = cu_compile;
    b->run = cu_run;
    b->exec_free = cu_exec_free;
    b->memory = cu_memory;
    b->destroy = cu_destroy;
    *out = b;
    return PAN_OK;
fail:
    cu_destroy(b);
    return st;
}
