/* Inference engines: a model file made executable on one backend ("FP16 engines without TensorRT").
 *
 * pan_engine_create imports the model (TF.js graph model: model.json + weight shards beside it;
 * ONNX: one .onnx file), optimises the graph (shape inference, constant folding, transpose
 * removal, conv + bias + activation (+ residual add) fusion, batch-norm folding) and hands it to a
 * backend. The graph is planned once per batch size (shapes, activation memory plan, backend
 * kernels); running a planned batch size allocates nothing.
 *
 * Tensors. Every input and output has a name, a dtype and a shape whose dims[0] is the batch:
 * PAN_ENGINE_DIM_BATCH in the info below, `batch` when running. (An output whose size depends
 * on the batch some other way - a model that moves the batch off dim 0 - reports its batch-1
 * dims; pan_engine_output_numel is exact for every batch.) Layout is the model's own
 * logical layout (NanoDet TF.js and ONNX detectors: NCHW input). Data is dense, row-major
 * (C order), the batch index outermost.
 *
 * Two ways to run:
 *  - pan_engine_run: host FP32 in, host FP32 out, on every backend (the cuda backend copies).
 *    The simple path for tests, tools and the cpu pipeline.
 *  - pan_engine_run_tensors: buffers described by pan_engine_tensor (memory kind, dtype, layout),
 *    plus a stream. The cuda backend takes device FP16 NHWC/NCHW buffers on a cudaStream_t here
 *    without any host copy (what the GPU pipeline uses); pan_engine_input_info tells the dtype and
 *    layout the backend consumes natively (`native_*`), so preprocess can write exactly that.
 *    The cpu backend accepts host FP32 in the model's layout and ignores the stream.
 *
 * Thread safety: one engine runs one batch at a time; use one engine per thread (engines of the
 * same model share nothing mutable). */
#ifndef PANOPTES_ENGINE_H
#define PANOPTES_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/backend.h"
#include "panoptes/frame.h"      /* pan_memory */
#include "vision/preprocess.h" /* pan_layout */
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_ENGINE_MAX_DIMS 8
/* dims[0] of an input/output in pan_engine_tensor_info: the batch, chosen per run. */
#define PAN_ENGINE_DIM_BATCH (-1)

typedef struct pan_engine pan_engine_t;

/* Element types. Values are stable (used in the IR and by every backend). */
typedef enum pan_dtype {
    PAN_DTYPE_F32 = 0,
    PAN_DTYPE_F16,
    PAN_DTYPE_I32,
    PAN_DTYPE_I64,
    PAN_DTYPE_U8,
    PAN_DTYPE_BOOL, /* one byte, 0 or 1 */
    PAN_DTYPE_I8,
    PAN_DTYPE_F64,
    PAN_DTYPE_COUNT
} pan_dtype;

const char *pan_dtype_name(pan_dtype t);
/* Bytes per element; 0 for an invalid dtype. */
size_t pan_dtype_size(pan_dtype t);

typedef enum pan_model_format {
    PAN_MODEL_FORMAT_AUTO = 0, /* by extension, then by contents ('{' = TF.js JSON, else ONNX) */
    PAN_MODEL_FORMAT_TFJS,
    PAN_MODEL_FORMAT_ONNX,
} pan_model_format;

typedef struct pan_engine_params {
    const char *model_path;  /* model.json (TF.js; shards resolved beside it) or model.onnx */
    pan_model_format format; /* 0 = auto */
    pan_backend backend;     /* AUTO: cuda when built with it and a GPU is there, else cpu */
    int max_batch;           /* largest batch passed to run; 0 = 1 */
    int threads;             /* cpu backend worker threads; 0 = number of online cores (max 8) */
    int device;              /* cuda device ordinal */
    int no_optimize;         /* 1: skip fusion passes (folding and shape inference still run); for tests */
    /* Plan cache directory (cuda: the chosen cuDNN engine configs, nn/plan_cache.h): NULL or "" =
     * $PANOPTES_CACHE_DIR, else $XDG_CACHE_HOME/panoptes, else ~/.cache/panoptes; "off" = none. */
    const char *cache_dir;
    /* Only grows at the end; zero-initialise. */
} pan_engine_params;

typedef struct pan_engine_tensor_info {
    const char *name;     /* owned by the engine; valid until destroy */
    pan_dtype dtype;      /* the model's dtype (F32 for NanoDet and the ONNX detectors) */
    int rank;
    int64_t dims[PAN_ENGINE_MAX_DIMS]; /* dims[0] = PAN_ENGINE_DIM_BATCH when the batch is dynamic */
    /* What pan_engine_run_tensors consumes/produces without conversion on this backend:
     * cpu: host, F32, the model layout (NCHW for 4-D); cuda: device, F16, possibly NHWC. */
    pan_memory native_memory;
    pan_dtype native_dtype;
    pan_layout native_layout; /* meaningful for 4-D tensors only */
} pan_engine_tensor_info;

/* A buffer handed to pan_engine_run_tensors. Shape is implied (the info's dims with the run's
 * batch); layout applies to 4-D tensors (NCHW = the model's logical order). */
typedef struct pan_engine_tensor {
    void *data;        /* host pointer or device pointer (CUdeviceptr cast) */
    pan_memory memory;
    int device;        /* CUDA ordinal when memory is DEVICE */
    pan_dtype dtype;
    pan_layout layout;
} pan_engine_tensor;

pan_status pan_engine_create(pan_engine_t **engine, const pan_engine_params *params);
/* NULL-safe; sets *engine to NULL. */
void pan_engine_destroy(pan_engine_t **engine);

pan_backend pan_engine_backend(const pan_engine_t *engine);
int pan_engine_num_inputs(const pan_engine_t *engine);
int pan_engine_num_outputs(const pan_engine_t *engine);
pan_status pan_engine_input_info(const pan_engine_t *engine, int index, pan_engine_tensor_info *info);
pan_status pan_engine_output_info(const pan_engine_t *engine, int index, pan_engine_tensor_info *info);
/* Index of the output (or input) with that name, or -1. */
int pan_engine_find_output(const pan_engine_t *engine, const char *name);
int pan_engine_find_input(const pan_engine_t *engine, const char *name);
/* Number of elements of one input/output for `batch` images. For outputs this plans the batch
 * size if needed (see pan_engine_prepare): an output's size may depend on the batch even when
 * its dims[0] is not PAN_ENGINE_DIM_BATCH. Returns 0 when that batch cannot be planned. */
size_t pan_engine_input_numel(const pan_engine_t *engine, int index, int batch);
size_t pan_engine_output_numel(const pan_engine_t *engine, int index, int batch);

/* A metadata property of the model (ONNX metadata_props: Ultralytics exports carry author, task,
 * head, end2end, names...), or NULL. Valid until destroy. */
const char *pan_engine_metadata(const pan_engine_t *engine, const char *key);

/* Plans batch sizes ahead of time (otherwise the first run of a batch size plans it). */
pan_status pan_engine_prepare(pan_engine_t *engine, int batch);

/* Device memory the engine holds for its planned batch sizes (cuda; all 0 on cpu). Every batch
 * size runs in the same activation arena and workspace (sized for the largest) and reads the
 * same copy of the weights: the figures are what the engine holds, not a sum over plans. */
typedef struct pan_engine_memory {
    size_t arena, weights, workspace, staging; /* bytes of the blocks held (pool class sizes) */
    int plans;                                 /* batch sizes planned */
    int weight_copies;                         /* distinct weight blocks (1 once planned) */
} pan_engine_memory;
void pan_engine_get_memory(const pan_engine_t *engine, pan_engine_memory *memory);

/* Host FP32 run: inputs[i] holds input i (numel for `batch`), outputs[j] receives output j.
 * 1 <= batch <= max_batch. */
pan_status pan_engine_run(pan_engine_t *engine, int batch, const float *const *inputs, float **outputs);

/* Descriptor run: see the top of this file. `stream` is a cudaStream_t for the cuda backend
 * (NULL = the engine's own stream), ignored by cpu. Returns when the work is queued (cuda) or
 * done (cpu). A buffer of the wrong memory kind is PAN_RESIDENCY; an unsupported dtype/layout
 * combination PAN_UNSUPPORTED. */
pan_status pan_engine_run_tensors(pan_engine_t *engine, int batch, const pan_engine_tensor *inputs,
                                  const pan_engine_tensor *outputs, void *stream);

#ifdef __cplusplus
}
#endif
#endif
