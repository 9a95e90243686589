/* A tiny fork-join pool for the cpu backend: persistent workers, one job at a time.
 * The calling thread runs chunk 0 itself, so threads = 2 means one extra worker. */
#include <pthread.h>
#include <stdlib.h>

#include "nn/cpu_ops.h"

struct pan_cpu_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    /* the current job */
    pan_cpu_range_fn fn;
    void *arg;
    int64_t n;
    unsigned generation; /* bumped per job; workers wait for a change */
    int pending;         /* workers still running the current job */
    int quit;
};

typedef struct worker_arg {
    pan_cpu_pool *pool;
    int index; /* 1..threads-1 */
} worker_arg;

static void chunk(int64_t n, int parts, int i, int64_t *b, int64_t *e)
{
    *b = n * i / parts;
    *e = n * (i + 1) / parts;
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    pan_cpu_pool *pool = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->quit && pool->generation == seen) pthread_cond_wait(&pool->start, &pool->mu);
        if (pool->quit) break;
        seen = pool->generation;
        pan_cpu_range_fn fn = pool->fn;
        void *arg = pool->arg;
        int64_t n = pool->n, b, e;
        pthread_mutex_unlock(&pool->mu);
        chunk(n, pool->threads, index, &b, &e);
        if (e > b) fn(arg, b, e);
        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

pan_status pan__cpu_pool_create(pan_cpu_pool **out, int threads)
{
    *out = NULL;
    if (threads <= 1) return PAN_OK; /* serial: a NULL pool */
    pan_cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return PAN_NOMEM;
    p->threads = threads;
    p->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!p->workers) {
        free(p);
        return PAN_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || pthread_create(&p->workers[i], NULL, worker_main, wa ? (wa->pool = p, wa->index = i, wa) : NULL)) {
            free(wa);
            p->threads = i; /* workers started so far get joined */
            pan__cpu_pool_destroy(&p);
            return PAN_NOMEM;
        }
    }
    *out = p;
    return PAN_OK;
}

void pan__cpu_pool_destroy(pan_cpu_pool **pp)
{
    if (!pp || !*pp) return;
    pan_cpu_pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->workers);
    free(p);
    *pp = NULL;
}

int pan__cpu_pool_threads(const pan_cpu_pool *pool) { return pool ? pool->threads : 1; }

void pan__cpu_parallel_for(pan_cpu_pool *pool, int64_t n, pan_cpu_range_fn fn, void *arg)
{
    if (n <= 0) return;
    if (!pool || n == 1) {
        fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->pending = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mu);
    int64_t b, e;
    chunk(n, pool->threads, 0, &b, &e);
    if (e > b) fn(arg, b, e);
    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
