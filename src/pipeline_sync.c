/* Alignment of recorded (file) cameras: see pipeline_internal.h, pan__sync_*.
 *
 * Each camera publishes the timestamp of the frame it is about to hand over; a file camera whose
 * frame is more than PAN_SYNC_WINDOW_S ahead of the slowest other participating camera parks
 * (its task holds no thread) until that camera moves on, ends or fails: every camera whose
 * timestamp moves wakes the parked ones, which look again. Cameras start
 * at -infinity (not opened yet: the others wait for their first frame) and leave at +infinity
 * (live streams, `realtime` files, ended or failed cameras). So recorded cameras reach the batcher
 * in timestamp order within the window, and the global identities, which compare the cameras'
 * timestamps as one clock, see them as they were recorded, run after run. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "pipeline_internal.h"

void pan__sync_init(pan_pipeline *pl)
{
    pthread_mutex_init(&pl->sync_lock, NULL);
    pthread_cond_init(&pl->sync_cond, NULL);
}

void pan__sync_destroy(pan_pipeline *pl)
{
    pthread_mutex_destroy(&pl->sync_lock);
    pthread_cond_destroy(&pl->sync_cond);
}

/* Wakes the other cameras parked behind the others (pl->sync_lock held). */
static void wake_waiting(pan_pipeline *pl, const camera *self)
{
    pthread_mutex_lock(&pl->lock);
    for (int i = 0; i < pl->n_cams; i++) {
        camera *c = pl->cams[i];
        if (c != self && c->sync_waiting) {
            c->sync_waiting = 0;
            pan__camera_wake(c);
        }
    }
    pthread_mutex_unlock(&pl->lock);
}

void pan__sync_leave(camera *c)
{
    pan_pipeline *pl = c->pl;
    pthread_mutex_lock(&pl->sync_lock);
    c->sync_waiting = 0;
    if (c->sync_t != INFINITY) {
        c->sync_t = INFINITY;
        if (pl->sync_on) wake_waiting(pl, c);
    }
    pthread_mutex_unlock(&pl->sync_lock);
}

/* The timestamp of the slowest other camera taking part (pl->sync_lock held; the camera list is
 * read under pl->lock, which is never taken the other way round). */
static double slowest_other(pan_pipeline *pl, const camera *self)
{
    double m = INFINITY;
    pthread_mutex_lock(&pl->lock);
    for (int i = 0; i < pl->n_cams; i++) {
        const camera *c = pl->cams[i];
        if (c != self && c->started && !c->finalized && c->sync_t < m) m = c->sync_t;
    }
    pthread_mutex_unlock(&pl->lock);
    return m;
}

int pan__sync_try(camera *c, double t)
{
    pan_pipeline *pl = c->pl;
    if (!pl->sync_on || !isfinite(t)) return 1;
    pthread_mutex_lock(&pl->sync_lock);
    if (t != c->sync_t) {
        c->sync_t = t;
        wake_waiting(pl, c); /* it moved on: those waiting for it look again */
    }
    int go = t <= slowest_other(pl, c) + PAN_SYNC_WINDOW_S;
    c->sync_waiting = !go;
    pthread_mutex_unlock(&pl->sync_lock);
    return go;
}
