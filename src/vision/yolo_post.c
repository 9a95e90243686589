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

#include <math.h>
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

pan_status pan_yolo_decode(const pan_yolo_params *p, const float *o, const pan_letterbox *lb, pan_detection_list *out)
{
    if (!p || !o || !out || p->num_classes <= 0 || p->num_anchors <= 0) return PAN_INVAL;
    const size_t N = (size_t)p->num_anchors, C = (size_t)p->num_classes, R = 4 + C;
    /* element (row r, anchor n) */
#define AT(r, n) (p->transposed ? o[(size_t)(n) * R + (size_t)(r)] : o[(size_t)(r) * N + (size_t)(n)])
    out->count = 0;
    for (size_t n = 0; n < N; n++) {
        int best = 0;
        float conf = AT(4, n);
        for (size_t c = 1; c < C; c++) {
            float v = AT(4 + c, n);
            if (v > conf || (isnan(conf) && !isnan(v))) {
                conf = v;
                best = (int)c;
            }
        }
        if (!(conf >= p->score_threshold) || !pan_class_allowed(&p->classes, best)) continue;
        float cx = AT(0, n), cy = AT(1, n), w = AT(2, n), h = AT(3, n);
        if (!isfinite(cx) || !isfinite(cy) || !isfinite(w) || !isfinite(h)) continue;
        if (out->count == out->capacity) {
            pan_status st = pan_detection_list_reserve(out, out->count + 1);
            if (st) return st;
        }
        pan_detection *d = &out->items[out->count++];
        d->box[0] = cx - 0.5f * w;
        d->box[1] = cy - 0.5f * h;
        d->box[2] = cx + 0.5f * w;
        d->box[3] = cy + 0.5f * h;
        d->score = conf;
        d->class_id = best;
        d->embedding = NULL;
        d->embedding_dim = 0;
    }
#undef AT
    pan_nms(out, &p->nms);
    if (lb)
        for (int i = 0; i < out->count; i++) pan_letterbox_unmap_box(lb, out->items[i].box);
    return PAN_OK;
}
