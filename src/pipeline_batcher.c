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
    pthread_cond_t ready; /* something was listed, or closed */
    pthread_cond_t room;  /* a frame was taken, or closed */
    pan_batcher_slot *head, *tail;
    unsigned batch; /* number of the batch being filled */
    int closed;
};

pan_status pan_batcher_create(pan_batcher **out)
{
    pan_batcher *b = calloc(1, sizeof *b);
    if (!b) return PAN_NOMEM;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->ready, NULL);
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

/* A frame left s's queue (b->lock held): its owner may push again. */
static void room_made(pan_batcher_slot *s)
{
    if (s->want_room) {
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

pan_status pan_batcher_push(pan_batcher *b, pan_batcher_slot *s, pan_frame *f, double t_arrival, int drop,
                            pan_frame **dropped)
{
    *dropped = NULL;
    pthread_mutex_lock(&b->lock);
    if (s->on_room && !b->closed && s->n == s->cap &&
        (!drop || t_arrival - s->t_arrival[s->head] < s->drop_after_s)) {
        s->want_room = 1;
        s->retry_at = drop ? s->t_arrival[s->head] + s->drop_after_s : 0;
        pthread_mutex_unlock(&b->lock);
        return PAN_EAGAIN;
    }
    while (!b->closed && s->n == s->cap && !drop) pthread_cond_wait(&b->room, &b->lock);
    if (b->closed) {
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
    if (!s->listed) {
        list_append(b, s);
        pthread_cond_signal(&b->ready);
    }
    pthread_mutex_unlock(&b->lock);
    return PAN_OK;
}

int pan_batcher_discard(pan_batcher *b, pan_batcher_slot *s)
{
    pan_frame *out[64];
    int n = 0;
    pthread_mutex_lock(&b->lock);
    while (s->n && n < 64) {
        out[n++] = s->frames[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }
    if (n) {
        pthread_cond_broadcast(&b->room); /* its thread may be waiting to push */
        room_made(s);
    }
    pthread_mutex_unlock(&b->lock); /* a slot listed with nothing left is passed over by next */
    for (int i = 0; i < n; i++) pan_frame_unref(&out[i]);
    return n;
}

void pan_batcher_end(pan_batcher *b, pan_batcher_slot *s)
{
    pthread_mutex_lock(&b->lock);
    s->ended = 1;
    if (!s->listed) {
        list_append(b, s);
        pthread_cond_signal(&b->ready);
    }
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

static struct timespec abs_time(double after_s)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long ns = t.tv_nsec + (long)((after_s - (long)after_s) * 1e9);
    t.tv_sec += (time_t)after_s + ns / 1000000000L;
    t.tv_nsec = ns % 1000000000L;
    return t;
}

pan_status pan_batcher_next(pan_batcher *b, int max, int wait_ms, double timeout_s, pan_frame **frames,
                            double *t_arrival, int *n, int *ends, int max_ends, int *n_ends)
{
    *n = 0;
    *n_ends = 0;
    pan_batcher_slot *served = NULL, *served_tail = NULL;
    pthread_mutex_lock(&b->lock);
    if (!b->head && !b->closed && wait_ms != 0) {
        struct timespec until = abs_time(wait_ms * 1e-3);
        while (!b->head && !b->closed)
            if (wait_ms > 0 && pthread_cond_timedwait(&b->ready, &b->lock, &until) == ETIMEDOUT) break;
            else if (wait_ms < 0) pthread_cond_wait(&b->ready, &b->lock);
    }
    if (!b->head) {
        pan_status st = b->closed ? PAN_EOF : PAN_TIMEOUT;
        pthread_mutex_unlock(&b->lock);
        return st;
    }
    struct timespec deadline;
    int have_deadline = 0;
    unsigned batch = ++b->batch;
    for (;;) {
        /* one pass over the cameras not yet served in this batch */
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
                if (!have_deadline) {
                    deadline = abs_time(timeout_s);
                    have_deadline = 1;
                }
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
            }
        }
        if (*n >= max || *n_ends >= max_ends || b->closed || !have_deadline) break;
        /* the batch is not full: wait for cameras not yet in it, until the deadline */
        if (pthread_cond_timedwait(&b->ready, &b->lock, &deadline) == ETIMEDOUT && !b->head) break;
    }
    /* the cameras served rejoin at the back, in the order they were served */
    if (served) {
        if (b->tail) b->tail->next = served;
        else b->head = served;
        b->tail = served_tail;
    }
    if (*n) pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->lock);
    return PAN_OK;
}
