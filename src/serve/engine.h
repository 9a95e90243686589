/* What the HTTP layer of `panoptes serve` needs from the pipeline, as a table of functions: the
 * service wires it to a pan_pipeline (serve/pipeline_engine.c), the tests to a fake. The HTTP
 * layer sees only these types, so it is tested without decoding a frame.
 *
 * The statistics mirror pan_pipeline_stats (pipeline.h) with the enums already turned into the
 * names the API and the metrics print. */
#ifndef PANOPTES_SERVE_ENGINE_H
#define PANOPTES_SERVE_ENGINE_H

#include <jansson.h>
#include <stdint.h>

#include "panoptes/status.h"
#include "serve/camera.h"

/* A camera's states, in the order the metrics enumerate them (pan_camera_state_name's names;
 * `removed` cameras are no longer listed). */
#define PAN_SERVE_N_STATES 6
extern const char *const pan_serve_state_names[PAN_SERVE_N_STATES];

typedef struct pan_serve_camera_info {
    int id;
    char *name;             /* "" when none */
    char *uri;
    const char *state;      /* one of pan_serve_state_names */
    const char *status;     /* failed or retrying: pan_status_name of why; "" otherwise */
    char *error;            /* the last error or warning ("" when none) */
    int live;               /* a live stream (or a file paced in real time) */
    const char *decoder;    /* "cpu", "nvdec" or "" */
    int64_t frames, detections, dropped, decode_errors, packets, reconnects, failed_attempts;
    double fps;             /* delivered frames per second, recent */
    double outage_s, thread_cpu_s;
} pan_serve_camera_info;

/* Batches by size: batch_hist[k] counts batches of 2^k .. 2^(k+1)-1 frames (as pipeline.h). */
#define PAN_SERVE_BATCH_HIST 12
#define PAN_SERVE_LATENCY_MAX_BUCKETS 24

typedef struct pan_serve_stats {
    const char *backend;    /* "cpu" or "cuda" */
    int running;            /* started and not stopping */
    int failed;             /* the pipeline failed (status says why) */
    const char *status;     /* pan_status_name */
    char *error;            /* why it failed, for people; "" otherwise */
    double uptime_s;
    int n_cameras;
    pan_serve_camera_info *cameras; /* ascending id */
    int64_t frames, dropped, reconnects, pixel_bytes_copied; /* all cameras, removed ones included */
    int failed_cameras;
    /* cameras removed through the API whose decoded frames are still being delivered: they are
     * no longer listed, and leave the pipeline once their last frame is out */
    int draining_cameras;
    double fps, steady_fps;
    double cpu_seconds;     /* host CPU (user + system) of the process since start */
    double cpu_ms_per_frame, steady_cpu_ms_per_frame;
    double cpu_ms_per_frame_cameras, cpu_ms_per_frame_delivery, cpu_ms_per_frame_other;
    double peak_rss_mib, device_mib_used;
    double rss_mib, device_mib_now; /* now: a service's memory over time */
    int64_t batches;
    int batch_max;
    double batch_mean;
    int64_t batch_hist[PAN_SERVE_BATCH_HIST];
    /* Frame latency (decode to delivery), once the pipeline measures it: n_latency buckets with
     * upper bounds latency_le (seconds, ascending) and counts per bucket (not cumulative); 0 = none. */
    int n_latency;
    double latency_le[PAN_SERVE_LATENCY_MAX_BUCKETS];
    int64_t latency_count[PAN_SERVE_LATENCY_MAX_BUCKETS + 1]; /* the last: above every bound */
    double latency_sum_s;
} pan_serve_stats;

void pan_serve_stats_free(pan_serve_stats *s);
/* {"id", "name", "uri", "state", "fps", "frames", "dropped", "reconnects", "error", ...}. */
json_t *pan_serve_camera_info_json(const pan_serve_camera_info *c);
/* The whole snapshot as GET /api/stats returns it (cameras included). */
json_t *pan_serve_stats_json(const pan_serve_stats *s);

typedef struct pan_serve_image pan_serve_image; /* serve/snapshot.h */

typedef struct pan_serve_engine {
    void *opaque;
    /* Starts a camera at once; *id receives its id. A camera that cannot be opened fails on its
     * own (its state says why): the call fails only for PAN_LIMIT (too many cameras), PAN_CLOSED
     * (stopping) and PAN_NOMEM. */
    pan_status (*add_camera)(void *opaque, const pan_serve_camera *cam, int *id);
    /* PAN_NOTFOUND for an unknown or already removed id. */
    pan_status (*remove_camera)(void *opaque, int id);
    /* A snapshot owned by the caller (pan_serve_stats_free). */
    pan_status (*get_stats)(void *opaque, pan_serve_stats *out);
    /* The camera's next frame (within timeout_ms; else its last one) with boxes drawn, as a host
     * picture (one reference for the caller). PAN_NOTFOUND unknown camera, PAN_TIMEOUT no frame
     * came, PAN_EOF the camera ended before any was taken, PAN_CLOSED stopping. */
    pan_status (*snapshot)(void *opaque, int id, int timeout_ms, pan_serve_image **out);
} pan_serve_engine;

#endif
