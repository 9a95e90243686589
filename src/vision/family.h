/* Detector families: which model outputs Panoptes reads, how it tells them apart, and each
 * family's input convention and postprocess defaults (internal to src/vision).
 *
 * A family turns the engine's outputs into a dense-head description (pan_head_params,
 * postprocess.h) that the cpu decoder and the GPU kernel both read. One file per family
 * (family_yolov5.c, family_yolox.c, family_yolov8.c, family_yolov10.c, family_rtdetr.c) says
 * which export it accepts and follows that project's own postprocess; family.c chooses one
 * (from metadata, then from shapes: rows against the grid cells of the input size) or checks
 * the one the user named (--model-type). NanoDet keeps its own decoder (detector.c). */
#ifndef PANOPTES_VISION_FAMILY_H
#define PANOPTES_VISION_FAMILY_H

#include <stddef.h>

#include "nn/engine.h"
#include "vision/detector.h"
#include "vision/postprocess.h"
#include "vision/preprocess.h"

/* What a family looks at. */
typedef struct pan__family_probe {
    const char *model_path;                 /* for messages */
    int input_w, input_h;                   /* model input */
    int n_outputs;
    const pan_engine_tensor_info *outputs;  /* [n_outputs]; dims[0] is the batch */
    /* Model metadata (ONNX metadata_props): the value of key, or NULL (also when meta is NULL). */
    const char *(*meta)(const void *ctx, const char *key);
    const void *meta_ctx;
} pan__family_probe;

/* What a family decides. */
typedef struct pan__family_config {
    pan_detector_kind kind;
    int n_tensors;                        /* head tensors: 1, or 2 (split boxes / scores) */
    int outputs[PAN_HEAD_MAX_TENSORS];    /* engine output index of head tensor t */
    pan_head_params head;                 /* defaults: score 0.35, the family's NMS IoU and top-k */
    /* input convention (width, height and layout are the model's, set by the detector) */
    pan_channel_order channels;
    float mean[3], std[3];
    int keep_ratio;
    float pad_value;
    char layout[96];                      /* what was read, for logs: "output0 [B, 84, 8400]" */
} pan__family_config;

/* Chooses (kind AUTO) or checks (any other kind but NANODET) the family and fills cfg.
 * AUTO may answer kind NANODET with n_tensors 0: the detector's NanoDet setup takes over.
 * PAN_MODEL with an error logged that names the model, what was seen and the families. */
pan_status pan__family_resolve(const pan__family_probe *p, pan_detector_kind kind, pan__family_config *cfg);

/* ---- for the family files ------------------------------------------------------------------- */
/* Each checks the outputs against its family. 0 = fits (cfg filled); otherwise returns
 * PAN_MODEL with why (what it expected, what it saw) written into why[n]. num_classes is the
 * class count the metadata gives (0 = unknown). */
typedef pan_status (*pan__family_fn)(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                                     pan__family_config *cfg, char *why, size_t n);
pan_status pan__family_yolov5(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                              pan__family_config *cfg, char *why, size_t n);
pan_status pan__family_yolox(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                             pan__family_config *cfg, char *why, size_t n);
pan_status pan__family_yolov8(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                              pan__family_config *cfg, char *why, size_t n);
pan_status pan__family_yolov10(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                               pan__family_config *cfg, char *why, size_t n);
pan_status pan__family_rtdetr(const pan__family_probe *p, pan_detector_kind kind, int num_classes,
                              pan__family_config *cfg, char *why, size_t n);

/* Grid cells of the input at strides 8/16/32 (levels 3) or 8..64 (levels 4). */
int pan__family_cells(const pan__family_probe *p, int levels);
/* "[B, 25200, 85]" (dims[0] shown as B when dynamic) */
const char *pan__family_dims(const pan_engine_tensor_info *t, char *buf, size_t n);
/* The Ultralytics / YOLOv5 input convention: RGB, /255, centred letterbox padded with 114. */
void pan__family_ultralytics_input(pan__family_config *cfg);
/* Fills the single-tensor [B, rows, fields] head addressing (fields contiguous per row). */
void pan__family_rows(pan__family_config *cfg, int output, int64_t rows, int64_t fields);

#endif
