/* Greedy non-maximum suppression on the host, and the grow-only detection list.
 * Conventions (IoU, threshold comparison, tie order) are in src/vision/postprocess.h. */
#include "vision/postprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

pan_status pan_detection_list_reserve(pan_detection_list *l, int capacity)
{
    if (!l || capacity < 0) return PAN_INVAL;
    if (capacity <= l->capacity) return PAN_OK;
    int cap = l->capacity > 0 ? l->capacity : 16;
    while (cap < capacity) cap = cap > (1 << 29) ? capacity : cap * 2;
    pan_detection *n = realloc(l->items, (size_t)cap * sizeof *n);
    if (!n) return PAN_NOMEM;
    l->items = n;
    l->capacity = cap;
    return PAN_OK;
}

void pan_detection_list_free(pan_detection_list *l)
{
    if (!l) return;
    free(l->items);
    memset(l, 0, sizeof *l);
}

void pan_post_scratch_free(pan_post_scratch *s)
{
    if (!s) return;
    free(s->ptr);
    s->ptr = NULL;
    s->size = 0;
}

float pan_box_iou(const float a[4], const float b[4])
{
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (!(iw > 0.f) || !(ih > 0.f)) return 0.f;
    float inter = iw * ih;
    float ua = fmaxf(a[2] - a[0], 0.f) * fmaxf(a[3] - a[1], 0.f);
    float ub = fmaxf(b[2] - b[0], 0.f) * fmaxf(b[3] - b[1], 0.f);
    float uni = ua + ub - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

/* Total order: score descending, then class, then box coordinates ascending. Two detections
 * that compare equal are identical in every field NMS looks at, so their order is irrelevant. */
static int det_cmp(const void *pa, const void *pb)
{
    const pan_detection *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->class_id != b->class_id) return a->class_id < b->class_id ? -1 : 1;
    for (int k = 0; k < 4; k++)
        if (a->box[k] != b->box[k]) return a->box[k] < b->box[k] ? -1 : 1;
    return 0;
}

/* Drops NaN scores (they would break the order) and sorts; returns the new count. */
static int sort_scored(pan_detection *it, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(it[i].score)) it[m++] = it[i];
    qsort(it, (size_t)m, sizeof *it, det_cmp);
    return m;
}

void pan_detection_list_sort(pan_detection_list *l, int top_k)
{
    if (!l || l->count <= 0) return;
    l->count = sort_scored(l->items, l->count);
    if (top_k > 0 && l->count > top_k) l->count = top_k;
}

void pan_nms(pan_detection_list *l, const pan_nms_params *p)
{
    if (!l || l->count <= 0) return;
    float thr = p && p->iou_threshold > 0.f ? p->iou_threshold : 0.6f;
    int top_k = p && p->top_k > 0 ? p->top_k : l->count;
    int agnostic = p ? p->class_agnostic : 0;
    pan_detection *it = l->items;
    int n = sort_scored(it, l->count);
    /* Suppressed entries are marked with class_id = INT32_MIN (never a real class). */
    int kept = 0;
    for (int i = 0; i < n && kept < top_k; i++) {
        if (it[i].class_id == INT32_MIN) continue;
        pan_detection d = it[i];
        for (int j = i + 1; j < n; j++) {
            if (it[j].class_id == INT32_MIN) continue;
            if (!agnostic && it[j].class_id != d.class_id) continue;
            if (pan_box_iou(d.box, it[j].box) > thr) it[j].class_id = INT32_MIN;
        }
        it[kept++] = d; /* kept <= i: slots before i are already processed */
    }
    l->count = kept;
}
