/* Internal: state shared by the pipeline's threads (pipeline.c: the batcher; pipeline_camera.c:
 * one thread per camera). */
#ifndef PANOPTES_PIPELINE_INTERNAL_H
#define PANOPTES_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "panoptes/pipeline.h"
#include "core/queue.h"
#include "io/source.h"
#include "pipeline_stages.h"

typedef struct camera {
    struct run *run;
    int index;
    const char *uri;
    pthread_t thread;
    int started;
    pthread_mutex_t lock; /* guards src against the interrupter */
    pan_source *src;
    pan_camera_summary *sum;
} camera;

typedef struct run {
    const pan_pipeline_params *p;
    pan_backend backend;
    pan_queue *frames;
    camera *cams;
    atomic_int live;
    pan_stages stages;
    double t0; /* CLOCK_MONOTONIC seconds when the cameras were started: live cameras' time base */
    /* alignment of file cameras (pipeline_sync.c) */
    int sync_on;
    double *sync_t; /* per camera: timestamp of the frame it is handing over; NULL when off */
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
} run;

/* How far (seconds of stream time) a file camera may run ahead of the slowest other one when
 * aligned: a few frames, well inside the identities' overlap_dt_s (0.5 s). */
#define PAN_SYNC_WINDOW_S 0.1

/* pipeline_sync.c: with r->sync_on, file cameras hand their frames over in timestamp order
 * (within PAN_SYNC_WINDOW_S). init/destroy around the run; a file camera calls pan__sync_wait
 * before handing over a frame with timestamp t (returns 1 when the run is being stopped), and
 * every camera calls pan__sync_leave when it stops taking part (live, paced, ended, failed). */
pan_status pan__sync_init(run *r);
void pan__sync_destroy(run *r);
int pan__sync_wait(run *r, int camera, double t);
void pan__sync_leave(run *r, int camera);

/* Host CPU seconds of the calling thread so far. */
double pan__thread_cpu_s(void);
/* 1 once pan_pipeline_interrupt was called (async-signal-safe flag). */
int pan__pipeline_stop_requested(void);
/* Thread body of one camera: source → decoder → frame queue. */
void *pan__camera_main(void *arg);
/* Wakes blocking source reads of every camera (on interrupt). */
void pan__camera_interrupt_all(run *r);

#endif
