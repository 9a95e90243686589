/* A tiny fork-join pool for the cpu backend: persistent workers, one job at a time.
 *
 * A job is cut into a few chunks per thread (never smaller than its grain); the caller and the
 * workers take chunks one by one under the mutex, and the caller returns as soon as every chunk
 * is done. So on a busy machine a worker that is not scheduled in time costs nothing: the caller
 * (or another worker) takes its chunks.
 * A worker that finished a job spins a little (SPIN_ROUNDS pauses, some microseconds)
 * before it sleeps: a network's nodes come microseconds apart, and a worker that has to be woken
 * (and, on a busy machine, scheduled again) for each of them arrives after the caller has done
 * the work alone. OpenMP runtimes and ONNX Runtime's pool do the same. */
#include <pthread.h>
#include <stdlib.h>

/* Pauses a worker spins for the next job before it sleeps (PANOPTES_CPU_SPIN overrides; 0: none).
 * About 15 us on current x86 (a pause is tens of cycles); much longer only burns CPU time on a busy
 * machine. */
#define SPIN_ROUNDS 1000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

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
    int chunks, next, finished;
    unsigned generation; /* bumped per job; workers wait for a change (read unlocked while spinning) */
    int quit;
    int sleepers;        /* workers inside (or about to enter) the condition wait */
    int spin;            /* SPIN_ROUNDS or PANOPTES_CPU_SPIN */
};

/* 0 on every thread that is not a pool worker (the callers), 1..threads-1 on the workers. */
static _Thread_local int thread_index;

int pan__cpu_pool_thread_index(void) { return thread_index; }

static void chunk(int64_t n, int parts, int i, int64_t *b, int64_t *e)
{
    *b = n * i / parts;
    *e = n * (i + 1) / parts;
}

/* Runs chunks of the current job until none is left. Called with mu held; returns with it held. */
static void take_chunks(pan_cpu_pool *pool)
{
    while (pool->next < pool->chunks) {
        int i = pool->next++;
        pan_cpu_range_fn fn = pool->fn;
        void *arg = pool->arg;
        int64_t b, e;
        chunk(pool->n, pool->chunks, i, &b, &e);
        pthread_mutex_unlock(&pool->mu);
        if (e > b) fn(arg, b, e);
        pthread_mutex_lock(&pool->mu);
        if (++pool->finished == pool->chunks) pthread_cond_signal(&pool->done);
    }
}

typedef struct worker_arg {
    pan_cpu_pool *pool;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg wa = *(worker_arg *)p;
    free(p);
    pan_cpu_pool *pool = wa.pool;
    thread_index = wa.index;
    unsigned seen = 0;
    for (;;) {
        for (int s = 0; s < pool->spin && __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE) == seen &&
                        !__atomic_load_n(&pool->quit, __ATOMIC_RELAXED);
             s++)
            cpu_relax();
        pthread_mutex_lock(&pool->mu);
        pool->sleepers++;
        while (!pool->quit && pool->generation == seen) pthread_cond_wait(&pool->start, &pool->mu);
        pool->sleepers--;
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            break;
        }
        seen = pool->generation;
        take_chunks(pool);
        pthread_mutex_unlock(&pool->mu);
    }
    return NULL;
}

pan_status pan__cpu_pool_create(pan_cpu_pool **out, int threads)
{
    *out = NULL;
    if (threads <= 1) return PAN_OK; /* serial: a NULL pool */
    pan_cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return PAN_NOMEM;
    p->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!p->workers) {
        free(p);
        return PAN_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = 1;
    const char *spin = getenv("PANOPTES_CPU_SPIN");
    p->spin = spin && *spin ? atoi(spin) : SPIN_ROUNDS;
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) *wa = (worker_arg){p, i};
        if (!wa || pthread_create(&p->workers[i], NULL, worker_main, wa)) {
            free(wa);
            pan__cpu_pool_destroy(&p); /* joins the workers started so far */
            return PAN_NOMEM;
        }
        p->threads = i + 1;
    }
    *out = p;
    return PAN_OK;
}

void pan__cpu_pool_destroy(pan_cpu_pool **pp)
{
    if (!pp || !*pp) return;
    pan_cpu_pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELAXED);
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

void pan__cpu_parallel_for_grain(pan_cpu_pool *pool, int64_t n, int64_t grain, pan_cpu_range_fn fn, void *arg)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t chunks = pool ? (n + grain - 1) / grain : 1;
    if (pool && chunks > 4 * pool->threads) chunks = 4 * pool->threads;
    if (chunks <= 1) {
        fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->chunks = (int)chunks;
    pool->next = pool->finished = 0;
    __atomic_store_n(&pool->generation, pool->generation + 1, __ATOMIC_RELEASE);
    if (pool->sleepers) pthread_cond_broadcast(&pool->start);
    take_chunks(pool);
    while (pool->finished < pool->chunks) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

void pan__cpu_parallel_for(pan_cpu_pool *pool, int64_t n, pan_cpu_range_fn fn, void *arg)
{
    pan__cpu_parallel_for_grain(pool, n, 1, fn, arg);
}
