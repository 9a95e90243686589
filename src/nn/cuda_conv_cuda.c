/* cuDNN convolutions for the cuda engine backend: descriptors, algorithm choice, launch.
 * Layouts and precision: see cuda_conv.h. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#include "nn/cuda_conv.h"
#include "nn/plan_cache.h"
#include "panoptes/log.h"

#define TAG "cuda-engine"

struct pan_cu_conv {
    pan_cu_conv_shape shape;
    pan_cu_conv_epi epi; /* as asked (has_epi), whether fused or not */
    int has_epi;
    unsigned aligns;     /* alignment class of each buffer (what the graph API's tensors record) */
    size_t ws_limit;
    pan_cu_dnn *graph;   /* graph API plan when it won; else the legacy descriptors below */
    pan_cu_vpack vp;
    int fused;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
};

static pan_status dnn_status(cudnnStatus_t s, const char *call, const char *name)
{
    if (s == CUDNN_STATUS_SUCCESS) return PAN_OK;
    pan_log_error(TAG, -1, "%s failed for conv '%s': %s", call, name ? name : "?", cudnnGetErrorString(s));
    return s == CUDNN_STATUS_ALLOC_FAILED ? PAN_DEVMEM : PAN_DNN;
}

#define DNN_TRY(call)                                       \
    do {                                                    \
        st = dnn_status((call), #call, name);               \
        if (st != PAN_OK) goto fail;                        \
    } while (0)

/* Algorithms found, per shape and workspace limit: the convs of one model repeat shapes, and
 * each batch size is compiled separately. Process-wide; one device per process is the norm, and
 * a wrong entry for another device would only cost speed, never correctness (every algorithm is valid). */
typedef struct algo_entry {
    pan_cu_conv_shape shape;
    size_t limit;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    float ms;
} algo_entry;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static algo_entry *cache;
static int cache_n, cache_cap;

static int cache_find(const pan_cu_conv_shape *s, size_t limit, algo_entry *out)
{
    int found = 0;
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < cache_n; i++)
        if (cache[i].limit == limit && !memcmp(&cache[i].shape, s, sizeof *s)) {
            *out = cache[i];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    return found;
}

static void cache_add(const algo_entry *e)
{
    pthread_mutex_lock(&cache_mu);
    if (cache_n == cache_cap) {
        int nc = cache_cap ? cache_cap * 2 : 64;
        algo_entry *p = realloc(cache, (size_t)nc * sizeof *p);
        if (p) {
            cache = p;
            cache_cap = nc;
        }
    }
    if (cache_n < cache_cap) cache[cache_n++] = *e;
    pthread_mutex_unlock(&cache_mu);
}

static unsigned align_bits(void *const ptrs[PAN_CU_CONV_NPTR]);
static pan_status set_descriptors(pan_cu_conv *c, const char *name);

static const char *algo_name(cudnnConvolutionFwdAlgo_t a)
{
    switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "?";
    }
}

const char *pan__cu_conv_algo_name(const pan_cu_conv *c)
{
    if (!c) return "?";
    if (c->graph) return c->fused ? "graph+fused" : "graph";
    return algo_name(c->algo);
}
size_t pan__cu_conv_workspace(const pan_cu_conv *c) { return !c ? 0 : c->graph ? pan__cu_dnn_workspace(c->graph) : c->ws; }
int pan__cu_conv_fused(const pan_cu_conv *c) { return c && c->fused; }

int pan__cu_conv_same(const pan_cu_conv *c, const pan_cu_conv_shape *s, const pan_cu_conv_epi *epi,
                      void *const ptrs[PAN_CU_CONV_NPTR], size_t ws_limit)
{
    if (!c || memcmp(&c->shape, s, sizeof *s) || c->ws_limit != ws_limit || c->has_epi != (epi != NULL)) return 0;
    if (epi && (c->epi.act != epi->act || c->epi.alpha != epi->alpha || c->epi.has_bias != epi->has_bias ||
                c->epi.has_res != epi->has_res || c->epi.ystride != epi->ystride))
        return 0;
    return c->aligns == align_bits(ptrs);
}

pan_status pan__cu_conv_create_like(pan_cu_conv **out, const pan_cu_conv *proto, const char *name)
{
    pan_status st;
    *out = NULL;
    pan_cu_conv *c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    c->shape = proto->shape;
    if ((st = set_descriptors(c, name))) {
        pan__cu_conv_destroy(&c);
        return st;
    }
    c->epi = proto->epi;
    c->has_epi = proto->has_epi;
    c->aligns = proto->aligns;
    c->ws_limit = proto->ws_limit;
    c->graph = pan__cu_dnn_ref(proto->graph);
    c->fused = proto->fused;
    c->algo = proto->algo;
    c->ws = proto->ws;
    *out = c;
    return PAN_OK;
}

/* The largest power of two up to 16 dividing each buffer's address (what the graph API's tensors
 * record), 5 bits per buffer. */
static unsigned align_bits(void *const ptrs[PAN_CU_CONV_NPTR])
{
    unsigned bits = 0;
    for (int i = 0; i < PAN_CU_CONV_NPTR; i++) {
        unsigned a = 16;
        while (ptrs[i] && a > 2 && (uintptr_t)ptrs[i] % a) a /= 2;
        bits |= (ptrs[i] ? a : 0u) << (5 * i);
    }
    return bits;
}

/* The legacy API's descriptors of c->shape (checked against the graph's output size). */
static pan_status set_descriptors(pan_cu_conv *c, const char *name)
{
    const pan_cu_conv_shape *s = &c->shape;
    pan_status st = PAN_OK;
    DNN_TRY(cudnnCreateTensorDescriptor(&c->x));
    DNN_TRY(cudnnCreateTensorDescriptor(&c->y));
    DNN_TRY(cudnnCreateFilterDescriptor(&c->w));
    DNN_TRY(cudnnCreateConvolutionDescriptor(&c->conv));
    DNN_TRY(cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, s->n, s->c, s->h, s->w));
    DNN_TRY(cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, s->n, s->k, s->oh, s->ow));
    DNN_TRY(cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, s->k, s->c / s->group, s->r, s->s));
    /* CROSS_CORRELATION: what every framework calls convolution (no kernel flip). */
    DNN_TRY(cudnnSetConvolution2dDescriptor(c->conv, s->pad_h, s->pad_w, s->stride_h, s->stride_w, s->dil_h, s->dil_w,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN_TRY(cudnnSetConvolutionMathType(c->conv, CUDNN_TENSOR_OP_MATH));
    if (s->group > 1) DNN_TRY(cudnnSetConvolutionGroupCount(c->conv, s->group));
    int on, oc, ohh, oww;
    DNN_TRY(cudnnGetConvolution2dForwardOutputDim(c->conv, c->x, c->w, &on, &oc, &ohh, &oww));
    if (on != s->n || oc != s->k || ohh != s->oh || oww != s->ow) {
        pan_log_error(TAG, -1, "conv '%s': cuDNN output %dx%dx%dx%d differs from the graph's %dx%dx%dx%d", name, on, oc,
                      ohh, oww, s->n, s->k, s->oh, s->ow);
        st = PAN_SHAPE;
        goto fail;
    }

fail:
    return st;
}

/* ---- plan cache records ---------------------------------------------------------------------
 * id: what was chosen for (int64 each, host order: the cache is per GPU machine): layout version,
 * the shape's 16 ints, has_epi, act, alpha's bits, has_bias, has_res, ystride, alignment bits, the
 * workspace limit, legacy-only. data: conv_rec. Bump CONV_REC_LAYOUT when either changes (it is
 * also the key's engine_version, so old files are refused as another key). */
enum { CONV_HOW_LEGACY = 1, CONV_HOW_GRAPH = 2, CONV_HOW_FUSED = 3 };
typedef struct conv_rec {
    int64_t how;
    int64_t algo, ws; /* legacy */
    pan_cu_dnn_choice choice; /* graph, fused */
} conv_rec;
#define CONV_ID_N 26

static void conv_id(int64_t id[CONV_ID_N], const pan_cu_conv_shape *s, const pan_cu_conv_epi *epi, unsigned aligns,
                    size_t ws_limit, int legacy_only)
{
    const int sh[16] = {s->n, s->c, s->h, s->w, s->k, s->r, s->s, s->oh, s->ow,
                        s->pad_h, s->pad_w, s->stride_h, s->stride_w, s->dil_h, s->dil_w, s->group};
    uint32_t abits = 0;
    if (epi) memcpy(&abits, &epi->alpha, sizeof abits);
    int k = 0;
    id[k++] = PAN_CU_CONV_REC_LAYOUT;
    for (int i = 0; i < 16; i++) id[k++] = sh[i];
    id[k++] = epi != NULL;
    id[k++] = epi ? epi->act : 0;
    id[k++] = abits;
    id[k++] = epi ? epi->has_bias : 0;
    id[k++] = epi ? epi->has_res : 0;
    id[k++] = epi ? epi->ystride : 0;
    id[k++] = aligns;
    id[k++] = (int64_t)ws_limit;
    id[k++] = legacy_only;
}

/* c as the stored record says (1), or 0 when it does not apply (then c is as before). */
static int apply_record(pan_cu_conv *c, cudnnHandle_t h, const conv_rec *r, const char *json, size_t json_len,
                        const pan_cu_conv_epi *epi, void *const ptrs[PAN_CU_CONV_NPTR], void *ws, size_t ws_limit,
                        const char *name)
{
    if (r->how == CONV_HOW_LEGACY) {
        if (r->algo < 0 || r->algo >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT || r->ws < 0 || (size_t)r->ws > ws_limit) return 0;
        c->algo = (cudnnConvolutionFwdAlgo_t)r->algo;
        c->ws = (size_t)r->ws;
        return 1;
    }
    if (r->how != CONV_HOW_GRAPH && !(r->how == CONV_HOW_FUSED && epi)) return 0;
    int fused = r->how == CONV_HOW_FUSED;
    void *p[5] = {ptrs[0], ptrs[1], fused ? ptrs[PAN_CU_CONV_YOUT] : ptrs[PAN_CU_CONV_Y],
                  fused ? ptrs[PAN_CU_CONV_BIAS] : NULL, fused ? ptrs[PAN_CU_CONV_RES] : NULL};
    pan_cu_dnn *g = NULL;
    if (pan__cu_dnn_create(&g, h, &c->shape, fused ? epi : NULL, p, ws, ws_limit, 1, &r->choice, json, json_len, name))
        return 0;
    c->graph = g;
    c->fused = fused;
    return 1;
}

/* What c chose, into the cache (a choice cuDNN would not tell is left out: chosen again next time). */
static void record(const pan_cu_conv *c, pan_plan_cache *cache, const int64_t id[CONV_ID_N])
{
    conv_rec r;
    memset(&r, 0, sizeof r);
    if (c->graph) {
        if (!pan__cu_dnn_choice(c->graph, &r.choice)) return;
        r.how = c->fused ? CONV_HOW_FUSED : CONV_HOW_GRAPH;
    } else {
        r.how = CONV_HOW_LEGACY;
        r.algo = c->algo;
        r.ws = (int64_t)c->ws;
    }
    pan__plan_cache_put(cache, PAN_PLAN_REC_CONV, id, CONV_ID_N * sizeof(int64_t), &r, sizeof r);
    if (r.how == CONV_HOW_FUSED) {
        /* the runtime-compiled kernel, as cuDNN serialises its plan: a warm start loads it
         * instead of compiling (about a second per fused shape) */
        size_t len = 0;
        char *json = pan__cu_dnn_plan_json(c->graph, &len);
        if (json) pan__plan_cache_put(cache, PAN_PLAN_REC_KERNEL, id, CONV_ID_N * sizeof(int64_t), json, len);
        free(json);
    }
}

pan_status pan__cu_conv_create(pan_cu_conv **out, void *handle, const pan_cu_conv_shape *s, const pan_cu_conv_epi *epi,
                               void *const ptrs[PAN_CU_CONV_NPTR], void *ws, size_t ws_limit,
                               struct pan_plan_cache *cache, int *from_cache, const char *name)
{
    const void *x = ptrs[PAN_CU_CONV_X], *w = ptrs[PAN_CU_CONV_W];
    void *y = ptrs[PAN_CU_CONV_Y];
    cudnnHandle_t h = handle;
    pan_status st = PAN_OK;
    *out = NULL;
    pan_cu_conv *c = calloc(1, sizeof *c);
    if (!c) return PAN_NOMEM;
    c->shape = *s;
    if ((st = set_descriptors(c, name))) goto fail;
    c->ws_limit = ws_limit;
    c->aligns = align_bits(ptrs);
    if (epi) c->epi = *epi, c->has_epi = 1;

    float legacy_ms = -1;
    int legacy_only = getenv("PANOPTES_CUDNN_LEGACY") && getenv("PANOPTES_CUDNN_LEGACY")[0] == '1';
    pan_cu_dnn *plain = NULL, *fz = NULL;
    int64_t id[CONV_ID_N];
    conv_id(id, s, epi, c->aligns, ws_limit, legacy_only);
    if (from_cache) *from_cache = 0;
    if (cache) {
        size_t len = 0;
        const void *d = pan__plan_cache_find(cache, PAN_PLAN_REC_CONV, id, sizeof id, &len);
        conv_rec r;
        if (d && len == sizeof r) {
            memcpy(&r, d, sizeof r);
            size_t jl = 0;
            const char *json = pan__plan_cache_find(cache, PAN_PLAN_REC_KERNEL, id, sizeof id, &jl);
            if (apply_record(c, h, &r, json, json ? jl : 0, epi, ptrs, ws, ws_limit, name)) {
                if (from_cache) *from_cache = 1;
                pan_log_debug(TAG, -1, "conv '%s': %s from the plan cache", name, pan__cu_conv_algo_name(c));
                *out = c;
                return PAN_OK;
            }
            pan_log_debug(TAG, -1, "conv '%s': the plan cache's choice does not rebuild here; choosing again", name);
        }
    }
    if (!legacy_only) {
        /* graph API: the plain convolution among its heuristic engines, and the fused form
         * (measured on the real output: it writes epi's destination) */
        void *fptrs[5] = {ptrs[0], ptrs[1], ptrs[PAN_CU_CONV_YOUT], ptrs[PAN_CU_CONV_BIAS], ptrs[PAN_CU_CONV_RES]};
        void *pptrs[5] = {ptrs[0], ptrs[1], ptrs[PAN_CU_CONV_Y], NULL, NULL};
        pan__cu_dnn_create(&plain, h, s, NULL, pptrs, ws, ws_limit, 3, NULL, NULL, 0, name);
        if (epi) pan__cu_dnn_create(&fz, h, s, epi, fptrs, ws, ws_limit, 2, NULL, NULL, 0, name);
    }
    if (!plain) {
        /* legacy algorithms: the fallback (and PANOPTES_CUDNN_LEGACY=1) */
        algo_entry e;
        if (cache_find(s, ws_limit, &e)) {
            c->algo = e.algo;
            c->ws = e.ws;
            legacy_ms = e.ms;
        } else {
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int got = 0;
            DNN_TRY(cudnnFindConvolutionForwardAlgorithmEx(h, c->x, x, c->w, w, c->conv, c->y, y,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, ws, ws_limit));
            int best = -1;
            /* sorted by time: the first that ran and fits */
            for (int i = 0; i < got && best < 0; i++)
                if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ws_limit) best = i;
            if (best < 0) {
                pan_log_error(TAG, -1, "conv '%s': no cuDNN algorithm runs within a %zu MiB workspace", name,
                              ws_limit >> 20);
                st = PAN_DNN;
                goto fail;
            }
            c->algo = perf[best].algo;
            c->ws = perf[best].memory;
            legacy_ms = perf[best].time;
            e.shape = *s;
            e.limit = ws_limit;
            e.algo = c->algo;
            e.ws = c->ws;
            e.ms = legacy_ms;
            cache_add(&e);
        }
    }
    float pm = plain ? pan__cu_dnn_ms(plain) : legacy_ms;
    float fm = fz ? pan__cu_dnn_ms(fz) : -1;
    /* fused when no slower than 1.1x the plain conv: the separate epilogue pass costs more */
    if (fz && fm <= 1.1f * pm) {
        c->graph = fz;
        c->fused = 1;
        fz = NULL;
    } else if (plain) {
        c->graph = plain;
        plain = NULL;
    }
    pan_log_debug(TAG, -1, "conv '%s' n=%d c=%d %dx%d k=%d %dx%d: plain %.4f ms, fused %.4f ms -> %s", name, s->n,
                  s->c, s->h, s->w, s->k, s->r, s->s, pm, fm, pan__cu_conv_algo_name(c));
    pan__cu_dnn_destroy(&plain);
    pan__cu_dnn_destroy(&fz);
    if (cache) record(c, cache, id);
    *out = c;
    return PAN_OK;
fail:
    pan__cu_conv_destroy(&c);
    return st;
}

pan_status pan__cu_conv_run(pan_cu_conv *c, void *handle, void *const ptrs[PAN_CU_CONV_NPTR], void *ws, size_t ws_bytes)
{
    if (c->graph) {
        void *p[5] = {ptrs[0], ptrs[1], c->fused ? ptrs[PAN_CU_CONV_YOUT] : ptrs[PAN_CU_CONV_Y],
                      c->fused ? ptrs[PAN_CU_CONV_BIAS] : NULL, c->fused ? ptrs[PAN_CU_CONV_RES] : NULL};
        return pan__cu_dnn_run(c->graph, handle, p, ws, &c->vp);
    }
    const void *x = ptrs[PAN_CU_CONV_X], *w = ptrs[PAN_CU_CONV_W];
    void *y = ptrs[PAN_CU_CONV_Y];
    const float one = 1.f, zero = 0.f; /* FP32 scaling factors: compute type is FP32 */
    const char *name = "run";
    return dnn_status(cudnnConvolutionForward((cudnnHandle_t)handle, &one, c->x, x, c->w, w, c->conv, c->algo, ws,
                                              ws_bytes, &zero, c->y, y),
                      "cudnnConvolutionForward", name);
}

void pan__cu_conv_destroy(pan_cu_conv **pc)
{
    if (!pc || !*pc) return;
    pan_cu_conv *c = *pc;
    pan__cu_vpack_free(&c->vp);
    pan__cu_dnn_destroy(&c->graph);
    if (c->x) cudnnDestroyTensorDescriptor(c->x);
    if (c->y) cudnnDestroyTensorDescriptor(c->y);
    if (c->w) cudnnDestroyFilterDescriptor(c->w);
    if (c->conv) cudnnDestroyConvolutionDescriptor(c->conv);
    free(c);
    *pc = NULL;
}
