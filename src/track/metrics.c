/* Tracking metrics: CLEAR MOT, ID metrics and HOTA, following TrackEval's implementation (the
 * MOTChallenge reference) step for step, including its corner cases (e.g. a frame without results
 * does not break a ground-truth object's "matched in the previous frame" link). See mot.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"
#include "track/mot.h"
#include "track/track_impl.h"

#define EPS 1e-9 /* float slack on thresholds, like TrackEval's np.finfo('float').eps */

typedef struct pairs { /* sparse (gt id, result id) pairs that ever overlapped, open addressing */
    int64_t *key;      /* g * n_res_ids + r, or -1 */
    int *val;
    size_t cap;
    int n, cap_items;
    int *g, *r;
    double *id_count; /* frames with IoU >= thresh (ID metrics) */
    double *hota_pot; /* sum of per-frame Jaccard-normalised IoU (HOTA alignment) */
    float *mc;        /* PAN_HOTA_ALPHAS matched counts per pair */
} pairs;

typedef struct ev {
    const pan_mot_seq *gt, *res;
    pan_mot_eval_params p;
    int frames;
    int *gid, *rid;          /* dense id per row, -1 when the row is not evaluated */
    int64_t *gids, *rids;    /* sorted unique ids */
    int ng_ids, nr_ids;
    int *fg, *fr;            /* scratch: dense ids of one frame, and their rows */
    size_t *fg_row, *fr_row;
    int ng, nr;
    double *sim, *score, *cost; /* ng x nr: IoU, score to maximise, LAP cost */
    int *r2c;
    pan__lap_ws lap;
    pairs pr;
} ev;

static double iou_xywh(const pan_mot_row *a, const pan_mot_row *b)
{
    double ax2 = (double)a->x + a->w, ay2 = (double)a->y + a->h;
    double bx2 = (double)b->x + b->w, by2 = (double)b->y + b->h;
    double iw = fmin(ax2, bx2) - fmax(a->x, b->x), ih = fmin(ay2, by2) - fmax(a->y, b->y);
    if (iw <= 0 || ih <= 0) return 0.0;
    double inter = iw * ih, uni = (double)a->w * a->h + (double)b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0.0;
}

static size_t fbeg(const pan_mot_seq *s, int f) { return f <= s->n_frames ? s->frame_start[f] : s->n; }
static size_t fend(const pan_mot_seq *s, int f) { return f <= s->n_frames ? s->frame_start[f + 1] : s->n; }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int dense(const int64_t *ids, int n, int64_t id)
{
    const int64_t *p = bsearch(&id, ids, (size_t)n, sizeof *ids, cmp_i64);
    return p ? (int)(p - ids) : -1;
}

/* Loads frame f: evaluated rows and their dense ids, and the IoU matrix sim (ng x nr). */
static void load_frame(ev *e, int f)
{
    e->ng = e->nr = 0;
    for (size_t i = fbeg(e->gt, f); i < fend(e->gt, f); i++)
        if (e->gid[i] >= 0) e->fg_row[e->ng] = i, e->fg[e->ng++] = e->gid[i];
    for (size_t i = fbeg(e->res, f); i < fend(e->res, f); i++)
        if (e->rid[i] >= 0) e->fr_row[e->nr] = i, e->fr[e->nr++] = e->rid[i];
    for (int a = 0; a < e->ng; a++)
        for (int b = 0; b < e->nr; b++)
            e->sim[a * e->nr + b] = iou_xywh(&e->gt->rows[e->fg_row[a]], &e->res->rows[e->fr_row[b]]);
}

static int pair_index(pairs *p, int nr_ids, int g, int r, int create)
{
    int64_t key = (int64_t)g * nr_ids + r;
    if (create && (size_t)(p->n + 1) * 2 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        int64_t *k = malloc(cap * sizeof *k);
        int *v = malloc(cap * sizeof *v);
        if (!k || !v) return free(k), free(v), -2;
        for (size_t i = 0; i < cap; i++) k[i] = -1;
        for (size_t i = 0; i < p->cap; i++) {
            if (p->key[i] < 0) continue;
            size_t h = (size_t)((uint64_t)p->key[i] * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
            while (k[h] >= 0) h = (h + 1) & (cap - 1);
            k[h] = p->key[i];
            v[h] = p->val[i];
        }
        free(p->key), free(p->val);
        p->key = k, p->val = v, p->cap = cap;
    }
    if (!p->cap) return -1;
    size_t h = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 20) & (p->cap - 1);
    while (p->key[h] >= 0) {
        if (p->key[h] == key) return p->val[h];
        h = (h + 1) & (p->cap - 1);
    }
    if (!create) return -1;
    if (p->n == p->cap_items) {
        int cap = p->cap_items ? p->cap_items * 2 : 2048;
        int *g2 = realloc(p->g, (size_t)cap * sizeof *g2);
        if (g2) p->g = g2;
        int *r2 = realloc(p->r, (size_t)cap * sizeof *r2);
        if (r2) p->r = r2;
        double *c2 = realloc(p->id_count, (size_t)cap * sizeof *c2);
        if (c2) p->id_count = c2;
        double *h2 = realloc(p->hota_pot, (size_t)cap * sizeof *h2);
        if (h2) p->hota_pot = h2;
        float *m2 = realloc(p->mc, (size_t)cap * PAN_HOTA_ALPHAS * sizeof *m2);
        if (m2) p->mc = m2;
        if (!g2 || !r2 || !c2 || !h2 || !m2) return -2;
        p->cap_items = cap;
    }
    int idx = p->n++;
    p->key[h] = key;
    p->val[h] = idx;
    p->g[idx] = g, p->r[idx] = r;
    p->id_count[idx] = p->hota_pot[idx] = 0.0;
    memset(&p->mc[(size_t)idx * PAN_HOTA_ALPHAS], 0, PAN_HOTA_ALPHAS * sizeof *p->mc);
    return idx;
}

static void pairs_free(pairs *p)
{
    free(p->key), free(p->val), free(p->g), free(p->r), free(p->id_count), free(p->hota_pot), free(p->mc);
}

/* Max-score matching of this frame's gt (rows) and results (columns) on score; pairs with
 * score <= 0 are never matched when strict. r2c per gt row. */
static pan_status match_max(ev *e, const double *score, int strict)
{
    for (int k = 0; k < e->ng * e->nr; k++) e->cost[k] = (strict && !(score[k] > EPS)) ? INFINITY : -score[k];
    return pan__lap_solve(&e->lap, e->cost, e->ng, e->nr, 0.0, e->r2c, NULL, NULL);
}

/* Dense ids, MOTChallenge pre-processing and the duplicate-id check. */
static pan_status prepare(ev *e)
{
    const pan_mot_seq *gt = e->gt, *res = e->res;
    static const int distractors[] = {2, 7, 8, 12};
    for (size_t i = 0; i < gt->n; i++) {
        const pan_mot_row *r = &gt->rows[i];
        e->gid[i] = !e->p.mot_preprocess || (r->conf != 0.f && (r->cls == -1 || r->cls == 1)) ? 0 : -1;
    }
    for (size_t i = 0; i < res->n; i++) e->rid[i] = 0;
    for (int f = 1; f <= e->frames; f++) {
        size_t g0 = fbeg(gt, f), g1 = fend(gt, f), r0 = fbeg(res, f), r1 = fend(res, f);
        for (int side = 0; side < 2; side++) { /* duplicate ids in one frame: refused, as TrackEval */
            const pan_mot_seq *s = side ? res : gt;
            size_t a0 = side ? r0 : g0, a1 = side ? r1 : g1;
            for (size_t i = a0; i < a1; i++)
                for (size_t j = i + 1; j < a1; j++)
                    if (s->rows[i].id == s->rows[j].id) {
                        pan_log_error("eval", -1, "%s: frame %d has id %lld twice; each id may appear "
                                      "once per frame", side ? "results" : "ground truth", f,
                                      (long long)s->rows[i].id);
                        return PAN_CORRUPT;
                    }
        }
        if (!e->p.mot_preprocess || g1 == g0 || r1 == r0) continue;
        /* Results matched to a distractor (all gt rows of the frame take part) are dropped. */
        e->ng = (int)(g1 - g0), e->nr = (int)(r1 - r0);
        for (int a = 0; a < e->ng; a++)
            for (int b = 0; b < e->nr; b++) {
                double s = iou_xywh(&gt->rows[g0 + a], &res->rows[r0 + b]);
                e->sim[a * e->nr + b] = s >= 0.5 - EPS ? s : 0.0;
            }
        pan_status st = match_max(e, e->sim, 1);
        if (st) return st;
        for (int a = 0; a < e->ng; a++) {
            if (e->r2c[a] < 0) continue;
            for (size_t k = 0; k < sizeof distractors / sizeof *distractors; k++)
                if (gt->rows[g0 + a].cls == distractors[k]) e->rid[r0 + e->r2c[a]] = -1;
        }
    }
    /* Dense ids over the evaluated rows. */
    for (int side = 0; side < 2; side++) {
        const pan_mot_seq *s = side ? res : gt;
        int *map = side ? e->rid : e->gid, n = 0;
        int64_t *ids = side ? e->rids : e->gids;
        for (size_t i = 0; i < s->n; i++)
            if (map[i] >= 0) ids[n++] = s->rows[i].id;
        qsort(ids, (size_t)n, sizeof *ids, cmp_i64);
        int u = 0;
        for (int i = 0; i < n; i++)
            if (u == 0 || ids[u - 1] != ids[i]) ids[u++] = ids[i];
        for (size_t i = 0; i < s->n; i++)
            if (map[i] >= 0) map[i] = dense(ids, u, s->rows[i].id);
        if (side) e->nr_ids = u;
        else e->ng_ids = u;
    }
    return PAN_OK;
}

static pan_status clear_mot(ev *e, pan_mot_metrics *m)
{
    pan_status st = PAN_OK;
    int G = e->ng_ids;
    int *prev_any = malloc((size_t)G * sizeof *prev_any); /* last result id ever matched */
    int *prev_ts = malloc((size_t)G * sizeof *prev_ts);   /* result id matched at the previous step */
    int *prev_list = malloc(((size_t)G + 1) * sizeof *prev_list);
    int64_t *cnt = calloc((size_t)G + 1, sizeof *cnt), *hit = calloc((size_t)G + 1, sizeof *hit);
    int64_t *frag = calloc((size_t)G + 1, sizeof *frag);
    int n_prev = 0;
    double motp = 0.0;
    if (!prev_any || !prev_ts || !prev_list || !cnt || !hit || !frag) {
        st = PAN_NOMEM;
        goto done;
    }
    for (int g = 0; g < G; g++) prev_any[g] = prev_ts[g] = -1;
    for (int f = 1; f <= e->frames; f++) {
        load_frame(e, f);
        if (e->ng == 0) {
            m->fp += e->nr;
            continue;
        }
        for (int a = 0; a < e->ng; a++) cnt[e->fg[a]]++;
        if (e->nr == 0) {
            m->fn += e->ng;
            continue;
        }
        /* Keeping last step's pairs beats any IoU gain: bonus 1000. */
        for (int a = 0; a < e->ng; a++)
            for (int b = 0; b < e->nr; b++) {
                double s = e->sim[a * e->nr + b];
                e->score[a * e->nr + b] =
                    s >= e->p.iou_thresh - EPS ? s + (prev_ts[e->fg[a]] == e->fr[b] ? 1000.0 : 0.0) : 0.0;
            }
        if ((st = match_max(e, e->score, 1))) goto done;
        int nm = 0;
        for (int a = 0; a < e->ng; a++) {
            int b = e->r2c[a];
            if (b < 0) continue;
            int g = e->fg[a], r = e->fr[b];
            if (prev_any[g] >= 0 && prev_any[g] != r) m->idsw++;
            if (prev_ts[g] < 0) frag[g]++; /* tracked now, not at the previous step */
            hit[g]++;
            prev_any[g] = r;
            motp += e->sim[a * e->nr + b];
            nm++;
        }
        m->tp += nm;
        m->fn += e->ng - nm;
        m->fp += e->nr - nm;
        /* The previous-step state becomes exactly this frame's matches. */
        for (int k = 0; k < n_prev; k++) prev_ts[prev_list[k]] = -1;
        n_prev = 0;
        for (int a = 0; a < e->ng; a++)
            if (e->r2c[a] >= 0) {
                prev_ts[e->fg[a]] = e->fr[e->r2c[a]];
                prev_list[n_prev++] = e->fg[a];
            }
    }
    for (int g = 0; g < G; g++) {
        if (cnt[g] == 0) continue;
        double ratio = (double)hit[g] / (double)cnt[g];
        if (ratio > 0.8) m->mt++;
        else if (ratio >= 0.2) m->pt++;
        else m->ml++;
        if (frag[g] > 0) m->frag += frag[g] - 1;
    }
    m->mota = (double)(m->tp - m->fp - m->idsw) / (double)(m->tp + m->fn > 0 ? m->tp + m->fn : 1);
    m->motp = motp / (double)(m->tp > 0 ? m->tp : 1);
done:
    free(prev_any), free(prev_ts), free(prev_list), free(cnt), free(hit), free(frag);
    return st;
}

/* One pass over the frames for the ID metrics' overlap counts and HOTA's alignment potentials. */
static pan_status pair_pass(ev *e, int64_t *gcnt, int64_t *rcnt)
{
    for (int f = 1; f <= e->frames; f++) {
        load_frame(e, f);
        for (int a = 0; a < e->ng; a++) gcnt[e->fg[a]]++;
        for (int b = 0; b < e->nr; b++) rcnt[e->fr[b]]++;
        if (!e->ng || !e->nr) continue;
        /* HOTA: IoU normalised by the sums of its row and column (a soft Jaccard over the frame). */
        double *rs = e->score, *cs = e->score + e->ng;
        for (int a = 0; a < e->ng; a++) rs[a] = 0.0;
        for (int b = 0; b < e->nr; b++) cs[b] = 0.0;
        for (int a = 0; a < e->ng; a++)
            for (int b = 0; b < e->nr; b++) rs[a] += e->sim[a * e->nr + b], cs[b] += e->sim[a * e->nr + b];
        for (int a = 0; a < e->ng; a++)
            for (int b = 0; b < e->nr; b++) {
                double s = e->sim[a * e->nr + b];
                if (s <= 0.0) continue;
                int k = pair_index(&e->pr, e->nr_ids, e->fg[a], e->fr[b], 1);
                if (k < 0) return PAN_NOMEM;
                double den = rs[a] + cs[b] - s;
                if (den > EPS) e->pr.hota_pot[k] += s / den;
                if (s >= e->p.iou_thresh) e->pr.id_count[k] += 1.0;
            }
    }
    return PAN_OK;
}

/* IDTP: the best one-to-one matching of gt ids to result ids by frames overlapping at iou_thresh
 * (TrackEval builds the same optimum as a square min-cost problem over IDFN + IDFP). */
static pan_status id_metrics(ev *e, pan_mot_metrics *m)
{
    int G = e->ng_ids, R = e->nr_ids;
    double idtp = 0.0;
    if (G > 0 && R > 0) {
        if ((double)G * R > 2.0e8) {
            pan_log_error("eval", -1, "%d ground-truth ids x %d result ids is too large for the ID "
                          "matching; split the sequence", G, R);
            return PAN_LIMIT;
        }
        double *c = malloc((size_t)G * R * sizeof *c);
        int *r2c = malloc((size_t)G * sizeof *r2c);
        if (!c || !r2c) return free(c), free(r2c), PAN_NOMEM;
        for (size_t k = 0; k < (size_t)G * R; k++) c[k] = INFINITY;
        for (int k = 0; k < e->pr.n; k++)
            if (e->pr.id_count[k] > 0) c[(size_t)e->pr.g[k] * R + e->pr.r[k]] = -e->pr.id_count[k];
        double total = 0.0;
        pan_status st = pan__lap_solve(&e->lap, c, G, R, 0.0, r2c, NULL, &total);
        free(c), free(r2c);
        if (st) return st;
        idtp = -total;
    }
    m->idtp = (int64_t)llround(idtp);
    m->idfn = m->gt_dets - m->idtp;
    m->idfp = m->res_dets - m->idtp;
    m->idp = (double)m->idtp / (double)(m->idtp + m->idfp > 0 ? m->idtp + m->idfp : 1);
    m->idr = (double)m->idtp / (double)(m->idtp + m->idfn > 0 ? m->idtp + m->idfn : 1);
    double den = m->idtp + 0.5 * m->idfp + 0.5 * m->idfn;
    m->idf1 = (double)m->idtp / (den > 1.0 ? den : 1.0);
    return PAN_OK;
}

static pan_status hota(ev *e, const int64_t *gcnt, const int64_t *rcnt, pan_mot_metrics *m)
{
    double tp[PAN_HOTA_ALPHAS] = {0}, fn[PAN_HOTA_ALPHAS] = {0}, fp[PAN_HOTA_ALPHAS] = {0};
    double loc[PAN_HOTA_ALPHAS] = {0};
    pairs *p = &e->pr;
    /* Global alignment score per pair, kept in hota_pot from here on. */
    for (int k = 0; k < p->n; k++) {
        double pot = p->hota_pot[k];
        p->hota_pot[k] = pot / ((double)gcnt[p->g[k]] + (double)rcnt[p->r[k]] - pot);
    }
    for (int f = 1; f <= e->frames; f++) {
        load_frame(e, f);
        if (!e->ng || !e->nr) {
            for (int a = 0; a < PAN_HOTA_ALPHAS; a++) fp[a] += e->nr, fn[a] += e->ng;
            continue;
        }
        for (int a = 0; a < e->ng; a++)
            for (int b = 0; b < e->nr; b++) {
                double s = e->sim[a * e->nr + b];
                int k = s > 0.0 ? pair_index(p, e->nr_ids, e->fg[a], e->fr[b], 0) : -1;
                e->score[a * e->nr + b] = k >= 0 ? p->hota_pot[k] * s : 0.0;
            }
        pan_status st = match_max(e, e->score, 0);
        if (st) return st;
        for (int al = 0; al < PAN_HOTA_ALPHAS; al++) {
            double alpha = 0.05 * (al + 1);
            int nm = 0;
            for (int a = 0; a < e->ng; a++) {
                int b = e->r2c[a];
                if (b < 0) continue;
                double s = e->sim[a * e->nr + b];
                if (s < alpha - EPS) continue;
                nm++;
                loc[al] += s;
                int k = pair_index(p, e->nr_ids, e->fg[a], e->fr[b], 0);
                if (k >= 0) p->mc[(size_t)k * PAN_HOTA_ALPHAS + al] += 1.f;
            }
            tp[al] += nm, fn[al] += e->ng - nm, fp[al] += e->nr - nm;
        }
    }
    for (int al = 0; al < PAN_HOTA_ALPHAS; al++) {
        double assa = 0, assre = 0, asspr = 0;
        for (int k = 0; k < p->n; k++) {
            double mc = p->mc[(size_t)k * PAN_HOTA_ALPHAS + al], gc = (double)gcnt[p->g[k]], rc = (double)rcnt[p->r[k]];
            if (mc <= 0) continue;
            assa += mc * mc / fmax(1.0, gc + rc - mc);
            assre += mc * mc / fmax(1.0, gc);
            asspr += mc * mc / fmax(1.0, rc);
        }
        double t1 = fmax(1.0, tp[al]);
        assa /= t1, assre /= t1, asspr /= t1;
        double deta = tp[al] / fmax(1.0, tp[al] + fn[al] + fp[al]);
        double h = sqrt(deta * assa);
        m->hota_alpha[al] = h;
        m->hota += h / PAN_HOTA_ALPHAS;
        m->deta += deta / PAN_HOTA_ALPHAS;
        m->assa += assa / PAN_HOTA_ALPHAS;
        m->assre += assre / PAN_HOTA_ALPHAS;
        m->asspr += asspr / PAN_HOTA_ALPHAS;
        m->detre += tp[al] / fmax(1.0, tp[al] + fn[al]) / PAN_HOTA_ALPHAS;
        m->detpr += tp[al] / fmax(1.0, tp[al] + fp[al]) / PAN_HOTA_ALPHAS;
        m->loca += fmax(1e-10, loc[al]) / fmax(1e-10, tp[al]) / PAN_HOTA_ALPHAS;
    }
    return PAN_OK;
}

pan_mot_eval_params pan_mot_eval_params_default(void)
{
    pan_mot_eval_params p = {0};
    p.iou_thresh = 0.5f;
    p.mot_preprocess = 1;
    return p;
}

pan_status pan_mot_evaluate(const pan_mot_seq *gt, const pan_mot_seq *res,
                            const pan_mot_eval_params *params, pan_mot_metrics *m)
{
    pan_status st = PAN_OK;
    ev e = {0};
    int64_t *gcnt = NULL, *rcnt = NULL;
    if (!gt || !res || !m || (gt->n && !gt->frame_start) || (res->n && !res->frame_start)) return PAN_INVAL;
    memset(m, 0, sizeof *m);
    e.gt = gt, e.res = res;
    e.p = params ? *params : pan_mot_eval_params_default();
    if (!(e.p.iou_thresh > 0.f && e.p.iou_thresh <= 1.f)) return PAN_INVAL;
    e.frames = gt->n_frames > res->n_frames ? gt->n_frames : res->n_frames;
    /* Largest frame, for the per-frame scratch. */
    size_t mg = 1, mr = 1;
    for (int f = 1; f <= e.frames; f++) {
        if (fend(gt, f) - fbeg(gt, f) > mg) mg = fend(gt, f) - fbeg(gt, f);
        if (fend(res, f) - fbeg(res, f) > mr) mr = fend(res, f) - fbeg(res, f);
    }
    size_t mm = mg * mr + mg + mr;
    e.gid = malloc((gt->n + 1) * sizeof *e.gid);
    e.rid = malloc((res->n + 1) * sizeof *e.rid);
    e.gids = malloc((gt->n + 1) * sizeof *e.gids);
    e.rids = malloc((res->n + 1) * sizeof *e.rids);
    e.fg = malloc(mg * sizeof *e.fg), e.fr = malloc(mr * sizeof *e.fr);
    e.fg_row = malloc(mg * sizeof *e.fg_row), e.fr_row = malloc(mr * sizeof *e.fr_row);
    e.sim = malloc(mm * sizeof *e.sim), e.score = malloc(mm * sizeof *e.score);
    e.cost = malloc(mm * sizeof *e.cost);
    e.r2c = malloc(mg * sizeof *e.r2c);
    if (!e.gid || !e.rid || !e.gids || !e.rids || !e.fg || !e.fr || !e.fg_row || !e.fr_row || !e.sim ||
        !e.score || !e.cost || !e.r2c) {
        st = PAN_NOMEM;
        goto done;
    }
    if ((st = prepare(&e))) goto done;
    for (size_t i = 0; i < gt->n; i++) m->gt_dets += e.gid[i] >= 0;
    for (size_t i = 0; i < res->n; i++) m->res_dets += e.rid[i] >= 0;
    m->gt_ids = e.ng_ids, m->res_ids = e.nr_ids, m->frames = e.frames;
    gcnt = calloc((size_t)e.ng_ids + 1, sizeof *gcnt);
    rcnt = calloc((size_t)e.nr_ids + 1, sizeof *rcnt);
    if (!gcnt || !rcnt) {
        st = PAN_NOMEM;
        goto done;
    }
    if ((st = clear_mot(&e, m))) goto done;
    if ((st = pair_pass(&e, gcnt, rcnt))) goto done;
    if ((st = id_metrics(&e, m))) goto done;
    st = hota(&e, gcnt, rcnt, m);
done:
    free(e.gid), free(e.rid), free(e.gids), free(e.rids), free(e.fg), free(e.fr), free(e.fg_row);
    free(e.fr_row), free(e.sim), free(e.score), free(e.cost), free(e.r2c), free(gcnt), free(rcnt);
    pan__lap_ws_free(&e.lap);
    pairs_free(&e.pr);
    return st;
}
