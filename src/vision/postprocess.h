/* Detector postprocessing on the host: decoding of raw model outputs into boxes, and NMS.
 *
 * Conventions (shared by the cpu code here and any GPU twin, which is checked against it):
 * - Boxes are [x1, y1, x2, y2], continuous coordinates (pixel i covers [i, i+1)), first in
 *   model-input pixels, then mapped to source pixels through the letterbox (preprocess.h).
 * - Scores are probabilities in 0..1. A candidate passes the score threshold when
 *   score >= threshold ("at least"); NaN scores never pass.
 * - NMS is greedy, per class (boxes of different classes never suppress each other unless
 *   class_agnostic), and suppresses a box when IoU > iou_threshold (strictly, as torchvision's
 *   nms that NanoDet and Ultralytics call). IoU uses areas (x2 − x1)·(y2 − y1) with no "+1".
 * - Order is deterministic: score descending; ties by class id, then x1, y1, x2, y2 ascending.
 *   Results never depend on qsort's stability. */
#ifndef PANOPTES_POSTPROCESS_H
#define PANOPTES_POSTPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "panoptes/detection.h"
#include "vision/preprocess.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Detections of one frame. Grow-only: once large enough, reused without reallocation. */
typedef struct pan_detection_list {
    pan_detection *items;
    int count;
    int capacity;
} pan_detection_list;

/* Makes room for at least `capacity` items (keeps the contents). */
pan_status pan_detection_list_reserve(pan_detection_list *list, int capacity);
/* Frees the items and zeroes the list. NULL-safe. */
void pan_detection_list_free(pan_detection_list *list);

typedef struct pan_nms_params {
    float iou_threshold;   /* suppress when IoU > this; 0 means 0.6 */
    int top_k;             /* keep at most this many after NMS; 0 = all */
    int class_agnostic;    /* 1: one NMS over all classes */
} pan_nms_params;

/* IoU of two [x1,y1,x2,y2] boxes; 0 when the union is empty. */
float pan_box_iou(const float a[4], const float b[4]);

/* Sorts list->items (see the order above) and runs greedy NMS in place: the kept detections
 * end up first, in that order, and list->count becomes their number. No allocation. */
void pan_nms(pan_detection_list *list, const pan_nms_params *p);

/* Class filter: NULL or a bitmap of allowed class ids (bit c of mask[c / 8]); ids outside
 * [0, 8·mask_bytes) are rejected when a mask is given. */
typedef struct pan_class_filter {
    const uint8_t *mask;
    int mask_bytes;
} pan_class_filter;

static inline int pan_class_allowed(const pan_class_filter *f, int c)
{
    if (!f || !f->mask) return 1;
    if (c < 0 || c >= 8 * f->mask_bytes) return 0;
    return (f->mask[c >> 3] >> (c & 7)) & 1;
}

/* Grow-only scratch memory for the decoders (zero-initialise; free with pan_post_scratch_free). */
typedef struct pan_post_scratch {
    void *ptr;
    size_t size;
} pan_post_scratch;
void pan_post_scratch_free(pan_post_scratch *s);

/* ---- NanoDet (GFL head: nanodet-m/-g/-t, as RangiLyu/nanodet gfl_head.py get_bboxes) ---------
 * Per level l with stride s: feature map fw = ceil(W/s) by fh = ceil(H/s); prior index
 * i = y·fw + x; prior centre ((x + 0.5)·s, (y + 0.5)·s) (GFLHead.get_single_level_center_point;
 * NanoDet-Plus uses x·s instead: not this model). cls[l] is [fh·fw, C] scores, already
 * sigmoid-ed; reg[l] is [fh·fw, 4·(reg_max+1)] raw logits, sides in the order l, t, r, b.
 * Distance per side = Σ softmax(logits)_i · i, times s. Box = (cx − l, cy − t, cx + r, cy + b)
 * clamped to [0, W] × [0, H] (distance2bbox with max_shape). Per level the nms_pre priors with
 * the highest max-over-classes score are kept (ties: lower prior index). Then class-wise NMS,
 * IoU 0.6, at most max_det (100) results. The official code thresholds at 0.05 before NMS;
 * greedy NMS never lets a lower-scored box suppress a higher one, so thresholding at a higher
 * value first gives exactly the official detections above that value. */
#define PAN_NANODET_MAX_LEVELS 5

typedef struct pan_nanodet_params {
    int input_w, input_h;         /* model input, e.g. 416 × 416 */
    int num_classes;              /* 80 */
    int reg_max;                  /* 10 for nanodet-g 416: 11 bins per side */
    int num_levels;               /* 3 */
    int strides[PAN_NANODET_MAX_LEVELS]; /* 8, 16, 32 */
    int nms_pre;                  /* 1000; 0 = no per-level top-k */
    float score_threshold;        /* 0.05 official, 0.35 for output */
    pan_nms_params nms;           /* iou 0.6, top_k 100 */
    pan_class_filter classes;
} pan_nanodet_params;

/* Fills p with nanodet-g 416 COCO defaults (score threshold 0.35). */
void pan_nanodet_params_default(pan_nanodet_params *p);
/* Number of priors of level l (ceil(W/s)·ceil(H/s)). */
int pan_nanodet_level_size(const pan_nanodet_params *p, int level);

/* Decodes one image's outputs into `out` (model-input pixels; replaced, not appended).
 * With lb != NULL the boxes are mapped to source pixels. */
pan_status pan_nanodet_decode(const pan_nanodet_params *p, const float *const *cls, const float *const *reg,
                              const pan_letterbox *lb, pan_detection_list *out, pan_post_scratch *scratch);

/* ---- YOLOv8 / YOLO11 (Ultralytics export: output [B, 4+C, N]) -----------------------------
 * Per anchor n: cx, cy, w, h in model-input pixels (rows 0..3), class scores already sigmoid-ed
 * (rows 4..4+C−1). As Ultralytics' non_max_suppression with multi_label=False: one candidate
 * per anchor with its best class (first maximum), conf = that score; the class filter applies
 * after the best class is chosen; box = (cx − w/2, cy − h/2, cx + w/2, cy + h/2); class-wise
 * NMS (IoU 0.7 as Ultralytics predict, max_det 300). transposed = 1 reads [N, 4+C] instead. */
typedef struct pan_yolo_params {
    int num_classes;
    int num_anchors;
    int transposed;
    float score_threshold;   /* 0.25 Ultralytics default, 0.35 for output */
    pan_nms_params nms;      /* iou 0.7, top_k 300 */
    pan_class_filter classes;
} pan_yolo_params;

void pan_yolo_params_default(pan_yolo_params *p, int num_classes, int num_anchors);
pan_status pan_yolo_decode(const pan_yolo_params *p, const float *output, const pan_letterbox *lb,
                           pan_detection_list *out);

#ifdef __cplusplus
}
#endif
#endif
