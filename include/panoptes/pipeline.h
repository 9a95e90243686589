/* The pipeline: an embeddable, long-running engine. Cameras are added and removed while it runs;
 * every frame's results (detections, tracks, global identities) and every camera's state changes
 * are delivered to consumers registered on it. `panoptes run`, `panoptes serve` and your program
 * are thin shells around it. See DESIGN.md, "Pipeline".
 *
 *   pan_pipeline_create(&p, &params)            nothing runs yet
 *   pan_pipeline_add_consumer(p, &consumer)     any number, before start
 *   pan_pipeline_start(p)                       the delivery thread starts; no camera yet
 *   pan_pipeline_add_camera(p, &camera, &id)    a camera starts at once (also before start: it
 *   pan_pipeline_remove_camera(p, id)           then waits for start); remove stops one
 *   pan_pipeline_get_stats(p, &stats)           a snapshot, any time, from any thread
 *   pan_pipeline_wait(p, timeout_ms)            until every camera has ended (a batch job)
 *   pan_pipeline_stop(p)                        every decoded frame is delivered, then it returns
 *   pan_pipeline_destroy(&p)
 *
 * Every piece of state is the instance's own: two pipelines in one process run side by side,
 * each with its own cameras, consumers, stop and statistics. All functions are thread-safe except
 * destroy (call it once, after every other call has returned). None of them may be called from a
 * consumer's callback except get_stats, add_camera and remove_camera.
 *
 * Threads. A fixed pool reads and decodes every camera, whatever their number (io_threads threads
 * named pan-ioN, default half the cores; as many pan-connN open sources, so that cameras that
 * connect, or reconnect again and again, never hold the threads the streaming ones need; when all
 * pan-io threads wait on stalled network streams, stand-ins join, at most io_threads more). A
 * camera takes one frame per turn; a camera waiting for room in its queue, for its time
 * (`realtime`), for slower file cameras (`sync`) or for its next reconnect attempt holds no thread.
 * An inference thread (pan-infer) takes fair batches of frames from all cameras (at most one frame per camera
 * per batch, cameras served round robin) and runs detection and ReID; the delivery thread
 * (pan-deliver) runs the per-camera trackers and the cross-camera identities and calls the
 * consumers, in registration order, for one frame after another, while the next batch is being
 * detected. A camera's frames are delivered in its decode order.
 *
 * Back-pressure. A consumer's callback runs on the delivery thread, so a slow callback slows the
 * whole pipeline: recorded cameras (files) wait for it (every frame is delivered), live cameras
 * (RTSP, HTTP streams, files paced with `realtime`) wait at most 0.5 s: when the pipeline stays
 * behind, a live camera drops its oldest decoded frame once it has waited that long (counted in
 * `dropped`; the frame indices then have gaps). A burst the pipeline absorbs (the seconds an RTSP
 * connect holds back) is not dropped. Copy what you need and return; hand long work to a thread of yours. */
#ifndef PANOPTES_PIPELINE_H
#define PANOPTES_PIPELINE_H

#include <stdint.h>

#include "panoptes/backend.h"
#include "panoptes/detection.h"
#include "panoptes/frame.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Cameras at once in one pipeline (ids are not bounded by it: see pan_pipeline_add_camera). */
#define PAN_MAX_CAMERAS 1024

typedef struct pan_pipeline pan_pipeline;

/* ------------------------------------------------------------------------ parameters */

typedef struct pan_pipeline_params {
    pan_backend backend;       /* auto (default): cuda when an NVIDIA GPU with NVDEC is usable */
    const char *model_path;    /* detector model (TF.js model.json or YOLO ONNX); NULL = models/nanodet.json */
    int detect;                /* run the detector (1, default) or decode only (0) */
    int track;                 /* run the trackers and identities (1, default; needs detect) */
    float score_threshold;     /* detections below are not reported (default 0.35) */
    const int *classes;        /* class filter (COCO ids), copied; NULL = all */
    int n_classes;
    int batch;                 /* max frames per detector batch; 0 = 32 on cuda, 1 on cpu, 64 without detection */
    int batch_timeout_ms;      /* wait at most this long to fill a batch; 0 = 5 ms */
    int decoder_threads;       /* libavcodec threads per camera (cpu decoder); 0 = 1 */
    int fallback_cpu;          /* a camera NVDEC cannot take uses the cpu decoder */
    /* Camera defaults (each camera may override them, see pan_camera_params). */
    int loop;                  /* loop file sources */
    int64_t max_frames;        /* per camera; 0 = all */
    int timeout_ms;            /* network timeout per blocking step; 0 = 5000 */
    /* Live cameras. A network camera that cannot connect, or loses its live stream (error, end, or
     * no data for timeout_ms), is reopened after a delay that starts at backoff_min_ms and doubles
     * up to backoff_max_ms (each delay varies by up to ±20% so that cameras on one server do not
     * retry in step). `reconnect` failed attempts in a row (after the first) make the camera
     * `failed`; a frame decoded after a reconnect resets the count. A file served over HTTP is
     * retried while connecting, not once it has started (opening it again would start it over).
     * A live camera's frames carry the pipeline's clock as pts: seconds since pan_pipeline_start
     * when the frame arrived (one clock for all cameras, across reconnects). */
    int reconnect;             /* attempts after a failure; 0 = none (fail at once), -1 = forever */
    int backoff_min_ms;        /* first retry delay; 0 = 500 */
    int backoff_max_ms;        /* largest retry delay; 0 = 30000 */
    int rtsp_udp;              /* RTSP over UDP (default TCP) */
    /* Pace file sources at their native frame rate (by timestamps) instead of as fast as
     * possible; they then drop frames like live cameras when the pipeline falls behind. */
    int realtime;
    /* Appearance for tracking, used only when tracking: NULL or "default" = the default colour
     * descriptor (computed where the frames are: GPU or host), "off" = none (motion and IoU only),
     * anything else = the path of an ONNX ReID model. */
    const char *reid;
    /* ReID on every Nth frame of each camera only (0 or 1 = every frame): the detections of the
     * other frames carry no embedding and are tracked by motion and IoU, the tracks keeping their
     * smoothed embeddings. Cuts the ReID cost by N (DeepStream's reidExtractionInterval). */
    int reid_interval;
    /* Overlapping cameras whose views differ by a translation (crops of one view), for the global
     * identities: n_overlaps entries {camera_a, camera_b, dx, dy} (camera ids), pixel (x, y) of
     * camera a is (x + dx, y + dy) in camera b. Copied. */
    const double (*overlaps)[4];
    int n_overlaps;
    /* Align file cameras by timestamps: a recorded camera is not let more than 0.1 s of stream
     * time ahead of the slowest other file camera (live and `realtime` cameras are aligned by the
     * wall clock and take no part). Cross-camera links compare the cameras' timestamps as one
     * clock, so without it recorded files decoded at different speeds link differently run to
     * run. 0 = on when overlaps are given, 1 = on, -1 = off. Runs as fast as the slowest file. */
    int sync;
    /* The detector family when its outputs and metadata cannot tell (README "Detector models"):
     * NULL or "auto", nanodet, yolov5, yolov7, yolox, yolox-decoded, yolov8, yolo11, yolov10,
     * rtdetr. A name not in that list fails pan_pipeline_create with PAN_INVAL. Copied. */
    const char *model_type;
    /* Threads that read and decode every camera (the I/O pool; their number does not grow with
     * the cameras): 0 = half the cores, at least 2. As many again open sources (connects and
     * reconnects, which wait on the network), so that cameras that come and go never hold the
     * threads the streaming ones need. */
    int io_threads;
    /* The cuda engines' plan cache (their chosen cuDNN engine configurations, kept across runs so
     * that a second start with the same models on the same GPU skips the measuring): a directory,
     * NULL or "" = $PANOPTES_CACHE_DIR, else $XDG_CACHE_HOME/panoptes, else ~/.cache/panoptes;
     * "off" = none. A damaged or foreign cache file is ignored with one warning and rewritten. Copied. */
    const char *cache_dir;
    /* Decoded frames a camera may have waiting for a batch (1..64): 0 = 2 on cuda (each is an
     * NVDEC surface, 4 MiB of device memory at 1080p), 4 on cpu, 8 on cpu without detection. 1
     * saves a surface per camera; it cost 7% of the frames/s at 64 B-frame cameras on an H200 and
     * nothing with IP-camera streams (BENCHMARKS.md). */
    int camera_queue;
} pan_pipeline_params;

void pan_pipeline_params_default(pan_pipeline_params *p);

#define PAN_RECONNECT_FOREVER (-1)
#define PAN_RECONNECT_NONE (-2) /* in pan_camera_params: fail at once, whatever the pipeline's default */

/* One camera. Zero-initialise; zero fields take the pipeline's setting. Strings are copied. */
typedef struct pan_camera_params {
    const char *uri;      /* a file (MP4, MKV, AVI, TS), an Annex-B .h264/.h265, rtsp:// or http(s):// URL */
    const char *name;     /* shown in results, events and stats; NULL = none */
    int rtsp_transport;   /* 0 = the pipeline's, 1 = TCP, 2 = UDP */
    int timeout_ms;       /* 0 = the pipeline's */
    int reconnect;        /* 0 = the pipeline's, n > 0 attempts, PAN_RECONNECT_FOREVER, PAN_RECONNECT_NONE */
    int loop;             /* 0 = the pipeline's, 1 = loop, -1 = play once */
    int64_t max_frames;   /* 0 = the pipeline's, n > 0 frames, -1 = all */
} pan_camera_params;

/* ------------------------------------------------------------------------ results */

/* Where a camera is in its life:
 *   connecting: opening the source for the first time
 *   live:       decoding (a file is `live` while it is being read)
 *   retrying:   lost or not reachable, waiting for the next attempt
 *   failed:     gave up (or a permanent error: missing file, unsupported codec)     final
 *   ended:      reached its end (files) or max_frames                              final
 *   stopped:    stopped before its end by pan_pipeline_stop or remove_camera       final
 *   removed:    remove_camera's camera after its last frame was delivered; it leaves the stats */
typedef enum pan_camera_state {
    PAN_CAMERA_CONNECTING = 0,
    PAN_CAMERA_LIVE,
    PAN_CAMERA_RETRYING,
    PAN_CAMERA_FAILED,
    PAN_CAMERA_ENDED,
    PAN_CAMERA_STOPPED,
    PAN_CAMERA_REMOVED,
} pan_camera_state;

const char *pan_camera_state_name(pan_camera_state state);

/* Everything known about one frame of one camera after the pipeline's stages. Valid only during
 * the callback: copy the fields (and the arrays, n_* elements each) you want to keep. */
typedef struct pan_frame_result {
    int camera;          /* the camera's id (pan_pipeline_add_camera) */
    const char *name;    /* the camera's name, or NULL */
    int64_t frame;       /* 0-based index of the frame in its camera's stream */
    double pts;          /* seconds; NAN when unknown. Live cameras: the pipeline's clock */
    int width, height;   /* the frame as analysed; boxes lie in [0, width] x [0, height] */
    const pan_detection *detections; /* score >= score_threshold, in descending score order */
    int n_detections;
    const pan_track_report *tracks;  /* per-camera track ids and cross-camera global ids */
    int n_tracks;
    /* The decoded picture (host or device memory, see frame.h), or NULL when the pipeline kept
     * none. Taking a reference (pan_frame_ref) keeps a decoder surface busy and slows its camera:
     * copy the pixels (pan_frame_download for device frames) if you need them later. */
    const pan_frame *image;
} pan_frame_result;

/* A camera's change of state. Delivered on the delivery thread like frames; a final state
 * (failed, ended, stopped) is delivered after the camera's last frame. */
typedef struct pan_camera_event {
    int camera;
    const char *name;        /* or NULL */
    const char *uri;
    pan_camera_state state;  /* the new state */
    pan_status status;       /* failed or retrying: why; ended: PAN_DAMAGED / PAN_TRUNCATED when a
                                file lost frames to damage or ended early (message: the counts);
                                PAN_OK otherwise */
    const char *message;     /* what happened, for people ("connection lost; reconnecting in 2.0 s"); or NULL */
} pan_camera_event;

/* A consumer of results. All callbacks are optional and run on the delivery thread, never two at
 * once. on_frame returning non-zero detaches the consumer (its error is logged once, naming it);
 * when `required` is set, the pipeline fails instead (it stops its cameras; pan_pipeline_wait and
 * the stats report the status): a result file that cannot be written makes the run fail. on_stop
 * is called once, after the last frame and event were delivered (flush and close there). */
typedef struct pan_consumer {
    const char *name; /* for messages: "jsonl out.jsonl" */
    void *opaque;
    pan_status (*on_frame)(void *opaque, const pan_frame_result *result);
    void (*on_camera)(void *opaque, const pan_camera_event *event);
    void (*on_stop)(void *opaque);
    int required;
    /* 1: this consumer never reads result->image. When every consumer says so, each frame (its
     * NVDEC surface on cuda) is released as soon as detection and ReID have read it, not held
     * through tracking and delivery; result->image is then NULL. 0 (the default): the decoded
     * image is there, valid during on_frame. */
    int no_image;
} pan_consumer;

/* ------------------------------------------------------------------------ statistics */

typedef struct pan_camera_stats {
    int id;
    char *name;               /* "" when none */
    char *uri;
    pan_camera_state state;
    pan_status status;        /* failed: why; ended: PAN_OK, or PAN_DAMAGED / PAN_TRUNCATED when a file
                                 lost frames to damage or ended before its container said it
                                 would (`error` then says how much); PAN_OK otherwise */
    char *error;              /* the last error or warning about the camera ("" when none) */
    int live;                 /* a live stream (or a file paced with `realtime`) */
    const char *decoder;      /* "cpu", "nvdec", or "" before the first connection */
    int64_t frames;           /* delivered */
    double fps;               /* delivered frames per second over the last second or so */
    int64_t detections;       /* reported detections, all frames */
    int64_t dropped;          /* decoded frames dropped because the pipeline was behind */
    int64_t decode_errors;    /* damaged packets or pictures */
    int64_t packets;          /* compressed packets read */
    int64_t reconnects;       /* connections re-established after a loss */
    int64_t failed_attempts;  /* connection attempts that failed */
    double outage_s;          /* time spent connecting again after losing the stream */
    double thread_cpu_s;      /* host CPU time of the camera's steps on the I/O pool (not libavcodec's workers) */
    int64_t frames_lost;      /* pictures lost to damage (rejected packets, failed pictures) */
    double surfaces_mib;      /* NVDEC: device memory of its decoder's surfaces (estimated; the last
                                 decoder's once the camera ended); 0 on cpu */
} pan_camera_stats;

/* Batches by size: batch_hist[k] counts batches of 2^k .. 2^(k+1)-1 frames. */
#define PAN_BATCH_HIST 12
/* Latency of frames, from the moment a camera queued the decoded frame to its delivery to the
 * consumers: latency_hist[k] counts frames in [PAN_LATENCY_MIN_MS · 2^(k/4), PAN_LATENCY_MIN_MS ·
 * 2^((k+1)/4)) ms (quarter octaves: about ±9% resolution); the first bucket also takes what is
 * below, the last what is above (0.05 ms .. 52 s). */
#define PAN_LATENCY_HIST 80
#define PAN_LATENCY_MIN_MS 0.05

/* Device memory the pipeline's pool has handed out, by owner (cuda backend). */
#define PAN_DEVICE_USES 16
typedef struct pan_device_use {
    const char *owner; /* a tag such as "engine.arena" or "preprocess.out" (lives as long as the library) */
    double mib;
    int64_t blocks;
} pan_device_use;

typedef struct pan_pipeline_stats {
    pan_backend backend;      /* the backend that runs */
    int running;              /* between start and stop */
    pan_status status;        /* PAN_OK, or why the pipeline failed (a stage or a required consumer) */
    double uptime_s;          /* since start */
    double create_s;          /* pan_pipeline_create's loading and planning of the models (a cuda
                               * engine's plan cache makes a second start's short) */
    double first_frame_s;     /* from start to the first frame delivered; 0 before */
    int n_cameras;            /* cameras not removed (ended and failed ones included) */
    pan_camera_stats *cameras;
    int64_t frames;           /* delivered, all cameras, removed ones included */
    double fps;               /* frames / uptime_s */
    double cpu_ms_per_frame;  /* host user+system CPU time of the process since start / frames */
    double peak_rss_mib;
    double rss_mib;           /* host resident memory now */
    double device_mib_used;   /* cuda: device memory added since start at its peak (context excluded) */
    double device_mib_now;    /* cuda: device memory added since start, now (sampled over a long run,
                               * its slope tells a leak) */
    /* cuda: where it is now. The pool's blocks by owner, largest first (the engines' arenas,
     * workspaces and weights, preprocessing, batches); the NVDEC surfaces of all cameras
     * (estimated); the rest of device_mib_now is cuDNN's, cuBLAS's and the decoders' own. */
    pan_device_use device_uses[PAN_DEVICE_USES];
    int n_device_uses;
    double device_mib_pool, device_mib_surfaces;
    double device_mib_startup; /* cuda: device memory added by creating the pipeline (the engines'
                                * plans, the pool, cuDNN's and cuBLAS's own), before any camera */
    int64_t pixel_bytes_copied; /* host<->device pixel bytes since start (cuda backend: 0 by design) */
    int64_t dropped, reconnects; /* all cameras, removed ones included */
    int failed_cameras;       /* cameras (not removed) in state failed */
    int stopped_cameras;      /* cameras stopped before their end (an interrupted run) */
    int64_t batches;
    int batch_max;            /* the largest batch the detector takes */
    double batch_mean;        /* frames per batch */
    int64_t batch_hist[PAN_BATCH_HIST];
    /* arrival-to-delivery latency of every frame delivered (see PAN_LATENCY_HIST); the percentiles
     * are read from the histogram (the upper edge of the bucket they fall in) */
    int64_t latency_hist[PAN_LATENCY_HIST];
    double latency_p50_ms, latency_p99_ms, latency_max_ms;
    double latency_sum_s; /* of every frame's latency (a Prometheus histogram's _sum) */
    /* Steady state: from the first batch delivered once every camera delivers frames (cameras
     * that failed or wait to reconnect aside), PAN_STEADY_AFTER_S after start at the earliest and
     * a minute at the latest, to the last one, so that opening cameras, creating decoders and the
     * first frames are left out (they dominate short runs). 0 until then. */
    double steady_fps;
    double steady_cpu_ms_per_frame;
    /* Where the host CPU went, ms per frame since start (they sum to cpu_ms_per_frame): the
     * cameras' steps on the I/O pool, the inference and delivery threads (detection, ReID, tracking, identities,
     * consumers), and
     * every other thread (CUDA driver and NVDEC threads, libavcodec and OpenBLAS workers, the
     * caller's threads). */
    double cpu_ms_per_frame_cameras;
    double cpu_ms_per_frame_delivery;
    double cpu_ms_per_frame_other;
    /* the I/O pool's threads: readers and decoders (stand-ins for threads stuck in network waits
     * included), then those that open sources */
    int io_threads;
    int connect_threads;
} pan_pipeline_stats;

#define PAN_STEADY_AFTER_S 2.0

/* ------------------------------------------------------------------------ lifecycle */

/* Checks the parameters and builds the stages (loads the models; on cuda plans the engines).
 * Errors name the field or file. */
pan_status pan_pipeline_create(pan_pipeline **p, const pan_pipeline_params *params);
/* The copy of the parameters the pipeline runs with. */
pan_backend pan_pipeline_backend(const pan_pipeline *p);
/* Before start. The struct is copied; opaque is the caller's. PAN_STATE after start. */
pan_status pan_pipeline_add_consumer(pan_pipeline *p, const pan_consumer *consumer);
/* Starts the delivery thread and the cameras added so far. PAN_STATE when already started,
 * PAN_CLOSED after stop. */
pan_status pan_pipeline_start(pan_pipeline *p);
/* Adds a camera; *id receives its id. Ids count from 0 in the order of the calls and are never
 * reused within a pipeline. The camera starts at once (before start: at start). A camera that
 * cannot be opened fails on its own (its state, the stats and the events say why); the call
 * itself fails only for bad arguments (PAN_INVAL: no URI), PAN_LIMIT (PAN_MAX_CAMERAS cameras at
 * once) and PAN_CLOSED (after stop). */
pan_status pan_pipeline_add_camera(pan_pipeline *p, const pan_camera_params *camera, int *id);
/* Stops a camera and removes it: its frames already in a batch are still delivered, those still
 * waiting for one are dropped (counted in `dropped`: under load they would keep it for a while),
 * then its final
 * state (stopped, or ended/failed if it had already ended) and `removed` are delivered and it
 * leaves the stats. Returns at once. PAN_NOTFOUND for an unknown or already removed id. */
pan_status pan_pipeline_remove_camera(pan_pipeline *p, int id);
/* Waits until every camera has reached a final state and its frames were delivered (PAN_OK),
 * the pipeline failed (its status), or timeout_ms passed (PAN_TIMEOUT; < 0 waits forever).
 * With no camera, returns PAN_OK at once. */
pan_status pan_pipeline_wait(pan_pipeline *p, int timeout_ms);
/* Stops every camera, delivers every frame already decoded, calls the consumers' on_stop, and
 * returns the pipeline's status (PAN_OK, or why it failed). Safe to call twice, or without start. */
pan_status pan_pipeline_stop(pan_pipeline *p);
/* Stops it if needed and frees it. NULL-safe; sets *p to NULL. */
void pan_pipeline_destroy(pan_pipeline **p);

/* A snapshot of the statistics, owned by the caller: free with pan_pipeline_stats_free. Cameras
 * in ascending id order. */
pan_status pan_pipeline_get_stats(pan_pipeline *p, pan_pipeline_stats *stats);
void pan_pipeline_stats_free(pan_pipeline_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
