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

/* ---- Dense heads: one row per anchor or query --------------------------------------------------
 * The single-tensor (or boxes + scores) outputs of YOLOv5/v7, YOLOX, YOLOv8/11, YOLOv10 and
 * RT-DETR differ only in where each field sits and what it means, so one decoder reads them all
 * from a description (head_post.c; the GPU twin in postprocess_gpu.cu reads the same one). Which
 * family fills it how is in src/vision/family_*.c.
 *
 * Addressing: field k of row n of a field group is element
 *     tensors[f.tensor][f.offset + n·f.row_stride + k·f.field_stride]
 * of one image's tensors ([B, 4+C, N] YOLOv8: row_stride 1, field_stride N; [B, N, 5+C]:
 * row_stride 5+C, field_stride 1; split outputs: two tensors).
 *
 * Per row: the score (see pan_head_score) and its class, kept when score >= score_threshold
 * (NaN never) and the class passes the filter (applied after the best class is chosen, as
 * Ultralytics' `classes=`); the box (see pan_head_box) in model-input pixels, dropped when not
 * finite. Then class-wise NMS (nms_enabled) or only the total order of pan_nms and a cut to
 * nms.top_k (end-to-end heads: YOLOv10, RT-DETR), and the mapping through the letterbox. */
#define PAN_HEAD_MAX_TENSORS 2
#define PAN_HEAD_MAX_LEVELS 4

typedef enum pan_head_box {
    PAN_HEAD_BOX_CXCYWH = 0, /* centre x, y, width, height in model-input pixels */
    PAN_HEAD_BOX_XYXY,       /* x1, y1, x2, y2 in model-input pixels */
    PAN_HEAD_BOX_CXCYWH_NORM, /* centre and size as fractions of the input width / height */
    /* YOLOX without its decode: (x + gx)·s, (y + gy)·s, exp(w)·s, exp(h)·s for the cell (gx, gy)
     * of stride s the row belongs to (rows: stride 8 cells row-major, then 16, 32[, 64]) */
    PAN_HEAD_BOX_GRID,
} pan_head_box;

typedef enum pan_head_score {
    PAN_HEAD_SCORE_CLASSES = 0, /* C probabilities: best class (first maximum), its probability */
    PAN_HEAD_SCORE_OBJ_CLASSES, /* objectness × the best class's probability (YOLOv5/v7, YOLOX) */
    PAN_HEAD_SCORE_LOGITS,      /* C logits: best class, sigmoid of its logit (DETR-style exports) */
    PAN_HEAD_SCORE_ID,          /* one score field and a class-id field (YOLOv10 [K, 6]) */
} pan_head_score;

typedef struct pan_head_field {
    int tensor;           /* 0 .. PAN_HEAD_MAX_TENSORS-1 */
    int64_t offset;       /* element of field 0, row 0 */
    int64_t row_stride;   /* elements from row n to row n+1 */
    int64_t field_stride; /* elements from field k to field k+1 */
} pan_head_field;

typedef struct pan_head_params {
    int num_rows;             /* anchors or queries per image */
    int num_classes;          /* C (ID heads: for the class-id range check only) */
    pan_head_box box;
    pan_head_score score;
    pan_head_field boxes;     /* 4 fields */
    pan_head_field scores;    /* C fields (1 for ID) */
    pan_head_field objectness; /* OBJ_CLASSES: 1 field */
    pan_head_field class_id;  /* ID: 1 field holding the class as a float */
    int input_w, input_h;     /* model input: CXCYWH_NORM scale, GRID cells */
    int num_levels;           /* GRID: strides[0..num_levels) */
    int strides[PAN_HEAD_MAX_LEVELS];
    float score_threshold;
    int nms_enabled;          /* 0: end-to-end head, no NMS */
    pan_nms_params nms;       /* iou_threshold (nms_enabled), top_k (always) */
    pan_class_filter classes;
} pan_head_params;

/* Rows of a grid head: Σ ceil(W/s)·ceil(H/s) over the levels (YOLOX, and what the families'
 * detection compares N with). */
int pan_head_grid_rows(int input_w, int input_h, const int *strides, int num_levels);

/* Decodes one image: tensors[t] points at image i's part of head tensor t. out is replaced. */
pan_status pan_head_decode(const pan_head_params *p, const float *const *tensors, const pan_letterbox *lb,
                           pan_detection_list *out);

/* The total order of pan_nms without suppression, then at most top_k (0 = all) kept. */
void pan_detection_list_sort(pan_detection_list *list, int top_k);

/* The YOLOv8/11 parameters above as a dense head (what pan_yolo_decode runs). */
void pan_yolo_head(const pan_yolo_params *p, pan_head_params *h);

#ifdef __cplusplus
}
#endif
#endif
