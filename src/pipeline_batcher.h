/* Internal: fair batches (DeepStream's stream muxer, without GStreamer). Each camera has its own
 * small queue of decoded frames; the delivery thread takes at most one frame per camera per batch,
 * serving cameras round robin, and closes a batch when it is full or `timeout` after its first
 * frame. So no camera crowds out the others, whatever their speeds, and a frame waits at most one
 * round of the cameras before it is batched.
 *
 * Pacing, per camera: a recorded camera waits for room in its queue (back-pressure: every frame is
 * delivered); a live one never waits: a frame that finds its queue full pushes out the camera's
 * oldest waiting frame (drop oldest first), which the caller unrefs and counts.
 *
 * A camera's end is queued after its last frame (pan_batcher_end): pan_batcher_next reports it
 * once every frame of the camera was handed out, in or before that batch. */
#ifndef PANOPTES_PIPELINE_BATCHER_H
#define PANOPTES_PIPELINE_BATCHER_H

#include <pthread.h>

#include "panoptes/frame.h"
#include "panoptes/status.h"

typedef struct pan_batcher pan_batcher;

/* One camera's queue; lives in the camera, guarded by the batcher's lock. */
typedef struct pan_batcher_slot {
    int camera;
    pan_frame **frames;   /* ring of cap frames */
    double *t_arrival;    /* when each was queued (CLOCK_MONOTONIC s) */
    int cap, head, n;
    int ended;            /* pan_batcher_end was called */
    int listed;           /* in the ready list (frames or an end to hand out) */
    int opened;           /* has queued a frame, its end not handed out: batches wait for it */
    int discarded;        /* pan_batcher_discard was called: pushes are refused */
    unsigned served;      /* the batch it last gave a frame to */
    struct pan_batcher_slot *next;
    /* Set by the owner after init for pushes that never block: a push that finds the queue full
     * returns PAN_EAGAIN and on_room(room_opaque) is called (under the batcher's lock: it must only
     * wake someone) once a frame has left the queue. NULL: pushes wait for room. */
    void (*on_room)(void *opaque);
    void *room_opaque;
    int want_room;
    /* Dropping pushes (live cameras) with on_room: the oldest waiting frame is dropped only once it
     * has waited drop_after_s; before that the push returns PAN_EAGAIN like a waiting one, with
     * retry_at = when it will have (CLOCK_MONOTONIC s). So a burst that processing absorbs (the
     * seconds an RTSP connect holds back) is not dropped, and a camera the pipeline cannot keep up
     * with loses its oldest frames with a bounded delay. 0: drop at once. */
    double drop_after_s, retry_at;
} pan_batcher_slot;

pan_status pan_batcher_create(pan_batcher **b);
/* After every slot was detached. NULL-safe. */
void pan_batcher_destroy(pan_batcher **b);

/* cap: frames the camera may have waiting. */
pan_status pan_batcher_slot_init(pan_batcher_slot *s, int camera, int cap);
/* Unrefs frames left (a camera whose end was never taken). The slot must not be listed. */
void pan_batcher_slot_free(pan_batcher_slot *s);

/* Queues f (the caller's reference) with its arrival time. drop: never wait; when full, the oldest
 * waiting frame is handed back in *dropped (the caller unrefs it). Otherwise waits for room, or,
 * for a slot with on_room, returns PAN_EAGAIN (f not taken; on_room tells when to try again);
 * PAN_CLOSED when the batcher was closed or the slot discarded (f not taken). */
pan_status pan_batcher_push(pan_batcher *b, pan_batcher_slot *s, pan_frame *f, double t_arrival, int drop,
                            pan_frame **dropped);
/* Takes the camera's waiting frames out (a removed camera: under load its frames would otherwise
 * wait for their turns); they are unreffed here, and later pushes to the slot return PAN_CLOSED
 * (a frame decoded while the camera was being removed is never queued after the ones that went).
 * Returns how many. */
int pan_batcher_discard(pan_batcher *b, pan_batcher_slot *s);
/* The camera queues nothing more. */
void pan_batcher_end(pan_batcher *b, pan_batcher_slot *s);

/* The next batch: waits up to wait_ms for the first frame or end, then takes at most one frame per
 * camera (round robin, up to max), waiting up to timeout_s after the first frame for cameras not yet
 * in the batch. The batch is full at max frames, or once every camera that queues frames (its end
 * not handed out) is in it; the waiting thread is woken when it can be filled, not at every frame. frames/t_arrival get *n entries (references passed to the caller); ends gets the
 * camera ids whose end was reached (*n_ends; at most max_ends). PAN_TIMEOUT when nothing came,
 * PAN_EOF once closed and empty. */
pan_status pan_batcher_next(pan_batcher *b, int max, int wait_ms, double timeout_s, pan_frame **frames,
                            double *t_arrival, int *n, int *ends, int max_ends, int *n_ends);
/* Wakes everyone: pushes fail with PAN_CLOSED; next drains what is left, then PAN_EOF. */
void pan_batcher_close(pan_batcher *b);

#endif
