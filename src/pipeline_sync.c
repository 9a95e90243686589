/* Alignment of recorded (file) cameras: see pipeline_internal.h, pan__sync_*.
 *
 * Each camera publishes the timestamp of the frame it is about to hand over; a file camera whose
 * frame is more than PAN_SYNC_WINDOW_S ahead of the slowest other participating camera parks
 * (its task holds no thread) until the slowest moves on, ends or fails. Cameras start unjoined
 * (started, no frame yet: the others wait for their first) and leave for good (live streams,
 * `realtime` files, ended or failed cameras). So recorded cameras reach the batcher in timestamp
 * order within the window, and the global identities, which compare the cameras' timestamps as
 * one clock, see them as they were recorded, run after run.
 *
 * The joined cameras sit in a min-heap of their timestamps (the slowest on top; the slowest other
 * than the top one is one of its two children) and the parked ones in another: when the slowest
 * time moves, the parked cameras within the window of it are let go, the others stay parked
 * without being looked at. Every call is O(log cameras). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "pipeline_internal.h"

/* ---- alignment ------------------------------------------------------------------------------ */

void pan__sync_init(pan_pipeline *pl)
{
    pthread_mutex_init(&pl->sync_lock, NULL);
    pan_heap_init(&pl->sync_times, offsetof(camera, sync_t), offsetof(camera, sync_pos));
    pan_heap_init(&pl->sync_waiters, offsetof(camera, sync_t), offsetof(camera, wait_pos));
}

void pan__sync_destroy(pan_pipeline *pl)
{
    pthread_mutex_destroy(&pl->sync_lock);
    pan_heap_free(&pl->sync_times);
    pan_heap_free(&pl->sync_waiters);
}

void pan__sync_started(camera *c)
{
    if (!c->pl->sync_on) return;
    c->sync_state = PAN_SYNC_UNJOINED;
    __atomic_fetch_add(&c->pl->sync_unjoined, 1, __ATOMIC_ACQ_REL);
}

void pan__sync_start_failed(camera *c)
{
    if (!c->pl->sync_on) return;
    c->sync_state = PAN_SYNC_LEFT;
    __atomic_fetch_sub(&c->pl->sync_unjoined, 1, __ATOMIC_ACQ_REL);
}

/* The slowest joined camera's time; -infinity while a started camera has not joined (or left). */
static double slowest(pan_pipeline *pl)
{
    if (__atomic_load_n(&pl->sync_unjoined, __ATOMIC_ACQUIRE) > 0) return -INFINITY;
    const camera *top = pan_heap_top(&pl->sync_times);
    return top ? top->sync_t : INFINITY;
}

/* The slowest other than c (which is joined). */
static double slowest_other(pan_pipeline *pl, const camera *c)
{
    if (__atomic_load_n(&pl->sync_unjoined, __ATOMIC_ACQUIRE) > 0) return -INFINITY;
    const pan_heap *h = &pl->sync_times;
    if (!h->n) return INFINITY;
    if (h->a[0] != c) return pan_heap_key(h, h->a[0]);
    double m = INFINITY; /* c is on top: the next slowest is one of its children */
    for (int k = 1; k <= 2 && k < h->n; k++)
        if (pan_heap_key(h, h->a[k]) < m) m = pan_heap_key(h, h->a[k]);
    return m;
}

/* Lets go the parked cameras within the window of the slowest (pl->sync_lock held). One may find,
 * looking again, that it is the slowest's own window it is outside of: it parks again. */
static void let_go(pan_pipeline *pl)
{
    double until = slowest(pl) + PAN_SYNC_WINDOW_S;
    camera *c;
    while ((c = pan_heap_top(&pl->sync_waiters)) && c->sync_t <= until) {
        pan_heap_remove(&pl->sync_waiters, c);
        pan__camera_wake(c);
    }
}

void pan__sync_leave(camera *c)
{
    pan_pipeline *pl = c->pl;
    if (!pl->sync_on) return;
    pthread_mutex_lock(&pl->sync_lock);
    int was = c->sync_state;
    c->sync_state = PAN_SYNC_LEFT;
    pan_heap_remove(&pl->sync_waiters, c);
    if (was == PAN_SYNC_UNJOINED) __atomic_fetch_sub(&pl->sync_unjoined, 1, __ATOMIC_ACQ_REL);
    if (was == PAN_SYNC_JOINED) pan_heap_remove(&pl->sync_times, c);
    if (was != PAN_SYNC_LEFT) let_go(pl);
    pthread_mutex_unlock(&pl->sync_lock);
}

int pan__sync_try(camera *c, double t)
{
    pan_pipeline *pl = c->pl;
    if (!pl->sync_on || !isfinite(t)) return 1;
    pthread_mutex_lock(&pl->sync_lock);
    pan_heap_remove(&pl->sync_waiters, c); /* woken some other way: it looks again */
    int moved = 0;
    if (c->sync_state != PAN_SYNC_JOINED) {
        c->sync_t = t;
        if (pan_heap_push(&pl->sync_times, c)) { /* out of memory: this camera goes unaligned */
            pthread_mutex_unlock(&pl->sync_lock);
            pan__sync_leave(c);
            return 1;
        }
        if (c->sync_state == PAN_SYNC_UNJOINED) __atomic_fetch_sub(&pl->sync_unjoined, 1, __ATOMIC_ACQ_REL);
        c->sync_state = PAN_SYNC_JOINED;
        moved = 1;
    } else if (t != c->sync_t) {
        c->sync_t = t;
        pan_heap_update(&pl->sync_times, c);
        moved = 1;
    }
    if (moved) let_go(pl); /* the slowest may have moved on: those parked behind it look again */
    int go = t <= slowest_other(pl, c) + PAN_SYNC_WINDOW_S;
    if (!go && pan_heap_push(&pl->sync_waiters, c)) go = 1; /* out of memory: it does not park */
    pthread_mutex_unlock(&pl->sync_lock);
    return go;
}
