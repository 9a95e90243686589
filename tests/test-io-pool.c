/* The camera I/O pool (src/pipeline_io.h): every task runs to its end on a fixed set of threads;
 * steps of one task never overlap; sleeping tasks wake at their time, not before; a wake that comes
 * while the task runs is not lost (a producer/consumer pair handing 20000 items over through
 * park/wake never hangs); join waits for the end; a task stuck in a network wait on the only work
 * thread does not keep the others from running (a stand-in thread serves them). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "pipeline_io.h"
#include "test.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- many tasks, each AGAIN n times then DONE; sometimes on the connect lane ---- */

typedef struct counter_task {
    pan_io_task t;
    int steps, want;
    atomic_int inside; /* steps running now (must never be 2) */
    int overlapped;
} counter_task;

static atomic_int threads_seen_init, threads_seen_end;

static void on_thread(void *opaque, int begin)
{
    (void)opaque;
    atomic_fetch_add(begin ? &threads_seen_init : &threads_seen_end, 1);
}

static pan_io_next count_step(pan_io_task *t)
{
    counter_task *c = t->opaque;
    if (atomic_fetch_add(&c->inside, 1) != 0) c->overlapped = 1;
    c->steps++;
    t->lane = c->steps % 3 == 0 ? PAN_IO_LANE_CONNECT : PAN_IO_LANE_WORK;
    atomic_fetch_sub(&c->inside, 1);
    return c->steps >= c->want ? PAN_IO_DONE : PAN_IO_AGAIN;
}

PAN_TEST(every_task_runs_to_its_end_on_fixed_threads)
{
    enum { N = 1000 };
    static counter_task tasks[N];
    pan_io_pool *pool = NULL;
    pan_io_params p = {.work_threads = 3, .connect_threads = 2, .thread_init = on_thread};
    ASSERT_OK(pan_io_create(&pool, &p));
    ASSERT_EQ(pan_io_threads(pool), 5);
    for (int i = 0; i < N; i++) {
        tasks[i] = (counter_task){.t = {.step = count_step, .opaque = &tasks[i]}, .want = 1 + i % 17};
        pan_io_submit(pool, &tasks[i].t);
    }
    for (int i = 0; i < N; i++) pan_io_join(pool, &tasks[i].t);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(tasks[i].steps, tasks[i].want);
        ASSERT_EQ(tasks[i].overlapped, 0);
    }
    pan_io_destroy(&pool);
    ASSERT_EQ(atomic_load(&threads_seen_init), 5);
    ASSERT_EQ(atomic_load(&threads_seen_end), 5);
}

/* ---- sleeping tasks wake at their time, in order ---- */

typedef struct sleeper {
    pan_io_task t;
    double until, woke;
    int n;
} sleeper;

static pan_io_next sleep_step(pan_io_task *t)
{
    sleeper *s = t->opaque;
    if (s->n++ == 0) {
        t->until = s->until;
        return PAN_IO_SLEEP;
    }
    s->woke = now_s();
    return PAN_IO_DONE;
}

PAN_TEST(sleeping_tasks_wake_at_their_time)
{
    enum { N = 50 };
    static sleeper s[N];
    pan_io_pool *pool = NULL;
    pan_io_params p = {.work_threads = 2, .connect_threads = 1};
    ASSERT_OK(pan_io_create(&pool, &p));
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        /* out of order, on both lanes */
        s[i] = (sleeper){.t = {.step = sleep_step, .opaque = &s[i], .lane = i % 2}, .until = t0 + 0.01 * ((i * 7) % N)};
        pan_io_submit(pool, &s[i].t);
    }
    for (int i = 0; i < N; i++) pan_io_join(pool, &s[i].t);
    for (int i = 0; i < N; i++) ASSERT_GE(s[i].woke, s[i].until); /* never before its time */
    pan_io_destroy(&pool);
}

/* A long sleep ended early by pan_io_wake (a camera stopped during its reconnect backoff). */
PAN_TEST(a_wake_ends_a_sleep)
{
    static sleeper s;
    pan_io_pool *pool = NULL;
    pan_io_params p = {.work_threads = 1, .connect_threads = 1};
    ASSERT_OK(pan_io_create(&pool, &p));
    s = (sleeper){.t = {.step = sleep_step, .opaque = &s}, .until = now_s() + 3600};
    pan_io_submit(pool, &s.t);
    while (__atomic_load_n(&s.n, __ATOMIC_ACQUIRE) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 3; i++) pan_io_wake(pool, &s.t); /* before, while and after it parks: all fine */
    pan_io_join(pool, &s.t);
    ASSERT_EQ(s.n, 2);
    pan_io_destroy(&pool);
}

/* ---- park/wake: a producer task and a consumer thread hand items over through a 1-item box ---- */

typedef struct box {
    pan_io_task t;
    pan_io_pool *pool;
    pthread_mutex_t lock;
    int full, produced, consumed, total;
    int want_room; /* the task parked on a full box */
} box;

static pan_io_next produce_step(pan_io_task *t)
{
    box *b = t->opaque;
    pthread_mutex_lock(&b->lock);
    if (b->produced == b->total) {
        pthread_mutex_unlock(&b->lock);
        return PAN_IO_DONE;
    }
    if (b->full) {
        b->want_room = 1; /* as the batcher's on_room: the consumer wakes us once it took it */
        pthread_mutex_unlock(&b->lock);
        return PAN_IO_PARK;
    }
    b->full = 1;
    b->produced++;
    pthread_mutex_unlock(&b->lock);
    return PAN_IO_AGAIN;
}

static void *consume_main(void *arg)
{
    box *b = arg;
    while (b->consumed < b->total) {
        pthread_mutex_lock(&b->lock);
        int took = b->full;
        if (took) {
            b->full = 0;
            b->consumed++;
        }
        int wake = took && b->want_room;
        if (wake) b->want_room = 0;
        if (wake) pan_io_wake(b->pool, &b->t); /* under the box's lock, as the batcher does */
        pthread_mutex_unlock(&b->lock);
        if (!took) sched_yield();
    }
    return NULL;
}

PAN_TEST(a_wake_while_running_is_not_lost)
{
    static box b;
    pan_io_pool *pool = NULL;
    pan_io_params p = {.work_threads = 2, .connect_threads = 1};
    ASSERT_OK(pan_io_create(&pool, &p));
    b = (box){.t = {.step = produce_step, .opaque = &b}, .pool = pool, .total = 20000};
    pthread_mutex_init(&b.lock, NULL);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, consume_main, &b), 0);
    pan_io_submit(pool, &b.t);
    pthread_join(th, NULL); /* hangs (and the test times out) if a wake was lost */
    pan_io_join(pool, &b.t);
    ASSERT_EQ(b.consumed, 20000);
    ASSERT_EQ(b.produced, 20000);
    pthread_mutex_destroy(&b.lock);
    pan_io_destroy(&pool);
}

/* ---- a network wait on the only work thread: a stand-in runs the task it waits for ---- */

typedef struct waiter {
    pan_io_task a, b;
    pan_io_pool *pool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int flag, timed_out, entered;
} waiter;

static pan_io_next wait_step(pan_io_task *t)
{
    waiter *w = t->opaque;
    pan_io_blocking(w->pool, 1); /* as a camera's read of a stalled stream */
    __atomic_store_n(&w->entered, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&w->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60; /* a lost stand-in would fail here rather than hang the suite */
    while (!w->flag && !w->timed_out)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until)) w->timed_out = 1;
    pthread_mutex_unlock(&w->lock);
    pan_io_blocking(w->pool, 0);
    return PAN_IO_DONE;
}

static pan_io_next set_step(pan_io_task *t)
{
    waiter *w = t->opaque;
    pthread_mutex_lock(&w->lock);
    w->flag = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return PAN_IO_DONE;
}

PAN_TEST(a_stalled_network_wait_gets_a_stand_in)
{
    static waiter w;
    pan_io_pool *pool = NULL;
    pan_io_params p = {.work_threads = 1, .connect_threads = 1};
    ASSERT_OK(pan_io_create(&pool, &p));
    w = (waiter){.a = {.step = wait_step, .opaque = &w}, .b = {.step = set_step, .opaque = &w}, .pool = pool};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    pan_io_submit(pool, &w.a);
    while (!__atomic_load_n(&w.entered, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pan_io_submit(pool, &w.b); /* the only work thread waits for b: only a stand-in can run it */
    pan_io_join(pool, &w.a);
    pan_io_join(pool, &w.b);
    ASSERT_EQ(w.timed_out, 0);
    ASSERT_EQ(w.flag, 1);
    ASSERT_EQ(pan_io_work_threads(pool), 2); /* one stand-in, bounded by 2 x work_threads */
    pan_io_destroy(&pool);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
}

PAN_TEST_MAIN(every_task_runs_to_its_end_on_fixed_threads, sleeping_tasks_wake_at_their_time, a_wake_ends_a_sleep,
              a_wake_while_running_is_not_lost, a_stalled_network_wait_gets_a_stand_in)
