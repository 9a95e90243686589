/* Alignment of recorded (file) cameras: see pipeline_internal.h, pan__sync_*.
 *
 * Each camera publishes the timestamp of the frame it is about to hand over; a file camera whose
 * frame is more than PAN_SYNC_WINDOW_S ahead of the slowest other participating camera waits
 * (waking every 200 ms to notice a stop) until that camera catches up, ends or fails. Cameras start
 * at -infinity (not opened yet: the others wait for their first frame) and leave at +infinity
 * (live streams, --realtime files, ended or failed cameras). So recorded cameras reach the batcher
 * in timestamp order within the window, and the global identities, which compare the cameras'
 * timestamps as one clock, see them as they were recorded, run after run. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "pipeline_internal.h"

pan_status pan__sync_init(run *r)
{
    r->sync_t = NULL;
    if (!r->sync_on) return PAN_OK;
    r->sync_t = malloc((size_t)r->p->n_cameras * sizeof *r->sync_t);
    if (!r->sync_t) return PAN_NOMEM;
    for (int i = 0; i < r->p->n_cameras; i++) r->sync_t[i] = -INFINITY;
    pthread_mutex_init(&r->sync_lock, NULL);
    pthread_cond_init(&r->sync_cond, NULL);
    return PAN_OK;
}

void pan__sync_destroy(run *r)
{
    if (!r->sync_t) return;
    free(r->sync_t);
    r->sync_t = NULL;
    pthread_mutex_destroy(&r->sync_lock);
    pthread_cond_destroy(&r->sync_cond);
}

void pan__sync_leave(run *r, int camera)
{
    if (!r->sync_t) return;
    pthread_mutex_lock(&r->sync_lock);
    r->sync_t[camera] = INFINITY;
    pthread_cond_broadcast(&r->sync_cond);
    pthread_mutex_unlock(&r->sync_lock);
}

static double slowest_other(const run *r, int camera)
{
    double m = INFINITY;
    for (int i = 0; i < r->p->n_cameras; i++)
        if (i != camera && r->sync_t[i] < m) m = r->sync_t[i];
    return m;
}

int pan__sync_wait(run *r, int camera, double t)
{
    if (!r->sync_t || !isfinite(t)) return 0;
    int stopped = 0;
    pthread_mutex_lock(&r->sync_lock);
    r->sync_t[camera] = t;
    pthread_cond_broadcast(&r->sync_cond);
    while (t > slowest_other(r, camera) + PAN_SYNC_WINDOW_S) {
        if (pan__pipeline_stop_requested()) {
            stopped = 1;
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&r->sync_cond, &r->sync_lock, &until);
    }
    pthread_mutex_unlock(&r->sync_lock);
    return stopped;
}
