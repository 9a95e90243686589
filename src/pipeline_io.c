/* The camera I/O pool (pipeline_io.h): run queues per lane, a timer heap for sleeping tasks, one
 * lock. The work lane's idle threads also keep the timers: one of them waits until the earliest
 * wake time and moves the tasks that are due to their lanes. */
#include "pipeline_io.h"

#include "core/heap.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __linux__
#include <stdio.h>
#endif

enum { T_IDLE, T_QUEUED, T_RUNNING, T_SLEEPING, T_PARKED, T_DONE };

typedef struct lane {
    pan_io_task *head, *tail;
    pthread_cond_t cond; /* a task was queued, a timer came earlier, or the pool closes */
} lane;

struct pan_io_pool {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a task finished */
    lane lanes[PAN_IO_LANES];
    pan_heap timers;     /* sleeping tasks by `until`, earliest on top */
    int closing;
    pthread_t *threads;  /* work threads (up to work_max), then connect threads */
    int n_threads;
    /* the work lane: threads now, at most, waiting for a task, in a network wait */
    int work_n, work_max, work_idle, work_blocked;
    pan_io_params p;
};

typedef struct worker {
    pan_io_pool *pool;
    pan_io_lane lane;
    int index;
} worker;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static pan_status start_thread(pan_io_pool *p, pan_io_lane lane, int index);

/* Tasks wait on the work lane while every work thread waits on the network: a stand-in joins
 * (pool->lock held). */
static void maybe_stand_in(pan_io_pool *p)
{
    if (p->lanes[PAN_IO_LANE_WORK].head && !p->work_idle && p->work_blocked >= p->work_n && p->work_n < p->work_max &&
        !p->closing)
        start_thread(p, PAN_IO_LANE_WORK, p->work_n);
}

/* ---- run queues (pool->lock held) ---- */

static void enqueue(pan_io_pool *p, pan_io_task *t)
{
    lane *l = &p->lanes[t->lane];
    t->state = T_QUEUED;
    t->next = NULL;
    if (l->tail) l->tail->next = t;
    else l->head = t;
    l->tail = t;
    pthread_cond_signal(&l->cond);
    if (t->lane == PAN_IO_LANE_WORK) maybe_stand_in(p);
}

static pan_io_task *dequeue(lane *l)
{
    pan_io_task *t = l->head;
    if (t) {
        l->head = t->next;
        if (!l->head) l->tail = NULL;
    }
    return t;
}

/* Moves the sleeping tasks that are due to their lanes; returns the earliest wake time left
 * (0 when none). */
static double due_timers(pan_io_pool *p, double now)
{
    pan_io_task *t;
    while ((t = pan_heap_top(&p->timers)) && t->until <= now) {
        pan_heap_remove(&p->timers, t);
        enqueue(p, t);
    }
    return (t = pan_heap_top(&p->timers)) ? t->until : 0;
}

static struct timespec abs_realtime(double after_s)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (after_s < 0) after_s = 0;
    long ns = t.tv_nsec + (long)((after_s - (long)after_s) * 1e9);
    t.tv_sec += (time_t)after_s + ns / 1000000000L;
    t.tv_nsec = ns % 1000000000L;
    return t;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pan_io_pool *p = w->pool;
#ifdef __linux__
    char name[16];
    snprintf(name, sizeof name, "pan-%s%d", w->lane == PAN_IO_LANE_WORK ? "io" : "conn", w->index);
    pthread_setname_np(pthread_self(), name); /* for top -H, perf and gdb */
#endif
    if (p->p.thread_init) p->p.thread_init(p->p.opaque, 1);
    lane *l = &p->lanes[w->lane];
    pthread_mutex_lock(&p->lock);
    for (;;) {
        pan_io_task *t = NULL;
        while (!p->closing) {
            double next = w->lane == PAN_IO_LANE_WORK ? due_timers(p, now_s()) : 0;
            if ((t = dequeue(l))) break;
            int work = w->lane == PAN_IO_LANE_WORK;
            p->work_idle += work;
            if (next > 0) {
                struct timespec until = abs_realtime(next - now_s());
                pthread_cond_timedwait(&l->cond, &p->lock, &until);
            } else {
                pthread_cond_wait(&l->cond, &p->lock);
            }
            p->work_idle -= work;
        }
        if (!t) break;
        t->state = T_RUNNING;
        t->woken = 0;
        pthread_mutex_unlock(&p->lock);
        pan_io_next r = t->step(t);
        pthread_mutex_lock(&p->lock);
        if (r == PAN_IO_DONE) {
            t->state = T_DONE;
            pthread_cond_broadcast(&p->done);
        } else if (r == PAN_IO_AGAIN || t->woken) {
            enqueue(p, t);
        } else if (r == PAN_IO_SLEEP) {
            t->state = T_SLEEPING;
            const pan_io_task *top = pan_heap_top(&p->timers);
            int first = !top || t->until < top->until;
            if (pan_heap_push(&p->timers, t)) {
                enqueue(p, t); /* no memory for the timer: it runs again now and sleeps then */
            } else if (first) {
                pthread_cond_signal(&p->lanes[PAN_IO_LANE_WORK].cond); /* a timer keeper waits less */
            }
        } else {
            t->state = T_PARKED;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (p->p.thread_init) p->p.thread_init(p->p.opaque, 0);
    free(w);
    return NULL;
}

/* Starts a thread: work threads take slots 0..work_max-1 of p->threads, connect threads the
 * ones after (pool->lock held once running). */
static pan_status start_thread(pan_io_pool *p, pan_io_lane lane, int index)
{
    int slot = lane == PAN_IO_LANE_WORK ? index : p->work_max + index;
    worker *w = malloc(sizeof *w);
    if (!w) return PAN_NOMEM;
    *w = (worker){p, lane, index};
    if (pthread_create(&p->threads[slot], NULL, worker_main, w)) {
        free(w);
        return PAN_NOMEM;
    }
    p->n_threads++;
    if (lane == PAN_IO_LANE_WORK) p->work_n++;
    return PAN_OK;
}

pan_status pan_io_create(pan_io_pool **out, const pan_io_params *params)
{
    *out = NULL;
    pan_io_pool *p = calloc(1, sizeof *p);
    if (p) pan_heap_init(&p->timers, offsetof(pan_io_task, until), offsetof(pan_io_task, heap_at));
    if (!p) return PAN_NOMEM;
    p->p = *params;
    if (p->p.work_threads < 1) p->p.work_threads = 1;
    if (p->p.connect_threads < 1) p->p.connect_threads = 1;
    p->work_max = 2 * p->p.work_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < PAN_IO_LANES; i++) pthread_cond_init(&p->lanes[i].cond, NULL);
    p->threads = calloc((size_t)(p->work_max + p->p.connect_threads), sizeof *p->threads);
    pan_status st = p->threads ? PAN_OK : PAN_NOMEM;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; !st && i < p->p.work_threads; i++) st = start_thread(p, PAN_IO_LANE_WORK, i);
    for (int i = 0; !st && i < p->p.connect_threads; i++) st = start_thread(p, PAN_IO_LANE_CONNECT, i);
    pthread_mutex_unlock(&p->lock);
    if (st) {
        pan_io_destroy(&p);
        return st;
    }
    *out = p;
    return PAN_OK;
}

void pan_io_destroy(pan_io_pool **pp)
{
    pan_io_pool *p = pp ? *pp : NULL;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->closing = 1;
    for (int i = 0; i < PAN_IO_LANES; i++) pthread_cond_broadcast(&p->lanes[i].cond);
    pthread_mutex_unlock(&p->lock);
    /* no thread starts once closing is set: the counts are final */
    for (int i = 0; i < p->work_n; i++) pthread_join(p->threads[i], NULL);
    for (int i = 0; p->threads && i < p->n_threads - p->work_n; i++) pthread_join(p->threads[p->work_max + i], NULL);
    for (int i = 0; i < PAN_IO_LANES; i++) pthread_cond_destroy(&p->lanes[i].cond);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    pan_heap_free(&p->timers);
    free(p);
    *pp = NULL;
}

void pan_io_submit(pan_io_pool *p, pan_io_task *t)
{
    pthread_mutex_lock(&p->lock);
    t->heap_at = -1;
    t->woken = 0;
    enqueue(p, t);
    pthread_mutex_unlock(&p->lock);
}

void pan_io_wake(pan_io_pool *p, pan_io_task *t)
{
    pthread_mutex_lock(&p->lock);
    switch (t->state) {
    case T_SLEEPING:
        pan_heap_remove(&p->timers, t);
        enqueue(p, t);
        break;
    case T_PARKED: enqueue(p, t); break;
    case T_RUNNING: t->woken = 1; break;
    default: break; /* queued already, finished, or never submitted */
    }
    pthread_mutex_unlock(&p->lock);
}

void pan_io_join(pan_io_pool *p, pan_io_task *t)
{
    pthread_mutex_lock(&p->lock);
    while (t->state != T_DONE && t->state != T_IDLE) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void pan_io_blocking(pan_io_pool *p, int begin)
{
    pthread_mutex_lock(&p->lock);
    if (begin) {
        p->work_blocked++;
        maybe_stand_in(p);
    } else {
        p->work_blocked--;
    }
    pthread_mutex_unlock(&p->lock);
}

static int locked_count(const pan_io_pool *p, const int *field)
{
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
    int n = *field;
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
    return n;
}

int pan_io_threads(const pan_io_pool *p) { return p ? locked_count(p, &p->n_threads) : 0; }

int pan_io_work_threads(const pan_io_pool *p) { return p ? locked_count(p, &p->work_n) : 0; }
