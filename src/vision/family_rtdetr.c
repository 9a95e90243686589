/* RT-DETR: queries, no NMS.
 *
 * Accepted exports:
 *  - Ultralytics: `yolo export model=rtdetr-l.pt format=onnx`: one output [B, Q, 4+C] (Q = 300):
 *    cx, cy, w, h as fractions of the input, then C class probabilities (RTDETRDecoder applies
 *    the sigmoid in the export);
 *  - split outputs, as DETR-style exports (Hugging Face transformers / optimum) write them: boxes
 *    [B, Q, 4] (named pred_boxes or boxes; cx, cy, w, h normalised) and class logits [B, Q, C]
 *    (pred_logits or logits; the sigmoid is applied here; an output named scores is taken as
 *    probabilities).
 * The lyuwenyu/RT-DETR export with its postprocessor (a second input orig_target_sizes, outputs
 * labels/boxes/scores) is not read: export without the postprocessor.
 * Postprocess as Ultralytics' RTDETRPredictor: one detection per query, its best class, kept
 * when the score >= the threshold, boxes scaled by the input size, no NMS, score order, at most
 * Q. Input as RTDETRPredictor: RGB /255, stretched to the input size (no letterbox). */
#include <stdio.h>
#include <string.h>

#include "vision/family.h"

static int named(const pan_engine_tensor_info *t, const char *a, const char *b)
{
    return t->name && (!strcmp(t->name, a) || (b && !strcmp(t->name, b)));
}

pan_status pan__family_rtdetr(const pan__family_probe *p, pan_detector_kind kind, int nc, pan__family_config *cfg,
                              char *why, size_t n)
{
    (void)kind;
    pan_head_params *h = &cfg->head;
    h->box = PAN_HEAD_BOX_CXCYWH_NORM;
    h->score = PAN_HEAD_SCORE_CLASSES;
    h->nms_enabled = 0;
    if (p->n_outputs == 1) {
        const pan_engine_tensor_info *o = &p->outputs[0];
        if (o->rank != 3 || o->dims[2] < 5 || o->dims[1] < 1 || (nc > 0 && o->dims[2] != 4 + nc)) {
            snprintf(why, n, "expected one output [B, Q, 4+C]%s", nc > 0 ? " with C from the metadata's names" : "");
            return PAN_MODEL;
        }
        pan__family_rows(cfg, 0, o->dims[1], o->dims[2]);
        h->num_classes = (int)(o->dims[2] - 4);
    } else {
        /* boxes and scores by name, else by shape when there are exactly two outputs */
        int bi = -1, si = -1;
        for (int j = 0; j < p->n_outputs; j++) {
            if (named(&p->outputs[j], "pred_boxes", "boxes")) bi = j;
            if (named(&p->outputs[j], "pred_logits", "logits") || named(&p->outputs[j], "scores", NULL)) si = j;
        }
        if ((bi < 0 || si < 0) && p->n_outputs == 2) {
            bi = p->outputs[0].rank == 3 && p->outputs[0].dims[2] == 4 ? 0 : 1;
            si = 1 - bi;
        }
        const pan_engine_tensor_info *ob = bi >= 0 ? &p->outputs[bi] : NULL, *os = si >= 0 ? &p->outputs[si] : NULL;
        if (!ob || !os || ob->rank != 3 || os->rank != 3 || ob->dims[2] != 4 || os->dims[1] != ob->dims[1] ||
            os->dims[2] < 1 || ob->dims[1] < 1 || (nc > 0 && os->dims[2] != nc)) {
            snprintf(why, n, "expected boxes [B, Q, 4] and class logits [B, Q, C] (pred_boxes, pred_logits)");
            return PAN_MODEL;
        }
        const int64_t C = os->dims[2];
        cfg->n_tensors = 2;
        cfg->outputs[0] = bi;
        cfg->outputs[1] = si;
        h->num_rows = (int)ob->dims[1];
        h->num_classes = (int)C;
        h->boxes = (pan_head_field){0, 0, 4, 1};
        h->scores = (pan_head_field){1, 0, C, 1};
        if (!named(os, "scores", NULL)) h->score = PAN_HEAD_SCORE_LOGITS;
    }
    h->nms.top_k = h->num_rows;
    cfg->channels = PAN_CHANNELS_RGB;
    for (int c = 0; c < 3; c++) {
        cfg->mean[c] = 0.f;
        cfg->std[c] = 255.f;
    }
    cfg->keep_ratio = 0;
    cfg->pad_value = 114.f;
    return PAN_OK;
}
