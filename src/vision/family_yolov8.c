/* YOLOv8 / YOLO11 (Ultralytics): one output [B, 4+C, N] as `yolo export model=yolov8n.pt
 * format=onnx` writes it (N = grid cells at strides 8, 16, 32: anchor-free), or its transpose
 * [B, N, 4+C] that other export scripts produce. Postprocess in yolo_post.c (cx, cy, w, h in
 * pixels, C probabilities, best class, NMS 0.7, max_det 300); input as Ultralytics' LetterBox:
 * RGB /255, centred, padded with 114. */
#include <stdio.h>

#include "vision/family.h"

pan_status pan__family_yolov8(const pan__family_probe *p, pan_detector_kind kind, int nc, pan__family_config *cfg,
                              char *why, size_t n)
{
    (void)kind;
    const pan_engine_tensor_info *o = &p->outputs[0];
    const int cells3 = pan__family_cells(p, 3);
    if (p->n_outputs < 1 || o->rank != 3) {
        snprintf(why, n, "expected one output [B, 4+C, %d]", cells3);
        return PAN_MODEL;
    }
    const int64_t a = o->dims[1], b = o->dims[2];
    /* [B, 4+C, N]: N (anchors) > 4+C for any real input size; [B, N, 4+C] otherwise */
    const int transposed = a > b;
    const int64_t rows = transposed ? a : b, fields = transposed ? b : a;
    if (fields < 5 || (nc > 0 && fields != 4 + nc)) {
        if (nc > 0) snprintf(why, n, "expected [B, 4+%d, N] (the metadata names %d classes)", nc, nc);
        else snprintf(why, n, "expected [B, 4+C, N] with C >= 1");
        return PAN_MODEL;
    }
    pan_yolo_params y;
    pan_yolo_params_default(&y, (int)(fields - 4), (int)rows);
    y.transposed = transposed;
    pan_yolo_head(&y, &cfg->head);
    cfg->n_tensors = 1;
    cfg->outputs[0] = 0;
    pan__family_ultralytics_input(cfg);
    return PAN_OK;
}
