/* Core: status table, bounded queue (back-pressure, close semantics), host frame pool, refcounts. */
#include <pthread.h>

#include "panoptes/frame.h"
#include "core/queue.h"
#include "panoptes/status.h"
#include "test.h"

PAN_TEST(status_table)
{
    ASSERT_STREQ(pan_status_name(PAN_OK), "PAN_OK");
    ASSERT_STREQ(pan_status_name(PAN_EAGAIN), "PAN_EAGAIN");
    ASSERT_STREQ(pan_status_name(12345), "PAN_UNKNOWN");
    ASSERT_STREQ(pan_status_str(PAN_RESIDENCY), "GPU-only violation: a buffer is not in device memory");
    ASSERT_TRUE(PAN_EOF < 0 && PAN_NOMEM < 0);
}

PAN_TEST(queue_bounded_and_close)
{
    pan_queue *q;
    void *item;
    int vals[4] = {1, 2, 3, 4};
    ASSERT_OK(pan_queue_create(&q, 2));
    ASSERT_OK(pan_queue_push(q, &vals[0], 0));
    ASSERT_OK(pan_queue_push(q, &vals[1], 0));
    ASSERT_EQ(pan_queue_push(q, &vals[2], 0), PAN_TIMEOUT);  /* full: no growth */
    ASSERT_EQ(pan_queue_push(q, &vals[2], 20), PAN_TIMEOUT); /* timed wait expires */
    ASSERT_OK(pan_queue_pop(q, &item, 0));
    ASSERT_EQ(*(int *)item, 1);
    pan_queue_close(q);
    ASSERT_EQ(pan_queue_push(q, &vals[3], -1), PAN_CLOSED);
    ASSERT_OK(pan_queue_pop(q, &item, -1)); /* drains what is left */
    ASSERT_EQ(*(int *)item, 2);
    ASSERT_EQ(pan_queue_pop(q, &item, -1), PAN_EOF);
    pan_queue_destroy(&q, NULL);
    ASSERT_TRUE(q == NULL);
    pan_queue_destroy(&q, NULL); /* NULL-safe */
}

static int same_parity(const void *a, const void *b) { return (*(const int *)a & 1) == (*(const int *)b & 1); }

PAN_TEST(queue_evict_oldest_of_same_kind)
{
    pan_queue *q;
    void *item, *old;
    int v[5] = {1, 2, 3, 4, 5};
    ASSERT_OK(pan_queue_create(&q, 3));
    ASSERT_OK(pan_queue_push_evict(q, &v[0], same_parity, &old)); /* room: no eviction */
    ASSERT_TRUE(old == NULL);
    ASSERT_OK(pan_queue_push(q, &v[1], 0));
    ASSERT_OK(pan_queue_push(q, &v[3], 0)); /* queue: 1 2 4 (full) */
    ASSERT_OK(pan_queue_push_evict(q, &v[5 - 1], same_parity, &old)); /* 5 evicts 1, the oldest odd */
    ASSERT_EQ(*(int *)old, 1);
    ASSERT_OK(pan_queue_push_evict(q, &v[2], same_parity, &old)); /* 3 evicts 5: order 2 4 3 */
    ASSERT_EQ(*(int *)old, 5);
    ASSERT_OK(pan_queue_pop(q, &item, 0));
    ASSERT_EQ(*(int *)item, 2);
    ASSERT_OK(pan_queue_pop(q, &item, 0));
    ASSERT_EQ(*(int *)item, 4);
    ASSERT_OK(pan_queue_pop(q, &item, 0));
    ASSERT_EQ(*(int *)item, 3);
    /* full of the other kind: nothing to evict */
    ASSERT_OK(pan_queue_push(q, &v[1], 0));
    ASSERT_OK(pan_queue_push(q, &v[3], 0));
    ASSERT_OK(pan_queue_push(q, &v[1], 0));
    ASSERT_EQ(pan_queue_push_evict(q, &v[0], same_parity, &old), PAN_TIMEOUT);
    ASSERT_TRUE(old == NULL);
    pan_queue_close(q);
    ASSERT_EQ(pan_queue_push_evict(q, &v[0], same_parity, &old), PAN_CLOSED);
    pan_queue_destroy(&q, NULL);
}

typedef struct {
    pan_queue *q;
    int n;
} producer_arg;

static void *producer(void *arg)
{
    producer_arg *a = arg;
    for (intptr_t i = 1; i <= a->n; i++) pan_queue_push(a->q, (void *)i, -1);
    return NULL;
}

PAN_TEST(queue_threads_keep_order)
{
    pan_queue *q;
    pthread_t t;
    ASSERT_OK(pan_queue_create(&q, 3));
    producer_arg a = {q, 10000};
    pthread_create(&t, NULL, producer, &a);
    intptr_t expect = 1;
    for (int i = 0; i < a.n; i++) {
        void *item;
        ASSERT_OK(pan_queue_pop(q, &item, -1));
        ASSERT_EQ((intptr_t)item, expect);
        expect++;
        ASSERT_LE(pan_queue_size(q), 3);
    }
    pthread_join(t, NULL);
    pan_queue_destroy(&q, NULL);
}

PAN_TEST(frame_pool_refcounts)
{
    pan_frame_pool *pool;
    pan_frame *a, *b, *c;
    ASSERT_OK(pan_frame_pool_create(&pool, 33, 17, PAN_PIXFMT_NV12, 2));
    ASSERT_OK(pan_frame_pool_get(pool, 1, &a));
    ASSERT_OK(pan_frame_pool_get(pool, 1, &b));
    ASSERT_EQ(pan_frame_pool_get(pool, 1, &c), PAN_EAGAIN); /* exhausted: back-pressure */
    ASSERT_EQ(a->width, 33);
    ASSERT_GE(a->pitch[0], 33);
    ASSERT_TRUE(a->data[1] != NULL);
    pan_frame *a2 = pan_frame_ref(a);
    pan_frame_unref(&a);
    ASSERT_TRUE(a == NULL);
    ASSERT_EQ(pan_frame_pool_in_use(pool), 2); /* a2 still holds it */
    pan_frame_unref(&a2);
    ASSERT_EQ(pan_frame_pool_in_use(pool), 1);
    ASSERT_OK(pan_frame_pool_get(pool, 1, &c));
    pan_frame_pool_destroy(&pool); /* frames still out: freed when they return */
    pan_frame_unref(&b);
    pan_frame_unref(&c);
    pan_frame_unref(&c); /* NULL-safe */
    ASSERT_EQ(pan_frame_pool_create(&pool, 0, 10, PAN_PIXFMT_NV12, 1), PAN_INVAL);
}

PAN_TEST_MAIN(status_table, queue_bounded_and_close, queue_evict_oldest_of_same_kind, queue_threads_keep_order, frame_pool_refcounts)
