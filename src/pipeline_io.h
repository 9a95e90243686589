/* Internal: the camera I/O pool. A fixed number of threads serves every camera of a pipeline, so
 * the thread count does not grow with the cameras. A camera is a task whose step does a bounded
 * piece of work (connect; read and decode until one frame is handed over; drain; close) and says
 * what comes next:
 *
 *   PAN_IO_AGAIN   more to do now: back to the end of its lane's run queue (round robin)
 *   PAN_IO_SLEEP   nothing until task->until (CLOCK_MONOTONIC s): reconnect backoff, --realtime
 *                  pacing. Holds no thread.
 *   PAN_IO_PARK    nothing until pan_io_wake: its frame queue is full (back-pressure), it waits
 *                  for slower cameras (timestamp alignment). Holds no thread.
 *   PAN_IO_DONE    finished: the pool never touches the task again.
 *
 * Two lanes, each with its own threads: `work` (reads, decoding, hand-over) and `connect`
 * (opening a source, which for RTSP means a handshake and about two seconds of probing, and for a
 * dead camera waits for its timeout): cameras that connect, or reconnect again and again, never
 * hold the threads the streaming cameras need. A step picks the lane of its next step in
 * task->lane.
 *
 * A wake that comes while the step runs is kept: a step that then parks runs again at once, so
 * "check, then park" needs no lock shared with the waker.
 *
 * A step that may wait on the network (a live camera's read, which returns when the next packet
 * comes or at the camera's timeout) says so with pan_io_blocking. When every work thread is in
 * such a wait while other tasks are queued, the pool starts a stand-in work thread, up to as many
 * again as it was given: stalled cameras cannot hold the threads that the others need, and the
 * thread count stays bounded whatever the number of cameras. */
#ifndef PANOPTES_PIPELINE_IO_H
#define PANOPTES_PIPELINE_IO_H

#include <pthread.h>

#include "panoptes/status.h"

typedef struct pan_io_pool pan_io_pool;

typedef enum { PAN_IO_AGAIN, PAN_IO_SLEEP, PAN_IO_PARK, PAN_IO_DONE } pan_io_next;
typedef enum { PAN_IO_LANE_WORK, PAN_IO_LANE_CONNECT, PAN_IO_LANES } pan_io_lane;

typedef struct pan_io_task {
    pan_io_next (*step)(struct pan_io_task *t); /* runs on a pool thread, one at a time per task */
    void *opaque;
    pan_io_lane lane; /* where the next step runs (set by the owner before submit, or by a step) */
    double until;     /* PAN_IO_SLEEP: wake at this CLOCK_MONOTONIC time */
    /* the pool's, under its lock */
    int state, woken, heap_at;
    struct pan_io_task *next;
} pan_io_task;

typedef struct pan_io_params {
    int work_threads;    /* >= 1 */
    int connect_threads; /* >= 1 */
    /* called once on every pool thread as it starts and before it ends (NULL = none) */
    void (*thread_init)(void *opaque, int begin);
    void *opaque;
} pan_io_params;

pan_status pan_io_create(pan_io_pool **pool, const pan_io_params *params);
/* Ends the threads (tasks still queued are not run; the caller has let them all finish). */
void pan_io_destroy(pan_io_pool **pool);
/* The task runs its first step soon, on task->lane. */
void pan_io_submit(pan_io_pool *pool, pan_io_task *t);
/* A parked or sleeping task runs its next step soon; one that is running runs again once it
 * returns (whatever it returns but DONE). Thread-safe; no effect on a finished task. */
void pan_io_wake(pan_io_pool *pool, pan_io_task *t);
/* Waits until the task returned PAN_IO_DONE (after that its memory may go). */
void pan_io_join(pan_io_pool *pool, pan_io_task *t);
/* Around a wait on the network inside a step: begin = 1 before, 0 after. */
void pan_io_blocking(pan_io_pool *pool, int begin);
/* The pool's threads now (for the statistics): both lanes, stand-ins included. */
int pan_io_threads(const pan_io_pool *pool);
/* The work lane's threads now (stand-ins included). */
int pan_io_work_threads(const pan_io_pool *pool);

#endif
