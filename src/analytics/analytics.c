/* The analytics object: per camera, the tracks and the objects they belong to, counting on lines
 * and zones, and events (see analytics.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "panoptes/log.h"
#include "analytics/analytics_impl.h"

void pan_analytics_params_default(pan_analytics_params *p)
{
    memset(p, 0, sizeof *p);
    p->robust = 1;
    p->fps = 30.0;
    p->end_after_frames = 31;
    p->trace_frames = 45;
    p->trace_max_gap = 8;
    p->trace_iou = 0.3f;
    p->continue_frames = 90;
    p->continue_dist = 0.6f;
}

pan_status pan_analytics_create(pan_analytics **out, const pan_analytics_config *cfg, const pan_analytics_params *params)
{
    pan_analytics *a;
    pan_status st;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!(a = calloc(1, sizeof *a))) return PAN_NOMEM;
    if (params) a->p = *params;
    else pan_analytics_params_default(&a->p);
    if (!(a->p.fps > 0) || a->p.end_after_frames < 1 || a->p.trace_frames < 0 || a->p.trace_max_gap < 0 ||
        a->p.continue_frames < 0 || !(a->p.trace_iou > 0) || !(a->p.continue_dist >= 0)) {
        pan_log_error("analytics", -1, "parameters out of range (fps > 0, end_after_frames >= 1, frames >= 0)");
        free(a);
        return PAN_INVAL;
    }
    if (cfg && (st = pan__an_config_copy(cfg, &a->cfg))) {
        free(a);
        return st;
    }
    *out = a;
    return PAN_OK;
}

pan_status pan_analytics_add_listener(pan_analytics *a, pan_event_fn fn, void *opaque)
{
    if (!a || !fn) return PAN_INVAL;
    if (a->n_listeners == (int)(sizeof a->listeners / sizeof a->listeners[0])) return PAN_LIMIT;
    a->listeners[a->n_listeners].fn = fn;
    a->listeners[a->n_listeners++].opaque = opaque;
    return PAN_OK;
}

int64_t pan_analytics_event_count(const pan_analytics *a) { return a ? a->events : 0; }

/* ------------------------------------------------------------------------ cameras */

static void free_cam(pan__an_cam *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_zones; i++) free(c->dwell[i]);
    for (int i = 0; i < c->n_hist_slots; i++) free(c->hist[i].boxes);
    free(c->hist);
    free(c->dwell), free(c->n_dwell), free(c->cap_dwell);
    free(c->in), free(c->out);
    free(c->lines), free(c->zones);
    free(c->trk);
    free(c->name);
    free(c);
}

pan__an_cam *pan__an_get_cam(pan_analytics *a, int camera)
{
    if (camera < 0) return NULL;
    if (camera < a->n_cams && a->cams[camera]) return a->cams[camera];
    if (camera >= a->n_cams) {
        int n = camera + 1 > a->n_cams * 2 ? camera + 1 : a->n_cams * 2;
        pan__an_cam **cs = realloc(a->cams, (size_t)n * sizeof *cs);
        if (!cs) return NULL;
        memset(cs + a->n_cams, 0, (size_t)(n - a->n_cams) * sizeof *cs);
        a->cams = cs, a->n_cams = n;
    }
    pan__an_cam *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->camera = camera;
    /* lines and zones: "*" first, then the camera's own */
    const pan_analytics_config *cfg = a->cfg;
    for (int i = 0; cfg && i < cfg->n_cams; i++)
        if (cfg->cams[i].camera == -1 || cfg->cams[i].camera == camera)
            c->n_lines += cfg->cams[i].n_lines, c->n_zones += cfg->cams[i].n_zones;
    c->lines = calloc((size_t)c->n_lines + 1, sizeof *c->lines);
    c->zones = calloc((size_t)c->n_zones + 1, sizeof *c->zones);
    c->in = calloc((size_t)c->n_lines + 1, sizeof *c->in);
    c->out = calloc((size_t)c->n_lines + 1, sizeof *c->out);
    c->dwell = calloc((size_t)c->n_zones + 1, sizeof *c->dwell);
    c->n_dwell = calloc((size_t)c->n_zones + 1, sizeof *c->n_dwell);
    c->cap_dwell = calloc((size_t)c->n_zones + 1, sizeof *c->cap_dwell);
    c->n_hist_slots = a->p.trace_frames + 1;
    c->hist = calloc((size_t)c->n_hist_slots, sizeof *c->hist);
    if (!c->lines || !c->zones || !c->in || !c->out || !c->dwell || !c->n_dwell || !c->cap_dwell || !c->hist) {
        free_cam(c);
        return NULL;
    }
    for (int i = 0; i < c->n_hist_slots; i++) c->hist[i].frame = -1;
    int nl = 0, nz = 0;
    for (int star = 1; star >= 0; star--)
        for (int i = 0; cfg && i < cfg->n_cams; i++) {
            const pan__an_cam_cfg *cc = &cfg->cams[i];
            if (star ? cc->camera != -1 : cc->camera != camera) continue;
            for (int k = 0; k < cc->n_lines; k++) c->lines[nl++] = &cc->lines[k];
            for (int k = 0; k < cc->n_zones; k++) c->zones[nz++] = &cc->zones[k];
        }
    a->cams[camera] = c;
    return c;
}

/* ------------------------------------------------------------------------ events */

static void emit(pan_analytics *a, pan_event *ev)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ev->wall_s = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    pan__an_event_json(&a->json, ev);
    if (!ev->json) {
        pan_log_error("analytics", ev->camera, "out of memory formatting a %s event: dropped",
                      pan_event_type_name(ev->type));
        return;
    }
    a->events++;
    for (int i = 0; i < a->n_listeners; i++) a->listeners[i].fn(a->listeners[i].opaque, ev);
}

static void event_init(pan_event *ev, pan_event_type type, const pan__an_cam *c, const pan__an_trk *k, int64_t frame,
                       double t)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->camera = c->camera;
    ev->camera_name = c->name;
    ev->frame = frame;
    ev->pts = t;
    if (k) {
        ev->track_id = k->id;
        ev->global_id = k->global_id;
        ev->class_id = k->class_id;
        memcpy(ev->box, k->box, sizeof ev->box);
    }
}

/* ------------------------------------------------------------------------ objects */

static pan__an_obj *obj_new(const pan__an_cam *c)
{
    pan__an_obj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->side = calloc((size_t)c->n_lines + 1, 1);
    o->inside = calloc((size_t)c->n_zones + 1, 1);
    o->enter_t = calloc((size_t)c->n_zones + 1, sizeof *o->enter_t);
    if (!o->side || !o->inside || !o->enter_t) {
        free(o->side), free(o->inside), free(o->enter_t), free(o);
        return NULL;
    }
    return o;
}

static void add_dwell(pan__an_cam *c, int z, double d)
{
    if (c->n_dwell[z] == c->cap_dwell[z]) {
        int cap = c->cap_dwell[z] ? c->cap_dwell[z] * 2 : 64;
        double *n = realloc(c->dwell[z], (size_t)cap * sizeof *n);
        if (!n) return; /* the zone_exit event still goes out; only the counts file misses it */
        c->dwell[z] = n, c->cap_dwell[z] = cap;
    }
    c->dwell[z][c->n_dwell[z]++] = d;
}

static void zone_exit(pan_analytics *a, pan__an_cam *c, pan__an_obj *o, int z, const pan__an_trk *k, int64_t frame,
                      double t)
{
    pan_event ev;
    double dwell = t - o->enter_t[z];
    o->inside[z] = 0;
    add_dwell(c, z, dwell);
    event_init(&ev, PAN_EVENT_ZONE_EXIT, c, k, frame, t);
    if (!k) { /* the object ended: its last track's data */
        ev.track_id = o->last_track, ev.global_id = o->last_gid, ev.class_id = o->last_class;
        memcpy(ev.box, o->last_box, sizeof ev.box);
    }
    ev.zone = c->zones[z]->name;
    ev.dwell_s = dwell;
    emit(a, &ev);
}

/* The object no track refers to any more: its open visits end where it was last seen. */
static void obj_release(pan_analytics *a, pan__an_cam *c, pan__an_obj *o)
{
    if (--o->refs > 0) return;
    for (int z = 0; z < c->n_zones; z++)
        if (o->inside[z]) zone_exit(a, c, o, z, NULL, o->last_frame, o->last_t);
    free(o->side), free(o->inside), free(o->enter_t), free(o);
}

/* One observed point of object o (through track k) at frame / t: lines and zones. */
static void obj_point(pan_analytics *a, pan__an_cam *c, pan__an_obj *o, pan__an_trk *k, int64_t frame, double t,
                      const float box[4])
{
    double px = (box[0] + box[2]) * 0.5, py = box[3]; /* bottom centre */
    pan_event ev;
    float keep[4];
    memcpy(keep, k->box, sizeof keep);
    memcpy(k->box, box, sizeof keep); /* events carry the box of the moment */
    for (int l = 0; l < c->n_lines; l++) {
        const pan__an_line *L = c->lines[l];
        if (!pan__an_class_allowed(L->classes, L->n_classes, k->class_id)) continue;
        double s = pan__an_line_distance(L->a, L->b, px, py);
        int side = s >= L->band && s > 0 ? 1 : s <= -L->band && s < 0 ? -1 : 0;
        if (!side || side == o->side[l]) continue;
        if (o->side[l] && pan__an_line_projects_within(L->a, L->b, px, py)) {
            int in = side > 0;
            if (in) c->in[l]++;
            else c->out[l]++;
            event_init(&ev, PAN_EVENT_LINE_CROSS, c, k, frame, t);
            ev.line = L->name;
            ev.direction = in ? "in" : "out";
            emit(a, &ev);
        }
        o->side[l] = (signed char)side;
    }
    for (int z = 0; z < c->n_zones; z++) {
        const pan__an_zone *Z = c->zones[z];
        if (!pan__an_class_allowed(Z->classes, Z->n_classes, k->class_id)) continue;
        double d = pan__an_polygon_distance((const double(*)[2])Z->poly, Z->n, px, py), half = Z->band * 0.5;
        if (!o->inside[z] && d >= half && d > 0) {
            o->inside[z] = 1;
            o->enter_t[z] = t;
            event_init(&ev, PAN_EVENT_ZONE_ENTER, c, k, frame, t);
            ev.zone = Z->name;
            emit(a, &ev);
        } else if (o->inside[z] && d <= -half && d < 0) {
            zone_exit(a, c, o, z, k, frame, t);
        }
    }
    memcpy(k->box, keep, sizeof keep);
    if (frame >= o->last_frame) {
        o->last_frame = frame, o->last_t = t;
        o->last_track = k->id, o->last_gid = k->global_id, o->last_class = k->class_id;
        memcpy(o->last_box, box, sizeof o->last_box);
    }
}

/* ------------------------------------------------------------------------ tracks */

static void hist_add(pan__an_trk *k, int64_t frame, const float box[4])
{
    if (k->n_hist == PAN__AN_HIST) {
        memmove(k->hx, k->hx + 1, (PAN__AN_HIST - 1) * sizeof *k->hx);
        memmove(k->hy, k->hy + 1, (PAN__AN_HIST - 1) * sizeof *k->hy);
        memmove(k->hf, k->hf + 1, (PAN__AN_HIST - 1) * sizeof *k->hf);
        k->n_hist--;
    }
    k->hx[k->n_hist] = (box[0] + box[2]) * 0.5f;
    k->hy[k->n_hist] = box[3];
    k->hf[k->n_hist++] = frame;
}

static void track_end(pan_analytics *a, pan__an_cam *c, pan__an_trk *k, int64_t continued_by)
{
    pan_event ev;
    if (k->ended) return;
    k->ended = 1;
    k->obj->live--;
    event_init(&ev, PAN_EVENT_TRACK_END, c, k, k->last_frame, k->last_t);
    ev.first_seen = k->first_t;
    ev.last_seen = k->last_t;
    ev.duration_s = k->last_t - k->first_t;
    ev.continued_by = continued_by;
    emit(a, &ev);
}

/* Global ids seen so far (open addressing). Returns 1 if gid was already there. */
static int gid_seen(pan_analytics *a, int64_t gid)
{
    if (a->n_gids * 2 >= a->cap_gids) {
        size_t cap = a->cap_gids ? a->cap_gids * 2 : 1024;
        int64_t *g = calloc(cap, sizeof *g);
        if (!g) return 1; /* no memory: no identity_link events for new identities */
        for (size_t i = 0; i < a->cap_gids; i++)
            if (a->gids[i])
                for (size_t h = (uint64_t)a->gids[i] * 0x9E3779B97F4A7C15ull % cap;; h = (h + 1) % cap)
                    if (!g[h]) {
                        g[h] = a->gids[i];
                        break;
                    }
        free(a->gids);
        a->gids = g, a->cap_gids = cap;
    }
    for (size_t h = (uint64_t)gid * 0x9E3779B97F4A7C15ull % a->cap_gids;; h = (h + 1) % a->cap_gids) {
        if (a->gids[h] == gid) return 1;
        if (!a->gids[h]) {
            a->gids[h] = gid;
            a->n_gids++;
            return 0;
        }
    }
}

/* A track's global id appeared or changed: identity_link when it joined an identity another track
 * already had (a re-identification or a cross-camera link), or changed its mind. */
static void set_gid(pan_analytics *a, pan__an_cam *c, pan__an_trk *k, int64_t gid, int announce)
{
    if (gid == k->global_id || gid <= 0) return;
    int64_t prev = k->global_id;
    int known = gid_seen(a, gid);
    k->global_id = gid;
    if (announce && (known || prev)) {
        pan_event ev;
        event_init(&ev, PAN_EVENT_IDENTITY_LINK, c, k, c->frame, c->t);
        ev.previous_global_id = prev;
        emit(a, &ev);
    }
}

static pan_status new_track(pan_analytics *a, pan__an_cam *c, const pan_track_report *r)
{
    pan__an_trk k = {0};
    pan__an_point pts[256];
    pan__an_trk *pred = NULL;
    int n = 0;
    k.id = r->id;
    k.class_id = r->class_id;
    memcpy(k.box, r->box, sizeof k.box);
    k.first_frame = k.last_frame = k.alive_frame = c->frame;
    k.first_t = k.last_t = c->t;
    if (a->p.robust) {
        int cap = a->p.trace_frames < 256 ? a->p.trace_frames : 256;
        n = pan__an_trace(a, c, &k, pts, cap, &pred);
    }
    if (c->n_trk == c->cap_trk) { /* before pred is used: growing moves the records */
        int cap = c->cap_trk ? c->cap_trk * 2 : 64;
        ptrdiff_t at = pred ? pred - c->trk : -1;
        pan__an_trk *t = realloc(c->trk, (size_t)cap * sizeof *t);
        if (!t) return PAN_NOMEM;
        c->trk = t, c->cap_trk = cap;
        if (at >= 0) pred = &c->trk[at];
    }
    if (pred) {
        k.obj = pred->obj;
        pred->superseded = 1;
    } else if (!(k.obj = obj_new(c))) {
        return PAN_NOMEM;
    }
    k.obj->refs++;
    k.obj->live++;
    if (n) k.first_frame = pts[0].frame, k.first_t = pts[0].t; /* seen before confirmation */
    c->trk[c->n_trk] = k;
    pan__an_trk *kk = &c->trk[c->n_trk++];
    if (pred) track_end(a, c, pred, kk->id);
    /* the identity of the first report: announced when another track had it before */
    int known = r->global_id > 0 && gid_seen(a, r->global_id);
    kk->global_id = r->global_id > 0 ? r->global_id : 0;
    pan_event ev;
    event_init(&ev, PAN_EVENT_TRACK_START, c, kk, c->frame, c->t);
    ev.continues = pred ? pred->id : 0;
    emit(a, &ev);
    if (known) {
        event_init(&ev, PAN_EVENT_IDENTITY_LINK, c, kk, c->frame, c->t);
        emit(a, &ev);
    }
    for (int i = 0; i < n; i++) { /* the past, replayed: a crossing before confirmation counts */
        obj_point(a, c, kk->obj, kk, pts[i].frame, pts[i].t, pts[i].box);
        hist_add(kk, pts[i].frame, pts[i].box);
    }
    return PAN_OK;
}

/* Drops records of tracks that ended and can no longer be continued. */
static void sweep(pan_analytics *a, pan__an_cam *c, int all)
{
    int w = 0;
    for (int i = 0; i < c->n_trk; i++) {
        pan__an_trk *k = &c->trk[i];
        if (!k->ended && (all || c->frame - k->alive_frame > a->p.end_after_frames)) track_end(a, c, k, 0);
        /* An ended record stays while a new track may still continue it; a superseded one while
         * its id may come back (the tracker found it again). */
        int gone = all || (k->superseded ? c->frame - k->alive_frame > a->p.end_after_frames
                                         : k->ended && c->frame - k->last_frame > a->p.continue_frames);
        if (gone) {
            obj_release(a, c, k->obj);
            continue;
        }
        if (w != i) c->trk[w] = *k;
        w++;
    }
    c->n_trk = w;
}

static pan__an_trk *find(pan__an_cam *c, int64_t id)
{
    int lo = 0, hi = c->n_trk;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->trk[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_trk && c->trk[lo].id == id ? &c->trk[lo] : NULL;
}

pan_status pan_analytics_update(pan_analytics *a, const pan_analytics_frame *f)
{
    pan_status st;
    if (!a || !f || f->n_tracks < 0 || f->n_detections < 0 || (f->n_tracks && !f->tracks) ||
        (f->n_detections && !f->detections) || f->frame < 0)
        return PAN_INVAL;
    pan__an_cam *c = pan__an_get_cam(a, f->camera);
    if (!c) return PAN_NOMEM;
    if (c->has_frame && f->frame <= c->frame) {
        pan_log_warn("analytics", f->camera, "frame %lld after frame %lld: frames must come in order; ignored",
                     (long long)f->frame, (long long)c->frame);
        return PAN_INVAL;
    }
    if (f->name && (!c->name || strcmp(c->name, f->name))) {
        free(c->name);
        c->name = strdup(f->name);
    }
    c->frame = f->frame;
    c->t = isfinite(f->pts) ? f->pts : (double)f->frame / a->p.fps;
    c->has_frame = 1;
    c->width = f->width > 0 ? f->width : 0;
    c->height = f->height > 0 ? f->height : 0;
    if (a->p.robust && (st = pan__an_hist_push(c, f, c->t))) return st;
    /* Reports come in ascending id order from the tracker, but need not: each is looked up. */
    for (int i = 0; i < f->n_tracks; i++) {
        const pan_track_report *r = &f->tracks[i];
        if (r->id <= 0 || r->state == PAN_TRACK_TENTATIVE) continue;
        pan__an_trk *k = find(c, r->id);
        if (r->state == PAN_TRACK_LOST || r->state == PAN_TRACK_REMOVED) {
            if (k) k->alive_frame = c->frame;
            if (k && r->state == PAN_TRACK_REMOVED) track_end(a, c, k, 0);
            continue;
        }
        if (!(r->box[2] > r->box[0] && r->box[3] > r->box[1])) continue; /* NaN or empty: nothing to place */
        if (k && k->ended) {
            /* Reported again after its track_end: a track another one continued, found again by
             * the tracker (most likely on someone else, since its successor holds the person), or
             * one that outlived end_after_frames. It starts over, with an object of its own: two
             * live tracks in different places must never share line sides. */
            pan__an_obj *o = k->obj;
            memmove(k, k + 1, (size_t)(c->n_trk - (k - c->trk) - 1) * sizeof *k);
            c->n_trk--;
            obj_release(a, c, o);
            k = NULL;
        }
        if (!k) {
            if ((st = new_track(a, c, r))) return st;
            k = find(c, r->id);
            if (!k) { /* an id below the newest one: keep the array sorted */
                pan__an_trk tmp = c->trk[c->n_trk - 1];
                int j = c->n_trk - 1;
                while (j > 0 && c->trk[j - 1].id > tmp.id) c->trk[j] = c->trk[j - 1], j--;
                c->trk[j] = tmp;
                k = &c->trk[j];
            }
        }
        k->class_id = r->class_id;
        set_gid(a, c, k, r->global_id, 1);
        obj_point(a, c, k->obj, k, c->frame, c->t, r->box);
        memcpy(k->box, r->box, sizeof k->box);
        k->last_frame = k->alive_frame = c->frame;
        k->last_t = c->t;
        hist_add(k, c->frame, r->box);
    }
    sweep(a, c, 0);
    return PAN_OK;
}

pan_status pan_analytics_end_camera(pan_analytics *a, int camera)
{
    if (!a || camera < 0) return PAN_INVAL;
    if (camera >= a->n_cams || !a->cams[camera]) return PAN_OK;
    pan__an_cam *c = a->cams[camera];
    sweep(a, c, 1);
    for (int i = 0; i < c->n_hist_slots; i++) c->hist[i].frame = -1;
    return PAN_OK;
}

pan_status pan_analytics_finish(pan_analytics *a)
{
    if (!a) return PAN_INVAL;
    for (int i = 0; i < a->n_cams; i++)
        if (a->cams[i]) pan_analytics_end_camera(a, i);
    return PAN_OK;
}

void pan_analytics_destroy(pan_analytics **pa)
{
    if (!pa || !*pa) return;
    pan_analytics *a = *pa;
    for (int i = 0; i < a->n_cams; i++) {
        pan__an_cam *c = a->cams[i];
        if (!c) continue;
        for (int k = 0; k < c->n_trk; k++) /* without events: destroy is not finish */
            if (--c->trk[k].obj->refs == 0) {
                pan__an_obj *o = c->trk[k].obj;
                free(o->side), free(o->inside), free(o->enter_t), free(o);
            }
        free_cam(c);
    }
    free(a->cams);
    free(a->gids);
    pan__sb_free(&a->json);
    pan_analytics_config_destroy(&a->cfg);
    free(a);
    *pa = NULL;
}
