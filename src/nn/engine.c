/* pan_engine: import -> per-batch plan (infer, passes, memory plan, backend compile) -> run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "nn/ir.h"
#include "nn/nn_backend.h"
#include "nn/engine.h"
#include "nn/plan_cache.h"
#include "panoptes/log.h"

#define TAG "engine"

typedef struct plan {
    pan_graph *g;
    void *exec;
} plan;

struct pan_engine {
    char *path;
    char *cache_dir; /* params.cache_dir, owned */
    pan_engine_params params;
    pan_backend kind;
    pan_graph *model; /* imported, symbolic batch */
    pan_nn_backend *backend;
    plan *plans;      /* [max_batch + 1], by batch size */
    pan_engine_tensor_info *in_info, *out_info;
    int64_t *in_numel1, *out_numel1; /* elements per image (batched) or in total (not batched) */
    int *out_batched;
    pan_engine_tensor *tin, *tout;
};

/* The model's content for the plan cache's key: the model file's bytes, then every constant of the
 * imported graph (name, dtype, dims, data), which covers TF.js weight shards beside model.json. */
static pan_status model_hash(const pan_engine_t *e, uint8_t out[PAN_SHA256_BYTES])
{
    pan_sha256 s;
    pan__sha256_init(&s);
    pan_status st = pan__sha256_file(&s, e->path);
    if (st) return st;
    for (int i = 0; i < e->model->n_tensors; i++) {
        const pan_tensor *t = &e->model->tensors[i];
        if (!t->data) continue;
        int64_t numel = 1;
        for (int d = 0; d < t->rank; d++) numel *= t->dims[d];
        int32_t hdr[2] = {(int32_t)t->dtype, t->rank};
        if (t->name) pan__sha256_update(&s, t->name, strlen(t->name) + 1);
        pan__sha256_update(&s, hdr, sizeof hdr);
        pan__sha256_update(&s, t->dims, (size_t)t->rank * sizeof t->dims[0]);
        if (numel > 0) pan__sha256_update(&s, t->data, (size_t)numel * pan_dtype_size(t->dtype));
    }
    pan__sha256_final(&s, out);
    return PAN_OK;
}

static pan_model_format detect_format(const char *path)
{
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) return PAN_MODEL_FORMAT_TFJS;
    if (n >= 5 && !strcmp(path + n - 5, ".onnx")) return PAN_MODEL_FORMAT_ONNX;
    FILE *f = fopen(path, "rb");
    int c = EOF;
    if (f) {
        do c = fgetc(f);
        while (c == ' ' || c == '\n' || c == '\r' || c == '\t');
        fclose(f);
    }
    return c == '{' ? PAN_MODEL_FORMAT_TFJS : PAN_MODEL_FORMAT_ONNX;
}

/* The model for one batch: inferred, passes run, sorted, memory planned. */
static pan_status plan_graph(pan_engine_t *e, int batch, pan_graph **out, size_t *arena)
{
    pan_status st = pan__graph_clone(e->model, out);
    if (st) return st;
    if ((st = pan__graph_infer_shapes(*out, batch)) || (!e->params.no_optimize && (st = pan__passes_run_all(*out))) ||
        (st = pan__graph_sort(*out)) || (st = pan__graph_plan_memory(*out, e->backend->float_bytes, 64, arena)))
        pan__graph_destroy(out);
    return st;
}

static pan_status make_plan(pan_engine_t *e, int batch, plan *p)
{
    size_t arena = 0, arena1 = 0;
    pan_status st = plan_graph(e, batch, &p->g, &arena);
    if (st) return st;
    pan_graph *g1 = NULL; /* batch 1, for a backend that may run the batch image by image */
    if (batch >= 2 && e->backend->compile_images && plan_graph(e, 1, &g1, &arena1) == PAN_OK)
        st = e->backend->compile_images(e->backend, p->g, g1, &p->exec);
    else st = e->backend->compile(e->backend, p->g, &p->exec);
    if (st) goto fail;
    pan_log_info(TAG, -1, "%s: planned batch %d on %s: %d nodes, %.1f MiB of activations", e->path, batch,
                 e->backend->name, p->g->n_nodes, (double)arena / (1 << 20));
    return PAN_OK;
fail:
    pan__graph_destroy(&p->g);
    return st;
}

static void fill_info(pan_engine_t *e, const pan_graph *g1, int t, pan_engine_tensor_info *info, int64_t *numel1,
                      int *batched)
{
    const pan_tensor *T = &g1->tensors[t];
    info->dtype = T->dtype;
    info->rank = T->rank;
    int b = (T->flags & PAN_TENSOR_BATCHED) != 0;
    int64_t n = 1;
    for (int i = 0; i < T->rank; i++) {
        info->dims[i] = T->dims[i];
        if (i > 0 || !b) n *= T->dims[i];
    }
    if (b) info->dims[0] = PAN_ENGINE_DIM_BATCH;
    info->native_memory = e->backend->native_memory;
    info->native_dtype = T->dtype == PAN_DTYPE_F32 ? e->backend->native_dtype : T->dtype;
    info->native_layout = e->backend->native_layout;
    *numel1 = n;
    if (batched) *batched = b;
}

pan_status pan_engine_create(pan_engine_t **out, const pan_engine_params *params)
{
    *out = NULL;
    if (!params || !params->model_path) return PAN_INVAL;
    pan_log_init();
    pan_engine_t *e = calloc(1, sizeof *e);
    pan_status st = PAN_NOMEM;
    pan_graph *g1 = NULL;
    if (!e) return PAN_NOMEM;
    e->params = *params;
    if (e->params.max_batch <= 0) e->params.max_batch = 1;
    if (e->params.max_batch > 4096) {
        pan_log_error(TAG, -1, "%s: max_batch %d is out of range (1..4096)", params->model_path, e->params.max_batch);
        st = PAN_RANGE;
        goto fail;
    }
    if (!(e->path = strdup(params->model_path))) goto fail;
    e->params.model_path = e->path;
    pan_model_format fmt = params->format ? params->format : detect_format(e->path);
    if (fmt == PAN_MODEL_FORMAT_TFJS) st = pan__tfjs_import(e->path, &e->model);
    else {
#ifdef PANOPTES_HAVE_ONNX
        st = pan__onnx_import(e->path, &e->model);
#else
        pan_log_error(TAG, -1, "%s: this build has no ONNX support (install libonnx-dev and rebuild)", e->path);
        st = PAN_UNSUPPORTED;
#endif
    }
    if (st) goto fail;
    /* batch-independent constants once, shared by every plan */
    if ((st = pan__graph_fold_constants(e->model))) goto fail;

    e->kind = params->backend;
    if (e->kind == PAN_BACKEND_AUTO) {
#ifdef PANOPTES_HAVE_CUDA
        e->kind = PAN_BACKEND_CUDA;
#else
        e->kind = PAN_BACKEND_CPU;
#endif
    }
    if (e->kind == PAN_BACKEND_CUDA) {
#ifdef PANOPTES_HAVE_CUDA_ENGINE
        st = pan__cuda_backend_create(&e->backend, params->device);
        if (st && params->backend == PAN_BACKEND_AUTO) {
            pan_log_warn(TAG, -1, "%s: cuda engine unavailable (%s); using the cpu backend", e->path, pan_status_str(st));
            e->kind = PAN_BACKEND_CPU;
        } else if (st) goto fail;
#else
        if (params->backend == PAN_BACKEND_CUDA) {
            pan_log_error(TAG, -1, "%s: this build has no cuda engine backend; use --backend cpu", e->path);
            st = PAN_UNSUPPORTED;
            goto fail;
        }
        e->kind = PAN_BACKEND_CPU;
#endif
    }
    if (e->kind == PAN_BACKEND_CPU && (st = pan__cpu_backend_create(&e->backend, params->threads))) goto fail;
    /* the plan cache (cuda: its convolution choices); its key needs the model's content */
    if (params->cache_dir && !(e->cache_dir = strdup(params->cache_dir))) {
        st = PAN_NOMEM;
        goto fail;
    }
    e->params.cache_dir = e->cache_dir;
    e->backend->plan_cache_dir = e->cache_dir;
    if (e->kind == PAN_BACKEND_CUDA && !pan__plan_cache_disabled(e->cache_dir))
        e->backend->has_model_hash = model_hash(e, e->backend->model_sha256) == PAN_OK;

    /* Shapes for the info: a batch-1 inference of the imported graph (also validates it). */
    if ((st = pan__graph_clone(e->model, &g1)) || (st = pan__graph_infer_shapes(g1, 1))) goto fail;
    int ni = e->model->n_inputs, no = e->model->n_outputs;
    e->in_info = calloc((size_t)ni + 1, sizeof *e->in_info);
    e->out_info = calloc((size_t)no + 1, sizeof *e->out_info);
    e->in_numel1 = calloc((size_t)ni + 1, sizeof(int64_t));
    e->out_numel1 = calloc((size_t)no + 1, sizeof(int64_t));
    e->out_batched = calloc((size_t)no + 1, sizeof(int));
    e->tin = calloc((size_t)ni + 1, sizeof *e->tin);
    e->tout = calloc((size_t)no + 1, sizeof *e->tout);
    e->plans = calloc((size_t)e->params.max_batch + 1, sizeof *e->plans);
    st = PAN_NOMEM;
    if (!e->in_info || !e->out_info || !e->in_numel1 || !e->out_numel1 || !e->out_batched || !e->tin || !e->tout ||
        !e->plans)
        goto fail;
    for (int i = 0; i < ni; i++) {
        e->in_info[i].name = e->model->tensors[e->model->inputs[i]].name;
        fill_info(e, g1, g1->inputs[i], &e->in_info[i], &e->in_numel1[i], NULL);
    }
    for (int i = 0; i < no; i++) {
        e->out_info[i].name = e->model->tensors[e->model->outputs[i]].name;
        fill_info(e, g1, g1->outputs[i], &e->out_info[i], &e->out_numel1[i], &e->out_batched[i]);
    }
    pan__graph_destroy(&g1);
    pan_log_info(TAG, -1, "%s: %d inputs, %d outputs, %d nodes, backend %s", e->path, ni, no, e->model->n_nodes,
                 e->backend->name);
    *out = e;
    return PAN_OK;
fail:
    pan__graph_destroy(&g1);
    pan_engine_destroy(&e);
    return st;
}

void pan_engine_destroy(pan_engine_t **pe)
{
    if (!pe || !*pe) return;
    pan_engine_t *e = *pe;
    if (e->plans)
        for (int b = 0; b <= e->params.max_batch; b++) {
            if (e->plans[b].exec) e->backend->exec_free(e->backend, e->plans[b].exec);
            pan__graph_destroy(&e->plans[b].g);
        }
    if (e->backend) e->backend->destroy(e->backend);
    pan__graph_destroy(&e->model);
    free(e->plans);
    free(e->in_info);
    free(e->out_info);
    free(e->in_numel1);
    free(e->out_numel1);
    free(e->out_batched);
    free(e->tin);
    free(e->tout);
    free(e->path);
    free(e->cache_dir);
    free(e);
    *pe = NULL;
}

void pan_engine_get_memory(const pan_engine_t *e, pan_engine_memory *m)
{
    memset(m, 0, sizeof *m);
    if (e && e->backend && e->backend->memory) e->backend->memory(e->backend, m);
}

pan_backend pan_engine_backend(const pan_engine_t *e) { return e->kind; }
int pan_engine_num_inputs(const pan_engine_t *e) { return e->model->n_inputs; }
int pan_engine_num_outputs(const pan_engine_t *e) { return e->model->n_outputs; }

pan_status pan_engine_input_info(const pan_engine_t *e, int i, pan_engine_tensor_info *info)
{
    if (i < 0 || i >= e->model->n_inputs) return PAN_RANGE;
    *info = e->in_info[i];
    return PAN_OK;
}

const char *pan_engine_metadata(const pan_engine_t *e, const char *key)
{
    return e ? pan__graph_meta(e->model, key) : NULL;
}

pan_status pan_engine_output_info(const pan_engine_t *e, int i, pan_engine_tensor_info *info)
{
    if (i < 0 || i >= e->model->n_outputs) return PAN_RANGE;
    *info = e->out_info[i];
    return PAN_OK;
}

int pan_engine_find_output(const pan_engine_t *e, const char *name)
{
    for (int i = 0; i < e->model->n_outputs; i++)
        if (!strcmp(e->out_info[i].name, name)) return i;
    return -1;
}

int pan_engine_find_input(const pan_engine_t *e, const char *name)
{
    for (int i = 0; i < e->model->n_inputs; i++)
        if (!strcmp(e->in_info[i].name, name)) return i;
    return -1;
}

size_t pan_engine_input_numel(const pan_engine_t *e, int i, int batch)
{
    if (i < 0 || i >= e->model->n_inputs) return 0;
    return (size_t)e->in_numel1[i] * (size_t)(e->in_info[i].dims[0] == PAN_ENGINE_DIM_BATCH ? batch : 1);
}

size_t pan_engine_output_numel(const pan_engine_t *e, int i, int batch)
{
    if (i < 0 || i >= e->model->n_outputs) return 0;
    /* The planned graph is authoritative: an output may grow with the batch without the batch
     * being its dim 0 (TF's Pack/Transpose can move it). Planning is a cache, hence the cast. */
    if (batch < 1 || batch > e->params.max_batch || pan_engine_prepare((pan_engine_t *)e, batch) != PAN_OK) return 0;
    const pan_graph *g = e->plans[batch].g;
    return (size_t)pan__tensor_numel(&g->tensors[g->outputs[i]]);
}

pan_status pan_engine_prepare(pan_engine_t *e, int batch)
{
    if (batch < 1 || batch > e->params.max_batch) {
        pan_log_error(TAG, -1, "%s: batch %d is outside 1..%d (max_batch)", e->path, batch, e->params.max_batch);
        return PAN_RANGE;
    }
    if (e->plans[batch].exec) return PAN_OK;
    return make_plan(e, batch, &e->plans[batch]);
}

pan_status pan_engine_run_tensors(pan_engine_t *e, int batch, const pan_engine_tensor *inputs,
                                  const pan_engine_tensor *outputs, void *stream)
{
    if (!e || !inputs || !outputs) return PAN_INVAL;
    pan_status st = pan_engine_prepare(e, batch);
    if (st) return st;
    return e->backend->run(e->backend, e->plans[batch].exec, inputs, outputs, stream);
}

pan_status pan_engine_run(pan_engine_t *e, int batch, const float *const *inputs, float **outputs)
{
    if (!e || !inputs || !outputs) return PAN_INVAL;
    for (int i = 0; i < e->model->n_inputs; i++) {
        if (e->in_info[i].dtype != PAN_DTYPE_F32) {
            pan_log_error(TAG, -1, "%s: input '%s' is %s; use pan_engine_run_tensors", e->path, e->in_info[i].name,
                          pan_dtype_name(e->in_info[i].dtype));
            return PAN_UNSUPPORTED;
        }
        e->tin[i] = (pan_engine_tensor){(void *)inputs[i], PAN_MEMORY_HOST, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
    }
    for (int i = 0; i < e->model->n_outputs; i++) {
        if (e->out_info[i].dtype != PAN_DTYPE_F32) {
            pan_log_error(TAG, -1, "%s: output '%s' is %s; use pan_engine_run_tensors", e->path, e->out_info[i].name,
                          pan_dtype_name(e->out_info[i].dtype));
            return PAN_UNSUPPORTED;
        }
        e->tout[i] = (pan_engine_tensor){outputs[i], PAN_MEMORY_HOST, 0, PAN_DTYPE_F32, PAN_LAYOUT_NCHW};
    }
    return pan_engine_run_tensors(e, batch, e->tin, e->tout, NULL);
}
