/* A new track's past: what the tracker saw before it confirmed the track, and which vanished track
 * it continues (see analytics.h, "Robust counting").
 *
 * Each camera keeps its last trace_frames frames: the boxes no confirmed track explained (detections
 * that overlap no reported track, tentative reports) and the reported tracks' boxes. A new track is
 * followed backwards from its first box: in each earlier frame, the box of its class that overlaps
 * most (IoU >= trace_iou) with its box extrapolated back by its velocity so far. Gaps of up to
 * trace_max_gap frames are bridged (missed detections). The walk stops at the first reported box
 * it meets: that track vanished and the new one continues it, if it was not seen after the walk
 * had already passed that frame. Without such a meeting, a track that vanished at most
 * continue_frames before the earliest traced point continues into it when its last velocity
 * carries it there (continue_dist box heights, plus 2 px a frame of uncertainty). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_impl.h"

/* A detection is explained by a reported track when they overlap this much (the track's box is
 * the Kalman estimate from that same detection, so they nearly coincide). */
#define CLAIM_IOU 0.5

static pan_status push_box(pan__an_hframe *h, const float box[4], int class_id, int64_t track)
{
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 32;
        pan__an_box *b = realloc(h->boxes, (size_t)cap * sizeof *b);
        if (!b) return PAN_NOMEM;
        h->boxes = b, h->cap = cap;
    }
    pan__an_box *b = &h->boxes[h->n++];
    memcpy(b->box, box, sizeof b->box);
    b->class_id = class_id;
    b->track = track;
    return PAN_OK;
}

static int valid_box(const float b[4])
{
    return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) && b[2] > b[0] && b[3] > b[1];
}

pan_status pan__an_hist_push(pan__an_cam *c, const pan_analytics_frame *f, double t)
{
    pan__an_hframe *h = &c->hist[f->frame % c->n_hist_slots];
    pan_status st = PAN_OK;
    h->frame = f->frame;
    h->t = t;
    h->n = 0;
    for (int i = 0; i < f->n_tracks && !st; i++) {
        const pan_track_report *r = &f->tracks[i];
        if (!valid_box(r->box)) continue;
        if (r->state == PAN_TRACK_CONFIRMED && r->id > 0) st = push_box(h, r->box, r->class_id, r->id);
        else if (r->state == PAN_TRACK_TENTATIVE) st = push_box(h, r->box, r->class_id, 0);
    }
    for (int i = 0; i < f->n_detections && !st; i++) {
        const pan_detection *d = &f->detections[i];
        int claimed = 0;
        if (!valid_box(d->box)) continue;
        for (int k = 0; k < f->n_tracks && !claimed; k++)
            claimed = f->tracks[k].state == PAN_TRACK_CONFIRMED && pan__an_iou(f->tracks[k].box, d->box) >= CLAIM_IOU;
        if (!claimed) st = push_box(h, d->box, d->class_id, 0);
    }
    if (st) h->n = 0, h->frame = -1;
    return st;
}

static pan__an_trk *find_trk(pan__an_cam *c, int64_t id)
{
    int lo = 0, hi = c->n_trk;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->trk[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_trk && c->trk[lo].id == id ? &c->trk[lo] : NULL;
}

int pan__an_at_border(const pan__an_cam *c, const float box[4])
{
    if (c->width <= 0 || c->height <= 0) return 0;
    double mx = c->width * 0.01 > 4 ? c->width * 0.01 : 4, my = c->height * 0.01 > 4 ? c->height * 0.01 : 4;
    return box[0] <= mx || box[1] <= my || box[2] >= c->width - mx || box[3] >= c->height - my;
}

/* A vanished track may be continued: not already, not seen at or after frame `from`, recent, and
 * not gone through the frame's border. */
static int can_continue(const pan_analytics *a, const pan__an_cam *c, const pan__an_trk *t, int64_t from,
                        int class_id)
{
    return t && !t->superseded && t->class_id == class_id && t->last_frame < from &&
           from - t->last_frame <= a->p.continue_frames && !pan__an_at_border(c, t->box);
}

/* The vanished track whose motion carries it closest to point (x, y) at frame g, within the gate. */
static pan__an_trk *by_motion(const pan_analytics *a, pan__an_cam *c, int64_t g, double x, double y, int class_id)
{
    pan__an_trk *best = NULL;
    double best_r = 1.0;
    for (int i = 0; i < c->n_trk; i++) {
        pan__an_trk *t = &c->trk[i];
        if (!can_continue(a, c, t, g, class_id) || t->n_hist == 0) continue;
        int n = t->n_hist;
        double vx = 0, vy = 0, gap = (double)(g - t->hf[n - 1]);
        if (n >= 2 && t->hf[n - 1] > t->hf[0]) {
            double span = (double)(t->hf[n - 1] - t->hf[0]);
            vx = (t->hx[n - 1] - t->hx[0]) / span;
            vy = (t->hy[n - 1] - t->hy[0]) / span;
        }
        double px = t->hx[n - 1] + vx * gap, py = t->hy[n - 1] + vy * gap;
        double h = t->box[3] - t->box[1];
        double gate = a->p.continue_dist * h + 2.0 * gap;
        double r = hypot(px - x, py - y) / gate;
        if (r < best_r) best_r = r, best = t;
    }
    return best;
}

int pan__an_trace(const pan_analytics *a, pan__an_cam *c, const pan__an_trk *k, pan__an_point *pts, int cap,
                  pan__an_trk **pred)
{
    int n = 0, gap = 0;
    float cur[4];
    int64_t cur_f = c->frame; /* frame of cur */
    double vx = 0, vy = 0;    /* box motion, pixels per frame (forward in time) */
    *pred = NULL;
    memcpy(cur, k->box, sizeof cur);
    for (int64_t g = c->frame - 1; g >= 0 && g >= c->frame - a->p.trace_frames && n < cap; g--) {
        const pan__an_hframe *h = &c->hist[g % c->n_hist_slots];
        if (h->frame != g) { /* no frame with that index (a gap in the stream) */
            if (++gap > a->p.trace_max_gap) break;
            continue;
        }
        double back = (double)(cur_f - g);
        float pred_box[4] = {(float)(cur[0] - vx * back), (float)(cur[1] - vy * back), (float)(cur[2] - vx * back),
                             (float)(cur[3] - vy * back)};
        int best = -1;
        double best_iou = a->p.trace_iou;
        for (int i = 0; i < h->n; i++) {
            if (h->boxes[i].class_id != k->class_id) continue;
            double iou = pan__an_iou(pred_box, h->boxes[i].box);
            if (iou >= best_iou) best_iou = iou, best = i;
        }
        if (best < 0) {
            if (++gap > a->p.trace_max_gap) break;
            continue;
        }
        const pan__an_box *b = &h->boxes[best];
        if (b->track) { /* met a reported track: the new one continues it, or they are two */
            pan__an_trk *t = find_trk(c, b->track);
            if (t && t->id != k->id && can_continue(a, c, t, cur_f, k->class_id)) *pred = t;
            break;
        }
        gap = 0;
        pts[n].frame = g;
        pts[n].t = h->t;
        memcpy(pts[n].box, b->box, sizeof pts[n].box);
        n++;
        memcpy(cur, b->box, sizeof cur);
        cur_f = g;
        /* velocity over the points so far: from the oldest (this one) to the track's first box */
        double span = (double)(c->frame - g);
        vx = ((k->box[0] + k->box[2]) - (b->box[0] + b->box[2])) * 0.5 / span;
        vy = ((k->box[1] + k->box[3]) - (b->box[1] + b->box[3])) * 0.5 / span;
    }
    /* oldest first */
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        pan__an_point tmp = pts[i];
        pts[i] = pts[j], pts[j] = tmp;
    }
    const float *b0 = n ? pts[0].box : k->box;
    if (pan__an_at_border(c, b0)) *pred = NULL; /* it walked in */
    else if (!*pred) {
        int64_t g0 = n ? pts[0].frame : c->frame;
        *pred = by_motion(a, c, g0, (b0[0] + b0[2]) * 0.5, b0[3], k->class_id);
    }
    return n;
}
