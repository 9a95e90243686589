/* The pipeline: N cameras (one thread each: source → decoder) feed one batcher that runs
 * detection on batches of frames from all cameras, then the per-camera trackers, the
 * cross-camera identities and the sinks. See DESIGN.md, "Pipeline". */
#ifndef PANOPTES_PIPELINE_H
#define PANOPTES_PIPELINE_H

#include <stdint.h>

#include "panoptes/backend.h"
#include "decode/decoder.h" /* interim: the engine rewrite removes it */
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_MAX_CAMERAS 1024

typedef struct pan_pipeline_params {
    const char *const *cameras; /* URIs; camera i is cameras[i] */
    int n_cameras;
    pan_backend backend;
    int loop;                  /* loop file sources */
    int64_t max_frames;        /* per camera; 0 = all */
    const char *out_path;      /* JSON Lines; NULL = none */
    const char *mot_dir;       /* MOTChallenge files, one per camera; NULL = none */
    const char *annotate_path; /* annotated video of camera annotate_camera; NULL = none */
    const char *model_path;    /* detector model; NULL = models/nanodet.json */
    int detect;                /* run the detector (1) or decode only (0) */
    int track;                 /* run the trackers (needs detect) */
    float score_threshold;     /* detections below are dropped (default 0.35) */
    const int *classes;        /* class filter (COCO ids); NULL = all */
    int n_classes;
    int batch;                 /* max frames per detector batch; 0 = default */
    int batch_timeout_ms;      /* wait at most this long to fill a batch; 0 = default (5 ms) */
    int decoder_threads;       /* libavcodec threads per camera (cpu); 0 = auto */
    int fallback_cpu;          /* a camera NVDEC cannot take uses the cpu decoder */
    int progress;              /* print progress on stderr (the CLI sets it on a terminal) */
    int timeout_ms;            /* network timeout per blocking step; 0 = 5000 */
    /* Live cameras (see pan_camera_state). A network camera that cannot connect, or loses its live
     * stream (error, end, or no data for timeout_ms), is reopened after a delay that starts at
     * backoff_min_ms and doubles up to backoff_max_ms (each delay varies by up to ±20% so that
     * cameras on one server do not retry in step). `reconnect` failed attempts in a row (after
     * the first) make the camera `failed`; a frame decoded after a reconnect resets the count.
     * A file served over HTTP is retried while connecting, not once it has started (opening it
     * again would start it over). A live camera's frames carry the run's clock as pts: seconds
     * since the run started when the frame arrived (one clock for all cameras, across reconnects). */
    int reconnect;             /* attempts after a failure; 0 = none (fail at once), -1 = forever */
    int backoff_min_ms;        /* first retry delay; 0 = 500 */
    int backoff_max_ms;        /* largest retry delay; 0 = 30000 */
    int rtsp_udp;              /* RTSP over UDP (default TCP) */
    /* Pace file sources at their native frame rate (by timestamps) instead of as fast as
     * possible; they then drop frames like live cameras when the pipeline falls behind. */
    int realtime;
    /* Appearance for tracking (include/panoptes/reid.h), used only when tracking: NULL or
     * "default" = the default colour descriptor (computed where the frames are: GPU or host),
     * "off" = none (motion and IoU only), anything else = the path of an ONNX ReID model. */
    const char *reid;
    /* Overlapping cameras whose views differ by a translation (crops of one view), for the global
     * identities (pan_identity_set_overlap): n_overlaps entries {camera_a, camera_b, dx, dy}, pixel
     * (x, y) of camera a is (x + dx, y + dy) in camera b. */
    const double (*overlaps)[4];
    int n_overlaps;
    /* Align file cameras by timestamps: a recorded camera is not let more than 0.1 s of stream
     * time ahead of the slowest other file camera (live and --realtime cameras are aligned by the
     * wall clock and take no part). Cross-camera links compare the cameras' timestamps as one
     * clock, so without it recorded files decoded at different speeds link differently run to
     * run. 0 = on when overlaps are given, 1 = on, -1 = off. Runs as fast as the slowest file. */
    int sync;
    /* ReID on every Nth frame of each camera only (0 or 1 = every frame): the detections of the
     * other frames carry no embedding and are tracked by motion and IoU, the tracks keeping their
     * smoothed embeddings. Cuts the ReID cost by N (DeepStream's reidExtractionInterval). */
    int reid_interval;
    int annotate_camera;       /* the camera annotate_path shows (0) */
} pan_pipeline_params;

/* Where a camera is in its life. Every change is logged (INFO, WARN for retrying, ERROR for failed).
 *   connecting: opening the source for the first time
 *   live:       decoding (a file is `live` while it is being read)
 *   retrying:   lost or not reachable, waiting for the next attempt
 *   failed:     gave up (or a permanent error: missing file, unsupported codec)
 *   ended:      reached its end (files), --max-frames, or the run was stopped */
typedef enum pan_camera_state {
    PAN_CAMERA_CONNECTING = 0,
    PAN_CAMERA_LIVE,
    PAN_CAMERA_RETRYING,
    PAN_CAMERA_FAILED,
    PAN_CAMERA_ENDED,
} pan_camera_state;

const char *pan_camera_state_name(pan_camera_state state);

typedef struct pan_camera_summary {
    const char *uri;
    int64_t frames;
    int64_t detections;
    pan_status status;        /* PAN_OK, or why the camera stopped */
    pan_decoder_kind decoder;
    pan_decoder_stats decode;    /* summed over the camera's decoders (one per connection) */
    /* live cameras: written by the camera's thread, complete once pan_pipeline_run returns */
    pan_camera_state state;      /* the final state: ended or failed */
    int live;                    /* the source was a live stream (or --realtime paced a file) */
    int64_t dropped;             /* decoded frames dropped because the pipeline was behind (see
                                    pan_pipeline_run: they leave gaps in the frame indices) */
    int64_t reconnects;          /* connections re-established after a loss */
    int64_t failed_attempts;     /* connection attempts that failed */
    double outage_s;             /* time spent connecting again after losing the stream */
    double cpu_s;                /* host CPU time of the camera's own thread (source, demuxer,
                                    NVDEC parser and mapping, or the libavcodec calls; libavcodec's
                                    worker threads are not in it) */
} pan_camera_summary;

typedef struct pan_run_summary {
    int n_cameras;
    pan_camera_summary *cameras; /* n_cameras entries, owned by the summary */
    int64_t frames;              /* all cameras */
    double wall_s;
    double fps;                  /* frames / wall_s */
    double cpu_ms_per_frame;     /* host user+system CPU time / frames (getrusage) */
    double peak_rss_mib;
    int64_t pixel_bytes_copied;  /* host<->device pixel bytes (cuda backend: must be 0) */
    pan_backend backend;         /* the backend that ran */
    int failed_cameras;
    int interrupted;
    int64_t dropped;             /* all cameras */
    int64_t reconnects;          /* all cameras */
    /* cuda: device memory the run added at its peak (cudaMemGetInfo sampled every 0.5 s, minus
     * the use once the context was made): decoders, pools, engines; the context excluded. */
    double device_mib_used;
    /* Steady state: from the first batch processed PAN_STEADY_AFTER_S into the run to the last
     * batch, so that opening cameras, creating decoders and the first frames' latency, and the
     * teardown, are left out (they dominate short runs). 0 when the run was shorter. */
    double steady_fps;
    double steady_cpu_ms_per_frame;
    /* Where the host CPU went, ms per frame over the whole run (they sum to cpu_ms_per_frame):
     * the camera threads (their cpu_s), the batcher (detection, ReID, tracking, identities and
     * sinks as driven from the calling thread), and every other thread (CUDA driver and NVDEC
     * threads, libavcodec and OpenBLAS workers, start-up on the calling thread). */
    double cpu_ms_per_frame_cameras;
    double cpu_ms_per_frame_batcher;
    double cpu_ms_per_frame_other;
} pan_run_summary;

#define PAN_STEADY_AFTER_S 2.0

void pan_pipeline_params_default(pan_pipeline_params *p);
/* Runs to the end of all sources (or max_frames, or pan_pipeline_interrupt). Returns PAN_OK
 * when the run itself worked, even if some cameras failed (see summary->failed_cameras).
 *
 * Pacing: a file camera waits for room in the shared frame queue (back-pressure: every frame
 * is processed). A live camera, or a file with `realtime`, never waits: when a decoded frame finds
 * the queue full, the camera's oldest queued frame is dropped and the new one queued (drop oldest
 * first; with none of its frames queued, the new frame is dropped). Drops happen after decoding, so
 * the decoder's reference chain stays whole (compressed packets are never dropped); they are
 * counted in `dropped`.
 * A frame's index is its position in the camera's decoded stream, so drops leave gaps in the
 * indices of the output; after a reconnect the index goes on from where it was (the frames the
 * camera sent during the outage were never received and have no index). */
pan_status pan_pipeline_run(const pan_pipeline_params *p, pan_run_summary *summary);
void pan_run_summary_free(pan_run_summary *summary);
/* Async-signal-safe: asks a running pipeline to stop after the frames in flight. */
void pan_pipeline_interrupt(void);

#ifdef __cplusplus
}
#endif
#endif
