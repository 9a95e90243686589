/* NanoDet (GFL head) postprocessing on the host, following the official RangiLyu/nanodet code:
 * nanodet/model/head/gfl_head.py (get_bboxes_single, get_single_level_center_point,
 * distribution_project = Integral), nanodet/util/box_transform.py (distance2bbox) and
 * nanodet/model/module/nms.py (multiclass_nms: score_thr 0.05, nms iou 0.6, max_num 100).
 *
 * Conventions checked against that code (the nanodet-g model is a GFLHead/NanoDetHead, not
 * NanoDet-Plus):
 * - prior centres are ((x + 0.5)·stride, (y + 0.5)·stride) in model-input pixels
 *   (GFLHead.get_single_level_center_point adds 0.5; NanoDet-Plus's
 *   get_single_level_center_priors does not, which is why the difference matters);
 * - prior index y·fw + x (the head's output permuted to HWC and flattened);
 * - distances: softmax over reg_max+1 bins per side, Σ p_i·i (Integral with
 *   linspace(0, reg_max, reg_max+1)), times the level's stride;
 * - box = (cx − l, cy − t, cx + r, cy + b), each coordinate clamped to [0, W] or [0, H]
 *   where W, H are the model input size (img_shape = the letterboxed input);
 * - per level, when more than nms_pre priors exist, only the nms_pre with the highest
 *   max-over-classes score are kept (torch.topk); this is applied before the score threshold,
 *   so it is reproduced exactly by keeping the nms_pre best among the priors that pass it;
 * - scores: the bundled TF.js model already applies the sigmoid in the graph, so the scores
 *   are used as they are;
 * - each (prior, class) pair above the threshold is a candidate; class-wise NMS (batched_nms);
 *   the result is sorted by score and cut to max_num.
 * The boxes are then mapped back through the letterbox (pan_letterbox_unmap_box), the
 * equivalent of warp_boxes with the inverse warp matrix, clamped to the source frame. */
#include "vision/postprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pan_nanodet_params_default(pan_nanodet_params *p)
{
    memset(p, 0, sizeof *p);
    p->input_w = p->input_h = 416;
    p->num_classes = PAN_COCO_CLASSES;
    p->reg_max = 10;
    p->num_levels = 3;
    p->strides[0] = 8;
    p->strides[1] = 16;
    p->strides[2] = 32;
    p->nms_pre = 1000;
    p->score_threshold = 0.35f;
    p->nms.iou_threshold = 0.6f;
    p->nms.top_k = 100;
}

int pan_nanodet_level_size(const pan_nanodet_params *p, int l)
{
    int s = p->strides[l];
    if (s <= 0) return 0;
    return ((p->input_w + s - 1) / s) * ((p->input_h + s - 1) / s);
}

typedef struct prior_score {
    float score;
    int index;
} prior_score;

static int prior_cmp(const void *pa, const void *pb)
{
    const prior_score *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Expected distance Σ softmax(x)_i · i over n bins. */
static float integral(const float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = fmaxf(mx, x[i]);
    float sum = 0.f, acc = 0.f;
    for (int i = 0; i < n; i++) {
        float e = expf(x[i] - mx);
        sum += e;
        acc += e * (float)i;
    }
    return sum > 0.f ? acc / sum : 0.f;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

pan_status pan_nanodet_decode(const pan_nanodet_params *p, const float *const *cls, const float *const *reg,
                              const pan_letterbox *lb, pan_detection_list *out, pan_post_scratch *scratch)
{
    if (!p || !cls || !reg || !out || !scratch) return PAN_INVAL;
    if (p->num_levels <= 0 || p->num_levels > PAN_NANODET_MAX_LEVELS || p->num_classes <= 0 ||
        p->reg_max < 0 || p->input_w <= 0 || p->input_h <= 0)
        return PAN_INVAL;
    const int C = p->num_classes, bins = p->reg_max + 1;
    const float W = (float)p->input_w, H = (float)p->input_h;
    int max_n = 0;
    for (int l = 0; l < p->num_levels; l++) {
        int n = pan_nanodet_level_size(p, l);
        if (n <= 0) return PAN_INVAL;
        if (n > max_n) max_n = n;
    }
    size_t need = (size_t)max_n * sizeof(prior_score);
    if (scratch->size < need) {
        void *np = realloc(scratch->ptr, need);
        if (!np) return PAN_NOMEM;
        scratch->ptr = np;
        scratch->size = need;
    }
    prior_score *ps = scratch->ptr;
    out->count = 0;
    for (int l = 0; l < p->num_levels; l++) {
        const int s = p->strides[l], fw = (p->input_w + s - 1) / s, n = pan_nanodet_level_size(p, l);
        const float *cl = cls[l], *rg = reg[l];
        if (!cl || !rg) return PAN_INVAL;
        int m = 0;
        for (int i = 0; i < n; i++) {
            const float *sc = cl + (size_t)i * C;
            float mx = sc[0];
            for (int c = 1; c < C; c++) mx = fmaxf(mx, sc[c]);
            if (mx >= p->score_threshold) ps[m++] = (prior_score){mx, i};
        }
        if (p->nms_pre > 0 && m > p->nms_pre) {
            qsort(ps, (size_t)m, sizeof *ps, prior_cmp);
            m = p->nms_pre;
        }
        for (int k = 0; k < m; k++) {
            const int i = ps[k].index;
            const float *sc = cl + (size_t)i * C, *d = rg + (size_t)i * 4 * bins;
            const float cx = ((float)(i % fw) + 0.5f) * (float)s, cy = ((float)(i / fw) + 0.5f) * (float)s;
            float box[4] = {
                clampf(cx - integral(d, bins) * (float)s, 0.f, W),
                clampf(cy - integral(d + bins, bins) * (float)s, 0.f, H),
                clampf(cx + integral(d + 2 * bins, bins) * (float)s, 0.f, W),
                clampf(cy + integral(d + 3 * bins, bins) * (float)s, 0.f, H),
            };
            for (int c = 0; c < C; c++) {
                if (!(sc[c] >= p->score_threshold) || !pan_class_allowed(&p->classes, c)) continue;
                if (out->count == out->capacity) {
                    pan_status st = pan_detection_list_reserve(out, out->count + 1);
                    if (st) return st;
                }
                pan_detection *det = &out->items[out->count++];
                memcpy(det->box, box, sizeof box);
                det->score = sc[c];
                det->class_id = c;
                det->embedding = NULL;
                det->embedding_dim = 0;
            }
        }
    }
    pan_nms(out, &p->nms);
    if (lb)
        for (int i = 0; i < out->count; i++) pan_letterbox_unmap_box(lb, out->items[i].box);
    return PAN_OK;
}
