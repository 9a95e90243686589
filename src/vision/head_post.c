/* Dense-head postprocessing on the host: one decoder for every family whose output is a row per
 * anchor or query (YOLOv5/v7, YOLOX, YOLOv8/11, YOLOv10, RT-DETR). The description of where
 * each field sits and what it means is pan_head_params (postprocess.h); the families fill it
 * (src/vision/family_*.c). The GPU twin is head_decode in postprocess_gpu.cu. */
#include "vision/postprocess.h"

#include <math.h>
#include <string.h>

int pan_head_grid_rows(int w, int h, const int *strides, int num_levels)
{
    int64_t n = 0;
    for (int l = 0; l < num_levels; l++) {
        int s = strides[l];
        if (s <= 0 || w <= 0 || h <= 0) return 0;
        n += (int64_t)((w + s - 1) / s) * ((h + s - 1) / s);
    }
    return n > INT32_MAX ? 0 : (int)n;
}

static inline float at(const float *const *t, const pan_head_field *f, int64_t n, int64_t k)
{
    return t[f->tensor][f->offset + n * f->row_stride + k * f->field_stride];
}

/* Best class (first maximum; a number beats NaN) and its raw value. */
static int best_class(const pan_head_params *p, const float *const *t, int64_t n, float *value)
{
    int best = 0;
    float v = at(t, &p->scores, n, 0);
    for (int c = 1; c < p->num_classes; c++) {
        float x = at(t, &p->scores, n, c);
        if (x > v || (isnan(v) && !isnan(x))) {
            v = x;
            best = c;
        }
    }
    *value = v;
    return best;
}

/* Score and class of row n; returns 0 when the row has none (bad class id). */
static int row_score(const pan_head_params *p, const float *const *t, int64_t n, float *score, int *cls)
{
    switch (p->score) {
    case PAN_HEAD_SCORE_CLASSES:
        *cls = best_class(p, t, n, score);
        return 1;
    case PAN_HEAD_SCORE_OBJ_CLASSES:
        *cls = best_class(p, t, n, score);
        *score *= at(t, &p->objectness, n, 0);
        return 1;
    case PAN_HEAD_SCORE_LOGITS:
        *cls = best_class(p, t, n, score);
        *score = 1.f / (1.f + expf(-*score));
        return 1;
    case PAN_HEAD_SCORE_ID: {
        float id = at(t, &p->class_id, n, 0);
        *score = at(t, &p->scores, n, 0);
        if (!(id >= 0.f && id < 1e6f)) return 0;
        *cls = (int)lrintf(id);
        return 1;
    }
    }
    return 0;
}

/* Box of row n in model-input pixels. */
static void row_box(const pan_head_params *p, const float *const *t, int64_t n, float box[4])
{
    float a = at(t, &p->boxes, n, 0), b = at(t, &p->boxes, n, 1), c = at(t, &p->boxes, n, 2),
          d = at(t, &p->boxes, n, 3);
    switch (p->box) {
    case PAN_HEAD_BOX_XYXY:
        box[0] = a, box[1] = b, box[2] = c, box[3] = d;
        return;
    case PAN_HEAD_BOX_CXCYWH_NORM:
        a *= (float)p->input_w, c *= (float)p->input_w;
        b *= (float)p->input_h, d *= (float)p->input_h;
        break;
    case PAN_HEAD_BOX_GRID: {
        int64_t i = n;
        int l = 0, s = p->strides[0], fw = (p->input_w + s - 1) / s;
        for (;;) {
            int64_t rows = (int64_t)fw * ((p->input_h + s - 1) / s);
            if (i < rows || l + 1 >= p->num_levels) break;
            i -= rows;
            s = p->strides[++l];
            fw = (p->input_w + s - 1) / s;
        }
        a = (a + (float)(i % fw)) * (float)s;
        b = (b + (float)(i / fw)) * (float)s;
        c = expf(c) * (float)s;
        d = expf(d) * (float)s;
        break;
    }
    case PAN_HEAD_BOX_CXCYWH:
        break;
    }
    box[0] = a - 0.5f * c;
    box[1] = b - 0.5f * d;
    box[2] = a + 0.5f * c;
    box[3] = b + 0.5f * d;
}

pan_status pan_head_decode(const pan_head_params *p, const float *const *t, const pan_letterbox *lb,
                           pan_detection_list *out)
{
    if (!p || !t || !out || p->num_rows <= 0 || p->num_classes <= 0) return PAN_INVAL;
    if (p->box == PAN_HEAD_BOX_GRID &&
        (p->num_levels <= 0 || p->num_levels > PAN_HEAD_MAX_LEVELS ||
         pan_head_grid_rows(p->input_w, p->input_h, p->strides, p->num_levels) != p->num_rows))
        return PAN_INVAL;
    out->count = 0;
    for (int64_t n = 0; n < p->num_rows; n++) {
        float score;
        int cls;
        if (!row_score(p, t, n, &score, &cls)) continue;
        if (!(score >= p->score_threshold) || !pan_class_allowed(&p->classes, cls)) continue;
        float box[4];
        row_box(p, t, n, box);
        if (!isfinite(box[0]) || !isfinite(box[1]) || !isfinite(box[2]) || !isfinite(box[3])) continue;
        if (out->count == out->capacity) {
            pan_status st = pan_detection_list_reserve(out, out->count + 1);
            if (st) return st;
        }
        pan_detection *d = &out->items[out->count++];
        memcpy(d->box, box, sizeof box);
        d->score = score;
        d->class_id = cls;
        d->embedding = NULL;
        d->embedding_dim = 0;
    }
    if (p->nms_enabled) pan_nms(out, &p->nms);
    else pan_detection_list_sort(out, p->nms.top_k);
    if (lb)
        for (int i = 0; i < out->count; i++) pan_letterbox_unmap_box(lb, out->items[i].box);
    return PAN_OK;
}
