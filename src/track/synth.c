/* Synthetic tracking scenes with ground truth (see mot.h): people as boxes walking across a frame,
 * with a detector model that misses, jitters and hallucinates. Deterministic: one splitmix64
 * stream, consumed in a fixed order; no libc rand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "track/mot.h"

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next64(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double u01(rng *r) { return (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0); }
static double uni(rng *r, double a, double b) { return a + (b - a) * u01(r); }
static double gauss(rng *r)
{
    double u = u01(r), v = u01(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}
static int poisson(rng *r, double mean)
{
    double l = exp(-mean), p = 1.0;
    int k = 0;
    do {
        k++;
        p *= u01(r);
    } while (p > l && k < 1000);
    return k - 1;
}

enum { WAITING, ACTIVE, DONE };

typedef struct person {
    int state, enter;      /* enter: frame (1-based) to appear at */
    double x, y, w, h;     /* top-left and size, pixels */
    double vx, vy;         /* pixels per frame */
    int partner;           /* head-on partner index or -1 */
    float *emb;            /* identity appearance, unit length */
} person;

pan_synth_params pan_synth_params_default(void)
{
    pan_synth_params p = {0};
    p.seed = 1;
    p.frames = 600;
    p.width = 1280;
    p.height = 720;
    p.objects = 40;
    p.max_concurrent = 15;
    p.miss_rate = 0.08f;
    p.fp_per_frame = 1.0f;
    p.jitter = 0.04f;
    p.reenter_prob = 0.3f;
    p.emb_dim = 0;
    p.emb_noise = 0.05f;
    return p;
}

/* Places a person at the left or right edge (or at side `side` if >= 0), heading across. */
static void spawn(rng *r, const pan_synth_params *p, person *o, int side, double y)
{
    o->w = uni(r, 28, 64);
    o->h = o->w * uni(r, 2.2, 2.8);
    if (side < 0) side = u01(r) < 0.5 ? 0 : 1;
    o->y = y >= 0 ? y : uni(r, 0, p->height - o->h);
    if (o->y > p->height - o->h) o->y = p->height - o->h;
    double speed = uni(r, 1.5, 5.0);
    double ty = uni(r, 0, p->height - o->h); /* aim at a random height on the other side */
    double dx = p->width + o->w, dy = ty - o->y, n = sqrt(dx * dx + dy * dy);
    o->x = side == 0 ? -o->w * 0.6 : p->width - o->w * 0.4;
    o->vx = (side == 0 ? 1 : -1) * speed * dx / n;
    o->vy = speed * dy / n;
    o->state = ACTIVE;
}

static void random_unit(rng *r, float *v, int dim)
{
    double n = 0;
    for (int i = 0; i < dim; i++) v[i] = (float)gauss(r), n += (double)v[i] * v[i];
    n = 1.0 / sqrt(n > 0 ? n : 1);
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] * n);
}

/* Fraction of box a (x, y, w, h) not covered by the nearer boxes, on an 8 x 16 grid of samples. */
static double visibility(const person *ps, const int *act, int na, int self)
{
    const person *a = &ps[self];
    int seen = 0;
    for (int gy = 0; gy < 16; gy++)
        for (int gx = 0; gx < 8; gx++) {
            double px = a->x + (gx + 0.5) * a->w / 8, py = a->y + (gy + 0.5) * a->h / 16;
            int hid = 0;
            for (int k = 0; k < na && !hid; k++) {
                const person *b = &ps[act[k]];
                if (act[k] == self || b->y + b->h <= a->y + a->h) continue; /* only nearer ones */
                hid = px >= b->x && px < b->x + b->w && py >= b->y && py < b->y + b->h;
            }
            seen += !hid;
        }
    return seen / 128.0;
}

pan_status pan_synth_generate(const pan_synth_params *p, pan_mot_seq *gt, pan_mot_seq *det)
{
    pan_status st = PAN_OK;
    rng r = {p->seed * 0x2545F4914F6CDD1Dull + 12345};
    /* Appearance draws come from their own stream, so a scene's geometry and detections are the
     * same with or without embeddings (and the two can be compared). */
    rng re = {p->seed * 0x9E3779B97F4A7C15ull + 777};
    int n = p->objects, dim = p->emb_dim;
    if (n < 1 || p->frames < 1 || p->width < 100 || p->height < 100 || p->max_concurrent < 1 || dim < 0)
        return PAN_INVAL;
    memset(gt, 0, sizeof *gt);
    memset(det, 0, sizeof *det);
    det->emb_dim = dim;
    person *ps = calloc((size_t)n, sizeof *ps);
    int *act = malloc((size_t)n * sizeof *act);
    float *embs = dim ? malloc((size_t)(n + 1) * dim * sizeof *embs) : NULL;
    float *tmp = embs ? embs + (size_t)n * dim : NULL;
    if (!ps || !act || (dim && !embs)) {
        st = PAN_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        ps[i].state = WAITING;
        ps[i].enter = 1 + (int)(u01(&r) * p->frames * 0.8);
        ps[i].partner = -1;
        if (dim) ps[i].emb = embs + (size_t)i * dim, random_unit(&re, ps[i].emb, dim);
    }
    /* Every fifth person walks head-on into the next one: same entry frame, opposite sides. */
    for (int i = 0; i + 1 < n; i += 5) {
        ps[i].partner = i + 1;
        ps[i + 1].enter = ps[i].enter;
        ps[i + 1].partner = -2; /* spawned by its partner */
    }

    for (int f = 1; f <= p->frames; f++) {
        int na = 0;
        for (int i = 0; i < n; i++) na += ps[i].state == ACTIVE;
        for (int i = 0; i < n; i++) {
            person *o = &ps[i];
            if (o->state != WAITING || o->enter > f || o->partner == -2) continue;
            if (na >= p->max_concurrent) {
                o->enter = f + 1; /* crowded: wait */
                continue;
            }
            spawn(&r, p, o, -1, -1);
            na++;
            if (o->partner >= 0 && ps[o->partner].state == WAITING) {
                person *q = &ps[o->partner];
                int side = o->vx > 0 ? 1 : 0;
                spawn(&r, p, q, side, o->y + uni(&r, -10, 10));
                o->vy = q->vy = 0; /* same line, towards each other */
                na++;
            }
        }
        /* Move; leave when out of view; maybe come back later as the same person. */
        na = 0;
        for (int i = 0; i < n; i++) {
            person *o = &ps[i];
            if (o->state != ACTIVE) continue;
            o->vx += gauss(&r) * 0.03;
            o->vy += gauss(&r) * 0.03;
            o->x += o->vx;
            o->y += o->vy;
            if (o->y < 0 || o->y + o->h > p->height) o->vy = -o->vy, o->y += 2 * o->vy;
            if (o->x + o->w < 0 || o->x > p->width) {
                o->state = DONE;
                if (u01(&r) < p->reenter_prob) {
                    o->state = WAITING;
                    o->partner = -1;
                    o->enter = f + 30 + (int)(u01(&r) * 90);
                }
                continue;
            }
            act[na++] = i;
        }
        /* Ground truth and detections. */
        for (int k = 0; k < na; k++) {
            person *o = &ps[act[k]];
            double x1 = fmax(o->x, 0), y1 = fmax(o->y, 0);
            double x2 = fmin(o->x + o->w, p->width), y2 = fmin(o->y + o->h, p->height);
            if ((x2 - x1) * (y2 - y1) < 0.3 * o->w * o->h) continue; /* mostly outside */
            double vis = visibility(ps, act, na, act[k]);
            pan_mot_row g = {f, act[k] + 1, (float)x1, (float)y1, (float)(x2 - x1), (float)(y2 - y1),
                             1.f, 1, (float)vis};
            if ((st = pan_mot_seq_push(gt, &g))) goto done;
            double miss = p->miss_rate + (1.0 - vis) * 0.5;
            double u = u01(&r), su = u01(&r);
            double jx = gauss(&r), jy = gauss(&r), jw = gauss(&r), jh = gauss(&r);
            if (vis < 0.25 || u < miss) continue;
            double w = (x2 - x1) * (1 + p->jitter * jw), h = (y2 - y1) * (1 + p->jitter * jh);
            pan_mot_row d = {f, -1, (float)(x1 + p->jitter * o->w * jx), (float)(y1 + p->jitter * o->h * jy),
                             (float)fmax(w, 2), (float)fmax(h, 2),
                             (float)((0.6 + 0.35 * su) * (0.35 + 0.65 * vis)), -1, -1.f};
            if ((st = pan_mot_seq_push(det, &d))) goto done;
            if (dim) {
                for (int i = 0; i < dim; i++) tmp[i] = (float)(o->emb[i] + p->emb_noise * gauss(&re));
                double nn = 0;
                for (int i = 0; i < dim; i++) nn += (double)tmp[i] * tmp[i];
                for (int i = 0; i < dim; i++)
                    det->emb[(det->n - 1) * dim + i] = (float)(tmp[i] / sqrt(nn > 0 ? nn : 1));
            }
        }
        int nfp = poisson(&r, p->fp_per_frame);
        for (int k = 0; k < nfp; k++) {
            double w = uni(&r, 20, 60), h = w * uni(&r, 2.0, 3.0);
            pan_mot_row d = {f, -1, (float)uni(&r, 0, p->width - w), (float)uni(&r, 0, p->height - h),
                             (float)w, (float)h, (float)uni(&r, 0.1, 0.75), -1, -1.f};
            if ((st = pan_mot_seq_push(det, &d))) goto done;
            if (dim) random_unit(&re, det->emb + (det->n - 1) * dim, dim);
        }
    }
    if ((st = pan_mot_seq_finish(gt)) || (st = pan_mot_seq_finish(det))) goto done;
done:
    free(ps);
    free(act);
    free(embs);
    if (st) pan_mot_seq_free(gt), pan_mot_seq_free(det);
    return st;
}
