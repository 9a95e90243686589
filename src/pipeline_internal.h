/* Internal: state shared by the pipeline's threads (pipeline.c: the batcher; pipeline_camera.c:
 * one thread per camera). */
#ifndef PANOPTES_PIPELINE_INTERNAL_H
#define PANOPTES_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "panoptes/pipeline.h"
#include "panoptes/queue.h"
#include "panoptes/source.h"
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
} run;

/* 1 once pan_pipeline_interrupt was called (async-signal-safe flag). */
int pan__pipeline_stop_requested(void);
/* Thread body of one camera: source → decoder → frame queue. */
void *pan__camera_main(void *arg);
/* Wakes blocking source reads of every camera (on interrupt). */
void pan__camera_interrupt_all(run *r);

#endif
