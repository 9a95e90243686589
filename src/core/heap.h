/* An intrusive binary min-heap: objects keyed by a double stored inside them, each keeping its
 * place in the heap in an int inside it (-1 when not in it), so that one can be removed or
 * re-keyed in O(log n) without a search. Equal keys leave in no particular order. Not
 * thread-safe: the owner's lock guards it. Used by the camera I/O pool's timers (by wake-up time)
 * and the aligned cameras (by timestamp). */
#ifndef PANOPTES_CORE_HEAP_H
#define PANOPTES_CORE_HEAP_H

#include <stddef.h>

typedef struct pan_heap {
    void **a;
    int n, cap;
    size_t key_off, pos_off; /* offsetof the double key and of the int place in the objects */
} pan_heap;

/* e.g. pan_heap_init(&h, offsetof(task, until), offsetof(task, heap_at)) */
void pan_heap_init(pan_heap *h, size_t key_off, size_t pos_off);
void pan_heap_free(pan_heap *h);
/* 0, or -1 when out of memory (x is not in the heap then). */
int pan_heap_push(pan_heap *h, void *x);
/* Takes x out; nothing when it is not in. */
void pan_heap_remove(pan_heap *h, void *x);
/* After x's key changed; nothing when it is not in. */
void pan_heap_update(pan_heap *h, void *x);
/* The smallest key's object, or NULL. */
static inline void *pan_heap_top(const pan_heap *h) { return h->n ? h->a[0] : NULL; }
/* The key of x. */
static inline double pan_heap_key(const pan_heap *h, const void *x) { return *(const double *)((const char *)x + h->key_off); }

#endif
