/* Object detector: frames in, per-frame detection lists out (boxes in source pixels).
 *
 * A detector owns an inference engine (engine.h) and does the whole chain for a batch of frames:
 * preprocessing with the model's input convention, the engine run, the model's own
 * postprocessing (postprocess.h) and the mapping of boxes back through the letterbox.
 *
 * Models (kind AUTO tells them apart by their outputs and metadata; src/vision/family.c):
 *  - NanoDet (GFL head), TF.js graph model, e.g. the bundled NanoDet-g 416
 *    (models/nanodet.json): input B,G,R planes NCHW, (v − mean)/std with mean [103.53, 116.28,
 *    123.675], std [57.375, 57.12, 58.395] on the 0–255 scale, keep-ratio centred letterbox with
 *    black padding; outputs per stride 8/16/32: class scores [B, N, C] (sigmoid applied in the
 *    graph) and box distributions [B, N, 4·(reg_max+1)].
 *  - YOLOv5 / YOLOv7 [B, 3·cells, 5+C], YOLOX [B, cells, 5+C], YOLOv8 / YOLO11 [B, 4+C, cells]
 *    or [B, cells, 4+C], YOLOv10 [B, K, 6], RT-DETR [B, Q, 4+C] or boxes [B, Q, 4] + logits
 *    [B, Q, C] (ONNX exports; cells = grid cells of the input at strides 8, 16, 32): each file
 *    src/vision/family_*.c states the export it reads and the input convention it uses.
 *
 * Thread safety: one detector serves one thread at a time. */
#ifndef PANOPTES_DETECTOR_H
#define PANOPTES_DETECTOR_H

#include "panoptes/backend.h"
#include "panoptes/detection.h"
#include "panoptes/frame.h"
#include "vision/postprocess.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_detector_kind {
    PAN_DETECTOR_AUTO = 0, /* from the engine's outputs and the model's metadata */
    PAN_DETECTOR_NANODET,
    PAN_DETECTOR_YOLO,     /* YOLOv8 / YOLO11: [B, 4+C, N] or [B, N, 4+C] */
    PAN_DETECTOR_YOLOV5,   /* YOLOv5 / YOLOv7: [B, N, 5+C], objectness × class */
    PAN_DETECTOR_YOLOX,    /* YOLOX as tools/export_onnx.py writes it: [B, N, 5+C] before the grid decode */
    PAN_DETECTOR_YOLOX_DECODED, /* YOLOX exported with --decode_in_inference */
    PAN_DETECTOR_YOLOV10,  /* end-to-end [B, K, 6]: x1, y1, x2, y2, score, class; no NMS */
    PAN_DETECTOR_RTDETR,   /* [B, Q, 4+C] or [B, Q, 4] + [B, Q, C]; no NMS */
} pan_detector_kind;
#define PAN_DETECTOR_YOLOV8 PAN_DETECTOR_YOLO

const char *pan_detector_kind_name(pan_detector_kind kind);
/* --model-type names: auto, nanodet, yolov5, yolov7, yolox, yolox-decoded, yolov8, yolo11, yolo
 * (= yolov8), yolov10, rtdetr (also rt-detr). PAN_INVAL for anything else (nothing logged). */
pan_status pan_detector_kind_parse(const char *name, pan_detector_kind *kind);
/* The accepted names, comma-separated, for usage and error messages. */
const char *pan_detector_kind_names(void);

typedef struct pan_detector pan_detector;

typedef struct pan_detector_params {
    const char *model_path;  /* NULL = "models/nanodet.json" */
    pan_detector_kind kind;  /* 0 = auto */
    pan_backend backend;     /* AUTO/CPU: cpu (the cuda path plugs in behind the same API) */
    int max_batch;           /* largest n passed to detect; 0 = 1 */
    float score_threshold;   /* keep detections with score >= this; 0 = 0.35 */
    float iou_threshold;     /* NMS IoU; 0 = the model's default (NanoDet 0.6, YOLO 0.7) */
    int top_k;               /* detections kept per frame; 0 = the model's default (NanoDet 100, YOLO 300) */
    const int *classes;      /* class filter (e.g. {0} = person only); NULL = all classes */
    int n_classes;
    int threads;             /* cpu engine threads; 0 = all cores (max 8) */
    int device;              /* CUDA device ordinal (cuda backend) */
    const char *cache_dir;   /* the engine's plan cache (pan_engine_params.cache_dir): NULL = default, "off" */
    /* Only grows at the end; zero-initialise. */
} pan_detector_params;

pan_status pan_detector_create(pan_detector **det, const pan_detector_params *params);
/* NULL-safe; sets *det to NULL. */
void pan_detector_destroy(pan_detector **det);

/* Detects objects in n frames (1 <= n <= max_batch). out[i] receives frame i's detections,
 * sorted by score (descending), boxes in source pixels. Lists are reused: once they have grown
 * to their steady-state size, no memory is allocated. Release with pan_detection_list_free. */
pan_status pan_detector_detect(pan_detector *det, pan_frame *const *frames, int n, pan_detection_list *out);

pan_detector_kind pan_detector_get_kind(const pan_detector *det);
/* Model input size in pixels. */
void pan_detector_input_size(const pan_detector *det, int *width, int *height);
int pan_detector_num_classes(const pan_detector *det);

#ifdef __cplusplus
}
#endif
#endif
