/* YOLOv8 / YOLO11 postprocessing on the host (Ultralytics ONNX export, output [B, 4+C, N]).
 *
 * Conventions, as ultralytics/utils/ops.py non_max_suppression (multi_label=False, the
 * default for predict) and scale_boxes:
 * - rows 0..3 of anchor n are cx, cy, w, h in model-input pixels (the DFL decode and the
 *   stride multiplication are inside the exported graph); rows 4.. are class scores, already
 *   passed through the sigmoid (no objectness in v8/11);
 * - one candidate per anchor: its best class (the first maximum on ties), conf = that score,
 *   kept when conf >= score_threshold; a class filter is applied after the best class is chosen,
 *   so an anchor whose best class is filtered out yields nothing (Ultralytics `classes=`);
 * - box (cx − w/2, cy − h/2, cx + w/2, cy + h/2); class-wise NMS, IoU 0.7, max_det 300;
 * - boxes mapped back through the letterbox and clamped to the frame (scale_boxes + clip_boxes). */
#include "vision/postprocess.h"

#include <string.h>

void pan_yolo_params_default(pan_yolo_params *p, int num_classes, int num_anchors)
{
    memset(p, 0, sizeof *p);
    p->num_classes = num_classes;
    p->num_anchors = num_anchors;
    p->score_threshold = 0.35f;
    p->nms.iou_threshold = 0.7f;
    p->nms.top_k = 300;
}

/* The YOLOv8/11 layout as a dense head (head_post.c holds the loop). */
pan_status pan_yolo_decode(const pan_yolo_params *p, const float *o, const pan_letterbox *lb, pan_detection_list *out)
{
    if (!p || !o || !out || p->num_classes <= 0 || p->num_anchors <= 0) return PAN_INVAL;
    pan_head_params h;
    pan_yolo_head(p, &h);
    const float *t[1] = {o};
    return pan_head_decode(&h, t, lb, out);
}

void pan_yolo_head(const pan_yolo_params *p, pan_head_params *h)
{
    const int64_t N = p->num_anchors, R = 4 + (int64_t)p->num_classes;
    memset(h, 0, sizeof *h);
    h->num_rows = p->num_anchors;
    h->num_classes = p->num_classes;
    h->box = PAN_HEAD_BOX_CXCYWH;
    h->score = PAN_HEAD_SCORE_CLASSES;
    /* [4+C, N]: field k of anchor n at k·N + n; transposed [N, 4+C]: n·(4+C) + k */
    int64_t rs = p->transposed ? R : 1, fs = p->transposed ? 1 : N;
    h->boxes = (pan_head_field){0, 0, rs, fs};
    h->scores = (pan_head_field){0, 4 * fs, rs, fs};
    h->score_threshold = p->score_threshold;
    h->nms_enabled = 1;
    h->nms = p->nms;
    h->classes = p->classes;
}
