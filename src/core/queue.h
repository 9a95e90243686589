/* Bounded, blocking multi-producer multi-consumer queue of pointers.
 * A full queue blocks the producer (back-pressure) instead of growing. Closing wakes everyone:
 * push then fails with PAN_CLOSED, pop drains what is left and then returns PAN_EOF. */
#ifndef PANOPTES_QUEUE_H
#define PANOPTES_QUEUE_H

#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_queue pan_queue;

pan_status pan_queue_create(pan_queue **q, int capacity);
/* Destroys the queue; items still inside are passed to drop (if not NULL). */
void pan_queue_destroy(pan_queue **q, void (*drop)(void *item));

/* timeout_ms < 0 waits forever, 0 does not wait. PAN_TIMEOUT when it expired, PAN_CLOSED when closed. */
pan_status pan_queue_push(pan_queue *q, void *item, int timeout_ms);
/* PAN_TIMEOUT when it expired, PAN_EOF when closed and empty. */
pan_status pan_queue_pop(pan_queue *q, void **item, int timeout_ms);
/* Push for producers that must never wait (live cameras): when the queue is full, the oldest
 * queued item for which same(queued, item) is true is taken out and handed back in *evicted
 * (the caller drops it) and item goes in at the back: "drop oldest first". When no queued item
 * matches, nothing is evicted and PAN_TIMEOUT says the queue is full. PAN_CLOSED when closed. */
pan_status pan_queue_push_evict(pan_queue *q, void *item, int (*same)(const void *queued, const void *item),
                                void **evicted);
void pan_queue_close(pan_queue *q);
int pan_queue_size(pan_queue *q);
int pan_queue_capacity(const pan_queue *q);

#ifdef __cplusplus
}
#endif
#endif
