/* Detector internals: the backend-specific part of a detector behind a small interface.
 *
 * A detector backend turns a batch of frames into the model's raw outputs in host FP32
 * (preprocess + engine run + whatever copy is needed); the common code (detector.c) then runs
 * the model's postprocess on the host. The cpu backend (detector_cpu.c) preprocesses with
 * pan_preprocess_cpu and runs the engine's host path. A cuda backend preprocesses device
 * frames with the fused kernel, runs the FP16 engine and copies only the raw outputs (or, later,
 * decodes on the GPU and replaces `run` with a compact-list path). */
#ifndef PANOPTES_VISION_DETECTOR_IMPL_H
#define PANOPTES_VISION_DETECTOR_IMPL_H

#include "panoptes/detector.h"
#include "panoptes/engine.h"
#include "panoptes/preprocess.h"

typedef struct pan__detector_backend pan__detector_backend;

struct pan__detector_backend {
    const char *name;
    void *ctx;
    /* Preprocesses frames[0..n) with pp, runs the engine and leaves output j of the batch in
     * host FP32 at outputs[j] (buffers owned by the backend, sized for max_batch, valid until the
     * next run). lb[i] receives frame i's letterbox. */
    pan_status (*run)(pan__detector_backend *b, pan_frame *const *frames, int n, const pan_preprocess_params *pp,
                      pan_letterbox *lb, float *const **outputs);
    void (*destroy)(pan__detector_backend *b); /* frees b */
};

/* The cpu backend over an existing engine (not owned). */
pan_status pan__detector_cpu_create(pan__detector_backend **b, pan_engine_t *engine, int max_batch);

#endif
