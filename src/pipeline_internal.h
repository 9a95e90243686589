/* Internal: the pipeline object and its threads.
 *
 *   pipeline.c          the object: lifecycle, cameras added and removed, consumers, statistics
 *   pipeline_camera.c   a camera as steps on the I/O pool: source → decoder → its frame queue
 *   pipeline_io.c       the I/O pool: a fixed set of threads runs every camera's steps
 *   pipeline_deliver.c  the delivery thread: batches → stages → consumers; camera events; ends
 *   pipeline_stages.c   the stages: detect → ReID → per-camera track → identities
 *   pipeline_sync.c     file cameras aligned by timestamps
 *
 * Locks: pl->lock guards the camera list, the event list and the pipeline's state; cam->lock
 * guards a camera's source pointer and error text. Never take pl->lock while holding cam->lock.
 * Order: pl->sync_lock → pl->lock → cam->lock; the batcher's and the I/O pool's locks are taken
 * last (a wake of a camera task may come from under any of them).
 * Counters a camera thread writes and others read are changed with relaxed atomic builtins. */
#ifndef PANOPTES_PIPELINE_INTERNAL_H
#define PANOPTES_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/heap.h"
#include "decode/decoder.h"
#include "io/source.h"
#include "panoptes/pipeline.h"
#include "pipeline_batcher.h"
#include "pipeline_io.h"
#include "pipeline_stages.h"

#define PAN_ERROR_TEXT 512
/* Decoded frames a camera may have waiting for a batch. A batch takes one frame per camera, so a
 * deeper queue only adds latency (a file camera runs ahead of detection by a queue: 8 frames of
 * NanoDet on the cpu are ~240 ms), except that a camera decodes up to a queue's worth per turn on
 * the I/O pool and its decoder stays in the cache for them: host-decoded cameras of a decode-only
 * pipeline, where decoding is all the work, get the deeper queue (256 cameras at 0.96-0.99 of the
 * frames/s of 4 with 8, 0.90 with 4, measured). An NVDEC camera's waiting frame holds an output
 * surface (4 MiB of device memory at 1080p, the driver's 2 MiB pages included): 2 keep the
 * frames/s of 4 (H200, 32 and 64 1080p cameras, with and without B-frames; BENCHMARKS.md), 1
 * costs 7% at 64 cameras of a B-frame stream. pan_pipeline_params.camera_queue (run --camera-queue)
 * overrides, else PANOPTES_CAMERA_QUEUE (for measuring). */
#define PAN_CAMERA_QUEUE 4
#define PAN_CAMERA_QUEUE_NVDEC 2
#define PAN_CAMERA_QUEUE_DECODE_ONLY 8
/* Frames a camera may hold beyond its queue: the pending one its step hands over, one in each of
 * the two batches in flight (an NVDEC frame is released once preprocessing and the ReID crops
 * have read it) and, for host frames, one of slack. An NVDEC camera with all of them held sleeps
 * until one is back (its decoder's frame_back) instead of decoding further ahead; 2 keep the
 * frames/s of 3 (H100, 32 and 64 1080p cameras, with and without B-frames, within 1%;
 * BENCHMARKS.md) and save 4 MiB a camera. PANOPTES_NVDEC_EXTRA_SURFACES=1..8 overrides, for
 * measuring device memory against throughput. */
#define PAN_CAMERA_HELD_EXTRA 4
#define PAN_CAMERA_HELD_EXTRA_NVDEC 2

typedef struct camera {
    struct pan_pipeline *pl;
    int id;
    char *uri, *name; /* name NULL when none */
    /* the camera's settings: its own, or the pipeline's */
    int loop, timeout_ms, reconnect, rtsp_udp;
    int64_t max_frames;

    pan_io_task task;    /* its steps on the I/O pool */
    struct cam_ctx *ctx; /* the steps' state (pipeline_camera.c); NULL once finished */
    int started;         /* submitted to the pool (joined by the delivery thread) */
    atomic_int stop;     /* stop reading: remove_camera, pan_pipeline_stop or a failed pipeline */
    int removing;        /* remove_camera was called (pl->lock) */
    int finalized;       /* its end was delivered (delivery thread; read under pl->lock) */
    pan_batcher_slot slot; /* its waiting frames (pipeline_batcher.h) */

    pthread_mutex_t lock; /* src, error */
    pan_source *src;
    char error[PAN_ERROR_TEXT];

    /* written by the camera thread (atomic builtins), read anywhere */
    int state;           /* pan_camera_state */
    int status;          /* pan_status of a failed camera */
    int live;
    int decoder;         /* pan_decoder_kind + 1; 0 before the first connection */
    int64_t dropped, reconnects, failed_attempts, packets, decode_errors, frames_lost, surface_bytes;
    double outage_s, thread_cpu_s;
    /* pipeline_sync.c, under pl->sync_lock (sync_state also under pl->lock at start) */
    double sync_t;       /* the timestamp it is about to hand over */
    int sync_state;      /* PAN_SYNC_UNJOINED, _JOINED (in the heap of times), _LEFT */
    int sync_pos;        /* its place in pl->sync_times, -1 when not there */
    int wait_pos;        /* its place in pl->sync_waiters (parked), -1 when not there */
    /* its final state, set by its thread before the marker; the delivery thread tells it */
    pan_camera_state final_state;
    pan_status final_status;
    char final_message[PAN_ERROR_TEXT];

    /* written by the delivery thread only */
    struct pan_stages_cam *stages;
    int64_t frames, detections;
    double fps, fps_t;   /* frames/s over the last interval; when it started */
    int64_t fps_frames;
} camera;

typedef struct pending_event {
    struct pending_event *next;
    pan_camera_event e; /* name, uri, message: owned copies */
} pending_event;

struct pan_pipeline {
    pan_pipeline_params p;
    int *classes;
    double (*overlaps)[4];
    char *model_path, *reid, *model_type;
    pan_backend backend;
    pan_stages stages;
    pan_batcher *batcher;
    pan_io_pool *io;         /* the cameras' steps; from start to stop (set and cleared under lock) */
    int io_work, io_connect; /* its threads when it ended (the statistics after stop) */

    pthread_mutex_t lock;
    pthread_cond_t changed;  /* a camera ended, the pipeline failed or stopped */
    camera **cams;           /* not yet finalized-and-removed, ascending id */
    int n_cams, cap_cams;
    int next_id;
    int started, stopping, stopped;
    pan_status status;       /* why the pipeline failed */
    pending_event *events, **events_tail;
    pan_consumer *consumers;
    int n_consumers;
    int release_early;       /* no consumer reads images: frames go after inference (pipeline_deliver.c) */
    int *consumer_off;       /* detached after an error (delivery thread) */

    pthread_t deliver_thread;
    int deliver_started;
    double create_s;         /* the stages' creation: models loaded, engines planned */
    double first_frame_t;    /* CLOCK_MONOTONIC s of the first delivery; 0 before */
    double t0;               /* CLOCK_MONOTONIC s at start: the clock of live cameras' pts */
    double cpu0;             /* process CPU s at start */
    double t_end, cpu_end;   /* the same when stopped (the statistics stay as they were) */
    size_t dev_base, dev_peak, dev_startup;
    int trim_pending;        /* a camera ended since the last tick (delivery thread) */
    uint64_t pixel_copies;   /* pixel bytes copied by the pipeline's threads (pan_gpu_pixel_copy_scope) */

    /* totals of removed cameras (pl->lock) */
    int64_t removed_frames, removed_dropped, removed_reconnects;
    double removed_cameras_cpu_s;

    /* delivery thread's figures, read by get_stats under pl->lock */
    int64_t frames_done, batches, batch_hist[PAN_BATCH_HIST];
    int64_t latency_hist[PAN_LATENCY_HIST];
    double latency_max_s, latency_sum_s;
    double deliver_cpu_s, infer_cpu_s; /* the two halves' threads */
    int64_t steady_f0, steady_f1;
    double steady_t0, steady_c0, steady_t1, steady_c1;

    /* pipeline_sync.c */
    int sync_on;
    pthread_mutex_t sync_lock;
    pan_heap sync_times;   /* joined cameras by sync_t: the slowest on top */
    pan_heap sync_waiters; /* parked cameras by sync_t: the first to be let go on top */
    int sync_unjoined;         /* started, not yet joined or left (atomic): the others wait for them */
};

enum { PAN_SYNC_UNJOINED, PAN_SYNC_JOINED, PAN_SYNC_LEFT };

/* How far (seconds of stream time) a file camera may run ahead of the slowest other one when
 * aligned: a few frames, well inside the identities' overlap_dt_s (0.5 s). */
#define PAN_SYNC_WINDOW_S 0.1

/* pipeline_sync.c: with pl->sync_on, file cameras hand their frames over in timestamp order
 * (within PAN_SYNC_WINDOW_S). A file camera calls pan__sync_try before handing over a frame with
 * timestamp t: 1 when it may, 0 when it must wait (it is woken with pan__camera_wake once a slower
 * camera moves on, and tries again); every camera calls pan__sync_leave when it stops taking part
 * (live, paced, ended, failed). A started camera that has done neither yet holds the others back
 * (pan__sync_started, called before its task runs, with pl->lock held). Each call costs
 * O(log cameras): the slowest camera is the top of a heap, and a camera that moves wakes only the
 * parked cameras its move lets go. */
void pan__sync_init(struct pan_pipeline *pl);
void pan__sync_destroy(struct pan_pipeline *pl);
void pan__sync_started(camera *c);
void pan__sync_start_failed(camera *c);
int pan__sync_try(camera *c, double t);
void pan__sync_leave(camera *c);

double pan__now_s(void);
/* Host CPU seconds of the calling thread so far; of the whole process. */
double pan__thread_cpu_s(void);
double pan__process_cpu_s(void);

/* pipeline_camera.c: submits the camera's steps to pl->io (source → decoder → frame queue). */
pan_status pan__camera_start(camera *c);
/* Wakes a camera's blocking reads and its parked or sleeping task (remove, stop). */
void pan__camera_interrupt(camera *c);
/* Its parked task runs again (room in its queue, a slower camera moved on). */
void pan__camera_wake(camera *c);
/* 1 once the camera should stop reading. */
int pan__camera_stopping(const camera *c);

/* pipeline.c: queues a state change for the consumers (any thread) and records it. */
void pan__camera_post(camera *c, pan_camera_state state, pan_status status, const char *message);
/* The camera with this id, or NULL (pl->lock held by the caller). */
camera *pan__camera_find(struct pan_pipeline *pl, int id);
void pan__camera_free(camera *c);

/* pipeline_deliver.c: the delivery thread. */
void *pan__deliver_main(void *arg);

#endif
