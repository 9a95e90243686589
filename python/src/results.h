/* The hand-off from the pipeline's delivery thread to Python: a consumer that copies each frame's
 * results into one compact block and queues it, with a bound, for the thread that iterates (or
 * dispatches callbacks). Pure C and pthreads: nothing here touches Python, so the delivery thread
 * never waits for the GIL.
 *
 *   delivery thread ──on_frame: copy (one malloc)──> FIFO (≤ capacity frames) ──pop──> Python thread
 *                    ──on_camera: copy──────────────> same FIFO (events keep their order with frames)
 *
 * When the FIFO is full, a recorded camera's result waits for room (every frame is delivered, as
 * with a slow C consumer); a live camera's result never waits: the oldest queued result of a live
 * camera is dropped (or, with none queued, the new one), counted per camera. Once stopping is set
 * (stop() from Python) nothing waits, so pan_pipeline_stop can deliver every decoded frame. */
#ifndef PANOPTES_PY_RESULTS_H
#define PANOPTES_PY_RESULTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <panoptes/pipeline.h>

typedef enum py_item_kind { PY_ITEM_FRAME, PY_ITEM_EVENT } py_item_kind;

/* Byte offsets of the arrays of a frame item's data block, 8-byte types first so that every
 * array is aligned to its element size (the block itself comes from malloc):
 *   track_ids int64[m] | global_ids int64[m] | boxes float32[n][4] | scores float32[n] |
 *   classes int32[n] | track_boxes float32[m][4] | track_scores float32[m] |
 *   track_classes int32[m] | track_states int32[m] (pan_track_state)          n detections, m tracks */
typedef struct py_layout {
    size_t track_ids, global_ids, boxes, scores, classes, track_boxes, track_scores, track_classes,
        track_states, size;
} py_layout;

void py_layout_of(int n_det, int n_trk, py_layout *l);

typedef struct py_item {
    struct py_item *next;
    py_item_kind kind;
    int camera;
    const char *name; /* inside the item's allocation, or NULL */
    /* frames */
    int64_t frame;
    double pts; /* NAN when unknown */
    int width, height;
    int n_det, n_trk;
    unsigned char *data; /* py_layout_of(n_det, n_trk) bytes, inside the item's allocation */
    /* events */
    pan_camera_state state;
    pan_status status;
    const char *uri, *message; /* or NULL */
} py_item;

typedef struct py_results py_results;

/* capacity: queued frames at most; 0 = frames are counted, not queued (no results to Python). */
int py_results_create(py_results **q, int capacity);
void py_results_destroy(py_results **q);
/* The pipeline whose statistics say which cameras are live (set before start). */
void py_results_set_pipeline(py_results *q, pan_pipeline *pl);
/* The consumer to register (opaque = q). */
pan_consumer py_results_consumer(py_results *q);

/* From now on nothing waits for room (called before pan_pipeline_stop). */
void py_results_set_stopping(py_results *q);

typedef enum py_pop { PY_POP_ITEM, PY_POP_EMPTY, PY_POP_CLOSED } py_pop;
/* Takes the oldest item, waiting up to timeout_ms (0 = not at all). PY_POP_CLOSED once the
 * pipeline has called on_stop and the FIFO is empty. The caller frees the item with free(). */
py_pop py_results_pop(py_results *q, int timeout_ms, py_item **item);

/* Unlinks every queued event, oldest first (a list through ->next; free each), leaving the frames. */
py_item *py_results_take_events(py_results *q);

typedef struct py_results_stats {
    int capacity;
    int queued;          /* frames waiting now */
    int max_queued;      /* the most frames that ever waited */
    int64_t frames;      /* frames the pipeline handed over */
    int64_t taken;       /* frames taken by Python */
    int64_t dropped;     /* live cameras' results dropped because Python was behind */
    int64_t events;      /* camera events handed over */
    double blocked_s;    /* time the delivery thread waited for room (recorded cameras) */
} py_results_stats;

void py_results_get_stats(py_results *q, py_results_stats *s);
/* Results of camera `id` dropped (0 for an id never seen). */
int64_t py_results_camera_dropped(py_results *q, int id);

#endif
