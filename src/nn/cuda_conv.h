/* Internal: cuDNN convolutions of the cuda engine backend (cuda_conv_cuda.c).
 *
 * Legacy cuDNN API: x and y are NHWC FP16 (CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF), weights are
 * KRSC FP16 ([out, kh, kw, in/group], cuDNN's NHWC filter format), compute type FP32 and
 * CUDNN_TENSOR_OP_MATH, so the tensor cores accumulate in FP32. Padding is symmetric per axis
 * (the backend pads explicitly first where the model's padding is not). Bias, activation and
 * residual are fused by cuDNN's graph API where it can (ReLU, LeakyReLU), else applied afterwards
 * by pan__cu_conv_epilogue. */
#ifndef PANOPTES_NN_CUDA_CONV_H
#define PANOPTES_NN_CUDA_CONV_H

#include <stddef.h>

#include "panoptes/status.h"

typedef struct pan_cu_conv_shape {
    int n, c, h, w;       /* input, logical NCHW sizes */
    int k, r, s;          /* output channels, kernel height, width */
    int oh, ow;
    int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
    int group;
} pan_cu_conv_shape;

typedef struct pan_cu_conv pan_cu_conv;

/* What may be fused into the convolution (cuDNN graph API runtime fusion): y = act(conv + bias +
 * res) with act NONE, RELU or LEAKY_RELU (pan_cu_unop), y's pixels ystride channels apart. */
typedef struct pan_cu_conv_epi {
    int act;
    float alpha;
    int has_bias, has_res;
    int ystride; /* 0 = K (packed) */
} pan_cu_conv_epi;

/* Buffers of one convolution (device), in this order: x, w, y (the plain convolution's packed
 * output), bias (FP32 [K]), residual, and the fused form's output (epi's destination). */
enum { PAN_CU_CONV_X = 0, PAN_CU_CONV_W, PAN_CU_CONV_Y, PAN_CU_CONV_BIAS, PAN_CU_CONV_RES, PAN_CU_CONV_YOUT,
       PAN_CU_CONV_NPTR };

/* handle: cudnnHandle_t, its stream set. Chooses how to run the convolution by measuring on the
 * given buffers (their output contents are overwritten) with a scratch workspace of ws_limit bytes:
 *  1. with epi (not NULL): conv + epilogue fused by the graph API (its 2 best-ranked engines,
 *     each a runtime-compiled kernel), kept when no slower than 1.1 x the plain convolution (the
 *     separate epilogue pass costs more than that);
 *  2. else the fastest of the graph API's 3 best-ranked engines for the plain convolution;
 *  3. else (or with PANOPTES_CUDNN_LEGACY=1) the legacy algorithms, searched with
 *     cudnnFindConvolutionForwardAlgorithmEx and cached per shape and limit.
 * pan__cu_conv_fused tells whether the epilogue was fused.
 * cache (NULL = none): a plan cache record of this problem (shape, epilogue, buffer alignments,
 * workspace limit) is used as it is - the stored way is rebuilt and nothing is measured, so a warm
 * start runs what the cold one chose; when it does not rebuild, or on a miss, the steps above
 * choose and the choice is put into the cache (the caller saves it). *from_cache (may be NULL)
 * says which happened. */
struct pan_plan_cache;
/* Layout version of the plan cache's convolution records (the key's engine_version). */
#define PAN_CU_CONV_REC_LAYOUT 1
pan_status pan__cu_conv_create(pan_cu_conv **conv, void *handle, const pan_cu_conv_shape *shape,
                               const pan_cu_conv_epi *epi, void *const ptrs[PAN_CU_CONV_NPTR], void *ws,
                               size_t ws_limit, struct pan_plan_cache *cache, int *from_cache, const char *name);
int pan__cu_conv_fused(const pan_cu_conv *conv);
/* A convolution like proto (same shape, epilogue and buffer alignments: the caller checks with
 * pan__cu_conv_same) without measuring again: it shares proto's cuDNN plan or legacy algorithm.
 * Models repeat shapes (OSNet: 188 convolutions, 27 shapes), and choosing costs about 0.3 s each. */
pan_status pan__cu_conv_create_like(pan_cu_conv **conv, const pan_cu_conv *proto, const char *name);
/* Would pan__cu_conv_create with these arguments choose for the same problem as conv? */
int pan__cu_conv_same(const pan_cu_conv *conv, const pan_cu_conv_shape *shape, const pan_cu_conv_epi *epi,
                      void *const ptrs[PAN_CU_CONV_NPTR], size_t ws_limit);
/* Workspace bytes the chosen way needs. */
size_t pan__cu_conv_workspace(const pan_cu_conv *conv);
/* Runs on the stream set on the handle. ptrs as for create (bias, res, yout used when fused). */
pan_status pan__cu_conv_run(pan_cu_conv *conv, void *handle, void *const ptrs[PAN_CU_CONV_NPTR], void *ws,
                            size_t ws_bytes);
void pan__cu_conv_destroy(pan_cu_conv **conv);
/* "IMPLICIT_PRECOMP_GEMM", "graph", "graph+fused", for logs. */
const char *pan__cu_conv_algo_name(const pan_cu_conv *conv);

/* cuda_convgraph_cuda.c: one convolution (optionally with its epilogue) through the graph API.
 * A plan is refcounted (pan__cu_dnn_ref / _destroy) so that convolutions of one shape share it;
 * each user keeps its own variant pack (its buffers' pointers). */
typedef struct pan_cu_dnn pan_cu_dnn;
typedef struct pan_cu_vpack {
    void *desc;    /* cudnnBackendDescriptor_t, built on the first run */
    void *ptrs[6]; /* the five buffers and the workspace it was built for */
} pan_cu_vpack;
/* A chosen engine config, as the plan cache stores it: cuDNN's global engine index and its knob
 * choices (cudnnBackendKnobType_t, value). All int64 so that it is a record as it is. */
#define PAN_CU_DNN_MAX_KNOBS 16
typedef struct pan_cu_dnn_choice {
    int64_t engine; /* CUDNN_ATTR_ENGINE_GLOBAL_INDEX */
    int64_t n_knobs;
    int64_t knob_type[PAN_CU_DNN_MAX_KNOBS], knob_value[PAN_CU_DNN_MAX_KNOBS];
} pan_cu_dnn_choice;
/* ptrs: x, w, y, bias, res (y = the fused output when epi is given). PAN_UNSUPPORTED when no
 * engine finalizes and runs (the caller falls back). With `use` (a stored choice) builds only that
 * engine config and measures nothing (pan__cu_dnn_ms is 0): from use_json (the plan's stored JSON
 * serialisation, may be NULL) when cuDNN loads it as the same engine config - no kernel compile -,
 * else from the engine index and knobs; PAN_UNSUPPORTED when it does not rebuild or needs more
 * than ws_limit (the caller chooses again). */
pan_status pan__cu_dnn_create(pan_cu_dnn **g, void *handle, const pan_cu_conv_shape *shape,
                              const pan_cu_conv_epi *epi, void *const ptrs[5], void *ws, size_t ws_limit,
                              int max_plans, const pan_cu_dnn_choice *use, const char *use_json,
                              size_t use_json_len, const char *name);
/* The plan's JSON serialisation (malloc'd, *len bytes as cuDNN gives them), or NULL where cuDNN
 * has none (it serialises runtime-fusion plans, whose compiled kernel it carries). */
char *pan__cu_dnn_plan_json(const pan_cu_dnn *g, size_t *len);
/* The chosen engine config of g (1), or 0 when it could not be read back (then not cached). */
int pan__cu_dnn_choice(const pan_cu_dnn *g, pan_cu_dnn_choice *choice);
float pan__cu_dnn_ms(const pan_cu_dnn *g);
size_t pan__cu_dnn_workspace(const pan_cu_dnn *g);
pan_status pan__cu_dnn_run(pan_cu_dnn *g, void *handle, void *const ptrs[5], void *ws, pan_cu_vpack *vp);
pan_cu_dnn *pan__cu_dnn_ref(pan_cu_dnn *g);
void pan__cu_dnn_destroy(pan_cu_dnn **g); /* drops one reference */
void pan__cu_vpack_free(pan_cu_vpack *vp);

#endif
