/* Intrusive binary min-heap (src/core/heap.h). */
#include "core/heap.h"

#include <stdlib.h>

static int *place_of(const pan_heap *h, void *x) { return (int *)((char *)x + h->pos_off); }

static void put(pan_heap *h, int i, void *x)
{
    h->a[i] = x;
    *place_of(h, x) = i;
}

static void sift_up(pan_heap *h, int i)
{
    void *x = h->a[i];
    double k = pan_heap_key(h, x);
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (pan_heap_key(h, h->a[parent]) <= k) break;
        put(h, i, h->a[parent]);
        i = parent;
    }
    put(h, i, x);
}

static void sift_down(pan_heap *h, int i)
{
    void *x = h->a[i];
    double k = pan_heap_key(h, x);
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pan_heap_key(h, h->a[c + 1]) < pan_heap_key(h, h->a[c])) c++;
        if (k <= pan_heap_key(h, h->a[c])) break;
        put(h, i, h->a[c]);
        i = c;
    }
    put(h, i, x);
}

void pan_heap_init(pan_heap *h, size_t key_off, size_t pos_off)
{
    h->a = NULL;
    h->n = h->cap = 0;
    h->key_off = key_off;
    h->pos_off = pos_off;
}

void pan_heap_free(pan_heap *h)
{
    free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

int pan_heap_push(pan_heap *h, void *x)
{
    if (h->n == h->cap) {
        int nc = h->cap ? 2 * h->cap : 16;
        void **a = realloc(h->a, (size_t)nc * sizeof *a);
        if (!a) return -1;
        h->a = a;
        h->cap = nc;
    }
    put(h, h->n++, x);
    sift_up(h, h->n - 1);
    return 0;
}

void pan_heap_remove(pan_heap *h, void *x)
{
    int i = *place_of(h, x);
    if (i < 0 || i >= h->n || h->a[i] != x) return;
    *place_of(h, x) = -1;
    void *last = h->a[--h->n];
    if (i == h->n) return;
    put(h, i, last);
    sift_up(h, i);
    sift_down(h, *place_of(h, last));
}

void pan_heap_update(pan_heap *h, void *x)
{
    int i = *place_of(h, x);
    if (i < 0 || i >= h->n || h->a[i] != x) return;
    sift_up(h, i);
    sift_down(h, *place_of(h, x));
}
