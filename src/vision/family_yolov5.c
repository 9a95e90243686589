/* YOLOv5 / YOLOv7: one output [B, N, 5+C] (anchor-based: N = 3 anchors × grid cells).
 *
 * Accepted exports:
 *  - ultralytics/yolov5: `python export.py --weights yolov5s.pt --include onnx` ([1, 25200, 85] at
 *    640; the anchor-grid decode is inside the graph: x, y, w, h in model-input pixels);
 *  - WongKinYiu/yolov7: `python export.py --weights yolov7.pt --grid --simplify` (--grid puts the
 *    same decode in the graph; without it the raw [B, 3, H, W, 85] maps are not read here;
 *    --end2end adds an NMS plugin, not read here either).
 * Row n: cx, cy, w, h, objectness, C class probabilities (all after the sigmoid).
 * Postprocess as yolov5's utils/general.py non_max_suppression with detect.py's defaults
 * (multi_label off): conf = objectness × the best class's probability (first maximum), kept when
 * conf >= score threshold; class-wise NMS at IoU 0.45; max_det 1000. Input as detect.py's
 * letterbox: RGB /255, centred, padded with 114. */
#include <stdio.h>

#include "vision/family.h"

pan_status pan__family_yolov5(const pan__family_probe *p, pan_detector_kind kind, int nc, pan__family_config *cfg,
                              char *why, size_t n)
{
    (void)kind;
    const pan_engine_tensor_info *o = &p->outputs[0];
    if (p->n_outputs != 1 || o->rank != 3) {
        snprintf(why, n, "expected one output [B, N, 5+C]%s",
                 o->rank == 5 ? " (a YOLOv7 export without --grid has raw [B, 3, H, W, 5+C] maps: export with --grid)"
                              : "");
        return PAN_MODEL;
    }
    const int64_t rows = o->dims[1], fields = o->dims[2];
    if (fields < 6 || rows < fields) {
        snprintf(why, n, "expected [B, N, 5+C] with N anchors (%d at 3 per grid cell) and C >= 1",
                 3 * pan__family_cells(p, 3));
        return PAN_MODEL;
    }
    if (nc > 0 && fields != 5 + nc) {
        snprintf(why, n, "the metadata names %d classes, so rows of 5+%d = %d fields, not %lld", nc, nc, 5 + nc,
                 (long long)fields);
        return PAN_MODEL;
    }
    pan__family_rows(cfg, 0, rows, fields);
    pan_head_params *h = &cfg->head;
    h->num_classes = (int)(fields - 5);
    h->box = PAN_HEAD_BOX_CXCYWH;
    h->score = PAN_HEAD_SCORE_OBJ_CLASSES;
    h->objectness = (pan_head_field){0, 4, fields, 1};
    h->scores.offset = 5;
    h->nms_enabled = 1;
    h->nms.iou_threshold = 0.45f;
    h->nms.top_k = 1000;
    pan__family_ultralytics_input(cfg);
    return PAN_OK;
}
