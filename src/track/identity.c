/* Global identities across cameras (see track.h). A gallery of identities, each with an appearance
 * embedding (EMA of its tracks' embeddings) and the time it was last seen, plus one link per live
 * camera track. A track is linked once, when first reported, and keeps its identity.
 *
 * Embeddings live in one row-major matrix (`rows`, one slot per identity with an embedding; a
 * slot never moves while its identity lives), so the similarities of a call's queries against the
 * whole gallery are one matrix product: on the host (sgemm), or on the GPU
 * (src/track/gallery.h: a device mirror of `rows` kept current by uploading the slots changed
 * since the last product, cuBLASLt, only the queries x slots similarities come back) when the
 * gallery holds at least gpu_min_gallery identities. A call asks for similarities twice: for the
 * linked tracks that may still relink (gallery as the call found it), then for the new tracks
 * (after this call's known tracks updated their identities), the same on both paths.
 *
 * One mutex guards everything: calls are short (linear scans over links and identities, a few
 * hundred entries) and come once per camera frame, so contention is negligible. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "panoptes/track.h"
#include "track/gallery.h"
#include "track/track_impl.h"

typedef struct slot_info {
    uint64_t born;       /* im->epoch when given out: fresh while it still equals it */
    unsigned char dirty; /* changed since the GPU copy was updated (listed in im->dirty) */
} slot_info;

typedef struct ident {
    int64_t gid;
    double last_t;
    int slot; /* its embedding's row in rows, or -1 */
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
    /* embeddings: slot rows, free slots, slots changed since the GPU mirror was updated, and
     * slots given out since the last similarities were computed (their scores are stale) */
    float *rows;
    int n_slots, cap_slots;
    int *free_slots, n_free;
    int *dirty, n_dirty;
    slot_info *info;      /* per slot */
    uint64_t epoch;       /* similarities computed so far (score calls) */
    pan__gallery_gpu *gpu;
    int gpu_off;          /* no GPU, or it failed once: the host computes */
    float *scores;        /* queries x stride of the last product */
    int stride;           /* n_slots when it was computed */
    size_t cap_scores;
    const float **q;
    int *qrow;
    int cap_q;
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
    p.backend = PAN_BACKEND_CPU;
    p.gpu_min_gallery = 1024;
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
    im->gpu_off = p.backend != PAN_BACKEND_CUDA || p.gpu_min_gallery < 0;
    pthread_mutex_init(&im->lock, NULL);
    *out = im;
    return PAN_OK;
}

void pan_identity_destroy(pan_identity **pim)
{
    if (!pim || !*pim) return;
    pan_identity *im = *pim;
    pan__gallery_gpu_destroy(&im->gpu);
    free(im->rows);
    free(im->free_slots);
    free(im->dirty);
    free(im->info);
    free(im->scores);
    free(im->q);
    free(im->qrow);
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

/* A slot for an embedding (contents undefined), or -1 when out of memory. */
static int slot_alloc(pan_identity *im)
{
    int s;
    if (im->n_free) {
        s = im->free_slots[--im->n_free];
    } else {
        if (im->n_slots == im->cap_slots) {
            int cap = im->cap_slots ? im->cap_slots * 2 : 64;
            float *r = realloc(im->rows, (size_t)cap * (size_t)im->dim * sizeof *r);
            if (!r) return -1;
            im->rows = r;
            int *fs = realloc(im->free_slots, (size_t)cap * sizeof *fs), *d = NULL;
            if (fs) im->free_slots = fs;
            if (fs && (d = realloc(im->dirty, (size_t)cap * sizeof *d))) im->dirty = d;
            slot_info *f = d ? realloc(im->info, (size_t)cap * sizeof *f) : NULL;
            if (!f) return -1;
            im->info = f;
            im->cap_slots = cap;
        }
        s = im->n_slots++;
        im->info[s].dirty = 0;
    }
    im->info[s].born = im->epoch; /* no similarities for it until the next score() */
    return s;
}

static void ident_forget(pan_identity *im, ident *g)
{
    if (g->slot >= 0) im->free_slots[im->n_free++] = g->slot;
    g->slot = -1;
}

static void blend(pan_identity *im, ident *g, const float *e)
{
    double a = im->p.embedding_alpha, n = 0.0;
    if (g->slot < 0) {
        if ((g->slot = slot_alloc(im)) < 0) return;
        a = 0.0;
    }
    float *v = im->rows + (size_t)g->slot * (size_t)im->dim;
    for (int i = 0; i < im->dim; i++) {
        v[i] = a > 0 ? (float)(a * v[i] + (1.0 - a) * e[i]) : e[i]; /* a new slot holds garbage */
        n += (double)v[i] * v[i];
    }
    if (n > 0) {
        float s = (float)(1.0 / sqrt(n));
        for (int i = 0; i < im->dim; i++) v[i] *= s;
    }
    if (!im->info[g->slot].dirty) {
        im->info[g->slot].dirty = 1;
        im->dirty[im->n_dirty++] = g->slot;
    }
}

/* Similarities of the nq queries against every slot: im->scores[q * stride + slot]. Slots given
 * out before this call are scored; later ones are fresh (no score) until the next call. */
static pan_status score(pan_identity *im, int camera, int nq)
{
    im->epoch++; /* slots given out from now on are fresh (born == epoch) */
    im->stride = im->n_slots;
    if (nq == 0 || im->n_slots == 0) return PAN_OK;
    size_t need = (size_t)nq * (size_t)im->n_slots;
    if (need > im->cap_scores) {
        float *sc = realloc(im->scores, need * sizeof *sc);
        if (!sc) return PAN_NOMEM;
        im->scores = sc;
        im->cap_scores = need;
    }
    if (!im->gpu_off && im->ng >= im->p.gpu_min_gallery) {
        pan_status st = PAN_OK;
        if (!im->gpu) st = pan__gallery_gpu_create(&im->gpu, im->dim, im->p.device);
        if (!st) st = pan__gallery_gpu_scores(im->gpu, im->rows, im->n_slots, im->dirty, im->n_dirty, im->q, nq, im->scores);
        if (!st) {
            for (int i = 0; i < im->n_dirty; i++) im->info[im->dirty[i]].dirty = 0;
            im->n_dirty = 0;
            return PAN_OK;
        }
        pan_log_warn("identity", camera, "gallery similarities on the GPU failed (%s): computing them on the host "
                     "from now on", pan_status_str(st));
        pan__gallery_gpu_destroy(&im->gpu);
        im->gpu_off = 1;
    }
    /* host: the same product (rows no identity holds are scored too, and never read) */
    return pan__gallery_host_scores(im->rows, im->n_slots, im->dim, im->q, nq, im->scores);
}

/* Room for n queries. */
static pan_status reserve_queries(pan_identity *im, int n)
{
    if (n <= im->cap_q) return PAN_OK;
    const float **q = realloc(im->q, (size_t)n * sizeof *q);
    if (!q) return PAN_NOMEM;
    im->q = q;
    int *r = realloc(im->qrow, (size_t)n * sizeof *r);
    if (!r) return PAN_NOMEM;
    im->qrow = r;
    im->cap_q = n;
    return PAN_OK;
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
            ident_forget(im, &im->g[i]);
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
        ident_forget(im, &im->g[old]);
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
    g->slot = -1;
    return g;
}

/* Identity for a camera's new track: overlap tlink, then appearance (sim: the track's row of
 * im->scores, or NULL), else 0. */
static int64_t choose(pan_identity *im, int camera, double t, const pan_track_report *r, const float *sim,
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
    if (best || !sim) return best;
    best_v = im->p.min_similarity;
    for (int i = 0; i < im->ng; i++) {
        const ident *g = &im->g[i];
        if (g->slot < 0 || im->info[g->slot].born == im->epoch || g->gid == self || t - g->last_t > im->p.max_gap_s)
            continue;
        double v = sim[g->slot];
        if (v >= best_v && !held(im, camera, g->gid, t)) best_v = v, best = g->gid;
    }
    return best;
}

/* A track that opened its own identity moments ago joins an existing one if evidence now says so;
 * its identity is dropped when no other track took it. */
static void relink(pan_identity *im, tlink *l, int camera, double t, const pan_track_report *r, const float *sim)
{
    int64_t gid = choose(im, camera, t, r, sim, l->gid);
    if (!gid) return;
    int64_t old = l->gid;
    l->gid = gid;
    l->until_t = 0;
    for (int i = 0; i < im->nl; i++)
        if (im->l[i].gid == old) return;
    for (int i = 0; i < im->ng; i++)
        if (im->g[i].gid == old) {
            ident_forget(im, &im->g[i]);
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
    if ((st = reserve_queries(im, n))) goto out;
    /* Similarities for the linked tracks that may still join another identity. */
    int nq = 0;
    for (int i = 0; embeddings && i < n; i++) {
        const pan_track_report *r = &reports[i];
        const tlink *l = find_link(im, camera, r->id);
        im->qrow[i] = -1;
        if (l && embeddings[i] && r->state != PAN_TRACK_REMOVED && r->state != PAN_TRACK_LOST && l->until_t > 0 &&
            t_s <= l->until_t)
            im->q[nq] = embeddings[i], im->qrow[i] = nq++;
    }
    if ((st = score(im, camera, nq))) goto out;
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
        if (l->until_t > 0) {
            const float *sim = e && im->qrow[i] >= 0 ? im->scores + (size_t)im->qrow[i] * (size_t)im->stride : NULL;
            relink(im, l, camera, t_s, r, sim);
        }
        r->global_id = l->gid;
        ident *g = find_ident(im, l->gid);
        if (!g) continue; /* forgotten (gallery full): the track keeps its number */
        g->last_t = t_s;
        if (e) blend(im, g, e);
    }
    /* Similarities for the new tracks, against the gallery as pass 1 left it. */
    nq = 0;
    for (int i = 0; embeddings && i < n; i++) {
        const pan_track_report *r = &reports[i];
        im->qrow[i] = -1;
        if (!r->global_id && r->state == PAN_TRACK_CONFIRMED && r->id > 0 && embeddings[i])
            im->q[nq] = embeddings[i], im->qrow[i] = nq++;
    }
    if ((st = score(im, camera, nq))) goto out;
    /* Pass 2: new tracks. */
    for (int i = 0; i < n; i++) {
        pan_track_report *r = &reports[i];
        const float *e = embeddings ? embeddings[i] : NULL;
        if (r->global_id || r->state != PAN_TRACK_CONFIRMED || r->id <= 0) continue;
        const float *sim = e && im->qrow[i] >= 0 ? im->scores + (size_t)im->qrow[i] * (size_t)im->stride : NULL;
        int64_t gid = choose(im, camera, t_s, r, sim, 0);
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
        l->until_t = g && g->gid == im->next_gid && g->slot < 0 ? t_s + im->p.link_window_s : 0.0;
        memcpy(l->box, r->box, sizeof l->box);
        if (g) {
            g->last_t = t_s;
            if (e) blend(im, g, e);
        }
        r->global_id = gid;
        pan_log_debug("identity", camera, "track %lld -> global id %lld", (long long)r->id, (long long)gid);
    }
out:
    pthread_mutex_unlock(&im->lock);
    return st;
}
