/* YOLOv10 (and other end-to-end Ultralytics heads, end2end=True): one output [B, K, 6] as
 * `yolo export model=yolov10n.pt format=onnx` writes it (K = max_det, 300): per row x1, y1, x2,
 * y2 in model-input pixels, score, class id (a float). The top-K selection is inside the graph
 * (v10postprocess: TopK over the best class scores, GatherElements), so there is no NMS: rows with
 * score >= the threshold and an allowed class are kept, in score order. Input as Ultralytics'
 * LetterBox: RGB /255, centred, padded with 114. C comes from the metadata (80 without). */
#include <stdio.h>

#include "vision/family.h"

pan_status pan__family_yolov10(const pan__family_probe *p, pan_detector_kind kind, int nc, pan__family_config *cfg,
                               char *why, size_t n)
{
    (void)kind, (void)nc;
    const pan_engine_tensor_info *o = &p->outputs[0];
    if (p->n_outputs != 1 || o->rank != 3 || o->dims[2] != 6 || o->dims[1] < 1) {
        snprintf(why, n, "expected one output [B, K, 6] (x1, y1, x2, y2, score, class)");
        return PAN_MODEL;
    }
    pan__family_rows(cfg, 0, o->dims[1], 6);
    pan_head_params *h = &cfg->head;
    h->box = PAN_HEAD_BOX_XYXY;
    h->score = PAN_HEAD_SCORE_ID;
    h->class_id = (pan_head_field){0, 5, 6, 1};
    h->nms_enabled = 0;
    h->nms.top_k = (int)o->dims[1];
    pan__family_ultralytics_input(cfg);
    return PAN_OK;
}
