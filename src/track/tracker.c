/* Per-camera multi-object tracker: ByteTrack's two-stage association with BoT-SORT's xywh Kalman
 * filter and (when detections carry embeddings) its gated appearance cost.
 *
 * One frame (pan_tracker_update):
 *   1. predict every track one frame ahead;
 *   2. confirmed + lost tracks  vs  high-score detections  (IoU[*score] fused with appearance);
 *   3. still-unmatched tracked tracks  vs  low-score detections  (IoU only: low scores are mostly
 *      occluded people whose appearance is unreliable); tracks left over become lost;
 *   4. tentative tracks  vs  leftover high detections; unmatched tentative tracks are dropped;
 *   5. leftover high detections >= new_track_thresh start tentative tracks;
 *   6. lost tracks older than max_time_lost are removed; duplicates (a tracked and a lost track on
 *      the same box) are resolved in favour of the longer-lived one.
 * A track gets its id when it is confirmed, so ids count only tracks that were ever output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "panoptes/track.h"
#include "track/track_impl.h"

typedef struct trk {
    int64_t id; /* 0 while tentative */
    pan_track_state state;
    int class_id;
    float score;
    pan__kf kf;
    int hits;                   /* consecutive matched frames while tentative, then total */
    int64_t start_frame, last_frame;
    float box[4];               /* current estimate, [x1,y1,x2,y2] */
    float *emb;                 /* emb_dim floats, L2-normalised, or NULL */
    int matched;                /* matched in the current frame */
    int removed;                /* to be freed at the end of the current frame */
} trk;

typedef struct xkey {
    float x1;
    int b;
} xkey;

static int cmp_xkey(const void *p, const void *q)
{
    const xkey *a = p, *b = q;
    return (a->x1 > b->x1) - (a->x1 < b->x1);
}

struct pan_tracker {
    pan_tracker_params p;
    pan__kf_noise nz;
    int64_t frame, next_id;
    trk *tr;
    int n_tr, cap_tr;
    int emb_dim; /* 0 until the first embedding */
    int warned_dim;
    /* Per-frame scratch, grown on demand and kept. */
    int *ia, *ib, *ic, *r2c, *c2r;
    struct xkey *xs;
    unsigned char *det_used;
    int cap_idx;
    double *cost;
    size_t cap_cost;
    pan__lap_ws lap;
};

/* Reported boxes lie in the frame, [0, w] x [0, h], as the detections do: the Kalman estimate
 * runs past a border when an object walks out (its velocity carries on while its clamped
 * detections stop). Only the report is clamped; the filter keeps predicting where it went. */
static void clamp_to_frame(float b[4], int w, int h)
{
    const float lim[4] = {(float)w, (float)h, (float)w, (float)h};
    for (int i = 0; i < 4; i++) b[i] = b[i] < 0.f ? 0.f : b[i] > lim[i] ? lim[i] : b[i];
}

pan_tracker_params pan_tracker_params_default(void)
{
    pan_tracker_params p = {0};
    p.high_thresh = 0.5f;
    p.low_thresh = 0.1f;
    p.new_track_thresh = 0.6f;
    p.match_thresh = 0.8f;
    p.low_match_thresh = 0.5f;
    p.tentative_match_thresh = 0.7f;
    p.min_hits = 2;
    p.max_time_lost = 30;
    p.fuse_score = 1;
    p.class_aware = 1;
    p.report_lost = 0;
    p.appearance_thresh = 0.25f;
    p.proximity_thresh = 0.5f;
    p.embedding_alpha = 0.9f;
    p.std_weight_position = 1.f / 20.f;
    p.std_weight_velocity = 1.f / 160.f;
    p.camera = -1;
    return p;
}

pan_status pan_tracker_create(pan_tracker **out, const pan_tracker_params *params)
{
    pan_tracker_params p = params ? *params : pan_tracker_params_default();
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!(p.low_thresh >= 0.f && p.low_thresh <= p.high_thresh && p.high_thresh <= 1.f) ||
        !(p.match_thresh >= 0.f && p.low_match_thresh >= 0.f && p.tentative_match_thresh >= 0.f) ||
        p.min_hits < 1 || p.max_time_lost < 0 || p.frame_width < 0 || p.frame_height < 0 || !(p.embedding_alpha >= 0.f && p.embedding_alpha <= 1.f) ||
        !(p.std_weight_position > 0.f && p.std_weight_velocity > 0.f)) {
        pan_log_error("track", p.camera, "tracker parameters out of range (need 0 <= low <= high <= 1, "
                      "thresholds >= 0, min_hits >= 1, max_time_lost >= 0, 0 <= alpha <= 1)");
        return PAN_INVAL;
    }
    pan_tracker *t = calloc(1, sizeof *t);
    if (!t) return PAN_NOMEM;
    t->p = p;
    t->nz.pos = p.std_weight_position;
    t->nz.vel = p.std_weight_velocity;
    *out = t;
    return PAN_OK;
}

void pan_tracker_set_frame_size(pan_tracker *t, int width, int height)
{
    if (!t || width <= 0 || height <= 0) return;
    t->p.frame_width = width;
    t->p.frame_height = height;
}

void pan_tracker_destroy(pan_tracker **pt)
{
    if (!pt || !*pt) return;
    pan_tracker *t = *pt;
    for (int i = 0; i < t->n_tr; i++) free(t->tr[i].emb);
    free(t->tr);
    free(t->ia);
    free(t->ib);
    free(t->ic);
    free(t->r2c);
    free(t->c2r);
    free(t->det_used);
    free(t->xs);
    free(t->cost);
    pan__lap_ws_free(&t->lap);
    free(t);
    *pt = NULL;
}

int64_t pan_tracker_frame(const pan_tracker *t) { return t ? t->frame : 0; }
int pan_tracker_live_tracks(const pan_tracker *t) { return t ? t->n_tr : 0; }

const float *pan_tracker_embedding(const pan_tracker *t, int64_t id, int *dim)
{
    if (dim) *dim = 0;
    if (!t || id <= 0) return NULL;
    for (int i = 0; i < t->n_tr; i++)
        if (t->tr[i].id == id && !t->tr[i].removed) {
            if (!t->tr[i].emb) return NULL;
            if (dim) *dim = t->emb_dim;
            return t->tr[i].emb;
        }
    return NULL;
}

static int reserve(pan_tracker *t, int n_det)
{
    int need = (t->n_tr > n_det ? t->n_tr : n_det) + 1;
    if (need > t->cap_idx) {
        int cap = need * 2;
        int **bufs[] = {&t->ia, &t->ib, &t->ic, &t->r2c, &t->c2r};
        for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) {
            int *b = realloc(*bufs[k], (size_t)cap * sizeof **bufs[k]);
            if (!b) return -1;
            *bufs[k] = b;
        }
        unsigned char *u = realloc(t->det_used, (size_t)cap);
        if (!u) return -1;
        t->det_used = u;
        xkey *x = realloc(t->xs, (size_t)cap * sizeof *x);
        if (!x) return -1;
        t->xs = x;
        t->cap_idx = cap;
    }
    return 0;
}

static const float *det_embedding(pan_tracker *t, const pan_detection *d)
{
    if (!d->embedding || d->embedding_dim <= 0) return NULL;
    if (t->emb_dim == 0) t->emb_dim = d->embedding_dim;
    if (d->embedding_dim != t->emb_dim) {
        if (!t->warned_dim)
            pan_log_warn("track", t->p.camera, "detection embedding has %d dimensions, the tracker's "
                         "have %d: ignoring it (use one ReID model per camera)",
                         d->embedding_dim, t->emb_dim);
        t->warned_dim = 1;
        return NULL;
    }
    return d->embedding;
}

/* EMA of the track's embedding (BoT-SORT's smooth_feat), renormalised to unit length. */
static void update_embedding(pan_tracker *t, trk *k, const float *e)
{
    int dim = t->emb_dim;
    float a = t->p.embedding_alpha, b, nrm = 0.f; /* floats: unit vectors, vectorisable loops */
    if (!k->emb) {
        /* zeroed: 0 x uninitialised memory could be NaN (0 * NaN = NaN) */
        k->emb = calloc((size_t)dim, sizeof *k->emb);
        if (!k->emb) return; /* motion only for this track */
        a = 0.f;
    }
    b = 1.f - a;
    for (int i = 0; i < dim; i++) {
        k->emb[i] = a * k->emb[i] + b * e[i];
        nrm += k->emb[i] * k->emb[i];
    }
    if (nrm > 0.f) {
        float sc = 1.f / sqrtf(nrm);
        for (int i = 0; i < dim; i++) k->emb[i] *= sc;
    }
}

/* Cosine similarity of two unit vectors. */
static float dot(const float *x, const float *y, int n)
{
    float acc = 0.f;
    for (int i = 0; i < n; i++) acc += x[i] * y[i];
    return acc;
}

static void confirm(pan_tracker *t, trk *k)
{
    if (k->id == 0) k->id = ++t->next_id;
    k->state = PAN_TRACK_CONFIRMED;
}

/* Applies detection d to track k (Kalman correction, score, embedding). */
static void apply(pan_tracker *t, trk *k, const pan_detection *d)
{
    double z[4];
    pan__box_to_xywh(d->box, z);
    if (pan__kf_update(&k->kf, &t->nz, z)) pan__kf_init(&k->kf, &t->nz, z); /* degenerate: restart */
    pan__xywh_to_box(k->kf.mean, k->box);
    k->score = d->score;
    k->last_frame = t->frame;
    k->hits++;
    k->matched = 1;
    const float *e = d->score >= t->p.high_thresh ? det_embedding(t, d) : NULL;
    if (e) update_embedding(t, k, e);
}

/* Optimal matching of tracks ti[0..nt) to detections di[0..nd) with cost <= thresh.
 * Fills r2c[a] with the matched position in di, or -1. */
static pan_status associate(pan_tracker *t, const int *ti, int nt, const pan_detection *dets,
                            const int *di, int nd, float thresh, int fuse, int use_emb)
{
    for (int a = 0; a < nt; a++) t->r2c[a] = -1;
    if (nt == 0 || nd == 0) return PAN_OK;
    size_t need = (size_t)nt * nd;
    if (need > t->cap_cost) {
        double *c = realloc(t->cost, need * 2 * sizeof *c);
        if (!c) return PAN_NOMEM;
        t->cost = c;
        t->cap_cost = need * 2;
    }
    /* Sweep on x: detections sorted by x1; a track can only overlap those with
     * x1 in (track.x1 - widest detection, track.x2). The result is the dense one's at a fraction
     * of the work. */
    xkey *xs = t->xs;
    float maxw = 0.f;
    for (int b = 0; b < nd; b++) {
        const float *bx = dets[di[b]].box;
        xs[b].x1 = bx[0], xs[b].b = b;
        if (bx[2] - bx[0] > maxw) maxw = bx[2] - bx[0];
    }
    qsort(xs, (size_t)nd, sizeof *xs, cmp_xkey);
    for (int a = 0; a < nt; a++) {
        const trk *k = &t->tr[ti[a]];
        double *row = t->cost + (size_t)a * nd;
        /* No overlap: cost 1 (IoU 0), forbidden whenever thresh < 1, as always in practice. */
        double none = thresh < 1.f ? INFINITY : 1.0;
        for (int b = 0; b < nd; b++) row[b] = none;
        int lo = 0, hi = nd;
        float from = k->box[0] - maxw;
        while (lo < hi) { /* first with x1 > from */
            int mid = (lo + hi) / 2;
            if (xs[mid].x1 > from) hi = mid;
            else lo = mid + 1;
        }
        for (int s = lo; s < nd && xs[s].x1 < k->box[2]; s++) {
            int b = xs[s].b;
            const pan_detection *d = &dets[di[b]];
            if (t->p.class_aware && d->class_id != k->class_id) {
                row[b] = INFINITY;
                continue;
            }
            double iou = pan__box_iou(k->box, d->box);
            double d_iou = 1.0 - iou, c = fuse ? 1.0 - iou * d->score : d_iou;
            /* Appearance can only lower the cost where the boxes are close (BoT-SORT's proximity
             * gate), so the dot product is skipped elsewhere. */
            if (use_emb && k->emb && d->score >= t->p.high_thresh && d_iou <= t->p.proximity_thresh) {
                const float *e = det_embedding(t, d);
                if (e) {
                    double ce = (1.0 - dot(k->emb, e, t->emb_dim)) * 0.5;
                    if (ce > t->p.appearance_thresh) ce = 1.0; /* not alike enough: no say */
                    if (ce < c) c = ce;
                }
            }
            row[b] = c;
        }
        if (t->p.class_aware && none == 1.0) /* other-class pairs outside the window: forbidden */
            for (int b = 0; b < nd; b++)
                if (row[b] == 1.0 && dets[di[b]].class_id != k->class_id) row[b] = INFINITY;
    }
    return pan__lap_solve(&t->lap, t->cost, nt, nd, thresh, t->r2c, NULL, NULL);
}

static int valid_det(const pan_tracker *t, const pan_detection *d)
{
    const float *b = d->box;
    return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) && b[2] > b[0] &&
           b[3] > b[1] && d->score >= t->p.low_thresh && d->score <= 1.0e6f;
}

static pan_status new_track(pan_tracker *t, const pan_detection *d)
{
    if (t->n_tr == t->cap_tr) {
        int cap = t->cap_tr ? t->cap_tr * 2 : 64;
        trk *n = realloc(t->tr, (size_t)cap * sizeof *n);
        if (!n) return PAN_NOMEM;
        t->tr = n;
        t->cap_tr = cap;
    }
    trk *k = &t->tr[t->n_tr++];
    double z[4];
    memset(k, 0, sizeof *k);
    pan__box_to_xywh(d->box, z);
    pan__kf_init(&k->kf, &t->nz, z);
    pan__xywh_to_box(k->kf.mean, k->box);
    k->state = PAN_TRACK_TENTATIVE;
    k->class_id = d->class_id;
    k->score = d->score;
    k->start_frame = k->last_frame = t->frame;
    k->hits = 1;
    k->matched = 1;
    const float *e = det_embedding(t, d);
    if (e) update_embedding(t, k, e);
    /* ByteTrack confirms at once in the first frame: nothing is there to confirm against. */
    if (t->frame == 1 || t->p.min_hits <= 1) confirm(t, k);
    return PAN_OK;
}

static int cmp_report(const void *a, const void *b)
{
    int64_t x = ((const pan_track_report *)a)->id, y = ((const pan_track_report *)b)->id;
    return (x > y) - (x < y);
}

pan_status pan_tracker_update(pan_tracker *t, const pan_detection *dets, int n,
                              pan_track_report *out, int max_out, int *n_out)
{
    pan_status st = PAN_OK;
    if (n_out) *n_out = 0;
    if (!t || n < 0 || (n > 0 && !dets) || max_out < 0 || (max_out > 0 && !out)) return PAN_INVAL;
    if (reserve(t, n)) return PAN_NOMEM;
    t->frame++;
    const pan_tracker_params *p = &t->p;
    int *hi = t->ia, *lo = t->ib, *ti = t->ic; /* ti: positions into t->tr */
    int nh = 0, nl = 0;
    unsigned char *used = t->det_used;

    for (int i = 0; i < n; i++) {
        used[i] = 0;
        if (!valid_det(t, &dets[i])) continue;
        if (dets[i].score >= p->high_thresh) hi[nh++] = i;
        else lo[nl++] = i;
    }
    for (int i = 0; i < t->n_tr; i++) {
        trk *k = &t->tr[i];
        pan__kf_predict(&k->kf, &t->nz, k->state == PAN_TRACK_LOST);
        pan__xywh_to_box(k->kf.mean, k->box);
        k->matched = 0;
    }

    /* Stage 1: confirmed and lost tracks vs high detections. */
    int nt = 0;
    for (int i = 0; i < t->n_tr; i++)
        if (t->tr[i].state != PAN_TRACK_TENTATIVE) ti[nt++] = i;
    if ((st = associate(t, ti, nt, dets, hi, nh, p->match_thresh, p->fuse_score, 1))) return st;
    for (int a = 0; a < nt; a++)
        if (t->r2c[a] >= 0) {
            trk *k = &t->tr[ti[a]];
            apply(t, k, &dets[hi[t->r2c[a]]]);
            used[hi[t->r2c[a]]] = 1;
            confirm(t, k); /* re-activates a lost track under its old id */
        }

    /* Stage 2: tracks that were tracked until now vs low detections; misses become lost. */
    nt = 0;
    for (int i = 0; i < t->n_tr; i++)
        if (t->tr[i].state == PAN_TRACK_CONFIRMED && !t->tr[i].matched) ti[nt++] = i;
    if ((st = associate(t, ti, nt, dets, lo, nl, p->low_match_thresh, 0, 0))) return st;
    for (int a = 0; a < nt; a++) {
        trk *k = &t->tr[ti[a]];
        if (t->r2c[a] >= 0) {
            apply(t, k, &dets[lo[t->r2c[a]]]);
            used[lo[t->r2c[a]]] = 1;
        } else {
            k->state = PAN_TRACK_LOST;
        }
    }

    /* Stage 3: tentative tracks vs the high detections nobody took. */
    int nh2 = 0;
    for (int b = 0; b < nh; b++)
        if (!used[hi[b]]) hi[nh2++] = hi[b];
    nh = nh2;
    nt = 0;
    for (int i = 0; i < t->n_tr; i++)
        if (t->tr[i].state == PAN_TRACK_TENTATIVE) ti[nt++] = i;
    if ((st = associate(t, ti, nt, dets, hi, nh, p->tentative_match_thresh, p->fuse_score, 1))) return st;
    for (int a = 0; a < nt; a++) {
        trk *k = &t->tr[ti[a]];
        if (t->r2c[a] >= 0) {
            apply(t, k, &dets[hi[t->r2c[a]]]);
            used[hi[t->r2c[a]]] = 1;
            if (k->hits >= p->min_hits) confirm(t, k);
        } else {
            k->removed = 1; /* a tentative track must be seen in consecutive frames */
        }
    }

    /* Stage 4: ageing of lost tracks. */
    for (int i = 0; i < t->n_tr; i++) {
        trk *k = &t->tr[i];
        if (k->state != PAN_TRACK_LOST) continue;
        if (t->frame - k->last_frame > p->max_time_lost) k->removed = 1;
        double cx = k->kf.mean[0], cy = k->kf.mean[1];
        if (p->frame_width > 0 && p->frame_height > 0 &&
            (cx < 0 || cy < 0 || cx >= p->frame_width || cy >= p->frame_height))
            k->removed = 1;
    }
    /* Duplicates: a tracked and a lost track on the same place (IoU > 0.85) are one object;
     * keep the one that has existed longer (ByteTrack's remove_duplicate_stracks). */
    int nlost = 0;
    for (int i = 0; i < t->n_tr; i++)
        if (!t->tr[i].removed && t->tr[i].state == PAN_TRACK_LOST) ti[nlost++] = i; /* few, usually */
    for (int i = 0; i < t->n_tr && nlost; i++) {
        trk *a = &t->tr[i];
        if (a->removed || a->state != PAN_TRACK_CONFIRMED) continue;
        for (int q = 0; q < nlost; q++) {
            trk *b = &t->tr[ti[q]];
            if (b->removed) continue;
            if (pan__box_iou(a->box, b->box) <= 0.85f) continue;
            if (a->last_frame - a->start_frame > b->last_frame - b->start_frame) b->removed = 1;
            else {
                a->removed = 1;
                break;
            }
        }
    }

    /* Stage 5: births, after the duplicate check so a newborn is never judged a duplicate. */
    for (int b = 0; b < nh; b++) {
        const pan_detection *d = &dets[hi[b]];
        if (!used[hi[b]] && d->score >= p->new_track_thresh && (st = new_track(t, d))) return st;
    }

    /* Reports, then drop removed tracks (compacting in place, order kept). */
    int no = 0, total = 0;
    for (int i = 0; i < t->n_tr; i++) {
        trk *k = &t->tr[i];
        pan_track_state s;
        if (k->id == 0) continue;
        if (k->removed) {
            if (!p->report_lost) continue;
            s = PAN_TRACK_REMOVED;
        } else if (k->state == PAN_TRACK_CONFIRMED && k->matched) {
            s = PAN_TRACK_CONFIRMED;
        } else if (k->state == PAN_TRACK_LOST && p->report_lost) {
            s = PAN_TRACK_LOST;
        } else {
            continue;
        }
        total++;
        if (no < max_out) {
            pan_track_report *r = &out[no++];
            r->id = k->id;
            r->global_id = 0;
            r->class_id = k->class_id;
            r->score = k->score;
            memcpy(r->box, k->box, sizeof r->box);
            if (p->frame_width > 0 && p->frame_height > 0) clamp_to_frame(r->box, p->frame_width, p->frame_height);
            r->state = s;
        }
    }
    int w = 0;
    for (int i = 0; i < t->n_tr; i++) {
        if (t->tr[i].removed) {
            free(t->tr[i].emb);
            continue;
        }
        if (w != i) t->tr[w] = t->tr[i];
        w++;
    }
    t->n_tr = w;
    if (no > 1) qsort(out, (size_t)no, sizeof *out, cmp_report);
    if (n_out) *n_out = no;
    if (total > no) {
        pan_log_warn("track", p->camera, "frame %lld: %d track reports, room for %d: raise max_out",
                     (long long)t->frame, total, max_out);
        return PAN_LIMIT;
    }
    pan_log_debug("track", p->camera, "frame %lld: %d dets (%d high), %d live tracks, %d reported",
                  (long long)t->frame, n, nh, t->n_tr, no);
    return PAN_OK;
}
