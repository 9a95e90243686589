/* Global identities across cameras (see track.h). A gallery of identities, each with an appearance
 * embedding (EMA of its tracks' embeddings) and the time it was last seen, plus one link per live
 * camera track. A track is linked once, when first reported, and keeps its identity.
 *
 * One mutex guards everything: calls are short (linear scans over links and identities, a few
 * hundred entries) and come once per camera frame, so contention is negligible. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "panoptes/track.h"
#include "track/track_impl.h"

typedef struct ident {
    int64_t gid;
    double last_t;
    float *emb; /* dim floats or NULL */
} ident;

typedef struct tlink {
    int camera;
    int64_t id, gid;
    double last_t;  /* last time the track was reported with a measured box */
    double until_t; /* while t <= until_t, a track that opened a new identity may still join an
                       existing one (evidence often comes a few frames late); then 0 */
    float box[4];
} tlink;

typedef struct overlap {
    int a, b;
    double h[9], hinv[9]; /* a -> b and b -> a */
} overlap;

struct pan_identity {
    pthread_mutex_t lock;
    pan_identity_params p;
    int dim, warned_dim;
    int64_t next_gid;
    ident *g;
    int ng, cap_g;
    tlink *l;
    int nl, cap_l;
    overlap *ov;
    int nov;
};

pan_identity_params pan_identity_params_default(void)
{
    pan_identity_params p = {0};
    p.min_similarity = 0.6f;
    p.max_gap_s = 60.0;
    p.embedding_alpha = 0.9f;
    p.overlap_iou = 0.3f;
    p.overlap_dt_s = 0.5;
    p.max_identities = 4096;
    p.link_window_s = 0.0;
    return p;
}

pan_status pan_identity_create(pan_identity **out, const pan_identity_params *params)
{
    pan_identity_params p = params ? *params : pan_identity_params_default();
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!(p.min_similarity >= -1.f && p.min_similarity <= 1.f) || !(p.max_gap_s >= 0) ||
        !(p.embedding_alpha >= 0.f && p.embedding_alpha <= 1.f) || !(p.overlap_iou > 0.f) ||
        !(p.overlap_dt_s >= 0) || p.max_identities < 1 || !(p.link_window_s >= 0)) {
        pan_log_error("identity", -1, "identity parameters out of range (min_similarity in [-1,1], "
                      "gaps >= 0, 0 <= alpha <= 1, overlap_iou > 0, max_identities >= 1)");
        return PAN_INVAL;
    }
    pan_identity *im = calloc(1, sizeof *im);
    if (!im) return PAN_NOMEM;
    im->p = p;
    pthread_mutex_init(&im->lock, NULL);
    *out = im;
    return PAN_OK;
}

void pan_identity_destroy(pan_identity **pim)
{
    if (!pim || !*pim) return;
    pan_identity *im = *pim;
    for (int i = 0; i < im->ng; i++) free(im->g[i].emb);
    free(im->g);
    free(im->l);
    free(im->ov);
    pthread_mutex_destroy(&im->lock);
    free(im);
    *pim = NULL;
}

int64_t pan_identity_count(pan_identity *im)
{
    if (!im) return 0;
    pthread_mutex_lock(&im->lock);
    int64_t n = im->next_gid;
    pthread_mutex_unlock(&im->lock);
    return n;
}

static int invert3(const double m[9], double r[9])
{
    double c0 = m[4] * m[8] - m[5] * m[7], c1 = m[5] * m[6] - m[3] * m[8], c2 = m[3] * m[7] - m[4] * m[6];
    double det = m[0] * c0 + m[1] * c1 + m[2] * c2;
    if (!(fabs(det) > 1e-12)) return -1;
    double id = 1.0 / det;
    r[0] = c0 * id, r[1] = (m[2] * m[7] - m[1] * m[8]) * id, r[2] = (m[1] * m[5] - m[2] * m[4]) * id;
    r[3] = c1 * id, r[4] = (m[0] * m[8] - m[2] * m[6]) * id, r[5] = (m[2] * m[3] - m[0] * m[5]) * id;
    r[6] = c2 * id, r[7] = (m[1] * m[6] - m[0] * m[7]) * id, r[8] = (m[0] * m[4] - m[1] * m[3]) * id;
    return 0;
}

pan_status pan_identity_set_overlap(pan_identity *im, int a, int b, const double h[9])
{
    double inv[9];
    if (!im || !h || a < 0 || b < 0 || a == b) return PAN_INVAL;
    for (int i = 0; i < 9; i++)
        if (!isfinite(h[i])) return PAN_INVAL;
    if (invert3(h, inv)) {
        pan_log_error("identity", a, "overlap mapping to camera %d is singular: give a homography "
                      "that maps 4 points in general position", b);
        return PAN_INVAL;
    }
    pthread_mutex_lock(&im->lock);
    pan_status st = PAN_OK;
    int k = 0;
    while (k < im->nov && !((im->ov[k].a == a && im->ov[k].b == b) || (im->ov[k].a == b && im->ov[k].b == a))) k++;
    if (k == im->nov) {
        overlap *o = realloc(im->ov, (size_t)(im->nov + 1) * sizeof *o);
        if (!o) st = PAN_NOMEM;
        else im->ov = o, im->nov++;
    }
    if (!st) {
        im->ov[k].a = a, im->ov[k].b = b;
        memcpy(im->ov[k].h, h, sizeof im->ov[k].h);
        memcpy(im->ov[k].hinv, inv, sizeof im->ov[k].hinv);
    }
    pthread_mutex_unlock(&im->lock);
    return st;
}

/* Bounding box of the four mapped corners; -1 if a corner maps to or behind the horizon. */
static int map_box(const double h[9], const float in[4], float out[4])
{
    float xs[2] = {in[0], in[2]}, ys[2] = {in[1], in[3]};
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    for (int i = 0; i < 4; i++) {
        double x = xs[i & 1], y = ys[i >> 1];
        double w = h[6] * x + h[7] * y + h[8];
        if (!(w > 1e-9)) return -1;
        float u = (float)((h[0] * x + h[1] * y + h[2]) / w), v = (float)((h[3] * x + h[4] * y + h[5]) / w);
        out[0] = fminf(out[0], u), out[1] = fminf(out[1], v);
        out[2] = fmaxf(out[2], u), out[3] = fmaxf(out[3], v);
    }
    return 0;
}

static tlink *find_link(pan_identity *im, int camera, int64_t id)
{
    for (int i = 0; i < im->nl; i++)
        if (im->l[i].camera == camera && im->l[i].id == id) return &im->l[i];
    return NULL;
}

static ident *find_ident(pan_identity *im, int64_t gid)
{
    for (int i = 0; i < im->ng; i++)
        if (im->g[i].gid == gid) return &im->g[i];
    return NULL;
}

/* Is identity gid shown by another track of this camera in this very frame? (A person is one
 * track per camera; a track lost earlier does not hold its identity, so re-entries can take it.) */
static int held(const pan_identity *im, int camera, int64_t gid, double t)
{
    for (int i = 0; i < im->nl; i++)
        if (im->l[i].camera == camera && im->l[i].gid == gid && im->l[i].last_t >= t - 1e-6) return 1;
    return 0;
}

static void blend(pan_identity *im, ident *g, const float *e)
{
    double a = im->p.embedding_alpha, n = 0.0;
    if (!g->emb) {
        g->emb = malloc((size_t)im->dim * sizeof *g->emb);
        if (!g->emb) return;
        a = 0.0;
    }
    for (int i = 0; i < im->dim; i++) {
        g->emb[i] = (float)(a * g->emb[i] + (1.0 - a) * e[i]);
        n += (double)g->emb[i] * g->emb[i];
    }
    if (n > 0) {
        float s = (float)(1.0 / sqrt(n));
        for (int i = 0; i < im->dim; i++) g->emb[i] *= s;
    }
}

/* Forgets identities unseen for longer than max_gap_s, and links of tracks not reported for as
 * long (their tracker stopped reporting them without a REMOVED report). */
static void expire(pan_identity *im, double t)
{
    int w = 0;
    for (int i = 0; i < im->nl; i++)
        if (t - im->l[i].last_t <= im->p.max_gap_s) im->l[w++] = im->l[i];
    im->nl = w;
    w = 0;
    for (int i = 0; i < im->ng; i++) {
        if (t - im->g[i].last_t > im->p.max_gap_s) {
            free(im->g[i].emb);
            continue;
        }
        im->g[w++] = im->g[i];
    }
    im->ng = w;
}

static ident *new_ident(pan_identity *im, double t)
{
    if (im->ng >= im->p.max_identities) { /* full: forget the one seen least recently */
        int old = 0;
        for (int i = 1; i < im->ng; i++)
            if (im->g[i].last_t < im->g[old].last_t) old = i;
        free(im->g[old].emb);
        im->g[old] = im->g[--im->ng];
    }
    if (im->ng == im->cap_g) {
        int cap = im->cap_g ? im->cap_g * 2 : 64;
        ident *g = realloc(im->g, (size_t)cap * sizeof *g);
        if (!g) return NULL;
        im->g = g, im->cap_g = cap;
    }
    ident *g = &im->g[im->ng++];
    g->gid = ++im->next_gid;
    g->last_t = t;
    g->emb = NULL;
    return g;
}

/* Identity for a camera's new track: overlap tlink, then appearance, else 0. */
static int64_t choose(pan_identity *im, int camera, double t, const pan_track_report *r, const float *e,
                      int64_t self)
{
    int64_t best = 0;
    double best_v = im->p.overlap_iou;
    for (int k = 0; k < im->nov; k++) {
        const overlap *o = &im->ov[k];
        if (o->a != camera && o->b != camera) continue;
        int other = o->a == camera ? o->b : o->a;
        float mb[4];
        if (map_box(o->a == camera ? o->h : o->hinv, r->box, mb)) continue;
        for (int i = 0; i < im->nl; i++) {
            const tlink *l = &im->l[i];
            if (l->camera != other || l->gid == self || fabs(t - l->last_t) > im->p.overlap_dt_s) continue;
            double v = pan__box_iou(mb, l->box);
            if (v >= best_v && !held(im, camera, l->gid, t)) best_v = v, best = l->gid;
        }
    }
    if (best || !e) return best;
    best_v = im->p.min_similarity;
    for (int i = 0; i < im->ng; i++) {
        const ident *g = &im->g[i];
        if (!g->emb || g->gid == self || t - g->last_t > im->p.max_gap_s) continue;
        double dot = 0.0;
        for (int j = 0; j < im->dim; j++) dot += (double)g->emb[j] * e[j];
        if (dot >= best_v && !held(im, camera, g->gid, t)) best_v = dot, best = g->gid;
    }
    return best;
}

/* A track that opened its own identity moments ago joins an existing one if evidence now says so;
 * its identity is dropped when no other track took it. */
static void relink(pan_identity *im, tlink *l, int camera, double t, const pan_track_report *r, const float *e)
{
    int64_t gid = choose(im, camera, t, r, e, l->gid);
    if (!gid) return;
    int64_t old = l->gid;
    l->gid = gid;
    l->until_t = 0;
    for (int i = 0; i < im->nl; i++)
        if (im->l[i].gid == old) return;
    for (int i = 0; i < im->ng; i++)
        if (im->g[i].gid == old) {
            free(im->g[i].emb);
            im->g[i] = im->g[--im->ng];
            break;
        }
    pan_log_debug("identity", camera, "track %lld: global id %lld -> %lld", (long long)r->id, (long long)old,
                  (long long)gid);
}

pan_status pan_identity_assign(pan_identity *im, int camera, double t_s, pan_track_report *reports,
                               int n, const float *const *embeddings, int dim)
{
    pan_status st = PAN_OK;
    if (!im || n < 0 || (n > 0 && !reports) || !isfinite(t_s)) return PAN_INVAL;
    if (dim <= 0) embeddings = NULL;
    pthread_mutex_lock(&im->lock);
    if (embeddings && im->dim == 0) im->dim = dim;
    if (embeddings && dim != im->dim) {
        if (!im->warned_dim)
            pan_log_warn("identity", camera, "embeddings of %d dimensions, the gallery holds %d: "
                         "ignoring them (use one ReID model for all cameras)", dim, im->dim);
        im->warned_dim = 1;
        embeddings = NULL;
    }
    expire(im, t_s);
    /* Pass 1: tracks already linked (so that `held` sees this frame's holders); removals. */
    for (int i = 0; i < n; i++) {
        pan_track_report *r = &reports[i];
        const float *e = embeddings ? embeddings[i] : NULL;
        tlink *l = find_link(im, camera, r->id);
        r->global_id = l ? l->gid : 0;
        if (!l) continue;
        if (r->state == PAN_TRACK_REMOVED) {
            *l = im->l[--im->nl];
            continue;
        }
        if (r->state == PAN_TRACK_LOST) continue; /* predicted box, no new evidence */
        l->last_t = t_s;
        memcpy(l->box, r->box, sizeof l->box);
        if (l->until_t > 0 && t_s > l->until_t) l->until_t = 0;
        if (l->until_t > 0) relink(im, l, camera, t_s, r, e);
        r->global_id = l->gid;
        ident *g = find_ident(im, l->gid);
        if (!g) continue; /* forgotten (gallery full): the track keeps its number */
        g->last_t = t_s;
        if (e) blend(im, g, e);
    }
    /* Pass 2: new tracks. */
    for (int i = 0; i < n; i++) {
        pan_track_report *r = &reports[i];
        const float *e = embeddings ? embeddings[i] : NULL;
        if (r->global_id || r->state != PAN_TRACK_CONFIRMED || r->id <= 0) continue;
        int64_t gid = choose(im, camera, t_s, r, e, 0);
        ident *g = gid ? find_ident(im, gid) : NULL;
        if (!gid) {
            if (!(g = new_ident(im, t_s))) {
                st = PAN_NOMEM;
                break;
            }
            gid = g->gid;
        }
        if (im->nl == im->cap_l) {
            int cap = im->cap_l ? im->cap_l * 2 : 64;
            tlink *nl = realloc(im->l, (size_t)cap * sizeof *nl);
            if (!nl) {
                st = PAN_NOMEM;
                break;
            }
            im->l = nl, im->cap_l = cap;
        }
        tlink *l = &im->l[im->nl++];
        l->camera = camera, l->id = r->id, l->gid = gid, l->last_t = t_s;
        l->until_t = g && g->gid == im->next_gid && !g->emb ? t_s + im->p.link_window_s : 0.0;
        memcpy(l->box, r->box, sizeof l->box);
        if (g) {
            g->last_t = t_s;
            if (e) blend(im, g, e);
        }
        r->global_id = gid;
        pan_log_debug("identity", camera, "track %lld -> global id %lld", (long long)r->id, (long long)gid);
    }
    pthread_mutex_unlock(&im->lock);
    return st;
}
