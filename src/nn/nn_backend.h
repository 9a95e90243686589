/* Engine backends (internal): a struct of function pointers plus a context, ggml-backend style.
 *
 * The engine (engine.c) owns the imported graph. For each batch size it clones the graph,
 * infers shapes for that batch, runs the passes, plans activation memory with the backend's
 * float size, then asks the backend to compile the planned graph into an executable plan
 * ("exec"). Running an exec allocates nothing: the backend allocated its arena (and any
 * workspace, e.g. im2col or cuDNN) in compile.
 *
 * cpu (cpu_backend.c): host FP32, logical layouts, OpenBLAS sgemm where linked.
 * cuda (later, cuda_backend*.c/.cu): device FP16 with FP32 accumulation, NHWC, CUDA graphs. */
#ifndef PANOPTES_NN_BACKEND_H
#define PANOPTES_NN_BACKEND_H

#include <stdint.h>

#include "nn/ir.h"
#include "nn/engine.h"

typedef struct pan_nn_backend pan_nn_backend;

struct pan_nn_backend {
    const char *name;        /* "cpu", "cuda" */
    void *ctx;               /* backend private */
    size_t float_bytes;      /* storage size of floating activations: 4 (cpu), 2 (cuda) */
    pan_memory native_memory;
    pan_dtype native_dtype;
    pan_layout native_layout;

    /* g: inferred for one batch, passes run, memory planned (tensor offsets). The graph stays
     * alive and unchanged while the exec exists. */
    pan_status (*compile)(pan_nn_backend *b, const pan_graph *g, void **exec);
    /* Optional (NULL: the engine calls compile): the same for a plan of batch >= 2, given g1, the
     * same model planned for batch 1 (inferred, passes run, memory planned), for a backend that
     * may run the batch image by image (cpu: cpu_images.c). Takes g1 over in every case (keeps it
     * in the exec or destroys it). */
    pan_status (*compile_images)(pan_nn_backend *b, const pan_graph *g, pan_graph *g1, void **exec);
    /* inputs/outputs in the order of g->inputs / g->outputs. */
    pan_status (*run)(pan_nn_backend *b, void *exec, const pan_engine_tensor *inputs,
                      const pan_engine_tensor *outputs, void *stream);
    void (*exec_free)(pan_nn_backend *b, void *exec);
    /* Optional (NULL: all 0): the device memory held for every exec (pan_engine_get_memory). */
    void (*memory)(pan_nn_backend *b, pan_engine_memory *m);
    void (*destroy)(pan_nn_backend *b); /* frees b itself */

    /* Set by the engine after create, read by compile: the persistent plan cache (nn/plan_cache.h;
     * the cuda backend keeps its convolution choices there, cpu ignores it). */
    const char *plan_cache_dir;  /* NULL: the default directory; "off": no cache. Owned by the engine */
    uint8_t model_sha256[32];    /* the model's content (file bytes and constants) */
    int has_model_hash;          /* 0: content unknown, no cache */
};

pan_status pan__cpu_backend_create(pan_nn_backend **b, int threads);
/* cuda backend (cuda_backend*.c/.cu). engine.c calls it when PANOPTES_HAVE_CUDA_ENGINE is defined
 * (define it with the backend's sources); without it --backend cuda is PAN_UNSUPPORTED and auto
 * falls back to cpu. For pan_engine_run the cuda run() gets host FP32 NCHW descriptors and must
 * copy (and convert) itself. */
pan_status pan__cuda_backend_create(pan_nn_backend **b, int device);

#endif
