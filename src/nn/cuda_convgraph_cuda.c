/* cuDNN graph (backend) API for the engine's convolutions: conv alone, or conv + bias + residual +
 * ReLU/LeakyReLU fused into one kernel by cuDNN's runtime-fusion engines.
 *
 * Why besides the legacy cudnnConvolutionForward: the legacy API exposes 8 algorithm families,
 * and on Hopper its choices ran NanoDet's convolutions about 2x slower than the engines the graph
 * API's heuristics offer (the sm90 warpgroup kernels PyTorch gets); and only the graph API fuses
 * a LeakyReLU epilogue. Engines are ranked by heuristics (mode A), the first few (max_plans)
 * that finalize are timed on the real buffers, the fastest is kept. Fused plans are compiled at
 * run time by cuDNN (NVRTC), about a second each: hence few candidates.
 *
 * The plan cache (nn/plan_cache.h) keeps the winner as its engine's global index and knob choices
 * (pan_cu_dnn_choice); given one, create rebuilds exactly that engine config for the op graph and
 * measures nothing, so a warm start runs the same kernels as the cold one that chose them. For a
 * fused (runtime-compiled) plan it also keeps the plan's JSON serialisation, which cuDNN can load
 * without compiling again; a loaded plan is used only when its engine config is the stored one.
 *
 * Layouts: x, y NHWC FP16 (y's pixel stride may exceed K: a slice of a channel concat), w KRSC
 * FP16, bias FP32 [K], residual NHWC FP16 packed; intermediates virtual FP32. */
#include <stdbool.h> /* CUDNN_TYPE_BOOLEAN is a C bool */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "nn/cuda_conv.h"
#include "nn/cuda_ops.h"
#include "panoptes/log.h"

#define TAG "cuda-engine"
#define MAX_DESC (24 + 2 + PAN_CU_DNN_MAX_KNOBS) /* the graph, then engine + config + knobs */
#define MAX_PLANS 8

enum { UID_X = 1, UID_W, UID_Y, UID_B, UID_R, UID_V0 = 100 };

struct pan_cu_dnn {
    int refs;                                /* convolutions of one shape share the plan */
    cudnnBackendDescriptor_t keep[MAX_DESC]; /* everything the plan was built from */
    int n_keep;
    cudnnBackendDescriptor_t plan;
    int64_t ws;
    int n_uids;
    int64_t uids[5];
    float ms;
    pan_cu_dnn_choice choice; /* how to rebuild plan (has_choice: it could be read back) */
    int has_choice;
};

static int dnn_ok(cudnnStatus_t s, const char *what, const char *name)
{
    if (s == CUDNN_STATUS_SUCCESS) return 1;
    pan_log_debug(TAG, -1, "conv '%s': %s: %s", name ? name : "?", what, cudnnGetErrorString(s));
    return 0;
}

#define SET(d, attr, type, n, ptr) \
    if (!dnn_ok(cudnnBackendSetAttribute((d), (attr), (type), (n), (ptr)), #attr, name)) goto fail
#define FIN(d) \
    if (!dnn_ok(cudnnBackendFinalize(d), "finalize " #d, name)) goto fail

static cudnnBackendDescriptor_t make(pan_cu_dnn *g, cudnnBackendDescriptorType_t type)
{
    cudnnBackendDescriptor_t d = NULL;
    if (g->n_keep >= MAX_DESC || cudnnBackendCreateDescriptor(type, &d) != CUDNN_STATUS_SUCCESS) return NULL;
    g->keep[g->n_keep++] = d;
    return d;
}

/* 4-D tensor, logical dims [n, c, h, w] with the given strides; alignment from the address. */
static cudnnBackendDescriptor_t tensor(pan_cu_dnn *g, int64_t uid, cudnnDataType_t dt, const int64_t dims[4],
                                       const int64_t strides[4], const void *addr, int virt, const char *name)
{
    cudnnBackendDescriptor_t t = make(g, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    if (!t) return NULL;
    int64_t align = 16;
    while (addr && align > 2 && (uintptr_t)addr % (uintptr_t)align) align /= 2;
    bool v = virt != 0;
    SET(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    SET(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    SET(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    SET(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    if (v) SET(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
    FIN(t);
    return t;
fail:
    return NULL;
}

static cudnnBackendDescriptor_t pointwise(pan_cu_dnn *g, cudnnPointwiseMode_t mode, double slope,
                                          cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                          cudnnBackendDescriptor_t y, const char *name)
{
    cudnnBackendDescriptor_t pw = make(g, CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    cudnnBackendDescriptor_t op = make(g, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    if (!pw || !op) return NULL;
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    SET(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    SET(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    if (mode == CUDNN_POINTWISE_RELU_FWD && slope != 0)
        SET(pw, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &slope);
    FIN(pw);
    SET(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw);
    SET(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    if (b) SET(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
    SET(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    FIN(op);
    return op;
fail:
    return NULL;
}

pan_cu_dnn *pan__cu_dnn_ref(pan_cu_dnn *g)
{
    if (g) g->refs++;
    return g;
}

void pan__cu_vpack_free(pan_cu_vpack *v)
{
    if (v && v->desc) cudnnBackendDestroyDescriptor(v->desc);
    if (v) memset(v, 0, sizeof *v);
}

void pan__cu_dnn_destroy(pan_cu_dnn **pg)
{
    if (!pg || !*pg) return;
    pan_cu_dnn *g = *pg;
    *pg = NULL;
    if (--g->refs > 0) return;
    if (g->plan) cudnnBackendDestroyDescriptor(g->plan);
    for (int i = g->n_keep - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(g->keep[i]);
    free(g);
}

static cudnnBackendDescriptor_t variant_pack(pan_cu_dnn *g, void *const ptrs[5], void *ws, const char *name)
{
    cudnnBackendDescriptor_t vp = NULL;
    void *p[5];
    for (int i = 0; i < g->n_uids; i++) p[i] = ptrs[g->uids[i] - UID_X];
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp) != CUDNN_STATUS_SUCCESS) return NULL;
    SET(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, g->n_uids, g->uids);
    SET(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, g->n_uids, p);
    SET(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
    FIN(vp);
    return vp;
fail:
    cudnnBackendDestroyDescriptor(vp);
    return NULL;
}

/* The execution plan of the op graph's engine config, or NULL when it does not finalize. */
static cudnnBackendDescriptor_t make_plan(cudnnHandle_t h, cudnnBackendDescriptor_t cfg, const char *name)
{
    cudnnBackendDescriptor_t plan = NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) != CUDNN_STATUS_SUCCESS) return NULL;
    /* the handle attribute is marked deprecated in cuDNN 9 but is still how a plan gets its device */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SET(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
#pragma GCC diagnostic pop
    SET(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    if (cudnnBackendFinalize(plan) != CUDNN_STATUS_SUCCESS) goto fail;
    return plan;
fail:
    cudnnBackendDestroyDescriptor(plan);
    return NULL;
}

/* The engine config's global engine index and knob choices: what rebuilds it on another start. */
static int read_choice(cudnnBackendDescriptor_t cfg, pan_cu_dnn_choice *c, const char *name)
{
    cudnnBackendDescriptor_t eng = NULL, knobs[PAN_CU_DNN_MAX_KNOBS] = {0};
    int ok = 0;
    int64_t cnt = 0;
    memset(c, 0, sizeof *c);
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng) != CUDNN_STATUS_SUCCESS) goto done;
    for (int i = 0; i < PAN_CU_DNN_MAX_KNOBS; i++)
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, &knobs[i]) != CUDNN_STATUS_SUCCESS)
            goto done;
    if (!dnn_ok(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cnt, &eng),
                "engine of the config", name) ||
        !dnn_ok(cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &cnt, &c->engine),
                "engine global index", name))
        goto done;
    cnt = 0;
    if (!dnn_ok(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                         PAN_CU_DNN_MAX_KNOBS, &cnt, knobs),
                "knob choices", name))
        goto done;
    if (cnt < 0 || cnt > PAN_CU_DNN_MAX_KNOBS) goto done; /* more than a record holds: not cached */
    for (int64_t i = 0; i < cnt; i++) {
        cudnnBackendKnobType_t t;
        int64_t n1 = 0, v = 0;
        if (!dnn_ok(cudnnBackendGetAttribute(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &n1, &t),
                    "knob type", name) ||
            !dnn_ok(cudnnBackendGetAttribute(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &n1, &v),
                    "knob value", name))
            goto done;
        c->knob_type[i] = (int64_t)t;
        c->knob_value[i] = v;
    }
    c->n_knobs = cnt;
    ok = 1;
done:
    for (int i = 0; i < PAN_CU_DNN_MAX_KNOBS; i++)
        if (knobs[i]) cudnnBackendDestroyDescriptor(knobs[i]);
    if (eng) cudnnBackendDestroyDescriptor(eng);
    return ok;
}

static int same_choice(const pan_cu_dnn_choice *a, const pan_cu_dnn_choice *b)
{
    if (a->engine != b->engine || a->n_knobs != b->n_knobs) return 0;
    for (int64_t i = 0; i < a->n_knobs; i++)
        if (a->knob_type[i] != b->knob_type[i] || a->knob_value[i] != b->knob_value[i]) return 0;
    return 1;
}

/* A plan loaded from its JSON serialisation, or NULL when cuDNN refuses it or it is not the
 * engine config `want` (then the caller rebuilds from the choice). */
static cudnnBackendDescriptor_t plan_from_json(cudnnHandle_t h, const char *json, size_t len,
                                               const pan_cu_dnn_choice *want, const char *name)
{
    cudnnBackendDescriptor_t plan = NULL, cfg = NULL;
    pan_cu_dnn_choice got;
    if (!json || !len || len > (size_t)INT64_MAX) return NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) != CUDNN_STATUS_SUCCESS) return NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SET(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
#pragma GCC diagnostic pop
    SET(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, (int64_t)len, json);
    FIN(plan);
    int64_t cnt = 0;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg) != CUDNN_STATUS_SUCCESS ||
        !dnn_ok(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                         &cnt, &cfg),
                "engine config of the loaded plan", name) ||
        !read_choice(cfg, &got, name) || !same_choice(&got, want))
        goto fail;
    cudnnBackendDestroyDescriptor(cfg);
    return plan;
fail:
    if (cfg) cudnnBackendDestroyDescriptor(cfg);
    cudnnBackendDestroyDescriptor(plan);
    return NULL;
}

char *pan__cu_dnn_plan_json(const pan_cu_dnn *g, size_t *len)
{
    int64_t n = 0;
    *len = 0;
    if (!g || !g->plan ||
        cudnnBackendGetAttribute(g->plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 0, &n, NULL) !=
            CUDNN_STATUS_SUCCESS ||
        n <= 0 || n > (64 << 20))
        return NULL;
    char *buf = malloc((size_t)n);
    int64_t got = 0;
    if (!buf ||
        cudnnBackendGetAttribute(g->plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, &got, buf) !=
            CUDNN_STATUS_SUCCESS ||
        got <= 0 || got > n) {
        free(buf);
        return NULL;
    }
    *len = (size_t)got;
    return buf;
}

/* The engine config of a stored choice for op graph opg, or NULL when cuDNN refuses it (another
 * cuDNN build numbers its engines differently: the key holds its version, but be safe). */
static cudnnBackendDescriptor_t config_of_choice(pan_cu_dnn *g, cudnnBackendDescriptor_t opg,
                                                 const pan_cu_dnn_choice *c, const char *name)
{
    if (c->n_knobs < 0 || c->n_knobs > PAN_CU_DNN_MAX_KNOBS) return NULL;
    cudnnBackendDescriptor_t eng = make(g, CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    cudnnBackendDescriptor_t cfg = make(g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    cudnnBackendDescriptor_t knobs[PAN_CU_DNN_MAX_KNOBS];
    if (!eng || !cfg) return NULL;
    SET(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &opg);
    SET(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &c->engine);
    FIN(eng);
    for (int64_t i = 0; i < c->n_knobs; i++) {
        cudnnBackendKnobType_t t = (cudnnBackendKnobType_t)c->knob_type[i];
        if (!(knobs[i] = make(g, CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR))) return NULL;
        SET(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &t);
        SET(knobs[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &c->knob_value[i]);
        FIN(knobs[i]);
    }
    SET(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng);
    if (c->n_knobs) SET(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, c->n_knobs, knobs);
    FIN(cfg);
    return cfg;
fail:
    return NULL;
}

pan_status pan__cu_dnn_create(pan_cu_dnn **out, void *handle, const pan_cu_conv_shape *s, const pan_cu_conv_epi *epi,
                              void *const ptrs[5], void *ws, size_t ws_limit, int max_plans,
                              const pan_cu_dnn_choice *use, const char *use_json, size_t use_json_len,
                              const char *name)
{
    cudnnHandle_t h = handle;
    *out = NULL;
    pan_cu_dnn *g = calloc(1, sizeof *g);
    cudnnBackendDescriptor_t cfgs[MAX_PLANS] = {0};
    if (g) g->refs = 1;
    int n_cfg = 0;
    cudaEvent_t e0 = NULL, e1 = NULL;
    if (!g) return PAN_NOMEM;
    int fused = epi != NULL;
    int64_t K = s->k, OH = s->oh, OW = s->ow, N = s->n, ys = fused && epi->ystride ? epi->ystride : K;
    int64_t xd[4] = {N, s->c, s->h, s->w}, xs[4] = {(int64_t)s->h * s->w * s->c, 1, (int64_t)s->w * s->c, s->c};
    int64_t cg = s->c / s->group;
    int64_t wd[4] = {K, cg, s->r, s->s}, wst[4] = {(int64_t)s->r * s->s * cg, 1, (int64_t)s->s * cg, cg};
    int64_t yd[4] = {N, K, OH, OW}, ypk[4] = {OH * OW * K, 1, OW * K, K}, yst[4] = {OH * OW * ys, 1, OW * ys, ys};
    int64_t bd[4] = {1, K, 1, 1}, bs[4] = {K, 1, K, K};
    cudnnBackendDescriptor_t tx = tensor(g, UID_X, CUDNN_DATA_HALF, xd, xs, ptrs[0], 0, name);
    cudnnBackendDescriptor_t tw = tensor(g, UID_W, CUDNN_DATA_HALF, wd, wst, ptrs[1], 0, name);
    cudnnBackendDescriptor_t ty = tensor(g, UID_Y, CUDNN_DATA_HALF, yd, fused ? yst : ypk, ptrs[2], 0, name);
    if (!tx || !tw || !ty) goto fail;
    g->uids[g->n_uids++] = UID_X;
    g->uids[g->n_uids++] = UID_W;
    g->uids[g->n_uids++] = UID_Y;

    cudnnBackendDescriptor_t cd = make(g, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    if (!cd) goto fail;
    int64_t nsd = 2, pre[2] = {s->pad_h, s->pad_w}, post[2] = {s->pad_h, s->pad_w};
    int64_t dil[2] = {s->dil_h, s->dil_w}, str[2] = {s->stride_h, s->stride_w};
    cudnnDataType_t ct = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    SET(cd, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &nsd);
    SET(cd, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &ct);
    SET(cd, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
    SET(cd, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil);
    SET(cd, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, str);
    SET(cd, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pre);
    SET(cd, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, post);
    FIN(cd);

    cudnnBackendDescriptor_t ops[4];
    int n_ops = 0;
    /* conv output: y itself, or a virtual FP32 tensor feeding the pointwise chain */
    cudnnBackendDescriptor_t cur = fused ? tensor(g, UID_V0, CUDNN_DATA_FLOAT, yd, ypk, NULL, 1, name) : ty;
    if (!cur) goto fail;
    cudnnBackendDescriptor_t conv = make(g, CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    if (!conv) goto fail;
    float one = 1.f, zero = 0.f;
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx);
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw);
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cur);
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd);
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &one);
    SET(conv, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &zero);
    FIN(conv);
    ops[n_ops++] = conv;
    if (fused) {
        /* the pointwise ops in order: + bias, + residual, activation; the last writes y */
        int steps = epi->has_bias + epi->has_res + (epi->act != PAN_CU_U_NONE);
        int vid = UID_V0 + 1;
        if (epi->has_bias) {
            cudnnBackendDescriptor_t tb = tensor(g, UID_B, CUDNN_DATA_FLOAT, bd, bs, ptrs[3], 0, name);
            cudnnBackendDescriptor_t nx = --steps ? tensor(g, vid++, CUDNN_DATA_FLOAT, yd, ypk, NULL, 1, name) : ty;
            if (!tb || !nx) goto fail;
            if (!(ops[n_ops++] = pointwise(g, CUDNN_POINTWISE_ADD, 0, cur, tb, nx, name))) goto fail;
            g->uids[g->n_uids++] = UID_B;
            cur = nx;
        }
        if (epi->has_res) {
            cudnnBackendDescriptor_t tr = tensor(g, UID_R, CUDNN_DATA_HALF, yd, ypk, ptrs[4], 0, name);
            cudnnBackendDescriptor_t nx = --steps ? tensor(g, vid++, CUDNN_DATA_FLOAT, yd, ypk, NULL, 1, name) : ty;
            if (!tr || !nx) goto fail;
            if (!(ops[n_ops++] = pointwise(g, CUDNN_POINTWISE_ADD, 0, cur, tr, nx, name))) goto fail;
            g->uids[g->n_uids++] = UID_R;
            cur = nx;
        }
        if (epi->act != PAN_CU_U_NONE) {
            double slope = epi->act == PAN_CU_U_LEAKY_RELU ? epi->alpha : 0;
            if (!(ops[n_ops++] = pointwise(g, CUDNN_POINTWISE_RELU_FWD, slope, cur, NULL, ty, name))) goto fail;
        }
    }

    cudnnBackendDescriptor_t opg = make(g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    if (!opg) goto fail;
    SET(opg, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n_ops, ops);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SET(opg, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
#pragma GCC diagnostic pop
    FIN(opg);
    if (use) {
        /* a stored choice: its serialised plan when that loads as the same engine config, else
         * that engine config built and finalized; nothing measured (ms 0) */
        cudnnBackendDescriptor_t plan = plan_from_json(h, use_json, use_json_len, use, name);
        if (!plan) {
            cudnnBackendDescriptor_t cfg = config_of_choice(g, opg, use, name);
            plan = cfg ? make_plan(h, cfg, name) : NULL;
        }
        int64_t wsz = 0, cnt = 0;
        if (plan)
            cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &cnt, &wsz);
        if (!plan || wsz > (int64_t)ws_limit) {
            if (plan) cudnnBackendDestroyDescriptor(plan);
            pan_log_debug(TAG, -1, "conv '%s': stored engine %lld does not rebuild; choosing again", name,
                          (long long)use->engine);
            goto fail;
        }
        g->plan = plan;
        g->ws = wsz;
        g->ms = 0;
        g->choice = *use;
        g->has_choice = 1;
        *out = g;
        return PAN_OK;
    }
    cudnnBackendDescriptor_t heur = make(g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    if (!heur) goto fail;
    cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
    SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &opg);
    SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    FIN(heur);
    for (int i = 0; i < MAX_PLANS; i++)
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[i]) != CUDNN_STATUS_SUCCESS) goto fail;
    int64_t got = 0;
    if (!dnn_ok(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                         max_plans < MAX_PLANS ? max_plans : MAX_PLANS, &got, cfgs),
                "heuristics results", name))
        goto fail;
    n_cfg = (int)got;

    cudaStream_t st = NULL;
    cudnnGetStream(h, &st);
    int won = -1; /* the index of the kept plan's config */
    if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) goto fail;
    for (int i = 0; i < n_cfg; i++) {
        cudnnBackendDescriptor_t plan = make_plan(h, cfgs[i], name);
        if (!plan) continue;
        int64_t wsz = 0, cnt = 0;
        cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &cnt, &wsz);
        cudnnBackendDescriptor_t vp = wsz <= (int64_t)ws_limit ? variant_pack(g, ptrs, ws, name) : NULL;
        float best = -1;
        if (vp) {
            /* one warm-up, then the best of two */
            int ok = cudnnBackendExecute(h, plan, vp) == CUDNN_STATUS_SUCCESS;
            for (int r = 0; r < 2 && ok; r++) {
                float ms = 0;
                cudaEventRecord(e0, st);
                ok = cudnnBackendExecute(h, plan, vp) == CUDNN_STATUS_SUCCESS;
                cudaEventRecord(e1, st);
                if (ok && cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess)
                    best = best < 0 || ms < best ? ms : best;
                else ok = 0;
            }
            cudaGetLastError();
        }
        if (vp) cudnnBackendDestroyDescriptor(vp);
        if (best >= 0 && (!g->plan || best < g->ms)) {
            if (g->plan) cudnnBackendDestroyDescriptor(g->plan);
            g->plan = plan;
            g->ws = wsz;
            g->ms = best;
            won = i;
        } else {
            cudnnBackendDestroyDescriptor(plan);
        }
    }
    if (!g->plan) goto fail;
    g->has_choice = read_choice(cfgs[won], &g->choice, name);
    for (int i = 0; i < MAX_PLANS; i++)
        if (cfgs[i]) cudnnBackendDestroyDescriptor(cfgs[i]);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    *out = g;
    return PAN_OK;
fail:
    for (int i = 0; i < MAX_PLANS; i++)
        if (cfgs[i]) cudnnBackendDestroyDescriptor(cfgs[i]);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    pan__cu_dnn_destroy(&g);
    return PAN_UNSUPPORTED;
}

float pan__cu_dnn_ms(const pan_cu_dnn *g) { return g ? g->ms : -1; }
size_t pan__cu_dnn_workspace(const pan_cu_dnn *g) { return g ? (size_t)g->ws : 0; }

int pan__cu_dnn_choice(const pan_cu_dnn *g, pan_cu_dnn_choice *c)
{
    if (!g || !g->has_choice) return 0;
    *c = g->choice;
    return 1;
}

pan_status pan__cu_dnn_run(pan_cu_dnn *g, void *handle, void *const ptrs[5], void *ws, pan_cu_vpack *v)
{
    const char *name = "run";
    if (!v->desc || memcmp(v->ptrs, ptrs, 5 * sizeof(void *)) || v->ptrs[5] != ws) {
        /* new pointers (the first run): (re)build the variant pack */
        pan__cu_vpack_free(v);
        v->desc = variant_pack(g, ptrs, ws, name);
        if (!v->desc) return PAN_DNN;
        memcpy(v->ptrs, ptrs, 5 * sizeof(void *));
        v->ptrs[5] = ws;
    }
    cudnnStatus_t s = cudnnBackendExecute((cudnnHandle_t)handle, g->plan, v->desc);
    if (s != CUDNN_STATUS_SUCCESS) {
        pan_log_error(TAG, -1, "cudnnBackendExecute failed: %s", cudnnGetErrorString(s));
        return PAN_DNN;
    }
    return PAN_OK;
}
