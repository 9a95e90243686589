/* Fair batches (pipeline_batcher.h).
 *
 * The ready list holds the cameras that have something to hand out (a frame, or their end), in the
 * order they will be served. A batch takes the first frame of each listed camera in turn; a camera
 * served in this batch goes to a side list and rejoins the ready list at its back once the batch is
 * closed, so it is neither served twice in one batch nor ahead of cameras that waited longer. */
#include "pipeline_batcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pan_batcher {
    pthread_mutex_t lock;
    pthread_cond_t ready; /* the waiting batch can be filled, or closed */
    pthread_cond_t room;  /* a frame was taken, or closed */
    pan_batcher_slot *head, *tail;
    unsigned batch; /* number of the batch being filled */
    int closed;
    int open;       /* slots that have queued a frame and whose end was not handed out */
    /* pan_batcher_next waiting: woken once `need` cameras that can add to the batch were listed
     * (counted in `avail`), not at every frame: one wake per batch, not one per frame */
    int waiting, need, avail;
    int any;        /* waiting for the first frame: every listing counts */
};

pan_status pan_batcher_create(pan_batcher **out)
{
    pan_batcher *b = calloc(1, sizeof *b);
    if (!b) return PAN_NOMEM;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->ready, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&b->room, NULL);
    *out = b;
    return PAN_OK;
}

void pan_batcher_destroy(pan_batcher **pb)
{
    pan_batcher *b = pb ? *pb : NULL;
    if (!b) return;
    for (pan_batcher_slot *s = b->head; s; s = s->next) s->listed = 0;
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->ready);
    pthread_cond_destroy(&b->room);
    free(b);
    *pb = NULL;
}

pan_status pan_batcher_slot_init(pan_batcher_slot *s, int camera, int cap)
{
    memset(s, 0, sizeof *s);
    s->camera = camera;
    s->cap = cap > 0 ? cap : 1;
    s->frames = calloc((size_t)s->cap, sizeof *s->frames);
    s->t_arrival = calloc((size_t)s->cap, sizeof *s->t_arrival);
    if (!s->frames || !s->t_arrival) {
        pan_batcher_slot_free(s);
        return PAN_NOMEM;
    }
    return PAN_OK;
}

void pan_batcher_slot_free(pan_batcher_slot *s)
{
    for (int i = 0; s->frames && i < s->n; i++) pan_frame_unref(&s->frames[(s->head + i) % s->cap]);
    free(s->frames);
    free(s->t_arrival);
    s->frames = NULL;
    s->t_arrival = NULL;
    s->n = 0;
}

/* A frame left s's queue (b->lock held): its owner, waiting for room, may push again once the queue
 * is down to half, so that each wake is worth several frames. */
static void room_made(pan_batcher_slot *s)
{
    if (s->want_room && s->n <= s->cap / 2) {
        s->want_room = 0;
        s->on_room(s->room_opaque);
    }
}

/* b->lock held. */
static void list_append(pan_batcher *b, pan_batcher_slot *s)
{
    s->next = NULL;
    s->listed = 1;
    if (b->tail) b->tail->next = s;
    else b->head = s;
    b->tail = s;
}

/* A push or an end listed s (b->lock held): wakes the waiting batch once it can be filled. A camera
 * that gave this batch a frame already adds nothing to it (unless it ends). */
static void listed(pan_batcher *b, pan_batcher_slot *s)
{
    list_append(b, s);
    if (b->waiting && (b->any || s->served != b->batch || s->ended) && ++b->avail >= b->need)
        pthread_cond_signal(&b->ready);
}

/* CLOCK_MONOTONIC seconds (the clock of b->ready's timed waits). */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Waits on b->ready until `need` more cameras can add to the batch (any: any listing counts), the
 * deadline (CLOCK_MONOTONIC s; 0: none) or a close (b->lock held). 1 when the deadline passed. */
static int wait_ready(pan_batcher *b, int need, int any, double deadline)
{
    b->waiting = 1;
    b->need = need > 0 ? need : 1;
    b->avail = 0;
    b->any = any;
    int r = 0;
    if (deadline > 0) {
        struct timespec t = {.tv_sec = (time_t)deadline};
        t.tv_nsec = (long)((deadline - (double)t.tv_sec) * 1e9);
        r = pthread_cond_timedwait(&b->ready, &b->lock, &t);
    } else {
        pthread_cond_wait(&b->ready, &b->lock);
    }
    b->waiting = 0;
    return r == ETIMEDOUT;
}

pan_status pan_batcher_push(pan_batcher *b, pan_batcher_slot *s, pan_frame *f, double t_arrival, int drop,
                            pan_frame **dropped)
{
    *dropped = NULL;
    pthread_mutex_lock(&b->lock);
    if (s->on_room && !b->closed && !s->discarded && s->n == s->cap &&
        (!drop || t_arrival - s->t_arrival[s->head] < s->drop_after_s)) {
        s->want_room = 1;
        s->retry_at = drop ? s->t_arrival[s->head] + s->drop_after_s : 0;
        pthread_mutex_unlock(&b->lock);
        return PAN_EAGAIN;
    }
    while (!b->closed && !s->discarded && s->n == s->cap && !drop) pthread_cond_wait(&b->room, &b->lock);
    if (b->closed || s->discarded) {
        pthread_mutex_unlock(&b->lock);
        return PAN_CLOSED;
    }
    if (s->n == s->cap) { /* drop oldest first */
        *dropped = s->frames[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }
    int at = (s->head + s->n) % s->cap;
    s->frames[at] = f;
    s->t_arrival[at] = t_arrival;
    s->n++;
    if (!s->opened) {
        s->opened = 1;
        b->open++;
    }
    if (!s->listed) listed(b, s);
    pthread_mutex_unlock(&b->lock);
    return PAN_OK;
}

int pan_batcher_discard(pan_batcher *b, pan_batcher_slot *s)
{
    pan_frame *out[64];
    int n = 0;
    pthread_mutex_lock(&b->lock);
    s->discarded = 1;
    while (s->n && n < 64) {
        out[n++] = s->frames[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }
    pthread_cond_broadcast(&b->room); /* its thread may be waiting to push: refused now */
    room_made(s);
    pthread_mutex_unlock(&b->lock); /* a slot listed with nothing left is passed over by next */
    for (int i = 0; i < n; i++) pan_frame_unref(&out[i]);
    return n;
}

void pan_batcher_end(pan_batcher *b, pan_batcher_slot *s)
{
    pthread_mutex_lock(&b->lock);
    s->ended = 1;
    if (!s->listed) listed(b, s);
    pthread_mutex_unlock(&b->lock);
}

void pan_batcher_close(pan_batcher *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    pthread_cond_broadcast(&b->ready);
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->lock);
}


pan_status pan_batcher_next(pan_batcher *b, int max, int wait_ms, double timeout_s, pan_frame **frames,
                            double *t_arrival, int *n, int *ends, int max_ends, int *n_ends)
{
    *n = 0;
    *n_ends = 0;
    pan_batcher_slot *served = NULL, *served_tail = NULL;
    const double t0 = now_s();
    double deadline = 0; /* the batch closes then, once it has a frame */
    pthread_mutex_lock(&b->lock);
    unsigned batch = ++b->batch;
    for (;;) {
        /* one pass over the cameras not yet served in this batch (and the ends listed behind them) */
        while (b->head && *n < max && *n_ends < max_ends) {
            pan_batcher_slot *s = b->head;
            b->head = s->next;
            if (!b->head) b->tail = NULL;
            s->listed = 0;
            if (s->n && s->served == batch) {
                /* it came back (a new frame) after giving one to this batch: its turn is next batch */
                s->next = NULL;
                s->listed = 1;
                if (served_tail) served_tail->next = s;
                else served = s;
                served_tail = s;
            } else if (s->n) {
                s->served = batch;
                frames[*n] = s->frames[s->head];
                t_arrival[*n] = s->t_arrival[s->head];
                (*n)++;
                s->head = (s->head + 1) % s->cap;
                s->n--;
                room_made(s);
                if (deadline == 0) deadline = now_s() + timeout_s;
                if (s->n || s->ended) { /* back in line once the batch is closed */
                    s->next = NULL;
                    s->listed = 1;
                    if (served_tail) served_tail->next = s;
                    else served = s;
                    served_tail = s;
                }
            } else if (s->ended) {
                ends[(*n_ends)++] = s->camera; /* every frame of it is out */
                s->ended = 2;                  /* told */
                if (s->opened) b->open--, s->opened = 0;
            }
        }
        /* a batch holds one frame per camera: full once every camera that sends frames is in it */
        int full = max > b->open && b->open > 0 ? b->open : max;
        if (*n >= full || *n_ends >= max_ends || b->closed || (*n_ends && !*n)) break;
        if (!*n) deadline = 0; /* a slice that ended found nothing to take */
        double now = now_s();
        if (*n) {
            /* not full: wait for the cameras not yet in it, until the deadline */
            if (now >= deadline || (wait_ready(b, full - *n, 0, deadline) && !b->head)) break;
        } else if (wait_ms == 0 || (wait_ms > 0 && now >= t0 + wait_ms * 1e-3)) {
            break;
        } else if (b->open > 0) {
            /* cameras are sending: wait for a whole batch, in slices of timeout_s, so that one wake
             * takes a batch rather than one for its first frame and one for the rest; a frame that
             * came meanwhile has waited at most timeout_s, and the batch closes after this pass */
            double until = now + timeout_s;
            if (wait_ms > 0 && until > t0 + wait_ms * 1e-3) until = t0 + wait_ms * 1e-3;
            if (wait_ready(b, full, 1, until)) deadline = b->head ? -1 : 0;
        } else {
            wait_ready(b, 1, 1, wait_ms > 0 ? t0 + wait_ms * 1e-3 : 0);
        }
    }
    /* the cameras served rejoin at the back, in the order they were served */
    if (served) {
        if (b->tail) b->tail->next = served;
        else b->head = served;
        b->tail = served_tail;
    }
    if (*n) pthread_cond_broadcast(&b->room);
    pan_status st = *n || *n_ends ? PAN_OK : b->closed ? PAN_EOF : PAN_TIMEOUT;
    pthread_mutex_unlock(&b->lock);
    return st;
}
