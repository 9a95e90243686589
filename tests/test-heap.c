/* The intrusive min-heap (src/core/heap.h): random pushes, removals and key changes on a few
 * hundred objects, checked after each step against a scan (the top has the smallest key; every
 * object in the heap knows its place, every other one has -1); removing or updating an object
 * that is not in the heap (or whose place is stale) changes nothing; out of the heap it goes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/heap.h"
#include "test.h"

typedef struct item {
    int id;
    double key;
    int at;
    int in;
} item;

enum { N = 300, STEPS = 20000 };

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* 1 when h holds exactly the items marked `in`, each at its place, with the smallest key on top. */
static int consistent(const pan_heap *h, const item *it)
{
    int in = 0;
    double min = 1e300;
    for (int i = 0; i < N; i++) {
        if (!it[i].in) {
            if (it[i].at != -1) return 0;
            continue;
        }
        in++;
        if (it[i].at < 0 || it[i].at >= h->n || h->a[it[i].at] != &it[i]) return 0;
        if (it[i].key < min) min = it[i].key;
    }
    if (in != h->n) return 0;
    const item *top = pan_heap_top(h);
    return in ? top && top->key == min : top == NULL;
}

PAN_TEST(random_operations_keep_the_heap_in_order)
{
    static item it[N];
    pan_heap h;
    pan_heap_init(&h, offsetof(item, key), offsetof(item, at));
    for (int i = 0; i < N; i++) it[i] = (item){.id = i, .key = 0, .at = -1, .in = 0};
    uint32_t s = 7;
    for (int step = 0; step < STEPS; step++) {
        item *x = &it[rnd(&s) % N];
        switch (rnd(&s) % 3) {
        case 0: /* push one that is out, or change one's key */
            x->key = (double)(rnd(&s) % 1000) / 10.0; /* ties happen */
            if (x->in) pan_heap_update(&h, x);
            else {
                ASSERT_EQ(pan_heap_push(&h, x), 0);
                x->in = 1;
            }
            break;
        case 1:
            pan_heap_remove(&h, x);
            x->in = 0;
            break;
        default: /* take the top out, as a timer queue does */
            if (h.n) {
                item *t = pan_heap_top(&h);
                pan_heap_remove(&h, t);
                t->in = 0;
            }
        }
        ASSERT_TRUE(consistent(&h, it));
    }
    /* the rest leave in key order */
    double last = -1e300;
    item *t;
    while ((t = pan_heap_top(&h))) {
        ASSERT_TRUE(t->key >= last);
        last = t->key;
        pan_heap_remove(&h, t);
        t->in = 0;
    }
    ASSERT_TRUE(consistent(&h, it));
    pan_heap_free(&h);
}

PAN_TEST(an_object_not_in_the_heap_changes_nothing)
{
    item a = {.key = 1, .at = -1}, b = {.key = 2, .at = -1}, stranger = {.key = 0, .at = 0};
    pan_heap h;
    pan_heap_init(&h, offsetof(item, key), offsetof(item, at));
    ASSERT_EQ(pan_heap_push(&h, &b), 0);
    ASSERT_EQ(pan_heap_push(&h, &a), 0);
    pan_heap_remove(&h, &stranger); /* place 0 is a's, not its: a stays */
    pan_heap_update(&h, &stranger);
    ASSERT_EQ(h.n, 2);
    ASSERT_TRUE(pan_heap_top(&h) == &a);
    pan_heap_remove(&h, &a);
    pan_heap_remove(&h, &a); /* twice: nothing the second time */
    ASSERT_EQ(h.n, 1);
    ASSERT_TRUE(pan_heap_top(&h) == &b && a.at == -1 && b.at == 0);
    pan_heap_free(&h);
}

PAN_TEST_MAIN(random_operations_keep_the_heap_in_order, an_object_not_in_the_heap_changes_nothing)
