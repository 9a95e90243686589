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

#include "vision/detector.h"
#include "nn/engine.h"
#include "vision/postprocess.h"
#include "vision/preprocess.h"

typedef struct pan__detector_backend pan__detector_backend;

/* What a backend that decodes on its own (cuda: on the GPU) needs to know about the model's
 * postprocess; filled by detector.c from its cpu decoder parameters so both decode alike. */
typedef struct pan__detector_post_config {
    int yolo;                       /* 0 NanoDet, 1 a dense head (every other family; `head` below) */
    int num_classes;
    float score_threshold, iou_threshold;
    int top_k, nms_pre;
    int input_w, input_h;
    int use_mask;
    uint8_t class_mask[32];         /* bit c of [c / 8] = class c allowed */
    int num_levels, reg_max;        /* NanoDet */
    int cls_output[PAN_NANODET_MAX_LEVELS], reg_output[PAN_NANODET_MAX_LEVELS];
    int level_n[PAN_NANODET_MAX_LEVELS], level_fw[PAN_NANODET_MAX_LEVELS], stride[PAN_NANODET_MAX_LEVELS];
    int num_anchors;                /* dense head: rows per image */
    pan_head_params head;           /* dense head: layout and thresholds (classes: class_mask above) */
    int n_head_tensors;
    int head_output[PAN_HEAD_MAX_TENSORS]; /* engine output of head tensor t */
    size_t head_numel[PAN_HEAD_MAX_TENSORS]; /* elements of head tensor t per image */
} pan__detector_post_config;

struct pan__detector_backend {
    const char *name;
    void *ctx;
    /* Preprocesses frames[0..n) with pp, runs the engine and leaves output j of the batch in
     * host FP32 at outputs[j] (buffers owned by the backend, sized for max_batch, valid until the
     * next run). lb[i] receives frame i's letterbox. */
    pan_status (*run)(pan__detector_backend *b, pan_frame *const *frames, int n, const pan_preprocess_params *pp,
                      pan_letterbox *lb, float *const **outputs);
    void (*destroy)(pan__detector_backend *b); /* frees b */
    /* Optional: the whole detection (preprocess, engine, decode, NMS) producing the final lists
     * in source pixels; when set, detector.c calls it instead of run + the host decoders. */
    pan_status (*detect)(pan__detector_backend *b, pan_frame *const *frames, int n, const pan_preprocess_params *pp,
                         pan_letterbox *lb, pan_detection_list *out);
};

/* The cpu backend over an existing engine (not owned). */
pan_status pan__detector_cpu_create(pan__detector_backend **b, pan_engine_t *engine, int max_batch);

/* The cuda backend: device frames in, compact lists out (detector_cuda.c; CUDA builds only). */
pan_status pan__detector_cuda_create(pan__detector_backend **b, pan_engine_t *engine, int max_batch, int device,
                                     const pan_preprocess_params *pp, const pan__detector_post_config *cfg);

#endif
