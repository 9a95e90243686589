#include "core/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct pan_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **items;
    int capacity, head, count, closed;
};

pan_status pan_queue_create(pan_queue **out, int capacity)
{
    pan_queue *q;
    pthread_condattr_t attr;
    *out = NULL;
    if (capacity <= 0) return PAN_INVAL;
    q = calloc(1, sizeof *q);
    if (!q) return PAN_NOMEM;
    q->items = calloc((size_t)capacity, sizeof *q->items);
    if (!q->items) {
        free(q);
        return PAN_NOMEM;
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    *out = q;
    return PAN_OK;
}

void pan_queue_destroy(pan_queue **pq, void (*drop)(void *item))
{
    pan_queue *q;
    if (!pq || !*pq) return;
    q = *pq;
    *pq = NULL;
    if (drop)
        for (int i = 0; i < q->count; i++) drop(q->items[(q->head + i) % q->capacity]);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits on cond until pred becomes false; returns PAN_TIMEOUT on expiry. Lock held. */
static pan_status wait_on(pthread_cond_t *cond, pthread_mutex_t *lock, int timeout_ms, const struct timespec *dl)
{
    if (timeout_ms == 0) return PAN_TIMEOUT;
    if (timeout_ms < 0) {
        pthread_cond_wait(cond, lock);
        return PAN_OK;
    }
    return pthread_cond_timedwait(cond, lock, dl) == ETIMEDOUT ? PAN_TIMEOUT : PAN_OK;
}

pan_status pan_queue_push(pan_queue *q, void *item, int timeout_ms)
{
    struct timespec dl;
    pan_status st = PAN_OK;
    if (timeout_ms > 0) deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity && !q->closed) {
        st = wait_on(&q->not_full, &q->lock, timeout_ms, &dl);
        if (st == PAN_TIMEOUT && q->count == q->capacity && !q->closed) goto out;
        st = PAN_OK;
    }
    if (q->closed) {
        st = PAN_CLOSED;
        goto out;
    }
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
out:
    pthread_mutex_unlock(&q->lock);
    return st;
}

pan_status pan_queue_pop(pan_queue *q, void **item, int timeout_ms)
{
    struct timespec dl;
    pan_status st = PAN_OK;
    *item = NULL;
    if (timeout_ms > 0) deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed) {
        st = wait_on(&q->not_empty, &q->lock, timeout_ms, &dl);
        if (st == PAN_TIMEOUT && q->count == 0 && !q->closed) goto out;
        st = PAN_OK;
    }
    if (q->count == 0) {
        st = PAN_EOF;
        goto out;
    }
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_signal(&q->not_full);
out:
    pthread_mutex_unlock(&q->lock);
    return st;
}

pan_status pan_queue_push_evict(pan_queue *q, void *item, int (*same)(const void *queued, const void *item),
                                void **evicted)
{
    pan_status st = PAN_OK;
    *evicted = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        st = PAN_CLOSED;
        goto out;
    }
    if (q->count == q->capacity) {
        int k = 0;
        while (k < q->count && !same(q->items[(q->head + k) % q->capacity], item)) k++;
        if (k == q->count) {
            st = PAN_TIMEOUT;
            goto out;
        }
        *evicted = q->items[(q->head + k) % q->capacity];
        for (; k + 1 < q->count; k++) /* close the gap, keeping the order */
            q->items[(q->head + k) % q->capacity] = q->items[(q->head + k + 1) % q->capacity];
        q->count--;
    }
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
out:
    pthread_mutex_unlock(&q->lock);
    return st;
}

void pan_queue_close(pan_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

int pan_queue_size(pan_queue *q)
{
    int n;
    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int pan_queue_capacity(const pan_queue *q) { return q->capacity; }
