/* YOLOX: one output [B, N, 5+C], anchor-free: N = grid cells at strides 8, 16, 32.
 *
 * Accepted exports (Megvii-BaseDetection/YOLOX, demo/ONNXRuntime/README.md):
 *  - `python3 tools/export_onnx.py --output-name yolox_s.onnx -n yolox-s -c yolox_s.pth` (the
 *    default, model type yolox): the head's decode is left out, row n holds the raw regression
 *    (x, y offsets from its cell, log w, log h, in strides), objectness and C class probabilities
 *    (both after the sigmoid). The grid decode is done here as YOLOXHead.decode_outputs: rows are
 *    stride 8 cells row-major (index y·W/8 + x), then 16, then 32; centre (x + gx)·s, (y + gy)·s,
 *    size exp(w)·s, exp(h)·s.
 *  - the same with `--decode_in_inference` (model type yolox-decoded): cx, cy, w, h in pixels.
 * The two exports have the same shape, so auto-detection answers yolox (the default export);
 * name yolox-decoded for the other.
 * Postprocess as yolox/utils/boxes.py postprocess: conf = objectness × the best class's
 * probability, kept when >= the threshold, class-wise NMS (batched_nms) at IoU 0.45 (the ONNX
 * demo's), at most 300 kept. Input as YOLOX's preproc: B, G, R planes on the 0–255 scale (no
 * normalisation, the legacy=False models), letterbox padded with 114. YOLOX places the image at
 * the top-left of the letterbox; Panoptes centres it (its letterbox is shared by all models) and
 * maps boxes back through that: the network is convolutional, so the boxes are the same up to
 * the border cells. */
#include <stdio.h>

#include "vision/family.h"

pan_status pan__family_yolox(const pan__family_probe *p, pan_detector_kind kind, int nc, pan__family_config *cfg,
                             char *why, size_t n)
{
    const pan_engine_tensor_info *o = &p->outputs[0];
    const int cells = pan__family_cells(p, 3);
    if (p->n_outputs != 1 || o->rank != 3) {
        snprintf(why, n, "expected one output [B, %d, 5+C]", cells);
        return PAN_MODEL;
    }
    const int64_t rows = o->dims[1], fields = o->dims[2];
    const int decoded = kind == PAN_DETECTOR_YOLOX_DECODED;
    if (fields < 6 || (!decoded && rows != cells) || rows < 1) {
        snprintf(why, n, "expected [B, %d, 5+C] (one row per grid cell at strides 8/16/32 of the %dx%d input) with C >= 1",
                 cells, p->input_w, p->input_h);
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
    h->box = decoded ? PAN_HEAD_BOX_CXCYWH : PAN_HEAD_BOX_GRID;
    h->num_levels = 3;
    h->strides[0] = 8, h->strides[1] = 16, h->strides[2] = 32;
    h->score = PAN_HEAD_SCORE_OBJ_CLASSES;
    h->objectness = (pan_head_field){0, 4, fields, 1};
    h->scores.offset = 5;
    h->nms_enabled = 1;
    h->nms.iou_threshold = 0.45f;
    h->nms.top_k = 300;
    cfg->channels = PAN_CHANNELS_BGR;
    for (int c = 0; c < 3; c++) {
        cfg->mean[c] = 0.f;
        cfg->std[c] = 1.f;
    }
    cfg->keep_ratio = 1;
    cfg->pad_value = 114.f;
    return PAN_OK;
}
